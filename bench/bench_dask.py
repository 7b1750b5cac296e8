"""Benchmark: the same work in process and on a local Dask cluster of 1 and 2 workers.

Side by side in one run (nothing here asserts a speed):

* ``sweep`` — :func:`commlb.sweep.run_sweep` over ``--sweep-n`` for rnn and transformer
  (default 8..1024x2: 16 points), ``--max-seconds 0`` (no wall-clock budget, so every
  run does the same work), in process, then on the executor;
* ``count`` — the distinct-message count of an RNN (d = 16, p = 16, the disjointness
  construction) over all 2^``--count-n`` inputs of Alice: in process (keys in memory,
  one sort; the prefix-tree kernel itself runs on all cores through numba's prange) and
  spilled (:mod:`commlb.witness.spill`: partitioned by hash, sorted per partition).

* ``partition sort`` — what a count task does with one partition of 2^22 keys: the
  stable ``argsort`` with runs found by NumPy (the previous path) beside the in-place
  radix sort with its run summary (:func:`commlb.witness.search.sorted_runs`), one core.

Each line gives wall time, the CPU time of this process and of the workers (their
``getrusage``), the ratio to in process, peak resident memory (this process, the largest
worker) and the 1-minute load average.  The count is also run in process with numba
limited to one thread (``numba.set_num_threads(1)``): the kernel alone, one core, for
the comparison with single-threaded workers.  The clusters are started before timing
(their start-up is printed on its own line) and warmed up on one small chunk of the
same work (numba's cached kernels loaded in each worker).  On a shared machine the wall
times move with the load; the CPU times say how much work was done.

Goals (issue 14): 2 workers at least 1.7x in process on the sweep and on a 2^28 count;
``--workers 1`` within 10% of in process on a minute of work.

Run:  .venv/bin/python bench/bench_dask.py [--sweep-n 8..1024x2] [--sweep-trials 8] [--sweep-repeat 1]
      [--count-n 24]
      [--skip-sweep] [--skip-count] [--skip-partition]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _harness import machine_line  # noqa: E402


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _worker_peak(reset: bool = False) -> int:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak
    across fork and exec); ``reset`` starts a new peak (Linux: clear_refs 5)."""
    if reset:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass
        return 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> int:
    return _worker_peak(True)


def _measure(label: str, fn, executor=None) -> dict:
    _reset_peak()
    if executor is not None and executor.distributed:
        executor._client.run(_reset_peak)
    workers_before = sum(executor._client.run(_worker_cpu).values()) if executor is not None and \
        executor.distributed else 0.0
    c0, t0 = time.process_time(), time.perf_counter()
    result = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    workers = (sum(executor._client.run(_worker_cpu).values()) - workers_before) if executor is not None and \
        executor.distributed else 0.0
    peaks = list(executor._client.run(_worker_peak).values()) if executor is not None and executor.distributed \
        else []
    return {"label": label, "wall": wall, "cpu": cpu, "workers_cpu": workers, "result": result,
            "peak_here": _worker_peak(), "peak_workers": max(peaks, default=0), "load": os.getloadavg()[0]}


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    base = rows[0]["wall"]
    for r in rows:
        print(f"  {r['label']:<34} {r['wall']:8.2f} s wall {r['cpu']:7.2f} s cpu here "
              f"{r['workers_cpu']:7.2f} s cpu workers  {base / r['wall']:5.2f}x   peak RSS "
              f"{r['peak_here'] / 2**30:.2f} GiB here, {r['peak_workers'] / 2**30:.2f} GiB a worker; "
              f"load {r['load']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep-n", default="8..1024x2")
    ap.add_argument("--count-n", type=int, default=24)
    ap.add_argument("--sweep-trials", type=int, default=8, help="trials per point (more: a longer sweep)")
    ap.add_argument("--sweep-repeat", type=int, default=1,
                    help="time the sweep this many times on each cluster (the first pays each worker's first "
                         "calls of every point's code)")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--skip-count", action="store_true")
    ap.add_argument("--skip-partition", action="store_true")
    args = ap.parse_args()
    print(machine_line())
    print(f"load average at start: {os.getloadavg()}")

    from commlb.execution import make_executor
    from commlb.setup import resolve_task
    from commlb.sweep import parse_n_values, run_sweep
    from commlb.witness.find import witness_model
    from commlb.witness.search import count_distinct, key_runs, sorted_runs
    from commlb.witness.sources import message_source
    from commlb.witness.spill import count_plan, spilled_count

    ns = parse_n_values(args.sweep_n)
    sweep_kw = {"trials": args.sweep_trials, "instances": 3, "seed": 0, "max_seconds": 0.0}
    setup = resolve_task("disjointness", args.count_n)
    model = witness_model(setup, "rnn", hidden=16, precision=16)[0].model
    source = message_source(setup.reduction, model)
    small_setup = resolve_task("disjointness", 12)  # the same kernels on 2^12 inputs, to warm the workers up
    small = message_source(small_setup.reduction, witness_model(small_setup, "rnn", hidden=16, precision=16)[0].model)

    def in_memory() -> int:  # what witness does in process: keys in memory, radix-sorted in place
        keys = source.keys_tree(0, source.n_inputs)
        order, starts, lengths, runs, members, _ = sorted_runs(keys, source.backend)
        return count_distinct(source, source.leaves_to_digits, order, starts, lengths, runs=runs,
                              members=members)[0]

    if not args.skip_partition:
        part = source.keys_tree(0, min(source.n_inputs, 1 << 22))
        leaves = np.arange(part.size, dtype=np.int64)
        sorted_runs(part[:1000].copy(), source.backend)  # compiled or loaded from the cache

        def with_argsort() -> int:
            order, starts, _ = key_runs(part)
            leaves[order]
            return int(starts.size)

        def with_radix() -> int:
            keys = part.copy()
            order, _, _, runs, _, _ = sorted_runs(keys, source.backend)
            leaves[order]
            return runs

        sorts = [_measure("argsort + key_runs", with_argsort), _measure("radix sorted_runs", with_radix)]
        print(f"\npartition sort, {part.size:,} keys (runs: {sorts[0]['result']:,} / {sorts[1]['result']:,})")
        for r in sorts:
            print(f"  {r['label']:<22} {r['wall']:9.2f} s wall  {r['cpu']:8.2f} s cpu   "
                  f"{sorts[0]['wall'] / r['wall']:5.2f}x argsort")

    sweeps: list[dict] = []
    counts: list[dict] = []
    if not args.skip_sweep:
        run_sweep("index-lookup", ["rnn", "transformer"], ns[:1], **sweep_kw)  # warm-up
        sweeps.append(_measure("in process", lambda: run_sweep("index-lookup", ["rnn", "transformer"], ns,
                                                                 **sweep_kw)))
    if not args.skip_count:
        import numba

        source.keys_tree(0, 1 << 12)
        counts.append(_measure("in process", in_memory))
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        counts.append(_measure("in process, 1 numba thread", in_memory))
        numba.set_num_threads(threads)
    for workers in (1, 2) if not (args.skip_sweep and args.skip_count) else ():
        t0 = time.perf_counter()
        with make_executor(workers) as executor:
            print(f"cluster of {workers}: started in {time.perf_counter() - t0:.1f} s", flush=True)
            if not args.skip_sweep:
                run_sweep("index-lookup", ["rnn", "transformer"], ns[:2], executor=executor, **sweep_kw)
                for again in range(args.sweep_repeat):
                    label = f"{workers} worker(s)" + (f", run {again + 1}" if args.sweep_repeat > 1 else "")
                    sweeps.append(_measure(label, lambda: run_sweep(
                        "index-lookup", ["rnn", "transformer"], ns, executor=executor, **sweep_kw), executor))
            if not args.skip_count:
                spilled_count(small, executor, chunk=1 << 10)  # warm-up: kernels loaded on every worker
                spilled_count(small, executor, chunk=1 << 10, directory=tempfile.gettempdir())
                how = "in memory on one worker" if count_plan(source, executor).in_memory else "spilled"
                counts.append(_measure(f"{workers} worker(s), {how}", lambda: spilled_count(source, executor).distinct,
                                       executor))
                if how != "spilled":  # the spilled count on the same cluster, for the comparison
                    counts.append(_measure(f"{workers} worker(s), spilled", lambda: spilled_count(
                        source, executor, directory=tempfile.gettempdir()).distinct, executor))
    if sweeps:
        def rows(r: dict) -> list:
            return [{k: v for k, v in row.to_json().items() if k != "seconds"} for row in r["result"].rows]
        same = all(rows(s) == rows(sweeps[0]) for s in sweeps[1:])
        print(f"\nsweep rows identical everywhere (timings aside): {same}")
        seconds = sorted((row.seconds for row in sweeps[0]["result"].rows), reverse=True)
        loads = [0.0, 0.0]  # the points, largest first, each to the less loaded of two workers
        for t in seconds:
            loads[loads.index(min(loads))] += t
        print(f"in process: the points took {sum(seconds):.2f} s, the largest {seconds[0]:.2f} s; two workers "
              f"(largest first, no overhead) at best {sum(seconds) / max(loads):.2f}x")
        _print(f"sweep index-lookup rnn,transformer --n {args.sweep_n} ({len(ns) * 2} points, --max-seconds 0)",
               sweeps)
    if counts:
        values = {r["label"]: r["result"] for r in counts}
        _print(f"distinct messages over 2^{args.count_n} inputs (RNN d=16 p=16): {values}", counts)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
