"""Benchmark: bounds for protocols that err, with their exact certificates.

Side by side in one process (seconds; nothing here asserts a speed):

* **spectral discrepancy certificate** for a 4096 x 4096 sign matrix (IP_12, a Hadamard
  matrix, and a random sign matrix): commlb's certified bound
  (:func:`commlb.bounds.discrepancy.spectral_certificate`: exact Gram matrix + Gershgorin
  routes) against the plain, *uncertified* way, the top singular value by Lanczos
  (``scipy.sparse.linalg.svds(A, k=1)``; a full SVD took 200+ s here),
  and the ratio of the certified bound to the floating norm (how much tightness the
  certificate costs).  Goal: under 10 s.
* **gamma2^alpha SDP with verified dual** (cvxpy, then the exact PSD certificate) for
  32 x 32 (DISJ_5, goal 30 s: Clarabel and SCS side by side) and 64 x 64 (DISJ_6, goal
  5 min: SCS; Clarabel did not finish in 17 min).
* **partition LP with verified dual** for 8 x 8 (DISJ_3, IP_3, EQ_3 at eps = 1/3):
  commlb's warm-started cutting planes (highspy) against the plain way, one LP over all
  255^2 rectangles per value with scipy's HiGHS (``linprog``).  Goal: under 60 s.

Run:  .venv/bin/python bench/bench_error_bounds.py [--skip-64] [--skip-full-lp]
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine_line  # noqa: E402

from commlb.bounds import discrepancy as dm  # noqa: E402
from commlb.bounds import gamma2 as gm  # noqa: E402
from commlb.bounds import partition as pm  # noqa: E402
from commlb.bounds.matrix import matrix_from_problem  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_spectral() -> None:
    print("\nspectral discrepancy certificate, 4096 x 4096 (goal < 10 s)")
    print(f"{'matrix':<18}{'certified s':>12}{'lanczos s':>10}{'ratio':>7}  {'route':<18}{'bound/norm':>11}")
    rng = np.random.default_rng(0)
    cases = [("IP_12 (Hadamard)", matrix_from_problem("ip", 12).values),
             ("random sign", rng.integers(0, 2, size=(4096, 4096)).astype(np.int8))]
    for name, M in cases:
        t_cert, cert = timed(lambda: dm.spectral_certificate(M))
        A = (1 - 2 * M.astype(np.float64))

        def lanczos() -> float:
            from scipy.sparse.linalg import svds

            return float(svds(A, k=1, return_singular_vectors=False, random_state=0)[0])

        t_svd, norm = timed(lanczos)
        bound = float(cert.bound) ** (1.0 / cert.power)
        print(f"{name:<18}{t_cert:>12.2f}{t_svd:>10.2f}{t_svd / t_cert:>7.1f}x  {cert.method:<18}"
              f"{bound / norm:>11.4f}")


def bench_gamma2(skip_64: bool) -> None:
    """Side by side: the interior-point solver (Clarabel, accurate, dense KKT) and the
    first-order one (SCS, eps 1e-5, what solver="auto" uses above 16 per side); either way
    the exact check certifies the bound.  Clarabel is not run at 64 x 64: it did not
    finish in 17 min on a loaded 2-core machine."""
    print("\ngamma2^alpha SDP with verified dual (eps = 1/3)")
    print(f"{'matrix':<14}{'solver':<10}{'total s':>9}{'verify s':>10}  {'gamma2^a >=':>12}{'SDP value':>11}")
    sizes = [("DISJ_5 32x32", "disj", 5, ("clarabel", "scs"))]
    if not skip_64:
        sizes.append(("DISJ_6 64x64", "disj", 6, ("scs",)))
    for name, prob, n, solvers in sizes:
        M = matrix_from_problem(prob, n).values
        for solver in solvers:
            t_all, cert = timed(lambda: gm.gamma2_alpha(M, Fraction(1, 3), solver=solver))
            t_ver, ok = timed(lambda: gm.verify_gamma2(M, cert))
            assert ok
            print(f"{name:<14}{cert.solver:<10}{t_all + t_ver:>9.2f}{t_ver:>10.2f}  {float(cert.lower):>12.5f}"
                  f"{cert.solver_value:>11.5f}")


def full_lp(vals: np.ndarray, eps: Fraction) -> float:
    """The plain way: the primal partition LP over every rectangle, scipy HiGHS."""
    from scipy import sparse
    from scipy.optimize import linprog

    m, n = vals.shape
    N = m * n
    rb = ((np.arange(1, 1 << m)[:, None] >> np.arange(m)) & 1).astype(bool)
    cb = ((np.arange(1, 1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)
    E = (rb[:, None, :, None] & cb[None, :, None, :]).reshape(-1, N)
    Es = sparse.csc_matrix(E.T.astype(float))
    flat = vals.reshape(-1)
    zs = np.unique(vals)
    ub = sparse.hstack([-(sparse.diags((flat == z).astype(float)) @ Es) for z in zs]).tocsc()
    eq = sparse.hstack([Es for _ in zs]).tocsc()
    res = linprog(np.ones(E.shape[0] * len(zs)), A_ub=ub, b_ub=-np.full(N, 1 - float(eps)), A_eq=eq,
                  b_eq=np.ones(N), bounds=(0, None), method="highs")
    return float(res.fun)


def bench_partition(skip_full: bool) -> None:
    print("\npartition LP with verified dual, 8 x 8, eps = 1/3 (goal < 60 s)")
    print(f"{'matrix':<8}{'commlb s':>10}{'verify s':>10}{'full LP s':>11}{'ratio':>8}  {'prt >=':>10}{'full LP':>10}")
    for prob in ("disj", "ip", "eq"):
        M = matrix_from_problem(prob, 3).values
        t_cut, cert = timed(lambda: pm.partition_bound(M, Fraction(1, 3)))
        t_ver, ok = timed(lambda: pm.verify_lp_dual(M, cert))
        t_orb, orb = timed(lambda: pm.partition_bound(M, Fraction(1, 3), orbits=pm.coordinate_orbits(3)))
        assert ok and pm.verify_lp_dual(M, orb)
        print(f"{prob:<8}over orbits {t_orb:.2f} s, prt >= {float(orb.value):.5f}")
        if skip_full:
            print(f"{prob:<8}{t_cut:>10.2f}{t_ver:>10.2f}{'-':>11}{'-':>8}  {float(cert.value):>10.5f}{'-':>10}")
            continue
        t_full, val = timed(lambda: full_lp(M, Fraction(1, 3)))
        print(f"{prob:<8}{t_cut:>10.2f}{t_ver:>10.2f}{t_full:>11.2f}{t_full / (t_cut + t_ver):>7.1f}x  "
              f"{float(cert.value):>10.5f}{val:>10.5f}")


def bench_partition_16() -> None:
    """16 x 16 (DISJ_4): the cutting planes over the orbits of the coordinate symmetry
    against the plain LP (one variable pair per entry), each within a 60 s limit."""
    print("\npartition LP, 16 x 16 (DISJ_4), eps = 1/3, --time-limit 60: orbits vs plain")
    M = matrix_from_problem("disj", 4).values
    for name, orbits in (("orbits", pm.coordinate_orbits(4)), ("plain", None)):
        t_cut, cert = timed(lambda: pm.partition_bound(M, Fraction(1, 3), time_limit=60.0, orbits=orbits))
        t_ver, ok = timed(lambda: pm.verify_lp_dual(M, cert))
        assert ok
        print(f"{name:<7}{t_cut:>8.2f} s + verify {t_ver:.2f} s, {cert.rounds} rounds, converged "
              f"{cert.converged!s:<5}, certified prt >= {float(cert.value):.5f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-64", action="store_true", help="skip the 64 x 64 gamma2 SDP")
    ap.add_argument("--skip-full-lp", action="store_true", help="skip the plain all-rectangles LP")
    ap.add_argument("--skip-16", action="store_true", help="skip the 16 x 16 partition LP (60 s)")
    args = ap.parse_args()
    print(machine_line())
    bench_spectral()
    bench_gamma2(args.skip_64)
    bench_partition(args.skip_full_lp)
    if not args.skip_16:
        bench_partition_16()


if __name__ == "__main__":
    main()
