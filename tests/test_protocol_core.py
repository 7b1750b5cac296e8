import numpy as np
import pytest

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
