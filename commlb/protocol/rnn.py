"""An RNN run as a two-party protocol: the hidden state crosses the cut (docs/theory.md §3.1–3.2).

Who holds what
--------------
The initial state h0 is a public constant.  The **holder** of the state starts as the
owner of the first non-public position (ALICE if there is none).  Scanning left to right
up to the last output position, the holder reads each position it can see — its own
tokens and the PUBLIC ones — into the state with :meth:`RNNModel.run`.  When the next
non-public position belongs to the other party, the holder **sends the whole state**
(all L layers, d values each) and the receiver continues from the decoded values.  The
party holding the state right after an output position computes that read-out
(:meth:`RNNModel.readout`); no bits are charged for announcing the answer.  Tokens after
the last output position are never read (as in :meth:`RNNModel.forward`).

What crosses the cut
--------------------
Each message is one field ``state`` of shape (L, d): p-bit fixed-point raw integers
(kind ``fixed``, f fractional bits) or p-bit Merrill–Sabharwal floats (kind ``float``).
So, with p the precision, d the hidden size and L the number of layers::

    bits per handoff = L · d · p
    handoffs         = number of owner changes between consecutive non-public positions
                       among positions 0 .. last output position
    total bits       = handoffs · L · d · p,      rounds = handoffs

A prefix/suffix split (Alice's tokens, then Bob's, PUBLIC anywhere) is one message, one
round, one-way: the SHT24 Cor. 5.2 / BHBK24 cut (docs/theory.md §3.2) whose size L·d·p must be
at least the one-way complexity of the problem (n for DISJ_n, EQ_n, INDEX_n).

One code path per message
-------------------------
:func:`party_state` is the one function that computes a party's state from its view;
the engine calls it for every segment, and :func:`alice_message` returns the first
message's values (the state Alice sends at her first handoff) computed by the same
function, for batched witness kernels to be tested against.  In a transcript the state
of message k is ``transcript.messages[k].values()["state"]`` (the decoded payload).

Verification: in fixed point the protocol's read-out must equal ``model.forward`` bit for
bit.  In float mode the state travels as exactly representable p-bit floats, so the
result is expected to be identical as well; the check accepts a relative tolerance of
2^(4 − p/2) per unit of magnitude (as the transformer simulator) and requires the same
decision unless the forward pass lies within that tolerance of the decision boundary.
A mismatch raises :class:`EngineError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bits import FieldSpec
from ..core import ALICE, BOB, PUBLIC, Owner
from ..errors import EngineError, InvalidInputError
from ..models.base import ModelOutput
from ..models.rnn import RNNModel
from .core import Channel, PartyView, Split, Transcript, paused_gc, verify_output

__all__ = [
    "simulate_rnn",
    "state_fields",
    "party_state",
    "alice_message",
    "rnn_schedule",
    "handoff_count",
    "expected_bits",
]


def state_fields(model: RNNModel) -> list[FieldSpec]:
    """The layout of one handoff message: the (L, d) state, p bits per value."""
    prec = model.precision
    shape = (model.layers, model.hidden)
    if prec.is_fixed:
        return [FieldSpec("state", "fixed", shape, prec.bits, prec.frac)]
    return [FieldSpec("state", "float", shape, prec.bits)]


def rnn_schedule(owner: np.ndarray, last: int) -> tuple[Owner, list[tuple[Owner, int, int]]]:
    """Segments of positions 0..last: ``(first holder, [(holder, start, stop), ...])``.

    A new segment starts at every non-public position whose owner differs from the
    current holder; PUBLIC positions stay with the current holder."""
    first, starts, stops = _schedule_arrays(owner, last)
    pair = (first, first.other)
    return first, [(pair[k & 1], start, stop)
                   for k, (start, stop) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True))]


def _schedule_arrays(owner: np.ndarray, last: int) -> tuple[Owner, np.ndarray, np.ndarray]:
    """:func:`rnn_schedule` as arrays: (first holder, segment starts, segment stops); the
    holders alternate from the first."""
    owner = np.asarray(owner, dtype=np.int8)[: last + 1]
    private = np.flatnonzero(owner != PUBLIC)
    first = Owner(int(owner[private[0]])) if private.size else ALICE
    who = owner[private]
    # a segment starts at every private position whose owner differs from the previous one
    change = private[1:][who[1:] != who[:-1]] if private.size else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], change]).astype(np.int64)
    stops = np.concatenate([change, [int(last) + 1]]).astype(np.int64)
    return first, starts, stops


def handoff_count(model: RNNModel, split: Split) -> int:
    """Number of state messages the protocol sends on this split."""
    last = int(model.output_positions(len(split)).max())
    return len(rnn_schedule(split.owner, last)[1]) - 1


def expected_bits(model: RNNModel, split: Split) -> int:
    """The documented formula: handoffs · L · d · p."""
    return handoff_count(model, split) * model.layers * model.hidden * model.precision.bits


def party_state(model: RNNModel, view: PartyView, state: np.ndarray,
                positions: Sequence[int] | np.ndarray) -> tuple[np.ndarray, int]:
    """The state after ``view``'s party reads ``positions`` (its own or PUBLIC, read
    through the view, so any other position raises) starting from ``state``."""
    positions = np.asarray(positions, dtype=np.int64)
    toks = np.array(view.tokens(positions), dtype=np.int64) if positions.size else np.zeros(0, np.int64)
    return model.run(state, toks)


def alice_message(model: RNNModel, tokens: np.ndarray, split: Split) -> dict[str, np.ndarray] | None:
    """Values of the first handoff message (``{"state": (L, d)}``), computed from the
    first holder's view only by :func:`party_state`; None if the split needs no message.
    On a prefix split this is the one message Alice sends."""
    tokens = model.check_tokens(tokens)
    last = int(model.output_positions(tokens.size).max())
    first, segments = rnn_schedule(split.owner, last)
    if len(segments) < 2:
        return None
    holder, start, stop = segments[0]
    view = PartyView(holder, tokens, split.owner)
    state, _ = party_state(model, view, model.initial_state(), np.arange(start, stop))
    return {"state": state}


class _Party:
    """One side of the protocol: its view, and the state while it holds it."""

    def __init__(self, who: Owner, view: PartyView, model: RNNModel) -> None:
        self.who = who
        self.view = view
        self.model = model
        self.state: np.ndarray | None = None
        self.saturations = 0
        self.readouts: dict[int, np.ndarray] = {}

    def advance(self, start: int, stop: int, outputs: np.ndarray) -> None:
        """Read positions [start, stop), reading out after each output position in it."""
        if self.state is None:
            raise EngineError(f"{self.who.name} has no state to advance")
        cur = start
        for pos in outputs[(outputs >= start) & (outputs < stop)]:
            self.state, sat = party_state(self.model, self.view, self.state, np.arange(cur, pos + 1))
            self.saturations += sat
            vals, sat = self.model.readout(self.state)
            self.saturations += sat
            self.readouts[int(pos)] = vals
            cur = int(pos) + 1
        if cur < stop:
            self.state, sat = party_state(self.model, self.view, self.state, np.arange(cur, stop))
            self.saturations += sat


def simulate_rnn(
    model: RNNModel,
    tokens: np.ndarray,
    split: Split,
    *,
    verify: bool = True,
    engine: str = "auto",
) -> tuple[Transcript, ModelOutput]:
    """Run ``model`` on ``tokens`` as a protocol between the owners of ``split``.

    Returns the transcript (every state message encoded, counted, decoded) and the
    protocol's output.  With ``verify`` the output is checked against ``model.forward``
    and a mismatch raises :class:`EngineError`.

    ``engine``: ``"segments"`` runs each party's segment by :func:`party_state` and sends
    each state through :meth:`Channel.send` as it goes (the plain engine);
    ``"batched"`` (fixed point) hands the state over by reference: one run of the cell
    over all positions keeps the state at every handoff and output position, every
    segment having been checked to hold only positions its holder sees (own or PUBLIC);
    the handoff states are then encoded and decoded in one pass
    (:meth:`Channel.send_many`) and the decoded states must equal the states the next
    holder continued from, else :class:`EngineError`.  Same transcript, same output.
    ``"auto"``: batched for fixed point."""
    if not isinstance(model, RNNModel):
        raise InvalidInputError(f"simulate_rnn needs an RNN, got {type(model).__name__}")
    if engine not in ("auto", "segments", "batched"):
        raise InvalidInputError(f"engine must be auto, segments or batched, not {engine!r}")
    tokens = model.check_tokens(tokens)
    if len(split) != tokens.size:
        raise InvalidInputError(f"split has {len(split)} owners for {tokens.size} tokens")
    outputs = model.output_positions(tokens.size)
    last = int(outputs.max())
    if engine == "batched" or (engine == "auto" and model.precision.is_fixed):
        if not model.precision.is_fixed:
            raise InvalidInputError("the batched RNN engine is for fixed point; use engine='segments'")
        return _simulate_batched(model, tokens, split, outputs, verify)
    first, segments = rnn_schedule(split.owner, last)
    parties = {who: _Party(who, PartyView(who, tokens, split.owner), model) for who in (ALICE, BOB)}
    channel = Channel()
    fields = state_fields(model)
    p, L, d = model.precision.bits, model.layers, model.hidden

    parties[first].state = model.initial_state()  # h0 is public
    for k, (holder, start, stop) in enumerate(segments):
        party = parties[holder]
        party.advance(start, stop, outputs)
        if k + 1 < len(segments):
            receiver = parties[holder.other]
            note = (f"hidden state of all {L} layer(s) after positions 0..{stop - 1}: "
                    f"{L}·{d}·{p} = {L * d * p} bits")
            assert party.state is not None, "the holder of a segment has the state"
            got = channel.send(holder, f"state@{stop - 1}", fields, {"state": party.state}, note)
            party.state = None
            receiver.state = np.asarray(got["state"],
                                        dtype=np.int64 if model.precision.is_fixed else np.float64)

    rows = []
    for pos in outputs:
        holders = [w for w in (ALICE, BOB) if int(pos) in parties[w].readouts]
        if len(holders) != 1:
            raise EngineError(f"output position {pos} was read out by {len(holders)} parties")
        rows.append(parties[holders[0]].readouts[int(pos)])
    out_values = np.stack(rows)
    output = ModelOutput(out_values, model.decide(out_values),
                         parties[ALICE].saturations + parties[BOB].saturations)
    handoffs = len(segments) - 1
    meta = _meta(model, first, sorted({w.name.lower() for w in (ALICE, BOB) if parties[w].readouts}), handoffs)
    return _finish(model, tokens, channel, output, meta, handoffs, verify)


def _meta(model: RNNModel, first: Owner, output_party: list[str], handoffs: int) -> dict[str, Any]:
    L, d, p = model.layers, model.hidden, model.precision.bits
    return {
        "model_family": "rnn",
        "first_holder": first.name.lower(),
        "output_party": output_party,
        "handoffs": handoffs,
        "bits_per_message": L * d * p,
        "bits_formula": f"handoffs · L · d · p = {handoffs} · {L} · {d} · {p} = {handoffs * L * d * p}",
    }


def _finish(model: RNNModel, tokens: np.ndarray, channel: Channel, output: ModelOutput, meta: dict[str, Any],
            handoffs: int, verify: bool) -> tuple[Transcript, ModelOutput]:
    L, d, p = model.layers, model.hidden, model.precision.bits
    msgs = channel.messages
    # a message costs the bits its layout declares (encode and send_many guarantee it), so
    # the total is handoffs times the state's size when every message has the state layout
    if len(msgs) != handoffs or (msgs and (tuple(state_fields(model)) != msgs[0].fields
                                           or any(m.fields is not msgs[0].fields and m.fields != msgs[0].fields
                                                  for m in msgs)
                                           or sum(f.nbits for f in msgs[0].fields) != L * d * p)):
        raise EngineError("RNN message bits differ from the documented formula")
    if verify:
        meta.update(verify_output(model, output, model.forward(tokens), "rnn"))
    return channel.transcript(output.values, **meta), output


def _simulate_batched(model: RNNModel, tokens: np.ndarray, split: Split, outputs: np.ndarray,
                      verify: bool) -> tuple[Transcript, ModelOutput]:
    """The ``"batched"`` engine of :func:`simulate_rnn` (see there)."""
    last = int(outputs.max())
    owner = np.asarray(split.owner, dtype=np.int8)[: last + 1]
    first, starts, stops = _schedule_arrays(split.owner, last)
    holders = np.full(starts.size, int(first), dtype=np.int8)
    holders[1::2] = int(first.other)
    holder_at = np.repeat(holders, stops - starts)
    # each segment reads only what its holder sees: its own positions and PUBLIC ones
    if holder_at.size != last + 1 or np.any((owner != holder_at) & (owner != int(PUBLIC))):
        raise EngineError("an RNN segment holds a position its holder cannot see")
    handoffs = starts.size - 1
    marks = np.unique(np.concatenate([stops[:-1], outputs + 1]))
    cell = model.cell()
    _, _, states, sat = cell.run_marked(model.initial_state()[None], tokens[None, : last + 1], marks)
    states, sat = states[0], sat[0]
    where = {m: k for k, m in enumerate(marks.tolist())}
    channel = Channel()
    if handoffs:
        with paused_gc():  # thousands of strings and messages that all stay alive
            _record_handoffs(channel, model, states, where, stops, holders)
    out_states = states[[where[int(pos) + 1] for pos in outputs]]
    values, read_sat = model.readout(out_states)
    readers = {Owner(int(holder_at[int(pos)])).name.lower() for pos in outputs}
    output = ModelOutput(values, model.decide(values), int(sat[where[last + 1]]) + int(read_sat))
    meta = _meta(model, first, sorted(readers), handoffs)
    return _finish(model, tokens, channel, output, meta, handoffs, verify)


def _record_handoffs(channel: Channel, model: RNNModel, states: np.ndarray, where: dict[int, int],
                     stops: np.ndarray, holders: np.ndarray) -> None:
    """The handoff messages of the batched engine: the state kept at the end of every
    segment but the last, sent by that segment's holder."""
    fields = state_fields(model)
    L, d, p = model.layers, model.hidden, model.precision.bits
    ends = stops[:-1].tolist()
    sent = states[[where[b] for b in ends]]
    per = f"{L}·{d}·{p} = {L * d * p} bits"
    labels = [f"state@{b - 1}" for b in ends]
    notes = [f"hidden state of all {L} layer(s) after positions 0..{b - 1}: {per}" for b in ends]
    who = {int(ALICE): ALICE, int(BOB): BOB}
    channel.send_many([who[h] for h in holders[:-1].tolist()], labels, fields, {"state": sent}, notes)

