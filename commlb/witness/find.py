"""``commlb witness`` as a function: from a task name and the model options of
``commlb simulate`` to a search (:func:`find_witness`)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .result import WitnessResult
from .search import Progress, search_witness

__all__ = ["find_witness", "witness_model"]


def witness_model(setup: Any, family: str, *, weights: str | None = None, **options: Any) -> tuple[Any, str]:
    """The model a witness search runs on: :func:`commlb.models.build.build_model` with the
    same options, except that with ``weights=None``, when the paper construction refuses
    the requested sizes (constructions are built to be large enough), random weights of
    those sizes are used.  Returns (BuiltModel, note for the reader)."""
    from ..models.build import build_model

    try:
        built = build_model(setup, family, weights=weights, **options)
        return built, built.note
    except InvalidInputError as exc:
        if weights is not None:
            raise
        built = build_model(setup, family, weights="random", **options)
        task = setup.task_name or setup.task.name
        return built, f"the {task}/{family} construction cannot be built at these sizes ({exc}); {built.note}"


def find_witness(task: Any, model_family: str, n: int | None = None, *, hidden: int | None = None,
                 layers: int | None = None, heads: int | None = None, width: int | None = None,
                 precision: int | None = None, arith: str = "fixed", weights: str | None = None,
                 seed: int = 0, budget: Any = None, exhaustive: bool | None = None, split: Any = None,
                 reduction: Any = None, progress: Progress | None = None, backend: str = "auto",
                 executor: Any = None, spill_dir: str | None = None, **task_options: Any) -> WitnessResult:
    """``commlb witness`` as a function: resolve the task and build the model as
    ``commlb simulate`` does (:func:`commlb.setup.resolve_task`; the model options are
    those of :func:`commlb.models.build.build_model`, ``weights`` may be a ``.npz`` path; see
    :func:`witness_model` for the one difference), then :func:`search_witness` on the
    reduction's split (or ``split``: a spec such as ``prefix:K``).  ``budget``: inputs to
    sample or seconds ("30s"); ``exhaustive``: force or forbid enumerating every input;
    ``executor``, ``spill_dir``: where an exhaustive enumeration runs and spills (see
    :func:`search_witness`)."""
    from ..protocol.core import Split
    from ..setup import resolve_task

    setup = resolve_task(task, n, reduction=reduction, **task_options)
    if setup.reduction is None:
        raise InvalidInputError(f"task {task} has no reduction from a communication problem, so there is no "
                                "Alice input to collide")
    built, note = witness_model(setup, model_family, weights=weights, hidden=hidden, layers=layers, heads=heads,
                                width=width, precision=precision, arith=arith, seed=seed)
    sp = None
    if split not in (None, "", "reduction"):
        sp = split if isinstance(split, Split) else Split.parse(split, setup.example_instance())
    return search_witness(setup.reduction, built.model, sp, budget=budget, seed=seed, exhaustive=exhaustive,
                          progress=progress, backend=backend, task_name=setup.task_name, model_note=note,
                          executor=executor, spill_dir=spill_dir)
