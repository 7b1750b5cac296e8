"""Alice-side message kernels (commlb.kernels.alice): kernel == plain numpy twin == the
protocol engine's own transcript, over random models, inputs, ranges and key widths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import FieldSpec, Precision, encode
from commlb.kernels import alice as K
from commlb.models.rnn import RNNModel
from commlb.protocol import simulate
from commlb.protocol.core import Split
from commlb.registry import get_reduction
from commlb.simulate import build_model, resolve_task
from commlb.witness import message_source
from commlb.witness.sources import engine_values


# ------------------------------------------------------------------ keys
@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=8), st.integers(0, 2**31))
def test_keys_kernel_equals_reference(widths, seed):
    rng = np.random.default_rng(seed)
    widths = np.array(widths, dtype=np.int64)
    rows = np.stack([rng.integers(-(1 << (min(w, 63) - 1)) if w > 1 else 0,
                                  (1 << (min(w, 63) - 1)) if w > 1 else 2, size=50) for w in widths], axis=1)
    assert np.array_equal(K.key_rows(rows, widths), K.key_rows_reference(rows, widths))


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(1, 16), min_size=1, max_size=4), st.integers(0, 2**31))
def test_packed_key_is_the_payload_integer(widths, seed):
    """At most 64 bits: the key is the integer whose bits are the engine's payload."""
    rng = np.random.default_rng(seed)
    specs = [FieldSpec(f"v{i}", "int", (), w) for i, w in enumerate(widths)]
    vals = {s.name: int(rng.integers(-(1 << (s.width - 1)), 1 << (s.width - 1))) if s.width > 1 else 0
            for s in specs}
    payload = encode(specs, vals)
    expect = int("".join(str(b) for b in payload.bits.tolist()), 2)
    row = np.array([[vals[s.name] for s in specs]], dtype=np.int64)
    assert int(K.key_rows(row, np.array(widths))[0]) == expect
    assert int(K.key_rows_reference(row, np.array(widths))[0]) == expect


def test_hash_keys_separate_close_messages():
    rows = np.zeros((17, 5), dtype=np.int64)
    for i in range(1, 17):
        rows[i, i % 5] = i
    keys = K.key_rows(rows, np.full(5, 20))
    assert np.unique(keys).size == 17


# ------------------------------------------------------------------ additive
@settings(deadline=None, max_examples=30)
@given(st.integers(1, 6), st.integers(2, 3), st.integers(1, 5), st.integers(0, 2**31), st.booleans())
def test_additive_kernels_equal_reference(D, base, W, seed, wide):
    rng = np.random.default_rng(seed)
    tables = rng.integers(-1000, 1000, size=(D, base, W))
    offset = rng.integers(-50, 50, size=W)
    widths = np.full(W, 40 if wide else 12)
    N = base**D
    t0 = int(rng.integers(0, N))
    t1 = int(rng.integers(t0, N + 1))
    got = K.additive_keys(tables, offset, widths, t0, t1)
    assert np.array_equal(got, K.additive_keys_reference(tables, offset, widths, t0, t1))
    toks = rng.integers(0, base, size=(30, D))
    assert np.array_equal(K.additive_rows(tables, toks), K.additive_rows_reference(tables, toks))
    # rows of inputs x = sum digit_j base^j agree with the odometer's keys
    xs = np.arange(t0, t1)
    digits = np.stack([(xs // base**j) % base for j in range(D)], axis=1) if xs.size else np.zeros((0, D), int)
    rows = K.additive_rows_reference(tables, digits) + offset
    assert np.array_equal(K.key_rows_reference(rows, widths), got)


# ------------------------------------------------------------------ RNN
def _random_rnn(rng, d, L, act, bits, frac, vocab=5):
    return RNNModel.random(vocab, rng, hidden=d, layers=L, activation=act,
                           precision=Precision.fixed(bits, frac))


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 6), st.integers(1, 2), st.sampled_from(["tanh", "relu", "threshold"]),
       st.integers(3, 16), st.integers(0, 2**31))
def test_rnn_rows_equal_model_run(d, L, act, bits, seed):
    rng = np.random.default_rng(seed)
    frac = int(rng.integers(0, bits))
    model = _random_rnn(rng, d, L, act, bits, frac)
    arrays = K.RNNArrays.from_model(model)
    toks = rng.integers(0, 5, size=(20, int(rng.integers(1, 7))))
    want = np.stack([model.run(model.initial_state(), row)[0].reshape(-1) for row in toks])
    assert np.array_equal(K.rnn_rows(arrays, toks), want)
    assert np.array_equal(K.rnn_rows_reference(arrays, toks), want)
    # the model's own batched step (its numpy reference) agrees too
    states = np.broadcast_to(model.initial_state(), (toks.shape[0],) + model.state_shape).copy()
    for t in range(toks.shape[1]):
        states, _ = model.step_batch(states, toks[:, t])
    assert np.array_equal(states.reshape(toks.shape[0], -1), want)


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 5), st.integers(1, 2), st.sampled_from(["tanh", "relu", "threshold"]),
       st.integers(0, 2**31))
def test_rnn_tree_keys_equal_reference(d, L, act, seed):
    rng = np.random.default_rng(seed)
    bits = int(rng.integers(3, 17))
    model = _random_rnn(rng, d, L, act, bits, int(rng.integers(0, bits)))
    arrays = K.RNNArrays.from_model(model)
    n_levels = int(rng.integers(1, 7))
    radix = rng.integers(1, 4, size=n_levels)
    level_tokens = np.full((n_levels, 3), -1, dtype=np.int64)
    for l in range(n_levels):
        level_tokens[l, : radix[l]] = rng.integers(-1, 5, size=radix[l])  # -1: reads nothing
    N = int(np.prod(radix))
    t0 = int(rng.integers(0, N))
    t1 = int(rng.integers(t0, N + 1))
    got = K.rnn_keys(arrays, level_tokens, radix, t0, t1)
    assert np.array_equal(got, K.rnn_keys_reference(arrays, level_tokens, radix, t0, t1))
    # and each leaf's key is the key of model.run on its tokens (skipping -1)
    toks = K.tree_tokens(np.arange(t0, t1), radix, level_tokens)
    for leaf, row in zip(range(t0, t1), toks):
        state = model.run(model.initial_state(), row[row >= 0])[0].reshape(1, -1)
        assert got[leaf - t0] == K.key_rows(state, np.full(state.size, model.precision.bits))[0]


def test_rnn_wide_weights_fall_back_to_int64_twin():
    """p = 24 and d = 64: partial sums may pass 2^52, so the float64 kernel must not run."""
    rng = np.random.default_rng(5)
    model = _random_rnn(rng, 64, 1, "relu", 24, 4)
    model.params["w_rec"][:] = model.precision.raw_max  # worst case magnitudes
    arrays = K.RNNArrays.from_model(model)
    assert not arrays.use_float
    toks = rng.integers(0, 5, size=(3, 3))
    want = np.stack([model.run(model.initial_state(), row)[0].reshape(-1) for row in toks])
    assert np.array_equal(K.rnn_rows(arrays, toks), want)


def test_tree_to_input_is_a_bijection():
    radix = np.array([2, 1, 3, 2])
    digit = np.array([2, -1, 0, 1])  # base 3 digits: level 0 reads digit 2, ...
    leaves = np.arange(int(np.prod(radix)))
    xs = K.tree_to_input(leaves, radix, digit, 3)
    assert np.unique(xs).size == leaves.size


# ------------------------------------------------------------------ against the engine
def _setup_model(task, family, n, seed, **sizes):
    setup = resolve_task(task, n)
    built = build_model(setup, family, weights="random", seed=seed, **sizes)
    return setup, built.model


CASES = [
    ("index-lookup", "rnn", dict(hidden=3, precision=8)),
    ("disjointness", "rnn", dict(hidden=2, layers=2, precision=6)),
    ("equality", "transformer", dict(layers=1, heads=2, width=4, precision=6)),
    ("disjointness", "transformer", dict(layers=1, heads=1, width=2, precision=5)),
    ("disjointness", "ffn", dict(hidden=3, precision=6)),
    ("index-lookup", "ffn", dict(hidden=2, layers=2, precision=8)),
]


@pytest.mark.parametrize("backend", ["numba", "python"])
@pytest.mark.parametrize("task,family,sizes", CASES)
def test_source_rows_and_tree_equal_engine_transcripts(task, family, sizes, backend, monkeypatch):
    import commlb.witness.sources as sources_mod

    monkeypatch.setattr(sources_mod, "PLAIN_UPTO_ROWS", 0)  # the compiled per-input rows, however few
    setup, model = _setup_model(task, family, 6, 3, **sizes)
    red = setup.reduction
    src = message_source(red, model, backend=backend)
    split = Split.from_instance(red.encode(np.zeros(6, dtype=np.int64), red.problem.y_space.from_index(0)))
    N = src.n_inputs
    keys = src.keys_tree(0, N)
    digits = src.leaves_to_digits(np.arange(N))
    rows = src.rows(digits)
    rng = np.random.default_rng(0)
    for leaf in rng.choice(N, size=8, replace=False):
        x = digits[leaf]
        y = red.problem.y_space.sample(rng)
        tr, _ = simulate(model, red.encode(x, y).tokens, split)
        assert all(m.sender == 0 for m in tr.messages)
        assert np.array_equal(rows[leaf], engine_values(tr))
        if src.exact_keys:
            bits = "".join(str(b) for m in tr.messages for b in m.payload.bits.tolist())
            assert int(keys[leaf]) == int(bits, 2)
    assert np.array_equal(keys, K.key_rows_reference(rows, src.widths))


def test_transformer_keys_values_mode_equals_engine():
    """When Alice has few positions, the engine sends her keys and values instead of
    partial sums: the slot tables must reproduce that message too."""
    red = get_reduction("disj-to-disjointness", n=1)
    setup = resolve_task("disjointness", 1)
    model = build_model(setup, "transformer", weights="random", layers=1, heads=1, width=8, precision=8).model
    src = message_source(red, model, backend="python")
    tr, _ = simulate(model, red.encode(np.array([1]), np.array([0])).tokens,
                     Split.from_instance(red.encode(np.array([1]), np.array([0]))))
    assert tr.messages[0].label.startswith("keys-values")
    assert np.array_equal(src.rows(np.array([[1]]))[0], engine_values(tr))
