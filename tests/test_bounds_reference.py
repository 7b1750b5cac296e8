"""The library against tests/data/bounds_reference.json, which
tests/data/make_bounds_reference.py computed with Fractions, plain GF(2) elimination and
exhaustive protocol search, sharing no code with commlb."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from commlb.bounds.matrix import matrix_from_array, matrix_from_expression, matrix_from_problem
from commlb.bounds.oneway import one_way, verify_one_way
from commlb.bounds.rank import (
    indicator,
    rank_gf2,
    rank_gfp,
    rank_lower_bound_bits,
    rank_real,
    verify_rank_certificate_gf2,
    verify_rank_certificate_gfp,
    verify_rank_certificate_real,
)

REF = json.loads((Path(__file__).parent / "data" / "bounds_reference.json").read_text())
ENTRIES = REF["entries"]
EXPRESSIONS = {"eq": "x == y", "disj": "(x & y) == 0", "ip": "popcount(x & y) % 2", "gt": "x > y"}


def _ids(e):
    return f"{e['problem']}-{e['n']}"


def _expression_matrix(e):
    if e["problem"] == "index":
        n = e["n"]
        vals = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        return matrix_from_array(vals, f"index n={n}", n)
    return matrix_from_expression(EXPRESSIONS[e["problem"]], e["n"])


def _problem_matrix(e):
    return matrix_from_problem(e["problem"], e["n"])


def _check_against_reference(M, e):
    assert M.shape == (e["rows"], e["cols"])
    comp = indicator(M, 0)
    real, real_c = rank_real(M), rank_real(comp)
    assert real.rank == real.certified_rank == e["rank_q"]
    assert real_c.certified_rank == e["rank_q_complement"]
    assert verify_rank_certificate_real(M.values, real.pivot_rows, real.pivot_cols)
    g, g_c = rank_gf2(M), rank_gf2(comp)
    assert (g.rank, g_c.rank) == (e["rank_gf2"], e["rank_gf2_complement"])
    assert verify_rank_certificate_gf2(M.values, g.pivot_rows, g.pivot_cols)
    p = rank_gfp(M)
    assert p.rank == e["rank_q"]  # equality with high probability; holds for these matrices
    assert verify_rank_certificate_gfp(M.values, p.pivot_rows, p.pivot_cols, p.prime)
    ow = one_way(M)
    assert (ow.alice_to_bob, ow.bob_to_alice) == (e["one_way_alice_to_bob"], e["one_way_bob_to_alice"])
    assert (ow.distinct_rows, ow.distinct_cols) == (e["distinct_rows"], e["distinct_cols"])
    assert verify_one_way(M, ow)
    if e["deterministic"] is not None:
        # the rank bound never exceeds D, and the one-way protocol + answer never undercuts it
        assert rank_lower_bound_bits([e["rank_q"], e["rank_q_complement"]]) <= e["deterministic"]
        assert e["deterministic"] <= ow.two_way_upper


@pytest.mark.parametrize("e", ENTRIES, ids=_ids)
def test_expression_matrices_match_reference(e):
    _check_against_reference(_expression_matrix(e), e)


@pytest.mark.parametrize("e", ENTRIES, ids=_ids)
def test_problem_matrices_match_reference(e):
    _check_against_reference(_problem_matrix(e), e)


@pytest.mark.parametrize("e", ENTRIES, ids=_ids)
def test_reference_agrees_with_theory(e):
    """docs/theory.md §4: rank over R of EQ, DISJ is 2^n, of IP, GT 2^n - 1; GF(2) rank of IP is n;
    D = n + 1 for the four; D^{A->B}(INDEX_n) = n."""
    n, name = e["n"], e["problem"]
    if name in ("eq", "disj"):
        assert e["rank_q"] == 2**n
    if name in ("ip", "gt"):
        assert e["rank_q"] == 2**n - 1
    if name == "ip":
        assert e["rank_gf2"] == n
    if name in ("eq", "disj", "ip", "gt") and e["deterministic"] is not None:
        assert e["deterministic"] == n + 1
    if name == "index":
        assert e["one_way_alice_to_bob"] == n
        assert e["one_way_bob_to_alice"] == (n - 1).bit_length()


def test_reference_covers_the_issue_table():
    have = {(e["problem"], e["n"]) for e in ENTRIES}
    for name in ("eq", "disj", "ip", "gt"):
        assert {(name, n) for n in range(1, 5)} <= have
    assert {("index", n) for n in range(2, 9)} <= have


@pytest.mark.parametrize("e", [e for e in ENTRIES if e["deterministic"] is not None and e["rows"] <= 8], ids=_ids)
def test_rank_and_fooling_bounds_do_not_exceed_exhaustive_d(e):
    from commlb.bounds.report import compute_bounds

    report = compute_bounds(_expression_matrix(e), methods=["rank-real", "rank-gf2", "rank-gfp", "one-way", "fooling"],
                            time_limit=300.0)
    for lb in report.lower_bounds:
        if lb["sound"]:
            assert lb["bits"] <= e["deterministic"], lb
    # for these functions the rank bound is tight
    assert report.best_lower_bound[0] == e["deterministic"]


# ---------------------------------------------------------------- soundness on random tiny matrices


def _exhaustive_d():
    import importlib.util

    path = Path(__file__).parent / "data" / "make_bounds_reference.py"
    spec = importlib.util.spec_from_file_location("make_bounds_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.deterministic


_DETERMINISTIC = _exhaustive_d()


@settings(deadline=None, max_examples=40)
@given(st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda s: hnp.arrays(np.int64, s, elements=st.integers(0, 2))))
def test_rank_bounds_never_exceed_exhaustive_d(vals):
    """Every sound lower bound (sum of indicator ranks over R, GF(2), GF(p)) is <= D(f),
    computed by exhaustive protocol search, and D <= one-way + answer."""
    from commlb.bounds.report import compute_bounds

    d = _DETERMINISTIC(vals.tolist())
    report = compute_bounds(vals, methods=["rank-real", "rank-gf2", "rank-gfp", "one-way"])
    for lb in report.lower_bounds:
        if lb["sound"]:
            assert lb["bits"] <= d, (lb, d)
    assert d <= report.best_upper_bound[0]
