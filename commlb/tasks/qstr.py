"""q-sparse token regression, qSTR (MH25 Definition 2; docs/theory.md §7.7), and its simple
variant.

Token i carries three fields: ``x`` (a vector in R^d), ``t`` (a q-tuple of 0-based
positions, repeats allowed: t_i ∈ [N]^q) and ``pos`` (= i).  The answer at every
position is one real number

    y_i = g(x_{t_i1}, …, x_{t_iq})

for a link g : R^{qd} → R, so ``solve`` returns an (N,) array.  Links (``link=``):

* ``"norm2"`` (default; the link of MH25 Proposition 4): g = (1/√(qd)) Σ_j (‖x_{t_ij}‖² − d),
  centred for x ~ N(0, I_d); the nonlinear link behind the head lower bounds — Prop. 4, a
  risk lower bound giving H = Ω(q) when d ≫ q, and Prop. 21, exactly H ≥ q when attention
  does not mix the data and positional components (docs/theory.md §8.10);
* ``"linear"`` (the link of MH25 Proposition 6 and Theorem 9, 1STR): g = (1/q) Σ_j ⟨u, x_{t_ij}⟩
  with a fixed unit vector u (drawn from ``seed``); for q = 1 this is y_i = ⟨u, x_{t_i}⟩,
  and for d = 1, u = ±1 it is SHT23's sparse averaging up to sign;
* ``"he2"`` (MH25 Figure 3): g = (1/√q) Σ_j He₂(⟨u_j, x_{t_ij}⟩), He₂(z) = (z² − 1)/√2,
  with fixed unit vectors u_1..u_q (drawn from ``seed``);
* a callable taking the gathered array of shape (N, q, d) and returning shape (N,).

MH25 writes the exact displayed formula of Definition 2 in a form commlb's sources could not
decode; the text says the label at i depends only on the q tokens indexed by t_i, which
is what is implemented (docs/theory.md §7.7).

``simple-qSTR`` (``qstr-simple``): t_i = t for every i (one shared q-tuple), so the output
is the same at every position (MH25 §2, Theorem 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import positive_int

__all__ = ["QSTRTask", "SimpleQSTRTask", "qstr_dtype", "make_qstr_tokens", "qstr_reference"]

_LINKS = ("norm2", "linear", "he2")


def qstr_dtype(q: int, d: int) -> np.dtype:
    """Structured token dtype: ``x`` float64 (d,), ``t`` int64 (q,), ``pos`` int64."""
    return np.dtype([("x", np.float64, (d,)), ("t", np.int64, (q,)), ("pos", np.int64)])


def make_qstr_tokens(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Tokens from x of shape (N, d) and position tuples t of shape (N, q) (0-based)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.int64)
    if x.ndim == 1:
        x = x[:, None]
    if t.ndim == 1:
        t = t[:, None]
    tokens = np.empty(len(x), dtype=qstr_dtype(t.shape[1], x.shape[1]))
    tokens["x"] = x
    tokens["t"] = t
    tokens["pos"] = np.arange(len(x))
    return tokens


def _unit_vectors(seed: int, count: int, d: int) -> np.ndarray:
    raw = np.random.default_rng(seed).standard_normal((count, d))
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def qstr_reference(x: np.ndarray, t: np.ndarray, link: str, u: np.ndarray) -> np.ndarray:
    """Slow, obvious qSTR (for tests): a Python loop over positions and tuple entries.
    ``u`` holds the link's unit vectors (one row for "linear", q rows for "he2")."""
    n, d = x.shape
    q = t.shape[1]
    out = []
    for i in range(n):
        total = 0.0
        for j in range(q):
            row = [float(v) for v in x[int(t[i, j])]]
            if link == "norm2":
                total += sum(v * v for v in row) - d
            elif link == "linear":
                total += sum(a * b for a, b in zip(u[0], row))
            else:
                z = sum(a * b for a, b in zip(u[j], row))
                total += (z * z - 1.0) / math.sqrt(2.0)
        scale = {"norm2": 1 / math.sqrt(q * d), "linear": 1 / q, "he2": 1 / math.sqrt(q)}[link]
        out.append(total * scale)
    return np.array(out, dtype=np.float64)


@register_task("qstr")
class QSTRTask(Task):
    """qSTR with sparsity ``q``, token dimension ``d`` and link ``link`` (MH25 Def. 2).

    Tokens are continuous (the x field): ``vocab_size`` is 0.  ``u`` holds the link's
    fixed unit vectors (drawn from ``seed``; unused by "norm2").
    """

    name = "qstr"
    defaults = TaskDefaults(None, 16, ("q", "d"), why="no reduction: a generated instance, split prefix:N/2")
    description = "q-sparse token regression: y_i = g(x at the q positions t_i) (MH25 Def. 2)"
    output_kind = "vector"
    shared_tuple = False

    def __init__(self, q: int = 1, d: int = 1, link: str | Callable[[np.ndarray], np.ndarray] = "norm2",
                 seed: int = 0) -> None:
        self.q = positive_int(q, "q", self.name)
        self.d = positive_int(d, "d", self.name)
        if not callable(link) and link not in _LINKS:
            raise InvalidInputError(f"{self.name}: link must be one of {', '.join(_LINKS)} or a callable")
        self.link = link
        self.seed = int(seed)
        self.u = _unit_vectors(self.seed, self.q if link == "he2" else 1, self.d)

    @property
    def dtype(self) -> np.dtype:
        return qstr_dtype(self.q, self.d)

    @property
    def vocab_size(self) -> int:
        return 0

    def length(self, n: int) -> int:
        return positive_int(n, "n", self.name)

    def params(self) -> dict[str, Any]:
        link = self.link if isinstance(self.link, str) else getattr(self.link, "__name__", "callable")
        return {"q": self.q, "d": self.d, "link": link, "seed": self.seed}

    def output_positions(self, length: int) -> np.ndarray:
        return np.arange(length, dtype=np.int64)

    def link_values(self, gathered: np.ndarray) -> np.ndarray:
        """g applied to gathered tokens of shape (N, q, d); returns shape (N,)."""
        if callable(self.link):
            out = np.asarray(self.link(gathered), dtype=np.float64)
            if out.shape != gathered.shape[:1]:
                raise InvalidInputError(f"{self.name}: the link must return shape {gathered.shape[:1]}")
            return out
        if self.link == "norm2":
            sq = np.einsum("nqd,nqd->n", gathered, gathered)
            return (sq - self.q * self.d) / math.sqrt(self.q * self.d)
        if self.link == "linear":
            return gathered.sum(axis=1) @ self.u[0] / self.q
        z = np.einsum("nqd,qd->nq", gathered, self.u)
        return ((z * z - 1.0) / math.sqrt(2.0)).sum(axis=1) / math.sqrt(self.q)

    def validate(self, tokens: Any) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or arr.dtype.names is None or set(arr.dtype.names) != {"x", "t", "pos"}:
            raise InvalidInputError(f"{self.name}: tokens must be a 1-D structured array with fields x, t, pos")
        n = len(arr)
        t = arr["t"].reshape(n, -1)
        x = arr["x"].reshape(n, -1)
        if t.shape[1] != self.q or x.shape[1] != self.d:
            raise InvalidInputError(
                f"{self.name}: expected q = {self.q}, d = {self.d}; got {t.shape[1]}, {x.shape[1]}"
            )
        if not np.array_equal(arr["pos"], np.arange(n)):
            raise InvalidInputError(f"{self.name}: field pos must be 0, 1, ..., N-1")
        if t.size and (t.min() < 0 or t.max() >= n):
            raise InvalidInputError(f"{self.name}: positions in t must lie in [0, {n})")
        if self.shared_tuple and n and np.any(t != t[0]):
            raise InvalidInputError(f"{self.name}: every token must carry the same tuple t")
        return arr

    def solve(self, tokens: Any) -> np.ndarray:
        """(N,) array: y_i = g(x_{t_i1}, …, x_{t_iq})."""
        arr = self.validate(tokens)
        n = len(arr)
        x = arr["x"].reshape(n, self.d)
        t = arr["t"].reshape(n, self.q)
        return self.link_values(x[t])

    def _draw_tuples(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, n, size=(n, self.q), dtype=np.int64)

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """N = n tokens: x_i ~ N(0, I_d) i.i.d., t_i uniform in [N]^q (MH25's setting)."""
        n = self.length(n)
        x = rng.standard_normal((n, self.d))
        return make_qstr_tokens(x, self._draw_tuples(rng, n))


@register_task("qstr-simple")
class SimpleQSTRTask(QSTRTask):
    """simple-qSTR (MH25 §2): one q-tuple t shared by every token, so the answer
    g(x_{t_1}, …, x_{t_q}) is the same at every position."""

    name = "qstr-simple"
    description = "simple qSTR: one shared q-tuple t for all positions (MH25)"
    shared_tuple = True

    def _draw_tuples(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shared = rng.integers(0, n, size=self.q, dtype=np.int64)
        return np.tile(shared, (n, 1))
