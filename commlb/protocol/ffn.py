"""A feedforward network on the flattened input run as a two-party protocol
(the model class of SHT23 Theorem 10's width bound; docs/theory.md §3.2, §8.10;
docs/design.md §5).  MH25 Theorem 9 is about the same class but is a sample-complexity
result, not a bound on width or bits.

The first layer of an FFN is a linear map of the concatenated token vectors, so its
pre-activation is a sum over positions (:mod:`commlb.models.ffn`, steps 1–3).  Any split
of the positions therefore gives a one-message protocol:

1. **Alice** computes her partial pre-activation A_Alice = Σ_{i ∈ Alice} C[i, tok_i] over
   her own positions (:meth:`FFNModel.partial_preactivation`, the same code path as the
   forward pass and the batched kernel) and sends it — h_1 exact accumulators.
2. **Bob** adds his own part and the PUBLIC positions' part (he computes the PUBLIC part,
   since he finishes), then the bias, rounds once and runs the rest of the network
   (:meth:`FFNModel.finish`).  He outputs the answer; announcing it is not counted.

One message, one round, Alice → Bob.  When one party owns no position there is nothing to
send: if Alice owns none, Bob computes alone; if Bob owns none, Alice does and is the
output party (0 bits, 0 rounds either way).

Bit formula (fixed point, p bits, f fractional; h_1 first-layer units; A = Alice's
positions; C the contribution table, 2f fractional bits):

    bits = h_1 · w_A,   w_A = signed_width(min_j lo_j, max_j hi_j),
    lo_j = Σ_{i ∈ A} min_v C[i, v, j],   hi_j = Σ_{i ∈ A} max_v C[i, v, j]

i.e. the two's-complement width of the exact range Alice's partial sums can take over
every choice of her tokens, given the (public) weights and the (public) split — the
fewest bits one fixed-width field can use.  It never exceeds the uniform bound
``acc_width(p, |A|·k, 2)`` (k = 1 for one-hot input, E for an embedding), which is what a
receiver who knew only p and |A| would have to allow.  Each entry is sent with 2f
fractional bits (field kind ``acc``).

Float mode (p-bit Merrill–Sabharwal floats; docs/theory.md §3.8): the model sums exactly
and rounds once (:mod:`commlb.models.ffn`), so Alice sends her partial sum exactly, as
integers times 2^g on the coarsest grid the public weights allow (g = s + k: s the model's
grid :attr:`FFNModel.acc_shift`, 2^k the largest power of two dividing every entry of
her positions' table, :meth:`FFNModel.table_step`; k is capped so that g <= 0), in the
same formula's width:

    bits = h_1 · signed_width(min_j lo_j / 2^k, max_j hi_j / 2^k)

with lo, hi Alice's exact range in units of 2^s.  The field is an ``acc`` with −g
fractional bits.  It never exceeds the uniform bound h_1 · ``float_acc_width(p, |A|·k', f)``
(k' terms per position as above; f = 1 factor for one-hot input, 2 for an embedding).
Bob adds it to his exact part and rounds once, which is the forward pass's computation.

Verification: in both modes the protocol's read-out must equal ``model.forward`` bit for
bit; a mismatch raises :class:`EngineError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bits import FieldSpec, acc_width, float_acc_width, signed_width
from ..core import ALICE, BOB, Owner
from ..errors import EngineError, InvalidInputError
from ..models.base import ModelOutput
from ..models.ffn import FFNModel
from .core import Channel, PartyView, Split, Transcript, verify_output

__all__ = [
    "simulate_ffn",
    "alice_fields",
    "alice_part",
    "message_bits",
    "uniform_bound_bits",
    "output_party",
    "message_step",
]


def output_party(owner: np.ndarray) -> Owner:
    """Bob, unless he owns no position while Alice owns some (then Alice knows everything)."""
    owner = np.asarray(owner)
    if not np.any(owner == BOB) and np.any(owner == ALICE):
        return ALICE
    return BOB


def _needs_message(owner: np.ndarray) -> bool:
    owner = np.asarray(owner)
    return bool(np.any(owner == ALICE) and np.any(owner == BOB))


def alice_fields(model: FFNModel, alice_positions: np.ndarray) -> list[FieldSpec]:
    """The layout of Alice's message; it depends only on public information (the weights
    and which positions are Alice's)."""
    h1 = model.first_width
    k = message_step(model, alice_positions)
    lo, hi = model.partial_range(alice_positions)
    width = signed_width(int(lo.min()) >> k, int(hi.max()) >> k)
    return [FieldSpec("z_partial", "acc", (h1,), width, -(model.acc_shift + k))]


def message_step(model: FFNModel, alice_positions: np.ndarray) -> int:
    """k: Alice's partial sums are sent in units of 2^(s + k), s = ``model.acc_shift``.
    0 in fixed point (units of 2^−2f, as the accumulators are kept); in float mode the
    largest power of two dividing every entry of her positions' table
    (:meth:`FFNModel.table_step`), capped so the field keeps >= 0 fractional bits."""
    if model.precision.is_fixed:
        return 0
    return max(0, min(model.table_step(alice_positions), -model.acc_shift))


def alice_part(model: FFNModel, tokens: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, int]:
    """What Alice sends, as values: her exact partial pre-activation over ``positions``
    holding ``tokens``, in units of 2^(s + k) (:func:`message_step`), and the number of
    saturations on her side (0: nothing is rounded)."""
    part = model.partial_preactivation(tokens, positions)
    k = message_step(model, positions)
    if k == 0:
        return part, 0
    units = np.asarray(part, dtype=object)
    if any(int(v) % (1 << k) for v in units.tolist()):
        raise EngineError("ffn: a partial sum is not a multiple of the message grid")
    return units // (1 << k), 0


def message_bits(model: FFNModel, split: Split | np.ndarray) -> int:
    """The module docstring's formula: h_1 · w_A; 0 when no message is needed."""
    owner = split.owner if isinstance(split, Split) else np.asarray(split)
    if not _needs_message(owner):
        return 0
    return sum(f.nbits for f in alice_fields(model, np.flatnonzero(owner == ALICE)))


def uniform_bound_bits(model: FFNModel, alice_count: int) -> int:
    """h_1 · acc_width(p, |A|·k, 2) in fixed point, h_1 · float_acc_width(p, |A|·k, f) in
    float mode (f = 1 factor per term for one-hot input, 2 for an embedding): the message
    size a receiver knowing only p, |A| and the input kind must allow (an upper bound on
    :func:`message_bits`)."""
    prec = model.precision
    per = 1 if model.onehot else model.in_dim
    terms = max(1, alice_count) * per
    if not prec.is_fixed:
        return model.first_width * float_acc_width(prec, terms, 1 if model.onehot else 2)
    return model.first_width * acc_width(prec, terms, 2)


# ---------------------------------------------------------------------------------
# The two parties: each gets only its PartyView and the decoded message
# ---------------------------------------------------------------------------------
def _alice_step(view: PartyView, model: FFNModel, fields: list[FieldSpec]) -> tuple[dict[str, np.ndarray], int]:
    positions = view.own_positions()
    tokens = np.array(view.tokens(positions), dtype=np.int64)
    values, sat = alice_part(model, tokens, positions)
    return {fields[0].name: values}, sat


def _finisher_step(view: PartyView, model: FFNModel, received: np.ndarray | None, step: int) -> ModelOutput:
    positions = view.visible_positions()  # own + PUBLIC
    tokens = np.array(view.tokens(positions), dtype=np.int64)
    total = model.partial_preactivation(tokens, positions)
    if received is not None:
        if step:  # back to units of 2^s, exactly
            received = np.asarray(received, dtype=object) * (1 << step)
        total = total + received
    return model.finish(total)


def simulate_ffn(
    model: FFNModel,
    tokens: np.ndarray,
    split: Split,
    *,
    verify: bool = True,
) -> tuple[Transcript, ModelOutput]:
    """Run ``model`` on ``tokens`` as a protocol between the owners of ``split``.

    Returns the transcript (the message encoded, counted, decoded) and the protocol's
    output.  With ``verify`` the output is checked against ``model.forward`` bit for bit
    (in both arithmetics); a mismatch raises :class:`EngineError`."""
    if not isinstance(model, FFNModel):
        raise InvalidInputError(f"simulate_ffn needs an ffn model, got {type(model).__name__}")
    tokens = model.check_tokens(tokens)
    if len(split) != tokens.size:
        raise InvalidInputError(f"split has {len(split)} owners for {tokens.size} tokens")
    owner = split.owner
    finisher = output_party(owner)
    views = {who: PartyView(who, tokens, owner) for who in (ALICE, BOB)}
    channel = Channel()
    received = None
    alice_sat = 0
    alice_positions = np.flatnonzero(owner == ALICE)
    fields: list[FieldSpec] = []
    # public: the weights and the split fix the message's grid, so Bob knows it too
    step = message_step(model, alice_positions)
    if _needs_message(owner):
        fields = alice_fields(model, alice_positions)
        values, alice_sat = _alice_step(views[ALICE], model, fields)
        note = (f"Alice's part of the {model.first_width} first-layer pre-activations over her "
                f"{alice_positions.size} positions")
        note += (f", exact accumulators of {fields[0].width} bits (the width of their exact range "
                 f"over all her inputs; the uniform bound is "
                 f"{uniform_bound_bits(model, alice_positions.size) // model.first_width})")
        got = channel.send(ALICE, "pre-activations L1", fields, values, note)
        received = got[fields[0].name]
    result = _finisher_step(views[finisher], model, received, step)
    output = ModelOutput(result.values, result.decision, result.saturations + alice_sat)
    meta: dict[str, Any] = {
        "model_family": "ffn",
        "output_party": finisher.name.lower(),
        "public_computed_by": finisher.name.lower(),
        "alice_positions": int(alice_positions.size),
        "first_layer_units": model.first_width,
        "bit_formula": "h1 * signed_width(exact range of Alice's partial sums)",
    }
    if fields:
        meta["accumulator_width"] = fields[0].width
        meta["uniform_bound_bits"] = uniform_bound_bits(model, alice_positions.size)
    if verify:
        meta.update(verify_output(model, output, model.forward(tokens), "ffn"))
    return channel.transcript(output.values, **meta), output


