"""DISJ_n → disjointness and EQ_n → string equality (``a # b =``).

Layout (length 2n + 2): a_1..a_n owned by ALICE, "#" PUBLIC, b_1..b_n owned by BOB,
"=" PUBLIC (the position where the answer is read, so the query token is known to both
parties).  These serve the one-layer transformer bound H(d+1)p ≥ D(f) = n + 1 and the
RNN state bound (prefix/suffix cut before "#"), docs/theory.md §8.2 [UNVERIFIED
as BHBK24's own wording; the reduction itself is exact].
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

    Serves: one-layer transformers and RNNs solving disjointness need H(d+1)p ≥ n + 1
    bits (deterministic D(DISJ_n) = n + 1, docs/theory.md §4.1–4.2) and Ω(n) even randomized
    (Kalyanasundaram–Schnitger / Razborov [UNVERIFIED, standard]); BHBK24's
    one-layer/RNN linear-size bounds (docs/theory.md §8.2, statement [UNVERIFIED]).
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
        "BHBK24 one-layer/RNN bounds for disjointness (docs/theory.md §8.2): "
        "H(d+1)p >= D(DISJ_n) = n+1; state bits >= n"
    )
    problem_name = "disj"
    task_name = "disjointness"


@register_reduction("eq-to-equality")
class EqToEquality(_TwoString):
    """EQ_n → string equality: Alice writes a, Bob writes b, "#" and "=" are public.

    Serves: one-layer transformers solving equality need H(d+1)p ≥ D(EQ_n) = n + 1
    (deterministic only: EQ is cheap with public randomness), RNN state ≥ n bits
    (one-way D(EQ_n) = n); docs/theory.md §8.2, §4.1–4.2.
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
        "BHBK24 one-layer/RNN bounds for string equality (docs/theory.md §8.2): "
        "H(d+1)p >= D(EQ_n) = n+1 (deterministic)"
    )
    problem_name = "eq"
    task_name = "equality"
