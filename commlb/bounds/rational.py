"""Exact arithmetic shared by the bounds for protocols that err.

The solvers behind those bounds (eigenvalues, SDP, LP) work in floating point; their
answers become *certificates* whose checks here use only integers and
:class:`fractions.Fraction`, so a certified bound never rests on a rounding error.

* :func:`parse_error` — the error parameter ε from text ("0.1", "1/3", "1e-2"), exactly.
* :func:`ceil_log2`, :func:`ceil_log2_root` — the smallest integer k with 2^k ≥ q
  (resp. 2^(pk) ≥ q), i.e. ceil(log2 q) and ceil(log2 q^(1/p)), decided exactly.
* :func:`certify_psd` / :func:`verify_psd_certificate` — a certificate that an integer
  symmetric matrix M is positive semidefinite: either M is diagonally dominant with a
  non-negative diagonal, or an integer lower-triangular L and an exponent k such that
  4^k·M − L·Lᵀ is diagonally dominant with a non-negative diagonal (then
  4^k·M = L·Lᵀ + E with both terms PSD).  L comes from a floating Cholesky factor of a
  slightly shifted M; the check is exact integer arithmetic, O(n^3) Python-int operations.
* :func:`is_psd_ldl` — the plain reference twin: exact LDLᵀ over Q (slow, for tests).
* :func:`binary_entropy` — H2(ε) in floating point with the guard used when a real bound
  is rounded up to whole bits (see :func:`ceil_with_guard`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "parse_error",
    "ceil_log2",
    "ceil_log2_root",
    "PsdCertificate",
    "certify_psd",
    "verify_psd_certificate",
    "is_diagonally_dominant",
    "is_psd_ldl",
    "binary_entropy",
    "ceil_with_guard",
    "to_fraction",
    "frac_json",
]

#: a real bound is rounded up to whole bits only after subtracting this guard, so a
#: floating-point evaluation that lands a hair above an integer never gains a bit
FLOAT_GUARD = 1e-9


def to_fraction(value: Any, what: str = "value") -> Fraction:
    """A Fraction from an int, Fraction, float (exactly) or text ("0.1", "1/3")."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise InvalidInputError(f"{what} must be a finite number, got {value}")
        return Fraction(float(value))
    text = str(value).strip()
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"{what}: {text!r} is not a number (write 0.1, 1/3 or 1e-2)") from None


def parse_error(value: Any) -> Fraction:
    """The error parameter ε as an exact fraction in [0, 1/2).  Decimal text is read
    exactly ("0.1" is 1/10, not the nearest float)."""
    eps = to_fraction(value, "--error")
    if eps < 0 or eps >= Fraction(1, 2):
        raise InvalidInputError(
            f"--error must be in [0, 1/2) (a protocol that errs with probability 1/2 can guess); got {eps}"
        )
    return eps


def frac_json(q: Fraction) -> dict[str, Any]:
    """A Fraction for JSON: exact numerator/denominator and a float for reading."""
    return {"num": str(q.numerator), "den": str(q.denominator), "value": float(q)}


def ceil_log2(q: Fraction | int) -> int:
    """Smallest integer k ≥ 0 with 2^k ≥ q (0 when q ≤ 1), exactly."""
    q = Fraction(q)
    if q <= 1:
        return 0
    k = max(0, q.numerator.bit_length() - q.denominator.bit_length() - 1)
    while Fraction(2) ** k < q:
        k += 1
    while k > 0 and Fraction(2) ** (k - 1) >= q:
        k -= 1
    return k


def ceil_log2_root(q: Fraction | int, p: int) -> int:
    """Smallest integer k ≥ 0 with 2^(p·k) ≥ q, i.e. ceil(log2 q^(1/p)), exactly."""
    q = Fraction(q)
    if q <= 1:
        return 0
    k = max(0, (q.numerator.bit_length() - q.denominator.bit_length() - 1) // p)
    while Fraction(2) ** (p * k) < q:
        k += 1
    while k > 0 and Fraction(2) ** (p * (k - 1)) >= q:
        k -= 1
    return k


def binary_entropy(eps: float) -> float:
    """H2(ε) = −ε log2 ε − (1−ε) log2(1−ε), with H2(0) = 0."""
    if eps <= 0 or eps >= 1:
        return 0.0
    return -eps * math.log2(eps) - (1 - eps) * math.log2(1 - eps)


def ceil_with_guard(value: float) -> int:
    """ceil(value − FLOAT_GUARD), at least 0: whole bits from a real bound computed in
    floating point (relative error far below the guard), never rounded up by noise."""
    return max(0, math.ceil(value - FLOAT_GUARD))


# --------------------------------------------------------------------------- PSD

def _as_int_matrix(M: Any) -> list[list[int]]:
    rows = [[int(v) for v in row] for row in (M.tolist() if isinstance(M, np.ndarray) else M)]
    n = len(rows)
    if any(len(r) != n for r in rows):
        raise ValueError("a PSD certificate needs a square matrix")
    return rows


def is_diagonally_dominant(M: Sequence[Sequence[int]] | np.ndarray) -> bool:
    """M_ii ≥ Σ_{j≠i} |M_ij| for every i (exact; integer or Fraction entries).  A
    symmetric diagonally dominant matrix with a non-negative diagonal is PSD
    (Gershgorin)."""
    for i, row in enumerate(M.tolist() if isinstance(M, np.ndarray) else M):
        off = sum(abs(v) for j, v in enumerate(row) if j != i)
        if row[i] < off:
            return False
    return True


@dataclass(frozen=True)
class PsdCertificate:
    """Certificate that an integer symmetric matrix M is PSD.

    ``kind == "dominant"``: M itself is diagonally dominant.  ``kind == "cholesky"``:
    ``4**k * M - L @ L.T`` is diagonally dominant with non-negative diagonal for the
    integer lower-triangular ``L``."""

    kind: str
    k: int = 0
    L: tuple[tuple[int, ...], ...] | None = None
    scaling: tuple[int, ...] | None = None  # positive integers s: the check is on diag(s)·M·diag(s)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "scaled": self.scaling is not None}
        if self.kind == "cholesky":
            out["k"] = self.k
            out["L_rows"] = len(self.L or ())
        return out


def _int_matmul_lower_gram(L: list[list[int]]) -> list[list[int]]:
    """L·Lᵀ exactly for a lower-triangular integer L (Python ints)."""
    n = len(L)
    out = [[0] * n for _ in range(n)]
    for i in range(n):
        Li = L[i]
        for j in range(i + 1):
            Lj = L[j]
            s = 0
            for t in range(j + 1):
                s += Li[t] * Lj[t]
            out[i][j] = s
            out[j][i] = s
    return out


def _object_gram(L: list[list[int]]) -> list[list[int]]:
    # numpy object-array matmul: the same Python-int arithmetic, with the loops in C
    A = np.array(L, dtype=object)
    return (A @ A.T).tolist()


def verify_psd_certificate(M: Sequence[Sequence[int]] | np.ndarray, cert: PsdCertificate) -> bool:
    """Check a :class:`PsdCertificate` for the integer symmetric matrix M, exactly."""
    rows = _as_int_matrix(M)
    n = len(rows)
    if any(rows[i][j] != rows[j][i] for i in range(n) for j in range(i)):
        return False
    if cert.scaling is not None:
        # congruence by an invertible diagonal keeps PSD-ness in both directions
        s = cert.scaling
        if len(s) != n or any(int(v) <= 0 for v in s):
            return False
        rows = [[s[i] * rows[i][j] * s[j] for j in range(n)] for i in range(n)]
    if cert.kind == "dominant":
        return is_diagonally_dominant(rows)
    if cert.kind != "cholesky" or cert.L is None or len(cert.L) != n or cert.k < 0:
        return False
    L = [list(r) for r in cert.L]
    if any(len(r) != n or any(r[j] != 0 for j in range(i + 1, n)) for i, r in enumerate(L)):
        return False
    G = _object_gram(L) if n > 24 else _int_matmul_lower_gram(L)
    scale = 4 ** cert.k
    E = [[scale * rows[i][j] - G[i][j] for j in range(n)] for i in range(n)]
    return is_diagonally_dominant(E)


def certify_psd(M: Sequence[Sequence[int]] | np.ndarray, k: int = 40,
                shifts: Sequence[float] = (1e-9, 1e-7, 1e-5), equilibrate: bool = False) -> PsdCertificate | None:
    """A :class:`PsdCertificate` for the integer symmetric matrix M, or None when none
    was found (M not PSD, or too close to singular for the shifts tried; a None is never
    a proof that M is not PSD).

    First the exact diagonal-dominance test; then, for each relative shift δ, the float
    Cholesky factor C of M/‖M‖ − δI, L = round(2^k·C·√‖M‖-scale), and the exact check of
    4^k·M − L·Lᵀ."""
    rows = _as_int_matrix(M)
    n = len(rows)
    if is_diagonally_dominant(rows):
        return PsdCertificate("dominant")
    if equilibrate:
        # S·M·S with s_i ≈ c/√M_ii brings the diagonal near one, so a badly scaled but
        # safely positive definite M gets a margin the fixed shifts can use
        diag = [max(1, rows[i][i]) for i in range(n)]
        top = max(diag)
        svec = tuple(max(1, int(round(math.sqrt(top / d) * (1 << 20)))) for d in diag)
        scaled = [[svec[i] * rows[i][j] * svec[j] for j in range(n)] for i in range(n)]
        inner = certify_psd(scaled, k=k, shifts=shifts)
        if inner is None:
            return None
        return PsdCertificate(inner.kind, inner.k, inner.L, svec)
    scale = max(abs(v) for r in rows for v in r)
    if scale == 0:
        return PsdCertificate("dominant")
    # normalise to floats of order 1; M = 2^e · Mf with Mf entries ≤ 1 (e from the bit length)
    e = scale.bit_length()
    Mf = np.array([[math.ldexp(v, -e) if abs(v) < (1 << 1000) else float(Fraction(v, 1 << e)) for v in r]
                   for r in rows], dtype=np.float64)
    for delta in shifts:
        try:
            C = np.linalg.cholesky(Mf - delta * np.eye(n))
        except np.linalg.LinAlgError:
            continue
        # 4^k·M = 4^k·2^e·Mf;  L ≈ 2^k·2^(e/2)·C  — keep e even by folding one factor into C
        half, odd = divmod(e, 2)
        Cs = C * (math.sqrt(2.0) if odd else 1.0)
        L = [[int(round(math.ldexp(float(Cs[i, j]), k))) << half if j <= i else 0 for j in range(n)]
             for i in range(n)]
        cert = PsdCertificate("cholesky", k=k, L=tuple(tuple(r) for r in L))
        if verify_psd_certificate(rows, cert):
            return cert
    return None


def is_psd_ldl(M: Sequence[Sequence[Any]] | np.ndarray) -> bool:
    """Reference twin: exact LDLᵀ over Q without pivoting.  A zero pivot is allowed only
    when the rest of its column is zero (a PSD matrix with a zero diagonal entry has a
    zero row); a negative pivot means not PSD.  O(n^3) Fraction operations."""
    A = [[Fraction(v) for v in row] for row in (M.tolist() if isinstance(M, np.ndarray) else M)]
    n = len(A)
    for i in range(n):
        for j in range(i):
            if A[i][j] != A[j][i]:
                return False
    for k in range(n):
        d = A[k][k]
        if d < 0:
            return False
        if d == 0:
            if any(A[i][k] != 0 for i in range(k + 1, n)):
                return False
            continue
        for i in range(k + 1, n):
            if A[i][k] == 0:
                continue
            f = A[i][k] / d
            for j in range(k + 1, i + 1):
                A[i][j] -= f * A[j][k]
                A[j][i] = A[i][j]
    return True
