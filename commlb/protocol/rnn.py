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

Verification (docs/theory.md §3.9 says what each check proves): every verified run checks
that each message's bits decode to exactly the state its receiver continued from.  Then,
by default, an independent ``model.forward``, whose output the protocol's must equal bit
for bit (in float mode as well: the state travels as exactly representable p-bit floats).
With ``verify="replay"`` instead every segment is recomputed from the decoded message
before it through its holder's view (:func:`replay_segments`: in fixed point with the
decoding check, in one compiled pass) and no forward pass runs.  A failed check raises
:class:`EngineError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bits import FieldSpec
from ..core import ALICE, BOB, PUBLIC, Owner, sorted_unique
from ..errors import EngineError, InvalidInputError
from ..models.base import ModelOutput
from ..models.rnn import RNNModel
from .core import Channel, MessageLog, PartyView, Split, Transcript, _Block, verify_output

__all__ = [
    "simulate_rnn",
    "state_fields",
    "party_state",
    "alice_message",
    "rnn_schedule",
    "handoff_count",
    "expected_bits",
    "replay_segments",
    "verify_checks",
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
    verify: bool | str = True,
    engine: str = "auto",
) -> tuple[Transcript, ModelOutput]:
    """Run ``model`` on ``tokens`` as a protocol between the owners of ``split``.

    Returns the transcript (every state message encoded, counted, decoded) and the
    protocol's output.  ``verify`` (docs/theory.md §3.9 says what each check proves; a
    failed check raises :class:`EngineError`, and the metadata names the checks run):

    * ``True`` or ``"forward"``: every message's bits decode to the state its receiver
      continued from (``messages_decode_to_handoff_states``), and the output equals an
      independent ``model.forward`` bit for bit (``protocol_matches_forward``);
    * ``"replay"``: the same decoding check, and every segment recomputed
      from the decoded message before it through its holder's view, all segments at once
      (:func:`replay_segments`): each must give exactly the next message, and the last
      ones the output (``segments_replayed``).  No forward pass is run, and
      ``protocol_matches_forward`` is not set;
    * ``"all"``: both;
    * ``"messages"``: the decoding check alone (the bits counted are a lossless code of
      the states that crossed; the output is not checked, docs/theory.md §3.9 (a));
    * ``False``: none.

    ``engine``: ``"segments"`` runs each party's segment by :func:`party_state` and sends
    each state through :meth:`Channel.send` as it goes (the plain engine);
    ``"batched"`` (fixed point) hands the state over by reference: one run of the cell
    over all positions keeps the state at every handoff and output position, every
    segment having been checked to hold only positions its holder sees (own or PUBLIC);
    the handoff states are recorded together (:meth:`Channel.send_many`: range-checked
    and counted now, their bit strings encoded in one pass when first read — in a
    verified run, by the decoding check).  Same transcript, same output.
    ``"auto"``: batched for fixed point."""
    if not isinstance(model, RNNModel):
        raise InvalidInputError(f"simulate_rnn needs an RNN, got {type(model).__name__}")
    if engine not in ("auto", "segments", "batched"):
        raise InvalidInputError(f"engine must be auto, segments or batched, not {engine!r}")
    checks = verify_checks(verify)
    tokens = model.check_tokens(tokens)
    if len(split) != tokens.size:
        raise InvalidInputError(f"split has {len(split)} owners for {tokens.size} tokens")
    outputs = model.output_positions(tokens.size)
    last = int(outputs.max())
    if engine == "batched" or (engine == "auto" and model.precision.is_fixed):
        if not model.precision.is_fixed:
            raise InvalidInputError("the batched RNN engine is for fixed point; use engine='segments'")
        return _simulate_batched(model, tokens, split, outputs, checks)
    first, segments = rnn_schedule(split.owner, last)
    parties = {who: _Party(who, PartyView(who, tokens, split.owner), model) for who in (ALICE, BOB)}
    channel = Channel()
    fields = state_fields(model)
    p, L, d = model.precision.bits, model.layers, model.hidden

    parties[first].state = model.initial_state()  # h0 is public
    resumed = []  # the state each receiver continued from
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
            resumed.append(receiver.state)

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
    sent = np.stack(resumed) if resumed else np.zeros((0, L, d))
    return _finish(model, tokens, split, channel, output, meta, handoffs, sent, checks)


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


def verify_checks(verify: bool | str) -> frozenset[str]:
    """The checks a ``verify`` argument asks for: ``"forward"`` and/or ``"replay"``, or
    ``"messages"`` (the decoding check every verified run makes, alone)."""
    table = {False: (), "none": (), True: ("forward",), "forward": ("forward",), "replay": ("replay",),
             "all": ("forward", "replay"), "messages": ("messages",)}
    if not isinstance(verify, (bool, str)) or verify not in table:
        raise InvalidInputError(f"verify must be True, False, 'forward', 'replay', 'all', 'messages' or 'none', "
                                f"not {verify!r}")
    return frozenset(table[verify])


def _finish(model: RNNModel, tokens: np.ndarray, split: Split, channel: Channel, output: ModelOutput,
            meta: dict[str, Any], handoffs: int, sent: np.ndarray, checks: frozenset[str],
            aside: _ForwardAside | None = None,
            trajectory: np.ndarray | None = None) -> tuple[Transcript, ModelOutput]:
    """Check what is counted, run the checks asked for, and make the transcript.  ``sent``
    holds, per message, the state its receiver continued from; ``aside``: the forward
    check's pass already running in a thread (else it runs here); ``trajectory``: the
    engine's state after every position, for the replay to check step by step."""
    L, d, p = model.layers, model.hidden, model.precision.bits
    msgs = channel.messages
    # a message costs the bits its layout declares (encode and send_many guarantee it), so
    # the total is handoffs times the state's size when every message has the state layout
    layouts = msgs.layouts()
    if len(msgs) != handoffs or (handoffs and (layouts != [tuple(state_fields(model))]
                                               or sum(f.nbits for f in layouts[0]) != L * d * p)):
        raise EngineError("RNN message bits differ from the documented formula")
    transcript = channel.transcript(output.values, **meta)
    if not checks:
        return transcript, output
    done = ["messages_decode_to_handoff_states"]
    if "replay" in checks:
        # the decoding check and the segment replay in one pass (replay_segments with ``sent``)
        transcript.meta.update(replay_segments(model, tokens, split, transcript, output, sent=sent,
                                               trajectory=trajectory))
        done.append("segments_replayed")
    else:
        # a batch's bit strings are all encoded now, in one pass, and decoded back
        if not msgs.decodes_to("state", sent):
            raise EngineError(_NOT_DECODED)
        transcript.meta["messages_decode_to_handoff_states"] = True
    if "forward" in checks:
        ref = aside.result() if aside is not None else model.forward(tokens)
        transcript.meta.update(verify_output(model, output, ref, "rnn"))
        done.append("protocol_matches_forward")
    transcript.meta["verification"] = done
    return transcript, output


def _check_decoding(got: np.ndarray, sent: np.ndarray) -> None:
    """Every message decoded back (``got``, one state per message) must be exactly the
    state its receiver continued from, ``sent[k]``."""
    if got.shape != np.shape(sent) or not np.array_equal(got, sent):
        raise EngineError(_NOT_DECODED)


_NOT_DECODED = "an RNN message does not decode to the state its receiver continued from"


#: the forward check (``verify`` forward or all) of a run of at least this many tokens runs
#: in a second thread while the batched engine runs, when the compiled cell takes dense
#: products (its one-row kernel releases the GIL): the same work, done side by side
OVERLAP_FROM_TOKENS = 1024


class _ForwardAside:
    """``model.forward(tokens)`` in a thread of its own (the forward check, started before
    the engine's run so that the two overlap); :meth:`result` waits for it and returns its
    output or raises what it raised."""

    def __init__(self, model: RNNModel, tokens: np.ndarray) -> None:
        import threading

        self._out: ModelOutput | None = None
        self._err: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(model, tokens), daemon=True,
                                        name="commlb-forward-check")
        self._thread.start()

    def _run(self, model: RNNModel, tokens: np.ndarray) -> None:
        try:
            self._out = model.forward(tokens)
        except BaseException as exc:  # handed to the caller by result()
            self._err = exc

    def result(self) -> ModelOutput:
        self._thread.join()
        if self._err is not None:
            raise self._err
        assert self._out is not None, "the forward pass returned"
        return self._out


def _forward_aside(model: RNNModel, tokens: np.ndarray, last: int,
                   checks: frozenset[str]) -> _ForwardAside | None:
    """The forward check started in a thread (:class:`_ForwardAside`) when it is asked for,
    the run is long (:data:`OVERLAP_FROM_TOKENS`), the compiled cell runs it without the
    GIL (dense products, :attr:`~commlb.kernels.rnn.RNNCell.dense`) and a second core is
    free right now (:func:`commlb.kernels.gf2.free_cores`: on a busy machine the thread
    would only wait for a core); else None (it runs after the engine)."""
    if "forward" not in checks or last + 1 < OVERLAP_FROM_TOKENS:
        return None
    cell = model.cell()
    if not cell.dense:
        return None
    from ..kernels.gf2 import free_cores

    if free_cores() < 2:
        return None
    cell.weights_t()  # made once here, not by both threads at once
    return _ForwardAside(model, tokens)


def _simulate_batched(model: RNNModel, tokens: np.ndarray, split: Split, outputs: np.ndarray,
                      checks: frozenset[str]) -> tuple[Transcript, ModelOutput]:
    """The ``"batched"`` engine of :func:`simulate_rnn` (see there)."""
    last = int(outputs.max())
    aside = _forward_aside(model, tokens, last, checks)
    try:
        return _run_batched(model, tokens, split, outputs, checks, aside)
    finally:
        if aside is not None:
            aside._thread.join()  # never left running past the call, whatever happened


def _run_batched(model: RNNModel, tokens: np.ndarray, split: Split, outputs: np.ndarray,
                 checks: frozenset[str], aside: _ForwardAside | None) -> tuple[Transcript, ModelOutput]:
    """:func:`_simulate_batched`'s body; ``aside``: the forward check already running."""
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
    cell = model.cell()
    keep_all = "replay" in checks and _steps_checkable(cell, last + 1)
    # the state after every position when the replay checks each step against them
    usual = not keep_all and (stops.size < 2 or outputs[0] + 1 > stops[-2])
    if keep_all:
        marks = np.arange(1, last + 2, dtype=np.int64)
    elif usual:  # every output after the handoffs: the handoffs' marks, then the outputs'
        marks = np.concatenate([stops[:-1], outputs + 1])  # increasing already (both are)
    else:
        marks = sorted_unique(np.concatenate([stops[:-1], outputs + 1]))
    _, _, states, sat = cell.run_marked(model.initial_state()[None], tokens[None, : last + 1], marks)
    states, sat = states[0], sat[0]
    channel = Channel()
    # the states kept at the handoffs and at the outputs (in the usual case the first
    # ``handoffs`` marks, a view, then one mark per output)
    if usual:
        sent, at_out = states[:handoffs], np.arange(handoffs, handoffs + outputs.size)
    else:
        sent, at_out = states[np.searchsorted(marks, stops[:-1])], np.searchsorted(marks, outputs + 1)
    if handoffs:
        _record_handoffs(channel, model, sent, stops, holders)
    values, read_sat = model.readout(states[at_out])
    readers = {Owner(int(holder_at[int(pos)])).name.lower() for pos in outputs}
    output = ModelOutput(values, model.decide(values), int(sat[-1]) + int(read_sat))
    meta = _meta(model, first, sorted(readers), handoffs)
    return _finish(model, tokens, split, channel, output, meta, handoffs, sent, checks, aside,
                   states if keep_all else None)


class _HandoffText:
    """Label or note of handoff message k, made when the message is read (a class, not a
    closure, so that transcripts pickle)."""

    def __init__(self, ends: np.ndarray, layers: int, hidden: int, bits: int, what: str) -> None:
        self.ends, self.layers, self.hidden, self.bits, self.what = ends, layers, hidden, bits, what

    def __call__(self, k: int) -> str:
        last = int(self.ends[k]) - 1
        if self.what == "label":
            return f"state@{last}"
        L, d, p = self.layers, self.hidden, self.bits
        return f"hidden state of all {L} layer(s) after positions 0..{last}: {L}·{d}·{p} = {L * d * p} bits"


def _record_handoffs(channel: Channel, model: RNNModel, sent: np.ndarray, stops: np.ndarray,
                     holders: np.ndarray) -> None:
    """The handoff messages of the batched engine: the state kept at the end of every
    segment but the last, sent by that segment's holder; labels and notes are made when
    a message is looked at."""
    L, d, p = model.layers, model.hidden, model.precision.bits
    ends = stops[:-1]
    channel.send_many(holders[:-1], _HandoffText(ends, L, d, p, "label"), state_fields(model), {"state": sent},
                      _HandoffText(ends, L, d, p, "note"))


# ---------------------------------------------------------------- segment replay
#: run the replay as one compiled pass (:func:`~commlb.kernels.rnn.replay_chain`) when its
#: dense float64 products are exact (:attr:`~commlb.kernels.rnn.RNNCell.float_ok`, the
#: common case); the tests switch it off to exercise the other runners
REPLAY_FUSED = True
#: the replay checks every step against the engine's state after every position
#: (:func:`~commlb.kernels.rnn.check_steps`) when the engine can keep them all: at most
#: this many values (the bytes are eight times as many); else the chain of segments above
REPLAY_STEPS_MAX_VALUES = 1 << 22


def _steps_checkable(cell: Any, positions: int) -> bool:
    """Whether a verified run keeps the state after each of ``positions`` positions for
    the replay to check step by step (products exact in float64, at most
    :data:`REPLAY_STEPS_MAX_VALUES` values)."""
    return bool(REPLAY_FUSED and cell.float_ok and positions * cell.L * cell.d <= REPLAY_STEPS_MAX_VALUES)


#: otherwise the replay runs a step of many segments at once
#: (:func:`~commlb.kernels.rnn.step_rows`: one exact matrix product for all of them) while
#: at least this many multiply-adds (rows · L · d²) remain in the step; the few long
#: segments left then run by the compiled cell
REPLAY_TWIN_MIN_WORK = 1 << 14
#: ... and to the end when at most this many steps remain: a call of the compiled cell
#: (threads woken for a few rows) costs milliseconds on a busy machine
REPLAY_TAIL_STEPS = 64


def replay_segments(model: RNNModel, tokens: np.ndarray, split: Split, transcript: Transcript,
                    output: ModelOutput, decoded: np.ndarray | None = None,
                    sent: np.ndarray | None = None, trajectory: np.ndarray | None = None) -> dict[str, Any]:
    """Recompute every segment of an RNN protocol run from its transcript and check it
    (docs/theory.md §3.9), in fixed point and in float mode (whose states cross as
    exactly representable p-bit floats, so the check is exact there too).

    The segments are the schedule's (:func:`rnn_schedule`); they must cover positions
    0..last output position in order, and message k must be sent by the holder of
    segment k.  Segment k starts from h0 (k = 0) or from what message k − 1's bits
    decode to, and reads its positions through its holder's :class:`PartyView` (a
    position the holder cannot see raises :class:`IsolationError`).  The state at the
    end of segment k must equal message k's decoded state, the read-outs at the output
    positions must equal ``output`` bit for bit, and the saturations must add up to
    ``output.saturations``; else :class:`EngineError`.  With ``sent`` (the states the
    receivers continued from, (K, L, d)) every message must also decode to ``sent[k]``
    (the check ``messages_decode_to_handoff_states``, then also in the metadata).

    How it runs, independently of the engine's run (the compiled cell over the whole
    input, sparse rows): when the dense float64 products are exact
    (:attr:`~commlb.kernels.rnn.RNNCell.float_ok`), one compiled pass
    (:func:`~commlb.kernels.rnn.replay_chain`) decodes each message from its packed bits,
    compares it, and steps the next segment from it, dense products; otherwise the
    messages are decoded in one pass (``decoded``: already decoded values, when the
    caller has them) and all segments run at once, one exact product per step for the
    many short ones (:func:`~commlb.kernels.rnn.step_rows`), the compiled cell for the
    few long ones; in float mode by :meth:`RNNModel.step_batch`, all rows still reading
    at once (:func:`_run_pieces_float`).  Returns the metadata."""
    fixed = model.precision.is_fixed
    tokens = model.check_tokens(tokens)
    outputs = model.output_positions(tokens.size)
    last = int(outputs.max())
    first, starts, stops = _schedule_arrays(split.owner, last)
    nseg = starts.size
    msgs = transcript.messages
    if len(msgs) != nseg - 1:
        raise EngineError(f"replay: {len(msgs)} messages for {nseg} segments")
    if not (starts[0] == 0 and stops[-1] == last + 1 and np.array_equal(starts[1:], stops[:-1])
            and np.all(stops > starts)):
        raise EngineError("replay: the segments do not cover positions 0..last in order")
    holders = np.full(nseg, int(first), dtype=np.int8)
    holders[1::2] = int(first.other)
    senders = (msgs.sender_array() if isinstance(msgs, MessageLog)
               else np.array([int(m.sender) for m in msgs], dtype=np.int8))
    if not np.array_equal(senders, holders[:-1]):
        raise EngineError("replay: a message is not sent by the holder of the segment before it")
    # every position 0..last read through the view of the holder of its segment
    holder_at = np.repeat(holders, stops - starts)
    flat = np.empty(last + 1, dtype=np.int64)
    for w in (ALICE, BOB):
        mine = np.flatnonzero(holder_at == int(w))
        if mine.size:
            flat[mine] = PartyView(w, tokens, split.owner).take(mine)
    cell = model.cell() if fixed else None
    h0 = model.initial_state()
    meta: dict[str, Any] = {}
    if trajectory is not None and cell is not None and _steps_checkable(cell, last + 1) and decoded is None:
        from ..kernels.rnn import check_steps

        trajectory = np.asarray(trajectory)
        if trajectory.shape != (last + 1,) + model.state_shape:
            raise EngineError("replay: the engine kept no state for some position")
        code, k, sat = check_steps(cell, h0, _message_bytes(msgs, model), model.precision.bits, sent, flat,
                                   stops, trajectory)
        if code == 1:
            raise EngineError(_NOT_DECODED)
        if code == 2:
            raise EngineError(f"replay: segment {k} from the message before it does not give message {k}")
        if code == 3:
            raise EngineError(f"replay: the engine's state after position {k} does not follow from the state "
                              "before it")
        if sent is not None:
            meta["messages_decode_to_handoff_states"] = True
        out_states = trajectory[outputs]
    elif cell is not None and cell.float_ok and REPLAY_FUSED and decoded is None:
        from ..kernels.rnn import replay_chain

        code, k, sat, out_states = replay_chain(cell, h0, _message_bytes(msgs, model), model.precision.bits,
                                                sent, flat, stops, outputs)
        if code == 1:
            raise EngineError(_NOT_DECODED)
        if code == 2:
            raise EngineError(f"replay: segment {k} from the message before it does not give message {k}")
        if sent is not None:
            meta["messages_decode_to_handoff_states"] = True
    else:
        if decoded is None:
            decoded = (msgs.decoded() if isinstance(msgs, MessageLog)
                       else MessageLog(list(msgs)).decoded()).get("state", np.zeros((0,) + model.state_shape))
        decoded = np.asarray(decoded, dtype=np.int64 if fixed else np.float64)
        if sent is not None:
            _check_decoding(decoded, sent)
            meta["messages_decode_to_handoff_states"] = True
        sat, out_states = _replay_in_waves(model, cell, h0, decoded, starts, stops, outputs, flat)
    values, read_sat = model.readout(out_states)
    if values.shape != np.shape(output.values) or not np.array_equal(values, output.values):
        raise EngineError("replay: the read-out of the replayed segments differs from the protocol's output")
    if int(sat) + int(read_sat) != int(output.saturations):
        raise EngineError("replay: the saturations of the replayed segments differ from the protocol's")
    meta.update({"segments_replayed": True, "replayed_segments": int(nseg)})
    return meta


def _message_bytes(msgs: Sequence[Any], model: RNNModel) -> np.ndarray:
    """Every message's bit string packed eight bits a byte, most significant first, one
    row per message (K, ceil(L·d·p / 8)): a byte-aligned block's packed words as they
    are, other messages' bits packed by ``np.packbits``.  Each must be L·d·p bits long."""
    per = model.layers * model.hidden * model.precision.bits
    parts = msgs._parts if isinstance(msgs, MessageLog) else list(msgs)
    rows: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, _Block):
            if part.batch.per != per:
                raise EngineError(f"replay: messages of {part.batch.per} bits, not L·d·p = {per}")
            packed = part.batch.packed()
            rows.append(packed if packed is not None else np.packbits(part.batch.all_bits(), axis=1))
        else:
            bits = np.asarray(part.payload.bits, dtype=np.uint8)
            if bits.size != per:
                raise EngineError(f"replay: a message of {bits.size} bits, not L·d·p = {per}")
            rows.append(np.packbits(bits)[None])
    if not rows:
        return np.zeros((0, (per + 7) // 8), dtype=np.uint8)
    return rows[0] if len(rows) == 1 else np.concatenate(rows)


def _replay_in_waves(model: RNNModel, cell: Any, h0: np.ndarray, decoded: np.ndarray, starts: np.ndarray,
                     stops: np.ndarray, outputs: np.ndarray, flat: np.ndarray) -> tuple[int, np.ndarray]:
    """The replay of :func:`replay_segments` when its compiled pass does not apply: all
    segments at once, cut after every output position into pieces; a segment's first
    piece starts from the message before it, a later piece from the piece before it (in
    waves).  Fixed point (``cell``) by :func:`_run_pieces`; float mode (``cell`` None) by
    :func:`_run_pieces_float`.  Checks that segment k ends in ``decoded[k]`` (exactly:
    float states cross as exactly representable p-bit floats); returns (saturations, the
    states at the output positions)."""
    nseg = starts.size
    bounds = sorted_unique(np.concatenate([starts, outputs + 1]))
    p_start, p_stop = bounds[:-1], bounds[1:]
    seg = np.searchsorted(starts, p_start, side="right") - 1
    wave = np.arange(p_start.size) - np.searchsorted(p_start, starts[seg])
    end = np.zeros((p_start.size,) + model.state_shape, dtype=np.int64 if cell is not None else np.float64)
    sat = np.zeros(p_start.size, dtype=np.int64)
    starts_from = np.concatenate([h0[None], decoded])  # segment k starts from entry k
    for j in range(int(wave.max()) + 1):
        rows = np.flatnonzero(wave == j)
        begin = starts_from[seg[rows]] if j == 0 else end[rows - 1]
        lengths = p_stop[rows] - p_start[rows]
        pos = np.repeat(p_start[rows] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) \
            + np.arange(int(lengths.sum()))
        with _one_blas_thread():  # BLAS threads on these small products only spin on 2 busy cores
            if cell is None:
                end[rows], sat[rows] = _run_pieces_float(model, begin, lengths, flat[pos])
            else:
                end[rows], sat[rows] = _run_pieces(cell, begin, lengths, flat[pos])
    # each segment but the last ends in the state the next message carries
    seg_end = np.flatnonzero((p_stop == stops[seg]) & (seg < nseg - 1))
    if not np.array_equal(end[seg_end], decoded[seg[seg_end]]):
        k = int(seg[seg_end][np.argmax(np.any(end[seg_end] != decoded[seg[seg_end]], axis=(1, 2)))])
        raise EngineError(f"replay: segment {k} from the message before it does not give message {k}")
    return int(sat.sum()), end[np.searchsorted(p_stop, outputs + 1)]


_CONTROLLER: Any = None


def _one_blas_thread() -> Any:
    """A context in which BLAS uses one thread (threadpoolctl; its scan of the loaded
    libraries is done once per process)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _run_pieces_float(model: RNNModel, begin: np.ndarray, lengths: np.ndarray,
                      flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_run_pieces` for a float-mode RNN: longest rows first, each step of the rows
    still reading together by :meth:`RNNModel.step_batch` (the batched float step, other
    code than the per-sequence loop of :meth:`RNNModel.run` that the engine and
    ``model.forward`` use).  Returns (end states, saturations per row)."""
    R = lengths.size
    order = np.argsort(-lengths, kind="stable")
    lens = lengths[order]
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])[order].astype(np.int64)
    h = np.array(begin[order], dtype=np.float64)
    sat = np.zeros(R, dtype=np.int64)
    T = int(lens[0]) if R else 0
    active = np.searchsorted(-lens, -np.arange(T), side="left")  # rows with len > t
    for t in range(T):
        n = int(active[t])
        h[:n], s = model.step_batch(h[:n], flat[offs[:n] + t])
        sat[:n] += s
    end = np.empty_like(h)
    end[order] = h
    got = np.empty_like(sat)
    got[order] = sat
    return end, got


def _run_pieces(cell: Any, begin: np.ndarray, lengths: np.ndarray,
                flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run R independent rows: row r starts from ``begin[r]`` and reads ``lengths[r]``
    tokens (row r's are the next ``lengths[r]`` of ``flat``).  Longest rows first; each
    step runs the rows still reading together (:func:`~commlb.kernels.rnn.step_rows`:
    one exact product for all) while they are many, then the rest by the compiled cell,
    row by row as the forward pass runs.  Returns (end states, saturations per row)."""
    from ..kernels.rnn import step_rows

    R = lengths.size
    sorted_already = bool(np.all(lengths[:-1] >= lengths[1:]))  # e.g. every row one token long
    order = np.arange(R) if sorted_already else np.argsort(-lengths, kind="stable")
    lens = lengths[order]
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])[order]
    h = np.array(begin if sorted_already else begin[order], dtype=np.int64)
    sat = np.zeros(R, dtype=np.int64)
    per_row = cell.L * cell.d * cell.d
    active = np.searchsorted(-lens, -np.arange(int(lens[0]) if R else 0), side="left")  # rows with len > t
    t = 0
    T = int(lens[0]) if R else 0
    while t < T and (int(active[t]) * per_row >= REPLAY_TWIN_MIN_WORK or T - t <= REPLAY_TAIL_STEPS):
        n = int(active[t])
        h[:n], s = step_rows(cell, h[:n], flat[offs[:n] + t])
        sat[:n] += s
        t += 1
    if t < T:
        n = int(active[t])
        rest = lens[:n] - t
        pad = np.full((n, int(rest[0])), -1, dtype=np.int64)  # -1 reads nothing
        r_idx, c_idx = np.nonzero(np.arange(int(rest[0]))[None, :] < rest[:, None])
        pad[r_idx, c_idx] = flat[offs[r_idx] + t + c_idx]
        out, s = cell.run(h[:n], pad)
        h[:n] = out
        sat[:n] += s
    if sorted_already:
        return h, sat
    end = np.empty_like(h)
    end[order] = h
    got = np.empty_like(sat)
    got[order] = sat
    return end, got
