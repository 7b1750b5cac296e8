"""Name -> factory registries for problems, tasks, reductions.

Each module registers its classes with the decorators below.  :func:`_load` imports a
package and every public module in it (``commlb/problems/*.py``, ``commlb/tasks/*.py``,
``commlb/reductions/*.py``), lazily, on the first look-up, so that ``import commlb``
stays cheap and a new problem, task or reduction is one module dropped into its package:
no list to edit.  Installed plugin packages (entry points in the group
``commlb.plugins``) are loaded right after the built-in modules, and a name of the
form ``path/to/file.py:ATTR`` is loaded from that file (:mod:`commlb.plugins`); the
getters also take the objects themselves (an instance, a class or a factory).  Keyword
arguments are checked against the factory's signature before
the call (:func:`commlb.errors.check_arguments`): a wrong keyword is a user mistake (one
line), a ``TypeError`` raised inside a factory is a bug (a traceback).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import UnknownNameError, check_arguments

__all__ = [
    "register_problem",
    "register_task",
    "register_reduction",
    "get_problem",
    "get_task",
    "get_reduction",
    "list_problems",
    "list_tasks",
    "list_reductions",
    "register_map",
    "get_map",
    "list_maps",
    "is_known",
    "factory_for",
]

T = TypeVar("T")

_PROBLEMS: dict[str, Callable[..., Any]] = {}
_TASKS: dict[str, Callable[..., Any]] = {}
_REDUCTIONS: dict[str, Callable[..., Any]] = {}
_MAPS: dict[str, Callable[..., Any]] = {}



def tables() -> dict[str, dict[str, Callable[..., Any]]]:
    """kind -> its name table (read at call time: the plugin loader registers into these)."""
    return {"problem": _PROBLEMS, "task": _TASKS, "reduction": _REDUCTIONS, "map": _MAPS}

_PACKAGES = {
    "problem": "commlb.problems",
    "task": "commlb.tasks",
    "reduction": "commlb.reductions",
}


def _register(table: dict[str, Callable[..., Any]], name: str) -> Callable[[T], T]:
    def deco(factory: T) -> T:
        if name in table and table[name] is not factory:
            raise RuntimeError(f"duplicate registration of {name!r}")
        table[name] = factory  # type: ignore[assignment]
        return factory

    return deco


def register_problem(name: str) -> Callable[[T], T]:
    return _register(_PROBLEMS, name)


def register_task(name: str) -> Callable[[T], T]:
    return _register(_TASKS, name)


def register_reduction(name: str) -> Callable[[T], T]:
    return _register(_REDUCTIONS, name)


def register_map(name: str) -> Callable[[T], T]:
    """Register a :class:`~commlb.core.ProblemMap` (problem -> problem) factory."""
    return _register(_MAPS, name)


_LOADED: set[str] = set()


def _load(kind: str) -> None:
    """Import the built-in modules of every kind (a plugin registering a name must find
    the built-in ones there, to refuse a clash), then the installed plugins."""
    if kind in _LOADED:
        return
    if kind == "map":  # the problem maps live among the reductions
        kind = "reduction"
        if kind in _LOADED:
            return
    for each in _PACKAGES:
        if each in _LOADED:
            continue
        package = importlib.import_module(_PACKAGES[each])
        for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
        _LOADED.add(each)
    from .plugins import load_entry_points

    load_entry_points()


def _base(kind: str) -> type:
    from .core import Problem, ProblemMap, Reduction, Task

    return {"problem": Problem, "task": Task, "reduction": Reduction, "map": ProblemMap}[kind]


#: (kind, "file.py:ATTR") -> the factory loaded from the file
_FILES: dict[tuple[str, str], Callable[..., Any]] = {}


def _file_factory(kind: str, spec: str) -> Callable[..., Any]:
    """A factory for the object named by ``spec = "file.py:ATTR"``: ATTR is an instance
    (a factory that returns it, taking only the parameters it was built with), a subclass
    of Problem / Task / Reduction, or a function returning one."""
    from .plugins import load_file_attr

    if (kind, spec) not in _FILES:
        obj = load_file_attr(spec, f"{kind} {spec}")
        _FILES[(kind, spec)] = as_factory(kind, obj, spec)
    return _FILES[(kind, spec)]


def as_factory(kind: str, obj: Any, label: str) -> Callable[..., Any]:
    """``obj`` (an instance, a class or a factory of ``kind``) as a factory whose result
    is checked to be of that kind.  The user's code failing inside it is reported in one
    line (:class:`~commlb.plugins.PluginError`); commlb's own errors pass through."""
    import functools
    import inspect

    from .errors import CommlbError
    from .plugins import PluginError

    base = _base(kind)
    what = base.__name__
    if isinstance(obj, base):
        fixed = obj
        own = dict(fixed.params()) if hasattr(fixed, "params") else {}

        def instance(**params: Any) -> Any:
            for key, value in params.items():
                if key not in own or own[key] != value:
                    built = ", ".join(f"{k}={v}" for k, v in own.items()) or "no parameters"
                    raise PluginError(f"{label} is a {what} instance built with {built}; {key}={value} "
                                      f"needs a {what} class or a factory")
            return fixed

        instance.example_params = own  # type: ignore[attr-defined]
        return instance
    if not callable(obj) or (isinstance(obj, type) and not issubclass(obj, base)):
        raise PluginError(f"{label} is {_a(obj)}, "
                          f"not a {what}, a {what} class or a factory")

    @functools.wraps(obj)
    def factory(*args: Any, **params: Any) -> Any:
        try:
            made = obj(*args, **params)
        except CommlbError:
            raise
        except Exception as exc:  # the user's own code failed: say why, in one line
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise PluginError(f"{label}({shown}) failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(made, base):
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise PluginError(f"{label}({shown}) returned {type(made).__name__}, not a {what}")
        return made

    if isinstance(obj, type):
        try:  # the class's own signature (without self), for the argument check
            factory.__signature__ = inspect.signature(obj)  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            pass
    factory.example_params = dict(getattr(obj, "example_params", None) or {})  # type: ignore[attr-defined]
    return factory


def _a(obj: Any) -> str:
    """``an int``, ``a module``, ``the class Foo``: what an object is, in words."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def is_chain_spec(name: Any) -> bool:
    """``eq-to-disj+disj-to-dyck``: problem maps and a reduction composed left to right
    (:mod:`commlb.chain`); a ``+`` inside an existing file's path does not count."""
    import os

    if not isinstance(name, str) or "+" not in name:
        return False
    path, _, attr = name.rpartition(":")
    return not (os.path.isfile(path) and "+" not in attr)


def is_known(kind: str, name: Any) -> bool:
    """Whether ``name`` is a registered name of ``kind`` or a ``file.py:ATTR`` spec (the
    file is loaded: a bad file raises its one-line error here)."""
    from .plugins import is_file_spec

    if not isinstance(name, str):
        return False
    if kind in ("reduction", "map") and is_chain_spec(name):
        factory_for(kind, name)  # every step is looked up: a bad one raises its own error
        return True
    if is_file_spec(name):
        _file_factory(kind, name)
        return True
    _load(kind)
    return name in tables()[kind]


def factory_for(kind: str, name: str) -> Callable[..., Any]:
    """The factory of a registered name or ``file.py:ATTR`` spec (UnknownNameError for
    an unknown name)."""
    from .plugins import is_file_spec

    if kind in ("reduction", "map") and is_chain_spec(name):
        from .chain import chain_factory

        return chain_factory(kind, name)
    if is_file_spec(name):
        return _file_factory(kind, name)
    _load(kind)
    table = tables()[kind]
    if name not in table:
        known = ", ".join(sorted(table))
        if kind == "reduction" and name in list_maps():
            raise UnknownNameError(f"{name!r} is a problem map (problem -> problem), not a reduction to a task: end "
                                   f"a chain with a reduction, e.g. {name}+... (commlb reduce --from ... lists them)")
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {known} (or give path/to/file.py:ATTR)")
    return table[name]


def _get(kind: str, table: dict[str, Callable[..., Any]], name: Any, params: dict[str, Any]) -> Any:
    if isinstance(name, str):
        factory = factory_for(kind, name)
        label = f"{kind} {name!r}"
    elif isinstance(name, _base(kind)) and not params:
        return name
    else:  # an object of this kind, its class, or a factory
        factory = as_factory(kind, name, getattr(name, "__name__", type(name).__name__))
        label = f"{kind} {getattr(name, '__name__', type(name).__name__)}"
    check_arguments(factory, label, **params)
    return factory(**params)


def get_problem(name: Any, **params: Any) -> Any:
    """A problem by name, e.g. ``get_problem("disj", n=8)``; also ``"file.py:ATTR"``, a
    Problem instance, a Problem class or a factory."""
    return _get("problem", _PROBLEMS, name, params)


def get_task(name: Any, **params: Any) -> Any:
    """A task by name, e.g. ``get_task("khop", k=4)``; also ``"file.py:ATTR"``, a Task
    instance, a Task class or a factory."""
    return _get("task", _TASKS, name, params)


def get_reduction(name: Any, **params: Any) -> Any:
    """A reduction by name, e.g. ``get_reduction("disj-to-disjointness", n=6)``; also
    ``"file.py:ATTR"``, a Reduction instance, a Reduction class or a factory."""
    return _get("reduction", _REDUCTIONS, name, params)


def list_problems() -> list[str]:
    _load("problem")
    return sorted(_PROBLEMS)


def list_tasks() -> list[str]:
    _load("task")
    return sorted(_TASKS)


def list_reductions() -> list[str]:
    _load("reduction")
    return sorted(_REDUCTIONS)


def get_map(name: Any, **params: Any) -> Any:
    """A problem map by name, e.g. ``get_map("eq-to-disj", n=4)`` (EQ_4 -> DISJ_8)."""
    return _get("map", _MAPS, name, params)


def list_maps() -> list[str]:
    _load("map")
    return sorted(_MAPS)


def problem_factory(name: str) -> Callable[..., Any]:
    return factory_for("problem", name)


def task_factory(name: str) -> Callable[..., Any]:
    return factory_for("task", name)


def reduction_factory(name: str) -> Callable[..., Any]:
    return factory_for("reduction", name)


def map_factory(name: str) -> Callable[..., Any]:
    return factory_for("map", name)
