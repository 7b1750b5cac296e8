"""The partition bound (Jain–Klauck 2010) and the rectangle bound, by LP with exactly
verified duals.

**Partition bound.**  prt_ε(f) is the optimum of the LP over weights w_{z,R} ≥ 0 for every
output value z and rectangle R:

    minimise Σ w_{z,R}   s.t.  Σ_{R ∋ (x,y)} w_{f(x,y),R} ≥ 1 − ε,   Σ_z Σ_{R ∋ (x,y)} w_{z,R} = 1.

A public-coin protocol of c bits with error ≤ ε on every input gives a feasible point
(w_{z,R} = Pr[R is a leaf labelled z]) of value E[#leaves] ≤ 2^c, so
R^pub_ε(f) ≥ log2 prt_ε(f) (docs/theory.md §6.4).  A lower bound on prt_ε is any dual
point (μ ≥ 0, φ free, one of each per input pair) with

    Σ_{(x,y) ∈ R} (μ_xy·[f(x,y) = z] + φ_xy) ≤ 1   for every z and every rectangle R:

its value Σ (1 − ε)·μ_xy + φ_xy is ≤ prt_ε (weak duality).

**Rectangle bound** for a value z: rec^z_ε(f) = min Σ w_R with Σ_{R ∋ xy} w_R ≥ 1 − ε on
f^{-1}(z) and ≤ ε elsewhere; R^pub_ε(f) ≥ log2 rec^z_ε(f) by the same leaves argument.  Dual:
μ ≥ 0 on f^{-1}(z), ν ≥ 0 elsewhere, Σ_{R∩f^{-1}(z)} μ − Σ_{R∖f^{-1}(z)} ν ≤ 1 for every R,
value (1 − ε)Σμ − εΣν.

**Solving and checking.**  Both duals have one constraint per rectangle.  The LP (scipy,
HiGHS) starts from the 1×1 rectangles and adds violated rectangles (cutting planes) found by
an exact separation: for weights c on the entries, max_R Σ_R c = max over row sets S of
Σ_y max(0, Σ_{x∈S} c_xy), a search over the 2^d subsets of the smaller side.  The final dual
is rounded to rationals with a common denominator, and the same search over *all* 2^d
subsets, now in exact integers, gives the largest constraint value V; dividing the dual by
max(V, 1)… (only when V > 1) makes it feasible for every rectangle, and the bound is its exact
value.  Cost: each separation O(2^d · max(m, n)); d ≤ 16.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidInputError, TooLargeError
from .rational import ceil_log2, frac_json

__all__ = ["LpDualCertificate", "partition_bound", "rectangle_bound", "verify_lp_dual",
           "max_rectangle_sum", "max_rectangle_sum_naive", "lp_bits", "MAX_SIDE", "coordinate_orbits"]

MAX_SIDE = 16
_DEN_BITS = 40
CUTS_PER_ROUND = 64


def _subset_sums(X: np.ndarray) -> np.ndarray:
    k, n = X.shape
    out = np.zeros((1 << k, n), dtype=X.dtype)
    for i in range(k):
        out[1 << i: 1 << (i + 1)] = out[: 1 << i] + X[i]
    return out


def max_rectangle_sum(C: np.ndarray, top: int = 1) -> list[tuple[Any, tuple[int, ...], tuple[int, ...]]]:
    """The ``top`` largest values max_T Σ_{S×T} C over row sets S (with the maximising T),
    searching the subsets of the smaller side.  Exact for integer C (int64/object)."""
    transposed = C.shape[0] > C.shape[1]
    X = C.T if transposed else C
    k, n = X.shape
    if k > MAX_SIDE + 6:
        raise TooLargeError(f"rectangle search over 2^{k} subsets is too large")
    sums = _subset_sums(X)
    pos = np.where(sums > 0, sums, 0).sum(axis=1)
    order = np.argsort(-pos.astype(float), kind="stable")[:top] if top > 1 else [int(np.argmax(pos))]
    out = []
    for s in order:
        S = tuple(r for r in range(k) if int(s) >> r & 1)
        T = tuple(int(c) for c in np.nonzero(sums[int(s)] > 0)[0])
        out.append((pos[int(s)], T, S) if transposed else (pos[int(s)], S, T))
    return out


def max_rectangle_sum_naive(C: list[list[Any]]) -> Any:
    """Reference twin: the maximum of Σ_{S×T} C over all pairs (S, T), S, T possibly empty."""
    m, n = len(C), len(C[0])
    best = 0
    for s in range(1 << m):
        for t in range(1 << n):
            v = sum(C[x][y] for x in range(m) if s >> x & 1 for y in range(n) if t >> y & 1)
            best = max(best, v)
    return best


@dataclass(frozen=True)
class LpDualCertificate:
    """A dual point scaled to integers: entry weights ``u`` (one or two per input pair)
    over the common denominator ``den``; ``value`` is the certified lower bound."""

    bound: str  # "partition" | "rectangle"
    eps: Fraction
    value_of: int | None  # the value z of the rectangle bound
    mu: tuple[tuple[int, ...], ...]
    phi: tuple[tuple[int, ...], ...]  # φ (partition, free) or ν (rectangle, ≥ 0)
    den: int
    value: Fraction
    lp_value: float
    rounds: int
    cuts: int
    elapsed: float
    #: the cutting planes found no violated rectangle (the LP optimum); False when the time
    #: limit stopped them: the dual is then the best round rescaled, sound but weaker
    converged: bool = True

    def to_json(self) -> dict[str, Any]:
        m, n = len(self.mu), len(self.mu[0]) if self.mu else 0
        out: dict[str, Any] = {"bound": self.bound, "error": frac_json(self.eps), "lower": frac_json(self.value),
                               "lp_value": self.lp_value, "rounds": self.rounds, "cuts": self.cuts,
                               "elapsed": self.elapsed, "converged": self.converged}
        if self.value_of is not None:
            out["value_z"] = self.value_of
        if m * n <= 64:
            out.update({"den": str(self.den), "mu": [[str(v) for v in r] for r in self.mu],
                        ("phi" if self.bound == "partition" else "nu"): [[str(v) for v in r] for r in self.phi]})
        return out


def _entry_weights(bound: str, vals: np.ndarray, z: Any, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Constraint coefficients per entry for family z (works for float and object arrays)."""
    hit = (vals == z)
    if bound == "partition":
        return np.where(hit, mu + phi, phi)
    return np.where(hit, mu, -phi)


def _families(bound: str, vals: np.ndarray, z: int | None) -> list[Any]:
    if bound == "partition":
        return [int(v) for v in np.unique(vals)]
    return [z]


def verify_lp_dual(values: np.ndarray, cert: LpDualCertificate) -> bool:
    """Every rectangle constraint ≤ 1 and the value as claimed, in exact integers."""
    vals = np.asarray(values)
    m, n = vals.shape
    mu = np.array(cert.mu, dtype=object)
    phi = np.array(cert.phi, dtype=object)
    if mu.shape != (m, n) or phi.shape != (m, n) or cert.den <= 0:
        return False
    if any(v < 0 for v in mu.flat):
        return False
    if cert.bound == "rectangle":
        if any(v < 0 for v in phi.flat):
            return False
        if any(mu[x, y] != 0 for x in range(m) for y in range(n) if vals[x, y] != cert.value_of):
            return False
        if any(phi[x, y] != 0 for x in range(m) for y in range(n) if vals[x, y] == cert.value_of):
            return False
    for z in _families(cert.bound, vals, cert.value_of):
        C = _entry_weights(cert.bound, vals, z, mu, phi)
        best = max_rectangle_sum(C)[0][0]
        if best > cert.den:
            return False
    return _dual_value(cert.bound, cert.eps, mu, phi, cert.den) == cert.value


def _dual_value(bound: str, eps: Fraction, mu: np.ndarray, phi: np.ndarray, den: int) -> Fraction:
    smu = sum(int(v) for v in mu.flat)
    sphi = sum(int(v) for v in phi.flat)
    if bound == "partition":
        return ((1 - eps) * smu + sphi) / den
    return ((1 - eps) * smu - eps * sphi) / den


def _new_highs(highspy: Any) -> Any:
    """highspy.Highs() prints a banner on stdout at the first construction in a process
    (before any option can be set); keep it out of the output, which may be JSON."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Lp:
    """max cᵀu s.t. rows ≤ 1, with rows added between solves.  HiGHS through highspy
    (installed with cvxpy) keeps its basis between solves, so each round is a warm
    dual-simplex restart; scipy's linprog (HiGHS from scratch) is the fallback."""

    def __init__(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.cost, self.lower, self.upper = cost, lower, upper
        self.rows: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []
        try:
            import highspy
        except ImportError:  # pragma: no cover - highspy comes with cvxpy
            self.h = None
            return
        h = _new_highs(highspy)
        h.setOptionValue("output_flag", False)
        inf = highspy.kHighsInf
        nv = cost.size
        h.addVars(nv, np.where(np.isfinite(lower), lower, -inf), np.where(np.isfinite(upper), upper, inf))
        h.changeColsCost(nv, np.arange(nv, dtype=np.int32), cost)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h, self.inf = h, inf

    def add(self, row: np.ndarray) -> None:
        self.rows.append(row)
        self._pending.append(row)

    def solve(self) -> tuple[np.ndarray, float]:
        if self.h is None:  # pragma: no cover
            from scipy.optimize import linprog
            from scipy.sparse import csr_matrix

            res = linprog(-self.cost, A_ub=csr_matrix(np.vstack(self.rows)), b_ub=np.ones(len(self.rows)),
                          bounds=[(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
                                  for lo, hi in zip(self.lower, self.upper)], method="highs")
            if res.status != 0:
                raise RuntimeError(f"LP failed: {res.message}")
            return res.x, -float(res.fun)
        if self._pending:
            block = np.vstack(self._pending)
            starts: list[int] = []
            idx: list[int] = []
            vals: list[float] = []
            for r in block:
                nz = np.nonzero(r)[0]
                starts.append(len(idx))
                idx.extend(nz.tolist())
                vals.extend(r[nz].tolist())
            k = block.shape[0]
            self.h.addRows(k, np.full(k, -self.inf), np.ones(k), len(idx), np.array(starts, dtype=np.int32),
                           np.array(idx, dtype=np.int32), np.array(vals, dtype=np.float64))
            self._pending = []
        self.h.run()
        status = self.h.getModelStatus()
        import highspy

        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"LP failed: {self.h.modelStatusToString(status)}")
        x = np.array(self.h.getSolution().col_value)
        return x, float(self.h.getInfo().objective_function_value)


def _solve(bound: str, vals: np.ndarray, eps: Fraction, z: int | None, time_limit: float,
           max_rounds: int = 500, orbits: np.ndarray | None = None) -> LpDualCertificate:
    t0 = time.perf_counter()
    m, n = vals.shape
    N = m * n
    e = float(eps)
    fams = _families(bound, vals, z)
    flat = vals.reshape(-1)
    # one LP variable pair per orbit of entries (per entry without ``orbits``): mu then phi
    orbit = np.arange(N) if orbits is None else np.asarray(orbits, dtype=np.int64).reshape(-1)
    K = int(orbit.max()) + 1
    size = np.bincount(orbit, minlength=K).astype(float)
    first = np.full(K, -1)
    first[orbit[::-1]] = np.arange(N)[::-1]
    oflat = flat[first]  # the value on each orbit (the orbits keep the matrix's values)
    if bound == "partition":
        cost = np.concatenate([(1 - e) * size, size])
        lower = np.concatenate([np.zeros(K), np.full(K, -np.inf)])
        upper = np.full(2 * K, np.inf)
    else:
        hit = oflat == z
        cost = np.concatenate([np.where(hit, (1 - e) * size, 0.0), np.where(hit, 0.0, -e * size)])
        lower = np.zeros(2 * K)
        upper = np.concatenate([np.where(hit, np.inf, 0.0), np.where(hit, 0.0, np.inf)])
    lp = _Lp(cost, lower, upper)

    def per_orbit(weights: np.ndarray) -> np.ndarray:
        return np.bincount(orbit, weights=weights, minlength=K)
    cuts: dict[Any, set[tuple[int, int]]] = {f: set() for f in fams}
    rows_seen: set[bytes] = set()

    def add_cut(fam: Any, rmask: int, cmask: int) -> bool:
        if (rmask, cmask) in cuts[fam]:
            return False
        cuts[fam].add((rmask, cmask))
        ind: np.ndarray = np.zeros((m, n), dtype=float)
        rs = [x for x in range(m) if rmask >> x & 1]
        cs = [y for y in range(n) if cmask >> y & 1]
        ind[np.ix_(rs, cs)] = 1.0
        ind = ind.reshape(-1)
        if bound == "partition":
            row = np.concatenate([per_orbit(ind * (flat == fam)), per_orbit(ind)])
        else:
            row = np.concatenate([per_orbit(ind * (flat == fam)), -per_orbit(ind * (flat != fam))])
        key = row.tobytes()
        if key in rows_seen:  # a symmetric copy of a rectangle already in the LP: the same row
            return False
        rows_seen.add(key)
        lp.add(row)
        return True

    for fam in fams:
        for x in range(m):
            for y in range(n):
                add_cut(fam, 1 << x, 1 << y)
    rounds = 0
    sol = None
    lp_value = float("nan")
    # the dual of every round, divided by its largest rectangle constraint, is feasible:
    # keep the round whose rescaled value is largest (when the time limit stops the cuts
    # before they converge, the last LP solution may violate some rectangle badly)
    best: tuple[float, np.ndarray | None, float] = (-math.inf, None, float("nan"))
    while rounds < max_rounds:
        rounds += 1
        sol, lp_value = lp.solve()
        mu = sol[:K][orbit].reshape(m, n)
        phi = sol[K:][orbit].reshape(m, n)
        added = 0
        worst_float = 1.0
        for fam in fams:
            C = _entry_weights(bound, vals, fam, mu, phi)
            found = max_rectangle_sum(C, top=CUTS_PER_ROUND)
            worst_float = max(worst_float, float(found[0][0]))
            for val, S, T in found:
                if val > 1 + 1e-7:
                    rmask = sum(1 << x for x in S)
                    cmask = sum(1 << y for y in T)
                    added += add_cut(fam, rmask, cmask)
        if lp_value / worst_float > best[0]:
            best = (lp_value / worst_float, sol.copy(), lp_value)
        if not added or time.perf_counter() - t0 > time_limit:
            break
    assert sol is not None
    converged = not added
    if not converged and best[1] is not None:
        sol, lp_value = best[1], best[2]  # not converged: the best rescaled round
    den = 1 << _DEN_BITS
    sol = np.concatenate([sol[:K][orbit], sol[K:][orbit]])  # back to one weight per entry
    mu_i = np.array([max(0, int(round(v * den))) for v in sol[:N]], dtype=object).reshape(m, n)
    phi_raw = [int(round(v * den)) for v in sol[N:]]
    if bound == "rectangle":
        phi_raw = [max(0, v) for v in phi_raw]
        hit = (vals == z)
        mu_i = np.where(hit, mu_i, 0)
        phi_i = np.where(hit, 0, np.array(phi_raw, dtype=object).reshape(m, n))
    else:
        phi_i = np.array(phi_raw, dtype=object).reshape(m, n)
    worst = max(max_rectangle_sum(_entry_weights(bound, vals, f, mu_i, phi_i))[0][0] for f in fams)
    # every constraint is ≤ worst/den; dividing the dual by worst/den (when > 1) makes it feasible
    den_final = den if worst <= den else int(worst)
    value = _dual_value(bound, eps, mu_i, phi_i, den_final)
    return LpDualCertificate(bound, Fraction(eps), z, tuple(tuple(int(v) for v in r) for r in mu_i),
                             tuple(tuple(int(v) for v in r) for r in phi_i), den_final, value, lp_value,
                             rounds, sum(len(s) for s in cuts.values()), time.perf_counter() - t0, converged)


def _check(values: np.ndarray) -> np.ndarray:
    vals = np.asarray(values)
    if vals.ndim != 2:
        raise InvalidInputError("the partition bound needs a 2-D matrix")
    if np.any(vals < 0):
        raise InvalidInputError("the partition bound is for total functions (no don't-care entries)")
    if min(vals.shape) > MAX_SIDE:
        raise TooLargeError(
            f"the partition LP separates over 2^{min(vals.shape)} row sets per cut round "
            f"({vals.shape[0]} x {vals.shape[1]} matrix, limit {MAX_SIDE} on the smaller side): use a smaller --n"
        )
    return vals


def partition_bound(values: np.ndarray, eps: Fraction, time_limit: float = 60.0,
                    orbits: np.ndarray | None = None) -> LpDualCertificate:
    """A certified lower bound on prt_ε(f) (any number of output values).  ``orbits``
    (one label per entry, e.g. :func:`coordinate_orbits`) restricts the dual to weights
    constant on each orbit: a smaller LP, and no loss when the orbits come from symmetries
    of the matrix; the certificate is verified on every rectangle either way."""
    vals = _check(values)
    return _solve("partition", vals, Fraction(eps), None, time_limit, orbits=_orbits_ok(vals, orbits))


def rectangle_bound(values: np.ndarray, eps: Fraction, z: int = 1, time_limit: float = 60.0,
                    orbits: np.ndarray | None = None) -> LpDualCertificate:
    """A certified lower bound on rec^z_ε(f) (``orbits`` as for :func:`partition_bound`)."""
    vals = _check(values)
    if not np.any(vals == z):
        raise InvalidInputError(f"the rectangle bound for value {z}: the matrix has no entry {z}")
    return _solve("rectangle", vals, Fraction(eps), int(z), time_limit, orbits=_orbits_ok(vals, orbits))


def _orbits_ok(vals: np.ndarray, orbits: np.ndarray | None) -> np.ndarray | None:
    """``orbits`` when it labels every entry and each orbit holds one matrix value."""
    if orbits is None:
        return None
    lab = np.asarray(orbits, dtype=np.int64)
    if lab.shape != vals.shape or lab.min() < 0:
        raise InvalidInputError(f"orbits must label each of the {vals.shape[0]} x {vals.shape[1]} entries")
    _, lab = np.unique(lab.reshape(-1), return_inverse=True)
    lab = lab.reshape(vals.shape)
    lo = np.full(int(lab.max()) + 1, np.iinfo(np.int64).max)
    hi = np.full(int(lab.max()) + 1, np.iinfo(np.int64).min)
    np.minimum.at(lo, lab.reshape(-1), vals.reshape(-1).astype(np.int64))
    np.maximum.at(hi, lab.reshape(-1), vals.reshape(-1).astype(np.int64))
    if np.any(lo != hi):
        raise InvalidInputError("orbits must not mix entries with different values")
    return lab


def coordinate_orbits(n: int) -> np.ndarray:
    """Orbits of the 2^n x 2^n entries (x, y) under permuting the n coordinates of x and y
    together (and swapping x with y when ``symmetric``): the label of (x, y) is the count
    of coordinates with (x_i, y_i) = (0,0), (0,1), (1,0), (1,1).  DISJ_n, EQ_n and IP_n are
    invariant under these permutations (their values depend on the counts only)."""
    idx = np.arange(1 << n)
    bits = (idx[:, None] >> np.arange(n)) & 1
    x1 = bits.sum(axis=1)
    both = np.array([[int(np.sum(bits[a] & bits[b])) for b in range(1 << n)] for a in range(1 << n)])
    c11 = both
    c10 = x1[:, None] - both
    c01 = x1[None, :] - both
    return (c11 * (n + 1) + c10) * (n + 1) + c01


def lp_bits(value: Fraction) -> tuple[int, float]:
    """(whole bits, real value) of log2 of a certified LP lower bound."""
    return ceil_log2(value), (math.log2(float(value)) if value > 0 else float("-inf"))
