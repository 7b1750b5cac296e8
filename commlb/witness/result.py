"""What a witness search or an effective-bits count reports (``to_json`` gives the
CLI's ``--json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..display import shown

__all__ = ["WitnessResult", "EffectiveBits"]


@shown("effective-bits")
@dataclass(frozen=True)
class EffectiveBits:
    """log2 #distinct messages over all of Alice's inputs, next to the nominal message
    size and the one-way bound.  ``applicable`` is False (with ``note``) when the
    protocol on this split is not one-way or the count cannot be made."""

    applicable: bool
    distinct_messages: int | None = None
    effective_bits: float | None = None
    nominal_bits: int | None = None
    one_way_bound: float | None = None
    inputs: int | None = None
    exact: bool = True
    note: str = ""
    source: str = ""
    seconds: float = 0.0

    @property
    def meets_bound(self) -> bool | None:
        if self.effective_bits is None or self.one_way_bound is None:
            return None
        return bool(self.effective_bits >= self.one_way_bound - 1e-9)

    def to_json(self) -> dict[str, Any]:
        return {
            "applicable": self.applicable,
            "distinct_messages": self.distinct_messages,
            "effective_bits": self.effective_bits,
            "nominal_bits": self.nominal_bits,
            "one_way_bound": self.one_way_bound,
            "meets_one_way_bound": self.meets_bound,
            "inputs": self.inputs,
            "exact": self.exact,
            "source": self.source,
            "note": self.note,
            "seconds": round(self.seconds, 4),
        }


@shown("witness")
@dataclass
class WitnessResult:
    """The outcome of a witness search (:meth:`to_json` is ``commlb witness --json``).

    When ``found``: ``alice_inputs`` = (x, x') with bit-identical messages, ``bob_input``
    = y with f(x, y) ≠ f(x', y), ``outputs`` the model's answers on both full inputs
    (plain forward pass), ``expected`` the true answers, ``wrong_on`` which of "x", "x'"
    the model gets wrong (at least one, since the answers are equal)."""

    found: bool
    task: str
    model: str
    problem: str
    n: int
    message_bits: int
    one_way_bound: float | None
    inputs_enumerated: int
    exhaustive: bool
    distinct_messages: int
    alice_inputs: tuple[list[int], list[int]] | None = None
    bob_input: list[int] | None = None
    outputs: list[Any] | None = None
    output_values: list[Any] | None = None
    expected: list[int] | None = None
    wrong_on: list[str] | None = None
    sequences: list[list[int]] | None = None
    owners: list[int] | None = None
    message: dict[str, Any] | None = None
    messages_identical: bool | None = None
    outputs_identical: bool | None = None
    effective_bits: float | None = None
    total_inputs: int = 0
    collisions_seen: int = 0
    source: str = ""
    seconds: float = 0.0
    note: str = ""
    vocab_names: list[str] | None = None
    model_note: str = ""
    reduction: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {
            "found": self.found,
            "task": self.task,
            "model": self.model,
            "reduction": self.reduction,
            "problem": self.problem,
            "n": self.n,
            "alice_inputs": None if self.alice_inputs is None else [list(self.alice_inputs[0]),
                                                                    list(self.alice_inputs[1])],
            "bob_input": self.bob_input,
            "message_bits": self.message_bits,
            "nominal_bits": self.message_bits,
            "outputs": self.outputs,
            "output_values": self.output_values,
            "expected": self.expected,
            "wrong_on": self.wrong_on,
            "inputs_enumerated": self.inputs_enumerated,
            "total_inputs": self.total_inputs,
            "exhaustive": self.exhaustive,
            "distinct_messages": self.distinct_messages,
            "effective_bits": self.effective_bits,
            "one_way_bound": self.one_way_bound,
            "sequences": self.sequences,
            "owners": self.owners,
            "message": self.message,
            "messages_identical": self.messages_identical,
            "outputs_identical": self.outputs_identical,
            "collisions_seen": self.collisions_seen,
            "source": self.source,
            "seconds": round(self.seconds, 4),
            "note": self.note,
            "model_note": self.model_note,
        }
        return out
