"""Two-string tasks ``a # b =`` from BHBK24 (docs/theory.md §7.2): disjointness and equality.

Token ids: 0 and 1 are the bits, 2 is the separator "#", 3 is the final "=" at which
the answer is read.  Length 2n + 2 for strings of n bits.  Both tasks are the targets of
the one-layer / RNN lower bounds of docs/theory.md §8.2 (Alice holds a, Bob holds b).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import int_tokens, positive_int

__all__ = ["DisjointnessTask", "EqualityTask", "SEP", "EQUALS"]

SEP = 2
EQUALS = 3
_NAMES = ["0", "1", "#", "="]


class _TwoStringTask(Task):
    output_kind = "binary"

    @property
    def vocab_size(self) -> int:
        return 4

    def vocab_names(self) -> list[str]:
        return list(_NAMES)

    def length(self, n: int) -> int:
        return 2 * positive_int(n, "n", self.name, minimum=0) + 2

    def split(self, tokens: Any) -> tuple[list[int], list[int]]:
        """The two bit strings (a, b), as lists, of a well-formed ``a # b =`` sequence."""
        seq = int_tokens(tokens, self.name).tolist()
        length = len(seq)
        if length < 2 or length % 2:
            raise InvalidInputError(f"{self.name}: length {length} is not 2n + 2")
        n = (length - 2) // 2
        if seq[n] != SEP or seq[-1] != EQUALS:
            raise InvalidInputError(f"{self.name}: expected '#' at {n} and '=' at the end")
        a, b = seq[:n], seq[n + 1 : 2 * n + 1]
        if not set(a).union(b) <= {0, 1}:
            raise InvalidInputError(f"{self.name}: string tokens must be 0 or 1")
        return a, b

    def assemble(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        return np.concatenate([a, [SEP], b, [EQUALS]]).astype(np.int64)


@register_task("disjointness")
class DisjointnessTask(_TwoStringTask):
    """``a_1..a_n # b_1..b_n =``; answer 1 iff no i has a_i = b_i = 1 (= DISJ_n(a, b))."""

    name = "disjointness"
    defaults = TaskDefaults("disj-to-disjointness", 64,
                            why="DISJ_n written as a # b = (BHBK24, docs/theory.md §8.2)")
    description = "a # b = : 1 iff the sets a and b are disjoint (BHBK24)"

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # Bit density chosen so that P(disjoint) = (1 - p^2)^n = 1/2: balanced classes.
        n = positive_int(n, "n", self.name, minimum=0)
        p = float(np.sqrt(1.0 - 2.0 ** (-1.0 / n))) if n else 0.5
        a = (rng.random(n) < p).astype(np.int64)
        b = (rng.random(n) < p).astype(np.int64)
        return self.assemble(a, b)

    def solve(self, tokens: Any) -> int:
        a, b = self.split(tokens)
        return int(not any(ai & bi for ai, bi in zip(a, b)))


@register_task("equality")
class EqualityTask(_TwoStringTask):
    """``a_1..a_n # b_1..b_n =``; answer 1 iff a = b (= EQ_n(a, b))."""

    name = "equality"
    defaults = TaskDefaults("eq-to-equality", 64, why="EQ_n written as a # b = (BHBK24, docs/theory.md §8.2)")
    description = "a # b = : 1 iff a = b (BHBK24)"

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # Half of the instances are equal, else random strings would almost never be.
        n = positive_int(n, "n", self.name, minimum=0)
        a = rng.integers(0, 2, size=n, dtype=np.int64)
        b = a.copy() if rng.random() < 0.5 else rng.integers(0, 2, size=n, dtype=np.int64)
        return self.assemble(a, b)

    def solve(self, tokens: Any) -> int:
        a, b = self.split(tokens)
        return int(a == b)
