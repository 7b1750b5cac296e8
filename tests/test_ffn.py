"""The FFN model: exact arithmetic against a slow pure-Python reference, partial
pre-activations that add exactly over any partition, the batched reference against the
one-row path, the exact range of a partial sum, float mode, persistence, input checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.base import MODEL_FAMILIES, load_model
from commlb.models.ffn import FFNModel

# ------------------------------------------------------------------ slow reference
# Plain Python integers, written from the module docstring's arithmetic only.


def _round_shift(acc, shift):
    return (acc + (1 << (shift - 1))) >> shift if shift > 0 else acc << (-shift)


def _clip(v, prec):
    return min(max(v, prec.raw_min), prec.raw_max)


def _act(v, prec, activation):
    if activation == "relu":
        return max(v, 0)
    real = float(np.tanh(v / prec.scale))
    return _clip(math.floor(real * prec.scale + 0.5), prec)


def reference_forward(model, tokens):
    prec = model.precision
    f = prec.frac
    p = {k: v.tolist() for k, v in model.params.items()}
    hs = model.hidden_sizes
    T = model.length
    h = []
    for j in range(hs[0]):
        acc = 0
        for i in range(T):
            tok = int(tokens[i])
            if model.onehot:
                acc += p["w1"][i][tok][j] << f
            else:
                acc += sum(p["embed"][tok][k] * p["w1"][i][k][j] for k in range(model.in_dim))
        acc += p["b1"][j] << f
        h.append(_act(_clip(_round_shift(acc, f), prec), prec, model.config["activation"]))
    for layer in range(2, len(hs) + 1):
        w, b = p[f"w{layer}"], p[f"b{layer}"]
        nxt = []
        for j in range(hs[layer - 1]):
            acc = sum(h[k] * w[k][j] for k in range(len(h))) + (b[j] << f)
            nxt.append(_act(_clip(_round_shift(acc, f), prec), prec, model.config["activation"]))
        h = nxt
    out = []
    for o in range(len(p["bout"])):
        acc = sum(h[k] * p["wout"][k][o] for k in range(len(h))) + (p["bout"][o] << f)
        out.append(_clip(_round_shift(acc, f), prec))
    return out


model_args = st.fixed_dictionaries(
    {
        "vocab": st.integers(1, 5),
        "length": st.integers(1, 7),
        "hidden": st.integers(1, 6),
        "layers": st.integers(1, 3),
        "bits": st.integers(4, 20),
        "frac_share": st.floats(0.0, 0.9),
        "activation": st.sampled_from(["relu", "tanh"]),
        "kind": st.sampled_from(["binary", "class", "vector"]),
        "embed": st.sampled_from([None, 1, 3]),
        "seed": st.integers(0, 2**31),
    }
)


def make_model(a, precision=None):
    prec = precision or Precision.fixed(a["bits"], int(a["frac_share"] * (a["bits"] - 1)))
    rng = np.random.default_rng(a["seed"])
    return FFNModel.random(a["vocab"], a["length"], rng, hidden=a["hidden"], layers=a["layers"],
                           precision=prec, activation=a["activation"], output_kind=a["kind"],
                           num_classes=3, embed_dim=a["embed"])


@settings(deadline=None, max_examples=80)
@given(model_args, st.data())
def test_forward_matches_slow_reference(a, data):
    model = make_model(a)
    tokens = np.array(data.draw(st.lists(st.integers(0, a["vocab"] - 1), min_size=a["length"],
                                         max_size=a["length"])), dtype=np.int64)
    out = model.forward(tokens)
    assert out.values.shape == (1, 1 if a["kind"] == "binary" else 3)
    assert out.values.tolist()[0] == reference_forward(model, tokens)
    if a["kind"] == "binary":
        assert out.decision == int(out.values[0, 0] > 0)
    elif a["kind"] == "class":
        assert out.decision == int(np.argmax(out.values[0]))


@settings(deadline=None, max_examples=60)
@given(model_args, st.data())
def test_partials_add_exactly_over_any_partition(a, data):
    model = make_model(a)
    T = a["length"]
    tokens = np.array(data.draw(st.lists(st.integers(0, a["vocab"] - 1), min_size=T, max_size=T)))
    parts = np.array(data.draw(st.lists(st.integers(0, 2), min_size=T, max_size=T)))
    total = model.partial_preactivation(tokens, np.arange(T))
    summed = np.zeros_like(total)
    for part in range(3):
        pos = np.flatnonzero(parts == part)
        summed += model.partial_preactivation(tokens[pos], pos)
    assert summed.dtype == np.int64
    assert np.array_equal(summed, total)
    # and the forward pass is finish() of that total
    assert model.forward(tokens).same_bits(model.finish(summed))


@settings(deadline=None, max_examples=40)
@given(model_args, st.integers(0, 2**31))
def test_batch_reference_equals_one_row_path(a, seed):
    model = make_model(a)
    rng = np.random.default_rng(seed)
    T = a["length"]
    positions = np.sort(rng.choice(T, size=int(rng.integers(0, T + 1)), replace=False))
    rows = rng.integers(0, a["vocab"], size=(int(rng.integers(1, 9)), positions.size))
    batch = model.partial_preactivation_batch(rows, positions)
    assert batch.shape == (rows.shape[0], model.first_width)
    for r in range(rows.shape[0]):
        assert np.array_equal(batch[r], model.partial_preactivation(rows[r], positions))
    # the kernel contract: out[b, j] = sum_k table[k, tokens[b, k], j]
    table = model.contribution_table(positions)
    for r in range(rows.shape[0]):
        want = sum((table[k, rows[r, k]] for k in range(positions.size)),
                   np.zeros(model.first_width, dtype=np.int64))
        assert np.array_equal(batch[r], want)


@settings(deadline=None, max_examples=40)
@given(model_args, st.integers(0, 2**31))
def test_partial_range_is_exact(a, seed):
    """Every partial sum lies in [lo, hi], and both ends are attained by some tokens."""
    model = make_model(a)
    rng = np.random.default_rng(seed)
    T = a["length"]
    positions = np.sort(rng.choice(T, size=int(rng.integers(1, T + 1)), replace=False))
    lo, hi = model.partial_range(positions)
    rows = rng.integers(0, a["vocab"], size=(50, positions.size))
    vals = model.partial_preactivation_batch(rows, positions)
    assert np.all(vals >= lo) and np.all(vals <= hi)
    table = model.contribution_table(positions)
    for j in range(model.first_width):
        arg_lo = table[:, :, j].argmin(axis=1)
        arg_hi = table[:, :, j].argmax(axis=1)
        assert model.partial_preactivation(arg_lo, positions)[j] == lo[j]
        assert model.partial_preactivation(arg_hi, positions)[j] == hi[j]


def test_contribution_table_layout():
    rng = np.random.default_rng(3)
    prec = Precision.fixed(12, 5)
    onehot = FFNModel.random(4, 6, rng, hidden=3, precision=prec)
    table = onehot.contribution_table(np.array([2, 5]))
    assert table.shape == (2, 4, 3) and table.dtype == np.int64
    assert np.array_equal(table[1, 3], onehot.params["w1"][5, 3] << 5)
    emb = FFNModel.random(4, 6, rng, hidden=3, precision=prec, embed_dim=2)
    table = emb.contribution_table(np.array([4]))
    want = [sum(int(emb.params["embed"][2, k]) * int(emb.params["w1"][4, k, j]) for k in range(2))
            for j in range(3)]
    assert table[0, 2].tolist() == want


def test_float_mode_close_to_real_arithmetic():
    """Float mode: the forward pass stays within a few format steps of the same network
    computed in float64 without intermediate rounding (on weights of the format)."""
    rng = np.random.default_rng(11)
    for bits in (12, 16, 20):
        prec = Precision.float_(bits)
        model = FFNModel.random(3, 8, rng, hidden=6, layers=2, precision=prec)
        p = model.params
        for _ in range(20):
            tokens = rng.integers(0, 3, 8)
            x = sum(p["w1"][i, tokens[i]] for i in range(8)) + p["b1"]
            h = np.maximum(x, 0)
            h = np.maximum(h @ p["w2"] + p["b2"], 0)
            real = h @ p["wout"] + p["bout"]
            got = model.forward(tokens).values[0]
            rel = 2.0 ** (4 - bits // 2)
            assert np.all(np.abs(got - real) <= rel * (1 + np.abs(real)))


def test_registered_save_load_roundtrip(tmp_path):
    assert MODEL_FAMILIES["ffn"] is FFNModel
    rng = np.random.default_rng(5)
    for prec in (Precision.fixed(10), Precision.float_(12)):
        model = FFNModel.random(3, 5, rng, hidden=4, layers=2, precision=prec, embed_dim=2,
                                activation="tanh", output_kind="class", num_classes=3)
        path = tmp_path / f"ffn_{prec.kind}.npz"
        model.save(path)
        back = load_model(path)
        assert isinstance(back, FFNModel) and back.precision == prec
        assert back.config == model.config
        for tokens in rng.integers(0, 3, size=(10, 5)):
            assert back.forward(tokens).same_bits(model.forward(tokens))


def test_same_seed_same_model():
    a = FFNModel.random(4, 9, np.random.default_rng(42), hidden=5, layers=2)
    b = FFNModel.random(4, 9, np.random.default_rng(42), hidden=5, layers=2)
    assert a.params.keys() == b.params.keys()
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_input_checks():
    rng = np.random.default_rng(0)
    model = FFNModel.random(3, 4, rng)
    with pytest.raises(InvalidInputError, match="exactly 4 tokens"):
        model.forward(np.array([0, 1, 2]))
    with pytest.raises(InvalidInputError, match="token ids"):
        model.forward(np.array([0, 1, 2, 3]))
    with pytest.raises(InvalidInputError):
        model.forward(np.array([[0, 1], [2, 0]]))
    with pytest.raises(InvalidInputError, match="positions"):
        model.contribution_table(np.array([4]))
    with pytest.raises(InvalidInputError, match="shape"):
        model.partial_preactivation_batch(np.zeros((2, 3), dtype=np.int64), np.array([0, 1]))
    with pytest.raises(InvalidInputError, match="activation"):
        FFNModel.random(3, 4, rng, activation="sigmoid")
    bad = dict(model.params)
    bad["w1"] = bad["w1"][:, :2]
    with pytest.raises(InvalidInputError, match="w1"):
        FFNModel(bad, model.precision, model.config)


def test_refuses_accumulators_that_could_overflow_int64():
    rng = np.random.default_rng(0)
    # 2^17 positions of 24-bit products: 17 + 46 + sign > 63 bits
    with pytest.raises(InvalidInputError, match="overflow"):
        FFNModel.random(1, 1 << 17, rng, hidden=1, precision=Precision.fixed(24))
    FFNModel.random(1, 1 << 12, rng, hidden=1, precision=Precision.fixed(24))
