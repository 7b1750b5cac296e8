"""The one-way VC-dimension bound, with a shattered set as certificate.

A set Y' = {y_1, …, y_d} of Bob's inputs is *shattered* by Alice's rows when every
pattern z ∈ {0,1}^d appears as (f(x, y_1), …, f(x, y_d)) for some row x.  Pick one such
row x_z per pattern.  A one-way protocol (Alice sends c bits, Bob answers) for f that errs
with probability ≤ ε under the distribution

    μ_{Y'}: x = x_z with z uniform in {0,1}^d, y = y_i with i uniform in [d]

solves INDEX_d under the uniform distribution with the same error, so

    D^{→, μ_{Y'}}_ε(f) ≥ (1 − H2(ε))·d,  hence  R^{→, pub}_ε(f) ≥ (1 − H2(ε))·d

(Kremer–Nisan–Ron 1999, Thm 3.2 gives Ω(d); the (1 − H2(ε)) constant is the INDEX
information argument of Ablayev 1996, derived in docs/theory.md §6.2).  For INDEX_n
itself Y' is all of Bob's indices and μ_{Y'} is the uniform distribution.

Search (:func:`find_shattered_set`): the upper limit is floor(log2(#distinct rows)); a
greedy pass adds columns while the set stays shattered, and when it falls short of the
limit an exhaustive search over larger sets runs under a time limit (shattered sets are
closed under subsets, so the search extends shattered sets only).  Each shattered-set test
projects the rows on the set: O(rows·d).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .rational import binary_entropy, ceil_with_guard

__all__ = ["ShatteredSet", "find_shattered_set", "is_shattered", "verify_shattered_set",
           "one_way_vc_bits"]


@dataclass(frozen=True)
class ShatteredSet:
    """Columns shattered by the rows, with one witness row per pattern
    (``witnesses[z]`` has f(x, cols[i]) = bit i of z)."""

    cols: tuple[int, ...]
    witnesses: tuple[int, ...]
    upper: int  # floor(log2 #distinct rows): no larger set can be shattered
    maximum: bool  # True when the search proved no larger shattered set exists
    elapsed: float

    @property
    def size(self) -> int:
        return len(self.cols)

    def to_json(self, max_witnesses: int = 1024) -> dict[str, Any]:
        out: dict[str, Any] = {"cols": list(self.cols), "size": self.size, "upper": self.upper,
                               "maximum": self.maximum, "elapsed": self.elapsed}
        if len(self.witnesses) <= max_witnesses:
            out["witness_rows"] = list(self.witnesses)
        else:
            out["witness_rows"] = f"{len(self.witnesses)} rows (omitted; re-derived by projection)"
        return out


def _patterns(vals: np.ndarray, cols: tuple[int, ...]) -> np.ndarray:
    if not cols:
        return np.zeros(vals.shape[0], dtype=np.int64)
    weights = (1 << np.arange(len(cols), dtype=np.int64))
    return vals[:, list(cols)].astype(np.int64) @ weights


def is_shattered(vals: np.ndarray, cols: tuple[int, ...]) -> bool:
    return int(np.unique(_patterns(vals, cols)).size) == 1 << len(cols)


def _witnesses(vals: np.ndarray, cols: tuple[int, ...]) -> tuple[int, ...]:
    pats = _patterns(vals, cols)
    first = np.full(1 << len(cols), -1, dtype=np.int64)
    uniq, idx = np.unique(pats, return_index=True)  # the smallest row index per pattern
    first[uniq] = idx
    return tuple(int(v) for v in first)


def find_shattered_set(values: np.ndarray, time_limit: float = 10.0) -> ShatteredSet:
    """A largest (or, at the time limit, a large) set of columns shattered by the rows."""
    t0 = time.perf_counter()
    vals = np.asarray(values)
    if vals.ndim != 2:
        raise InvalidInputError("the VC bound needs a 2-D matrix")
    present = set(np.unique(vals).tolist())
    if not present <= {0, 1}:
        raise InvalidInputError(f"the VC bound is for Boolean functions; the matrix has values {sorted(present)}")
    distinct = int(np.unique(vals, axis=0).shape[0])
    upper = min(int(math.floor(math.log2(distinct))) if distinct else 0, vals.shape[1])
    best: tuple[int, ...] = ()
    # greedy in order of balance: a column splitting the rows evenly is the likeliest to extend
    balance = np.abs(vals.mean(axis=0) - 0.5) if vals.shape[0] else np.zeros(vals.shape[1])
    for c in np.argsort(balance, kind="stable").tolist():
        if len(best) >= upper:
            break
        cand = tuple(sorted(best + (c,)))
        if is_shattered(vals, cand):
            best = cand
    maximum = len(best) >= upper
    if not maximum:
        # exhaustive over sets of size len(best)+1 .. upper, built from shattered sets
        # exhaustive from all shattered sets of the greedy size, when there are few enough
        exhaustive = math.comb(vals.shape[1], len(best)) * max(1, vals.shape[1]) <= 200_000
        level = [s for s in itertools.combinations(range(vals.shape[1]), len(best)) if is_shattered(vals, s)] \
            if exhaustive else [best]
        timed_out = False
        while level and len(level[0]) < upper and not timed_out:
            nxt = []
            for s in level:
                for c in range((s[-1] + 1) if s else 0, vals.shape[1]):
                    if time.perf_counter() - t0 > time_limit:
                        timed_out = True
                        break
                    cand = s + (c,)
                    if is_shattered(vals, cand):
                        nxt.append(cand)
                if timed_out:
                    break
            if nxt:
                best = nxt[0]
            level = nxt
        maximum = exhaustive and not timed_out
    return ShatteredSet(best, _witnesses(vals, best), upper, maximum, time.perf_counter() - t0)


def verify_shattered_set(values: np.ndarray, cert: ShatteredSet) -> bool:
    """Every pattern has its witness row (plain Python): the set is shattered."""
    rows = np.asarray(values).tolist()
    d = len(cert.cols)
    if len(set(cert.cols)) != d or len(cert.witnesses) != 1 << d:
        return False
    for z, x in enumerate(cert.witnesses):
        if not 0 <= x < len(rows):
            return False
        if any(rows[x][c] != (z >> i & 1) for i, c in enumerate(cert.cols)):
            return False
    return True


def one_way_vc_bits(d: int, eps: Fraction) -> tuple[int, float]:
    """(whole bits, real value) of (1 − H2(ε))·d.  The real value is evaluated in floating
    point and rounded up only after a 1e-9 guard, so the whole-bit bound never exceeds
    ceil of the exact real value."""
    real = (1.0 - binary_entropy(float(eps))) * d
    return ceil_with_guard(real), real
