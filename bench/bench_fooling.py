"""Benchmark: maximum fooling set of random square 0/1 matrices (value 1).

Candidates, on the same compatibility graph (vertices: the 1-entries; edges: entries that
fool each other):

* commlb — :func:`commlb.bounds.fooling.max_fooling_set` (bitset branch and bound, numba);
  the time includes building the graph;
* networkx — ``networkx.algorithms.clique.max_weight_clique(G, weight=None)`` on the graph
  built by :func:`commlb.bounds.fooling.compatibility_graph` (graph construction not
  timed).  It runs in a child process capped at ``--cap`` seconds (default 60); when the cap
  is hit the ratio printed is a lower bound (">=").

Goal: a random 32 x 32 in under 1 s median over 10 seeds, 40 x 40 under 30 s.  Per size the
median time and nodes over the seeds are printed with the load average (the machine may be
shared); networkx runs on the first ``--nx-seeds`` seeds only.

Run:  .venv/bin/python bench/bench_fooling.py [--sizes 24,28,32,40] [--seeds 10] [--cap 60]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from _harness import machine_line  # noqa: E402
except ImportError:  # pragma: no cover - the harness belongs to another module of the bench suite
    import platform

    def machine_line() -> str:
        return f"python {sys.version.split()[0]}, {platform.machine()}, {platform.platform()}"


def _networkx_worker(adj: np.ndarray, queue: mp.Queue) -> None:
    import networkx as nx

    G = nx.from_numpy_array(adj.astype(np.uint8))
    t0 = time.perf_counter()
    clique, weight = nx.algorithms.clique.max_weight_clique(G, weight=None)
    queue.put((time.perf_counter() - t0, len(clique)))


def run_networkx(adj: np.ndarray, cap: float) -> tuple[float, int | None]:
    """(seconds, clique size) or (cap, None) when the cap was hit."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_networkx_worker, args=(adj, queue))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return cap, None
    seconds, size = queue.get()
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="24,28,32,40")
    parser.add_argument("--seeds", type=int, default=10, help="instances per size")
    parser.add_argument("--nx-seeds", type=int, default=1, help="instances per size also given to networkx")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds allowed to networkx")
    parser.add_argument("--limit", type=float, default=120.0, help="time limit given to commlb")
    args = parser.parse_args()

    from commlb.bounds.fooling import compatibility_graph, max_fooling_set, verify_fooling_set

    print("maximum 1-fooling set of random n x n 0/1 matrices (uniform entries)")
    print(machine_line())
    max_fooling_set(np.eye(4, dtype=np.int64), 1)  # numba warm-up (cache load / compile)
    print(f"{'n':>3} {'seed':>4} {'|V|':>5} {'commlb s':>9} {'size':>5} {'exact':>5} {'nodes':>10} "
          f"{'networkx s':>11} {'nx size':>7}  ratio nx/commlb")
    import os

    for n in [int(s) for s in args.sizes.split(",")]:
        times, nodes = [], []
        for seed in range(args.seeds):
            M = np.random.default_rng(1000 * n + seed).integers(0, 2, (n, n))
            t0 = time.perf_counter()
            res = max_fooling_set(M, 1, time_limit=args.limit)
            ours = time.perf_counter() - t0
            assert verify_fooling_set(M, 1, res.pairs)
            times.append(ours)
            nodes.append(res.nodes)
            _, _, adj = compatibility_graph(M, 1)
            nx_col, nx_size, ratio = "-", None, ""
            if seed < args.nx_seeds:
                nx_s, nx_size = run_networkx(adj, args.cap)
                if nx_size is None:
                    ratio = f">= {nx_s / ours:.1f}x (networkx hit the {args.cap:.0f} s cap)"
                    nx_col = f"> {nx_s:.0f}"
                else:
                    ratio = f"{nx_s / ours:.1f}x"
                    nx_col = f"{nx_s:.3f}"
                    if res.exact and nx_size != res.size:
                        ratio += f"  MISMATCH: networkx {nx_size} vs commlb {res.size}"
            print(f"{n:>3} {seed:>4} {adj.shape[0]:>5} {ours:>9.3f} {res.size:>5} {str(res.exact):>5} "
                  f"{res.nodes:>10} {nx_col:>11} {str(nx_size or '-'):>7}  {ratio}", flush=True)
        print(f"{n:>3} median {float(np.median(times)):.3f} s, {int(np.median(nodes))} nodes over {args.seeds} seeds "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)

if __name__ == "__main__":
    main()
