"""Parameter sweeps: how big must each model family be, and how many bits does it send,
as the input size n grows (docs/design.md §1, ``commlb sweep``).

For one task and every (model family, n) the sweep

1. builds the family's explicit construction at n (:func:`commlb.simulate.build_model`):
   its size (parameters, width or hidden size, layers, heads, precision);
2. runs the construction *as a protocol* on a few random instances written by the task's
   reduction (:func:`commlb.simulate.run`): the bits that really crossed the cut (the
   worst case over the instances, with the protocol output checked against the forward
   pass), the rounds, and the lower bound of the reduction's problem at n that applies
   to this family's protocol (one-way for an RNN cut, two-way otherwise);
3. measures the error rate of the construction on ``trials`` random instances.

The separations of the papers then show up as numbers: for index lookup the RNN's bits
grow like n (they must: one-way INDEX_n needs n bits, docs/theory.md §8.1, §4.3) while the
one-layer transformer's grow like log n (BHBK24, docs/theory.md §9.2).

Cost: one construction build, ``instances`` protocol runs and ``trials`` forward passes
per point; :func:`estimate_points` refuses sweeps above :data:`MAX_POINTS` points or
:data:`MAX_N`.  Families without a construction for the task are reported as rows with
``status = "no-construction"`` and a note, never as failures.

Public API: :func:`parse_n_values`, :func:`parse_models`, :func:`run_sweep`,
:class:`SweepRow`, :class:`SweepResult`, :func:`plot_sweep`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .display import shown
from .errors import CommlbError, InvalidInputError, TooLargeError, UnknownNameError
from .execution import Executor
from .models.base import MODEL_FAMILIES

__all__ = [
    "MODEL_FAMILIES",
    "MAX_POINTS",
    "MAX_N",
    "DEFAULT_MAX_SECONDS",
    "parse_n_values",
    "parse_models",
    "SweepRow",
    "SweepResult",
    "run_sweep",
    "SweepInterrupted",
    "plot_sweep",
    "text_rows",
]

#: options a sweep passes on to :func:`commlb.simulate.build_model`
MODEL_OPTIONS = ("hidden", "layers", "heads", "width", "precision", "arith", "weights")
#: largest number of (family, n) points one sweep runs
MAX_POINTS = 400
#: largest n a sweep accepts (sequence lengths and construction tables grow with n)
MAX_N = 1 << 16
#: default time budget per (family, n) point, seconds (see :func:`run_sweep`)
DEFAULT_MAX_SECONDS = 4.0
#: largest number of values a range expression may expand to
_MAX_RANGE_VALUES = 200

_GEOMETRIC = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*[x*]\s*(\d+(?:\.\d+)?)\s*$")
_ARITHMETIC = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*(?:\+\s*(\d+))?\s*$")


def parse_n_values(spec: str | Iterable[int]) -> list[int]:
    """The n values of ``--n``: a comma list of integers and ranges, sorted, duplicates
    dropped.

    ``a..bxr`` is geometric (a, a·r, a·r², … up to b; ``r`` > 1, rounded to integers);
    ``a..b+s`` is arithmetic with step s; ``a..b`` is step 1.  Examples: ``"8,16,32"``,
    ``"16..1024x2"`` (16, 32, …, 1024), ``"10..50+10"``, ``"4..8,100"``.
    """
    if not isinstance(spec, str):
        values = [int(v) for v in spec]
    else:
        values = []
        parts = [p for p in spec.split(",") if p.strip()]
        if not parts:
            raise InvalidInputError("--n: give at least one value, e.g. 8,16,32 or 16..1024x2")
        for part in parts:
            values.extend(_parse_part(part))
    if not values:
        raise InvalidInputError(f"--n {spec!r} gives no values")
    bad = [v for v in values if v < 1]
    if bad:
        raise InvalidInputError(f"--n: values must be >= 1, got {bad[0]}")
    too_big = [v for v in values if v > MAX_N]
    from .costs import OVERRIDE_FLAG, limits_are_lifted

    if too_big and not limits_are_lifted():  # lifted: the cost model still checks the memory
        raise TooLargeError(
            f"--n: {max(too_big)} is above the sweep limit {MAX_N} (sequences and construction "
            f"tables grow with n); use smaller values, or {OVERRIDE_FLAG} to run it anyway"
        )
    return sorted(set(values))


def _parse_part(part: str) -> list[int]:
    part = part.strip()
    if len(part) > 60:
        raise InvalidInputError(f"--n: cannot read {part[:20]}... ({len(part)} characters); use integers and "
                                "ranges like 8,16,32 or 16..1024x2")
    if part.isdigit():
        return [int(part)]
    m = _GEOMETRIC.match(part)
    if m:
        start, stop, ratio = int(m.group(1)), int(m.group(2)), float(m.group(3))
        if not math.isfinite(ratio) or ratio <= 1:
            raise InvalidInputError(f"--n {part!r}: the ratio after 'x' must be a finite number > 1")
        _check_bounds(part, start, stop)
        steps = math.log(stop / start) / math.log(ratio) if stop > start else 0.0
        if steps > 64 * _MAX_RANGE_VALUES:
            raise TooLargeError(f"--n {part!r}: a ratio of {ratio!r} takes about {steps:.3g} steps from "
                                f"{start} to {stop}; use a ratio of at least "
                                f"{(stop / start) ** (1 / _MAX_RANGE_VALUES):.4g} (e.g. {start}..{stop}x2)")
        out: list[int] = []
        value = float(start)
        while round(value) <= stop:
            if not out or round(value) != out[-1]:
                out.append(int(round(value)))
            value *= ratio
            if len(out) > _MAX_RANGE_VALUES:
                raise TooLargeError(f"--n {part!r} expands to more than {_MAX_RANGE_VALUES} values")
        return out
    m = _ARITHMETIC.match(part)
    if m:
        start, stop = int(m.group(1)), int(m.group(2))
        step = int(m.group(3)) if m.group(3) else 1
        if step < 1:
            raise InvalidInputError(f"--n {part!r}: the step after '+' must be >= 1")
        _check_bounds(part, start, stop)
        count = (stop - start) // step + 1
        if count > _MAX_RANGE_VALUES:
            raise TooLargeError(
                f"--n {part!r} expands to {count} values (limit {_MAX_RANGE_VALUES}); use a larger "
                f"step or a geometric range like {start}..{stop}x2"
            )
        return list(range(start, stop + 1, step))
    raise InvalidInputError(
        f"--n: cannot read {part!r}; use integers and ranges like 8,16,32 or 16..1024x2 or 10..50+10"
    )


def _check_bounds(part: str, start: int, stop: int) -> None:
    if start < 1:
        raise InvalidInputError(f"--n {part!r}: ranges start at 1 or more")
    if stop < start:
        raise InvalidInputError(f"--n {part!r}: the end is smaller than the start")


def parse_models(spec: str | Sequence[str]) -> list[str]:
    """``"rnn,transformer"`` → ``["rnn", "transformer"]`` (order kept, duplicates dropped)."""
    from .plugins import is_file_spec, resolve_family

    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [resolve_family(s) if is_file_spec(s) else s.lower() for s in names if s]
    if not names:
        raise InvalidInputError("--models: give at least one of " + ", ".join(MODEL_FAMILIES))
    unknown = [s for s in names if s not in MODEL_FAMILIES]
    if unknown:
        raise UnknownNameError(
            f"unknown model family {unknown[0]!r}; known: {', '.join(MODEL_FAMILIES)}"
        )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class SweepRow:
    """One (model family, n) point of a sweep.

    ``bits`` is the largest total over the protocol runs (the cost of the protocol on
    the instances tried; for the built-in simulators it does not depend on the input);
    ``lower_bound`` the bound of the reduction's problem at n that the protocol's bits
    are compared with (``lower_bound_kind`` says which: one-way for a one-message cut);
    ``error_rate`` = errors / trials of the construction on random instances.
    ``status``: ``"ok"``, ``"no-construction"`` (the family has none for this task; see
    ``note``), ``"failed"`` (building or running refused; see ``note``) or
    ``"over-budget"`` (the model and its first protocol run did not fit in
    ``--max-seconds``, or a smaller n of the family did not: see ``note``; the size is
    kept when the model was built).
    """

    task: str
    model: str
    n: int
    status: str
    params: int | None = None
    width: int | None = None
    layers: int | None = None
    heads: int | None = None
    precision_bits: int | None = None
    precision: str | None = None
    bits: int | None = None
    bits_min: int | None = None
    bits_alice_to_bob: int | None = None
    bits_bob_to_alice: int | None = None
    rounds: int | None = None
    protocol_runs: int = 0
    #: True when every protocol run of the point was compared with the forward pass (and
    #: equal: a mismatch raises), None when that check did not run (``--verify replay``)
    protocol_matches_forward: bool | None = None
    lower_bound: float | None = None
    lower_bound_kind: str | None = None
    lower_bound_citation: str | None = None
    error_rate: float | None = None
    errors: int | None = None
    trials: int = 0
    seconds: float = 0.0
    reduction: str | None = None
    problem: str | None = None
    source: str | None = None
    note: str = ""
    #: for a hard-attention construction, the precision a softmax equal to it needs
    #: (docs/theory.md §2.5); None otherwise
    softmax_bits: int | None = None
    #: the bound at the trials' ε⁺ (one-sided 95% Clopper–Pearson) for the trial
    #: distribution, in whole bits, or None with the reason in ``error_bound_text``
    #: (:func:`commlb.bounds.erring.assess_errors`, docs/theory.md §6.10)
    error_upper: float | None = None
    error_bound: int | None = None
    error_bound_kind: str | None = None
    error_bound_distribution: str | None = None
    error_bound_source: str | None = None
    error_bound_status: str | None = None
    error_bound_sent: int | None = None
    error_bound_text: str = ""
    #: how the protocol runs were checked (``forward``, ``replay`` or ``all``,
    #: docs/theory.md §3.9) and whether every run's segments were replayed (None: not run)
    verify: str = "forward"
    segments_replayed: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def meets_bound(self) -> bool | None:
        """bits ≥ lower bound (None when either is unknown)."""
        if self.bits is None or self.lower_bound is None:
            return None
        return self.bits >= self.lower_bound

    @property
    def meets_error_bound(self) -> bool | None:
        """The bits the bound at ε⁺ counts ≥ that bound (None when no bound applies)."""
        if self.error_bound is None or self.error_bound_sent is None:
            return None
        return self.error_bound_sent >= self.error_bound

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["meets_bound"] = self.meets_bound
        out["meets_error_bound"] = self.meets_error_bound
        out["seconds"] = round(self.seconds, 4)
        return out


#: columns of the CSV output, in order
CSV_COLUMNS = (
    "task", "model", "n", "status", "params", "width", "layers", "heads", "precision_bits",
    "bits", "bits_min", "bits_alice_to_bob", "bits_bob_to_alice", "rounds", "lower_bound",
    "lower_bound_kind", "meets_bound", "error_rate", "errors", "trials", "protocol_runs",
    "protocol_matches_forward", "seconds", "reduction", "problem", "note",
    "error_upper", "error_bound", "error_bound_kind", "error_bound_distribution", "error_bound_source",
    "error_bound_status", "meets_error_bound", "verify", "segments_replayed",
)


@shown("sweep")
@dataclass
class SweepResult:
    """All rows of a sweep, in (family, n) order."""

    task: str
    models: list[str]
    n_values: list[int]
    trials: int
    instances: int
    seed: int
    rows: list[SweepRow] = field(default_factory=list)
    seconds: float = 0.0
    #: True when Ctrl-C stopped the sweep: ``rows`` are the points finished before it
    interrupted: bool = False
    #: where the trials' (x, y) came from (:mod:`commlb.bounds.trial_distributions`)
    trial_distribution: str = "balanced"

    def rows_for(self, model: str) -> list[SweepRow]:
        return [r for r in self.rows if r.model == model]

    def notes(self) -> list[str]:
        """One note per family whose points were not all measured (first reason), and one
        per point where the time budget cut the protocol runs or the trials short."""
        out: list[str] = []
        for model in self.models:
            bad = [r for r in self.rows_for(model) if not r.ok]
            if bad:
                out.append(f"{model}: {bad[0].note} ({len(bad)} of {len(self.rows_for(model))} points)")
        for model in self.models:
            hard = [r for r in self.rows_for(model) if r.ok and r.softmax_bits is not None]
            if hard:
                soft = sorted({r.softmax_bits for r in hard if r.softmax_bits is not None})
                prec = sorted({r.precision_bits for r in hard if r.precision_bits is not None})

                def span(v: list[int]) -> str:
                    return f"{v[0]}" if len(v) == 1 else f"{v[0]}..{v[-1]}"

                out.append(f"{model}: hard attention (p = {span(prec)}); a softmax equal to it needs "
                           f"p = {span(soft)} bits (SHT24 Lemma A.2, docs/theory.md §2.5)")
        out += self._error_bound_notes()
        for r in self.rows:
            if r.ok and (r.protocol_runs < self.instances or r.trials < self.trials):
                out.append(f"{r.model} n={r.n}: {r.protocol_runs} of {self.instances} protocol runs, "
                           f"{r.trials} of {self.trials} trials within the time budget (--max-seconds)")
        cut = [r for r in self.rows if r.status == "over-budget"
               or (r.ok and (r.protocol_runs < self.instances or r.trials < self.trials))]
        if cut:
            out.append(f"the time budget cut {len(cut)} point(s): what they show depends on this machine's speed "
                       "and load; --max-seconds 0 (no limit) gives the same rows on every machine, in process "
                       "or on Dask")
        return out

    def _error_bound_notes(self) -> list[str]:
        """Per family: the bound at ε⁺ (kind, distribution, source, status), or why none
        applies (the first measured point's reason)."""
        out: list[str] = []
        for model in self.models:
            rows = [r for r in self.rows_for(model) if r.ok and r.error_upper is not None]
            if not rows:
                continue
            hit = next((r for r in rows if r.error_bound is not None), None)
            if hit is None and all(r.error_upper is not None and r.error_upper >= 0.5 for r in rows):
                out.append(f"{model}: no bound at eps+ (eps+ >= 1/2: too few --trials)")
            elif hit is None:
                out.append(f"{model}: no bound at eps+ (the trials' 95% upper confidence bound on the error): "
                           f"{rows[0].error_bound_text}")
            else:
                out.append(f"{model}: bound at eps+: {hit.error_bound_kind}, under {hit.error_bound_distribution}; "
                           f"{hit.error_bound_source} ({hit.error_bound_status})")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "models": self.models,
            "n": self.n_values,
            "trials": self.trials,
            "instances": self.instances,
            "seed": self.seed,
            "trial_distribution": self.trial_distribution,
            "seconds": round(self.seconds, 3),
            "rows": [r.to_json() for r in self.rows],
            "notes": self.notes(),
            "interrupted": self.interrupted,
        }

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            data = row.to_json()
            writer.writerow({k: "" if data.get(k) is None else data.get(k) for k in CSV_COLUMNS})
        return buf.getvalue()


def estimate_points(models: Sequence[str], n_values: Sequence[int]) -> int:
    points = len(models) * len(n_values)
    if points > MAX_POINTS:
        raise TooLargeError(
            f"the sweep has {points} points ({len(models)} families x {len(n_values)} values of n), "
            f"above the limit {MAX_POINTS}; use fewer --n values (e.g. a geometric range a..bx2)"
        )
    return points


def run_sweep(
    task: str,
    models: str | Sequence[str],
    n_values: str | Iterable[int],
    *,
    trials: int = 20,
    instances: int = 3,
    seed: int = 0,
    task_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    progress: Callable[[SweepRow], None] | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    executor: Executor | None = None,
    point_progress: Callable[[SweepPoint, int, int, str], None] | None = None,
    trial_distribution: str = "balanced",
    verify: str = "forward",
) -> SweepResult:
    """Sweep ``task`` over ``models`` × ``n_values`` (see the module docstring).

    ``trials``: random instances on which the construction's error rate is measured
    (0 skips it), drawn from ``trial_distribution`` (:mod:`commlb.bounds.trial_distributions`;
    ``balanced``, the problem's own sampler, by default); ``instances``: random instances run as a protocol (≥ 1);
    ``task_options`` go to :func:`commlb.simulate.resolve_task`, ``model_options`` to
    :func:`commlb.simulate.build_model` (e.g. ``precision``).  ``progress`` is called
    after every point; ``point_progress(point, done, total, stage)`` within a point, after
    each protocol run and each trial (in process only; ``total`` = instances + trials).
    ``verify``: how each protocol run's output is checked
    (:data:`commlb.simulate.VERIFY_MODES`; ``replay`` and ``all`` for RNNs only).

    ``max_seconds`` is a time limit per point (0 or None: none), kept by
    :func:`measure_point`.  The work without which a point has no row (building the
    model and the first protocol run) is cut when the limit is spent
    (:func:`commlb.deadline.time_limit`): the row then has status ``"over-budget"`` and
    keeps what was measured (the size, when the model was built).  After it, further
    protocol runs start only in the first half of the limit and further trials only
    within it (the row's note and ``trials``/``protocol_runs`` say how many ran; one
    trial, a forward pass, always runs).  The kernels' one-time compilation is not
    counted: it happens once per family and process on a small instance before the
    first point.

    Ctrl-C (KeyboardInterrupt) raises :class:`SweepInterrupted` carrying the rows
    finished so far (``result.interrupted`` is True).  Families without a construction give rows with status
    ``"no-construction"``; an unknown task raises :class:`UnknownNameError`.  ``executor``
    (:mod:`commlb.execution`, default in process) runs the points, each on its own: the
    rows come back in (family, n) order and do not depend on where they ran (a point
    cut short by ``max_seconds`` aside, since the budget is wall-clock time).
    """
    from . import simulate as sim

    families = parse_models(models)
    ns = parse_n_values(n_values)
    trials = _nonneg_int(trials, "trials")
    instances = _nonneg_int(instances, "instances")
    if instances < 1:
        raise InvalidInputError("--instances must be >= 1 (the protocol is run on at least one instance)")
    estimate_points(families, ns)
    verify = sim.check_verify_families(verify, families)
    task_options = dict(task_options or {})
    model_options = dict(model_options or {})
    unknown = sorted(set(model_options) - set(MODEL_OPTIONS))
    if unknown:
        raise InvalidInputError(f"model option {unknown[0]!r} is not one of {', '.join(MODEL_OPTIONS)}")
    # fail fast on an unknown task or bad options (at the smallest n)
    first = sim.resolve_task(task, n=ns[0], **task_options)
    if trial_distribution != "balanced":
        from .bounds.trial_distributions import trial_sampler

        trial_sampler(trial_distribution, first.problem, task)  # refuse one the problem lacks, up front

    result = SweepResult(task, families, ns, trials, instances, seed, trial_distribution=trial_distribution)
    budget = math.inf if not max_seconds or max_seconds <= 0 else float(max_seconds)
    from .plugins import is_file_spec, resolve_family

    # a family from a file travels as its spec, so that a worker process loads it too
    given = models.split(",") if isinstance(models, str) else list(models)
    specs = {resolve_family(s.strip()): s.strip() for s in given if is_file_spec(s.strip())}
    points = [SweepPoint(task, family, n, trials, instances, seed, task_options, model_options, budget,
                         specs.get(family, ""), trial_distribution, verify) for family in families for n in ns]
    start = time.perf_counter()
    executor = executor or Executor()
    finished: list[SweepRow] = []

    def done(row: SweepRow) -> None:
        finished.append(row)
        if progress is not None:
            progress(row)

    fn: Callable[[SweepPoint], SweepRow] = measure_point
    submit = list(range(len(points)))
    if not executor.distributed:  # in order, in this process: later points can learn from earlier ones
        fn = functools.partial(measure_point, listener=point_progress, too_slow={})
    else:  # the largest n first, so the small points fill in at the end (rows back in point order)
        submit.sort(key=lambda i: -points[i].n)
    try:
        rows = executor.map_chunks(fn, [points[i] for i in submit], progress=done)
        result.rows = [row for _, row in sorted(zip(submit, rows, strict=True), key=lambda pair: pair[0])]
    except KeyboardInterrupt:
        order = {(p.family, p.n): k for k, p in enumerate(points)}
        result.rows = sorted(finished, key=lambda r: order.get((r.model, r.n), len(order)))
        result.interrupted = True
        result.seconds = time.perf_counter() - start
        raise SweepInterrupted(result) from None
    result.seconds = time.perf_counter() - start
    return result


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`: ``result`` holds the rows finished before it."""

    def __init__(self, result: SweepResult):
        super().__init__(f"sweep interrupted after {len(result.rows)} points")
        self.result = result


@dataclass(frozen=True)
class SweepPoint:
    """One (family, n) point of a sweep: everything :func:`measure_point` needs, so a
    point can be measured in another process (its seeds come from ``seed`` alone)."""

    task: str
    family: str
    n: int
    trials: int
    instances: int
    seed: int
    task_options: dict[str, Any]
    model_options: dict[str, Any]
    max_seconds: float
    #: ``FILE.py:ATTR`` of a model family from a file ("" otherwise)
    family_spec: str = ""
    #: where the trials' (x, y) come from (:mod:`commlb.bounds.trial_distributions`)
    trial_distribution: str = "balanced"
    #: how each protocol run's output is checked (:data:`commlb.simulate.VERIFY_MODES`)
    verify: str = "forward"


def measure_point(point: SweepPoint, listener: Callable[[SweepPoint, int, int, str], None] | None = None,
                  too_slow: dict[str, int] | None = None) -> SweepRow:
    """The row of one sweep point (one BLAS thread; see :func:`single_blas_thread`),
    within its time limit ``point.max_seconds`` (see :func:`run_sweep`); ``listener`` hears
    of each protocol run and trial.  ``too_slow`` ({family: smallest n cut by the limit},
    shared by the points of one sweep run in order) skips a point whose family was already
    cut at a smaller n: the work grows with n, so it would be cut too."""
    limited = math.isfinite(point.max_seconds) and point.max_seconds > 0
    if limited and too_slow is not None and too_slow.get(point.family, point.n + 1) < point.n:
        first = too_slow[point.family]
        return SweepRow(task=point.task, model=point.family, n=point.n, status="over-budget",
                        note=f"not run: n = {first} already went over the time limit of {point.max_seconds:g} s "
                             f"per point; --max-seconds {_suggest(point.max_seconds)} or 0 (no limit) measures it")
    row = _measure_within(point, listener, limited)
    if too_slow is not None and row.status == "over-budget":
        too_slow[point.family] = min(point.n, too_slow.get(point.family, point.n))
    return row


def _measure_within(point: SweepPoint, listener: Callable[[SweepPoint, int, int, str], None] | None,
                    limited: bool) -> SweepRow:
    from . import simulate as sim
    from .deadline import TimeLimitReached, time_limit

    watched = _Watched(sim, point, listener)
    if point.family_spec:
        from .plugins import resolve_family

        resolve_family(point.family_spec)
    with single_blas_thread():
        if limited:
            _warm_up(sim, point)
        t0 = time.perf_counter()
        try:
            with time_limit(point.max_seconds if limited else 0) as limit:
                watched.limit = limit
                return _measure(watched, point.task, point.family, point.n, trials=point.trials,
                                instances=point.instances, seed=point.seed, task_options=point.task_options,
                                model_options=point.model_options, max_seconds=point.max_seconds,
                                trial_distribution=point.trial_distribution, verify=point.verify)
        except TimeLimitReached:
            return watched.over_budget_row(time.perf_counter() - t0)


class _Watched:
    """The ``simulate`` module as :func:`_measure` sees it, with the calls a point makes
    recorded: the stage it is in, the model built, the protocol runs and trials done (for
    progress within a point, and for the row of a point cut by its time limit)."""

    def __init__(self, sim: Any, point: SweepPoint, listener: Callable[[SweepPoint, int, int, str], None] | None):
        self._sim = sim
        self._point = point
        self._listener = listener
        self.stage = "resolving the task"
        self.setup: Any = None
        self.built: Any = None
        self.runs: list[Any] = []
        self.trials = 0
        #: the point's time limit, lifted once the first protocol run is done
        self.limit: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)

    def _tell(self, stage: str) -> None:
        self.stage = stage
        if self._listener is not None:
            p = self._point
            self._listener(p, len(self.runs) + self.trials, p.instances + p.trials, stage)

    def resolve_task(self, *args: Any, **kwargs: Any) -> Any:
        self.setup = self._sim.resolve_task(*args, **kwargs)
        return self.setup

    def build_model(self, *args: Any, **kwargs: Any) -> Any:
        self._tell("building the model")
        self.built = self._sim.build_model(*args, **kwargs)
        return self.built

    def simulate_instance(self, *args: Any, **kwargs: Any) -> Any:
        self._tell(f"protocol run {len(self.runs) + 1} of {self._point.instances}")
        res = self._sim.simulate_instance(*args, **kwargs)
        self.runs.append(res)
        if self.limit is not None:
            self.limit.disarm()  # the row exists; further runs and trials stop by themselves
        return res

    def sample_inputs(self, *args: Any, **kwargs: Any) -> Any:
        self._tell(f"trial {self.trials + 1} of {self._point.trials}")
        out = self._sim.sample_inputs(*args, **kwargs)
        self.trials += 1
        return out

    def over_budget_row(self, seconds: float) -> SweepRow:
        """The row of a point cut by its time limit: what was measured, and where it stopped."""
        p = self._point
        setup = self.setup
        fields: dict[str, Any] = {"task": p.task, "model": p.family, "n": int(getattr(setup, "n", p.n) or p.n),
                                  "verify": p.verify}
        fields["reduction"] = getattr(getattr(setup, "reduction", None), "name", None)
        fields["problem"] = getattr(getattr(setup, "problem", None), "name", None)
        if self.built is not None:
            fields.update(model_size(self.built.model))
            fields["source"] = self.built.source
        if self.runs:
            bits = [int(r.transcript.total_bits) for r in self.runs]
            fields.update(bits=max(bits), bits_min=min(bits), protocol_runs=len(bits),
                          rounds=max(int(r.transcript.rounds) for r in self.runs))
        limit = f"{p.max_seconds:g}"
        return SweepRow(**fields, status="over-budget", seconds=seconds,
                        note=f"over the time limit of {limit} s per point (stopped while {self.stage}); "
                             f"--max-seconds {_suggest(p.max_seconds)} or 0 (no limit) measures it")


def _suggest(limit: float) -> str:
    return f"{max(limit * 4, 10):g}"


#: (task, family, options) already run once in this process (kernels compiled, caches loaded)
_WARM: set[str] = set()


def _warm_up(sim: Any, point: SweepPoint) -> None:
    """Run the family once on a small instance of the task (once per process), so the
    one-time compilation of its kernels is not charged to a point's time limit.  A task
    that has no small instance, or a family that cannot be built there, is skipped: its
    points then pay for their own compilation."""
    key = repr((point.task, point.family, sorted(point.task_options.items()), sorted(point.model_options.items()),
                point.verify))
    if key in _WARM:
        return
    _WARM.add(key)
    try:
        from .kernels.backend import compiled_kernels

        setup = sim.resolve_task(point.task, n=min(point.n, 8), **point.task_options)
        built = sim.build_model(setup, point.family, seed=point.seed, **point.model_options)
        with compiled_kernels():  # the kernels the larger points call, not the small run's plain twins
            sim.simulate_instance(setup, built, seed=point.seed, effective=False, verify=point.verify)
    except CommlbError:
        return


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the block with one OpenBLAS thread, then restore the previous count.

    The protocols multiply one state (or a few) by a d × d matrix per token, with d up to
    about 1000: too small for BLAS threads to pay off, and on a busy 2-core machine the
    threads fight for the cores (measured: one RNN protocol run at n = 1024 took 1.9 s
    with one thread, 10–20 s with the default two while other jobs ran).  threadpoolctl
    finds every BLAS loaded in the process (numpy's and scipy's OpenBLAS, MKL, BLIS).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 0:
        raise InvalidInputError(f"--{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _measure(sim: Any, task: str, family: str, n: int, *, trials: int, instances: int, seed: int,
             task_options: dict[str, Any], model_options: dict[str, Any], max_seconds: float,
             trial_distribution: str = "balanced", verify: str = "forward") -> SweepRow:
    t0 = time.perf_counter()
    base: dict[str, Any] = {"task": task, "model": family, "n": n, "verify": verify}
    try:
        setup = sim.resolve_task(task, n=n, **task_options)
    except CommlbError as exc:
        return SweepRow(**base, status="failed", note=str(exc), seconds=time.perf_counter() - t0)
    base["n"] = int(getattr(setup, "n", n) or n)
    red_name = getattr(getattr(setup, "reduction", None), "name", None)
    prob_name = getattr(getattr(setup, "problem", None), "name", None)
    from .models.constructions import has_construction

    if model_options.get("weights") in (None, "construction") and not has_construction(task, family):
        return SweepRow(**base, status="no-construction", reduction=red_name, problem=prob_name,
                        note=f"no {family} construction for {task} is available yet",
                        seconds=time.perf_counter() - t0)
    try:
        built = sim.build_model(setup, family, seed=seed, **model_options)
    except CommlbError as exc:
        return SweepRow(**base, status="failed", reduction=red_name, problem=prob_name, note=str(exc),
                        seconds=time.perf_counter() - t0)
    if built.source == "random":
        return SweepRow(**base, status="no-construction", reduction=red_name, problem=prob_name,
                        note=f"no {family} construction for {task} (only random weights, which are not "
                             "solvers)", seconds=time.perf_counter() - t0)
    size = model_size(built.model)
    bits: list[int] = []
    a2b = b2a = rounds = 0
    checked = {"protocol_matches_forward": True, "segments_replayed": True}  # by every run so far
    lower: Any = None
    transcripts: list[Any] = []
    notes = [built.note] if built.note else []
    try:
        for k in range(instances):
            if k and time.perf_counter() - t0 > max_seconds / 2:
                notes.append(f"protocol run on {k} of {instances} instances (time budget --max-seconds)")
                break
            res = sim.simulate_instance(setup, built, seed=_mix(seed, k), effective=False, verify=verify)
            total = int(res.transcript.total_bits)
            if not bits or total > max(bits):
                a2b, b2a = int(res.transcript.bits_alice_to_bob), int(res.transcript.bits_bob_to_alice)
            bits.append(total)
            transcripts.append(res.transcript)
            rounds = max(rounds, int(res.transcript.rounds))
            checked = {name: ran and res.verification[name] is True for name, ran in checked.items()}
            if lower is None:
                lower = res.lower_bound
        done, errors = _error_trials(sim, setup, built, trials, seed, t0 + max_seconds, trial_distribution)
        if done < trials:
            notes.append(f"error rate over {done} of {trials} trials (time budget --max-seconds)")
    except CommlbError as exc:
        return SweepRow(**base, status="failed", reduction=red_name, problem=prob_name, note=str(exc),
                        **size, seconds=time.perf_counter() - t0)
    erring = _error_bound(setup, built, family, errors, done, transcripts, trial_distribution)
    if errors and lower is not None:  # an exact-correctness bound says nothing about a model that errs
        notes.append(f"exact bound withheld: the construction erred on {errors} of {done} trials")
        lower = None
    return SweepRow(
        **base, status="ok", **size,
        bits=max(bits), bits_min=min(bits), bits_alice_to_bob=a2b, bits_bob_to_alice=b2a,
        rounds=rounds, protocol_runs=len(bits),
        protocol_matches_forward=checked["protocol_matches_forward"] or None,
        segments_replayed=checked["segments_replayed"] or None,
        lower_bound=None if lower is None or lower.compare_bits is None else float(lower.compare_bits),
        lower_bound_kind=None if lower is None else lower.kind,
        lower_bound_citation=None if lower is None else lower.citation,
        error_rate=(errors / done) if done else None,
        errors=errors if done else None,
        trials=done,
        seconds=time.perf_counter() - t0, reduction=red_name, problem=prob_name,
        source=built.source, note="; ".join(notes),
        softmax_bits=_softmax_bits(built.model), **erring,
    )


def _error_bound(setup: Any, built: Any, family: str, errors: int, done: int,
                 transcripts: list[Any], distribution: str = "balanced") -> dict[str, Any]:
    """The row's fields for the bound at the trials' ε⁺ (empty without trials or problem)."""
    if not done or setup.problem is None:
        return {}
    from .bounds.erring import assess_transcripts

    layers = int((getattr(built.model, "config", None) or {}).get("layers", 1) or 1)
    a = assess_transcripts(setup.problem, errors, done, transcripts, family, layers, distribution)
    return {"error_upper": a.error_upper, "error_bound": a.bound_bits, "error_bound_kind": a.kind,
            "error_bound_distribution": a.distribution if a.applies else None, "error_bound_source": a.source,
            "error_bound_status": a.status, "error_bound_sent": a.sent_bits,
            "error_bound_text": a.reason if not a.applies else (a.statement or "")}


def _softmax_bits(model: Any) -> int | None:
    construction = (getattr(model, "config", None) or {}).get("construction")
    soft = construction.get("softmax") if isinstance(construction, dict) else None
    return None if not soft else int(soft["softmax_bits"])


def _error_trials(sim: Any, setup: Any, built: Any, trials: int, seed: int, deadline: float,
                  distribution: str = "balanced") -> tuple[int, int]:
    """(trials done, errors): the construction's forward pass on random instances.

    The forward pass is what the protocol computes (every protocol run is verified
    against it bit for bit), so the error rate is measured on the forward pass alone,
    a third of the protocol's cost.  Instances come from the reduction (random (x, y),
    drawn like :func:`commlb.simulate.sample_inputs`, or from ``distribution``) or, for a
    task without one, from the task's generator.  At least one trial runs; further ones
    stop at ``deadline``."""
    import numpy as np

    if trials <= 0:
        return 0, 0
    if setup.reduction is None:  # tasks without a reduction: the simulator's own trial loop
        summary = sim.run_trials(setup, built, trials, seed=seed)
        return summary.count, summary.errors
    rng = np.random.default_rng([int(seed), 3])
    reduction, problem, model = setup.reduction, setup.problem, built.model
    sample = sim.sample_inputs
    if distribution != "balanced":
        from .bounds.trial_distributions import trial_sampler

        sample = trial_sampler(distribution, problem).sampler
    errors = done = 0
    for _ in range(trials):
        if done and time.perf_counter() > deadline:
            break
        x, y = sample(problem, rng)
        expected = int(np.asarray(problem.evaluate(x, y)).reshape(-1)[0])
        tokens = reduction.encode(x, y).tokens
        decision = model.forward(_model_input(sim, setup.task_name or setup.task.name, model, tokens)).decision
        try:
            answer = int(reduction.decode(decision))
        except InvalidInputError:
            answer = None  # the reduction refuses the output (no answer): an error
        errors += int(answer != expected)
        done += 1
    return done, errors


def _model_input(sim: Any, task_name: str, model: Any, tokens: Any) -> Any:
    """The token ids ``model`` reads: multi-field tokens (qSA's z, y, pos; qSTR's) packed by
    the construction's own encoder, the same one ``commlb simulate`` uses; others as is."""
    return sim.model_tokens(task_name, model, tokens)


def _mix(seed: int, k: int) -> int:
    return int(seed) * 1_000_003 + k


def model_size(model: Any) -> dict[str, Any]:
    """Size of a built model: parameters, width (or hidden size), layers, heads, precision."""
    config = getattr(model, "config", {}) or {}
    prec = getattr(model, "precision", None)
    width = config.get("width", config.get("hidden", config.get("hidden_size")))
    return {
        "params": int(model.num_params()) if hasattr(model, "num_params") else None,
        "width": None if width is None else int(width),
        "layers": None if config.get("layers") is None else int(config["layers"]),
        "heads": None if config.get("heads") is None else int(config["heads"]),
        "precision_bits": None if prec is None else int(prec.bits),
        "precision": None if prec is None else _short_precision(prec),
    }


def _short_precision(prec: Any) -> str:
    kind = getattr(prec, "kind", "")
    if kind == "fixed":
        return f"fixed p={prec.bits} f={prec.frac}"
    return f"{kind} p={prec.bits}"


def plot_sweep(result: SweepResult, path: str | Path | None = None, title: str | None = None,
               metric: str | None = None, x_label: str | None = None) -> Any:
    """The sweep as a matplotlib Figure (and written to ``path`` when given): see
    :func:`commlb.sweep_plot.plot_sweep`."""
    from .sweep_plot import plot_sweep as draw

    return draw(result, path, title=title, metric=metric, x_label=x_label)



def short_kind(kind: str | None, compact: bool = False) -> str:
    """``"one-way Alice to Bob (deterministic)"`` → ``"one-way A→B"``; ``"two-way
    deterministic"`` → ``"two-way"``; with ``compact``: ``"A→B"``, ``"2-way"``."""
    if not kind:
        return ""
    text = str(kind).replace(" (deterministic)", "").replace(" deterministic", "")
    text = text.replace("Alice to Bob", "A→B").replace("Bob to Alice", "B→A").replace("->", "→")
    text = text.replace(" minus announcement", "")
    if compact:
        text = text.replace("one-way ", "").replace("two-way", "2-way")
    return text


def growth_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log2 y against log2 x (1 for linear growth, → 0 for
    polylogarithmic growth over a wide enough range)."""
    lx = [math.log2(x) for x in xs]
    ly = [math.log2(y) for y in ys]
    mx = sum(lx) / len(lx)
    my = sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    if den == 0:
        return float("nan")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den


#: columns :func:`text_rows` can show: header -> (width, the row's value)
TEXT_COLUMNS: dict[str, tuple[int, Any]] = {
    "model": (11, lambda r: r.model),
    "n": (5, lambda r: r.n),
    "params": (8, lambda r: r.params),
    "width": (6, lambda r: r.width),
    "layers": (6, lambda r: r.layers),
    "heads": (5, lambda r: r.heads),
    "p": (3, lambda r: r.precision_bits),
    "bits": (7, lambda r: r.bits),
    "rounds": (6, lambda r: r.rounds),
    "bound": (6, lambda r: "-" if r.lower_bound is None else f"{r.lower_bound:g}"),
    "errors": (6, lambda r: "-" if r.errors is None else f"{r.errors}/{r.trials}"),
}


def text_rows(result: SweepResult, columns: Sequence[str]) -> list[str]:
    """A plain-text table of a sweep (for scripts and examples; the CLI draws a rich
    table): a header, one line per row (a point that did not run shows its status), then
    the sweep's notes.  ``columns`` are keys of :data:`TEXT_COLUMNS`, ``model`` and ``n``
    first."""
    spec = [(name, *TEXT_COLUMNS[name]) for name in columns]
    lines = ["  " + " ".join(f"{name:>{w}}" for name, w, _ in spec)]
    for r in result.rows:
        if not r.ok:
            lines.append(f"  {r.model:>11} {r.n:>5}  ({r.status})")
            continue
        lines.append("  " + " ".join(f"{str(get(r)):>{w}}" for _, w, get in spec))
    lines += [f"  note: {note}" for note in result.notes()]
    return lines
