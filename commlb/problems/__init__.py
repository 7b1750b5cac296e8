"""The classic two-party communication problems (docs/theory.md §4), as data with their
literature bounds.  Importing this package registers them
(``commlb.get_problem(name, **params)``): ``disj``, ``eq``, ``ip``, ``gt`` (n-bit strings),
``index`` (bits and an index), ``pc`` (pointer chasing on [n] → [n]) and ``ghd``
(Gap-Hamming, a promise problem)."""

from __future__ import annotations

from .base import DONT_CARE, ProblemBase, pack_bits
from .bitwise import Disjointness, Equality, GreaterThan, InnerProduct
from .gap_hamming import GapHamming
from .index import Index
from .pointer_chasing import PointerChasing

__all__ = [
    "ProblemBase",
    "pack_bits",
    "DONT_CARE",
    "Disjointness",
    "Equality",
    "InnerProduct",
    "GreaterThan",
    "Index",
    "PointerChasing",
    "GapHamming",
]
