"""Match2 and Match3 (SHT23 §5, "triple detection"; docs/theory.md §7.6).

Input X = (x_1, …, x_N) with every x_i an integer mod M (token id = x_i ∈ [0, M)).  The
answer is one bit at every position:

    Match2(X)_i = 1  iff  ∃ j:      x_i + x_j        ≡ 0 (mod M)
    Match3(X)_i = 1  iff  ∃ j1, j2: x_i + x_j1 + x_j2 ≡ 0 (mod M)

The indices j, j1, j2 range over all positions and may coincide with each other and with
i (docs/theory.md §7.6; Kozachinskiy et al. exclude the value 0 from the inputs for
that reason: x_i = 0 makes Match3(X)_i = 1 through i = j1 = j2).  Here the value 0 is
allowed; ``generate(..., exclude_zero=True)`` follows Kozachinskiy et al.

SHT23 Theorem 6: one self-attention unit with m = 3 computes Match2; Theorem 7:
a one-layer H-head transformer computing Match3 needs m·p·H ≳ N / log log N when
M ≥ N + 1 (see ``commlb.reductions.match3`` for the reduction commlb runs).

Solvers: :func:`match2` and :func:`match3` are the fast ones (a value table; the sumset
of the distinct values for Match3, O(N + |S|²)); :func:`match2_reference` and
:func:`match3_reference` are the slow, obvious loops over j (and j1, j2) kept for tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = [
    "Match2Task",
    "Match3Task",
    "match2",
    "match3",
    "match2_reference",
    "match3_reference",
]


def match2(values: np.ndarray, modulus: int) -> np.ndarray:
    """Match2 at every position: is −x_i (mod M) among the values?  O(N + M)."""
    present = np.zeros(modulus, dtype=bool)
    present[values] = True
    return present[(-values) % modulus].astype(np.int64)


def sumset(values: np.ndarray, modulus: int) -> np.ndarray:
    """Boolean table over [0, M): which residues are x_j1 + x_j2 (j1 = j2 allowed)."""
    distinct = np.unique(values)
    hit = np.zeros(modulus, dtype=bool)
    # rows of at most ~4M sums at a time keep the memory small for large N
    step = max(1, (1 << 22) // max(1, len(distinct)))
    for start in range(0, len(distinct), step):
        block = distinct[start : start + step]
        hit[(block[:, None] + distinct[None, :]) % modulus] = True
    return hit


def match3(values: np.ndarray, modulus: int) -> np.ndarray:
    """Match3 at every position: is −x_i (mod M) in the sumset S + S?  O(N + |S|²)."""
    return sumset(values, modulus)[(-values) % modulus].astype(np.int64)


def match2_reference(values: Any, modulus: int) -> np.ndarray:
    """Slow, obvious Match2 (for tests): a loop over i and j."""
    xs = [int(v) for v in values]
    return np.array(
        [int(any((xi + xj) % modulus == 0 for xj in xs)) for xi in xs], dtype=np.int64
    )


def match3_reference(values: Any, modulus: int) -> np.ndarray:
    """Slow, obvious Match3 (for tests): a loop over i, j1 and j2."""
    xs = [int(v) for v in values]
    return np.array(
        [int(any((xi + a + b) % modulus == 0 for a in xs for b in xs)) for xi in xs],
        dtype=np.int64,
    )


class _MatchTask(Task):
    output_kind = "per-position"
    order = 2

    def __init__(self, M: int = 16) -> None:
        self.M = positive_int(M, "M", self.name, minimum=2)

    def readout(self) -> tuple[str, int]:
        """A reduction reads one match bit at the last position."""
        return "binary", 2

    @property
    def vocab_size(self) -> int:
        return self.M

    def vocab_names(self) -> list[str]:
        return [str(v) for v in range(self.M)]

    def length(self, n: int) -> int:
        return positive_int(n, "n", self.name)

    def params(self) -> dict[str, Any]:
        return {"M": self.M}

    def output_positions(self, length: int) -> np.ndarray:
        return np.arange(length, dtype=np.int64)

    def _tokens(self, tokens: Any) -> np.ndarray:
        arr = int_tokens(tokens, self.name)
        check_range(arr, 0, self.M, self.name, "tokens")
        return arr

    def generate(self, rng: np.random.Generator, n: int, exclude_zero: bool = False) -> np.ndarray:
        """N = n values uniform in [0, M) (in [1, M) with ``exclude_zero``)."""
        n = positive_int(n, "n", self.name)
        low = 1 if exclude_zero else 0
        return rng.integers(low, self.M, size=n, dtype=np.int64)


@register_task("match2")
class Match2Task(_MatchTask):
    """Match2 over Z_M (SHT23; docs/theory.md §7.6): ``solve`` returns the 0/1 answer at every
    position, 1 where some x_j (j = i allowed) has x_i + x_j ≡ 0 (mod M)."""

    name = "match2"
    defaults = TaskDefaults(None, 16, ("M",), why="no reduction: a generated instance, split prefix:N/2")
    description = "Match2: 1 at i iff x_i + x_j = 0 mod M for some j (SHT23)"

    def solve(self, tokens: Any) -> np.ndarray:
        return match2(self._tokens(tokens), self.M)


@register_task("match3")
class Match3Task(_MatchTask):
    """Match3 over Z_M (SHT23; docs/theory.md §7.6): ``solve`` returns the 0/1 answer at every
    position, 1 where some j1, j2 (repeats allowed) have x_i + x_j1 + x_j2 ≡ 0 (mod M)."""

    name = "match3"
    defaults = TaskDefaults("disj-to-match3", 8, ("M",), why="DISJ_n as Match3 (SHT23, docs/theory.md §8.6)")
    description = "Match3: 1 at i iff x_i + x_j1 + x_j2 = 0 mod M for some j1, j2 (SHT23)"
    order = 3

    def solve(self, tokens: Any) -> np.ndarray:
        return match3(self._tokens(tokens), self.M)
