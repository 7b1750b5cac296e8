"""Deliberately broken reductions: the reduction checker must catch each of them.

Each is a small subclass of a built-in reduction with one defect, and each can be
checked from the command line, e.g.
``commlb check-reduction tests/broken_reductions.py:ALICE_READS_Y --n 4``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from commlb.core import Instance
from commlb.reductions.qsa import IndexToQSA
from commlb.reductions.strings import DisjToDisjointness


class AliceReadsY(DisjToDisjointness):
    """Alice's token i is a_i AND b_i: still sound (disjoint iff no a_i ∧ b_i ∧ b_i), but
    Alice's tokens read Bob's input, so it is not a reduction to a two-party split."""

    name = "broken: alice reads y"

    def encode(self, x: Any, y: Any) -> Instance:
        inst = super().encode(x, y)
        tokens = inst.tokens.copy()
        tokens[: self.n] = np.asarray(x, dtype=np.int64) & np.asarray(y, dtype=np.int64)
        return Instance(tokens, inst.owner)


class DecodeWrongOnce(IndexToQSA):
    """INDEX_n → qSA whose decode is wrong on exactly one input: x = (0, …, 0, 1),
    i = n − 1.  The qSA output reveals x (rows j < n) and x_i (row n), and only i = n − 1
    has x_i = 1 for that x, so exactly one input produces the output decode flips on."""

    name = "broken: decode wrong once"

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.bad_x = np.zeros(n, dtype=np.int64)
        self.bad_x[-1] = 1
        self.bad_y = np.array([n - 1], dtype=np.int64)
        self._poison = self.task.solve(super().encode(self.bad_x, self.bad_y).tokens)

    def decode(self, output: Any) -> int:
        value = super().decode(output)
        arr = np.asarray(output)
        if arr.shape == self._poison.shape and np.array_equal(arr, self._poison):
            return 1 - value
        return value


class OwnerDependsOnInput(DisjToDisjointness):
    """The final "=" is marked ALICE when a_0 = 1 and PUBLIC otherwise."""

    name = "broken: owner depends on input"

    def encode(self, x: Any, y: Any) -> Instance:
        inst = super().encode(x, y)
        owner = inst.owner.copy()
        if int(np.asarray(x)[0]) == 1:
            owner[-1] = 0
        return Instance(inst.tokens, owner)


class PublicSeparatorMoves(DisjToDisjointness):
    """The PUBLIC "#" token becomes "=" when b_{n-1} = 1.  The task then rejects the
    sequence too; at one pair the checker reports the locality failure first."""

    name = "broken: public token moves"

    def encode(self, x: Any, y: Any) -> Instance:
        inst = super().encode(x, y)
        tokens = inst.tokens.copy()
        if int(np.asarray(y)[-1]) == 1:
            tokens[self.n] = 3
        return Instance(tokens, inst.owner)


ALICE_READS_Y = AliceReadsY
DECODE_WRONG_ONCE = DecodeWrongOnce
OWNER_DEPENDS_ON_INPUT = OwnerDependsOnInput
PUBLIC_SEPARATOR_MOVES = PublicSeparatorMoves

# an instance (not a factory), for ``file.py:ATTR`` pointing at a Reduction object
ALICE_READS_Y_N3 = AliceReadsY(3)
