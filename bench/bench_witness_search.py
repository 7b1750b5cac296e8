"""Benchmark: the whole exhaustive witness search against its enumeration kernel, and the
key sort before and after the in-place radix sort, with peak memory.

For ``commlb witness --task disjointness --model rnn --n N --hidden 16 --precision 16``,
each size runs in a fresh child process (so its peak RSS is its own) and prints:

* ``kernel`` — enumerating all 2^N message keys (``MessageSource.keys_tree`` in blocks,
  what bench/bench_witness.py times);
* ``grouper`` — what the search now does with them: :class:`commlb.kernels.keysort.RunGrouper`
  (each chunk grouped by the top bits of its mixed keys, then in-cache hash tables per group,
  in parallel; measured here on the keys already enumerated);
* ``radix`` — :func:`commlb.witness.search.sorted_runs` on those keys (in-place sort of
  keys and 32-bit indices, 12 bytes per input) and ``argsort`` — the previous
  :func:`commlb.witness.search.key_runs` (stable argsort and a gathered copy, 24 bytes per
  input) on a copy of the same keys;
* ``whole`` — :func:`commlb.witness.find_witness` end to end, and the child's peak RSS
  (``resource.getrusage``) when run alone.

Wall and CPU seconds are printed side by side (the machine may be shared).  Goal: the
whole command within 2x the kernel, at most 16 bytes per input.

``--grouping``: instead, the grouping alone (:class:`commlb.kernels.keysort.RunGrouper` over
chunks of 2^21 keys, first touch of its arrays included, the least CPU of three runs) on
three kinds of keys: all distinct, most inputs sharing their message with another, and 256
distinct messages (the whole-array radix sort it falls back to): the derivation of
``commlb.witness.spill.SORT_SECONDS_PER_KEY``.

Run:  .venv/bin/python bench/bench_witness_search.py [--sizes 22,24] [--threads T] [--grouping]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def _timed(fn):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def child(n: int, mode: str) -> None:
    import resource

    import numpy as np

    from commlb.witness import find_witness

    if mode == "whole":
        find_witness("disjointness", "rnn", 13, hidden=16, precision=16)  # numba cache load (2^13: compiled path)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        res, wall, cpu = _timed(lambda: find_witness("disjointness", "rnn", n, hidden=16, precision=16,
                                                            exhaustive=True))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(f"whole {wall:.3f} {cpu:.3f} {peak * 1024} {base * 1024} {int(res.found)} {res.distinct_messages}")
        return
    from commlb.kernels.keysort import RunGrouper
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model
    from commlb.witness.search import _BLOCK, MAX_MULTI_RUNS, MAX_RUN_MEMBERS, key_runs, sorted_runs
    from commlb.witness.sources import message_source

    setup = resolve_task("disjointness", n)
    built, _ = witness_model(setup, "rnn", weights=None, hidden=16, layers=None, heads=None, width=None,
                             precision=16, arith="fixed", seed=0)
    source = message_source(setup.reduction, built.model, None, backend="numba")
    source.keys_tree(0, 16)
    N = source.n_inputs

    def enumerate_keys() -> np.ndarray:
        keys = np.empty(N, dtype=np.uint64)
        for lo in range(0, N, _BLOCK):
            keys[lo:lo + _BLOCK] = source.keys_tree(lo, min(N, lo + _BLOCK))
        return keys

    keys, wall, cpu = _timed(enumerate_keys)
    print(f"kernel {wall:.3f} {cpu:.3f}")
    copy, copy2 = keys.copy(), keys.copy()
    warm = RunGrouper(1024)
    warm.add(0, keys[:1024].copy())
    warm.runs(16, 1 << 10)  # numba cache load
    sorted_runs(keys[:1024].copy())

    def grouped() -> tuple:
        g = RunGrouper(N)
        for lo in range(0, N, _BLOCK):
            g.add(lo, copy2[lo:lo + _BLOCK])
        return g.runs(min(MAX_MULTI_RUNS, N // 2 + 1), MAX_RUN_MEMBERS)

    grp, wall, cpu = _timed(grouped)
    print(f"grouper {wall:.3f} {cpu:.3f} {grp[3]}")
    out, wall, cpu = _timed(lambda: sorted_runs(keys))
    print(f"radix {wall:.3f} {cpu:.3f} {out[3]}")
    old, wall, cpu = _timed(lambda: key_runs(copy))
    print(f"argsort {wall:.3f} {cpu:.3f} {old[1].size}")
    assert old[1].size == out[3] == grp[3]


def grouping(n: int) -> None:
    import numba
    import numpy as np

    from commlb.kernels.keysort import RunGrouper
    from commlb.witness.search import _BLOCK, MAX_MULTI_RUNS, MAX_RUN_MEMBERS

    N = 1 << n
    rng = np.random.default_rng(3)
    cases = {"distinct": rng.integers(0, 2**63, N, dtype=np.uint64),
             "pairs": rng.integers(0, N // 2, N).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15),
             "256 keys": rng.integers(0, 256, N).astype(np.uint64)}
    for keys in cases.values():  # numba cache load
        warm = RunGrouper(1 << 12)
        warm.add(0, keys[:1 << 12].copy())
        warm.runs(16, 1 << 10)
    print(f"grouping 2^{n} keys, numba threads {numba.get_num_threads()}")
    for name, keys in cases.items():
        runs = []
        for _ in range(3):
            t, c = time.perf_counter(), time.process_time()
            g = RunGrouper(N)
            for lo in range(0, N, _BLOCK):
                g.add(lo, keys[lo:lo + _BLOCK].copy())
            g.runs(min(MAX_MULTI_RUNS, N // 2 + 1), MAX_RUN_MEMBERS)
            runs.append((time.process_time() - c, time.perf_counter() - t))
            del g
        best = min(runs)
        print(f"  {name:<9} CPU {best[0]:.3f} s ({best[0] / N * 1e9:.1f} ns a key), wall {best[1]:.3f} s "
              f"({best[1] / N * 1e9:.1f} ns a key); CPU of each run: {' '.join(f'{r[0]:.3f}' for r in runs)}; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="22,24")
    parser.add_argument("--threads", type=int, default=0,
                        help="numba threads of the measured processes (NUMBA_NUM_THREADS; default: numba's)")
    parser.add_argument("--grouping", action="store_true", help="the grouping alone on three kinds of keys")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.grouping:
        for n in [int(s) for s in args.sizes.split(",")]:
            subprocess.run([sys.executable, __file__, "--child", str(n), "grouping"], check=True,
                           env=dict(os.environ, **({"NUMBA_NUM_THREADS": str(args.threads)} if args.threads else {})))
        return
    if args.child:
        if args.child[1] == "grouping":
            grouping(int(args.child[0]))
            return
        child(int(args.child[0]), args.child[1])
        return
    env = dict(os.environ)
    if args.threads:
        env["NUMBA_NUM_THREADS"] = str(args.threads)
    print("witness --task disjointness --model rnn --hidden 16 --precision 16 (exhaustive); numba threads: "
          + (str(args.threads) if args.threads else "default"))
    print(f"{'n':>3} {'what':>8} {'wall s':>8} {'CPU s':>8}  note")
    for n in [int(s) for s in args.sizes.split(",")]:
        for mode in ("parts", "whole"):
            out = subprocess.run([sys.executable, __file__, "--child", str(n), mode], capture_output=True, text=True,
                                 check=True, env=env).stdout.split("\n")
            parts = {line.split()[0]: line.split()[1:] for line in out if line.strip()}
            if mode == "parts":
                k = parts["kernel"]
                print(f"{n:>3} {'kernel':>8} {float(k[0]):>8.3f} {float(k[1]):>8.3f}", flush=True)
                for name in ("grouper", "radix", "argsort"):
                    p = parts[name]
                    print(f"{n:>3} {name:>8} {float(p[0]):>8.3f} {float(p[1]):>8.3f}  {p[2]} distinct keys; "
                          f"{float(p[0]) / 2**n * 1e9:.1f} ns wall, {float(p[1]) / 2**n * 1e9:.1f} ns CPU a key",
                          flush=True)
                kernel_wall, kernel_cpu = float(k[0]), float(k[1])
            else:
                w = parts["whole"]
                wall, cpu, peak, base = float(w[0]), float(w[1]), int(w[2]), int(w[3])
                extra = (peak - base) / 2**n
                print(f"{n:>3} {'whole':>8} {wall:>8.3f} {cpu:>8.3f}  {wall / kernel_wall:.2f}x kernel wall, "
                      f"{cpu / kernel_cpu:.2f}x kernel CPU; peak RSS {peak / 2**20:.0f} MiB, "
                      f"{extra:.1f} bytes per input above the start; found={w[4]} (load average "
                      f"{os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
