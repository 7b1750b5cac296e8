"""Layout: every listing and report reads at 80 columns (no column squeezed to a
character), output stops at 100 columns on a wide terminal, notes wrap, the precision
line never says "2^-0", and simulate's "compare" column is explained."""

from __future__ import annotations

import json

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
