"""DISJ_n → Match3 (SHT23 Theorem 7, docs/theory.md §8.6) — a gadget derived here.

SHT23's own encoding for Theorem 7 was not available to commlb (docs/theory.md §8.6,
§12.3), nor where its log log N comes from.  The gadget below is derived and checked
exhaustively by ``commlb check-reduction disj-to-match3``; it is *not* claimed to be the
paper's.

Gadget (N = 2n + 1 tokens over Z_M, any even M ≥ 2n + 2 = N + 1; default M = N + 1):

* position 2n (the last) holds the PUBLIC query value t = 1; the answer is read there;
* Alice's position i < n holds α_i = 2i if a_i = 1, else the filler t = 1;
* Bob's position n + i holds β_i = −t − α_i = M − 1 − 2i if b_i = 1, else t = 1.

Then Match3(X)_{2n} = 1 iff a and b intersect, i.e. DISJ = 1 − answer.  Proof: Match3 at
the query asks for two values u, v present (possibly the same position, possibly the
query itself) with u + v ≡ −1.  The values that can occur are 1, the even α_i ∈ [0, 2n−2]
and the odd β_i ∈ [3, 2n+1]; M is even, so parity is well defined mod M.
  - α + α' is even, −1 is odd: never; likewise β + β' = −2 − α − α' is even: never.
  - 1 + 1 ≡ −1 needs 3 ≡ 0 (mod M): impossible for even M ≥ 4.
  - 1 + α ≡ −1 needs α ≡ −2 = M − 2 > 2n − 2: never; 1 + β ≡ −1 needs β even: never.
  - α_i + β_j ≡ −1 iff α_i ≡ α_j iff i = j (the α are distinct, < M).
So the only witnesses are the designed pairs (α_i, β_i), present iff a_i = b_i = 1.
A designed witness sits at three distinct positions (Alice's i, Bob's n + i, the query),
so the gadget is also sound if Match3 requires distinct indices (a convention docs/theory.md
§8.6 does not settle for SHT23).

Serves (the one-layer bound, docs/theory.md §3.4): the query token is public, so a one-layer
H-head transformer computing Match3 gives a one-message protocol — Alice sends, per head,
her partial softmax numerator (d_v numbers) and denominator, as exact accumulators of at
most p_acc bits each (docs/theory.md §3.4) — and Bob, the receiver, outputs; hence
H(d_v+1)·p_acc ≥ D→(DISJ_n) = n = (N − 1)/2, and Ω(N) with randomness.  SHT23 Theorem 7
states m·p·H ≳ N / log log N for M ≥ N + 1; this gadget gives a linear bound at
M = N + 1 without the log log N factor, so either the paper's model or accounting differs
from docs/theory.md §3.4's (e.g. in what a p-bit partial sum may be), or its proof is lossier.
Which it is is open here; commlb reports the bound this reduction proves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..errors import InvalidInputError
from ..registry import get_problem, register_reduction
from ..tasks.match import Match3Task
from ._common import bits, last_scalar

__all__ = ["DisjToMatch3", "QUERY_VALUE"]

#: the public query value t (also the filler of an absent element)
QUERY_VALUE = 1


@register_reduction("disj-to-match3")
class DisjToMatch3(Reduction):
    """DISJ_n → Match3 over Z_M with N = 2n + 1 (gadget derived in this module's
    docstring, not SHT23's own): Alice's positions hold 2i or the filler 1,
    Bob's hold M − 1 − 2i or the filler 1, the last (PUBLIC) position holds 1;
    Match3 there is 1 iff the sets intersect, and ``decode`` returns 1 − that.

    Serves: SHT23 Theorem 7 (docs/theory.md §8.6): a one-layer H-head transformer
    computing Match3 sends at most H(d_v+1)·p_acc bits one-way (public query; the
    receiver outputs), so H(d_v+1)·p_acc ≥ D→(DISJ_n) = n (randomized Ω(n)); the
    paper's bound is m·p·H ≳ N / log log N.
    """

    name = "disj-to-match3"
    source = ReductionSource(
        "SHT23",
        "Theorem 7: one-layer transformers computing Match3 need m·p·H of order N / log log N",
        "derived here",
        "§8",
        "the gadget giving the linear bound checked here is ours")
    description = "DISJ_n as Match3 over Z_M, N = 2n+1 (Alice 2i / Bob M-1-2i, public query 1)"
    theorem = (
        "SHT23 Theorem 7 (docs/theory.md §8.6, §3.4): one-layer H-head Match3 needs "
        "H(d_v+1)p_acc >= D->(DISJ_n) = n with N = 2n+1 (gadget derived here; paper "
        "states mpH >~ N/log log N)"
    )
    example_params = {"n": 5}

    def __init__(self, n: int, M: int | None = None) -> None:
        self.problem = get_problem("disj", n=n)
        self.n = self.problem.n
        modulus = 2 * self.n + 2 if M is None else int(M)
        if modulus < 2 * self.n + 2 or modulus % 2:
            raise InvalidInputError(
                f"disj-to-match3: M must be even and >= 2n + 2 = {2 * self.n + 2}, got {M}"
            )
        self.M = modulus
        self.task = Match3Task(M=modulus)
        n = self.n
        self._owner = np.array([ALICE] * n + [BOB] * n + [PUBLIC], dtype=np.int8)
        self._alpha = 2 * np.arange(n, dtype=np.int64)
        self._beta = (modulus - QUERY_VALUE - self._alpha) % modulus

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "M": self.M}

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        a = bits(x, n, "x")
        b = bits(y, n, "y")
        tokens = np.full(2 * n + 1, QUERY_VALUE, dtype=np.int64)
        tokens[:n] = np.where(a == 1, self._alpha, QUERY_VALUE)
        tokens[n : 2 * n] = np.where(b == 1, self._beta, QUERY_VALUE)
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return 1 - int(last_scalar(output))
