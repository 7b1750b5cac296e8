"""Scale of the SDP and LP bounds: the first-order SDP solver certifies nearly the same
value as the interior-point one (the exact check decides either way), and an LP whose
cutting planes are stopped by the time limit still returns a sound, exactly verified
bound, marked as not converged."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest

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


def test_coordinate_orbits_match_a_plain_canonical_form():
    from itertools import product

    n = 3
    lab = pm.coordinate_orbits(n)
    key = {}
    for x, y in product(range(1 << n), repeat=2):
        pairs = tuple(sorted(((x >> i) & 1, (y >> i) & 1) for i in range(n)))
        key.setdefault(pairs, set()).add(int(lab[x, y]))
    assert all(len(v) == 1 for v in key.values())  # one label per canonical form
    assert len({next(iter(v)) for v in key.values()}) == len(key)  # and distinct forms, distinct labels


def test_orbit_lp_reaches_the_plain_lp_value_and_verifies_on_every_rectangle():
    for prob in ("disj", "eq", "ip"):
        M = matrix_from_problem(prob, 3).values
        plain = pm.partition_bound(M, Fraction(1, 3))
        sym = pm.partition_bound(M, Fraction(1, 3), orbits=pm.coordinate_orbits(3))
        assert plain.converged and sym.converged
        assert pm.verify_lp_dual(M, sym) and pm.verify_lp_dual(M, plain)
        assert abs(float(sym.value) - float(plain.value)) < 1e-6 * float(plain.value)
        rect = pm.rectangle_bound(M, Fraction(1, 3), 1, orbits=pm.coordinate_orbits(3))
        assert pm.verify_lp_dual(M, rect)


def test_orbits_that_mix_values_are_refused():
    from commlb.errors import InvalidInputError

    M = matrix_from_problem("disj", 2).values
    with pytest.raises(InvalidInputError, match="mix"):
        pm.partition_bound(M, Fraction(1, 3), orbits=np.zeros(M.shape, dtype=int))


def test_error_bounds_use_the_symmetry_for_disj():
    M = matrix_from_problem("disj", 3)
    rep = compute_error_bounds(M, Fraction(1, 3), methods=["partition"], problem="disj", n=3)
    assert rep.orbits is not None and rep.bounds[0].verified
    assert rep.bounds[0].certificate.converged


@pytest.mark.skipif(not os.environ.get("COMMLB_FULL"), reason="16 x 16 LP: ~30 s (COMMLB_FULL=1)")
def test_disj_4_partition_converges_over_orbits():
    M = matrix_from_problem("disj", 4).values
    cert = pm.partition_bound(M, Fraction(1, 3), orbits=pm.coordinate_orbits(4), time_limit=300)
    assert cert.converged and pm.verify_lp_dual(M, cert) and cert.value > 3
