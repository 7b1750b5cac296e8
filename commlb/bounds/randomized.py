"""Every bound for protocols that err, for one matrix and one ε: :func:`compute_error_bounds`.

Methods (``methods=`` names), each returning an exactly checked certificate:

* ``discrepancy-spectral`` — D^μ_ε ≥ log2((1 − 2ε)/disc_μ) with disc_μ bounded through a
  rigorous bound on ‖A∘μ‖₂ (:mod:`.discrepancy`);
* ``discrepancy-exact`` — the same with disc_μ computed exactly by rectangle search;
* ``one-way-vc`` — (1 − H2(ε))·VC-dimension, one-way, both directions (:mod:`.vc`);
* ``gamma2`` — 2·log2(γ2^α/α), α = 1/(1 − 2ε), by SDP with a verified dual (:mod:`.gamma2`);
* ``partition`` — log2 prt_ε (Jain–Klauck) by LP with a verified dual (:mod:`.partition`);
* ``rectangle`` — log2 rec^z_ε for each output value z, the same way.

Each :class:`ErrorBound` names its kind (distributional or randomized, one-way or two-way,
with ε and the distribution), source and status (see :mod:`.catalogue`).  Only two-way
bounds compete for ``best_two_way``; one-way bounds are reported per direction.  Promise
problems are refused here, as for the deterministic bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..display import shown
from ..errors import InvalidInputError, TooLargeError
from .catalogue import entries_for
from .distribution import Distribution
from .matrix import CommMatrix, matrix_from_array
from .rational import frac_json

__all__ = ["ERROR_METHODS", "ErrorBound", "ErrorBoundsReport", "compute_error_bounds", "parse_error_methods",
           "TWO_WAY_PUBLIC", "DISTRIBUTIONAL_TWO_WAY"]

#: problems whose value depends only on the counts of coordinate pairs (x_i, y_i): the LPs
#: solve over the orbits of that symmetry (docs/theory.md §6.4)
SYMMETRIC_PROBLEMS = ("disj", "eq", "ip")
ERROR_METHODS = ("discrepancy-spectral", "discrepancy-exact", "one-way-vc", "gamma2", "partition", "rectangle")
#: kinds as printed; a distributional bound under any μ also bounds public-coin R_ε (Yao)
TWO_WAY_PUBLIC = "randomized, public coin, two-way"
DISTRIBUTIONAL_TWO_WAY = "distributional, two-way"
WORST_CASE = "worst case (error <= eps on every input)"


@dataclass(frozen=True)
class ErrorBound:
    """One certified bound for protocols that err."""

    method: str
    kind: str
    error: Fraction
    distribution: str
    bits: int
    real: float
    quantity: str
    source: str
    status: str
    theory: str
    one_way: str | None  # None (two-way), "Alice->Bob" or "Bob->Alice"
    certificate: Any
    verified: bool
    elapsed: float
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        cert = self.certificate.to_json() if hasattr(self.certificate, "to_json") else self.certificate
        return {"method": self.method, "kind": self.kind, "error": frac_json(self.error),
                "distribution": self.distribution, "bits": self.bits, "real": self.real,
                "quantity": self.quantity, "source": self.source, "status": self.status,
                "theory": self.theory, "one_way": self.one_way, "verified": self.verified,
                "certificate": cert, "elapsed": self.elapsed, "note": self.note}


@shown("error-bounds")
@dataclass
class ErrorBoundsReport:
    source: str
    rows: int
    cols: int
    error: Fraction
    distribution: str
    bounds: list[ErrorBound] = field(default_factory=list)
    catalogue: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: orbit labels of the entries under the problem's coordinate symmetry (LP reduction)
    orbits: Any = None

    @property
    def best_two_way(self) -> ErrorBound | None:
        two = [b for b in self.bounds if b.one_way is None and b.verified]
        return max(two, key=lambda b: b.bits) if two else None

    def best_one_way(self, direction: str = "Alice->Bob") -> ErrorBound | None:
        one = [b for b in self.bounds if b.one_way == direction and b.verified]
        return max(one, key=lambda b: b.bits) if one else None

    def to_json(self) -> dict[str, Any]:
        best = self.best_two_way
        one = self.best_one_way()
        return {"matrix": self.source, "rows": self.rows, "cols": self.cols, "error": frac_json(self.error),
                "distribution": self.distribution,
                "bounds": [b.to_json() for b in self.bounds],
                "best_two_way": None if best is None else {"method": best.method, "bits": best.bits,
                                                           "kind": best.kind},
                "best_one_way_alice_to_bob": None if one is None else {"method": one.method, "bits": one.bits},
                "catalogue": self.catalogue, "notes": list(self.notes)}


def parse_error_methods(text: str | None) -> list[str] | None:
    """``--methods`` with ``--error``: the same parsing as without, over the methods for
    protocols that err."""
    from .report import parse_methods

    return parse_methods(text, ERROR_METHODS, " with --error")


def _default_ok(name: str, rows: int, cols: int) -> tuple[bool, str]:
    small, big = min(rows, cols), max(rows, cols)
    limits = {
        "discrepancy-spectral": (rows * cols <= 1 << 24, "more than 4096 x 4096 entries"),
        "discrepancy-exact": (small <= 16 and (big << small) <= 1 << 28,
                              f"the search visits 2^{small} subsets x {big} (limit 2^28 sums)"),
        "one-way-vc": (rows * cols <= 1 << 22, "more than 2^22 entries"),
        "gamma2": (big <= 64, f"a side is above 64 (the SDP grows as (rows+cols)^3: about "
                              f"{(rows + cols) ** 3 / 1e5:.0f} s with SCS, measured 155 s for 128 x 128 on a "
                              f"loaded 2-core machine)"),
        "partition": (rows * cols <= 64, "more than 64 entries (16 x 16 DISJ/EQ/IP: ~30 s over the orbits of "
                                         "their symmetry; other 16 x 16 matrices did not converge in 60 s, and "
                                         "the stopped bound is sound but weak; raise --time-limit)"),
        "rectangle": (rows * cols <= 64, "more than 64 entries (as for partition)"),
    }
    return limits[name]


def compute_error_bounds(M: CommMatrix | np.ndarray, eps: Fraction, methods: Sequence[str] | None = None,
                         distribution: Distribution | None = None, problem: str | None = None,
                         n: int | None = None, time_limit: float = 60.0) -> ErrorBoundsReport:
    """Run the chosen methods for error ε; ``distribution`` (default uniform) is used by
    the discrepancy methods.  ``problem``/``n`` attach the catalogue entries."""
    if not isinstance(M, CommMatrix):
        M = matrix_from_array(M)
    eps = Fraction(eps)
    dist_name = distribution.name if distribution is not None else "uniform"
    report = ErrorBoundsReport(M.source, M.rows, M.cols, eps, dist_name)
    report.catalogue = [e.evaluate(n, eps) for e in entries_for(problem)]
    if M.has_dont_care:
        report.notes.append(
            f"{M.source} is a promise problem ({int(np.sum(M.values == -1))} entries outside the promise): "
            f"the certified methods need a total function (a bound for one completion does not bound the "
            f"promise problem); only the catalogue applies")
        return report
    boolean = M.is_boolean
    if methods is None:
        chosen = []
        for name in ERROR_METHODS:
            ok, why = _default_ok(name, M.rows, M.cols)
            if name != "partition" and not boolean:
                report.notes.append(f"{name} skipped: it needs a Boolean function")
            elif ok:
                chosen.append(name)
            else:
                report.notes.append(f"{name} skipped: {why}; ask for it with --methods {name}")
    else:
        chosen = list(methods)
    if distribution is not None and not any(m.startswith("discrepancy") for m in chosen):
        report.notes.append("--distribution is used by the discrepancy methods only, and none ran")
    if distribution is not None and any(m in chosen for m in ("one-way-vc", "gamma2", "partition", "rectangle")):
        report.notes.append("the VC bound uses its own distribution; gamma2, partition and rectangle bound "
                            "worst-case error (every input), so --distribution does not change them")
    vals = M.values
    if problem in SYMMETRIC_PROBLEMS and n is not None and M.rows == M.cols == 1 << int(n) \
            and any(m in chosen for m in ("partition", "rectangle")):
        from .partition import coordinate_orbits

        report.orbits = coordinate_orbits(int(n))
    for name in ERROR_METHODS:
        if name not in chosen:
            continue
        if name != "partition" and not boolean:
            raise InvalidInputError(f"{name} needs a Boolean function; {M.source} has values {M.output_values()}")
        _RUNNERS[name](report, vals, eps, distribution, time_limit)
    if problem == "eq":
        report.notes.append(
            "EQ has a public-coin protocol of ⌈log2(1/ε)⌉ + 1 bits (Alice sends random parities, Bob "
            "answers), so no randomized bound for EQ can exceed that; commlb claims none (the private-coin "
            "Θ(log n) bound is asymptotic only)")
    return report


def _discrepancy_spectral(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
                          dist: Distribution | None, time_limit: float) -> None:
    from .discrepancy import discrepancy_bits, spectral_certificate, verify_spectral

    cert = spectral_certificate(vals, dist)
    # the plain-Python re-check is O(d^2 * max side); it runs where that is cheap, and above
    # that the Gershgorin routes stand on their own exact integer arithmetic
    small = vals.shape[0] * vals.shape[1] * min(vals.shape) <= 1 << 21
    if small:
        verified = verify_spectral(vals, dist, cert)
    elif cert.method == "cholesky":
        verified = _recheck_cholesky(vals, dist, cert)
    else:
        verified = True
    note = "" if small else ("the PSD certificate re-checked against a fresh exact Gram matrix"
                             if cert.method == "cholesky" else
                             "Gershgorin on the exact integer Gram matrix; the plain-Python re-check is "
                             "skipped at this size")
    bits, real = discrepancy_bits(eps, cert.disc_power_upper, cert.power)
    report.bounds.append(ErrorBound(
        "discrepancy-spectral", DISTRIBUTIONAL_TWO_WAY, eps, report.distribution, bits, real,
        f"disc <= {cert.disc_upper:.6g} (||A o mu||_2 via {cert.method})",
        "Kushilevitz–Nisan 1997 ch. 3 (discrepancy bound)", "proved; norm bound certified",
        "docs/theory.md §6.1", None, cert, verified, cert.elapsed, note))


def _recheck_cholesky(vals: np.ndarray, dist: Distribution | None, cert: Any) -> bool:
    """The PSD certificate against a freshly computed exact Gram matrix (large matrices)."""
    from .discrepancy import _gram, weighted_sign_matrix
    from .rational import verify_psd_certificate

    B, _ = weighted_sign_matrix(vals, dist)
    G, side = _gram(B)
    if side != cert.side:
        G = _gram(np.ascontiguousarray(B.T))[0]
    s = cert.bound
    d = G.shape[0]
    M = s.numerator * np.eye(d, dtype=object) - s.denominator * G.astype(object)
    return verify_psd_certificate(M.tolist(), cert.psd)


def _discrepancy_exact(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
                       dist: Distribution | None, time_limit: float) -> None:
    from .discrepancy import discrepancy_bits, exact_discrepancy, verify_rectangle

    try:
        cert = exact_discrepancy(vals, dist)
    except TooLargeError as exc:
        report.notes.append(f"discrepancy-exact skipped: {exc}")
        return
    verified = verify_rectangle(vals, dist, cert)
    if cert.value == 0:
        report.notes.append("discrepancy-exact: every rectangle has weighted sum 0 (no bound)")
        return
    bits, real = discrepancy_bits(eps, cert.disc, 1)
    report.bounds.append(ErrorBound(
        "discrepancy-exact", DISTRIBUTIONAL_TWO_WAY, eps, report.distribution, bits, real,
        f"disc = {cert.disc} (rectangle {len(cert.rows_set)} x {len(cert.cols_set)}, exhaustive)",
        "Kushilevitz–Nisan 1997 ch. 3 (discrepancy bound)", "proved; disc exact", "docs/theory.md §6.1",
        None, cert, verified, cert.elapsed))


def _one_way_vc(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
                dist: Distribution | None, time_limit: float) -> None:
    from .vc import find_shattered_set, one_way_vc_bits, verify_shattered_set

    for direction, mat in (("Alice->Bob", vals), ("Bob->Alice", np.ascontiguousarray(vals.T))):
        cert = find_shattered_set(mat, time_limit=min(time_limit, 3.0))
        verified = verify_shattered_set(mat, cert)
        bits, real = one_way_vc_bits(cert.size, eps)
        who = "Bob's" if direction == "Alice->Bob" else "Alice's"
        exact = "maximum" if cert.maximum else f"best found (at most {cert.upper})"
        report.bounds.append(ErrorBound(
            "one-way-vc", f"distributional, one-way {direction}",
            eps, f"uniform on a shattered set ({cert.size} of {who} inputs, 2^{cert.size} witnesses)",
            bits, real, f"VC dimension {cert.size} ({exact}); (1 - H2(eps)) * {cert.size}",
            "Kremer–Nisan–Ron 1999; Ablayev 1996", "derived here", "docs/theory.md §6.2", direction,
            cert, verified, cert.elapsed))


def _gamma2(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
            dist: Distribution | None, time_limit: float) -> None:
    from .gamma2 import gamma2_alpha, gamma2_bits, verify_gamma2

    cert = gamma2_alpha(vals, eps)
    verified = verify_gamma2(vals, cert)
    bits, real = gamma2_bits(cert.lower, cert.alpha)
    report.bounds.append(ErrorBound(
        "gamma2", TWO_WAY_PUBLIC, eps, WORST_CASE, bits, real,
        f"gamma2^alpha >= {float(cert.lower):.6g}, alpha = {cert.alpha}",
        "Linial–Shraibman 2009", "derived here", "docs/theory.md §6.3", None, cert, verified, cert.elapsed))


def _partition(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
               dist: Distribution | None, time_limit: float) -> None:
    from .partition import lp_bits, partition_bound, verify_lp_dual

    cert = partition_bound(vals, eps, time_limit=time_limit, orbits=report.orbits)
    verified = verify_lp_dual(vals, cert)
    bits, real = lp_bits(cert.value)
    report.bounds.append(ErrorBound(
        "partition", TWO_WAY_PUBLIC, eps, WORST_CASE, bits, real,
        f"prt_eps >= {float(cert.value):.6g} (LP {cert.lp_value:.6g}, {cert.cuts} rectangles)",
        "Jain–Klauck 2010", "derived here", "docs/theory.md §6.4", None, cert, verified, cert.elapsed,
        _unconverged(cert, time_limit)))


def _unconverged(cert: Any, time_limit: float) -> str:
    if cert.converged:
        return ""
    return (f"the cutting planes did not converge within --time-limit {time_limit:g} s ({cert.rounds} rounds): "
            "the bound is the best round's dual rescaled to feasibility, sound but below the LP optimum")


def _rectangle(report: ErrorBoundsReport, vals: np.ndarray, eps: Fraction,
               dist: Distribution | None, time_limit: float) -> None:
    from .partition import lp_bits, rectangle_bound, verify_lp_dual

    for z in (0, 1):
        if not np.any(vals == z):
            continue
        cert = rectangle_bound(vals, eps, z, time_limit=time_limit, orbits=report.orbits)
        verified = verify_lp_dual(vals, cert)
        bits, real = lp_bits(cert.value)
        report.bounds.append(ErrorBound(
            f"rectangle (z={z})", TWO_WAY_PUBLIC, eps, WORST_CASE, bits, real,
            f"rec^{z}_eps >= {float(cert.value):.6g} (LP {cert.lp_value:.6g})",
            "Jain–Klauck 2010 (rectangle bound)", "derived here", "docs/theory.md §6.4", None, cert,
            verified, cert.elapsed, _unconverged(cert, time_limit)))


_RUNNERS = {
    "discrepancy-spectral": _discrepancy_spectral,
    "discrepancy-exact": _discrepancy_exact,
    "one-way-vc": _one_way_vc,
    "gamma2": _gamma2,
    "partition": _partition,
    "rectangle": _rectangle,
}
