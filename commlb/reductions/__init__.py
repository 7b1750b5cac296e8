"""Reductions from communication problems to sequence tasks.  Importing this package
registers them (``commlb.get_reduction(name, n=..., ...)``); each states the theorem it
serves.  ``commlb.testing.check_reduction`` checks any of them (or a user's own) for
soundness and locality."""

from __future__ import annotations

from .composition import IndexToComposition
from .dyck import DisjToDyck, EqToDyck
from .index import IndexToIndexLookup
from .match3 import DisjToMatch3
from .nearest import IndexToNearestNeighbor
from .pointer_chasing import PCToKHop
from .pointer_multi import PCToKHopBlocks
from .qsa import DisjToQSA, IndexToQSA
from .strings import DisjToDisjointness, EqToEquality

__all__ = [
    "DisjToDisjointness",
    "DisjToDyck",
    "DisjToMatch3",
    "DisjToQSA",
    "EqToDyck",
    "EqToEquality",
    "IndexToComposition",
    "IndexToIndexLookup",
    "IndexToNearestNeighbor",
    "IndexToQSA",
    "PCToKHop",
    "PCToKHopBlocks",
]
