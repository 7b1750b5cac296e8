"""Maximum clique on a bitset graph (for maximum fooling sets), numba kernels.

Graph: ``n`` vertices, adjacency ``adj[v]`` a row of ``W = ceil(n / 64)`` uint64 words (bit
``u & 63`` of word ``u >> 6`` is set when u and v are adjacent; no self loops).

Algorithm (:func:`max_clique_bitset`): branch and bound in the style of Tomita's MCQ/MCS
with San Segundo's bitset encoding (BBMC, 2011): at each node the candidate set P is
greedily coloured into independent sets with word operations; vertices are branched on in
decreasing colour order, and a vertex whose colour c satisfies ``|clique| + c <= best`` is
cut together with everything before it.  Only vertices whose colour can still matter are
recorded (``kmin`` trick), and Tomita's Re-NUMBER moves a vertex into a low class when a
single neighbour blocks it and that neighbour can move, and MaxSAT-style unit propagation
(Li & Quan 2010) absorbs a vertex when assuming it forces an empty class
(``renumber=True``; together about half the nodes, ~20% less time, on random 32 x 32
fooling-set graphs).  An extra bound specific to fooling sets is supplied by the
caller as ``groups_a``/``groups_b`` (vertex sets of each row / each column of the matrix, both
families of independent sets): a clique takes at most one vertex per group, so
``|clique| + min(#rows hit by P, #cols hit by P) <= best`` also cuts.  Iterative (explicit
stack), with a wall-clock deadline checked every 1024 nodes.

:func:`max_clique_threads` shares the root's branches among threads (the kernel releases
the GIL): they share the best clique found through a key that ranks cliques by size, then
by root branch (earlier first), so the first root branch holding a maximum clique is known
whatever the timing, and the clique returned, found again by a search of that branch
alone, is the same for every thread count.

:func:`max_clique_python` is the plain twin (sets of ints, same bounds, no bitsets) that the
tests compare with; :func:`greedy_clique` gives the initial solution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .bitops import ctz64 as _ctz64
from .bitops import now as _now
from .bitops import popcount64

__all__ = ["max_clique_bitset", "max_clique_threads", "greedy_clique", "max_clique_python"]


def _host_has_bmi2() -> bool:
    """True when the CPU numba compiles for has BMI2 (the ``pext`` instruction)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        import llvmlite.binding as llvm

        return bool(llvm.get_host_cpu_features().get("bmi2", False))
    except Exception:  # pragma: no cover - llvmlite without the query: use the loop
        return False


@intrinsic
def _pext_hw(typingctx, x, mask):
    """The BMI2 instruction ``pext``: the bits of ``x`` at the set bits of ``mask``, packed
    to the low end (uint64)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i64 = llvm_ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, llvm_ir.FunctionType(i64, [i64, i64]),
                                            "llvm.x86.bmi.pext.64")
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, inline="always")
def _pext_loop(x, mask):
    """``pext`` as a loop over the set bits of ``mask`` (CPUs without BMI2)."""
    r = np.uint64(0)
    bb = np.uint64(1)
    while mask != 0:
        low = mask & (~mask + np.uint64(1))
        if x & low:
            r |= bb
        bb <<= np.uint64(1)
        mask &= mask - np.uint64(1)
    return r


HAS_PEXT = _host_has_bmi2()
_pext = _pext_hw if HAS_PEXT else _pext_loop


@njit(cache=True)
def pext64(x, mask):
    """The bits of the uint64 ``x`` at the set bits of ``mask``, packed to the low end (the
    BMI2 ``pext`` instruction where the CPU has it).  Plain twin: :func:`pext_python`."""
    return _pext(x, mask)


def pext_python(x: int, mask: int) -> int:
    """Plain twin of :func:`pext64` over Python integers."""
    r, t = 0, 0
    for i in range(64):
        if (mask >> i) & 1:
            r |= ((x >> i) & 1) << t
            t += 1
    return r


@njit(cache=True)
def greedy_clique(adj, n):
    """A maximal clique built by repeatedly taking the candidate with the most neighbours
    among the remaining candidates.  Returns the vertex list."""
    W = adj.shape[1]
    P = np.zeros(W, dtype=np.uint64)
    for v in range(n):
        P[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    out = np.empty(n, dtype=np.int64)
    size = _grow_greedy(adj, P, out, 0)
    return out[:size]


@njit(cache=True)
def _grow_greedy(adj, P, out, size):
    """Grow the clique ``out[:size]`` whose common neighbours are the bitset ``P`` (changed
    in place): add the candidate with the most neighbours among the remaining candidates
    until none is left.  Returns the new size."""
    W = adj.shape[1]
    while True:
        best_v = -1
        best_d = -1
        for w in range(W):
            word = P[w]
            while word != 0:
                b = _ctz64(word)
                word &= word - np.uint64(1)
                v = w * 64 + b
                d = 0
                for k in range(W):
                    d += popcount64(P[k] & adj[v, k])
                if d > best_d:
                    best_d = d
                    best_v = v
        if best_v < 0:
            return size
        out[size] = best_v
        size += 1
        for k in range(W):
            P[k] &= adj[best_v, k]


@njit(cache=True)
def greedy_clique_multistart(adj, n, starts):
    """The best of ``starts`` greedy cliques, the s-th seeded with vertex s * n // starts
    (each then grown as :func:`greedy_clique`: the candidate with the most neighbours
    among the remaining candidates).  A better initial solution than one greedy run: the
    branch and bound then cuts with the right size from the start."""
    W = adj.shape[1]
    best = np.empty(0, dtype=np.int64)
    P = np.zeros(W, dtype=np.uint64)
    out = np.empty(n, dtype=np.int64)
    for s in range(starts):
        v0 = s * n // starts
        for k in range(W):
            P[k] = adj[v0, k]
        out[0] = v0
        size = _grow_greedy(adj, P, out, 1)
        if size > best.shape[0]:
            best = out[:size].copy()
    return best


@njit(cache=True)
def _labels_exceed(P, lab, seen, need):
    """True when the vertices of the bitset ``P`` carry more than ``need`` distinct labels
    ``lab[v]`` (rows or columns of a fooling-set instance).  ``seen`` is a zeroed bitset
    over the labels, left zeroed."""
    W = P.shape[0]
    c = 0
    for w in range(W):
        word = P[w]
        while word != 0:
            b = _ctz64(word)
            word &= word - np.uint64(1)
            lb = lab[w * 64 + b]
            bit = np.uint64(1) << np.uint64(lb & 63)
            if (seen[lb >> 6] & bit) == 0:
                seen[lb >> 6] |= bit
                c += 1
                if c > need:
                    break
        if c > need:
            break
    for j in range(seen.shape[0]):
        seen[j] = 0
    return c > need


@njit(cache=True)
def _degeneracy_sort(loc, m, adj):
    """Reorder ``loc[:m]`` (vertices of ``adj``) in reverse smallest-last order of the
    subgraph they induce: repeatedly take out a vertex of least degree among those left
    (the first such on ties); the last taken out comes first.  O(m^2)."""
    deg = np.zeros(m, dtype=np.int64)
    for i in range(m):
        u = loc[i]
        d = 0
        for j in range(m):
            v = loc[j]
            d += np.int64((adj[u, v >> 6] >> np.uint64(v & 63)) & np.uint64(1))
        deg[i] = d
    alive = np.ones(m, dtype=np.bool_)
    out = np.empty(m, dtype=np.int64)
    for t in range(m):
        bi = -1
        for i in range(m):
            if alive[i] and (bi < 0 or deg[i] < deg[bi]):
                bi = i
        alive[bi] = False
        out[m - 1 - t] = loc[bi]
        u = loc[bi]
        for i in range(m):
            if alive[i]:
                v = loc[i]
                deg[i] -= np.int64((adj[u, v >> 6] >> np.uint64(v & 63)) & np.uint64(1))
    for i in range(m):
        loc[i] = out[i]


@njit(cache=True, inline="always")
def _members(P, loc):
    """The vertices of the bitset ``P`` in increasing order into ``loc``; returns their count."""
    m = 0
    for w in range(P.shape[0]):
        word = P[w]
        while word != 0:
            b = _ctz64(word)
            word &= word - np.uint64(1)
            loc[m] = w * 64 + b
            m += 1
    return m


@njit(cache=True)
def _compact(P, adj, vrow, vcol, loc, cadj, lrow, lcol, reorder):
    """Renumber the vertices of the bitset ``P`` as 0..m-1 (in order): ``loc[i]`` is the
    i-th one, ``cadj`` their adjacency among themselves (m rows, ``ceil(m / 64)`` words),
    ``lrow``/``lcol`` their labels.  With ``reorder`` the m vertices are numbered in
    degeneracy order of the subgraph they induce (:func:`_degeneracy_sort`) instead of
    their order in ``adj``.  Returns m."""
    m = _members(P, loc)
    if reorder:
        _degeneracy_sort(loc, m, adj)
    cW = cadj.shape[1]
    has_labels = vrow.shape[0] > 0
    for i in range(m):
        u = loc[i]
        if has_labels:
            lrow[i] = vrow[u]
            lcol[i] = vcol[u]
        for j in range(cW):
            cadj[i, j] = 0
        for j in range(m):
            v = loc[j]
            if (adj[u, v >> 6] >> np.uint64(v & 63)) & np.uint64(1):
                cadj[i, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
    return m


@njit(cache=True)
def _compact_words(P, adj, lab_r, lab_c, loc, cadj, lrow, lcol):
    """Renumber the vertices of the bitset ``P`` as 0..m-1 in their order, as
    :func:`_compact` without ``reorder``, but in O(m * W) word operations: row i of
    ``cadj`` is the concatenation over the words w of ``pext(adj[loc[i], w], P[w])`` (the
    bits of the neighbourhood at the candidates).  Labels are copied when ``lab_r`` is not
    empty.  Returns m."""
    W = P.shape[0]
    m = _members(P, loc)
    cW = cadj.shape[1]
    has_labels = lab_r.shape[0] > 0
    for i in range(m):
        u = loc[i]
        if has_labels:
            lrow[i] = lab_r[u]
            lcol[i] = lab_c[u]
        for j in range(cW):
            cadj[i, j] = 0
        pos = 0
        for w in range(W):
            mk = P[w]
            if mk == 0:
                continue
            x = _pext(adj[u, w], mk)
            k = popcount64(mk)
            wi = pos >> 6
            sh = pos & 63
            cadj[i, wi] |= x << np.uint64(sh)
            if sh != 0 and sh + k > 64:
                cadj[i, wi + 1] |= x >> np.uint64(64 - sh)
            pos += k
    return m


@njit(cache=True)
def _colour(P, adj, U, K, kmin, wsu):
    """Greedy sequential colouring of P (bitset) into independent sets.  Writes the
    vertices with colour >= kmin into U (in colour order) and their colours into K; returns
    how many were written.  Vertices of colour < kmin are left out: they cannot lead to a
    better clique at this node on their own (BBMC).  ``wsu``: scratch, >= 2 rows of W
    words."""
    W = P.shape[0]
    Ucopy = wsu[0, :W]
    Q = wsu[1, :W]
    for i in range(W):
        Ucopy[i] = P[i]
    cnt = 0
    k = 0
    remaining = 0
    for i in range(W):
        remaining += popcount64(Ucopy[i])
    while remaining > 0:
        k += 1
        for i in range(W):
            Q[i] = Ucopy[i]
        for w in range(W):
            while Q[w] != 0:
                b = _ctz64(Q[w])
                v = w * 64 + b
                bit = np.uint64(1) << np.uint64(b)
                Q[w] &= ~bit
                Ucopy[w] &= ~bit
                remaining -= 1
                # remove v's neighbours from this colour class
                for j in range(w, W):
                    Q[j] &= ~adj[v, j]
                if k >= kmin:
                    U[cnt] = v
                    K[cnt] = k
                    cnt += 1
    return cnt


@njit(cache=True)
def _colour_renumber(P, adj, U, K, kmin, Cls, wsu, wsi, use_up=True):
    """:func:`_colour` with Tomita's Re-NUMBER (MCS, 2010): once the classes below ``kmin``
    are built, a vertex that would open a class >= kmin is moved into a class k1 < kmin
    when it has exactly one neighbour w there and w can move to another class k2 < kmin
    without neighbours of w.  Classes stay independent sets, so the bound stays valid, and
    fewer vertices are branched on.  ``Cls`` is scratch space (>= kmin rows of W words),
    so are ``wsu`` (>= 3 rows of W words) and ``wsi`` (>= 5 rows of kmin + 1 integers)."""
    W = P.shape[0]
    Ucopy = wsu[0, :W]
    Q = wsu[1, :W]
    for i in range(W):
        Ucopy[i] = P[i]
    cnt = 0
    k = 0
    remaining = 0
    for i in range(W):
        remaining += popcount64(Ucopy[i])
    while remaining > 0 and k + 1 < kmin:
        k += 1
        for i in range(W):
            Q[i] = Ucopy[i]
            Cls[k, i] = 0
        for w in range(W):
            while Q[w] != 0:
                b = _ctz64(Q[w])
                v = w * 64 + b
                bit = np.uint64(1) << np.uint64(b)
                Q[w] &= ~bit
                Ucopy[w] &= ~bit
                Cls[k, w] |= bit
                remaining -= 1
                for j in range(w, W):
                    Q[j] &= ~adj[v, j]
    nlow = k
    used = wsi[0]
    for i in range(nlow + 1):
        used[i] = 0
    S = wsu[2, :W]
    if remaining > 0 and nlow >= 2:
        # try to renumber every vertex still uncoloured into the low classes
        for w in range(W):
            word = Ucopy[w]
            while word != 0:
                b = _ctz64(word)
                word &= word - np.uint64(1)
                v = w * 64 + b
                vbit = np.uint64(1) << np.uint64(b)
                moved = False
                for k1 in range(1, nlow + 1):
                    if used[k1]:
                        continue
                    one = -1
                    many = False
                    for j in range(W):
                        x = adj[v, j] & Cls[k1, j]
                        if x != 0:
                            if one >= 0 or (x & (x - np.uint64(1))) != 0:
                                many = True
                                break
                            one = j * 64 + _ctz64(x)
                    if many:
                        continue
                    if one < 0:
                        # no neighbour in k1 (possible after earlier moves): v joins k1
                        Cls[k1, w] |= vbit
                        moved = True
                        break
                    for k2 in range(1, nlow + 1):
                        if k2 == k1 or used[k2]:
                            continue
                        clash = False
                        for j in range(W):
                            if adj[one, j] & Cls[k2, j]:
                                clash = True
                                break
                        if not clash:
                            ow = one >> 6
                            obit = np.uint64(1) << np.uint64(one & 63)
                            Cls[k1, ow] &= ~obit
                            Cls[k2, ow] |= obit
                            Cls[k1, w] |= vbit
                            moved = True
                            break
                    if moved:
                        break
                if not moved and use_up:
                    moved = _up_absorb(v, adj, Cls, nlow, used, S, wsi, W)
                if moved:
                    Ucopy[w] &= ~vbit
                    remaining -= 1
    while remaining > 0:
        k += 1
        for i in range(W):
            Q[i] = Ucopy[i]
        for w in range(W):
            while Q[w] != 0:
                b = _ctz64(Q[w])
                v = w * 64 + b
                bit = np.uint64(1) << np.uint64(b)
                Q[w] &= ~bit
                Ucopy[w] &= ~bit
                remaining -= 1
                for j in range(w, W):
                    Q[j] &= ~adj[v, j]
                U[cnt] = v
                K[cnt] = k
                cnt += 1
    return cnt


@njit(cache=True)
def _up_absorb(v, adj, Cls, nlow, used, S, wsi, W):
    """MaxSAT-style unit propagation (Li & Quan 2010, IncMaxCLQ): suppose v is in the
    clique; a class with a single vertex u left among the common neighbours forces u, and
    so on; a class left empty shows that v and the classes that led to it cannot all
    contribute, so v needs no colour of its own.  Those classes are then marked used (each
    class backs at most one such argument).  Only the classes the conflict depends on are
    marked (conflict analysis as in MoMC, Li, Jiang & Manyà 2017): the emptied class, and
    for each class in the set, the forced vertices that removed its other members.
    Returns True when v was absorbed.  ``wsi``: scratch rows 1-4 (>= nlow + 1 integers)."""
    inv = wsi[1]
    forced = wsi[2]
    fclass = wsi[3]
    queue = wsi[4]
    for j in range(W):
        S[j] = adj[v, j]
    for k in range(1, nlow + 1):
        inv[k] = 0
    nf = 0
    conflict = -1
    progress = True
    while progress and conflict < 0:
        progress = False
        for k in range(1, nlow + 1):
            if used[k] or inv[k]:
                continue
            one = -1
            cnt = 0
            for j in range(W):
                x = S[j] & Cls[k, j]
                if x != 0:
                    cnt += popcount64(x)
                    if cnt > 1:
                        break
                    one = j * 64 + _ctz64(x)
            if cnt == 0:
                conflict = k
                break
            if cnt == 1:
                inv[k] = 1
                forced[nf] = one
                fclass[nf] = k
                nf += 1
                for j in range(W):
                    S[j] &= adj[one, j]
                progress = True
    if conflict < 0:
        return False
    # conflict analysis: inv[] now marks the classes in the inconsistent set
    for k in range(1, nlow + 1):
        inv[k] = 0
    inv[conflict] = 1
    qh = 0
    qt = 1
    queue[0] = conflict
    while qh < qt:
        k = queue[qh]
        qh += 1
        keep = -1  # the forced vertex of class k (none for the emptied class)
        for f in range(nf):
            if fclass[f] == k:
                keep = forced[f]
        for j in range(W):
            word = Cls[k, j] & adj[v, j]  # members not already excluded by v itself
            while word != 0:
                b = _ctz64(word)
                word &= word - np.uint64(1)
                w = j * 64 + b
                if w == keep:
                    continue
                for f in range(nf):
                    u = forced[f]
                    if (adj[u, j] >> np.uint64(b)) & np.uint64(1) == 0:
                        kf = fclass[f]
                        if not inv[kf]:
                            inv[kf] = 1
                            queue[qt] = kf
                            qt += 1
                        break
    for k in range(1, nlow + 1):
        if inv[k]:
            used[k] = 1
    return True


#: Search keys order the cliques found by size, then by the root branch they were found in
#: (earlier first): key = (size << KEY_BITS) + (KEY_LOW - branch).  A start clique (given, or
#: a floor) has key (size + 1) << KEY_BITS: it beats every clique of its size.
KEY_BITS = 20
KEY_LOW = (1 << KEY_BITS) - 1


@njit(cache=True, inline="always")
def _eff(key, order):
    """The largest clique size that does not beat ``key`` when found in root branch
    ``order``: a node of that branch whose bound is at most this is cut."""
    return (key - (KEY_LOW - order)) >> KEY_BITS


@njit(cache=True)
def _scratch(n, W, compact, vrow, vcol):
    """Work arrays of one search: (P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls,
    loc, lrow, lcol, seen, labstate); ``labstate[0]`` is 1 when the vertices carry row and
    column labels ``vrow``/``vcol`` (the rows-and-columns bound), else 0."""
    labels = vrow.shape[0] > 0
    nlab = 1
    if labels:
        nlab = max(vrow.max(), vcol.max()) + 1
    maxd = n + 2
    P = np.zeros((maxd, W), dtype=np.uint64)
    U = np.zeros((maxd, max(n, 1)), dtype=np.int64)
    K = np.zeros((maxd, max(n, 1)), dtype=np.int64)
    cnt = np.zeros(maxd, dtype=np.int64)
    clique = np.zeros(maxd, dtype=np.int64)
    best = np.zeros(n + 1, dtype=np.int64)
    Cls = np.zeros((n + 2, W), dtype=np.uint64)
    wsu = np.zeros((3, W), dtype=np.uint64)
    wsi = np.zeros((5, n + 2), dtype=np.int64)
    cm = min(max(compact, 1), max(n, 1))
    cW = (cm + 63) // 64
    cadj = np.zeros((cm, cW), dtype=np.uint64)
    cCls = np.zeros((cm + 2, cW), dtype=np.uint64)
    loc = np.zeros(cm, dtype=np.int64)
    lrow = np.zeros(cm if labels else 0, dtype=np.int64)
    lcol = np.zeros(cm if labels else 0, dtype=np.int64)
    seen = np.zeros((nlab + 63) // 64, dtype=np.uint64)
    labstate = np.array([1 if labels else 0, 0, 0], dtype=np.int64)
    return P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls, loc, lrow, lcol, seen, labstate


@njit(cache=True, nogil=True)
def _dfs(adj, vrow, vcol, P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls, loc, lrow, lcol, seen,
         labstate, renumber, cap, target, compact, reorder, start, time_limit, control, shared, order, key, nodes,
         compact2=0):
    """Branch and bound below a root (level 0) that the caller has set up: candidates
    ``P[0]`` and branching vertices ``U[0, :cnt[0]]`` with colours ``K[0]`` (increasing).
    Cliques are keyed as in :data:`KEY_BITS` with root branch ``order``; ``key`` is the
    best key so far and ``shared[0]`` the best key of every search sharing the array (read
    at every node, raised when this one finds better; ``shared[2]`` nonzero ends the
    searches of later branches: branch ``shared[2] - 1`` reached the cap).  A clique of
    ``target`` vertices or more (if ``target`` >= 0) stops every search sharing the array
    (``shared[3]`` set): it is all the caller needs.  ``labstate`` =
    [row/column test on, tries, cuts].
    Returns ``(key, nodes, own, stopped, upper)``: ``own`` is the key of the best clique
    this search found itself (0 if none; ``key`` may be another search's, read from
    ``shared``), that clique is ``best[:own >> KEY_BITS]``; ``stopped`` when the deadline,
    ``control[0]`` or the target ended it, with ``upper`` bounding the cliques left
    unsearched (0 when finished).

    ``compact2`` (if > 0, used inside a renumbered copy): the first time a node of the copy
    has at most ``compact2`` candidates, its subtree runs on a second copy, built from the
    first in O(m * W) word operations (:func:`_compact_words`), with ``ceil(compact2 /
    64)`` words per bitset."""
    W = adj.shape[1]
    maxd = P.shape[0]
    labels = labstate[0] != 0
    cm = cadj.shape[0]
    cW = cadj.shape[1]
    dc = maxd
    # the second copy (level 2): vertices numbered 0..m2-1, loc2 maps them into the first copy
    cm2 = min(max(compact2, 1), max(cm, 1))
    cW2 = (cm2 + 63) // 64
    cadj2 = np.zeros((cm2, cW2), dtype=np.uint64)
    cCls2 = np.zeros((cm2 + 2, cW2), dtype=np.uint64)
    loc2 = np.zeros(cm2, dtype=np.int64)
    lrow2 = np.zeros(cm2 if lrow.shape[0] > 0 else 0, dtype=np.int64)
    lcol2 = np.zeros(cm2 if lrow.shape[0] > 0 else 0, dtype=np.int64)
    use2 = compact2 > 0 and compact > 0
    dc2 = maxd
    own = 0
    stopped = False
    upper = 0
    eff = _eff(key, order)
    depth = 0
    while depth >= 0:
        if depth < dc:
            dc = maxd
            dc2 = maxd
            A = adj
            Wf = W
            frow = vrow
            fcol = vcol
            FCls = Cls
        elif depth < dc2:
            dc2 = maxd
            A = cadj
            Wf = cW
            frow = lrow
            fcol = lcol
            FCls = cCls
        else:
            A = cadj2
            Wf = cW2
            frow = lrow2
            fcol = lcol2
            FCls = cCls2
        sk = shared[0]
        if sk > key:
            key = sk
            eff = _eff(key, order)
        if cnt[depth] == 0:
            depth -= 1
            continue
        i = cnt[depth] - 1
        if depth + K[depth, i] <= eff:
            # every remaining vertex has a colour <= K[depth, i]: cut this node
            cnt[depth] = 0
            depth -= 1
            continue
        v = U[depth, i]
        cnt[depth] = i
        if depth >= dc2:
            clique[depth] = loc[loc2[v]]
        elif depth >= dc:
            clique[depth] = loc[v]
        else:
            clique[depth] = v
        # child candidates: P & N(v); then drop v from P at this level
        nonempty = False
        for k in range(Wf):
            P[depth + 1, k] = P[depth, k] & A[v, k]
            if P[depth + 1, k]:
                nonempty = True
        P[depth, v >> 6] &= ~(np.uint64(1) << np.uint64(v & 63))
        if not nonempty:
            if depth + 1 > eff:
                size = depth + 1
                key = (size << KEY_BITS) + (KEY_LOW - order)
                eff = size
                own = key
                for j in range(size):
                    best[j] = clique[j]
                if key > shared[0]:
                    shared[0] = key
                if cap >= 0 and size >= cap:
                    # branches after this one have nothing left to find; earlier ones may
                    # still hold a clique of this size with a better key
                    if shared[2] == 0 or order + 1 < shared[2]:
                        shared[2] = order + 1
                    break
                if target >= 0 and size >= target:
                    shared[3] = 1
                    stopped = True
                    for d in range(depth + 1):  # the vertices left at each level
                        if cnt[d] > 0:
                            upper = max(upper, d + K[d, cnt[d] - 1])
                    break
            continue
        nodes += 1
        if (nodes & 1023) == 0:
            stop = _now() - start > time_limit
            if control is not None:
                control[1] = nodes
                control[2] = (key - 1) >> KEY_BITS
                stop = stop or control[0] != 0.0
            stop = stop or shared[3] != 0
            if shared[2] != 0 and order >= shared[2] - 1:
                break  # an earlier branch reached the cap: nothing left to prove here
            if stop:
                stopped = True
                # a clique not yet searched extends clique[:d] by a vertex left at level d
                # (colour <= K[d, cnt[d] - 1]), or, at the deepest level, by the vertex
                # just expanded (colour K[depth, cnt[depth]])
                for d in range(depth):
                    if cnt[d] > 0:
                        upper = max(upper, d + K[d, cnt[d] - 1])
                upper = max(upper, depth + K[depth, cnt[depth]])
                break
        need = eff - depth - 1  # the child must add more than this many vertices
        Pc = P[depth + 1, :Wf]
        if labels:
            # rows and columns among the candidates bound the clique; on matrices where
            # this bound almost never cuts (random ones: ~0.03% of nodes) it is dropped
            # after 4096 tries, which saves ~10% of the time
            labstate[1] += 1
            if not _labels_exceed(Pc, frow, seen, need) or not _labels_exceed(Pc, fcol, seen, need):
                labstate[2] += 1
                continue
            if labstate[1] == 4096 and labstate[2] * 100 < labstate[1]:
                labels = False
                labstate[0] = 0
        if compact > 0 and depth + 1 < dc:
            pc = 0
            for k in range(Wf):
                pc += popcount64(Pc[k])
            if pc <= cm:
                m = _compact(Pc, adj, vrow, vcol, loc, cadj, lrow, lcol, reorder)
                for k in range(cW):
                    P[depth + 1, k] = 0
                for j in range(m):
                    P[depth + 1, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                dc = depth + 1
                A = cadj
                Wf = cW
                FCls = cCls
                Pc = P[depth + 1, :Wf]
        if use2 and dc <= depth + 1 < dc2:
            pc = 0
            for k in range(Wf):
                pc += popcount64(Pc[k])
            if pc <= cm2:
                m = _compact_words(Pc, cadj, lrow, lcol, loc2, cadj2, lrow2, lcol2)
                for k in range(cW):
                    P[depth + 1, k] = 0
                for j in range(m):
                    P[depth + 1, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                dc2 = depth + 1
                A = cadj2
                Wf = cW2
                FCls = cCls2
                Pc = P[depth + 1, :Wf]
        if renumber:
            c = _colour_renumber(Pc, A, U[depth + 1], K[depth + 1], need + 1, FCls, wsu, wsi)
        else:
            c = _colour(Pc, A, U[depth + 1], K[depth + 1], need + 1, wsu)
        if c == 0:
            continue
        depth += 1
        cnt[depth] = c
    return key, nodes, own, stopped, upper


@njit(cache=True, nogil=True)
def max_clique_bitset(adj, n, init, floor, vrow, vcol, time_limit, renumber=True, cap=-1, compact=0, reorder=False,
                      control=None, compact2=0):
    """Maximum clique of the bitset graph ``adj`` (C-contiguous) on ``n`` vertices.

    ``init`` is a clique to start from (e.g. :func:`greedy_clique`) and ``floor`` the size of
    a clique known elsewhere (only larger cliques are searched for).  ``vrow``/``vcol``
    label each vertex with its row and column when the graph is a fooling-set instance (a
    clique then has distinct rows and distinct columns, which bounds it by the number of
    rows and of columns among the candidates; the test is dropped after 4096 nodes if it
    cut fewer than 1% of them); pass empty arrays otherwise.  Returns
    ``(clique, exact, nodes, upper)``: ``exact`` is False when the deadline
    (``time_limit`` seconds, checked every 1024 nodes) stopped the search (the clique is
    then the best found, a lower bound); ``upper`` bounds every clique of the graph, or
    is ``max(len(init), floor)`` when that is larger (when stopped: from the colours of
    the branches still open, capped by ``cap``).  When nothing larger than ``max(len(init), floor)`` exists,
    ``init`` is returned.  ``cap`` (if >= 0) is an upper bound on the clique size known
    elsewhere: the search stops, exact, once it is reached.

    ``compact`` (if > 0): the first time a node has at most ``compact`` candidates, its
    subtree runs on a renumbered copy of the graph induced by them (``ceil(compact / 64)``
    words per bitset instead of ``ceil(n / 64)``), rebuilt for each such node.  It changes
    the time, never the result.
    ``compact2`` (if > 0, with ``compact``): inside such a copy, the first time a node has at
    most ``compact2`` candidates, its subtree runs on a second, narrower copy built by
    word operations (``pext``, :func:`_compact_words`), in the order of the first; time
    only, the same tree.

    ``control`` (optional float64 array of 3): read and written every 1024 nodes, for a
    caller that runs the search in another thread (it releases the GIL): a nonzero
    ``control[0]`` stops the search as the deadline does; ``control[1]`` and ``control[2]``
    receive the nodes so far and the size of the largest clique found so far.

    One thread, root branches in order; :func:`max_clique_threads` splits them over
    threads."""
    W = adj.shape[1]
    start = _now()
    best_size = max(init.shape[0], floor)
    if n == 0:
        return init.copy(), True, 0, init.shape[0]
    (P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls, loc, lrow, lcol, seen,
     labstate) = _scratch(n, W, compact, vrow, vcol)
    for v in range(n):
        P[0, v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    if renumber:
        cnt[0] = _colour_renumber(P[0], adj, U[0], K[0], best_size + 1, Cls, wsu, wsi)
    else:
        cnt[0] = _colour(P[0], adj, U[0], K[0], best_size + 1, wsu)
    if cap >= 0 and best_size >= cap:
        cnt[0] = 0  # the known solution already meets the cap
    shared = np.zeros(4, dtype=np.int64)
    key0 = (best_size + 1) << KEY_BITS
    shared[0] = key0
    key, nodes, own, stopped, upper = _dfs(adj, vrow, vcol, P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj,
                                           cCls, loc, lrow, lcol, seen, labstate, renumber, cap, -1,
                                           compact, reorder, start, time_limit, control, shared, 0, key0, 1,
                                           compact2)
    improved = own != 0
    size = best_size
    if improved:
        size = own >> KEY_BITS
    upper = max(upper, size)
    if cap >= 0:
        upper = min(upper, max(cap, size))
    if not improved:
        return init.copy(), not stopped, nodes, upper
    return best[:size].copy(), not stopped, nodes, upper


@njit(cache=True, nogil=True)
def _branch_worker(adj, n, root_size, vrow, vcol, start, time_limit, renumber, cap, target, compact, reorder,
                   control, shared, key0, last, compact2=0):
    """One thread of :func:`max_clique_threads`: colours the root as the sequential search
    does (``root_size`` = size of the start clique), then takes root branches in order
    from the shared counter ``shared[1]`` until it reaches ``last`` and searches each
    one's subtree with :func:`_dfs` (branch o: the o-th vertex branched on at the root,
    with the candidates left after branches 0..o-1).  Returns ``(clique, own, nodes,
    improved, stopped, upper)``: ``clique`` is the best this thread found itself and
    ``own`` its key (the best key of all threads may be another's); ``upper`` also covers
    the branches not yet taken, and the ``start`` of the deadline (``start`` < 0: now,
    once compiled code runs; as :func:`max_clique_bitset`, compiling is not counted)."""
    if start < 0:
        start = _now()
    W = adj.shape[1]
    (P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls, loc, lrow, lcol, seen,
     labstate) = _scratch(n, W, compact, vrow, vcol)
    Pall = np.zeros(W, dtype=np.uint64)
    for v in range(n):
        Pall[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    U0 = np.zeros(max(n, 1), dtype=np.int64)
    K0 = np.zeros(max(n, 1), dtype=np.int64)
    if renumber:
        cnt0 = _colour_renumber(Pall, adj, U0, K0, root_size + 1, Cls, wsu, wsi)
    else:
        cnt0 = _colour(Pall, adj, U0, K0, root_size + 1, wsu)
    key = key0
    nodes = 0
    improved = False
    own_key = 0
    stopped = False
    upper = 0
    out = np.zeros(0, dtype=np.int64)
    while True:
        o = shared[1]
        sd = shared[2]
        if o >= last or o >= cnt0 or (sd != 0 and o >= sd - 1):
            break
        if shared[3] != 0:  # another thread reached the target
            stopped = True
            upper = max(upper, K0[cnt0 - 1 - o])
            break
        shared[1] = o + 1
        i = cnt0 - 1 - o
        if shared[0] > key:
            key = shared[0]
        if K0[i] <= _eff(key, o):
            break  # this branch and every later one (colours only decrease) are cut
        # branch o: the vertex U0[i] with the candidates left after the branches before it
        for k in range(W):
            P[0, k] = Pall[k]
        for j in range(i, cnt0):
            u = U0[j]
            P[0, u >> 6] &= ~(np.uint64(1) << np.uint64(u & 63))
        P[0, U0[i] >> 6] |= np.uint64(1) << np.uint64(U0[i] & 63)
        U[0, 0] = U0[i]
        K[0, 0] = K0[i]
        cnt[0] = 1
        key, nodes, own, stp, up = _dfs(adj, vrow, vcol, P, U, K, cnt, clique, best, Cls, wsu, wsi, cadj, cCls,
                                        loc, lrow, lcol, seen, labstate, renumber, cap, target, compact, reorder,
                                        start, time_limit, control, shared, o, key, nodes, compact2)
        if own > own_key:
            improved = True
            own_key = own
            out = best[:own >> KEY_BITS].copy()
        if stp:
            stopped = True
            upper = max(upper, up)
            c = shared[1]
            if c < min(last, cnt0):
                upper = max(upper, K0[cnt0 - 1 - c])  # the branches no thread has taken
            break
    return out, own_key, nodes, improved, stopped, upper, start


def max_clique_threads(adj: np.ndarray, n: int, init: np.ndarray, floor: int, vrow: np.ndarray, vcol: np.ndarray,
                       time_limit: float, renumber: bool = True, cap: int = -1, compact: int = 0,
                       reorder: bool = False, control: np.ndarray | None = None,
                       threads: int = 1, target: int = -1, compact2: int = 0) -> tuple[np.ndarray, bool, int, int]:
    """:func:`max_clique_bitset` with the root's branches shared by ``threads`` threads
    (the kernel releases the GIL), with the same arguments and results, except
    ``control``: a float64 array of ``threads`` rows of 3 (row t: stop request, nodes and
    best size of thread t; a stop request in row 0 or any row stops every thread).

    The threads share the best key (:data:`KEY_BITS`): a clique found in root branch o
    beats one of the same size found in a later branch, so when the search finishes the
    best key names the first root branch o* holding a maximum clique, whatever the
    timing.  The clique returned is then the first one found in branch o* by a search
    of that branch alone for a clique of the maximum size: the same for every number of
    threads and every run (unless the deadline ends that second search first: then the
    clique the threads found is kept).  When the deadline stops the search, the largest clique found
    is returned with ``exact=False`` and ``upper`` from the branches left open; so it is
    once a clique of ``target`` vertices or more is found (if ``target`` >= 0; a start of
    that size returns at once, with ``upper`` = ``cap`` or n)."""
    import threading

    threads = max(1, int(threads))
    best_size = max(int(init.shape[0]), int(floor))
    if n == 0 or (cap >= 0 and best_size >= cap):
        return init.copy(), True, 0, max(best_size, 0) if n else int(init.shape[0])
    if 0 <= target <= best_size:
        return init.copy(), False, 0, max(best_size, cap if cap >= 0 else n)
    if control is None:
        control = np.zeros((threads, 3), dtype=np.float64)
    if control.ndim != 2 or control.shape[0] < threads:
        raise ValueError("control must have one row of 3 per thread")
    key0 = (best_size + 1) << KEY_BITS
    shared = np.array([key0, 0, 0, 0], dtype=np.int64)
    results: list[Any] = [None] * threads
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            results[t] = _branch_worker(adj, n, best_size, vrow, vcol, -1.0, time_limit, renumber, cap, target,
                                        compact, reorder, control[t], shared, key0, n + 1, compact2)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(t,), name=f"commlb-clique-{t}", daemon=True)
            for t in range(1, threads)]
    for th in pool:
        th.start()
    run(0)
    for th in pool:
        th.join()
    if errors:
        raise errors[0]
    nodes = 1 + sum(int(r[2]) for r in results)
    stopped = any(bool(r[4]) for r in results)
    best_key, clique = key0, init.copy()
    for r in results:
        if r[3] and int(r[1]) > best_key:
            best_key, clique = int(r[1]), r[0]
            if clique.shape[0] != best_key >> KEY_BITS:  # each thread's key names its own clique
                raise AssertionError("a thread's best key does not match the clique it returned")
    size = max(best_size, int(clique.shape[0]))
    if best_key != key0 and not stopped:
        # the deterministic choice: branch o* searched alone for a clique of this size
        o = KEY_LOW - (best_key & KEY_LOW)
        again = np.array([size << KEY_BITS, o, 0, 0], dtype=np.int64)
        start = min(float(r[6]) for r in results)
        redo = _branch_worker(adj, n, best_size, vrow, vcol, start, time_limit, renumber, size, -1, compact,
                              reorder, np.zeros(3, dtype=np.float64), again, size << KEY_BITS, o + 1, compact2)
        nodes += int(redo[2])
        if redo[3] and redo[0].shape[0] == size:
            clique = redo[0]
        elif not redo[4]:  # finished without finding what the full search found there: a bug
            raise AssertionError("the search of the first branch with a maximum clique did not find it again")
    upper = size if not stopped else max(size, max(int(r[5]) for r in results))
    if cap >= 0:
        upper = min(upper, max(cap, size))
    return clique, not stopped, nodes, upper
def max_clique_python(neighbours: list[set[int]]) -> list[int]:
    """Plain twin of :func:`max_clique_bitset`: branch and bound with the same greedy
    colouring bound on Python sets (no bitsets, no deadline).  Returns a maximum clique."""
    n = len(neighbours)
    best: list[int] = []

    def colour(P: list[int]) -> list[tuple[int, int]]:
        order: list[tuple[int, int]] = []
        left = sorted(P)
        k = 0
        while left:
            k += 1
            cls: list[int] = []
            rest: list[int] = []
            for v in left:
                if all(v not in neighbours[u] for u in cls):
                    cls.append(v)
                else:
                    rest.append(v)
            order.extend((v, k) for v in cls)
            left = rest
        return order

    def expand(clique: list[int], P: set[int]) -> None:
        nonlocal best
        order = colour(sorted(P))
        for v, k in reversed(order):
            if len(clique) + k <= len(best):
                return
            newP = P & neighbours[v]
            if not newP:
                if len(clique) + 1 > len(best):
                    best = clique + [v]
            else:
                expand(clique + [v], newP)
            P = P - {v}

    expand([], set(range(n)))
    return best
