"""Symmetry reduction of the maximum fooling-set search: verified automorphisms, orbits,
the orbit loop against the plain search and brute force (commlb.bounds.symmetry)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bounds.fooling import (
    _dedup,
    compatibility_graph,
    max_fooling_set,
    max_fooling_set_reference,
    verify_fooling_set,
)
from commlb.bounds.symmetry import (
    Automorphism,
    find_automorphisms,
    is_automorphism,
    orbit_search,
    stabilizer_generators,
    vertex_orbits,
    vertex_permutation,
)
from commlb.kernels.fooling import max_clique_python

from reference import disj, eq, gt, ip, small_matrices


def _is_auto_plain(Z: np.ndarray, g: Automorphism) -> bool:
    """Independent check, entry by entry."""
    r, c = Z.shape
    if sorted(g.first.tolist()) != list(range(r if not g.anti else c)):
        return False
    if sorted(g.second.tolist()) != list(range(c if not g.anti else r)):
        return False
    for x in range(r):
        for y in range(c):
            img = Z[g.first[y], g.second[x]] if g.anti else Z[g.first[x], g.second[y]]
            if bool(img) != bool(Z[x, y]):
                return False
    return True


def _plain_size(M: np.ndarray, value: int) -> int:
    return max_fooling_set(M, value, backend="python").size


def _permuted(M: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return M[rng.permutation(M.shape[0])][:, rng.permutation(M.shape[1])]


def _with_duplicates(M: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.concatenate([np.arange(M.shape[0]), rng.integers(0, M.shape[0], 3)])
    cols = np.concatenate([np.arange(M.shape[1]), rng.integers(0, M.shape[1], 3)])
    return M[rng.permutation(rows)][:, rng.permutation(cols)]


STRUCTURED = [("disj", disj, k) for k in (2, 3, 4)] + [("ip", ip, k) for k in (2, 3, 4)] + \
    [("eq", eq, k) for k in (2, 3, 4)] + [("gt", gt, k) for k in (2, 3)]


@pytest.mark.parametrize("name,make,k", STRUCTURED)
def test_orbit_loop_matches_plain_search(name, make, k):
    M = make(k)
    for value in (0, 1):
        sym = max_fooling_set(M, value, symmetry=True, threads=1)
        plain = max_fooling_set(M, value, symmetry=False, threads=1)
        assert sym.exact and plain.exact
        assert sym.size == plain.size == _plain_size(M, value)
        assert verify_fooling_set(M, value, sym.pairs)


@pytest.mark.parametrize("name,make,k,value", [("disj", disj, 3, 0), ("disj", disj, 4, 0), ("ip", ip, 3, 0),
                                               ("ip", ip, 4, 1), ("eq", eq, 3, 0)])
def test_orbit_loop_runs_on_symmetric_matrices(name, make, k, value):
    res = max_fooling_set(make(k), value, threads=1)
    assert res.symmetry is not None and "verified automorphisms" in res.symmetry
    assert res.to_json()["symmetry"] == res.symmetry


@pytest.mark.parametrize("make,k", [(disj, 2), (ip, 2), (eq, 2), (gt, 2)])
def test_orbit_loop_matches_brute_force(make, k):
    M = make(k)
    for value in (0, 1):
        assert max_fooling_set(M, value).size == len(max_fooling_set_reference(M, value))


@pytest.mark.parametrize("make,k", [(disj, 3), (ip, 3), (eq, 3), (gt, 3), (ip, 4), (disj, 4)])
@pytest.mark.parametrize("seed", [0, 1])
def test_hidden_symmetry_same_maximum(make, k, seed):
    M = make(k)
    for H in (_permuted(M, seed), _with_duplicates(M, seed)):
        for value in (0, 1):
            res = max_fooling_set(H, value, threads=1)
            assert res.exact
            assert res.size == max_fooling_set(M, value, symmetry=False, threads=1).size
            assert verify_fooling_set(H, value, res.pairs)


def test_same_set_for_every_thread_count():
    for M, value in ((disj(4), 0), (ip(4), 0), (ip(4), 1), (eq(4), 0)):
        one = max_fooling_set(M, value, threads=1)
        two = max_fooling_set(M, value, threads=2)
        assert one.symmetry is not None
        assert one.pairs == two.pairs


def _matrices_for_automorphisms():
    structured = st.sampled_from([disj(3), ip(3), eq(3), gt(3), disj(2), ip(2)])
    seeds = st.integers(0, 2**16)
    hidden = st.tuples(structured, seeds).map(lambda t: _permuted(t[0], t[1]))
    dup = st.tuples(small_matrices(max_side=5), seeds).map(lambda t: _with_duplicates(t[0], t[1]))
    symmetric = small_matrices(max_side=5).map(lambda A: np.maximum(A[: min(A.shape)][:, : min(A.shape)],
                                                                    A[: min(A.shape)][:, : min(A.shape)].T))
    return st.one_of(structured, hidden, dup, symmetric, small_matrices(max_side=6))


@settings(deadline=None, max_examples=60)
@given(_matrices_for_automorphisms(), st.integers(0, 2))
def test_every_kept_generator_is_an_automorphism(M, value):
    M = np.asarray(M)
    Z = M == value
    for g in find_automorphisms(Z):
        assert _is_auto_plain(Z, g), g.name
        if Z.any():
            xs, ys, adj = compatibility_graph(M, value)
            p = vertex_permutation(g, xs, ys, M.shape)
            assert np.array_equal(adj[np.ix_(p, p)], adj)  # the graph is carried onto itself


@settings(deadline=None, max_examples=60)
@given(small_matrices(max_side=5), st.integers(0, 2**16), st.booleans())
def test_a_wrong_claim_is_refused(M, seed, anti):
    M = np.asarray(M)
    Z = M == M.flat[0]
    r, c = Z.shape
    rng = np.random.default_rng(seed)
    if anti and r != c:
        g = Automorphism(np.arange(c), np.arange(r), True, "claimed")
        assert not is_automorphism(Z, g)
        return
    n1, n2 = (r, r) if anti else (r, c)
    g = Automorphism(rng.permutation(n1), rng.permutation(n2), anti, "claimed")
    assert is_automorphism(Z, g) == _is_auto_plain(Z, g)
    # not permutations, or the wrong length: refused whatever Z is
    bad = g.first.copy()
    if len(bad) >= 2:
        bad[0] = bad[1]
        assert not is_automorphism(Z, Automorphism(bad, g.second, anti))
    assert not is_automorphism(Z, Automorphism(np.arange(n1 + 1), g.second, anti))


def test_known_maps_found_and_a_false_one_refused():
    Z = disj(3) == 1
    names = {g.name for g in find_automorphisms(Z)}
    assert "transpose" in names and "swap bits 0,1 on both" in names
    flip = np.arange(8) ^ 1
    assert not is_automorphism(Z, Automorphism(flip, flip, False))  # DISJ is not translation invariant
    Zgt = gt(3) == 1
    assert not is_automorphism(Zgt, Automorphism(np.arange(8), np.arange(8), True))  # GT is not symmetric
    assert is_automorphism(Zgt, Automorphism(np.arange(8) ^ 7, np.arange(8) ^ 7, True))


def _graph(M, value):
    red, _, _ = _dedup(np.asarray(M))
    xs, ys, adj = compatibility_graph(red, value)
    gens = find_automorphisms(red == value)
    perms = [vertex_permutation(g, xs, ys, red.shape) for g in gens]
    return red, xs, ys, adj, perms


def _python_subsearch(adj):
    def sub(S, floor, remaining, target):
        nb = [set(np.nonzero(adj[v][S])[0].tolist()) for v in S]
        c = max_clique_python(nb)
        clique = [int(S[i]) for i in c] if len(c) > floor else []
        return clique, True, 1, max(len(c), floor)
    return sub


@settings(deadline=None, max_examples=40)
@given(_matrices_for_automorphisms(), st.integers(0, 2))
def test_orbit_loop_always_on_matches_plain(M, value):
    M = np.asarray(M)
    if not (M == value).any():
        return
    red, xs, ys, adj, perms = _graph(M, value)
    n = len(xs)
    true = len(max_clique_python([set(np.nonzero(adj[v])[0].tolist()) for v in range(n)]))
    res = orbit_search(adj, xs, ys, np.ones(n, dtype=bool), perms, [0], -1, time.perf_counter() + 60,
                       _python_subsearch(adj), {"stop": False}, max_fraction=1.0)
    assert res.exact and len(res.clique) == true == res.upper
    cl = res.clique
    assert all(adj[a, b] for i, a in enumerate(cl) for b in cl[i + 1:])
    labels = vertex_orbits(n, perms)
    assert res.orbits == len(np.unique(labels))


@pytest.mark.parametrize("make,k,value", [(disj, 3, 0), (ip, 3, 1), (ip, 4, 0), (eq, 3, 0)])
def test_stopped_loop_gives_a_sound_interval(make, k, value):
    red, xs, ys, adj, perms = _graph(make(k), value)
    n = len(xs)
    true = len(max_clique_python([set(np.nonzero(adj[v])[0].tolist()) for v in range(n)]))
    mask = np.ones(n, dtype=bool)
    # a deadline already past: nothing searched, the bound covers every orbit
    res = orbit_search(adj, xs, ys, mask, perms, [0], -1, time.perf_counter() - 1, _python_subsearch(adj),
                       {"stop": False})
    assert not res.exact and res.clique == [0] and res.upper >= true
    # every sub-search reports itself unfinished after finding its answer: the bound still holds
    exact_sub = _python_subsearch(adj)

    def unfinished(S, floor, remaining, target):
        clique, _, nodes, up = exact_sub(S, floor, remaining, target)
        return clique, False, nodes, up

    res = orbit_search(adj, xs, ys, mask, perms, [0], -1, time.perf_counter() + 60, unfinished,
                       {"stop": False}, max_fraction=1.0)
    assert not res.exact and res.upper >= true >= len(res.clique)
    res = orbit_search(adj, xs, ys, mask, perms, [0], -1, time.perf_counter() + 60, exact_sub, {"stop": True})
    assert not res.exact and res.upper >= true


@pytest.mark.parametrize("make,k,value", [(ip, 4, 1), (disj, 4, 0), (eq, 3, 0)])
def test_stabilizer_generators_fix_the_point(make, k, value):
    red, xs, ys, adj, perms = _graph(make(k), value)
    for v in (0, len(xs) // 2, len(xs) - 1):
        for s in stabilizer_generators(v, perms, count=20):
            assert s[v] == v
            assert np.array_equal(np.sort(s), np.arange(len(xs)))
            assert np.array_equal(adj[np.ix_(s, s)], adj)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.lists(st.integers(0, 2**16), min_size=0, max_size=4))
def test_array_orbit_labels_match_union_find(n, seeds):
    from commlb.bounds.symmetry import _orbit_labels

    perms = []
    for s in seeds:  # random permutations, some with few moved points
        rng = np.random.default_rng(s)
        p = np.arange(n)
        k = int(rng.integers(0, n + 1))
        idx = rng.choice(n, size=k, replace=False)
        p[idx] = idx[rng.permutation(k)]
        perms.append(p)
    assert np.array_equal(_orbit_labels(n, perms), vertex_orbits(n, perms))
