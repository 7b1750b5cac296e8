"""Gram matrix of a sign matrix by XOR and popcount on packed bits.

For a 0/1 matrix f with m rows and the sign matrix A = (−1)^f, the Gram matrix of the
columns is

    G[c, c'] = Σ_x A[x, c]·A[x, c'] = m − 2·popcount(f[:, c] XOR f[:, c']),

so with each column packed into ⌈m/64⌉ words G costs d²/2 · ⌈m/64⌉ word operations
instead of d²·m multiply-adds (used by the spectral discrepancy certificate,
:mod:`commlb.bounds.discrepancy`).  Exact integers by construction.

* :func:`sign_gram` — ``backend="numba"`` the compiled kernel (``cache=True``),
  ``"python"`` the plain twin (A.T @ A in int64), ``"auto"`` the kernel from 256 columns.
"""

from __future__ import annotations

import numpy as np

from .backend import resolve_backend

__all__ = ["pack_columns", "sign_gram", "sign_gram_python"]


def pack_columns(values01: np.ndarray) -> np.ndarray:
    """Each column of a 0/1 matrix as little-endian bits in uint64 words: (cols, words)."""
    vals = np.ascontiguousarray(np.asarray(values01).T, dtype=np.uint8)
    packed = np.packbits(vals, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((packed.shape[0], pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def sign_gram_python(values01: np.ndarray) -> np.ndarray:
    """Plain twin: AᵀA with A = 1 − 2f, in int64."""
    A = 1 - 2 * np.asarray(values01, dtype=np.int64)
    return A.T @ A


def _gram_numba(words: np.ndarray, m: int) -> np.ndarray:
    from ._signgram_numba import gram_packed

    return gram_packed(words, np.int64(m))


def sign_gram(values01: np.ndarray, backend: str = "auto") -> np.ndarray:
    """The Gram matrix of the columns of (−1)^f, exactly (int64)."""
    vals = np.asarray(values01)
    which = resolve_backend(backend, auto="numba" if vals.shape[1] >= 256 else "python")
    if which == "python":
        return sign_gram_python(vals)
    return _gram_numba(pack_columns(vals), int(vals.shape[0]))
