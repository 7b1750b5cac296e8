"""Ranks over R, GF(2), GF(p): numba kernels vs plain twins, certificates verified,
inequality chains, invariances."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from commlb.bounds.oneway import one_way
from commlb.bounds.rank import (
    DEFAULT_PRIME,
    indicator,
    is_prime,
    rank_gf2,
    rank_gfp,
    rank_lower_bound_bits,
    rank_real,
    verify_rank_certificate_gf2,
    verify_rank_certificate_gfp,
    verify_rank_certificate_real,
)
from commlb.errors import InvalidInputError, TooLargeError
from commlb.kernels import gf2 as kgf2
from commlb.kernels import gfp as kgfp
from commlb.kernels.matrix import pack_rows

from reference import exact_rank

PRIMES = [2, 3, 5, 251, 65521, DEFAULT_PRIME, 2147483647]


@st.composite
def int_matrices(draw, max_side=40, max_value=3):
    m = draw(st.integers(1, max_side))
    n = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(["dense", "sparse", "lowrank"]))
    if kind == "lowrank":
        k = draw(st.integers(1, 5))
        a = draw(hnp.arrays(np.int64, (m, k), elements=st.integers(0, 1)))
        b = draw(hnp.arrays(np.int64, (k, n), elements=st.integers(0, 1)))
        return np.minimum(a @ b, max_value)
    if kind == "sparse":
        return draw(hnp.arrays(np.int64, (m, n), elements=st.sampled_from([0] * 6 + list(range(1, max_value + 1)))))
    return draw(hnp.arrays(np.int64, (m, n), elements=st.integers(0, max_value)))


bool_matrices = int_matrices(max_value=1)


def _python_rank_gf2(vals):
    rows = [sum(int(v & 1) << j for j, v in enumerate(row)) for row in vals.tolist()]
    return kgf2.rank_gf2_python(rows, vals.shape[1])[0]


# ---------------------------------------------------------------- GF(2)


@settings(deadline=None, max_examples=60)
@given(int_matrices(max_side=150, max_value=1), st.integers(1, 8), st.sampled_from([8, 13, 32, 64]),
       st.integers(1, 3))
def test_gf2_kernel_matches_python_twin(vals, k, block, parts):
    # parts > 1 with no minimum size: the row passes and table builds split into tasks
    # even on these small matrices (numba runs them on however many threads it has)
    packed = pack_rows(vals.astype(np.uint8))
    r, prow, pcol = kgf2.rank_gf2_packed(packed, vals.shape[1], k, block, parts, 0)
    assert r == _python_rank_gf2(vals)
    assert len(prow) == len(pcol) == r
    assert verify_rank_certificate_gf2(vals, prow.tolist(), pcol.tolist())


@settings(deadline=None)
@given(int_matrices(max_side=30))
def test_gf2_backends_agree_and_certify(vals):
    fast = rank_gf2(vals)
    slow = rank_gf2(vals, backend="python")
    assert fast.rank == slow.rank
    for res in (fast, slow):
        assert verify_rank_certificate_gf2(vals, res.pivot_rows, res.pivot_cols)


def test_gf2_large_aligned_and_unaligned_widths():
    rng = np.random.default_rng(7)
    for m, n in [(300, 64), (257, 513), (64, 700), (700, 65)]:
        vals = rng.integers(0, 2, (m, n))
        vals[:, n // 3] = vals[:, 0] ^ vals[:, 1]  # a dependent column
        res = rank_gf2(vals)
        assert res.rank == _python_rank_gf2(vals)
        assert verify_rank_certificate_gf2(vals, res.pivot_rows, res.pivot_cols)


def test_gf2_known_values():
    assert rank_gf2(np.eye(100, dtype=np.int64)).rank == 100
    assert rank_gf2(np.ones((50, 70), dtype=np.int64)).rank == 1
    assert rank_gf2(np.zeros((5, 9), dtype=np.int64)).rank == 0
    assert rank_gf2(2 * np.eye(4, dtype=np.int64)).rank == 0  # M mod 2


# ---------------------------------------------------------------- GF(p)


@settings(deadline=None, max_examples=60)
@given(int_matrices(max_side=60, max_value=5), st.sampled_from(PRIMES))
def test_gfp_row_kernel_matches_python_twin(vals, p):
    r, prow, pcol = kgfp.rank_gfp_rows(np.mod(vals, p), p)
    r2, _, _ = kgfp.rank_gfp_python(vals.tolist(), p)
    assert r == r2
    assert verify_rank_certificate_gfp(vals, prow.tolist(), pcol.tolist(), p)


@settings(deadline=None, max_examples=60)
@given(int_matrices(max_side=60, max_value=5), st.sampled_from([3, 251, 65521, DEFAULT_PRIME]),
       st.integers(1, 16), st.integers(1, 8))
def test_gfp_blocked_kernel_matches_python_twin(vals, p, block, leaf):
    # leaf < block exercises the recursive panel factorisation
    r, prow, pcol = kgfp.rank_gfp_blocked(np.mod(vals, p).astype(np.float64), p, block=block, leaf=leaf)
    r2, _, _ = kgfp.rank_gfp_python(vals.tolist(), p)
    assert r == r2
    assert verify_rank_certificate_gfp(vals, prow.tolist(), pcol.tolist(), p)


def test_gfp_blocked_large_random_and_low_rank():
    rng = np.random.default_rng(3)
    p = DEFAULT_PRIME
    a = rng.integers(0, p, (300, 40))
    b = rng.integers(0, p, (40, 290))
    low = (a.astype(object) @ b.astype(object)) % p  # rank 40 mod p (with high probability)
    low = np.array(low, dtype=np.int64)
    r, prow, pcol = kgfp.rank_gfp_blocked(low.astype(np.float64), p)
    r2, _, _ = kgfp.rank_gfp_rows(low.copy(), p)
    assert r == r2 == 40
    assert verify_rank_certificate_gfp(low, prow.tolist(), pcol.tolist(), p)
    full = rng.integers(0, 2, (260, 260))
    assert rank_gfp(full).rank == kgfp.rank_gfp_rows(full.copy(), p)[0]


def test_blocked_width_exactness_condition():
    for p in PRIMES:
        b = kgfp.blocked_width(p)
        assert b <= 128
        if b:
            assert b * (p - 1) ** 2 < 2**53
    assert kgfp.blocked_width(DEFAULT_PRIME) == 128
    assert kgfp.blocked_width(2147483647) == 0


def test_gfp_rejects_bad_primes():
    with pytest.raises(InvalidInputError):
        rank_gfp(np.eye(3, dtype=np.int64), 15)
    with pytest.raises(InvalidInputError):
        rank_gfp(np.eye(3, dtype=np.int64), 4294967311)


def test_is_prime_matches_trial_division():
    def slow(p):
        return p >= 2 and all(p % q for q in range(2, int(p**0.5) + 1))

    assert [p for p in range(2000) if is_prime(p)] == [p for p in range(2000) if slow(p)]
    assert is_prime(DEFAULT_PRIME) and is_prime(2147483647)
    assert not is_prime(2**23 - 1)  # 47 * 178481


# ---------------------------------------------------------------- R


@settings(deadline=None)
@given(int_matrices(max_side=25))
def test_real_rank_certified_and_matches_fractions(vals):
    res = rank_real(vals)
    assert res.numerical and res.tolerance is not None
    assert verify_rank_certificate_real(vals, res.pivot_rows, res.pivot_cols)
    assert res.certified_rank == len(res.pivot_rows)
    # small integer matrices: the numerical rank is the exact rank (checked by fractions)
    r = exact_rank(vals)
    assert res.rank == r == res.certified_rank


def test_real_rank_too_large_refused():
    with pytest.raises(TooLargeError, match="rank-gfp"):
        rank_real(np.zeros((5000, 2), dtype=np.int8))


# ---------------------------------------------------------------- chains and invariances


@settings(deadline=None)
@given(int_matrices(max_side=30), st.sampled_from(PRIMES[:-1]))
def test_finite_field_ranks_at_most_rational_rank(vals, p):
    # for an integer matrix, rank over every prime field <= rank over Q
    rq = rank_real(vals).certified_rank
    assert rank_gf2(vals).rank <= rq
    assert rank_gfp(vals, p).rank <= rq


@settings(deadline=None)
@given(bool_matrices)
def test_rank_bound_at_most_one_way_upper_bound(vals):
    # log2 of (rank M + rank (J - M)) <= D <= min one-way + 1 (the receiver announces the bit)
    ow = one_way(vals)
    values = sorted(set(vals.ravel().tolist()))
    for fn in (lambda m: rank_real(m).certified_rank, lambda m: rank_gf2(m).rank, lambda m: rank_gfp(m).rank):
        bits = rank_lower_bound_bits([fn(indicator(vals, v)) for v in values])
        assert bits <= ow.two_way_upper
        assert bits <= min(ow.alice_to_bob, ow.bob_to_alice) + 1
        # and rank <= number of distinct rows / columns
        assert fn(vals) <= min(ow.distinct_rows, ow.distinct_cols)


@settings(deadline=None)
@given(int_matrices(max_side=20), st.randoms(use_true_random=False))
def test_ranks_invariant_under_permutation_duplication_transpose(vals, rnd):
    rows = list(range(vals.shape[0])) + [rnd.randrange(vals.shape[0]) for _ in range(4)]
    cols = list(range(vals.shape[1])) + [rnd.randrange(vals.shape[1]) for _ in range(4)]
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    bigger = vals[np.ix_(rows, cols)]
    for fn in (lambda m: rank_real(m).rank, lambda m: rank_gf2(m).rank, lambda m: rank_gfp(m, 251).rank):
        r = fn(vals)
        assert fn(bigger) == r
        assert fn(np.ascontiguousarray(vals.T)) == r


def test_rank_lower_bound_bits():
    assert rank_lower_bound_bits([8, 8]) == 4
    assert rank_lower_bound_bits([15, 16]) == 5
    assert rank_lower_bound_bits([1]) == 0
    assert rank_lower_bound_bits([2, 1]) == 2


# ---------------------------------------------------------------- verifiers reject bad certificates


def test_verifiers_reject_singular_or_malformed_minors():
    vals = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert verify_rank_certificate_gf2(vals, [0, 2], [0, 2])
    assert not verify_rank_certificate_gf2(vals, [0, 1], [0, 1])
    assert not verify_rank_certificate_gf2(vals, [0, 0], [0, 2])
    assert not verify_rank_certificate_gfp(vals, [0, 1], [0, 2], 7)
    assert not verify_rank_certificate_real(vals, [0, 1], [1, 0])
    assert not verify_rank_certificate_real(vals, [0, 1, 2], [0, 1])
    # nonsingular over Q and GF(3) but singular over GF(2): det [[1,1],[1,-1 mod ...]]
    m2 = np.array([[1, 1], [1, 3]])
    assert verify_rank_certificate_real(m2, [0, 1], [0, 1])
    assert not verify_rank_certificate_gf2(m2, [0, 1], [0, 1])
    assert verify_rank_certificate_gfp(m2, [0, 1], [0, 1], 3)
    with pytest.raises(InvalidInputError):
        verify_rank_certificate_gf2(vals, [0, 5], [0, 1])


def test_tampered_result_fails_verification():
    vals = np.eye(6, dtype=np.int64)
    res = rank_gf2(vals)
    bad = dataclasses.replace(res, pivot_cols=(0, 0, 1, 2, 3, 4))
    assert not verify_rank_certificate_gf2(vals, bad.pivot_rows, bad.pivot_cols)


def test_dont_care_refused():
    with pytest.raises(InvalidInputError, match="promise"):
        rank_gf2(np.array([[0, -1], [1, 1]]))
