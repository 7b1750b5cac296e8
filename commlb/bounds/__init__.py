"""Certified lower bounds for explicit functions (issue 4).

* :mod:`.matrix` — communication matrices from problems, expressions, callables, files.
* :mod:`.rank` — rank over R, GF(2), GF(p) with pivot certificates and verifiers.
* :mod:`.oneway` — exact one-way complexity in both directions.
* :mod:`.fooling` — fooling sets; :mod:`.exact` — D(f) by protocol-tree search.
* :mod:`.report` — :func:`compute_bounds`, everything for one matrix.
* :mod:`.applicable` — which of a problem's literature bounds a transcript is held to.

Submodules are imported on use, so ``import commlb.bounds`` stays cheap (no numba).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["compute_bounds", "CommMatrix", "matrix_from_problem", "matrix_from_function",
           "load_matrix", "rank_real", "rank_gf2", "rank_gfp", "one_way"]

_LAZY = {
    "compute_bounds": "report",
    "CommMatrix": "matrix",
    "matrix_from_problem": "matrix",
    "matrix_from_function": "matrix",
    "load_matrix": "matrix",
    "rank_real": "rank",
    "rank_gf2": "rank",
    "rank_gfp": "rank",
    "one_way": "oneway",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
