"""Fooling sets: verifier, maximum fooling set (numba kernel, plain twin, brute force), bound."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bounds.fooling import (
    FoolingSetResult,
    compatibility_graph,
    fooling_lower_bound,
    max_fooling_set,
    max_fooling_set_reference,
    verify_fooling_set,
)
from commlb.errors import InvalidInputError

from reference import disj, eq, exact_rank, small_matrices


def test_verify_accepts_and_rejects():
    M = eq(2)
    diag = [(i, i) for i in range(4)]
    assert verify_fooling_set(M, 1, diag)
    assert not verify_fooling_set(M, 1, diag + [(0, 1)])  # (0, 1) has value 0
    assert verify_fooling_set(M, 0, [(0, 1), (1, 0)])  # cross entries (0,0), (1,1) are 1
    assert not verify_fooling_set(M, 0, [(0, 1), (2, 3)])  # cross entries (0,3), (2,1) are both 0
    assert verify_fooling_set(M, 0, [(0, 1)])
    assert not verify_fooling_set(M, 1, [(0, 0), (0, 0)])  # repeated pair fools nothing
    assert not verify_fooling_set(M, 1, [(4, 4)])  # out of range
    all_ones = np.ones((3, 3), dtype=np.int64)
    assert verify_fooling_set(all_ones, 1, [(0, 0)])
    assert not verify_fooling_set(all_ones, 1, [(0, 0), (1, 1)])
    assert verify_fooling_set(eq(1), 0, [(0, 1), (1, 0)])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_eq_one_fooling_is_diagonal_size(n):
    res = max_fooling_set(eq(n), 1)
    assert res.size == 2 ** n and res.exact
    assert verify_fooling_set(eq(n), 1, res.pairs)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_disj_one_fooling_at_least_complements(n):
    M = disj(n)
    res = max_fooling_set(M, 1)
    assert verify_fooling_set(M, 1, res.pairs)
    assert res.exact and res.size >= 2 ** n  # {(x, complement of x)} has 2^n pairs
    assert verify_fooling_set(M, 1, [(x, (1 << n) - 1 - x) for x in range(1 << n)])
    if n <= 2:
        assert res.size == len(max_fooling_set_reference(M, 1))


def test_missing_value_and_bad_input():
    res = max_fooling_set(eq(2), 7)
    assert res.size == 0 and res.exact and res.pairs == []
    with pytest.raises(InvalidInputError):
        max_fooling_set(np.zeros((2, 2, 2), dtype=int), 0)
    with pytest.raises(InvalidInputError):
        max_fooling_set(np.array([[0, -1]]), 0)
    with pytest.raises(InvalidInputError):
        max_fooling_set(eq(1), 1, backend="fortran")


@settings(deadline=None, max_examples=60)
@given(small_matrices())
def test_fast_equals_twin_equals_bruteforce(M):
    for value in np.unique(M):
        value = int(value)
        fast = max_fooling_set(M, value)
        twin = max_fooling_set(M, value, backend="python")
        brute = max_fooling_set_reference(M, value)
        assert verify_fooling_set(M, value, fast.pairs)
        assert verify_fooling_set(M, value, twin.pairs)
        assert verify_fooling_set(M, value, brute)
        assert fast.exact
        assert fast.size == twin.size == len(brute)


@settings(deadline=None, max_examples=40)
@given(small_matrices(), st.randoms(use_true_random=False))
def test_invariant_under_transpose_permutation_duplication(M, rnd):
    value = int(M.flat[0])
    size = max_fooling_set(M, value).size
    assert max_fooling_set(M.T, value).size == size
    perm_r = list(range(M.shape[0]))
    perm_c = list(range(M.shape[1]))
    rnd.shuffle(perm_r)
    rnd.shuffle(perm_c)
    assert max_fooling_set(M[perm_r][:, perm_c], value).size == size
    dup = np.vstack([M, M[[0]]])
    dup = np.hstack([dup, dup[:, [-1]]])
    res = max_fooling_set(dup, value)
    assert res.size == size and verify_fooling_set(dup, value, res.pairs)


def test_lower_bound_sum_and_missing_values():
    M = eq(2)
    r1 = max_fooling_set(M, 1)
    r0 = max_fooling_set(M, 0)
    assert fooling_lower_bound({1: r1, 0: r0}) == math.ceil(math.log2(r1.size + r0.size))
    assert fooling_lower_bound([r1, r0]) == fooling_lower_bound({0: r0, 1: r1})
    # one set only: the other value still needs a leaf -> ceil(log2(4 + 1)) = 3
    assert fooling_lower_bound({1: r1}) == 3
    constant = max_fooling_set(np.zeros((3, 3), dtype=np.int64), 0)
    assert constant.size == 1 and fooling_lower_bound({0: constant}) == 0
    fake = FoolingSetResult(1, [(0, 0)] * 5, 5, False, 0.0, 0, (0, 1, 2))
    assert fooling_lower_bound({1: fake}) == math.ceil(math.log2(5 + 2))


@settings(deadline=None, max_examples=40)
@given(small_matrices(max_side=5))
def test_fooling_bound_is_at_most_D(M):
    from commlb.bounds.exact import deterministic_complexity_reference

    results = {int(v): max_fooling_set(M, int(v)) for v in np.unique(M)}
    assert fooling_lower_bound(results) <= deterministic_complexity_reference(M)


def test_time_limit_returns_valid_set(rng):
    M = rng.integers(0, 2, (32, 32))
    max_fooling_set(np.eye(6, dtype=np.int64), 1)  # load (or compile) the kernel: the limit is about the search
    res = max_fooling_set(M, 1, time_limit=0.05)
    assert verify_fooling_set(M, 1, res.pairs)
    assert res.size >= 1 and res.elapsed < 5.0
    assert res.to_json()["size"] == res.size
    assert res.upper is not None and res.size <= res.upper <= 32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_time_limit_interval_contains_the_maximum(seed):
    """Stopped early, [size, upper] still contains the maximum found by the full search."""
    M = np.random.default_rng(2400 + seed).integers(0, 2, (24, 24))
    full = max_fooling_set(M, 1, time_limit=120.0)
    assert full.exact and full.upper == full.size
    for limit in (1e-6, 0.005):
        part = max_fooling_set(M, 1, time_limit=limit)
        assert verify_fooling_set(M, 1, part.pairs)
        assert part.upper is not None and part.size <= full.size <= part.upper <= 24
        if part.exact:
            assert part.upper == part.size == full.size


# --- kernels and their plain twins ------------------------------------------------------


def _pack(adj: np.ndarray) -> np.ndarray:
    from commlb.bounds.fooling import _pack as pack

    return pack(adj)


@st.composite
def random_graphs(draw):
    n = draw(st.integers(0, 40))
    density = draw(st.sampled_from([0.2, 0.5, 0.8, 0.95]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    g = np.random.default_rng(seed)
    upper = np.triu(g.random((n, n)) < density, 1)
    return upper | upper.T


def _is_clique(adj: np.ndarray, vertices) -> bool:
    vs = list(vertices)
    return len(set(vs)) == len(vs) and all(adj[a, b] for i, a in enumerate(vs) for b in vs[i + 1:])


@settings(deadline=None, max_examples=60)
@given(random_graphs())
def test_clique_kernel_equals_plain_twin(adj):
    from commlb.kernels.fooling import greedy_clique, max_clique_bitset, max_clique_python

    n = adj.shape[0]
    packed = _pack(adj) if n else np.zeros((0, 1), dtype=np.uint64)
    init = greedy_clique(packed, n) if n else np.zeros(0, dtype=np.int64)
    assert _is_clique(adj, init)
    # greedy result is maximal: no vertex is adjacent to all of it
    assert all(not all(adj[v, u] for u in init) for v in range(n) if v not in set(init.tolist()))
    none = np.zeros(0, dtype=np.int64)
    clique, exact, _, up = max_clique_bitset(packed, n, none, 0, none, none, 60.0)
    twin = max_clique_python([set(np.nonzero(adj[v])[0].tolist()) for v in range(n)])
    assert exact and up == len(clique)
    assert _is_clique(adj, clique) and _is_clique(adj, twin)
    assert len(clique) == len(twin)
    clique2, _, _, _ = max_clique_bitset(packed, n, init, len(init), none, none, 60.0)
    assert len(clique2) == len(twin) and _is_clique(adj, clique2)
    plain, exact3, _, _ = max_clique_bitset(packed, n, init, len(init), none, none, 60.0, False)
    assert exact3 and len(plain) == len(twin) and _is_clique(adj, plain)
    # subtrees on renumbered induced subgraphs (tiny thresholds so that it happens here),
    # with a second copy built by word operations inside the first
    for compact, compact2 in ((3, 0), (12, 0), (12, 5), (30, 12), (30, 2)):
        for renumber in (True, False):
            for reorder in (True, False):
                comp, exact5, _, _ = max_clique_bitset(packed, n, none, 0, none, none, 60.0, renumber, -1, compact,
                                                    reorder, None, compact2)
                assert exact5 and len(comp) == len(twin) and _is_clique(adj, comp)
    if n:
        from commlb.kernels.fooling import greedy_clique_multistart

        multi = greedy_clique_multistart(packed, n, n)
        assert _is_clique(adj, multi) and len(init) <= len(multi) <= len(twin)
        # a cap at the true maximum stops the search exact; a cap the start already meets skips it
        capped, exact4, _, _ = max_clique_bitset(packed, n, none, 0, none, none, 60.0, True, len(twin))
        assert exact4 and len(capped) == len(twin) and _is_clique(adj, capped)


@settings(deadline=None, max_examples=300)
@given(st.integers(0, 2 ** 64 - 1), st.integers(0, 2 ** 64 - 1))
def test_pext_equals_plain_twin(x, mask):
    """pext (the instruction where the CPU has it, and the loop used elsewhere) against
    its plain twin over Python integers."""
    from commlb.kernels.fooling import _pext_loop, pext64, pext_python

    want = pext_python(x, mask)
    assert int(pext64(np.uint64(x), np.uint64(mask))) == want
    assert int(_pext_loop(np.uint64(x), np.uint64(mask))) == want
    assert want < 1 << bin(mask).count("1")


@settings(deadline=None, max_examples=60)
@given(random_graphs(), st.integers(0, 200), st.integers(1, 40))
def test_compact_words_equals_induced_subgraph(adj, pick, cut):
    """The word-operation copy of an induced subgraph (pext per word, concatenated) is
    the induced subgraph of the candidates, in their order, with their labels."""
    from commlb.kernels.fooling import _compact_words

    n = adj.shape[0]
    if n == 0:
        return
    packed = _pack(adj)
    g = np.random.default_rng(pick)
    keep = np.sort(g.choice(n, size=min(n, cut), replace=False))
    P = np.zeros(packed.shape[1], dtype=np.uint64)
    for v in keep:
        P[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    lab = np.arange(n, dtype=np.int64) * 7
    m = len(keep)
    cW = (m + 63) // 64
    loc = np.zeros(m, dtype=np.int64)
    cadj = np.full((m, cW), np.uint64(2 ** 64 - 1), dtype=np.uint64)  # stale bits must be cleared
    lrow = np.zeros(m, dtype=np.int64)
    lcol = np.zeros(m, dtype=np.int64)
    assert _compact_words(P, packed, lab, lab + 1, loc, cadj, lrow, lcol) == m
    assert loc.tolist() == keep.tolist() and lrow.tolist() == (keep * 7).tolist()
    assert lcol.tolist() == (keep * 7 + 1).tolist()
    bits = np.unpackbits(cadj.view(np.uint8), axis=1, bitorder="little")[:, :m].astype(bool)
    assert (bits == adj[np.ix_(keep, keep)]).all()


@settings(deadline=None, max_examples=60)
@given(random_graphs(), st.integers(0, 3))
def test_threaded_kernel_equals_plain_twin_and_is_deterministic(adj, extra):
    """Root branches shared by 1, 2 or 3 threads: the size of the plain twin, exact, and
    the same clique for every thread count (the first maximum clique of the first root
    branch holding one)."""
    from commlb.kernels.fooling import greedy_clique, max_clique_python, max_clique_threads

    n = adj.shape[0]
    packed = _pack(adj) if n else np.zeros((0, 1), dtype=np.uint64)
    twin = max_clique_python([set(np.nonzero(adj[v])[0].tolist()) for v in range(n)])
    none = np.zeros(0, dtype=np.int64)
    init = greedy_clique(packed, n) if n else none
    floor = max(0, len(twin) - extra)
    for start, fl in ((none, 0), (init, len(init)), (none, floor)):
        seen = []
        for threads in (1, 2, 3):
            clique, exact, _, up = max_clique_threads(packed, n, start, fl, none, none, 60.0, True, -1, 12, True,
                                                      None, threads, compact2=5)
            assert exact
            if len(clique) or fl < len(twin):
                assert len(clique) == len(twin) == up and _is_clique(adj, clique)
            else:  # nothing beats the floor: the start comes back, the bound is the floor
                assert up == fl == len(twin)
            seen.append(sorted(clique.tolist()))
        assert seen[0] == seen[1] == seen[2]
    if n:
        capped, exact4, _, _ = max_clique_threads(packed, n, none, 0, none, none, 60.0, True, len(twin), 0, False,
                                                  None, 2)
        assert exact4 and len(capped) == len(twin) and _is_clique(adj, capped)


@pytest.mark.parametrize("seed", [0, 1])
def test_threads_same_fooling_set(seed):
    """max_fooling_set returns the same pairs on 1 and 2 threads (a 20 x 20 instance with
    many maximum sets), and the interval of a stopped 2-thread search holds the maximum."""
    M = np.random.default_rng(2000 + seed).integers(0, 2, (20, 20))
    one = max_fooling_set(M, 1, threads=1, time_limit=300.0)
    two = max_fooling_set(M, 1, threads=2, time_limit=300.0)
    assert one.exact and two.exact and one.pairs == two.pairs and verify_fooling_set(M, 1, two.pairs)
    part = max_fooling_set(M, 1, time_limit=0.002, threads=2)
    assert verify_fooling_set(M, 1, part.pairs) and part.size <= one.size <= part.upper


@pytest.mark.parametrize("seed", [0, 1])
def test_target_stops_with_a_set_of_that_size(seed):
    """target t <= maximum: a verified set of >= t pairs and an interval holding the
    maximum; t above the maximum: the full search, exact."""
    M = np.random.default_rng(2200 + seed).integers(0, 2, (22, 22))
    full = max_fooling_set(M, 1, threads=1, time_limit=300.0)
    assert full.exact
    for t in (0, full.size - 2, full.size, full.size + 1):
        for threads in (1, 2):
            res = max_fooling_set(M, 1, target=t, threads=threads, time_limit=300.0)
            assert verify_fooling_set(M, 1, res.pairs)
            if t > full.size:
                assert res.exact and res.size == full.size and res.stopped_by is None
            else:
                assert res.size >= t and res.size <= full.size <= res.upper
                assert res.exact or res.stopped_by == "target"


@settings(deadline=None, max_examples=60)
@given(random_graphs())
def test_degeneracy_sort_equals_degeneracy_order(adj):
    """The numba smallest-last order of an induced subgraph equals the numpy one."""
    from commlb.bounds.fooling import degeneracy_order
    from commlb.kernels.fooling import _degeneracy_sort

    n = adj.shape[0]
    if n == 0:
        return
    keep = np.arange(0, n, 2)  # an induced subgraph: every other vertex
    loc = keep.astype(np.int64).copy()
    _degeneracy_sort(loc, len(loc), _pack(adj))
    assert loc.tolist() == keep[degeneracy_order(adj[np.ix_(keep, keep)])].tolist()


@settings(deadline=None, max_examples=40)
@given(small_matrices(max_side=7), st.sampled_from([0, 2, 5]), st.booleans(), st.sampled_from([0, 1, 3]))
def test_compact_subtrees_same_size(M, compact, reorder, compact2):
    """The renumbered-subtree paths (with row/column labels) find the same maximum as the
    plain search and the brute force."""
    for value in np.unique(M):
        value = int(value)
        res = max_fooling_set(M, value, compact=compact, reorder=reorder, compact2=compact2)
        assert res.exact and verify_fooling_set(M, value, res.pairs)
        assert res.size == len(max_fooling_set_reference(M, value))


def test_compatibility_graph_same_row_never_adjacent(rng):
    M = rng.integers(0, 2, (7, 9))
    xs, ys, adj = compatibility_graph(M, 1)
    for i in range(len(xs)):
        for j in range(len(xs)):
            fools = not (M[xs[i], ys[j]] == 1 and M[xs[j], ys[i]] == 1)
            assert adj[i, j] == fools
            if xs[i] == xs[j] or ys[i] == ys[j]:
                assert not adj[i, j]


def test_too_large_is_refused():
    from commlb.errors import TooLargeError

    with pytest.raises(TooLargeError, match="at most"):
        max_fooling_set(np.eye(200, dtype=np.int64), 0)
    # duplicates are merged first: a huge constant matrix is a single entry
    assert max_fooling_set(np.ones((300, 300), dtype=np.int64), 1).size == 1


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 3), st.integers(3, 9), st.integers(0, 2**32 - 1))
def test_fooling_set_at_most_rank_squared(r, side, seed):
    """|F_z| <= rank(1[M = z])^2 (the rank cap the search stops at), checked against the
    brute-force maximum on Boolean products of rank <= r (where the cap is small)."""
    from commlb.bounds.fooling import rank_cap

    g = np.random.default_rng(seed)
    M = ((g.integers(0, 2, (side, r)) @ g.integers(0, 2, (r, side))) > 0).astype(np.int64)
    for z in (0, 1):
        if not (M == z).any():
            continue
        brute = len(max_fooling_set_reference(M, z)) if side <= 6 else max_fooling_set(M, z, backend="python").size
        Z = (M == z).astype(int)
        rank_q = exact_rank(Z)
        assert brute <= rank_q ** 2
        assert brute <= rank_cap(M, z) <= rank_q ** 2
        res = max_fooling_set(M, z)
        assert res.exact and res.size == brute and verify_fooling_set(M, z, res.pairs)



_INTERRUPT_SCRIPT = r"""
import json
import numpy as np
from commlb.bounds.fooling import max_fooling_set

M = np.random.default_rng(3).integers(0, 2, size=(40, 40))
said = []

def progress(p):
    if not said and p["nodes"] > 0:
        said.append(1)
        print("searching", flush=True)

res = max_fooling_set(M, 1, time_limit=600.0, progress=progress)
print(json.dumps(res.to_json()), flush=True)
"""


def test_ctrl_c_returns_the_best_set_and_its_interval():
    """SIGINT to a process deep in a long fooling search (600 s limit, 40 x 40): it stops
    within seconds and returns the largest set found, which verifies, with its interval."""
    import json

    from interrupt import interrupt_after_first_line

    returncode, out, err, waited = interrupt_after_first_line(_INTERRUPT_SCRIPT)
    assert returncode == 0, err
    assert waited < 10.0  # the kernel reads the stop request every 1024 nodes
    res = json.loads(out.strip().splitlines()[-1])
    assert res["stopped_by"] == "interrupt" and not res["exact"]
    M = np.random.default_rng(3).integers(0, 2, size=(40, 40))
    pairs = [tuple(p) for p in res["pairs"]]
    assert verify_fooling_set(M, 1, pairs) and res["size"] == len(pairs) <= res["upper"] <= 40


def test_progress_reports_nodes_and_the_largest_set_so_far():
    # 40 x 40 does not finish in 6 s: the search runs until its limit, reporting twice a second
    M = np.random.default_rng(1).integers(0, 2, size=(40, 40))
    seen: list[dict] = []
    res = max_fooling_set(M, 1, time_limit=6.0, progress=seen.append)
    assert any(p["nodes"] > 0 for p in seen), "no progress from a 6 s search"
    assert all(p["method"] == "fooling" and p["value"] == 1 for p in seen)
    assert [p["nodes"] for p in seen] == sorted(p["nodes"] for p in seen)
    assert max(p["nodes"] for p in seen) <= res.nodes and max(p["best"] for p in seen) <= res.size
    assert res.stopped_by == "time limit" and not res.exact and res.size <= res.upper


def test_ctrl_c_in_a_fooling_search_keeps_its_set_and_skips_the_rest(monkeypatch):
    """compute_bounds after a fooling search was interrupted: that set stands (verified,
    marked), the other value's search and the exact search are skipped, not started."""
    import commlb.bounds.fooling as fmod
    from commlb.bounds.report import compute_bounds

    M = np.random.default_rng(3).integers(0, 2, size=(12, 12))
    real = fmod.max_fooling_set
    calls: list[int] = []

    def interrupted(arr, value, **kw):
        calls.append(int(value))
        import dataclasses

        return dataclasses.replace(real(arr, value, time_limit=5.0), exact=False, stopped_by="interrupt", upper=12)

    monkeypatch.setattr(fmod, "max_fooling_set", interrupted)
    report = compute_bounds(M, methods=["fooling", "exact"], time_limit=5.0)
    assert calls == [0]
    rows = {(r.method, r.status) for r in report.table}
    assert ("fooling", "skipped") in rows and ("exact", "skipped") in rows
    assert any("stopped by Ctrl-C" in r.quantity for r in report.table)
    assert not report.fooling_set["0"]["exact"] and "1" not in report.fooling_set
    assert report.interrupted


def test_bounds_interrupted_prints_what_was_proved_and_exits_130(monkeypatch, tmp_path):
    import dataclasses

    from click.testing import CliRunner

    import commlb.bounds.fooling as fmod
    from commlb.cli.bounds import bounds

    real = fmod.max_fooling_set
    monkeypatch.setattr(fmod, "max_fooling_set", lambda arr, value, **kw: dataclasses.replace(
        real(arr, value, time_limit=5.0), exact=False, stopped_by="interrupt", upper=12))
    path = tmp_path / "m.npy"
    np.save(path, np.random.default_rng(3).integers(0, 2, size=(12, 12)))
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(bounds, ["--matrix", str(path), "--methods", "fooling,exact", *extra])
        assert result.exit_code == 130, result.output
        assert "interrupted (Ctrl-C)" in result.stderr
        if extra:
            assert json.loads(result.stdout)["fooling_set"]["0"]["size"] >= 1
        else:
            assert "exact: not run: interrupted (Ctrl-C)" in " ".join(result.stdout.split())
    untouched = CliRunner().invoke(bounds, ["--matrix", str(path), "--methods", "rank-gf2"])
    assert untouched.exit_code == 0
