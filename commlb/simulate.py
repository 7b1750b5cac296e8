"""Run a model on a task instance as a two-party protocol and state the bound that follows.

This is the library side of ``commlb simulate`` (the CLI only parses and renders), and the
public API that the witness search, sweeps and walk-throughs call:

* :func:`resolve_task` — a task by name, with the reduction that feeds it a communication
  problem (the default per task is in :data:`TASK_DEFAULTS`) and a default size;
* :func:`build_model` — the paper construction for (task, family) when one exists, else
  seeded random weights (with a visible note), or weights loaded from a ``.npz`` file;
* :func:`simulate_instance` — one instance: tokens from the reduction, the protocol run
  through :func:`commlb.protocol.simulate` (verified against ``model.forward``), the
  answer against the truth, and the lower bound that applies to the transcript;
* :func:`run_trials` — K random instances, the error count (every one verified);
* :func:`run` — all of the above in one call.

Which lower bound applies (docs/theory.md §3.3, §1.1, §4).  Counted bits never include announcing
the answer: the party that receives the last message outputs it.  So

* a **one-way** transcript (every message from Alice, or every message from Bob) is
  compared with the one-way deterministic complexity in that direction (``D→``: n for
  DISJ_n, EQ_n and INDEX_n from Alice to Bob): the receiver must tell apart every
  distinct row (column) of the communication matrix;
* an **interactive** transcript is compared with the two-way deterministic complexity
  minus the announcement (``D − ⌈log2 #outputs⌉``; D counts a last message telling the
  answer to both parties, which these protocols do not send).

Every applicable bound is a valid lower bound; the largest is the one reported.  Both
values are always listed (``lower_bounds``), each with whether it applies and why.  A
bound constrains only models that are correct on *every* input: a model whose protocol
sends fewer bits errs somewhere (``commlb witness`` finds where).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .bits import Precision
from .core import ALICE, BOB, PUBLIC, BoundKind, Instance, KnownBound, Owner, Problem, Reduction, Task
from .errors import EngineError, InvalidInputError, UnknownNameError

__all__ = [
    "TASK_DEFAULTS",
    "MODEL_FAMILIES",
    "TaskSetup",
    "BuiltModel",
    "BoundEntry",
    "TrialSummary",
    "SimulationResult",
    "resolve_task",
    "build_model",
    "simulate_instance",
    "run_trials",
    "run",
    "lower_bounds_for",
    "problem_label",
    "split_breaks_reduction",
    "check_split",
    "model_tokens",
    "token_encoder",
]

MODEL_FAMILIES = ("rnn", "transformer", "ffn")


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
                                 why="DISJ_n written as a # b = (BHBK24, docs/theory.md §8)"),
    "equality": _TaskDefault("eq-to-equality", 64, why="EQ_n written as a # b = (BHBK24, docs/theory.md §8)"),
    "index-lookup": _TaskDefault("index-to-index-lookup", 64,
                                 why="INDEX_n written as x_1..x_n ? i (BHBK24, docs/theory.md §8)"),
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

_PROBLEM_NAMES = {"disj": "DISJ", "eq": "EQ", "index": "INDEX", "ip": "IP", "gt": "GT", "ghd": "GHD",
                  "pc": "PC", "pc-perm": "PC", "index-symbols": "INDEX-SYMBOLS"}


def problem_label(problem: Problem) -> str:
    """``DISJ_32``, ``INDEX_1024``, ``PC(n=4, k=2, ...)``."""
    base = _PROBLEM_NAMES.get(problem.name, problem.name.upper() or type(problem).__name__)
    params = problem.params()
    if set(params) == {"n"}:
        return f"{base}_{problem.n}"
    return f"{base}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"


# ------------------------------------------------------------------------------- tasks
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
        return Instance(tokens, _prefix_owner(length, length // 2))

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task_name or self.task.name,
            "reduction": None if self.reduction is None else self.reduction.name,
            "problem": None if self.problem is None else problem_label(self.problem),
            "n": self.n,
            "options": dict(self.options),
        }


def _prefix_owner(length: int, k: int) -> np.ndarray:
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


# ------------------------------------------------------------------------------- models
@dataclass(frozen=True, eq=False)
class BuiltModel:
    """A model with where its weights came from (``"construction"``, ``"random"`` or
    ``"file"``) and a note for the reader."""

    model: Any
    source: str
    note: str
    precision: Precision

    @property
    def family(self) -> str:
        return str(self.model.family)


def _precision(bits: int | None, arith: str, default: int | None) -> Precision | None:
    if arith not in ("fixed", "float"):
        raise InvalidInputError(f"--arith must be fixed or float, not {arith!r}")
    if bits is None:
        if default is None:
            return None
        bits = default
    return Precision.parse(int(bits), arith)


_FAMILY_OPTIONS = {"rnn": ("hidden", "layers"), "transformer": ("layers", "heads", "width"),
                   "ffn": ("hidden", "layers")}


def build_model(setup: TaskSetup, family: str, *, hidden: int | None = None, layers: int | None = None,
                heads: int | None = None, width: int | None = None, precision: int | None = None,
                arith: str = "fixed", weights: str | None = None, seed: int = 0) -> BuiltModel:
    """The model to simulate.  ``weights``: ``None`` (the construction for this task and
    family when one exists, else random with a note), ``"construction"``, ``"random"``, or
    a path to a ``.npz`` saved by :func:`commlb.models.base.save_model`.  ``precision`` is
    in bits (default: what the construction needs; 16 for random weights)."""
    from .models.constructions import get_construction, has_construction, list_constructions

    if family not in MODEL_FAMILIES:
        raise InvalidInputError(f"unknown model family {family!r}; choose one of {', '.join(MODEL_FAMILIES)}")
    sizes = {"hidden": hidden, "layers": layers, "heads": heads, "width": width}
    for key, value in sizes.items():
        if value is None:
            continue
        if key not in _FAMILY_OPTIONS[family]:
            raise InvalidInputError(f"--{key} does not apply to the {family} model "
                                    f"(its options: {', '.join('--' + o for o in _FAMILY_OPTIONS[family])})")
        if int(value) < 1:
            raise InvalidInputError(f"--{key} must be >= 1, got {value}")
    given = {k: int(v) for k, v in sizes.items() if v is not None}
    task_name = setup.task_name or setup.task.name

    if weights not in (None, "construction", "random"):
        return _load_weights(setup, family, str(weights), precision, given)
    use_construction = weights == "construction" or (weights is None and has_construction(task_name, family))
    if weights == "construction" and not has_construction(task_name, family):
        known = ", ".join(f"{t}/{f}" for t, f in list_constructions()) or "none"
        raise InvalidInputError(f"no construction for task {task_name} with the {family} model "
                                f"(available: {known}); use --weights random")
    if use_construction:
        builder = get_construction(task_name, family)
        prec = _precision(precision, arith, None if arith == "fixed" else 16)
        extra: dict[str, Any] = {}
        if setup.reduction is not None and "outputs" in _parameters(builder):
            extra["outputs"] = "last"  # the reduction reads the answer at the last position only
        try:
            model = builder(setup.task, setup.task_n, precision=prec, **given, **extra)
        except TypeError as exc:
            raise InvalidInputError(f"the {task_name}/{family} construction: {exc}") from None
        _check_family(model, family, "the construction")
        return BuiltModel(model, "construction", _construction_note(model, builder), model.precision)

    prec = _precision(precision, arith, 16)
    assert prec is not None
    if setup.structured_tokens:
        raise InvalidInputError(
            f"task {task_name} has real-valued multi-field tokens; random {family} weights take token ids "
            f"(use a construction: {', '.join(f'{t}/{f}' for t, f in list_constructions() if t == task_name) or 'none available'})"
        )
    rng = np.random.default_rng([int(seed), 0x5EED])
    model = _random_model(setup, family, prec, rng, given)
    why = "" if weights == "random" else f"no construction for {task_name}/{family}: "
    note = (f"{why}random weights (seed {seed}); a random model is not a solver, so its wrong answers "
            "say nothing about the bound")
    return BuiltModel(model, "random", note, prec)


def _parameters(func: Any) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


def _construction_note(model: Any, builder: Any) -> str:
    info = model.config.get("construction") if isinstance(getattr(model, "config", None), dict) else None
    if isinstance(info, dict) and info.get("name"):
        return f"construction: {info['name']}"
    import sys

    doc = " ".join((sys.modules.get(builder.__module__).__doc__ or "").split())
    if not doc:
        return "construction: " + builder.__module__
    # the first sentence, which may run over several docstring lines
    end = doc.find(". ")
    first = doc if end < 0 else doc[: end]
    return "construction: " + first.rstrip(".")


def _check_family(model: Any, family: str, where: str) -> None:
    if getattr(model, "family", None) != family:
        raise InvalidInputError(f"{where} holds a {getattr(model, 'family', '?')} model, not {family}")


def _random_model(setup: TaskSetup, family: str, prec: Precision, rng: np.random.Generator,
                  given: dict[str, int]) -> Any:
    kind, classes = setup.readout()
    vocab, length = setup.vocab_size, setup.length
    if family == "transformer":
        from .models.transformer import TransformerModel

        return TransformerModel.random(vocab, length, rng, layers=given.get("layers", 1),
                                       heads=given.get("heads", 1), width=given.get("width", 16),
                                       precision=prec, output_kind=kind, num_classes=max(classes, 2),
                                       output_positions=(-1,))
    if family == "rnn":
        from .models.rnn import RNNModel

        return RNNModel.random(vocab, rng, given.get("hidden", 16), layers=given.get("layers", 1),
                               precision=prec, output_kind=kind, num_classes=max(classes, 2),
                               output_positions=(-1,))
    from .models.ffn import FFNModel

    return FFNModel.random(vocab, length, rng, hidden=given.get("hidden", 16), layers=given.get("layers", 1),
                           precision=prec, output_kind=kind, num_classes=max(classes, 2))


def _load_weights(setup: TaskSetup, family: str, path: str, precision: int | None,
                  given: dict[str, int]) -> BuiltModel:
    from .models.base import load_model

    if not path.endswith(".npz") and not Path(path).exists():
        raise InvalidInputError(f"--weights must be construction, random or a FILE.npz, got {path!r}")
    if precision is not None or given:
        extra = ["--precision"] if precision is not None else []
        extra += [f"--{k}" for k in given]
        raise InvalidInputError(f"{', '.join(extra)} cannot change weights loaded from {path}")
    model = load_model(path)
    _check_family(model, family, path)
    task_name = setup.task_name or setup.task.name
    cfg = model.config
    if not setup.structured_tokens and "vocab_size" in cfg and int(cfg["vocab_size"]) < setup.vocab_size:
        raise InvalidInputError(f"{path}: vocabulary {cfg['vocab_size']} is smaller than {task_name}'s "
                                f"{setup.vocab_size} tokens at n = {setup.n}")
    if "max_length" in cfg and int(cfg["max_length"]) < setup.length:
        raise InvalidInputError(f"{path}: the model takes at most {cfg['max_length']} tokens; {task_name} at "
                                f"n = {setup.n} has {setup.length}")
    if "length" in cfg and int(cfg["length"]) != setup.length:
        raise InvalidInputError(f"{path}: the model takes {cfg['length']} tokens; {task_name} at "
                                f"n = {setup.n} has {setup.length}")
    try:
        model.forward(model_tokens(task_name, model, setup.example_instance().tokens))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path} does not fit {task_name} at n = {setup.n}: {exc}") from None
    return BuiltModel(model, "file", f"weights loaded from {path}", model.precision)


# ------------------------------------------------------------------------------- bounds
@dataclass(frozen=True)
class BoundEntry:
    """One literature bound next to a transcript: ``bits`` is the problem's value of that
    kind, ``compare_bits`` the number the transcript's bits are compared with (the same
    for one-way bounds; D minus the announcement for the two-way value)."""

    problem: str
    kind: str
    bits: float | None
    compare_bits: float | None
    formula: str
    citation: str
    applies: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "kind": self.kind, "bits": _num(self.bits),
                "compare_bits": _num(self.compare_bits), "formula": self.formula,
                "citation": self.citation, "applies": self.applies, "why": self.why}


def _num(v: float | None) -> Any:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _pick(bounds: list[KnownBound], kind: BoundKind) -> KnownBound | None:
    cands = [b for b in bounds if b.kind is kind and b.lower and b.value is not None and not b.asymptotic]
    if not cands:
        return None
    return max(cands, key=lambda b: (b.exact, b.value))


def lower_bounds_for(problem: Problem, senders: set[Owner], rounds: int) -> list[BoundEntry]:
    """The deterministic bounds of ``problem`` next to a transcript whose messages come from
    ``senders``: the one-way values in both directions and the two-way value, each with
    whether it applies and why."""
    label = problem_label(problem)
    bounds = problem.bounds()
    out: list[BoundEntry] = []
    announce = max(1, math.ceil(math.log2(max(2, int(getattr(problem, "num_outputs", 2))))))
    for kind, short, direction, sender in ((BoundKind.ONE_WAY_AB, "one-way A->B", "Alice → Bob", ALICE),
                                           (BoundKind.ONE_WAY_BA, "one-way B->A", "Bob → Alice", BOB)):
        b = _pick(bounds, kind)
        if b is None:
            continue
        applies = senders <= {sender}
        receiver = "Bob" if sender is ALICE else "Alice"
        if not senders:
            why = "no message crosses: a silent protocol is one-way both ways"
        elif applies:
            why = f"every message goes {direction}; {receiver} outputs, as D→ assumes"
        else:
            why = f"not one-way {direction}"
        out.append(BoundEntry(label, short, b.value, b.value, b.formula, b.citation, applies, why))
    det = _pick(bounds, BoundKind.DETERMINISTIC)
    if det is not None:
        cmp = max(0.0, float(det.value) - announce)
        what = "1 bit" if announce == 1 else f"{announce} bits"
        out.append(BoundEntry(
            label, "two-way", det.value, cmp, f"D = {det.formula}", det.citation, True,
            f"always; D counts announcing the answer ({what}), which is never sent here: D − {announce}"))
    for b in bounds:
        if b.kind is BoundKind.K_ROUND and b.value is not None and b.lower:
            out.append(BoundEntry(label, f"{b.rounds or 'k'}-round", b.value, None, b.formula, b.citation, False,
                                  "round-limited bounds depend on who speaks first; shown for reference"))
    return out


def _chosen(entries: list[BoundEntry]) -> BoundEntry | None:
    usable = [e for e in entries if e.applies and e.compare_bits is not None]
    if not usable:
        return None
    # the largest applicable bound; on a tie prefer the one-way statement (the papers' form)
    return max(usable, key=lambda e: (e.compare_bits, e.kind.startswith("one-way")))


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TrialSummary:
    """K random instances: how many the model got wrong; all were verified against the
    forward pass (a mismatch would have raised :class:`EngineError`)."""

    count: int
    errors: int
    verified: int
    bits_min: int
    bits_max: int
    first_error: dict[str, Any] | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


@dataclass(eq=False)
class SimulationResult:
    """Everything one simulation produced; :meth:`to_json` gives the CLI's ``--json``."""

    setup: TaskSetup
    built: BuiltModel
    instance: Instance
    split: Any
    transcript: Any
    model_output: Any
    output: Any
    expected: Any
    correct: bool | None
    seed: int
    x: Any = None
    y: Any = None
    lower_bounds: list[BoundEntry] = field(default_factory=list)
    trials: TrialSummary | None = None
    effective_bits: Any = None
    conclusion: str = ""

    @property
    def lower_bound(self) -> BoundEntry | None:
        return _chosen(self.lower_bounds)

    @property
    def model(self) -> Any:
        return self.built.model

    @property
    def total_bits(self) -> int:
        return int(self.transcript.total_bits)

    @property
    def protocol_matches_forward(self) -> bool:
        return bool(self.transcript.meta.get("protocol_matches_forward", False))

    def to_json(self) -> dict[str, Any]:
        tr = self.transcript
        lb = self.lower_bound
        params: dict[str, Any] = {k: v for k, v in self.built.model.config.items()
                                  if isinstance(v, (int, float, str, bool)) or v is None}
        params.update({"weights": self.built.source, "note": self.built.note,
                       "num_params": int(self.built.model.num_params())})
        out: dict[str, Any] = {
            "task": self.setup.task_name or self.setup.task.name,
            "model": self.built.family,
            "reduction": None if self.setup.reduction is None else self.setup.reduction.name,
            "problem": None if self.setup.problem is None else problem_label(self.setup.problem),
            "n": self.setup.n,
            "seed": self.seed,
            "params": params,
            "precision": self.built.precision.to_json(),
            "split": self.split.to_json(),
            "messages": [
                {"round": m.round, "sender": m.sender.name.lower(), "receiver": m.receiver.name.lower(),
                 "label": m.label, "values": {k: np.asarray(v).tolist() for k, v in m.values().items()},
                 "bits": m.bits}
                for m in tr.messages
            ],
            "total_bits": tr.total_bits,
            "bits_alice_to_bob": tr.bits_alice_to_bob,
            "bits_bob_to_alice": tr.bits_bob_to_alice,
            "rounds": tr.rounds,
            "output": _plain(self.output),
            "expected": _plain(self.expected),
            "correct": self.correct,
            "protocol_matches_forward": self.protocol_matches_forward,
            "lower_bound": None if lb is None else {"problem": lb.problem,
                                                    "kind": lb.kind if lb.kind != "two-way" else "two-way minus announcement",
                                                    "bits": _num(lb.compare_bits), "citation": lb.citation},
            "lower_bounds": [e.to_json() for e in self.lower_bounds],
            "conclusion": self.conclusion,
        }
        if self.trials is not None:
            out["trials"] = self.trials.count
            out["errors"] = self.trials.errors
        if self.effective_bits is not None:
            out["effective_bits"] = self.effective_bits
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------------------- running
def _split_for(setup: TaskSetup, instance: Instance, split: Any) -> Any:
    from .protocol.core import Split

    if isinstance(split, Split):
        if len(split) != len(instance):
            raise InvalidInputError(f"split has {len(split)} owners for {len(instance)} tokens")
        return split
    spec = split if split not in (None, "") else "reduction"
    if spec == "reduction" and setup.reduction is None:
        spec = setup.default_split
    return Split.parse(spec, instance)


def split_breaks_reduction(reduction_owner: np.ndarray, split_owner: np.ndarray) -> str:
    """Why a split is not a protocol split for the reduction's problem ("" when it is).

    A transcript bounds f(x, y) only if each party sees no more than its reduction role
    allows: split-Alice positions must be the reduction's ALICE or PUBLIC tokens, split-Bob
    positions BOB or PUBLIC, and split-PUBLIC positions PUBLIC (a PUBLIC token is known to
    both)."""
    red = np.asarray(reduction_owner, dtype=np.int8)
    spl = np.asarray(split_owner, dtype=np.int8)
    for who, name in ((ALICE, "Alice"), (BOB, "Bob")):
        bad = np.flatnonzero((spl == who) & (red == who.other))
        if bad.size:
            return (f"the split gives {name} position {int(bad[0])}, which the reduction gives "
                    f"{who.other.name.capitalize()}: not a protocol for the problem, no bound applies")
    bad = np.flatnonzero((spl == PUBLIC) & (red != PUBLIC))
    if bad.size:
        return (f"the split makes position {int(bad[0])} PUBLIC, which depends on "
                f"{Owner(int(red[bad[0]])).name.capitalize()}'s input: not a protocol for the problem, "
                "no bound applies")
    return ""


def check_split(setup: TaskSetup, split: Any) -> None:
    """Refuse a malformed split spec early (before building a model)."""
    from .protocol.core import Split

    if split is None or isinstance(split, Split):
        return
    _split_for(setup, setup.example_instance(), split)


def _make_instance(setup: TaskSetup, x: Any, y: Any, rng: np.random.Generator) -> tuple[Instance, Any, Any, Any]:
    """(instance, x, y, expected answer)."""
    if setup.reduction is None:
        if x is not None or y is not None:
            raise InvalidInputError(f"task {setup.task_name} has no reduction: x and y do not apply")
        tokens = setup.task.generate(rng, setup.n)
        inst = Instance(tokens, _prefix_owner(len(tokens), len(tokens) // 2))
        return inst, None, None, setup.task.solve(tokens)
    problem = setup.problem
    if x is None or y is None:
        sx, sy = sample_inputs(problem, rng)
        x = sx if x is None else x
        y = sy if y is None else y
    x = np.asarray(x, dtype=np.int64).reshape(-1)
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    inst = setup.reduction.encode(x, y)
    expected = int(np.asarray(problem.evaluate(x, y)).reshape(-1)[0])
    return inst, x, y, expected


def _expected_at(setup: TaskSetup, model: Any, tokens: Any, expected: Any) -> Any:
    """For a task without a reduction, the truth at the positions the model reads (a
    per-position task answers at every position; a model reads some of them)."""
    if setup.reduction is not None:
        return expected
    arr = np.asarray(expected)
    length = len(tokens)
    if arr.ndim >= 1 and arr.shape[0] == length:
        if hasattr(model, "output_positions"):
            pos = np.asarray(model.output_positions(length), dtype=np.int64)
        else:
            pos = np.asarray(model.config.get("output_positions", [-1]), dtype=np.int64) % length
        sel = arr[pos]
        return sel[0].item() if sel.shape[0] == 1 and sel.ndim == 1 else (sel[0] if sel.shape[0] == 1 else sel)
    return expected


def token_encoder(task_name: str, family: str) -> Any:
    """The function that turns a task's multi-field tokens (qSA, qSTR: structured arrays
    of real and integer fields) into the integer token ids of the (task, family)
    construction — its module's ``token_ids(model, tokens)`` — or None."""
    import importlib

    from .models.constructions import CONSTRUCTIONS, has_construction

    if not has_construction(task_name, family):
        return None
    module = importlib.import_module(f"{__package__}.models.constructions."
                                     f"{CONSTRUCTIONS[(task_name, family)].split(':')[0]}")
    return getattr(module, "token_ids", None)


def model_tokens(task_name: str, model: Any, tokens: Any) -> np.ndarray:
    """The token ids ``model`` reads for ``tokens``: the tokens themselves, or for
    multi-field tokens their encoding by the construction's ``token_ids`` (the encoding
    is token-wise, so every position keeps its owner)."""
    arr = np.asarray(tokens)
    if arr.dtype.names is None:
        return arr
    encode = token_encoder(task_name, model.family)
    if encode is None:
        raise InvalidInputError(f"task {task_name} has multi-field tokens and the {model.family} model has no "
                                "token encoder (only constructions that define token_ids can read them)")
    ids = np.asarray(encode(model, arr))
    if ids.shape != (len(arr),):
        raise EngineError(f"{task_name} token encoder returned shape {ids.shape} for {len(arr)} tokens")
    return ids


def _answer(setup: TaskSetup, decision: Any) -> Any:
    """The model's decision mapped back to the problem's answer (None when the reduction
    cannot decode it, e.g. a random model's out-of-range symbol)."""
    if setup.reduction is None:
        return decision
    try:
        return int(setup.reduction.decode(decision))
    except (InvalidInputError, ValueError, IndexError, TypeError):
        return None


_VECTOR_TOLERANCE = 0.125


def _vector_tolerance(model: Any) -> float:
    """Real-valued answers (qSA, qSTR) are correct within the construction's stated error
    bound when it gives one, else within 1/8."""
    info = getattr(model, "config", {}).get("construction")
    if isinstance(info, dict):
        for key in ("error_bound", "epsilon"):
            if isinstance(info.get(key), (int, float)) and info[key] > 0:
                return float(info[key]) * (1 + 1e-9)
    return _VECTOR_TOLERANCE


def _is_correct(output: Any, expected: Any, tolerance: float = _VECTOR_TOLERANCE) -> bool | None:
    if output is None:
        return False
    out = np.asarray(output)
    exp = np.asarray(expected)
    if out.dtype.kind == "f" or exp.dtype.kind == "f":
        if out.size != exp.size:
            return False
        return bool(np.max(np.abs(out.astype(float).reshape(-1) - exp.astype(float).reshape(-1))) <= tolerance)
    return bool(np.array_equal(out, exp))


def simulate_instance(setup: TaskSetup, built: BuiltModel, *, x: Any = None, y: Any = None,
                      seed: int = 0, rng: np.random.Generator | None = None, split: Any = None,
                      verify: bool = True, effective: bool = True) -> SimulationResult:
    """Run ``built.model`` on one instance of ``setup`` as a protocol.

    (x, y) default to a random pair drawn with ``rng`` (or ``seed``); ``split`` is a
    :class:`~commlb.protocol.core.Split` or a spec for :meth:`Split.parse` (``"reduction"``,
    ``"prefix:K"``, ``"interleave"``, letters A/B/P).  The protocol is verified against
    the forward pass (``verify``); the result lists the bounds next to the transcript."""
    from .protocol import simulate

    rng = np.random.default_rng([int(seed), 2]) if rng is None else rng
    inst, x, y, expected = _make_instance(setup, x, y, rng)
    expected = _expected_at(setup, built.model, inst.tokens, expected)
    sp = _split_for(setup, inst, split)
    ids = model_tokens(setup.task_name or setup.task.name, built.model, inst.tokens)
    transcript, out = simulate(built.model, ids, sp, verify=verify)
    output = _answer(setup, out.decision)
    correct = _is_correct(output, expected, _vector_tolerance(built.model))
    entries: list[BoundEntry] = []
    if setup.problem is not None:
        entries = lower_bounds_for(setup.problem, {m.sender for m in transcript.messages}, transcript.rounds)
        broken = split_breaks_reduction(inst.owner, sp.owner)
        if broken:
            entries = [BoundEntry(e.problem, e.kind, e.bits, e.compare_bits, e.formula, e.citation, False, broken)
                       for e in entries]
    result = SimulationResult(setup, built, inst, sp, transcript, out, output, expected, correct, int(seed),
                              x, y, entries)
    if effective:
        result.effective_bits = _effective_bits_hook(setup, built, sp)
    result.conclusion = conclusion(result)
    return result


def _effective_bits_hook(setup: TaskSetup, built: BuiltModel, split: Any) -> Any:
    # ----------------------------------------------------------------------------------
    # HOOK (issue 5, item 5): effective bits = log2 of the number of distinct messages
    # Alice's side can produce over her whole input space, provided by
    # ``commlb.witness.effective_bits(reduction, model, split)``.  This module does not
    # search itself; it calls the hook when it exists and Alice has at most 2^16 inputs.
    # ----------------------------------------------------------------------------------
    if setup.reduction is None or setup.problem is None:
        return None
    try:
        from .witness import effective_bits  # type: ignore[attr-defined]
    except ImportError:
        return None
    if int(setup.problem.x_space.size) > 1 << 16:
        return None
    # the plain backend: at up to 2^16 inputs it answers in seconds, while the compiled
    # one was measured at ~50 s per call at 2^16 (compilation dominates one-off calls)
    value = effective_bits(setup.reduction, built.model, split, backend="python")
    return value.to_json() if hasattr(value, "to_json") else _plain(value)


def run_trials(setup: TaskSetup, built: BuiltModel, count: int, *, seed: int = 0, split: Any = None) -> TrialSummary:
    """``count`` random instances (problem inputs through the reduction, or generated
    task instances), each run as a protocol and verified against the forward pass."""
    from .protocol import simulate

    if isinstance(count, bool) or int(count) < 0:
        raise InvalidInputError(f"--trials must be >= 0, got {count}")
    rng = np.random.default_rng([int(seed), 3])
    errors = verified = 0
    bits: list[int] = []
    first: dict[str, Any] | None = None
    for trial in range(int(count)):
        inst, x, y, expected = _make_instance(setup, None, None, rng)
        expected = _expected_at(setup, built.model, inst.tokens, expected)
        sp = _split_for(setup, inst, split)
        ids = model_tokens(setup.task_name or setup.task.name, built.model, inst.tokens)
        transcript, out = simulate(built.model, ids, sp, verify=True)
        if not transcript.meta.get("protocol_matches_forward", False):
            raise EngineError("a trial's protocol was not verified against the forward pass")
        verified += 1
        bits.append(transcript.total_bits)
        output = _answer(setup, out.decision)
        if not _is_correct(output, expected, _vector_tolerance(built.model)):
            errors += 1
            if first is None:
                first = {"trial": trial, "x": _plain(x), "y": _plain(y), "output": _plain(output),
                         "expected": _plain(expected)}
    return TrialSummary(int(count), errors, verified, min(bits, default=0), max(bits, default=0), first)


def run(task: str, model: str, n: int | None = None, *, reduction: str | None = None,
        task_options: Mapping[str, Any] | None = None, hidden: int | None = None, layers: int | None = None,
        heads: int | None = None, width: int | None = None, precision: int | None = None,
        arith: str = "fixed", weights: str | None = None, split: Any = None, seed: int = 0,
        trials: int = 0, x: Any = None, y: Any = None, effective: bool = True) -> SimulationResult:
    """Resolve the task, build the model, simulate one instance and, with ``trials`` > 0,
    K more random instances."""
    setup = resolve_task(task, n, reduction=reduction, **dict(task_options or {}))
    check_split(setup, split)
    built = build_model(setup, model, hidden=hidden, layers=layers, heads=heads, width=width,
                        precision=precision, arith=arith, weights=weights, seed=seed)
    result = simulate_instance(setup, built, x=x, y=y, seed=seed, split=split, effective=effective)
    if trials:
        result.trials = run_trials(setup, built, trials, seed=seed, split=split)
        result.conclusion = conclusion(result)
    return result


# ------------------------------------------------------------------------------- prose
def model_cost_phrase(built: BuiltModel, transcript: Any) -> str:
    """What the model sends, in the papers' terms ("this RNN sends d·p = 64 bits one way")."""
    model = built.model
    p = built.precision.bits
    bits = transcript.total_bits
    handoffs = len(transcript.messages)
    if built.family == "rnn":
        cfg = model.config
        d = cfg.get("hidden", cfg.get("hidden_size"))
        L = int(cfg.get("layers", 1))
        if d is not None:
            per = (f"d·p = {d}·{p}" if L == 1 else f"L·d·p = {L}·{d}·{p}") + f" = {L * int(d) * p}"
            if handoffs <= 1:
                return f"this RNN sends {per} bits" + (" one way" if handoffs else " (no handoff)")
            return f"this RNN sends {per} bits at each of {handoffs} handoffs, {bits} bits in all"
        return f"this RNN sends {bits} bits"
    if built.family == "transformer":
        return (f"this {model.layers}-layer, {model.heads}-head transformer (width {model.width}, p = {p}) "
                f"sends {bits} bits in {handoffs} message{'s' if handoffs != 1 else ''}")
    return f"this FFN sends {bits} bits (Alice's first-layer pre-activations)"


def conclusion(result: SimulationResult) -> str:
    """The bound as the papers state it, for this run."""
    setup, tr = result.setup, result.transcript
    task_name = setup.task_name or setup.task.name
    family = {"rnn": "RNN", "transformer": "transformer", "ffn": "FFN"}[result.built.family]
    cost = model_cost_phrase(result.built, tr)
    if setup.problem is None:
        return f"{cost}; task {task_name} has no reduction from a communication problem, so no lower bound is stated"
    lb = result.lower_bound
    if lb is None:
        broken = split_breaks_reduction(result.instance.owner, result.split.owner)
        if broken:
            return f"{cost}; {broken.replace(': not', ', so this is not', 1)}"
        return f"{cost}; {problem_label(setup.problem)} has no exact deterministic bound to compare with"
    need = _num(lb.compare_bits)
    label = lb.problem
    bits = tr.total_bits
    if lb.kind.startswith("one-way"):
        alice = lb.kind == "one-way A->B"
        space = setup.problem.x_space if alice else setup.problem.y_space
        rows = "rows" if alice else "columns"
        if float(space.bits) == float(lb.compare_bits):
            why = f"a one-way protocol for {label} must tell apart all 2^{need} {rows} of its matrix, so it needs {need} bits"
        else:
            why = (f"a one-way protocol for {label} must tell apart the distinct {rows} of its matrix "
                   f"({lb.formula}), so it needs {need} bits")
        size = _size_symbol(result)
    else:
        why = (f"an interactive protocol for {label} needs D = {_num(lb.bits)} bits when both parties learn "
               f"the answer, so {need} bits without the announcement")
        size = f"a protocol of fewer than {need} bits on this split"
    if bits >= lb.compare_bits:
        if not size.endswith("·p"):
            text = f"{cost}; {why}, and no {family} with {size} solves {task_name} at n = {setup.n} on every input"
        else:
            text = f"{cost}; {why}, and no {family} with {size} < {need} solves {task_name} at n = {setup.n} on every input"
    else:
        text = (f"{cost}; {why}: this {family} sends only {bits}, so it answers some input of {task_name} "
                f"at n = {setup.n} wrongly (commlb witness finds one)")
    wrong = result.correct is False or (result.trials is not None and result.trials.errors > 0)
    if wrong and bits >= lb.compare_bits:
        text += (f" (this {family} answers wrongly here, so it is not a solver: the bound speaks of models "
                 "correct on every input)")
    if result.trials is not None:
        t = result.trials
        text += f". Trials: {t.errors} errors in {t.count} ({100 * t.error_rate:.1f}%)"
    return text


def _size_symbol(result: SimulationResult) -> str:
    fam = result.built.family
    if fam == "rnn":
        L = int(result.built.model.config.get("layers", 1))
        return "d·p" if L == 1 else "L·d·p"
    if fam == "transformer":
        return "a one-way message shorter than that"
    return "a first-layer message shorter than that"
