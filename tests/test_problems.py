"""The communication problems: evaluate against plain Python loops, communication
matrices, the literature bounds against quantities computed from the matrix, sampling,
registry access and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb.core import BoundKind, KnownBound
from commlb.errors import InvalidInputError, TooLargeError, UnknownNameError
from commlb.problems import DONT_CARE, pack_bits

from reference import exact_rank

# --------------------------------------------------------------- plain references


def to_int(bits) -> int:
    """x = sum_j x_j 2^j (entry 0 least significant)."""
    return sum(int(b) << j for j, b in enumerate(bits))


def disj_ref(x, y) -> int:
    return int(all(not (a and b) for a, b in zip(x, y)))


def eq_ref(x, y) -> int:
    return int(all(a == b for a, b in zip(x, y)))


def ip_ref(x, y) -> int:
    return sum(int(a) * int(b) for a, b in zip(x, y)) % 2


def gt_ref(x, y) -> int:
    return int(to_int(x) > to_int(y))


def index_ref(x, y) -> int:
    return int(x[int(y[0])])


def hamming(x, y) -> int:
    return sum(int(a != b) for a, b in zip(x, y))


def pc_ref(f_a, f_b, k, start=0, output="vertex") -> int:
    v = start
    for step in range(1, k + 1):
        v = int(f_a[v]) if step % 2 == 1 else int(f_b[v])
    return v if output == "vertex" else v % 2


BIT_REFS = {"disj": disj_ref, "eq": eq_ref, "ip": ip_ref, "gt": gt_ref}


def loop_matrix(problem, ref) -> np.ndarray:
    xs = problem.x_space.enumerate()
    ys = problem.y_space.enumerate()
    return np.array([[ref(list(x), list(y)) for y in ys] for x in xs], dtype=np.int64)


# --------------------------------------------------------------- evaluate vs loops


@pytest.mark.parametrize("name", sorted(BIT_REFS))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_bitwise_matrix_matches_loop_on_all_pairs(name, n):
    problem = commlb.get_problem(name, n=n)
    expected = loop_matrix(problem, BIT_REFS[name])
    assert np.array_equal(problem.matrix(), expected)
    xs = problem.x_space.enumerate()
    ys = problem.y_space.enumerate()
    # the broadcasting form and single pairs agree with the matrix
    assert np.array_equal(problem.evaluate(xs[:, None, :], ys[None, :, :]), expected)
    for i in (0, len(xs) - 1, len(xs) // 3):
        for j in (0, len(ys) - 1, len(ys) // 2):
            value = problem.evaluate(xs[i], ys[j])
            assert value.shape == () and value.dtype == np.int64
            assert int(value) == expected[i, j]


@settings(deadline=None, max_examples=40)
@given(
    name=st.sampled_from(sorted(BIT_REFS)),
    n=st.sampled_from([6, 31, 63, 64, 65, 100, 128, 129, 200]),
    seed=st.integers(0, 2**32 - 1),
    equal_prefix=st.booleans(),
)
def test_bitwise_random_pairs_match_loop(name, n, seed, equal_prefix):
    rng = np.random.default_rng(seed)
    problem = commlb.get_problem(name, n=n)
    x = rng.integers(0, 2, size=(20, n))
    y = rng.integers(0, 2, size=(20, n))
    if equal_prefix:
        # share the high bits (and everything for a few rows), so GT must look at low words
        cut = int(rng.integers(0, n + 1))
        y[:, cut:] = x[:, cut:]
        y[:3] = x[:3]
    # sparse rows make disjoint pairs common
    x[10:] &= rng.integers(0, 2, size=(10, n)) & rng.integers(0, 2, size=(10, n))
    got = problem.evaluate(x, y)
    assert got.shape == (20,) and got.dtype == np.int64
    assert got.tolist() == [BIT_REFS[name](list(a), list(b)) for a, b in zip(x, y)]


def test_broadcasting_shapes():
    rng = np.random.default_rng(1)
    problem = commlb.get_problem("ip", n=7)
    x = rng.integers(0, 2, size=(3, 1, 7))
    y = rng.integers(0, 2, size=(1, 4, 7))
    out = problem.evaluate(x, y)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert out[i, j] == ip_ref(x[i, 0], y[0, j])
    assert problem.evaluate(x[0, 0], y[0]).shape == (4,)
    with pytest.raises(InvalidInputError):
        problem.evaluate(rng.integers(0, 2, size=(3, 7)), rng.integers(0, 2, size=(4, 7)))


def test_pack_bits_is_little_endian_integer():
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, size=(5, 130))
    words = pack_bits(bits)
    assert words.shape == (5, 3) and words.dtype == np.uint64
    for row, w in zip(bits, words):
        assert sum(int(v) << (64 * k) for k, v in enumerate(w)) == to_int(row)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_index_matches_loop(n):
    problem = commlb.get_problem("index", n=n)
    assert problem.y_space.kind == "index" and problem.y_space.size == n
    if 2**n * n <= 4096:
        assert np.array_equal(problem.matrix(), loop_matrix(problem, index_ref))


@settings(deadline=None)
@given(n=st.integers(1, 150), seed=st.integers(0, 2**32 - 1))
def test_index_random_pairs(n, seed):
    rng = np.random.default_rng(seed)
    problem = commlb.get_problem("index", n=n)
    xs, ys = problem.sample_batch(rng, 16)
    assert ys.shape == (16, 1) and ys.min() >= 0 and ys.max() < n
    assert problem.evaluate(xs, ys).tolist() == [index_ref(a, b) for a, b in zip(xs, ys)]


@settings(deadline=None)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    output=st.sampled_from(["vertex", "parity"]),
    data=st.data(),
)
def test_pointer_chasing_random_against_loop(n, k, seed, output, data):
    start = data.draw(st.integers(0, n - 1))
    problem = commlb.get_problem("pc", n=n, k=k, start=start, output=output)
    rng = np.random.default_rng(seed)
    f_a, f_b = problem.sample_batch(rng, 12)
    assert f_a.shape == (12, n) and f_a.max() < n and f_a.min() >= 0
    got = problem.evaluate(f_a, f_b)
    assert got.tolist() == [pc_ref(a, b, k, start, output) for a, b in zip(f_a, f_b)]
    assert problem.num_outputs == (n if output == "vertex" else 2)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_pointer_chasing_matrix_all_pairs(k):
    problem = commlb.get_problem("pc", n=3, k=k)
    expected = loop_matrix(problem, lambda a, b: pc_ref(a, b, k))
    assert np.array_equal(problem.matrix(), expected)
    # step 1 uses f_A only: with k = 1 every row is constant
    if k == 1:
        assert np.all(expected == expected[:, :1])


def test_pointer_chasing_worked_example():
    # f_A = (1, 2, 0), f_B = (2, 2, 1), start 0: v1 = f_A(0) = 1, v2 = f_B(1) = 2,
    # v3 = f_A(2) = 0, v4 = f_B(0) = 2
    f_a, f_b = np.array([1, 2, 0]), np.array([2, 2, 1])
    for k, v in [(1, 1), (2, 2), (3, 0), (4, 2)]:
        assert int(commlb.get_problem("pc", n=3, k=k).evaluate(f_a, f_b)) == v
    assert int(commlb.get_problem("pc", n=3, k=1, start=2).evaluate(f_a, f_b)) == 0


# --------------------------------------------------------------- matrix structure


@pytest.mark.parametrize("n", [1, 3, 6])
def test_eq_matrix_is_identity(n):
    assert np.array_equal(commlb.get_problem("eq", n=n).matrix(), np.eye(2**n, dtype=np.int8))


@pytest.mark.parametrize("n", [1, 3, 6])
def test_disj_row_counts(n):
    m = commlb.get_problem("disj", n=n).matrix()
    weights = np.array([bin(i).count("1") for i in range(2**n)])
    # row x is disjoint from exactly the subsets of its complement
    assert np.array_equal(m.sum(axis=1), 2 ** (n - weights))
    assert np.array_equal(m, m.T)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_gt_matrix_strictly_lower_triangular(n):
    m = commlb.get_problem("gt", n=n).matrix()
    assert np.array_equal(m, np.tril(np.ones((2**n, 2**n), dtype=np.int8), k=-1))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_ip_matrix_is_hadamard(n):
    m = commlb.get_problem("ip", n=n).matrix().astype(np.int64)
    h = 1 - 2 * m
    assert np.array_equal(h @ h.T, 2**n * np.eye(2**n, dtype=np.int64))


def test_matrix_12_bits_and_refusal():
    m = commlb.get_problem("disj", n=12).matrix()
    assert m.shape == (4096, 4096) and m.dtype == np.int8
    assert int(m.sum()) == 3**12  # disjoint pairs: each coordinate (0,0), (0,1) or (1,0)
    with pytest.raises(TooLargeError, match="entries"):
        commlb.get_problem("disj", n=14).matrix()
    with pytest.raises(TooLargeError):
        commlb.get_problem("eq", n=6).matrix(max_entries=1000)
    with pytest.raises(TooLargeError):
        commlb.get_problem("pc", n=6, k=2).matrix()


def test_matrix_dtype_wide_outputs():
    m = commlb.get_problem("pc", n=3, k=2).matrix()
    assert m.dtype == np.int8 and set(np.unique(m)) <= {0, 1, 2}


# --------------------------------------------------------------- bounds vs the matrix


def rank_leaves_bound(m: np.ndarray) -> int:
    """⌈log2(rank(M) + rank(J - M))⌉: a protocol tree has >= rank(M) 1-leaves and
    >= rank(J - M) 0-leaves."""
    return math.ceil(math.log2(exact_rank(m) + exact_rank(1 - m)))


def distinct_rows(m: np.ndarray) -> int:
    return len({row.tobytes() for row in m})


@pytest.mark.parametrize("name", ["disj", "eq", "ip", "gt", "index"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_exact_deterministic_and_one_way_values_match_the_matrix(name, n):
    problem = commlb.get_problem(name, n=n)
    m = problem.matrix().astype(np.int64)
    det = problem.deterministic_bound()
    assert det is not None and det.exact and det.lower and not det.asymptotic
    # the rank lower bound already reaches the stated value; the stated value is also the
    # cost of the obvious protocol (send x / send i, then announce), so it is exact
    assert rank_leaves_bound(m) == det.value
    if name == "index":
        assert det.value == math.ceil(math.log2(n)) + 1
    else:
        assert det.value == n + 1 and det.formula == "n + 1"
    ab = problem.one_way_bound("AB")
    ba = problem.one_way_bound("BA")
    assert ab.exact and ba.exact
    assert ab.value == math.ceil(math.log2(distinct_rows(m)))
    assert ba.value == math.ceil(math.log2(distinct_rows(m.T)))
    assert problem.one_way_bound("A->B") == ab


def test_bound_values_at_n8():
    values = {name: commlb.get_problem(name, n=8).deterministic_bound().value
              for name in ("disj", "eq", "ip", "gt", "index")}
    assert values == {"disj": 9, "eq": 9, "ip": 9, "gt": 9, "index": 4}
    index = commlb.get_problem("index", n=100)
    assert index.one_way_bound("AB").value == 100
    assert index.one_way_bound("BA").value == 7
    eq = commlb.get_problem("eq", n=8).deterministic_bound()
    assert "formally verified" in eq.status
    assert "derived here" in commlb.get_problem("disj", n=8).deterministic_bound().status


ALL_PROBLEMS = [("disj", {}), ("eq", {}), ("ip", {}), ("gt", {}), ("index", {}),
                ("pc", {"k": 3}), ("ghd", {})]


@pytest.mark.parametrize("name,extra", ALL_PROBLEMS)
def test_every_bound_is_cited_data(name, extra):
    problem = commlb.get_problem(name, n=16, **extra)
    bounds = problem.bounds()
    assert bounds
    for b in bounds:
        assert isinstance(b, KnownBound)
        assert b.citation.strip() and b.formula.strip() and b.status.strip()
        if b.exact:
            assert b.value is not None and not b.asymptotic
        if b.asymptotic:
            assert b.value is None
        if b.kind in (BoundKind.RANDOMIZED, BoundKind.RANDOMIZED_ONE_WAY_AB):
            assert b.epsilon is not None and 0 < b.epsilon < 0.5
        if b.kind is BoundKind.K_ROUND:
            assert b.rounds == extra["k"] - 1  # the receiver of the last message outputs
        assert b.to_json()["citation"] == b.citation
    assert problem.description


def test_literature_bounds_present():
    def kinds(name, **kw):
        return {(b.kind, b.asymptotic, b.lower) for b in commlb.get_problem(name, **kw).bounds()}

    disj_rand = [b for b in commlb.get_problem("disj", n=8).bounds() if b.kind is BoundKind.RANDOMIZED]
    assert disj_rand and "Razborov" in disj_rand[0].citation and disj_rand[0].asymptotic
    ip_rand = [b for b in commlb.get_problem("ip", n=8).bounds() if b.kind is BoundKind.RANDOMIZED]
    assert "Chor" in ip_rand[0].citation and "log2(1/(1 - 2*eps))" in ip_rand[0].formula
    idx = {b.kind: b for b in commlb.get_problem("index", n=10).bounds()}
    kr = idx[BoundKind.RANDOMIZED_ONE_WAY_AB]
    h = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    assert kr.value == pytest.approx((1 - h) * 10) and "Kremer" in kr.citation
    assert (BoundKind.RANDOMIZED, True, True) in kinds("ghd", n=16)
    assert (BoundKind.RANDOMIZED, True, True) in kinds("gt", n=16)
    pc = commlb.get_problem("pc", n=16, k=3).bounds()
    upper = [b for b in pc if not b.lower]
    # the receiver of the last message outputs: Alice first, k - 1 rounds of ceil(log2 n) bits
    assert upper[0].value == (3 - 1) * 4 and upper[0].rounds == 3 - 1
    assert all("Nisan" in b.citation and b.rounds == 3 - 1 for b in pc if b.lower)
    assert all("proved in the cited paper" in b.status for b in pc if b.lower)
    assert commlb.get_problem("pc", n=16, k=3).deterministic_bound() is None


def test_one_way_direction_checked():
    with pytest.raises(InvalidInputError):
        commlb.get_problem("eq", n=4).one_way_bound("AC")


# --------------------------------------------------------------- Gap-Hamming


@pytest.mark.parametrize("n,gap", [(1, None), (4, None), (9, None), (16, None), (16, 2.5),
                                   (50, None), (300, None), (300, 3.0)])
def test_ghd_samples_inside_promise(n, gap):
    problem = commlb.get_problem("ghd", n=n, gap=gap)
    rng = np.random.default_rng(n)
    x, y = problem.sample_batch(rng, 400)
    assert x.shape == (400, n) and x.dtype == np.int64 and set(np.unique(x)) <= {0, 1}
    dist = np.array([hamming(a, b) for a, b in zip(x, y)])
    g = problem.gap
    close = dist <= n / 2 - g
    far = dist >= n / 2 + g
    assert np.all(close | far)
    assert np.all(problem.in_promise(x, y))
    assert np.array_equal(problem.evaluate(x, y), close.astype(np.int64))
    assert 0.35 < close.mean() < 0.65  # each side with probability 1/2
    a, b = problem.sample(rng)
    assert a.shape == (n,) and bool(problem.in_promise(a, b))


def test_ghd_thresholds_and_matrix():
    problem = commlb.get_problem("ghd", n=16)
    assert problem.gap == 4 and problem.close_max == 4 and problem.far_min == 12
    assert problem.is_promise and not commlb.get_problem("disj", n=3).is_promise
    small = commlb.get_problem("ghd", n=6, gap=1.5)
    assert small.close_max == 1 and small.far_min == 5
    m = small.matrix()
    xs = small.x_space.enumerate()
    for i in range(0, 64, 5):
        for j in range(64):
            d = hamming(xs[i], xs[j])
            expected = 1 if d <= 1 else 0 if d >= 5 else DONT_CARE
            assert m[i, j] == expected


def test_ghd_bad_gap():
    for gap in (0, -1, 9, "wide"):
        with pytest.raises(InvalidInputError):
            commlb.get_problem("ghd", n=16, gap=gap)
    # a wider gap than sqrt(n) drops the Theta(n) lower bounds stated for sqrt(n)
    wide = commlb.get_problem("ghd", n=16, gap=6)
    assert all(not b.lower for b in wide.bounds())


# --------------------------------------------------------------- sampling, registry, errors


@pytest.mark.parametrize("name,extra", ALL_PROBLEMS)
def test_sample_types(name, extra):
    problem = commlb.get_problem(name, n=6, **extra)
    x, y = problem.sample(np.random.default_rng(0))
    assert x.dtype == np.int64 and y.dtype == np.int64
    assert x.shape == (problem.x_space.length,) and y.shape == (problem.y_space.length,)
    value = problem.evaluate(x, y)
    assert value.shape == () and 0 <= int(value) < problem.num_outputs
    xs, ys = problem.sample_batch(np.random.default_rng(0), 5)
    assert xs.shape == (5, problem.x_space.length) and ys.shape == (5, problem.y_space.length)
    xs2, ys2 = problem.sample_batch(np.random.default_rng(0), 5)
    assert np.array_equal(xs, xs2) and np.array_equal(ys, ys2)
    assert problem.params()["n"] == 6 and repr(problem).startswith(type(problem).__name__)


def test_registry():
    problem = commlb.get_problem("disj", n=8)
    assert problem.n == 8 and problem.name == "disj"
    assert set(commlb.list_problems()) >= {"disj", "eq", "ip", "gt", "index", "pc", "ghd"}
    with pytest.raises(UnknownNameError, match="unknown problem"):
        commlb.get_problem("nope", n=3)
    with pytest.raises(InvalidInputError):
        commlb.get_problem("disj", n=3, k=2)  # unknown keyword
    for bad in (0, -2, 2.5, "8", True):
        with pytest.raises(InvalidInputError):
            commlb.get_problem("eq", n=bad)
    with pytest.raises(InvalidInputError):
        commlb.get_problem("pc", n=4, k=0)
    with pytest.raises(InvalidInputError):
        commlb.get_problem("pc", n=4, start=4)
    with pytest.raises(InvalidInputError):
        commlb.get_problem("pc", n=4, output="bit")


def test_invalid_inputs_rejected():
    eq = commlb.get_problem("eq", n=4)
    with pytest.raises(InvalidInputError):
        eq.evaluate(np.zeros(5, dtype=np.int64), np.zeros(4, dtype=np.int64))
    with pytest.raises(InvalidInputError):
        eq.evaluate(np.array([0, 2, 0, 0]), np.zeros(4, dtype=np.int64))
    with pytest.raises(InvalidInputError):
        eq.evaluate(np.array([0.5, 0, 0, 0]), np.zeros(4))
    index = commlb.get_problem("index", n=4)
    with pytest.raises(InvalidInputError):
        index.evaluate(np.zeros(4, dtype=np.int64), np.array([4]))
    pc = commlb.get_problem("pc", n=3)
    with pytest.raises(InvalidInputError):
        pc.evaluate(np.array([0, 1, 3]), np.array([0, 1, 2]))
    with pytest.raises(InvalidInputError):
        eq.sample_batch(np.random.default_rng(0), -1)
