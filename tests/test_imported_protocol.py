"""Imported GPT-2 / LSTM / GRU / RNN run as protocols: verified against the forward pass,
float32 accounting (32 bits per value listed), per-layer bits and rounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from commlb.core import ALICE, BOB
from commlb.imported import open_model
from commlb.imported.adapter import load_adapter
from commlb.imported.protocol import (
    float32_values,
    homes,
    make_split,
    simulate_imported,
)
from commlb.registry import get_task

DATA = Path(__file__).parent / "data" / "models"
AD = load_adapter("sht24-khop")
GPT2 = open_model(str(DATA / "gpt2_backbone.pt"), str(DATA / "gpt2_backbone.yaml"), adapter=AD)


def _khop_instance(seed: int, n: int = 20, k: int = 2):
    task = get_task("khop", k=k, alphabet=4)
    x = task.generate(np.random.default_rng(seed), n)
    ids = AD.encode(x[None], {"k": k})[0]
    _, scored = AD.targets_and_scored(task.solve(x)[None], n)
    return x, ids, scored[0]


def _check_accounting(run, layers: int) -> None:
    tr = run.transcript
    listed = sum(float32_values(m) for m in tr.messages)
    assert tr.total_bits == 32 * listed
    for m in tr.messages:
        assert m.bits == 32 * float32_values(m) and m.bits == len(m.payload)
        for vals in m.values().values():  # every payload decodes to finite float32s
            assert np.all(np.isfinite(np.asarray(vals).astype(np.uint32).view(np.float32)))
    js = run.to_json()
    assert len(js["layers"]) == layers
    assert sum(row["bits"] for row in js["layers"]) == tr.total_bits
    assert js["float32_values"] * 32 == js["total_bits"]
    assert all(row["rounds"] <= tr.rounds for row in js["layers"])


@pytest.mark.parametrize("split", ["prefix:10", "interleave", "prefix:3"])
@pytest.mark.parametrize("mode", ["cheaper", "partial", "kv"])
def test_gpt2_protocol_matches_forward(split, mode):
    for seed in range(3):
        _, ids, scored = _khop_instance(seed)
        run = simulate_imported(GPT2, ids, make_split(split, 1, 20), scored, mode)
        ref = GPT2.predict(ids[None])[0][scored]
        np.testing.assert_array_equal(run.predictions, ref.argmax(-1))
        assert run.check["same_readout_positions"] == run.check["scored_positions"] == int(scored.sum())
        assert run.check["largest_difference"] <= 1e-5 * np.abs(ref).max()
        assert np.max(np.abs(run.values - ref)) == pytest.approx(run.check["largest_difference"])
        _check_accounting(run, GPT2.layers)
        assert run.transcript.total_bits > 0


def test_gpt2_prefix_split_is_one_way_keys_values():
    """Under a prefix split Alice's positions never see Bob's (causal mask) and the public
    prefix is computed by both, so Alice alone speaks: her keys and values, per layer."""
    _, ids, scored = _khop_instance(1)
    run = simulate_imported(GPT2, ids, make_split("prefix:10", 1, 20), scored, "kv")
    tr = run.transcript
    assert tr.rounds == 1 and tr.one_way and all(m.sender == ALICE for m in tr.messages)
    # 10 positions x (keys + values) x width per layer
    assert tr.total_bits == GPT2.layers * 10 * 2 * GPT2.width * 32
    part = simulate_imported(GPT2, ids, make_split("prefix:10", 1, 20), scored, "partial")
    # Bob's 10 queries, then per query and head (max, sum, d_head weighted sum)
    per_layer = 10 * GPT2.width + 10 * GPT2.heads * (GPT2.head_dim + 2)
    assert part.transcript.total_bits == GPT2.layers * per_layer * 32
    assert part.transcript.rounds == 2 * GPT2.layers


def test_alice_messages_do_not_depend_on_bobs_tokens():
    _, ids, scored = _khop_instance(2)
    split = make_split("prefix:10", 1, 20)
    other = ids.copy()
    other[11:] = 17 + (other[11:] - 17 + 1) % 4  # change every Bob token
    a = simulate_imported(GPT2, ids, split, scored, "kv").transcript
    b = simulate_imported(GPT2, other, split, scored, "kv").transcript
    assert a.fingerprint() == b.fingerprint()
    split = make_split("interleave", 1, 20)
    bob = split.owner == BOB
    other = ids.copy()
    other[bob] = 17 + (ids[bob] - 17 + 1) % 4
    a = simulate_imported(GPT2, ids, split, scored, "partial").transcript
    b = simulate_imported(GPT2, other, split, scored, "partial").transcript
    assert a.messages[0].sender == ALICE
    assert a.messages[0].payload == b.messages[0].payload  # Alice's first queries: her tokens only
    assert a.fingerprint() != b.fingerprint()


def test_homes_of_public_positions():
    P = 2
    owner = np.array([P, ALICE, P, BOB, P])
    assert homes(owner).tolist() == [P, ALICE, ALICE, BOB, BOB]


@pytest.mark.parametrize("file,per_layer", [("lstm.pt", 2), ("gru.safetensors", 1), ("rnn.pt", 1)])
@pytest.mark.parametrize("split", ["prefix:7", "interleave"])
def test_recurrent_protocol_hands_over_the_state(file, per_layer, split):
    model = open_model(str(DATA / file))
    ids = np.random.default_rng(3).integers(0, model.vocab_size, 20)
    scored = np.ones(20, dtype=bool)
    sp = make_split(split, 0, 20)
    run = simulate_imported(model, ids, sp, scored)
    ref = model.predict(ids[None])[0]
    np.testing.assert_array_equal(run.predictions, ref.argmax(-1))
    assert run.check["largest_difference"] <= 1e-5 * np.abs(ref).max()
    handovers = sp.owner_changes()
    assert run.transcript.total_bits == handovers * model.layers * per_layer * model.width * 32
    assert run.transcript.rounds == handovers
    _check_accounting(run, model.layers)
