"""Rank over GF(2) of a bit-packed matrix, with pivots, by the Method of Four Russians.

Layout: row ``i`` of an ``m x n`` 0/1 matrix is ``W = ceil(n / 64)`` uint64 words; column
``c`` is bit ``c & 63`` of word ``c >> 6`` (:func:`commlb.kernels.matrix.pack_rows`).

Algorithm (M4RI-style echelon form, Albrecht–Bard–Hart 2010): columns are processed in
strips of ``k`` (<= 8) columns lying inside one word.  For a strip, pivots are searched on
the strips' k-bit values only (a tiny elimination on at most k pivots), the at most k pivot
rows are combined so that they are the identity on their pivot columns, a table of all
2^s combinations of them is built (one row XOR per entry), and every row below is reduced by
one table lookup and one row XOR.  Cost about ``m * W * n / k`` word XORs; rows are
processed in parallel.

Certificate: the original indices of the pivot rows and the pivot columns.  Every row
operation adds a combination of *earlier pivot rows* to a later row, so the pivot rows
restricted to the pivot columns form a nonsingular minor of the input.

:func:`rank_gf2_python` is the plain twin (Python integers as bit rows, textbook
elimination) that the tests compare the kernel with.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["rank_gf2_packed", "rank_gf2_python", "DEFAULT_K"]

DEFAULT_K = 8


@njit(cache=True, inline="always")
def _strip(A, i, word, shift, mask):
    return (A[i, word] >> shift) & mask


@njit(cache=True)
def _ctz(v):
    # index of the lowest set bit of a nonzero uint64 (k <= 8 bits, a short loop is fine)
    b = 0
    one = np.uint64(1)
    while ((v >> np.uint64(b)) & one) == 0:
        b += 1
    return b


@njit(cache=True, parallel=True)
def _reduce_rows(A, start, stop, w0, word, shift, mask, idx, table):
    for i in prange(start, stop):
        v = idx[np.int64((A[i, word] >> shift) & mask)]
        if v != 0:
            W = A.shape[1]
            for j in range(w0, W):
                A[i, j] ^= table[v, j]


@njit(cache=True)
def rank_gf2_packed(A, ncols, k):
    """Rank of the packed 0/1 matrix ``A`` (modified in place) over GF(2).

    Returns ``(rank, pivot_rows, pivot_cols)``: original row indices and column indices of
    a ``rank x rank`` minor that is nonsingular over GF(2).
    """
    m = A.shape[0]
    W = A.shape[1]
    perm = np.arange(m)
    maxr = min(m, ncols)
    piv_cols = np.empty(maxr, np.int64)
    table = np.zeros((1 << k, W), np.uint64)
    idx = np.zeros(1 << k, np.int64)
    pb = np.zeros(k, np.uint64)
    pcol = np.zeros(k, np.int64)
    comb = np.zeros(k, np.int64)
    prow = np.zeros(k, np.int64)
    buf = np.zeros((k, W), np.uint64)
    one = np.uint64(1)
    r = 0
    c0 = 0
    while c0 < ncols and r < m:
        kk = min(k, ncols - c0, 64 - (c0 & 63))  # a strip never crosses a word boundary
        word = c0 >> 6
        shift = np.uint64(c0 & 63)
        mask = np.uint64((1 << kk) - 1)
        # 1. pivot search on k-bit strip values only
        s = 0
        i = r
        while i < m and s < kk:
            w = _strip(A, i, word, shift, mask)
            cm = 0
            for l in range(s):
                if (w >> np.uint64(pcol[l])) & one:
                    w ^= pb[l]
                    cm ^= comb[l]
            if w != 0:
                b = _ctz(w)
                cm ^= 1 << s
                for l in range(s):  # keep the pivots reduced: clear column b elsewhere
                    if (pb[l] >> np.uint64(b)) & one:
                        pb[l] ^= w
                        comb[l] ^= cm
                pb[s] = w
                pcol[s] = b
                comb[s] = cm
                prow[s] = i
                s += 1
            i += 1
        if s == 0:
            c0 += kk
            continue
        # 2. move the pivot rows to r .. r+s-1 (prow is increasing and >= r+l, no clashes)
        for l in range(s):
            t = r + l
            src = prow[l]
            if src != t:
                for j in range(word, W):
                    tmp = A[t, j]
                    A[t, j] = A[src, j]
                    A[src, j] = tmp
                tp = perm[t]
                perm[t] = perm[src]
                perm[src] = tp
        # 3. the reduced pivot rows: combinations of the original ones
        for l in range(s):
            for j in range(word, W):
                buf[l, j] = 0
            c = comb[l]
            for q in range(s):
                if (c >> q) & 1:
                    for j in range(word, W):
                        buf[l, j] ^= A[r + q, j]
        for l in range(s):
            for j in range(word, W):
                A[r + l, j] = buf[l, j]
            piv_cols[r + l] = c0 + pcol[l]
        # 4. table of all 2^s combinations, and strip value -> combination index
        for j in range(word, W):
            table[0, j] = 0
        for v in range(1, 1 << s):
            low = 0
            while not (v >> low) & 1:
                low += 1
            prev = v ^ (1 << low)
            for j in range(word, W):
                table[v, j] = table[prev, j] ^ buf[low, j]
        for w in range(1 << kk):
            v = 0
            for l in range(s):
                if (w >> pcol[l]) & 1:
                    v |= 1 << l
            idx[w] = v
        # 5. reduce every row below by one lookup
        _reduce_rows(A, r + s, m, word, word, shift, mask, idx, table)
        r += s
        c0 += kk
    return r, perm[:r].copy(), piv_cols[:r].copy()


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
