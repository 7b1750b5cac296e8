"""Measure a trained model's error on a task: seeded instances, batched float32 forward
passes, the error rate over the adapter's scored positions with a 95% interval.

The interval.  Scored positions of one sequence are not independent trials (an error at
one hop often means errors at the next), so a binomial interval over positions would be
too narrow.  :func:`wilson_interval` is the Wilson score interval, and :func:`evaluate`
gives it the *effective* number of trials of the cluster-robust (ratio-estimator)
variance across sequences: n_eff = p̂(1 − p̂) / Var̂(p̂), with
Var̂(p̂) = N/(N − 1) · Σ_i (e_i − p̂·m_i)² / (Σ_i m_i)² over the N sequences (e_i errors
among m_i scored positions), clipped to [1, Σ m_i]; when p̂ is 0 or 1 (no variance to
estimate) n_eff = N, the value for errors perfectly correlated within a sequence.  See
docs/theory.md §11.3.

A model that errs on some inputs gives a protocol that errs on them, so the
exact-correctness lower bounds of commlb (which constrain models correct on *every*
input) say nothing about it; :data:`EXACT_BOUNDS_NOTE` says so wherever a rate is shown.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError, TooLargeError
from .adapter import Adapter
from .errors import ModelFileError

__all__ = [
    "EXACT_BOUNDS_NOTE",
    "EvalResult",
    "EvalRow",
    "evaluate",
    "parse_task_options",
    "prepare_task",
    "wilson_interval",
]

EXACT_BOUNDS_NOTE = ("a model that errs on some inputs gives a protocol that errs on them: the exact-correctness "
                     "lower bounds do not apply to it (error-tolerant bounds are not applied here)")

Z95 = 1.959963984540054
#: refuse evaluations whose float32 work exceeds this many multiply-adds (about 10 min)
MAX_FLOPS = 5e12


def wilson_interval(errors: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion errors/n (n may be an effective size)."""
    if n <= 0:
        return (0.0, 1.0)
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_task_options(specs: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """``("k=0..4", "alphabet=4")`` -> one dict per combination, in order.  A value is a
    number, a string, ``a..b`` (integers a to b inclusive) or a comma list."""
    axes: list[tuple[str, list[Any]]] = []
    for spec in specs:
        if "=" not in spec:
            raise InvalidInputError(f"--task-option {spec!r}: use NAME=VALUE, NAME=a..b or NAME=v1,v2")
        name, value = (s.strip() for s in spec.split("=", 1))
        if not name.isidentifier():
            raise InvalidInputError(f"--task-option {spec!r}: {name!r} is not an option name")
        values: list[Any] = []
        for part in value.split(","):
            part = part.strip()
            if ".." in part:
                lo, hi = part.split("..", 1)
                try:
                    a, b = int(lo), int(hi)
                except ValueError:
                    raise InvalidInputError(f"--task-option {spec!r}: a range is a..b with integers") from None
                if b < a or b - a > 1000:
                    raise InvalidInputError(f"--task-option {spec!r}: a range needs a <= b and at most 1001 values")
                values.extend(range(a, b + 1))
            elif part:
                values.append(_parse_value(part))
        if not values:
            raise InvalidInputError(f"--task-option {spec!r} gives no value")
        if any(n == name for n, _ in axes):
            raise InvalidInputError(f"--task-option {name} given twice")
        axes.append((name, values))
    combos = [dict(zip([a for a, _ in axes], vals, strict=True)) for vals in itertools.product(*[v for _, v in axes])]
    if len(combos) > 1000:
        raise InvalidInputError(f"--task-option gives {len(combos)} rows; at most 1000")
    return combos


@dataclass
class EvalRow:
    task_options: dict[str, Any]
    errors: int
    scored: int
    instances: int
    error_rate: float
    ci95: tuple[float, float]
    effective_n: float
    seconds: float
    cpu_seconds: float = 0.0  # CPU time of the process, all threads
    #: instances with at least one wrong scored position (the per-instance error count)
    wrong_instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task_options": self.task_options, "error_rate": self.error_rate, "ci95": list(self.ci95),
                "scored": self.scored, "errors": self.errors, "instances": self.instances,
                "effective_n": self.effective_n, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "wrong_instances": self.wrong_instances}


@dataclass
class EvalResult:
    task: str
    n: int
    seed: int
    adapter: Adapter
    model: dict[str, Any]
    rows: list[EvalRow] = field(default_factory=list)
    interval: str = ("Wilson 95% with the effective number of trials of the cluster-robust variance "
                     "across sequences (docs/theory.md §11.3)")

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "n": self.n, "seed": self.seed, "adapter": self.adapter.to_json(),
                "model": self.model, "rows": [r.to_json() for r in self.rows], "interval": self.interval,
                "note": EXACT_BOUNDS_NOTE}


def prepare_task(adapter: Adapter, task_name: str | None, options: Mapping[str, Any]) -> tuple[str, Any, dict]:
    """(task name, task object, all options): the adapter's defaults overridden by ``options``."""
    from ..registry import get_task

    name = task_name or adapter.task
    if name is None:
        raise InvalidInputError(f"adapter {adapter.name} names no task: give --task")
    if adapter.task is not None and task_name is not None and task_name != adapter.task:
        raise InvalidInputError(f"adapter {adapter.name} is for task {adapter.task}, not {task_name}")
    opts = {**adapter.task_options, **options}
    return name, get_task(name, **opts), opts


def _readout_bound(model: Any) -> int:
    return model.out_width if model.readout.kind == "hidden" else int(model.readout.classes)


def check_fit(model: Any, ids: np.ndarray, target: np.ndarray, scored: np.ndarray, adapter: Adapter) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= model.vocab_size):
        raise ModelFileError(f"adapter {adapter.name} writes ids {int(ids.min())}..{int(ids.max())}, the model's "
                             f"vocabulary is 0..{model.vocab_size - 1}")
    bound = _readout_bound(model)
    top = int(target[scored].max()) if scored.any() else -1
    if top >= bound:
        raise ModelFileError(f"adapter {adapter.name} expects output id {top}, the model's read-out "
                             f"({model.readout.describe()}) has {bound}")
    if hasattr(model, "check_length"):
        model.check_length(ids.shape[1])


def estimate_flops(model: Any, instances: int, length: int) -> float:
    if model.family == "gpt2":
        per_tok = model.layers * (12 * model.width ** 2 + 2 * length * model.width)
    else:
        per_tok = model.layers * 8 * model.out_width * (model.width + model.width)
    return float(instances) * length * per_tok


def evaluate(model: Any, adapter: Adapter, task_name: str | None, option_rows: list[dict[str, Any]], n: int,
             instances: int, seed: int = 0, batch: int = 250,
             progress: Callable[[int], None] | None = None, executor: Any = None) -> EvalResult:
    """The error rate of ``model`` on ``instances`` seeded instances of size ``n`` for
    each row of task options (module docstring).  ``executor`` (a
    :class:`commlb.execution.Executor`): the model's forward passes run on it, one batch a
    chunk; the instances are drawn here, in the same order, so the result is the same."""
    if instances < 1:
        raise InvalidInputError(f"--instances must be >= 1, got {instances}")
    if n < 1:
        raise InvalidInputError(f"--n must be >= 1, got {n}")
    if adapter.readout is not None and model.readout.kind != adapter.readout.split(":")[0]:
        raise InvalidInputError(f"adapter {adapter.name} reads {adapter.readout}, the model is set to "
                                f"{model.readout.describe()}")
    rows_opts = option_rows or [{}]
    first = prepare_task(adapter, task_name, rows_opts[0])
    length = int(first[1].length(n)) + len(adapter.prefix)
    flops = estimate_flops(model, instances * len(rows_opts), length)
    if flops > MAX_FLOPS:
        raise TooLargeError(f"about {flops:.1e} multiply-adds (over {MAX_FLOPS:.0e}, ~10 min): use fewer "
                            "--instances, a smaller --n or fewer --task-option values")
    result = EvalResult(task=first[0], n=n, seed=seed, adapter=adapter, model=model.summary())
    if executor is not None:
        return _evaluate_on(executor, result, model, adapter, task_name, rows_opts, n, instances, seed, batch,
                            progress)
    for row_index, opts in enumerate(rows_opts):
        t0, c0 = time.perf_counter(), time.process_time()
        all_opts, batches = _row_batches(model, adapter, task_name, opts, row_index, n, instances, seed, batch)
        per_errors = np.zeros(instances, dtype=np.int64)
        per_scored = np.zeros(instances, dtype=np.int64)
        for start, (ids, target, scored) in batches:
            count = len(ids)
            wrong = (model.predict(ids).argmax(-1) != target) & scored
            per_errors[start:start + count] = wrong.sum(axis=1)
            per_scored[start:start + count] = scored.sum(axis=1)
            if progress is not None:
                progress(count)
        result.rows.append(_row(all_opts, per_errors, per_scored, instances, time.perf_counter() - t0,
                                time.process_time() - c0))
    return result


def _row_batches(model: Any, adapter: Adapter, task_name: str | None, opts: dict[str, Any], row_index: int,
                 n: int, instances: int, seed: int, batch: int) -> tuple[dict[str, Any], Iterator[Any]]:
    """A row's task options and its batches ``(start, (ids, target, scored))``, drawn
    lazily from the row's own seeded stream (the same instances wherever they are scored)."""
    _, task, all_opts = prepare_task(adapter, task_name, opts)
    rng = np.random.default_rng([seed, row_index])

    def draw() -> Iterator[Any]:
        for start in range(0, instances, batch):
            count = min(batch, instances - start)
            tokens = np.stack([task.generate(rng, n) for _ in range(count)])
            answers = np.stack([np.asarray(task.solve(t)) for t in tokens])
            ids = adapter.encode(tokens, all_opts)
            target, scored = adapter.targets_and_scored(answers, tokens.shape[1])
            check_fit(model, ids, target, scored, adapter)
            yield start, (ids, target, scored)

    return all_opts, draw()


def _row(all_opts: dict[str, Any], per_errors: np.ndarray, per_scored: np.ndarray, instances: int,
         seconds: float, cpu_seconds: float) -> EvalRow:
    """A row from its per-instance wrong and scored position counts."""
    errors, total = int(per_errors.sum()), int(per_scored.sum())
    rate = errors / total if total else float("nan")
    n_eff = _effective_n(per_errors, per_scored)
    ci = wilson_interval(rate * n_eff, n_eff) if total else (0.0, 1.0)
    return EvalRow(dict(all_opts), errors, total, instances, rate, ci, n_eff, seconds, cpu_seconds,
                   int(np.count_nonzero(per_errors)))


def _score_batch(batch: tuple[np.ndarray, np.ndarray, np.ndarray], model: Any
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One batch's wrong and scored positions per instance, and the seconds (wall, and
    CPU of the process that scored it) it took."""
    t0, c0 = time.perf_counter(), time.process_time()
    ids, target, scored = batch
    wrong = (model.predict(ids).argmax(-1) != target) & scored
    return wrong.sum(axis=1), scored.sum(axis=1), time.perf_counter() - t0, time.process_time() - c0


def _evaluate_on(executor: Any, result: EvalResult, model: Any, adapter: Adapter, task_name: str | None,
                 rows_opts: list[dict[str, Any]], n: int, instances: int, seed: int, batch: int,
                 progress: Callable[[int], None] | None) -> EvalResult:
    """:func:`evaluate`'s loop with the forward passes on ``executor``: the batches are drawn
    here exactly as in process, scored there, and combined in order."""
    batches, owner, options = [], [], []
    for row_index, opts in enumerate(rows_opts):
        all_opts, drawn = _row_batches(model, adapter, task_name, opts, row_index, n, instances, seed, batch)
        options.append(all_opts)
        for _, one in drawn:
            batches.append(one)
            owner.append(row_index)
    scores = executor.map_chunks(_score_batch, batches, shared=(model,),
                                 progress=None if progress is None else (lambda r: progress(int(r[0].size))))
    for row_index, all_opts in enumerate(options):
        mine = [sc for sc, o in zip(scores, owner, strict=True) if o == row_index]
        per_errors = np.concatenate([m[0] for m in mine]).astype(np.int64)
        per_scored = np.concatenate([m[1] for m in mine]).astype(np.int64)
        result.rows.append(_row(all_opts, per_errors, per_scored, instances, sum(m[2] for m in mine),
                                sum(m[3] for m in mine)))
    return result


def _effective_n(errors: np.ndarray, scored: np.ndarray) -> float:
    total = float(scored.sum())
    N = errors.size
    if total == 0:
        return 0.0
    p = errors.sum() / total
    if p in (0.0, 1.0) or N < 2:
        return float(min(N, total))
    var = N / (N - 1) * float(np.sum((errors - p * scored) ** 2)) / total ** 2
    if var <= 0:
        return float(min(N, total))
    return float(min(max(p * (1 - p) / var, 1.0), total))


def plot_rows(result: EvalResult, path: str, x_option: str | None = None) -> str:
    """Error rate with its 95% interval against the option that varies (.png/.svg/.pdf)."""
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InvalidInputError(f"--plot {path!r}: use a .png, .svg or .pdf file name")
    if not p.parent.exists():
        raise InvalidInputError(f"--plot {path!r}: directory {str(p.parent)!r} does not exist")
    varying = [k for k in result.rows[0].task_options
               if len({str(r.task_options.get(k)) for r in result.rows}) > 1]
    key = x_option or (varying[0] if varying else None)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    xs = [r.task_options.get(key) if key else i for i, r in enumerate(result.rows)]
    ys = [r.error_rate for r in result.rows]
    lo = [r.error_rate - r.ci95[0] for r in result.rows]
    hi = [r.ci95[1] - r.error_rate for r in result.rows]
    ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=4, linewidth=2)  # type: ignore[arg-type]
    ax.set_xlabel(key or "row")
    ax.set_ylabel("error rate (scored positions)")
    m = result.model
    ax.set_title(f"{result.task}, n = {result.n}: {m['family']} {m['layers']} layers, width {m['width']}")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return str(p)
