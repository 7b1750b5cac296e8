"""Rank over GF(p) for a word-size prime p, with pivots.

Two kernels and a plain twin:

* :func:`rank_gfp_rows` — textbook row elimination in numba with int64 arithmetic; any prime
  p < 2^31 (products stay below 2^62).  Used for small matrices and large primes.
* :func:`rank_gfp_blocked` — right-looking blocked LU in the style of FFLAS-FFPACK
  (Dumas–Giorgi–Pernet 2008): a panel of ``b`` columns is factorised by recursive halving
  down to leaves of 16 columns, which are copied to a contiguous block and eliminated in
  numba; every update (inside the panel and of the trailing matrix) is a float64 BLAS
  product followed by one fused reduction mod p, exact because ``b * (p - 1)^2 < 2^53``
  (so p < 2^23 allows b = 128).  Cost ~ (2/3) n^3 flops, almost all in BLAS.  The mod-p
  kernels are serial on purpose: run right after a multi-threaded BLAS call, a numba
  thread pool fights the BLAS threads for the cores and runs several times slower.
* :func:`rank_gfp_python` — plain Python elimination over ``int`` (the reference).

All return ``(rank, pivot_rows, pivot_cols)``: original row indices and column indices of a
minor that is nonsingular over GF(p).  Only row swaps and "add a multiple of an earlier pivot
row to a later row" are used, so the pivot rows restricted to the pivot columns are such a
minor.  For an integer matrix a minor nonsingular mod p has a nonzero determinant, so the
GF(p) rank is a sound lower bound on the rank over Q.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .elim import rank_gfp_any, rank_gfp_python  # the plain twin lives without numba

__all__ = [
    "rank_gfp_rows",
    "rank_gfp_blocked",
    "rank_gfp_python",
    "rank_gfp_any",
    "blocked_width",
    "inverse_mod",
]

_EXACT = 2**53


def blocked_width(p: int) -> int:
    """Largest panel width b <= 128 with b * (p-1)^2 < 2^53 (0 if p is too large)."""
    if p < 2:
        return 0
    return int(min(128, (_EXACT - 1) // ((p - 1) ** 2)))


@njit(cache=True)
def inverse_mod(a, p):
    """a^-1 mod p by the extended Euclidean algorithm (a != 0 mod p, p prime)."""
    t, new_t = 0, 1
    r, new_r = p, a % p
    while new_r != 0:
        q = r // new_r
        t, new_t = new_t, t - q * new_t
        r, new_r = new_r, r - q * new_r
    if t < 0:
        t += p
    return t


@njit(cache=True)
def rank_gfp_rows(A, p):
    """Rank of the int64 matrix ``A`` (entries in [0, p); modified in place) over GF(p)."""
    m, n = A.shape
    perm = np.arange(m)
    piv_cols = np.empty(min(m, n), np.int64)
    r = 0
    for c in range(n):
        if r == m:
            break
        hit = -1
        for i in range(r, m):
            if A[i, c] != 0:
                hit = i
                break
        if hit < 0:
            continue
        if hit != r:
            for j in range(c, n):
                tmp = A[r, j]
                A[r, j] = A[hit, j]
                A[hit, j] = tmp
            tp = perm[r]
            perm[r] = perm[hit]
            perm[hit] = tp
        inv = inverse_mod(A[r, c], p)
        for i in range(r + 1, m):
            if A[i, c] != 0:
                f = (A[i, c] * inv) % p
                for j in range(c, n):
                    A[i, j] = (A[i, j] + (p - f) * A[r, j]) % p
        piv_cols[r] = c
        r += 1
    return r, perm[:r].copy(), piv_cols[:r].copy()


@njit(cache=True, inline="always")
def _fmod(x, p, invp):
    # x an exact integer in float64 with |x| < 2^53; returns x mod p in [0, p)
    q = np.floor(x * invp)
    y = x - q * p
    if y < 0:
        y += p
    elif y >= p:
        y -= p
    return y


@njit(cache=True)
def _factor_leaf(L, p, pcols, swaps):
    """Factorise the contiguous (rows x w) block L in place (w small): for each column with
    a pivot, swap it to the next pivot row (``swaps[s]`` = the row swapped with row s),
    store the multipliers below it in that column and update the columns to its right.
    Pivot columns (local) go to ``pcols``.  Returns the number of pivots s."""
    m, w = L.shape
    invp = 1.0 / p
    s = 0
    for c in range(w):
        if s == m:
            break
        hit = -1
        for i in range(s, m):
            if L[i, c] != 0.0:
                hit = i
                break
        if hit < 0:
            continue
        swaps[s] = hit
        if hit != s:
            for j in range(w):
                tmp = L[s, j]
                L[s, j] = L[hit, j]
                L[hit, j] = tmp
        inv = float(inverse_mod(np.int64(L[s, c]), np.int64(p)))
        for i in range(s + 1, m):
            a = L[i, c]
            if a != 0.0:
                f = _fmod(a * inv, p, invp)
                L[i, c] = f
                for j in range(c + 1, w):
                    L[i, j] = _fmod(L[i, j] - f * L[s, j], p, invp)
        pcols[s] = c
        s += 1
    return s


@njit(cache=True)
def _apply_swaps(A, perm, r, swaps, s):
    # the leaf's row swaps on the full rows of A (and on the permutation), in order
    n = A.shape[1]
    for t in range(s):
        hit = r + swaps[t]
        dst = r + t
        if hit != dst:
            for j in range(n):
                tmp = A[dst, j]
                A[dst, j] = A[hit, j]
                A[hit, j] = tmp
            tp = perm[dst]
            perm[dst] = perm[hit]
            perm[hit] = tp


def _factor_panel(A, perm, r, c0, c1, p, pcols):
    """Factorise columns c0..c1-1 of rows r.. of A: copy them to a contiguous block (the
    elimination then walks memory row by row), factor it, apply its row swaps to the full
    rows of A, and write it back.  Pivot columns (global) go to ``pcols``.  Returns s."""
    L = np.ascontiguousarray(A[r:, c0:c1])
    local = np.empty(c1 - c0, np.int64)
    swaps = np.empty(c1 - c0, np.int64)
    s = int(_factor_leaf(L, p, local, swaps))
    _apply_swaps(A, perm, r, swaps, s)
    A[r:, c0:c1] = L
    pcols[:s] = local[:s] + c0
    return s


@njit(cache=True)
def _unit_lower_inverse(A, r, s, pcols, p):
    """Inverse mod p of the unit lower-triangular s x s factor L11 whose strictly lower
    entries are the multipliers A[r + l, pcols[l']] (l' < l)."""
    invp = 1.0 / p
    Linv = np.zeros((s, s))
    for l in range(s):
        Linv[l, l] = 1.0
    # forward substitution: row l of Linv = e_l - sum_{l' < l} L[l, l'] * Linv[l']
    for l in range(s):
        for q in range(l):
            f = A[r + l, pcols[q]]
            if f != 0.0:
                for j in range(q + 1):
                    Linv[l, j] = _fmod(Linv[l, j] - f * Linv[q, j], p, invp)
    return Linv


@njit(cache=True)
def _sub_mod(A, X, p):
    """A <- (A - X) mod p in place (both exact integers in float64, |A - X| < 2^53)."""
    invp = 1.0 / p
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] = _fmod(A[i, j] - X[i, j], p, invp)


@njit(cache=True)
def _mod_inplace(X, p):
    invp = 1.0 / p
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            X[i, j] = _fmod(X[i, j], p, invp)


def _update_right(A: np.ndarray, r: int, s: int, pcols: np.ndarray, lo: int, hi: int, p: float) -> None:
    """Schur-complement update of columns lo..hi-1 of rows r+s.. after s pivots at rows
    r..r+s-1 (pivot columns ``pcols``): exact float64 BLAS products, reduced mod p."""
    if s == 0 or lo >= hi or r + s >= A.shape[0]:
        return
    Linv = _unit_lower_inverse(A, r, s, pcols, p)
    T = Linv @ A[r:r + s, lo:hi]
    _mod_inplace(T, p)
    L21 = A[r + s:, pcols]
    _sub_mod(A[r + s:, lo:hi], L21 @ T, p)


def _factor_recursive(A: np.ndarray, perm: np.ndarray, r: int, c0: int, c1: int, p: float,
                      leaf: int, out: np.ndarray) -> int:
    """Factorise columns c0..c1-1 of rows r.. (recursive halving, numba leaves of <= leaf
    columns); pivot columns go to ``out[:s]``.  Returns s."""
    if c1 - c0 <= leaf:
        return _factor_panel(A, perm, r, c0, c1, p, out)
    mid = (c0 + c1) // 2
    s1 = _factor_recursive(A, perm, r, c0, mid, p, leaf, out)
    _update_right(A, r, s1, out[:s1].copy(), mid, c1, p)
    s2 = _factor_recursive(A, perm, r + s1, mid, c1, p, leaf, out[s1:])
    return s1 + s2


def rank_gfp_blocked(A: np.ndarray, p: int, block: int | None = None, leaf: int = 16):
    """Rank over GF(p) of the float64 matrix ``A`` (integer entries in [0, p); modified in
    place), by blocked LU with exact float64 BLAS updates.  Needs ``blocked_width(p) >= 1``.

    Panels of ``block`` columns are factorised by recursive halving down to ``leaf``
    columns (numba); every update, inside a panel and of the trailing matrix, is a BLAS
    product of inner dimension <= block, exact since block * (p - 1)^2 < 2^53.
    """
    m, n = A.shape
    b = blocked_width(p) if block is None else min(block, blocked_width(p))
    if b < 1:
        raise ValueError(f"prime {p} too large for exact float64 blocking")
    leaf = max(1, min(leaf, b))
    perm = np.arange(m)
    piv_cols = np.empty(min(m, n), np.int64)
    pcols = np.empty(b, np.int64)
    fp = float(p)
    r = 0
    c0 = 0
    while c0 < n and r < m:
        c1 = min(c0 + b, n)
        s = _factor_recursive(A, perm, r, c0, c1, fp, leaf, pcols)
        if s:
            piv_cols[r:r + s] = pcols[:s]
            _update_right(A, r, s, pcols[:s].copy(), c1, n, fp)
            r += s
        c0 = c1
    return r, perm[:r].copy(), piv_cols[:r].copy()
