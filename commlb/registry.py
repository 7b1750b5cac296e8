"""Name -> factory registries for problems, tasks, reductions.

Each module registers its classes with the decorators below; the packages'
``__init__`` import their modules, and :func:`_load` imports the packages lazily so
that ``import commlb`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, TypeVar

from .errors import InvalidInputError, UnknownNameError

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


def _load(kind: str) -> None:
    importlib.import_module(_PACKAGES[kind])


def _get(kind: str, table: dict[str, Callable[..., Any]], name: str, params: dict[str, Any]) -> Any:
    _load(kind)
    if name not in table:
        known = ", ".join(sorted(table))
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {known}")
    try:
        return table[name](**params)
    except TypeError as exc:  # wrong keyword
        raise InvalidInputError(f"{kind} {name!r}: {exc}") from None


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
