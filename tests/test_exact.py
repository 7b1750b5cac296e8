"""Exact deterministic communication complexity: known values, reference DP, invariances,
certificates (protocol trees checked by verify_tree, lower-bound certificates re-checked)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bounds.exact import (
    DeterministicResult,
    ProtocolTree,
    deterministic_complexity,
    deterministic_complexity_reference,
    trivial_protocol,
    verify_tree,
)
from commlb.bounds.fooling import fooling_lower_bound, max_fooling_set, verify_fooling_set
from commlb.errors import InvalidInputError

from reference import CLASSIC, eq, exact_rank, gt, ip, rank_gf2, small_matrices


def _dc(M, **kwargs):
    """The search with a generous time limit: these tests check exactness and
    certificates, and a loaded machine (or a first numba compile) must not turn an
    exact answer into an interval.  Tests of the limit itself pass their own."""
    kwargs.setdefault("time_limit", 600.0)
    return deterministic_complexity(M, **kwargs)


def check_certificate(M: np.ndarray, res: DeterministicResult) -> None:
    """Re-check what can be re-checked: the tree, and for a rank/fooling certificate the
    fooling sets and the pivot minors (exact rational rank), and that they imply ``lower``."""
    assert verify_tree(M, res.tree) == res.upper
    assert res.lower <= res.upper
    assert res.exact == (res.lower == res.upper)
    cert = res.lower_certificate
    assert cert["bits"] == res.lower
    if cert["method"] in ("rank", "rank and fooling sets"):
        leaves = 0
        for value, entry in cert["per_value"].items():
            z = int(value)
            best = 0
            pr, pc = entry["pivot_rows"], entry["pivot_cols"]
            assert len(pr) == len(pc) == entry["rank_gfp"]
            if pr:
                minor = [[int(M[i, j] == z) for j in pc] for i in pr]
                assert exact_rank(minor) == len(pr)  # a nonsingular minor: rank >= its size
            best = max(best, entry["rank_gfp"])
            if "fooling_pairs" in entry:
                pairs = [tuple(p) for p in entry["fooling_pairs"]]
                assert verify_fooling_set(M, z, pairs)
                best = max(best, len(pairs))
            # GF(2) rank is recomputed independently
            assert entry["rank_gf2"] == rank_gf2((M == z).astype(int))
            best = max(best, entry["rank_gf2"])
            assert entry["leaves_at_least"] == best
            leaves += best
        assert cert["leaves_at_least"] == leaves
        assert res.lower == (0 if leaves <= 1 else math.ceil(math.log2(leaves)))
    elif cert["method"] == "number of values":
        assert cert["leaves_at_least"] == len(np.unique(M))
    elif cert["method"] == "exhaustive search":
        assert cert["search_nodes"] > 0
    elif cert["method"] == "monochromatic":
        assert len(np.unique(M)) == 1 and res.lower == 0
    else:
        assert cert["method"] == "lower_hint"


@pytest.mark.parametrize("name", sorted(CLASSIC))
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_classic_values(name, n):
    M = CLASSIC[name](n)
    res = _dc(M)
    assert res.lower == res.upper == n + 1 and res.exact
    check_certificate(M, res)


@pytest.mark.parametrize("name", sorted(CLASSIC))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_classic_values_by_search_alone(name, n):
    # no root bounds: the search itself must prove D > n (exhaustively) and find depth n + 1
    M = CLASSIC[name](n)
    res = _dc(M, root_bounds=False)
    assert res.lower == res.upper == n + 1 and res.exact
    check_certificate(M, res)
    assert res.lower_certificate["method"] == "exhaustive search"


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_classic_32x32(name):
    M = CLASSIC[name](5)
    res = _dc(M, time_limit=30.0)
    assert res.exact and res.lower == 6
    check_certificate(M, res)


@pytest.mark.parametrize("name", sorted(CLASSIC))
@pytest.mark.parametrize("n", [1, 2])
def test_reference_on_classic(name, n):
    assert deterministic_complexity_reference(CLASSIC[name](n)) == n + 1


def test_eq_fooling_size_is_two_to_n():
    for n in (1, 2, 3, 4):
        res = max_fooling_set(eq(n), 1)
        assert res.size == 2 ** n and res.exact and verify_fooling_set(eq(n), 1, res.pairs)


@settings(deadline=None, max_examples=60)
@given(small_matrices())
def test_fast_equals_reference(M):
    ref = deterministic_complexity_reference(M)
    for root_bounds in (True, False):
        res = _dc(M, root_bounds=root_bounds)
        assert res.exact and res.lower == res.upper == ref
        check_certificate(M, res)


@settings(deadline=None, max_examples=40)
@given(small_matrices())
def test_inequality_chain(M):
    res = _dc(M)
    D = res.upper
    assert res.exact
    foolings = {int(v): max_fooling_set(M, int(v)) for v in np.unique(M)}
    values = len(np.unique(M))
    distinct_rows = len(np.unique(M, axis=0))
    distinct_cols = len(np.unique(M, axis=1))

    def bits(k: int) -> int:
        return 0 if k <= 1 else math.ceil(math.log2(k))

    assert fooling_lower_bound(foolings) <= D
    assert bits(values) <= D
    assert D <= bits(distinct_rows) + bits(values)
    assert D <= bits(distinct_cols) + bits(values)


@settings(deadline=None, max_examples=40)
@given(small_matrices(), st.randoms(use_true_random=False))
def test_invariances(M, rnd):
    D = _dc(M).upper
    assert _dc(M.T).upper == D
    perm_r = list(range(M.shape[0]))
    perm_c = list(range(M.shape[1]))
    rnd.shuffle(perm_r)
    rnd.shuffle(perm_c)
    P = M[perm_r][:, perm_c]
    assert _dc(P).upper == D
    dup_rows = [rnd.randrange(M.shape[0]) for _ in range(3)]
    dup_cols = [rnd.randrange(M.shape[1]) for _ in range(2)]
    Dup = np.vstack([M, M[dup_rows]])
    Dup = np.hstack([Dup, Dup[:, dup_cols]])
    res = _dc(Dup)
    assert res.upper == D and res.exact
    assert verify_tree(Dup, res.tree) == D


def test_trivial_protocol_depths():
    M = np.array([[0, 1, 2], [0, 0, 0], [1, 1, 1], [2, 1, 0]])
    t_alice = trivial_protocol(M, True)
    t_bob = trivial_protocol(M, False)
    assert verify_tree(M, t_alice) == t_alice.depth == 2 + 2
    assert verify_tree(M, t_bob) == t_bob.depth == 2 + 2


def _find_internal_with_leaf_children(node: ProtocolTree) -> ProtocolTree:
    assert not node.is_leaf
    if node.left.is_leaf and node.right.is_leaf:
        return node
    return _find_internal_with_leaf_children(node.left if not node.left.is_leaf else node.right)


def _replace(node: ProtocolTree, target: ProtocolTree, new: ProtocolTree | None) -> ProtocolTree | None:
    if node is target:
        return new
    if node.is_leaf:
        return node
    return ProtocolTree(node.rows, node.cols, node.speaker, _replace(node.left, target, new),
                        _replace(node.right, target, new), None)


def test_tampered_trees_rejected():
    M = gt(2)
    tree = _dc(M).tree
    assert verify_tree(M, tree) == 3
    parent = _find_internal_with_leaf_children(tree)
    # a leaf made non-monochromatic: merge two sibling leaves of different outputs
    if parent.left.output != parent.right.output:
        merged = ProtocolTree(parent.rows, parent.cols, None, None, None, parent.left.output)
        with pytest.raises(ValueError, match="monochromatic"):
            verify_tree(M, _replace(tree, parent, merged))
    # a leaf with the wrong output
    wrong = ProtocolTree(parent.left.rows, parent.left.cols, None, None, None, 1 - parent.left.output)
    with pytest.raises(ValueError, match="monochromatic"):
        verify_tree(M, _replace(tree, parent.left, wrong))
    # a leaf removed
    with pytest.raises(ValueError, match="two children"):
        verify_tree(M, _replace(tree, parent.right, None))
    # children that do not partition the parent
    if parent.speaker == "alice":
        bad = ProtocolTree(parent.left.rows[:-1] or parent.left.rows, parent.left.cols, None, None, None,
                           parent.left.output)
    else:
        bad = ProtocolTree(parent.left.rows, parent.left.cols[:-1] or parent.left.cols, None, None, None,
                           parent.left.output)
    if bad != parent.left:
        with pytest.raises(ValueError):
            verify_tree(M, _replace(tree, parent.left, bad))
    # a speaker splitting the other party's side
    root = tree
    swapped = ProtocolTree(root.rows, root.cols, "bob" if root.speaker == "alice" else "alice", root.left,
                           root.right, None)
    with pytest.raises(ValueError):
        verify_tree(M, swapped)
    # the root must cover the whole matrix
    with pytest.raises(ValueError, match="root"):
        verify_tree(M, ProtocolTree((0,), (0,), None, None, None, int(M[0, 0])))


def test_json_round_trip_and_render():
    M = ip(2)
    res = _dc(M)
    data = res.to_json()
    again = ProtocolTree.from_json(data["tree"])
    assert again == res.tree and verify_tree(M, again) == 3
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(res.tree.render())
    text = console.export_text()
    assert "output" in text and ("alice" in text or "bob" in text)
    big = _dc(eq(4)).tree.render(limit=4)
    console.print(big)
    assert "…" in console.export_text()
    with pytest.raises(InvalidInputError):
        ProtocolTree.from_json({"rows": [0]})


@settings(deadline=None, max_examples=30)
@given(small_matrices())
def test_time_limit_interval_is_sound(M):
    ref = deterministic_complexity_reference(M)
    res = _dc(M, time_limit=1e-9, root_bounds=False)
    assert res.lower <= ref <= res.upper
    assert verify_tree(M, res.tree) == res.upper


def test_lower_hint_and_errors():
    M = eq(3)
    res = _dc(M, lower_hint=4)
    assert res.exact and res.lower == 4
    with pytest.raises(InvalidInputError):
        _dc(np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(InvalidInputError):
        _dc(np.array([[0.5, 1.0]]))
    constant = _dc(np.full((3, 4), 2))
    assert constant.exact and constant.upper == 0 and verify_tree(np.full((3, 4), 2), constant.tree) == 0


# --- kernels and their plain twins ------------------------------------------------------


@settings(deadline=None, max_examples=60)
@given(small_matrices(max_side=7), st.integers(1, 2 ** 7 - 1), st.integers(1, 2 ** 7 - 1))
def test_kernel_pieces_equal_plain(M, row_pick, col_pick):
    from commlb.bounds.exact import _bitplanes
    from commlb.kernels.exact import GFP_PRIME, canon, is_mono, leaf_bound
    from commlb.kernels.gfp import rank_gfp_rows

    values = sorted(int(v) for v in np.unique(M))
    RB, CB = _bitplanes(M, values)
    rows_l = [i for i in range(M.shape[0]) if row_pick >> i & 1] or [0]
    cols_l = [j for j in range(M.shape[1]) if col_pick >> j & 1] or [0]
    rows = np.uint64(sum(1 << i for i in rows_l))
    cols = np.uint64(sum(1 << j for j in cols_l))
    block = M[np.ix_(rows_l, cols_l)]
    assert is_mono(RB, len(values), rows, cols) == (len(np.unique(block)) == 1)
    # canonical form: first row of each class of rows equal on cols, then the same for columns
    kept_rows = [i for k, i in enumerate(rows_l)
                 if not any(np.array_equal(M[i, cols_l], M[p, cols_l]) for p in rows_l[:k])]
    kept_cols = [j for k, j in enumerate(cols_l)
                 if not any(np.array_equal(M[kept_rows, j], M[kept_rows, q]) for q in cols_l[:k])]
    r2, c2 = canon(RB, CB, len(values), rows, cols)
    assert int(r2) == sum(1 << i for i in kept_rows) and int(c2) == sum(1 << j for j in kept_cols)
    # leaf bound: sum over values of max(GF(2) rank, rational rank) (GF(p) equals it here)
    expected = 0
    for z in values:
        ind = (block == z).astype(int)
        expected += max(rank_gf2(ind), exact_rank(ind.tolist()))
    assert leaf_bound(RB, len(values), rows, cols, True) == expected
    A = (block == values[0]).astype(np.int64)
    assert rank_gfp_rows(A.copy(), GFP_PRIME)[0] == exact_rank(A.tolist())


def test_too_large_is_refused_but_duplicates_are_merged():
    from commlb.errors import TooLargeError

    with pytest.raises(TooLargeError, match="distinct rows"):
        _dc(np.eye(600, dtype=np.int64))
    M = np.kron(eq(2), np.ones((100, 100), dtype=np.int64))  # 400 x 400, only 4 distinct rows
    res = _dc(M)
    assert res.exact and res.upper == 3 and verify_tree(M, res.tree) == 3


def test_deadline_stops_search_with_sound_interval():
    # this instance needs ~2000 search calls without root bounds; the deadline is checked
    # every 256 calls, so a tiny limit stops it and nothing unproved may be claimed
    M = np.random.default_rng(0).integers(0, 3, (10, 10))
    full = _dc(M, root_bounds=False)
    assert full.exact and full.nodes > 256
    stopped = _dc(M, time_limit=1e-9, root_bounds=False)
    assert not stopped.exact
    assert stopped.lower <= full.upper <= stopped.upper
    assert verify_tree(M, stopped.tree) == stopped.upper
    assert _dc(M).upper == full.upper


def test_time_limit_holds_inside_a_node_on_the_hard_set():
    """A 48 x 48 noisy low-rank matrix: one node's split enumeration alone is 2^47 steps, so
    the clock must be read inside it; the result is the proved interval, tree verified."""
    import time

    from commlb.testing.hard_matrices import hard_matrix

    M = hard_matrix("noisy-lowrank", 48, 0, rank=5, noise=0.05, values=4)
    _dc(np.eye(4, dtype=np.int64), root_bounds=False)  # load the search kernels: the limit is about the search
    t0 = time.perf_counter()
    res = _dc(M, time_limit=1.0)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0 + 2.0  # the limit plus generous slack for a loaded machine
    assert not res.exact and res.lower < res.upper
    assert verify_tree(M, res.tree) == res.upper


_INTERRUPT_SCRIPT = r"""
import json, sys
import numpy as np
from commlb.bounds.exact import deterministic_complexity
from commlb.testing.hard_matrices import hard_matrix

M = hard_matrix("blocks", 48, 0, rank=5, noise=0.05, values=4)
said = []

def progress(p):
    if not said:
        said.append(1)
        print("searching", flush=True)

res = deterministic_complexity(M, time_limit=600.0, progress=progress)
print(json.dumps({"lower": res.lower, "upper": res.upper, "exact": res.exact,
                  "stopped_by": res.stopped_by, "tree": res.tree.to_json()}), flush=True)
"""


def test_ctrl_c_returns_the_interval_proved_so_far(tmp_path):
    """SIGINT to a process deep in a long search (600 s limit): the search stops within a
    few seconds and returns the interval proved so far, with a protocol tree that checks."""
    import json

    from interrupt import interrupt_after_first_line

    from commlb.testing.hard_matrices import hard_matrix

    returncode, out, err, waited = interrupt_after_first_line(_INTERRUPT_SCRIPT)
    assert returncode == 0, err
    assert waited < 10.0  # the kernel checks the stop request every 256 calls / 4096 split steps
    res = json.loads(out.strip().splitlines()[-1])
    assert res["stopped_by"] == "interrupt" and not res["exact"]
    M = hard_matrix("blocks", 48, 0, rank=5, noise=0.05, values=4)
    assert verify_tree(M, ProtocolTree.from_json(res["tree"])) == res["upper"]
    assert res["lower"] < res["upper"]


def test_progress_reports_nodes_and_interval():
    from commlb.testing.hard_matrices import hard_matrix

    M = hard_matrix("blocks", 48, 0, rank=5, noise=0.05, values=4)
    seen: list[dict] = []
    res = _dc(M, time_limit=3.0, progress=seen.append)
    assert res.stopped_by == "time limit" and not res.exact
    assert seen, "no progress report"
    for p in seen:
        assert p["lower"] <= res.lower and p["upper"] >= res.upper and p["lower"] <= p["depth"] < p["upper"]
    assert [p["nodes"] for p in seen] == sorted(p["nodes"] for p in seen)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(1, 2 ** 64 - 1), min_size=1, max_size=40))
def test_insert_slot_and_msb_equal_plain(words):
    from commlb.kernels.exact import _rank_gf2_plain, insert_slot, msb64

    for w in words:
        assert msb64(np.uint64(w)) == w.bit_length() - 1
    basis = np.zeros(64, dtype=np.uint64)
    slots = [int(insert_slot(basis, np.uint64(w))) for w in words]
    assert sum(s >= 0 for s in slots) == _rank_gf2_plain(words)
    for s in slots:  # a filled slot holds a vector whose highest bit is the slot
        if s >= 0:
            assert int(basis[s]).bit_length() - 1 == s
    # undo: clearing the slots of the last insertions gives the basis of the first ones
    k = len(words) // 2
    for s in slots[k:]:
        if s >= 0:
            basis[s] = 0
    assert int(np.count_nonzero(basis)) == _rank_gf2_plain(words[:k])


@settings(deadline=None, max_examples=60)
@given(small_matrices(max_side=7), st.integers(1, 2 ** 7 - 1), st.integers(1, 2 ** 7 - 1), st.integers(1, 12))
def test_natural_splits_equal_plain(M, row_pick, col_pick, cap):
    from commlb.bounds.exact import _bitplanes
    from commlb.kernels.exact import natural_splits, natural_splits_plain

    values = sorted(int(v) for v in np.unique(M))
    RB, CB = _bitplanes(M, values)
    rows = row_pick & ((1 << M.shape[0]) - 1) or 1
    cols = col_pick & ((1 << M.shape[1]) - 1) or 1
    parties, lefts = natural_splits(RB, CB, len(values), np.uint64(rows), np.uint64(cols), cap)
    got = [(int(p), int(m)) for p, m in zip(parties, lefts, strict=True)]
    assert got == natural_splits_plain(RB, CB, len(values), rows, cols, cap)
    for party, left in got:  # each is a split "is my entry at some y of the other party z?"
        own, other = (rows, cols) if party == 0 else (cols, rows)
        assert left != 0 and left != own and left & own == left
        assert left & (own & -own)  # the first element stays on the left
        A = M if party == 0 else M.T
        mine = [e for e in range(A.shape[0]) if own >> e & 1]
        sides = {(sum(1 << e for e in mine if A[e, y] == z), y, z) for y in range(A.shape[1]) if other >> y & 1
                 for z in values}
        assert any(part in (left, own & ~left) for part, _, _ in sides)


@settings(deadline=None, max_examples=150)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(0, 2 ** 9 - 1), st.integers(1, 6), st.data())
def test_forward_check_never_refutes_a_completable_split(V, m, placement, cap, data):
    """forward_ok against its plain twin, brute force over every placement of the remaining
    elements: it may refute only partial splits that no placement completes, and leaves
    the bases as it found them."""
    from commlb.kernels.exact import _rank_gf2_plain, forward_ok, insert_slot

    vec = np.array([[data.draw(st.integers(0, 2 ** 10 - 1)) for _ in range(m)] for _ in range(V)],
                   dtype=np.uint64)
    start = data.draw(st.integers(0, m))
    sides = [placement >> u & 1 for u in range(start)]
    BL = np.zeros((V, 64), dtype=np.uint64)
    BR = np.zeros((V, 64), dtype=np.uint64)
    rl = rr = 0
    for u, side in enumerate(sides):
        for z in range(V):
            if insert_slot((BL if side == 0 else BR)[z], vec[z, u]) >= 0:
                if side == 0:
                    rl += 1
                else:
                    rr += 1
    before = (BL.copy(), BR.copy())

    def rank_sum(members: list[int]) -> int:
        return sum(_rank_gf2_plain([int(vec[z, u]) for u in members]) for z in range(V))

    completable = rl <= cap and rr <= cap and any(
        rank_sum([u for u in range(m) if (sides + [rest >> k & 1 for k in range(m - start)])[u] == 0]) <= cap
        and rank_sum([u for u in range(m) if (sides + [rest >> k & 1 for k in range(m - start)])[u] == 1]) <= cap
        for rest in range(1 << (m - start)))
    log = [np.empty(m * V, dtype=np.int64) for _ in range(3)]
    got = forward_ok(BL, BR, vec, V, start, m, rl, rr, cap, *log)
    if completable:
        assert got
    assert np.array_equal(BL, before[0]) and np.array_equal(BR, before[1])


@settings(deadline=None, max_examples=40)
@given(small_matrices(max_side=6))
def test_search_same_with_and_without_forward_checks_ordering_and_duplication_cut(M):
    from commlb.bounds.exact import _bitplanes, _merge
    from commlb.kernels.exact import new_memo, solve

    base, _, _ = _merge(M)
    values = sorted(int(v) for v in np.unique(base))
    RB, CB = _bitplanes(base, values)
    rows, cols = np.uint64((1 << base.shape[0]) - 1), np.uint64((1 << base.shape[1]) - 1)
    ref = deterministic_complexity_reference(M)
    for d in range(ref + 1):
        answers = []
        settings_ = [(f, o, 0.0, 1.0) for f in (0.0, 1.0) for o in (0.0, 1.0)]
        settings_ += [(1.0, 1.0, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0), (1.0, 1.0, 1.0, 3.0), (0.0, 1.0, 0.0, 4.0)]
        settings_ = [(*s_, least) for s_ in settings_ for least in (-1.0, 1e9)]  # least-rank order never / always
        for forward, order, dup, passes, least in settings_:
            stats = np.zeros(4, dtype=np.int64)
            answers.append(bool(solve(RB, CB, len(values), rows, cols, d, new_memo(), stats,
                                      np.array([math.inf, forward, order, dup, passes, float(d), least]))))
        assert answers == [d >= ref] * len(settings_)


@settings(deadline=None, max_examples=100)
@given(st.integers(1, 3), st.integers(1, 10), st.data())
def test_order_elements_equals_plain(V, m, data):
    from commlb.kernels.exact import order_elements, order_elements_plain

    bits = data.draw(st.sampled_from([3, 12]))  # few bits: many dependent elements and ties
    most = data.draw(st.booleans())
    vectors = [[data.draw(st.integers(0, 2 ** bits - 1)) for _ in range(m)] for _ in range(V)]
    elems = np.arange(100, 100 + m, dtype=np.int64)
    vec = np.array(vectors, dtype=np.uint64).reshape(V, m)
    order_elements(elems, vec, V, m, most)
    expected = order_elements_plain(vectors, most)
    assert [int(e) - 100 for e in elems] == expected
    assert all(int(vec[z, k]) == vectors[z][expected[k]] for z in range(V) for k in range(m))


@settings(deadline=None, max_examples=100)
@given(st.integers(1, 3), st.integers(1, 10), st.data())
def test_prefix_ranks_equal_plain(V, m, data):
    from commlb.kernels.exact import prefix_ranks, prefix_ranks_plain

    vectors = [[data.draw(st.integers(0, 2 ** 12 - 1)) for _ in range(m)] for _ in range(V)]
    got = prefix_ranks(np.array(vectors, dtype=np.uint64).reshape(V, m), V, m)
    assert [int(v) for v in got] == prefix_ranks_plain(vectors)


@settings(deadline=None, max_examples=150)
@given(st.integers(1, 3), st.integers(2, 9), st.data())
def test_duplication_never_falls_as_a_split_is_completed(V, m, data):
    """The duplication cut (docs/theory.md §5.4.2): for a partial split of the first t
    elements, L(A) + L(B) - L(first t) never falls as the rest are placed, and at the end it
    is L(A) + L(B) - L(R); so a partial split whose duplication exceeds 2 cap - L(R) has no
    completion with both sides <= cap.  Checked over every completion (brute force)."""
    from commlb.kernels.exact import _rank_gf2_plain

    bits = data.draw(st.integers(2, 8))
    vectors = [[data.draw(st.integers(0, 2 ** bits - 1)) for _ in range(m)] for _ in range(V)]
    t = data.draw(st.integers(1, m))
    prefix = [data.draw(st.integers(0, 1)) for _ in range(t)]

    def L(members):
        return sum(_rank_gf2_plain([vectors[z][u] for u in members]) for z in range(V))

    def dup(sides):
        a = [u for u, s_ in enumerate(sides) if s_ == 0]
        b = [u for u, s_ in enumerate(sides) if s_ == 1]
        return L(a) + L(b) - L(range(len(sides)))

    partial = dup(prefix)
    cap = data.draw(st.integers(1, 2 * bits))
    for rest in range(2 ** (m - t)):
        sides = prefix + [rest >> k & 1 for k in range(m - t)]
        final = dup(sides)
        assert final >= partial
        a = [u for u, s_ in enumerate(sides) if s_ == 0]
        b = [u for u, s_ in enumerate(sides) if s_ == 1]
        if L(a) <= cap and L(b) <= cap:
            assert partial <= 2 * cap - L(range(m))


@settings(deadline=None, max_examples=60)
@given(small_matrices(max_side=8), st.integers(1, 2 ** 8 - 1), st.integers(1, 2 ** 8 - 1), st.integers(1, 12),
       st.integers(1, 4), st.integers(0, 2 ** 64 - 1))
def test_local_splits_equal_plain(M, row_pick, col_pick, cap, restarts, seed):
    from commlb.bounds.exact import _bitplanes
    from commlb.kernels.exact import _side_rank, local_splits, local_splits_plain

    values = sorted(int(v) for v in np.unique(M))
    RB, CB = _bitplanes(M, values)
    rows = row_pick & ((1 << M.shape[0]) - 1) or 1
    cols = col_pick & ((1 << M.shape[1]) - 1) or 1
    parties, lefts = local_splits(RB, CB, len(values), np.uint64(rows), np.uint64(cols), cap, restarts,
                                  np.uint64(seed))
    got = [(int(p), int(m)) for p, m in zip(parties, lefts, strict=True)]
    assert got == local_splits_plain(RB, CB, len(values), rows, cols, cap, restarts, seed)
    assert len(set(got)) == len(got) <= 2 * restarts
    for party, left in got:  # a split of the party's part, first element left, both sides within cap
        own, other = (rows, cols) if party == 0 else (cols, rows)
        assert left != 0 and left != own and left & own == left
        assert left & (own & -own)
        A = (M if party == 0 else M.T)
        for part in (left, own & ~left):
            members = [e for e in range(A.shape[0]) if part >> e & 1]
            ranks = sum(rank_gf2((A[np.ix_(members, [y for y in range(A.shape[1]) if other >> y & 1])] == z)
                                 .astype(np.int64)) for z in values)
            assert ranks <= cap
            assert ranks == _side_rank(RB, CB, len(values), party, np.uint64(part), np.uint64(other))


@pytest.mark.parametrize("family,seed", [("noisy-lowrank", 0), ("blocks", 1), ("boolean-product", 0)])
def test_search_same_with_and_without_local_splits(family, seed):
    # 16 x 16 (32 rows + columns): above LOCAL_MIN, so the local splits are tried first
    from commlb.bounds.exact import _bitplanes, _merge
    from commlb.kernels.exact import LOCAL_MIN, new_memo, solve
    from commlb.testing.hard_matrices import hard_matrix

    M = hard_matrix(family, 16, seed, rank=3, noise=0.05, values=4)
    base, _, _ = _merge(M)
    assert base.shape[0] + base.shape[1] > LOCAL_MIN
    values = sorted(int(v) for v in np.unique(base))
    RB, CB = _bitplanes(base, values)
    rows, cols = np.uint64((1 << base.shape[0]) - 1), np.uint64((1 << base.shape[1]) - 1)
    answers = {}
    for starts in (0.0, 4.0, 16.0):
        for d in range(3, 8):
            stats = np.zeros(4, dtype=np.int64)
            control = np.array([math.inf, 1.0, 1.0, 1.0, 1.0, float(d), 8.0, starts, starts])
            answers.setdefault(d, set()).add(bool(solve(RB, CB, len(values), rows, cols, d, new_memo(), stats,
                                                       control)))
    assert all(len(a) == 1 for a in answers.values())
    with_local = deterministic_complexity(M, time_limit=60)
    assert with_local.exact and verify_tree(M, with_local.tree) == with_local.upper
    assert min(d for d, a in answers.items() if True in a) == with_local.upper


def test_uncompiled_search_is_not_started_when_compiling_would_overrun(monkeypatch):
    import time

    import commlb.bounds.exact as emod
    from commlb.bounds.report import compute_bounds
    from commlb.testing.hard_matrices import hard_matrix

    M = hard_matrix("noisy-lowrank", 24, 0, rank=3, noise=0.05, values=4)
    full = deterministic_complexity(M, time_limit=60)  # D = 6: the search finds the tree
    assert full.exact and full.nodes > 0 and full.upper < trivial_protocol(M).depth
    monkeypatch.setattr(emod, "search_kernels_compiled", lambda: False)
    assert not deterministic_complexity(M, time_limit=5).stopped_by  # library callers compile on first use
    t0 = time.perf_counter()
    res = deterministic_complexity(M, time_limit=5, skip_uncompiled=True)
    assert time.perf_counter() - t0 < 5
    assert res.stopped_by == "not compiled" and not res.exact and res.nodes == 0
    assert res.lower <= full.upper <= res.upper == verify_tree(M, res.tree)
    assert "commlb precompile" in res.lower_certificate["search"]
    # with time for the compilation the search runs as before
    assert deterministic_complexity(M, time_limit=emod.SEARCH_COMPILE_SECONDS + 5, skip_uncompiled=True).exact
    report = compute_bounds(M, methods=["exact"], time_limit=5, exact_deadline=time.perf_counter() + 5)
    assert any("commlb precompile" in note for note in report.notes)
    assert report.deterministic["exact"] is False


def test_search_kernels_compiled_after_a_search():
    from commlb.bounds.exact import search_kernels_compiled
    from commlb.testing.hard_matrices import hard_matrix

    deterministic_complexity(hard_matrix("noisy-lowrank", 24, 0, rank=3, noise=0.05, values=4), time_limit=60)
    assert search_kernels_compiled() is True
