"""Reductions from communication problems to sequence tasks.  Importing this package
registers them (``commlb.get_reduction(name, n=..., ...)``); each states the theorem it
serves.  ``commlb.testing.check_reduction`` checks any of them (or a user's own) for
soundness and locality."""

from __future__ import annotations

from .index import IndexToIndexLookup
from .pointer_chasing import PCToKHop
from .qsa import DisjToQSA, IndexToQSA
from .strings import DisjToDisjointness, EqToEquality
from .match3 import DisjToMatch3
from .dyck import DisjToDyck, EqToDyck
from .nearest import IndexToNearestNeighbor
from .composition import IndexToComposition
from .pointer_multi import PCToKHopBlocks

__all__ = [
    "DisjToDisjointness",
    "EqToEquality",
    "IndexToIndexLookup",
    "IndexToQSA",
    "DisjToQSA",
    "PCToKHop",
]
