"""Round-aware bounds next to transcripts (commlb.bounds.rounds): the direction pattern,
the pointer-chasing regimes by rounds and first speaker, the exact one-way value of a
small instance against a plain count, and the simulate wiring."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from commlb.bounds.rounds import round_bounds, transcript_pattern
from commlb.core import ALICE, BOB
from commlb.registry import get_problem


@dataclass
class Msg:
    sender: object
    bits: int


@dataclass
class Tr:
    messages: list

    @property
    def total_bits(self):
        return sum(m.bits for m in self.messages)

    @property
    def bits_alice_to_bob(self):
        return sum(m.bits for m in self.messages if m.sender is ALICE)

    @property
    def bits_bob_to_alice(self):
        return sum(m.bits for m in self.messages if m.sender is BOB)


def tr(pattern: str, bits: int = 10) -> Tr:
    return Tr([Msg(ALICE if c == "A" else BOB, bits) for c in pattern])


@pytest.mark.parametrize("pattern, expected", [
    ("", ("silent (no message crosses)", 0, None)),
    ("AAA", ("one-way Alice -> Bob", 1, "alice")),
    ("B", ("one-way Bob -> Alice", 1, "bob")),
    ("ABBA", ("two-way, 3 rounds, Alice first", 3, "alice")),
    ("BABAB", ("two-way, 5 rounds, Bob first", 5, "bob")),
])
def test_pattern_counts_maximal_runs_of_one_sender(pattern, expected):
    assert transcript_pattern(tr(pattern)) == expected


def _entry(report, kind_start):
    return next(e for e in report.entries if e.kind.startswith(kind_start))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_nisan_wigderson_regime_by_rounds_and_starter(k):
    prob = get_problem("pc", n=16, k=k)
    for r in range(1, k + 3):
        for first in "AB":
            pattern = "".join(("A" if (i % 2 == 0) == (first == "A") else "B") for i in range(r))
            rep = round_bounds(prob, tr(pattern))
            det, rnd = _entry(rep, "deterministic, round"), _entry(rep, "randomized")
            limit = k - 1 if first == "B" else k - 2
            assert det.applies == rnd.applies == (r <= limit)
            assert det.bits is None and det.status.startswith("asymptotic only")  # never evaluated
            cheap = _entry(rep, "upper bound")
            assert cheap.bits == (k - 1) * math.ceil(math.log2(16))
            assert cheap.applies == (r >= (k - 1 if first == "A" else k))
            # the two regimes never overlap: with enough rounds for the cheap protocol no
            # round lower bound applies
            assert not (cheap.applies and det.applies)


def plain_one_way(n: int, k: int) -> tuple[int, int]:
    """Distinct rows (f_A) and columns (f_B) of PC(n, k), counted with loops."""
    funcs = list(itertools.product(range(n), repeat=n))

    def chase(fa, fb):
        v = 0
        for step in range(1, k + 1):
            v = (fa if step % 2 else fb)[v]
        return v

    rows = {tuple(chase(fa, fb) for fb in funcs) for fa in funcs}
    cols = {tuple(chase(fa, fb) for fa in funcs) for fb in funcs}
    return len(rows), len(cols)


@pytest.mark.parametrize("n,k", [(2, 1), (2, 2), (3, 2), (3, 3)])
def test_exact_one_way_value_in_the_transcripts_direction(n, k):
    prob = get_problem("pc", n=n, k=k)
    rows, cols = plain_one_way(n, k)
    for pattern, count in (("A", rows), ("BB", cols)):
        rep = round_bounds(prob, tr(pattern, bits=3))
        exact = _entry(rep, "deterministic, one round")
        assert exact.bits == (0 if count <= 1 else math.ceil(math.log2(count)))
        sent = 3 * len(pattern)
        assert exact.applies and exact.compare_bits == sent and exact.meets == (sent >= exact.bits)
    # two-way transcripts get no one-way value; a model that erred gets no exact bound
    assert not any(e.kind.startswith("deterministic, one round") for e in round_bounds(prob, tr("AB")).entries)
    erred = _entry(round_bounds(prob, tr("A"), erred=True), "deterministic, one round")
    assert not erred.applies and erred.meets is None and "correct on every input" in erred.why


def test_no_round_bounds_for_problems_without_them():
    assert round_bounds(get_problem("disj", n=4), tr("AB")) is None
    rep = round_bounds(get_problem("pc-perm", n=4, k=3), tr("ABAB"))
    assert len(rep.entries) == 1 and not rep.entries[0].applies and "blackboard" in rep.entries[0].why


def test_simulate_reports_round_bounds_with_the_transcripts_rounds():
    from commlb.cli.simulate import simulate

    res = CliRunner().invoke(simulate, ["--task", "khop", "--model", "rnn", "--k", "3", "--n", "3", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    rb = data["round_bounds"]
    senders = [m["sender"] for m in data["messages"]]
    runs = 1 + sum(a != b for a, b in zip(senders, senders[1:]))
    assert rb["rounds"] == runs == data["rounds"] and rb["first"] == senders[0]
    assert rb["bits"] == data["total_bits"]
    kinds = {e["kind"]: e for e in rb["entries"]}
    cheap = kinds["upper bound (deterministic, exact)"]
    assert cheap["bits"] == 2 * 2 and cheap["applies"] == (runs >= (2 if senders[0] == "alice" else 3))
    assert "receiver of the last message outputs" in rb["convention"]
