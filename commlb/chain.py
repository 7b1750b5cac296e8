"""Chains of reductions: problem maps composed with each other and with a reduction.

A chain ``m_1+m_2+…+m_k+R`` reads left to right: the problem maps m_i
(:class:`~commlb.core.ProblemMap`, Q → P by local maps of x and of y) take the source
problem Q_m to P_1, P_2, …, P_k, and the reduction R (:class:`~commlb.core.Reduction`)
writes P_k as a task instance.  The composition is itself a Reduction (Q_m → task),
accepted wherever a reduction name is (``commlb check-reduction eq-to-disj+disj-to-dyck``,
``--reduction``, ``commlb.get_reduction``), so its soundness and locality are checked like
any other's.  A chain of maps alone (``index-to-disj+…``, kind ``map``) is a ProblemMap.

The bound it transfers (docs/theory.md §13.1): a protocol for the task's communication
game of C bits of some kind gives one for Q_m of C + Σ cost_i bits of the same kind, so
C ≥ LB(Q_m) − Σ cost_i, at the task instance the last step writes (the sizes multiply
out step by step: :meth:`ComposedReduction.steps`).  With every cost 0 (all built-in maps:
their decode reads the answer only) the reduction's problem is Q_m itself and its
bounds apply unchanged; otherwise the problem is Q_m with each numeric bound lowered by
the total cost (:class:`CostAdjustedProblem`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import KnownBound, Problem, ProblemMap, Reduction
from .errors import InvalidInputError, check_arguments

__all__ = ["ComposedMap", "ComposedReduction", "CostAdjustedProblem", "MapCheck", "chain_factory", "check_map",
           "compose"]


def _label(problem: Any) -> str:
    return str(problem.label()) if hasattr(problem, "label") else repr(problem)


def _same_problem(a: Any, b: Any) -> bool:
    return type(a) is type(b) and getattr(a, "name", None) == getattr(b, "name", None) and a.params() == b.params()


class CostAdjustedProblem(Problem):
    """The source problem of a chain whose maps cost ``cost`` bits: the same function,
    its numeric bounds lowered by ``cost`` (docs/theory.md §13.1)."""

    def __init__(self, inner: Problem, cost: int) -> None:
        self.inner, self.cost = inner, int(cost)
        self.name, self.description, self.symbol = inner.name, inner.description, inner.symbol
        self.n, self.x_space, self.y_space = inner.n, inner.x_space, inner.y_space
        self.num_outputs = inner.num_outputs

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.inner.evaluate(x, y)

    def in_promise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.inner.in_promise(x, y)

    @property
    def is_promise(self) -> bool:
        return self.inner.is_promise

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.sample(rng)

    def sample_balanced(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.sample_balanced(rng)

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def label(self) -> str:
        return self.inner.label()

    def bounds(self) -> list[KnownBound]:
        from dataclasses import replace

        out = []
        for b in self.inner.bounds():
            if not b.lower or b.value is None:
                out.append(b)
                continue
            out.append(replace(b, value=max(0.0, b.value - self.cost), formula=f"{b.formula} - {self.cost}",
                               note=(b.note + "; " if b.note else "") + f"less the chain's {self.cost} bits "
                               "(docs/theory.md §13.1)"))
        return out


class ComposedMap(ProblemMap):
    """Problem maps applied one after the other (a ProblemMap itself)."""

    def __init__(self, maps: Sequence[ProblemMap], name: str = "") -> None:
        if not maps:
            raise InvalidInputError("a chain needs at least one step")
        _check_links(list(maps), None)
        self.maps = list(maps)
        self.source, self.target = self.maps[0].source, self.maps[-1].target
        self.cost_bits = sum(int(m.cost_bits) for m in self.maps)
        self.name = name or "+".join(m.name for m in self.maps)
        self.description = " then ".join(m.description or m.name for m in self.maps)

    def map_x(self, x: np.ndarray) -> np.ndarray:
        for m in self.maps:
            x = m.map_x(x)
        return x

    def map_y(self, y: np.ndarray) -> np.ndarray:
        for m in self.maps:
            y = m.map_y(y)
        return y

    def decode(self, answer: int) -> int:
        for m in reversed(self.maps):
            answer = m.decode(answer)
        return int(answer)


class ComposedReduction(Reduction):
    """Problem maps followed by a reduction: Q_m → … → P_k → task (a Reduction itself,
    checked by ``commlb check-reduction`` like any other)."""

    def __init__(self, maps: Sequence[ProblemMap], reduction: Reduction, name: str = "") -> None:
        self.maps = list(maps)
        self.last = reduction
        _check_links(self.maps, reduction)
        source = self.maps[0].source if self.maps else reduction.problem
        self.cost_bits = sum(int(m.cost_bits) for m in self.maps)
        self.problem = source if self.cost_bits == 0 else CostAdjustedProblem(source, self.cost_bits)
        self.task = reduction.task
        names = [m.name for m in self.maps] + [reduction.name or type(reduction).__name__]
        self.name = name or "+".join(names)
        self.description = " then ".join([m.description or m.name for m in self.maps]
                                         + [reduction.description or reduction.name])
        self.theorem = (f"{_label(source)} through {len(self.maps)} problem map(s) and {reduction.name}: "
                        f"bits >= LB({_label(source)})" + (f" - {self.cost_bits}" if self.cost_bits else "")
                        + " (docs/theory.md §13.1)")

    def encode(self, x: Any, y: Any) -> Any:
        x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        for m in self.maps:
            x, y = m.map_x(x), m.map_y(y)
        return self.last.encode(x, y)

    def decode(self, output: Any) -> int:
        answer = self.last.decode(output)
        for m in reversed(self.maps):
            answer = m.decode(answer)
        return int(answer)

    def params(self) -> dict[str, Any]:
        return self.problem.params()

    def steps(self) -> list[dict[str, Any]]:
        """One entry per step: its name, the problem it starts from and where it goes
        (the size blowup, step by step), and the bits it costs."""
        out = [{"step": m.name, "from": _label(m.source), "to": _label(m.target), "cost_bits": int(m.cost_bits)}
               for m in self.maps]
        out.append({"step": self.last.name, "from": _label(self.last.problem), "to": self.task.name,
                    "cost_bits": 0})
        return out


def _check_links(maps: list[ProblemMap], reduction: Reduction | None) -> None:
    """Each step must start at the problem (same kind and parameters) the previous one
    ends at."""
    ends = [(m.name, m.target) for m in maps]
    starts = [m.source for m in maps[1:]] + ([reduction.problem] if reduction is not None else [])
    for (name, end), start in zip(ends, starts):
        if not _same_problem(end, start):
            raise InvalidInputError(f"chain: {name} ends at {_label(end)} but the next step starts at "
                                    f"{_label(start)}")


def _accepts(factory: Callable[..., Any]) -> set[str] | None:
    """The keyword names a factory takes (None: any)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _build_step(kind: str, part: str, params: dict[str, Any], first: bool) -> Any:
    from .registry import factory_for

    factory = factory_for(kind, part)
    if not first:  # the previous target's parameters, those this step takes
        takes = _accepts(factory)
        params = {k: v for k, v in params.items() if takes is None or k in takes}
    check_arguments(factory, f"chain step {part}", **params)
    return factory(**params)


def compose(*steps: Any, name: str = "") -> Any:
    """The composition of built steps: ProblemMaps, optionally ending in a Reduction
    (a :class:`ComposedReduction`; maps alone give a :class:`ComposedMap`)."""
    if not steps:
        raise InvalidInputError("compose needs at least one step")
    *maps, last = steps
    for m in maps:
        if not isinstance(m, ProblemMap):
            raise InvalidInputError(f"chain: {getattr(m, 'name', m)!r} is not a problem map (only the last step "
                                    "may be a reduction to a task)")
    if isinstance(last, Reduction):
        return ComposedReduction(maps, last, name)
    if isinstance(last, ProblemMap):
        return ComposedMap([*maps, last], name)
    raise InvalidInputError(f"chain: {getattr(last, 'name', last)!r} is neither a problem map nor a reduction")


def chain_factory(kind: str, spec: str) -> Callable[..., Any]:
    """A factory for ``spec = "map+map+…+reduction"`` (kind ``reduction``) or
    ``"map+…+map"`` (kind ``map``): its parameters size the source problem (``n=``);
    each later step is built at the problem the previous one ends at."""
    parts = [p.strip() for p in spec.split("+")]
    if any(not p for p in parts):
        raise InvalidInputError(f"chain {spec!r}: an empty step (write name+name+...)")
    from .registry import factory_for

    kinds = ["map"] * (len(parts) - 1) + [kind]
    first = factory_for(kinds[0], parts[0])
    for k, part in zip(kinds[1:], parts[1:]):
        factory_for(k, part)  # an unknown name is refused before anything is built

    def build(**params: Any) -> Any:
        steps = []
        current = dict(params)
        for i, (k, part) in enumerate(zip(kinds, parts)):
            step = _build_step(k, part, current, first=i == 0)
            steps.append(step)
            if isinstance(step, ProblemMap):
                current = dict(step.target.params())
        return compose(*steps, name=spec)

    build.example_params = dict(getattr(first, "example_params", None) or {})  # type: ignore[attr-defined]
    return build


@dataclass(frozen=True)
class MapCheck:
    """The result of :func:`check_map`: whether Q(x, y) = decode(P(map_x(x), map_y(y)))
    held on every pair tried, how many, and the first pair where it did not."""

    ok: bool
    exhaustive: bool
    pairs_checked: int
    total_pairs: int
    counterexample: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "exhaustive": self.exhaustive, "pairs_checked": self.pairs_checked,
                "total_pairs": self.total_pairs, "counterexample": self.counterexample}


def check_map(m: ProblemMap, samples: int = 2000, seed: int = 0, exhaustive_limit: int = 1 << 16) -> MapCheck:
    """Check a problem map on every pair (at most ``exhaustive_limit``; else ``samples``
    random pairs): Q(x, y) = decode(P(map_x(x), map_y(y))).  Locality holds by
    construction (map_x sees x only, map_y y only)."""
    q, p = m.source, m.target
    total = int(q.x_space.size) * int(q.y_space.size)
    if total <= exhaustive_limit:
        xs, ys = q.x_space.enumerate(), q.y_space.enumerate()
        pairs = ((x, y) for x in xs for y in ys)
        exhaustive, count = True, total
    else:
        rng = np.random.default_rng(seed)
        pairs = (q.sample(rng) for _ in range(samples))
        exhaustive, count = False, samples
    checked = 0
    for x, y in pairs:
        if not bool(np.all(q.in_promise(x, y))):
            continue
        want = int(np.asarray(q.evaluate(x, y)).reshape(-1)[0])
        got = m.decode(int(np.asarray(p.evaluate(m.map_x(x), m.map_y(y))).reshape(-1)[0]))
        checked += 1
        if got != want:
            return MapCheck(False, exhaustive, checked, total,
                            {"kind": "soundness", "x": np.asarray(x).tolist(), "y": np.asarray(y).tolist(),
                             "expected": want, "got": int(got)})
    return MapCheck(True, exhaustive, checked if exhaustive else count, total)
