"""Built-in reductions: layouts, owners, decoding, and a full soundness/locality check of
each one at a size where the check is exhaustive."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb import ALICE, BOB, PUBLIC
from commlb.reductions.pointer_chasing import pc_khop_length
from commlb.testing import check_reduction

# name, params, expected (alice, bob, public) token counts, expected length
EXHAUSTIVE = [
    ("disj-to-disjointness", {"n": 6}, (6, 6, 2), 14),
    ("eq-to-equality", {"n": 6}, (6, 6, 2), 14),
    ("index-to-index-lookup", {"n": 8}, (8, 1, 1), 10),
    ("index-to-qsa", {"n": 8}, (8, 1, 0), 9),
    ("disj-to-qsa", {"n": 5}, (1, 10, 0), 11),
    ("pc-to-khop", {"n": 3, "k": 3}, (10, 3, 14), 27),
    ("pc-to-khop", {"n": 2, "k": 5}, None, pc_khop_length(2, 5)),
    ("pc-to-khop", {"n": 3, "k": 1}, (1, 0, 2), 3),
    ("pc-to-khop", {"n": 3, "k": 2, "start": 2, "output": "parity"}, (1, 3, 5), 9),
]


def _pc(f_a, f_b, k, start=0):
    v = start
    for j in range(1, k + 1):
        v = (f_a if j % 2 else f_b)[v]
    return v


@pytest.mark.parametrize("name,params,counts,length", EXHAUSTIVE,
                         ids=[f"{e[0]}-{'-'.join(map(str, e[1].values()))}" for e in EXHAUSTIVE])
def test_builtin_reduction_is_sound_and_local_exhaustively(name, params, counts, length):
    red = commlb.get_reduction(name, **params)
    report = check_reduction(red)
    assert report.ok, report.counterexample
    assert report.exhaustive
    total = red.problem.x_space.size * red.problem.y_space.size
    assert report.pairs_checked == report.total_pairs == total
    assert report.length == length
    if counts is not None:
        assert report.tokens_per_owner == dict(zip(("alice", "bob", "public"), counts))
    assert sum(report.tokens_per_owner.values()) == length


def test_every_builtin_reduction_is_listed_and_states_its_theorem():
    names = commlb.list_reductions()
    assert {e[0] for e in EXHAUSTIVE} <= set(names)
    for name in names:
        factory = commlb.registry.reduction_factory(name)
        red = commlb.get_reduction(name, **factory.example_params)
        assert red.theorem and "Serves" in type(red).__doc__
        assert red.problem.name and red.task.name


@pytest.mark.parametrize("name,params", [
    ("disj-to-disjointness", {"n": 40}),
    ("eq-to-equality", {"n": 40}),
    ("index-to-index-lookup", {"n": 64}),
    ("index-to-qsa", {"n": 64}),
    ("disj-to-qsa", {"n": 32}),
    ("pc-to-khop", {"n": 8, "k": 3}),
])
def test_builtin_reductions_pass_the_sampled_check(name, params):
    report = check_reduction(commlb.get_reduction(name, **params), samples=150, rng=1)
    assert report.ok, report.counterexample
    assert not report.exhaustive and report.pairs_checked == 150


def test_two_string_layout():
    red = commlb.get_reduction("disj-to-disjointness", n=3)
    inst = red.encode(np.array([1, 0, 1]), np.array([0, 1, 1]))
    np.testing.assert_array_equal(inst.tokens, [1, 0, 1, 2, 0, 1, 1, 3])
    np.testing.assert_array_equal(inst.owner, [ALICE] * 3 + [PUBLIC] + [BOB] * 3 + [PUBLIC])
    assert red.decode(red.task.solve(inst.tokens)) == 0
    eq = commlb.get_reduction("eq-to-equality", n=3)
    inst = eq.encode(np.array([1, 0, 1]), np.array([1, 0, 1]))
    assert eq.decode(eq.task.solve(inst.tokens)) == 1
    with pytest.raises(commlb.CommlbError):
        red.encode(np.array([1, 0]), np.array([0, 1, 1]))


def test_index_lookup_layout():
    red = commlb.get_reduction("index-to-index-lookup", n=4)
    inst = red.encode(np.array([0, 1, 1, 0]), np.array([2]))
    np.testing.assert_array_equal(inst.tokens, [0, 1, 1, 0, 2, 3 + 2])
    np.testing.assert_array_equal(inst.owner, [ALICE] * 4 + [PUBLIC, BOB])
    assert red.decode(red.task.solve(inst.tokens)) == 1


def test_index_to_qsa_layout_and_field_ownership():
    red = commlb.get_reduction("index-to-qsa", n=4)
    a = red.encode(np.array([1, 0, 1, 1]), np.array([2]))
    b = red.encode(np.array([0, 1, 0, 0]), np.array([3]))
    assert a.tokens.dtype.names == ("z", "y", "pos")
    # data tokens: only z varies (Alice); query token: only y varies (Bob)
    np.testing.assert_array_equal(a.tokens["y"][:4], b.tokens["y"][:4])
    assert a.tokens["z"][4, 0] == b.tokens["z"][4, 0] == 0
    np.testing.assert_array_equal(a.tokens["pos"], np.arange(5))
    out = red.task.solve(a.tokens)
    assert out[-1, 0] == 1.0 and red.decode(out) == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.data())
def test_disj_to_qsa_gadget_value_and_margin(q, data):
    a = np.array(data.draw(st.lists(st.integers(0, 1), min_size=q, max_size=q)))
    b = np.array(data.draw(st.lists(st.integers(0, 1), min_size=q, max_size=q)))
    red = commlb.get_reduction("disj-to-qsa", n=q)
    inst = red.encode(a, b)
    assert len(inst) == 2 * q + 1
    out = red.task.solve(inst.tokens)
    both = int(np.sum(a & b))
    # docs/theory.md §8.5: qSA at the query = (#{a_i = b_i = 1} - #{other i}) / q
    assert out[-1, 0] == pytest.approx((both - (q - both)) / q, abs=1e-12)
    assert red.decode(out) == int(both == 0)
    # any 1/(2q)-approximation of the output row still decodes correctly (strictly inside)
    eps = data.draw(st.floats(-0.999, 0.999)) / (2 * q)
    assert red.decode(out[-1] + eps) == int(both == 0)
    # field-level ownership: the query token varies only in y, the data tokens only in z
    other = red.encode(1 - a, 1 - b)
    np.testing.assert_array_equal(inst.tokens["y"][: 2 * q], other.tokens["y"][: 2 * q])
    assert inst.tokens["z"][-1, 0] == other.tokens["z"][-1, 0] == 0.0


def test_pc_to_khop_length_formula_and_layout():
    for n, k in [(2, 1), (2, 2), (3, 3), (4, 4), (5, 2)]:
        red = commlb.get_reduction("pc-to-khop", n=n, k=k)
        inst = red.encode(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        assert len(inst) == pc_khop_length(n, k)
        assert red.task.k == k and red.task.alphabet == (k + 1) * n
        assert inst.owner[-1] == PUBLIC and inst.tokens[-1] == red.start
    assert pc_khop_length(3, 3) == 27 and pc_khop_length(4, 4) == 171


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(1, 5), st.data())
def test_pc_to_khop_chain_passes_through_every_layer(n, k, data):
    """Certificate: find^j of the last position holds the token (j, v_j) for every j."""
    start = data.draw(st.integers(0, n - 1))
    f_a = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    f_b = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    red = commlb.get_reduction("pc-to-khop", n=n, k=k, start=start)
    inst = red.encode(f_a, f_b)
    tokens = inst.tokens
    for j in range(1, k + 1):
        pos = commlb.get_task("khop", k=j, alphabet=(k + 1) * n).solve_positions(tokens)[-1]
        assert pos >= 0
        assert tokens[pos] == j * n + _pc(f_a, f_b, j, start)
        # the value of step j is written by the owner of f_j
        assert inst.owner[pos] == (ALICE if j % 2 else BOB)
    assert red.decode(red.task.solve(tokens)) == _pc(f_a, f_b, k, start)
    assert red.decode(red.task.solve(tokens)) == int(red.problem.evaluate(f_a, f_b))


def test_pc_to_khop_refuses_huge_layouts():
    with pytest.raises(commlb.errors.TooLargeError):
        commlb.get_reduction("pc-to-khop", n=64, k=6)
