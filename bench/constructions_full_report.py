"""Full-size construction check as a table (issue 6): every construction on 1,000 random
instances at N = 16, 64, 256, 1024, with timings.

Runs exactly the checks of ``tests/test_constructions_full.py`` (imported from there:
same cases, same instances, same comparisons) and prints one row per (construction, N):
instances checked, errors, the largest error for the real-valued tasks (with the
construction's bound), the answer counts for the class tasks, wall seconds and CPU
milliseconds per instance.  Before each (construction, N) a few instances are timed; if
the full count is estimated above ``--budget`` seconds the row says so with the
measured per-instance time instead of running.  Exit status 1 if any instance is wrong.

    .venv/bin/python bench/constructions_full_report.py [--sizes 16 64] [--cases qsa khop]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_constructions_full as full  # noqa: E402
from _harness import machine_line  # noqa: E402

PROBE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(full.SIZES))
    parser.add_argument("--cases", nargs="+", default=list(full.CASES), choices=list(full.CASES))
    parser.add_argument("--instances", type=int, default=full.INSTANCES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=600.0,
                        help="largest estimated wall seconds for one (construction, N); default 600")
    args = parser.parse_args(argv)

    print(f"full construction check: {args.instances} instances, seed ({full.SEED}, N, i), "
          f"{args.workers} workers, one BLAS thread each")
    print(machine_line())
    header = (f"{'construction':<26} {'N':>5} {'instances':>9} {'errors':>6} {'max error':>10} "
              f"{'bound':>8} {'seconds':>8} {'ms/inst':>8}  answers")
    print(header)
    print("-" * len(header))
    bad = []
    started = time.perf_counter()
    for n in args.sizes:
        for case in args.cases:
            if n in full.CASES[case].refused:
                try:
                    full.CASES[case].build(n)
                    msg = "built, but the case lists it as refused"
                    bad.append((case, n, -1, msg))
                except Exception as exc:  # the builder's up-front refusal, with its estimate
                    msg = f"refused by the builder: {exc}"
                print(f"{case:<26} {n:>5} {'-':>9}  {msg}", flush=True)
                continue
            t0 = time.perf_counter()
            probe = full._run_chunk(case, n, list(range(PROBE)))  # also builds the model
            per = (time.perf_counter() - t0) / PROBE
            estimate = per * args.instances / max(1, args.workers)
            if estimate > args.budget:
                print(f"{case:<26} {n:>5} {'not run':>9}: estimated {estimate:.0f} s "
                      f"({per * 1000:.1f} ms per instance) > budget {args.budget:.0f} s", flush=True)
                bad.extend((case, n, i, msg) for i, msg in probe["failures"])
                continue
            res = full.run_case(case, n, instances=args.instances, workers=args.workers)
            err = f"{res.max_err:.4g}" if res.max_err is not None else "-"
            bound = f"{res.error_bound:.4g}" if res.error_bound is not None else "-"
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(res.answers.items())) or "-"
            ms = 1000 * res.seconds * max(1, args.workers) / max(1, res.checked)
            print(f"{case:<26} {n:>5} {res.checked:>9} {len(res.failures):>6} {err:>10} {bound:>8} "
                  f"{res.seconds:>8.1f} {ms:>8.1f}  {answers}", flush=True)
            for line in res.failure_lines():
                print(f"    FAIL {line}", flush=True)
            bad.extend((case, n, i, msg) for i, msg in res.failures)
    print(f"total {time.perf_counter() - started:.0f} s; {len(bad)} wrong instances")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
