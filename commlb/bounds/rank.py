"""Rank of a communication matrix over R, GF(2) and GF(p), with certificates.

Why rank: a deterministic protocol with L leaves partitions the matrix M into L
monochromatic rectangles, so for every output value v the indicator matrix 1[M = v] is a
sum of at most (number of v-leaves) rank-one matrices, over *any* field
(Mehlhorn–Schmidt 1982; Kushilevitz–Nisan 1997, Lemma 1.28).  Hence

    D(f) >= ceil(log2 L) >= ceil(log2 sum_v rank_F(1[M = v]))

and, for a 0/1 matrix, ``rank(M) + rank(J - M)``.  :func:`rank_lower_bound_bits` turns the
ranks into bits.

Fields and what the number means:

* **R** (:func:`rank_real`): singular values by LAPACK (numpy SVD), rank = number above the
  tolerance ``max(m, n) * eps * sigma_max`` (numpy's default), reported with the tolerance and
  labelled *numerical*.  Its certificate is a minor proved nonsingular exactly (by exact
  rational elimination on small sizes, or modulo a prime: det != 0 mod p implies det != 0),
  so ``certified`` ranks are sound lower bounds on the rank over Q = rank over R.
* **GF(2)** (:func:`rank_gf2`): bit-packed Four Russians elimination
  (:mod:`commlb.kernels.gf2`); exact over GF(2).  O(m n^2 / (64 k)) word operations.
* **GF(p)** (:func:`rank_gfp`): blocked LU with exact float64 BLAS updates for p < 2^23, row
  elimination for larger p < 2^31 (:mod:`commlb.kernels.gfp`).  For an integer matrix
  rank_GF(p)(M mod p) <= rank_Q(M) always (a minor nonzero mod p is nonzero), so it is a
  *sound lower bound* on the rational rank, and equal to it unless p divides every maximal
  nonzero minor — for a prime drawn at random from a large range that happens with small
  probability.  O(n^3) flops.

Each result carries ``pivot_rows`` and ``pivot_cols``: a square minor that is nonsingular
over the field.  ``verify_rank_certificate_*`` check such a minor by an independent plain
Python elimination (no numba, no numpy linear algebra).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidInputError, TooLargeError
from .matrix import DONT_CARE, CommMatrix

__all__ = [
    "DEFAULT_PRIME",
    "RankResult",
    "rank_real",
    "rank_gf2",
    "rank_gfp",
    "indicator",
    "rank_lower_bound_bits",
    "is_prime",
    "verify_rank_certificate_gf2",
    "verify_rank_certificate_gfp",
    "verify_rank_certificate_real",
    "MAX_REAL_DIM",
]

#: Default prime: the largest prime below 2^23, so that panels of 128 columns update
#: exactly in float64 BLAS (128 * (p - 1)^2 < 2^53).
DEFAULT_PRIME = 8388593
#: Largest dimension for which rank over R (SVD) is attempted.
MAX_REAL_DIM = 4096
# primes used to certify real-rank minors exactly (det != 0 mod p  =>  det != 0)
_CERT_PRIMES = (2147483647, 2147483629, 2147483587)


@dataclass(frozen=True)
class RankResult:
    """A rank and its certificate.

    ``field`` is ``"R"``, ``"GF(2)"`` or ``"GF(p)"`` (then ``prime`` is p).  ``pivot_rows``
    and ``pivot_cols`` index a nonsingular minor.  For R, ``rank`` is the numerical rank,
    ``tolerance`` the threshold on singular values and ``certified_rank`` the size of the
    pivot minor proved nonsingular exactly (a sound lower bound on the rank); for the
    finite fields ``certified_rank == rank``.
    """

    field: str
    rank: int
    pivot_rows: tuple[int, ...]
    pivot_cols: tuple[int, ...]
    certified_rank: int
    prime: int | None = None
    tolerance: float | None = None
    numerical: bool = False
    elapsed: float = 0.0
    backend: str = "numba"
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "rank": self.rank,
            "certified_rank": self.certified_rank,
            "prime": self.prime,
            "tolerance": self.tolerance,
            "numerical": self.numerical,
            "pivot_rows": list(self.pivot_rows),
            "pivot_cols": list(self.pivot_cols),
            "elapsed": self.elapsed,
            "backend": self.backend,
            "note": self.note,
        }


def _values(M: CommMatrix | np.ndarray) -> np.ndarray:
    vals = M.values if isinstance(M, CommMatrix) else np.asarray(M)
    if vals.ndim != 2:
        raise InvalidInputError("rank needs a 2-D matrix")
    if np.any(vals == DONT_CARE) and np.issubdtype(vals.dtype, np.signedinteger):
        raise InvalidInputError(
            "the matrix has don't-care entries (a promise problem): rank bounds are only "
            "computed for total functions, since a bound for one completion does not bound "
            "the promise problem"
        )
    return vals


def indicator(M: CommMatrix | np.ndarray, value: int) -> np.ndarray:
    """The 0/1 matrix 1[M = value] (int8)."""
    return (_values(M) == value).astype(np.int8)


def rank_lower_bound_bits(ranks: Sequence[int]) -> int:
    """ceil(log2(sum of ranks)): the bits forced by ``ranks`` of the indicator matrices
    of distinct output values (leaves >= sum_v rank(1[M = v]), Mehlhorn–Schmidt 1982)."""
    total = int(sum(ranks))
    return 0 if total <= 1 else math.ceil(math.log2(total))


# ---------------------------------------------------------------- primes


def is_prime(p: int) -> bool:
    """Deterministic Miller–Rabin for p < 3.3e24 (bases 2..41)."""
    if p < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for q in small:
        if p % q == 0:
            return p == q
    d, s = p - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, p)
        if x in (1, p - 1):
            continue
        for _ in range(s - 1):
            x = x * x % p
            if x == p - 1:
                break
        else:
            return False
    return True


# ---------------------------------------------------------------- GF(2)


def rank_gf2(M: CommMatrix | np.ndarray, backend: str = "auto", k: int = 8,
             threads: int | None = None) -> RankResult:
    """Rank of M mod 2 over GF(2), with pivots (Four Russians elimination, k <= 8).

    For an integer matrix, leaves >= rank_GF(2)(M mod 2), so ``ceil(log2 rank)`` bounds D.
    ``backend``: ``"numba"`` (the kernel), ``"python"`` (the plain twin, Python integers as
    rows) or ``"auto"`` (the twin up to 64 x 64 entries, where it is instant and a fresh
    install need not compile the kernel; the kernel above).  ``threads``: numba threads for the kernel (None:
    chosen from the size and the free cores, :func:`commlb.kernels.gf2.choose_threads`)."""
    from ..kernels.backend import auto_for_size
    from ..kernels.elim import rank_gf2_any

    vals = _values(M)
    m, n = vals.shape
    backend = auto_for_size(backend, m * n)
    t0 = time.perf_counter()
    bits = (vals & 1).astype(np.uint8) if vals.dtype != bool else vals.astype(np.uint8)
    if backend == "numba" and not 1 <= k <= 8:
        raise InvalidInputError("k must be in 1..8")
    r, prow, pcol = rank_gf2_any(bits, backend, k=k, threads=threads)
    return RankResult("GF(2)", int(r), tuple(int(i) for i in prow), tuple(int(j) for j in pcol),
                      int(r), prime=2, elapsed=time.perf_counter() - t0, backend=backend)


# ---------------------------------------------------------------- GF(p)


def _check_prime(p: int) -> None:
    if not isinstance(p, (int, np.integer)) or not is_prime(int(p)):
        raise InvalidInputError(f"--prime {p} is not a prime")
    if p >= 2**31:
        raise InvalidInputError(f"--prime {p} is too large: word-size primes below 2^31 only")


def rank_gfp(M: CommMatrix | np.ndarray, p: int = DEFAULT_PRIME, backend: str = "auto",
             method: str = "auto") -> RankResult:
    """Rank of M mod p over GF(p) with pivots; a sound lower bound on rank over Q.

    ``backend``: ``"numba"`` (the kernels), ``"python"`` (the plain twin) or ``"auto"``
    (the twin up to 64 x 64 entries, numba above).  ``method`` (numba only): ``"blocked"``
    (blocked LU with exact float64 BLAS updates, p < 2^23), ``"rows"`` (row elimination, any
    p < 2^31) or ``"auto"`` (blocked when p allows it and the matrix is not tiny)."""
    from ..kernels.backend import auto_for_size

    backend = auto_for_size(backend, int(np.asarray(M.values if isinstance(M, CommMatrix) else M).size))
    if method not in ("auto", "rows", "blocked"):
        raise InvalidInputError(f"unknown method {method!r}; use auto, rows or blocked")
    _check_prime(p)
    vals = _values(M)
    p = int(p)
    m, n = vals.shape
    t0 = time.perf_counter()
    reduced = np.mod(vals.astype(np.int64), p)
    used = backend
    if backend == "python":
        from ..kernels.elim import rank_gfp_python

        r, prow, pcol = rank_gfp_python(reduced.tolist(), p)
    else:
        from ..kernels import gfp as kg

        if method == "blocked" and kg.blocked_width(p) < 1:
            raise InvalidInputError(f"prime {p} too large for the blocked method (p < 2^23); use rows")
        if method == "blocked" or (method == "auto" and kg.blocked_width(p) >= 16 and m * n >= 128 * 128):
            r, prow, pcol = kg.rank_gfp_blocked(reduced.astype(np.float64), p)
            used = "numba (blocked)"
        else:
            r, prow, pcol = kg.rank_gfp_rows(reduced, p)
            used = "numba (rows)"
        prow, pcol = prow.tolist(), pcol.tolist()
    return RankResult("GF(p)", int(r), tuple(int(i) for i in prow), tuple(int(j) for j in pcol),
                      int(r), prime=p, elapsed=time.perf_counter() - t0, backend=used)


# ---------------------------------------------------------------- R


def rank_real(M: CommMatrix | np.ndarray, certify: bool = True, max_dim: int = MAX_REAL_DIM) -> RankResult:
    """Numerical rank over R by SVD (tolerance ``max(m, n) * eps * sigma_max``, as
    numpy.linalg.matrix_rank), with a certificate: the pivots of an exact elimination
    modulo the prime 2^31 - 1, whose minor is nonsingular over Q.  ``certified_rank`` is
    its size (a sound lower bound on the real rank); it equals ``rank`` unless the
    numerical rank is off or the prime divides every maximal minor."""
    vals = _values(M)
    m, n = vals.shape
    if max(m, n) > max_dim:
        seconds = 4.0 * (max(m, n) / 2048.0) ** 3
        raise TooLargeError(
            f"rank over R of a {m} x {n} matrix needs an SVD (~{seconds:.0f} s, "
            f"{8 * m * n / 2**30:.2g} GiB); the limit is {max_dim} rows/columns: use rank-gfp "
            f"(a sound lower bound on the same rank) or a smaller --n"
        )
    t0 = time.perf_counter()
    A = vals.astype(np.float64)
    sv = np.linalg.svd(A, compute_uv=False) if A.size else np.zeros(0)
    smax = float(sv.max()) if sv.size else 0.0
    tol = smax * max(m, n) * float(np.finfo(np.float64).eps)
    rank = int(np.sum(sv > tol))
    prow: tuple[int, ...] = ()
    pcol: tuple[int, ...] = ()
    cert = 0
    if certify:
        from ..kernels.elim import rank_gfp_any

        if m * n <= 512 * 512:
            r, pr, pc = rank_gfp_any(vals, _CERT_PRIMES[0])  # the plain twin when small
        else:
            from ..kernels import gfp as kg

            # large: the blocked kernel with the default prime gives the minor just as well
            r, pr, pc = kg.rank_gfp_blocked(np.mod(vals.astype(np.float64), DEFAULT_PRIME), DEFAULT_PRIME)
        prow = tuple(int(i) for i in pr)
        pcol = tuple(int(j) for j in pc)
        cert = int(r)
    note = "" if not certify or cert == rank else (
        f"certified minor has size {cert}, numerical rank is {rank}")
    return RankResult("R", rank, prow, pcol, cert, tolerance=tol, numerical=True,
                      elapsed=time.perf_counter() - t0, backend="lapack", note=note)


# ---------------------------------------------------------------- verification


def _minor(M: CommMatrix | np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> list[list[int]]:
    vals = _values(M)
    if len(rows) != len(cols):
        raise InvalidInputError("a rank certificate needs as many rows as columns")
    if len(set(rows)) != len(rows) or len(set(cols)) != len(cols):
        return []
    m, n = vals.shape
    if any(not 0 <= int(i) < m for i in rows) or any(not 0 <= int(j) < n for j in cols):
        raise InvalidInputError("rank certificate indices out of range")
    return [[int(vals[int(i), int(j)]) for j in cols] for i in rows]


def _full_rank_mod(minor: list[list[int]], p: int) -> bool:
    """Plain Python: is the square integer matrix nonsingular mod p?"""
    work = [[v % p for v in row] for row in minor]
    size = len(work)
    for c in range(size):
        hit = next((i for i in range(c, size) if work[i][c]), None)
        if hit is None:
            return False
        work[c], work[hit] = work[hit], work[c]
        inv = pow(work[c][c], p - 2, p)
        pivot_row = work[c]
        for i in range(c + 1, size):
            f = work[i][c]
            if f:
                f = f * inv % p
                work[i] = [(a - f * b) % p for a, b in zip(work[i], pivot_row)]
    return True


def verify_rank_certificate_gf2(M: CommMatrix | np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> bool:
    """True iff the minor M[rows, cols] (mod 2) is nonsingular over GF(2): an
    independent plain-Python elimination on integers as bit rows."""
    if len(rows) != len(cols):
        return False
    if not rows:
        return True
    minor = _minor(M, rows, cols)
    if not minor:
        return False
    work = [sum((v & 1) << j for j, v in enumerate(row)) for row in minor]
    size = len(work)
    for c in range(size):
        bit = 1 << c
        hit = next((i for i in range(c, size) if work[i] & bit), None)
        if hit is None:
            return False
        work[c], work[hit] = work[hit], work[c]
        for i in range(c + 1, size):
            if work[i] & bit:
                work[i] ^= work[c]
    return True


def verify_rank_certificate_gfp(M: CommMatrix | np.ndarray, rows: Sequence[int], cols: Sequence[int],
                                p: int) -> bool:
    """True iff the minor M[rows, cols] is nonsingular mod p (plain Python elimination)."""
    if len(rows) != len(cols):
        return False
    if not rows:
        return True
    minor = _minor(M, rows, cols)
    return bool(minor) and _full_rank_mod(minor, int(p))


def verify_rank_certificate_real(M: CommMatrix | np.ndarray, rows: Sequence[int], cols: Sequence[int],
                                 exact_limit: int = 48) -> bool:
    """True iff the minor M[rows, cols] is proved nonsingular over Q.

    Up to ``exact_limit`` rows by exact rational elimination (:mod:`fractions`); above that
    modulo a few large primes (nonzero mod p implies nonzero over Q).  False means *not
    proved*, which for the modular check does not prove singularity."""
    if len(rows) != len(cols):
        return False
    if not rows:
        return True
    minor = _minor(M, rows, cols)
    if not minor:
        return False
    if len(minor) <= exact_limit:
        work = [[Fraction(v) for v in row] for row in minor]
        size = len(work)
        for c in range(size):
            hit = next((i for i in range(c, size) if work[i][c] != 0), None)
            if hit is None:
                return False
            work[c], work[hit] = work[hit], work[c]
            for i in range(c + 1, size):
                if work[i][c] != 0:
                    f = work[i][c] / work[c][c]
                    work[i] = [a - f * b for a, b in zip(work[i], work[c])]
        return True
    return any(_full_rank_mod(minor, p) for p in _CERT_PRIMES + (DEFAULT_PRIME,))
