"""The one-way query-vector protocol (SHT23 Thm 4's protocol): one message from the owner of
the output position, the receiver's output equals the forward pass, and the message size
is the shape formula H·d_k·p + self sums + m·p whatever the weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.core import ALICE, BOB, PUBLIC
from commlb.errors import InvalidInputError
from commlb.models.transformer import TransformerModel
from commlb.protocol.core import Split
from commlb.protocol.query_vector import query_vector_applies, query_vector_bits, simulate_query_vector


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(2, 9), heads=st.integers(1, 3),
       width=st.integers(2, 8), causal=st.booleans(), mlp=st.booleans(),
       attention=st.sampled_from(["softmax", "hard"]), arith=st.sampled_from(["fixed", "float"]))
def test_random_one_layer_models_agree_with_the_forward_pass(seed, length, heads, width, causal, mlp,
                                                             attention, arith):
    if attention == "hard":
        arith = "fixed"  # hard attention is a fixed-point model
    rng = np.random.default_rng(seed)
    prec = Precision.parse(12 if arith == "fixed" else 16, arith)
    model = TransformerModel.random(5, length, rng, heads=heads, width=width, causal=causal, mlp=mlp,
                                    precision=prec, attention=attention)
    tokens = rng.integers(0, 5, size=length)
    owner = rng.integers(0, 3, size=length).astype(np.int8)
    owner[-1] = int(rng.choice([int(ALICE), int(BOB)]))  # the output position is private
    split = Split(owner)
    transcript, out = simulate_query_vector(model, tokens, split)  # verify=True raises on a mismatch
    assert transcript.meta["protocol_matches_forward"] is True
    ref = model.forward(tokens)
    if prec.is_fixed:
        assert np.array_equal(out.values, ref.values)
    # one message, from the owner of the output position
    assert len(transcript.messages) == 1 and transcript.rounds == 1
    msg = transcript.messages[0]
    assert int(msg.sender) == int(owner[-1])
    # its size is the shape formula: query H·d_k·p, residual m·p, and the self sums
    asker_keys = int(np.sum(owner == owner[-1]))  # the output is last: it sees every key
    parts = query_vector_bits(model, asker_keys)
    assert parts["query"] == heads * model.key_dim * prec.bits
    assert parts["residual"] == width * prec.bits
    assert msg.bits == transcript.total_bits == parts["total"]
    sizes = {f.name: f.count * f.width for f in msg.fields}
    assert sizes["query"] == parts["query"] and sizes["residual"] == parts["residual"]
    assert sum(sizes.values()) - sizes["query"] - sizes["residual"] == parts["self_sums"]


def test_the_message_size_does_not_depend_on_the_weights():
    owner = np.array([BOB, BOB, PUBLIC, BOB, ALICE], dtype=np.int8)
    sizes = set()
    for seed in range(4):
        rng = np.random.default_rng(seed)
        model = TransformerModel.random(7, 5, rng, heads=2, width=6, precision=Precision.fixed(10))
        tr, _ = simulate_query_vector(model, rng.integers(0, 7, size=5), Split(owner))
        sizes.add(tr.total_bits)
    assert len(sizes) == 1


def test_qsa_construction_runs_it_correctly():
    from commlb.simulate import build_model, model_tokens, resolve_task, sample_inputs

    setup = resolve_task("qsa", 3)
    model = build_model(setup, "transformer").model
    rng = np.random.default_rng(0)
    for _ in range(10):
        x, y = sample_inputs(setup.problem, rng)
        inst = setup.reduction.encode(x, y)
        tr, out = simulate_query_vector(model, model_tokens("qsa", model, inst.tokens), Split(inst.owner))
        assert setup.reduction.decode(out.decision) == int(setup.problem.evaluate(x, y))
        assert tr.messages[0].sender == ALICE  # Alice holds the query's pointer set


def test_refusals():
    rng = np.random.default_rng(0)
    two = TransformerModel.random(4, 4, rng, layers=2)
    one = TransformerModel.random(4, 4, rng)
    assert "one-layer" in query_vector_applies(two, Split(np.zeros(4, dtype=np.int8)))
    public_out = Split(np.array([ALICE, BOB, BOB, PUBLIC], dtype=np.int8))
    assert "public" in query_vector_applies(one, public_out)
    with pytest.raises(InvalidInputError):
        simulate_query_vector(one, np.zeros(4, dtype=np.int64), public_out)
