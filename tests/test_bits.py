import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from commlb.bits import (
    FieldSpec,
    Payload,
    Precision,
    acc_width,
    decode,
    encode,
    round_shift,
    signed_width,
)
from commlb.errors import EngineError, InvalidInputError

fixed_precisions = st.integers(2, 24).flatmap(
    lambda p: st.integers(0, p - 1).map(lambda f: Precision.fixed(p, f))
)
float_precisions = st.sampled_from([4, 6, 8, 12, 16, 20]).map(Precision.float_)


@given(fixed_precisions, st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_fixed_quantize_rounds_to_nearest_and_saturates(prec, values):
    """Checked against the definition in exact rational arithmetic, not the rounding
    formula: a value is within half a step of its raw value (ties round up), or it lies
    beyond the range and gets the nearest end, and only those count as saturated."""
    values = values + [(2 * j + 1) / (2 * prec.scale) for j in range(-3, 3)]  # ties
    q = prec.quantize(np.array(values))
    raw = q.values
    assert raw.dtype == np.int64
    assert raw.min() >= prec.raw_min and raw.max() <= prec.raw_max
    scale = Fraction(prec.scale)
    half = 1 / (2 * scale)
    saturated = 0
    for v, r in zip(values, raw.tolist()):
        gap = Fraction(v) - r / scale  # value minus its grid point
        if -half <= gap < half:
            continue  # the nearest grid point (ties up), inside the range
        saturated += 1
        assert r == (prec.raw_max if gap > 0 else prec.raw_min)
    assert q.saturated == saturated


def test_fixed_ties_go_up():
    prec = Precision.fixed(8, 1)
    assert prec.quantize([0.25, -0.25, 0.75]).values.tolist() == [1, 0, 2]
    assert round_shift(np.array([1, -1, 3, -3]), 1).tolist() == [1, 0, 2, -1]


@given(fixed_precisions, st.integers(1, 300), st.integers(0, 2**32))
def test_acc_width_holds_every_partial_sum_and_is_minimal(prec, terms, seed):
    """A protocol sends partial dot products (some of the terms) in ``acc_width`` bits:
    every partial sum of ``terms`` products of raw values goes through the codec
    unchanged, the worst case (all factors at the most negative raw value) included,
    and one bit fewer cannot hold that worst case."""
    w = acc_width(prec, terms)
    rng = np.random.default_rng(seed)
    a = rng.integers(prec.raw_min, prec.raw_max + 1, size=terms)
    b = rng.integers(prec.raw_min, prec.raw_max + 1, size=terms)
    k = int(rng.integers(0, terms + 1))
    worst = terms * prec.raw_min * prec.raw_min
    sums = [int(a[:k] @ b[:k]), int(a[k:] @ b[k:]), int(a @ b), worst, -worst]
    spec = FieldSpec("acc", "acc", (len(sums),), w)
    assert decode([spec], encode([spec], {"acc": np.array(sums)}))["acc"].tolist() == sums
    with pytest.raises(EngineError):
        narrow = FieldSpec("acc", "acc", (1,), w - 1)
        encode([narrow], {"acc": np.array([worst])})


@given(st.integers(-(2**40), 2**40), st.integers(-(2**40), 2**40))
def test_signed_width_is_minimal(a, b):
    lo, hi = min(a, b), max(a, b)
    w = signed_width(lo, hi)
    assert -(1 << (w - 1)) <= min(lo, 0) and max(hi, 0) <= (1 << (w - 1)) - 1
    if w > 1:
        assert not (-(1 << (w - 2)) <= min(lo, 0) and max(hi, 0) <= (1 << (w - 2)) - 1)


@given(float_precisions, st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=20))
def test_float_rounding_is_representable_and_close(prec, values):
    v = np.array(values)
    q = prec.quantize(v).values
    mant, expo = prec.float_fields(q)
    assert np.all(np.abs(mant) <= 2 ** (prec.mant_bits - 1) - 1)
    assert np.all(expo >= -(2 ** (prec.exp_bits - 1))) and np.all(expo <= 2 ** (prec.exp_bits - 1) - 1)
    assert np.array_equal(mant * np.exp2(expo), q)
    # relative error bounded by one mantissa step where not saturated or flushed to 0
    ok = (np.abs(v) < prec.max_value) & (np.abs(v) > prec.resolution * 2**prec.mant_bits)
    rel = np.abs(q[ok] - v[ok]) / np.abs(v[ok])
    assert np.all(rel <= 2.0 ** -(prec.mant_bits - 2) + 1e-12)


specs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["fixed", "acc", "int", "uint", "bool"]),
        st.integers(1, 5),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=4,
)


@given(specs_strategy, st.integers(0, 2**32))
def test_codec_round_trip(raw_specs, seed):
    rng = np.random.default_rng(seed)
    specs, values = [], {}
    for i, (kind, count, width) in enumerate(raw_specs):
        if kind == "bool":
            width = 1
        spec = FieldSpec(f"f{i}", kind, (count,), width)
        if kind == "bool":
            vals = rng.integers(0, 2, size=count)
        elif kind == "uint":
            vals = rng.integers(0, 1 << width, size=count, dtype=np.uint64).astype(np.int64)
        else:
            lo, hi = -(1 << (width - 1)), (1 << (width - 1))
            vals = rng.integers(lo, hi, size=count, dtype=np.int64)
        specs.append(spec)
        values[spec.name] = vals
    payload = encode(specs, values)
    assert len(payload) == sum(s.count * s.width for s in specs)
    back = decode(specs, payload)
    for spec in specs:
        got, want = np.asarray(back[spec.name]), np.asarray(values[spec.name])
        assert np.array_equal(got.astype(np.int64), want.astype(np.int64))
    assert Payload.from_hex(payload.hex(), len(payload)) == payload


@given(float_precisions, st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8))
def test_codec_float_round_trip(prec, values):
    q = prec.quantize(np.array(values)).values
    spec = FieldSpec("v", "float", (len(values),), prec.bits)
    payload = encode([spec], {"v": q})
    assert len(payload) == len(values) * prec.bits
    assert np.array_equal(decode([spec], payload)["v"], q)


def test_codec_refuses_values_that_do_not_fit():
    with pytest.raises(EngineError):
        encode([FieldSpec("x", "int", (1,), 4)], {"x": np.array([8])})
    with pytest.raises(EngineError):
        encode([FieldSpec("x", "uint", (1,), 4)], {"x": np.array([-1])})


def test_codec_bit_order_is_msb_first():
    payload = encode([FieldSpec("x", "uint", (2,), 3)], {"x": np.array([1, 6])})
    assert payload.to_str() == "001110"
    payload = encode([FieldSpec("x", "int", (1,), 4)], {"x": np.array([-1])})
    assert payload.to_str() == "1111"


def test_precision_validation():
    with pytest.raises(InvalidInputError):
        Precision.fixed(40)
    with pytest.raises(InvalidInputError):
        Precision.float_(7)
    assert Precision.fixed(16).frac == 8


def test_apply_table_matches_direct():
    prec = Precision.fixed(10, 5)
    raw = np.arange(prec.raw_min, prec.raw_max + 1)
    via_table = prec.apply(np.tanh, raw).values
    direct = prec.quantize(np.tanh(prec.to_real(raw))).values
    assert np.array_equal(via_table, direct)
    big = Precision.fixed(20, 10)
    r = np.array([-5000, 0, 777])
    assert np.array_equal(big.apply(np.tanh, r).values, big.quantize(np.tanh(big.to_real(r))).values)


def test_acc_width_formula():
    prec = Precision.fixed(16)
    # 1 term: values up to 2^30 need 32 bits (31 magnitude + sign)
    assert acc_width(prec, 1) == 32
    assert acc_width(prec, 4096) == 2 * 15 + 12 + 2
    assert acc_width(prec, 5) == 2 * 15 + math.ceil(math.log2(5)) + 1


# ------------------------------------------------------------------ exact float accumulators
@settings(deadline=None, max_examples=60)
@given(p=st.sampled_from([4, 8, 12, 16, 20]), terms=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_float_accumulator_width_holds_the_extreme_sums_and_round_trips(p, terms, seed):
    """The exact sum of ``terms`` products of two p-bit floats is a multiple of
    2^(2·e_min) of at most terms·max² in magnitude: the extremes fit the charged width,
    one more unit does not, and wide fields decode to the very integers sent."""
    from commlb.bits import float_acc_frac, float_acc_width

    prec = Precision.float_(p)
    frac, width = float_acc_frac(prec, 2), float_acc_width(prec, terms, 2)
    top = terms * Fraction(prec.max_value) ** 2 / Fraction(prec.resolution) ** 2
    assert top.denominator == 1
    extreme = int(top)
    assert extreme < 1 << (width - 1) <= 2 * extreme + 1  # fits, and no narrower width would
    rnd = random.Random(seed)
    vals = np.array([extreme, -extreme, 0, 1, -1] + [rnd.randint(-extreme, extreme) for _ in range(5)],
                    dtype=object)
    spec = FieldSpec("num", "acc", (vals.size,), width, frac)
    back = decode([spec], encode([spec], {"num": vals}))["num"]
    assert [int(v) for v in back.tolist()] == [int(v) for v in vals.tolist()]
    assert len(encode([spec], {"num": vals})) == vals.size * width
    with pytest.raises(EngineError):
        encode([spec], {"num": np.array([1 << (width - 1)], dtype=object)[:1].repeat(vals.size)})


@settings(deadline=None, max_examples=80)
@given(p=st.sampled_from([4, 6, 12, 16, 20]), shift=st.integers(-1100, 60), seed=st.integers(0, 2**31 - 1))
@example(p=4, shift=-66, seed=0)  # a shift of 64 bits wrapped in int64 and rounded tiny values to ±0.25
def test_round_scaled_is_one_rounding_of_the_exact_value(p, shift, seed):
    """Rounding I·2^shift with integers agrees with rounding the same value given as an
    exact float64 (when it is one), in the int64 and the Python-integer paths alike."""
    prec = Precision.float_(p)
    rng = np.random.default_rng(seed)
    ints = rng.integers(-2**52, 2**52, size=40) >> rng.integers(0, 52, size=40)
    fast = prec.round_scaled(ints, shift)
    slow = prec.round_scaled(ints.astype(object), shift)
    assert np.array_equal(fast.values, slow.values) and fast.saturated == slow.saturated
    if shift >= -1074:  # then every I·2^shift (|I| < 2^53) is a float64 exactly
        exact = [Fraction(int(i)) * Fraction(2) ** shift for i in ints]
        as_float = np.array([float(v) for v in exact])
        assert all(Fraction(f) == v for f, v in zip(as_float.tolist(), exact))
        q = prec.quantize(as_float)
        assert np.array_equal(q.values, fast.values) and q.saturated == fast.saturated


@settings(deadline=None, max_examples=80)
@given(st.integers(1, 64), st.lists(st.integers(0, 2**64 - 1), min_size=0, max_size=20))
def test_pack_and_unpack_match_python_binary_strings(width, raw):
    """The bit matrix of a code is its ``width`` low bits, most significant first, as
    Python's ``format(code, '0{width}b')`` writes them; packing gives the code back."""
    from commlb.bits import _pack, _unpack

    codes = np.array([c % (1 << width) for c in raw], dtype=np.uint64)
    bits = _unpack(codes, width)
    expect = np.array([[int(ch) for ch in format(int(c), f"0{width}b")] for c in codes.tolist()],
                      dtype=np.uint8).reshape(len(raw), width)
    assert bits.shape == (len(raw), width) and np.array_equal(bits, expect)
    assert np.array_equal(_pack(bits), codes)


@example(values=[2.0**70, 8.0])  # every value a multiple of 8, 67 bits apart: a right shift (was a ValueError)
@example(values=[2.0**-60, 2.0**10, -3.0])
@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64),
                          st.integers(-(2**20), 2**20).map(lambda k: float(k) * 2.0**40)), min_size=1, max_size=8))
def test_scaled_ints_are_exact(values):
    """``scaled_ints(a)`` gives integers I and a shift s with a == I * 2^s exactly, on the
    int64 path and on the Python-integer path (exponent ranges beyond 62 bits)."""
    from commlb.bits import scaled_ints

    a = np.array(values, dtype=np.float64)
    ints, shift = scaled_ints(a)
    scale = Fraction(2) ** shift
    assert [Fraction(int(i)) * scale for i in ints.reshape(-1).tolist()] == [Fraction(v) for v in a.tolist()]


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=6), st.sampled_from(["uint64", "object"]))
def test_codec_round_trip_of_full_64_bit_unsigned_values(vals, dtype):
    """A 64-bit unsigned field holds every value below 2^64, 2^63 and above included (read
    from uint64 or Python integers, decoded as uint64); 2^64 and negative values are refused."""
    spec = FieldSpec("u", "uint", (len(vals),), 64)
    payload = encode([spec], {"u": np.array(vals, dtype=dtype)})
    assert len(payload) == 64 * len(vals)
    back = decode([spec], payload)["u"]
    assert back.dtype == np.uint64 and [int(x) for x in back] == vals
    for bad in (vals[:-1] + [2**64], vals[:-1] + [-1]):
        with pytest.raises(EngineError, match="out of range"):
            encode([spec], {"u": np.array(bad, dtype=object)})
