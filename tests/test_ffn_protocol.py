"""The FFN protocol: bit-exact against the forward pass over random models, splits and
precisions; the counted bits equal the documented formula and the width is the exact
range of Alice's partial sums (checked by enumerating her inputs); one message, one
round; determinism; isolation; a corrupted message is caught."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb.protocol.ffn as ffn_protocol
from commlb.bits import Precision, acc_width, signed_width
from commlb.core import ALICE, BOB, PUBLIC
from commlb.errors import EngineError, InvalidInputError
from commlb.models.ffn import FFNModel
from commlb.protocol import simulate
from commlb.protocol.core import Split
from commlb.protocol.ffn import message_bits, simulate_ffn, uniform_bound_bits


def _split(kind, length, rng):
    if kind == "prefix":
        return Split.prefix(length, int(rng.integers(0, length + 1)))
    if kind == "interleave":
        base = np.where(rng.random(length) < 0.2, PUBLIC, ALICE).astype(np.int8)
        return Split.interleave(base)
    return Split(rng.integers(0, 3, length).astype(np.int8), "random")


models = st.fixed_dictionaries(
    {
        "vocab": st.integers(1, 4),
        "length": st.integers(1, 8),
        "hidden": st.integers(1, 5),
        "layers": st.integers(1, 3),
        "bits": st.integers(4, 22),
        "frac_share": st.floats(0.0, 0.9),
        "activation": st.sampled_from(["relu", "tanh"]),
        "kind": st.sampled_from(["binary", "class", "vector"]),
        "embed": st.sampled_from([None, 2]),
        "split": st.sampled_from(["prefix", "interleave", "random"]),
        "seed": st.integers(0, 2**31),
    }
)


def _model(a, prec):
    rng = np.random.default_rng(a["seed"])
    return FFNModel.random(a["vocab"], a["length"], rng, hidden=a["hidden"], layers=a["layers"],
                           precision=prec, activation=a["activation"], output_kind=a["kind"],
                           num_classes=3, embed_dim=a["embed"])


def _enumerated_width(model, alice):
    """Width of the exact range of Alice's partial sums, by trying every input of hers
    with the slow per-row path (independent of FFNModel.partial_range)."""
    lo, hi = 0, 0
    first = True
    for toks in itertools.product(range(model.vocab_size), repeat=alice.size):
        part = model.partial_preactivation(np.array(toks, dtype=np.int64), alice)
        if first:
            lo, hi, first = int(part.min()), int(part.max()), False
        else:
            lo, hi = min(lo, int(part.min())), max(hi, int(part.max()))
    return signed_width(lo, hi)


@settings(deadline=None, max_examples=80)
@given(models)
def test_fixed_point_protocol_is_bit_exact_and_bits_follow_formula(a):
    prec = Precision.fixed(a["bits"], int(a["frac_share"] * (a["bits"] - 1)))
    model = _model(a, prec)
    rng = np.random.default_rng(a["seed"] + 1)
    split = _split(a["split"], a["length"], rng)
    tokens = rng.integers(0, a["vocab"], a["length"])
    transcript, out = simulate_ffn(model, tokens, split)
    ref = model.forward(tokens)
    assert out.same_bits(ref) and np.array_equal(np.asarray(out.decision), np.asarray(ref.decision))
    assert transcript.meta["protocol_matches_forward"] is True
    alice = np.flatnonzero(split.owner == ALICE)
    both = alice.size > 0 and np.any(split.owner == BOB)
    assert transcript.total_bits == message_bits(model, split)
    if not both:
        assert transcript.total_bits == 0 and transcript.rounds == 0
        assert transcript.meta["output_party"] == ("alice" if alice.size else "bob")
        return
    assert len(transcript.messages) == 1 and transcript.rounds == 1 and transcript.one_way
    msg = transcript.messages[0]
    assert msg.sender == ALICE and msg.receiver == BOB
    assert transcript.meta["output_party"] == "bob"
    # the count is the payload's length, and it is h1 · (exact width of her range)
    assert msg.bits == len(msg.payload) == transcript.bits_alice_to_bob
    if a["vocab"] ** alice.size <= 4096:
        assert msg.bits == model.first_width * _enumerated_width(model, alice)
    assert msg.bits <= uniform_bound_bits(model, alice.size)
    per = 1 if model.onehot else model.in_dim
    assert uniform_bound_bits(model, alice.size) == model.first_width * acc_width(prec, alice.size * per, 2)
    # what crossed is exactly Alice's partial pre-activation (2f fractional bits)
    sent = msg.values()["z_partial"]
    assert np.array_equal(sent, model.partial_preactivation(tokens[alice], alice))
    assert msg.fields[0].kind == "acc" and msg.fields[0].frac == 2 * prec.frac


def _round_float(x: Fraction, prec: Precision) -> Fraction:
    """A rational rounded to the p-bit Merrill–Sabharwal format, written from the format's
    definition (docs/theory.md §3.7) in exact arithmetic: mantissa magnitude in
    [2^(m−2), 2^(m−1)) where the exponent range allows, rounded half away from zero, the
    largest magnitude on overflow."""
    if x == 0:
        return Fraction(0)
    mb, eb = prec.mant_bits, prec.exp_bits
    mmax, emax, emin = 2 ** (mb - 1) - 1, 2 ** (eb - 1) - 1, -(2 ** (eb - 1))
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1  # now 2^e <= a < 2^(e+1)
    e = min(max(e - (mb - 2), emin), emax)
    m = math.floor(a / Fraction(2) ** e + Fraction(1, 2))
    if m > mmax and e < emax:
        e += 1
        m = math.floor(a / Fraction(2) ** e + Fraction(1, 2))
    m = min(m, mmax)
    return (1 if x > 0 else -1) * m * Fraction(2) ** e


def _fraction_forward(model: FFNModel, tokens: np.ndarray) -> np.ndarray:
    """The float FFN's forward pass in rationals: every sum exact, every layer's sum
    rounded once by :func:`_round_float` (independent of FFNModel's integer grids)."""
    prec, P = model.precision, model.params

    def fr(a):
        return np.vectorize(Fraction, otypes=[object])(np.asarray(a, dtype=np.float64))

    def act(z):
        if model.config["activation"] == "relu":
            return np.array([max(v, 0) for v in z], dtype=object)
        return np.array([_round_float(Fraction(float(np.tanh(float(v)))), prec) for v in z], dtype=object)

    def layer(x, w, b):
        return np.array([_round_float(v, prec) for v in (x @ fr(w) + fr(b))], dtype=object)

    z = fr(P["b1"])
    for i, t in enumerate(tokens.tolist()):
        z = z + (fr(P["w1"][i, t]) if model.onehot else fr(P["embed"][t]) @ fr(P["w1"][i]))
    h = act(np.array([_round_float(v, prec) for v in z], dtype=object))
    for layer_no in range(2, model.layers + 1):
        h = act(layer(h, P[f"w{layer_no}"], P[f"b{layer_no}"]))
    return np.array([float(v) for v in layer(h, P["wout"], P["bout"])])


float_bits = st.sampled_from([4, 8, 12, 16, 20])


@settings(deadline=None, max_examples=60)
@given(models, float_bits)
def test_float_forward_is_exact_sums_rounded_once(a, bits):
    prec = Precision.float_(bits)
    model = _model(a, prec)
    tokens = np.random.default_rng(a["seed"] + 3).integers(0, a["vocab"], a["length"])
    assert np.array_equal(model.forward(tokens).values[0], _fraction_forward(model, tokens))


@settings(deadline=None, max_examples=60)
@given(models, float_bits)
def test_float_protocol_bit_for_bit_and_bits_are_the_encoded_lengths(a, bits):
    prec = Precision.float_(bits)
    model = _model(a, prec)
    rng = np.random.default_rng(a["seed"] + 2)
    split = _split(a["split"], a["length"], rng)
    tokens = rng.integers(0, a["vocab"], a["length"])
    transcript, out = simulate_ffn(model, tokens, split)
    ref = model.forward(tokens)
    assert out.same_bits(ref) and np.array_equal(np.asarray(out.decision), np.asarray(ref.decision))
    assert transcript.meta["protocol_matches_forward"] is True
    assert "float_tolerance" not in transcript.meta
    alice = np.flatnonzero(split.owner == ALICE)
    both = alice.size > 0 and np.any(split.owner == BOB)
    assert transcript.total_bits == message_bits(model, split)
    if not both:
        assert transcript.total_bits == 0 and transcript.rounds == 0
        return
    (msg,) = transcript.messages
    # the count is the encoded message's length, and the payload decodes to Alice's
    # exact partial sum: the rational sum of her weights, on the field's grid
    assert msg.bits == len(msg.payload) == transcript.bits_alice_to_bob
    (field,) = msg.fields
    assert field.kind == "acc" and field.frac >= 0
    assert msg.bits == model.first_width * field.width
    exact = [Fraction(0)] * model.first_width
    for i in alice.tolist():
        t = int(tokens[i])
        row = (model.params["w1"][i, t] if model.onehot
               else [sum(Fraction(float(e)) * Fraction(float(w)) for e, w in
                         zip(model.params["embed"][t], model.params["w1"][i][:, j]))
                     for j in range(model.first_width)])
        exact = [x + Fraction(float(v)) for x, v in zip(exact, row)]
    sent = msg.values()["z_partial"]
    assert [Fraction(int(v), 2 ** field.frac) for v in sent.tolist()] == exact
    assert all(-(1 << (field.width - 1)) <= int(v) < (1 << (field.width - 1)) for v in sent.tolist())
    # no wider than the uniform bound: |A|·k terms of f factors (f = 1 one-hot, 2 embedding),
    # recomputed from the format's largest value and resolution
    per = 1 if model.onehot else model.in_dim
    factors = 1 if model.onehot else 2
    top = alice.size * per * (Fraction(prec.max_value) / Fraction(prec.resolution)) ** factors
    uniform = model.first_width * (math.floor(top).bit_length() + 1)
    assert uniform_bound_bits(model, alice.size) == uniform
    assert msg.bits <= uniform


@pytest.mark.parametrize("bits", [8, 12, 16, 20])
@pytest.mark.parametrize("embed", [None, 2])
def test_float_width_is_the_exact_range_on_the_weights_grid(bits, embed):
    """The field is as narrow as one fixed-width field on that grid can be: every value
    Alice can send (enumerated) fits it and some need its full width; and the grid is the
    coarsest one every contribution of hers lies on (recomputed in rationals)."""
    rng = np.random.default_rng(bits)
    model = FFNModel.random(3, 6, rng, hidden=4, layers=2, precision=Precision.float_(bits), embed_dim=embed)
    split = Split.prefix(6, 3)
    alice = np.arange(3)
    (field,) = ffn_protocol.alice_fields(model, alice)
    sent = []
    for toks in itertools.product(range(3), repeat=3):
        tokens = np.array(list(toks) + [0, 0, 0])
        sent += [int(v) for v in simulate_ffn(model, tokens, split)[0].messages[0].values()["z_partial"].tolist()]
    assert field.width == signed_width(min(sent), max(sent))
    contributions = []
    for i in alice.tolist():
        for v in range(3):
            for j in range(model.first_width):
                if model.onehot:
                    c = Fraction(float(model.params["w1"][i, v, j]))
                else:
                    c = sum(Fraction(float(e)) * Fraction(float(w))
                            for e, w in zip(model.params["embed"][v], model.params["w1"][i][:, j]))
                contributions.append(c * 2**field.frac)
    assert all(c.denominator == 1 for c in contributions)
    assert field.frac == 0 or any(c.numerator % 2 for c in contributions)


@pytest.mark.parametrize("bits", [8, 16])
def test_float_corrupted_message_raises(monkeypatch, bits):
    """Alice's sums negated (−v − 1 stays inside the field): the read-out differs from
    the forward pass somewhere among these inputs, and verification (bit for bit) raises."""
    rng = np.random.default_rng(23)
    model = FFNModel.random(3, 6, rng, hidden=4, precision=Precision.float_(bits))
    split = Split.prefix(6, 3)
    real = ffn_protocol.alice_part

    def nudged(m, toks, pos):
        vals, sat = real(m, toks, pos)
        return -np.array(vals, dtype=object) - 1, sat

    monkeypatch.setattr(ffn_protocol, "alice_part", nudged)
    with pytest.raises(EngineError, match="ffn protocol output"):
        for _ in range(40):
            simulate_ffn(model, rng.integers(0, 3, 6), split)


def test_prefix_split_one_message_and_dispatcher():
    rng = np.random.default_rng(7)
    model = FFNModel.random(4, 12, rng, hidden=6, layers=2)
    tokens = rng.integers(0, 4, 12)
    split = Split.prefix(12, 5)
    transcript, out = simulate(model, tokens, split)  # through commlb.protocol's dispatcher
    assert transcript.meta["model_family"] == "ffn"
    assert transcript.rounds == 1 and transcript.bits_bob_to_alice == 0
    assert transcript.total_bits == 6 * transcript.meta["accumulator_width"]
    assert out.same_bits(model.forward(tokens))
    assert transcript.to_json()["total_bits"] == transcript.total_bits


def test_same_input_same_transcript():
    rng = np.random.default_rng(9)
    model = FFNModel.random(3, 10, rng, hidden=5, embed_dim=2, activation="tanh")
    tokens = rng.integers(0, 3, 10)
    split = Split(rng.integers(0, 3, 10).astype(np.int8))
    t1, o1 = simulate_ffn(model, tokens, split)
    t2, o2 = simulate_ffn(model, tokens, split)
    assert t1.fingerprint() == t2.fingerprint() and o1.same_bits(o2)
    model2 = FFNModel.random(3, 10, np.random.default_rng(9), hidden=5, embed_dim=2, activation="tanh")
    assert simulate_ffn(model2, tokens, split)[0].fingerprint() == t1.fingerprint()


def test_isolation_alice_payload_ignores_bob_and_bob_needs_only_the_message():
    rng = np.random.default_rng(13)
    model = FFNModel.random(4, 9, rng, hidden=4, layers=2)
    owner = np.array([ALICE, BOB, PUBLIC, ALICE, BOB, BOB, ALICE, PUBLIC, BOB], dtype=np.int8)
    split = Split(owner)
    alice = np.flatnonzero(owner == ALICE)
    bob = np.flatnonzero(owner == BOB)
    base = rng.integers(0, 4, 9)
    payload = simulate_ffn(model, base, split)[0].messages[0].payload
    for _ in range(30):
        other = base.copy()
        other[bob] = rng.integers(0, 4, bob.size)  # only Bob's tokens change
        assert simulate_ffn(model, other, split)[0].messages[0].payload == payload
    # and it does carry Alice's input: two of her tokens with different contributions
    table = model.contribution_table(alice)
    assert not np.array_equal(table[0, 0], table[0, 1])
    a1, a2 = base.copy(), base.copy()
    a1[alice[0]], a2[alice[0]] = 0, 1
    p1 = simulate_ffn(model, a1, split)[0].messages[0].payload
    p2 = simulate_ffn(model, a2, split)[0].messages[0].payload
    assert p1 != p2


def test_corrupted_message_raises(monkeypatch):
    rng = np.random.default_rng(17)
    model = FFNModel.random(3, 6, rng, hidden=4)
    tokens = rng.integers(0, 3, 6)
    split = Split.prefix(6, 3)
    real = ffn_protocol.alice_part

    def off_by_a_lot(m, toks, pos):
        vals, sat = real(m, toks, pos)
        return vals + (1 << (2 * m.precision.frac + 3)), sat  # +8 in value units

    monkeypatch.setattr(ffn_protocol, "alice_part", off_by_a_lot)
    with pytest.raises(EngineError):
        simulate_ffn(model, tokens, split)


def test_bad_inputs():
    rng = np.random.default_rng(0)
    model = FFNModel.random(3, 5, rng)
    with pytest.raises(InvalidInputError, match="split"):
        simulate_ffn(model, rng.integers(0, 3, 5), Split.prefix(4, 2))
    with pytest.raises(InvalidInputError, match="ffn"):
        simulate_ffn(object(), np.zeros(5, dtype=np.int64), Split.prefix(5, 2))


def test_float_sums_are_exact_where_float64_would_round():
    """2^40 + 2^−40 − 2^40 spans 81 bits: a float64 sum loses the 2^−40 (and the binary
    decision flips); the exact sum keeps it, in the forward pass and across the cut."""
    prec = Precision.float_(20)  # exponents −512..511, 10-bit mantissa
    big, tiny = 2.0**40, 2.0**-40
    params = {"w1": np.array([[[big]], [[tiny]]]), "b1": np.array([-big]),
              "wout": np.array([[1.0]]), "bout": np.array([0.0])}
    model = FFNModel(params, prec, {"length": 2, "vocab_size": 1, "hidden_sizes": [1]})
    tokens = np.zeros(2, dtype=np.int64)
    assert (big + tiny) - big == 0.0  # what float64 would compute
    ref = model.forward(tokens)
    assert ref.values.tolist() == [[tiny]] and ref.decision == 1
    for owner in ([ALICE, BOB], [BOB, ALICE]):
        transcript, out = simulate_ffn(model, tokens, Split(np.array(owner, dtype=np.int8)))
        assert out.same_bits(ref)
        (field,) = transcript.messages[0].fields
        sent = int(transcript.messages[0].values()["z_partial"][0])
        assert Fraction(sent, 2**field.frac) == Fraction(big if owner[0] == ALICE else tiny)
