"""Sequence tasks: formats, exact solvers, generators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb.errors import CommlbError, InvalidInputError
from commlb.tasks.khop import hop_positions, hop_positions_reference
from commlb.tasks.qsa import make_qsa_tokens


def _letters(s: str) -> np.ndarray:
    return np.array([ord(c) - ord("a") for c in s], dtype=np.int64)


# ----------------------------------------------------------------- disjointness / equality


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), max_size=12))
def test_disjointness_matches_set_definition(pairs):
    task = commlb.get_task("disjointness")
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    tokens = np.concatenate([a, [2], b, [3]])
    expected = int(not any(x == 1 and y == 1 for x, y in pairs))
    assert task.solve(tokens) == expected
    assert len(tokens) == task.length(len(pairs))


@given(st.lists(st.integers(0, 1), max_size=10), st.lists(st.integers(0, 1), max_size=10))
def test_equality_matches_list_equality(a, b):
    if len(a) != len(b):
        b = (b + a)[: len(a)]
    task = commlb.get_task("equality")
    tokens = np.array(a + [2] + b + [3], dtype=np.int64)
    assert task.solve(tokens) == int(a == b)


def test_two_string_vocab_and_malformed():
    task = commlb.get_task("disjointness")
    assert task.vocab_names() == ["0", "1", "#", "="]
    assert task.vocab_size == 4
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 1, 3, 0, 1, 3]))  # "#" missing
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 2, 2, 3]))  # a bit that is not 0/1
    with pytest.raises(CommlbError):
        commlb.get_task("equality").solve(np.array([0.5, 2.0, 1.0, 3.0]))


def test_generators_are_balanced_and_well_formed(rng):
    for name in ("disjointness", "equality"):
        task = commlb.get_task(name)
        answers = [task.solve(task.generate(rng, 8)) for _ in range(400)]
        assert 0.3 < np.mean(answers) < 0.7, name
        assert len(task.generate(rng, 8)) == task.length(8)


# ----------------------------------------------------------------------- index lookup


@given(st.lists(st.integers(0, 4), min_size=1, max_size=12), st.data())
def test_index_lookup_reads_the_named_symbol(symbols, data):
    n = len(symbols)
    i = data.draw(st.integers(0, n - 1))
    task = commlb.get_task("index-lookup", alphabet=5, n=n)
    tokens = np.array(symbols + [task.question, task.position_token(i)])
    assert task.solve(tokens) == symbols[i]
    assert task.vocab_size == 5 + 1 + n
    assert task.vocab_names()[task.question] == "?"
    assert task.vocab_names()[task.position_token(i)] == f"@{i}"


def test_index_lookup_default_alphabet_and_errors(rng):
    task = commlb.get_task("index-lookup")
    assert task.alphabet == 2
    tokens = task.generate(rng, 6)
    assert len(tokens) == task.length(6) == 8
    assert tokens[6] == 2 and 3 <= tokens[7] < 9
    assert task.solve(tokens) == tokens[tokens[7] - 3]
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 1, 1, 3]))  # "?" missing
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 1, 2, 9]))  # position 6 does not exist
    with pytest.raises(InvalidInputError):
        task.vocab_size  # noqa: B018 - needs n


# ------------------------------------------------------------------------------- qSA


def test_qsa_worked_example_theory_1_2():
    # docs/theory.md §7.5: N = 6, q = 2, scalar z; the sets there are 1-based.
    z = np.array([3, 1, 4, 1, 5, 9], dtype=float)
    sets_1based = [{2, 3}, {1, 6}, {4, 5}, {1, 2}, {3, 6}, {2, 5}]
    y = np.array([sorted(j - 1 for j in s) for s in sets_1based])
    task = commlb.get_task("qsa", q=2)
    out = task.solve(make_qsa_tokens(z, y))
    assert out.shape == (6, 1)
    np.testing.assert_array_equal(out[:, 0], [2.5, 6, 3, 2, 6.5, 3])


@settings(max_examples=30)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_qsa_solver_matches_loop(q, d_out, seed):
    rng = np.random.default_rng(seed)
    task = commlb.get_task("qsa", q=q, d_out=d_out)
    n = q + int(rng.integers(0, 6))
    tokens = task.generate(rng, n)
    assert tokens.dtype == task.dtype and len(tokens) == n
    assert np.all(np.linalg.norm(tokens["z"], axis=1) <= 1 + 1e-12)
    out = task.solve(tokens)
    for i in range(n):
        expected = sum(tokens["z"][j] for j in tokens["y"][i]) / q
        np.testing.assert_allclose(out[i], expected, rtol=0, atol=1e-12)


def test_qsa_rejects_bad_pointer_sets():
    task = commlb.get_task("qsa", q=2)
    good = make_qsa_tokens(np.zeros(3), np.array([[0, 1], [1, 2], [0, 2]]))
    task.solve(good)
    bad = good.copy()
    bad["y"][1] = [2, 1]  # not sorted
    with pytest.raises(InvalidInputError):
        task.solve(bad)
    bad = good.copy()
    bad["y"][0] = [0, 3]  # out of range
    with pytest.raises(InvalidInputError):
        task.solve(bad)
    with pytest.raises(InvalidInputError):
        task.solve(np.arange(3))


# ------------------------------------------------------------------------------- k-hop


def test_khop_paper_example():
    # SHT24 §4: X = baebcabebdea gives hop_1 = b, hop_2 = c at the last position.
    x = _letters("baebcabebdea")
    assert commlb.get_task("khop", k=1, alphabet=5).solve(x)[-1] == _letters("b")[0]
    assert commlb.get_task("khop", k=2, alphabet=5).solve(x)[-1] == _letters("c")[0]
    pos = commlb.get_task("khop", k=2, alphabet=5).solve_positions(x)
    assert pos[-1] == 4 and x[pos[-1]] == _letters("c")[0]


def test_khop_bottom_and_hop0():
    x = _letters("abcab")
    t1 = commlb.get_task("khop", k=1, alphabet=3)
    np.testing.assert_array_equal(t1.solve_positions(x), [-1, -1, -1, 1, 2])
    np.testing.assert_array_equal(t1.solve(x), [-1, -1, -1, 1, 2])
    t2 = commlb.get_task("khop", k=2, alphabet=3)
    np.testing.assert_array_equal(t2.solve(x), [-1, -1, -1, -1, -1])
    t0 = commlb.get_task("khop", k=0, alphabet=3)
    np.testing.assert_array_equal(t0.solve(x), x)
    with pytest.raises(InvalidInputError):
        t1.solve(np.array([0, 3]))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 16),
    st.integers(1, 6),
    st.lists(st.integers(0, 5), min_size=1, max_size=200),
)
def test_khop_fast_matches_definition(k, alphabet, raw):
    tokens = np.array([t % alphabet for t in raw], dtype=np.int64)
    expected_pos = hop_positions_reference(tokens, k)
    np.testing.assert_array_equal(hop_positions(tokens, k, alphabet), expected_pos)
    expected_tok = np.array([tokens[p] if p >= 0 else -1 for p in expected_pos])
    np.testing.assert_array_equal(commlb.get_task("khop", k=k, alphabet=alphabet).solve(tokens),
                                  expected_tok)


def test_khop_generator_has_no_equal_neighbours(rng):
    task = commlb.get_task("khop", k=3, alphabet=4)
    x = task.generate(rng, 300)
    assert len(x) == 300 and x.min() >= 0 and x.max() < 4
    assert np.all(x[1:] != x[:-1])
    assert set(np.unique(x)) == {0, 1, 2, 3}
    assert task.vocab_names() == ["a", "b", "c", "d"]


def test_unknown_task_parameter_is_a_user_error():
    with pytest.raises(CommlbError):
        commlb.get_task("khop", hops=3)
