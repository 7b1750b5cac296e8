"""Function composition (PNP24; docs/theory.md §7.8, §8.7), in the 2n + 1 token format of
Kozachinskiy et al.: ``g(0) … g(n−1) h(0) … h(n−1) x``.

Two maps g, h : [n] → [n] given as value tables, then a query x ∈ [n]; the answer, read
at the last position, is h(g(x)) (Kozachinskiy et al.: "within 0.5 of h(g(x))"; here the
exact integer).  Token ids are the values themselves, [0, n); the position says which
table (and which argument) a token belongs to.  [PNP24's own token format is not known here,
docs/theory.md §7.8; the 2n + 1 format is Kozachinskiy et al.'s.]

PNP24 Theorem 1: a one-layer H-head transformer with embedding d and p-bit precision
answers wrongly with probability ≥ R/(3 n log n), R = n log n − H(d+1)p; so it needs
H(d+1)p ≥ n log n to be always right (``commlb.reductions.composition``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = ["FunctionCompositionTask"]


@register_task("function-composition")
class FunctionCompositionTask(Task):
    """``g(0..n−1) h(0..n−1) x`` → h(g(x)) (PNP24, Kozachinskiy et al. format).

    ``n`` (the domain size) fixes the vocabulary [0, n); it may be left unset, in which
    case ``solve`` infers it from the length (n = (length − 1)/2).
    """

    name = "function-composition"
    defaults = TaskDefaults("index-to-composition", 8,
                            why="INDEX on n log n bits as function composition (PNP24)")
    description = "g(0..n-1) h(0..n-1) x : output h(g(x)) (PNP24)"
    output_kind = "class"

    def __init__(self, n: int | None = None) -> None:
        self.n = None if n is None else positive_int(n, "n", self.name)

    @property
    def vocab_size(self) -> int:
        if self.n is None:
            raise InvalidInputError(
                f"{self.name}: vocab_size needs n (get_task('function-composition', n=...))"
            )
        return self.n

    def readout(self) -> tuple[str, int]:
        """A reduction reads the value h(g(x)): one class per element of [n]."""
        return "class", int(self.n)  # type: ignore[arg-type]

    def vocab_names(self) -> list[str] | None:
        return None if self.n is None else [str(v) for v in range(self.n)]

    def length(self, n: int) -> int:
        return 2 * positive_int(n, "n", self.name) + 1

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def assemble(self, g: Any, h: Any, x: int) -> np.ndarray:
        return np.concatenate([np.asarray(g, dtype=np.int64), np.asarray(h, dtype=np.int64),
                               [int(x)]]).astype(np.int64)

    def split(self, tokens: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """(g, h, x) of a well-formed sequence."""
        arr = int_tokens(tokens, self.name)
        if len(arr) < 3 or len(arr) % 2 == 0:
            raise InvalidInputError(f"{self.name}: length {len(arr)} is not 2n + 1 with n >= 1")
        n = (len(arr) - 1) // 2
        if self.n is not None and n != self.n:
            raise InvalidInputError(f"{self.name}: expected n = {self.n}, got {n}")
        check_range(arr, 0, n, self.name, "tokens")
        return arr[:n], arr[n : 2 * n], int(arr[-1])

    def solve(self, tokens: Any) -> int:
        g, h, x = self.split(tokens)
        return int(h[g[x]])

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform random g, h and x."""
        n = positive_int(n, "n", self.name)
        if self.n is not None and n != self.n:
            raise InvalidInputError(f"{self.name}: this task has n = {self.n}, asked for {n}")
        g = rng.integers(0, n, size=n, dtype=np.int64)
        h = rng.integers(0, n, size=n, dtype=np.int64)
        return self.assemble(g, h, int(rng.integers(0, n)))
