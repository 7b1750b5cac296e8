"""A user-defined reduction, ready to copy: EQ_n → disjointness on 2n bits.

a = b  iff  no i has (a_i = 1 and b_i = 0) and no i has (a_i = 0 and b_i = 1), so Alice
writes (a, ¬a) and Bob writes (¬b, b) in the ``a # b =`` format of the disjointness
task; the two strings are disjoint exactly when a = b.  So any model solving
disjointness on 2n bits inherits EQ_n's bounds (docs/theory.md §4.2): a one-way protocol
for it needs D→(EQ_n) = n bits, e.g. H(d_v+1)·p_acc ≥ n for a one-layer transformer with
Alice's half / Bob's half split (the query "=" is public, docs/theory.md §3.4), and an
interactive one D(EQ_n) − 1 = n bits.

Check it with

    commlb check-reduction examples/my_reduction.py:REDUCTION          # n = 4
    commlb check-reduction examples/my_reduction.py:REDUCTION --n 6
"""

from __future__ import annotations

from typing import Any

import numpy as np

import commlb
from commlb import ALICE, BOB, PUBLIC, Instance, Reduction


class EqToDisjointness(Reduction):
    """EQ_n → disjointness on 2n bits (Alice (a, ¬a), Bob (¬b, b)); serves EQ_n's bounds
    (D→ = n for a one-way protocol, D = n + 1 with the answer announced) as lower bounds
    for disjointness solvers (docs/theory.md §4.2)."""

    name = "eq-to-disjointness (example)"
    theorem = "D->(EQ_n) = n transfers to disjointness on 2n bits (docs/theory.md §4.2, §3.4)"

    def __init__(self, n: int = 4) -> None:
        self.problem = commlb.get_problem("eq", n=n)
        self.task = commlb.get_task("disjointness")
        self.n = n
        # a (n + n tokens) ALICE, "#" PUBLIC, b (n + n tokens) BOB, "=" PUBLIC
        self.owner = np.array([ALICE] * 2 * n + [PUBLIC] + [BOB] * 2 * n + [PUBLIC], dtype=np.int8)

    def encode(self, x: Any, y: Any) -> Instance:
        a = np.asarray(x, dtype=np.int64)
        b = np.asarray(y, dtype=np.int64)
        alice = np.concatenate([a, 1 - a])  # depends on x only
        bob = np.concatenate([1 - b, b])  # depends on y only
        return Instance(self.task.assemble(alice, bob), self.owner)

    def decode(self, output: Any) -> int:
        return int(output)  # disjoint (1) iff a = b


REDUCTION = EqToDisjointness
