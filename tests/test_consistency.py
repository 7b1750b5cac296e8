"""assert_consistent over every task x model family at small sizes, over every available
construction, over random models / splits / precisions (hypothesis), and against
deliberately broken engines and reductions (the harness must catch each)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb.protocol.rnn as protocol_rnn
from commlb.bits import Precision
from commlb.core import BoundKind, KnownBound
from commlb.models.constructions import list_constructions
from commlb.protocol.core import Message, Split, Transcript
from commlb.reductions.strings import DisjToDisjointness
from commlb.simulate import TASK_DEFAULTS, build_model, resolve_task, simulate_instance
from commlb.testing import assert_consistent
from commlb.testing.consistency import ConsistencyReport

FAMILIES = ("transformer", "rnn", "ffn")
#: small problem sizes per task (every pair checked where the input space allows)
SMALL_N = {"disjointness": 3, "equality": 3, "index-lookup": 4, "khop": 2, "match3": 3, "dyck22": 3,
           "nearest-neighbor": 4, "function-composition": 3, "qsa": 3}
TOKEN_TASKS = sorted(t for t, spec in TASK_DEFAULTS.items() if spec.reduction is not None and t != "qsa")


# ------------------------------------------------------------------ every task x family (random weights)
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", TOKEN_TASKS)
def test_every_task_and_family_random_weights(task, family):
    setup = resolve_task(task, SMALL_N[task])
    built = build_model(setup, family, weights="random", seed=1, precision=12)
    report = assert_consistent(None, setup.reduction, built.model, samples=24, seed=2)
    assert isinstance(report, ConsistencyReport) and report.pairs > 0
    assert report.bits_min >= 0 and report.bits_max >= report.bits_min


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("split", ["interleave", "prefix:3"])
def test_other_splits(family, split):
    setup = resolve_task("disjointness", 2)
    built = build_model(setup, family, weights="random", seed=3, precision=10)
    report = assert_consistent(None, setup.reduction, built.model, split, samples=16)
    assert report.exhaustive and report.pairs == 16


# ------------------------------------------------------------------ constructions (every one that exists)
CONSTRUCTED = [(t, f) for t, f in list_constructions() if t in SMALL_N]


@pytest.mark.parametrize("task, family", CONSTRUCTED)
def test_constructions_are_consistent_and_meet_their_bound(task, family):
    setup = resolve_task(task, SMALL_N[task])
    built = build_model(setup, family)
    assert built.source == "construction"
    report = assert_consistent(None, setup.reduction, built.model, samples=256, seed=0)
    assert report.exhaustive, "small sizes are checked on every pair"
    assert report.correct == report.pairs, f"the {task}/{family} construction errs on some input"
    # a model correct on every pair sends at least the bound that applies (when one does)
    has_bound = any(b.value is not None and not b.asymptotic and b.kind in (
        BoundKind.ONE_WAY_AB, BoundKind.ONE_WAY_BA, BoundKind.DETERMINISTIC) for b in setup.problem.bounds())
    assert report.bound_checked == has_bound
    if report.bound_checked:
        assert report.bits_max >= report.bound_bits


def test_index_lookup_construction_bound_numbers():
    setup = resolve_task("index-lookup", 4)
    built = build_model(setup, "transformer")
    report = assert_consistent(None, setup.reduction, built.model, samples=64)
    assert report.exhaustive and report.pairs == 16 * 4 and report.correct == 64
    assert report.senders == ("alice", "bob")  # Bob's query, Alice's answer
    assert report.bound_checked and report.bound_bits == 2  # D(INDEX_4) = 3, minus the announcement


NO_REDUCTION = [(t, f) for t, f in list_constructions() if TASK_DEFAULTS.get(t) and TASK_DEFAULTS[t].reduction is None]


@pytest.mark.parametrize("task, family", NO_REDUCTION)
def test_constructions_without_reduction_run_verified(task, family):
    setup = resolve_task(task, 8)
    built = build_model(setup, family)
    for seed in range(5):
        res = simulate_instance(setup, built, seed=seed)
        assert res.protocol_matches_forward
        assert res.transcript.total_bits == sum(len(m.payload) for m in res.transcript.messages)


# ------------------------------------------------------------------ hypothesis: random models, splits, precisions
def _precision(draw) -> Precision:
    if draw(st.booleans()):
        return Precision.fixed(draw(st.integers(6, 20)))
    return Precision.float_(2 * draw(st.integers(5, 10)))


@st.composite
def random_setups(draw, family: str):
    task = draw(st.sampled_from(["disjointness", "equality", "index-lookup"]))
    n = draw(st.integers(1, 4))
    setup = resolve_task(task, n)
    length = setup.length
    owners = draw(st.lists(st.sampled_from("ABP"), min_size=length, max_size=length))
    split = "".join(owners)
    prec = _precision(draw)
    seed = draw(st.integers(0, 2**16))
    size = draw(st.integers(1, 6))
    layers = draw(st.integers(1, 2))
    return setup, split, prec, seed, size, layers


def _random_model(setup, family, prec, seed, size, layers):
    rng = np.random.default_rng(seed)
    kind, classes = setup.readout()
    if family == "transformer":
        from commlb.models.transformer import TransformerModel

        return TransformerModel.random(setup.vocab_size, setup.length, rng, layers=layers, heads=1 + size % 2,
                                       width=2 * size, precision=prec, output_kind=kind, num_classes=max(2, classes))
    if family == "rnn":
        from commlb.models.rnn import RNNModel

        return RNNModel.random(setup.vocab_size, rng, size, layers=layers, precision=prec, output_kind=kind,
                               num_classes=max(2, classes))
    from commlb.models.ffn import FFNModel

    return FFNModel.random(setup.vocab_size, setup.length, rng, hidden=size, layers=layers, precision=prec,
                           output_kind=kind, num_classes=max(2, classes))


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_hypothesis_random_models_splits_precisions(family, data):
    setup, split, prec, seed, size, layers = data.draw(random_setups(family))
    model = _random_model(setup, family, prec, seed, size, layers)
    rng = np.random.default_rng(seed)
    pairs = [setup.problem.sample(rng) for _ in range(3)]
    report = assert_consistent(None, setup.reduction, model, split, inputs=pairs, seed=seed)
    assert report.pairs == 3


# ------------------------------------------------------------------ the harness catches broken things
class _FlippedDecode(DisjToDisjointness):
    name = "broken: flipped decode"

    def decode(self, output):
        return 1 - super().decode(output)


def test_catches_an_unsound_reduction():
    red = _FlippedDecode(3)
    built = build_model(resolve_task("disjointness", 3), "rnn", weights="random")
    with pytest.raises(AssertionError, match="soundness"):
        assert_consistent(None, red, built.model)


def test_catches_a_reduction_whose_alice_tokens_read_y():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("broken_reductions", Path(__file__).with_name("broken_reductions.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    red = module.AliceReadsY(3)  # still sound, but Alice's tokens are x AND y
    built = build_model(resolve_task("disjointness", 3), "rnn", weights="random")
    with pytest.raises(AssertionError, match="locality"):
        assert_consistent(None, red, built.model, samples=64)


def test_catches_a_party_reading_the_other_partys_token(monkeypatch):
    real = protocol_rnn.simulate_rnn

    def leaky(model, tokens, split, *, verify=True):
        owner = split.owner.copy()
        first_bob = int(np.flatnonzero(owner == 1)[0])
        owner[first_bob] = 0  # Alice quietly reads Bob's first token
        return real(model, tokens, Split(owner, split.name), verify=verify)

    monkeypatch.setattr(protocol_rnn, "simulate_rnn", leaky)
    setup = resolve_task("disjointness", 3)
    built = build_model(setup, "rnn", weights="random", hidden=3, precision=10)
    with pytest.raises(AssertionError, match="isolation"):
        assert_consistent(None, setup.reduction, built.model, samples=64)


def test_catches_a_miscounted_message(monkeypatch):
    real = protocol_rnn.simulate_rnn

    def miscount(model, tokens, split, *, verify=True):
        tr, out = real(model, tokens, split, verify=verify)
        m = tr.messages[0]
        wider = tuple(type(f)(f.name, f.kind, f.shape, f.width + 1, f.frac) for f in m.fields)
        bad = Message(m.round, m.sender, m.receiver, m.label, wider, m.payload, m.note)
        return Transcript([bad, *tr.messages[1:]], tr.output, tr.meta), out

    monkeypatch.setattr(protocol_rnn, "simulate_rnn", miscount)
    setup = resolve_task("disjointness", 3)
    built = build_model(setup, "rnn", weights="random", hidden=2)
    with pytest.raises(AssertionError, match="honest counting"):
        assert_consistent(None, setup.reduction, built.model, samples=8)


def test_catches_an_extra_handoff(monkeypatch):
    real = protocol_rnn.simulate_rnn

    def extra(model, tokens, split, *, verify=True):
        tr, out = real(model, tokens, split, verify=verify)
        return Transcript([*tr.messages, tr.messages[0]], tr.output, tr.meta), out

    monkeypatch.setattr(protocol_rnn, "simulate_rnn", extra)
    setup = resolve_task("disjointness", 3)
    built = build_model(setup, "rnn", weights="random", hidden=2)
    with pytest.raises(AssertionError, match="RNN formula"):
        assert_consistent(None, setup.reduction, built.model, samples=8)


def test_catches_a_correct_model_below_a_claimed_bound(monkeypatch):
    setup = resolve_task("index-lookup", 4)
    built = build_model(setup, "transformer")
    inflated = [KnownBound(BoundKind.DETERMINISTIC, "10^6 (false)", "test", value=1e6, exact=True)]
    monkeypatch.setattr(setup.problem, "bounds", lambda: inflated)
    with pytest.raises(AssertionError, match="the bound fails"):
        assert_consistent(None, setup.reduction, built.model, samples=64)
