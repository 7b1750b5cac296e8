"""`commlb bounds`: JSON keys, acceptance examples, refusals, certificate files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from commlb.bounds.rank import (
    verify_rank_certificate_gf2,
    verify_rank_certificate_gfp,
    verify_rank_certificate_real,
)
from commlb.cli.bounds import bounds
from commlb.errors import CommlbError, TooLargeError

JSON_KEYS = {"rows", "cols", "rank", "one_way", "fooling_set", "deterministic", "lower_bounds"}


def run(*args, ok=True):
    result = CliRunner().invoke(bounds, list(args), catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args):
    res = run(*args, "--json")
    return json.loads(res.stdout)


def _has_problems():
    from commlb.registry import list_problems

    return {"eq", "ip", "disj"} <= set(list_problems())


needs_problems = pytest.mark.skipif(not _has_problems(), reason="commlb.problems not registered yet")


def test_json_keys_and_eq3_via_function():
    out = run_json("--function", "x == y", "--n", "3", "--methods", "rank-real,rank-gf2,rank-gfp,one-way")
    assert set(out) == JSON_KEYS
    assert out["rows"] == out["cols"] == 8
    assert out["rank"]["real"] == 8 and out["rank"]["gf2"] == 8 and out["rank"]["gfp"] == 8
    assert out["rank"]["prime"] == 8388593
    assert out["one_way"] == {"alice_to_bob": 3, "bob_to_alice": 3}
    for lb in out["lower_bounds"]:
        assert set(lb) == {"method", "bits", "sound"}
    assert max(lb["bits"] for lb in out["lower_bounds"] if lb["sound"]) == 4  # rank 8 + rank(J - I) 8


@needs_problems
def test_acceptance_eq3_json():
    out = run_json("--problem", "eq", "--n", "3")
    assert set(out) == JSON_KEYS
    assert out["rank"]["real"] == 8 and out["rank"]["gf2"] == 8
    assert out["one_way"]["alice_to_bob"] == 3 and out["one_way"]["bob_to_alice"] == 3
    if out["fooling_set"]:
        assert out["fooling_set"]["1"]["size"] == 8 and out["fooling_set"]["1"]["exact"]
    if out["deterministic"] is not None:
        assert out["deterministic"]["lower"] == out["deterministic"]["upper"] == 4
        assert out["deterministic"]["exact"]


@needs_problems
def test_acceptance_ip4_table():
    res = run("--problem", "ip", "--n", "4", "--methods", "rank-real,rank-gf2,rank-gfp,one-way")
    text = res.output
    assert "16 x 16" in text
    out = run_json("--problem", "ip", "--n", "4", "--methods", "rank-real,rank-gf2,one-way")
    assert out["rank"]["gf2"] == 4 and out["rank"]["real"] == 15
    assert max(lb["bits"] for lb in out["lower_bounds"]) == 5  # rank 15 + rank(J - M) 16 = 31


@needs_problems
def test_acceptance_function_equals_problem_ip3():
    methods = ["--methods", "rank-real,rank-gf2,rank-gfp,one-way"]
    a = run_json("--function", "popcount(x & y) % 2", "--n", "3", *methods)
    b = run_json("--problem", "ip", "--n", "3", *methods)
    assert a == b
    assert a["rank"]["real"] == 7 and a["rank"]["gf2"] == 3


def test_acceptance_non_square_text_matrix(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("0 1 2 0 1\n1 1 0 2 2\n2 2 2 2 0\n")
    out = run_json("--matrix", str(f), "--methods", "rank-real,rank-gf2,rank-gfp,one-way")
    assert (out["rows"], out["cols"]) == (3, 5)
    assert out["rank"]["real"] == 3
    assert out["one_way"] == {"alice_to_bob": 2, "bob_to_alice": 3}
    human = run("--matrix", str(f))
    assert "3 x 5" in human.output and "best lower bound" in human.output


@needs_problems
def test_acceptance_disj16_refused_with_estimate():
    res = run("--problem", "disj", "--n", "16", ok=False)
    assert isinstance(res.exception, TooLargeError)
    msg = str(res.exception)
    assert "65536 x 65536" in msg and "GiB" in msg and "--n" in msg


def test_main_exits_2_without_traceback_on_refusal(capsys):
    from commlb.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["bounds", "--function", "x & y", "--n", "16"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and "--n 13" in err


@pytest.mark.parametrize("args", [
    ["--function", "x == y"],  # no --n
    ["--function", "x == y", "--n", "2", "--matrix", "m.txt"],  # two sources
    [],  # no source
    ["--function", "x == y", "--n", "2", "--methods", "rank-foo"],
    ["--function", "x == y", "--n", "2", "--prime", "15"],
    ["--function", "import os", "--n", "2"],
])
def test_user_mistakes_are_commlb_errors(args):
    res = run(*args, ok=False)
    assert isinstance(res.exception, CommlbError), res.exception


def test_certificate_file_verifies(tmp_path):
    cert = tmp_path / "cert.json"
    run("--function", "x > y", "--n", "3", "--methods", "rank-real,rank-gf2,rank-gfp,one-way",
        "--certificate", str(cert), "--json")
    data = json.loads(cert.read_text())
    vals = np.array([[int(x > y) for y in range(8)] for x in range(8)])
    r = data["rank-real"]["rank"]
    assert r["rank"] == 7 and verify_rank_certificate_real(vals, r["pivot_rows"], r["pivot_cols"])
    g = data["rank-gf2"]["rank"]
    assert verify_rank_certificate_gf2(vals, g["pivot_rows"], g["pivot_cols"])
    p = data["rank-gfp"]["rank"]
    assert verify_rank_certificate_gfp(vals, p["pivot_rows"], p["pivot_cols"], p["prime"])
    comp = data["rank-gf2"]["indicators"]["0"]
    assert verify_rank_certificate_gf2(1 - vals, comp["pivot_rows"], comp["pivot_cols"])
    reps = data["one_way"]["row_representatives"]
    assert len({tuple(vals[i]) for i in reps}) == len(reps) == 8


def test_default_methods_skip_expensive_ones_with_note():
    from commlb.bounds.matrix import matrix_from_expression
    from commlb.bounds.report import compute_bounds

    report = compute_bounds(matrix_from_expression("x > y", 7))  # 128 x 128
    names = {row.method for row in report.table}
    assert "rank-gf2" in names and "one-way" in names
    assert "fooling" not in names and "exact" not in names
    assert any("fooling skipped" in n for n in report.notes)
    assert any("exact skipped" in n for n in report.notes)


def test_custom_prime_and_method_subset():
    out = run_json("--function", "(x + 2 * y) % 5", "--n", "2", "--methods", "rank-gfp", "--prime", "5")
    assert out["rank"]["prime"] == 5 and out["rank"]["real"] is None and out["one_way"] is None
    vals = np.array([[(x + 2 * y) % 5 for y in range(4)] for x in range(4)])
    from commlb.kernels.gfp import rank_gfp_python

    assert out["rank"]["gfp"] == rank_gfp_python(vals.tolist(), 5)[0]


def test_fooling_file_verified(tmp_path):
    pytest.importorskip("commlb.bounds.fooling")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"value": 1, "pairs": [[i, i] for i in range(8)]}))
    out = run_json("--function", "x == y", "--n", "3", "--methods", "one-way", "--fooling", str(good))
    assert {"method": "fooling (given)", "bits": 4, "sound": True} in out["lower_bounds"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"value": 1, "pairs": [[0, 0], [1, 2]]}))
    res = run("--function", "x == y", "--n", "3", "--methods", "one-way", "--fooling", str(bad), ok=False)
    assert isinstance(res.exception, CommlbError)


def test_ip4_exact_d_certified_by_verified_tree():
    emod = pytest.importorskip("commlb.bounds.exact")
    from commlb.bounds.matrix import matrix_from_expression
    from commlb.bounds.report import compute_bounds

    M = matrix_from_expression("popcount(x & y) % 2", 4)
    report = compute_bounds(M, time_limit=300.0)
    det = report.deterministic
    assert det["lower"] == det["upper"] == 5 and det["exact"]
    assert emod.verify_tree(M.values, report.tree) == 5
    assert report.best_lower_bound[0] == 5
    human = run("--function", "popcount(x & y) % 2", "--n", "4", "--time-limit", "300")
    assert "D = 5" in human.output
    assert "GF(2)" not in human.output or "rank 4" in human.output


def test_human_output_names_best_bound_and_tree_for_small(tmp_path):
    res = run("--function", "x == y", "--n", "2")
    assert "best lower bound: D >= 3" in res.output
    if "exact" in res.output and "D = 3" in res.output:
        assert "output 1" in res.output  # the protocol tree is printed for 4 x 4


def test_fooling_not_searched_once_d_is_settled():
    # IP_4: rank gives D >= 5 and one-way + answer gives D <= 5, so no fooling search can
    # raise anything; the row says so and no fooling set is reported
    from commlb.bounds.report import compute_bounds

    M = np.array([[bin(x & y).count("1") & 1 for y in range(16)] for x in range(16)])
    rep = compute_bounds(M, methods=["rank-real", "one-way", "fooling"])
    assert rep.best_lower_bound[0] == rep.best_upper_bound[0] == 5
    rows = [r for r in rep.table if r.method == "fooling"]
    assert len(rows) == 1 and rows[0].status == "skipped" and "settled" in rows[0].note
    assert rep.fooling_set == {}
    # without the settling bounds the search runs and finds a verified fooling set
    rep2 = compute_bounds(M, methods=["fooling"])
    assert rep2.fooling_set and all(r.status != "skipped" for r in rep2.table)


def test_fooling_skipped_when_no_fooling_set_can_beat_the_rank_bound():
    # a 4 x 40 matrix of full row rank for both values: rank bound ceil(log2 8) = 3, while
    # fooling sets use distinct rows: at most 2 * 4 = 8 pairs, 3 bits - cannot raise it
    from commlb.bounds.report import compute_bounds

    rng = np.random.default_rng(3)
    while True:
        M = rng.integers(0, 2, size=(4, 40))
        rep = compute_bounds(M, methods=["rank-gf2", "rank-gfp", "fooling"])
        if rep.best_lower_bound[0] == 3:
            break
    row = next(r for r in rep.table if r.method == "fooling")
    assert row.status == "skipped" and "at most 8 pairs" in row.note
