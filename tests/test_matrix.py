"""Communication matrices: packing kernel vs numpy, expressions, callables, files, size
refusals, promise problems, one-way complexity and its certificate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from commlb.bounds.expression import evaluate_expression
from commlb.bounds.matrix import (
    DONT_CARE,
    CommMatrix,
    load_matrix,
    matrix_from_array,
    matrix_from_callable,
    matrix_from_expression,
    matrix_from_function,
    matrix_from_problem,
)
from commlb.bounds.oneway import distinct_rows, one_way, verify_one_way
from commlb.core import InputSpace, KnownBound, Problem
from commlb.errors import InvalidInputError, TooLargeError
from commlb.kernels.matrix import pack_rows, pack_rows_numpy, unpack_rows

bit_matrices = st.tuples(st.integers(1, 70), st.integers(1, 200)).flatmap(
    lambda s: hnp.arrays(np.uint8, s, elements=st.integers(0, 1)))
small_int_matrices = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda s: hnp.arrays(np.int64, s, elements=st.integers(0, 3)))


# ---------------------------------------------------------------- packing kernel


@settings(deadline=None)
@given(bit_matrices)
def test_pack_rows_kernel_matches_numpy(bits):
    packed = pack_rows(bits)
    assert packed.dtype == np.uint64
    assert np.array_equal(packed, pack_rows_numpy(bits))
    assert np.array_equal(unpack_rows(packed, bits.shape[1]), bits)


def test_pack_rows_bit_order():
    bits = np.zeros((1, 130), np.uint8)
    bits[0, [0, 63, 64, 129]] = 1
    packed = pack_rows(bits)
    assert packed.shape == (1, 3)
    assert int(packed[0, 0]) == (1 | (1 << 63))
    assert int(packed[0, 1]) == 1
    assert int(packed[0, 2]) == 2


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize("expr, fn", [
    ("x == y", lambda x, y, n: int(x == y)),
    ("(x & y) == 0", lambda x, y, n: int(x & y == 0)),
    ("popcount(x & y) % 2", lambda x, y, n: bin(x & y).count("1") % 2),
    ("x > y", lambda x, y, n: int(x > y)),
    ("bit(x, y % n)", lambda x, y, n: (x >> (y % n)) & 1),
    ("parity(x ^ y) + 2 * (x < y)", lambda x, y, n: bin(x ^ y).count("1") % 2 + 2 * (x < y)),
    ("min(x, y) if x != 3 else max(x, y)", lambda x, y, n: min(x, y) if x != 3 else max(x, y)),
    ("where(x + y >= n, 1, 0)", lambda x, y, n: int(x + y >= n)),
    ("not x and y or x == 1", lambda x, y, n: int(bool((not x and y) or x == 1))),
    ("(x << 1) // 3 - (y >> 1) + abs(x - y) ** 2", lambda x, y, n: (x << 1) // 3 - (y >> 1) + abs(x - y) ** 2),
])
def test_expression_matches_python(expr, fn):
    n = 3
    got = evaluate_expression(expr, np.arange(8)[:, None], np.arange(8)[None, :], n)
    want = np.array([[fn(x, y, n) for y in range(8)] for x in range(8)])
    assert np.array_equal(got, want)


@pytest.mark.parametrize("expr", [
    "__import__('os').system('true')", "x.real", "open('f')", "[x]", "x / y", "1.5 + x",
    "lambda: 1", "z + x", "x if", "popcount(v=x)",
])
def test_expression_rejects_unsafe_or_bad(expr):
    with pytest.raises(InvalidInputError):
        matrix_from_expression(expr, 2)


def test_expression_division_by_zero_refused():
    with pytest.raises(InvalidInputError):
        matrix_from_expression("x % y", 2)


def test_expression_matrix_shape_values_and_range_check():
    M = matrix_from_expression("x + y", 3)
    assert M.shape == (8, 8)
    assert M.values[7, 7] == 14 and M.values[2, 5] == 7
    with pytest.raises(InvalidInputError):
        matrix_from_expression("x - y - 2", 2)  # negative values other than don't-care
    M2 = matrix_from_expression("x + y", 2, n_y=3)
    assert M2.shape == (4, 8)


def test_function_dispatch_and_callable(tmp_path):
    src = tmp_path / "userfn.py"
    src.write_text("import numpy as np\n\ndef ip(x, y):\n    return np.bitwise_count(x & y) % 2\n")
    via_callable = matrix_from_callable(f"{src}:ip", 3)
    via_dispatch = matrix_from_function(f"{src}:ip", 3)
    via_expr = matrix_from_function("popcount(x & y) % 2", 3)
    assert np.array_equal(via_callable.values, via_expr.values)
    assert np.array_equal(via_dispatch.values, via_expr.values)
    with pytest.raises(InvalidInputError):
        matrix_from_callable(f"{src}:missing", 3)
    with pytest.raises(InvalidInputError):
        matrix_from_callable(f"{tmp_path / 'nofile.py'}:ip", 3)


def test_too_large_refused_with_estimate():
    with pytest.raises(TooLargeError) as err:
        matrix_from_expression("x & y", 16)
    msg = str(err.value)
    assert "65536 x 65536" in msg and "GiB" in msg and "--n 13" in msg


# ---------------------------------------------------------------- files


def test_load_text_matrix_non_square(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("# a comment\n0 1 2 0\n1,1,0,2\n\n2, 2 ,2 2\n")
    M = load_matrix(f)
    assert M.shape == (3, 4)
    assert M.values.tolist() == [[0, 1, 2, 0], [1, 1, 0, 2], [2, 2, 2, 2]]
    assert M.output_values() == [0, 1, 2]
    assert not M.is_boolean


def test_load_text_dont_care_and_errors(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("1 *\n-1 0\n")
    M = load_matrix(f)
    assert M.values.tolist() == [[1, DONT_CARE], [DONT_CARE, 0]]
    assert M.has_dont_care
    bad = tmp_path / "bad.txt"
    bad.write_text("1 0\n1\n")
    with pytest.raises(InvalidInputError):
        load_matrix(bad)
    bad.write_text("1 0\n1 x\n")
    with pytest.raises(InvalidInputError):
        load_matrix(bad)
    bad.write_text("1 -2\n")
    with pytest.raises(InvalidInputError):
        load_matrix(bad)
    with pytest.raises(InvalidInputError):
        load_matrix(tmp_path / "absent.txt")


def test_load_npy(tmp_path):
    arr = np.array([[0, 1, 1], [3, 0, 0]])
    np.save(tmp_path / "m.npy", arr)
    M = load_matrix(tmp_path / "m.npy")
    assert M.values.tolist() == arr.tolist()
    np.save(tmp_path / "f.npy", np.array([[0.5, 1.0]]))
    with pytest.raises(InvalidInputError):
        load_matrix(tmp_path / "f.npy")


# ---------------------------------------------------------------- problems


class _TinyGT(Problem):
    """GT on n bits, defined here so the test does not depend on commlb.problems."""

    name = "tiny-gt"

    def __init__(self, n: int):
        self.n = n
        self.x_space = InputSpace("bits", n)
        self.y_space = InputSpace("bits", n)

    def evaluate(self, x, y):
        w = 1 << np.arange(self.n)
        return ((x @ w) > (y @ w)).astype(np.int64)

    def bounds(self) -> list[KnownBound]:
        return []


class _TinyGap(_TinyGT):
    """A promise problem: defined only when the Hamming distance is 0 or n."""

    name = "tiny-gap"

    @property
    def is_promise(self) -> bool:
        return True

    def evaluate(self, x, y):
        return (np.sum(x != y, axis=-1) == 0).astype(np.int64)

    def in_promise(self, x, y):
        d = np.sum(x != y, axis=-1)
        return (d == 0) | (d == self.n)


def test_matrix_from_problem_instance_matches_expression():
    M = matrix_from_problem(_TinyGT(3))
    assert np.array_equal(M.values, matrix_from_expression("x > y", 3).values)


def test_promise_problem_gives_dont_care_and_bounds_refuse():
    from commlb.bounds.report import compute_bounds

    M = matrix_from_problem(_TinyGap(2))
    assert M.has_dont_care
    assert int(np.sum(M.values != DONT_CARE)) == 8  # 4 equal pairs + 4 complementary pairs
    with pytest.raises(InvalidInputError, match="promise"):
        compute_bounds(M)
    with pytest.raises(InvalidInputError):
        one_way(M)


def test_registered_problem():
    M = matrix_from_problem("eq", 3)
    assert M.shape == (8, 8)
    assert np.array_equal(M.values, np.eye(8, dtype=M.values.dtype))


def test_registered_problem_too_large_refused():
    with pytest.raises(TooLargeError, match="65536 x 65536"):
        matrix_from_problem("disj", 16)


# ---------------------------------------------------------------- one-way


def _plain_distinct(rows):
    return len({tuple(r) for r in rows})


@settings(deadline=None)
@given(small_int_matrices)
def test_one_way_counts_and_certificate(vals):
    res = one_way(vals)
    assert res.distinct_rows == _plain_distinct(vals.tolist())
    assert res.distinct_cols == _plain_distinct(vals.T.tolist())
    assert 2 ** res.alice_to_bob >= res.distinct_rows
    assert res.alice_to_bob == 0 or 2 ** (res.alice_to_bob - 1) < res.distinct_rows
    assert verify_one_way(vals, res)
    # transposition swaps the directions
    t = one_way(vals.T.copy())
    assert (t.alice_to_bob, t.bob_to_alice) == (res.bob_to_alice, res.alice_to_bob)


@settings(deadline=None)
@given(small_int_matrices, st.randoms(use_true_random=False))
def test_one_way_invariant_under_permutation_and_duplication(vals, rnd):
    rows = list(range(vals.shape[0])) + [rnd.randrange(vals.shape[0]) for _ in range(3)]
    cols = list(range(vals.shape[1])) + [rnd.randrange(vals.shape[1]) for _ in range(3)]
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    bigger = vals[np.ix_(rows, cols)]
    a, b = one_way(vals), one_way(bigger)
    assert (a.alice_to_bob, a.bob_to_alice) == (b.alice_to_bob, b.bob_to_alice)


def test_one_way_tampered_certificate_rejected():
    vals = np.array([[0, 1], [0, 1], [1, 1]])
    res = one_way(vals)
    assert res.distinct_rows == 2 and res.alice_to_bob == 1 and res.bob_to_alice == 1
    import dataclasses

    bad = dataclasses.replace(res, row_representatives=(0, 1))  # rows 0 and 1 are equal
    assert not verify_one_way(vals, bad)
    bad2 = dataclasses.replace(res, row_class=(0, 0, 0))
    assert not verify_one_way(vals, bad2)


def test_distinct_rows_first_appearance_order():
    reps, cls = distinct_rows(np.array([[1, 0], [0, 0], [1, 0], [0, 0], [2, 2]], dtype=np.int8))
    assert reps.tolist() == [0, 1, 4]
    assert cls.tolist() == [0, 1, 0, 1, 2]


def test_commmatrix_validation_and_transpose():
    M = matrix_from_array([[0, 1, 1], [1, 0, 0]], "t")
    assert isinstance(M, CommMatrix)
    assert M.transpose().shape == (3, 2)
    assert M.is_boolean
    with pytest.raises(InvalidInputError):
        matrix_from_array(np.zeros((0, 3)))
    with pytest.raises(InvalidInputError):
        matrix_from_array([[40000]])
