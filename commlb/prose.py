"""The conclusion of a simulation in words, as the papers state their bounds.

:func:`conclusion` reads a finished :class:`commlb.simulate.SimulationResult` (the
transcript, the bound chosen by :mod:`commlb.bounds.applicable`, the trials) and says what
follows: which protocol size the bound rules out, or that a model sending fewer bits
answers some input wrongly.  :func:`model_cost_phrase` says what a model sends ("this
RNN sends d·p = 64 bits one way").  Text only: nothing here computes a bound.
"""

from __future__ import annotations

from typing import Any, Protocol

from .bounds.applicable import BoundEntry, plain_number, split_breaks_reduction

__all__ = ["conclusion", "model_cost_phrase", "FAMILY_NAMES"]

#: how the prose names a model family
FAMILY_NAMES = {"rnn": "RNN", "transformer": "transformer", "ffn": "FFN"}


class ResultShape(Protocol):
    """What the prose reads of a result (:class:`commlb.simulate.SimulationResult`)."""

    setup: Any
    built: Any
    instance: Any
    split: Any
    transcript: Any
    correct: bool | None
    trials: Any

    @property
    def lower_bound(self) -> BoundEntry | None: ...


def model_cost_phrase(built: Any, transcript: Any) -> str:
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
    if built.family == "ffn":
        return f"this FFN sends {bits} bits (Alice's first-layer pre-activations)"
    return f"this {built.family} model sends {bits} bits in {handoffs} message{'s' if handoffs != 1 else ''}"


def conclusion(result: ResultShape) -> str:
    """The bound as the papers state it, for this run."""
    setup, tr = result.setup, result.transcript
    task_name = setup.task_name or setup.task.name
    family = FAMILY_NAMES.get(result.built.family, f"{result.built.family} model")
    cost = model_cost_phrase(result.built, tr)
    if setup.problem is None:
        return f"{cost}; task {task_name} has no reduction from a communication problem, so no lower bound is stated"
    lb = result.lower_bound
    if lb is None:
        broken = split_breaks_reduction(result.instance.owner, result.split.owner)
        if broken:
            return f"{cost}; {broken.replace(': not', ', so this is not', 1)}"
        return f"{cost}; {setup.problem.label()} has no exact deterministic bound to compare with"
    need = plain_number(lb.compare_bits)
    label = lb.problem
    bits = tr.total_bits
    if lb.kind.startswith("one-way"):
        alice = lb.kind == "one-way A->B"
        space = setup.problem.x_space if alice else setup.problem.y_space
        rows = "rows" if alice else "columns"
        if lb.compare_bits is not None and float(space.bits) == float(lb.compare_bits):
            why = (f"a one-way protocol for {label} must tell apart all 2^{need} {rows} of its matrix, "
                   f"so it needs {need} bits")
        else:
            why = (f"a one-way protocol for {label} must tell apart the distinct {rows} of its matrix "
                   f"({lb.formula}), so it needs {need} bits")
        size = _size_symbol(result)
    else:
        why = (f"an interactive protocol for {label} needs D = {plain_number(lb.bits)} bits when both parties learn "
               f"the answer, so {need} bits without the announcement")
        size = f"a protocol of fewer than {need} bits on this split"
    if bits >= lb.compare_bits:
        if not size.endswith("·p"):
            text = f"{cost}; {why}, and no {family} with {size} solves {task_name} at n = {setup.n} on every input"
        else:
            text = (f"{cost}; {why}, and no {family} with {size} < {need} solves {task_name} at n = {setup.n} "
                    "on every input")
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


def _size_symbol(result: ResultShape) -> str:
    fam = result.built.family
    if fam == "rnn":
        L = int(result.built.model.config.get("layers", 1))
        return "d·p" if L == 1 else "L·d·p"
    if fam == "transformer":
        return "a one-way message shorter than that"
    if fam == "ffn":
        return "a first-layer message shorter than that"
    return "messages shorter than that"
