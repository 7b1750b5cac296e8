"""Benchmark: the maximum fooling-set search with and without the orbit loop
(docs/theory.md §5.2.4) on structured matrices, side by side in one process.

For each problem (DISJ_n, IP_n, EQ_n, GT_n) and output value, :func:`max_fooling_set`
runs with ``symmetry=True`` and ``symmetry=False`` (same time limit), printing size,
certified interval, nodes, wall and CPU seconds (CPU of the whole process, all threads),
and the orbits when the loop ran.  The load average is printed at the start and end
(the machine may be shared).  A warm-up call loads the compiled kernels first.

Run:  .venv/bin/python bench/bench_fooling_symmetry.py [--n 5,6] [--problems disj,ip,eq,gt]
      [--time-limit 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _matrix(name: str, n: int) -> np.ndarray:
    x = np.arange(1 << n)
    if name == "disj":
        return ((x[:, None] & x[None, :]) == 0).astype(np.int64)
    if name == "ip":
        a = x[:, None] & x[None, :]
        pc = np.zeros_like(a)
        for b in range(n):
            pc += (a >> b) & 1
        return (pc & 1).astype(np.int64)
    if name == "eq":
        return np.eye(1 << n, dtype=np.int64)
    if name == "gt":
        return (x[:, None] > x[None, :]).astype(np.int64)
    raise SystemExit(f"unknown problem {name!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="5,6")
    ap.add_argument("--problems", default="disj,ip,eq,gt")
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    from commlb.bounds.fooling import max_fooling_set, verify_fooling_set

    max_fooling_set(_matrix("disj", 2), 0)  # load the compiled kernels
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'case':<12} {'mode':<5} {'size':>4} {'upper':>5} {'nodes':>10} {'wall s':>8} {'CPU s':>8}  orbits")
    for n in (int(v) for v in args.n.split(",")):
        for name in args.problems.split(","):
            M = _matrix(name, n)
            for value in (0, 1):
                for sym in (True, False):
                    w0, c0 = time.perf_counter(), time.process_time()
                    r = max_fooling_set(M, value, time_limit=args.time_limit, symmetry=sym)
                    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                    assert verify_fooling_set(M, value, r.pairs)
                    print(f"{name}_{n} z={value:<3} {'sym' if sym else 'plain':<5} {r.size:>4} {r.upper:>5} "
                          f"{r.nodes:>10,} {wall:>8.3f} {cpu:>8.3f}  {r.symmetry or '-'}", flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
