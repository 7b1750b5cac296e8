"""Scale of the SDP and LP bounds: the first-order SDP solver certifies nearly the same
value as the interior-point one (the exact check decides either way), and an LP whose
cutting planes are stopped by the time limit still returns a sound, exactly verified
bound, marked as not converged."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from commlb.bounds import gamma2 as gm
from commlb.bounds import partition as pm
from commlb.bounds.matrix import matrix_from_problem
from commlb.bounds.randomized import compute_error_bounds


def test_scs_and_clarabel_certify_nearly_the_same_gamma2():
    M = matrix_from_problem("disj", 3).values
    eps = Fraction(1, 3)
    ipm = gm.gamma2_alpha(M, eps, solver="clarabel")
    fom = gm.gamma2_alpha(M, eps, solver="scs")
    assert ipm.solver == "CLARABEL" and fom.solver == "SCS"
    assert gm.verify_gamma2(M, ipm) and gm.verify_gamma2(M, fom)
    # both are certified lower bounds on the same optimum, which the accurate solver's
    # value approximates from above to ~1e-8
    assert fom.lower <= ipm.solver_value * (1 + 1e-6) and ipm.lower <= ipm.solver_value * (1 + 1e-6)
    assert float(fom.lower) >= 0.999 * float(ipm.lower)


def test_auto_solver_switches_to_scs_above_the_clarabel_side():
    rng = np.random.default_rng(4)
    M = rng.integers(0, 2, size=(gm.CLARABEL_MAX_SIDE + 2, 6))
    cert = gm.gamma2_alpha(M, Fraction(1, 4))
    assert cert.solver == "SCS" and gm.verify_gamma2(M, cert)
    small = gm.gamma2_alpha(M[: gm.CLARABEL_MAX_SIDE], Fraction(1, 4))
    assert small.solver == "CLARABEL" and gm.verify_gamma2(M[: gm.CLARABEL_MAX_SIDE], small)


def test_stopped_cutting_planes_give_a_sound_bound_marked_unconverged():
    M = matrix_from_problem("disj", 4).values  # 16 x 16: does not converge in a second
    cert = pm.partition_bound(M, Fraction(1, 3), time_limit=0.5)
    assert not cert.converged and pm.verify_lp_dual(M, cert)
    assert cert.to_json()["converged"] is False
    done = pm.partition_bound(matrix_from_problem("disj", 2).values, Fraction(1, 3))
    assert done.converged
    report = compute_error_bounds(M, Fraction(1, 3), methods=["partition"], time_limit=0.5)
    (b,) = report.bounds
    assert b.verified and "did not converge" in b.note and "--time-limit" in b.note
