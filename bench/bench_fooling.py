"""Benchmark: maximum fooling set of random square 0/1 matrices (value 1).

Candidates, on the same compatibility graph (vertices: the 1-entries; edges: entries that
fool each other):

* commlb — :func:`commlb.bounds.fooling.max_fooling_set` (bitset branch and bound, numba);
  the time includes building the graph;
* networkx — ``networkx.algorithms.clique.max_weight_clique(G, weight=None)`` on the graph
  built by :func:`commlb.bounds.fooling.compatibility_graph` (graph construction not
  timed).  It runs in a child process capped at ``--cap`` seconds (default 60); when the cap
  is hit the ratio printed is a lower bound (">=").

Each instance runs once per configuration (``--configs``): ``default``; ``flat`` (no
renumbered subtrees: ``compact=0, reorder=False``); ``rows`` (the row-grouped vertex order
of earlier versions); ``t1`` / ``t2`` (root branches on 1 / 2 threads; ``default`` takes the
cores free at the time), with wall and CPU times and the CPU ratio to the first.  A run the
time limit stops shows its certified interval [size, upper].

Goal: a random 32 x 32 in under 1 s median over 10 seeds, 40 x 40 under 30 s.  Per size the
median time and nodes over the seeds are printed with the load average (the machine may be
shared); networkx runs on the first ``--nx-seeds`` seeds only.

``--dimacs DIR`` also writes each instance's compatibility graph to ``DIR/n<n>_s<seed>.clq``
(DIMACS edge format, vertices numbered from 1), so that a maximum-clique solver written
elsewhere can be timed on the same graphs (docs/design.md §10.1 lists such times).

Run:  .venv/bin/python bench/bench_fooling.py [--sizes 24,28,32,40] [--seeds 10] [--cap 60]
      [--configs default,flat] [--dimacs DIR]
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


def write_dimacs(adj: np.ndarray, path: Path) -> None:
    """The graph ``adj`` (boolean, symmetric) in DIMACS edge format."""
    a, b = np.nonzero(np.triu(adj, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write(f"p edge {adj.shape[0]} {len(a)}\n")
        f.write("".join(f"e {x + 1} {y + 1}\n" for x, y in zip(a.tolist(), b.tolist())))


def timed(fn):  # type: ignore[no-untyped-def]
    """(result, wall seconds, CPU seconds of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="24,28,32,40")
    parser.add_argument("--seeds", type=int, default=10, help="instances per size")
    parser.add_argument("--nx-seeds", type=int, default=1, help="instances per size also given to networkx")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds allowed to networkx")
    parser.add_argument("--limit", type=float, default=120.0, help="time limit given to commlb")
    parser.add_argument("--configs", default="default",
                        help="configurations of commlb to run side by side: default, flat, rows, t1, t2, "
                             "nocopy2")
    parser.add_argument("--dimacs", default=None, help="write each graph in DIMACS format into this folder")
    args = parser.parse_args()

    from commlb.bounds.fooling import compatibility_graph, max_fooling_set, verify_fooling_set

    configs = {"default": {}, "flat": {"compact": 0, "reorder": False}, "rows": {"vertex_order": "rows"},
               "t1": {"threads": 1}, "t2": {"threads": 2}, "nocopy2": {"compact2": 0}}
    orders = args.configs.split(",")
    for o in orders:
        if o not in configs:
            parser.error(f"unknown configuration {o!r} (choose from {', '.join(configs)})")
    print("maximum 1-fooling set of random n x n 0/1 matrices (uniform entries)")
    print(machine_line())
    print("wall and CPU seconds per run (CPU = this process; the machine may be shared)")
    for threads in (1, 2):  # numba warm-up (cache load / compile) of every path a search takes
        max_fooling_set(np.random.default_rng(0).integers(0, 2, (14, 14)), 1, threads=threads)
    head = "".join(f" {o[:6] + ' wall':>11} {'cpu':>7} {'nodes':>9}" for o in orders)
    print(f"{'n':>3} {'seed':>4} {'|V|':>5} {'size':>4} {'exact':>5}{head} {'networkx s':>11}  ratios")
    import os

    for n in [int(s) for s in args.sizes.split(",")]:
        stats: dict[str, list[tuple[float, float, int]]] = {o: [] for o in orders}
        for seed in range(args.seeds):
            M = np.random.default_rng(1000 * n + seed).integers(0, 2, (n, n))
            cols, sizes, exacts = "", set(), []
            first_wall = first_cpu = 0.0
            for o in orders:
                res, wall, cpu = timed(lambda o=o: max_fooling_set(M, 1, time_limit=args.limit, **configs[o]))
                assert verify_fooling_set(M, 1, res.pairs)
                stats[o].append((wall, cpu, res.nodes))
                cols += f" {wall:>11.3f} {cpu:>7.3f} {res.nodes:>9}"
                if not res.exact:
                    cols += f" [{res.size},{res.upper}]"
                if res.exact:
                    sizes.add(res.size)
                exacts.append(res.exact)
                if o == orders[0]:
                    first_wall, first_cpu, size = wall, cpu, res.size
            ratios = "  ".join(f"{o}/{orders[0]} wall {stats[o][-1][0] / max(first_wall, 1e-9):.2f}x "
                               f"cpu {stats[o][-1][1] / max(first_cpu, 1e-9):.2f}x" for o in orders[1:])
            if len(sizes) > 1:
                ratios += f"  MISMATCH between orders: {sorted(sizes)}"
            _, _, adj = compatibility_graph(M, 1)
            if args.dimacs:
                write_dimacs(adj, Path(args.dimacs) / f"n{n}_s{seed}.clq")
            nx_col = "-"
            if seed < args.nx_seeds:
                nx_s, nx_size = run_networkx(adj, args.cap)
                if nx_size is None:
                    ratios += f"  networkx >= {nx_s / first_wall:.1f}x wall (hit the {args.cap:.0f} s cap)"
                    nx_col = f"> {nx_s:.0f}"
                else:
                    ratios += f"  networkx {nx_s / first_wall:.1f}x wall"
                    nx_col = f"{nx_s:.3f}"
                    if all(exacts) and nx_size != size:
                        ratios += f"  MISMATCH: networkx {nx_size} vs commlb {size}"
            print(f"{n:>3} {seed:>4} {adj.shape[0]:>5} {size:>4} {str(all(exacts)):>5}{cols} {nx_col:>11}  {ratios}",
                  flush=True)
        for o in orders:
            w = [s[0] for s in stats[o]]
            c = [s[1] for s in stats[o]]
            k = [s[2] for s in stats[o]]
            print(f"{n:>3} {o:>10}: median wall {float(np.median(w)):.3f} s, CPU {float(np.median(c)):.3f} s, "
                  f"{int(np.median(k))} nodes over {args.seeds} seeds (load average {os.getloadavg()[0]:.1f})",
                  flush=True)


if __name__ == "__main__":
    main()
