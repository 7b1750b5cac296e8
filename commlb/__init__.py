"""commlb: communication-complexity lower bounds for sequence models, made runnable.

Public API (the same objects the CLI uses)::

    import commlb
    red = commlb.get_reduction("disj-to-disjointness", n=6)
    inst = red.encode(x, y)          # tokens + owners
    red.decode(red.task.solve(inst.tokens)) == red.problem.evaluate(x, y)

The main entry points are attributes of the package, imported on first use (PEP 562), so
``import commlb`` loads only numpy and the core types::

    commlb.run("disjointness", "rnn", n=32, hidden=8, precision=16)   # commlb.simulate
    commlb.find_witness("index-lookup", "rnn", 16, hidden=2, precision=4)  # commlb.witness
    commlb.compute_bounds(matrix)      # a 0/1 array or CommMatrix; commlb.bounds.report
    commlb.check_reduction(red); commlb.assert_consistent(...)         # commlb.testing

Heavy dependencies (numba, scipy, matplotlib, networkx) are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

from .core import ALICE, BOB, PUBLIC, Instance, KnownBound, Owner, Problem, Reduction, Task
from .errors import CommlbError
from .registry import (
    get_problem,
    get_reduction,
    get_task,
    list_problems,
    list_reductions,
    list_tasks,
)

__version__ = "0.1.0"

__all__ = [
    "ALICE",
    "BOB",
    "PUBLIC",
    "Owner",
    "Instance",
    "KnownBound",
    "Problem",
    "Task",
    "Reduction",
    "CommlbError",
    "get_problem",
    "get_task",
    "get_reduction",
    "list_problems",
    "list_tasks",
    "list_reductions",
    "run",
    "find_witness",
    "compute_bounds",
    "check_reduction",
    "assert_consistent",
]

#: entry points imported on first attribute access: name -> module
_LAZY = {
    "run": "commlb.simulate",
    "find_witness": "commlb.witness",
    "compute_bounds": "commlb.bounds.report",
    "check_reduction": "commlb.testing",
    "assert_consistent": "commlb.testing",
}


def _register_figures() -> None:
    """The figures a notebook shows under a result (:mod:`commlb.display`), drawn by
    :mod:`commlb.figures` and :mod:`commlb.sweep_plot`; imported when first drawn."""
    from .display import register_figure

    def simulation(result: Any) -> Any:
        from .figures import transcript_figure

        return transcript_figure(result)

    def witness(result: Any) -> Any:
        from .figures import witness_figure

        return witness_figure(result)

    def bounds(report: Any) -> Any:
        from .figures import matrix_figure

        return None if report.matrix is None else matrix_figure(report.matrix, report)

    def sweep(result: Any) -> Any:
        from .sweep_plot import plot_sweep

        return plot_sweep(result) if any(row.ok for row in result.rows) else None

    for kind, draw in (("simulation", simulation), ("witness", witness), ("bounds", bounds), ("sweep", sweep)):
        register_figure(kind, draw)


_register_figures()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'commlb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
