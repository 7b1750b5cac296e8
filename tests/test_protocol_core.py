import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import FieldSpec
from commlb.core import ALICE, BOB, PUBLIC, Instance
from commlb.errors import InvalidInputError
from commlb.protocol.core import Channel, IsolationError, PartyView, Split


def test_party_view_hides_other_party_tokens():
    tokens = np.array([5, 6, 7, 8])
    owner = np.array([ALICE, BOB, PUBLIC, ALICE])
    alice = PartyView(ALICE, tokens, owner)
    bob = PartyView(BOB, tokens, owner)
    assert alice.token(0) == 5 and alice.token(2) == 7 and alice.token(3) == 8
    with pytest.raises(IsolationError):
        alice.token(1)
    with pytest.raises(IsolationError):
        bob.token(0)
    assert bob.token(1) == 6
    # the hidden tokens are not stored at all
    assert 6 not in alice._tokens.values()


def test_channel_counts_encoded_bits_and_rounds():
    ch = Channel()
    f = [FieldSpec("state", "fixed", (3,), 8)]
    got = ch.send(ALICE, "state", f, {"state": np.array([1, -2, 127])})
    assert got["state"].tolist() == [1, -2, 127]
    ch.send(ALICE, "more", [FieldSpec("b", "bool", (2,), 1)], {"b": np.array([1, 0])})
    ch.send(BOB, "reply", [FieldSpec("v", "int", (1,), 5)], {"v": np.array([-16])})
    t = ch.transcript(output=np.array([1]))
    assert t.total_bits == 24 + 2 + 5
    assert t.bits_alice_to_bob == 26 and t.bits_bob_to_alice == 5
    assert t.rounds == 2
    assert [m.round for m in t.messages] == [1, 1, 2]
    assert not t.one_way
    js = t.to_json()
    assert js["total_bits"] == 31 and js["messages"][2]["values"]["v"] == [-16]


def test_splits():
    inst = Instance(np.arange(6), np.array([ALICE, ALICE, PUBLIC, BOB, BOB, PUBLIC]))
    assert Split.parse(None, inst).owner.tolist() == inst.owner.tolist()
    assert Split.parse("prefix:2", inst).owner.tolist() == [0, 0, 1, 1, 1, 1]
    inter = Split.parse("interleave", inst)
    assert inter.owner.tolist() == [0, 1, 2, 0, 1, 2]
    assert inter.owner_changes() == 3
    assert Split.parse("A,A,B,B,P,P", inst).owner.tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(InvalidInputError):
        Split.parse("prefix:9", inst)
    with pytest.raises(InvalidInputError):
        Split.parse("AB", inst)


@settings(deadline=None, max_examples=60)
@given(st.sampled_from([3, 8, 12, 16, 32, 64]), st.sampled_from(["fixed", "int", "uint"]), st.integers(0, 5),
       st.integers(0, 2**32 - 1), st.booleans())
def test_decodes_to_agrees_with_the_decoded_messages(width, kind, K, seed, two_fields):
    """MessageLog.decodes_to (the decoding check, read straight from packed words for
    byte-aligned signed layouts) says True exactly when the messages' decoded values
    (commlb.bits.decode of each message's bits) equal the given ones: honest values, one
    value changed, a bit of a message flipped, a message sent on its own after a block."""
    from commlb.bits import decode

    rng = np.random.default_rng(seed)
    lo, hi = (0, (1 << width) - 1) if kind == "uint" else (-(1 << (width - 1)), (1 << (width - 1)) - 1)
    fields = [FieldSpec("state", kind, (2, 3), width)]
    if two_fields:
        fields = [FieldSpec("head", "uint", (1,), 8)] + fields
    hi = min(hi, 2**63 - 1)  # int64 arrays
    values = {"state": rng.integers(lo, hi, size=(K, 2, 3), endpoint=True),
              "head": rng.integers(0, 255, size=(K, 1), endpoint=True)}
    values = {f.name: values[f.name] for f in fields}
    ch = Channel()
    ch.send_many(np.array([int(ALICE), int(BOB)] * K, dtype=np.int8)[:K], ["m"] * K, fields, values, [""] * K)
    single = {f.name: values[f.name][0] if K else rng.integers(0, 2, size=f.shape) for f in fields}
    ch.send(BOB, "one", fields, single, "")
    log = ch.messages
    expected = np.concatenate([values["state"], np.asarray(single["state"])[None].astype(values["state"].dtype)])
    by_decode = np.stack([decode(list(m.fields), m.payload)["state"] for m in log])
    assert np.array_equal(by_decode, expected)
    assert log.decodes_to("state", expected)
    changed = expected.copy()
    changed[int(rng.integers(len(changed))), 0, 0] ^= 1
    assert not log.decodes_to("state", changed)
    assert not log.decodes_to("state", expected[:-1])
    if K:
        block = log._parts[0].batch
        block.packed()
        if block._packed is not None:  # flip the first bit of the first value of message 0
            col = 1 if two_fields else 0
            block._packed = block._packed.copy()
            block._packed[0, col] ^= 0x80
            assert not log.decodes_to("state", expected)
