"""Slow sweep points: progress within a point, the per-point time limit
(``--max-seconds``: cut, kept, skipped), Ctrl-C keeping the finished rows, and the hard
time limit itself (:mod:`commlb.deadline`)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pytest
from click.testing import CliRunner

from commlb.cli.sweep import sweep as sweep_cmd
from commlb.deadline import TimeLimitReached, time_limit
from commlb.sweep import SweepInterrupted, run_sweep

# ------------------------------------------------------------------ the hard limit


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(100))


def test_time_limit_cuts_python_code_near_the_limit():
    start = time.perf_counter()
    with pytest.raises(TimeLimitReached):
        with time_limit(0.3):
            _spin(30)
    assert 0.29 <= time.perf_counter() - start < 10


def test_time_limit_raises_nothing_after_the_block_or_once_disarmed():
    with time_limit(0.2):
        pass
    _spin(0.5)  # a late exception would land here
    with time_limit(0.2) as limit:
        limit.disarm()
        _spin(0.5)
    with time_limit(0):  # no limit
        _spin(0.1)


def test_time_limit_works_outside_the_main_thread():
    seen: list[str] = []

    def work() -> None:
        try:
            with time_limit(0.2):
                _spin(30)
            seen.append("finished")
        except TimeLimitReached:
            seen.append("cut")

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert seen == ["cut"]


# ------------------------------------------------------------------ sweeps


def test_progress_moves_within_a_point():
    calls = []
    run_sweep("disjointness", "rnn", "8", trials=3, instances=2, max_seconds=0,
              point_progress=lambda p, done, total, stage: calls.append((p.n, done, total, stage)))
    assert calls == [(8, 0, 5, "building the model"), (8, 0, 5, "protocol run 1 of 2"),
                     (8, 1, 5, "protocol run 2 of 2"), (8, 2, 5, "trial 1 of 3"), (8, 3, 5, "trial 2 of 3"),
                     (8, 4, 5, "trial 3 of 3")]


def _stall(at: str, seconds: float):
    def listener(point, done, total, stage):
        if stage == at:
            time.sleep(seconds)
    return listener


def test_a_point_over_the_limit_is_cut_and_larger_n_skipped():
    start = time.perf_counter()
    result = run_sweep("index-lookup", "rnn", "8,16", trials=2, instances=1, max_seconds=1.0,
                       point_progress=_stall("protocol run 1 of 1", 2.5))
    first, second = result.rows
    assert first.status == "over-budget" and not first.ok
    assert "stopped while protocol run 1 of 1" in first.note and "--max-seconds" in first.note
    assert first.width == 8 and first.params and first.bits is None  # built, not run
    assert 1.0 <= first.seconds < 2.5 + 5  # cut when the stall returned, not after the run
    assert second.status == "over-budget" and second.note.startswith("not run: n = 8 already went over")
    assert second.seconds == 0.0
    assert time.perf_counter() - start < 60
    assert any("over the time limit" in note for note in result.notes())
    # the output says that these rows depend on the machine, and how to make them not
    assert any(note.startswith("the time budget cut 2 point(s)") and "--max-seconds 0" in note
               for note in result.notes())


def test_a_fast_point_is_not_cut():
    result = run_sweep("index-lookup", "rnn", "8", trials=2, instances=2, max_seconds=30)
    assert result.rows[0].ok and result.rows[0].protocol_runs == 2 and result.rows[0].trials == 2
    assert not any(note.startswith("the time budget cut") for note in result.notes())


def test_interrupt_keeps_finished_rows():
    count = [0]

    def progress(row):
        count[0] += 1
        if count[0] == 2:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as info:
        run_sweep("disjointness", "rnn,transformer", "4,6", trials=1, instances=1, max_seconds=0,
                  progress=progress)
    result = info.value.result
    assert isinstance(info.value, KeyboardInterrupt)
    assert result.interrupted and [(r.model, r.n) for r in result.rows] == [("rnn", 4), ("rnn", 6)]
    assert result.to_json()["interrupted"] is True


def test_cli_interrupt_prints_and_writes_the_finished_rows(tmp_path, monkeypatch):
    import commlb.sweep as sweep_mod

    real = sweep_mod._measure_within
    seen = [0]

    def measure(point, listener, limited):
        seen[0] += 1
        if seen[0] == 3:
            raise KeyboardInterrupt
        return real(point, listener, limited)

    monkeypatch.setattr(sweep_mod, "_measure_within", measure)
    out = tmp_path / "rows.csv"
    res = CliRunner().invoke(sweep_cmd, ["--task", "disjointness", "--models", "rnn,transformer", "--n", "4,6",
                                         "--trials", "1", "--instances", "1", "--json", "--csv", str(out)])
    assert res.exit_code == 130, res.output
    data = json.loads(res.stdout)
    assert data["interrupted"] is True
    assert [(r["model"], r["n"]) for r in data["rows"]] == [("rnn", 4), ("rnn", 6)]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["model"], r["n"]) for r in rows] == [("rnn", "4"), ("rnn", "6")]
    assert "interrupted (Ctrl-C): 2 of 4 points finished" in res.stderr


def test_cli_shows_over_time_rows():
    from rich.console import Console

    from commlb.cli.sweep import _render

    result = run_sweep("index-lookup", "rnn", "8,16", trials=1, instances=1, max_seconds=1.0,
                       point_progress=_stall("protocol run 1 of 1", 2.5))
    con = Console(file=io.StringIO(), width=80, color_system=None)
    _render(result, con)
    text = con.file.getvalue()
    lines = [line for line in text.splitlines() if line.strip().startswith("rnn")]
    assert len(lines) == 2 and all("over time" in line for line in lines)
    assert lines[0].split()[2] == str(result.rows[0].params)  # the size measured before the cut


def test_progress_bar_on_a_terminal_moves_within_points():
    from rich.console import Console

    from commlb.cli.sweep import _run

    buf = io.StringIO()
    err = Console(file=buf, force_terminal=True, width=100, color_system=None)
    result = _run("disjointness", ["rnn"], [4, 6], 2, 2, 1, 0, {}, {}, 0.0, _executor(), err)
    assert len(result.rows) == 2
    text = buf.getvalue()
    assert "2/2 points" in text


def _executor():
    from commlb.execution import Executor

    return Executor()
