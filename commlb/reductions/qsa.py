"""Reductions to q-sparse averaging (SHT23; docs/theory.md §8.5).

Token ownership with several fields: a token is ALICE's (BOB's) when every field that
varies with the input is written by Alice (Bob) and the remaining fields are fixed;
PUBLIC when no field varies.  Both encodings below are laid out so that every token is
wholly one party's: fixed fields (``pos``, and whichever of ``z``/``y`` the owner does
not write) take constant values that do not depend on the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, Instance, Reduction, ReductionSource
from ..registry import get_problem, get_task, register_reduction
from ..tasks.qsa import QSATask
from ._common import bits, last_row
from .index import index_of

__all__ = ["IndexToQSA", "DisjToQSA"]


@register_reduction("index-to-qsa")
class IndexToQSA(Reduction):
    """INDEX_n → qSA with q = 1 and N = n + 1 (SHT23 Theorem 11, docs/theory.md §8.5).

    Layout: tokens 0..n−1 are Alice's data, z_j = x_j ∈ {0, 1} with the fixed pointer
    set y_j = {j}; token n is Bob's query, z_n = 0 (fixed) and y_n = {i}.  Then
    qSA(X)_n = x_i, and ``decode`` thresholds it at 1/2 (so any approximation within
    ε < 1/2 decodes correctly).  Ownership: data tokens vary only in z (Alice), the query
    token only in y (Bob).

    Serves: a recurrent model (memory-bounded, scanning left to right) that solves qSA
    holds ≥ D→(INDEX_n) = n bits at the cut between data and query — SHT23 Theorem 11's
    memory ≥ (N−1)/2 bits for q = 1 (as restated by later work; this reduction gives
    N − 1).
    """

    name = "index-to-qsa"
    source = ReductionSource(
        "SHT23",
        "Theorem 11: recurrent models computing q-sparse averaging need memory of about N bits "
        "even for q = 1",
        "derived here",
        "§8",
        "this reduction gives n bits for the one-way part")
    task: QSATask
    description = "INDEX_n as qSA with q = 1 (Alice's data tokens, Bob's query token)"
    theorem = (
        "SHT23 Theorem 11 (RNN memory for qSA, q = 1) via one-way INDEX_n: "
        "state bits >= n (the theorem as restated: (N-1)/2)"
    )
    example_params = {"n": 8}

    def __init__(self, n: int) -> None:
        self.problem = get_problem("index", n=n)
        self.n = self.problem.n
        self.task = get_task("qsa", q=1, d_out=1)
        self._owner = np.array([ALICE] * self.n + [BOB], dtype=np.int8)
        template = np.zeros(self.n + 1, dtype=self.task.dtype)
        template["y"][:, 0] = np.arange(self.n + 1)
        template["y"][self.n, 0] = 0
        template["pos"] = np.arange(self.n + 1)
        self._template = template

    def encode(self, x: Any, y: Any) -> Instance:
        tokens = self._template.copy()
        tokens["z"][: self.n, 0] = bits(x, self.n, "x")
        tokens["y"][self.n, 0] = index_of(y, self.n)
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_row(output)[0] > 0.5)


@register_reduction("disj-to-qsa")
class DisjToQSA(Reduction):
    """DISJ_q → qSA with N = 2q + 1 (SHT23 Theorem 4 gadget, docs/theory.md §8.5).

    Layout (0-based): positions 2i and 2i+1 form pair i (i < q); position 2q is the
    query token.  Alice writes the pointer set of the query, y_{2q} = {2i + a_i : i < q}
    (slot 2i+1 of pair i when a_i = 1, slot 2i otherwise); its z is fixed to 0.  Bob
    writes the data: z_{2i+1} = +e_1 if b_i = 1 else −e_1, and z_{2i} = −e_1.  The pointer
    sets of the data tokens are fixed ({0, …, q−1}).  Then

        qSA(X)_{2q} = (#{i: a_i = b_i = 1} − #{i: not both})/q · e_1,

    which is −e_1 iff a and b are disjoint and ≥ (−1 + 2/q)·e_1 otherwise; ``decode``
    thresholds the first coordinate at −1 + 1/q, so any 1/(2q)-approximation decodes
    (the error bound the lower bound uses).  Ownership: the query token varies only in y
    (ALICE); data tokens only in z (BOB).

    Serves: SHT23 Theorem 4, a one-layer one-head transformer that 1/(2q)-approximates
    qSA has m·p ≥ c·q: Alice sends the query (m·p bits, plus O(p) for her own token's
    key and value) in one message and Bob, the receiver, outputs, so
    m·p + O(p) ≥ D→(DISJ_q) = q (and Ω(q) randomized).  The gadget is commlb's reading
    of the theorem's proof and is checked exhaustively by ``commlb check-reduction
    disj-to-qsa`` (docs/theory.md §8.5).
    """

    name = "disj-to-qsa"
    source = ReductionSource(
        "SHT23",
        "Theorem 4: a one-layer, one-head transformer that approximates q-sparse averaging within "
        "1/(2q) needs m·p ≥ c·q for a universal constant c",
        "derived here",
        "§3.5",
        "the inequality in bits, with the residual row, is ours")
    task: QSATask
    description = "DISJ_q as qSA with N = 2q+1 (Alice's query pointer set, Bob's data)"
    theorem = (
        "SHT23 Theorem 4 (docs/theory.md §8.5): one-layer attention 1/(2q)-approximating "
        "qSA needs m*p + O(p) >= D->(DISJ_q) = q (one message, Alice's query)"
    )
    example_params = {"n": 6}

    def __init__(self, n: int, d_out: int = 1) -> None:
        self.problem = get_problem("disj", n=n)
        self.q = self.problem.n
        q = self.q
        self.task = get_task("qsa", q=q, d_out=d_out)
        self._owner = np.array([BOB] * (2 * q) + [ALICE], dtype=np.int8)
        template = np.zeros(2 * q + 1, dtype=self.task.dtype)
        template["y"] = np.arange(q)
        template["y"][2 * q] = 2 * np.arange(q)
        template["z"][: 2 * q, 0] = -1.0
        template["pos"] = np.arange(2 * q + 1)
        self._template = template

    def params(self) -> dict[str, Any]:
        return {"n": self.q, "d_out": self.task.d_out}

    def encode(self, x: Any, y: Any) -> Instance:
        q = self.q
        a = bits(x, q, "x")
        b = bits(y, q, "y")
        tokens = self._template.copy()
        tokens["y"][2 * q] = 2 * np.arange(q) + a
        tokens["z"][1 : 2 * q : 2, 0] = 2.0 * b - 1.0
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_row(output)[0] < -1.0 + 1.0 / self.q)
