"""INDEX on n log2 n bits → function composition (PNP24 Theorem 1; docs/theory.md §8.7, §3.3).

The source problem is INDEX over n symbols of log2 n bits (:class:`SymbolIndex`, in
:mod:`commlb.problems.index_symbols`): Alice holds a table h ∈ [n]^n (n·log2 n bits),
Bob an index i ∈ [n], the output is the symbol h(i). It is INDEX_{n log n} in block
form: any protocol for it answers INDEX on the n·⌊log2 n⌋ bits of h (Bob asks for the
block holding his bit and reads the bit), so every lower bound of INDEX_{n⌊log2 n⌋}
applies to it; and one-way from Alice it costs exactly ⌈log2 n^n⌉ = ⌈n log2 n⌉ bits (all
n^n rows of its matrix are distinct). (The bit version cannot be the source itself:
``decode`` sees only the task's output, so it cannot pick Bob's bit out of the symbol.)

Layout (Kozachinskiy et al.'s 2n + 1 tokens ``g(0..n−1) h(0..n−1) x``): Bob writes
g(0) = i (BOB); g(v) = v for v ≥ 1 (PUBLIC); Alice writes the table h (ALICE); the
query x = 0 is PUBLIC.  Then h(g(x)) = h(i).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..errors import InvalidInputError
from ..problems.index_symbols import SymbolIndex
from ..registry import register_reduction
from ..tasks.composition import FunctionCompositionTask
from ._common import last_scalar
from .index import index_of

__all__ = ["SymbolIndex", "IndexToComposition"]


@register_reduction("index-to-composition")
class IndexToComposition(Reduction):
    """INDEX on n log2 n bits (:class:`SymbolIndex`) → function composition with 2n + 1
    tokens: Alice's table is the outer function h, Bob's index is g(0), the query x = 0
    and the rest of g are PUBLIC; the answer h(g(0)) = h(i).

    Serves: PNP24 Theorem 1 (docs/theory.md §8.7): the query is public, so a one-layer
    H-head transformer gives a one-way protocol in which Alice sends, per head, her
    partial numerator (d_v numbers) and denominator and Bob outputs; in the bits actually
    sent (exact accumulators of at most p_acc bits, docs/theory.md §3.4), always correct
    forces H(d_v+1)·p_acc ≥ D→ = ⌈n log2 n⌉ (PNP24 state H(d+1)p ≥ n log n with p-bit
    partial sums, and an error of at least R/(3 n log n), R = n log n − H(d+1)p, from
    randomized one-way INDEX).
    """

    name = "index-to-composition"
    source = ReductionSource(
        "PNP24",
        "Theorem 1: a one-layer transformer composing functions on n elements needs H·(d + 1)·p ≥ "
        "n log n to be always correct",
        "derived here",
        "§8",
        "the reduction from INDEX over n log2 n bits is ours")
    description = "INDEX on n log n bits as g(0..n-1) h(0..n-1) x (Alice h, Bob g(0) = i)"
    theorem = (
        "PNP24 Theorem 1 (docs/theory.md §8.7, §3.4): one-layer H-head function composition "
        "needs H(d_v+1)p_acc >= D->(INDEX on n log2 n bits) = ceil(n log2 n)"
    )
    example_params = {"n": 4}

    def __init__(self, n: int) -> None:
        self.problem = SymbolIndex(n)
        self.n = self.problem.n
        if self.n > 1 << 20:
            raise InvalidInputError(f"index-to-composition: n = {self.n} is too large")
        self.task = FunctionCompositionTask(n=self.n)
        n = self.n
        self._owner = np.array([BOB] + [PUBLIC] * (n - 1) + [ALICE] * n + [PUBLIC], dtype=np.int8)
        self._template = self.task.assemble(np.arange(n), np.zeros(n, dtype=np.int64), 0)

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        table = np.asarray(x, dtype=np.int64).reshape(-1)
        if table.shape != (n,) or table.min() < 0 or table.max() >= n:
            raise InvalidInputError(f"x must be a table h: {n} values in [0, {n})")
        tokens = self._template.copy()
        tokens[0] = index_of(y, n)
        tokens[n : 2 * n] = table
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_scalar(output))

