"""Every measured figure in README.md, recomputed from what the run sends.

Each test reads one row of the "Results from the papers" table (or the "The argument,
run" paragraph), runs its command in-process (the ``commlb`` click group, ``--json``) and
checks the numbers the row prints against the run's report, so a README edit that
disagrees with the run, or a code change that moves a figure, fails here.  Numbers are
parsed from the README where the row states them as plain numbers; otherwise the test
asserts the row contains the stated text next to the value it compares.

Rows checked elsewhere (not repeated here):

- "SHT23 Thm 4" (the query-vector protocol's bits) and "Pigeonhole: an undersized RNN":
  ``tests/test_explain.py`` (``test_readme_row_*``);
- the softmax precision sentence under the table (qSA at q = 8): ``tests/test_claims.py``
  (``test_readme_softmax_figures_are_what_simulate_prints``).

``tests/test_examples.py`` runs ``examples/mh25_qstr.py --small`` (q = 1, 2); the "MH25
Thm 3" row's q = 1..4 is checked here through ``commlb sweep``, the call the script makes.

Full-size checks (the sweep to N = 1024, Match2 at N = 2^14, Dyck and qSTR at larger
sizes) run with ``COMMLB_FULL=1`` (``make test-full``); the default
suite checks the same statements at the smallest size that still exercises them.  The
FFN row's "2^32 values carry exactly n bits" at n = 32 is not enumerated (2^32 inputs);
the row's own n = 16 figure (all 65,536 inputs) is.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from commlb.cli.main import cli

from sizes import FULL

#: full-size checks: collected always, run with COMMLB_FULL=1 (make test-full)
full_only = pytest.mark.skipif(not FULL, reason="full-size README check: COMMLB_FULL=1 (make test-full)")

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _row(prefix: str) -> str:
    """The third column ("what it shows") of the one table row starting with ``prefix``."""
    rows = [ln for ln in README.splitlines() if ln.startswith("| " + prefix)]
    assert len(rows) == 1, prefix
    cells = [c.strip() for c in rows[0].strip().strip("|").split("|")]
    assert len(cells) == 3, rows[0]
    return cells[2]


def _command(prefix: str) -> list[str]:
    """The second column's command, as argv for ``commlb``."""
    rows = [ln for ln in README.splitlines() if ln.startswith("| " + prefix)]
    cell = [c.strip() for c in rows[0].strip().strip("|").split("|")][1]
    m = re.fullmatch(r"`commlb ([^`]+)`", cell)
    assert m, cell
    return m.group(1).split()


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _json(args: list[str]) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, (args, res.output, res.exception)
    return json.loads(res.stdout)


def _search(pattern: str, text: str) -> re.Match[str]:
    m = re.search(pattern, text)
    assert m, f"README row no longer says {pattern!r}: {text}"
    return m


# ------------------------------------------------------------------ The argument, run
def test_the_argument_run():
    m = _search(r"```\n(commlb simulate [^\n]+)\n```\n\nbuilds ((?s:.)+?)`--json`", README)
    argv = m.group(1).split()[1:]
    prose = " ".join(m.group(2).split())
    n = int(argv[argv.index("--n") + 1])
    d = int(argv[argv.index("--hidden") + 1])
    p = int(argv[argv.index("--precision") + 1])
    nums = _search(r"d = (\d+), (\d+)-bit fixed point.*?d·p = (\d+) bits in one round", prose)
    assert (int(nums.group(1)), int(nums.group(2))) == (d, p)
    out = _json(argv)
    assert out["problem"] == f"DISJ_{n}" and f"DISJ_{n}" in prose
    assert out["reduction"] == "disj-to-disjointness" and "`disj-to-disjointness`" in prose
    assert out["params"]["hidden"] == d and out["precision"]["bits"] == p
    assert len(out["messages"]) == 1 and out["messages"][0]["sender"] == "alice"
    assert out["total_bits"] == int(nums.group(3)) == d * p and out["rounds"] == 1
    assert out["protocol_matches_forward"] and out["correct"]
    needs = _search(r"all 2\^(\d+) rows of its matrix, so it needs (\d+) bits, and no RNN with\s+"
                    r"d·p < (\d+)", prose)
    assert int(needs.group(1)) == int(needs.group(2)) == int(needs.group(3)) == n
    bound = out["lower_bound"]
    assert bound["kind"] == "one-way A->B" and bound["bits"] == n


# ------------------------------------------------------------------ BHBK24 index lookup
def _sweep(ns: str) -> dict[tuple[str, int], dict]:
    out = _json(["sweep", "--task", "index-lookup", "--models", "rnn,transformer", "--n", ns])
    return {(r["model"], r["n"]): r for r in out["rows"]}


def test_index_lookup_sweep_first_size():
    row = _row("BHBK24: index lookup")
    tw = _search(r"transformer width (\d+) → (\d+) and bits (\d+) → (\d+) from N = (\d+) to (\d+)", row)
    rb = _search(r"RNN bits ([\d,]+) → ([\d,]+)", row)
    n0 = int(tw.group(5))
    rows = _sweep(f"{n0}..{n0}")
    t, r = rows[("transformer", n0)], rows[("rnn", n0)]
    assert (t["width"], t["bits"]) == (int(tw.group(1)), int(tw.group(3)))
    assert r["bits"] == _int(rb.group(1)) and r["bits"] >= r["lower_bound"] == n0
    assert "0 errors" in row and t["errors"] == r["errors"] == 0
    assert t["protocol_matches_forward"] and r["protocol_matches_forward"]


@pytest.mark.full
@full_only
def test_index_lookup_sweep_full():
    row = _row("BHBK24: index lookup")
    tw = _search(r"transformer width (\d+) → (\d+) and bits (\d+) → (\d+) from N = (\d+) to (\d+) "
                 r"\(log-log slope ([\d.]+)\)", row)
    rb = _search(r"RNN bits ([\d,]+) → ([\d,]+) \(slope ([\d.]+), ≥ the one-way bound N\)", row)
    n0, n1 = int(tw.group(5)), int(tw.group(6))
    rows = _sweep(f"{n0}..{n1}x2")
    t0, t1, r0, r1 = rows[("transformer", n0)], rows[("transformer", n1)], rows[("rnn", n0)], rows[("rnn", n1)]
    assert (t0["width"], t1["width"], t0["bits"], t1["bits"]) == tuple(int(tw.group(i)) for i in range(1, 5))
    assert (r0["bits"], r1["bits"]) == (_int(rb.group(1)), _int(rb.group(2)))

    def slope(a, b):
        return math.log(b["bits"] / a["bits"]) / math.log(n1 / n0)

    assert round(slope(t0, t1), 2) == float(tw.group(7))
    assert round(slope(r0, r1), 2) == float(rb.group(3))
    for r in rows.values():
        assert r["errors"] == 0 and r["protocol_matches_forward"]
        if r["model"] == "rnn":
            assert r["bits"] >= r["lower_bound"] == r["n"]


# ------------------------------------------------------------------ BHBK24 equality
def test_equality_two_layer_transformer():
    row = _row("BHBK24: string equality")
    argv = _command("BHBK24: string equality")
    n = int(argv[argv.index("--n") + 1])
    m = _search(r"width (\d+) = ⌈(\d+)·log2 (\d+)⌉ \+ (\d+), p = (\d+), correct", row)
    width, c, n_row, extra, p = (int(g) for g in m.groups())
    assert n_row == n and width == math.ceil(c * math.log2(n)) + extra
    out = _json(argv)
    assert out["params"]["layers"] == 2 and out["params"]["width"] == width
    assert out["precision"]["bits"] == p
    assert out["correct"] and out["protocol_matches_forward"]


def test_equality_every_input_at_small_n_is_consistent():
    """The row's "every input at n = 3 checked with assert_consistent"."""
    from commlb.models.build import build_model
    from commlb.setup import resolve_task
    from commlb.testing.consistency import assert_consistent

    row = _row("BHBK24: string equality")
    n = int(_search(r"every input at n = (\d+) checked with `assert_consistent`", row).group(1))
    setup = resolve_task("equality", n)
    built = build_model(setup, "transformer")
    report = assert_consistent(None, setup.reduction, built.model, samples=4**n)
    assert report.exhaustive and report.pairs == 4**n and report.correct == report.pairs


# ------------------------------------------------------------------ BHBK24 Dyck-(2,2)
def _dyck(n: int, split: str | None = None) -> dict:
    args = ["simulate", "--task", "dyck22", "--model", "rnn", "--n", str(n), "--no-effective-bits"]
    return _json(args + (["--split", split] if split else []))


def _check_dyck(n: int) -> None:
    row = _row("BHBK24: bounded Dyck")
    m = _search(r"d = (\d+), L = (\d+), p = (\d+) at every n \((\d+) parameters\); a prefix cut carries "
                r"(\d+) bits at every n, the non-contiguous split of `disj-to-dyck` (\d+) bits per handoff", row)
    d, L, p, params, cut, handoff = (int(g) for g in m.groups())
    out = _dyck(n)
    assert out["reduction"] == "disj-to-dyck"
    assert (out["params"]["hidden"], out["params"]["layers"], out["precision"]["bits"]) == (d, L, p)
    assert out["params"]["num_params"] == params
    assert len(out["messages"]) > 1 and {msg["bits"] for msg in out["messages"]} == {handoff}
    assert out["correct"] and out["protocol_matches_forward"]
    length = len(out["instance"]["tokens"])
    cut_run = _dyck(n, f"prefix:{length // 2}")
    assert [msg["bits"] for msg in cut_run["messages"]] == [cut]
    assert cut_run["correct"] and cut_run["protocol_matches_forward"]


@pytest.mark.parametrize("n", [4, 8])
def test_dyck22_constant_size_rnn(n):
    _check_dyck(n)


@pytest.mark.full
@full_only
@pytest.mark.parametrize("n", [32, 128])
def test_dyck22_constant_size_rnn_full(n):
    _check_dyck(n)


# ------------------------------------------------------------------ BHBK24 nearest neighbour
def test_nearest_neighbor_width():
    row = _row("BHBK24: nearest neighbour")
    m = _search(r"width (\d+) at N = (\d+) \(2d \+ 2·labels \+ 4\), correct", row)
    out = _json(_command("BHBK24: nearest neighbour"))
    assert out["n"] == int(m.group(2)) and out["params"]["width"] == int(m.group(1))
    assert out["params"]["layers"] == 2
    assert out["correct"] and out["protocol_matches_forward"]


# ------------------------------------------------------------------ SHT23 Thm 2 qSA
def test_qsa_one_layer():
    row = _row("SHT23 Thm 2: qSA")
    m = _search(r"q = (\d+), N = (\d+): m = ⌈(\d+)·q·log2 N⌉, correct within ε = 1/\((\d+)q\); "
                r"DISJ_q → qSA sends (\d+) bits ≥ D\(DISJ_(\d+)\) − 1 = (\d+)", row)
    q, N, c, _eps, sent, q2, bound = (int(g) for g in m.groups())
    out = _json(_command("SHT23 Thm 2: qSA"))
    assert out["n"] == q == q2 and out["params"]["max_length"] == N
    assert out["params"]["layers"] == 1
    assert out["params"]["key_dim"] == math.ceil(c * q * math.log2(N))
    assert out["correct"] and out["protocol_matches_forward"]
    assert out["total_bits"] == sent
    two_way = [b for b in out["lower_bounds"] if b["kind"] == "two-way"]
    assert len(two_way) == 1 and two_way[0]["bits"] - 1 == bound == q
    assert out["lower_bound"]["bits"] == bound and sent >= bound


# ------------------------------------------------------------------ SHT23 Thm 6 Match2
def _match2(n: int) -> dict:
    return _json(["simulate", "--task", "match2", "--model", "transformer", "--n", str(n)])


def _match2_row() -> tuple[int, int, int, int]:
    m = _search(r"d_k = d_v = (\d+) \(model width (\d+)\) at every N from (\d+) to 2\^(\d+)",
                _row("SHT23 Thm 6: Match2"))
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), 2 ** int(m.group(4))


@pytest.mark.parametrize("which", ["low", "mid"])
def test_match2_width_three(which):
    dk, width, lo, _hi = _match2_row()
    out = _match2(lo if which == "low" else 8 * lo)
    p = out["params"]
    assert (p["layers"], p["key_dim"], p["value_dim"], p["width"]) == (1, dk, dk, width)
    assert out["correct"] and out["protocol_matches_forward"]


@pytest.mark.full
@full_only
def test_match2_width_three_full():
    dk, width, _lo, hi = _match2_row()
    out = _match2(hi)
    p = out["params"]
    assert (p["layers"], p["key_dim"], p["value_dim"], p["width"]) == (1, dk, dk, width)
    assert out["correct"] and out["protocol_matches_forward"]


# ------------------------------------------------------------------ SHT23 Thm 7 Match3
def test_match3_reduction_sound_on_every_pair():
    row = _row("SHT23 Thm 7: Match3")
    assert "sound on every pair at small n" in row
    out = _json(_command("SHT23 Thm 7: Match3"))
    assert out["ok"] and out["exhaustive"] and out["pairs_checked"] == out["total_pairs"] > 0
    assert out["counterexample"] is None


# ------------------------------------------------------------------ SHT24 Thm 4.2 k-hop
def test_khop_pointer_doubling():
    row = _row("SHT24 Thm 4.2: k-hop")
    m = _search(r"L = (\d+) layers, one head, width (\d+), correct", row)
    out = _json(_command("SHT24 Thm 4.2: k-hop"))
    p = out["params"]
    assert (p["layers"], p["heads"], p["width"]) == (int(m.group(1)), 1, int(m.group(2)))
    assert out["correct"] and out["protocol_matches_forward"]


def test_khop_rounds_grow_with_depth():
    row = _row("SHT24 Thm 4.2: k-hop")
    m = _search(r"L = ([\d, ]+) give ([\d, ]+) rounds on `(pc-to-khop-blocks)`", row)
    depths = [int(v) for v in m.group(1).split(",")]
    rounds = [int(v) for v in m.group(2).split(",")]
    assert len(depths) == len(rounds) > 1
    seen = {}
    for k in (2, 4, 8, 16):  # the doubling construction's depth is ceil(log2 k) + 2
        out = _json(["simulate", "--task", "khop", "--model", "transformer", "--k", str(k),
                     "--reduction", m.group(3)])
        assert out["correct"] and out["protocol_matches_forward"]
        seen[out["params"]["layers"]] = out["rounds"]
    assert [seen.get(L) for L in depths] == rounds


# ------------------------------------------------------------------ SHT23 Thm 10 FFN
def test_ffn_one_message_of_n_effective_bits():
    row = _row("SHT23 Thm 10: FFN")
    m = _search(r"h_1 = n units, p = (\d+), f = (\d+): one (\d+)-bit message whose 2\^(\d+) values carry "
                r"exactly n bits \(`--n (\d+)`: effective bits (\d+) counted over all ([\d,]+) inputs\)", row)
    p, f, msg_bits, n, n_small, eff, inputs = (_int(g) for g in m.groups())
    argv = _command("SHT23 Thm 10: FFN")
    assert int(argv[argv.index("--n") + 1]) == n
    out = _json(argv + ["--no-effective-bits"])
    assert out["precision"]["bits"] == p and out["precision"]["frac"] == f
    assert [msg["bits"] for msg in out["messages"]] == [msg_bits] and out["rounds"] == 1
    assert out["correct"] and out["protocol_matches_forward"]
    assert out["lower_bound"]["kind"] == "one-way A->B" and out["lower_bound"]["bits"] == n
    small = _json(["simulate", "--task", "disjointness", "--model", "ffn", "--n", str(n_small)])
    e = small["effective_bits"]
    assert e["applicable"] and e["exact"] and e["inputs"] == inputs == 2**n_small
    assert e["distinct_messages"] == 2**n_small and e["effective_bits"] == eff == n_small


def test_ffn_first_layer_has_n_units():
    """The row's h_1 = n: the construction's first hidden layer has one unit per coordinate."""
    from commlb.simulate import run

    assert "h_1 = n units" in _row("SHT23 Thm 10: FFN")
    for n in (8, 32):
        res = run("disjointness", "ffn", n, effective=False)
        assert res.built.model.hidden_sizes[0] == n


# ------------------------------------------------------------------ the storing RNN, witness
def _witness(n: int, hidden: int, precision: int) -> dict:
    return _json(["witness", "--task", "index-lookup", "--model", "rnn", "--n", str(n),
                  "--hidden", str(hidden), "--precision", str(precision)])


def _storing_row() -> tuple[int, int, int, int, int]:
    argv = _command("The storing RNN is exactly large enough")
    m = _search(r"no collision: ([\d,]+) distinct messages, effective bits (\d+) = the one-way bound",
                _row("The storing RNN is exactly large enough"))
    return (*(int(argv[argv.index(o) + 1]) for o in ("--n", "--hidden", "--precision")),
            _int(m.group(1)), int(m.group(2)))


def _check_storing(out: dict, n: int) -> None:
    assert not out["found"] and out["exhaustive"] and out["collisions_seen"] == 0
    assert out["inputs_enumerated"] == out["total_inputs"] == out["distinct_messages"] == 2**n
    assert out["effective_bits"] == out["one_way_bound"] == n


def test_storing_rnn_no_collision():
    """Every one of Alice's 2^16 inputs, enumerated (about a second with the numba kernel)."""
    n, hidden, precision, distinct, eff = _storing_row()
    out = _witness(n, hidden, precision)
    _check_storing(out, n)
    assert out["distinct_messages"] == distinct and out["effective_bits"] == eff


# ------------------------------------------------------------------ classic bounds
def test_classic_bounds_ip():
    row = _row("Classic bounds, certified")
    m = _search(r"rank/R (\d+), rank/GF\(2\) (\d+), D = (\d+) with a verified protocol tree; the fooling "
                r"search is skipped once D is settled \(`--methods fooling`: maximum fooling sets (\d+) \+ (\d+)\)",
                row)
    rank_r, rank_2, D, fool0, fool1 = (int(g) for g in m.groups())

    def ip(x, y):
        return bin(x & y).count("1") % 2

    argv = _command("Classic bounds, certified")
    out = _json(argv)
    assert (out["rank"]["real"], out["rank"]["gf2"]) == (rank_r, rank_2)
    det = out["deterministic"]
    assert det["exact"] and det["lower"] == det["upper"] == D and det["tree"]
    assert not out["fooling_set"], "the default run should skip the fooling search once D is settled"
    # the protocol tree: its leaves are monochromatic rectangles partitioning the matrix, depth D
    n = int(argv[argv.index("--n") + 1])
    covered: list[tuple[int, int]] = []

    def walk(node, depth):
        if "output" in node:
            assert depth <= D
            for x in node["rows"]:
                for y in node["cols"]:
                    assert ip(x, y) == node["output"]
                    covered.append((x, y))
            return
        walk(node["left"], depth + 1)
        walk(node["right"], depth + 1)

    walk(det["tree"], 0)
    assert sorted(covered) == [(x, y) for x in range(2**n) for y in range(2**n)]
    fool = _json(argv + ["--methods", "fooling"])["fooling_set"]
    assert (fool["0"]["size"], fool["1"]["size"]) == (fool0, fool1)
    assert fool["0"]["exact"] and fool["1"]["exact"]
    # the sets are fooling sets of IP_n: recheck the pairs here
    for value in (0, 1):
        pairs = fool[str(value)]["pairs"]
        assert len({x for x, _ in pairs}) == len({y for _, y in pairs}) == len(pairs)
        assert all(ip(x, y) == value for x, y in pairs)
        for i, (x1, y1) in enumerate(pairs):
            for x2, y2 in pairs[i + 1:]:
                assert ip(x1, y2) != value or ip(x2, y1) != value
        assert all(0 <= x < 2**n and 0 <= y < 2**n for x, y in pairs)


# ------------------------------------------------------------------ MH25 Thm 3 qSTR
def _qstr(ns: str) -> None:
    row = _row("MH25 Thm 3: qSTR")
    m = _search(r"heads = q for q = (\d+)\.\.(\d+), (\d+) errors", row)
    q0, q1, errors = (int(g) for g in m.groups())
    for q in range(q0, q1 + 1):
        out = _json(["sweep", "--task", "qstr", "--models", "transformer", "--n", ns, "--trials", "5",
                     "--instances", "1", "--task-option", f"q={q}"])
        assert out["rows"]
        for r in out["rows"]:
            assert r["status"] == "ok" and r["heads"] == q and r["errors"] == errors, r
            assert r["protocol_matches_forward"]


def test_qstr_heads_equal_q():
    """The example's statement (heads = q, no errors) at its smallest N, every q it lists;
    ``tests/test_examples.py`` runs the script itself with ``--small``."""
    _qstr("8")


@pytest.mark.full
@full_only
def test_qstr_heads_equal_q_full():
    _qstr("8..64x2")
