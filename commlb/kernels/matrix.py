"""Kernels for communication matrices: bit-packing 0/1 rows into uint64 words.

Column ``c`` of a row goes to bit ``c & 63`` of word ``c >> 6`` (little-endian bit order).
:func:`pack_rows_numpy` is the plain twin (``np.packbits(..., bitorder="little")``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["pack_rows", "pack_rows_numpy", "unpack_rows"]


@njit(cache=True, parallel=True)
def pack_rows(bits):
    """Pack an ``(m, n)`` array of 0/1 (any integer dtype; nonzero counts as 1) into an
    ``(m, ceil(n/64))`` uint64 array."""
    m, n = bits.shape
    W = (n + 63) // 64
    out = np.zeros((m, W), np.uint64)
    for i in prange(m):
        for w in range(W):
            acc = np.uint64(0)
            base = w * 64
            top = min(64, n - base)
            for b in range(top):
                if bits[i, base + b] != 0:
                    acc |= np.uint64(1) << np.uint64(b)
            out[i, w] = acc
    return out


def pack_rows_numpy(bits: np.ndarray) -> np.ndarray:
    """Reference for :func:`pack_rows` with numpy's packbits."""
    bits = np.asarray(bits) != 0
    m, n = bits.shape
    W = (n + 63) // 64
    padded = np.zeros((m, W * 64), dtype=np.uint8)
    padded[:, :n] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64).reshape(m, W)


def unpack_rows(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pack_rows`: an ``(m, n)`` uint8 0/1 array."""
    m = packed.shape[0]
    as_bytes = np.ascontiguousarray(packed.astype("<u8")).view(np.uint8).reshape(m, -1)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :n]
