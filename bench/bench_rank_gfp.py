"""Benchmark: rank over GF(p) of random dense matrices, p = 8388593 (largest prime < 2^23).

Candidates, measured side by side on the same matrices:

* commlb blocked — ``commlb.kernels.gfp.rank_gfp_blocked`` (recursive panels in numba,
  exact float64 BLAS updates);
* commlb rows — ``commlb.kernels.gfp.rank_gfp_rows`` (textbook row elimination in numba),
  only up to ``--rows-max``;
* FLINT — python-flint's ``nmod_mat(...).rank()`` (the ``bench`` extra; skipped with a
  message when python-flint is missing).  Building the nmod_mat is not timed.

Goal (issue 4): within 2x of FLINT at 2048^2 and 4096^2.

Run:  .venv/bin/python bench/bench_rank_gfp.py [--sizes 2048,4096] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, best_of, machine_line, print_table  # noqa: E402

PRIME = 8388593


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2048,4096")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rows-max", type=int, default=2048, help="largest size for the row-elimination kernel")
    ap.add_argument("--prime", type=int, default=PRIME)
    args = ap.parse_args()

    from commlb.bounds.rank import is_prime
    from commlb.kernels.gfp import rank_gfp_blocked, rank_gfp_rows

    p = args.prime
    assert is_prime(p)
    print(f"GF({p}) rank benchmark;", machine_line())
    try:
        import flint
    except ImportError:
        flint = None
        print("FLINT: skipped (python-flint is not installed; pip install 'commlb[bench]')")
    else:
        print(f"python-flint {getattr(flint, '__version__', '?')}")
    rng = np.random.default_rng(2024)
    # compile outside the timings
    small = rng.integers(0, p, (64, 64))
    rank_gfp_blocked(small.astype(np.float64), p)
    rank_gfp_rows(small.copy(), p)
    for size in (int(s) for s in args.sizes.split(",")):
        vals = rng.integers(0, p, (size, size))
        rows: list[Timing] = []
        ours = best_of("commlb blocked (numba + BLAS)", lambda A: rank_gfp_blocked(A, p)[0],
                       repeat=args.repeat, warmup=False, setup=lambda: vals.astype(np.float64))
        rows.append(ours)
        if size <= args.rows_max:
            rows.append(best_of("commlb row elimination", lambda A: rank_gfp_rows(A, p)[0],
                                repeat=1, warmup=False, setup=vals.copy))
        if flint is not None:
            mat = flint.nmod_mat(vals.tolist(), p)
            rows.append(best_of("FLINT nmod_mat.rank", lambda: mat.rank(), repeat=args.repeat, warmup=False))
        ranks = {r.label: int(r.result) for r in rows}
        if len(set(ranks.values())) != 1:
            print(f"RANK MISMATCH at {size}: {ranks}")
        print_table(f"{size} x {size} random entries mod {p} (rank {ours.result})", rows, reference=ours)
        for r in rows:
            if r is not ours:
                print(f"  ratio {r.label} / commlb blocked: {r.seconds / ours.seconds:.2f}")


if __name__ == "__main__":
    main()
