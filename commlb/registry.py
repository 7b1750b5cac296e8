"""Name -> factory registries for problems, tasks, reductions.

Each module registers its classes with the decorators below.  :func:`_load` imports a
package and every public module in it (``commlb/problems/*.py``, ``commlb/tasks/*.py``,
``commlb/reductions/*.py``), lazily, on the first look-up, so that ``import commlb``
stays cheap and a new problem, task or reduction is one module dropped into its package:
no list to edit.  Keyword arguments are checked against the factory's signature before
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
]

T = TypeVar("T")

_PROBLEMS: dict[str, Callable[..., Any]] = {}
_TASKS: dict[str, Callable[..., Any]] = {}
_REDUCTIONS: dict[str, Callable[..., Any]] = {}

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


_LOADED: set[str] = set()


def _load(kind: str) -> None:
    if kind in _LOADED:
        return
    package = importlib.import_module(_PACKAGES[kind])
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED.add(kind)


def _get(kind: str, table: dict[str, Callable[..., Any]], name: str, params: dict[str, Any]) -> Any:
    _load(kind)
    if name not in table:
        known = ", ".join(sorted(table))
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {known}")
    factory = table[name]
    check_arguments(factory, f"{kind} {name!r}", **params)
    return factory(**params)


def get_problem(name: str, **params: Any) -> Any:
    """A problem by name, e.g. ``get_problem("disj", n=8)``."""
    return _get("problem", _PROBLEMS, name, params)


def get_task(name: str, **params: Any) -> Any:
    """A task by name, e.g. ``get_task("khop", k=4)``."""
    return _get("task", _TASKS, name, params)


def get_reduction(name: str, **params: Any) -> Any:
    """A reduction by name, e.g. ``get_reduction("disj-to-disjointness", n=6)``."""
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


def problem_factory(name: str) -> Callable[..., Any]:
    _load("problem")
    return _PROBLEMS[name]


def task_factory(name: str) -> Callable[..., Any]:
    _load("task")
    return _TASKS[name]


def reduction_factory(name: str) -> Callable[..., Any]:
    _load("reduction")
    return _REDUCTIONS[name]
