"""INDEX_n → nearest neighbour (BHBK24; docs/theory.md §7.4, §8.4: "NN embeds INDEX").

Layout (length 2n + 2, points in {0,1}^d with d = max(1, ⌈log2 n⌉)): the k = n stored
points are the fixed, distinct cube vertices 0, 1, …, n − 1 (PUBLIC); the label after
point j is Alice's bit x_j (ALICE); "?" is PUBLIC; the query point is Bob's index i
(BOB).  The query equals stored point i exactly and every other stored point is at
Hamming distance ≥ 1, so the nearest point is unique and its label is x_i.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..registry import get_problem, register_reduction
from ..tasks.nearest import NearestNeighborTask
from ._common import bits, last_scalar
from .index import index_of

__all__ = ["IndexToNearestNeighbor"]


@register_reduction("index-to-nearest-neighbor")
class IndexToNearestNeighbor(Reduction):
    """INDEX_n → nearest neighbour: public distinct points, Alice's bits as their labels,
    Bob's index as the query point; the answer is x_i.

    Serves: BHBK24's RNN bound for nearest neighbour (docs/theory.md §8.4): the
    state at the cut before "?" is a one-way message, so an RNN solving the
    task has ≥ D→(INDEX_n) = n state bits (randomized ≥ (1 − H2(ε))·n), while a two-layer
    transformer of logarithmic size solves it (BHBK24).
    """

    task: NearestNeighborTask

    name = "index-to-nearest-neighbor"
    source = ReductionSource(
        "BHBK24",
        "an RNN finding nearest neighbours needs a state linear in n, while transformers of "
        "logarithmic size find them",
        "derived here",
        "§8",
        "the encoding of INDEX as nearest neighbour is ours, and whether it is the paper's own is "
        "not claimed")
    description = "INDEX_n as nearest neighbour (public points, Alice's labels, Bob's query)"
    theorem = (
        "BHBK24 RNN bound for nearest neighbour (docs/theory.md §8.4): state bits >= "
        "D->(INDEX_n) = n (one-way, Alice to Bob)"
    )
    example_params = {"n": 8}

    def __init__(self, n: int) -> None:
        self.problem = get_problem("index", n=n)
        self.n = self.problem.n
        self.d = max(1, math.ceil(math.log2(self.n)))
        self.task = NearestNeighborTask(d=self.d, labels=2)
        n = self.n
        self._owner = np.array([PUBLIC, ALICE] * n + [PUBLIC, BOB], dtype=np.int8)
        self._template = self.task.assemble(np.arange(n), np.zeros(n, dtype=np.int64), 0)

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        tokens = self._template.copy()
        tokens[1 : 2 * n : 2] = self.task.label_token(bits(x, n, "x"))
        tokens[-1] = index_of(y, n)
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_scalar(output))
