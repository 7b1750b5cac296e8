"""The reduction checker (commlb.testing.check_reduction) and its command
``commlb check-reduction``: passes good reductions, catches broken ones with the
smallest counterexample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import commlb
from commlb.errors import CommlbError
from commlb.testing import Counterexample, ReductionReport, check_reduction

sys.path.insert(0, str(Path(__file__).parent))
import broken_reductions as broken  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "commlb.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ, COLUMNS="120"))


def _runner_invoke(*args: str):
    from commlb.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "120"})


# ------------------------------------------------------------------- the Python checker


def test_disj_n6_is_exhaustive_over_4096_pairs():
    report = check_reduction(commlb.get_reduction("disj-to-disjointness", n=6))
    assert isinstance(report, ReductionReport)
    assert report.ok and report.exhaustive and report.counterexample is None
    assert report.pairs_checked == report.total_pairs == 4096
    assert report.tokens_per_owner == {"alice": 6, "bob": 6, "public": 2}
    assert report.length == 14
    payload = json.loads(json.dumps(report.to_json()))
    assert payload["pairs_checked"] == 4096 and payload["exhaustive"] is True
    assert payload["counterexample"] is None and payload["reduction"] == "disj-to-disjointness"


def test_alice_token_reading_y_is_caught_at_the_smallest_pair():
    report = check_reduction(broken.AliceReadsY(n=4))
    assert not report.ok
    cex = report.counterexample
    assert isinstance(cex, Counterexample)
    assert cex.kind == "locality"
    # row x = 0 is fine (0 AND b = 0); the first failure is x = e_0 with y = e_0,
    # compared with (x, y = 0): Alice's token 0 flips from 0 to 1.
    assert cex.x == [1, 0, 0, 0] and cex.y == [1, 0, 0, 0]
    assert (cex.x_index, cex.y_index) == (1, 1)
    assert cex.other == ([1, 0, 0, 0], [0, 0, 0, 0])
    assert cex.position == 0 and "ALICE" in cex.details
    assert report.pairs_checked == 16 + 2
    # the reported pair really violates locality
    red = broken.AliceReadsY(n=4)
    t1 = red.encode(np.array(cex.x), np.array(cex.y)).tokens
    t2 = red.encode(np.array(cex.other[0]), np.array(cex.other[1])).tokens
    assert t1[cex.position] != t2[cex.position]


def test_alice_reads_y_is_sound_so_only_locality_catches_it():
    red = broken.AliceReadsY(n=3)
    for xi in range(8):
        for yi in range(8):
            x, y = red.problem.x_space.from_index(xi), red.problem.y_space.from_index(yi)
            assert red.decode(red.task.solve(red.encode(x, y).tokens)) == red.problem.evaluate(x, y)


def test_decode_wrong_on_exactly_one_input_is_caught():
    n = 5
    red = broken.DecodeWrongOnce(n)
    failing = []
    for x in red.problem.x_space.enumerate():
        for y in red.problem.y_space.enumerate():
            if red.decode(red.task.solve(red.encode(x, y).tokens)) != red.problem.evaluate(x, y):
                failing.append((x.tolist(), y.tolist()))
    assert failing == [([0, 0, 0, 0, 1], [4])]  # exactly one input, found independently
    report = check_reduction(red)
    cex = report.counterexample
    assert not report.ok and cex.kind == "soundness"
    assert cex.x == [0, 0, 0, 0, 1] and cex.y == [4]
    assert cex.expected == 1 and cex.got == 0
    assert (cex.x_index, cex.y_index) == (16, 4)
    assert report.pairs_checked == 16 * n + 4 + 1  # stops at the first failing pair


def test_owner_depending_on_input_is_caught():
    report = check_reduction(broken.OwnerDependsOnInput(n=3))
    cex = report.counterexample
    assert not report.ok and cex.kind == "locality"
    assert cex.x == [1, 0, 0] and cex.y == [0, 0, 0] and cex.position == 7
    assert "owner" in cex.details


def test_public_token_changing_is_reported_as_locality():
    report = check_reduction(broken.PublicSeparatorMoves(n=3))
    cex = report.counterexample
    assert cex.kind == "locality" and "PUBLIC" in cex.details
    assert cex.x == [0, 0, 0] and cex.y == [0, 0, 1] and cex.position == 3
    assert cex.other == ([0, 0, 0], [0, 0, 0])


def test_sampled_mode_catches_alice_reading_y():
    red = broken.AliceReadsY(n=24)
    report = check_reduction(red, samples=300, rng=np.random.default_rng(3))
    assert not report.exhaustive and not report.ok
    cex = report.counterexample
    assert cex.kind == "locality" and "ALICE" in cex.details
    t1 = red.encode(np.array(cex.x), np.array(cex.y)).tokens
    t2 = red.encode(np.array(cex.other[0]), np.array(cex.other[1])).tokens
    assert cex.other[0] == cex.x and t1[cex.position] != t2[cex.position]
    # the primary pair is the smaller of the two compared
    assert cex.y_index < red.problem.y_space.to_index(np.array(cex.other[1]))[0]


def test_sampled_mode_catches_a_broken_decode():
    class AlwaysOne(type(commlb.get_reduction("disj-to-disjointness", n=2))):
        def decode(self, output):
            return 1

    report = check_reduction(AlwaysOne(n=30), samples=50, rng=0)
    assert not report.ok and report.counterexample.kind == "soundness"
    assert report.counterexample.expected == 0 and report.counterexample.got == 1


def test_exhaustive_limit_switches_modes_and_same_seed_same_report():
    red = commlb.get_reduction("disj-to-disjointness", n=6)
    sampled = check_reduction(red, samples=64, rng=7, exhaustive_limit=100)
    assert not sampled.exhaustive and sampled.pairs_checked == 64 and sampled.ok
    bad = broken.AliceReadsY(n=6)
    r1 = check_reduction(bad, samples=40, rng=7, exhaustive_limit=100)
    r2 = check_reduction(bad, samples=40, rng=7, exhaustive_limit=100)
    assert r1.counterexample == r2.counterexample


def test_checker_rejects_non_reductions():
    with pytest.raises(CommlbError):
        check_reduction("disj-to-disjointness")
    with pytest.raises(CommlbError):
        check_reduction(commlb.get_reduction("disj-to-disjointness", n=2), samples=0)


# --------------------------------------------------------------------------- the CLI


def test_cli_disj_n6_passes_exhaustively():
    out = _cli("check-reduction", "disj-to-disjointness", "--n", "6")
    assert out.returncode == 0, out.stderr
    assert "exhaustive" in out.stdout and "4,096" in out.stdout
    assert "PASS" in out.stdout and "Alice 6" in out.stdout


@pytest.mark.parametrize("name,params", [
    ("disj-to-disjointness", ["--n", "6"]),
    ("eq-to-equality", ["--n", "6"]),
    ("index-to-index-lookup", ["--n", "8"]),
    ("index-to-qsa", ["--n", "8"]),
    ("disj-to-qsa", ["--n", "6"]),
    ("pc-to-khop", ["--n", "3", "-p", "k=3"]),
    ("pc-to-khop", []),
])
def test_cli_every_builtin_reduction_passes_exhaustively(name, params):
    result = _runner_invoke("check-reduction", name, *params, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ok"] and payload["exhaustive"]
    assert payload["pairs_checked"] == payload["total_pairs"] > 0


def test_cli_sampled_mode_json():
    result = _runner_invoke("check-reduction", "disj-to-disjointness", "--n", "30",
                            "--samples", "40", "--seed", "5", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["exhaustive"] is False and payload["pairs_checked"] == 40
    assert payload["seed"] == 5 and payload["total_pairs"] == 2**60


def test_cli_catches_alice_reading_y_with_exit_1():
    out = _cli("check-reduction", "tests/broken_reductions.py:ALICE_READS_Y", "--n", "4")
    assert out.returncode == 1, out.stderr
    assert "counterexample" in out.stdout and "locality" in out.stdout
    assert "[1, 0, 0, 0]" in out.stdout and "FAIL" in out.stdout


def test_cli_catches_wrong_decode_with_exit_1_and_json():
    out = _cli("check-reduction", "tests/broken_reductions.py:DECODE_WRONG_ONCE", "--n", "5")
    assert out.returncode == 1
    assert "soundness" in out.stdout and "[0, 0, 0, 0, 1]" in out.stdout
    result = _runner_invoke("check-reduction", "tests/broken_reductions.py:DECODE_WRONG_ONCE",
                            "--n", "5", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["counterexample"]["kind"] == "soundness"
    assert payload["counterexample"]["x"] == [0, 0, 0, 0, 1]
    assert payload["counterexample"]["y"] == [4]


def test_cli_user_example_reduction():
    out = _cli("check-reduction", "examples/my_reduction.py:REDUCTION")
    assert out.returncode == 0, out.stderr
    assert "256" in out.stdout and "PASS" in out.stdout
    result = _runner_invoke("check-reduction", "examples/my_reduction.py:REDUCTION", "--n", "5",
                            "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["pairs_checked"] == 1024


@pytest.mark.parametrize("args,needle", [
    (["no-such-reduction", "--n", "3"], "unknown reduction"),
    (["missing/file.py:REDUCTION"], "no such file"),
    (["examples/my_reduction.py:NOPE"], "no attribute"),
    (["tests/broken_reductions.py:np"], "not a Reduction"),
    (["disj-to-disjointness", "--n", "3", "-p", "bogus=1"], "bogus"),
    (["disj-to-disjointness", "-p", "novalue"], "KEY=VALUE"),
])
def test_cli_user_mistakes_exit_2_with_one_line(args, needle):
    out = _cli("check-reduction", *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------ promise problems (local)


class _GapEquality(commlb.Problem):
    """Promise problem: x = y, or x and y differ in at least 2 places; f = [x = y]."""

    name = "gap-eq-local"

    def __init__(self, n: int) -> None:
        from commlb.core import InputSpace

        self.n = n
        self.x_space = InputSpace("bits", n)
        self.y_space = InputSpace("bits", n)

    def bounds(self):
        return []

    def _dist(self, x, y):
        return np.sum(np.asarray(x) != np.asarray(y), axis=-1)

    def evaluate(self, x, y):
        return (self._dist(x, y) == 0).astype(np.int64)

    def in_promise(self, x, y):
        d = self._dist(x, y)
        return (d == 0) | (d >= 2)

    @property
    def is_promise(self):
        return True

    def sample(self, rng):
        x = rng.integers(0, 2, self.n)
        if rng.random() < 0.5:
            return x, x.copy()
        y = x.copy()
        flip = rng.choice(self.n, size=2, replace=False)
        y[flip] ^= 1
        return x, y


class _GapEqToEquality(commlb.Reduction):
    """Refuses inputs outside the promise: the checker must only feed it promise pairs."""

    name = "gap-eq-local"

    def __init__(self, n: int) -> None:
        self.problem = _GapEquality(n)
        self.task = commlb.get_task("equality")
        self.owner = np.array([0] * n + [2] + [1] * n + [2], dtype=np.int8)

    def encode(self, x, y):
        assert bool(self.problem.in_promise(x, y)), "outside the promise"
        return commlb.Instance(self.task.assemble(x, y), self.owner)

    def decode(self, output):
        return int(output)


def test_promise_pairs_only_exhaustive():
    n = 4
    red = _GapEqToEquality(n)
    report = check_reduction(red)
    in_promise = sum(bool(red.problem.in_promise(x, y)) for x in red.problem.x_space.enumerate()
                     for y in red.problem.y_space.enumerate())
    assert in_promise == 16 + 16 * (16 - 1 - 4)
    assert report.ok and report.exhaustive and report.pairs_checked == in_promise
    sampled = check_reduction(red, samples=200, rng=2, exhaustive_limit=10)
    assert sampled.ok and sampled.pairs_checked == 200


def test_encode_error_is_a_soundness_counterexample():
    class Crashes(_GapEqToEquality):
        def encode(self, x, y):
            if x[1] == 1:
                raise IndexError("boom")
            return super().encode(x, y)

    report = check_reduction(Crashes(3))
    cex = report.counterexample
    assert cex.kind == "soundness" and "IndexError: boom" in cex.details
    # row x = 2 = [0, 1, 0]: y = 0 is 1 flip away (outside the promise), y = 1 is 2 away
    assert cex.x == [0, 1, 0] and cex.y == [1, 0, 0]
    assert report.pairs_checked == 5 + 5 + 1  # rows x = 0, 1: y = x and 4 pairs at distance >= 2


class _WideY(commlb.Problem):
    """x: 1 bit, y: 13 bits (more columns than one chunk of the checker); f = x_0 AND y_12."""

    name = "wide-y-local"

    def __init__(self) -> None:
        from commlb.core import InputSpace

        self.n = 13
        self.x_space = InputSpace("bits", 1)
        self.y_space = InputSpace("bits", 13)

    def bounds(self):
        return []

    def evaluate(self, x, y):
        return (np.asarray(x)[..., 0] & np.asarray(y)[..., 12]).astype(np.int64)


class _WideYToDisjointness(commlb.Reduction):
    """AND(x_0, y_12) = 1 - DISJ_1(x_0, y_12).  With ``bob_reads_x_from``, Bob's token
    copies x_0 once y's index reaches that value (the second chunk of a row)."""

    name = "wide-y-local"

    def __init__(self, bob_reads_x_from: int | None = None) -> None:
        self.problem = _WideY()
        self.task = commlb.get_task("disjointness")
        self.bob_reads_x_from = bob_reads_x_from
        self.owner = np.array([0, 2, 1, 2], dtype=np.int8)

    def encode(self, x, y):
        b = int(y[12])
        index = int(self.problem.y_space.to_index(y)[0])
        if self.bob_reads_x_from is not None and index >= self.bob_reads_x_from and x[0] == 1:
            b = 1 - b if index == self.bob_reads_x_from else b
        return commlb.Instance(self.task.assemble([x[0]], [b]), self.owner)

    def decode(self, output):
        return 1 - int(output)


def test_checker_across_chunks_of_a_row():
    report = check_reduction(_WideYToDisjointness())
    assert report.ok and report.pairs_checked == 2 * 2**13
    bad = check_reduction(_WideYToDisjointness(bob_reads_x_from=5000))
    cex = bad.counterexample
    assert not bad.ok
    # at (x = 1, y = #5000) Bob's token differs from (x = 0, y = #5000): soundness fails
    # there too, and locality is reported first
    assert cex.kind == "locality" and "BOB" in cex.details and cex.position == 2
    assert (cex.x_index, cex.y_index) == (1, 5000)
    assert cex.other == ([0], cex.y)
    assert bad.pairs_checked == 2**13 + 5001


def test_slow_checks_are_refused_up_front_with_an_estimate():
    red = commlb.get_reduction("pc-to-khop", n=4, k=4)
    with pytest.raises(commlb.errors.TooLargeError, match="would take about .* --exhaustive-limit"):
        check_reduction(red, max_seconds=1e-4)
    with pytest.raises(commlb.errors.TooLargeError, match="fewer --samples"):
        check_reduction(red, samples=10_000, exhaustive_limit=10, max_seconds=1e-4)
    out = _cli("check-reduction", "pc-to-khop", "--n", "4", "-p", "k=4", "--max-seconds", "0.0001")
    assert out.returncode == 2 and "would take about" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_accepts_a_reduction_instance_but_not_parameters_for_it():
    result = _runner_invoke("check-reduction", "tests/broken_reductions.py:ALICE_READS_Y_N3", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["total_pairs"] == 64 and payload["counterexample"]["x"] == [1, 0, 0]
    out = _cli("check-reduction", "tests/broken_reductions.py:ALICE_READS_Y_N3", "--n", "4")
    assert out.returncode == 2 and "instance" in out.stderr


def test_class_target_without_n_uses_its_example_size_or_four():
    """A reduction class that needs ``n`` is built at its example size (else n = 4) when
    the user gives no --n, and the report says which n it used."""
    out = _cli("check-reduction", "tests/broken_reductions.py:ALICE_READS_Y")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "counterexample" in out.stdout and "(n=" in out.stdout
    out = _cli("check-reduction", "examples/my_reduction.py:REDUCTION")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(n=4)" in out.stdout and "PASS" in out.stdout
