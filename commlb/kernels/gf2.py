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

:func:`rank_words` / :func:`insert_word` are the same elimination for rows of at most 64
columns kept as one word each, grown one row at a time (the exact-D search uses them).

:func:`rank_gf2_python` is the plain twin of both (Python integers as bit rows, textbook
elimination) that the tests compare the kernels with.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .bitops import ctz64 as _ctz
from .elim import rank_gf2_any, rank_gf2_python  # the plain twin lives without numba

__all__ = [
    "rank_gf2_packed",
    "rank_gf2_bits",
    "rank_gf2_any",
    "rank_words",
    "insert_word",
    "rank_gf2_python",
    "choose_threads",
    "DEFAULT_K",
    "DEFAULT_BLOCK",
]

DEFAULT_K = 8
DEFAULT_BLOCK = 64


@njit(cache=True)
def insert_word(basis, v):
    """Insert the row ``v`` (one uint64 word, at most 64 columns) into the GF(2) basis
    ``basis`` (64 words, ``basis[b]`` the row whose leading bit is b, 0 if none).  Returns 1
    when the rank grew, else 0.  Incremental: the exact-D search grows a basis element by
    element and cuts as soon as a rank exceeds its budget."""
    for b in range(63, -1, -1):
        if v == 0:
            return 0
        if (v >> np.uint64(b)) & np.uint64(1):
            if basis[b] == 0:
                basis[b] = v
                return 1
            v ^= basis[b]
    return 0


@njit(cache=True)
def rank_words(vecs, n):
    """GF(2) rank of the first ``n`` rows of ``vecs`` (one uint64 word per row)."""
    basis = np.zeros(64, dtype=np.uint64)
    rank = 0
    for t in range(n):
        rank += insert_word(basis, vecs[t])
    return rank


@njit(cache=True, parallel=True)
def _reduce_rows(A, start, stop, word, shift, mask, G, k, idx, table):
    # every row below: for each group g of pivots, one lookup of its k strip bits and one
    # XOR of the matching combination of reduced pivot rows (words from `word` on)
    W = A.shape[1]
    kmask = np.uint64((1 << k) - 1)
    for i in prange(start, stop):
        w = (A[i, word] >> shift) & mask
        if w == 0:
            continue
        for g in range(G):
            v = idx[g, np.int64((w >> np.uint64(g * k)) & kmask)]
            if v != 0:
                for j in range(word, W):
                    A[i, j] ^= table[g, v, j]


@njit(cache=True, parallel=True)
def _reduce_rows8(A, start, stop, word, shift, mask, idx, table):
    # the k = 8 case, fused: one pass over each row XORs the 8 looked-up table rows at once
    # (group g uses byte g of the strip; unused groups point at the all-zero entry 0)
    W = A.shape[1]
    b = np.uint64(0xFF)
    for i in prange(start, stop):
        w = (A[i, word] >> shift) & mask
        if w == 0:
            continue
        v0 = idx[0, np.int64(w & b)]
        v1 = idx[1, np.int64((w >> np.uint64(8)) & b)]
        v2 = idx[2, np.int64((w >> np.uint64(16)) & b)]
        v3 = idx[3, np.int64((w >> np.uint64(24)) & b)]
        v4 = idx[4, np.int64((w >> np.uint64(32)) & b)]
        v5 = idx[5, np.int64((w >> np.uint64(40)) & b)]
        v6 = idx[6, np.int64((w >> np.uint64(48)) & b)]
        v7 = idx[7, np.int64((w >> np.uint64(56)) & b)]
        t0 = table[0, v0]
        t1 = table[1, v1]
        t2 = table[2, v2]
        t3 = table[3, v3]
        t4 = table[4, v4]
        t5 = table[5, v5]
        t6 = table[6, v6]
        t7 = table[7, v7]
        for j in range(word, W):
            A[i, j] ^= (t0[j] ^ t1[j]) ^ (t2[j] ^ t3[j]) ^ ((t4[j] ^ t5[j]) ^ (t6[j] ^ t7[j]))


@njit(cache=True)
def rank_gf2_packed(A, ncols, k, block=64):
    """Rank of the packed 0/1 matrix ``A`` (modified in place) over GF(2).

    ``block`` columns (<= 64, inside one word) are processed per pass over the rows below,
    with one table of 2^k combinations per group of k columns (k <= 8).
    Returns ``(rank, pivot_rows, pivot_cols)``: original row indices and column indices of
    a ``rank x rank`` minor that is nonsingular over GF(2).
    """
    m = A.shape[0]
    W = A.shape[1]
    perm = np.arange(m)
    maxr = min(m, ncols)
    piv_cols = np.empty(maxr, np.int64)
    block = max(1, min(block, 64))
    G_max = 8 if k == 8 else (block + k - 1) // k
    table = np.zeros((G_max, 1 << k, W), np.uint64)
    idx = np.zeros((G_max, 1 << k), np.int64)
    pb = np.zeros(64, np.uint64)
    pcol = np.zeros(64, np.int64)
    comb = np.zeros(64, np.uint64)
    prow = np.zeros(64, np.int64)
    gslots = np.zeros((G_max, 8), np.int64)
    gcount = np.zeros(G_max, np.int64)
    buf = np.zeros((64, W), np.uint64)
    one = np.uint64(1)
    r = 0
    c0 = 0
    while c0 < ncols and r < m:
        kk = min(block, ncols - c0, 64 - (c0 & 63))  # a strip never crosses a word boundary
        word = c0 >> 6
        shift = np.uint64(c0 & 63)
        mask = np.uint64(0xFFFFFFFFFFFFFFFF) if kk == 64 else np.uint64((1 << kk) - 1)
        # 1. pivot search on the strip values only (a tiny elimination on <= kk pivots)
        s = 0
        i = r
        while i < m and s < kk:
            w = (A[i, word] >> shift) & mask
            if w != 0:
                cm = np.uint64(0)
                for l in range(s):
                    if (w >> np.uint64(pcol[l])) & one:
                        w ^= pb[l]
                        cm ^= comb[l]
                if w != 0:
                    b = _ctz(w)
                    cm ^= one << np.uint64(s)
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
                if (c >> np.uint64(q)) & one:
                    for j in range(word, W):
                        buf[l, j] ^= A[r + q, j]
        for l in range(s):
            for j in range(word, W):
                A[r + l, j] = buf[l, j]
            piv_cols[r + l] = c0 + pcol[l]
        # 4. group the pivots by their k-column group; per group a table of all
        #    combinations and a map from the group's k strip bits to a combination
        G = (kk + k - 1) // k
        for g in range(G):
            gcount[g] = 0
        for l in range(s):
            g = pcol[l] // k
            gslots[g, gcount[g]] = l
            gcount[g] += 1
        for g in range(G):
            sg = gcount[g]
            for j in range(word, W):
                table[g, 0, j] = 0
            for v in range(1, 1 << sg):
                low = 0
                while not (v >> low) & 1:
                    low += 1
                prev = v ^ (1 << low)
                src = gslots[g, low]
                for j in range(word, W):
                    table[g, v, j] = table[g, prev, j] ^ buf[src, j]
            for x in range(1 << k):
                v = 0
                for q in range(sg):
                    if (x >> (pcol[gslots[g, q]] - g * k)) & 1:
                        v |= 1 << q
                idx[g, x] = v
        # 5. reduce every row below
        if k == 8:
            for g in range(G, 8):  # groups beyond the strip: all-zero combination
                for x in range(256):
                    idx[g, x] = 0
                for j in range(word, W):
                    table[g, 0, j] = 0
            _reduce_rows8(A, r + s, m, word, shift, mask, idx, table)
        else:
            _reduce_rows(A, r + s, m, word, shift, mask, G, k, idx, table)
        r += s
        c0 += kk
    return r, perm[:r].copy(), piv_cols[:r].copy()




#: below this many matrix entries the kernel runs on one thread: a pass over the rows below
#: a strip is then too short for a thread pool to pay (bench/bench_rank_gf2.py)
THREADS_FROM_ENTRIES = 4096 * 4096


def free_cores() -> int:
    """Cores not busy with other work right now: the cores this process may use minus the
    other runnable tasks (Linux: the instantaneous count in /proc/loadavg, less this
    process; elsewhere the one-minute load average), at least 1.  A busy shared machine
    thus gets one thread: a thread pool whose second thread waits for a core stalls every
    pass of the elimination at its barrier (measured 3-20x slower than one thread)."""
    import os

    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        ncpu = os.cpu_count() or 1
    try:
        with open("/proc/loadavg") as fh:
            others = float(fh.read().split()[3].split("/")[0]) - 1.0
    except (OSError, IndexError, ValueError):
        try:
            others = os.getloadavg()[0]
        except OSError:
            others = 0.0
    return max(1, min(ncpu, int(ncpu - max(0.0, others) + 0.5)))


def choose_threads(m: int, n: int) -> int:
    """Threads for :func:`rank_gf2_packed` on an m x n matrix: 1 below
    :data:`THREADS_FROM_ENTRIES` entries, else the free cores (capped by numba's pool)."""
    if m * n < THREADS_FROM_ENTRIES:
        return 1
    from numba import config

    return max(1, min(free_cores(), int(config.NUMBA_NUM_THREADS)))


def rank_gf2_bits(bits: np.ndarray, k: int = DEFAULT_K, threads: int | None = None):
    """Rank over GF(2) of an (m, n) 0/1 array: pack it and run :func:`rank_gf2_packed` on
    ``threads`` numba threads (None: :func:`choose_threads`).  Returns
    ``(rank, pivot_rows, pivot_cols)``."""
    from numba import config, get_num_threads, set_num_threads

    from .matrix import pack_rows

    bits = np.ascontiguousarray(bits)
    m, n = bits.shape
    packed = pack_rows(bits)
    use = choose_threads(m, n) if threads is None else max(1, int(threads))
    before = get_num_threads()
    set_num_threads(min(use, int(config.NUMBA_NUM_THREADS)))
    try:
        return rank_gf2_packed(packed, n, k, DEFAULT_BLOCK)
    finally:
        set_num_threads(before)
