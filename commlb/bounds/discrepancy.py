"""Discrepancy of a Boolean function under a distribution μ, with certificates.

For the sign matrix A = (−1)^f and a distribution μ = W/Z (integer weights W),

    disc_μ(f) = max over rectangles S × T of |Σ_{x∈S, y∈T} μ(x, y)·A(x, y)|,

and every deterministic protocol that errs on at most an ε-fraction of μ needs

    D^μ_ε(f) ≥ log2((1 − 2ε) / disc_μ(f))          (Kushilevitz–Nisan 1997, ch. 3)

bits; by Yao's principle the same number bounds public-coin R_ε(f) (docs/theory.md §6.1).

Two ways to bound disc_μ from above:

* **spectral** (:func:`spectral_certificate`): with B = A∘W, |1_Sᵀ B 1_T| ≤ ‖B‖₂·√(|S||T|),
  so disc_μ ≤ ‖B‖₂·√(mn)/Z.  ‖B‖₂ is bounded rigorously, never read off a floating SVD:
  G = BᵀB (the smaller Gram matrix) is computed exactly (integers: under the uniform
  distribution by XOR-popcount on packed bits, otherwise by BLAS products, which are exact
  while every partial sum stays below 2^24 in float32 or 2^53 in float64, as checked), and
  then either

  - ``gershgorin``: ‖B‖² = λmax(G) ≤ max_i Σ_j |G_ij|  (exact integer row sums);
  - ``gershgorin-square``: ‖B‖⁴ = λmax(G²) ≤ max_i Σ_j |(G²)_ij|  (G² exact the same way);
  - ``cholesky``: ‖B‖² ≤ s for a rational s slightly above the floating λmax(G), with a
    :class:`commlb.bounds.rational.PsdCertificate` that s·I − G is PSD (exact check).

  Cost: one Gram product O(mn·min(m, n)); the Cholesky route adds O(d³) Python-int work
  and is used up to d = 160.  For IP_n (a Hadamard matrix) G = 2^n·I and the bound is
  exactly disc = 2^(−n/2).

* **exact** (:func:`exact_discrepancy`): for a fixed row set S the best column set takes
  every column whose partial sum has the majority sign, so disc_μ is a maximum over the
  2^min(m,n) subsets of the smaller side, O(2^d · max(m, n)) integer operations (refused
  above d = 22).  The certificate is the maximising rectangle; the maximum itself is the
  exhaustive search, checked in the tests against a slow twin over all pairs (S, T).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidInputError, TooLargeError
from .distribution import Distribution
from .rational import PsdCertificate, ceil_log2, ceil_log2_root, certify_psd, frac_json, verify_psd_certificate

__all__ = [
    "sign_matrix",
    "weighted_sign_matrix",
    "SpectralCertificate",
    "spectral_certificate",
    "verify_spectral",
    "RectangleCertificate",
    "exact_discrepancy",
    "verify_rectangle",
    "discrepancy_bits",
    "MAX_EXACT_SIDE",
    "CHOLESKY_LIMIT",
]

MAX_EXACT_SIDE = 22
CHOLESKY_LIMIT = 160
_EXACT_FLOAT = 1 << 53


def sign_matrix(values: np.ndarray, dtype: Any = np.int64) -> np.ndarray:
    """A = (−1)^f for a 0/1 matrix; refuses other values."""
    vals = np.asarray(values)
    lo, hi = (int(vals.min()), int(vals.max())) if vals.size else (0, 0)
    if lo < 0 or hi > 1:
        present = sorted(set(np.unique(vals).tolist()))
        raise InvalidInputError(
            f"discrepancy is defined here for Boolean functions; the matrix has values {present}"
        )
    return (1 - 2 * vals.astype(np.int8)).astype(dtype, copy=False)


def weighted_sign_matrix(values: np.ndarray, dist: Distribution | None = None) -> tuple[np.ndarray, int]:
    """(B, Z): B = A∘W with integer weights W, and Z = Σ W.  Uniform: B = A as int8."""
    if dist is None:
        A = sign_matrix(values, np.int8)
        return A, int(A.shape[0]) * int(A.shape[1])
    A = sign_matrix(values)
    if dist.weights.shape != A.shape:
        raise InvalidInputError(f"the distribution is {dist.weights.shape}, the matrix {A.shape}")
    return A * dist.weights, dist.total


def _syrk_exact(X: np.ndarray, limit_bits: int) -> np.ndarray:
    """XᵀX by a BLAS rank-k update (half the flops of a product), in float32 when
    ``limit_bits`` = 24 and float64 when 53; the caller has checked that every partial
    sum is an integer below 2^limit_bits, so the result is exact in any summation order."""
    from scipy.linalg import blas

    # X.T of a C-ordered copy is Fortran-ordered: BLAS takes it without another copy
    Xc = np.ascontiguousarray(X, dtype=np.float32 if limit_bits == 24 else np.float64)
    if limit_bits == 24:
        C = blas.ssyrk(1.0, Xc.T, trans=0)
    else:
        C = blas.dsyrk(1.0, Xc.T, trans=0)
    U = np.rint(C).astype(np.int64)
    U = np.triu(U)  # syrk fills the upper triangle only
    return U + np.triu(U, 1).T


def _gram(B: np.ndarray, values01: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Exact Gram matrix of the smaller side as int64: for an unweighted sign matrix by
    XOR-popcount on packed bits (:mod:`commlb.kernels.signgram`), else by BLAS when
    provably exact."""
    m, n = B.shape
    side = "cols" if n <= m else "rows"
    if values01 is not None:
        from ..kernels.signgram import sign_gram

        side = "rows" if m <= n else "cols"  # rows pack without a transpose
        return sign_gram(values01 if side == "cols" else np.asarray(values01).T), side
    X = B if side == "cols" else B.T  # G = XᵀX, X has k = len rows
    k = X.shape[0]
    wmax = int(np.abs(X).max()) if X.size else 0
    if k * wmax * wmax < 1 << 24:
        return _syrk_exact(X, 24), side
    if k * wmax * wmax < _EXACT_FLOAT:
        return _syrk_exact(X, 53), side
    if k * wmax * wmax < (1 << 62):
        return X.T @ X, side  # int64 matmul: exact, slower (no BLAS)
    raise TooLargeError("the weighted sign matrix has entries too large for an exact Gram matrix; "
                        "give the distribution with smaller integer weights")


def _square_exact(G: np.ndarray) -> np.ndarray | None:
    d = G.shape[0]
    gmax = int(np.abs(G).max()) if G.size else 0
    if d * gmax * gmax < 1 << 24:
        return _syrk_exact(G, 24)  # G is symmetric: G² = GᵀG
    if d * gmax * gmax < _EXACT_FLOAT:
        return _syrk_exact(G, 53)
    if d * gmax * gmax < (1 << 62):
        return G @ G
    return None


@dataclass(frozen=True)
class SpectralCertificate:
    """‖A∘W‖₂^power ≤ bound, hence disc_μ^power ≤ bound·(mn)^(power/2) / Z^power."""

    rows: int
    cols: int
    total: int
    power: int
    bound: Fraction
    method: str  # "gershgorin" | "gershgorin-square" | "cholesky"
    side: str  # Gram matrix of "cols" (BᵀB) or "rows" (BBᵀ)
    psd: PsdCertificate | None
    elapsed: float

    @property
    def disc_power_upper(self) -> Fraction:
        """An exact upper bound on disc_μ^power."""
        mn = self.rows * self.cols
        return self.bound * Fraction(mn) ** (self.power // 2) / Fraction(self.total) ** self.power

    @property
    def disc_upper(self) -> float:
        return float(self.disc_power_upper) ** (1.0 / self.power)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "side": self.side, "power": self.power,
                "norm_power_upper": frac_json(self.bound),
                "statement": f"||A o W||_2^{self.power} <= norm_power_upper",
                "disc_power_upper": frac_json(self.disc_power_upper),
                "disc_upper": self.disc_upper, "weights_total": self.total,
                "psd": None if self.psd is None else self.psd.to_json(),
                "elapsed": self.elapsed}


def spectral_certificate(values: np.ndarray, dist: Distribution | None = None,
                         cholesky_limit: int = CHOLESKY_LIMIT) -> SpectralCertificate:
    """A rigorous upper bound on ‖A∘W‖₂ (see the module docstring for the three routes)."""
    t0 = time.perf_counter()
    B, Z = weighted_sign_matrix(values, dist)
    m, n = B.shape
    G, side = _gram(B, values if dist is None else None)
    d = G.shape[0]
    gersh = int(np.abs(G).sum(axis=1).max())
    if d <= cholesky_limit:
        lam = float(np.linalg.eigvalsh(G.astype(np.float64))[-1])
        if gersh <= lam * (1 + 1e-12) + 1e-9:
            return SpectralCertificate(m, n, Z, 2, Fraction(gersh), "gershgorin", side, None,
                                       time.perf_counter() - t0)
        for rel in (1e-7, 1e-5, 1e-3):
            s = Fraction(math.ceil(lam * (1 + rel) * 1024) + 1, 1024)
            if s >= gersh:
                break
            Mint = s.numerator * np.eye(d, dtype=object) - s.denominator * G.astype(object)
            cert = certify_psd(Mint)
            if cert is not None:
                return SpectralCertificate(m, n, Z, 2, s, "cholesky", side, cert, time.perf_counter() - t0)
        return SpectralCertificate(m, n, Z, 2, Fraction(gersh), "gershgorin", side, None,
                                   time.perf_counter() - t0)
    # a Rayleigh quotient (a lower estimate of λmax, used only to choose a route) tells
    # whether Gershgorin is already tight, as for Hadamard matrices
    x = np.random.default_rng(0).standard_normal((d,))
    Gf = G.astype(np.float64)
    for _ in range(12):
        x = Gf @ x
        x /= np.linalg.norm(x)
    rayleigh = float(x @ (Gf @ x))
    G2 = None if gersh <= rayleigh * (1 + 1e-9) else _square_exact(G)
    if G2 is not None:
        s4 = int(np.abs(G2).sum(axis=1).max())
        if s4 < gersh * gersh:
            return SpectralCertificate(m, n, Z, 4, Fraction(s4), "gershgorin-square", side, None,
                                       time.perf_counter() - t0)
    return SpectralCertificate(m, n, Z, 2, Fraction(gersh), "gershgorin", side, None, time.perf_counter() - t0)


def _gram_python(B: list[list[int]], side: str) -> list[list[int]]:
    X = B if side == "cols" else [list(c) for c in zip(*B)]
    cols = list(zip(*X))
    return [[sum(a * b for a, b in zip(ci, cj)) for cj in cols] for ci in cols]


def verify_spectral(values: np.ndarray, dist: Distribution | None, cert: SpectralCertificate) -> bool:
    """Re-check a spectral certificate in plain Python integers (small matrices)."""
    B, Z = weighted_sign_matrix(values, dist)
    if (cert.rows, cert.cols, cert.total) != (B.shape[0], B.shape[1], Z):
        return False
    G = _gram_python(B.tolist(), cert.side)
    d = len(G)
    if cert.method == "gershgorin":
        return cert.power == 2 and max(sum(abs(v) for v in row) for row in G) <= cert.bound
    if cert.method == "gershgorin-square":
        cols = list(zip(*G))
        G2 = [[sum(a * b for a, b in zip(row, col)) for col in cols] for row in G]
        return cert.power == 4 and max(sum(abs(v) for v in row) for row in G2) <= cert.bound
    if cert.method == "cholesky":
        if cert.power != 2 or cert.psd is None:
            return False
        s = cert.bound
        M = [[(s.numerator if i == j else 0) - s.denominator * G[i][j] for j in range(d)] for i in range(d)]
        return verify_psd_certificate(M, cert.psd)
    return False


@dataclass(frozen=True)
class RectangleCertificate:
    """The rectangle S × T with the largest |Σ μ·A|: disc_μ = value / total."""

    rows_set: tuple[int, ...]
    cols_set: tuple[int, ...]
    value: int
    total: int
    subsets_searched: int
    elapsed: float

    @property
    def disc(self) -> Fraction:
        return Fraction(self.value, self.total)

    def to_json(self) -> dict[str, Any]:
        return {"rows": list(self.rows_set), "cols": list(self.cols_set), "weighted_sum": self.value,
                "weights_total": self.total, "disc": frac_json(self.disc),
                "subsets_searched": self.subsets_searched, "elapsed": self.elapsed}


def _subset_sums(X: np.ndarray) -> np.ndarray:
    k, n = X.shape
    out = np.zeros((1 << k, n), dtype=np.int64)
    for i in range(k):
        out[1 << i: 1 << (i + 1)] = out[: 1 << i] + X[i]
    return out


def exact_discrepancy(values: np.ndarray, dist: Distribution | None = None) -> RectangleCertificate:
    """disc_μ(f) exactly, by search over the subsets of the smaller side."""
    t0 = time.perf_counter()
    B, Z = weighted_sign_matrix(values, dist)
    transposed = B.shape[0] > B.shape[1]
    X = B.T if transposed else B
    k, n = X.shape
    if k > MAX_EXACT_SIDE:
        raise TooLargeError(
            f"exact discrepancy searches 2^{k} subsets of the smaller side ({k} > {MAX_EXACT_SIDE}, "
            f"~{(2 ** k) * n / 2e8:.3g} s); use the spectral bound (method discrepancy-spectral)"
        )
    # the low table holds 2^a partial sums of length n: keep it near 2^22 entries
    a = max(0, min(k, 22 - max(0, (n - 1).bit_length())))
    low = _subset_sums(X[:a])
    high = _subset_sums(X[a:]) if k > a else np.zeros((1, n), dtype=np.int64)
    best, best_s, best_sign = 0, 0, 1
    for h in range(high.shape[0]):
        tot = low + high[h]
        pos = np.where(tot > 0, tot, 0).sum(axis=1)
        neg = -np.where(tot < 0, tot, 0).sum(axis=1)
        i, j = int(pos.argmax()), int(neg.argmax())
        if pos[i] > best:
            best, best_s, best_sign = int(pos[i]), (h << a) | i, 1
        if neg[j] > best:
            best, best_s, best_sign = int(neg[j]), (h << a) | j, -1
    S = [r for r in range(k) if best_s >> r & 1]
    colsum = X[S].sum(axis=0) if S else np.zeros(n, dtype=np.int64)
    T = [c for c in range(n) if colsum[c] * best_sign > 0]
    rows_set, cols_set = (T, S) if transposed else (S, T)
    return RectangleCertificate(tuple(rows_set), tuple(cols_set), best, Z, 1 << k, time.perf_counter() - t0)


def verify_rectangle(values: np.ndarray, dist: Distribution | None, cert: RectangleCertificate) -> bool:
    """The rectangle's weighted sum equals the claimed value (plain Python integers)."""
    B, Z = weighted_sign_matrix(values, dist)
    if Z != cert.total:
        return False
    rows = B.tolist()
    s = sum(rows[x][y] for x in cert.rows_set for y in cert.cols_set)
    return abs(s) == cert.value


def discrepancy_bits(eps: Fraction, disc_power_upper: Fraction, power: int = 1) -> tuple[int, float]:
    """(whole bits, real value) of log2((1 − 2ε)/disc) given disc^power ≤ disc_power_upper.
    The whole-bit bound is the smallest k with 2^k ≥ (1 − 2ε)/disc, decided exactly."""
    gap = 1 - 2 * Fraction(eps)
    if disc_power_upper <= 0:
        raise ValueError("a discrepancy bound must be positive")
    q = gap ** power / disc_power_upper
    real = math.log2(gap) - math.log2(float(disc_power_upper)) / power if gap > 0 else float("-inf")
    bits = ceil_log2(q) if power == 1 else ceil_log2_root(q, power)
    return bits, real
