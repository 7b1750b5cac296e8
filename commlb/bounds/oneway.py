"""Deterministic one-way communication complexity, exactly, in both directions.

Alice -> Bob (Alice sends one message, Bob announces f(x, y)): inputs x, x' whose rows of
M differ in some column y must get different messages, and inputs with equal rows may
share one, so

    D^{A->B}(f) = ceil(log2(number of distinct rows of M))

(Kushilevitz–Nisan 1997, §4.2).  Bob -> Alice is the same with columns.  The certificate
is one representative input per distinct row: pairwise distinct rows show the lower bound,
and every row equal to a representative shows the upper bound.  Cost: one hash/sort of the
rows, O(rows * cols).

Also: D(f) <= min(D^{A->B}, D^{B->A}) + ceil(log2 #values) (the receiver announces the
answer), an upper bound on the two-way complexity.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .matrix import DONT_CARE, CommMatrix

__all__ = ["OneWayResult", "one_way", "distinct_rows", "verify_one_way", "bits_for"]


def bits_for(count: int) -> int:
    """ceil(log2 count) for count >= 1 (0 for one message)."""
    return 0 if count <= 1 else math.ceil(math.log2(count))


@dataclass(frozen=True)
class OneWayResult:
    """One-way complexities with their certificates.

    ``row_representatives[i]`` is the first row of the i-th class of equal rows and
    ``row_class[x]`` the class of row x (likewise for columns)."""

    alice_to_bob: int
    bob_to_alice: int
    distinct_rows: int
    distinct_cols: int
    row_representatives: tuple[int, ...]
    col_representatives: tuple[int, ...]
    row_class: tuple[int, ...]
    col_class: tuple[int, ...]
    two_way_upper: int
    elapsed: float

    def to_json(self) -> dict[str, Any]:
        return {
            "alice_to_bob": self.alice_to_bob,
            "bob_to_alice": self.bob_to_alice,
            "distinct_rows": self.distinct_rows,
            "distinct_cols": self.distinct_cols,
            "row_representatives": list(self.row_representatives),
            "col_representatives": list(self.col_representatives),
            "two_way_upper": self.two_way_upper,
            "elapsed": self.elapsed,
        }


def distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(representatives, classes): the first index of each distinct row (in order of
    first appearance) and, for every row, the number of its class."""
    vals = np.ascontiguousarray(values)
    m = vals.shape[0]
    if m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # each row as one opaque byte string: np.unique sorts them in O(m log m) comparisons
    keys = vals.view(np.dtype((np.void, vals.dtype.itemsize * vals.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # classes numbered by first appearance
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(order.size)
    return first[order].astype(np.int64), rank_of[inverse.ravel()].astype(np.int64)


def one_way(M: CommMatrix | np.ndarray) -> OneWayResult:
    """Exact one-way complexities of M in both directions, with representatives."""
    vals = M.values if isinstance(M, CommMatrix) else np.asarray(M)
    if vals.ndim != 2:
        raise InvalidInputError("one-way complexity needs a 2-D matrix")
    if np.any(vals == DONT_CARE):
        raise InvalidInputError(
            "the matrix has don't-care entries (a promise problem): one-way complexity is "
            "only computed for total functions"
        )
    t0 = time.perf_counter()
    rep_r, cls_r = distinct_rows(vals)
    rep_c, cls_c = distinct_rows(np.ascontiguousarray(vals.T))
    num_values = int(np.unique(vals).size)
    ab = bits_for(rep_r.size)
    ba = bits_for(rep_c.size)
    return OneWayResult(
        alice_to_bob=ab,
        bob_to_alice=ba,
        distinct_rows=int(rep_r.size),
        distinct_cols=int(rep_c.size),
        row_representatives=tuple(int(i) for i in rep_r),
        col_representatives=tuple(int(j) for j in rep_c),
        row_class=tuple(int(c) for c in cls_r),
        col_class=tuple(int(c) for c in cls_c),
        two_way_upper=min(ab, ba) + bits_for(num_values),
        elapsed=time.perf_counter() - t0,
    )


def verify_one_way(M: CommMatrix | np.ndarray, result: OneWayResult) -> bool:
    """Check the certificate in plain Python: representatives pairwise distinct (lower
    bound), every row/column equal to the representative of its class (upper bound), and
    the bit counts equal ceil(log2 #representatives)."""
    vals = M.values if isinstance(M, CommMatrix) else np.asarray(M)
    rows = [tuple(int(v) for v in row) for row in vals.tolist()]
    cols = [tuple(col) for col in zip(*rows)]
    for lines, reps, cls, bits in ((rows, result.row_representatives, result.row_class, result.alice_to_bob),
                                   (cols, result.col_representatives, result.col_class, result.bob_to_alice)):
        if len({lines[i] for i in reps}) != len(reps):
            return False
        if len(cls) != len(lines):
            return False
        for idx, c in enumerate(cls):
            if not 0 <= c < len(reps) or lines[idx] != lines[reps[c]]:
                return False
        if bits != (0 if len(reps) <= 1 else (len(reps) - 1).bit_length()):
            return False
    return True
