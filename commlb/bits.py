"""The arithmetic model and the bit codec.

Every number a model computes lives in a stated :class:`Precision`:

* **fixed point** (default): p total bits, f of them fractional.  A value is a signed
  integer ``raw`` in [-2^(p-1), 2^(p-1) - 1] standing for ``raw * 2^-f``.  Rounding is to
  nearest with ties toward +infinity (``floor(v * 2^f + 1/2)``) everywhere, for floats and
  for integer rescaling alike, and out-of-range values saturate to the nearest end of the
  range; every saturation is counted.  The default f = p // 2 is the grid 2^(-p/2) with
  range 2^(p/2) that SHT24's precision analysis uses (docs/theory.md §2.1).
* **float**: Merrill–Sabharwal's p-precision float (TACL 2023, Appendix A; docs/theory.md
  §2.2): a signed mantissa of p/2 bits and a signed exponent of p/2 bits, value m * 2^e.
  Values are kept as float64 numbers that are exactly representable in that format.

Sums are exact: products of fixed-point numbers are accumulated in wide integers
(``int64`` here) with 2f fractional bits, so the sum of Alice's part and Bob's part of a
dot product is exactly the full dot product, and rounding happens once, after the sum
(the "exact accumulation, one rounding" rule of MS23 Definitions 13-15).
:func:`acc_width` gives the number of bits such an accumulator needs, which is what a
message carrying it is charged.

The codec turns named arrays into an actual bit string (:class:`Payload`) and back.  The
length of the payload is the count: nothing is ever charged by formula alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import EngineError, InvalidInputError

__all__ = [
    "Precision",
    "Quantized",
    "FieldSpec",
    "Payload",
    "encode",
    "decode",
    "acc_width",
    "float_acc_width",
    "float_acc_frac",
    "signed_width",
    "unsigned_width",
    "round_shift",
    "exact_matmul",
    "scaled_ints",
    "exact_float_matmul",
    "rescale_ints",
    "MAX_FIXED_BITS",
]

#: fixed-point values and their exact products must fit int64 accumulators:
#: 2p + log2(terms) <= 63.  p <= 24 leaves room for 2^15 terms.
MAX_FIXED_BITS = 24
MAX_FLOAT_BITS = 20  # exponents of p/2 = 10 bits stay inside float64's range


def round_shift(acc: np.ndarray | int, shift: int) -> np.ndarray:
    """Divide an integer array by 2^shift, rounding to nearest, ties toward +inf.

    ``shift`` may be negative (then it multiplies exactly)."""
    acc = np.asarray(acc, dtype=np.int64)
    if shift <= 0:
        return acc << np.int64(-shift)
    return (acc + np.int64(1 << (shift - 1))) >> np.int64(shift)


@dataclass(frozen=True)
class Quantized:
    """Raw integers (fixed point) or exactly representable floats, with the number of
    entries that saturated while rounding."""

    values: np.ndarray
    saturated: int


@dataclass(frozen=True)
class Precision:
    """A p-bit number format: ``Precision.fixed(p, f)`` or ``Precision.float(p)``."""

    kind: str
    bits: int
    frac: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "float"):
            raise InvalidInputError(f"arithmetic must be 'fixed' or 'float', not {self.kind!r}")
        if self.kind == "fixed":
            if not 2 <= self.bits <= MAX_FIXED_BITS:
                raise InvalidInputError(
                    f"fixed-point precision must be 2..{MAX_FIXED_BITS} bits (exact int64 "
                    f"accumulation), got {self.bits}"
                )
            if not 0 <= self.frac < self.bits:
                raise InvalidInputError(
                    f"fractional bits must be in 0..{self.bits - 1}, got {self.frac}"
                )
        else:
            if not 4 <= self.bits <= MAX_FLOAT_BITS or self.bits % 2:
                raise InvalidInputError(
                    f"float precision must be an even number of bits in 4..{MAX_FLOAT_BITS}, "
                    f"got {self.bits}"
                )

    # -- constructors -------------------------------------------------------------
    @classmethod
    def fixed(cls, bits: int, frac: int | None = None) -> Precision:
        return cls("fixed", int(bits), int(bits // 2 if frac is None else frac))

    @classmethod
    def float_(cls, bits: int) -> Precision:
        return cls("float", int(bits), 0)

    @classmethod
    def parse(cls, bits: int, arith: str = "fixed", frac: int | None = None) -> Precision:
        if arith == "fixed":
            return cls.fixed(bits, frac)
        if arith == "float":
            return cls.float_(bits)
        raise InvalidInputError(f"--arith must be fixed or float, not {arith!r}")

    # -- description --------------------------------------------------------------
    @property
    def is_fixed(self) -> bool:
        return self.kind == "fixed"

    @property
    def scale(self) -> float:
        """2^f: the value of raw integer 1 is 1/scale."""
        return float(2**self.frac)

    @property
    def raw_min(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def raw_max(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def max_value(self) -> float:
        if self.is_fixed:
            return self.raw_max / self.scale
        m = self.mant_bits
        e = self.exp_bits
        return float((2 ** (m - 1) - 1) * 2.0 ** (2 ** (e - 1) - 1))

    @property
    def resolution(self) -> float:
        return 1.0 / self.scale if self.is_fixed else float(2.0 ** (-(2 ** (self.exp_bits - 1))))

    @property
    def mant_bits(self) -> int:
        """Float: bits of the signed mantissa (p/2)."""
        return self.bits // 2

    @property
    def exp_bits(self) -> int:
        """Float: bits of the signed exponent (p/2)."""
        return self.bits - self.bits // 2

    def describe(self) -> str:
        if self.is_fixed:
            if self.frac == 0:  # integers: the step is 1, not "2^-0"
                return f"fixed point, p = {self.bits} bits (integers, range ±{self.max_value:g}, step 1)"
            return (
                f"fixed point, p = {self.bits} bits ({self.frac} fractional, "
                f"range ±{self.max_value:g}, step 2^-{self.frac} = 1/{2 ** self.frac})"
            )
        return (
            f"float, p = {self.bits} bits ({self.mant_bits}-bit signed mantissa, "
            f"{self.exp_bits}-bit signed exponent; Merrill–Sabharwal)"
        )

    def to_json(self) -> dict:
        out = {"kind": self.kind, "bits": self.bits}
        if self.is_fixed:
            out["frac"] = self.frac
        else:
            out["mantissa_bits"] = self.mant_bits
            out["exponent_bits"] = self.exp_bits
        return out

    # -- rounding -----------------------------------------------------------------
    def quantize(self, values: np.ndarray | float) -> Quantized:
        """Round real values into this format.

        Fixed: returns raw int64 integers.  Float: returns float64 values exactly
        representable with the mantissa/exponent widths."""
        v = np.asarray(values, dtype=np.float64)
        if np.any(np.isnan(v)):
            raise EngineError("NaN reached the arithmetic")
        if self.is_fixed:
            scaled = np.floor(v * self.scale + 0.5)
            lo, hi = self.raw_min, self.raw_max
            sat = int(np.count_nonzero((scaled < lo) | (scaled > hi)))
            return Quantized(np.clip(scaled, lo, hi).astype(np.int64), sat)
        return self._round_float(v)

    def quantize_raw(self, values: np.ndarray | float) -> np.ndarray:
        return self.quantize(values).values

    def to_real(self, raw: np.ndarray) -> np.ndarray:
        """Raw fixed-point integers (or float-format values) as float64."""
        if self.is_fixed:
            return np.asarray(raw, dtype=np.int64).astype(np.float64) / self.scale
        return np.asarray(raw, dtype=np.float64)

    def saturate_raw(self, raw: np.ndarray) -> Quantized:
        """Clip raw integers (e.g. after a rescale) into range, counting saturations."""
        raw = np.asarray(raw, dtype=np.int64)
        sat = int(np.count_nonzero((raw < self.raw_min) | (raw > self.raw_max)))
        return Quantized(np.clip(raw, self.raw_min, self.raw_max), sat)

    def from_acc(self, acc: np.ndarray, acc_frac: int) -> Quantized:
        """Round an exact accumulator with ``acc_frac`` fractional bits to this format
        (one rounding, then saturation)."""
        if not self.is_fixed:
            raise EngineError("from_acc is for fixed point")
        return self.saturate_raw(round_shift(acc, acc_frac - self.frac))

    def apply(self, fn: Callable[[np.ndarray], np.ndarray], raw: np.ndarray) -> Quantized:
        """fn applied to fixed-point values, rounded back.  For p <= 16 this goes through a
        lookup table over all 2^p raw values, so that every implementation (numpy here,
        numba kernels elsewhere) gets identical bits."""
        if not self.is_fixed:
            return self.quantize(fn(np.asarray(raw, dtype=np.float64)))
        raw = np.asarray(raw, dtype=np.int64)
        table = self.table(fn)
        if table is not None:
            out = table[raw - self.raw_min]
            # saturation counts come from the table build; recount here per element
            sat_mask = self._table_sat(fn)[raw - self.raw_min]
            return Quantized(out, int(np.count_nonzero(sat_mask)))
        return self.quantize(fn(self.to_real(raw)))

    def table(self, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
        """The lookup table of ``fn`` over every raw value (index raw - raw_min), or None
        when p > 16."""
        if not self.is_fixed or self.bits > 16:
            return None
        key = (self, fn)
        hit = _TABLES.get(key)
        if hit is None:
            all_raw = np.arange(self.raw_min, self.raw_max + 1, dtype=np.int64)
            q = self.quantize(fn(self.to_real(all_raw)))
            scaled = np.floor(fn(self.to_real(all_raw)) * self.scale + 0.5)
            sat = (scaled < self.raw_min) | (scaled > self.raw_max)
            hit = (q.values, sat)
            _TABLES[key] = hit
        return hit[0]

    def _table_sat(self, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        return _TABLES[(self, fn)][1]

    def _round_float(self, v: np.ndarray) -> Quantized:
        mb, eb = self.mant_bits, self.exp_bits
        mmax = 2 ** (mb - 1) - 1  # largest mantissa magnitude
        emax = 2 ** (eb - 1) - 1
        emin = -(2 ** (eb - 1))
        out = np.zeros_like(v)
        nz = v != 0
        sat = 0
        if np.any(nz):
            a = np.abs(v[nz])
            # exponent so that the mantissa magnitude lies in [2^(mb-2), 2^(mb-1))
            e = np.floor(np.log2(a)).astype(np.int64) - (mb - 2)
            e = np.clip(e, emin, emax)
            m = np.floor(a / np.exp2(e) + 0.5)
            # rounding may carry into one more bit
            carry = m > mmax
            e = np.where(carry & (e < emax), e + 1, e)
            m = np.where(carry, np.floor(a / np.exp2(e) + 0.5), m)
            over = m > mmax
            sat = int(np.count_nonzero(over))
            m = np.minimum(m, mmax)
            out[nz] = np.sign(v[nz]) * m * np.exp2(e)
        return Quantized(out, sat)

    def round_scaled(self, ints: np.ndarray, shift: int) -> Quantized:
        """Float format: round the exact values ``ints * 2^shift`` (integers, int64 or
        Python ints in an object array) once into this format, by the rule of
        :meth:`quantize` (mantissa rounded half away from zero, exponent clipped, the
        largest magnitude on overflow, counted).  No float64 rounding happens on the way,
        so an exact sum is rounded exactly once."""
        if self.is_fixed:
            raise EngineError("round_scaled is for the float format")
        mb, eb = self.mant_bits, self.exp_bits
        mmax = 2 ** (mb - 1) - 1
        emax = 2 ** (eb - 1) - 1
        emin = -(2 ** (eb - 1))
        arr = np.asarray(ints)
        if arr.dtype != object:
            return self._round_scaled_int64(arr.astype(np.int64), int(shift))
        out = np.zeros(arr.shape, dtype=np.float64)
        flat = out.reshape(-1)
        sat = 0
        for k, v in enumerate(arr.reshape(-1).tolist()):
            v = int(v)
            if v == 0:
                continue
            a = abs(v)
            e = min(max(a.bit_length() - 1 + shift - (mb - 2), emin), emax)
            m = _round_shift_int(a, e - shift)
            if m > mmax and e < emax:
                e += 1
                m = _round_shift_int(a, e - shift)
            if m > mmax:
                sat += 1
                m = mmax
            flat[k] = math.ldexp(m if v > 0 else -m, e)
        return Quantized(out, sat)

    def _round_scaled_int64(self, arr: np.ndarray, shift: int) -> Quantized:
        """:meth:`round_scaled` for int64 integers (|I| < 2^62), vectorised; the same rule."""
        mb, eb = self.mant_bits, self.exp_bits
        mmax = 2 ** (mb - 1) - 1
        emax = 2 ** (eb - 1) - 1
        emin = -(2 ** (eb - 1))
        if arr.size and int(np.max(np.abs(arr))) >= (1 << 62):
            return self.round_scaled(arr.astype(object), shift)
        a = np.abs(arr)
        nz = a != 0
        # bit length of a (float64 may round a up to the next power of two: correct it)
        bl = np.frexp(a.astype(np.float64))[1].astype(np.int64)
        over = nz & (np.left_shift(np.int64(1), np.maximum(bl - 1, 0)) > a)
        bl = bl - over

        def mant(e: np.ndarray) -> np.ndarray:
            sh = e - shift
            # a < 2^62, so a shift of 63 or more rounds to 0; int64 shifts by 63+ would wrap
            pos = np.clip(sh, 1, 62)
            down = np.where(sh > 62, np.int64(0), (a + np.left_shift(np.int64(1), pos - 1)) >> pos)
            up_ok = bl - sh <= 62  # a << -sh fits int64; otherwise it is beyond any mantissa
            up = np.where(up_ok, np.left_shift(a, np.clip(-sh, 0, 62)), np.int64(mmax + 2))
            return np.where(sh > 0, down, up)

        e = np.clip(bl - 1 + shift - (mb - 2), emin, emax)
        m = mant(e)
        carry = nz & (m > mmax) & (e < emax)
        e = np.where(carry, e + 1, e)
        m = np.where(carry, mant(e), m)
        big = nz & (m > mmax)
        m = np.where(big, mmax, m)
        vals = np.where(nz, np.sign(arr) * np.ldexp(m.astype(np.float64), e), 0.0)
        return Quantized(vals.astype(np.float64), int(np.count_nonzero(big)))

    def float_fields(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float format: (signed mantissa, signed exponent) integers of an exactly
        representable array, canonical (smallest exponent)."""
        v = np.asarray(v, dtype=np.float64)
        mb, eb = self.mant_bits, self.exp_bits
        emin = -(2 ** (eb - 1))
        mant = np.zeros(v.shape, dtype=np.int64)
        expo = np.full(v.shape, emin, dtype=np.int64)
        nz = v != 0
        if np.any(nz):
            a = np.abs(v[nz])
            e = np.floor(np.log2(a)).astype(np.int64) - (mb - 2)
            e = np.maximum(e, emin)
            m = a / np.exp2(e)
            # shrink the exponent while the mantissa stays an integer in range
            if not np.all(m == np.floor(m)):
                raise EngineError("value is not representable in this float format")
            mant[nz] = (np.sign(v[nz]) * m).astype(np.int64)
            expo[nz] = e
        return mant, expo


_TABLES: dict = {}


def signed_width(lo: int, hi: int) -> int:
    """Bits of a two's-complement integer holding every value in [lo, hi]."""
    lo, hi = int(min(lo, 0)), int(max(hi, 0))
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def unsigned_width(hi: int) -> int:
    """Bits of an unsigned integer holding every value in [0, hi] (at least 1)."""
    return max(1, int(hi).bit_length())


def acc_width(prec: Precision, terms: int, factors: int = 2) -> int:
    """Bits of an exact accumulator of ``terms`` products of ``factors`` p-bit fixed-point
    numbers.  Each product has magnitude at most 2^(factors*(p-1)) (the most negative raw
    value to that power), so the sum lies in [-terms*M, terms*M] with M = 2^(factors*(p-1));
    the width is the two's-complement width of that interval (:func:`signed_width`)."""
    terms = max(int(terms), 1)
    bound = terms * (1 << (factors * (prec.bits - 1)))
    width = signed_width(-bound, bound)
    if width > 64:
        raise EngineError(f"accumulator needs {width} bits; reduce precision or sequence length")
    return width


def _round_shift_int(a: int, shift: int) -> int:
    """floor(a / 2^shift + 1/2) for a Python integer a >= 0 (exact; shift may be < 0)."""
    if shift <= 0:
        return a << -shift
    return (a + (1 << (shift - 1))) >> shift


def float_acc_frac(prec: Precision, factors: int = 2) -> int:
    """Fractional bits of an exact accumulator of products of ``factors`` p-bit floats:
    every such product is an integer multiple of 2^(factors·e_min) (docs/theory.md §3.7)."""
    return factors * (2 ** (prec.exp_bits - 1))


def float_acc_width(prec: Precision, terms: int, factors: int = 2) -> int:
    """Bits of an exact accumulator of ``terms`` products of ``factors`` p-bit floats
    (docs/theory.md §3.7): the sum lies in [-B, B] with B = terms·(m_max·2^e_max)^factors
    and is a multiple of 2^(factors·e_min), so it is a two's-complement integer of
    ``B·2^float_acc_frac`` magnitude.  This is what a message carrying it is charged
    (far more than p: the exact sum of floats spans their whole exponent range)."""
    if prec.is_fixed:
        raise EngineError("float_acc_width is for the float format")
    terms = max(int(terms), 1)
    mmax = 2 ** (prec.mant_bits - 1) - 1
    emax = 2 ** (prec.exp_bits - 1) - 1
    bound = terms * (mmax << emax) ** factors << float_acc_frac(prec, factors)
    return bound.bit_length() + 1


# ---------------------------------------------------------------------------------
# Exact sums of fixed-point and float values (one rounding after, by the caller)
# ---------------------------------------------------------------------------------
def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer product ``a @ b`` of int64 arrays (a: (..., K), b: (K, N)).

    Uses float64 BLAS whenever every partial sum is an integer below 2^53 (then the
    result is exact), splitting ``b`` into low/high limbs when the operands are too wide;
    the answer is identical to an int64 matmul (exact whenever every entry of the true
    product fits in int64; like any int64 matmul it wraps beyond that)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    k = a.shape[-1]
    if a.size == 0 or b.size == 0 or k == 0:
        return np.zeros(a.shape[:-1] + b.shape[1:], dtype=np.int64)
    amax = int(np.max(np.abs(a)))
    bmax = int(np.max(np.abs(b)))
    limit = 1 << 52
    if k * amax * bmax < limit:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    if k * amax < limit >> 1:
        # bits of b that keep k * amax * 2^s below 2^52
        s = max(1, (limit // (k * amax)).bit_length() - 2)
        lo_mask = np.int64((1 << s) - 1)
        lo = b & lo_mask
        hi = b >> np.int64(s)
        out_lo = exact_matmul(a, lo)
        out_hi = exact_matmul(a, hi)
        return (out_hi << np.int64(s)) + out_lo
    return a @ b


def scaled_ints(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact integers I and a shift s with ``a == I * 2^s`` for float64 values ``a`` (every
    float64 is a dyadic rational).  I is int64 when it fits in 62 bits, else an object
    array of Python integers."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise EngineError("a non-finite value reached exact float accumulation")
    nz = a[a != 0]
    if nz.size == 0:
        return np.zeros(a.shape, dtype=np.int64), 0
    mant, expo = np.frexp(nz)  # nz = mant * 2^expo, 0.5 <= |mant| < 1, 53 significant bits
    digits = np.abs(np.ldexp(mant, 53)).astype(np.int64)
    lowbit = digits & -digits
    low = expo.astype(np.int64) - 53 + np.round(np.log2(lowbit.astype(np.float64))).astype(np.int64)
    shift = int(low.min())
    if int(expo.max()) - shift <= 62:
        return np.ldexp(a, -shift).astype(np.int64), shift
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for k, v in enumerate(a.reshape(-1).tolist()):
        num, den = float(v).as_integer_ratio()  # den is a power of two; v = num * 2^-(bits of den - 1)
        move = -shift - (den.bit_length() - 1)
        # a positive shift (every value a multiple of 2^shift, den = 1) moves right: exact,
        # since shift is at most the exponent of the lowest set bit of every value
        flat[k] = (num << move if move >= 0 else num >> -move) if num else 0
    return out, shift


def exact_float_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """The exact product ``a @ b`` of float64 arrays (a: (n, K), b: (K, N)) as integers I
    and a shift s, ``a @ b == I * 2^s``: int64 arithmetic when every partial sum fits,
    Python integers otherwise (float mode's "exact accumulation, one rounding")."""
    return exact_scaled_matmul(a, ScaledInts.of(b))


@dataclass(frozen=True)
class ScaledInts:
    """A float64 array's exact integer form ``ints * 2^shift`` (:func:`scaled_ints`) and
    its largest magnitude: the right-hand operand of :func:`exact_scaled_matmul`, made
    once for weights that many products share."""

    ints: np.ndarray
    shift: int
    top: int  # max |ints| (0 for an empty array); -1 when ints are Python integers

    @classmethod
    def of(cls, b: np.ndarray) -> ScaledInts:
        ib, sb = scaled_ints(b)
        if ib.dtype == object:
            return cls(ib, sb, -1)
        return cls(ib, sb, int(np.max(np.abs(ib))) if ib.size else 0)


def exact_scaled_matmul(a: np.ndarray, b: ScaledInts) -> tuple[np.ndarray, int]:
    """:func:`exact_float_matmul` with the right operand already in integer form."""
    ia, sa = scaled_ints(a)
    k = a.shape[-1]
    if ia.dtype != object and b.top >= 0:
        amax = int(np.max(np.abs(ia))) if ia.size else 0
        if (max(k, 1) * amax * b.top).bit_length() <= 62:
            return exact_matmul(ia, b.ints), sa + b.shift
    return np.asarray(ia, dtype=object) @ np.asarray(b.ints, dtype=object), sa + b.shift


def rescale_ints(ints: np.ndarray, shift: int, target: int) -> np.ndarray:
    """``ints * 2^shift`` written over the finer grid 2^target (target <= shift), as
    Python integers in an object array (exact)."""
    if target > shift:
        raise EngineError(f"cannot write a multiple of 2^{shift} on the coarser grid 2^{target}")
    return np.asarray(ints, dtype=object) * (1 << (shift - target))


#: widest field the codec takes (an exact float accumulator at p = 20 needs about 2,070)
MAX_FIELD_BITS = 1 << 14


# ---------------------------------------------------------------------------------
# The codec
# ---------------------------------------------------------------------------------

_KINDS = ("fixed", "acc", "int", "uint", "bool", "float")


@dataclass(frozen=True)
class FieldSpec:
    """One named field of a message.

    kind: ``fixed`` (raw p-bit fixed-point integers, ``width`` = p, ``frac`` = f),
    ``acc`` (exact accumulators: signed integers of ``width`` bits with ``frac``
    fractional bits; wider than 64 bits they are Python integers in an object array),
    ``int`` (signed), ``uint`` (unsigned), ``bool`` (width 1),
    ``float`` (Merrill–Sabharwal floats: ``width`` = p, half mantissa, half exponent).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    width: int
    frac: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise EngineError(f"unknown field kind {self.kind!r}")
        if self.kind == "bool" and self.width != 1:
            raise EngineError("bool fields have width 1")
        wide_ok = self.kind in ("acc", "int")
        if not 1 <= self.width <= (MAX_FIELD_BITS if wide_ok else 64):
            raise EngineError(f"field width must be 1..{MAX_FIELD_BITS if wide_ok else 64}, got {self.width}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbits(self) -> int:
        return self.count * self.width

    def describe(self) -> str:
        dims = "×".join(str(s) for s in self.shape) or "1"
        return f"{self.name}: {dims} {self.kind} × {self.width} b"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "width": self.width,
            "frac": self.frac,
            "bits": self.nbits,
        }


@dataclass(frozen=True, eq=False)
class Payload:
    """An encoded bit string: a 1-D uint8 array of 0/1.  ``len(payload)`` is its cost."""

    bits: np.ndarray

    def __len__(self) -> int:
        return int(self.bits.size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and np.array_equal(self.bits, other.bits)

    def __hash__(self) -> int:
        return hash(self.hex())

    def to_str(self) -> str:
        return "".join("1" if b else "0" for b in self.bits.tolist())

    def hex(self) -> str:
        """Hex of the bits, padded with zeros to a whole number of bytes (the bit length
        is carried separately)."""
        return np.packbits(self.bits).tobytes().hex()

    @classmethod
    def from_hex(cls, text: str, nbits: int) -> Payload:
        raw = np.frombuffer(bytes.fromhex(text), dtype=np.uint8)
        return cls(np.unpackbits(raw)[:nbits].astype(np.uint8))


def _to_unsigned(values: np.ndarray, spec: FieldSpec) -> np.ndarray:
    """Integer codes (uint64) of one field's values, checking they fit the width."""
    w = spec.width
    if spec.kind == "bool":
        v = np.asarray(values)
        if not np.all((v == 0) | (v == 1)):
            raise EngineError(f"field {spec.name}: bool field holds non-boolean values")
        return v.astype(np.uint64).ravel()
    v = np.asarray(values)
    if v.dtype.kind == "f":
        if not np.all(v == np.floor(v)):
            raise EngineError(f"field {spec.name}: non-integer value in an integer field")
    if spec.kind == "uint":  # 0 .. 2^w − 1; at w = 64 beyond int64, so read unsigned or exact ints
        if v.dtype.kind == "u":
            u = v.astype(np.uint64).ravel()
        elif v.dtype.kind == "O":
            ints = [int(x) for x in v.ravel()]
            if any(x < 0 or x >> w for x in ints):
                raise EngineError(f"field {spec.name}: value out of range for {w} unsigned bits")
            u = np.array(ints, dtype=np.uint64)
        else:
            s = np.asarray(v, dtype=np.int64).ravel()
            if s.size and s.min() < 0:
                raise EngineError(f"field {spec.name}: value out of range for {w} unsigned bits")
            u = s.astype(np.uint64)
        if u.size and w < 64 and u.max() >= np.uint64(1 << w):
            raise EngineError(f"field {spec.name}: value out of range for {w} unsigned bits")
        return u
    v = np.asarray(v, dtype=np.int64).ravel()
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise EngineError(
            f"field {spec.name}: value out of range for {w}-bit two's complement "
            f"[{v.min()}, {v.max()}]"
        )
    mask = np.uint64((1 << w) - 1) if w < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return v.view(np.uint64) & mask


def _from_unsigned(codes: np.ndarray, spec: FieldSpec) -> np.ndarray:
    w = spec.width
    if spec.kind == "bool":
        return codes.astype(np.int64).reshape(spec.shape).astype(bool)
    if spec.kind == "uint":  # int64 up to 63 bits; a 64-bit field's values need uint64
        return codes.astype(np.int64 if w < 64 else np.uint64).reshape(spec.shape)
    v = codes.astype(np.int64)
    if w < 64:  # two's complement: (v XOR sign) − sign extends the sign bit
        sign = np.int64(1 << (w - 1))
        v ^= sign
        v -= sign
    return v.reshape(spec.shape)


def encode(specs: Sequence[FieldSpec], values: Mapping[str, np.ndarray]) -> Payload:
    """Encode the named arrays into one bit string: fields in order, elements in C order,
    each element most significant bit first."""
    chunks: list[np.ndarray] = []
    for spec in specs:
        if spec.name not in values:
            raise EngineError(f"missing field {spec.name!r}")
        arr = np.asarray(values[spec.name])
        if arr.shape != spec.shape and not (spec.shape == () and arr.size == 1):
            raise EngineError(f"field {spec.name}: shape {arr.shape} != declared {spec.shape}")
        if spec.kind == "float":
            prec = Precision.float_(spec.width)
            mant, expo = prec.float_fields(arr)
            half = FieldSpec(spec.name, "int", spec.shape, prec.mant_bits)
            other = FieldSpec(spec.name, "int", spec.shape, prec.exp_bits)
            codes = [(_to_unsigned(mant, half), half.width), (_to_unsigned(expo, other), other.width)]
            # interleave per element: mantissa then exponent
            m_bits = _unpack(codes[0][0], codes[0][1])
            e_bits = _unpack(codes[1][0], codes[1][1])
            chunks.append(np.concatenate([m_bits, e_bits], axis=1).ravel())
            continue
        if spec.width > 64:
            chunks.append(_encode_wide(arr, spec))
            continue
        codes_u = _to_unsigned(arr, spec)
        chunks.append(_unpack(codes_u, spec.width).ravel())
    bits = np.concatenate(chunks).astype(np.uint8) if chunks else np.zeros(0, dtype=np.uint8)
    expected = sum(s.nbits for s in specs)
    if bits.size != expected:
        raise EngineError(f"encoded {bits.size} bits, specs declare {expected}")
    return Payload(bits)


def decode(specs: Sequence[FieldSpec], payload: Payload) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode`."""
    bits = payload.bits
    expected = sum(s.nbits for s in specs)
    if bits.size != expected:
        raise EngineError(f"payload has {bits.size} bits, specs declare {expected}")
    out: dict[str, np.ndarray] = {}
    pos = 0
    for spec in specs:
        chunk = bits[pos : pos + spec.nbits]
        pos += spec.nbits
        if spec.kind == "float":
            prec = Precision.float_(spec.width)
            per = chunk.reshape(spec.count, spec.width)
            m_codes = _pack(per[:, : prec.mant_bits])
            e_codes = _pack(per[:, prec.mant_bits :])
            mant = _from_unsigned(m_codes, FieldSpec("m", "int", (spec.count,), prec.mant_bits))
            expo = _from_unsigned(e_codes, FieldSpec("e", "int", (spec.count,), prec.exp_bits))
            out[spec.name] = (mant.astype(np.float64) * np.exp2(expo.astype(np.float64))).reshape(
                spec.shape
            )
            continue
        if spec.width > 64:
            out[spec.name] = _decode_wide(chunk, spec)
            continue
        codes = _pack(chunk.reshape(spec.count, spec.width))
        out[spec.name] = _from_unsigned(codes, spec)
    return out


def _encode_wide(arr: np.ndarray, spec: FieldSpec) -> np.ndarray:
    """Bits of a signed field wider than 64 bits (Python integers), MSB first, two's
    complement: the same layout as the narrow fields."""
    w = spec.width
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    mask = (1 << w) - 1
    text = []
    for v in np.asarray(arr, dtype=object).reshape(-1).tolist():
        if isinstance(v, float) and v != math.floor(v):
            raise EngineError(f"field {spec.name}: non-integer value in an integer field")
        v = int(v)
        if not lo <= v <= hi:
            raise EngineError(f"field {spec.name}: value out of range for {w}-bit two's complement")
        text.append(format(v & mask, f"0{w}b"))
    if not text:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer("".join(text).encode("ascii"), dtype=np.uint8) - np.uint8(48)


def _decode_wide(chunk: np.ndarray, spec: FieldSpec) -> np.ndarray:
    w = spec.width
    text = (np.asarray(chunk, dtype=np.uint8) + np.uint8(48)).tobytes().decode("ascii")
    out = np.empty(spec.count, dtype=object)
    sign = 1 << (w - 1)
    for k in range(spec.count):
        v = int(text[k * w:(k + 1) * w], 2)
        out[k] = v - (1 << w) if v >= sign else v
    return out.reshape(spec.shape)


#: big-endian unsigned integer types by byte count: the narrowest word holding a code
_BE_WORDS = {1: ">u1", 2: ">u2", 4: ">u4", 8: ">u8"}


def _word_bytes(width: int) -> int:
    """Bytes of the narrowest of 1, 2, 4, 8-byte words that holds ``width`` bits."""
    return next(n for n in (1, 2, 4, 8) if 8 * n >= width)


def _unpack(codes: np.ndarray, width: int) -> np.ndarray:
    """uint64 codes -> (count, width) bit matrix, MSB first: each code written as a
    big-endian word of the narrowest of 1, 2, 4, 8 bytes that holds ``width`` bits,
    ``np.unpackbits`` of those bytes, the low ``width`` bits of each word kept."""
    nbytes = _word_bytes(width)
    c = np.asarray(codes, dtype=np.uint64).reshape(-1)
    words = c.astype(_BE_WORDS[nbytes])  # the codes fit: higher bits are zero
    bits = np.unpackbits(words.view(np.uint8)).reshape(c.size, 8 * nbytes)
    return bits[:, 8 * nbytes - width:] if 8 * nbytes != width else bits


def _pack(bitmat: np.ndarray) -> np.ndarray:
    """(count, width) bit matrix, MSB first -> uint64 codes: each row left-padded to the
    narrowest of 1, 2, 4, 8-byte words, packed by ``np.packbits`` and read as a
    big-endian word."""
    count, width = bitmat.shape
    nbytes = _word_bytes(width)
    if width != 8 * nbytes:
        full = np.zeros((count, 8 * nbytes), dtype=np.uint8)
        full[:, 8 * nbytes - width:] = bitmat
    else:
        full = np.ascontiguousarray(bitmat, dtype=np.uint8)
    packed = np.packbits(full.reshape(-1))  # flat: faster than axis=1
    return packed.view(_BE_WORDS[nbytes]).astype(np.uint64)
