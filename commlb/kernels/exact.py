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
* otherwise every split is tried: Alice splits the rows into two non-empty parts, Bob
  the columns; a part and its complement give the same split, so the first element stays
  on the left.  The parts are built element by element (depth-first) while keeping a
  GF(2) basis of each side per colour; rank only grows as a side grows, so as soon as a
  side's rank sum exceeds 2^(d-1) the whole branch is cut, and (forward check) so is a
  partial split that leaves an element fitting neither side, or forces onto one side
  elements whose ranks overflow it, and (duplication cut, docs/theory.md §5.4.2) so is a
  partial split whose sides' rank sums exceed the rank sum of the elements placed by
  more than 2^d - L(R), L(R) the rank sum of the rectangle (:func:`prefix_ranks`).  One
  basis per side is changed in place and an element's insertion undone on backtracking.
  A complete split recurses on both sides with depth d - 1.  Before that enumeration,
  the "natural" splits (by the value of one entry of the other party:
  :func:`natural_splits`) are tried, smallest ranks first; they are among the splits
  enumerated, so they change the order, not the result, and find protocols early; at the
  root (and, when asked, at large inner nodes) so are the splits a local search finds
  (:func:`local_splits`, docs/theory.md §5.4.3), next. At the
  root the enumeration can run in passes of growing duplication (each split once, the
  ones leaving their halves most room first).  Natural and enumerated splits come from
  one stream and are decided at one recursion site.

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
from .bitops import set_bits64 as _set_bits
from .elim import GFP_PRIME
from .gfp import rank_gfp_rows
from .keysort import _mix as _mix64

__all__ = ["new_memo", "solve", "insert_slot", "msb64", "order_elements", "order_elements_plain", "forward_ok",
            "canon", "is_mono", "leaf_bound", "memo_entry",
           "natural_splits", "natural_splits_plain", "prefix_ranks", "prefix_ranks_plain", "GFP_PRIME",
           "NATURAL_MIN", "LOCAL_MIN", "LOCAL_PASSES", "local_splits", "local_splits_plain"]


#: rectangles with more rows + columns than this try the natural splits first
NATURAL_MIN = 12

#: rectangles with more rows + columns than this (and depth >= 3) try the splits a local
#: search finds first (:func:`local_splits`)
LOCAL_MIN = 24
#: improving passes over the elements per local-search start
LOCAL_PASSES = 8
_GOLD = 0x9E3779B97F4A7C15

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


@njit(cache=True, inline="always")
def msb64(v):
    """Index of the highest set bit of a nonzero uint64 word (binary search, 6 steps)."""
    b = 0
    if v >= np.uint64(4294967296):
        v >>= np.uint64(32)
        b += 32
    if v >= np.uint64(65536):
        v >>= np.uint64(16)
        b += 16
    if v >= np.uint64(256):
        v >>= np.uint64(8)
        b += 8
    if v >= np.uint64(16):
        v >>= np.uint64(4)
        b += 4
    if v >= np.uint64(4):
        v >>= np.uint64(2)
        b += 2
    if v >= np.uint64(2):
        b += 1
    return b


@njit(cache=True)
def insert_slot(basis, v):
    """Insert the word ``v`` into the GF(2) basis ``basis`` (64 words, ``basis[b]`` the
    vector whose highest bit is b, 0 if none): the slot it filled, or -1 when ``v`` was in
    the span.  Steps only over the pivots met (the highest bit of what is left), so an
    insertion costs O(rank), and setting the slot back to 0 undoes it exactly (nothing
    else changes)."""
    while v != 0:
        b = msb64(v)
        if basis[b] == 0:
            basis[b] = v
            return b
        v ^= basis[b]
    return -1


@njit(cache=True, inline="always")
def _join(B, vec, t, V, undo):
    """Element t joins the side whose bases (one per colour) are ``B``: its vector of each
    colour z is inserted into ``B[z]`` and the slot filled recorded in ``undo[t, z]`` (-1:
    in the span).  Returns how many ranks grew."""
    grew = 0
    for z in range(V):
        b = insert_slot(B[z], vec[z, t])
        undo[t, z] = b
        if b >= 0:
            grew += 1
    return grew


@njit(cache=True, inline="always")
def _leave(B, t, V, undo):
    """Undo :func:`_join` of element t (the slots it filled set back to 0); returns how
    many ranks fell."""
    fell = 0
    for z in range(V):
        if undo[t, z] >= 0:
            B[z, undo[t, z]] = 0
            fell += 1
    return fell


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
    _set_bits(rows, ridx)
    _set_bits(cols, cidx)
    vecs = np.empty(nr, dtype=np.uint64)
    basis = np.zeros(64, dtype=np.uint64)
    total = 0
    full = min(nr, nc)
    for z in range(V):
        for t in range(nr):
            vecs[t] = RB[z, ridx[t]] & cols
        basis[:] = 0
        rk = 0
        for t in range(nr):
            if insert_slot(basis, vecs[t]) >= 0:
                rk += 1
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


@njit(cache=True, inline="always")
def _grows(basis, v):
    # 1 when v is outside the span of the basis (nothing is changed)
    while v != 0:
        b = msb64(v)
        if basis[b] == 0:
            return 1
        v ^= basis[b]
    return 0


@njit(cache=True)
def forward_ok(BL, BR, vec, V, start, m, rl, rr, cap, log_side, log_z, log_b):
    """Can the elements ``start .. m-1`` still be placed so that both sides keep a rank
    sum <= cap?  A necessary test: an element that would lift a side above ``cap`` must go
    to the other side; one that fits neither side, or forced elements that overflow the
    side they are forced into, refute the partial split.  The bases are changed only
    temporarily (restored before returning).  Skipped (True) while both sides have room
    for any element (slack >= V: an element adds at most one per colour)."""
    if cap - rl >= V and cap - rr >= V:
        return True
    n_log = 0
    ok = True
    for u in range(start, m):
        inc_l = 0
        inc_r = 0
        if cap - rl < V:  # a side with room for V more cannot refuse an element
            for z in range(V):
                inc_l += _grows(BL[z], vec[z, u])
        if cap - rr < V:
            for z in range(V):
                inc_r += _grows(BR[z], vec[z, u])
        fit_l = rl + inc_l <= cap
        fit_r = rr + inc_r <= cap
        if not fit_l and not fit_r:
            ok = False
            break
        if fit_l and fit_r:
            continue
        for z in range(V):  # forced: it joins that side for the rest of this test
            if fit_l:
                b = insert_slot(BL[z], vec[z, u])
            else:
                b = insert_slot(BR[z], vec[z, u])
            if b >= 0:
                log_side[n_log] = 0 if fit_l else 1
                log_z[n_log] = z
                log_b[n_log] = b
                n_log += 1
                if fit_l:
                    rl += 1
                else:
                    rr += 1
    for k in range(n_log):
        if log_side[k] == 0:
            BL[log_z[k], log_b[k]] = 0
        else:
            BR[log_z[k], log_b[k]] = 0
    return ok


@njit(cache=True)
def order_elements(elems, vec, V, m, most=True):
    """Reorder (in place) the elements a split enumeration assigns, with their vectors:
    the first stays first (it stays on the left), then repeatedly the element that adds
    most (``most``; else least) to the GF(2) rank sum of those already ordered (ties: the
    first in the array, where a swap has put the displaced element in the chosen one's
    place).  Most first: parts fill their rank budget early, so the side caps act near the
    top of the enumeration.  Least first: near-copies of elements already placed come
    early, so a split that separates them shows its duplication (docs/theory.md §5.4.2)
    near the top."""
    basis = np.zeros((V, 64), dtype=np.uint64)
    for z in range(V):
        insert_slot(basis[z], vec[z, 0])
    for pos in range(1, m):
        best = pos
        best_gain = -1 if most else V + 1
        for u in range(pos, m):
            gain = 0
            for z in range(V):
                gain += _grows(basis[z], vec[z, u])
            if (most and gain > best_gain) or (not most and gain < best_gain):
                best_gain = gain
                best = u
        if best != pos:
            e = elems[pos]
            elems[pos] = elems[best]
            elems[best] = e
            for z in range(V):
                w = vec[z, pos]
                vec[z, pos] = vec[z, best]
                vec[z, best] = w
        for z in range(V):
            insert_slot(basis[z], vec[z, pos])


@njit(cache=True)
def _side_rank(RB, CB, V, party, side, other):
    # GF(2) rank sum over the colours of side x other (party 0: side is a row mask)
    total = 0
    basis = np.zeros(64, dtype=np.uint64)
    for z in range(V):
        basis[:] = 0
        x = side
        while x:
            e = _ctz(x)
            x &= x - np.uint64(1)
            w = RB[z, e] & other if party == 0 else CB[z, e] & other
            if insert_slot(basis, w) >= 0:
                total += 1
    return total


@njit(cache=True)
def natural_splits(RB, CB, V, rows, cols, cap):
    """The splits "is my input's entry in the other party's element y equal to z?": Alice
    (party 0) splits the rows by their value in one column y, Bob the columns by their
    value in one row.  Returned as (party, left mask) arrays, without repeats and without
    splits whose side has a GF(2) rank sum above ``cap`` (the search cuts those too),
    ordered by the larger side's rank sum, then by balance.  The search tries these first:
    each is also one of the splits the exhaustive enumeration tries, so only the order of
    the search changes, never its result."""
    n_max = (_popcount(rows) + _popcount(cols)) * V
    parties = np.empty(n_max, dtype=np.int64)
    masks = np.empty(n_max, dtype=np.uint64)
    scores = np.empty(n_max, dtype=np.int64)
    count = 0
    for party in range(2):
        mask_all = rows if party == 0 else cols
        other = cols if party == 0 else rows
        if _popcount(mask_all) < 2:
            continue
        first = _bit(_ctz(mask_all))
        y_left = other
        while y_left:
            y = _ctz(y_left)
            y_left &= y_left - np.uint64(1)
            for z in range(V):
                if party == 0:
                    left = CB[z, y] & mask_all
                else:
                    left = RB[z, y] & mask_all
                if left == 0 or left == mask_all:
                    continue
                if (left & first) == 0:  # the same split with the first element on the left
                    left = mask_all & ~left
                if _listed(parties, masks, count, party, left):
                    continue
                rl = _side_rank(RB, CB, V, party, left, other)
                if rl > cap:
                    continue
                rr = _side_rank(RB, CB, V, party, mask_all & ~left, other)
                if rr > cap:
                    continue
                nl = _popcount(left)
                nr = _popcount(mask_all) - nl
                parties[count] = party
                masks[count] = left
                scores[count] = max(rl, rr) * 4096 + abs(nl - nr)
                count += 1
    order = np.argsort(scores[:count], kind="mergesort")
    return parties[:count][order], masks[:count][order]


@njit(cache=True, inline="always")
def _party_vectors(RB, CB, V, party, mask_all, other, m):
    """The ``m`` elements of ``mask_all`` (rows when ``party`` is 0, else columns) and, per
    colour z, each element's bit vector restricted to the other side ``other``."""
    elems = np.empty(m, dtype=np.int64)
    _set_bits(mask_all, elems)
    vec = np.empty((V, m), dtype=np.uint64)
    for z in range(V):
        for q in range(m):
            if party == 0:
                vec[z, q] = RB[z, elems[q]] & other
            else:
                vec[z, q] = CB[z, elems[q]] & other
    return elems, vec


@njit(cache=True, inline="always")
def _listed(parties, masks, count, party, left):
    """Whether the split (party, left) is among the first ``count`` of the lists."""
    for k in range(count):
        if parties[k] == party and masks[k] == left:
            return True
    return False


@njit(cache=True)
def local_splits(RB, CB, V, rows, cols, cap, restarts, seed):
    """Splits found by a local search, for the search to try first: for each party and
    each of ``restarts`` starts (a pseudo-random side per element, from SplitMix64 seeded
    by ``seed``, ``rows`` and ``cols``), elements are moved one at a time to the other
    side while that lowers (max(L(A), L(B)), L(A) + L(B)), L the GF(2) rank sum over the
    colours (at most ``LOCAL_PASSES`` passes, each from a pseudo-random element on).
    Returned as (party, left mask) arrays (first element on the left), without repeats
    and without splits whose larger side exceeds ``cap``, best first.  Each is one of the
    splits the exhaustive enumeration tries, so only the order of the search changes."""
    n_max = 2 * restarts
    parties = np.empty(n_max, dtype=np.int64)
    masks = np.empty(n_max, dtype=np.uint64)
    scores = np.empty(n_max, dtype=np.int64)
    count = 0
    weight = np.int64(2 * 64 * V + 1)
    state = _mix64(_mix64(rows ^ np.uint64(seed)) ^ cols)
    for party in range(2):
        mask_all = rows if party == 0 else cols
        other = cols if party == 0 else rows
        m = _popcount(mask_all)
        if m < 2:
            continue
        elems = np.empty(m, dtype=np.int64)
        _set_bits(mask_all, elems)
        side = np.zeros(m, dtype=np.int64)
        for _rep in range(restarts):
            n_left = 0
            for k in range(m):
                state += np.uint64(_GOLD)
                side[k] = np.int64(_mix64(state) & np.uint64(1))
                if side[k] == 0:
                    n_left += 1
            if n_left == 0 or n_left == m:  # both sides non-empty
                side[0] = 0
                side[m - 1] = 1
                n_left = 1 if n_left == 0 else m - 1
            zero = np.uint64(0)  # the elements on side 0, as a mask
            for k in range(m):
                if side[k] == 0:
                    zero |= _bit(elems[k])
            la = _side_rank(RB, CB, V, party, zero, other)
            lb = _side_rank(RB, CB, V, party, mask_all & ~zero, other)
            cur = max(la, lb) * weight + la + lb
            improved = True
            passes = 0
            while improved and passes < LOCAL_PASSES:
                improved = False
                passes += 1
                state += np.uint64(_GOLD)
                start = np.int64(_mix64(state) % np.uint64(m))
                for q in range(m):
                    k = (start + q) % m
                    s = side[k]
                    if (s == 0 and n_left == 1) or (s == 1 and n_left == m - 1):
                        continue
                    side[k] = 1 - s
                    zero ^= _bit(elems[k])
                    la2 = _side_rank(RB, CB, V, party, zero, other)
                    lb2 = _side_rank(RB, CB, V, party, mask_all & ~zero, other)
                    sc = max(la2, lb2) * weight + la2 + lb2
                    if sc < cur:
                        cur = sc
                        la = la2
                        lb = lb2
                        n_left += 1 if s == 1 else -1
                        improved = True
                    else:
                        side[k] = s
                        zero ^= _bit(elems[k])
            if max(la, lb) > cap:
                continue
            left = zero if side[0] == 0 else mask_all & ~zero  # the first element's side
            if _listed(parties, masks, count, party, left):
                continue
            parties[count] = party
            masks[count] = left
            scores[count] = cur
            count += 1
    order = np.argsort(scores[:count], kind="mergesort")
    return parties[:count][order], masks[:count][order]


@njit(cache=True)
def prefix_ranks(vec, V, m):
    """``pre[k]``: the GF(2) rank sum over the colours of the first k elements (columns
    0..k-1 of ``vec``), k = 0..m.  ``pre[m]`` is the rank sum of the whole rectangle."""
    pre = np.zeros(m + 1, dtype=np.int64)
    basis = np.zeros((V, 64), dtype=np.uint64)
    for t in range(m):
        pre[t + 1] = pre[t]
        for z in range(V):
            if insert_slot(basis[z], vec[z, t]) >= 0:
                pre[t + 1] += 1
    return pre


@njit(cache=True, nogil=True)
def solve(RB, CB, V, rows, cols, d, memo, stats, control):
    """Can rows x cols be computed within d bits?  See the module docstring.  ``stats`` is an
    int64 array: [0] calls so far, [1] set to 1 when the deadline stopped the search,
    [2] steps of the split enumerations, [3] complete splits recursed on.
    ``control[0]`` is the deadline (``perf_counter`` seconds); another thread may lower it
    (to -inf: stop now, e.g. on Ctrl-C) while the search runs without the GIL;
    ``control[1] > 0`` turns on :func:`forward_ok` in the split enumeration (the same
    result either way: it only cuts partial splits that cannot be completed),
    ``control[2] > 0`` :func:`order_elements` (the same splits in another order),
    ``control[3] > 0`` the duplication cut (partial splits whose two sides' rank sums
    exceed the rank sum of what they hold by more than 2^d - L(R): none completes), and
    ``control[4] = k > 1`` with ``control[5] = d`` enumerates the splits of the depth-d
    call (the root) in k passes of growing duplication, so the splits that leave their
    halves most room are tried first (each split once; another order, the same result),
    and with ordering on, a node whose slack 2^d - L(R) is at most ``control[6]``
    orders its elements least rank first (another order, the same result);
    ``control[7] = k > 0`` tries next after the natural splits, at nodes of depth >= 3
    with more than ``LOCAL_MIN`` rows + columns, the splits of k local-search starts per party
    (:func:`local_splits`; another order, the same result), and ``control[8]`` is the
    number of starts at the root (the depth-``control[5]`` call)."""
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
    nc = control.shape[0]
    forward = nc > 1 and control[1] > 0
    ordered = nc > 2 and control[2] > 0
    dup_cut = nc > 3 and control[3] > 0
    levels = np.int64(1)
    if nc > 5 and control[4] > 1 and d == control[5]:
        levels = np.int64(control[4])
    # the splits come from one stream: the natural splits first (a reordering of part of
    # the enumeration), then for each duplication level and party the enumeration; every
    # split it yields is decided at the one recursion site below
    if _popcount(rows) + _popcount(cols) > NATURAL_MIN:
        nat_party, nat_left = natural_splits(RB, CB, V, rows, cols, cap)
    else:
        nat_party = np.empty(0, dtype=np.int64)
        nat_left = np.empty(0, dtype=np.uint64)
    starts = np.int64(0)
    if nc > 8 and d == control[5]:  # the root
        starts = np.int64(control[8])
    elif nc > 7 and d >= 3:
        starts = np.int64(control[7])
    if starts > 0 and _popcount(rows) + _popcount(cols) > LOCAL_MIN:
        # the splits a local search finds, after the natural ones (another order, the same result)
        loc_party, loc_left = local_splits(RB, CB, V, rows, cols, cap, starts, np.uint64(d))
        n_loc = loc_party.shape[0]
        if n_loc > 0:  # after the natural splits, those not among them
            n_old = nat_party.shape[0]
            all_party = np.empty(n_old + n_loc, dtype=np.int64)
            all_left = np.empty(n_old + n_loc, dtype=np.uint64)
            all_party[:n_old] = nat_party
            all_left[:n_old] = nat_left
            n_all = n_old
            for k in range(n_loc):
                seen = False
                for j in range(n_old):
                    if nat_party[j] == loc_party[k] and nat_left[j] == loc_left[k]:
                        seen = True
                        break
                if not seen:
                    all_party[n_all] = loc_party[k]
                    all_left[n_all] = loc_left[k]
                    n_all += 1
            nat_party = all_party[:n_all].copy()
            nat_left = all_left[:n_all].copy()
    n_nat = nat_party.shape[0]
    k_nat = 0
    source = -1  # -1: natural splits; s >= 0: level s // 2, party s % 2
    # enumeration state (set up when a source starts)
    party = 0
    m = 0
    elems = np.empty(0, dtype=np.int64)
    vec = np.empty((V, 0), dtype=np.uint64)
    pre = np.zeros(1, dtype=np.int64)
    BL = np.zeros((V, 64), dtype=np.uint64)
    BR = np.zeros((V, 64), dtype=np.uint64)
    undo = np.full((1, V), -1, dtype=np.int64)
    placed = np.full(1, -1, dtype=np.int64)
    choice = np.zeros(1, dtype=np.int64)
    log_side = np.empty(0, dtype=np.int64)
    log_z = np.empty(0, dtype=np.int64)
    log_b = np.empty(0, dtype=np.int64)
    rl = 0
    rr = 0
    ml = np.uint64(0)
    mr = np.uint64(0)
    t = 0
    steps = 0
    dup_max = np.int64(0)
    dup_lo = np.int64(-1)
    lm = np.uint64(0)
    ar, ac, br_, bc = lm, lm, lm, lm
    while True:
        # -- the next split: (party, left mask lm, its halves)
        if source < 0:
            if k_nat < n_nat:
                party = nat_party[k_nat]
                lm = nat_left[k_nat]
                k_nat += 1
                rm = (rows if party == 0 else cols) & ~lm
                if party == 0:
                    ar, ac, br_, bc = lm, cols, rm, cols
                else:
                    ar, ac, br_, bc = rows, lm, rows, rm
            else:
                source = 0
                t = 0  # no enumeration running: set one up below
                continue
        else:
            if t < 1:
                # set up the enumeration of source (level, party), or end the stream
                if source >= 2 * levels:
                    break
                level = source // 2
                party = source % 2
                source += 1
                mask_all = rows if party == 0 else cols
                other = cols if party == 0 else rows
                m = _popcount(mask_all)
                if m < 2:
                    continue
                elems, vec = _party_vectors(RB, CB, V, party, mask_all, other, m)
                if ordered:  # the same splits, another order
                    # little slack: the duplication cut is the tight one, so near-copies
                    # first; else the most rank first, for the side caps
                    least = nc > 6 and 2 * cap - prefix_ranks(vec, V, m)[m] <= control[6]
                    order_elements(elems, vec, V, m, not least)
                pre = prefix_ranks(vec, V, m)
                # duplication allowed: both sides <= cap, so L_A + L_B - L(R) <= 2 cap - L(R);
                # pass `level` of `levels` takes the splits with duplication in (dup_lo, dup_max]
                dup_all = 2 * cap - pre[m]
                dup_max = dup_all if level == levels - 1 else (dup_all * (level + 1)) // levels
                dup_lo = np.int64(-1) if level == 0 else (dup_all * level) // levels
                # one GF(2) basis per side and colour, changed in place; undo[q, z] is the
                # slot element q filled in its side's colour-z basis (-1: none), cleared on
                # backtracking
                BL = np.zeros((V, 64), dtype=np.uint64)
                BR = np.zeros((V, 64), dtype=np.uint64)
                undo = np.full((m + 1, V), -1, dtype=np.int64)
                placed = np.full(m + 1, -1, dtype=np.int64)
                choice = np.zeros(m + 1, dtype=np.int64)
                log_side = np.empty(m * V, dtype=np.int64)
                log_z = np.empty(m * V, dtype=np.int64)
                log_b = np.empty(m * V, dtype=np.int64)
                rl = 0
                rr = 0
                ml = _bit(elems[0])
                mr = np.uint64(0)
                for z in range(V):
                    if insert_slot(BL[z], vec[z, 0]) >= 0:
                        rl += 1
                if rl > cap or (dup_cut and rl - pre[1] > dup_max):
                    continue
                t = 1
                steps = 0
            found = False
            while t >= 1:
                # the split enumeration can run 2^m steps inside one call: look at the
                # clock here too, not only once per call
                steps += 1
                stats[2] += 1
                if (steps & 4095) == 0:
                    if _now() > control[0]:
                        stats[1] = 1
                        return False
                if t == m:
                    t -= 1  # resume by backtracking
                    if mr != 0 and rl + rr - pre[m] > dup_lo:
                        found = True
                        break
                    continue
                if placed[t] == 0:  # take element t back out of its side
                    rl -= _leave(BL, t, V, undo)
                    ml &= ~_bit(elems[t])
                    placed[t] = -1
                elif placed[t] == 1:
                    rr -= _leave(BR, t, V, undo)
                    mr &= ~_bit(elems[t])
                    placed[t] = -1
                if choice[t] >= 2:
                    t -= 1
                    continue
                side = choice[t]
                choice[t] += 1
                placed[t] = side
                if side == 0:
                    rl += _join(BL, vec, t, V, undo)
                    ml |= _bit(elems[t])
                    if rl > cap:
                        continue  # undone on the next pass, which tries the other side
                else:
                    rr += _join(BR, vec, t, V, undo)
                    mr |= _bit(elems[t])
                    if rr > cap:
                        continue
                if dup_cut and rl + rr - pre[t + 1] > dup_max:
                    continue  # duplication only grows as elements are added
                if forward and not forward_ok(BL, BR, vec, V, t + 1, m, rl, rr, cap, log_side, log_z, log_b):
                    continue
                t += 1
                if t < m:
                    choice[t] = 0
                    placed[t] = -1
            if not found:
                continue  # this source is exhausted (t = 0): the next one
            stats[3] += 1
            lm = ml
            if party == 0:
                ar, ac, br_, bc = ml, cols, mr, cols
            else:
                ar, ac, br_, bc = rows, ml, rows, mr
            if rr > rl:  # the side with the larger rank first: it is the likelier to fail
                ar, ac, br_, bc = br_, bc, ar, ac
        # -- the one recursion site: solve both halves, record a protocol in the memo
        ok = solve(RB, CB, V, ar, ac, d - 1, memo, stats, control)
        if stats[1] != 0:
            return False
        if ok:
            ok = solve(RB, CB, V, br_, bc, d - 1, memo, stats, control)
            if stats[1] != 0:
                return False
        if ok:
            e = memo[key]
            memo[key] = (e[0], np.int64(d), np.int64(party), lm)
            return True
    e = memo[key]
    if e[0] < d + 1:
        memo[key] = (np.int64(d + 1), e[1], e[2], e[3])
    return False


def _rank_gf2_plain(vectors: list[int]) -> int:
    basis: dict[int, int] = {}  # leading bit -> row
    for v in vectors:
        while v:
            top = v.bit_length() - 1
            if top not in basis:
                basis[top] = v
                break
            v ^= basis[top]
    return len(basis)


def natural_splits_plain(RB: np.ndarray, CB: np.ndarray, V: int, rows: int, cols: int,
                         cap: int) -> list[tuple[int, int]]:
    """Plain twin of :func:`natural_splits` over Python integers: the list of
    (party, left mask) in the same order."""
    found: list[tuple[int, int, int]] = []  # (score, party, left) in order of discovery
    seen: set[tuple[int, int]] = set()
    for party in range(2):
        mask_all, other = (rows, cols) if party == 0 else (cols, rows)
        if mask_all.bit_count() < 2:
            continue
        first = mask_all & -mask_all
        planes = CB if party == 0 else RB
        own = RB if party == 0 else CB
        for y in range(64):
            if not other >> y & 1:
                continue
            for z in range(V):
                left = int(planes[z, y]) & mask_all
                if left in (0, mask_all):
                    continue
                if not left & first:
                    left = mask_all & ~left
                if (party, left) in seen:
                    continue
                seen.add((party, left))
                ranks = []
                for part in (left, mask_all & ~left):
                    members = [e for e in range(64) if part >> e & 1]
                    ranks.append(sum(_rank_gf2_plain([int(own[zz, e]) & other for e in members])
                                     for zz in range(V)))
                if max(ranks) > cap:
                    continue
                nl = left.bit_count()
                found.append((max(ranks) * 4096 + abs(nl - (mask_all.bit_count() - nl)), party, left))
    found_sorted = sorted(enumerate(found), key=lambda t: (t[1][0], t[0]))  # stable, like mergesort
    return [(party, left) for _, (_, party, left) in found_sorted]


def order_elements_plain(vectors: list[list[int]], most: bool = True) -> list[int]:
    """Plain twin of :func:`order_elements`: ``vectors[z][t]`` is element t's word for
    colour z; returns the new order as a list of the original positions."""
    V, m = len(vectors), len(vectors[0]) if vectors else 0
    arr = list(range(m))
    for pos in range(1, m):
        done = arr[:pos]
        gains = [sum(_rank_gf2_plain([vectors[z][t] for t in done] + [vectors[z][u]])
                     - _rank_gf2_plain([vectors[z][t] for t in done]) for z in range(V))
                 for u in arr[pos:]]
        best = pos + gains.index(max(gains) if most else min(gains))
        arr[pos], arr[best] = arr[best], arr[pos]
    return arr


def prefix_ranks_plain(vectors: list[list[int]]) -> list[int]:
    """Plain twin of :func:`prefix_ranks`: ``vectors[z][t]`` is element t's word for colour
    z; entry k is the GF(2) rank sum of elements 0..k-1."""
    V, m = len(vectors), len(vectors[0]) if vectors else 0
    return [sum(_rank_gf2_plain(vectors[z][:k]) for z in range(V)) for k in range(m + 1)]


def local_splits_plain(RB: np.ndarray, CB: np.ndarray, V: int, rows: int, cols: int, cap: int,
                       restarts: int, seed: int) -> list[tuple[int, int]]:
    """Plain twin of :func:`local_splits` over Python integers (the same pseudo-random
    stream): the list of (party, left mask) in the same order."""
    from .keysort import mix_keys

    full = (1 << 64) - 1

    def mix(v: int) -> int:
        return int(mix_keys(np.array([v & full], dtype=np.uint64))[0])

    def side_rank(vectors: list[list[int]], side: list[int], want: int) -> int:
        return sum(_rank_gf2_plain([vz[k] for k in range(len(side)) if side[k] == want]) for vz in vectors)

    found: list[tuple[int, int, int]] = []  # (score, party, left) in order of discovery
    weight = 2 * 64 * V + 1
    state = mix(mix(rows ^ seed) ^ cols)
    for party in range(2):
        mask_all, other = (rows, cols) if party == 0 else (cols, rows)
        elems = [e for e in range(64) if mask_all >> e & 1]
        m = len(elems)
        if m < 2:
            continue
        own = RB if party == 0 else CB
        vectors = [[int(own[z, e]) & other for e in elems] for z in range(V)]
        for _rep in range(restarts):
            side = []
            for _k in range(m):
                state = (state + _GOLD) & full
                side.append(mix(state) & 1)
            n_left = side.count(0)
            if n_left in (0, m):
                side[0], side[m - 1] = 0, 1
                n_left = 1 if n_left == 0 else m - 1
            la, lb = side_rank(vectors, side, 0), side_rank(vectors, side, 1)
            cur = max(la, lb) * weight + la + lb
            improved, passes = True, 0
            while improved and passes < LOCAL_PASSES:
                improved = False
                passes += 1
                state = (state + _GOLD) & full
                start = mix(state) % m
                for q in range(m):
                    k = (start + q) % m
                    s = side[k]
                    if (s == 0 and n_left == 1) or (s == 1 and n_left == m - 1):
                        continue
                    side[k] = 1 - s
                    la2, lb2 = side_rank(vectors, side, 0), side_rank(vectors, side, 1)
                    score = max(la2, lb2) * weight + la2 + lb2
                    if score < cur:
                        cur, la, lb = score, la2, lb2
                        n_left += 1 if s == 1 else -1
                        improved = True
                    else:
                        side[k] = s
            if max(la, lb) > cap:
                continue
            left = sum(1 << elems[k] for k in range(m) if side[k] == side[0])
            if any(p == party and lm == left for _, p, lm in found):
                continue
            found.append((cur, party, left))
    found_sorted = sorted(enumerate(found), key=lambda t: (t[1][0], t[0]))  # stable, like mergesort
    return [(party, left) for _, (_, party, left) in found_sorted]
