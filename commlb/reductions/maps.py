"""Problem maps (problem → problem by local maps; docs/theory.md §13.2): the edges
between problems in the reduction graph (:mod:`commlb.reductions.graph`).  Each one is
exact: Q(x, y) = decode(P(map_x(x), map_y(y))) on every pair, with decode reading P's
answer only, so it costs 0 bits; ``commlb check-reduction eq-to-disj+disj-to-disjointness``
checks a chain through it like any reduction.

* ``eq-to-disj``: EQ_n → DISJ_{2n}, x ↦ (x, ¬x), y ↦ (¬y, y): the two sets are disjoint
  iff no i has x_i ∧ ¬y_i and none has ¬x_i ∧ y_i, i.e. iff x = y.
* ``index-to-disj``: INDEX_n → DISJ_n, x ↦ x, i ↦ e_i: x and {i} are disjoint iff
  x_i = 0, so INDEX = 1 − DISJ.
* ``index-to-index-symbols``: INDEX_n → INDEX over n symbols of [n] (n ≥ 2), the bits
  x as a table h with values in {0, 1} ⊆ [n], i ↦ i: h(i) = x_i.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ProblemMap
from ..errors import InvalidInputError
from ..registry import get_problem, register_map
from ._common import bits
from .index import index_of

__all__ = ["EqToDisj", "IndexToDisj", "IndexToIndexSymbols"]


@register_map("eq-to-disj")
class EqToDisj(ProblemMap):
    """EQ_n → DISJ_{2n}: Alice (x, ¬x), Bob (¬y, y); decode the identity (size 2n)."""

    name = "eq-to-disj"
    description = "EQ_n as DISJ_2n: Alice (x, not x), Bob (not y, y)"
    example_params = {"n": 3}

    def __init__(self, n: int) -> None:
        self.source = get_problem("eq", n=n)
        self.target = get_problem("disj", n=2 * self.source.n)

    def map_x(self, x: Any) -> np.ndarray:
        a = bits(x, self.source.n, "x")
        return np.concatenate([a, 1 - a])

    def map_y(self, y: Any) -> np.ndarray:
        b = bits(y, self.source.n, "y")
        return np.concatenate([1 - b, b])


@register_map("index-to-disj")
class IndexToDisj(ProblemMap):
    """INDEX_n → DISJ_n: Alice x, Bob the indicator e_i; INDEX = 1 − DISJ (size n)."""

    name = "index-to-disj"
    description = "INDEX_n as DISJ_n: Alice x, Bob e_i; the answer negated"
    example_params = {"n": 4}

    def __init__(self, n: int) -> None:
        self.source = get_problem("index", n=n)
        self.target = get_problem("disj", n=self.source.n)

    def map_x(self, x: Any) -> np.ndarray:
        return bits(x, self.source.n, "x")

    def map_y(self, y: Any) -> np.ndarray:
        e = np.zeros(self.source.n, dtype=np.int64)
        e[index_of(y, self.source.n)] = 1
        return e

    def decode(self, answer: int) -> int:
        return 1 - int(answer)


@register_map("index-to-index-symbols")
class IndexToIndexSymbols(ProblemMap):
    """INDEX_n → INDEX over n symbols of [n] (n ≥ 2): the bits as a 0/1 table, the
    index unchanged (size n)."""

    name = "index-to-index-symbols"
    description = "INDEX_n as INDEX over n symbols: Alice's bits as a 0/1 table, Bob's i"
    example_params = {"n": 3}

    def __init__(self, n: int) -> None:
        if n < 2:
            raise InvalidInputError("index-to-index-symbols needs n >= 2 (the symbols 0 and 1 in [n])")
        self.source = get_problem("index", n=n)
        self.target = get_problem("index-symbols", n=self.source.n)

    def map_x(self, x: Any) -> np.ndarray:
        return bits(x, self.source.n, "x")

    def map_y(self, y: Any) -> np.ndarray:
        return np.array([index_of(y, self.source.n)], dtype=np.int64)
