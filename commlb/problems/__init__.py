"""The classic two-party communication problems (docs/theory.md §4), as data with their
literature bounds.  Importing this package registers them
(``commlb.get_problem(name, **params)``): ``disj``, ``eq``, ``ip``, ``gt`` (n-bit strings),
``index`` (bits and an index), ``index-symbols`` (INDEX over n symbols of [n]), ``pc``
(pointer chasing on [n] → [n]), ``pc-perm`` (pointer chasing on permutations, a promise
problem) and ``ghd`` (Gap-Hamming, a promise problem).  A new problem is one module here,
imported below."""

from __future__ import annotations

from .base import DONT_CARE, ProblemBase, pack_bits
from .bitwise import Disjointness, Equality, GreaterThan, InnerProduct
from .gap_hamming import GapHamming
from .index import Index
from .index_symbols import SymbolIndex
from .pointer_chasing import PointerChasing
from .pointer_chasing_perm import PermutationPointerChasing

__all__ = [
    "ProblemBase",
    "pack_bits",
    "DONT_CARE",
    "Disjointness",
    "Equality",
    "InnerProduct",
    "GreaterThan",
    "Index",
    "SymbolIndex",
    "PointerChasing",
    "PermutationPointerChasing",
    "GapHamming",
]
