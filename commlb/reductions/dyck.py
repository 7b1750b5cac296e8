"""EQ_n and DISJ_n → bounded Dyck-(2,2) with a non-contiguous split (BHBK24's one-layer
lower bound; gadgets of docs/theory.md §8.3, derived and machine-checked there, not the
paper's own: which gadget BHBK24 use is not known here), and the contrast: a prefix/suffix cut
of a Dyck-(2,2) string carries O(1) bits.

Why the split must be non-contiguous.  Dyck-(2,2) is regular, so across a prefix/suffix
cut the only thing the suffix needs to know is the automaton state of the prefix (one of
8: the 7 stacks of depth ≤ 2 and a dead state).  The exact one-way cost of a cut is
⌈log2 R⌉ bits, R the number of distinct rows of the membership matrix
[u w ∈ Dyck] (u the prefix, w the suffix); :func:`prefix_cut_rows` computes R from the
automaton (classes of states with the same accepted suffixes of the remaining length,
i.e. Myhill–Nerode classes relative to that length) and :func:`prefix_cut_rows_bruteforce`
from the matrix itself.  R ≤ 8 for every length and cut, so at most 3 bits cross any
prefix cut: an RNN needs only O(1) state, and no prefix/suffix split can give a lower
bound growing with n.  A one-layer transformer is different: its protocol works for
*any* partition of the positions (docs/theory.md §3.1), and the gadgets below interleave
Alice's and Bob's tokens so that membership is EQ_n or DISJ_n.

Gadgets (token ids 0..3 = "(", ")", "[", "]"; a fixed "()" is appended so that the
answer is read at a PUBLIC position and the one-layer protocol is one message):

* EQ_n (length 2n + 2): position 2i is Alice's, "(" if a_i = 0 else "["; position 2i + 1
  is Bob's, ")" if b_i = 0 else "]".  Balanced iff every pair matches iff a = b.
* DISJ_n (length 4n + 2): positions 4i, 4i+1, 4i+2, 4i+3 are owned by Alice, Bob, Bob,
  Alice.  Alice writes "( … )" if a_i = 0 and "[ … ]" if a_i = 1; Bob writes "()" in the
  middle if b_i = 0 and ")(" if b_i = 1.  Blocks: "(())", "()()", "[()]" are in
  Dyck-(2,2); "[)(]" is not — so the string is a member iff no i has a_i = b_i = 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction, ReductionSource
from ..registry import get_problem, register_reduction
from ..tasks.dyck import DyckDFA, DyckTask, dyck_dfa, dyck_member_reference
from ._common import bits, last_scalar

__all__ = [
    "EqToDyck",
    "DisjToDyck",
    "prefix_cut_rows",
    "prefix_cut_rows_bruteforce",
    "prefix_cut_bits",
    "prefix_cut_profile",
    "nerode_classes",
]

OPEN_ROUND, CLOSE_ROUND, OPEN_SQUARE, CLOSE_SQUARE = 0, 1, 2, 3


# ------------------------------------------------------------------ prefix/suffix cuts


def _length_classes(dfa: DyckDFA, suffix_length: int) -> np.ndarray:
    """Class of every state: two states share a class iff they accept exactly the same
    suffixes of length ``suffix_length``.  Refinement: class_0 = accepting or not;
    class_l(s) = (class_{l−1}(δ(s, a)))_a."""
    classes = dfa.accept.astype(np.int64)
    for _ in range(suffix_length):
        keys = [tuple(row) for row in classes[dfa.delta].tolist()]
        ids: dict[tuple[int, ...], int] = {}
        classes = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)
    return classes


def _reachable(dfa: DyckDFA, steps: int) -> np.ndarray:
    """States reached from the start by some string of exactly ``steps`` tokens."""
    current = np.zeros(dfa.num_states, dtype=bool)
    current[dfa.start] = True
    for _ in range(steps):
        nxt = np.zeros_like(current)
        nxt[dfa.delta[current].reshape(-1)] = True
        current = nxt
    return current


def prefix_cut_rows(length: int, cut: int, kinds: int = 2, depth: int = 2) -> int:
    """Number of distinct rows of the membership matrix of Dyck-(kinds, depth) at a cut:
    rows are the prefixes u of length ``cut``, columns the suffixes w of length
    ``length − cut``, entries [u w ∈ Dyck].  Computed from the automaton in
    O(length · states · alphabet); equal to the number of classes of states reachable in
    ``cut`` steps under "same accepted suffixes of length ``length − cut``"."""
    if not 0 <= cut <= length:
        raise ValueError(f"cut must lie in [0, {length}], got {cut}")
    dfa = dyck_dfa(kinds, depth)
    classes = _length_classes(dfa, length - cut)
    return len(set(classes[_reachable(dfa, cut)].tolist()))


def prefix_cut_rows_bruteforce(length: int, cut: int, kinds: int = 2, depth: int = 2) -> int:
    """Slow, obvious twin of :func:`prefix_cut_rows` (for tests): builds the whole
    membership matrix over all prefixes and suffixes and counts its distinct rows."""
    alphabet = 2 * kinds
    suffix_length = length - cut
    prefixes = np.array(np.meshgrid(*[np.arange(alphabet)] * cut, indexing="ij")).reshape(cut, -1).T \
        if cut else np.zeros((1, 0), dtype=np.int64)
    suffixes = np.array(np.meshgrid(*[np.arange(alphabet)] * suffix_length, indexing="ij")) \
        .reshape(suffix_length, -1).T if suffix_length else np.zeros((1, 0), dtype=np.int64)
    rows = set()
    for u in prefixes.tolist():
        rows.add(tuple(dyck_member_reference(u + w, kinds, depth) for w in suffixes.tolist()))
    return len(rows)


def prefix_cut_bits(length: int, cut: int, kinds: int = 2, depth: int = 2) -> int:
    """Exact deterministic one-way cost (prefix holder → suffix holder) of deciding
    membership across the cut: ⌈log2 R⌉ with R = :func:`prefix_cut_rows` (a one-way
    protocol must send different messages for different rows, and R messages suffice)."""
    rows = prefix_cut_rows(length, cut, kinds, depth)
    return math.ceil(math.log2(rows)) if rows > 1 else 0


def prefix_cut_profile(length: int, kinds: int = 2, depth: int = 2) -> list[int]:
    """:func:`prefix_cut_rows` at every cut 0..length (at most the automaton size)."""
    dfa = dyck_dfa(kinds, depth)
    out = []
    for cut in range(length + 1):
        classes = _length_classes(dfa, length - cut)
        out.append(len(set(classes[_reachable(dfa, cut)].tolist())))
    return out


def nerode_classes(kinds: int = 2, depth: int = 2) -> int:
    """Number of Myhill–Nerode classes of Dyck-(kinds, depth) (prefixes that no suffix of
    any length distinguishes share a class) = the size of the minimal automaton, 8 for
    Dyck-(2,2): the bound on what any prefix cut, of any length, must carry."""
    dfa = dyck_dfa(kinds, depth)
    classes = dfa.accept.astype(np.int64)
    while True:  # Moore refinement until stable (all states are reachable)
        keys = [(int(c),) + tuple(row) for c, row in zip(classes, classes[dfa.delta].tolist())]
        ids: dict[tuple[int, ...], int] = {}
        refined = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)
        if len(ids) == len(set(classes.tolist())):
            return len(ids)
        classes = refined


# ------------------------------------------------------------------ reductions


#: what the Dyck reductions serve (both use the same bracket gadget idea)
_BHBK24_DYCK = ReductionSource(
    "BHBK24",
    "one-layer transformers recognising bounded Dyck languages need size linear in n, while "
    "constant-size RNNs recognise them",
    "derived here",
    "§8",
    "the bracket gadget is ours, checked on every input by `commlb check-reduction` at small n")


class _ToDyck(Reduction):
    problem_name = ""
    _owner: np.ndarray  # set by each subclass: who holds each position

    def __init__(self, n: int) -> None:
        self.problem = get_problem(self.problem_name, n=n)
        self.n = self.problem.n
        self.task = DyckTask()

    def prefix_cut_bits(self) -> int:
        """The most any prefix/suffix cut of this length must carry (≤ 3 bits), to set
        against D(f) = n + 1 for this reduction's non-contiguous split."""
        length = len(self._owner)
        return max(prefix_cut_bits(length, c) for c in range(length + 1))

    def decode(self, output: Any) -> int:
        return int(last_scalar(output))


@register_reduction("eq-to-dyck")
class EqToDyck(_ToDyck):
    """EQ_n → Dyck-(2,2), length 2n + 2 (docs/theory.md §8.3): Alice's "(" / "[" at even
    positions, Bob's ")" / "]" at odd ones, a PUBLIC "()" at the end; member iff a = b.

    Serves: BHBK24's one-layer bound for bounded Dyck (docs/theory.md §8.3): with the
    answer read at a PUBLIC position, a one-layer H-head transformer gives a one-message
    protocol over this interleaved split whose receiver outputs, so
    H(d_v+1)·p_acc ≥ D→(EQ_n) = n in the bits actually sent (docs/theory.md §3.4)
    (deterministic only: EQ is cheap with randomness — use ``disj-to-dyck`` for that).
    Any prefix/suffix cut carries ≤ 3 bits (``prefix_cut_bits``).
    """

    name = "eq-to-dyck"
    source = _BHBK24_DYCK
    description = "EQ_n as Dyck-(2,2): Alice's openings, Bob's closings interleaved, then ()"
    theorem = (
        "BHBK24 one-layer bound for Dyck-(2,2) (docs/theory.md §8.3 gadget): "
        "H(d_v+1)p_acc >= D->(EQ_n) = n over a non-contiguous split (deterministic)"
    )
    example_params = {"n": 6}
    problem_name = "eq"

    def __init__(self, n: int) -> None:
        super().__init__(n)
        n = self.n
        self._owner = np.array([ALICE, BOB] * n + [PUBLIC, PUBLIC], dtype=np.int8)
        self._template = np.zeros(2 * n + 2, dtype=np.int64)
        self._template[-2:] = (OPEN_ROUND, CLOSE_ROUND)

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        tokens = self._template.copy()
        tokens[0 : 2 * n : 2] = np.where(bits(x, n, "x") == 1, OPEN_SQUARE, OPEN_ROUND)
        tokens[1 : 2 * n : 2] = np.where(bits(y, n, "y") == 1, CLOSE_SQUARE, CLOSE_ROUND)
        return Instance(tokens, self._owner)


@register_reduction("disj-to-dyck")
class DisjToDyck(_ToDyck):
    """DISJ_n → Dyck-(2,2), length 4n + 2 (docs/theory.md §8.3): per coordinate Alice writes
    the outer pair "( )" or "[ ]" (a_i = 0 / 1), Bob the inner pair "()" or ")(" (b_i = 0
    / 1); a PUBLIC "()" at the end; member iff a and b are disjoint.

    Serves: BHBK24's one-layer bound for bounded Dyck (docs/theory.md §8.3): a one-layer
    H-head transformer gives a one-message protocol over this split whose receiver
    outputs, so H(d_v+1)·p_acc ≥ D→(DISJ_n) = n in the bits actually sent
    (docs/theory.md §3.4), and Ω(n) even randomized (Kalyanasundaram–Schnitger 1992;
    Razborov 1992).  Any prefix/suffix cut carries ≤ 3 bits.
    """

    name = "disj-to-dyck"
    source = _BHBK24_DYCK
    description = "DISJ_n as Dyck-(2,2): Alice's outer brackets, Bob's inner pair, then ()"
    theorem = (
        "BHBK24 one-layer bound for Dyck-(2,2) (docs/theory.md §8.3 gadget): "
        "H(d_v+1)p_acc >= D->(DISJ_n) = n, Omega(n) randomized, over a non-contiguous split"
    )
    example_params = {"n": 5}
    problem_name = "disj"

    def __init__(self, n: int) -> None:
        super().__init__(n)
        n = self.n
        self._owner = np.array([ALICE, BOB, BOB, ALICE] * n + [PUBLIC, PUBLIC], dtype=np.int8)
        self._template = np.zeros(4 * n + 2, dtype=np.int64)
        self._template[-2:] = (OPEN_ROUND, CLOSE_ROUND)

    def encode(self, x: Any, y: Any) -> Instance:
        n = self.n
        a = bits(x, n, "x")
        b = bits(y, n, "y")
        tokens = self._template.copy()
        tokens[0 : 4 * n : 4] = np.where(a == 1, OPEN_SQUARE, OPEN_ROUND)
        tokens[3 : 4 * n : 4] = np.where(a == 1, CLOSE_SQUARE, CLOSE_ROUND)
        tokens[1 : 4 * n : 4] = np.where(b == 1, CLOSE_ROUND, OPEN_ROUND)
        tokens[2 : 4 * n : 4] = np.where(b == 1, OPEN_ROUND, CLOSE_ROUND)
        return Instance(tokens, self._owner)
