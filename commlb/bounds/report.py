"""Every bound for one communication matrix, with certificates: :func:`compute_bounds`.

Methods (``methods=`` names):

* ``rank-real``, ``rank-gf2``, ``rank-gfp`` — rank of M and of the indicator matrices
  1[M = v] over the field; lower bound ceil(log2 sum_v rank(1[M = v])) (Mehlhorn–Schmidt
  1982).  Over R the rank is numerical; the bound uses the exactly certified minor size, so
  it is sound.  GF(2)/GF(p) ranks are exact over their field and sound for D.
* ``one-way`` — exact one-way complexities both ways (not a lower bound on D; gives the
  upper bound min + ceil(log2 #values)).
* ``fooling`` — maximum fooling set per output value (:mod:`commlb.bounds.fooling`):
  D >= ceil(log2(|S_1| + |S_0|)) when both exist, else ceil(log2(|S| + 1)).
* ``exact`` — D(f) by protocol-tree search (:mod:`commlb.bounds.exact`), certificate the
  tree itself.

Without ``methods`` every method that is feasible at the matrix size runs; skipped ones get
a note.  The fooling-set search, the slow one, is not run once the bounds before it settle
D (best lower = best upper) or when no fooling set could beat the lower bound already
proved; its row then says why.  Promise problems (don't-care entries) are refused: a bound for one total
completion does not bound the promise problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..display import shown
from ..errors import InvalidInputError
from .matrix import DONT_CARE, CommMatrix, matrix_from_array
from .oneway import OneWayResult, bits_for, one_way, verify_one_way
from .rank import (
    DEFAULT_PRIME,
    MAX_REAL_DIM,
    RankResult,
    indicator,
    rank_gf2,
    rank_gfp,
    rank_lower_bound_bits,
    rank_real,
    verify_rank_certificate_gf2,
    verify_rank_certificate_gfp,
    verify_rank_certificate_real,
)

__all__ = ["METHODS", "MethodRow", "BoundsReport", "compute_bounds", "compute_bounds_batch", "default_methods",
           "parse_methods"]

METHODS = ("rank-real", "rank-gf2", "rank-gfp", "one-way", "fooling", "exact")

# default-run limits (an explicit --methods runs a method up to its own hard limit)
_DEFAULT_LIMITS = {
    "rank-real": 1024 * 1024,  # SVD: about a second per rank
    "rank-gf2": 1 << 26,
    "rank-gfp": 2048 * 2048,  # blocked LU: ~1 s per rank at 2048^2
    "one-way": 1 << 26,
    "fooling": 64 * 64,
    "exact": 32 * 32,  # counted on the deduplicated matrix
}
# certificates are re-checked by plain Python up to this many pivot rows
_VERIFY_LIMIT = {"R": 256, "GF(2)": 512, "GF(p)": 256}
#: at most this many output values get their own indicator-matrix rank
MAX_INDICATOR_VALUES = 16


@dataclass(frozen=True)
class MethodRow:
    """One row of the human table."""

    method: str
    quantity: str
    value: str
    bits: int | None
    status: str  # "sound", "exact", "numerical", "upper", "skipped", "failed"
    certificate: str
    elapsed: float
    note: str = ""


@shown("bounds")
@dataclass
class BoundsReport:
    """The bounds for one matrix.  :meth:`to_json` gives exactly the keys ``rows``,
    ``cols``, ``rank``, ``one_way``, ``fooling_set``, ``deterministic``,
    ``lower_bounds``; :meth:`certificates` the certificates."""

    source: str
    rows: int
    cols: int
    output_values: list[int]
    table: list[MethodRow] = field(default_factory=list)
    rank: dict[str, Any] = field(default_factory=lambda: {"real": None, "gf2": None, "gfp": None, "prime": None})
    one_way: dict[str, Any] | None = None
    fooling_set: dict[str, Any] = field(default_factory=dict)
    deterministic: dict[str, Any] | None = None
    lower_bounds: list[dict[str, Any]] = field(default_factory=list)
    upper_bounds: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    certs: dict[str, Any] = field(default_factory=dict)
    tree: Any = None
    rank_results: dict[str, RankResult] = field(default_factory=dict)
    one_way_result: OneWayResult | None = None
    #: the matrix the bounds are for (for its figure in a notebook)
    matrix: Any = field(default=None, repr=False)
    #: True when Ctrl-C stopped a search: the report holds what was proved until then
    interrupted: bool = False

    @property
    def best_lower_bound(self) -> tuple[int, str] | None:
        """(bits, method) of the largest sound lower bound."""
        sound = [lb for lb in self.lower_bounds if lb["sound"]]
        if not sound:
            return None
        best = max(sound, key=lambda lb: lb["bits"])
        return best["bits"], best["method"]

    @property
    def best_upper_bound(self) -> tuple[int, str] | None:
        if not self.upper_bounds:
            return None
        best = min(self.upper_bounds, key=lambda ub: ub["bits"])
        return best["bits"], best["method"]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "cols": self.cols,
            "rank": dict(self.rank),
            "one_way": None if self.one_way is None else dict(self.one_way),
            "fooling_set": dict(self.fooling_set),
            "deterministic": None if self.deterministic is None else dict(self.deterministic),
            "lower_bounds": [dict(lb) for lb in self.lower_bounds],
        }

    def certificates(self) -> dict[str, Any]:
        return {"matrix": {"source": self.source, "rows": self.rows, "cols": self.cols}, **self.certs}


def parse_methods(text: str | None, known: Sequence[str] | None = None, context: str = "") -> list[str] | None:
    """``"rank-gf2,one-way"`` -> list; None/empty -> None (the default choice).  ``known``
    is the method list (default :data:`METHODS`); ``context`` is added to the error."""
    known = METHODS if known is None else known
    if text is None or not text.strip():
        return None
    out: list[str] = []
    for name in (t.strip() for t in text.split(",")):
        if not name:
            continue
        if name == "all":
            out.extend(m for m in known if m not in out)
            continue
        if name not in known:
            raise InvalidInputError(f"unknown method {name!r}{context}; known: {', '.join(known)}")
        if name not in out:
            out.append(name)
    return out


def _dedup_size(M: CommMatrix) -> int:
    from .oneway import distinct_rows

    r = distinct_rows(M.values)[0].size
    c = distinct_rows(np.ascontiguousarray(M.values.T))[0].size
    return int(r * c)


def default_methods(M: CommMatrix) -> tuple[list[str], list[str]]:
    """(methods to run, notes for the ones skipped) at this matrix size."""
    entries = M.rows * M.cols
    run, notes = [], []
    for name in METHODS:
        size = _dedup_size(M) if name == "exact" else entries
        if size <= _DEFAULT_LIMITS[name]:
            run.append(name)
        else:
            what = "deduplicated " if name == "exact" else ""
            notes.append(f"{name} skipped: the {what}matrix has {size} entries, above the default "
                         f"limit {_DEFAULT_LIMITS[name]}; ask for it with --methods {name}")
    return run, notes


def _fmt_rank(r: RankResult) -> str:
    return str(r.rank)


def _rank_method(report: BoundsReport, M: CommMatrix, name: str, prime: int, verify: bool) -> None:
    t0 = time.perf_counter()
    values = report.output_values
    if name == "rank-real":
        main = rank_real(M)
        key, fld = "real", "R"
    elif name == "rank-gf2":
        main = rank_gf2(M)
        key, fld = "gf2", "GF(2)"
    else:
        main = rank_gfp(M, prime)
        key, fld = "gfp", "GF(p)"
        report.rank["prime"] = int(prime)
    report.rank[key] = main.rank
    report.rank_results[key] = main

    def run(mat: np.ndarray) -> RankResult:
        if name == "rank-real":
            return rank_real(mat)
        if name == "rank-gf2":
            return rank_gf2(mat)
        return rank_gfp(mat, prime)

    # indicator matrices of each value: leaves >= sum_v rank(1[M = v])
    parts: dict[str, RankResult] = {}
    if len(values) <= MAX_INDICATOR_VALUES and len(values) >= 2:
        for v in values:
            if M.is_boolean and v == 1:
                parts[str(v)] = main  # 1[M = 1] is M itself
            else:
                parts[str(v)] = run(indicator(M, v))
    elif len(values) == 1:
        parts[str(values[0])] = run(indicator(M, values[0]))
    # the certified (sound) sizes
    cert_main = main.certified_rank
    verified = None
    checked: list[RankResult] = [main] + [r for r in parts.values() if r is not main]
    if verify:
        verified = True
        skipped = False
        for res, mat in [(main, M.values)] + [(parts[k], indicator(M, int(k))) for k in parts
                                              if parts[k] is not main]:
            if len(res.pivot_rows) > _VERIFY_LIMIT[fld]:
                skipped = True
                continue
            if fld == "R":
                ok = verify_rank_certificate_real(mat, res.pivot_rows, res.pivot_cols)
            elif fld == "GF(2)":
                ok = verify_rank_certificate_gf2(mat, res.pivot_rows, res.pivot_cols)
            else:
                ok = verify_rank_certificate_gfp(mat, res.pivot_rows, res.pivot_cols, int(prime))
            if not ok:
                verified = False
                report.notes.append(f"{name}: a certificate FAILED verification (bug); bound withheld")
        if verified and skipped:
            verified = None
    sound_total = sum(r.certified_rank for r in parts.values()) if parts else cert_main
    bits = rank_lower_bound_bits([r.certified_rank for r in parts.values()] if parts else [cert_main])
    bits_main = rank_lower_bound_bits([cert_main])
    best_bits = max(bits, bits_main)
    ok_sound = verified is not False
    elapsed = time.perf_counter() - t0
    field_label = {"R": "R", "GF(2)": "GF(2)", "GF(p)": f"GF({prime})"}[fld]
    if parts and len(values) >= 2:
        detail = "+".join(f"{parts[str(v)].certified_rank}" for v in values)
        quantity = f"rank {main.rank}; sum_v rank 1[M=v] = {detail}"
    else:
        quantity = f"rank {main.rank}"
    if fld == "R":
        quantity += f" (tol {main.tolerance:.1g})"
        status = "numerical" if main.certified_rank != main.rank else "numerical; certified"
        note = main.note
    else:
        quantity = quantity.replace("rank", f"rank/{field_label}", 1) if fld == "GF(p)" else quantity
        status = "exact" if fld == "GF(2)" else "exact mod p; <= rank/Q"
        note = ""
    if verified is None and verify:
        note = (note + "; " if note else "") + "certificate too large to re-check"
    elif verified:
        status += "; verified"
    report.table.append(MethodRow(name, quantity, str(main.rank), best_bits if ok_sound else None,
                                  status, f"{sum(len(r.pivot_rows) for r in checked)} pivots",
                                  elapsed, note))
    if ok_sound:
        report.lower_bounds.append({"method": name, "bits": int(best_bits), "sound": True})
        if fld == "R" and main.rank != main.certified_rank:
            report.lower_bounds.append({"method": name + " (numerical)",
                                        "bits": rank_lower_bound_bits([main.rank]), "sound": False})
    report.certs[name] = {
        "field": fld,
        "prime": main.prime,
        "rank": main.to_json(),
        "indicators": {k: r.to_json() for k, r in parts.items()},
        "sum_of_indicator_ranks": sound_total,
        "verified": verified,
    }


def _one_way_method(report: BoundsReport, M: CommMatrix, verify: bool) -> None:
    res = one_way(M)
    report.one_way_result = res
    report.one_way = {"alice_to_bob": res.alice_to_bob, "bob_to_alice": res.bob_to_alice}
    ok = verify_one_way(M, res) if verify and M.rows * M.cols <= 1 << 22 else None
    note = "" if ok is not False else "certificate FAILED verification (bug)"
    status = "exact (one-way)" + ("; verified" if ok else "")
    report.table.append(MethodRow("one-way", f"Alice->Bob: {res.distinct_rows} distinct rows",
                                  str(res.alice_to_bob), res.alice_to_bob, status,
                                  f"{res.distinct_rows} rows", res.elapsed, note))
    report.table.append(MethodRow("one-way", f"Bob->Alice: {res.distinct_cols} distinct columns",
                                  str(res.bob_to_alice), res.bob_to_alice, status,
                                  f"{res.distinct_cols} cols", 0.0, ""))
    report.upper_bounds.append({"method": "one-way + answer", "bits": res.two_way_upper})
    report.table.append(MethodRow("one-way", "two-way upper bound: one-way + answer",
                                  str(res.two_way_upper), res.two_way_upper, "upper", "", 0.0, ""))
    report.certs["one_way"] = res.to_json()


def _fooling_method(report: BoundsReport, M: CommMatrix, time_limit: float, verify: bool,
                    given: dict[int, list[tuple[int, int]]] | None,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> None:
    """The fooling-set rows; Ctrl-C during a search sets ``report.interrupted`` (what it
    proved stands) and skips the values after it."""
    try:
        from . import fooling as fmod
    except ImportError:
        report.notes.append("fooling sets: commlb.bounds.fooling is not available in this checkout")
        return
    results = []
    interrupted = False
    for v in report.output_values:
        if interrupted:
            report.table.append(MethodRow("fooling", f"{v}-fooling set", "", None, "skipped", "", 0.0,
                                          "not run: interrupted (Ctrl-C)"))
            continue
        res = fmod.max_fooling_set(M.values, v, time_limit=time_limit, progress=progress)
        interrupted = res.stopped_by == "interrupt"
        report.interrupted = report.interrupted or interrupted
        ok = fmod.verify_fooling_set(M.values, v, res.pairs) if verify else None
        if ok is False:
            report.notes.append(f"fooling set for value {v} FAILED verification (bug); withheld")
            continue
        results.append(res)
        report.fooling_set[str(v)] = {"size": int(res.size), "exact": bool(res.exact),
                                      "upper": None if res.upper is None else int(res.upper),
                                      "pairs": [[int(a), int(b)] for a, b in res.pairs]}
        found = "maximum" if res.exact else \
            f"{'stopped by Ctrl-C' if interrupted else 'time limit'}; the maximum is at most {res.upper}"
        report.table.append(MethodRow("fooling", f"{v}-fooling set ({found})",
                                      str(res.size), None,
                                      ("maximum" if res.exact else "sound") + ("; verified" if ok else ""),
                                      f"{res.size} pairs", float(res.elapsed),
                                      f"{v}-fooling set searched by symmetry: {res.symmetry} "
                                      "(docs/theory.md §5.2.4)" if res.symmetry else ""))
        report.certs.setdefault("fooling_set", {})[str(v)] = res.to_json()
    if results:
        bits = int(fmod.fooling_lower_bound(results))
        report.lower_bounds.append({"method": "fooling", "bits": bits, "sound": True})
        report.table.append(MethodRow("fooling", "D >= ceil(log2(sum of fooling set sizes))", str(bits),
                                      bits, "sound", "", 0.0, ""))


def _given_fooling(report: BoundsReport, M: CommMatrix, given: dict[int, list[tuple[int, int]]]) -> None:
    try:
        from . import fooling as fmod
    except ImportError:
        raise InvalidInputError(
            "--fooling needs commlb.bounds.fooling, which is not available in this checkout") from None
    sizes = {}
    for v, pairs in given.items():
        ok = bool(fmod.verify_fooling_set(M.values, v, pairs))
        if not ok:
            raise InvalidInputError(f"--fooling: the given pairs are not a fooling set for value {v}")
        sizes[v] = len(pairs)
        report.table.append(MethodRow("fooling (given)", f"{v}-fooling set from --fooling", str(len(pairs)),
                                      None, "verified", f"{len(pairs)} pairs", 0.0, "verified"))
        report.certs.setdefault("fooling_given", {})[str(v)] = [[int(a), int(b)] for a, b in pairs]
        if str(v) not in report.fooling_set:
            report.fooling_set[str(v)] = {"size": len(pairs), "exact": False,
                                          "pairs": [[int(a), int(b)] for a, b in pairs]}
    # D >= ceil(log2(sum)) when several values have sets (each needs its own leaves), else log2(size + 1)
    total = sum(sizes.values())
    bits = bits_for(total) if len(sizes) >= 2 else bits_for(total + 1)
    report.lower_bounds.append({"method": "fooling (given)", "bits": int(bits), "sound": True})


def _exact_method(report: BoundsReport, M: CommMatrix, time_limit: float, verify: bool,
                  progress: Callable[[dict[str, Any]], None] | None = None,
                  deadline: float | None = None) -> None:
    try:
        from . import exact as emod
    except ImportError:
        report.notes.append("exact D: commlb.bounds.exact is not available in this checkout")
        return
    if deadline is not None:
        time_limit = max(0.05, deadline - time.perf_counter())
    hint = report.best_lower_bound[0] if report.best_lower_bound else 0
    # a command's deadline is a promise: a search that would first compile past it is not started
    res = emod.deterministic_complexity(M.values, time_limit=time_limit, lower_hint=hint, progress=progress,
                                        skip_uncompiled=deadline is not None)
    tree_json = res.tree.to_json() if res.tree is not None else None
    depth_ok = None
    if verify and res.tree is not None:
        try:
            depth = emod.verify_tree(M.values, res.tree)
            depth_ok = depth == res.upper
        except Exception as exc:  # an invalid tree is a bug in the search: report, withhold
            report.notes.append(f"exact D: protocol tree FAILED verification ({exc}); upper bound withheld")
            depth_ok = False
    report.deterministic = {"lower": int(res.lower), "upper": int(res.upper) if depth_ok is not False else None,
                            "exact": bool(res.exact) and depth_ok is not False, "tree": tree_json}
    report.tree = res.tree if depth_ok is not False else None
    report.lower_bounds.append({"method": "exact", "bits": int(res.lower), "sound": True})
    if depth_ok is not False:
        report.upper_bounds.append({"method": "protocol tree", "bits": int(res.upper)})
    label = f"D = {res.lower}" if res.exact else f"D in [{res.lower}, {res.upper}]"
    report.table.append(MethodRow("exact", label, str(res.lower) if res.exact else f"[{res.lower}, {res.upper}]",
                                  int(res.lower),
                                  ("exact" if res.exact else "sound interval")
                                  + ("; tree verified" if depth_ok else ""),
                                  f"tree, {getattr(res, 'nodes', '?')} search nodes", float(res.elapsed),
                                  {"interrupt": "search stopped by Ctrl-C: the interval proved until then",
                                   "time limit": "search stopped by the time limit",
                                   "not compiled": "search not run: its kernels are not compiled "
                                                   "yet (commlb precompile)"}.get(
                                      str(res.stopped_by), "")))
    if res.stopped_by == "not compiled":
        report.notes.append(f"exact D: search {res.lower_certificate.get('search', 'not run')}")
    report.certs["deterministic"] = res.to_json()
    report.interrupted = report.interrupted or res.stopped_by == "interrupt"


def _cannot_help(report: BoundsReport, M: CommMatrix) -> str:
    """Why a fooling-set search cannot raise the lower bound any more ("" if it might):
    D is already settled (best sound lower bound = best upper bound), or even fooling sets
    of the largest conceivable size (one pair per distinct row and column, per value: at
    most sum_v min(#rows, #cols)) would not beat the lower bound already proved."""
    low = report.best_lower_bound
    if low is None:
        return ""
    up = report.best_upper_bound
    if up is not None and low[0] >= up[0]:
        return f"D = {up[0]} already settled ({low[1]} lower, {up[1]} upper)"
    distinct_rows = len(np.unique(M.values, axis=0))
    distinct_cols = len(np.unique(M.values, axis=1))
    most = len(report.output_values) * min(distinct_rows, distinct_cols)
    if bits_for(most) <= low[0]:
        return (f"fooling sets of at most {most} pairs in all give at most {bits_for(most)} bits, "
                f"not above the {low[0]} bits of {low[1]}")
    return ""


def restrict_to_product_promise(M: CommMatrix) -> tuple[CommMatrix, str]:
    """A promise problem whose promise is a product set R × C (each party's input is
    checked on its own, e.g. pc-perm: both maps are permutations) is the total function
    on the R × C submatrix: a protocol need only be right there, and every protocol for
    that submatrix is one for the promise problem.  Returns the submatrix and a note;
    refuses a promise that is not a product set (gap-Hamming), because a lower bound for
    one total completion does not bound the promise problem (docs/theory.md §5)."""
    inside = M.values != DONT_CARE
    rows = inside.any(axis=1)
    cols = inside.any(axis=0)
    count = int(inside.size - int(inside.sum()))
    if not np.array_equal(inside, np.outer(rows, cols)):
        raise InvalidInputError(
            f"{M.source}: {count} entries are outside the promise (don't care) and the promise "
            f"is not a product of row and column sets; bounds are only computed for total "
            f"functions, because a lower bound for one total completion does not bound the "
            f"promise problem"
        )
    sub = M.values[np.ix_(rows, cols)]
    restricted = CommMatrix(sub, f"{M.source} inside the promise", M.n)
    note = (f"promise: {int(rows.sum())} of {M.rows} rows x {int(cols.sum())} of {M.cols} columns "
            f"are inside it (a product set), so the bounds are those of the total function on that "
            f"{restricted.rows} x {restricted.cols} submatrix; certificates number its rows and "
            f"columns in the order of the inputs inside the promise")
    return restricted, note


def compute_bounds(M: CommMatrix | np.ndarray, methods: Sequence[str] | None = None,
                   time_limit: float = 10.0, prime: int = DEFAULT_PRIME, verify: bool = True,
                   fooling: dict[int, list[tuple[int, int]]] | None = None,
                   progress: Callable[[dict[str, Any]], None] | None = None,
                   exact_deadline: float | None = None) -> BoundsReport:
    """Run the chosen bound methods on M and collect values, sound lower bounds and
    certificates.  ``methods=None`` picks every method feasible at this size (with notes
    for the skipped ones).  ``fooling`` maps an output value to pairs (row, col) of a
    fooling set to verify and use.  ``verify`` re-checks every certificate.  ``progress``
    receives the fooling searches' progress (dicts with ``"method": "fooling"``, see
    :func:`commlb.bounds.fooling.max_fooling_set`; Ctrl-C there keeps what was found and
    skips the rest) and the exact search's progress (see
    :func:`commlb.bounds.exact.deterministic_complexity`); ``exact_deadline`` (a
    ``time.perf_counter()`` time) ends the exact method by then instead of ``time_limit``
    after its start."""
    if not isinstance(M, CommMatrix):
        M = matrix_from_array(M)
    promise_note = None
    if M.has_dont_care:
        M, promise_note = restrict_to_product_promise(M)
    report = BoundsReport(M.source, M.rows, M.cols, M.output_values(), matrix=M)
    if promise_note:
        report.notes.append(promise_note)
    if methods is None:
        chosen, notes = default_methods(M)
        report.notes.extend(notes)
    else:
        chosen = list(methods)
        for name in chosen:
            if name not in METHODS:
                raise InvalidInputError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
        if "rank-real" in chosen and max(M.rows, M.cols) > MAX_REAL_DIM:
            rank_real(M)  # raises TooLargeError with the estimate
    if time_limit <= 0:
        raise InvalidInputError("--time-limit must be positive")
    # order: ranks, one-way, fooling, exact (exact uses the best lower bound as a hint)
    for name in METHODS:
        if name not in chosen:
            continue
        if name.startswith("rank-"):
            _rank_method(report, M, name, prime, verify)
        elif name == "one-way":
            _one_way_method(report, M, verify)
        elif name == "fooling":
            why = _cannot_help(report, M)
            if why:
                report.table.append(MethodRow("fooling", "not run: cannot raise the bound", "", None,
                                              "skipped", "", 0.0, why))
            else:
                _fooling_method(report, M, time_limit, verify, fooling, progress)
    if fooling:
        _given_fooling(report, M, fooling)
    if "exact" in chosen and report.interrupted:  # only the fooling searches have run
        report.table.append(MethodRow("exact", "exact D by protocol-tree search", "", None, "skipped", "", 0.0,
                                      "not run: interrupted (Ctrl-C) during the fooling sets"))
    elif "exact" in chosen:
        _exact_method(report, M, time_limit, verify, progress, exact_deadline)
    return report


def _one_of_batch(M: CommMatrix, options: dict[str, Any]) -> Any:
    """One matrix of :func:`compute_bounds_batch` (top level: a task on a Dask worker)."""
    options = dict(options)
    error = options.pop("error", None)
    if error is None:
        return compute_bounds(M, **options)
    from .randomized import compute_error_bounds

    return compute_error_bounds(M, error, **options)


def compute_bounds_batch(matrices: Sequence[CommMatrix], *, executor: Any = None,
                         progress: Callable[[Any], None] | None = None, error: Any = None,
                         **options: Any) -> list[Any]:
    """:func:`compute_bounds` (or, with ``error`` = ε, :func:`commlb.bounds.randomized.
    compute_error_bounds`) of each matrix, one task per matrix on ``executor`` (a
    :class:`commlb.execution.Executor`; None: here, one after another); the reports in the
    order of ``matrices``.  ``options`` go to every call; ``progress(report)`` is called as
    each finishes."""
    shared = dict(options, error=error) if error is not None else dict(options)
    if executor is None:
        out = []
        for M in matrices:
            out.append(_one_of_batch(M, shared))
            if progress is not None:
                progress(out[-1])
        return out
    return executor.map_chunks(_one_of_batch, list(matrices), progress=progress, shared=(shared,))
