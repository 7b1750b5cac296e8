"""Elimination over GF(2) and GF(p) without numba: the plain twins of the kernels in
:mod:`commlb.kernels.gf2` and :mod:`commlb.kernels.gfp`, and the dispatchers that pick a
kernel or its twin with the shared backend switch (:mod:`commlb.kernels.backend`).

This module imports no numba, so small matrices (``"auto"`` below
:data:`~commlb.kernels.backend.PLAIN_BELOW_ENTRIES` entries) are ranked without loading or
compiling anything: what a short command such as ``commlb bounds --problem ip --n 4``
needs on a fresh install.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GFP_PRIME", "rank_gf2_python", "rank_gfp_python", "rank_gf2_any", "rank_gfp_any"]

GFP_PRIME = 2147483647  # 2^31 - 1: products of two residues fit in int64


def rank_gf2_python(rows: list[int], ncols: int) -> tuple[int, list[int], list[int]]:
    """Plain twin of :func:`rank_gf2_packed`: rows as Python integers (bit c = column c),
    textbook elimination column by column.  Returns (rank, pivot rows, pivot columns)."""
    work = list(rows)
    order = list(range(len(rows)))
    r = 0
    piv_cols: list[int] = []
    for c in range(ncols):
        bit = 1 << c
        hit = next((i for i in range(r, len(work)) if work[i] & bit), None)
        if hit is None:
            continue
        work[r], work[hit] = work[hit], work[r]
        order[r], order[hit] = order[hit], order[r]
        for i in range(r + 1, len(work)):
            if work[i] & bit:
                work[i] ^= work[r]
        piv_cols.append(c)
        r += 1
        if r == len(work):
            break
    return r, order[:r], piv_cols


def rank_gfp_python(rows: list[list[int]], p: int) -> tuple[int, list[int], list[int]]:
    """Plain twin: textbook elimination over Python ints mod p.
    Returns (rank, pivot rows, pivot columns)."""
    work = [[v % p for v in row] for row in rows]
    order = list(range(len(work)))
    ncols = len(work[0]) if work else 0
    r = 0
    piv_cols: list[int] = []
    for c in range(ncols):
        hit = next((i for i in range(r, len(work)) if work[i][c]), None)
        if hit is None:
            continue
        work[r], work[hit] = work[hit], work[r]
        order[r], order[hit] = order[hit], order[r]
        inv = pow(work[r][c], p - 2, p)
        for i in range(r + 1, len(work)):
            if work[i][c]:
                f = work[i][c] * inv % p
                work[i] = [(a - f * b) % p for a, b in zip(work[i], work[r])]
        piv_cols.append(c)
        r += 1
        if r == len(work):
            break
    return r, order[:r], piv_cols


def rank_gfp_any(A: np.ndarray, p: int, backend: str = "auto"):
    """``(rank, pivot_rows, pivot_cols)`` over GF(p) of the integer matrix ``A`` by row
    elimination in numba (:func:`rank_gfp_rows`) or its plain twin
    (:func:`rank_gfp_python`), chosen by the shared switch
    (:func:`commlb.kernels.backend.auto_for_size`).  ``A`` is not modified."""
    from .backend import auto_for_size

    reduced = np.mod(np.asarray(A, dtype=np.int64), p)
    if auto_for_size(backend, reduced.size) == "numba":
        from .gfp import rank_gfp_rows

        r, prow, pcol = rank_gfp_rows(reduced, p)
        return int(r), prow.tolist(), pcol.tolist()
    return rank_gfp_python(reduced.tolist(), p)


def rank_gf2_any(bits: np.ndarray, backend: str = "auto", k: int = 8, threads: int | None = None):
    """``(rank, pivot_rows, pivot_cols)`` over GF(2) of an (m, n) 0/1 array by the kernel
    (:func:`rank_gf2_bits`) or its plain twin (:func:`rank_gf2_python`), chosen by the
    shared switch (:func:`commlb.kernels.backend.auto_for_size`)."""
    from .backend import auto_for_size

    bits = np.asarray(bits)
    if auto_for_size(backend, bits.size) == "numba":
        from .gf2 import rank_gf2_bits

        r, prow, pcol = rank_gf2_bits(bits, k=k, threads=threads)
        return int(r), prow.tolist(), pcol.tolist()
    rows = [int.from_bytes(np.packbits(row != 0, bitorder="little").tobytes(), "little") for row in bits]
    return rank_gf2_python(rows, bits.shape[1] if bits.ndim == 2 else 0)

