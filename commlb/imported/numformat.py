"""The number formats trained models run in: IEEE float32, bfloat16 and IEEE float16.

Values are held in float32 numpy arrays whatever the format: a bfloat16 or float16 number
is exactly a float32 number, so an operation on two of them is computed in float32 and
the result *rounded to the format* (round to nearest, ties to even), which is what
PyTorch does on the CPU for an elementwise op, a LayerNorm, a softmax or a matrix
product in bfloat16/float16 (it widens to float32, computes, rounds the result once;
a product accumulates in float32).  :meth:`NumberFormat.round` is that rounding; for
float32 it is the identity.

On the wire (:meth:`NumberFormat.encode` / :meth:`NumberFormat.decode`) a value is its
bit pattern: 32 bits for float32, 16 for bfloat16 (the high half of the float32 pattern)
and float16 (IEEE binary16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelFileError

__all__ = ["FORMATS", "NumberFormat", "get_format", "round_bfloat16", "round_float16", "round_float16_reference"]

F32 = np.float32


def round_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 -> nearest bfloat16 (ties to even), returned as float32; NaN stays NaN and
    values beyond the largest bfloat16 become infinite, as in a conversion by PyTorch."""
    a = np.ascontiguousarray(x, dtype=F32)
    u = a.view(np.uint32)
    t = u >> np.uint32(16)  # in place on one temporary: these arrays are large
    t &= np.uint32(1)
    t += np.uint32(0x7FFF)
    t += u
    t &= np.uint32(0xFFFF0000)
    res = t.view(F32)
    # one pass without a temporary: the sum is not finite when x holds a NaN (its payload
    # may have rounded to anything) or an inf; inf - inf or a float32 overflow in the sum
    # only sends the rare case through the exact check below, so they need no warning
    with np.errstate(invalid="ignore", over="ignore"):
        total = a.sum()
    if not np.isfinite(total):
        nan = np.isnan(a)
        res[nan] = np.nan
    return res


def round_float16_reference(x: np.ndarray) -> np.ndarray:
    """float32 -> nearest IEEE float16 by numpy's own conversion: the plain twin of
    :func:`round_float16` (about 10x slower on values in float16's subnormal range)."""
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=F32).astype(np.float16).astype(F32)


_F16_MAX = F32(65504.0)
_F16_MIN_NORMAL = F32(2.0 ** -14)


def round_float16(x: np.ndarray) -> np.ndarray:
    """float32 -> nearest IEEE float16 (ties to even, subnormals, overflow to ±inf),
    returned as float32, on whole arrays: in the normal range the float32 pattern is
    rounded to 10 fraction bits as :func:`round_bfloat16` rounds to 7; below 2⁻¹⁴ the
    float16 numbers are the multiples of 2⁻²⁴, so the value is scaled by 2²⁴, rounded to
    an integer (ties to even) and scaled back, all exact; past 65504 the result is ±inf
    and NaN stays NaN."""
    a = np.ascontiguousarray(x, dtype=F32)
    u = a.view(np.uint32)
    t = u >> np.uint32(13)  # in place on one temporary: these arrays are large
    t &= np.uint32(1)
    t += np.uint32(0x0FFF)
    t += u
    t &= np.uint32(0xFFFFE000)
    out = t.view(F32)
    mag = u & np.uint32(0x7FFFFFFF)
    small = mag < np.uint32(0x38800000)  # below 2^-14
    if small.any():
        out[small] = np.round(a[small] * F32(2.0 ** 24)) * F32(2.0 ** -24)
    big = mag >= np.uint32(0x477FF000)  # 65520 and beyond (rounds past 65504), inf, NaN
    if big.any():
        out[big] = np.where(np.isnan(a[big]), F32(np.nan), np.copysign(F32(np.inf), a[big]))
    return out


@dataclass(frozen=True)
class NumberFormat:
    """One of :data:`FORMATS`: its name, bits per value, and the suffix that marks its
    fields in a transcript (``q:bf16``)."""

    name: str
    bits: int
    suffix: str
    mantissa: int  # stored fraction bits

    @property
    def exact32(self) -> bool:
        return self.name == "float32"

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** -(self.mantissa + 1)

    def round(self, x: np.ndarray) -> np.ndarray:
        if self.name == "bfloat16":
            return round_bfloat16(x)
        if self.name == "float16":
            return round_float16(x)
        return x

    def scalar(self, value: float) -> np.float32:
        """A Python constant as PyTorch applies it to a tensor of this format on the
        CPU: cast to float32 (the computation type), not rounded to the format."""
        return F32(value)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Bit patterns (int64) of values already in this format."""
        a = np.ascontiguousarray(x, dtype=F32)
        if self.name == "float32":
            return a.view(np.uint32).astype(np.int64)
        if self.name == "bfloat16":
            r = self.round(a)
            if not np.array_equal(r, a, equal_nan=True):
                raise ValueError("a value sent as bfloat16 is not a bfloat16 number")
            return (a.view(np.uint32) >> np.uint32(16)).astype(np.int64)
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(F32), a, equal_nan=True):
            raise ValueError("a value sent as float16 is not a float16 number")
        return h.view(np.uint16).astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        c = np.asarray(codes)
        if self.name == "float32":
            return c.astype(np.uint32).view(F32)
        if self.name == "bfloat16":
            return (c.astype(np.uint32) << np.uint32(16)).view(F32)
        return c.astype(np.uint16).view(np.float16).astype(F32)


FORMATS: dict[str, NumberFormat] = {
    "float32": NumberFormat("float32", 32, "f32", 23),
    "bfloat16": NumberFormat("bfloat16", 16, "bf16", 7),
    "float16": NumberFormat("float16", 16, "f16", 10),
}

_ALIASES = {"fp32": "float32", "f32": "float32", "bf16": "bfloat16", "fp16": "float16", "f16": "float16",
            "half": "float16"}


def get_format(name: str) -> NumberFormat:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in FORMATS:
        raise ModelFileError(f"unknown number format {name!r}: use float32, bfloat16 or float16")
    return FORMATS[key]
