"""The transformer model: exact arithmetic against a slow pure-Python reference, the helpers
(exact matmul, rounding division, dependency analysis), partial sums that add exactly,
float mode, persistence and input checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.base import MODEL_FAMILIES, load_model
from commlb.models.transformer import (
    TransformerModel,
    exact_matmul,
    needed_positions,
    round_div,
)

# ------------------------------------------------------------------ slow reference
# Plain Python integers, every position at every layer, no numpy arithmetic: an
# independent statement of the arithmetic in commlb/models/transformer.py's docstring.


def _rshift_round(acc, shift):
    return (acc + (1 << (shift - 1))) >> shift if shift > 0 else acc << (-shift)


def _clip(v, prec):
    return min(max(v, prec.raw_min), prec.raw_max)


def _lin(xrow, w, prec, bias=None, base=None):
    """w: list of rows (in_dim) of lists (out_dim)."""
    f = prec.frac
    out = []
    for j in range(len(w[0])):
        acc = sum(int(xrow[a]) * int(w[a][j]) for a in range(len(xrow)))
        if bias is not None:
            acc += int(bias[j]) << f
        if base is not None:
            acc += int(base[j]) << f
        out.append(_clip(_rshift_round(acc, f), prec))
    return out


def _exp_raw(d, prec):
    v = math.floor(math.exp(d / prec.scale) * prec.scale + 0.5)
    return min(v, prec.raw_max)


def _div(num, den):
    if den == 0:
        return 0
    return (2 * num + den) // (2 * den)


def reference_forward(model, tokens):
    prec = model.precision
    P = {k: v.tolist() for k, v in model.params.items()}
    cfg = model.config
    L, H, dv = cfg["layers"], cfg["heads"], cfg["value_dim"]
    n = len(tokens)
    f = prec.frac
    x = [[_clip(P["embed"][t][a] + P["pos"][i][a], prec) for a in range(cfg["width"])]
         for i, t in enumerate(tokens)]
    for layer in range(L):
        heads_out = []
        for h in range(H):
            q = [_lin(x[i], P["wq"][layer][h], prec) for i in range(n)]
            k = [_lin(x[i], P["wk"][layer][h], prec) for i in range(n)]
            v = [_lin(x[i], P["wv"][layer][h], prec) for i in range(n)]
            outs = []
            for i in range(n):
                js = range(i + 1) if cfg["causal"] else range(n)
                scores = {j: _clip(_rshift_round(sum(a * b for a, b in zip(q[i], k[j])), f), prec) for j in js}
                if cfg["attention"] == "hard":
                    best = max(scores.values())
                    w = {j: int(s == best) for j, s in scores.items()}
                    num = [sum(w[j] * v[j][c] for j in js) for c in range(dv)]
                else:
                    c = P["stab"][layer][h]
                    w = {j: _exp_raw(s - c, prec) for j, s in scores.items()}
                    num = [sum(w[j] * v[j][c2] for j in js) for c2 in range(dv)]
                den = sum(w.values())
                outs.append([_clip(_div(num[c2], den), prec) for c2 in range(dv)])
            heads_out.append(outs)
        new = []
        for i in range(n):
            flat = [heads_out[h][i][c] for h in range(H) for c in range(dv)]
            wo = [row for h in range(H) for row in P["wo"][layer][h]]
            xi = _lin(flat, wo, prec, base=x[i])
            if cfg["mlp_dim"]:
                hid = [max(0, t) for t in _lin(xi, P["w1"][layer], prec, bias=P["b1"][layer])]
                xi = _lin(hid, P["w2"][layer], prec, bias=P["b2"][layer], base=xi)
            new.append(xi)
        x = new
    outs = model.output_positions(n)
    return np.array([_lin(x[int(p)], P["wout"], prec, bias=P["bout"]) for p in outs], dtype=np.int64)


@st.composite
def fixed_precision(draw, lo=6, hi=24):
    p = draw(st.integers(lo, hi))
    f = draw(st.integers(1, p - 2))
    return Precision.fixed(p, f)


@st.composite
def small_model(draw, fixed=True):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    prec = draw(fixed_precision()) if fixed else Precision.float_(draw(st.sampled_from([8, 12, 16, 20])))
    attention = draw(st.sampled_from(["softmax", "hard"])) if fixed else "softmax"
    kind = draw(st.sampled_from(["binary", "class"]))
    model = TransformerModel.random(
        vocab_size=draw(st.integers(2, 7)), max_length=9, rng=rng,
        layers=draw(st.integers(1, 3)), heads=draw(st.integers(1, 2)), width=draw(st.integers(2, 6)),
        value_dim=draw(st.integers(1, 3)), precision=prec, causal=draw(st.booleans()),
        mlp=draw(st.booleans()), output_kind=kind, num_classes=3, attention=attention,
    )
    length = draw(st.integers(1, 9))
    tokens = rng.integers(0, model.vocab_size, size=length)
    return model, tokens


@settings(deadline=None, max_examples=40)
@given(small_model())
def test_forward_equals_slow_reference(case):
    model, tokens = case
    out = model.forward(tokens)
    ref = reference_forward(model, tokens.tolist())
    assert out.values.tolist() == ref.tolist()
    if model.config["output_kind"] == "binary":
        assert out.decision == int(ref[0, 0] > 0)
    else:
        assert out.decision == int(np.argmax(ref[0]))


# ------------------------------------------------------------------ helpers
@settings(deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.integers(1, 5), st.integers(1, 62),
       st.integers(1, 62), st.integers(0, 2**31))
def test_exact_matmul_equals_integer_matmul(k, rows, cols, abits, bbits, seed):
    rng = np.random.default_rng(seed)
    abits = min(abits, 62 - bbits - int(math.log2(k)) - 1) if abits + bbits + math.log2(k) > 61 else abits
    abits = max(abits, 1)
    a = rng.integers(-(2 ** abits) + 1, 2 ** abits, size=(rows, k), dtype=np.int64)
    b = rng.integers(-(2 ** bbits) + 1, 2 ** bbits, size=(k, cols), dtype=np.int64)
    expect = [[sum(int(a[i, t]) * int(b[t, j]) for t in range(k)) for j in range(cols)] for i in range(rows)]
    assert exact_matmul(a, b).tolist() == expect


def test_exact_matmul_wide_operands_split_into_limbs():
    a = np.array([[2**23 - 1, -(2**23)]] * 3, dtype=np.int64)
    b = np.array([[2**30 + 12345, -(2**29) - 7], [2**30 - 1, 2**30 - 3]], dtype=np.int64)
    expect = [[int(a[i, 0]) * int(b[0, j]) + int(a[i, 1]) * int(b[1, j]) for j in range(2)] for i in range(3)]
    assert exact_matmul(a, b).tolist() == expect


@given(st.integers(-(2**50), 2**50), st.integers(0, 2**30))
def test_round_div_is_nearest_with_ties_up(num, den):
    got = int(round_div(np.array([num]), np.array([den]))[0])
    if den == 0:
        assert got == 0
        return
    from fractions import Fraction

    exact = Fraction(num, den)
    assert abs(Fraction(got) - exact) <= Fraction(1, 2)
    if abs(Fraction(got) - exact) == Fraction(1, 2):
        assert Fraction(got) > exact  # tie toward +infinity


def test_round_div_ties():
    assert round_div(np.array([1, -1, 3, -3, 5]), np.array([2, 2, 2, 2, 0])).tolist() == [1, 0, 2, -1, 0]


def test_needed_positions():
    need = needed_positions(6, 2, [5], causal=False)
    assert need[2].tolist() == [5] and need[1].tolist() == list(range(6)) and need[0].tolist() == list(range(6))
    need = needed_positions(6, 2, [3], causal=True)
    assert need[2].tolist() == [3] and need[1].tolist() == [0, 1, 2, 3] and need[0].tolist() == [0, 1, 2, 3]


@settings(deadline=None)
@given(small_model(), st.integers(0, 2**31))
def test_partial_sums_over_a_partition_add_exactly(case, seed):
    model, tokens = case
    rng = np.random.default_rng(seed)
    n = tokens.size
    pos = np.arange(n)
    x, _ = model.embed_rows(tokens, pos)
    qkv, _ = model.qkv(0, x)
    full, _ = model.partial_sums(0, qkv["q"], pos, qkv["k"], qkv["v"], pos)
    side = rng.integers(0, 2, size=n).astype(bool)
    a, _ = model.partial_sums(0, qkv["q"], pos, qkv["k"][side], qkv["v"][side], pos[side])
    b, _ = model.partial_sums(0, qkv["q"], pos, qkv["k"][~side], qkv["v"][~side], pos[~side])
    both = a + b
    assert np.array_equal(both.num, full.num) and np.array_equal(both.den, full.den)
    if model.hard:
        assert np.array_equal(both.top[full.den > 0], full.top[full.den > 0])


# ------------------------------------------------------------------ float mode
@settings(deadline=None, max_examples=20)
@given(small_model(fixed=False))
def test_float_mode_values_are_representable(case):
    model, tokens = case
    out = model.forward(tokens)
    model.precision.float_fields(out.values)  # raises if not representable
    if model.config["output_kind"] == "binary":
        assert out.decision == int(out.values[0, 0] > 0)


def test_float_and_fixed_agree_roughly_on_a_model():
    rng = np.random.default_rng(3)
    fixed = TransformerModel.random(5, 12, rng, layers=2, heads=2, width=8, precision=Precision.fixed(24, 10))
    real_params = {k: fixed.precision.to_real(v) for k, v in fixed.params.items()}
    flt = TransformerModel(real_params, Precision.float_(20), fixed.config)
    compared = 0
    for _ in range(10):
        tokens = rng.integers(0, 5, size=12)
        out = fixed.forward(tokens)
        if out.saturations:  # then the two formats legitimately differ
            continue
        a = fixed.precision.to_real(out.values)
        b = flt.forward(tokens).values
        assert np.allclose(a, b, atol=0.05, rtol=0.05)
        compared += 1
    assert compared >= 5


# ------------------------------------------------------------------ registry, persistence, checks
def test_registered_and_save_load_round_trip(tmp_path):
    assert MODEL_FAMILIES["transformer"] is TransformerModel
    rng = np.random.default_rng(0)
    model = TransformerModel.random(6, 10, rng, layers=2, heads=2, width=6, mlp=True, causal=True,
                                    output_kind="class", num_classes=3)
    path = tmp_path / "tf.npz"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, TransformerModel)
    tokens = rng.integers(0, 6, size=10)
    assert loaded.forward(tokens).same_bits(model.forward(tokens))


def test_random_init_is_seeded():
    a = TransformerModel.random(4, 8, np.random.default_rng(7), layers=2, width=4)
    b = TransformerModel.random(4, 8, np.random.default_rng(7), layers=2, width=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_input_checks():
    model = TransformerModel.random(4, 5, np.random.default_rng(0))
    with pytest.raises(InvalidInputError):
        model.forward(np.array([0, 1, 2, 3, 0, 1]))  # longer than the positional table
    with pytest.raises(InvalidInputError):
        model.forward(np.array([0, 9]))
    with pytest.raises(InvalidInputError):
        TransformerModel.random(4, 5, np.random.default_rng(0), attention="hard", precision=Precision.float_(16))
    bad = dict(model.params)
    bad["wq"] = bad["wq"][:, :, :2]
    with pytest.raises(InvalidInputError):
        TransformerModel(bad, model.precision, model.config)


def test_output_positions_configurable():
    rng = np.random.default_rng(1)
    model = TransformerModel.random(4, 8, rng, width=4, output_positions=(2, -1), output_kind="class")
    tokens = rng.integers(0, 4, size=8)
    out = model.forward(tokens)
    assert out.values.shape == (2, 2) and len(out.decision) == 2
    ref = reference_forward(model, tokens.tolist())
    assert out.values.tolist() == ref.tolist()
