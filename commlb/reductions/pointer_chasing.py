"""Two-party pointer chasing PC(n, k) → k-hop induction heads (SHT24 Proposition E.4
style; docs/theory.md §8.8).

PC(n, k): Alice holds f_A, Bob holds f_B : [n] → [n]; the start vertex v_0 is public;
v_1 = f_A(v_0), v_2 = f_B(v_1), … alternate, f_j = f_A for odd j and f_B for even j;
the output is v_k.

Alphabet (k + 1)·n: the token "layer j, vertex v" has id j·n + v (0 ≤ j ≤ k).  A key
token (j−1, u) followed by a value token (j, f_j(u)) is one edge of step j; the keys are
fixed, so they are PUBLIC, and each value token belongs to the owner of f_j.

Layout, by recursion on the step (S_{k+1} is empty):

    S_j = S_{j+1} (j−1, 0) (j, f_j(0))   S_{j+1} (j−1, 1) (j, f_j(1))   …   (for j ≥ 2)
    S_1 = S_2 (0, v_0) (1, f_A(v_0))
    X   = S_1 (0, v_0)                         (the last token is PUBLIC)

Why hop_k reads v_k at the last position: from a position holding (j−1, v) right after
a copy of S_j (with only tokens of layers < j−1 in between), the most recent earlier
(j−1, v) is the key of the pair for v in that copy (layer j−1 appears in S_j only as
keys, once each), so find¹ lands on (j, f_j(v)); the copy of S_{j+1} just before that
pair puts us in the same situation one layer up.  After k hops the token is (k, v_k).

Why a copy of S_{j+1} before every pair, making the length exponential in k: find¹ is
injective on positions (two positions with the same find¹ would hold the same token
with no occurrence of it in between), so a flat table with one pair per vertex —
SHT24's Proposition E.4 encoding, which is correct for perfect matchings — cannot send
two keys with f(u) = f(u') on to the same entry of the next table.  With a private copy
of the rest of the chain after each key, arbitrary functions are encoded exactly.

Length N = L_1 + 1 with L_{k+1} = 0, L_j = n·(L_{j+1} + 2) for j ≥ 2, L_1 = L_2 + 2; e.g.
n = 3, k = 3: N = 27; n = 4, k = 4: N = 171.  Needed: hop_k with k equal to the
number of PC steps, alphabet (k + 1)·n.

Serves: SHT24 Proposition E.4 / Corollaries 5.2–5.6 (docs/theory.md §8.8): a model whose
protocol has fewer rounds than pointer chasing needs must send many bits; two-party
pointer chasing in at most k − 1 rounds with Bob first (the receiver of the last message
outputs; k rounds when the answer is sent) needs Ω(n − k log n) bits deterministically
and Ω(n/k² − k log n) with randomness (Nisan–Wigderson 1993; docs/theory.md §4.7, §10.2).
How many rounds a model's protocol has is a separate question (docs/theory.md §10.1):
for a softmax transformer split between two parties, about two per layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..errors import InvalidInputError, TooLargeError
from ..registry import get_problem, get_task, register_reduction
from ._common import last_scalar

__all__ = ["PCToKHop", "pc_khop_length"]

_MAX_LENGTH = 5_000_000


def pc_khop_length(n: int, k: int) -> int:
    """Sequence length N of the encoding of PC(n, k)."""
    length = 0
    for _ in range(k - 1):  # layers k .. 2
        length = n * (length + 2)
    return length + 2 + 1


def _layout(n: int, k: int, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed tokens, owners, and for each position the step j (0 for a public key) and
    the key u whose value f_j(u) it holds."""

    def block(j: int) -> list[tuple[int, int, int]]:
        # entries (token for keys / -1 for values, step j or 0, key u)
        if j > k:
            return []
        inner = block(j + 1)
        keys = [start] if j == 1 else range(n)
        out: list[tuple[int, int, int]] = []
        for u in keys:
            out.extend(inner)
            out.append(((j - 1) * n + u, 0, u))
            out.append((-1, j, u))
        return out

    entries = block(1) + [(start, 0, start)]
    token = np.array([e[0] for e in entries], dtype=np.int64)
    step = np.array([e[1] for e in entries], dtype=np.int64)
    key = np.array([e[2] for e in entries], dtype=np.int64)
    owner = np.where(step == 0, PUBLIC, np.where(step % 2 == 1, ALICE, BOB)).astype(np.int8)
    return token, owner, step, key


#: what the pointer-chasing reductions serve
SHT24_FEW_ROUNDS = ReductionSource(
    "SHT24",
    "Proposition E.4 and Corollaries 5.2–5.6: models that give few-round protocols (RNNs, "
    "kernel attention, Longformer, chain of thought) need size polynomial in n for k-hop with "
    "fewer rounds than hops (asymptotic statements)",
    "proved in the cited paper",
    "§10")


@register_reduction("pc-to-khop")
class PCToKHop(Reduction):
    """PC(n, k) → hop_k over the alphabet [(k + 1)·n]; see the module docstring for the
    layout (PUBLIC keys and start vertex, Alice's tokens hold f_A's values, Bob's hold
    f_B's) and the proof.  ``decode`` reads the token (k, v_k) at the last position and
    returns v_k (or v_k mod 2 when the problem has ``output="parity"``).

    Serves: SHT24 Proposition E.4 and Corollaries 5.2–5.6 (docs/theory.md §8.8): a
    model whose protocol has fewer rounds than the chase needs must send many bits, by
    the round lower bound of pointer chasing (Nisan–Wigderson 1993; docs/theory.md
    §10.2).
    """

    name = "pc-to-khop"
    source = SHT24_FEW_ROUNDS
    description = "pointer chasing PC(n, k) as hop_k (Alice's f_A values, Bob's f_B values)"
    theorem = (
        "SHT24 Prop. E.4 / Cor. 5.2-5.6 (docs/theory.md §8.8, §10.2): a protocol with fewer "
        "rounds than k-step pointer chasing needs sends Omega(n - k log n) bits"
    )
    example_params = {"n": 3, "k": 3}

    def __init__(self, n: int, k: int = 2, start: int | None = None,
                 output: str | None = None) -> None:
        extra: dict[str, Any] = {} if start is None else {"start": start}
        if output is not None:
            extra["output"] = output  # "vertex" (v_k) or "parity" (v_k mod 2)
        self.problem = get_problem("pc", n=n, k=k, **extra)
        self.output = str(getattr(self.problem, "output", "vertex"))
        self.n = int(self.problem.n)
        self.k = int(getattr(self.problem, "k", k))
        self.start = int(getattr(self.problem, "start", 0 if start is None else start))
        if self.k < 1:
            raise InvalidInputError("pc-to-khop: k must be at least 1")
        length = pc_khop_length(self.n, self.k)
        if length > _MAX_LENGTH:
            raise TooLargeError(
                f"pc-to-khop: the encoding of PC(n={self.n}, k={self.k}) has {length} tokens "
                f"(exponential in k); use smaller n or k (limit {_MAX_LENGTH})"
            )
        self.task = get_task("khop", k=self.k, alphabet=(self.k + 1) * self.n)
        token, owner, step, key = _layout(self.n, self.k, self.start)
        self._template, self._owner = token, owner
        alice = np.flatnonzero(owner == ALICE)
        bob = np.flatnonzero(owner == BOB)
        self._alice = (alice, step[alice] * self.n, key[alice])
        self._bob = (bob, step[bob] * self.n, key[bob])

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, "start": self.start, "output": self.output}

    def _function(self, f: Any, who: str) -> np.ndarray:
        arr = np.asarray(f, dtype=np.int64).reshape(-1)
        if arr.shape != (self.n,) or arr.min() < 0 or arr.max() >= self.n:
            raise InvalidInputError(f"{who} must be a map [n] -> [n]: {self.n} values in [0, {self.n})")
        return arr

    def encode(self, x: Any, y: Any) -> Instance:
        f_a = self._function(x, "x (f_A)")
        f_b = self._function(y, "y (f_B)")
        tokens = self._template.copy()
        pos, offset, key = self._alice
        tokens[pos] = offset + f_a[key]
        pos, offset, key = self._bob
        tokens[pos] = offset + f_b[key]
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        vertex = int(last_scalar(output)) - self.k * self.n
        return vertex & 1 if self.output == "parity" else vertex
