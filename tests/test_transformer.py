"""The transformer model: exact arithmetic against a slow pure-Python reference, the helpers
(exact matmul, rounding division, dependency analysis), partial sums that add exactly,
float mode, persistence and input checks; the field embedding (``embed_fields``) against
the same reference, and the qSA / qSTR constructions that use it saved, reloaded and run
again bit for bit (forward, protocol transcript, CLI JSON)."""

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
    pack_fields,
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


def _ref_token_row(P, cfg, t):
    """The token's embedding before the positional code, in Python integers: one table row,
    or with ``embed_fields`` the sum of one row per mixed-radix digit (field 0 least
    significant; field k's rows start after the rows of fields 0..k-1)."""
    sizes = cfg.get("embed_fields")
    if sizes is None:
        return P["embed"][t]
    row = [0] * cfg["width"]
    rest, offset = int(t), 0
    for size in sizes:
        rest, digit = divmod(rest, int(size))
        row = [a + b for a, b in zip(row, P["embed"][offset + digit])]
        offset += int(size)
    assert rest == 0, "token id beyond the product of the field sizes"
    return row


def reference_forward(model, tokens):
    prec = model.precision
    P = {k: v.tolist() for k, v in model.params.items()}
    cfg = model.config
    L, H, dv = cfg["layers"], cfg["heads"], cfg["value_dim"]
    n = len(tokens)
    f = prec.frac
    x = []
    for i, t in enumerate(tokens):
        row = _ref_token_row(P, cfg, t)
        x.append([_clip(row[a] + P["pos"][i][a], prec) for a in range(cfg["width"])])
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
    # keep the exact result inside int64 (k products below 2^(abits + bbits) each): the
    # contract of exact_matmul, whose int64 answer wraps like any int64 matmul beyond it
    lg = math.ceil(math.log2(k))
    bbits = min(bbits, 61 - lg)
    abits = max(1, min(abits, 62 - lg - bbits))
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


# ------------------------------------------------------------------ field embedding
@st.composite
def field_model(draw, fixed=True):
    """A random transformer whose tokens pack 1-4 fields (config ``embed_fields``)."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    prec = draw(fixed_precision()) if fixed else Precision.float_(draw(st.sampled_from([8, 12, 16, 20])))
    attention = draw(st.sampled_from(["softmax", "hard"])) if fixed else "softmax"
    model = TransformerModel.random(
        vocab_size=math.prod(sizes), max_length=8, rng=rng, embed_fields=sizes,
        layers=draw(st.integers(1, 2)), heads=draw(st.integers(1, 2)), width=draw(st.integers(2, 6)),
        value_dim=draw(st.integers(1, 3)), precision=prec, causal=draw(st.booleans()),
        mlp=draw(st.booleans()), output_kind="class", num_classes=3, attention=attention,
    )
    length = draw(st.integers(1, 8))
    tokens = rng.integers(0, model.vocab_size, size=length)
    return model, tokens


def test_field_embedding_table_and_vocabulary():
    model = TransformerModel.random(60, 5, np.random.default_rng(0), width=4, embed_fields=[3, 4, 5])
    assert model.vocab_size == 60 and model.embed_table_rows == 12 and model.params["embed"].shape == (12, 4)
    assert model.embed_fields == [3, 4, 5]
    # token 7 + 3·2 + 12·4 = 61 is out of range; 3·4·5 - 1 = 59 is the largest id
    assert [f.tolist() for f in model.field_ids(np.array([0, 59, 1 + 3 * 2 + 12 * 4]))] == [[0, 2, 1], [0, 3, 2],
                                                                                        [0, 4, 4]]


@settings(deadline=None, max_examples=40)
@given(field_model())
def test_field_embedding_rows_equal_slow_reference(case):
    model, tokens = case
    prec = model.precision
    P = {k: v.tolist() for k, v in model.params.items()}
    rows, sat = model.embed_rows(tokens, np.arange(tokens.size))
    expect, clipped = [], 0
    for i, t in enumerate(tokens.tolist()):
        row = [a + b for a, b in zip(_ref_token_row(P, model.config, t), P["pos"][i])]
        clipped += sum(v != _clip(v, prec) for v in row)
        expect.append([_clip(v, prec) for v in row])
    assert rows.tolist() == expect and sat == clipped


@settings(deadline=None, max_examples=30)
@given(field_model())
def test_field_embedding_forward_equals_slow_reference(case):
    model, tokens = case
    out = model.forward(tokens)
    ref = reference_forward(model, tokens.tolist())
    assert out.values.tolist() == ref.tolist()
    assert out.decision == int(np.argmax(ref[0]))


@settings(deadline=None, max_examples=20)
@given(field_model(fixed=False))
def test_field_embedding_float_mode_is_one_rounding_of_the_ordered_sum(case):
    model, tokens = case
    rows, _ = model.embed_rows(tokens, np.arange(tokens.size))
    sizes = model.embed_fields
    for i, t in enumerate(tokens.tolist()):
        acc = model.params["pos"][i].astype(np.float64).copy()
        rest, offset = t, 0
        for size in sizes:  # pos, then fields 0, 1, ... (the documented order)
            rest, digit = divmod(rest, size)
            acc = acc + model.params["embed"][offset + digit]
            offset += size
        assert rows[i].tolist() == model.precision.quantize(acc).values.tolist()


@settings(deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.integers(0, 2**31 - 1))
def test_pack_fields_inverts_field_ids(sizes, seed):
    rng = np.random.default_rng(seed)
    model = TransformerModel.random(math.prod(sizes), 3, rng, width=2, embed_fields=sizes)
    values = [rng.integers(0, s, size=6) for s in sizes]
    ids = pack_fields(values, sizes)
    assert ids.min() >= 0 and ids.max() < model.vocab_size
    assert [v.tolist() for v in model.field_ids(ids)] == [v.tolist() for v in values]
    # mixed radix, field 0 least significant, in plain integers
    for j in range(6):
        expect, mult = 0, 1
        for v, s in zip(values, sizes):
            expect += int(v[j]) * mult
            mult *= s
        assert int(ids[j]) == expect


def test_field_embedding_checks():
    rng = np.random.default_rng(0)
    model = TransformerModel.random(12, 4, rng, width=3, embed_fields=[3, 4])
    cfg = dict(model.config)
    with pytest.raises(InvalidInputError, match="product"):
        TransformerModel(model.params, model.precision, {**cfg, "embed_fields": [3, 5]})
    with pytest.raises(InvalidInputError, match="product"):
        TransformerModel(model.params, model.precision, {**cfg, "embed_fields": []})
    with pytest.raises(InvalidInputError, match="'embed' has shape"):
        # a table of one row per token is refused once the config says fields
        TransformerModel({**model.params, "embed": np.zeros((12, 3), dtype=np.int64)}, model.precision, cfg)
    with pytest.raises(InvalidInputError, match="2\\^63"):
        TransformerModel.random(3**40, 2, rng, width=2, embed_fields=[3] * 40)  # 3^40 > 2^63
    with pytest.raises(InvalidInputError):
        pack_fields([np.array([3]), np.array([0])], [3, 4])  # field 0 value out of range
    with pytest.raises(InvalidInputError):
        model.forward(np.array([12]))  # token ids stop at 3·4 - 1


# ------------------------------------------------------------------ qSA / qSTR constructions persist
def _construction(kind, **options):
    import commlb
    from commlb.models.constructions import qsa, qstr

    if kind == "qsa":
        q, d, n = options.pop("q"), options.pop("d"), options.pop("n")
        task = commlb.get_task("qsa", q=q, d_out=d)
        return task, qsa.build(task, n, **options), qsa.token_ids, n
    q, d, n, link = options.pop("q"), options.pop("d"), options.pop("n"), options.pop("link")
    task = commlb.get_task("qstr", q=q, d=d, link=link)
    return task, qstr.build(task, n, **options), qstr.token_ids, n


@pytest.mark.parametrize("kind,options", [
    ("qsa", {"q": 2, "d": 2, "n": 12}),
    ("qsa", {"q": 3, "d": 1, "n": 7, "attention": "softmax"}),
    ("qstr", {"q": 2, "d": 1, "n": 8, "link": "norm2"}),
    ("qstr", {"q": 1, "d": 2, "n": 6, "link": "he2", "outputs": "last"}),
])
def test_construction_save_load_round_trip_is_bit_identical(tmp_path, kind, options):
    from commlb.protocol.core import Split
    from commlb.protocol.transformer import simulate_transformer

    task, model, encode, n = _construction(kind, **options)
    assert type(model) is TransformerModel and model.embed_table_rows < model.vocab_size
    path = tmp_path / f"{kind}.npz"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is TransformerModel
    assert loaded.config == model.config and loaded.precision == model.precision
    assert set(loaded.params) == set(model.params)
    assert all(np.array_equal(loaded.params[k], model.params[k]) for k in model.params)
    rng = np.random.default_rng(4)
    for split in (Split.prefix(n, n // 2), Split.interleave(np.zeros(n, dtype=np.int8))):
        tokens = task.generate(rng, n)
        ids = encode(loaded, tokens)
        assert np.array_equal(ids, encode(model, tokens))
        before, after = model.forward(ids), loaded.forward(ids)
        assert after.same_bits(before) and after.saturations == before.saturations
        t_before, out_before = simulate_transformer(model, ids, split)
        t_after, out_after = simulate_transformer(loaded, ids, split)
        assert t_after.to_json() == t_before.to_json()
        assert out_after.same_bits(out_before) and out_after.same_bits(after)


def test_query_token_message_counts_the_full_vocabulary():
    """A query sent as its token id costs ⌈log2 V⌉ bits for the product vocabulary V, not
    ⌈log2⌉ of the (much smaller) field table, and the id sent is the packed token."""
    from commlb.bits import unsigned_width
    from commlb.core import ALICE, BOB
    from commlb.protocol.core import Split
    from commlb.protocol.transformer import message_bits, simulate_transformer

    task, model, encode, n = _construction("qsa", q=2, d=1, n=16)
    full = model.vocab_size
    assert full == math.prod(model.embed_fields)
    assert (full - 1).bit_length() > (model.embed_table_rows - 1).bit_length()
    assert message_bits(model, "query-token", 3) == 3 * (full - 1).bit_length() == 3 * unsigned_width(full - 1)
    tokens = task.generate(np.random.default_rng(2), n)
    ids = encode(model, tokens)
    owner = np.full(n, BOB, dtype=np.int8)
    owner[[0, 5]] = ALICE  # Alice holds two tokens; Bob's 14 keys answer her queries
    split = Split(owner, "two")
    transcript, out = simulate_transformer(model, ids, split)
    sent = [m for m in transcript.to_json()["messages"] if m["label"].startswith("query-token")]
    assert sent, "the cheap-query path was not taken"
    for msg in sent:
        count = len(msg["values"]["token"])
        assert msg["bits"] == count * (full - 1).bit_length()
        assert set(msg["values"]["token"]) <= set(ids.tolist())
    assert out.same_bits(model.forward(ids))


def test_cli_qsa_save_weights_then_load_gives_the_same_transcript(tmp_path, capsys):
    import json

    from commlb.cli.main import main

    path = str(tmp_path / "qsa.npz")
    main(["simulate", "--task", "qsa", "--model", "transformer", "--json", "--save-weights", path])
    first = json.loads(capsys.readouterr().out)
    main(["simulate", "--task", "qsa", "--model", "transformer", "--json", "--weights", path])
    again = json.loads(capsys.readouterr().out)
    assert first["params"]["weights"] == "construction" and again["params"]["weights"] == "file"
    assert first["protocol_matches_forward"] and again["protocol_matches_forward"]
    assert any(m["label"].startswith("query-token") for m in first["messages"])
    for key in ("params", "precision"):
        first[key].pop("weights", None), first[key].pop("note", None)
        again[key].pop("weights", None), again[key].pop("note", None)
    assert again == first
