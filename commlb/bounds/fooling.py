"""Fooling sets: verify one, find a maximum one, and the lower bound on D(f) they give.

A **z-fooling set** of a matrix M is a set of entries (x_i, y_i) with M[x_i, y_i] = z such
that for any two of them M[x_1, y_2] != z or M[x_2, y_1] != z (Kushilevitz–Nisan 1997,
Def. 1.19; Yao 1979).

Why it bounds D: a deterministic protocol partitions M into monochromatic rectangles, one
per leaf.  If two entries of a z-fooling set lay in the same leaf rectangle, the rectangle
would also contain (x_1, y_2) and (x_2, y_1), and being monochromatic of colour z (it
contains (x_1, y_1)) both would equal z — a contradiction.  So a z-fooling set F_z needs
|F_z| distinct z-leaves, and leaves of different colours are different leaves:

    #leaves >= sum over z of |F_z|,    D(f) >= ceil(log2 sum_z |F_z|)

(a depth-D tree has at most 2^D leaves).  Every output value that occurs in M needs at
least one leaf, so a value without a computed fooling set still counts 1; with two values
and one set this is the classic ``ceil(log2(|F| + 1))``.  :func:`fooling_lower_bound`.

Finding a maximum one is a maximum-clique problem (NP-hard in general): vertices are the
z-entries, two entries are adjacent when they fool each other.  Two entries in the same row
are never adjacent (x_1 = x_2 makes both cross entries the entries themselves, both z); the
same holds for equal rows (and columns), so equal rows and columns are merged first — a
fooling set uses at most one row of each class, and the maximum is unchanged.  Rows and
columns are independent sets of the graph, which gives the extra bound
``|clique| <= min(#rows, #cols)`` used inside the search.  The kernel is a bitset branch and
bound with a greedy colouring bound (:mod:`commlb.kernels.fooling`); after ``time_limit``
seconds the best set found is returned with ``exact=False`` (still a valid fooling set, so
its bound is still sound) together with ``upper``, a proved upper bound on every fooling
set's size taken from the colours of the branches still open (docs/theory.md §5.2.2):
the certified interval is ``[size, upper]``.

Initial solution: the best of greedy cliques started from every vertex.  Upper bound used to stop
early: |F_z| <= rank(1[M = z])^2 over any field (:func:`rank_cap`, docs/theory.md §5.2.1).

Cost: building the graph is O(e^2) bits for e z-entries (refused above
:data:`MAX_FOOLING_VERTICES`); the search is exponential in the worst case.  Measured
(bench/bench_fooling.py, CPU seconds, median of 10 seeds, 2-core machine under load):
random 24 x 24 0/1 matrices in about 0.05 s, 28 x 28 in about 0.62 s (0.28 M nodes),
32 x 32 (about 510 vertices, density 0.68, optimum 19-21) in about 6.2 s (2.6 M nodes,
1.3-7.5 M over the seeds; CliSAT, a state-of-the-art general clique solver, takes 5.8 s
on the same graphs, docs/design.md §10.1); 40 x 40 does not finish in minutes (27 M nodes
in 85 s without an answer), so it returns the interval [size, upper].

Vertex order: the search numbers the vertices in degeneracy order
(:func:`degeneracy_order`, dense cores first; about half the nodes of the row-grouped order
of earlier versions on random 28 x 28 and 32 x 32 matrices, with a wide spread over seeds).

Symmetry: when the matrix has verified automorphisms whose orbits on the entries are few
(:mod:`commlb.bounds.symmetry`), the root of the search is one search per orbit in the
neighbourhood of a representative (docs/theory.md §5.2.4): IP_5 both values proved
maximum in about 0.1 s each, where the plain search stops at its 10 s limit.

:func:`max_fooling_set_reference` is the slow, obvious version (enumerate every fooling set)
kept for tests and teaching.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InvalidInputError, TooLargeError

__all__ = [
    "FoolingSetResult",
    "max_fooling_set",
    "verify_fooling_set",
    "fooling_lower_bound",
    "max_fooling_set_reference",
    "compatibility_graph",
    "degeneracy_order",
    "MAX_FOOLING_VERTICES",
]

MAX_FOOLING_VERTICES = 12_000  # the compatibility graph is built as an e x e boolean matrix


@dataclass(frozen=True)
class FoolingSetResult:
    """A fooling set for output ``value``.

    ``pairs`` are (row, col) indices of the input matrix; ``exact`` is True only when the
    search proved no larger z-fooling set exists; ``nodes`` counts branch-and-bound nodes;
    ``values_present`` lists every output value occurring in the matrix (used by
    :func:`fooling_lower_bound` to count one leaf for values without a set); ``upper``
    is a proved upper bound on the size of every ``value``-fooling set (equal to ``size``
    when exact; when the time limit stopped the search, the certified interval is
    ``[size, upper]``)."""

    value: int
    pairs: list[tuple[int, int]]
    size: int
    exact: bool
    elapsed: float
    nodes: int
    values_present: tuple[int, ...] = ()
    upper: int | None = None
    #: "time limit", "interrupt" (Ctrl-C) or "target" (a set of the size asked for was
    #: found) when the search did not finish, else None
    stopped_by: str | None = None
    #: when the orbit loop ran (docs/theory.md §5.2.4): "<orbits> orbits of <vertices>
    #: entries under the group of <k> verified automorphisms" (the group they generate),
    #: else None
    symmetry: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": int(self.value),
            "size": int(self.size),
            "exact": bool(self.exact),
            "pairs": [[int(x), int(y)] for x, y in self.pairs],
            "elapsed": float(self.elapsed),
            "nodes": int(self.nodes),
            "upper": None if self.upper is None else int(self.upper),
            "stopped_by": self.stopped_by,
            "symmetry": self.symmetry,
        }


def _as_matrix(M: ArrayLike) -> np.ndarray:
    arr = np.asarray(M)
    if arr.ndim != 2:
        raise InvalidInputError(f"a communication matrix must be 2-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.bool_):
            arr = arr.astype(np.int64)
        elif np.all(np.equal(np.mod(arr, 1), 0)):
            arr = arr.astype(np.int64)
        else:
            raise InvalidInputError("a communication matrix must hold integers")
    if arr.size and arr.min() < 0:
        raise InvalidInputError("negative entries (don't-care / promise pairs) are not supported here")
    return arr.astype(np.int64, copy=False)


def verify_fooling_set(M: ArrayLike, value: int, pairs: Iterable[tuple[int, int]]) -> bool:
    """True when ``pairs`` is a ``value``-fooling set of M: every pair is an entry equal to
    ``value`` and any two pairs (x1, y1), (x2, y2) have M[x1, y2] != value or
    M[x2, y1] != value.  Out-of-range or repeated pairs make it False.  Plain Python,
    O(k^2) for k pairs; independent of the search."""
    arr = _as_matrix(M)
    rows, cols = arr.shape
    plist = [(int(x), int(y)) for x, y in pairs]
    for x, y in plist:
        if not (0 <= x < rows and 0 <= y < cols) or int(arr[x, y]) != value:
            return False
    for i in range(len(plist)):
        x1, y1 = plist[i]
        for j in range(i + 1, len(plist)):
            x2, y2 = plist[j]
            if int(arr[x1, y2]) == value and int(arr[x2, y1]) == value:
                return False
    return True


def fooling_lower_bound(results: Mapping[int, FoolingSetResult] | Iterable[FoolingSetResult]) -> int:
    """D(f) >= ceil(log2(sum over output values z of |F_z|)) bits.

    Derivation (see the module docstring): a leaf rectangle is monochromatic, so it holds at
    most one pair of the fooling set of its own colour and none of another colour's set
    (those pairs have a different value); hence #leaves >= sum_z |F_z| and 2^D >= #leaves.
    Values that occur in the matrix (``values_present``) but have no result count one leaf
    each, which gives ``ceil(log2(|F| + 1))`` for one set of a two-valued matrix.  Accepts a
    dict keyed by value or any iterable of results."""
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    by_value: dict[int, int] = {}
    present: set[int] = set()
    for res in items:
        by_value[int(res.value)] = max(by_value.get(int(res.value), 0), int(res.size))
        present.update(int(v) for v in res.values_present)
    leaves = sum(by_value.values()) + len(present - set(by_value))
    return 0 if leaves <= 1 else math.ceil(math.log2(leaves))


def _dedup(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix with equal rows and equal columns merged, and the original index of each
    kept row and column (first occurrence)."""
    _, row_first = np.unique(arr, axis=0, return_index=True)
    row_rep = np.sort(row_first)
    sub = arr[row_rep]
    _, col_first = np.unique(sub, axis=1, return_index=True)
    col_rep = np.sort(col_first)
    return sub[:, col_rep], row_rep, col_rep


def compatibility_graph(arr: np.ndarray, value: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (xs, ys) = the entries equal to ``value``; ``adj[i, j]`` is True when entries i
    and j fool each other (different rows, different columns, and not both cross entries
    equal to ``value``)."""
    Z = arr == value
    xs, ys = np.nonzero(Z)
    cross = Z[xs[:, None], ys[None, :]]  # cross[i, j] = M[x_i, y_j] == value
    adj = ~(cross & cross.T)
    adj &= xs[:, None] != xs[None, :]
    adj &= ys[:, None] != ys[None, :]
    return xs, ys, adj


def _pack(adj_bool: np.ndarray) -> np.ndarray:
    n = adj_bool.shape[1]
    W = max(1, (n + 63) // 64)
    padded = np.zeros((adj_bool.shape[0], W * 64), dtype=np.uint8)
    padded[:, : adj_bool.shape[1]] = adj_bool
    bits = np.packbits(padded, axis=1, bitorder="little")
    return bits.view(np.uint64).reshape(adj_bool.shape[0], W).copy()


def rank_cap(arr: np.ndarray, value: int) -> int:
    """An upper bound on the size of any ``value``-fooling set of ``arr``: the square of the
    rank of Z = 1[arr = value] over GF(2) or GF(2^31 - 1), whichever is smaller.

    Why: order a z-fooling set as (x_i, y_i) and let A = Z[x_i, y_j] (k x k).  Then
    A_ii = 1 and A_ij A_ji = 0 for i != j, so the entrywise product A ∘ A^T is the identity
    I_k over any field; A ∘ A^T is a submatrix of the Kronecker product A ⊗ A^T, whence
    k = rank(A ∘ A^T) <= rank(A)^2 <= rank(Z)^2 (Dietzfelbinger–Hromkovič–Schnitger 1996
    state it as (rank(M) + 1)^2 for both values of a Boolean M, since
    rank(J - M) <= rank(M) + 1).  docs/theory.md §5.2.1."""
    from ..kernels.elim import GFP_PRIME, rank_gf2_any, rank_gfp_any

    Z = (arr == value)
    r2 = int(rank_gf2_any(Z.astype(np.uint8), threads=1)[0])
    rp = int(rank_gfp_any(Z, GFP_PRIME)[0])
    return min(r2, rp) ** 2


def degeneracy_order(adj_bool: np.ndarray) -> np.ndarray:
    """Vertices in reverse smallest-last order (Matula–Beck): repeatedly remove a vertex of
    least degree among those left; the last one removed comes first.  Dense cores come
    first, so the bitset colouring of the search (which takes vertices in index order)
    starts from them.  O(n^2) for n vertices."""
    n = adj_bool.shape[0]
    deg = adj_bool.sum(axis=1).astype(np.int64)
    alive = np.ones(n, dtype=bool)
    removed = np.empty(n, dtype=np.int64)
    big = np.int64(n + 1)
    for i in range(n):
        v = int(np.argmin(np.where(alive, deg, big)))
        removed[i] = v
        alive[v] = False
        deg -= adj_bool[v]
    return removed[::-1].copy()


VERTEX_ORDERS = ("degeneracy", "rows")
COMPACT_CANDIDATES = 320  # see max_fooling_set(compact=...)
COMPACT2_CANDIDATES = 192  # see max_fooling_set(compact2=...)


def max_fooling_set(M: ArrayLike, value: int, time_limit: float = 10.0, backend: str = "auto",
                    vertex_order: str = "degeneracy", compact: int | None = None,
                    reorder: bool = True,
                    progress: Callable[[dict[str, Any]], None] | None = None,
                    threads: int | None = None, target: int | None = None,
                    compact2: int | None = None, symmetry: bool = True) -> FoolingSetResult:
    """A maximum ``value``-fooling set of M, by maximum clique on the compatibility graph.

    ``backend="numba"`` runs the bitset kernel with the deadline ``time_limit`` (seconds);
    after it the best set found is returned with ``exact=False``.  ``backend="python"`` runs
    the plain twin :func:`commlb.kernels.fooling.max_clique_python` (no deadline, small
    matrices only); ``"auto"`` is numba.  The returned pairs index the original matrix.

    ``vertex_order`` is the order the bitset search numbers the vertices in:
    ``"degeneracy"`` (default, :func:`degeneracy_order`) or ``"rows"`` (grouped by row,
    rows of small total degree first; the order of earlier versions, kept for
    bench/bench_fooling.py).  It changes the time, never the size found when exact.

    ``compact``: a node with at most this many candidates runs its subtree on a renumbered
    copy of the graph they induce (shorter bitsets); 0 turns it off, None (default) uses
    :data:`COMPACT_CANDIDATES` when that shortens the bitsets.  With ``reorder`` (default)
    the copy numbers its vertices in degeneracy order of the subgraph they induce (about
    8% fewer nodes on random 28 x 28 matrices).  ``compact2``: inside that copy, a node
    with at most this many candidates runs its subtree on a second copy, built in word
    operations (0 turns it off, None uses :data:`COMPACT2_CANDIDATES` when that shortens
    the bitsets of the first copy).  Time only: the size found is the same.

    The numba search runs in a worker thread (the kernel releases the GIL): about twice a
    second ``progress`` (if given) receives ``{"method": "fooling", "value", "nodes",
    "best", "elapsed"}``, and Ctrl-C (KeyboardInterrupt) stops the search and returns
    the best set found with its certified interval, ``stopped_by="interrupt"``.

    ``threads``: the root's branches are shared by this many threads
    (:func:`commlb.kernels.fooling.max_clique_threads`); None (default) takes the cores
    free right now (:func:`commlb.kernels.gf2.free_cores`).  The set returned is the same
    for every number of threads (the first maximum set of the first root branch holding
    one); only the time changes.

    ``target``: the search stops once it has a set of at least this many pairs (all a
    caller that needs only ``target`` pairs asks for, e.g. a lower bound that cannot rise
    further); the result is then ``exact=False``, ``stopped_by="target"``, with its
    certified interval (exact after all when the interval closes).  0 returns the greedy
    start set without searching.

    ``symmetry`` (default True): look for verified automorphisms of 1[M = value]
    (:func:`commlb.bounds.symmetry.find_automorphisms`); when the orbits of the entries
    under them number at most a quarter of the entries, the root of the search is the
    orbit loop of docs/theory.md §5.2.4 (one search per orbit, in the neighbourhood of
    one representative) and ``symmetry`` of the result says so.  Time only: the size
    found is the same, and the set is the same for every number of threads."""
    from ..kernels.backend import resolve_backend

    backend = resolve_backend(backend)
    if vertex_order not in VERTEX_ORDERS:
        raise InvalidInputError(f"vertex_order must be one of {', '.join(VERTEX_ORDERS)}, got {vertex_order!r}")
    if time_limit <= 0:
        raise InvalidInputError("time_limit must be positive")
    start = time.perf_counter()
    arr = _as_matrix(M)
    value = int(value)
    present = tuple(int(v) for v in np.unique(arr)) if arr.size else ()
    if value not in present:
        return FoolingSetResult(value, [], 0, True, time.perf_counter() - start, 0, present, 0)
    red, row_rep, col_rep = _dedup(arr)
    entries = int(np.count_nonzero(red == value))
    if entries > MAX_FOOLING_VERTICES:
        raise TooLargeError(
            f"fooling set for value {value}: {entries} entries after merging equal rows and columns "
            f"(graph of ~{entries * entries / 8e6:.0f} MB at least, exponential search); at most "
            f"{MAX_FOOLING_VERTICES} are handled - use a smaller n or give a fooling set to verify")
    xs, ys, adj_bool = compatibility_graph(red, value)
    n = len(xs)
    # Vertex order: grouped by row (rows of small total degree first), and by decreasing
    # degree inside a row.  The greedy colouring then finds classes at least as good as the
    # rows (a row is an independent set); the plain degree order of BBMC colours a random
    # 32 x 32 instance with ~50 colours against 32 rows, and searches ~2x more nodes.
    deg = adj_bool.sum(axis=1)
    row_deg = np.bincount(xs, weights=deg, minlength=red.shape[0]) if n else np.zeros(0)
    order = np.lexsort((-deg, row_deg[xs])) if n else np.zeros(0, dtype=np.int64)
    xs, ys = xs[order], ys[order]
    adj_bool = adj_bool[np.ix_(order, order)]
    if backend == "python":
        from ..kernels.fooling import max_clique_python

        neighbours = [set(np.nonzero(adj_bool[v])[0].tolist()) for v in range(n)]
        clique = max_clique_python(neighbours)
        exact, nodes, upper, stopped_by = True, 0, len(clique), None
    else:
        from ..deadline import run_watched
        from ..kernels.fooling import greedy_clique_multistart, max_clique_threads

        init = greedy_clique_multistart(_pack(adj_bool), n, n)  # a greedy clique from every vertex
        # peel vertices of degree < |init|: they lie in no clique larger than init
        keep = np.ones(n, dtype=bool)
        while True:
            deg = (adj_bool & keep[None, :]).sum(axis=1)
            drop = keep & (deg < len(init))
            if not drop.any():
                break
            keep &= ~drop
        cap = rank_cap(red, value)
        sym = _symmetry_plan(red, value, xs, ys, keep) if symmetry and target != 0 else None
        if sym is not None:
            return _max_fooling_orbits(red, value, row_rep, col_rep, xs, ys, adj_bool, keep, init, cap, sym,
                                       start, time_limit, vertex_order, compact, reorder, progress, threads,
                                       target, compact2, present)
        idx = np.nonzero(keep)[0]
        if vertex_order == "degeneracy":
            idx = idx[degeneracy_order(adj_bool[np.ix_(idx, idx)])]
        sub = adj_bool[np.ix_(idx, idx)]
        packed = _pack(sub)
        pos = {int(v): i for i, v in enumerate(idx)}
        init_sub = np.array([pos[int(v)] for v in init if int(v) in pos], dtype=np.int64)
        if len(init_sub) != len(init):  # peeled (members have degree |init| - 1): keep only its size
            init_sub = np.zeros(0, dtype=np.int64)
        vrow = np.ascontiguousarray(xs[idx], dtype=np.int64)
        vcol = np.ascontiguousarray(ys[idx], dtype=np.int64)
        compact, compact2 = _copy_sizes(packed.shape[1], compact, compact2)
        remaining = max(1e-3, time_limit - (time.perf_counter() - start))
        threads = _thread_count(threads)
        # row t: [stop, nodes, best size] of thread t (see max_clique_threads)
        control = np.zeros((threads, 3), dtype=np.float64)

        def tell() -> None:
            if progress is not None:
                progress({"method": "fooling", "value": value, "nodes": int(control[:, 1].sum()),
                          "best": max(int(control[:, 2].max()), len(init)), "elapsed": time.perf_counter() - start})

        def stop() -> None:
            control[:, 0] = 1.0

        found, interrupted = run_watched(
            lambda: max_clique_threads(packed, len(idx), init_sub, len(init), vrow, vcol, remaining, True, cap,
                                       int(compact), reorder, control, threads,
                                       -1 if target is None else int(target), int(compact2)), tell, stop,
            name="commlb-fooling-search")
        sub_clique, exact, nodes, upper = found
        stopped_by = "interrupt" if interrupted else None
        if not exact and not interrupted and target is not None and max(len(sub_clique), len(init)) >= target:
            stopped_by = "target"
        clique = [int(idx[v]) for v in sub_clique] if len(sub_clique) >= len(init) else [int(v) for v in init]
        exact = bool(exact)
    pairs = sorted((int(row_rep[xs[v]]), int(col_rep[ys[v]])) for v in clique)
    if exact:
        upper = len(pairs)
    else:  # a fooling set has distinct rows and distinct columns (of the merged matrix)
        upper = min(int(upper), int(red.shape[0]), int(red.shape[1]))
        exact = upper <= len(pairs)  # stopped, but the interval is closed
    if exact:
        stopped_by = None
    elif stopped_by is None:
        stopped_by = "time limit"
    return FoolingSetResult(value, pairs, len(pairs), exact, time.perf_counter() - start, int(nodes), present,
                            max(upper, len(pairs)), stopped_by)


def _copy_sizes(words: int, compact: int | None, compact2: int | None) -> tuple[int, int]:
    """The ``compact`` / ``compact2`` thresholds of :func:`max_fooling_set` for a graph of
    ``words`` words per bitset: None takes :data:`COMPACT_CANDIDATES` when the copy's
    bitsets are shorter, and :data:`COMPACT2_CANDIDATES` inside a larger first copy."""
    if compact is None:
        compact = COMPACT_CANDIDATES if words > (COMPACT_CANDIDATES + 63) // 64 else 0
    if compact2 is None:
        compact2 = COMPACT2_CANDIDATES if compact > COMPACT2_CANDIDATES else 0
    return int(compact), int(compact2)


def _thread_count(threads: int | None) -> int:
    """Threads for the search: ``threads``, or the cores free now when None."""
    if threads is None:
        from ..kernels.gf2 import free_cores

        threads = free_cores()
    return max(1, int(threads))


def _symmetry_plan(red: np.ndarray, value: int, xs: np.ndarray, ys: np.ndarray,
                   keep: np.ndarray) -> tuple[list[np.ndarray], int] | None:
    """(the vertex permutations of the verified automorphisms, their number) when the orbits
    inside ``keep`` number at most :data:`~commlb.bounds.symmetry.MAX_ORBIT_FRACTION` of
    its vertices, else None."""
    from .symmetry import MAX_ORBIT_FRACTION, _orbit_labels, find_automorphisms, vertex_permutation

    n_keep = int(keep.sum())
    if n_keep < 8:
        return None
    gens = find_automorphisms(red == value)
    if not gens:
        return None
    perms = [vertex_permutation(g, xs, ys, red.shape) for g in gens]
    labels = _orbit_labels(len(xs), perms)
    n_orbits = len(np.unique(labels[keep]))
    if n_orbits > MAX_ORBIT_FRACTION * n_keep:
        return None
    return perms, len(gens)


def _max_fooling_orbits(red: np.ndarray, value: int, row_rep: np.ndarray, col_rep: np.ndarray, xs: np.ndarray,
                        ys: np.ndarray, adj_bool: np.ndarray, keep: np.ndarray, init: np.ndarray, cap: int,
                        sym: tuple[list[np.ndarray], int], start: float, time_limit: float, vertex_order: str,
                        compact: int | None, reorder: bool, progress: Callable[[dict[str, Any]], None] | None,
                        threads: int | None, target: int | None, compact2: int | None,
                        present: tuple[int, ...]) -> FoolingSetResult:
    """:func:`max_fooling_set` with the orbit loop at the root (docs/theory.md §5.2.4):
    one bitset search per orbit, on the neighbourhood of its representative."""
    from ..deadline import run_watched
    from ..kernels.fooling import max_clique_threads
    from .symmetry import orbit_search

    perms, n_gens = sym
    threads = _thread_count(threads)
    control = np.zeros((threads, 3), dtype=np.float64)
    stop_flag: dict[str, Any] = {"stop": False}
    state = {"nodes": 0, "best": len(init)}
    deadline = start + time_limit

    def subsearch(S: np.ndarray, floor: int, remaining: float,
                  sub_target: int | None) -> tuple[list[int], bool, int, int]:
        sidx = S
        if vertex_order == "degeneracy" and len(S):
            sidx = S[degeneracy_order(adj_bool[np.ix_(S, S)])]
        packed = _pack(adj_bool[np.ix_(sidx, sidx)])
        c1, c2 = _copy_sizes(packed.shape[1], compact, compact2)
        control[:, 1:] = 0.0
        found = max_clique_threads(packed, len(sidx), np.zeros(0, dtype=np.int64), floor,
                                   np.ascontiguousarray(xs[sidx], dtype=np.int64),
                                   np.ascontiguousarray(ys[sidx], dtype=np.int64), max(1e-3, remaining), True,
                                   cap - 1 if cap >= 0 else -1, int(c1), reorder, control, threads,
                                   -1 if sub_target is None else int(sub_target), int(c2))
        sub_clique, exact, nodes, upper = found
        return [int(sidx[i]) for i in sub_clique], bool(exact), int(nodes), int(upper)

    def report(nodes: int, best: int) -> None:
        state["nodes"], state["best"] = nodes, best

    def tell() -> None:
        if progress is not None:
            progress({"method": "fooling", "value": value, "nodes": state["nodes"] + int(control[:, 1].sum()),
                      "best": state["best"],
                      "elapsed": time.perf_counter() - start})

    def stop() -> None:
        stop_flag["stop"] = True
        control[:, 0] = 1.0

    res, interrupted = run_watched(
        lambda: orbit_search(adj_bool, xs, ys, keep, perms, [int(v) for v in init], cap, deadline, subsearch,
                             stop_flag, target, report), tell, stop, name="commlb-fooling-search")
    pairs = sorted((int(row_rep[xs[v]]), int(col_rep[ys[v]])) for v in res.clique)
    exact = res.exact
    upper = len(pairs) if exact else min(int(res.upper), int(red.shape[0]), int(red.shape[1]),
                                         max(cap, len(pairs)))
    exact = exact or upper <= len(pairs)
    stopped_by = None
    if not exact:
        if interrupted:
            stopped_by = "interrupt"
        elif target is not None and len(pairs) >= target:
            stopped_by = "target"
        else:
            stopped_by = "time limit"
    note = (f"{res.orbits} orbit{'s' if res.orbits != 1 else ''} of {int(keep.sum())} entries under the group "
            f"of {n_gens} verified automorphism{'s' if n_gens != 1 else ''}")
    return FoolingSetResult(value, pairs, len(pairs), exact, time.perf_counter() - start, int(res.nodes), present,
                            max(upper, len(pairs)), stopped_by, note)


def max_fooling_set_reference(M: ArrayLike, value: int) -> list[tuple[int, int]]:
    """Slow reference: enumerate every ``value``-fooling set of M (entries taken in row-major
    order, a set extended only while it stays fooling) and return a largest.  No merging of
    equal rows, no bounds.  Exponential; for matrices up to about 6 x 6."""
    arr = _as_matrix(M)
    entries = [(int(x), int(y)) for x, y in zip(*np.nonzero(arr == value))]
    best: list[tuple[int, int]] = []

    def fools(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return not (arr[a[0], b[1]] == value and arr[b[0], a[1]] == value)

    def extend(chosen: list[tuple[int, int]], start: int) -> None:
        nonlocal best
        if len(chosen) > len(best):
            best = list(chosen)
        for i in range(start, len(entries)):
            e = entries[i]
            if all(fools(e, c) for c in chosen):
                chosen.append(e)
                extend(chosen, i + 1)
                chosen.pop()

    extend([], 0)
    return best
