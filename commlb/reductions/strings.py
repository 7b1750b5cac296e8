"""DISJ_n → disjointness and EQ_n → string equality (``a # b =``).

Layout (length 2n + 2): a_1..a_n owned by ALICE, "#" PUBLIC, b_1..b_n owned by BOB,
"=" PUBLIC (the position where the answer is read, so the query token is known to both
parties).  These serve the one-layer transformer bound and the RNN state bound
(prefix/suffix cut before "#"), docs/theory.md §8.2.  The query position is public, so a
one-layer H-head transformer gives a *one-way* protocol (Alice sends her partial softmax
sums, Bob adds his own and outputs): the bound is the one-way D→(f) = n, not the two-way
D(f) = n + 1, which counts a last bit announcing the answer that nobody sends.  In the
bits actually sent (exact accumulators of width w_num for the d_v numerators and w_den
for the denominator, docs/theory.md §2.4, §3.4):

    H·(d_v·w_num + w_den) ≤ H·(d_v + 1)·p_acc,   p_acc = w_num = 2p + ⌊log2 T⌋,

T = n Alice key positions, so H·(d_v + 1)·p_acc ≥ n.  The papers' H(d+1)p is the same
count with every partial sum rounded to p bits; p_acc ≤ 3p whenever T ≤ 2^p, so the two
agree up to that constant factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..registry import get_problem, get_task, register_reduction
from ..tasks.strings import EQUALS, SEP
from ._common import ONE_WAY_NOTE, bits, last_scalar

__all__ = ["DisjToDisjointness", "EqToEquality"]


class _TwoString(Reduction):
    problem_name = ""
    task_name = ""
    example_params = {"n": 6}

    def __init__(self, n: int) -> None:
        self.problem = get_problem(self.problem_name, n=n)
        self.task = get_task(self.task_name)
        self.n = self.problem.n
        n = self.n
        self._owner = np.array([ALICE] * n + [PUBLIC] + [BOB] * n + [PUBLIC], dtype=np.int8)
        self._template = np.zeros(2 * n + 2, dtype=np.int64)
        self._template[n] = SEP
        self._template[-1] = EQUALS

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        tokens = self._template.copy()
        tokens[:n] = bits(x, n, "x")
        tokens[n + 1 : 2 * n + 1] = bits(y, n, "y")
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        return int(last_scalar(output))


@register_reduction("disj-to-disjointness")
class DisjToDisjointness(_TwoString):
    """DISJ_n → disjointness: Alice writes a, Bob writes b, "#" and "=" are public.

    Serves: a one-layer H-head transformer solving disjointness sends one message of
    H·(d_v·w_num + w_den) ≤ H(d_v+1)·p_acc bits, and an RNN one state at the cut, each
    at least D→(DISJ_n) = n bits (docs/theory.md §3.4, §4.1), and Ω(n) even randomized
    (Kalyanasundaram–Schnitger 1992; Razborov 1992); BHBK24's one-layer/RNN linear-size
    bounds (docs/theory.md §8.2).
    """

    name = "disj-to-disjointness"
    source = ReductionSource(
        "BHBK24",
        "RNNs and one-layer transformers deciding disjointness need size linear in n, while "
        "two-layer transformers of logarithmic size decide it",
        "derived here",
        "§8",
        ONE_WAY_NOTE)
    description = "DISJ_n as a # b = (Alice a, Bob b)"
    theorem = (
        "BHBK24 one-layer/RNN bounds for disjointness (docs/theory.md §8.2, §3.4): "
        "H(d_v+1)p_acc >= D->(DISJ_n) = n, p_acc = 2p + floor(log2 n); state bits >= n"
    )
    problem_name = "disj"
    task_name = "disjointness"


@register_reduction("eq-to-equality")
class EqToEquality(_TwoString):
    """EQ_n → string equality: Alice writes a, Bob writes b, "#" and "=" are public.

    Serves: a one-layer H-head transformer solving equality sends one message of at
    most H(d_v+1)·p_acc bits and an RNN one state at the cut, each at least
    D→(EQ_n) = n bits (deterministic only: EQ is cheap with public randomness);
    docs/theory.md §8.2, §3.4, §4.2.
    """

    name = "eq-to-equality"
    source = ReductionSource(
        "BHBK24",
        "RNNs and one-layer transformers deciding string equality need size linear in n, while "
        "two-layer transformers of logarithmic size decide it",
        "derived here",
        "§8",
        ONE_WAY_NOTE)
    description = "EQ_n as a # b = (Alice a, Bob b)"
    theorem = (
        "BHBK24 one-layer/RNN bounds for string equality (docs/theory.md §8.2, §3.4): "
        "H(d_v+1)p_acc >= D->(EQ_n) = n, p_acc = 2p + floor(log2 n) (deterministic)"
    )
    problem_name = "eq"
    task_name = "equality"
