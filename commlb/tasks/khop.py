"""k-hop induction heads, hop_k (SHT24 Definition 4.1; docs/theory.md §7.9).

With 0-based positions, find¹(i) = j + 1 for the largest j < i with x_j = x_i (the
position right after the most recent earlier occurrence of the current token), and ⊥
if there is none; find^k = find¹ ∘ find^{k−1} (⊥ propagates); find^0(i) = i.  SHT24
defines the answer as the *token* found, hop_k(X)_i = X_{find^k(i)} (⊥ if undefined),
and so does its official generator (github.com/chsanford/hop-induction-heads,
src/tasks.py, which prints "~" for ⊥).  Here:

* :meth:`KHopTask.solve_positions` returns find^k(i) for every i (−1 for ⊥);
* :meth:`KHopTask.solve` returns hop_k(X)_i = the token at that position (−1 for ⊥),

and the answer of the task is read at the last position by default.  Example (SHT24):
X = baebcabebdea gives hop_1 = b and hop_2 = c at the last position.

Note: find¹(i) = i when x_{i−1} = x_i (SHT24's definition allows it: j ≤ i with
X_{j−1} = X_i); the official generator avoids equal neighbours, and so does
:meth:`KHopTask.generate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = ["KHopTask", "find1", "hop_positions", "hop_positions_reference"]


def find1(tokens: np.ndarray, alphabet: int) -> np.ndarray:
    """find¹ at every position (−1 for ⊥), one left-to-right pass with a table of the
    last occurrence of each token: O(N + alphabet)."""
    last = [-1] * alphabet
    out = [-1] * len(tokens)
    for i, tok in enumerate(tokens.tolist()):
        j = last[tok]
        if j >= 0:
            out[i] = j + 1
        last[tok] = i
    return np.asarray(out, dtype=np.int64)


def hop_positions(tokens: np.ndarray, k: int, alphabet: int) -> np.ndarray:
    """find^k at every position (−1 for ⊥) in O(N·k): k gathers through find¹."""
    step = np.append(find1(tokens, alphabet), -1)  # index −1 (⊥) maps to ⊥
    pos = np.arange(len(tokens), dtype=np.int64)
    for _ in range(k):
        pos = step[pos]
    return pos


def hop_positions_reference(tokens: np.ndarray, k: int) -> np.ndarray:
    """Slow, obvious version of find^k straight from Definition 4.1 (for tests)."""
    seq = [int(t) for t in tokens]

    def find(i: int) -> int:
        for j in range(i - 1, -1, -1):
            if seq[j] == seq[i]:
                return j + 1
        return -1

    out = []
    for i in range(len(seq)):
        p = i
        for _ in range(k):
            if p < 0:
                break
            p = find(p)
        out.append(p)
    return np.asarray(out, dtype=np.int64)


@register_task("khop")
class KHopTask(Task):
    """hop_k over tokens in [0, alphabet) (SHT24 Definition 4.1).  ``solve`` returns the
    token hop_k(X)_i at every position (−1 for ⊥); ``solve_positions`` the positions."""

    name = "khop"
    defaults = TaskDefaults("pc-to-khop", 4, ("k",), (("k", 2),),
                            why="pointer chasing PC(n, k) as k-hop induction heads (SHT24, docs/theory.md §8.8)")
    description = "k-hop induction heads: follow find¹ k times (SHT24 Def. 4.1)"
    output_kind = "per-position"

    def __init__(self, k: int = 1, alphabet: int = 4) -> None:
        self.k = positive_int(k, "k", self.name, minimum=0)
        self.alphabet = positive_int(alphabet, "alphabet", self.name)

    @property
    def vocab_size(self) -> int:
        return self.alphabet

    def vocab_names(self) -> list[str]:
        if self.alphabet <= 26:
            return [chr(ord("a") + t) for t in range(self.alphabet)]
        return [str(t) for t in range(self.alphabet)]

    def length(self, n: int) -> int:
        return positive_int(n, "n", self.name)

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "alphabet": self.alphabet}

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """A random string with no two equal neighbours, as in the official generator."""
        n = positive_int(n, "n", self.name)
        if self.alphabet == 1:
            return np.zeros(n, dtype=np.int64)
        out = np.empty(n, dtype=np.int64)
        out[0] = rng.integers(0, self.alphabet)
        shifts = rng.integers(1, self.alphabet, size=n - 1)
        for i in range(1, n):  # uniform over the alphabet minus the previous token
            out[i] = (out[i - 1] + shifts[i - 1]) % self.alphabet
        return out

    def _tokens(self, tokens: Any) -> np.ndarray:
        arr = int_tokens(tokens, self.name)
        check_range(arr, 0, self.alphabet, self.name, "tokens")
        return arr

    def solve_positions(self, tokens: Any) -> np.ndarray:
        """find^k(i) for every position i, −1 where it does not exist."""
        return hop_positions(self._tokens(tokens), self.k, self.alphabet)

    def solve(self, tokens: Any) -> np.ndarray:
        """hop_k(X)_i = X_{find^k(i)} for every position i, −1 where it does not exist."""
        arr = self._tokens(tokens)
        pos = hop_positions(arr, self.k, self.alphabet)
        return np.where(pos >= 0, np.append(arr, -1)[pos], -1)
