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
  (``test_readme_softmax_figures_are_what_simulate_prints``);
- "MH25 Thm 3" (``examples/mh25_qstr.py``): ``tests/test_examples.py``.

Full-size checks (the sweep to N = 1024, the witness over 2^16 inputs, Match2 at
N = 2^14, Dyck at larger n) run with ``COMMLB_FULL=1`` (``make test-full``); the default
suite checks the same statements at the smallest size that still exercises them.
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
    return json.loads(res.output)


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
