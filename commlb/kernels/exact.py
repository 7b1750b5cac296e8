"""Exact deterministic communication complexity: protocol-tree search on bitmask rectangles.

The matrix is given with equal rows and columns already merged (at most 64 of each) as
bit-planes: ``RB[z, i]`` is the uint64 mask of the columns j with M[i, j] = z, and
``CB[z, j]`` the mask of the rows i with M[i, j] = z.  A rectangle is a pair of masks
(rows, cols).

:func:`solve` decides "can the rectangle be computed by a protocol of depth <= d?":

* monochromatic -> yes; d = 0 -> no;
* the rectangle is made canonical by merging rows equal on its columns and columns equal on
  its rows (D is invariant), and looked up in the memo ``(lb, ub, party, mask)``:
  D >= lb and D <= ub proved, with the first split of a depth-ub protocol;
* lower bound on the rectangle: a protocol partitions it into monochromatic rectangles, so
  the indicator of each colour z is a sum of (#z-leaves) rank-one matrices over any field,
  and #leaves >= sum_z rank_F(1[R = z]) (Mehlhorn–Schmidt 1982).  F = GF(2) (bit
  elimination) and F = GF(p), p = 2^31 - 1 (sound over any field; the larger per colour is
  used);  2^d < bound -> no;
* otherwise every split is tried: Alice splits the rows into two non-empty parts, Bob the
  columns; a part and its complement give the same split, so the first element stays on
  the left.  The parts are built element by element (depth-first) while keeping a GF(2)
  basis of each side per colour; rank only grows as a side grows, so as soon as a side's
  rank sum exceeds 2^(d-1) the whole branch is cut.  A complete split recurses on both
  sides with depth d - 1.

The search stops when ``perf_counter() > control[0]`` (checked every 256 calls, and every 4096
steps of a node's split enumeration, which alone can take 2^m steps); it runs without the
GIL, so a caller can run it in a thread, watch ``stats`` and lower ``control[0]``; a stopped
search records nothing in the memo and returns False with ``stats[1] = 1`` (the caller must
not read it as "infeasible").  Cost: exponential; every split of every reachable canonical
rectangle in the worst case, typically far fewer thanks to the rank cut and the memo.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

from .bitops import bit64 as _bit
from .bitops import ctz64 as _ctz
from .bitops import now as _now
from .bitops import popcount64 as _popcount
from .elim import GFP_PRIME
from .gf2 import insert_word as _insert
from .gf2 import rank_words as _rank_gf2_vectors
from .gfp import rank_gfp_rows

__all__ = ["new_memo", "solve", "canon", "is_mono", "leaf_bound", "memo_entry", "GFP_PRIME"]


_KEY = types.UniTuple(types.uint64, 2)
_VAL = types.Tuple((types.int64, types.int64, types.int64, types.uint64))


@njit(cache=True)
def _new_memo():
    return Dict.empty(key_type=_KEY, value_type=_VAL)


def new_memo() -> Dict:
    """An empty memo: (rows, cols) -> (lb, ub, party, left mask).  Made by a cached
    compiled function: ``Dict.empty`` called from Python compiles its constructor on every
    run (seconds of a short command)."""
    return _new_memo()


@njit(cache=True)
def _bits_for(count):
    # ceil(log2 count), 0 for count <= 1
    b = 0
    while (np.int64(1) << b) < count:
        b += 1
    return b


@njit(cache=True)
def is_mono(RB, V, rows, cols):
    """True when every entry of rows x cols has the same value (or the rectangle is empty)."""
    if rows == 0 or cols == 0:
        return True
    i = _ctz(rows)
    j = _ctz(cols)
    z = 0
    for zz in range(V):
        if RB[zz, i] & _bit(j):
            z = zz
            break
    r = rows
    while r:
        i = _ctz(r)
        r &= r - np.uint64(1)
        if (RB[z, i] & cols) != cols:
            return False
    return True


@njit(cache=True)
def canon(RB, CB, V, rows, cols):
    """Merge rows equal on ``cols`` (keep the first), then columns equal on the kept rows."""
    keep = np.uint64(0)
    r = rows
    while r:
        i = _ctz(r)
        r &= r - np.uint64(1)
        dup = False
        k = keep
        while k:
            j = _ctz(k)
            k &= k - np.uint64(1)
            same = True
            for z in range(V):
                if (RB[z, i] ^ RB[z, j]) & cols:
                    same = False
                    break
            if same:
                dup = True
                break
        if not dup:
            keep |= _bit(i)
    rows2 = keep
    keep = np.uint64(0)
    c = cols
    while c:
        i = _ctz(c)
        c &= c - np.uint64(1)
        dup = False
        k = keep
        while k:
            j = _ctz(k)
            k &= k - np.uint64(1)
            same = True
            for z in range(V):
                if (CB[z, i] ^ CB[z, j]) & rows2:
                    same = False
                    break
            if same:
                dup = True
                break
        if not dup:
            keep |= _bit(i)
    return rows2, keep


@njit(cache=True)
def leaf_bound(RB, V, rows, cols, use_gfp):
    """Lower bound on the number of leaves of any protocol for rows x cols:
    sum over colours z of max(rank_GF(2), rank_GF(p)) of the indicator 1[R = z]."""
    nr = _popcount(rows)
    nc = _popcount(cols)
    ridx = np.empty(nr, dtype=np.int64)
    cidx = np.empty(nc, dtype=np.int64)
    t = 0
    r = rows
    while r:
        ridx[t] = _ctz(r)
        r &= r - np.uint64(1)
        t += 1
    t = 0
    c = cols
    while c:
        cidx[t] = _ctz(c)
        c &= c - np.uint64(1)
        t += 1
    vecs = np.empty(nr, dtype=np.uint64)
    total = 0
    full = min(nr, nc)
    for z in range(V):
        for t in range(nr):
            vecs[t] = RB[z, ridx[t]] & cols
        rk = _rank_gf2_vectors(vecs, nr)
        if use_gfp and 1 < full and rk < full:
            A = np.zeros((nr, nc), dtype=np.int64)
            for a in range(nr):
                for b in range(nc):
                    if vecs[a] & _bit(cidx[b]):
                        A[a, b] = 1
            rp = rank_gfp_rows(A, GFP_PRIME)[0]
            if rp > rk:
                rk = rp
        total += rk
    return total


@njit(cache=True)
def memo_entry(memo, rows, cols):
    """``(found, lb, ub, party, left mask)`` of the memo entry for (rows, cols).  Reading
    the typed dict through this compiled (and cached) helper spares the interpreter
    compiling the dict's own lookup methods on every run (seconds)."""
    key = (rows, cols)
    if key in memo:
        e = memo[key]
        return True, e[0], e[1], e[2], e[3]
    return False, np.int64(0), np.int64(0), np.int64(-1), np.uint64(0)


@njit(cache=True, nogil=True)
def solve(RB, CB, V, rows, cols, d, memo, stats, control):
    """Can rows x cols be computed within d bits?  See the module docstring.  ``stats`` is an
    int64 array: [0] calls so far, [1] set to 1 when the deadline stopped the search.
    ``control[0]`` is the deadline (``perf_counter`` seconds); another thread may lower it
    (to -inf: stop now, e.g. on Ctrl-C) while the search runs without the GIL."""
    stats[0] += 1
    if (stats[0] & 255) == 0:
        if _now() > control[0]:
            stats[1] = 1
    if stats[1] != 0:
        return False
    if is_mono(RB, V, rows, cols):
        return True
    if d <= 0:
        return False
    rows, cols = canon(RB, CB, V, rows, cols)
    key = (rows, cols)
    if key in memo:
        entry = memo[key]
        lb = entry[0]
        if entry[1] <= d:
            return True
        if lb > d:
            return False
    else:
        lb = _bits_for(leaf_bound(RB, V, rows, cols, True))
        entry = (lb, np.int64(127), np.int64(-1), np.uint64(0))
        memo[key] = entry
        if lb > d:
            return False
    cap = np.int64(1) << (d - 1)  # leaves allowed on each side
    for party in range(2):
        mask_all = rows if party == 0 else cols
        other = cols if party == 0 else rows
        m = _popcount(mask_all)
        if m < 2:
            continue
        elems = np.empty(m, dtype=np.int64)
        t = 0
        x = mask_all
        while x:
            elems[t] = _ctz(x)
            x &= x - np.uint64(1)
            t += 1
        vec = np.empty((V, m), dtype=np.uint64)
        for z in range(V):
            for t in range(m):
                if party == 0:
                    vec[z, t] = RB[z, elems[t]] & other
                else:
                    vec[z, t] = CB[z, elems[t]] & other
        bl = np.zeros((m + 1, V, 64), dtype=np.uint64)
        br = np.zeros((m + 1, V, 64), dtype=np.uint64)
        rl = np.zeros(m + 1, dtype=np.int64)
        rr = np.zeros(m + 1, dtype=np.int64)
        ml = np.zeros(m + 1, dtype=np.uint64)
        mr = np.zeros(m + 1, dtype=np.uint64)
        choice = np.zeros(m + 1, dtype=np.int64)
        for z in range(V):
            rl[1] += _insert(bl[1, z], vec[z, 0])
        ml[1] = _bit(elems[0])
        if rl[1] > cap:
            continue
        t = 1
        choice[1] = 0
        steps = 0
        while t >= 1:
            # the split enumeration can run 2^m steps inside one call: look at the clock
            # here too, not only once per call
            steps += 1
            if (steps & 4095) == 0:
                if _now() > control[0]:
                    stats[1] = 1
                    return False
            if t == m:
                if mr[t] != 0:
                    if party == 0:
                        ar, ac, br_, bc = ml[t], cols, mr[t], cols
                    else:
                        ar, ac, br_, bc = rows, ml[t], rows, mr[t]
                    # the side with the larger rank first: it is the likelier to fail
                    if rr[t] > rl[t]:
                        ar, ac, br_, bc = br_, bc, ar, ac
                    ok = solve(RB, CB, V, ar, ac, d - 1, memo, stats, control)
                    if stats[1] != 0:
                        return False
                    if ok:
                        ok = solve(RB, CB, V, br_, bc, d - 1, memo, stats, control)
                        if stats[1] != 0:
                            return False
                    if ok:
                        e = memo[key]
                        memo[key] = (e[0], np.int64(d), np.int64(party), ml[t])
                        return True
                t -= 1
                continue
            if choice[t] >= 2:
                t -= 1
                continue
            side = choice[t]
            choice[t] += 1
            e_i = t
            bl[t + 1] = bl[t]
            br[t + 1] = br[t]
            rl[t + 1] = rl[t]
            rr[t + 1] = rr[t]
            ml[t + 1] = ml[t]
            mr[t + 1] = mr[t]
            if side == 0:
                for z in range(V):
                    rl[t + 1] += _insert(bl[t + 1, z], vec[z, e_i])
                if rl[t + 1] > cap:
                    continue
                ml[t + 1] |= _bit(elems[e_i])
            else:
                for z in range(V):
                    rr[t + 1] += _insert(br[t + 1, z], vec[z, e_i])
                if rr[t + 1] > cap:
                    continue
                mr[t + 1] |= _bit(elems[e_i])
            t += 1
            choice[t] = 0
    e = memo[key]
    if e[0] < d + 1:
        memo[key] = (np.int64(d + 1), e[1], e[2], e[3])
    return False
