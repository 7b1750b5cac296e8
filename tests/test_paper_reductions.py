"""Reductions for the negative sides of issue 6: DISJ → Match3, EQ/DISJ → Dyck-(2,2),
INDEX → nearest neighbour, INDEX on n log n bits → function composition, pointer
chasing → hop_k in blocks.  Each is checked by ``check_reduction`` exhaustively, and
also directly (soundness and locality by plain loops) so that a checker bug cannot hide
a reduction bug."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb import ALICE, BOB, PUBLIC
from commlb.core import Instance
from commlb.errors import CommlbError, InvalidInputError
from commlb.problems.pointer_chasing import PointerChasing
from commlb.reductions.composition import IndexToComposition, SymbolIndex
from commlb.reductions.dyck import (
    DisjToDyck,
    EqToDyck,
    nerode_classes,
    prefix_cut_bits,
    prefix_cut_profile,
    prefix_cut_rows,
    prefix_cut_rows_bruteforce,
)
from commlb.reductions.match3 import DisjToMatch3
from commlb.reductions.nearest import IndexToNearestNeighbor
from commlb.reductions.pointer_multi import (
    PCToKHopBlocks,
    block_players,
    doubling_layers,
    model_rounds,
    pc_blocks_length,
    required_rounds,
)
from commlb.testing import check_reduction
from commlb.testing.reductions import ReductionReport

# class, params, expected (alice, bob, public) counts, expected length
EXHAUSTIVE = [
    (DisjToMatch3, {"n": 5}, (5, 5, 1), 11),
    (DisjToMatch3, {"n": 4, "M": 16}, (4, 4, 1), 9),
    (DisjToMatch3, {"n": 1}, (1, 1, 1), 3),
    (EqToDyck, {"n": 6}, (6, 6, 2), 14),
    (DisjToDyck, {"n": 6}, (12, 12, 2), 26),
    (DisjToDyck, {"n": 1}, (2, 2, 2), 6),
    (IndexToNearestNeighbor, {"n": 8}, (8, 1, 9), 18),
    (IndexToNearestNeighbor, {"n": 5}, (5, 1, 6), 12),
    (IndexToNearestNeighbor, {"n": 1}, (1, 1, 2), 4),
    (IndexToComposition, {"n": 4}, (4, 1, 4), 9),
    (IndexToComposition, {"n": 5}, (5, 1, 5), 11),
    (PCToKHopBlocks, {"n": 3, "k": 3}, (6, 3, 10), 19),
    (PCToKHopBlocks, {"n": 4, "k": 4, "output": "parity"}, (8, 8, 17), 33),
    (PCToKHopBlocks, {"n": 3, "k": 2, "start": 2}, (3, 3, 7), 13),
]
IDS = [f"{c.name}-{'-'.join(map(str, p.values()))}" for c, p, _, _ in EXHAUSTIVE]


def _all_pairs(problem):
    xs = problem.x_space.enumerate()
    ys = problem.y_space.enumerate()
    inside = np.broadcast_to(problem.in_promise(xs[:, None, :], ys[None, :, :]), (len(xs), len(ys)))
    for i, j in zip(*np.nonzero(inside)):
        yield xs[i], ys[j]


@pytest.mark.parametrize("cls,params,counts,length", EXHAUSTIVE, ids=IDS)
def test_check_reduction_exhaustive(cls, params, counts, length):
    red = cls(**params)
    report = check_reduction(red)
    assert isinstance(report, ReductionReport)
    assert report.ok, report.counterexample
    assert report.exhaustive and report.pairs_checked >= 1
    assert report.length == length
    assert report.tokens_per_owner == dict(zip(("alice", "bob", "public"), counts))


@pytest.mark.parametrize("cls,params,counts,length", EXHAUSTIVE, ids=IDS)
def test_direct_soundness_and_locality(cls, params, counts, length):
    """The same two properties by plain loops: decode(solve(encode)) = f on every pair;
    ALICE tokens depend on x only, BOB tokens on y only, PUBLIC tokens on nothing."""
    red = cls(**params)
    problem = red.problem
    by_x: dict[bytes, np.ndarray] = {}
    by_y: dict[bytes, np.ndarray] = {}
    first = None
    pairs = 0
    for x, y in _all_pairs(problem):
        inst = red.encode(x, y)
        assert isinstance(inst, Instance) and len(inst) == length
        expected = int(np.asarray(problem.evaluate(x, y)).reshape(-1)[0])
        assert red.decode(red.task.solve(inst.tokens)) == expected, (x, y)
        owner = inst.owner
        ref_x = by_x.setdefault(x.tobytes(), inst.tokens)
        ref_y = by_y.setdefault(y.tobytes(), inst.tokens)
        first = (inst.tokens, owner) if first is None else first
        np.testing.assert_array_equal(owner, first[1])
        alice, bob, public = owner == ALICE, owner == BOB, owner == PUBLIC
        np.testing.assert_array_equal(inst.tokens[alice], ref_x[alice])
        np.testing.assert_array_equal(inst.tokens[bob], ref_y[bob])
        np.testing.assert_array_equal(inst.tokens[public], first[0][public])
        pairs += 1
    # every pair was visited: all of them, or the (n!)^2 pairs of permutations
    expected_pairs = math.factorial(problem.n) ** 2 if problem.is_promise else problem.num_pairs()
    assert pairs == expected_pairs


@pytest.mark.parametrize("cls,params", [
    (DisjToMatch3, {"n": 40}),
    (EqToDyck, {"n": 40}),
    (DisjToDyck, {"n": 40}),
    (IndexToNearestNeighbor, {"n": 100}),
    (IndexToComposition, {"n": 30}),
    (PCToKHopBlocks, {"n": 16, "k": 5}),
])
def test_sampled_check_at_larger_n(cls, params):
    report = check_reduction(cls(**params), samples=120, rng=3)
    assert report.ok, report.counterexample
    assert not report.exhaustive and report.pairs_checked == 120


def test_every_new_reduction_states_its_theorem():
    for cls in (DisjToMatch3, EqToDyck, DisjToDyck, IndexToNearestNeighbor,
                IndexToComposition, PCToKHopBlocks):
        red = cls(**cls.example_params)
        assert "Serves" in cls.__doc__ and red.theorem and red.name == cls.name
        assert red.problem.name and red.task.name
        assert commlb.registry.reduction_factory(cls.name) is cls


# ----------------------------------------------------------------- Match3 gadget


def test_match3_gadget_layout():
    red = DisjToMatch3(n=3)  # M = 8
    inst = red.encode(np.array([1, 0, 1]), np.array([0, 1, 1]))
    # Alice: 2i or 1; Bob: M - 1 - 2i or 1; query 1
    np.testing.assert_array_equal(inst.tokens, [0, 1, 4, 1, 5, 3, 1])
    np.testing.assert_array_equal(inst.owner, [ALICE] * 3 + [BOB] * 3 + [PUBLIC])
    assert red.M == 2 * 3 + 2 == len(inst) + 1  # SHT23's M >= N + 1, with equality
    assert red.task.solve(inst.tokens)[-1] == 1 and red.decode(red.task.solve(inst.tokens)) == 0


def test_match3_gadget_needs_even_modulus():
    with pytest.raises(InvalidInputError):
        DisjToMatch3(n=4, M=11)
    with pytest.raises(InvalidInputError):
        DisjToMatch3(n=4, M=8)

    class OddModulus(DisjToMatch3):  # bypass the check: parity no longer separates sums
        def __init__(self, n, M):
            super().__init__(n, M=M + 1)
            from commlb.tasks.match import Match3Task
            self.M = M
            self.task = Match3Task(M=M)
            self._beta = (M - 1 - self._alpha) % M

    report = check_reduction(OddModulus(4, 11))
    assert not report.ok and report.counterexample.kind == "soundness"


@settings(deadline=None)
@given(st.integers(1, 7), st.integers(0, 6), st.data())
def test_match3_witnesses_are_exactly_the_designed_pairs(n, extra, data):
    """With any even M >= 2n+2, the only pairs summing to -1 are (alpha_i, beta_i)."""
    modulus = 2 * n + 2 + 2 * extra
    red = DisjToMatch3(n=n, M=modulus)
    values = [1] + list(red._alpha) + list(red._beta)
    for u, v in itertools.combinations_with_replacement(values, 2):
        hit = (u + v + 1) % modulus == 0
        designed = any({u, v} == {int(a), int(b)} for a, b in zip(red._alpha, red._beta))
        assert hit == designed, (u, v)
    a = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    b = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    tokens = red.encode(a, b).tokens
    assert red.decode(red.task.solve(tokens)) == int(not np.any(a & b))
    # the same answer when the three indices must be distinct
    last = len(tokens) - 1
    distinct = any((tokens[last] + tokens[j1] + tokens[j2]) % modulus == 0
                   for j1, j2 in itertools.combinations(range(last), 2))
    assert int(not distinct) == int(not np.any(a & b))


# ----------------------------------------------------------------- Dyck


def test_dyck_gadget_layouts():
    names = "()[]"
    eq = EqToDyck(n=3).encode(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert "".join(names[t] for t in eq.tokens) == "()[][)()"
    disj = DisjToDyck(n=3).encode(np.array([0, 1, 1]), np.array([1, 0, 1]))
    assert "".join(names[t] for t in disj.tokens) == "()()[()][)(]()"
    np.testing.assert_array_equal(disj.owner[:4], [ALICE, BOB, BOB, ALICE])
    # the split is non-contiguous: owners change twice inside every block (A|BB|A)
    changes = np.count_nonzero(np.diff(disj.owner[:-2]) != 0)
    assert changes == 2 * 3


@pytest.mark.parametrize("length", range(0, 8))
def test_prefix_cut_rows_match_the_membership_matrix(length):
    for cut in range(length + 1):
        assert prefix_cut_rows(length, cut) == prefix_cut_rows_bruteforce(length, cut), (length, cut)


def test_prefix_cut_rows_other_languages():
    for kinds, depth, length in [(1, 1, 6), (1, 3, 7), (3, 1, 5), (2, 3, 6)]:
        for cut in range(length + 1):
            assert prefix_cut_rows(length, cut, kinds, depth) == \
                prefix_cut_rows_bruteforce(length, cut, kinds, depth)


def test_prefix_cuts_carry_at_most_three_bits_while_the_split_needs_n_plus_one():
    assert nerode_classes(2, 2) == 8
    assert nerode_classes(1, 1) == 3 and nerode_classes(2, 1) == 4
    profile = prefix_cut_profile(300)
    assert max(profile) <= nerode_classes(2, 2)
    assert max(profile) == 6  # even remaining length: stacks of depth 0 and 2, plus dead
    assert max(prefix_cut_bits(300, c) for c in range(301)) == 3
    for n in (3, 8, 64):
        red = DisjToDyck(n=n)
        assert red.prefix_cut_bits() <= 3 < n + 1  # vs D(DISJ_n) = n + 1 for this split
        bound = red.problem.deterministic_bound()
        assert bound.value == n + 1


# ----------------------------------------------------------------- nearest neighbour


def test_nearest_layout_is_a_prefix_suffix_split_for_rnns():
    red = IndexToNearestNeighbor(n=6)
    inst = red.encode(np.array([1, 0, 1, 1, 0, 0]), np.array([3]))
    assert red.task.d == 3
    # every ALICE token comes before "?", Bob's query is the last token
    assert inst.positions(ALICE).max() < len(inst) - 2 and list(inst.positions(BOB)) == [len(inst) - 1]
    assert red.decode(red.task.solve(inst.tokens)) == 1
    points, labels, query = red.task.split(inst.tokens)
    assert len(set(points.tolist())) == 6 and query == 3


# ----------------------------------------------------------------- function composition


def test_symbol_index_bounds_match_its_matrix():
    for n in (2, 3, 4):
        problem = SymbolIndex(n)
        matrix = problem.matrix()
        rows = len({row.tobytes() for row in matrix})
        assert rows == n**n
        one_way = problem.one_way_bound("AB")
        assert one_way.value == math.ceil(math.log2(rows)) == math.ceil(n * math.log2(n))
    red = IndexToComposition(n=4)
    inst = red.encode(np.array([3, 1, 0, 2]), np.array([2]))
    np.testing.assert_array_equal(inst.tokens, [2, 1, 2, 3, 3, 1, 0, 2, 0])
    assert red.decode(red.task.solve(inst.tokens)) == 0
    with pytest.raises(InvalidInputError):
        red.encode(np.array([3, 1, 0, 4]), np.array([0]))


# ----------------------------------------------------------------- pointer chasing blocks


def test_block_layout_needs_permutations():
    class AnyMaps(PCToKHopBlocks):
        def __init__(self, n, k, start):
            super().__init__(n, k, start=start)
            self.problem = PointerChasing(n=n, k=k, start=start)

    # (with start 0 and k = 2 nothing can go wrong: no key precedes the start's pair in
    # T_1 and T_2's values are never searched; k = 3 from start 2 exposes repeats)
    report = check_reduction(AnyMaps(3, 3, 2))
    assert not report.ok and report.counterexample.kind == "soundness"
    # the counterexample really is a non-permutation
    cex = report.counterexample
    assert len(set(cex.x)) < 3 or len(set(cex.y)) < 3


def test_block_players_and_rounds():
    n, k = 3, 4
    red = PCToKHopBlocks(n=n, k=k)
    players = block_players(n, k)
    assert len(players) == pc_blocks_length(n, k) == len(red._owner)
    # player j's block holds exactly the values of f_j, owned by Alice for odd j
    for j in range(1, k + 1):
        block = red._owner[players == j][: 2 * n]
        values = block[1::2]
        assert (values == (ALICE if j % 2 else BOB)).all() and (block[0::2] == PUBLIC).all()
    assert list(players[: 2 * n]) == [k] * (2 * n) and players[-1] == 1  # P_k first
    for layers in (1, 2, 5):
        assert model_rounds("rnn", layers).rounds == layers
        assert model_rounds("transformer", layers).rounds == 2 * layers + 1  # an upper bound
    assert model_rounds("transformer-cot", cot_steps=7).rounds == 7
    assert "SHT24 Cor. 5.2" in model_rounds("rnn", 2).source
    assert "derived here" in model_rounds("transformer", 2).source
    assert required_rounds(5).rounds == 5
    # ⌈log2 k⌉ + 2: one lookup per layer reaches k <= 2^(L - 2) (docs/theory.md §10.3)
    assert [doubling_layers(k) for k in (1, 2, 3, 4, 5, 7, 8, 9, 16)] == [2, 3, 4, 4, 5, 5, 5, 6, 6]
    assert all(doubling_layers(k) == math.ceil(math.log2(k)) + 2 for k in range(1, 200))
    with pytest.raises(CommlbError):
        model_rounds("lstm", 2)
