"""The log-width index-lookup transformer (BHBK24, docs/theory.md §9.2) and its nearly
orthogonal codes: correct on every input for small N and on random inputs up to N = 1024,
width O(log N), precision within the fixed-point limit, and a protocol for INDEX whose bits
are far below N."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb.bits import Precision, acc_width
from commlb.core import ALICE, BOB
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.codes import (
    code_constant,
    code_dimension,
    measure_coherence,
    random_sign_codes,
)
from commlb.models.constructions.index_lookup import build, default_precision
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer

from sizes import full

#: model width = code dims (12·log2 N) + marker + 2 one-hot dims <= 13·log2 N for N >= 8
WIDTH_CONSTANT = 13


# ------------------------------------------------------------------ codes
@settings(deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.integers(0, 2**31))
def test_coherence_matches_brute_force(count, dim, seed):
    signs = np.where(np.random.default_rng(seed).random((count, dim)) < 0.5, -1, 1)
    coh, inner = measure_coherence(signs)
    pairs = [(i, j) for i in range(count) for j in range(count) if i != j]
    if not pairs:
        assert (coh, inner) == (0.0, -1.0)
        return
    dots = [sum(int(a) * int(b) for a, b in zip(signs[i], signs[j])) / dim for i, j in pairs]
    assert coh == max(abs(d) for d in dots)
    assert inner == max(dots)


def test_codes_meet_target_and_are_seeded():
    rng = np.random.default_rng(11)
    codes = random_sign_codes(300, code_dimension(300), rng)
    assert codes.coherence <= 0.5
    assert set(np.unique(codes.signs)) == {-1, 1}
    assert np.allclose(np.linalg.norm(codes.vectors, axis=1), 1.0)
    gram = codes.vectors @ codes.vectors.T
    np.fill_diagonal(gram, 0)
    assert np.isclose(np.abs(gram).max(), codes.coherence)
    again = random_sign_codes(300, code_dimension(300), np.random.default_rng(11))
    assert np.array_equal(again.signs, codes.signs)


def test_code_dimension_formula():
    assert code_constant(0.5) == 12  # least integer above 4 ln 2 / 0.25 = 11.09
    assert code_dimension(1024) == 120
    assert code_dimension(1) == 12
    with pytest.raises(InvalidInputError):
        random_sign_codes(64, 3, np.random.default_rng(0), 0.5, max_draws=3)


# ------------------------------------------------------------------ correctness
def _task(n, alphabet=2):
    return commlb.get_task("index-lookup", alphabet=alphabet, n=n)


@pytest.mark.parametrize("n,alphabet", [(1, 2), (2, 2), (3, 2), (5, 2), (8, 2), (4, 3), (3, 5)])
def test_correct_on_every_input_small(n, alphabet):
    task = _task(n, alphabet)
    model = build(task, n)
    for x in itertools.product(range(alphabet), repeat=n):
        for i in range(n):
            tokens = np.array(list(x) + [task.question, task.position_token(i)])
            out = model.forward(tokens)
            assert out.decision == x[i] == task.solve(tokens)
            assert out.saturations == 0


@pytest.mark.parametrize("n", [16, 64, 256, *full(1024)])
def test_correct_on_random_instances(n):
    task = _task(n)
    model = build(task, n)
    rng = np.random.default_rng(n)
    one = int(model.precision.scale)
    for _ in range(1000):
        tokens = task.generate(rng, n)
        out = model.forward(tokens)
        assert out.decision == task.solve(tokens)
        # exact: the attention puts all its (rounded) mass on j = i
        expect = np.zeros(2, dtype=np.int64)
        expect[task.solve(tokens)] = one
        assert out.values[0].tolist() == expect.tolist()


def test_width_precision_and_coherence():
    n = 1024
    model = build(_task(n), n)
    # the position codes, read from the weights: the columns where every position
    # carries a sign ±1, at most 12·log2 N of them, with coherence <= 1/2
    one = int(model.precision.scale)
    signs = model.params["pos"][:n] // one
    cols = np.flatnonzero(np.all(np.abs(signs) == 1, axis=0))
    m = len(cols)
    assert 0 < m <= 12 * math.log2(n)
    cos = signs[:, cols] @ signs[:, cols].T / m
    np.fill_diagonal(cos, 0)
    assert np.abs(cos).max() <= 0.5
    assert model.width <= WIDTH_CONSTANT * math.log2(n)
    assert model.precision.bits <= 24
    for size in (16, 64, 256, 1024, 4096):
        assert default_precision(size).bits <= 24
    assert default_precision(4096).bits == 24 and default_precision(1024).bits == 20


def test_real_softmax_mass_bound():
    """In real arithmetic the softmax mass off j = i is at most the stated leak bound."""
    n = 64
    task = _task(n)
    model = build(task, n)
    info = model.config["construction"]
    m = info["code_dim"]
    signs = model.params["pos"][:n, :m] // int(model.precision.scale)
    u = signs / math.sqrt(m)
    c = info["attention_scale"]
    for i in range(n):
        scores = np.concatenate([c * (u @ u[i]), [-c, 0.0]])  # symbols, "?", the index token
        w = np.exp(scores - scores.max())
        w /= w.sum()
        assert 1 - w[i] <= info["real_softmax_leak_bound"] <= 0.01


def test_registry_and_custom_width_and_precision():
    n = 32
    assert get_construction("index-lookup", "transformer") is build
    task = _task(n)
    small = build(task, n, width=24)  # 21 code dims: weaker coherence, larger c
    assert small.width == 24
    rng = np.random.default_rng(5)
    for _ in range(200):
        tokens = task.generate(rng, n)
        assert small.forward(tokens).decision == task.solve(tokens)
    with pytest.raises(InvalidInputError):
        build(task, n, width=3)
    assert build(task, n, layers=1, heads=None).width == build(task, n).width
    with pytest.raises(InvalidInputError):
        build(task, n, layers=2)
    with pytest.raises(InvalidInputError):
        build(task, n, hidden=8)
    with pytest.raises(InvalidInputError):
        build(task, n, precision=Precision.fixed(6))  # cannot hold the attention scale
    with pytest.raises(InvalidInputError):
        build(task, n, precision=Precision.float_(16))
    model = build(task, n, precision=Precision.fixed(16, 6))
    tokens = task.generate(rng, n)
    assert model.forward(tokens).decision == task.solve(tokens)


# ------------------------------------------------------------------ the protocol for INDEX
def _protocol_bits(model, n):
    prec = model.precision
    query = math.ceil(math.log2(model.vocab_size))
    return query + 2 * acc_width(prec, n, 2) + acc_width(prec, n, 1)


@pytest.mark.parametrize("n", [16, 64, 256, 1024, 4096])
def test_index_protocol_bits(n):
    red = commlb.get_reduction("index-to-index-lookup", n=n)
    model = build(red.task, n)
    rng = np.random.default_rng(n + 1)
    trials = 30 if n <= 1024 else 5
    for _ in range(trials):
        x = rng.integers(0, 2, size=n)
        i = int(rng.integers(0, n))
        inst = red.encode(x, [i])
        transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst))
        assert red.decode(out.decision) == x[i]
        assert transcript.meta["protocol_matches_forward"] is True
        assert [(m.sender, m.label) for m in transcript.messages] == [
            (BOB, "query-token L1"), (ALICE, "partial-sums L1")]
        assert transcript.total_bits == _protocol_bits(model, n)
        assert transcript.bits_bob_to_alice == math.ceil(math.log2(model.vocab_size))
    if n >= 1024:
        assert transcript.total_bits < n / 6
    print(f"N={n}: width {model.width}, p={model.precision.bits}, bits {transcript.total_bits}")


def test_index_protocol_with_query_vector():
    n = 256
    red = commlb.get_reduction("index-to-index-lookup", n=n)
    model = build(red.task, n)
    inst = red.encode(np.arange(n) % 2, [7])
    transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst), cheap_queries=False)
    assert transcript.messages[0].label == "query L1"
    assert transcript.messages[0].bits == model.key_dim * model.precision.bits
    assert out.decision == 1
