"""INDEX_n: Alice holds x ∈ {0,1}^n, Bob an index i ∈ [0, n); the output is x_i.

Bob's input is a length-1 int64 array ``[i]`` (``y_space = InputSpace("index", 1,
base=n)``).  The problem is as asymmetric as they come: one-way from Alice to Bob it
costs exactly n bits, from Bob to Alice ⌈log2 n⌉ bits, and two-way ⌈log2 n⌉ + 1
(docs/theory.md §4.3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import BoundKind, InputSpace, KnownBound
from ..registry import register_problem
from .base import (
    ProblemBase,
    as_bits,
    as_ints,
    batch_shape,
    binary_entropy,
    ceil_log2,
    check_n,
)
from .bitwise import EPSILON

__all__ = ["Index"]


@register_problem("index")
class Index(ProblemBase):
    """INDEX_n(x, i) = x_i.

    Bounds:

    * D = ⌈log2 n⌉ + 1 exactly (derived here): upper, Bob sends i and Alice answers; lower, the
      1-fooling set {(e_i, i)} and the 0-fooling set {(1 − e_i, i)} (each of size n) force
      >= 2n leaves in any protocol tree (docs/theory.md §4.3).
    * D→(Alice → Bob) = n, formally verified (Lean, Functions/Indexing.lean).
    * D→(Bob → Alice) = ⌈log2 n⌉ (n distinct columns).
    * randomized one-way Alice → Bob >= (1 − H2(ε)) n (Kremer–Nisan–Ron 1999; Ablayev
      1996; docs/theory.md §4.3).
    """

    name = "index"
    description = "INDEX_n: Alice x in {0,1}^n, Bob an index i in [0, n); output x_i"
    x_format = "n bits: an int64 array of n entries in {0, 1}"
    y_format = "[i]: an int64 array of length 1 holding Bob's index i in [0, n) (not a bit vector)"
    output_format = "x_i, 1 or 0"

    def __init__(self, n: int) -> None:
        self.n = check_n(n, self.name)
        self.x_space = InputSpace("bits", self.n)
        self.y_space = InputSpace("index", 1, base=self.n)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """x_i over the broadcast batch axes: x (..., n) bits, y (..., 1) indices."""
        x = as_bits(x, self.n, "x")
        y = as_ints(y, 1, self.n, "y (the index i)")
        shape = batch_shape(x, y)
        xb = np.broadcast_to(x, shape + (self.n,))
        ib = np.broadcast_to(y, shape + (1,))
        return np.take_along_axis(xb, ib, axis=-1)[..., 0].astype(np.int64)

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def separating_y(self, x: np.ndarray, x2: np.ndarray) -> np.ndarray | None:
        """The first position where x and x2 differ."""
        diff = np.flatnonzero(np.asarray(x) != np.asarray(x2))
        return np.array([int(diff[0])], dtype=np.int64) if diff.size else None

    def bounds(self) -> list[KnownBound]:
        n = self.n
        log_n = ceil_log2(n)
        h = binary_entropy(EPSILON)
        return [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="ceil(log2 n) + 1",
                value=float(log_n + 1),
                exact=True,
                citation="Kushilevitz & Nisan 1997 (fooling sets): Bob sends i, Alice answers; "
                         "fooling sets {(e_i, i)} and {(1 - e_i, i)} force 2n leaves",
                status="derived here (docs/theory.md §4.3)",
                note="two-way value counts the final bit announcing the answer",
            ),
            KnownBound(
                kind=BoundKind.ONE_WAY_AB,
                formula="n",
                value=float(n),
                exact=True,
                citation="communication-complexity-lean (mihirsinghal), "
                         "CommunicationComplexity/Functions/Indexing.lean",
                status="proved in the cited source; formally verified in Lean",
                note="Alice -> Bob: all 2^n rows are distinct",
            ),
            KnownBound(
                kind=BoundKind.ONE_WAY_BA,
                formula="ceil(log2 n)",
                value=float(log_n),
                exact=True,
                citation="Kushilevitz & Nisan 1997: one-way D = ceil(log2 #distinct columns); "
                         "INDEX_n has n distinct columns",
                status="derived here (docs/theory.md §5.3)",
                note="Bob -> Alice: Bob sends i; Alice outputs x_i",
            ),
            KnownBound(
                kind=BoundKind.RANDOMIZED_ONE_WAY_AB,
                formula="(1 - H2(eps)) * n",
                value=(1.0 - h) * n,
                epsilon=EPSILON,
                citation="Kremer, Nisan & Ron 1999; Ablayev 1996",
                status="proved in the cited papers (docs/theory.md §4.3)",
                note="one-way Alice -> Bob, public coin",
            ),
        ]
