"""`commlb bounds --error`: the acceptance examples, with their certificates re-checked from
the JSON by plain code, and the refusals."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from click.testing import CliRunner

from commlb.bounds.matrix import matrix_from_problem
from commlb.cli.bounds import bounds


def run(*args, ok=True):
    result = CliRunner().invoke(bounds, list(args), catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args):
    return json.loads(run(*args, "--json").stdout)


def frac(obj) -> Fraction:
    return Fraction(int(obj["num"]), int(obj["den"]))


def by_method(data, method):
    return [b for b in data["bounds"] if b["method"] == method]


def test_ip6_discrepancy_bound_with_exact_certificate():
    data = run_json("--problem", "ip", "--n", "6", "--error", "0.1")
    assert frac(data["error"]) == Fraction(1, 10)
    (spec,) = by_method(data, "discrepancy-spectral")
    target = 6 / 2 - math.log2(1 / 0.8)
    assert spec["real"] >= target - 1e-12 and spec["bits"] >= math.ceil(target)
    assert spec["distribution"] == "uniform" and spec["verified"]
    assert spec["kind"].startswith("distributional") and spec["source"] and spec["status"]
    cert = spec["certificate"]
    # re-check from the JSON alone: ||A||^power <= bound (row sums of the exact Gram matrix)
    A = [[1 - 2 * int(v) for v in row] for row in matrix_from_problem("ip", 6).values.tolist()]
    cols = list(zip(*A))
    G = [[sum(a * b for a, b in zip(ci, cj)) for cj in cols] for ci in cols]
    assert cert["method"] == "gershgorin" and cert["power"] == 2
    assert max(sum(abs(v) for v in row) for row in G) <= frac(cert["norm_power_upper"])
    disc_sq = frac(cert["norm_power_upper"]) * 64 * 64 / Fraction(4096) ** 2
    assert disc_sq == frac(cert["disc_power_upper"]) == Fraction(1, 64)
    # the whole-bit bound: 2^bits >= (1 - 2 eps)/disc, and bits - 1 does not reach it
    q = (1 - 2 * Fraction(1, 10)) ** 2 / disc_sq
    assert Fraction(4) ** spec["bits"] >= q > Fraction(4) ** (spec["bits"] - 1)
    (cat,) = [c for c in data["catalogue"] if c["statement"].startswith("D^{uniform}")]
    assert cat["bits"] == spec["bits"] and cat["real"] == pytest.approx(target)


def test_index16_vc_bound_with_shattered_set():
    data = run_json("--problem", "index", "--n", "16", "--error", "0.05")
    (vc,) = [b for b in by_method(data, "one-way-vc") if b["one_way"] == "Alice->Bob"]
    h = -0.05 * math.log2(0.05) - 0.95 * math.log2(0.95)
    assert vc["real"] == pytest.approx((1 - h) * 16)
    assert vc["bits"] == math.ceil((1 - h) * 16) == 12
    cols = vc["certificate"]["cols"]
    assert sorted(cols) == list(range(16)) and vc["verified"]
    M = matrix_from_problem("index", 16).values
    assert len({tuple(r) for r in M[:, cols].tolist()}) == 2 ** 16
    assert "one-way" in vc["kind"] and "shattered" in vc["distribution"]
    assert data["best_one_way_alice_to_bob"]["bits"] == 12


def test_index_human_output_names_everything():
    out = run("--problem", "index", "--n", "8", "--error", "0.05").stdout
    h = -0.05 * math.log2(0.05) - 0.95 * math.log2(0.95)
    assert "one-way-vc" in out and f">= {math.ceil((1 - h) * 8)}" in out and "derived here" in out
    assert "Kremer" in out and "docs/theory.md §6.2" in out


def test_eq_gets_no_bound_above_a_small_constant_and_says_why():
    data = run_json("--problem", "eq", "--n", "4", "--error", "1/3")
    assert frac(data["error"]) == Fraction(1, 3)
    assert data["bounds"]
    assert all(b["bits"] <= 3 for b in data["bounds"])
    assert any("public-coin" in n and "no randomized bound" in n for n in data["notes"])
    ups = [c for c in data["catalogue"] if c["status"] == "upper bound"]
    assert ups and ups[0]["bits"] == 3
    priv = [c for c in data["catalogue"] if "private" in c["kind"]]
    assert priv and priv[0]["status"] == "asymptotic only" and priv[0]["bits"] is None


def test_disj3_gamma2_and_partition_with_verified_duals():
    data = run_json("--problem", "disj", "--n", "3", "--error", "1/3")
    (g,) = by_method(data, "gamma2")
    (p,) = by_method(data, "partition")
    assert g["verified"] and p["verified"]
    assert g["kind"] == p["kind"] == "randomized, public coin, two-way"
    # the partition dual from the JSON, checked by plain Fractions over every row set
    cert = p["certificate"]
    den = int(cert["den"])
    mu = [[Fraction(int(v), den) for v in r] for r in cert["mu"]]
    phi = [[Fraction(int(v), den) for v in r] for r in cert["phi"]]
    M = matrix_from_problem("disj", 3).values.tolist()
    for z in (0, 1):
        for s in range(1 << 8):
            colsum = [sum(mu[x][y] * (M[x][y] == z) + phi[x][y] for x in range(8) if s >> x & 1) for y in range(8)]
            assert sum(v for v in colsum if v > 0) <= 1
    value = sum((1 - Fraction(1, 3)) * mu[x][y] + phi[x][y] for x in range(8) for y in range(8))
    assert value == frac(cert["lower"])
    assert Fraction(2) ** p["bits"] >= value > Fraction(2) ** (p["bits"] - 1)
    # gamma2 dual: [[diag p, -Q], [-Q^T, diag q]] PSD, by flint
    flint = pytest.importorskip("flint")
    gc = g["certificate"]
    P = [int(v) for v in gc["p"]]
    Qd = [int(v) for v in gc["q"]]
    Q = [[int(v) for v in r] for r in gc["Q"]]
    K = [[0] * 16 for _ in range(16)]
    for i in range(8):
        K[i][i] = P[i]
        K[8 + i][8 + i] = Qd[i]
        for j in range(8):
            K[i][8 + j] = K[8 + j][i] = -Q[i][j]
    coeffs = [int(c) for c in flint.fmpz_mat(K).charpoly().coeffs()]
    assert all(c * (-1) ** (16 - k) >= 0 for k, c in enumerate(coeffs))
    for c in data["catalogue"]:
        if "0.4827" in c["statement"] or "Ω" in c["statement"]:
            assert c["status"] == "asymptotic only" and c["bits"] is None


def test_distribution_file_changes_the_discrepancy(tmp_path):
    f = tmp_path / "mu.txt"
    # all weight on the diagonal of EQ_2: EQ is constant 1 there, disc = 1, no bound
    f.write_text("1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    data = run_json("--problem", "eq", "--n", "2", "--error", "0.1", "--distribution", str(f),
                    "--methods", "discrepancy-exact")
    (b,) = data["bounds"]
    assert b["distribution"] == "from mu.txt" and b["bits"] == 0
    assert frac(b["certificate"]["disc"]) == 1


@pytest.mark.parametrize("args,needle", [
    (["--error", "0.5"], "[0, 1/2)"),
    (["--error", "abc"], "not a number"),
    (["--distribution", "uniform"], "needs --error"),
    (["--error", "0.1", "--methods", "nonsense"], "unknown method"),
])
def test_bad_input_is_one_line_exit_2(args, needle, capsys):
    from commlb.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["bounds", "--problem", "ip", "--n", "2", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_distribution_of_the_wrong_shape_is_refused(tmp_path):
    from commlb.errors import InvalidInputError

    f = tmp_path / "mu.txt"
    f.write_text("1 1\n1 1\n")
    res = run("--problem", "ip", "--n", "2", "--error", "0.1", "--distribution", str(f), ok=False)
    assert isinstance(res.exception, InvalidInputError) and "the matrix 4 x 4" in str(res.exception)


def test_certificate_file_holds_the_json_report(tmp_path):
    """--certificate writes the same report --json prints (the file path was a NameError)."""
    path = tmp_path / "cert.json"
    run("--problem", "eq", "--n", "2", "--error", "0.1", "--certificate", str(path))
    written = json.loads(path.read_text())
    printed = run_json("--problem", "eq", "--n", "2", "--error", "0.1")

    def summary(report):  # the certificates also hold timings, which differ run to run
        return [(b["method"], b["kind"], b["bits"], b["status"], b["verified"]) for b in report["bounds"]]

    assert summary(written) == summary(printed) and written["bounds"]
    assert written["best_two_way"] == printed["best_two_way"]
