"""commlb.execution: the same sweep in process and on a local Dask cluster of 2 worker
processes gives the same JSON (timings aside); a scheduler that does not answer is
refused with one line and exit 2 within seconds; the option checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from commlb.cli.sweep import sweep as sweep_cmd
from commlb.errors import InvalidInputError
from commlb.execution import Executor, make_executor

pytest.importorskip("distributed")

#: no time budget (--max-seconds 0): the budget is wall-clock time, so a point cut short
#: on a slower worker would differ for a reason that has nothing to do with where it ran
SWEEP = ["--task", "index-lookup", "--models", "rnn,transformer", "--n", "16..64x2", "--trials", "8",
         "--max-seconds", "0", "--json"]


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _sweep(*extra):
    result = CliRunner().invoke(sweep_cmd, [*SWEEP, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


@pytest.mark.timeout(120)
def test_sweep_on_two_workers_equals_in_process():
    local, _ = _sweep()
    spread, stderr = _sweep("--workers", "2")
    assert "local cluster of 2 worker processes" in stderr
    assert [(r["model"], r["n"]) for r in spread["rows"]] == [(m, n) for m in ("rnn", "transformer")
                                                              for n in (16, 32, 64)]
    assert sum(r["status"] == "ok" for r in local["rows"]) == 6
    assert _without_timings(spread) == _without_timings(local)


@pytest.mark.timeout(30)
def test_unreachable_scheduler_is_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "commlb.cli.main", "sweep", *SWEEP, "--scheduler",
                           "tcp://127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "tcp://127.0.0.1:1" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    # the wait is the short connect timeout, not Dask's default (how long the whole
    # command takes depends on the machine's load, so it is not asserted)
    from commlb.execution import CONNECT_TIMEOUT

    assert CONNECT_TIMEOUT in lines[0], proc.stderr


def test_options():
    assert make_executor(env={}).kind == "in-process"
    with pytest.raises(InvalidInputError, match="not both"):
        make_executor(2, "tcp://127.0.0.1:1", env={})
    with pytest.raises(InvalidInputError, match="--workers"):
        make_executor(0, env={})
    with pytest.raises(InvalidInputError, match="no Dask scheduler answered"):
        make_executor(env={"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:1"})


def test_in_process_map_keeps_chunk_order_and_reports_progress():
    seen: list[int] = []
    assert Executor().map_chunks(abs, [3, -1, -7, 2], progress=seen.append) == [3, 1, 7, 2]
    assert seen == [3, 1, 7, 2]


def test_estimates_count_the_tasks_that_run_at_once():
    """A local cluster runs no more tasks at once than this machine has cores (the spilled
    count's estimate divides its CPU time by that); an existing cluster by its workers."""
    import os

    from commlb.witness.spill import parallel_tasks

    cores = os.cpu_count() or 1
    assert parallel_tasks(Executor()) == 1
    assert parallel_tasks(Executor("local-cluster", workers=cores + 3)) == cores
    assert parallel_tasks(Executor("local-cluster", workers=1)) == 1
    assert parallel_tasks(Executor("scheduler", workers=cores + 3)) == cores + 3
