"""Sequence tasks from the literature: disjointness and equality (``a # b =``), index
lookup, q-sparse averaging (qSA) and k-hop induction heads.  Importing this package
registers them (``commlb.get_task(name, **params)``)."""

from __future__ import annotations

from .index_lookup import IndexLookupTask
from .khop import KHopTask
from .qsa import QSATask
from .strings import DisjointnessTask, EqualityTask
from .match import Match2Task, Match3Task
from .nearest import NearestNeighborTask
from .dyck import DyckTask
from .qstr import QSTRTask, SimpleQSTRTask
from .composition import FunctionCompositionTask

__all__ = ["DisjointnessTask", "EqualityTask", "IndexLookupTask", "QSATask", "KHopTask"]
