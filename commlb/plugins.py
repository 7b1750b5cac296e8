"""Your own problems, tasks, reductions and model families: from a file or a package.

Two ways in, both accepted wherever commlb takes a name (``check-reduction``,
``simulate``, ``witness``, ``explain``, ``bounds``, ``sweep``, ``list``, ``commlb.run``):

* ``FILE.py:ATTR`` — a Python file and an attribute of it: a :class:`~commlb.core.Reduction`
  (or :class:`~commlb.core.Task`, :class:`~commlb.core.Problem`) instance, a subclass, or a
  factory that returns one; for ``--model``, a :class:`ModelFamily`.  Loading the file
  **runs it**, as ``python FILE.py`` would: only name files you trust.
* an installed package that declares entry points in the group ``commlb.plugins``
  (``[project.entry-points."commlb.plugins"]`` in its ``pyproject.toml``).  Each entry
  point names a module (importing it registers its classes with
  :func:`commlb.registry.register_reduction` & co.) or an object: a Problem, Task or
  Reduction subclass (registered under its ``name``), a :class:`ModelFamily`, or a list of
  these.  They are loaded on the first look-up of a name, once per process.

A file or plugin that cannot be loaded (a syntax error, a missing attribute, an object of
the wrong type, an exception while importing) is refused in one line
(:class:`PluginError`, exit code 2) that names the file or the package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "PLUGIN_GROUP",
    "PluginError",
    "ModelFamily",
    "is_file_spec",
    "load_file_attr",
    "load_entry_points",
    "plugin_origin",
]

#: the entry-point group commlb reads installed plugins from
PLUGIN_GROUP = "commlb.plugins"


class PluginError(InvalidInputError):
    """A user file or an installed plugin that cannot be loaded (one line, exit 2)."""


@dataclass(frozen=True)
class ModelFamily:
    """A model family from outside commlb (``--model FILE.py:ATTR`` or a plugin).

    ``name``: the family name (``model.family`` of the models it builds).  ``simulate``:
    ``simulate(model, tokens, split, verify=True) -> (Transcript, ModelOutput)``, the
    family's protocol (it must check its output against ``model.forward`` when
    ``verify``, as the built-in simulators do: :func:`commlb.protocol.core.verify_output`).
    ``random``: ``random(vocab_size, length, rng, precision=..., output_kind=...,
    num_classes=..., **sizes) -> Model``, seeded random weights for ``--weights random``.
    ``options``: the size options it takes (``hidden``, ``layers``, ``heads``,
    ``width``).  ``model_class``: the Model subclass (for ``load_model`` of saved
    weights)."""

    name: str
    simulate: Callable[..., Any]
    random: Callable[..., Any]
    options: tuple[str, ...] = ()
    model_class: Any = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def resolve_family(spec: Any) -> str:
    """A model family given as a name (built in or a plugin's), as ``FILE.py:ATTR`` (a
    :class:`ModelFamily`, registered under its ``name`` for the rest of the process), or as
    a ModelFamily object: its name."""
    if isinstance(spec, ModelFamily):
        PLUGIN_FAMILIES[spec.name] = spec
        return spec.name
    if isinstance(spec, str) and is_file_spec(spec):
        obj = load_file_attr(spec, f"model family {spec}")
        if not isinstance(obj, ModelFamily):
            raise PluginError(f"{spec} is a {type(obj).__name__}, not a commlb.plugins.ModelFamily")
        if obj.name in ("rnn", "transformer", "ffn"):
            raise PluginError(f"{spec}: the family name {obj.name!r} is built in; give yours another name")
        PLUGIN_FAMILIES[obj.name] = obj
        return obj.name
    load_entry_points()
    return str(spec)


def is_file_spec(text: Any) -> bool:
    """Whether ``text`` reads ``path/to/file.py:ATTR`` (rather than a registered name)."""
    if not isinstance(text, str):
        return False
    path, sep, attr = text.rpartition(":")
    return bool(sep) and bool(path) and (path.endswith(".py") or "/" in path or os.sep in path)


#: (absolute path, modification time) -> module, so that a file is run once per process
_MODULES: dict[tuple[str, float], Any] = {}


def _load_module(path: str, what: str) -> Any:
    if not os.path.isfile(path):
        raise PluginError(f"{what}: no such file: {path}")
    absolute = os.path.abspath(path)
    key = (absolute, os.path.getmtime(absolute))
    if key in _MODULES:
        return _MODULES[key]
    digest = hashlib.sha1(absolute.encode()).hexdigest()[:10]
    module_name = f"commlb_user_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, absolute)
    if spec is None or spec.loader is None:
        raise PluginError(f"{what}: cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # registered before running, as `import` does: a dataclass or pickle inside the
    # user's module looks its own module up in sys.modules
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"{what}: importing {path} failed: SyntaxError: {exc.msg} (line {exc.lineno})") from None
    except Exception as exc:  # the user's module failed to import: say why, in one line
        sys.modules.pop(module_name, None)
        raise PluginError(f"{what}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    try:  # Dask workers cannot import the module by its made-up name: send its code with it
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    except ImportError:  # no Dask installed: nothing is sent anywhere
        pass
    _MODULES[key] = module
    return module


def load_file_attr(spec: str, what: str = "") -> Any:
    """The attribute ATTR of the file in ``spec = "path/to/file.py:ATTR"`` (the file is
    run on the first call; later calls reuse the module while the file is unchanged)."""
    what = what or spec
    path, _, attr = spec.rpartition(":")
    if not path or not attr:
        raise PluginError(f"{what}: expected path/to/file.py:ATTR")
    if not attr.isidentifier():
        raise PluginError(f"{what}: {attr!r} is not a Python attribute name")
    module = _load_module(path, what)
    if not hasattr(module, attr):
        public = sorted(k for k, v in vars(module).items()
                        if not k.startswith("_") and getattr(v, "__module__", None) == module.__name__)[:12]
        raise PluginError(f"{what}: {path} has no attribute {attr!r}"
                          + (f" (it has: {', '.join(public)})" if public else ""))
    return getattr(module, attr)


# ------------------------------------------------------------------ entry points

_ENTRY_POINTS_LOADED = False
#: (kind, name) -> "plugin DIST VERSION (entry point NAME)"
_ORIGIN: dict[tuple[str, str], str] = {}
#: family name -> ModelFamily, from plugins
PLUGIN_FAMILIES: dict[str, ModelFamily] = {}


def plugin_origin(kind: str, name: str) -> str | None:
    """Where a registered name came from when a plugin package registered it."""
    load_entry_points()
    return _ORIGIN.get((kind, name))


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=PLUGIN_GROUP))


def load_entry_points() -> None:
    """Import every installed ``commlb.plugins`` entry point (once per process) and
    register what it provides.  A plugin that fails is refused in one line naming its
    package (uninstall it, or fix it, to go on)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True  # set first: a plugin importing commlb must not recurse
    for ep in _entry_points():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        version = getattr(getattr(ep, "dist", None), "version", None) or ""
        origin = f"plugin {dist} {version}".strip() + f" (entry point {ep.name})"
        from . import registry

        before = {kind: set(table) for kind, table in registry.tables().items()}
        try:
            obj = ep.load()
        except Exception as exc:  # the plugin's own import failed: one line naming it
            _ENTRY_POINTS_LOADED = False
            raise PluginError(f"commlb plugin {ep.name!r} from package {dist} failed to load "
                              f"({ep.value}): {type(exc).__name__}: {exc}") from None
        for kind, table in registry.tables().items():  # what importing it registered
            for name in set(table) - before[kind]:
                _ORIGIN[(kind, name)] = origin
        try:
            _register_object(obj, ep.name, origin)
        except PluginError:
            _ENTRY_POINTS_LOADED = False
            raise


def _register_object(obj: Any, ep_name: str, origin: str) -> None:
    import types

    from . import registry
    from .core import Problem, ProblemMap, Reduction, Task

    if isinstance(obj, types.ModuleType):
        return  # importing it registered its classes (load_entry_points records which)
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _register_object(item, ep_name, origin)
        return
    if isinstance(obj, ModelFamily):
        PLUGIN_FAMILIES[obj.name] = obj
        _ORIGIN[("model", obj.name)] = origin
        return
    for kind, base in (("problem", Problem), ("task", Task), ("reduction", Reduction), ("map", ProblemMap)):
        if isinstance(obj, type) and issubclass(obj, base):
            name = str(getattr(obj, "name", "") or ep_name)
            table = registry.tables()[kind]
            if name in table and table[name] is not obj:
                raise PluginError(f"commlb plugin {ep_name!r} ({origin}): the {kind} name {name!r} is taken")
            table[name] = obj
            _ORIGIN[(kind, name)] = origin
            return
    raise PluginError(f"commlb plugin {ep_name!r} ({origin}) gave a {type(obj).__name__}: expected a module, a "
                      "Problem, Task, Reduction or ProblemMap class, a ModelFamily, or a list of these")
