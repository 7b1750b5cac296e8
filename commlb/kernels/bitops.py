"""Word-level helpers shared by the numba kernels: popcount, count of trailing zeros, a bit
mask, the list of a word's set bits, and a wall clock readable inside compiled code.

``popcount64`` is the SWAR population count (Hacker's Delight §5-1); ``ctz64`` the index of
the lowest set bit of a nonzero word, as the popcount of the bits below it.  Plain twins
over Python integers: :func:`popcount_python`, :func:`ctz_python`, :func:`set_bits_python`
(tests compare them).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit, objmode

__all__ = ["bit64", "ctz64", "ctz_python", "now", "popcount64", "popcount_python", "set_bits64", "set_bits_python"]


@njit(cache=True, inline="always")
def popcount64(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def ctz64(x):
    """Index of the lowest set bit of a nonzero uint64 word."""
    return popcount64((x & (~x + np.uint64(1))) - np.uint64(1))


@njit(cache=True, inline="always")
def bit64(i):
    return np.uint64(1) << np.uint64(i)


@njit(cache=True, inline="always")
def set_bits64(x, out):
    """Write the indices of the set bits of the uint64 word ``x`` into ``out``, ascending;
    returns how many (``out`` must have room for them)."""
    t = 0
    while x:
        out[t] = ctz64(x)
        x &= x - np.uint64(1)
        t += 1
    return t


@njit(cache=True)
def now():
    """``time.perf_counter()`` from inside compiled code (an object-mode call: check it
    every few hundred iterations, not every one)."""
    with objmode(t="float64"):
        t = time.perf_counter()
    return t


def popcount_python(x: int) -> int:
    """Plain twin of :func:`popcount64`."""
    return x.bit_count()


def ctz_python(x: int) -> int:
    """Plain twin of :func:`ctz64` (x != 0)."""
    return (x & -x).bit_length() - 1


def set_bits_python(x: int) -> list[int]:
    """Plain twin of :func:`set_bits64`."""
    return [i for i in range(x.bit_length()) if (x >> i) & 1]
