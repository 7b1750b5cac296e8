"""Rank over GF(2) of a bit-packed matrix, with pivots, by the Method of Four Russians.

Layout: row ``i`` of an ``m x n`` 0/1 matrix is ``W = ceil(n / 64)`` uint64 words; column
``c`` is bit ``c & 63`` of word ``c >> 6`` (:func:`commlb.kernels.matrix.pack_rows`).

Algorithm (M4RI-style echelon form, Albrecht–Bard–Hart 2010): columns are processed in
strips of up to 64 columns lying inside one word.  For a strip:

1. pivots are searched on the strips' values only (a Gaussian elimination on at most 64
   one-word rows), which also records, for each pivot l, the combination ``comb[l]`` of
   the pivot rows whose strip value has bit ``pcol[l]`` and no other pivot bit;
2. the pivot rows move up to rows r .. r+s-1, *unchanged* (they are never reduced among
   themselves: the rank and the certificate need echelon form only);
3. ``cmap[q, x]``, for each byte q of the strip and each value x, is the XOR of ``comb[l]``
   over the pivots in x: the combination of pivot rows that clears a row's pivot bits is
   the XOR of one ``cmap`` entry per byte of its strip value;
4. per group of k consecutive pivot rows, a table of all 2^k combinations (one row XOR per
   entry, each entry an earlier one plus one row);
5. every row below: its combination c from ``cmap``, then one table row per k-bit group of
   c XORed in, eight tables per pass over the row (from the next word on when the strip
   ends its word: no later strip reads the strip's word of those rows).

Cost about ``(m - r) * (W - word) * 9`` word loads per strip.  The row XOR loops run over
0-based ranges of slices, the form LLVM vectorises (with ``range(lo, hi)`` over a 2-d
array numba's negative-index handling keeps them scalar: 2x slower at 4096^2).
``parts`` > 1 splits steps 4 and 5 over numba threads by columns: each task builds its
columns of the tables and reduces its columns of every row, one parallel region per strip
with no barrier inside and no memory written by two tasks.

Certificate: the original indices of the pivot rows and the pivot columns.  Every row
operation adds a combination of *earlier pivot rows* to a later row, and a strip's pivot
rows are independent on the strip's pivot columns and zero on earlier strips' pivot
columns, so the pivot rows restricted to the pivot columns form a nonsingular minor of
the input (block triangular, nonsingular diagonal blocks).

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


@njit(cache=True)
def _pivot_search(A, r, m, word, shift, mask, kk, pb, pcol, comb, prow):
    # Gaussian elimination on the strip values only (<= kk <= 64 bits per row): scan rows
    # r, r+1, ... until kk pivots are found or the rows run out.  Invariant: pb[0..s) are
    # the pivots' strip values, fully reduced (pb[l] has bit pcol[l] and no other pivot
    # bit), and pb[l] = XOR of the strip values of rows prow[q] over the bits q of comb[l].
    one = np.uint64(1)
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
    return s


@njit(cache=True)
def _strip_cols(A, r, s, m, word, shift, mask, cmap, nbytes, k, table, lo, hi):
    # Steps 4 and 5 on the words lo..hi-1 of the rows only (a thread's share of a strip).
    # 4. table[g, v] = XOR of the pivot rows r + k*g + q over the bits q of v, one row XOR
    #    per entry (each entry = an earlier entry + one row); entry 0 stays all-zero.
    # 5. each row below: c = the combination of pivot rows that clears its strip bits (one
    #    cmap entry per byte of the strip), then XOR the tables' entries for c's k-bit
    #    groups, eight tables per pass over the row.
    # All row loops run over 0-based ranges of slices: the form LLVM vectorises.
    n = hi - lo
    if n <= 0:
        return
    G = (s + k - 1) // k
    for g in range(G):
        sg = min(k, s - k * g)
        for v in range(1, 1 << sg):
            low = _ctz(np.uint64(v))
            dst = table[g, v, lo:hi]
            prev = table[g, v ^ (1 << low), lo:hi]
            src = A[r + k * g + low, lo:hi]
            for j in range(n):
                dst[j] = prev[j] ^ src[j]
    if k == 8:
        scratch = np.zeros(1, np.uint64)
        _rows8(A, r + s, m, word, shift, mask, cmap, table, lo, hi, scratch)
        return
    b8 = np.uint64(0xFF)
    kmask = np.uint64((1 << k) - 1)
    vi = np.zeros(8, np.int64)
    for i in range(r + s, m):
        w = (A[i, word] >> shift) & mask
        if w == 0:
            continue
        c = np.uint64(0)
        for q in range(nbytes):
            c ^= cmap[q, np.int64((w >> np.uint64(8 * q)) & b8)]
        a = A[i, lo:hi]
        for g0 in range(0, G, 8):
            for q in range(8):  # groups past G use the all-zero entry 0
                g = g0 + q
                vi[q] = np.int64((c >> np.uint64(k * g)) & kmask) if g < G else 0
            t0 = table[g0, vi[0], lo:hi]
            t1 = table[g0 + 1, vi[1], lo:hi]
            t2 = table[g0 + 2, vi[2], lo:hi]
            t3 = table[g0 + 3, vi[3], lo:hi]
            t4 = table[g0 + 4, vi[4], lo:hi]
            t5 = table[g0 + 5, vi[5], lo:hi]
            t6 = table[g0 + 6, vi[6], lo:hi]
            t7 = table[g0 + 7, vi[7], lo:hi]
            for j in range(n):
                a[j] ^= ((t0[j] ^ t1[j]) ^ (t2[j] ^ t3[j])) ^ ((t4[j] ^ t5[j]) ^ (t6[j] ^ t7[j]))


@njit(cache=True, inline="always")
def _comb8(w, cmap):
    # the combination of pivot rows that clears the strip bits w: one cmap entry per byte,
    # all eight unrolled (a byte past the strip is 0 and cmap[q, 0] is 0)
    b8 = np.uint64(0xFF)
    return ((cmap[0, np.int64(w & b8)] ^ cmap[1, np.int64((w >> np.uint64(8)) & b8)])
            ^ (cmap[2, np.int64((w >> np.uint64(16)) & b8)] ^ cmap[3, np.int64((w >> np.uint64(24)) & b8)])
            ^ (cmap[4, np.int64((w >> np.uint64(32)) & b8)] ^ cmap[5, np.int64((w >> np.uint64(40)) & b8)])
            ^ (cmap[6, np.int64((w >> np.uint64(48)) & b8)] ^ cmap[7, np.int64(w >> np.uint64(56))]))


@njit(cache=True, inline="always")
def _next_row(A, i, stop, word, shift, mask):
    # the first row from i on whose strip bits are not all zero (stop if none)
    while i < stop and ((A[i, word] >> shift) & mask) == 0:
        i += 1
    return i


@njit(cache=True)
def _rows8(A, start, stop, word, shift, mask, cmap, table, lo, hi, scratch):
    # step 5 for k = 8 (at most 8 tables, one pass per row): the same as the general loop
    # in _strip_cols, with the table indices taken straight from the bytes of c (a group
    # past the pivots gets byte 0, the all-zero entry) and flat unsigned offsets instead
    # of nine slices per row: unsigned indices need no negative-index fix-up, so the loop
    # still vectorises, and the per-row set-up is a third of the slices' (it dominates
    # when rows are short).  Software-pipelined: the next row's combination is found, and
    # the first word of each of its table rows loaded (their sum goes to scratch[0], so
    # the loads stay), before the current row is XORed; 10% faster at 4096^2.
    W = A.shape[1]
    n = hi - lo
    Af = A.reshape(-1)
    Tf = table.reshape(-1)
    Wu = np.uint64(W)
    base = np.uint64(lo)
    K = np.uint64(256)
    b8 = np.uint64(0xFF)
    touched = np.uint64(0)
    i = _next_row(A, start, stop, word, shift, mask)
    c = _comb8((A[i, word] >> shift) & mask, cmap) if i < stop else np.uint64(0)
    while i < stop:
        nxt = _next_row(A, i + 1, stop, word, shift, mask)
        cn = np.uint64(0)
        if nxt < stop:
            cn = _comb8((A[nxt, word] >> shift) & mask, cmap)
            for g in range(8):
                touched ^= Tf[(np.uint64(g) * K + ((cn >> np.uint64(8 * g)) & b8)) * Wu + base]
        ab = np.uint64(i) * Wu + base
        o0 = (c & b8) * Wu + base
        o1 = (K + ((c >> np.uint64(8)) & b8)) * Wu + base
        o2 = (np.uint64(2) * K + ((c >> np.uint64(16)) & b8)) * Wu + base
        o3 = (np.uint64(3) * K + ((c >> np.uint64(24)) & b8)) * Wu + base
        o4 = (np.uint64(4) * K + ((c >> np.uint64(32)) & b8)) * Wu + base
        o5 = (np.uint64(5) * K + ((c >> np.uint64(40)) & b8)) * Wu + base
        o6 = (np.uint64(6) * K + ((c >> np.uint64(48)) & b8)) * Wu + base
        o7 = (np.uint64(7) * K + (c >> np.uint64(56))) * Wu + base
        for jj in range(n):
            j = np.uint64(jj)
            Af[ab + j] ^= (((Tf[o0 + j] ^ Tf[o1 + j]) ^ (Tf[o2 + j] ^ Tf[o3 + j]))
                           ^ ((Tf[o4 + j] ^ Tf[o5 + j]) ^ (Tf[o6 + j] ^ Tf[o7 + j])))
        i = nxt
        c = cn
    scratch[0] = touched


@njit(cache=True, parallel=True)
def _strip_par(A, r, s, m, word, shift, mask, cmap, nbytes, k, table, first, parts):
    # the words first..W-1 split into `parts` contiguous column ranges, one per task: a
    # task builds its columns of the tables and reduces its columns of every row, so the
    # tasks share no written memory and need no barrier between steps 4 and 5 (callers
    # pass first > word: the strip's word, which every task reads, is not written)
    n = A.shape[1] - first
    for p in prange(parts):
        _strip_cols(A, r, s, m, word, shift, mask, cmap, nbytes, k, table,
                    first + n * p // parts, first + n * (p + 1) // parts)


#: a parallel pass needs at least this many words of rows to reduce per part (below, the
#: pass runs serially: forking a pass costs more than it saves)
PAR_MIN_WORDS = 1 << 14


@njit(cache=True)
def rank_gf2_packed(A, ncols, k, block=64, parts=1, par_min_words=PAR_MIN_WORDS):
    """Rank of the packed 0/1 matrix ``A`` (modified in place) over GF(2).

    ``block`` columns (<= 64, inside one word) are processed per pass over the rows below,
    with one table of 2^k combinations per group of k pivot rows (1 <= k <= 8).  ``parts``
    > 1 splits each pass (table building and row reduction) by columns into that many
    tasks run on numba's threads (:func:`rank_gf2_bits` chooses and sets the thread
    count); a pass with fewer than ``par_min_words`` words per part to reduce runs on fewer
    parts.  ``A`` is left with the pivot rows in place and stale bits elsewhere.
    Returns ``(rank, pivot_rows, pivot_cols)``: original row indices and column indices of
    a ``rank x rank`` minor that is nonsingular over GF(2).
    """
    m = A.shape[0]
    W = A.shape[1]
    perm = np.arange(m)
    maxr = min(m, ncols)
    piv_cols = np.empty(maxr, np.int64)
    block = max(1, min(block, 64))
    k = max(1, min(k, 8))
    G_max = (block + k - 1) // k
    G_pad = (G_max + 7) // 8 * 8
    # entry 0 of every table stays all-zero (never written)
    table = np.zeros((G_pad, 1 << k, W), np.uint64)
    cmap = np.zeros((8, 256), np.uint64)
    lut = np.zeros(64, np.uint64)
    pb = np.zeros(64, np.uint64)
    pcol = np.zeros(64, np.int64)
    comb = np.zeros(64, np.uint64)
    prow = np.zeros(64, np.int64)
    r = 0
    c0 = 0
    while c0 < ncols and r < m:
        kk = min(block, ncols - c0, 64 - (c0 & 63))  # a strip never crosses a word boundary
        word = c0 >> 6
        shift = np.uint64(c0 & 63)
        mask = np.uint64(0xFFFFFFFFFFFFFFFF) if kk == 64 else np.uint64((1 << kk) - 1)
        # 1. pivot search on the strip values only
        s = _pivot_search(A, r, m, word, shift, mask, kk, pb, pcol, comb, prow)
        if s == 0:
            c0 += kk
            continue
        # 2. move the pivot rows to r .. r+s-1 (prow is increasing and >= r+l, no clashes)
        for l in range(s):
            t = r + l
            src = prow[l]
            if src != t:
                at = A[t, word:]
                asrc = A[src, word:]
                for j in range(W - word):
                    tmp = at[j]
                    at[j] = asrc[j]
                    asrc[j] = tmp
                tp = perm[t]
                perm[t] = perm[src]
                perm[src] = tp
            piv_cols[r + l] = c0 + pcol[l]
        # 3. cmap[q, x]: the combination of pivot rows (bit l = row r+l) that clears the
        #    pivot bits x of strip byte q, i.e. the XOR of comb[l] over the pivots in x
        nbytes = (kk + 7) // 8
        for b in range(64):
            lut[b] = 0
        for l in range(s):
            lut[pcol[l]] = comb[l]
        for q in range(nbytes):
            for x in range(1, 256):
                low = _ctz(np.uint64(x))
                cmap[q, x] = cmap[q, x ^ (1 << low)] ^ lut[8 * q + low]
        # 4. the tables, 5. every row below.  When the strip ends its word, no later strip
        #    reads that word of the rows below: they are reduced from the next word on
        #    (the strip's word then keeps stale bits, which nothing reads again).
        first = word + 1 if (c0 + kk) % 64 == 0 or c0 + kk >= ncols else word
        below = m - r - s
        use = parts if first > word else 1
        while use > 1 and (below * (W - first) < par_min_words * use or W - first < use):
            use -= 1
        if use > 1:
            _strip_par(A, r, s, m, word, shift, mask, cmap, nbytes, k, table, first, use)
        else:
            _strip_cols(A, r, s, m, word, shift, mask, cmap, nbytes, k, table, first, W)
        r += s
        c0 += kk
    return r, perm[:r].copy(), piv_cols[:r].copy()


#: below this many matrix entries the kernel runs on one thread: a pass over the rows below
#: a strip is then too short for a thread pool to pay (bench/bench_rank_gf2.py on 2 idle
#: cores: 2 threads took 1.58x / 1.40x the time of one at 4096^2 / 5120^2, 0.88x at 6144^2,
#: 0.82x at 8192^2)
THREADS_FROM_ENTRIES = 6144 * 6144


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
    use = choose_threads(m, n) if threads is None else max(1, int(threads))
    use = min(use, int(config.NUMBA_NUM_THREADS))
    before = get_num_threads()
    set_num_threads(use)  # packing too: a busy machine gets no thread pool at all
    try:
        return rank_gf2_packed(pack_rows(bits), n, k, DEFAULT_BLOCK, use)
    finally:
        set_num_threads(before)
