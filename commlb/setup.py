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

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .core import ALICE, BOB, Instance, Problem, Reduction, Task
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



@dataclass(frozen=True)
class _TaskDefault:
    reduction: str | None
    n: int
    options: tuple[str, ...] = ()
    option_defaults: tuple[tuple[str, Any], ...] = ()
    why: str = ""


#: task -> default reduction, default n, the task options it takes, and why this reduction
TASK_DEFAULTS: dict[str, _TaskDefault] = {
    "disjointness": _TaskDefault("disj-to-disjointness", 64,
                                 why="DISJ_n written as a # b = (BHBK24, docs/theory.md §8.2)"),
    "equality": _TaskDefault("eq-to-equality", 64, why="EQ_n written as a # b = (BHBK24, docs/theory.md §8.2)"),
    "index-lookup": _TaskDefault("index-to-index-lookup", 64,
                                 why="INDEX_n written as x_1..x_n ? i (BHBK24, docs/theory.md §8.1)"),
    # DISJ_q rather than INDEX_n: disj-to-qsa is SHT23 Theorem 4, the bound m·p ≥ q that
    # grows with the sparsity q and separates one-layer width from q; index-to-qsa (q = 1,
    # Theorem 11) is a memory bound for recurrent models (pass reduction="index-to-qsa").
    "qsa": _TaskDefault("disj-to-qsa", 8, ("q",),
                        why="DISJ_q as qSA with N = 2q + 1 (SHT23 Theorem 4: m·p ≥ q); q is the problem size n"),
    "khop": _TaskDefault("pc-to-khop", 4, ("k",), (("k", 2),),
                         why="pointer chasing PC(n, k) as k-hop induction heads "
                             "(SHT24, docs/theory.md §8.8)"),
    "match3": _TaskDefault("disj-to-match3", 8, ("M",), why="DISJ_n as Match3 (SHT23, docs/theory.md §8.6)"),
    "dyck22": _TaskDefault("disj-to-dyck", 8, why="DISJ_n as bounded Dyck-(2,2) (docs/theory.md §8.3)"),
    "nearest-neighbor": _TaskDefault("index-to-nearest-neighbor", 16,
                                     why="INDEX_n as nearest neighbour with public points (BHBK24)"),
    "function-composition": _TaskDefault("index-to-composition", 8,
                                         why="INDEX on n log n bits as function composition (PNP24)"),
    "match2": _TaskDefault(None, 16, ("M",), why="no reduction: a generated instance, split prefix:N/2"),
    "qstr": _TaskDefault(None, 16, ("q", "d"), why="no reduction: a generated instance, split prefix:N/2"),
    "qstr-simple": _TaskDefault(None, 16, ("q", "d"), why="no reduction: a generated instance, split prefix:N/2"),
}


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
        kind = self.task.output_kind
        if kind == "binary":
            return "binary", 2
        if kind == "vector":
            return "vector", 0
        name = self.task.name
        if name in ("match2", "match3"):
            return "binary", 2
        if name == "index-lookup":
            return "class", int(self.task.alphabet)
        if name == "nearest-neighbor":
            return "class", int(self.task.labels)
        if name == "function-composition":
            return "class", int(self.task.n)
        return "class", int(self.task.vocab_size)

    def example_instance(self) -> Instance:
        if self.reduction is not None:
            x, y = sample_inputs(self.problem, np.random.default_rng(0))
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
    if task_name == "qsa" and "q" in options:
        q = int(options.pop("q"))
        if n is not None and int(n) != q:
            raise InvalidInputError(f"qsa: --q {q} and --n {n} disagree (q is the size of DISJ_q)")
        n = q
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
    """One random (x, y).  DISJ and EQ are drawn so that both answers are about equally
    likely (uniform pairs are almost never disjoint or equal); others uniformly."""
    if problem.name == "disj":
        n = problem.n
        p = float(np.sqrt(1.0 - 2.0 ** (-1.0 / n))) if n else 0.5
        return ((rng.random(n) < p).astype(np.int64), (rng.random(n) < p).astype(np.int64))
    if problem.name == "eq":
        x, y = problem.sample(rng)
        if rng.random() < 0.5:
            y = np.array(x, copy=True)
        return x, y
    return problem.sample(rng)

