"""Sequence tasks from the literature: disjointness and equality (``a # b =``), index
lookup, q-sparse averaging (qSA) and k-hop induction heads.  Importing this package
registers them (``commlb.get_task(name, **params)``)."""

from __future__ import annotations

from .composition import FunctionCompositionTask
from .dyck import DyckTask
from .index_lookup import IndexLookupTask
from .khop import KHopTask
from .match import Match2Task, Match3Task
from .nearest import NearestNeighborTask
from .qsa import QSATask
from .qstr import QSTRTask, SimpleQSTRTask
from .strings import DisjointnessTask, EqualityTask

__all__ = [
    "DisjointnessTask",
    "DyckTask",
    "EqualityTask",
    "FunctionCompositionTask",
    "IndexLookupTask",
    "KHopTask",
    "Match2Task",
    "Match3Task",
    "NearestNeighborTask",
    "QSATask",
    "QSTRTask",
    "SimpleQSTRTask",
]
