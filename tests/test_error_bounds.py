"""Bounds for protocols that err: certificates re-checked exactly by independent code
(plain Python integers, Fractions, python-flint characteristic polynomials), known values,
and the chains of inequalities that must hold for every matrix."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bounds import discrepancy as dm
from commlb.bounds import gamma2 as gm
from commlb.bounds import partition as pm
from commlb.bounds import rational as rm
from commlb.bounds import vc as vm
from commlb.bounds.catalogue import eq_public_coin_upper, index_one_way_bits, ip_discrepancy_bits
from commlb.bounds.distribution import from_weights
from commlb.bounds.matrix import matrix_from_problem
from commlb.errors import InvalidInputError

flint = pytest.importorskip("flint")


def psd_by_charpoly(M) -> bool:
    """Independent exact PSD test: a real symmetric matrix is PSD iff the coefficients of
    det(tI − M) alternate in sign (all roots are real, so Descartes' rule is exact)."""
    rows = [[int(v) for v in r] for r in M]
    coeffs = [int(c) for c in flint.fmpz_mat(rows).charpoly().coeffs()]  # constant term first
    n = len(rows)
    return all(c * (-1) ** (n - k) >= 0 for k, c in enumerate(coeffs))


def vals(problem: str, n: int) -> np.ndarray:
    return matrix_from_problem(problem, n).values


def brute_disc(values, weights=None) -> Fraction:
    """disc by all pairs (S, T), plain Python."""
    A = [[1 - 2 * int(v) for v in r] for r in values]
    m, n = len(A), len(A[0])
    W = weights if weights is not None else [[1] * n for _ in range(m)]
    Z = sum(map(sum, W))
    best = 0
    for s in range(1 << m):
        for t in range(1 << n):
            v = sum(A[x][y] * W[x][y] for x in range(m) if s >> x & 1 for y in range(n) if t >> y & 1)
            best = max(best, abs(v))
    return Fraction(best, Z)


# ------------------------------------------------------------------ exact helpers

def test_ceil_log2_matches_definition():
    for num in range(1, 200):
        for den in (1, 2, 3, 7, 64):
            q = Fraction(num, den)
            k = rm.ceil_log2(q)
            assert Fraction(2) ** k >= q and (k == 0 or Fraction(2) ** (k - 1) < q)
            k2 = rm.ceil_log2_root(q, 2)
            assert Fraction(4) ** k2 >= q and (k2 == 0 or Fraction(4) ** (k2 - 1) < q)


def test_parse_error_is_exact_and_range_checked():
    assert rm.parse_error("0.1") == Fraction(1, 10)
    assert rm.parse_error("1/3") == Fraction(1, 3)
    assert rm.parse_error("1e-2") == Fraction(1, 100)
    for bad in ("0.5", "-0.1", "abc", "1/0", "0.7"):
        with pytest.raises(InvalidInputError):
            rm.parse_error(bad)


@settings(max_examples=30)
@given(st.integers(1, 7), st.integers(0, 2**32 - 1), st.integers(-3, 3))
def test_psd_certificate_agrees_with_charpoly_and_ldl(n, seed, shift):
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, size=(n, n))
    M = X @ X.T + shift * np.eye(n, dtype=np.int64)  # PSD for shift >= 0, often not for < 0
    truth = psd_by_charpoly(M)
    assert rm.is_psd_ldl(M.tolist()) == truth
    cert = rm.certify_psd(M.tolist())
    if cert is not None:  # a certificate is only ever found for PSD matrices
        assert truth and rm.verify_psd_certificate(M.tolist(), cert)
    if truth and shift >= 1:  # safely positive definite: a certificate must be found
        assert cert is not None
    cert_eq = rm.certify_psd(M.tolist(), equilibrate=True)
    if cert_eq is not None:
        assert truth and rm.verify_psd_certificate(M.tolist(), cert_eq)


def test_tampered_psd_certificate_fails():
    M = [[4, 1, 0], [1, 3, 1], [0, 1, 2]]
    cert = rm.certify_psd(M)
    assert cert is not None and rm.verify_psd_certificate(M, cert)
    bad = [[4, 1, 0], [1, 3, 1], [0, 1, -1]]
    assert not rm.verify_psd_certificate(bad, cert)


# ------------------------------------------------------------------ discrepancy

@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_ip_spectral_discrepancy_is_two_to_minus_half_n(n):
    M = vals("ip", n)
    cert = dm.spectral_certificate(M)
    assert dm.verify_spectral(M, None, cert)
    # disc^p <= 2^(-n p / 2): the Hadamard matrix has ||H||^2 = 2^n exactly
    assert cert.disc_power_upper == Fraction(1, 2 ** (n * cert.power // 2))
    bits, real = dm.discrepancy_bits(Fraction(1, 10), cert.disc_power_upper, cert.power)
    assert real == pytest.approx(n / 2 - math.log2(1 / 0.8), abs=1e-12)
    assert (bits, real) == pytest.approx(ip_discrepancy_bits(n, Fraction(1, 10)))


@settings(max_examples=25)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1), st.booleans())
def test_exact_discrepancy_matches_brute_force_and_spectral(m, n, seed, weighted):
    rng = np.random.default_rng(seed)
    M = rng.integers(0, 2, size=(m, n))
    W = rng.integers(0, 5, size=(m, n)) if weighted else np.ones((m, n), dtype=np.int64)
    if W.sum() == 0:
        W[0, 0] = 1
    dist = from_weights(W.tolist(), "test", (m, n))
    cert = dm.exact_discrepancy(M, dist)
    assert dm.verify_rectangle(M, dist, cert)
    assert cert.disc == brute_disc(M.tolist(), dist.weights.tolist())
    spec = dm.spectral_certificate(M, dist)
    assert dm.verify_spectral(M, dist, spec)
    assert cert.disc ** spec.power <= spec.disc_power_upper  # exact disc below the spectral bound


def test_spectral_certificate_is_checked_independently():
    rng = np.random.default_rng(7)
    M = rng.integers(0, 2, size=(9, 12))
    cert = dm.spectral_certificate(M)
    A = 1 - 2 * M.astype(np.int64)
    G = (A.T @ A) if cert.side == "cols" else (A @ A.T)
    s = cert.bound
    assert cert.power == 2
    Mint = [[(s.numerator if i == j else 0) - s.denominator * int(G[i, j]) for j in range(G.shape[0])]
            for i in range(G.shape[0])]
    assert psd_by_charpoly(Mint)  # ||A||^2 <= s, checked without commlb's PSD code
    assert float(s) >= np.linalg.norm(A, 2) ** 2 * (1 - 1e-12)
    assert float(s) <= np.linalg.norm(A, 2) ** 2 * 1.001  # and it is tight
    # a bound below the true norm must not verify
    lam = Fraction(np.linalg.norm(A, 2) ** 2 * 0.999).limit_denominator(1000)
    fake = dm.SpectralCertificate(cert.rows, cert.cols, cert.total, 2, lam, "cholesky", cert.side,
                                  cert.psd, 0.0)
    assert not dm.verify_spectral(M, None, fake)


def test_gershgorin_square_route_on_a_large_random_matrix():
    rng = np.random.default_rng(3)
    M = rng.integers(0, 2, size=(24, 30))
    cert = dm.spectral_certificate(M, cholesky_limit=0)
    assert cert.method in ("gershgorin", "gershgorin-square")
    assert dm.verify_spectral(M, None, cert)
    A = 1 - 2 * M
    assert float(cert.bound) >= np.linalg.norm(A, 2) ** cert.power * (1 - 1e-12)


def test_discrepancy_bound_grows_as_error_shrinks():
    cert = dm.spectral_certificate(vals("ip", 4))
    prev = None
    for eps in (Fraction(2, 5), Fraction(1, 3), Fraction(1, 10), Fraction(0)):
        bits, real = dm.discrepancy_bits(eps, cert.disc_power_upper, cert.power)
        if prev is not None:
            assert bits >= prev[0] and real > prev[1]
        prev = (bits, real)


# ------------------------------------------------------------------ VC

def test_index16_vc_bound():
    M = vals("index", 16)
    cert = vm.find_shattered_set(M)
    assert cert.size == 16 and cert.maximum and vm.verify_shattered_set(M, cert)
    # independent: every pattern on the 16 columns occurs among the rows
    seen = {tuple(int(v) for v in row) for row in M[:, list(cert.cols)]}
    assert len(seen) == 2 ** 16
    bits, real = vm.one_way_vc_bits(cert.size, Fraction(1, 20))
    h = -0.05 * math.log2(0.05) - 0.95 * math.log2(0.95)
    assert real == pytest.approx((1 - h) * 16, rel=1e-12)
    assert bits == 12 == index_one_way_bits(16, Fraction(1, 20))[0]


@settings(max_examples=30)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_vc_dimension_matches_brute_force(m, n, seed):
    M = np.random.default_rng(seed).integers(0, 2, size=(m, n))
    cert = vm.find_shattered_set(M)
    assert vm.verify_shattered_set(M, cert)
    rows = {tuple(r) for r in M.tolist()}
    best = 0
    for size in range(n + 1):
        for cols in __import__("itertools").combinations(range(n), size):
            if len({tuple(r[c] for c in cols) for r in rows}) == 2 ** size:
                best = size
    assert cert.maximum and cert.size == best


# ------------------------------------------------------------------ gamma2

def _check_gamma2_independently(values, cert):
    K = gm._dual_matrix(cert.p, cert.q, cert.Q)
    assert psd_by_charpoly(K)
    A = 1 - 2 * np.asarray(values, dtype=np.int64)
    total = Fraction(0)
    for x, y in product(range(A.shape[0]), range(A.shape[1])):
        r = int(A[x, y]) * cert.Q[x][y]
        total += r if r >= 0 else cert.alpha * r
    assert cert.lower == 2 * total / (sum(cert.p) + sum(cert.q))


@pytest.mark.parametrize("n", [2, 4])
def test_hadamard_gamma2(n):
    M = vals("ip", n)
    cert = gm.gamma2_alpha(M, Fraction(0))
    assert gm.verify_gamma2(M, cert)
    _check_gamma2_independently(M, cert)
    true = 2 ** (n / 2)
    assert cert.lower <= Fraction(2 ** (n // 2))  # a lower bound can not exceed the true value
    assert float(cert.lower) >= true * (1 - 1e-5)


def test_gamma2_tampered_dual_fails():
    M = vals("disj", 2)
    cert = gm.gamma2_alpha(M, Fraction(1, 3))
    assert gm.verify_gamma2(M, cert)
    Q = [list(r) for r in cert.Q]
    Q[0][0] *= 3
    bad = gm.Gamma2Certificate(cert.alpha, cert.p, cert.q, tuple(map(tuple, Q)), cert.psd, cert.lower,
                               0.0, "", 0.0)
    assert not gm.verify_gamma2(M, bad)


# ------------------------------------------------------------------ partition / rectangle

def _plain_max_rect(C) -> Fraction:
    m, n = len(C), len(C[0])
    best = Fraction(0)
    for s in range(1 << m):
        colsum = [sum(C[x][y] for x in range(m) if s >> x & 1) for y in range(n)]
        best = max(best, sum(v for v in colsum if v > 0))
    return best


def _check_lp_independently(values, cert):
    m, n = len(values), len(values[0])
    den = cert.den
    mu = [[Fraction(v, den) for v in r] for r in cert.mu]
    phi = [[Fraction(v, den) for v in r] for r in cert.phi]
    zs = sorted({v for r in values for v in r}) if cert.bound == "partition" else [cert.value_of]
    for z in zs:
        if cert.bound == "partition":
            C = [[mu[x][y] * (values[x][y] == z) + phi[x][y] for y in range(n)] for x in range(m)]
        else:
            C = [[mu[x][y] if values[x][y] == z else -phi[x][y] for y in range(n)] for x in range(m)]
        assert _plain_max_rect(C) <= 1
    e = cert.eps
    if cert.bound == "partition":
        value = sum((1 - e) * mu[x][y] + phi[x][y] for x in range(m) for y in range(n))
    else:
        value = sum((1 - e) * mu[x][y] - e * phi[x][y] for x in range(m) for y in range(n))
    assert value == cert.value


@pytest.mark.parametrize("problem,n", [("disj", 2), ("eq", 2), ("ip", 2), ("gt", 2)])
def test_partition_and_rectangle_duals(problem, n):
    M = vals(problem, n)
    for eps in (Fraction(0), Fraction(1, 3)):
        cert = pm.partition_bound(M, eps)
        assert pm.verify_lp_dual(M, cert)
        _check_lp_independently(M.tolist(), cert)
        assert float(cert.value) == pytest.approx(cert.lp_value, rel=1e-6)
        rec = pm.rectangle_bound(M, eps, 1)
        assert pm.verify_lp_dual(M, rec)
        _check_lp_independently(M.tolist(), rec)


def test_disj3_partition_bound_8x8():
    M = vals("disj", 3)
    cert = pm.partition_bound(M, Fraction(1, 3))
    assert pm.verify_lp_dual(M, cert)
    _check_lp_independently(M.tolist(), cert)
    assert float(cert.value) == pytest.approx(cert.lp_value, rel=1e-6)


def test_max_rectangle_sum_matches_naive():
    rng = np.random.default_rng(11)
    for _ in range(20):
        C = rng.integers(-5, 6, size=(rng.integers(1, 5), rng.integers(1, 5)))
        assert pm.max_rectangle_sum(C.astype(np.int64))[0][0] == pm.max_rectangle_sum_naive(C.tolist())


# ------------------------------------------------------------------ EQ and the inequality chains

@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("eps", [Fraction(1, 3), Fraction(1, 10)])
def test_every_bound_for_eq_stays_below_the_public_coin_protocol(n, eps):
    from commlb.bounds.randomized import compute_error_bounds

    report = compute_error_bounds(matrix_from_problem("eq", n), eps, problem="eq", n=n)
    cap = eq_public_coin_upper(n, eps)[0]
    assert cap <= 4
    assert report.bounds and all(b.verified for b in report.bounds)
    for b in report.bounds:
        assert b.bits <= cap, (b.method, b.bits, cap)
    assert any("public-coin" in note for note in report.notes)


def _deterministic_D(M) -> int:
    from commlb.bounds.exact import deterministic_complexity

    res = deterministic_complexity(M, time_limit=30)
    assert res.exact
    return int(res.lower)


@settings(max_examples=12)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1),
       st.sampled_from([Fraction(0), Fraction(1, 10), Fraction(1, 3)]))
def test_randomized_bounds_never_exceed_deterministic(m, n, seed, eps):
    from commlb.bounds.oneway import one_way
    from commlb.bounds.randomized import compute_error_bounds

    M = np.random.default_rng(seed).integers(0, 2, size=(m, n))
    if len(np.unique(M)) < 2:
        M[0, 0] = 1 - M[0, 0]
    D = _deterministic_D(M)
    ow = one_way(M)
    report = compute_error_bounds(M, eps, methods=["discrepancy-spectral", "discrepancy-exact", "one-way-vc",
                                                   "gamma2", "partition", "rectangle"])
    for b in report.bounds:
        assert b.verified
        if b.one_way == "Alice->Bob":
            assert b.bits <= ow.alice_to_bob
        elif b.one_way == "Bob->Alice":
            assert b.bits <= ow.bob_to_alice
        else:
            assert b.bits <= D, (b.method, b.bits, D)


def test_lp_and_sdp_bounds_grow_as_error_shrinks():
    M = vals("disj", 2)
    reals = []
    for eps in (Fraction(2, 5), Fraction(1, 4), Fraction(1, 10), Fraction(0)):
        prt = pm.partition_bound(M, eps)
        g = gm.gamma2_alpha(M, eps)
        reals.append((float(prt.value), gm.gamma2_bits(g.lower, g.alpha)[1]))
    for (p0, g0), (p1, g1) in zip(reals, reals[1:]):
        assert p1 >= p0 * (1 - 1e-6) and g1 >= g0 - 1e-6
    assert reals[-1][0] > reals[0][0]


@settings(max_examples=30)
@given(st.integers(1, 140), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_sign_gram_kernel_matches_its_plain_twin(m, n, seed):
    from commlb.kernels.signgram import sign_gram

    V = np.random.default_rng(seed).integers(0, 2, size=(m, n)).astype(np.int8)
    expected = (1 - 2 * V.astype(np.int64)).T @ (1 - 2 * V.astype(np.int64))
    assert np.array_equal(sign_gram(V, backend="numba"), expected)
    assert np.array_equal(sign_gram(V, backend="python"), expected)


def test_spectral_certificate_uses_the_packed_gram_on_either_side():
    rng = np.random.default_rng(5)
    for shape in ((300, 260), (260, 300)):
        M = rng.integers(0, 2, size=shape)
        cert = dm.spectral_certificate(M)
        A = 1 - 2 * M
        assert float(cert.bound) >= np.linalg.norm(A, 2) ** cert.power * (1 - 1e-12)
        assert cert.side == ("rows" if shape[0] <= shape[1] else "cols")
