"""commlb: communication-complexity lower bounds for sequence models, made runnable.

Public API (the same objects the CLI uses)::

    import commlb
    red = commlb.get_reduction("disj-to-disjointness", n=6)
    inst = red.encode(x, y)          # tokens + owners
    red.decode(red.task.solve(inst.tokens)) == red.problem.evaluate(x, y)

Heavy dependencies (numba, matplotlib, networkx) are imported lazily.
"""

from __future__ import annotations

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
]
