"""Faults on a local Dask cluster: a worker killed in the middle of a witness count does
not change the result (Dask re-runs its tasks, which only rewrite the same spill files);
Ctrl-C at the terminal ends a run on a local cluster with exit 130, one line and no
traceback, and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import commlb.witness.spill as spill
from commlb.witness import find_witness

pytest.importorskip("distributed")


def _json(result):
    out = result.to_json()
    out.pop("seconds")
    return out


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_count_leaves_the_result_unchanged(monkeypatch, tmp_path):
    from commlb.execution import make_executor

    monkeypatch.setattr(spill, "CHUNK", 1 << 9)  # 32 chunks and 64 partitions at n = 14
    monkeypatch.setattr(spill, "PARTITION", 1 << 8)
    case = ("disjointness", "rnn", 14, {"hidden": 4, "precision": 20, "weights": "random"})
    local = find_witness(case[0], case[1], case[2], **case[3])
    killed: list[int] = []
    with make_executor(2) as executor:
        client = executor._client
        before = set(client.run(os.getpid).values())

        def kill_one(done: int, total: int, phase: str) -> None:
            if not killed and done == 1:  # the first chunk is back: the others are queued or running
                victim = sorted(before)[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        # spilled (a directory given), so the count is many tasks: one is killed among them
        spread = find_witness(case[0], case[1], case[2], executor=executor, progress=kill_one,
                              spill_dir=str(tmp_path), **case[3])
        # the nanny starts a replacement: a new process importing Dask, which on a machine at
        # load 20 took over 120 s; the test waits as long as its own time limit allows
        client.wait_for_workers(2, timeout=400)
        after = set(client.run(os.getpid).values())
    assert killed and killed[0] not in after  # the worker died and a new one took its place
    assert local.found and _json(spread) == _json(local)


@pytest.mark.timeout(300)
def test_ctrl_c_on_a_local_cluster_is_one_line_and_exit_130():
    cmd = [sys.executable, "-m", "commlb.cli.main", "witness", "--task", "disjointness", "--model", "rnn",
           "--hidden", "16", "--precision", "16", "--n", "24", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stderr.readline()  # the cluster is up (its address is printed)
        assert "local cluster of 2 worker processes" in first, first
        time.sleep(3)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("dask: ")]
    assert lines == ["Aborted."], err
    deadline = time.time() + 20
    left = "?"
    while time.time() < deadline:
        left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.strip()
        if not left:
            break
        time.sleep(0.5)
    assert left == "", f"processes left behind: {left}"
