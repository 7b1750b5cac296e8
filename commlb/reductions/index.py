"""INDEX_n → index lookup (BHBK24; docs/theory.md §7.1, §8.1).

Layout (length n + 2): x_1..x_n owned by ALICE (the symbols, alphabet {0, 1}), "?"
PUBLIC, the position token naming i owned by BOB; the answer x_i is read at Bob's
last token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..errors import InvalidInputError
from ..registry import get_problem, get_task, register_reduction
from ..tasks.index_lookup import IndexLookupTask
from ._common import ONE_WAY_NOTE, bits, last_scalar

__all__ = ["IndexToIndexLookup", "index_of"]


def index_of(y: Any, n: int) -> int:
    """Bob's index i from his input (a length-1 array holding i, or an int)."""
    arr = np.asarray(y, dtype=np.int64).reshape(-1)
    if arr.size != 1 or not 0 <= int(arr[0]) < n:
        raise InvalidInputError(f"y must hold one index in [0, {n})")
    return int(arr[0])


@register_reduction("index-to-index-lookup")
class IndexToIndexLookup(Reduction):
    """INDEX_n → index lookup: Alice's bits are the symbols, Bob's index is the query.

    Serves: an RNN solving index lookup needs a state of ≥ n bits, since the state at
    the cut after the symbols is a one-way message and D→(INDEX_n) = n (Alice → Bob,
    docs/theory.md §4.3; BHBK24's RNN bound, docs/theory.md §8.1).  A one-layer
    transformer instead needs only Bob's query and Alice's answer (O(log n) width).
    """

    task: IndexLookupTask

    name = "index-to-index-lookup"
    source = ReductionSource(
        "BHBK24",
        "an RNN doing index lookup needs a state linear in n, while one-layer transformers of "
        "logarithmic size do it",
        "derived here",
        "§8",
        ONE_WAY_NOTE)
    description = "INDEX_n as x_1..x_n ? i (Alice x, Bob i)"
    theorem = (
        "BHBK24 RNN bound for index lookup (docs/theory.md §8.1): state bits >= "
        "D->(INDEX_n) = n (one-way, Alice to Bob)"
    )
    example_params = {"n": 8}

    def __init__(self, n: int) -> None:
        self.problem = get_problem("index", n=n)
        self.n = self.problem.n
        self.task = get_task("index-lookup", alphabet=2, n=self.n)
        self._owner = np.array([ALICE] * self.n + [PUBLIC, BOB], dtype=np.int8)

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        tokens = np.empty(n + 2, dtype=np.int64)
        tokens[:n] = bits(x, n, "x")
        tokens[n] = self.task.question
        tokens[n + 1] = self.task.position_token(index_of(y, n))
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_scalar(output))
