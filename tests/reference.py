"""Plain references shared by the tests: the classic communication matrices, exact ranks
and the small-matrix strategy.  Nothing here calls commlb, so a test comparing commlb
with these compares it with something computed another way.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st


def popcount(v: int) -> int:
    return bin(v).count("1")


# ------------------------------------------------------------- classic matrices
# Rows are Alice's x, columns Bob's y, both n-bit integers in 0 .. 2^n - 1.


def eq(n: int) -> np.ndarray:
    """EQ_n: 1 iff x = y."""
    return np.eye(1 << n, dtype=np.int64)


def disj(n: int) -> np.ndarray:
    """DISJ_n: 1 iff the sets x and y are disjoint."""
    x = np.arange(1 << n)
    return ((x[:, None] & x[None, :]) == 0).astype(np.int64)


def ip(n: int) -> np.ndarray:
    """IP_n: the inner product of x and y mod 2."""
    N = 1 << n
    return np.array([[popcount(x & y) % 2 for y in range(N)] for x in range(N)], dtype=np.int64)


def gt(n: int) -> np.ndarray:
    """GT_n: 1 iff x > y."""
    x = np.arange(1 << n)
    return (x[:, None] > x[None, :]).astype(np.int64)


CLASSIC = {"eq": eq, "disj": disj, "ip": ip, "gt": gt}


# ------------------------------------------------------------------ exact ranks


def exact_rank(A: np.ndarray | Sequence[Sequence[int]]) -> int:
    """Rank over Q by Gauss-Jordan elimination in Fractions."""
    rows = [[Fraction(int(v)) for v in row] for row in np.asarray(A).tolist()]
    rank = 0
    ncols = len(rows[0]) if rows else 0
    for c in range(ncols):
        piv = next((i for i in range(rank, len(rows)) if rows[i][c] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][c] != 0:
                f = rows[i][c] / rows[rank][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank])]
        rank += 1
    return rank


def rank_gf2(A: np.ndarray | Sequence[Sequence[int]]) -> int:
    """Rank over GF(2) (entries taken mod 2), rows as Python integers."""
    work = [sum((int(v) & 1) << j for j, v in enumerate(row)) for row in np.asarray(A).tolist()]
    rank = 0
    while work:
        pivot = work.pop()
        if pivot == 0:
            continue
        rank += 1
        low = pivot & -pivot
        work = [w ^ pivot if w & low else w for w in work]
    return rank


# ------------------------------------------------------------------- strategies


@st.composite
def small_matrices(draw, max_side: int = 6):
    """A matrix of 1..max_side rows and columns with 2 or 3 distinct values."""
    rows = draw(st.integers(1, max_side))
    cols = draw(st.integers(1, max_side))
    values = draw(st.integers(2, 3))
    flat = draw(st.lists(st.integers(0, values - 1), min_size=rows * cols, max_size=rows * cols))
    return np.array(flat, dtype=np.int64).reshape(rows, cols)
