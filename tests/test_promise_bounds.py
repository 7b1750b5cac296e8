"""Bounds of a promise problem whose promise is a product set (pc-perm: both maps are
permutations) are those of the total function on the submatrix inside the promise; a
promise that is not a product set (gap-Hamming) is refused."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from commlb.bounds.matrix import matrix_from_problem
from commlb.bounds.report import compute_bounds
from commlb.errors import InvalidInputError
from commlb.registry import get_problem


def _chase(f_a: tuple[int, ...], f_b: tuple[int, ...], k: int) -> int:
    # PC(n, k) from vertex 0, Alice's map first (docs/theory.md §4.8), written out by hand
    v = 0
    for step in range(k):
        v = (f_a if step % 2 == 0 else f_b)[v]
    return v


def test_pc_perm_bounds_equal_those_of_the_permutation_submatrix():
    n, k = 3, 2
    perms = list(itertools.permutations(range(n)))
    # the submatrix built by hand, in the order the problem enumerates its inputs
    problem = get_problem("pc-perm", n=n)
    xs = problem.x_space.enumerate()
    inside = [tuple(int(v) for v in row) for row in xs if sorted(row) == list(range(n))]
    assert sorted(inside) == sorted(perms)
    by_hand = np.array([[_chase(a, b, k) for b in inside] for a in inside])
    expected = problem.evaluate(np.array(inside)[:, None, :], np.array(inside)[None, :, :])
    assert np.array_equal(by_hand, expected)

    restricted = compute_bounds(matrix_from_problem("pc-perm", n=n), time_limit=5)
    direct = compute_bounds(by_hand.astype(np.int16), time_limit=5)
    assert (restricted.rows, restricted.cols) == (len(perms), len(perms))
    assert restricted.deterministic["lower"] == direct.deterministic["lower"]
    assert restricted.deterministic["upper"] == direct.deterministic["upper"]
    assert any("product set" in note for note in restricted.notes)


def test_a_promise_that_is_not_a_product_set_is_refused():
    with pytest.raises(InvalidInputError, match="not a product"):
        compute_bounds(matrix_from_problem("ghd", n=4), time_limit=5)


def test_cli_bounds_pc_perm_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "commlb.cli.main", "bounds", "--problem", "pc-perm",
                          "--n", "3", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows"] == 6 and data["cols"] == 6
