"""commlb.witness.spill: the partitioned, spilled count gives the in-memory search's
result (distinct count, exactness, runs of equal keys, the pair found and its proof),
in process with many small chunks and partitions, and on a local Dask cluster of 2
worker processes; a spill that does not fit the disk is refused before it starts."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple

import numpy as np
import pytest
from click.testing import CliRunner

import commlb.witness.spill as spill
from commlb.errors import TooLargeError
from commlb.execution import Executor
from commlb.witness import find_witness
from commlb.witness.search import effective_bits, search_witness

#: (task, family, n, model options): messages of ≤ 64 bits without and with collisions,
#: hashed messages (> 64 bits) without and with collisions, and the additive tables
CASES = [
    ("disjointness", "rnn", 12, {"hidden": 8, "precision": 8}),
    ("disjointness", "rnn", 12, {"hidden": 16, "precision": 16}),
    ("index-lookup", "rnn", 12, {"hidden": 2, "precision": 4}),
    ("disjointness", "rnn", 12, {"hidden": 8, "precision": 10}),
    ("disjointness", "rnn", 12, {"hidden": 4, "precision": 20, "weights": "random"}),
    ("equality", "transformer", 10, {"layers": 1, "heads": 1, "width": 1, "precision": 3}),
    ("index-lookup", "ffn", 12, {"hidden": 4, "precision": 20, "weights": "random"}),
]


def _json(result):
    out = result.to_json()
    out.pop("seconds")
    return out


@pytest.fixture
def small_pieces(monkeypatch):
    """Chunks of 2^9 leaves and partitions of about 2^8 keys: many of each at these n."""
    monkeypatch.setattr(spill, "CHUNK", 1 << 9)
    monkeypatch.setattr(spill, "PARTITION", 1 << 8)


@pytest.mark.parametrize("task,family,n,options", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_spilled_search_equals_in_memory(small_pieces, task, family, n, options):
    local = find_witness(task, family, n, **options)
    spilled = find_witness(task, family, n, executor=Executor(), **options)
    assert spilled.exhaustive and spilled.inputs_enumerated == local.total_inputs
    assert _json(spilled) == _json(local)


def test_cases_cover_what_they_claim(small_pieces):
    """The cases above are not all alike: some collide, some hash, some do neither."""
    seen = set()
    for task, family, n, options in CASES:
        r = find_witness(task, family, n, **options)
        seen.add((r.found, r.message_bits > 64))
    assert seen == {(False, False), (True, False), (False, True), (True, True)}


def test_spilled_count_pieces_and_runs(small_pieces):
    from commlb.kernels.keysort import mix_keys
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model
    from commlb.witness.search import count_distinct, key_runs
    from commlb.witness.sources import message_source

    setup = resolve_task("disjointness", 12)
    model = witness_model(setup, "rnn", hidden=4, precision=20, weights="random")[0].model
    source = message_source(setup.reduction, model)
    got = spill.spilled_count(source, Executor())
    assert (got.chunks, got.partitions) == (8, 16)
    assert got.spilled_bytes == source.n_inputs * spill.BYTES_PER_SPILLED
    keys = source.keys_tree(0, source.n_inputs)
    # mixing is a bijection: the same runs, listed in mixed-key order as the searches list them
    order, starts, lengths = key_runs(mix_keys(keys))
    want, exact = count_distinct(source, source.leaves_to_digits, order, starts, lengths)
    assert (got.distinct, got.exact) == (want, exact) and 1 < want < source.n_inputs
    # the runs of equal keys, in mixed-key order, with their leaves in increasing order
    multi = np.flatnonzero(lengths > 1)
    assert got.collisions_seen == multi.size
    for i, r in enumerate(multi[: spill.MAX_RUNS].tolist()):
        leaves = order[starts[r]: starts[r] + min(lengths[r], 33)]
        assert np.array_equal(got.order[got.starts[i]: got.starts[i] + got.lengths[i]], leaves)


def test_partitions_spread_packed_messages():
    """Packed messages (small integers) spread over the partitions once mixed."""
    keys = np.arange(1 << 16, dtype=np.uint64)
    counts = np.bincount(spill.partition_of(keys, 4), minlength=16)
    assert counts.min() > (1 << 12) * 0.9 and counts.max() < (1 << 12) * 1.1
    assert np.array_equal(spill.partition_of(keys, 0), np.zeros(keys.size, dtype=np.int64))


def test_spill_refused_when_disk_is_short(monkeypatch, tmp_path):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 1 << 20))
    with pytest.raises(TooLargeError, match="spills about .* free"):
        spill.check_disk(1 << 20, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_spill_dir_refused_when_disk_is_short_names_the_option(monkeypatch, tmp_path):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 1 << 20))
    with pytest.raises(TooLargeError, match="give --spill-dir a larger disk"):
        spill.check_disk(1 << 20, str(tmp_path), "--spill-dir")


def test_check_spill_dir(tmp_path):
    from commlb.errors import InvalidInputError

    assert spill.check_spill_dir(str(tmp_path)) == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    (tmp_path / "a-file").write_text("x")
    for bad, why in ((tmp_path / "nope", "no such directory"), (tmp_path / "a-file", "not a directory"),
                     ("/proc", "cannot create a file there"), ("", "give a directory")):
        with pytest.raises(InvalidInputError, match=why):
            spill.check_spill_dir(str(bad))


def test_witness_spill_dir_in_process(small_pieces, monkeypatch, tmp_path):
    """--spill-dir alone: the count is spilled under DIR in this process (the same JSON as
    the in-memory run) and nothing is left there."""
    from commlb.cli.witness import witness

    seen = []
    real = spill.spilled_count

    def spy(source, executor, **kw):
        seen.append((executor.kind, kw.get("directory")))
        return real(source, executor, **kw)

    monkeypatch.setattr(spill, "spilled_count", spy)
    for extra in ([], ["--effective-bits"]):
        args = ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "8", "--precision", "10",
                "--json", *extra]
        local = CliRunner().invoke(witness, args, catch_exceptions=False)
        spilled = CliRunner().invoke(witness, [*args, "--spill-dir", str(tmp_path)], catch_exceptions=False)
        assert local.exit_code == spilled.exit_code == 0, spilled.output
        a, b = json.loads(local.stdout), json.loads(spilled.stdout)
        a.pop("seconds"), b.pop("seconds")
        assert a == b
    assert seen == [("in-process", str(tmp_path))] * 2
    assert list(tmp_path.iterdir()) == []


def test_effective_bits_spilled_equals_in_memory(small_pieces):
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model

    setup = resolve_task("disjointness", 12)
    model = witness_model(setup, "rnn", hidden=8, precision=10)[0].model
    a = effective_bits(setup.reduction, model)
    b = effective_bits(setup.reduction, model, executor=Executor())
    assert a.applicable and b.applicable
    assert (a.distinct_messages, a.effective_bits, a.exact) == (b.distinct_messages, b.effective_bits, b.exact)


# ---- on a local Dask cluster of 2 worker processes ---------------------------------

@pytest.mark.timeout(300)
def test_witness_on_two_workers_equals_in_process(cluster, monkeypatch):
    from commlb.cli.witness import witness

    monkeypatch.setattr(spill, "CHUNK", 1 << 10)  # several chunks and partitions
    monkeypatch.setattr(spill, "PARTITION", 1 << 9)
    for args in (["--task", "index-lookup", "--model", "rnn", "--n", "12", "--hidden", "2", "--precision", "4"],
                 ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "4", "--precision", "20",
                  "--weights", "random"],
                 ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "16", "--precision", "16",
                  "--effective-bits"]):
        local = CliRunner().invoke(witness, [*args, "--json"], catch_exceptions=False)
        spread = CliRunner().invoke(witness, [*args, "--json", "--scheduler", cluster.address],
                                    catch_exceptions=False)
        assert local.exit_code == 0 and spread.exit_code == 0, (local.output, spread.output)
        a, b = json.loads(local.stdout), json.loads(spread.stdout)
        a.pop("seconds"), b.pop("seconds")
        assert a == b
        # the estimate before the run: inputs, chunks, partitions, workers, time and spill
        assert "dask: 4,096 inputs in 4 chunks and 8 partitions on 2 worker(s), about" in spread.stderr
        assert "48 KiB spilled to" in spread.stderr and "dask:" not in local.stderr


@pytest.mark.timeout(300)
def test_witness_spill_dir_on_two_workers(cluster, monkeypatch, tmp_path):
    from commlb.cli.witness import witness

    monkeypatch.setattr(spill, "CHUNK", 1 << 10)
    args = ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "8", "--precision", "10", "--json"]
    local = CliRunner().invoke(witness, args, catch_exceptions=False)
    spread = CliRunner().invoke(witness, [*args, "--scheduler", cluster.address, "--spill-dir", str(tmp_path)],
                                catch_exceptions=False)
    assert local.exit_code == spread.exit_code == 0, spread.output
    a, b = json.loads(local.stdout), json.loads(spread.stdout)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert f"spilled to {tmp_path}" in spread.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.timeout(300)
def test_search_witness_runs_its_tasks_on_the_workers(cluster, monkeypatch, tmp_path):
    """The chunks really ran on the cluster: the workers' spill tasks show in its log (the
    spill asked for: at this size, on a busy machine, one task in memory may be estimated
    faster)."""
    monkeypatch.setattr(spill, "CHUNK", 1 << 10)
    task, family, n, options = CASES[1]
    local = find_witness(task, family, n, **options)
    spread = find_witness(task, family, n, executor=cluster, spill_dir=str(tmp_path), **options)
    assert _json(spread) == _json(local)
    names = set(cluster._client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes)))
    assert {"enumerate_chunk", "count_partition"} <= names


def test_search_witness_spill_path_is_a_choice():
    """Without an executor the search does not spill (the in-memory path is unchanged)."""
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model

    setup = resolve_task("index-lookup", 10)
    model = witness_model(setup, "rnn", hidden=2, precision=4)[0].model
    calls = []

    class Spy(Executor):
        def map_chunks(self, fn, chunks, progress=None, shared=()):
            calls.append(fn.__name__)
            return super().map_chunks(fn, chunks, progress, shared)

    a = search_witness(setup.reduction, model)
    b = search_witness(setup.reduction, model, executor=Spy())
    assert calls == ["_enumerate_chunk", "_count_partition"]
    assert _json(a) == _json(b)


# ---- the whole count in memory on one worker, when it fits ---------------------------

class _FakeCluster(Executor):
    """What count_plan reads of a cluster, without one: workers, threads, memory limit."""

    def __init__(self, workers, threads, memory):
        super().__init__("scheduler", workers=workers, task_threads=threads)
        self._memory = memory

    @property
    def distributed(self):
        return True

    def worker_memory(self):
        return self._memory


def test_count_plan_in_memory_only_when_it_fits_and_pays():
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model
    from commlb.witness.search import _bytes_needed
    from commlb.witness.sources import message_source

    setup = resolve_task("disjointness", 16)
    model = witness_model(setup, "rnn", hidden=16, precision=16)[0].model
    source = message_source(setup.reduction, model)
    need = _bytes_needed(source.n_inputs)
    roomy = need / spill.WORKER_MEMORY_FRACTION * 1.01
    one = spill.count_plan(source, _FakeCluster(1, 2, int(roomy)))
    assert one.in_memory and "thread" in one.text
    # memory: a limit just too small, or the in-process cap, sends it to the spill
    assert not spill.count_plan(source, _FakeCluster(1, 2, int(roomy / 1.02))).in_memory
    # asked for a spill (a directory), or in process: spilled
    assert not spill.count_plan(source, _FakeCluster(1, 2, None), directory="/tmp").in_memory
    assert not spill.count_plan(source, Executor()).in_memory
    # many workers: the spilled count's share of each beats one worker's whole count
    many = spill.count_plan(source, _FakeCluster(64, 1, None))
    assert not many.in_memory and many.seconds < one.seconds
    # the estimate of each is the one chosen: CPU spread over the workers, plus each
    # worker's first task (a remote cluster: its load is not known here)
    assert many.seconds == pytest.approx(many.cpu / 64 + spill._first_task_seconds())


def test_estimate_counts_worker_start_and_the_machine_load(monkeypatch):
    """A local cluster on a busy machine: each task gets its share of the cores, and the
    sentence says how much; every worker's first task adds its start."""
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model
    from commlb.witness.sources import message_source

    setup = resolve_task("disjointness", 14)
    model = witness_model(setup, "rnn", hidden=16, precision=16)[0].model
    source = message_source(setup.reduction, model)
    cluster = _FakeCluster(2, 1, None)
    cluster.kind = "local-cluster"
    monkeypatch.setattr(spill.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(spill.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(spill, "_kernel_seconds", lambda source, n: 10.0)  # the probe, fixed
    idle = spill.count_plan(source, cluster, directory="/tmp")
    first = spill._first_task_seconds()
    assert idle.cpu == 10.0 * spill.ROUNDS_PER_KERNEL
    assert idle.seconds == pytest.approx(idle.cpu / 2 + first) and "busy" not in idle.text
    assert f"{first:.1f} s a worker to start" in idle.text
    monkeypatch.setattr(spill.os, "getloadavg", lambda: (6.0, 6.0, 6.0))  # 2 tasks + 6 others on 2 cores
    busy = spill.count_plan(source, cluster, directory="/tmp")
    assert busy.seconds == pytest.approx((busy.cpu / 2 + first) * 4)
    assert busy.idle_seconds == pytest.approx(busy.cpu / 2 + first)  # what a refusal is decided on
    assert spill.estimate(source, cluster, "/tmp")[0] == pytest.approx(busy.cpu / 2 + first)
    assert "load 6.0 on 2 cores): about 0.25 of a core a task" in busy.text


def test_first_task_start_is_longer_without_bytecode(monkeypatch):
    import importlib.util

    assert spill._first_task_seconds() in (spill.FIRST_TASK_SECONDS, spill.FIRST_TASK_SECONDS_NO_BYTECODE)
    monkeypatch.setattr(importlib.util, "cache_from_source", lambda path: path + ".no-such-file")
    assert spill._first_task_seconds() == spill.FIRST_TASK_SECONDS_NO_BYTECODE


@pytest.mark.timeout(300)
def test_one_worker_counts_in_memory_with_the_same_json(monkeypatch, tmp_path):
    """--workers 1: the count runs whole, in memory on the worker (no spill files), with the
    JSON of the in-process run and of the spilled run on the same worker."""
    from commlb.cli.witness import witness
    from commlb.execution import make_executor

    monkeypatch.setattr(spill, "CHUNK", 1 << 10)
    with make_executor(1) as one:
        for args in (["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "4", "--precision",
                      "20", "--weights", "random"],
                     ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "8", "--precision", "10"],
                     ["--task", "disjointness", "--model", "rnn", "--n", "12", "--hidden", "16", "--precision",
                      "16", "--effective-bits"]):
            args = [*args, "--json"]
            local = CliRunner().invoke(witness, args, catch_exceptions=False)
            whole = CliRunner().invoke(witness, [*args, "--scheduler", one.address], catch_exceptions=False)
            spilled = CliRunner().invoke(witness, [*args, "--scheduler", one.address, "--spill-dir", str(tmp_path)],
                                         catch_exceptions=False)
            assert local.exit_code == whole.exit_code == spilled.exit_code == 0, (whole.output, spilled.output)
            outs = [json.loads(r.stdout) for r in (local, whole, spilled)]
            for out in outs:
                out.pop("seconds")
            assert outs[0] == outs[1] == outs[2]
            assert "counted in memory on one worker" in whole.stderr and "spilled to" not in whole.stderr
            assert "spilled to" in spilled.stderr
        names = set(one._client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes)))
    assert {"count_in_memory", "enumerate_chunk", "count_partition"} <= names
