"""Running one walk-through: :func:`explain` resolves the task, builds the model, runs
the instance as a protocol and assembles the steps from the numbers of that run."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from .error import ERROR_PROBLEMS, _step_error, error_bound, parse_error
from .explanation import Explanation, _jsonable
from .steps import _step_conclusion, _step_inequality, _step_problem, _step_protocol, _step_reduction
from .texts import refusal


def explain(task: str, model: str, n: int | None = None, *, seed: int = 0,
            task_options: dict[str, Any] | None = None, model_options: dict[str, Any] | None = None,
            error: Any = None) -> Explanation:
    """The five-step walk-through of ``task`` with a ``model`` family at a small ``n``
    (default: the reduction's example size).  Raises :class:`InvalidInputError` (one line)
    for a pair it refuses: a task without a reduction, or a family that cannot read the
    task's tokens.  With ``error`` (ε, e.g. ``"0.01"``) a sixth step states the bound
    that a model right on a 1 − ε share of uniform inputs still obeys (problems with one:
    :data:`ERROR_PROBLEMS`)."""
    from ..models.base import MODEL_FAMILIES
    from ..models.build import model_tokens
    from ..registry import reduction_factory
    from ..setup import TASK_DEFAULTS, resolve_task
    from ..simulate import simulate_instance

    family = str(model).lower()
    options = dict(task_options or {})
    if n is None and task in TASK_DEFAULTS and TASK_DEFAULTS[task].reduction and "q" not in options:
        # a classroom-sized instance: the reduction's own example size
        red_name = str(options.get("reduction") or TASK_DEFAULTS[task].reduction)
        n = int(getattr(reduction_factory(red_name), "example_params", {}).get("n", 6))
    setup = resolve_task(task, n=n, **options)
    task_name = setup.task_name or setup.task.name
    if family not in ("rnn", "transformer", "ffn"):
        if family in MODEL_FAMILIES or ":" in family:
            raise InvalidInputError(f"explain walks through the built-in families (rnn, transformer, ffn); the "
                                    f"{model} family runs in simulate, witness and sweep")
        raise InvalidInputError(f"unknown model family {family!r}; choose one of {', '.join(MODEL_FAMILIES)}")
    why_not = refusal(task_name, family, setup)
    if why_not:
        raise InvalidInputError(why_not)
    reduction, problem = setup.reduction, setup.problem
    assert reduction is not None and problem is not None  # refusal() refused tasks without one
    eps = None
    if error is not None:
        eps = parse_error(error)
        if problem.name not in ERROR_PROBLEMS:
            raise InvalidInputError(f"explain --error: no error-tolerant bound for {problem.name} (the "
                                    f"reduction's problem) in explain; available: {', '.join(ERROR_PROBLEMS)}")
    built = _build(setup, family, seed, dict(model_options or {}))
    result = simulate_instance(setup, built, seed=seed, effective=False)
    transcript = result.transcript
    protocol = "simulate"
    standard_bits = None
    if reduction.name == "disj-to-qsa" and family == "transformer":
        from ..protocol.query_vector import query_vector_applies, simulate_query_vector

        if query_vector_applies(built.model, result.split) is None:
            ids = model_tokens(task_name, built.model, result.instance.tokens)
            qv, out = simulate_query_vector(built.model, ids, result.split)
            if reduction.decode(out.decision) != reduction.decode(result.model_output.decision):
                raise AssertionError("the query-vector protocol and simulate disagree")
            standard_bits = transcript.total_bits
            transcript, protocol = qv, "query-vector"
    data = _run_data(setup, built, result, transcript)
    data["protocol"] = protocol
    data["standard_protocol_bits"] = standard_bits
    tokens = result.instance.tokens
    owner = result.split.owner
    names = reduction.task.vocab_names()  # None for a task without printable names
    basis = built.source
    steps = [
        _step_problem(problem, data, family),
        _step_reduction(reduction, data, tokens, owner, names),
        _step_protocol(family, built, data),
        _step_inequality(family, built, data, problem),
        _step_conclusion(reduction, family, built, data, task_name),
    ]
    if eps is not None:
        steps.append(_step_error(error_bound(problem.name, int(problem.n), eps), data, built))
    walked = result
    if protocol != "simulate":  # the run as walked through: the query-vector transcript and its bounds
        import dataclasses

        from ..bounds.applicable import lower_bounds_for

        entries = lower_bounds_for(problem, {m.sender for m in transcript.messages}, transcript.rounds)
        walked = dataclasses.replace(result, transcript=transcript, lower_bounds=entries)
    return Explanation(task=task_name, model=family, n=int(setup.n), reduction=reduction.name,
                       problem=problem.name, steps=steps, simulation=data, tokens=tokens, owner=owner,
                       vocab_names=names, basis=basis, protocol=protocol, result=walked)


def _build(setup: Any, family: str, seed: int, options: dict[str, Any]) -> Any:
    """The model: the construction, or random weights when there is none or when it does
    not come in the sizes asked for (``weights``: ``"construction"`` or ``"random"`` to
    insist)."""
    from ..witness import witness_model

    weights = options.pop("weights", None)
    if weights not in (None, "construction", "random"):
        raise InvalidInputError(f"explain --weights must be construction or random, got {weights!r}")
    built, _ = witness_model(setup, family, weights=weights, seed=seed, **options)
    return built


def _run_data(setup: Any, built: Any, result: Any, transcript: Any) -> dict[str, Any]:
    """The numbers of the run the text is written from (the transcript actually walked
    through, which for the query-vector protocol is not ``result.transcript``)."""
    from ..bounds.applicable import lower_bounds_for

    entries = lower_bounds_for(setup.problem, {m.sender for m in transcript.messages}, transcript.rounds)
    applicable = [e for e in entries if e.applies and e.compare_bits is not None]
    best = max(applicable, key=lambda e: float(e.compare_bits or 0)) if applicable else None
    base = result.to_json()
    return {
        "task": base.get("task"), "model": base.get("model"), "reduction": base.get("reduction"),
        "problem": base.get("problem"), "n": base.get("n"), "seed": base.get("seed"),
        "params": built.model.num_params(), "precision": built.precision.bits,
        "x": _jsonable(result.x), "y": _jsonable(result.y),
        "messages": [_message_json(m) for m in transcript.messages],
        "total_bits": transcript.total_bits, "rounds": transcript.rounds,
        "bits_alice_to_bob": transcript.bits_alice_to_bob, "bits_bob_to_alice": transcript.bits_bob_to_alice,
        "output": base.get("output"), "expected": base.get("expected"), "correct": base.get("correct"),
        "protocol_matches_forward": bool(transcript.meta.get("protocol_matches_forward", False)),
        "lower_bound": None if best is None else best.to_json(),
        "lower_bounds": [e.to_json() for e in entries],
        "shape_bits": _shape_bits(built, result, transcript),
    }


def _shape_bits(built: Any, result: Any, transcript: Any) -> int:
    """Bits that every model of this shape sends on this split: the transcript itself for
    RNNs and transformers (message sizes are functions of the shape), the uniform
    accumulator bound for FFNs (whose exact widths follow the weights' range)."""
    if built.family == "ffn":
        return int(transcript.meta.get("uniform_bound_bits", transcript.total_bits))
    return int(transcript.total_bits)


def _message_json(m: Any) -> dict[str, Any]:
    return {"round": m.round, "sender": m.sender.name.lower(), "receiver": m.receiver.name.lower(),
            "label": m.label, "bits": m.bits, "note": m.note,
            "fields": [{"name": f.name, "kind": f.kind, "shape": list(f.shape), "width": f.width,
                        "count": f.count} for f in m.fields]}
