"""INDEX over n symbols of log2 n bits (PNP24 Theorem 1; docs/theory.md §8.7, §3.3).

Alice holds a table h ∈ [n]^n (n·log2 n bits), Bob an index i ∈ [n], the output is the
symbol h(i).  It is INDEX_{n log n} in block form: any protocol for it answers INDEX on
the n·⌊log2 n⌋ bits of h (Bob asks for the block holding his bit and reads the bit), so
every lower bound of INDEX_{n⌊log2 n⌋} applies to it; and one-way from Alice it costs
exactly ⌈log2 n^n⌉ = ⌈n log2 n⌉ bits (all n^n rows of its matrix are distinct).  It is
the source problem of the reduction ``index-to-composition``
(:mod:`commlb.reductions.composition`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import BoundKind, InputSpace, KnownBound
from ..registry import register_problem
from .base import ProblemBase, as_ints, batch_shape, binary_entropy, check_n

__all__ = ["SymbolIndex"]


@register_problem("index-symbols")
class SymbolIndex(ProblemBase):
    """INDEX over n symbols of [n] (= n log2 n bits): Alice h ∈ [n]^n, Bob i ∈ [n];
    output h(i).  The source problem of ``index-to-composition``.

    Bounds: one-way Alice → Bob exactly ⌈log2 n^n⌉ (n^n distinct rows);
    randomized one-way ≥ (1 − H2(ε))·n⌊log2 n⌋ via INDEX_{n⌊log2 n⌋} (Kremer–Nisan–Ron
    1999; docs/theory.md §4.8); two-way at most 2⌈log2 n⌉ (Bob sends i,
    Alice answers h(i)).
    """

    name = "index-symbols"
    description = "INDEX over n symbols of log2 n bits: Alice h in [n]^n, Bob i; output h(i)"
    x_format = "the table h: an int64 array of n entries in [0, n), entry j = h(j)"
    y_format = "[i]: an int64 array of length 1 holding Bob's index i in [0, n)"
    output_format = "the symbol h(i), an integer in [0, n)"

    def __init__(self, n: int) -> None:
        self.n = check_n(n, self.name)
        self.x_space = InputSpace("function", self.n, base=self.n)
        self.y_space = InputSpace("index", 1, base=self.n)
        self.num_outputs = self.n

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = as_ints(x, self.n, self.n, "x (the table h)")
        y = as_ints(y, 1, self.n, "y (the index i)")
        shape = batch_shape(x, y)
        xb = np.broadcast_to(x, shape + (self.n,))
        ib = np.broadcast_to(y, shape + (1,))
        return np.take_along_axis(xb, ib, axis=-1)[..., 0].astype(np.int64)

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def bounds(self) -> list[KnownBound]:
        n = self.n
        one_way = _ceil_n_log2_n(n)  # ⌈log2 n^n⌉, exact
        block = n * int(math.floor(math.log2(n))) if n > 1 else 0
        eps = 1.0 / 3.0
        log_n = (n - 1).bit_length()
        return [
            KnownBound(
                kind=BoundKind.ONE_WAY_AB,
                formula="ceil(n log2 n)",
                value=float(one_way),
                exact=True,
                citation="Kushilevitz & Nisan 1997: one-way D = ceil(log2 #distinct rows); "
                         "all n^n tables give distinct rows",
                status="derived here (docs/theory.md §4.8)",
                note="Alice -> Bob",
            ),
            KnownBound(
                kind=BoundKind.RANDOMIZED_ONE_WAY_AB,
                formula="(1 - H2(eps)) * n floor(log2 n)",
                value=(1.0 - binary_entropy(eps)) * block,
                epsilon=eps,
                citation="Kremer, Nisan & Ron 1999 for INDEX on n floor(log2 n) bits, which "
                         "reduces to this problem",
                status="proved in the cited paper, through INDEX (docs/theory.md §4.3, §4.8)",
                note="one-way Alice -> Bob, public coin",
            ),
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="2 ceil(log2 n)",
                value=float(2 * log_n),
                lower=False,
                citation="Bob sends i, Alice answers h(i)",
                status="derived here: an upper bound",
            ),
        ]


def _ceil_n_log2_n(n: int) -> int:
    """⌈n·log2 n⌉ (= bit length of n^n − 1) without building n^n, whose size grows as
    n log n bits: exact integers up to n = 4096 and for powers of two, else n·ln n / ln 2
    in 60-digit decimal arithmetic (n log2 n is then irrational; the error, about
    10^-50, is far below its distance to an integer unless that is under 10^-40, which
    is refused rather than guessed)."""
    if n <= 1:
        return 0
    if n <= 4096:
        return (n**n - 1).bit_length()
    if n & (n - 1) == 0:  # a power of two: n log2 n is an integer
        return n * (n.bit_length() - 1)
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(n) * Decimal(n).ln() / Decimal(2).ln()
        ceil = int(value.to_integral_value(rounding="ROUND_CEILING"))
        if min(value - (ceil - 1), ceil - value) < Decimal("1e-40"):
            from ..errors import TooLargeError

            raise TooLargeError(f"n log2 n at n = {n} is too close to an integer to round with 60 digits")
    return ceil
