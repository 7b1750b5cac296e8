"""A task ready to simulate: the task catalogue and its defaults.

:func:`resolve_task` turns a task name (with options and a size) into a
:class:`TaskSetup`: the :class:`~commlb.core.Task`, the
:class:`~commlb.core.Reduction` that feeds it a communication problem (the default per
task is in :data:`TASK_DEFAULTS`, or the one asked for), the problem and the problem size
n.  A task without a reduction (match2, qSTR) gets a generated instance cut in the
middle.  Nothing here builds a model or runs a protocol (:mod:`commlb.models.build`,
:mod:`commlb.simulate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import ALICE, BOB, Instance, Problem, Reduction, Task, TaskDefaults
from .errors import InvalidInputError, UnknownNameError

__all__ = [
    "TASK_DEFAULTS",
    "TaskSetup",
    "resolve_task",
    "sample_inputs",
    "problem_label",
    "prefix_owner",
]


def problem_label(problem: Problem) -> str:
    """``DISJ_32``, ``INDEX_1024``, ``PC(n=4, k=2, ...)`` (:meth:`Problem.label`)."""
    return problem.label()



class _TaskDefaults(Mapping[str, TaskDefaults]):
    """Task name -> :class:`~commlb.core.TaskDefaults`, read from the registered task
    classes (their ``defaults`` attribute) on first use: a task module that sets it is
    simulable by name, with no table to edit here."""

    def _table(self) -> dict[str, TaskDefaults]:
        from .registry import list_tasks, task_factory

        table = {}
        for name in list_tasks():
            spec = getattr(task_factory(name), "defaults", None)
            if isinstance(spec, TaskDefaults):
                table[name] = spec
        return table

    def __getitem__(self, task: str) -> TaskDefaults:
        return self._table()[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


#: task -> default reduction, default n, the task options it takes, and why this reduction
TASK_DEFAULTS: Mapping[str, TaskDefaults] = _TaskDefaults()


@dataclass(frozen=True, eq=False)
class TaskSetup:
    """A task ready to simulate: the task object, the reduction feeding it a problem (or
    None for tasks without one), the problem, and the problem size n."""

    task: Task
    reduction: Reduction | None
    problem: Problem | None
    n: int
    task_name: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""

    @property
    def default_split(self) -> str:
        """The split used when none is asked for: the reduction's owners, or for a task
        without a reduction a prefix cut in the middle (``prefix:⌊N/2⌋``)."""
        if self.reduction is not None:
            return "reduction"
        return f"prefix:{self.length // 2}"

    @property
    def length(self) -> int:
        if self.reduction is not None:
            return len(self.example_instance())
        return int(self.task.length(self.n))

    @property
    def vocab_size(self) -> int:
        return int(self.task.vocab_size)

    @property
    def structured_tokens(self) -> bool:
        """True when tokens carry several (real-valued) fields, as in qSA and qSTR."""
        try:
            return int(self.task.vocab_size) <= 0
        except InvalidInputError:
            return True

    @property
    def task_n(self) -> int:
        """The task's own size parameter for this instance length (what constructions
        are built for): the problem's n for ``a # b =`` and index lookup, N = 2q + 1 for
        DISJ_q → qSA.  Found by inverting ``task.length``; falls back to ``n``."""
        if self.reduction is None:
            return self.n
        target = self.length
        try:
            if int(self.task.length(self.n)) == target:
                return self.n
            lo, hi = 1, max(1, target)
            while lo < hi:  # task.length is non-decreasing in n
                mid = (lo + hi) // 2
                if int(self.task.length(mid)) < target:
                    lo = mid + 1
                else:
                    hi = mid
            return lo if int(self.task.length(lo)) == target else self.n
        except (InvalidInputError, TypeError, ValueError):
            return self.n

    def readout(self) -> tuple[str, int]:
        """(output_kind, num_classes) a generic model uses to answer this task at its
        last position (what the reduction's ``decode`` reads)."""
        return self.task.readout()

    def example_instance(self) -> Instance:
        if self.reduction is not None:
            x, y = sample_inputs(self.reduction.problem, np.random.default_rng(0))
            return self.reduction.encode(x, y)
        tokens = self.task.generate(np.random.default_rng(0), self.n)
        length = len(tokens)
        return Instance(tokens, prefix_owner(length, length // 2))

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task_name or self.task.name,
            "reduction": None if self.reduction is None else self.reduction.name,
            "problem": None if self.problem is None else problem_label(self.problem),
            "n": self.n,
            "options": dict(self.options),
        }


def prefix_owner(length: int, k: int) -> np.ndarray:
    """Owners of a prefix cut: Alice the first ``k`` positions, Bob the rest."""
    owner = np.full(length, BOB, dtype=np.int8)
    owner[:k] = ALICE
    return owner


def resolve_task(task_name: str, n: int | None = None, *, reduction: str | None = None,
                 **task_options: Any) -> TaskSetup:
    """The task ``task_name`` with its default reduction (or ``reduction``) at size ``n``
    (default per task, :data:`TASK_DEFAULTS`).  Task options: ``k`` for khop, ``q`` for
    qsa (the DISJ_q size, so it sets n), ``M`` for match2/match3, ``q``/``d`` for qstr.
    Options left as None are ignored."""
    from .registry import get_reduction, get_task, list_reductions, list_tasks

    options = {k: v for k, v in task_options.items() if v is not None}
    if task_name not in TASK_DEFAULTS:
        known = sorted(set(list_tasks()) & set(TASK_DEFAULTS))
        raise UnknownNameError(f"unknown task {task_name!r}; known: {', '.join(known)}")
    spec = TASK_DEFAULTS[task_name]
    for key in options:
        if key not in spec.options:
            allowed = ", ".join(f"--{o}" for o in spec.options) or "none"
            raise InvalidInputError(f"--{key} does not apply to task {task_name} (its options: {allowed})")
    for key, value in spec.option_defaults:
        options.setdefault(key, value)
    if n is not None and (isinstance(n, bool) or int(n) != n or int(n) < 1):
        raise InvalidInputError(f"--n must be a positive integer, got {n!r}")

    red_name = reduction if reduction is not None else spec.reduction
    size_key = spec.size_option
    if size_key is not None and size_key in options:  # a task option that is the problem size
        size_value = int(options.pop(size_key))
        if n is not None and int(n) != size_value:
            raise InvalidInputError(f"{task_name}: --{size_key} {size_value} and --n {n} disagree "
                                    f"({size_key} is the problem size n)")
        n = size_value
    size = int(n) if n is not None else spec.n

    if red_name is None:
        task = get_task(task_name, **options)
        return TaskSetup(task, None, None, size, task_name, options, spec.why)
    if red_name not in list_reductions():
        raise UnknownNameError(f"unknown reduction {red_name!r}; known: {', '.join(list_reductions())}")
    red = get_reduction(red_name, n=size, **options)
    if red.task.name != task_name:
        raise InvalidInputError(f"reduction {red_name} targets task {red.task.name}, not {task_name}")
    why = spec.why if reduction is None else f"{red_name} (asked for): {red.description}"
    return TaskSetup(red.task, red, red.problem, size, task_name, options, why)


def sample_inputs(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random (x, y) for a trial (:meth:`Problem.sample_balanced`: DISJ and EQ are
    drawn so that both answers are about equally likely)."""
    return problem.sample_balanced(rng)
