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


def _name_of(obj: Any) -> str:
    """A display name of a reduction or task object: its ``name``, else its class name."""
    return str(getattr(obj, "name", "") or type(obj).__name__)


def _signature_defaults(func: Any) -> dict[str, Any]:
    """The keyword defaults of a factory's signature ({} when it has none to read)."""
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _task_spec(task: Any) -> tuple[str | None, TaskDefaults | None]:
    """(task name, its defaults) for a task given as a registered name, a
    ``file.py:ATTR`` spec or an object (None, None for no task)."""
    from .plugins import is_file_spec
    from .registry import list_tasks, task_factory

    if task is None:
        return None, None
    if isinstance(task, str) and task in TASK_DEFAULTS:
        return task, TASK_DEFAULTS[task]
    if isinstance(task, str):
        if not is_file_spec(task) and task not in list_tasks():
            known = sorted(set(list_tasks()) & set(TASK_DEFAULTS))
            raise UnknownNameError(f"unknown task {task!r}; known: {', '.join(known)} (or give path/to/file.py:ATTR)")
        holder: Any = task_factory(task)
        holder = getattr(holder, "__wrapped__", holder)
    else:
        holder = task
    spec = getattr(holder, "defaults", None)
    name = task if isinstance(task, str) and not is_file_spec(task) else str(getattr(holder, "name", "") or "")
    return name or None, spec if isinstance(spec, TaskDefaults) else None


def resolve_task(task_name: Any = None, n: int | None = None, *, reduction: Any = None,
                 **task_options: Any) -> TaskSetup:
    """The task ``task_name`` with its default reduction (or ``reduction``) at size ``n``
    (default per task, :data:`TASK_DEFAULTS`).  Task options: ``k`` for khop, ``q`` for
    qsa (the DISJ_q size, so it sets n), ``M`` for match2/match3, ``q``/``d`` for qstr.
    Options left as None are ignored.

    The task and the reduction may each be a registered name (built in or from a plugin
    package), a ``path/to/file.py:ATTR`` spec or an object (a Task / Reduction instance,
    class or factory, :mod:`commlb.plugins`); with a reduction the task may be omitted
    (it is the reduction's)."""
    from .plugins import is_file_spec
    from .registry import get_reduction, get_task, is_known, reduction_factory

    options = {k: v for k, v in task_options.items() if v is not None}
    if task_name is None and reduction is None:
        raise InvalidInputError("give a task (or a reduction, whose task it then is)")
    name, spec = _task_spec(task_name)
    if spec is not None:
        for key in options:
            if key not in spec.options:
                allowed = ", ".join(f"--{o}" for o in spec.options) or "none"
                raise InvalidInputError(f"--{key} does not apply to task {name} (its options: {allowed})")
        for key, value in spec.option_defaults:
            options.setdefault(key, value)
    if n is not None and (isinstance(n, bool) or int(n) != n or int(n) < 1):
        raise InvalidInputError(f"--n must be a positive integer, got {n!r}")

    red_spec = reduction if reduction is not None else (spec.reduction if spec is not None else None)
    size_key = spec.size_option if spec is not None else None
    if size_key is not None and size_key in options:  # a task option that is the problem size
        size_value = int(options.pop(size_key))
        if n is not None and int(n) != size_value:
            raise InvalidInputError(f"{name}: --{size_key} {size_value} and --n {n} disagree "
                                    f"({size_key} is the problem size n)")
        n = size_value

    if red_spec is None:
        if spec is None and n is None:
            raise InvalidInputError(f"task {name or _name_of(task_name)} has no defaults (no `defaults = "
                                    "TaskDefaults(...)`): give --n, or a reduction")
        size = int(n) if n is not None else spec.n  # type: ignore[union-attr]
        task = get_task(task_name, **options)
        tname = name or _name_of(task)
        return TaskSetup(task, None, None, size, tname, options, spec.why if spec else "")
    if isinstance(red_spec, str) and not is_known("reduction", red_spec):
        from .registry import list_reductions

        raise UnknownNameError(f"unknown reduction {red_spec!r}; known: {', '.join(list_reductions())} "
                               "(or give path/to/file.py:ATTR)")
    builtin = isinstance(red_spec, str) and not is_file_spec(red_spec)
    if n is not None:
        size = int(n)
    elif spec is not None and (builtin or reduction is None):
        size = spec.n
    else:  # the user's reduction: its own example size, else the task's default
        holder = reduction_factory(red_spec) if isinstance(red_spec, str) else red_spec
        example = dict(getattr(holder, "example_params", None) or {})
        if not example and hasattr(red_spec, "params") and not isinstance(red_spec, type):
            example = dict(red_spec.params())
        if "n" not in example:
            example.update(_signature_defaults(holder))
        size = int(example.get("n", spec.n if spec is not None else 6))
    red = get_reduction(red_spec, n=size, **options)
    red_task = _name_of(red.task)
    if name is not None and red_task != name:
        raise InvalidInputError(f"reduction {_name_of(red)} targets task {red_task}, not {name}")
    if spec is not None and reduction is None:
        why = spec.why
    else:
        why = f"{_name_of(red)} (asked for): {red.description}"
    return TaskSetup(red.task, red, red.problem, size, name or red_task, options, why)


def sample_inputs(problem: Problem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random (x, y) for a trial (:meth:`Problem.sample_balanced`: DISJ and EQ are
    drawn so that both answers are about equally likely)."""
    return problem.sample_balanced(rng)
