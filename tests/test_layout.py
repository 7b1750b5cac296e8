"""Layout: every listing and report reads at 80 columns (no column squeezed to a
character), output stops at 100 columns on a wide terminal, notes wrap, the precision
line never says "2^-0", and simulate's "compare" column is explained."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from commlb.bits import Precision
from commlb.cli.list_cmd import list_cmd
from commlb.cli.main import main
from commlb.cli.render import MAX_WIDTH


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("what", ["problems", "tasks", "reductions"])
def test_listings_read_at_80_columns(what, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    text = runner.invoke(list_cmd, [what]).output
    entries = json.loads(runner.invoke(list_cmd, [what, "--json"]).output)[what]
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    flat = _words(text)
    for entry in entries:
        # each entry starts a line of its own, and its long text survives whole
        assert any(line.startswith(entry["name"]) for line in lines), entry["name"]
        for key in ("description", "theorem"):
            if entry.get(key):
                assert _words(entry[key]) in flat, (entry["name"], key)
        for b in entry.get("bounds", []):
            assert _words(b["citation"]) in flat
    # no cell squeezed to a column a character or two wide (the old table's "│ … │")
    assert "│ … │" not in text and " … │" not in text
    if what == "reductions":
        # about ten lines per reduction (the five-column table took over twenty)
        assert len(lines) <= 3 + 10 * len(entries)


def test_wide_terminal_caps_the_width(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    main(["simulate", "--task", "disjointness", "--model", "rnn", "--n", "64", "--split", "interleave",
          "--hidden", "4", "--weights", "random"])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= MAX_WIDTH
    assert max(len(line) for line in lines) > 80  # it does use the room up to the cap


def test_precision_never_says_two_to_the_minus_zero():
    for bits in (4, 8, 16):
        for frac in range(bits):
            text = Precision.fixed(bits, frac).describe()
            assert "2^-0" not in text
            if frac == 0:
                assert "step 1" in text and "integers" in text
            else:
                assert f"step 2^-{frac} = 1/{2 ** frac}" in text


def test_compare_column_is_explained(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    main(["simulate", "--task", "disjointness", "--model", "rnn", "--n", "8"])
    out = capsys.readouterr().out
    assert "compare" in out
    flat = _words(out)
    assert "compare: the number the bits sent are held against" in flat
    assert "D − 1, since D counts the 1-bit announcement" in flat


def test_sweep_table_and_notes_fit_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    main(["sweep", "--task", "disjointness", "--models", "ffn", "--n", "8", "--trials", "1", "--instances", "1"])
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        if stream.strip():
            assert max(len(line) for line in stream.splitlines()) <= 80
    assert "bits" in captured.out and "ffn" in captured.out


REPORTS = {
    "bounds": ["bounds", "--problem", "ip", "--n", "3"],
    "bounds-error": ["bounds", "--problem", "disj", "--n", "3", "--error", "0.1"],
    "witness": ["witness", "--task", "disjointness", "--model", "rnn", "--n", "6", "--hidden", "1",
                "--precision", "4", "--weights", "random"],
    "check-reduction": ["check-reduction", "disj-to-disjointness", "--n", "3"],
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_reports_read_at_80_columns_and_stop_at_the_cap(name, capsys, monkeypatch):
    """bounds, witness and check-reduction: at 80 columns nothing is wider and no cell
    loses text to an ellipsis; on a 200-column terminal the lines stop at the cap."""
    outs = {}
    for columns in (80, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        main(REPORTS[name])
        outs[columns] = capsys.readouterr().out
        assert "…" not in outs[columns], name
    assert max(len(line) for line in outs[80].splitlines()) <= 80
    assert max(len(line) for line in outs[200].splitlines()) <= MAX_WIDTH
    if name == "bounds":  # the GF(p) rank's prime is printed whole at 80 columns, folded in its cell
        prime = re.search(r"rank/GF\(\d+\)", outs[200])
        assert prime is not None
        quantity = "".join(line.split("│")[2].strip() for line in outs[80].splitlines() if line.count("│") == 7)
        assert prime.group(0) in quantity, quantity
