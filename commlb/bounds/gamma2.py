"""The approximate γ2 norm bound (Linial–Shraibman), by SDP with an exactly verified dual.

For a sign matrix A and α ≥ 1,  γ2^α(A) = min { γ2(B) : 1 ≤ A(x,y)·B(x,y) ≤ α },
and every public-coin protocol that errs with probability ≤ ε on every input needs

    R^pub_ε(f) ≥ 2·log2( γ2^α(A) / α ),   α = 1/(1 − 2ε)

bits (Linial–Shraibman 2009; derivation in docs/theory.md §6.3).  At ε = 0 (α = 1) this is
D(f) ≥ 2·log2 γ2(A).

**Dual certificate.**  If p ∈ R^m, q ∈ R^n are non-negative and Q is an m × n matrix with

    K = [[diag(p), −Q], [−Qᵀ, diag(q)]]  PSD,

then for every B with a factorisation certificate Z = [[W1, B], [Bᵀ, W2]] ⪰ 0,
diag(Z) ≤ γ2(B):  0 ≤ ⟨K, Z⟩ = Σ p_i W1_ii + Σ q_j W2_jj − 2⟨Q, B⟩, so
γ2(B) ≥ 2⟨Q, B⟩ / (Σp + Σq).  Minimising ⟨Q, B⟩ over 1 ≤ A∘B ≤ α entry by entry gives

    γ2^α(A) ≥ 2·Σ_xy min(R_xy, α·R_xy) / (Σp + Σq),   R = A∘Q.

The SDP (cvxpy) maximises this with Σp = Σq = 1; its floating solution is scaled
to integers p, q, Q (the value is invariant under a common factor) and shrunk by a factor
t < 1 until :func:`commlb.bounds.rational.certify_psd` proves K PSD exactly.  The certified
value is computed in Fractions.  Cost: one SDP with an (m+n)-square PSD block, then an
O((m+n)³) exact check.

**Solvers.**  Because the bound is whatever the *exact* check certifies, the solver only
has to be close, not exact: a less accurate solution is shrunk a little more (by its
largest violation of the PSD constraint, ‖diag(p)^−½ Q diag(q)^−½‖₂ − 1) and certifies a
slightly smaller value, never a wrong one.  ``solver="clarabel"`` (interior point) is
accurate to ~1e−8 but its KKT system is dense in the (m+n)-square block: measured 15–35 s
for 32 × 32 on a loaded 2-core machine, and the 64 × 64 solve did not finish in 17 min.
``solver="scs"`` (first order, eps 1e−5) took 2.6 s (32 × 32) and 6.3 s (64 × 64) with
values within 2e−5 relative of Clarabel's.  ``solver="auto"`` (default) uses Clarabel up to
16 rows and columns per side, where it is fast and the tests compare against known values
to 1e−5, and SCS above (bench/bench_error_bounds.py).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import TooLargeError
from .discrepancy import sign_matrix
from .rational import PsdCertificate, ceil_log2, certify_psd, frac_json, verify_psd_certificate

__all__ = ["Gamma2Certificate", "gamma2_alpha", "verify_gamma2", "gamma2_value", "gamma2_bits",
           "alpha_of", "MAX_SIDE", "CLARABEL_MAX_SIDE", "SOLVERS"]

MAX_SIDE = 128
_SCALE_BITS = 30
#: largest side solved by Clarabel under ``solver="auto"`` (SCS above)
CLARABEL_MAX_SIDE = 16
SOLVERS = ("auto", "clarabel", "scs")


def alpha_of(eps: Fraction) -> Fraction:
    """α = 1/(1 − 2ε)."""
    return 1 / (1 - 2 * Fraction(eps))


@dataclass(frozen=True)
class Gamma2Certificate:
    """Integers p, q, Q with [[diag p, −Q], [−Qᵀ, diag q]] PSD (``psd`` proves it)."""

    alpha: Fraction
    p: tuple[int, ...]
    q: tuple[int, ...]
    Q: tuple[tuple[int, ...], ...]
    psd: PsdCertificate
    lower: Fraction  # the certified γ2^α(A) ≥ lower
    solver_value: float
    solver: str
    elapsed: float

    def to_json(self) -> dict[str, Any]:
        m, n = len(self.p), len(self.q)
        out: dict[str, Any] = {"alpha": frac_json(self.alpha), "gamma2_alpha_lower": frac_json(self.lower),
                               "solver_value": self.solver_value, "solver": self.solver,
                               "psd": self.psd.to_json(), "elapsed": self.elapsed}
        if m * n <= 256:
            out.update({"p": [str(v) for v in self.p], "q": [str(v) for v in self.q],
                        "Q": [[str(v) for v in row] for row in self.Q]})
        else:
            out["dual"] = f"p ({m}), q ({n}), Q ({m} x {n}) integers (omitted from JSON; in the certificate object)"
        return out


def gamma2_value(A: np.ndarray, alpha: Fraction, p: tuple[int, ...], q: tuple[int, ...],
                 Q: tuple[tuple[int, ...], ...]) -> Fraction:
    """2·Σ min(R, αR)/(Σp + Σq), R = A∘Q, exactly."""
    total = Fraction(0)
    for arow, qrow in zip(A.tolist(), Q):
        for a, v in zip(arow, qrow):
            r = a * v
            total += r if r >= 0 else alpha * r
    denom = sum(p) + sum(q)
    return 2 * total / denom if denom > 0 else Fraction(0)


def _dual_matrix(p, q, Q) -> list[list[int]]:
    m, n = len(p), len(q)
    K = [[0] * (m + n) for _ in range(m + n)]
    for i in range(m):
        K[i][i] = int(p[i])
        for j in range(n):
            K[i][m + j] = -int(Q[i][j])
            K[m + j][i] = -int(Q[i][j])
    for j in range(n):
        K[m + j][m + j] = int(q[j])
    return K


def verify_gamma2(values: np.ndarray, cert: Gamma2Certificate) -> bool:
    """Check the dual: p, q ≥ 0, K PSD (exactly), and the value as claimed."""
    A = sign_matrix(values)
    m, n = A.shape
    if len(cert.p) != m or len(cert.q) != n or len(cert.Q) != m or any(len(r) != n for r in cert.Q):
        return False
    if any(v < 0 for v in cert.p) or any(v < 0 for v in cert.q):
        return False
    if not verify_psd_certificate(_dual_matrix(cert.p, cert.q, cert.Q), cert.psd):
        return False
    return gamma2_value(A, cert.alpha, cert.p, cert.q, cert.Q) == cert.lower


def _solve_dual(A: np.ndarray, alpha: float, solver: str = "auto"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, str]:
    import cvxpy as cp

    m, n = A.shape
    p = cp.Variable(m, nonneg=True)
    q = cp.Variable(n, nonneg=True)
    Q = cp.Variable((m, n))
    K = cp.bmat([[cp.diag(p), -Q], [-Q.T, cp.diag(q)]])
    R = cp.multiply(A.astype(float), Q)
    objective = cp.sum(cp.minimum(R, alpha * R)) if alpha > 1 else cp.sum(R)
    prob = cp.Problem(cp.Maximize(objective), [K >> 0, cp.sum(p) == 1, cp.sum(q) == 1])
    installed = cp.installed_solvers()
    if solver == "auto":
        solver = "clarabel" if max(m, n) <= CLARABEL_MAX_SIDE else "scs"
    name = solver.upper()
    if name not in installed:
        name = "SCS" if "SCS" in installed else "CLARABEL"
    if name == "SCS":
        prob.solve(solver="SCS", eps_abs=1e-5, eps_rel=1e-5, max_iters=100_000)
    else:
        prob.solve(solver=name)
    solver = name
    if p.value is None or Q.value is None:
        raise RuntimeError(f"the γ2^α SDP did not solve ({prob.status})")
    return np.asarray(p.value), np.asarray(q.value), np.asarray(Q.value), float(prob.value), solver


def gamma2_alpha(values: np.ndarray, eps: Fraction, solver: str = "auto") -> Gamma2Certificate:
    """A certified lower bound on γ2^α(A), α = 1/(1 − 2ε), with its dual certificate
    (``solver``: auto, clarabel or scs; module docstring)."""
    t0 = time.perf_counter()
    A = sign_matrix(values)
    m, n = A.shape
    if max(m, n) > MAX_SIDE:
        raise TooLargeError(
            f"the γ2^α SDP has a {m + n}-square PSD block ({m} x {n} matrix, limit {MAX_SIDE} per side; "
            f"~{(m + n) ** 3 / 1e5:.0f} s or more with SCS): use a smaller --n or the discrepancy bound"
        )
    alpha = alpha_of(eps)
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    pv, qv, Qv, solver_value, solver = _solve_dual(A, float(alpha), solver)
    scale = 1 << _SCALE_BITS
    # strictly positive weights keep K's diagonal away from zero; the value barely moves
    pv = (1 - 1e-6) * np.maximum(pv, 0) + 1e-6 / m
    qv = (1 - 1e-6) * np.maximum(qv, 0) + 1e-6 / n
    p_int = tuple(int(math.ceil(v * scale)) for v in pv)
    q_int = tuple(int(math.ceil(v * scale)) for v in qv)
    sp = np.sqrt(np.array(p_int, dtype=float))
    sq = np.sqrt(np.array(q_int, dtype=float))
    sigma = float(np.linalg.norm((Qv * scale) / sp[:, None] / sq[None, :], 2))
    for shrink in (1e-7, 1e-5, 1e-3, 1e-2):
        t = (1 - shrink) / sigma if sigma > 0 else 0.0
        Q_int = tuple(tuple(int(math.floor(v * scale * t)) if v >= 0 else -int(math.floor(-v * scale * t))
                            for v in row) for row in Qv)
        cert = certify_psd(_dual_matrix(p_int, q_int, Q_int), equilibrate=True)
        if cert is not None:
            lower = gamma2_value(A, alpha, p_int, q_int, Q_int)
            return Gamma2Certificate(alpha, p_int, q_int, Q_int, cert, lower, solver_value, solver,
                                     time.perf_counter() - t0)
    raise RuntimeError("no exactly verified γ2 dual found after shrinking (solver inaccuracy)")


def gamma2_bits(lower: Fraction, alpha: Fraction) -> tuple[int, float]:
    """(whole bits, real value) of 2·log2(γ2^α/α) from the certified lower bound on γ2^α:
    the smallest k with 2^k ≥ (lower/α)², exactly."""
    ratio = Fraction(lower) / Fraction(alpha)
    if ratio <= 0:
        return 0, float("-inf")
    return ceil_log2(ratio * ratio), 2 * math.log2(float(ratio))
