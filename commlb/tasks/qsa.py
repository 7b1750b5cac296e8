"""q-sparse averaging, qSA (SHT23 Definition 4; docs/theory.md §7.5).

Token i carries three fields: ``z`` (a vector in R^{d'}; the definition takes it in the
unit ball), ``y`` (the pointer set y_i ⊆ [N], |y_i| = q, stored as q sorted distinct
0-based positions) and ``pos`` (= i).  The answer at every position is

    qSA(X)_i = (1/q) Σ_{j ∈ y_i} z_j,

so ``solve`` returns an (N, d') array.  Lower bounds use an ε = 1/(2q) approximation
(docs/theory.md §7.5); SHT23 Theorem 4 (DISJ_q, N = 2q + 1) and Theorem 11 (INDEX, q = 1)
reduce to it (see ``commlb.reductions.qsa``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import positive_int

__all__ = ["QSATask", "qsa_dtype", "make_qsa_tokens"]


def qsa_dtype(q: int, d_out: int) -> np.dtype:
    """Structured token dtype: ``z`` float64 (d_out,), ``y`` int64 (q,), ``pos`` int64."""
    return np.dtype([("z", np.float64, (d_out,)), ("y", np.int64, (q,)), ("pos", np.int64)])


def make_qsa_tokens(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Tokens from z of shape (N, d') and pointer sets y of shape (N, q) (0-based)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if z.ndim == 1:
        z = z[:, None]
    if y.ndim == 1:
        y = y[:, None]
    tokens = np.empty(len(z), dtype=qsa_dtype(y.shape[1], z.shape[1]))
    tokens["z"] = z
    tokens["y"] = y
    tokens["pos"] = np.arange(len(z))
    return tokens


@register_task("qsa")
class QSATask(Task):
    """qSA with sparsity ``q`` and value dimension ``d_out`` (SHT23 Definition 4).

    Tokens are continuous (the z field), so there is no finite vocabulary:
    ``vocab_size`` is 0 and ``vocab_names`` is None.
    """

    name = "qsa"
    # DISJ_q rather than INDEX_n: disj-to-qsa is SHT23 Theorem 4, the bound m·p ≥ q that
    # grows with the sparsity q and separates one-layer width from q; index-to-qsa (q = 1,
    # Theorem 11) is a memory bound for recurrent models (pass reduction="index-to-qsa").
    defaults = TaskDefaults("disj-to-qsa", 8, ("q",), size_option="q",
                            why="DISJ_q as qSA with N = 2q + 1 (SHT23 Theorem 4: m·p ≥ q); "
                                "q is the problem size n")
    description = "q-sparse averaging: mean of z over the pointer set y_i (SHT23 Def. 4)"
    output_kind = "vector"

    def __init__(self, q: int = 1, d_out: int = 1) -> None:
        self.q = positive_int(q, "q", self.name)
        self.d_out = positive_int(d_out, "d_out", self.name)

    @property
    def dtype(self) -> np.dtype:
        return qsa_dtype(self.q, self.d_out)

    @property
    def vocab_size(self) -> int:
        return 0

    def length(self, n: int) -> int:
        n = positive_int(n, "n", self.name)
        if n < self.q:
            raise InvalidInputError(f"qsa: N = {n} is smaller than q = {self.q}")
        return n

    def params(self) -> dict[str, Any]:
        return {"q": self.q, "d_out": self.d_out}

    def output_positions(self, length: int) -> np.ndarray:
        return np.arange(length, dtype=np.int64)

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """N = n tokens: z uniform in the unit ball, y_i a uniform random q-subset."""
        n = self.length(n)
        direction = rng.standard_normal((n, self.d_out))
        direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
        radius = rng.random((n, 1)) ** (1.0 / self.d_out)
        z = direction * radius
        y = np.sort(np.argsort(rng.random((n, n)), axis=1)[:, : self.q], axis=1)
        return make_qsa_tokens(z, y)

    def validate(self, tokens: Any) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or arr.dtype.names is None or set(arr.dtype.names) != {"z", "y", "pos"}:
            raise InvalidInputError("qsa: tokens must be a 1-D structured array with fields z, y, pos")
        n = len(arr)
        y = arr["y"].reshape(n, -1)
        z = arr["z"].reshape(n, -1)
        if y.shape[1] != self.q or z.shape[1] != self.d_out:
            raise InvalidInputError(
                f"qsa: expected q = {self.q}, d' = {self.d_out}; got {y.shape[1]}, {z.shape[1]}"
            )
        if not np.array_equal(arr["pos"], np.arange(n)):
            raise InvalidInputError("qsa: field pos must be 0, 1, ..., N-1")
        if y.size and (y.min() < 0 or y.max() >= n):
            raise InvalidInputError(f"qsa: pointers must lie in [0, {n})")
        if self.q > 1 and np.any(np.diff(y, axis=1) <= 0):
            raise InvalidInputError("qsa: each pointer set must be sorted and distinct")
        return arr

    def solve(self, tokens: Any) -> np.ndarray:
        """(N, d') array whose row i is the mean of z_j over j in y_i."""
        arr = self.validate(tokens)
        n = len(arr)
        z = arr["z"].reshape(n, self.d_out)
        y = arr["y"].reshape(n, self.q)
        return z[y].mean(axis=1)
