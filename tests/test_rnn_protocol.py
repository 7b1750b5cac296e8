"""The RNN protocol: faithful to the forward pass bit for bit over random models, splits
and precisions; counted bits equal handoffs · L · d · p; rounds equal handoffs; each
party reads only its own and PUBLIC tokens; the first message is what alice_message
computes; determinism; mismatches raise."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.core import ALICE, BOB, PUBLIC
from commlb.errors import EngineError
from commlb.models.rnn import RNNModel
from commlb.protocol import rnn as rp
from commlb.protocol.core import PartyView, Split
from commlb.protocol.rnn import alice_message, expected_bits, handoff_count, simulate_rnn


def _handoffs_by_hand(owner, last):
    """Owner changes between consecutive non-public positions in 0..last."""
    prev, changes = None, 0
    for o in owner[: last + 1]:
        if o == PUBLIC:
            continue
        if prev is not None and o != prev:
            changes += 1
        prev = o
    return changes


@st.composite
def cases(draw, fixed=True):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if fixed:
        p = draw(st.integers(4, 24))
        prec = Precision.fixed(p, draw(st.integers(0, p - 1)))
    else:
        prec = Precision.float_(draw(st.sampled_from([8, 12, 16, 20])))
    length = draw(st.integers(1, 14))
    vocab = draw(st.integers(1, 6))
    model = RNNModel.random(
        vocab, rng, hidden=draw(st.integers(1, 6)), layers=draw(st.integers(1, 3)),
        activation=draw(st.sampled_from(["tanh", "relu", "threshold"])), precision=prec,
        output_kind=draw(st.sampled_from(["binary", "class", "vector"])), num_classes=3,
        output_positions=draw(st.sampled_from([(-1,), (-1,), (0,), (length // 2, -1)])),
    )
    tokens = rng.integers(0, vocab, size=length)
    kind = draw(st.sampled_from(["prefix", "interleave", "random", "random-public"]))
    if kind == "prefix":
        split = Split.prefix(length, draw(st.integers(0, length)))
    elif kind == "interleave":
        base = np.where(rng.random(length) < 0.3, PUBLIC, ALICE).astype(np.int8)
        split = Split.interleave(base)
    elif kind == "random":
        split = Split(rng.integers(0, 2, size=length))
    else:
        split = Split(rng.integers(0, 3, size=length))
    return model, tokens, split


def _check_structure(model, tokens, split, transcript):
    last = int(model.output_positions(tokens.size).max())
    handoffs = _handoffs_by_hand(split.owner.tolist(), last)
    per = model.layers * model.hidden * model.precision.bits
    assert len(transcript.messages) == handoffs == handoff_count(model, split)
    assert transcript.total_bits == handoffs * per == expected_bits(model, split)
    assert transcript.rounds == handoffs
    for k, msg in enumerate(transcript.messages):
        assert msg.bits == per == len(msg.payload)
        assert msg.round == k + 1
        assert msg.values()["state"].shape == (model.layers, model.hidden)
        if k:
            assert msg.sender != transcript.messages[k - 1].sender  # handoffs alternate
    assert transcript.meta["handoffs"] == handoffs


@settings(deadline=None, max_examples=80)
@given(cases())
def test_protocol_equals_forward_bit_for_bit_and_bits_follow_formula(case):
    model, tokens, split = case
    transcript, out = simulate_rnn(model, tokens, split)
    ref = model.forward(tokens)
    assert out.same_bits(ref)
    assert out.saturations == ref.saturations
    assert transcript.meta["protocol_matches_forward"] is True
    _check_structure(model, tokens, split, transcript)
    json.dumps(transcript.to_json())  # serialisable


@settings(deadline=None, max_examples=30)
@given(cases(fixed=False))
def test_float_protocol_is_verified_bit_for_bit(case):
    model, tokens, split = case
    transcript, out = simulate_rnn(model, tokens, split)
    ref = model.forward(tokens)
    # the state travels as exactly representable p-bit floats: nothing is lost
    assert np.array_equal(out.values, ref.values)
    assert transcript.meta["protocol_matches_forward"] is True and "float_tolerance" not in transcript.meta
    _check_structure(model, tokens, split, transcript)


@settings(deadline=None, max_examples=40)
@given(cases())
def test_each_message_is_the_senders_state(case):
    """Message k carries exactly the state after the positions before the next owner
    change, and alice_message reproduces the first one from the first holder's view."""
    model, tokens, split = case
    transcript, _ = simulate_rnn(model, tokens, split)
    state = model.initial_state()
    done = 0
    for msg in transcript.messages:
        upto = int(msg.label.split("@")[1])
        state, _ = model.run(state, tokens[done : upto + 1])
        done = upto + 1
        assert np.array_equal(msg.values()["state"], state)
        assert split.owner[upto + 1] == msg.receiver  # the next token is the receiver's
    first = alice_message(model, tokens, split)
    if transcript.messages:
        assert np.array_equal(first["state"], transcript.messages[0].values()["state"])
    else:
        assert first is None


def test_prefix_split_is_one_message_one_round():
    model = RNNModel.random(4, np.random.default_rng(1), hidden=5, layers=2, precision=Precision.fixed(12))
    tokens = np.random.default_rng(2).integers(0, 4, size=20)
    owner = np.array([ALICE] * 9 + [PUBLIC] + [BOB] * 9 + [PUBLIC])
    transcript, out = simulate_rnn(model, tokens, Split(owner))
    assert len(transcript.messages) == 1 and transcript.rounds == 1 and transcript.one_way
    assert transcript.total_bits == 2 * 5 * 12 == transcript.bits_alice_to_bob
    assert transcript.bits_bob_to_alice == 0
    assert transcript.meta["output_party"] == ["bob"]
    # the public "#" at position 9 is read by Alice before she sends
    assert transcript.messages[0].label == "state@9"


def test_single_owner_and_all_public_send_nothing():
    model = RNNModel.random(3, np.random.default_rng(4), hidden=3)
    tokens = np.arange(8) % 3
    for owner in ([ALICE] * 8, [BOB] * 4 + [PUBLIC] * 4, [PUBLIC] * 8):
        transcript, out = simulate_rnn(model, tokens, Split(np.array(owner)))
        assert transcript.total_bits == 0 and transcript.rounds == 0
        assert out.same_bits(model.forward(tokens))


def test_tokens_after_the_last_output_do_not_cause_handoffs():
    model = RNNModel.random(3, np.random.default_rng(5), hidden=2, output_positions=(3,))
    tokens = np.arange(10) % 3
    split = Split(np.array([ALICE] * 4 + [BOB, ALICE] * 3))
    transcript, out = simulate_rnn(model, tokens, split)
    assert transcript.total_bits == 0 and out.same_bits(model.forward(tokens))


def test_parties_read_only_visible_positions(monkeypatch):
    """Every token read by the engine goes through a PartyView and is visible to it."""
    seen = []
    original = PartyView.token

    def spy(self, position):
        value = original(self, position)  # raises IsolationError if not visible
        seen.append((self.who, int(position) % len(self)))
        return value

    monkeypatch.setattr(PartyView, "token", spy)
    rng = np.random.default_rng(6)
    model = RNNModel.random(5, rng, hidden=3, layers=2)
    tokens = rng.integers(0, 5, size=30)
    owner = rng.integers(0, 3, size=30).astype(np.int8)
    transcript, _ = simulate_rnn(model, tokens, Split(owner), verify=False, engine="segments")
    assert len(seen) == 30  # every position read exactly once
    assert sorted(p for _, p in seen) == list(range(30))
    for who, pos in seen:
        assert owner[pos] in (who, PUBLIC)


def test_alice_messages_do_not_depend_on_bobs_tokens():
    rng = np.random.default_rng(8)
    model = RNNModel.random(4, rng, hidden=4, layers=2, activation="relu")
    owner = np.array([ALICE] * 6 + [PUBLIC] + [BOB] * 6 + [PUBLIC])
    tokens = rng.integers(0, 4, size=14)
    other = tokens.copy()
    other[7:13] = (other[7:13] + 1) % 4  # change only Bob's tokens
    a, _ = simulate_rnn(model, tokens, Split(owner))
    b, _ = simulate_rnn(model, other, Split(owner))
    assert a.messages[0].payload == b.messages[0].payload
    changed = tokens.copy()
    changed[2] = (changed[2] + 1) % 4  # change one of Alice's tokens
    c, _ = simulate_rnn(model, changed, Split(owner))
    assert c.messages[0].payload != a.messages[0].payload or np.array_equal(
        model.run(model.initial_state(), changed[:7])[0], model.run(model.initial_state(), tokens[:7])[0])


def test_transcripts_are_deterministic():
    def once():
        rng = np.random.default_rng(11)
        model = RNNModel.random(5, rng, hidden=6, layers=2, activation="tanh")
        tokens = rng.integers(0, 5, size=25)
        split = Split(rng.integers(0, 3, size=25))
        return simulate_rnn(model, tokens, split)[0]

    a, b = once(), once()
    assert a.total_bits > 0
    assert a.fingerprint() == b.fingerprint()
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())


def test_mismatch_raises(monkeypatch):
    prec = Precision.fixed(12)
    one = 1 << prec.frac
    # a counter: h <- relu(h + token), read out as h - 1.5 (a state drift cannot fade away)
    params = {"embed": np.arange(4).reshape(4, 1) * one, "w_rec": np.full((1, 1, 1), one),
              "w_in": np.zeros((1, 1, 1)), "b": np.zeros((1, 1)), "h0": np.zeros((1, 1)),
              "wout": np.full((1, 1), one), "bout": np.array([-(3 * one) // 2])}
    model = RNNModel(params, prec, {"vocab_size": 4, "hidden": 1, "layers": 1, "activation": "relu"})
    tokens = np.random.default_rng(13).integers(0, 4, size=10)
    split = Split.prefix(10, 5)
    original = rp._Party.advance

    def corrupt(self, start, stop, outputs):
        original(self, start, stop, outputs)
        if self.who is ALICE and self.state is not None:  # an engine bug: Alice's state drifts
            self.state = self.state + (3 << model.precision.frac)

    monkeypatch.setattr(rp._Party, "advance", corrupt)
    with pytest.raises(EngineError, match="protocol output"):
        simulate_rnn(model, tokens, split, engine="segments")


@settings(deadline=None, max_examples=60)
@given(cases())
def test_batched_engine_equals_segment_engine(case):
    """The state handed over by reference (one run, payloads encoded in one pass at the
    end) gives the same transcript, bit for bit, and the same output as the engine that
    encodes and decodes each state as it goes."""
    model, tokens, split = case
    seg, out_seg = simulate_rnn(model, tokens, split, engine="segments")
    bat, out_bat = simulate_rnn(model, tokens, split, engine="batched")
    assert bat.fingerprint() == seg.fingerprint()
    assert [(m.round, m.sender, m.label, m.note) for m in bat.messages] == \
        [(m.round, m.sender, m.label, m.note) for m in seg.messages]
    assert out_bat.same_bits(out_seg) and out_bat.saturations == out_seg.saturations
    assert bat.meta == seg.meta


def test_batched_engine_refuses_a_segment_with_an_invisible_position(monkeypatch):
    rng = np.random.default_rng(3)
    model = RNNModel.random(4, rng, hidden=3, precision=Precision.fixed(10))
    tokens = rng.integers(0, 4, size=8)
    owner = np.array([ALICE] * 4 + [BOB] * 4, dtype=np.int8)
    # a broken schedule that lets Alice read Bob's first token
    monkeypatch.setattr(rp, "_schedule_arrays", lambda o, last: (ALICE, np.array([0, 5]), np.array([5, 8])))
    with pytest.raises(EngineError, match="cannot see"):
        simulate_rnn(model, tokens, Split(owner), engine="batched")


def test_send_many_counts_checks_and_encodes_like_send():
    """Messages recorded by reference cost what their layout says, refuse values that do
    not fit, and their (lazily encoded) payloads are bit for bit those of send()."""
    from commlb.bits import FieldSpec
    from commlb.protocol.core import Channel

    rng = np.random.default_rng(4)
    fields = [FieldSpec("state", "fixed", (2, 3), 10, 4)]
    values = rng.integers(-512, 512, size=(5, 2, 3))
    senders = [ALICE, BOB, BOB, ALICE, BOB]
    lazy, eager = Channel(), Channel()
    lazy.send_many(senders, [f"m{k}" for k in range(5)], fields, {"state": values}, [""] * 5)
    for k, who in enumerate(senders):
        eager.send(who, f"m{k}", fields, {"state": values[k]})
    assert [len(m.payload) for m in lazy.messages] == [60] * 5
    assert [(m.round, m.sender) for m in lazy.messages] == [(m.round, m.sender) for m in eager.messages]
    for a, b in zip(lazy.messages, eager.messages, strict=True):
        assert a.payload == b.payload and np.array_equal(a.values()["state"], b.values()["state"])
    bad = values.copy()
    bad[3, 1, 2] = 512  # one value past 10-bit two's complement
    with pytest.raises(EngineError, match="out of range"):
        Channel().send_many(senders, ["m"] * 5, fields, {"state": bad}, [""] * 5)


# ---------------------------------------------------------------- verification modes
@settings(deadline=None, max_examples=60)
@given(cases(), st.sampled_from([(True, 0, 64), (False, 0, 64), (False, 200, 0), (False, 10**9, 0),
                                 (False, 10**9, 3)]))
def test_segment_replay_accepts_every_honest_run(case, runners):
    """verify='replay' recomputes every segment (in one compiled pass with the decoding
    check, or all at once: by step_rows,
    by the compiled cell row by row, or the last two mixed, as the switches say) and
    accepts the honest run; it names itself and does not claim a forward-pass
    comparison; 'all' runs both."""
    model, tokens, split = case
    rp.REPLAY_FUSED, rp.REPLAY_TWIN_MIN_WORK, rp.REPLAY_TAIL_STEPS = runners
    try:
        tr, out = simulate_rnn(model, tokens, split, verify="replay")
    finally:
        rp.REPLAY_FUSED, rp.REPLAY_TWIN_MIN_WORK, rp.REPLAY_TAIL_STEPS = True, 1 << 14, 64
    assert tr.meta["segments_replayed"] is True and tr.meta["messages_decode_to_handoff_states"] is True
    assert "protocol_matches_forward" not in tr.meta
    assert tr.meta["verification"] == ["messages_decode_to_handoff_states", "segments_replayed"]
    assert tr.meta["replayed_segments"] == len(tr.messages) + 1
    assert out.same_bits(model.forward(tokens)) and out.saturations == model.forward(tokens).saturations
    both, _ = simulate_rnn(model, tokens, split, verify="all")
    assert both.meta["protocol_matches_forward"] is True and both.meta["segments_replayed"] is True
    plain, _ = simulate_rnn(model, tokens, split, verify=False)
    assert "verification" not in plain.meta and plain.fingerprint() == tr.fingerprint()


def _long_case(outputs=(3, 9, -1)):
    rng = np.random.default_rng(11)
    model = RNNModel.random(5, rng, hidden=4, layers=2, precision=Precision.fixed(12), output_kind="class",
                            num_classes=3, output_positions=outputs)
    tokens = rng.integers(0, 5, size=40)
    owner = rng.integers(0, 3, size=40).astype(np.int8)
    owner[:12] = ALICE  # a long first segment with two output positions inside
    return model, tokens, Split(owner)


def test_segment_replay_reads_each_position_once_through_its_holders_view(monkeypatch):
    model, tokens, split = _long_case()
    tr, out = simulate_rnn(model, tokens, split, verify=False)
    asked = {ALICE: [], BOB: []}
    original = PartyView.take

    def spy(self, positions):
        asked[self.who].extend(np.asarray(positions).tolist())
        return original(self, positions)

    monkeypatch.setattr(PartyView, "take", spy)
    meta = rp.replay_segments(model, tokens, split, tr, out)
    assert meta["segments_replayed"] is True
    last = int(model.output_positions(tokens.size).max())
    assert sorted(asked[ALICE] + asked[BOB]) == list(range(last + 1))
    for who in (ALICE, BOB):  # only its own and PUBLIC positions
        assert all(split.owner[i] in (who, PUBLIC) for i in asked[who])


def test_segment_replay_refuses_a_tampered_message_output_or_view(monkeypatch):
    model, tokens, split = _long_case()
    tr, out = simulate_rnn(model, tokens, split, verify=False)
    assert len(tr.messages) >= 3
    block = tr.messages._parts[0]
    block.batch.stacked["state"] = block.batch.stacked["state"].copy()
    block.batch.stacked["state"][1, 0, 0] += 1  # message 1 no longer what segment 1 gives
    block.batch._bits = None
    with pytest.raises(EngineError, match="segment 1 from the message before it"):
        rp.replay_segments(model, tokens, split, tr, out)
    tr, out = simulate_rnn(model, tokens, split, verify=False)
    wrong = type(out)(out.values + 1, out.decision, out.saturations)
    with pytest.raises(EngineError, match="read-out"):
        rp.replay_segments(model, tokens, split, tr, wrong)
    wrong = type(out)(out.values, out.decision, out.saturations + 1)
    with pytest.raises(EngineError, match="saturations"):
        rp.replay_segments(model, tokens, split, tr, wrong)
    # a schedule that gives Alice one of Bob's positions: her view refuses it
    first, starts, stops = rp._schedule_arrays(split.owner, int(model.output_positions(40).max()))
    bob_at = int(np.flatnonzero(split.owner == BOB)[0])
    k = int(np.searchsorted(starts, bob_at, side="right")) - 1
    moved_starts, moved_stops = starts.copy(), stops.copy()
    moved_stops[k - 1] = moved_starts[k] = bob_at + 1  # the segment before takes Bob's token
    monkeypatch.setattr(rp, "_schedule_arrays", lambda o, last: (first, moved_starts, moved_stops))
    from commlb.protocol.core import IsolationError

    with pytest.raises(IsolationError):
        rp.replay_segments(model, tokens, split, tr, out)


@pytest.mark.parametrize("bits", [12, 16])  # bit matrix / packed bytes
def test_message_decoding_check_refuses_bits_that_do_not_decode_to_the_state(monkeypatch, bits):
    from commlb.protocol import core

    rng = np.random.default_rng(5)
    model = RNNModel.random(5, rng, hidden=4, layers=2, precision=Precision.fixed(bits))
    tokens = rng.integers(0, 5, size=30)
    split = Split(rng.integers(0, 3, size=30).astype(np.int8))
    packed, matrix = core._Batch.packed, core._Batch._encode_bits

    def flip_packed(self):
        out = packed(self)
        if out is not None:
            out = out.copy()
            out[-1, 0] ^= 0x80  # the first bit of the last message
        return out

    def flip_matrix(self):
        out = matrix(self).copy()
        out[-1, 0] ^= 1
        return out

    monkeypatch.setattr(core._Batch, "packed", flip_packed)
    monkeypatch.setattr(core._Batch, "_encode_bits", flip_matrix)
    for verify in ("replay", True, "messages"):
        with pytest.raises(EngineError, match="does not decode"):
            simulate_rnn(model, tokens, split, verify=verify)


def test_verify_argument_checks():
    from commlb.errors import InvalidInputError

    model, tokens, split = _long_case((-1,))
    with pytest.raises(InvalidInputError, match="verify must be"):
        simulate_rnn(model, tokens, split, verify="fast")
    tr, _ = simulate_rnn(model, tokens, split)  # the default: the forward-pass comparison
    assert tr.meta["verification"] == ["messages_decode_to_handoff_states", "protocol_matches_forward"]


@settings(deadline=None, max_examples=40)
@given(cases())
def test_message_log_counts_equal_the_listed_messages(case):
    """The transcript's counts read off the recorded blocks equal the counts over the
    materialised messages (a plain list)."""
    from commlb.protocol.core import Transcript

    model, tokens, split = case
    tr, _ = simulate_rnn(model, tokens, split, verify=False)
    plain = Transcript(list(tr.messages), tr.output, tr.meta)
    assert (tr.total_bits, tr.rounds, tr.one_way, tr.bits_alice_to_bob, tr.bits_bob_to_alice) == \
        (plain.total_bits, plain.rounds, plain.one_way, plain.bits_alice_to_bob, plain.bits_bob_to_alice)
    assert tr.fingerprint() == plain.fingerprint()
    import pickle

    assert pickle.loads(pickle.dumps(tr)).fingerprint() == tr.fingerprint()  # executors ship transcripts
    n = len(tr.messages)
    assert [m.label for m in tr.messages[1:]] == [tr.messages[k].label for k in range(1, n)]
    if n:
        assert tr.messages[-1].label == tr.messages[n - 1].label


def test_simulate_passes_verify_modes_to_the_rnn_only():
    from commlb.errors import InvalidInputError
    from commlb.models.ffn import FFNModel
    from commlb.protocol import simulate

    model, tokens, split = _long_case((-1,))
    tr, _ = simulate(model, tokens, split, verify="replay")
    assert tr.meta["segments_replayed"] and "protocol_matches_forward" not in tr.meta
    ffn = FFNModel.random(5, 40, np.random.default_rng(2), precision=Precision.fixed(12))
    with pytest.raises(InvalidInputError, match="for RNNs"):
        simulate(ffn, tokens, split, verify="replay")
    tr, _ = simulate(ffn, tokens, split, verify="forward")
    assert tr.meta["protocol_matches_forward"]


@pytest.mark.parametrize("mode", ["forward", "replay", "all"])
def test_simulate_verify_modes_name_each_check_in_the_result_json_trials_and_sweep(mode):
    """simulate_instance / run_trials / run_sweep with verify=MODE: the result says which
    checks ran by name (True) and which did not (None), in the JSON as well; trials
    name theirs; sweep rows carry the mode and each check's state."""
    from commlb.simulate import build_model, resolve_task, run_trials, simulate_instance
    from commlb.sweep import run_sweep

    setup = resolve_task("disjointness", 4)
    built = build_model(setup, "rnn")
    res = simulate_instance(setup, built, seed=3, verify=mode)
    ran = {"forward": {"protocol_matches_forward"}, "replay": {"segments_replayed"},
           "all": {"protocol_matches_forward", "segments_replayed"}}[mode] | {"messages_decode_to_handoff_states"}
    assert {name for name, ok in res.verification.items() if ok} == ran
    assert all(ok is None for name, ok in res.verification.items() if name not in ran)
    assert res.verify == mode and res.protocol_matches_forward == ("protocol_matches_forward" in ran)
    out = json.loads(json.dumps(res.to_json()))
    assert out["verify"] == mode and out["verification"] == {n: (True if n in ran else None) for n in res.verification}
    assert out["protocol_matches_forward"] is (True if "protocol_matches_forward" in ran else None)
    trials = run_trials(setup, built, 3, seed=1, verify=mode)
    assert trials.verified == 3 and set(trials.checks) == ran - {"messages_decode_to_handoff_states"}
    row = run_sweep("disjointness", "rnn", [4], trials=0, instances=2, verify=mode).rows[0]
    assert row.ok and row.verify == mode
    assert row.protocol_matches_forward is (True if "protocol_matches_forward" in ran else None)
    assert row.segments_replayed is (True if "segments_replayed" in ran else None)
    assert row.to_json()["verify"] == mode


def test_verify_messages_runs_the_decoding_check_alone_and_says_the_output_is_unchecked():
    """verify="messages": only ``messages_decode_to_handoff_states`` runs (no forward
    pass, no replay), the result and the JSON say so, trials count a run verified by that
    check, and the display adds a line that the output was not checked."""
    from commlb.cli.simulate import verification_lines
    from commlb.simulate import build_model, resolve_task, run_trials, simulate_instance
    from commlb.sweep import run_sweep

    model, tokens, split = _long_case((-1,))
    tr, out = simulate_rnn(model, tokens, split, verify="messages")
    assert tr.meta["verification"] == ["messages_decode_to_handoff_states"]
    assert "protocol_matches_forward" not in tr.meta and "segments_replayed" not in tr.meta
    assert out.same_bits(model.forward(tokens))  # the engine's output, checked here by the test
    setup = resolve_task("disjointness", 4)
    built = build_model(setup, "rnn")
    res = simulate_instance(setup, built, seed=3, verify="messages")
    assert res.verify == "messages" and res.protocol_matches_forward is False
    assert res.verification == {"messages_decode_to_handoff_states": True, "segments_replayed": None,
                                "protocol_matches_forward": None}
    assert json.loads(json.dumps(res.to_json()))["verify"] == "messages"
    trials = run_trials(setup, built, 3, seed=1, verify="messages")
    assert trials.verified == 3 and trials.checks == ("messages_decode_to_handoff_states",)
    row = run_sweep("disjointness", "rnn", [4], trials=0, instances=2, verify="messages").rows[0]
    assert row.ok and row.verify == "messages" and row.protocol_matches_forward is None
    lines = verification_lines(res.verification, True)
    assert len(lines) == 2 and "not checked" in lines[1]
    assert not any("not checked" in line for line in verification_lines(
        simulate_instance(setup, built, seed=3, verify="forward").verification, True))


def test_verify_modes_the_model_lacks_are_refused_before_a_run():
    from commlb.errors import InvalidInputError
    from commlb.simulate import build_model, check_verify, resolve_task, run_trials, simulate_instance
    from commlb.sweep import run_sweep

    setup = resolve_task("disjointness", 4)
    transformer = build_model(setup, "transformer")
    assert check_verify("forward", transformer) == "forward" and check_verify(True, transformer) == "forward"
    for mode in ("replay", "all", "messages"):
        with pytest.raises(InvalidInputError, match="for RNNs"):
            simulate_instance(setup, transformer, verify=mode)
        with pytest.raises(InvalidInputError, match="for RNNs"):
            run_trials(setup, transformer, 2, verify=mode)
        with pytest.raises(InvalidInputError, match="for RNNs"):
            run_sweep("disjointness", "rnn,ffn", [4], trials=0, verify=mode)
    # simulate and sweep refuse with the one check: the same line for the same mistake
    for mode, models in (("replay", "rnn,ffn"), ("bogus", "rnn"), ("none", "rnn")):
        with pytest.raises(InvalidInputError) as by_sweep:
            run_sweep("disjointness", models, [4], trials=0, verify=mode)
        model = build_model(setup, models.split(",")[-1])
        with pytest.raises(InvalidInputError) as by_simulate:
            check_verify(mode, model)
        assert str(by_sweep.value) == str(by_simulate.value)
    fmodel = RNNModel.random(5, np.random.default_rng(1), hidden=3, precision=Precision.float_(16))
    assert check_verify("replay", fmodel) == "replay"  # float states cross exactly: the replay applies
    with pytest.raises(InvalidInputError, match="--verify must be"):
        check_verify("quick", fmodel)


@settings(deadline=None, max_examples=60)
@given(cases(fixed=False))
def test_float_segment_replay_is_exact_and_refuses_a_changed_state(case):
    """Float mode: the state crosses as exactly representable p-bit floats, so replaying
    every segment (the batched float step) from the decoded message before it gives each
    next message and the output exactly; a message with one value doubled (still an
    exact p-bit float) no longer matches."""
    model, tokens, split = case
    tr, out = simulate_rnn(model, tokens, split, verify="replay")
    assert tr.meta["verification"] == ["messages_decode_to_handoff_states", "segments_replayed"]
    ref = model.forward(tokens)
    assert out.same_bits(ref) and out.saturations == ref.saturations
    both, _ = simulate_rnn(model, tokens, split, verify="all")
    assert both.meta["segments_replayed"] and both.meta["protocol_matches_forward"]
    if not len(tr.messages):
        return
    from commlb.bits import decode, encode
    from commlb.protocol.core import Message, Transcript

    msgs = list(tr.messages)
    k = len(msgs) // 2
    spec = msgs[k].fields[0]
    vals = msgs[k].values()["state"].copy()
    flat = vals.reshape(-1)
    v = flat[0]
    flat[0] = Precision.float_(spec.width).quantize(np.array([2 * v if v else 0.5])).values[0]
    assert flat[0] != v  # doubled (or 0.5 for a zero): another exactly representable value
    payload = encode([spec], {"state": vals})
    assert np.array_equal(decode([spec], payload)["state"], vals)
    msgs[k] = Message(msgs[k].round, msgs[k].sender, msgs[k].receiver, msgs[k].label, msgs[k].fields, payload)
    with pytest.raises(EngineError, match=f"segment {k} from the message before it"):
        rp.replay_segments(model, tokens, split, Transcript(msgs, tr.output, {}), out)


def test_forward_check_in_a_second_thread_is_the_same_check(monkeypatch):
    """With a free core the forward check's pass runs in a thread beside the engine's
    run: same transcript, output and metadata as run after it; a forward pass that
    disagrees or fails still fails the run (the thread's error reaches the caller)."""
    import commlb.kernels.gf2 as gf2

    model, tokens, split = _long_case()
    serial_tr, serial_out = simulate_rnn(model, tokens, split, verify="all")
    monkeypatch.setattr(rp, "OVERLAP_FROM_TOKENS", 1)
    monkeypatch.setattr(gf2, "free_cores", lambda: 2)
    started = []
    original = rp._ForwardAside.__init__

    def spy(self, *args):
        started.append(True)
        original(self, *args)

    monkeypatch.setattr(rp._ForwardAside, "__init__", spy)
    tr, out = simulate_rnn(model, tokens, split, verify="all")
    assert started and model.cell().dense
    assert out.same_bits(serial_out) and tr.meta == serial_tr.meta
    assert [m.bits for m in tr.messages] == [m.bits for m in serial_tr.messages]
    real_forward = model.forward

    def off_by_one(toks):
        ref = real_forward(toks)
        return type(ref)(ref.values + 1, ref.decision, ref.saturations)

    monkeypatch.setattr(model, "forward", off_by_one)
    with pytest.raises(EngineError, match="forward pass"):
        simulate_rnn(model, tokens, split, verify=True)

    def broken(toks):
        raise RuntimeError("forward pass crashed")

    monkeypatch.setattr(model, "forward", broken)
    with pytest.raises(RuntimeError, match="crashed"):
        simulate_rnn(model, tokens, split, verify=True)
    monkeypatch.setattr(gf2, "free_cores", lambda: 1)  # a busy machine: no thread
    started.clear()
    monkeypatch.setattr(model, "forward", real_forward)
    simulate_rnn(model, tokens, split, verify=True)
    assert not started


def test_replay_checks_every_step_the_engine_kept(monkeypatch):
    """With verify='replay' the engine keeps the state after every position and the
    replay recomputes each step from the state before it (the message's decoded state at
    a segment start): a kept state changed anywhere — even one no message or output
    carries — fails the run; the run keeps only the marks it needs otherwise."""
    from commlb.kernels.rnn import RNNCell

    model, tokens, split = _long_case()
    assert model.cell().float_ok
    seen = []
    original = RNNCell.run_marked

    def corrupt(self, states, toks, marks, backend="auto"):
        out = original(self, states, toks, marks, backend)
        seen.append(len(marks))
        if len(marks) == toks.shape[1]:  # every position kept: change one in the middle
            out[2][0, 5, 0, 0] += 1
        return out

    monkeypatch.setattr(RNNCell, "run_marked", corrupt)
    simulate_rnn(model, tokens, split, verify=False)
    assert seen[-1] < 40  # only the handoffs and outputs
    with pytest.raises(EngineError, match="state after position 5 does not follow"):
        simulate_rnn(model, tokens, split, verify="replay")
    assert seen[-1] == int(model.output_positions(40).max()) + 1
