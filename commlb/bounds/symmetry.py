"""Symmetry reduction at the root of the maximum fooling-set search.

A fooling-set instance is a clique problem on the compatibility graph of the entries
(x, y) with M[x, y] = z.  Two kinds of maps of the matrix carry that graph onto itself
(docs/theory.md §5.2.4):

* an **automorphism** (pi, sigma), pi a permutation of the rows and sigma of the columns,
  with Z[pi(x), sigma(y)] = Z[x, y] for all x, y (Z = 1[M = z]); it sends the entry
  (x, y) to (pi(x), sigma(y));
* an **anti-automorphism** (tau, rho) of a square Z, with Z[tau(y), rho(x)] = Z[x, y];
  it sends (x, y) to (tau(y), rho(x)) (the transpose when tau = rho = identity and
  Z = Z^T).

Nothing is taken on trust: :func:`find_automorphisms` builds cheap candidates (swaps of
equal rows or columns of Z; for a 2^k x 2^k matrix read as k-bit strings, coordinate
swaps, elementary transvections, bit flips and the complement, with the columns moved by
the same map, its inverse transpose, a bit flip or nothing; the transpose and the
complemented transpose) and keeps a candidate only when the identity above holds on the
whole matrix (:func:`is_automorphism`).  The orbits of the vertices under the group the
kept maps generate are the connected components of the graph joining each vertex to its
images (:func:`vertex_orbits`).

:func:`orbit_search` is the root loop: with R a set of vertices invariant under the
group (initially all), for each orbit O in turn it searches the largest clique through a
representative v of O inside R ∩ N(v), then removes all of O from R.  Any clique of R
through g(v) is the image under g of a clique of R through v (R is invariant), so the
maximum is found, and each search is a neighbourhood of one vertex instead of the whole
graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Automorphism",
    "is_automorphism",
    "candidate_maps",
    "find_automorphisms",
    "vertex_permutation",
    "vertex_orbits",
    "orbit_search",
    "OrbitSearchResult",
    "MAX_ORBIT_FRACTION",
]

#: the orbit loop runs only when the orbits number at most this fraction of the vertices
MAX_ORBIT_FRACTION = 0.25
#: a neighbourhood of fewer vertices is searched directly, without looking for its orbits
MIN_LOOP_VERTICES = 128
#: bit maps are tried for 2^k x 2^k matrices up to this k (each test reads the whole matrix)
MAX_BITS = 12


@dataclass(frozen=True)
class Automorphism:
    """A map of the entries of Z: ``anti=False``: (x, y) -> (first[x], second[y]);
    ``anti=True``: (x, y) -> (first[y], second[x]).  ``name`` says where the candidate
    came from (for messages and tests only)."""

    first: np.ndarray
    second: np.ndarray
    anti: bool
    name: str = ""


def _is_perm(p: np.ndarray, n: int) -> bool:
    return p.shape == (n,) and bool(np.array_equal(np.sort(p), np.arange(n)))


def is_automorphism(Z: np.ndarray, g: Automorphism) -> bool:
    """True when ``g`` maps the 0/1 matrix Z onto itself exactly: both maps are
    permutations of the right lengths, and Z[first[x], second[y]] = Z[x, y] for all x, y
    (``anti``: Z is square and Z[first[y], second[x]] = Z[x, y]).  Checked on every cell
    of the rarer value, which decides every cell (see the comment in the code)."""
    Z = np.asarray(Z, dtype=bool)
    r, c = Z.shape
    first = np.asarray(g.first, dtype=np.int64)
    second = np.asarray(g.second, dtype=np.int64)
    if g.anti:
        if r != c or not (_is_perm(first, r) and _is_perm(second, r)):
            return False
    elif not (_is_perm(first, r) and _is_perm(second, c)):
        return False
    # The map of cells is a bijection, so it carries Z onto itself exactly when it sends
    # every cell of the rarer value to a cell of that value (an injection of a finite set
    # into itself is onto, and then the other cells go to the other cells): O(min(#1, #0)).
    ones = int(np.count_nonzero(Z))
    xs, ys = np.nonzero(Z) if 2 * ones <= Z.size else np.nonzero(~Z)
    want = 2 * ones <= Z.size
    img = Z[first[ys], second[xs]] if g.anti else Z[first[xs], second[ys]]
    return bool(np.all(img == want))


def _equal_line_swaps(Z: np.ndarray, axis: int) -> list[tuple[int, int]]:
    """Pairs (a, b) of consecutive members of each class of equal rows (axis 0) or
    columns (axis 1) of Z: their transpositions generate every permutation of a class."""
    lines = Z if axis == 0 else Z.T
    _, inv = np.unique(lines, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out: list[tuple[int, int]] = []
    last: dict[int, int] = {}
    for i, cls in enumerate(inv.tolist()):
        if cls in last:
            out.append((last[cls], i))
        last[cls] = i
    return out


def candidate_maps(shape: tuple[int, int]) -> list[Automorphism]:
    """Candidates that cost nothing to build, for a matrix of this shape (to be tested
    with :func:`is_automorphism`; most fail).  For 2^k x 2^k: rows moved by a coordinate
    swap, a transvection x_i += x_j, a bit flip or the complement, columns by the same
    map, its inverse transpose, a bit flip or the identity (and the columns alone);
    the transpose and the complemented transpose."""
    r, c = shape
    out: list[Automorphism] = []
    ident_r = np.arange(r, dtype=np.int64)
    if r == c and r > 1:
        out.append(Automorphism(ident_r, ident_r.copy(), True, "transpose"))
    k = r.bit_length() - 1
    if r != c or r < 2 or (1 << k) != r or k > MAX_BITS:
        return out
    x = np.arange(r, dtype=np.int64)
    ident = x.copy()
    full = (1 << k) - 1

    def bit(v: np.ndarray, i: int) -> np.ndarray:
        return (v >> i) & 1

    linear: list[tuple[str, np.ndarray, np.ndarray]] = []  # (name, A, A^{-T})
    for i in range(k):
        for j in range(i + 1, k):
            swap = x ^ ((bit(x, i) ^ bit(x, j)) << i) ^ ((bit(x, i) ^ bit(x, j)) << j)
            linear.append((f"swap bits {i},{j}", swap, swap))  # a permutation matrix: A^{-T} = A
    for i in range(k):
        for j in range(k):
            if i != j:
                tij = x ^ (bit(x, j) << i)  # x_i += x_j; its inverse is itself, its transpose x_j += x_i
                tji = x ^ (bit(x, i) << j)
                linear.append((f"x{i} += x{j}", tij, tji))
    for name, A, AinvT in linear:
        out.append(Automorphism(A, A.copy(), False, f"{name} on both"))
        out.append(Automorphism(A, AinvT, False, f"{name}, inverse transpose on columns"))
        out.append(Automorphism(A, ident.copy(), False, f"{name} on rows"))
        out.append(Automorphism(ident.copy(), A, False, f"{name} on columns"))
    flips = [(f"flip bit {i}", x ^ (1 << i)) for i in range(k)] + [("complement", x ^ full)]
    for name, F in flips:
        out.append(Automorphism(F, F.copy(), False, f"{name} on both"))
        out.append(Automorphism(F, ident.copy(), False, f"{name} on rows"))
        out.append(Automorphism(ident.copy(), F, False, f"{name} on columns"))
    comp = x ^ full
    out.append(Automorphism(comp, comp.copy(), True, "complemented transpose"))
    return out


def find_automorphisms(Z: np.ndarray, max_tests: int = 2000) -> list[Automorphism]:
    """The candidates (swaps of equal rows, of equal columns, :func:`candidate_maps`) that
    :func:`is_automorphism` confirms on the whole of Z, identities left out.  At most
    ``max_tests`` candidates are tested."""
    Z = np.asarray(Z, dtype=bool)
    r, c = Z.shape
    cands: list[Automorphism] = []
    ident_r = np.arange(r, dtype=np.int64)
    ident_c = np.arange(c, dtype=np.int64)
    for a, b in _equal_line_swaps(Z, 0):
        p = ident_r.copy()
        p[a], p[b] = b, a
        cands.append(Automorphism(p, ident_c.copy(), False, f"equal rows {a},{b}"))
    for a, b in _equal_line_swaps(Z, 1):
        p = ident_c.copy()
        p[a], p[b] = b, a
        cands.append(Automorphism(ident_r.copy(), p, False, f"equal columns {a},{b}"))
    cands.extend(candidate_maps((r, c)))
    kept: list[Automorphism] = []
    for g in cands[:max_tests]:
        trivial = (not g.anti and np.array_equal(g.first, ident_r) and np.array_equal(g.second, ident_c))
        if not trivial and is_automorphism(Z, g):
            kept.append(g)
    return kept


def vertex_permutation(g: Automorphism, xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The permutation of the vertices (entries (xs[i], ys[i])) that ``g`` induces:
    ``perm[i]`` is the index of the image of vertex i.  Raises if an image is not a
    vertex (``g`` is then not an automorphism of the vertex set: a bug upstream)."""
    vid = np.full(shape, -1, dtype=np.int64)
    vid[xs, ys] = np.arange(len(xs), dtype=np.int64)
    if g.anti:
        perm = vid[g.first[ys], g.second[xs]]
    else:
        perm = vid[g.first[xs], g.second[ys]]
    if len(perm) and (perm.min() < 0 or not _is_perm(perm, len(xs))):
        raise AssertionError(f"map {g.name!r} does not permute the vertices")
    return perm


def vertex_orbits(n: int, perms: list[np.ndarray]) -> np.ndarray:
    """Orbit label of each of ``n`` vertices under the group generated by ``perms``: the
    connected components of the graph with an edge i -- perm[i] for every generator
    (an orbit of a finite group is the closure under its generators).  Labels are the
    smallest vertex of each orbit."""
    parent = np.arange(n, dtype=np.int64)

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = int(parent[root])
        while parent[a] != root:
            parent[a], a = root, int(parent[a])
        return root

    for p in perms:
        for i in np.nonzero(p != np.arange(n))[0].tolist():
            a, b = find(i), find(int(p[i]))
            if a != b:
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
    return np.array([find(i) for i in range(n)], dtype=np.int64)


@dataclass
class OrbitSearchResult:
    clique: list[int]
    exact: bool
    nodes: int
    upper: int
    orbits: int
    orbits_done: int


def _rc_bound(sel: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> int:
    """A clique of the compatibility graph uses distinct rows and distinct columns."""
    if not len(sel):
        return 0
    return min(len(np.unique(xs[sel])), len(np.unique(ys[sel])))


def _orbit_labels(n: int, perms: list[np.ndarray]) -> np.ndarray:
    """:func:`vertex_orbits` in array operations: every label moves to the smaller of
    its own and its images' and preimages' labels, then jumps to its label's label,
    until nothing changes.  Labels only decrease and only travel along generator edges,
    so at the fixed point each orbit carries one label, the label of its smallest member,
    which is that member itself: the same labels as :func:`vertex_orbits`."""
    lab = np.arange(n, dtype=np.int64)
    while True:
        old = lab.copy()
        for p in perms:
            np.minimum.at(lab, p, lab.copy())  # lab[p[i]] <- min(lab[p[i]], lab[i])
            lab = np.minimum(lab, lab[p])  # lab[i] <- min(lab[i], lab[p[i]])
        lab = lab[lab]
        if np.array_equal(lab, old):
            return lab


def stabilizer_generators(v: int, gens: list[np.ndarray], count: int = 48) -> list[np.ndarray]:
    """Permutations in the stabilizer of vertex ``v`` in the group generated by ``gens``:
    the generators that fix v, and up to ``count`` Schreier generators
    u_{g(w)}^{-1} g u_w (w in the orbit of v, u_w a product of generators taking v to w,
    found by breadth-first search; each fixes v by construction and is a product of
    automorphisms, so an automorphism).  Which ones are drawn is fixed by v (a seeded
    draw), so a run is repeatable.  Any subset of the stabilizer is sound for the orbit
    loop; more of it gives fewer orbits."""
    if not gens:
        return []
    n = len(gens[0])
    ident = np.arange(n, dtype=np.int64)
    # breadth-first search of the orbit of v: parent vertex and generator of each member
    pv = np.full(n, -1, dtype=np.int64)
    pg = np.full(n, -1, dtype=np.int64)
    pv[v] = v
    frontier = np.array([v], dtype=np.int64)
    while len(frontier):
        found = []
        for gi, g in enumerate(gens):
            img = g[frontier]
            new = pv[img] < 0
            img, src = img[new], frontier[new]
            img, first = np.unique(img, return_index=True)
            pv[img] = src[first]
            pg[img] = gi
            found.append(img)
        frontier = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def transversal(w: int) -> np.ndarray:
        steps = []
        while w != v:
            steps.append(int(pg[w]))
            w = int(pv[w])
        u = ident
        for gi in reversed(steps):
            u = gens[gi][u]  # apply u, then the generator
        return u

    out = [g for g in gens if g[v] == v]
    orbit = np.nonzero(pv >= 0)[0].tolist()
    pairs = [(w, gi) for w in orbit for gi in range(len(gens))]
    if len(pairs) > count:
        rng = np.random.default_rng(v)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), size=count, replace=False).tolist())]
    seen = {g.tobytes() for g in out}
    for w, gi in pairs:
        g = gens[gi]
        uw = transversal(w)
        ugw = transversal(int(g[w]))
        inv = np.empty(n, dtype=np.int64)
        inv[ugw] = ident
        s = inv[g[uw]]  # u_{g(w)}^{-1} o g o u_w
        if s[v] != v:
            raise AssertionError("a Schreier generator does not fix its point")
        key = s.tobytes()
        if key not in seen and not np.array_equal(s, ident):
            seen.add(key)
            out.append(s)
    return out


def orbit_search(adj_bool: np.ndarray, xs: np.ndarray, ys: np.ndarray, R0: np.ndarray, perms: list[np.ndarray],
                 init: list[int], cap: int, deadline: float, subsearch: Callable[..., Any],
                 stop_flag: dict[str, Any], target: int | None = None,
                 report: Callable[[int, int], None] | None = None,
                 max_fraction: float = MAX_ORBIT_FRACTION, schreier: bool = True) -> OrbitSearchResult:
    """The orbit loop (docs/theory.md §5.2.4).  ``R0`` (bool mask) is the starting set of
    vertices, invariant under the group generated by the vertex permutations ``perms``;
    ``init`` a clique to start from (returned when nothing larger exists in R0).

    For each orbit O of R (largest first: R shrinks fastest), with v the member of O
    fixed by the most generators (then the smallest), it finds the largest clique of
    S = R ∩ N(v), then removes O from R.  S is invariant under the generators that fix
    v (they preserve R and the neighbourhood of v), so the same loop runs on S with
    those generators when their orbits are few (at most ``max_fraction`` of |S|), else
    ``subsearch(S, floor, remaining_seconds, target)`` searches S: it returns ``(clique,
    exact, nodes, upper)``, the clique as vertex indices of the whole graph (all in S),
    empty when nothing larger than ``floor`` exists.  ``stop_flag["stop"]`` set by
    another thread stops every loop before its next orbit.

    Returns the best clique, whether the search finished, the nodes, a proved upper bound
    on every clique of R0 (when stopped: from the interrupted search's upper and, for
    each orbit not yet searched, 1 + the rows-and-columns bound of R ∩ N(v)), the number
    of orbits at the top and how many of them were searched."""
    n = adj_bool.shape[0]
    ident = np.arange(n, dtype=np.int64)
    counter = {"nodes": 0}
    top: dict[str, int] = {}

    def search(R: np.ndarray, gens: list[np.ndarray], floor: int, tgt: int | None,
               level: int) -> tuple[list[int], bool, int]:
        """Largest clique of R if larger than ``floor`` (else []), finished?, upper."""
        labels = _orbit_labels(n, gens)
        in_R = np.nonzero(R)[0]
        orbit_ids, first, sizes = np.unique(labels[in_R], return_index=True, return_counts=True)
        fixed = np.zeros(n, dtype=np.int64)
        for p in gens:
            fixed += p == ident
        order = np.lexsort((first, -sizes))
        best: list[int] = []
        best_size = floor
        upper = floor
        if level == 0:
            top["orbits"] = len(orbit_ids)
            top["done"] = 0
        for j, o in enumerate(order.tolist()):
            members = in_R[labels[in_R] == orbit_ids[o]]
            v = int(members[np.lexsort((members, -fixed[members]))[0]])
            if cap >= 0 and best_size >= cap:
                break
            remaining = deadline - time.perf_counter()
            if (tgt is not None and best_size >= tgt) or stop_flag.get("stop") or remaining <= 0:
                for o2 in order[j:].tolist():
                    w = int(in_R[labels[in_R] == orbit_ids[o2]][0])
                    upper = max(upper, 1 + _rc_bound(np.nonzero(R & adj_bool[w])[0], xs, ys))
                return best, False, max(upper, best_size)
            S = np.nonzero(R & adj_bool[v])[0]
            if _rc_bound(S, xs, ys) >= best_size:  # else no clique through v beats the best
                sub_tgt = None if tgt is None else tgt - 1
                S_mask = np.zeros(n, dtype=bool)
                S_mask[S] = True
                use_loop = False
                stab: list[np.ndarray] = []
                if len(S) >= MIN_LOOP_VERTICES:  # a smaller one is searched faster than its orbits are found
                    # the generators fixing v first; Schreier generators only when they leave too many orbits
                    for attempt in ("fixed", "schreier") if schreier else ("fixed",):
                        stab = [p for p in gens if p[v] == v] if attempt == "fixed" else stabilizer_generators(v, gens)
                        if stab:
                            sl = _orbit_labels(n, stab)
                            use_loop = len(np.unique(sl[S])) <= max_fraction * len(S)
                        if use_loop:
                            break
                if use_loop:
                    clique, exact, up_sub = search(S_mask, stab, best_size - 1, sub_tgt, level + 1)
                else:
                    clique, exact, n_sub, up_sub = subsearch(S, best_size - 1, remaining, sub_tgt)
                    counter["nodes"] += int(n_sub)
                if len(clique) + 1 > best_size:
                    best = sorted([v] + [int(i) for i in clique])
                    best_size = len(best)
                if not exact:
                    upper = max(upper, 1 + int(up_sub))
                    for o2 in order[j + 1:].tolist():
                        w = int(in_R[labels[in_R] == orbit_ids[o2]][0])
                        upper = max(upper, 1 + _rc_bound(np.nonzero(R & adj_bool[w])[0], xs, ys))
                    return best, False, max(upper, best_size)
            R = R & (labels != orbit_ids[o])
            if level == 0:
                top["done"] += 1
                if report is not None:
                    report(counter["nodes"], max(best_size, len(init)))
            if _rc_bound(np.nonzero(R)[0], xs, ys) <= best_size:
                if level == 0:
                    top["done"] = len(orbit_ids)
                break  # nothing left in R can beat the best
        return best, True, best_size

    clique, exact, upper = search(R0.copy(), list(perms), len(init), target, 0)
    if len(clique) <= len(init):
        clique = sorted(int(v) for v in init)
    upper = max(upper, len(clique))
    if exact:
        upper = len(clique)
    return OrbitSearchResult(clique, exact, counter["nodes"], upper, top.get("orbits", 0), top.get("done", 0))
