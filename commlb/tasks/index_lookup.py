"""Index lookup (BHBK24, docs/theory.md §7.1): ``x_1..x_n ? i``, answer x_i at the last position.

Token ids: the symbols 0..alphabet-1 first, then "?" (id ``alphabet``), then n position
tokens (id ``alphabet + 1 + i`` names position i, 0-based).  A one-layer transformer of
logarithmic width solves it; an RNN needs a state of about n·log2(alphabet) bits (one-way
INDEX, docs/theory.md §8.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = ["IndexLookupTask"]


@register_task("index-lookup")
class IndexLookupTask(Task):
    """``x_1..x_n ? i`` over symbols in [0, alphabet); ``solve`` returns the symbol x_i.

    ``n`` (the number of symbols) fixes the vocabulary, since there is one token per
    position; it may be left unset, in which case ``solve`` infers it from the length
    (n = length − 2) and ``vocab_size`` is undefined.
    """

    name = "index-lookup"
    defaults = TaskDefaults("index-to-index-lookup", 64,
                            why="INDEX_n written as x_1..x_n ? i (BHBK24, docs/theory.md §8.1)")
    description = "x_1..x_n ? i : output x_i (BHBK24)"
    output_kind = "class"

    def __init__(self, alphabet: int = 2, n: int | None = None) -> None:
        self.alphabet = positive_int(alphabet, "alphabet", self.name)
        self.n = None if n is None else positive_int(n, "n", self.name)

    @property
    def question(self) -> int:
        """Token id of "?"."""
        return self.alphabet

    def position_token(self, i: int | np.ndarray) -> Any:
        """Token id naming position i (0-based)."""
        return self.alphabet + 1 + i

    @property
    def vocab_size(self) -> int:
        if self.n is None:
            raise InvalidInputError("index-lookup: vocab_size needs n (get_task('index-lookup', n=...))")
        return self.alphabet + 1 + self.n

    def readout(self) -> tuple[str, int]:
        """A reduction reads the symbol x_i: one class per symbol of the alphabet."""
        return "class", int(self.alphabet)

    def vocab_names(self) -> list[str] | None:
        if self.n is None:
            return None
        symbols = [str(s) for s in range(self.alphabet)]
        return symbols + ["?"] + [f"@{i}" for i in range(self.n)]

    def length(self, n: int) -> int:
        return positive_int(n, "n", self.name) + 2

    def params(self) -> dict[str, Any]:
        return {"alphabet": self.alphabet, "n": self.n}

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        n = positive_int(n, "n", self.name)
        symbols = rng.integers(0, self.alphabet, size=n, dtype=np.int64)
        i = int(rng.integers(0, n))
        return np.concatenate([symbols, [self.question, self.position_token(i)]])

    def solve(self, tokens: Any) -> int:
        arr = int_tokens(tokens, self.name)
        n = len(arr) - 2
        if n < 1:
            raise InvalidInputError(f"{self.name}: sequence too short ({len(arr)} tokens)")
        if self.n is not None and n != self.n:
            raise InvalidInputError(f"{self.name}: expected {self.n} symbols, got {n}")
        check_range(arr[:n], 0, self.alphabet, self.name, "symbols")
        if arr[n] != self.question:
            raise InvalidInputError(f"{self.name}: expected '?' at position {n}")
        i = int(arr[-1]) - (self.alphabet + 1)
        if not 0 <= i < n:
            raise InvalidInputError(f"{self.name}: last token {arr[-1]} is not a position token")
        return int(arr[i])
