"""Run a model on a task instance as a two-party protocol and state the bound that follows.

This is the library side of ``commlb simulate`` (the CLI only parses and renders), and the
public API that the witness search, sweeps and walk-throughs call:

* :func:`commlb.setup.resolve_task` — a task by name, with the reduction that feeds it a
  communication problem and a default size;
* :func:`commlb.models.build.build_model` — the paper construction for (task, family)
  when one exists, else seeded random weights (with a visible note), or weights loaded
  from a ``.npz`` file;
* :func:`simulate_instance` — one instance: tokens from the reduction, the protocol run
  through :func:`commlb.protocol.simulate` (verified against ``model.forward``), the
  answer against the truth, and the lower bounds that apply to the transcript
  (:mod:`commlb.bounds.applicable`), with the conclusion in words (:mod:`commlb.prose`);
* :func:`run_trials` — K random instances, the error count (every one verified);
* :func:`run` — all of the above in one call.

A bound constrains only models that are correct on *every* input: a model whose protocol
sends fewer bits errs somewhere (``commlb witness`` finds where).  The names of the
modules above are importable from here as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .bounds.applicable import (
    BoundEntry,
    chosen_bound,
    lower_bounds_for,
    plain_number,
    split_breaks_reduction,
)
from .core import Instance
from .display import shown
from .errors import EngineError, InvalidInputError
from .models.base import MODEL_FAMILIES
from .models.build import BuiltModel, build_model, model_tokens, token_encoder
from .prose import conclusion, model_cost_phrase
from .setup import (
    TASK_DEFAULTS,
    TaskSetup,
    prefix_owner,
    problem_label,
    resolve_task,
    sample_inputs,
)

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
    "sample_inputs",
    "split_breaks_reduction",
    "check_split",
    "model_tokens",
    "token_encoder",
    "conclusion",
    "model_cost_phrase",
    "VERIFY_MODES",
    "VERIFY_CHECKS",
    "check_verify",
    "check_verify_families",
]


# ------------------------------------------------------------------------------- verification
#: how a run's output is checked (``commlb simulate --verify``, docs/theory.md §3.9):
#: ``forward`` compares it with an independent forward pass (every family); ``replay``
#: recomputes every segment of an RNN run from the message before it;
#: ``all`` runs both; ``messages`` (RNNs) only checks that every message's bits decode to
#: the state its receiver continued from: the bits counted are what crossed, but the
#: output itself is not checked (it rests on the engine's step being the model's)
VERIFY_MODES = ("forward", "replay", "all", "messages")
#: the checks by name, as the transcript's metadata, the JSON and the display name them:
#: every RNN message decodes to the state its receiver continued from (any RNN mode), the
#: segments replayed, the output equal to the forward pass
VERIFY_CHECKS = ("messages_decode_to_handoff_states", "segments_replayed", "protocol_matches_forward")
#: the checks of the output each mode runs (a run is verified when they all passed)
_OUTPUT_CHECKS = {"forward": ("protocol_matches_forward",), "replay": ("segments_replayed",),
                  "all": ("segments_replayed", "protocol_matches_forward"),
                  "messages": ("messages_decode_to_handoff_states",)}


def _mode(verify: bool | str) -> str:
    """The mode of a ``verify`` argument (True is ``forward``)."""
    if verify is True:
        return "forward"
    if not isinstance(verify, str) or verify not in VERIFY_MODES:
        raise InvalidInputError(f"--verify must be one of {', '.join(VERIFY_MODES)}, not {verify!r}")
    return verify


def check_verify(verify: bool | str, model: Any) -> str:
    """Refuse a ``--verify`` mode that does not apply to ``model`` (one line, before any
    run); returns the mode.  The segment replay exists for RNNs only."""
    return check_verify_families(verify, [getattr(model, "family", "?")])


def check_verify_families(verify: bool | str, families: Sequence[str]) -> str:
    """:func:`check_verify` for models of the given families (``commlb sweep --models``):
    the one check of a ``--verify`` value, simulate's and sweep's."""
    mode = _mode(verify)
    other = next((f for f in families if f != "rnn"), None) if mode != "forward" else None
    if other is not None:
        what = "the message decoding check alone" if mode == "messages" else "the segment replay"
        raise InvalidInputError(f"--verify {mode}: {what} is for RNNs; the {other} protocol is "
                                "checked against the forward pass (--verify forward)")
    return mode


def _output_verified(meta: Mapping[str, Any], verify: bool | str) -> bool:
    """Every output check of mode ``verify`` passed (a failing one raises before this)."""
    return all(meta.get(name) is True for name in _OUTPUT_CHECKS[_mode(verify)])


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TrialSummary:
    """K random instances: how many the model got wrong; all were verified by the checks
    ``checks`` names (a failing check would have raised :class:`EngineError`)."""

    count: int
    errors: int
    verified: int
    bits_min: int
    bits_max: int
    first_error: dict[str, Any] | None = None
    #: the trial distribution's name (commlb.bounds.trial_distributions)
    distribution: str = "balanced"
    #: the output checks every trial passed, by name (:data:`VERIFY_CHECKS`)
    checks: tuple[str, ...] = ("protocol_matches_forward",)

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


@shown("simulation")
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
    #: the error-tolerant bound at the trials' upper confidence bound (commlb.bounds.erring)
    error_bound: Any = None
    #: the round-aware bounds next to the transcript (commlb.bounds.rounds), or None
    round_bounds: Any = None

    @property
    def lower_bound(self) -> BoundEntry | None:
        return chosen_bound(self.lower_bounds)

    @property
    def model(self) -> Any:
        return self.built.model

    @property
    def total_bits(self) -> int:
        return int(self.transcript.total_bits)

    @property
    def protocol_matches_forward(self) -> bool:
        """The output was compared with an independent forward pass, and equal."""
        return self.transcript.meta.get("protocol_matches_forward") is True

    @property
    def verification(self) -> dict[str, bool | None]:
        """Each check of :data:`VERIFY_CHECKS` by name: True when it ran (and passed: a
        failing check raises), None when it did not run."""
        meta = self.transcript.meta
        return {name: (True if meta.get(name) is True else None) for name in VERIFY_CHECKS}

    @property
    def verify(self) -> str | None:
        """The mode the output was checked in (:data:`VERIFY_MODES`), None if unchecked."""
        ran = self.verification
        if ran["segments_replayed"]:
            return "all" if ran["protocol_matches_forward"] else "replay"
        if ran["protocol_matches_forward"]:
            return "forward"
        return "messages" if ran["messages_decode_to_handoff_states"] else None

    def to_json(self) -> dict[str, Any]:
        """The run for scripts.  Each message has its raw ``values`` (the integers sent)
        and, added for readers, its ``number``, ``numbers`` (fixed point divided by its
        scale), ``what`` (plain words) and ``read_so_far``; ``instance`` holds x, y, the
        tokens and their owners (:mod:`commlb.transcript_view`)."""
        from .transcript_view import instance_json, message_rows

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
            "problem": None if self.setup.problem is None else self.setup.problem.label(),
            "n": self.setup.n,
            "seed": self.seed,
            "params": params,
            "precision": self.built.precision.to_json(),
            "split": self.split.to_json(),
            "instance": instance_json(self),
            "messages": [
                {"round": m.round, "sender": m.sender.name.lower(), "receiver": m.receiver.name.lower(),
                 "label": m.label, "values": {k: np.asarray(v).tolist() for k, v in m.values().items()},
                 "bits": m.bits, **view}
                for m, view in zip(tr.messages, message_rows(tr.messages, self.split.owner))
            ],
            "total_bits": tr.total_bits,
            "bits_alice_to_bob": tr.bits_alice_to_bob,
            "bits_bob_to_alice": tr.bits_bob_to_alice,
            "rounds": tr.rounds,
            "output": _plain(self.output),
            "expected": _plain(self.expected),
            "correct": self.correct,
            "protocol_matches_forward": self.verification["protocol_matches_forward"],
            "verify": self.verify,
            "verification": self.verification,
            "lower_bound": None if lb is None else {
                "problem": lb.problem,
                "kind": lb.kind if lb.kind != "two-way" else "two-way minus announcement",
                "bits": plain_number(lb.compare_bits), "citation": lb.citation},
            "lower_bounds": [e.to_json() for e in self.lower_bounds],
            "conclusion": self.conclusion,
        }
        if self.trials is not None:
            out["trials"] = self.trials.count
            out["trial_distribution"] = self.trials.distribution
            out["errors"] = self.trials.errors
        if self.error_bound is not None:
            out["error_bound"] = self.error_bound.to_json()
        if self.effective_bits is not None:
            out["effective_bits"] = self.effective_bits
        if self.round_bounds is not None:
            out["round_bounds"] = self.round_bounds.to_json()
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



def check_split(setup: TaskSetup, split: Any) -> None:
    """Refuse a malformed split spec early (before building a model)."""
    from .protocol.core import Split

    if split is None or isinstance(split, Split):
        return
    _split_for(setup, setup.example_instance(), split)


def _make_instance(setup: TaskSetup, x: Any, y: Any, rng: np.random.Generator,
                   sampler: Any = None) -> tuple[Instance, Any, Any, Any]:
    """(instance, x, y, expected answer); ``sampler(problem, rng)`` draws (x, y) when
    given (default :func:`sample_inputs`)."""
    if setup.reduction is None:
        if x is not None or y is not None:
            raise InvalidInputError(f"task {setup.task_name} has no reduction: x and y do not apply")
        tokens = setup.task.generate(rng, setup.n)
        inst = Instance(tokens, prefix_owner(len(tokens), len(tokens) // 2))
        return inst, None, None, setup.task.solve(tokens)
    problem = setup.problem
    if problem is None:
        raise EngineError(f"task set-up {setup.task_name}: a reduction without a problem")
    if x is None or y is None:
        sx, sy = (sampler or sample_inputs)(problem, rng)
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



def _answer(setup: TaskSetup, decision: Any) -> Any:
    """The model's decision mapped back to the problem's answer (None when the reduction
    refuses it with :class:`InvalidInputError`, its way of saying that an output is no
    answer, e.g. a random model's out-of-range symbol; any other error is a bug)."""
    if setup.reduction is None:
        return decision
    try:
        return int(setup.reduction.decode(decision))
    except InvalidInputError:
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
                      verify: bool | str = True, effective: bool = True) -> SimulationResult:
    """Run ``built.model`` on one instance of ``setup`` as a protocol.

    (x, y) default to a random pair drawn with ``rng`` (or ``seed``); ``split`` is a
    :class:`~commlb.protocol.core.Split` or a spec for :meth:`Split.parse` (``"reduction"``,
    ``"prefix:K"``, ``"interleave"``, letters A/B/P).  The protocol's output is verified
    as ``verify`` says (:data:`VERIFY_MODES`; True is ``"forward"``: against the forward
    pass; False: not at all); the result lists the bounds next to the transcript."""
    from .protocol import simulate

    rng = np.random.default_rng([int(seed), 2]) if rng is None else rng
    inst, x, y, expected = _make_instance(setup, x, y, rng)
    expected = _expected_at(setup, built.model, inst.tokens, expected)
    sp = _split_for(setup, inst, split)
    ids = model_tokens(setup.task_name or setup.task.name, built.model, inst.tokens)
    verify = False if verify in (False, "none") else check_verify(verify, built.model)
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
    if setup.problem is not None and not split_breaks_reduction(inst.owner, sp.owner):
        from .bounds.rounds import round_bounds

        result.round_bounds = round_bounds(setup.problem, transcript, erred=correct is False)
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
        from .witness import effective_bits
    except ImportError:
        return None
    if int(setup.problem.x_space.size) > 1 << 16:
        return None
    # the plain backend: at up to 2^16 inputs it answers in seconds, while the compiled
    # one was measured at ~50 s per call at 2^16 (compilation dominates one-off calls)
    value = effective_bits(setup.reduction, built.model, split, backend="python")
    return value.to_json() if hasattr(value, "to_json") else _plain(value)


def run_trials(setup: TaskSetup, built: BuiltModel, count: int, *, seed: int = 0, split: Any = None,
               distribution: str = "balanced", verify: bool | str = True) -> TrialSummary:
    """``count`` random instances (problem inputs through the reduction, drawn from
    ``distribution`` (:mod:`commlb.bounds.trial_distributions`), or generated task
    instances), each run as a protocol and verified as ``verify`` says
    (:data:`VERIFY_MODES`; True: against the forward pass)."""
    from .protocol import simulate

    verify = check_verify(verify, built.model)

    if isinstance(count, bool) or int(count) < 0:
        raise InvalidInputError(f"--trials must be >= 0, got {count}")
    rng = np.random.default_rng([int(seed), 3])
    sampler = None
    if distribution != "balanced":
        from .bounds.trial_distributions import trial_sampler

        sampler = trial_sampler(distribution, setup.problem).sampler
    errors = verified = 0
    bits: list[int] = []
    first: dict[str, Any] | None = None
    for trial in range(int(count)):
        inst, x, y, expected = _make_instance(setup, None, None, rng, sampler)
        expected = _expected_at(setup, built.model, inst.tokens, expected)
        sp = _split_for(setup, inst, split)
        ids = model_tokens(setup.task_name or setup.task.name, built.model, inst.tokens)
        transcript, out = simulate(built.model, ids, sp, verify=verify)
        if not _output_verified(transcript.meta, verify):
            raise EngineError(f"a trial's protocol output was not verified ({verify})")
        verified += 1
        bits.append(transcript.total_bits)
        output = _answer(setup, out.decision)
        if not _is_correct(output, expected, _vector_tolerance(built.model)):
            errors += 1
            if first is None:
                first = {"trial": trial, "x": _plain(x), "y": _plain(y), "output": _plain(output),
                         "expected": _plain(expected)}
    return TrialSummary(int(count), errors, verified, min(bits, default=0), max(bits, default=0), first,
                        distribution, _OUTPUT_CHECKS[verify])


def run(task: Any, model: Any, n: int | None = None, *, reduction: Any = None,
        task_options: Mapping[str, Any] | None = None, hidden: int | None = None, layers: int | None = None,
        heads: int | None = None, width: int | None = None, precision: int | None = None,
        arith: str = "fixed", weights: str | None = None, split: Any = None, seed: int = 0,
        trials: int = 0, x: Any = None, y: Any = None, effective: bool = True,
        verify: str = "forward") -> SimulationResult:
    """Resolve the task, build the model, simulate one instance and, with ``trials`` > 0,
    K more random instances.

    ``task`` and ``reduction`` are names (built in or a plugin's), ``"file.py:ATTR"``
    specs, or the objects themselves (a Task / Reduction instance, class or factory);
    ``task`` may be None when ``reduction`` is given.  ``model`` is a family name or a
    :class:`~commlb.models.base.Model` instance (run as given: its weights, its
    precision).  ``verify``: how each run's output is checked (:data:`VERIFY_MODES`)."""
    setup = resolve_task(task, n, reduction=reduction, **dict(task_options or {}))
    check_split(setup, split)
    from .models.base import Model

    if isinstance(model, Model):
        given = {k: v for k, v in (("hidden", hidden), ("layers", layers), ("heads", heads), ("width", width),
                                   ("precision", precision), ("weights", weights)) if v is not None}
        if given:
            raise InvalidInputError(f"{', '.join(given)}: the model object is run as given (no sizes or weights)")
        built = BuiltModel(model, "object", "the model passed in", model.precision)
    else:
        built = build_model(setup, model, hidden=hidden, layers=layers, heads=heads, width=width,
                            precision=precision, arith=arith, weights=weights, seed=seed)
    result = simulate_instance(setup, built, x=x, y=y, seed=seed, split=split, effective=effective, verify=verify)
    if trials:
        from .bounds.erring import assess_run

        result.trials = run_trials(setup, built, trials, seed=seed, split=split, verify=verify)
        result.error_bound = assess_run(result)
        result.conclusion = conclusion(result)
    return result
