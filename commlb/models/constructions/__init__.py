"""Explicit weights from the papers: models that solve a task exactly.

:func:`get_construction` looks up a builder by (task name, model family).  Each builder
module's docstring names the theorem it realises and its size as a function of n.
Builders are imported lazily.  Signature of a builder:
``build(task, n, precision=None, **options) -> Model`` where ``task`` is the Task object
and ``precision`` defaults to what the construction needs (printed by the CLI).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from ...errors import InvalidInputError, UnknownNameError

__all__ = ["CONSTRUCTIONS", "get_construction", "has_construction", "list_constructions", "refuse_options"]

#: (task name, model family) -> "module:function" inside this package
CONSTRUCTIONS: dict[tuple[str, str], str] = {
    ("disjointness", "rnn"): "storing_rnn:build",
    ("equality", "rnn"): "storing_rnn:build",
    ("index-lookup", "rnn"): "storing_rnn:build",
    ("index-lookup", "transformer"): "index_lookup:build",
    ("qsa", "transformer"): "qsa:build",
    ("match2", "transformer"): "match2:build",
    ("qstr", "transformer"): "qstr:build",
    ("qstr-simple", "transformer"): "qstr:build",
    ("equality", "transformer"): "two_layer:build_equality",
    ("disjointness", "transformer"): "two_layer:build_disjointness",
    ("nearest-neighbor", "transformer"): "nearest:build",
    ("khop", "transformer"): "khop:build",
    ("dyck22", "rnn"): "dyck_rnn:build",
    ("disjointness", "ffn"): "ffn_direct:build",
    ("equality", "ffn"): "ffn_direct:build",
    ("index-lookup", "ffn"): "ffn_direct:build",
}


def has_construction(task: str, family: str) -> bool:
    if (task, family) not in CONSTRUCTIONS:
        return False
    module = CONSTRUCTIONS[(task, family)].split(":")[0]
    return importlib.util.find_spec(f"{__name__}.{module}") is not None


def get_construction(task: str, family: str) -> Callable[..., Any]:
    if not has_construction(task, family):
        known = ", ".join(f"{t}/{f}" for t, f in sorted(CONSTRUCTIONS))
        raise UnknownNameError(f"no construction for task {task!r} with model {family!r}; known: {known}")
    module, func = CONSTRUCTIONS[(task, family)].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def list_constructions() -> list[tuple[str, str]]:
    return sorted(k for k in CONSTRUCTIONS if has_construction(*k))


def refuse_options(who: str, options: dict[str, Any]) -> None:
    """Refuse every shared builder option a construction does not take (those given as
    None were not asked for): one line naming the first, e.g. "the qSA construction has no
    option 'width'"."""
    for name, value in options.items():
        if value is not None:
            raise InvalidInputError(f"the {who} construction has no option {name!r}")
