"""Benchmark: exact deterministic communication complexity D(f) with certificates.

Candidates:

* commlb — :func:`commlb.bounds.exact.deterministic_complexity` (root rank/fooling bounds,
  then the protocol-tree search), every tree checked with ``verify_tree``; also with
  ``root_bounds=False`` ("no root bounds": iterative deepening from depth 0; the search
  still cuts sub-rectangles, the root included, by their rank sums);
* reference — :func:`commlb.bounds.exact.deterministic_complexity_reference`, the plain
  subset DP over all sub-rectangles, in a child process capped at ``--cap`` seconds (ratio
  printed as ">=" when the cap is hit).

Instances: EQ, DISJ, IP, GT at 8 x 8 and 16 x 16 (against the reference), the same at
32 x 32, and random 12 x 12 matrices with 2 and 3 values (times only), plus sparse random
24 x 24 matrices (density 0.05) and "noisy low-rank" 16 x 16 matrices with 4 values (rows
copied from 5 random rows, 5% of the entries flipped), where the root bounds more often fall
short and the search proves the lower bound ("exhaustive search").

Goal (issue 4): exact D with certificate for the 32 x 32 classic matrices and random
12 x 12 in under 10 s each.

``--hard`` runs the hard set instead (:mod:`commlb.testing.hard_matrices`: noisy low-rank,
block-structured and Boolean-product matrices, 4 values before the noise, 16 x 16 to
64 x 64, two parameter sets by default: rank 5 with 5% of the entries flipped, rank 3 with
3%) where rank, fooling and one-way bounds often leave a gap: per instance the bounds
interval, then the search with ``--hard-limit`` seconds (``--big-limit`` above 32 x 32;
what it proves, by what, nodes, time), and the whole command ``commlb bounds --matrix M
--methods exact --time-limit 5`` in a subprocess (wall time; goal <= 6 s).  The subset-DP
reference needs about 3^r 2^c + 2^r 3^c steps, so it runs beside the search only on the
same families at ``--ref-sizes`` (8 x 8).

Run:  .venv/bin/python bench/bench_exact.py [--cap 60] [--random 5]
      .venv/bin/python bench/bench_exact.py --hard [--sizes 16,24,32,48,64] [--seeds 2] [--hard-limit 10]
          [--big-limit 60] [--params 5:0.05,3:0.03] [--ref-sizes 8] [--cli-limit 5]
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
except ImportError:  # pragma: no cover
    import platform

    def machine_line() -> str:
        return f"python {sys.version.split()[0]}, {platform.machine()}, {platform.platform()}"


def classic(name: str, n: int) -> np.ndarray:
    N = 1 << n
    x = np.arange(N)
    if name == "EQ":
        return np.eye(N, dtype=np.int64)
    if name == "DISJ":
        return ((x[:, None] & x[None, :]) == 0).astype(np.int64)
    if name == "IP":
        return np.array([[bin(a & b).count("1") % 2 for b in range(N)] for a in range(N)], dtype=np.int64)
    if name == "GT":
        return (x[:, None] > x[None, :]).astype(np.int64)
    raise ValueError(name)


def _reference_worker(M: np.ndarray, queue: mp.Queue) -> None:
    from commlb.bounds.exact import deterministic_complexity_reference

    t0 = time.perf_counter()
    value = deterministic_complexity_reference(M)
    queue.put((time.perf_counter() - t0, value))


def run_reference(M: np.ndarray, cap: float) -> tuple[float, int | None]:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_reference_worker, args=(M, queue))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return cap, None
    return queue.get()


def ours(M: np.ndarray, root_bounds: bool = True, limit: float = 60.0):
    from commlb.bounds.exact import deterministic_complexity, verify_tree

    t0 = time.perf_counter()
    c0 = time.process_time()
    res = deterministic_complexity(M, time_limit=limit, root_bounds=root_bounds)
    seconds = time.perf_counter() - t0
    global LAST_CPU
    LAST_CPU = time.process_time() - c0
    depth = verify_tree(M, res.tree)
    assert depth == res.upper
    return seconds, res


LAST_CPU = 0.0  # CPU seconds of the last ours() call (the machine may be shared: wall time alone misleads)


def describe(res) -> str:
    value = f"D = {res.upper}" if res.exact else f"D in [{res.lower}, {res.upper}]"
    return f"{value:<14} by {res.lower_certificate['method']:<22} nodes {res.nodes:>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=60.0, help="seconds allowed to the reference")
    parser.add_argument("--random", type=int, default=5, help="random instances per family")
    parser.add_argument("--hard", action="store_true", help="run the hard set (see the module docstring)")
    parser.add_argument("--sizes", default="16,24,32,48,64", help="hard set: matrix sizes")
    parser.add_argument("--seeds", type=int, default=2, help="hard set: instances per family and size")
    parser.add_argument("--hard-limit", type=float, default=10.0, help="hard set: seconds for the search "
                        "up to 32 x 32")
    parser.add_argument("--big-limit", type=float, default=60.0, help="hard set: seconds for the search above "
                        "32 x 32")
    parser.add_argument("--params", default="5:0.05,3:0.03", help="hard set: rank:noise pairs")
    parser.add_argument("--ref-sizes", default="8", help="hard set: sizes run beside the subset DP ('' for none)")
    parser.add_argument("--cli-limit", type=float, default=5.0, help="hard set: --time-limit of the timed command")
    parser.add_argument("--cli", action=argparse.BooleanOptionalAction, default=True,
                        help="hard set: also time the whole command with --time-limit 5")
    args = parser.parse_args()
    if args.hard:
        hard(args)
        return
    print("exact deterministic communication complexity")
    print(machine_line())
    ours(classic("EQ", 1))  # numba warm-up
    ours(classic("EQ", 2), root_bounds=False)

    print(f"\nclassic functions against the plain subset DP (cap {args.cap:.0f} s)")
    for n in (3, 4):
        for name in ("EQ", "DISJ", "IP", "GT"):
            M = classic(name, n)
            t_ours, res = ours(M)
            t_search, res_s = ours(M, root_bounds=False)
            t_ref, ref = run_reference(M, args.cap)
            if ref is None:
                ratio = f">= {t_ref / t_ours:,.0f}x (reference hit the cap)"
            else:
                ratio = f"{t_ref / t_ours:,.0f}x" + ("" if ref == res.upper else f"  MISMATCH reference {ref}")
            print(f"  {name}_{n} {M.shape[0]:>2}x{M.shape[1]:<2}  commlb {t_ours:8.4f} s  {describe(res)}"
                  f" | no root bounds {t_search:8.4f} s {describe(res_s)} | reference "
                  f"{'>' if ref is None else ''}{t_ref:8.3f} s  ratio {ratio}", flush=True)

    print("\nclassic functions at 32 x 32 (n = 5)")
    for name in ("EQ", "DISJ", "IP", "GT"):
        M = classic(name, 5)
        t_ours, res = ours(M)
        t_search, res_s = ours(M, root_bounds=False, limit=30.0)
        print(f"  {name}_5  commlb {t_ours:8.4f} s  {describe(res)} | no root bounds {t_search:8.3f} s "
              f"{describe(res_s)}", flush=True)

    print("\nrandom matrices (times; each tree verified)")
    for label, shape, values, density in (("12x12, 2 values", (12, 12), 2, None),
                                          ("12x12, 3 values", (12, 12), 3, None),
                                          ("24x24, density 0.05", (24, 24), 2, 0.05),
                                          ("16x16 noisy low-rank", (16, 16), 4, "lowrank")):
        times, notes = [], []
        for seed in range(args.random):
            g = np.random.default_rng(seed)
            if density == "lowrank":
                base = g.integers(0, values, (5, shape[1]))
                M = base[g.integers(0, 5, shape[0])] ^ (g.random(shape) < 0.05).astype(np.int64)
            elif density:
                M = (g.random(shape) < density).astype(np.int64)
            else:
                M = g.integers(0, values, shape)
            t, res = ours(M, limit=10.0)
            times.append(t)
            notes.append(f"{'D=' + str(res.upper) if res.exact else f'[{res.lower},{res.upper}]'}"
                         f"({res.lower_certificate['method'].split()[0]}, {res.nodes} nodes)")
        print(f"  {label:<22} max {max(times):7.3f} s  mean {np.mean(times):7.3f} s   " + "  ".join(notes),
              flush=True)


def hard(args: argparse.Namespace) -> None:
    import os
    import resource
    import subprocess
    import tempfile

    from commlb.bounds.report import compute_bounds
    from commlb.testing.hard_matrices import FAMILIES, hard_matrix

    params = [(int(r), float(x)) for r, x in (p.split(":") for p in args.params.split(","))]
    print(f"exact D on the hard set (4 values before the noise; rank:noise {args.params}); search limit "
          f"{args.hard_limit:g} s up to 32 x 32, {args.big_limit:g} s above; command with --time-limit "
          f"{args.cli_limit:g}")
    print(machine_line())
    ours(classic("EQ", 2), root_bounds=False)  # numba warm-up: the search kernels load
    ours(hard_matrix("noisy-lowrank", 8, 1, rank=3, noise=0.03, values=4))  # and the root fooling sets
    exe = Path(sys.executable).with_name("commlb")
    tmp = Path(tempfile.mkdtemp(prefix="commlb_hard_"))

    if args.ref_sizes:
        print(f"\nbeside the plain subset DP (cap {args.cap:g} s; it needs about 3^r 2^c + 2^r 3^c steps)")
        for n in (int(v) for v in args.ref_sizes.split(",")):
            for rank, noise in params:
                for family in FAMILIES:
                    for seed in range(args.seeds):
                        M = hard_matrix(family, n, seed, rank=min(rank, n - 1), noise=noise, values=4)
                        t, res = ours(M, limit=args.hard_limit)
                        t_s, res_s = ours(M, root_bounds=False, limit=args.hard_limit)
                        t_ref, ref = run_reference(M, args.cap)
                        agree = "" if ref is None or ref == res.upper else f"  MISMATCH reference {ref}"
                        ref_s = f">{t_ref:.0f} s (cap)" if ref is None else f"D = {ref} in {t_ref:.3f} s"
                        print(f"  {family:<16} {n:>2} r{rank} {noise:.2f} s{seed}  commlb {t:7.4f} s {describe(res)}"
                              f" | no root bounds {t_s:7.4f} s nodes {res_s.nodes:>6} | reference {ref_s}{agree}",
                              flush=True)

    print(f"\n{'family':<16} {'n':>3} {'r':>2} {'noise':>5} {'s':>1}  {'bounds':>7}  {'search':>12} {'by':<10}"
          f" {'nodes':>7} {'time s':>7} {'cpu s':>6}  {'command s':>9}  load")
    worst = 0.0
    for n in (int(v) for v in args.sizes.split(",")):
        limit = args.hard_limit if n <= 32 else args.big_limit
        for rank, noise in params:
            for family in FAMILIES:
                for seed in range(args.seeds):
                    M = hard_matrix(family, n, seed, rank=rank, noise=noise, values=4)
                    rep = compute_bounds(M, methods=["rank-gf2", "rank-gfp", "one-way", "fooling"], time_limit=1.0)
                    lo, up = rep.best_lower_bound[0], rep.best_upper_bound[0]
                    t, res = ours(M, limit=limit)
                    proved = f"D = {res.upper}" if res.exact else f"[{res.lower}, {res.upper}]"
                    by = res.lower_certificate["method"].replace("exhaustive search", "search")
                    by = by.replace("rank and fooling sets", "rank+fool")
                    cmd_s = "-"
                    if args.cli:
                        path = tmp / f"{family}-{n}-{rank}-{noise}-{seed}.npy"
                        np.save(path, M)
                        t0 = time.perf_counter()
                        subprocess.run([str(exe), "bounds", "--matrix", str(path), "--methods", "exact",
                                        "--time-limit", f"{args.cli_limit:g}"], check=True, capture_output=True)
                        wall = time.perf_counter() - t0
                        worst = max(worst, wall)
                        cmd_s = f"{wall:.2f}"
                    print(f"{family:<16} {n:>3} {rank:>2} {noise:>5.2f} {seed:>1}  {f'[{lo}, {up}]':>7}  {proved:>12}"
                          f" {by[:10]:<10} {res.nodes:>7} {t:>7.2f} {LAST_CPU:>6.2f}  {cmd_s:>9}"
                          f"  {os.getloadavg()[0]:.1f}", flush=True)
    if args.cli:
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"\nslowest command: {worst:.2f} s (goal <= {args.cli_limit + 1:g} s); commands' CPU in all "
              f"{cpu.ru_utime + cpu.ru_stime:.1f} s")


if __name__ == "__main__":
    main()
