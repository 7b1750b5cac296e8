"""Ownership reads without colour: wherever tokens are shown (simulate's instance, the
explain walk-through, a witness's two inputs) a row of A / B / · marks sits under the
tokens, with NO_COLOR and when stdout is not a terminal (captured here)."""

from __future__ import annotations

import json
import random
import re

import pytest
from rich.console import Console

from commlb.cli.main import main
from commlb.cli.render import OWNER_MARK, owned_rows

MARKS = {v: k for k, v in OWNER_MARK.items()}
ANSI = re.compile(r"\x1b\[")


def _plain(text) -> str:
    con = Console(width=200, no_color=True, force_terminal=False)
    with con.capture() as cap:
        con.print(text)
    return cap.get()


def _read_back(lines: list[str]) -> tuple[list[str], list[int]]:
    """Tokens and owners read from alternating token / mark lines: each token's mark is
    the character under its first character."""
    tokens, owners = [], []
    for tok_line, mark_line in zip(lines[0::2], lines[1::2]):
        for m in re.finditer(r"\S+", tok_line):
            tokens.append(m.group())
            owners.append(MARKS[mark_line[m.start()]])
            # nothing but spaces under the rest of the token
            assert mark_line[m.start() + 1:m.end()].strip() == ""
    return tokens, owners


@pytest.mark.parametrize("seed", range(20))
def test_marks_sit_under_their_tokens(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    labels = [rng.choice(["0", "1", "#", "=", "[SEP]", "12", "x"]) for _ in range(n)]
    owner = [rng.randint(0, 2) for _ in range(n)]
    width = rng.randint(10, 90)
    lines = _plain(owned_rows(labels, owner, width=width, max_tokens=100)).rstrip("\n").split("\n")
    assert len(lines) % 2 == 0
    assert max(len(line.rstrip()) for line in lines) <= max(width, max(len(t) for t in labels))
    tokens, owners = _read_back(lines)
    assert tokens == labels and owners == owner


def test_long_inputs_are_shortened_with_marks_for_the_shown_tokens():
    labels = [str(i % 10) for i in range(200)]
    owner = [0] * 100 + [1] * 99 + [2]
    lines = _plain(owned_rows(labels, owner, width=200, max_tokens=20)).rstrip("\n").split("\n")
    assert len(lines) == 2 and "180 more" in lines[0]
    marks = lines[1].split()
    assert marks == ["A"] * 10 + ["B"] * 9 + ["·"]


def _mark_rows(out: str) -> list[str]:
    """The lines of an output that consist of owner marks only (after any row label)."""
    rows = []
    for line in out.splitlines():
        body = line.strip("│ ").strip()
        if body and set(body) <= set("AB· "):
            rows.append(body)
    return rows


def test_simulate_instance_marks_without_colour(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    args = ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "6"]
    main(args)
    out = capsys.readouterr().out
    main([*args, "--json"])
    data = json.loads(capsys.readouterr().out)
    split = data["split"]
    assert not ANSI.search(out)
    marks = " ".join(_mark_rows(out)).split()
    # DISJ_6 as a # b =
    assert marks == ["A"] * 6 + ["·"] + ["B"] * 6 + ["·"]
    assert marks == [{"alice": "A", "bob": "B", "public": "·"}[o] for o in data["instance"]["split_owners"]]
    assert (marks.count("A"), marks.count("B"), marks.count("·")) == (split["alice"], split["bob"], split["public"])
    assert "A = Alice" in out and "B = Bob" in out and "· = public" in out


def test_explain_marks_without_colour(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    main(["explain", "--task", "disjointness", "--model", "rnn"])
    out = capsys.readouterr().out
    assert not ANSI.search(out)
    assert "A = Alice" in out
    # DISJ_6 as a # b =: six of Alice's, a public separator, six of Bob's, a public end
    assert _mark_rows(out) == ["A A A A A A · B B B B B B ·"]


def test_witness_marks_without_colour(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    args = ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "16", "--hidden", "2", "--precision", "4"]
    main(args)
    out = capsys.readouterr().out
    main([*args, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert not ANSI.search(out)
    rows = _mark_rows(out)
    expected = [OWNER_MARK[int(o)] for o in data["owners"]]
    # one mark row per input (x, y) and (x', y) when it fits a line
    joined = " ".join(rows).split()
    assert joined == expected * 2
