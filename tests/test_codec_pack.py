"""The bit codec's packing (np.packbits / np.unpackbits) against the plain shift-and-or
reference it replaced, for every width 1..64."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from commlb.bits import _pack, _unpack


def _unpack_reference(codes: np.ndarray, width: int) -> np.ndarray:
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((codes[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)


def _pack_reference(bitmat: np.ndarray) -> np.ndarray:
    width = bitmat.shape[1]
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return np.bitwise_or.reduce(bitmat.astype(np.uint64) << shifts[None, :], axis=1)


@given(st.integers(1, 64), st.lists(st.integers(0, 2**64 - 1), min_size=0, max_size=20))
def test_pack_unpack_match_reference(width, values):
    mask = (1 << width) - 1
    codes = np.array([v & mask for v in values], dtype=np.uint64)
    bits = _unpack(codes, width)
    np.testing.assert_array_equal(bits, _unpack_reference(codes, width))
    assert bits.shape == (codes.size, width)
    packed = _pack(bits)
    assert packed.dtype == np.uint64
    np.testing.assert_array_equal(packed, codes)
    if codes.size:
        np.testing.assert_array_equal(packed, _pack_reference(bits))


def test_pack_extremes():
    for width in (1, 8, 31, 32, 33, 63, 64):
        codes = np.array([0, (1 << width) - 1, 1 << (width - 1)], dtype=np.uint64)
        np.testing.assert_array_equal(_pack(_unpack(codes, width)), codes)
