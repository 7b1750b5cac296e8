"""Tasks from the papers (issue 6): Match2/Match3, nearest neighbour, bounded Dyck,
qSTR and simple qSTR, function composition — fast solvers against slow, obvious ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
import commlb.tasks.composition  # noqa: F401  (registers the tasks)
import commlb.tasks.dyck  # noqa: F401
import commlb.tasks.match  # noqa: F401
import commlb.tasks.nearest  # noqa: F401
import commlb.tasks.qstr  # noqa: F401
from commlb.errors import CommlbError, InvalidInputError
from commlb.tasks.dyck import DyckTask, dyck_dfa, dyck_member_reference
from commlb.tasks.match import match2_reference, match3_reference
from commlb.tasks.nearest import NearestNeighborTask, hamming, nearest_label_reference
from commlb.tasks.qstr import QSTRTask, SimpleQSTRTask, make_qstr_tokens, qstr_reference

NEW_TASKS = ["match2", "match3", "nearest-neighbor", "dyck22", "qstr", "qstr-simple",
             "function-composition"]


def test_new_tasks_are_registered_with_descriptions():
    for name in NEW_TASKS:
        task = commlb.get_task(name, **({"n": 4} if name == "function-composition" else {}))
        assert task.name == name and task.description


# ----------------------------------------------------------------- Match2 / Match3


@settings(deadline=None)
@given(st.integers(2, 24), st.lists(st.integers(0, 10**6), min_size=1, max_size=12))
def test_match_solvers_agree_with_loops(modulus, raw):
    values = np.array([v % modulus for v in raw], dtype=np.int64)
    m2 = commlb.get_task("match2", M=modulus).solve(values)
    m3 = commlb.get_task("match3", M=modulus).solve(values)
    np.testing.assert_array_equal(m2, match2_reference(values, modulus))
    np.testing.assert_array_equal(m3, match3_reference(values, modulus))


def test_match3_on_a_long_sequence_agrees_with_the_loop(rng):
    # long enough for several blocks of the sumset (few distinct values repeat)
    values = rng.integers(0, 5000, size=70)
    task = commlb.get_task("match3", M=5000)
    np.testing.assert_array_equal(task.solve(values), match3_reference(values, 5000))
    assert 0 < task.solve(values).sum() < 70


def test_match_semantics_by_hand():
    # M = 10: 3 + 7 = 10 (Match2 at 3 and 7); 5 + 5 = 10 (j = i allowed)
    np.testing.assert_array_equal(commlb.get_task("match2", M=10).solve([3, 7, 5, 1]), [1, 1, 1, 0])
    # Match3 at 1: 1 + 3 + 6 = 10; j1 = j2 allowed: 4 + 3 + 3 = 10
    np.testing.assert_array_equal(commlb.get_task("match3", M=10).solve([1, 3, 6]), [1, 1, 1])
    np.testing.assert_array_equal(commlb.get_task("match3", M=11).solve([1, 2]), [0, 0])
    np.testing.assert_array_equal(commlb.get_task("match3", M=11).solve([1, 2, 8]), [1, 1, 1])


def test_match_generation_and_errors(rng):
    task = commlb.get_task("match3", M=17)
    x = task.generate(rng, 9, exclude_zero=True)
    assert len(x) == task.length(9) == 9 and x.min() >= 1 and x.max() < 17
    assert task.output_kind == "per-position" and list(task.output_positions(4)) == [0, 1, 2, 3]
    with pytest.raises(InvalidInputError):
        task.solve([3, 17])
    with pytest.raises(CommlbError):
        commlb.get_task("match2", M=1)


# ----------------------------------------------------------------- nearest neighbour


@settings(deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.data())
def test_nearest_neighbor_agrees_with_euclidean_loop(d, labels, data):
    k = data.draw(st.integers(1, 8))
    points = data.draw(st.lists(st.integers(0, 2**d - 1), min_size=k, max_size=k))
    labs = data.draw(st.lists(st.integers(0, labels - 1), min_size=k, max_size=k))
    query = data.draw(st.integers(0, 2**d - 1))
    task = NearestNeighborTask(d=d, labels=labels)
    tokens = task.assemble(points, labs, query)
    assert len(tokens) == task.length(k)
    assert task.solve(tokens) == nearest_label_reference(points, labs, query, d)


def test_nearest_neighbor_by_hand_and_generator(rng):
    task = NearestNeighborTask(d=3, labels=2)
    # points 000 (label 0) and 111 (label 1): query 110 is nearer 111
    assert task.solve(task.assemble([0b000, 0b111], [0, 1], 0b011)) == 1
    assert task.solve(task.assemble([0b000, 0b111], [0, 1], 0b001)) == 0
    # a tie between different labels is undefined
    assert task.solve(task.assemble([0b001, 0b010], [0, 1], 0b000)) == -1
    np.testing.assert_array_equal(hamming(np.array([0, 7, 5]), 2), [1, 2, 3])
    answers = [task.solve(task.generate(rng, 6)) for _ in range(300)]
    assert min(answers) >= 0 and 0.25 < np.mean(answers) < 0.75
    # the generator's fallback: one point value, several labels
    tiny = NearestNeighborTask(d=1, labels=3)
    assert all(tiny.solve(tiny.generate(rng, 12)) >= 0 for _ in range(50))
    assert task.vocab_size == 8 + 2 + 1 and task.vocab_names()[-1] == "?"
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 8, 9, 3]))  # "?" missing


# ----------------------------------------------------------------- bounded Dyck


@settings(deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=14))
def test_dyck22_automaton_agrees_with_the_stack(tokens):
    task = commlb.get_task("dyck22")
    assert task.solve(np.array(tokens)) == dyck_member_reference(tokens, 2, 2)


@settings(deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_dyck_kd_automaton_agrees_with_the_stack(kinds, depth, data):
    tokens = data.draw(st.lists(st.integers(0, 2 * kinds - 1), min_size=1, max_size=12))
    assert DyckTask(kinds, depth).solve(np.array(tokens)) == dyck_member_reference(tokens, kinds, depth)


def test_dyck22_by_hand_and_automaton_size(rng):
    task = commlb.get_task("dyck22")
    names = task.vocab_names()
    enc = {c: names.index(c) for c in "()[]"}
    for word, member in [("()", 1), ("([])", 1), ("[()]()", 1), ("((()))", 0), ("(]", 0),
                         ("([)]", 0), (")(", 0), ("((", 0), ("[[]][]", 1)]:
        assert task.solve(np.array([enc[c] for c in word])) == member, word
    dfa = dyck_dfa(2, 2)
    assert dfa.num_states == 1 + 2 + 4 + 1 == 8
    assert dfa.stacks[dfa.dead] is None and dfa.accept.sum() == 1
    samples = [task.generate(rng, 10) for _ in range(400)]
    answers = [task.solve(s) for s in samples]
    assert 0.3 < np.mean(answers) < 0.7
    assert all(len(s) == 10 for s in samples)
    assert not any(task.solve(task.generate(rng, 7)) for _ in range(50))  # odd length


# ----------------------------------------------------------------- qSTR


@settings(deadline=None)
@given(st.sampled_from(["norm2", "linear", "he2"]), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 7), st.integers(0, 2**16))
def test_qstr_agrees_with_loop(link, q, d, n, seed):
    task = QSTRTask(q=q, d=d, link=link, seed=seed % 5)
    tokens = task.generate(np.random.default_rng(seed), n)
    expected = qstr_reference(tokens["x"].reshape(n, d), tokens["t"].reshape(n, q), link, task.u)
    np.testing.assert_allclose(task.solve(tokens), expected, rtol=1e-12, atol=1e-12)


def test_qstr_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, -1.0]])
    t = np.array([[1, 2], [0, 0], [2, 1]])
    tokens = make_qstr_tokens(x, t)
    # norm2: (1/sqrt(qd)) sum(|x|^2 - d), q = d = 2
    norms = (x**2).sum(axis=1)
    expected = np.array([norms[1] + norms[2] - 4, 2 * norms[0] - 4, norms[2] + norms[1] - 4]) / 2.0
    np.testing.assert_allclose(QSTRTask(q=2, d=2).solve(tokens), expected)
    # a callable link: the sum of the first coordinates
    first = QSTRTask(q=2, d=2, link=lambda g: g[:, :, 0].sum(axis=1)).solve(tokens)
    np.testing.assert_allclose(first, [3.0, 2.0, 3.0])
    # 1STR, linear link: y_i = <u, x_{t_i}>
    one = QSTRTask(q=1, d=2, link="linear", seed=3)
    tok1 = make_qstr_tokens(x, np.array([[2], [0], [1]]))
    np.testing.assert_allclose(one.solve(tok1), x[[2, 0, 1]] @ one.u[0])
    assert math.isclose(np.linalg.norm(one.u[0]), 1.0)


def test_simple_qstr_shares_one_tuple(rng):
    task = SimpleQSTRTask(q=3, d=2)
    tokens = task.generate(rng, 9)
    assert (tokens["t"] == tokens["t"][0]).all()
    out = task.solve(tokens)
    assert out.shape == (9,) and np.allclose(out, out[0])
    tokens["t"][4] = (tokens["t"][4] + 1) % 9
    with pytest.raises(InvalidInputError):
        task.solve(tokens)
    with pytest.raises(InvalidInputError):
        QSTRTask(link="cubic")
    with pytest.raises(InvalidInputError):
        QSTRTask(q=2, d=2).solve(make_qstr_tokens(np.zeros((3, 2)), np.array([[0, 5]] * 3)))


# ----------------------------------------------------------------- function composition


@settings(deadline=None)
@given(st.integers(1, 9), st.data())
def test_function_composition_agrees_with_lookup(n, data):
    g = data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
    h = data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
    x = data.draw(st.integers(0, n - 1))
    task = commlb.get_task("function-composition", n=n)
    tokens = task.assemble(g, h, x)
    assert len(tokens) == task.length(n) == 2 * n + 1
    assert task.solve(tokens) == h[g[x]]
    assert commlb.get_task("function-composition").solve(tokens) == h[g[x]]  # n inferred


def test_function_composition_errors(rng):
    task = commlb.get_task("function-composition", n=3)
    assert task.vocab_size == 3
    assert task.solve(task.generate(rng, 3)) in range(3)
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 1, 2, 0, 1, 3, 0]))  # value out of range
    with pytest.raises(InvalidInputError):
        task.solve(np.array([0, 1, 0, 1]))  # even length
    with pytest.raises(InvalidInputError):
        _ = commlb.get_task("function-composition").vocab_size  # the property refuses
