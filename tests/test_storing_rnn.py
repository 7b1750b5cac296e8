"""The storing RNN construction: exact on every input for small n, on random instances up
to n = 1024 (one and two layers), at several precisions, never saturating; its state
respects the one-way lower bound; the protocol sends d·p bits per layer in one round on
the reduction's split; undersized requests are refused with the minimum."""

import itertools
import math

import numpy as np
import pytest

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.storing_rnn import build, min_hidden, register_bits
from commlb.protocol.core import Split
from commlb.protocol.rnn import simulate_rnn
from commlb.registry import get_reduction, get_task
from commlb.tasks.index_lookup import IndexLookupTask

from sizes import full

#: (n, layers); N = 1024 in the full run (COMMLB_FULL=1)
SIZES_LAYERS = [(16, 1), (64, 1), (256, 1), (16, 2), (64, 2), (256, 2), *full((1024, 1), (1024, 2))]


def _decisions(model, rows):
    """Decisions at the last position for every row, asserting nothing saturated."""
    rows = np.asarray(rows, dtype=np.int64)
    start = np.broadcast_to(model.initial_state(), (rows.shape[0],) + model.state_shape)
    states, sat = model.run_batch(start, rows)
    assert int(sat.sum()) == 0
    values, rsat = model.readout(states)
    assert rsat == 0
    if model.config["output_kind"] == "binary":
        return (values[:, 0] > 0).astype(np.int64)
    return np.argmax(values, axis=1)


def _truth(task, rows):
    return np.array([task.solve(r) for r in rows])


def _all_strings(task, n):
    """Every (a, b) pair as token rows, and the answers computed from the bit vectors."""
    vecs = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int64).reshape(-1, n)
    a = np.repeat(vecs, len(vecs), axis=0)
    b = np.tile(vecs, (len(vecs), 1))
    rows = np.concatenate([a, np.full((len(a), 1), 2), b, np.full((len(a), 1), 3)], axis=1)
    if task.name == "disjointness":
        answers = (~np.any(a & b, axis=1)).astype(np.int64)
    else:
        answers = np.all(a == b, axis=1).astype(np.int64)
    return rows, answers


@pytest.mark.parametrize("name", ["disjointness", "equality"])
@pytest.mark.parametrize("layers", [1, 2])
def test_strings_exact_on_all_inputs_small_n(name, layers):
    task = get_task(name)
    for n in range(1, 9):
        model = build(task, n, layers=layers)
        rows, answers = _all_strings(task, n)
        sample = np.random.default_rng(n).integers(0, len(rows), size=50)
        assert np.array_equal(answers[sample], _truth(task, rows[sample]))  # the task agrees
        assert np.array_equal(_decisions(model, rows), answers), n


@pytest.mark.parametrize("layers", [1, 2])
def test_index_lookup_exact_on_all_inputs_small_n(layers):
    for alphabet, top in ((2, 8), (3, 5), (5, 3)):
        for n in range(1, top + 1):
            task = IndexLookupTask(alphabet=alphabet, n=n)
            model = build(task, n, layers=layers)
            rows = np.array([np.concatenate([x, [alphabet, alphabet + 1 + i]])
                             for x in itertools.product(range(alphabet), repeat=n) for i in range(n)])
            assert np.array_equal(_decisions(model, rows), _truth(task, rows)), (alphabet, n)


def _random_rows(task, n, count, seed):
    rng = np.random.default_rng(seed)
    return np.array([task.generate(rng, n) for _ in range(count)])


@pytest.mark.parametrize("n,layers", SIZES_LAYERS)
def test_disjointness_random_instances(n, layers):
    task = get_task("disjointness")
    model = build(task, n, layers=layers)
    rows = _random_rows(task, n, 1000, n + layers)
    truth = _truth(task, rows)
    assert 0.3 < truth.mean() < 0.7  # both answers well represented
    assert np.array_equal(_decisions(model, rows), truth)


@pytest.mark.parametrize("n,layers", SIZES_LAYERS)
def test_equality_random_and_near_miss_instances(n, layers):
    task = get_task("equality")
    model = build(task, n, layers=layers)
    rows = _random_rows(task, n, 1000, n + 7 * layers)
    # near misses: equal strings but for one flipped bit (anywhere, incl. the ends)
    rng = np.random.default_rng(n)
    near = []
    for k in range(300):
        a = rng.integers(0, 2, size=n)
        b = a.copy()
        b[[0, n - 1, int(rng.integers(0, n))][k % 3]] ^= 1
        near.append(task.assemble(a, b))
    rows = np.concatenate([rows, np.array(near)])
    truth = _truth(task, rows)
    assert truth.sum() > 300 and (truth == 0).sum() > 300
    assert np.array_equal(_decisions(model, rows), truth)


@pytest.mark.parametrize("n,layers,alphabet", [(16, 1, 2), (64, 1, 4), (256, 1, 2), (1024, 1, 2),
                                                (16, 2, 3), (64, 2, 2), (256, 2, 2)])
def test_index_lookup_random_instances(n, layers, alphabet):
    task = IndexLookupTask(alphabet=alphabet, n=n)
    model = build(task, n, layers=layers)
    rows = _random_rows(task, n, 1000, n + alphabet)
    truth = _truth(task, rows)
    assert len(set(truth.tolist())) == alphabet
    assert np.array_equal(_decisions(model, rows), truth)


@pytest.mark.parametrize("bits,frac", [(8, 4), (8, 5), (10, 7), (12, 6), (16, 4), (20, 10), (24, 12), (24, 20)])
@pytest.mark.parametrize("name", ["disjointness", "equality"])
def test_other_precisions(bits, frac, name):
    """The register layout adapts to (p, f); the range conditions keep it exact."""
    prec = Precision.fixed(bits, frac)
    task = get_task(name)
    n = min(40, prec.raw_max // 2)
    model = build(task, n, precision=prec)
    assert model.hidden == min_hidden(task, n, prec)
    rows = _random_rows(task, n, 300, bits)
    edge = [task.assemble(np.ones(n, np.int64), np.ones(n, np.int64)),
            task.assemble(np.zeros(n, np.int64), np.zeros(n, np.int64)),
            task.assemble(np.ones(n, np.int64), np.zeros(n, np.int64))]
    rows = np.concatenate([rows, np.array(edge)])
    assert np.array_equal(_decisions(model, rows), _truth(task, rows))


def test_forward_and_forward_batch_agree_with_the_batched_decisions():
    task = get_task("disjointness")
    model = build(task, 20)
    rows = _random_rows(task, 20, 30, 3)
    values, dec = model.forward_batch(rows)
    for r in range(5):
        out = model.forward(rows[r])
        assert out.saturations == 0
        assert np.array_equal(out.values, values[r]) and out.decision == dec[r, 0] == task.solve(rows[r])


def test_acceptance_n32_hidden8_p16_one_message_of_128_bits():
    task = get_task("disjointness")
    model = build(task, 32, precision=Precision.fixed(16), hidden=8)
    assert model.hidden == 8 and model.layers == 1
    red = get_reduction("disj-to-disjointness", n=32)
    rng = np.random.default_rng(0)
    answers = set()
    for _ in range(20):
        x, y = rng.integers(0, 2, 32), rng.integers(0, 2, 32)
        if rng.random() < 0.5:
            y = y * (1 - x)  # make some instances disjoint
        inst = red.encode(x, y)
        transcript, out = simulate_rnn(model, inst.tokens, Split.from_instance(inst))
        assert transcript.total_bits == 8 * 16 == 128 and transcript.rounds == 1
        assert transcript.one_way and transcript.meta["protocol_matches_forward"]
        assert out.decision == task.solve(inst.tokens) == int(not np.any(x & y))
        answers.add(out.decision)
    assert answers == {0, 1}
    two = build(task, 32, precision=Precision.fixed(16), hidden=8, layers=2)
    transcript, out = simulate_rnn(two, inst.tokens, Split.from_instance(inst))
    assert transcript.total_bits == 2 * 8 * 16 and transcript.rounds == 1
    assert out.decision == task.solve(inst.tokens)


def test_interleave_split_bits_follow_owner_changes():
    task = get_task("equality")
    n = 12
    model = build(task, n)
    red = get_reduction("eq-to-equality", n=n)
    inst = red.encode(np.arange(n) % 2, np.arange(n) % 2)
    split = Split.interleave(inst.owner)
    transcript, out = simulate_rnn(model, inst.tokens, split)
    changes = split.owner_changes()
    assert changes == 2 * n - 1
    assert transcript.rounds == changes
    assert transcript.total_bits == changes * model.hidden * model.precision.bits
    assert out.decision == 1


def test_index_lookup_protocol_is_one_message():
    task = IndexLookupTask(alphabet=2, n=10)
    model = build(task, 10)
    red = get_reduction("index-to-index-lookup", n=10)
    inst = red.encode(np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1]), np.array([3]))
    transcript, out = simulate_rnn(model, inst.tokens, Split.from_instance(inst))
    assert transcript.total_bits == 10 * 16 and transcript.rounds == 1  # d = n = 10 units
    assert out.decision == 1


@pytest.mark.parametrize("bits", [8, 12, 16, 20, 24])
def test_state_respects_the_one_way_lower_bound_and_is_linear(bits):
    """A correct model's state at the cut is a one-way protocol, so L·d·p >= n must hold
    (docs/theory.md §8); the construction is also within a constant factor of it."""
    prec = Precision.fixed(bits)
    k = register_bits(prec)
    for name in ("disjointness", "equality"):
        for n in (1, 5, 33, 100, 1000):
            if 2 * n > prec.raw_max:
                continue
            d = min_hidden(name, n, prec)
            assert d * bits >= n + 1
            assert d == max(2, math.ceil((n + 1) / k)) + 4
            assert d * bits <= 2 * (n + 1) * bits / k + 6 * bits
    assert min_hidden("index-lookup", 50, prec) * bits >= 50


def test_too_small_hidden_is_refused_with_the_minimum():
    task = get_task("disjointness")
    assert min_hidden(task, 32) == 7
    with pytest.raises(InvalidInputError, match="hidden >= 7"):
        build(task, 32, hidden=6)
    with pytest.raises(InvalidInputError, match="hidden >= 10"):
        build(IndexLookupTask(alphabet=2, n=10), 10, hidden=9)
    with pytest.raises(InvalidInputError, match="fixed-point"):
        build(task, 8, precision=Precision.float_(16))
    with pytest.raises(InvalidInputError):
        build(get_task("equality"), 8, precision=Precision.fixed(8, 6))  # f > p - 3
    with pytest.raises(InvalidInputError, match="no option"):
        build(task, 8, heads=2)
    with pytest.raises(InvalidInputError, match="solves"):
        build("dyck22", 8)
    with pytest.raises(InvalidInputError, match="counter"):
        build(task, 100, precision=Precision.fixed(8, 4))


def test_registry_entry_and_determinism():
    builder = get_construction("disjointness", "rnn")
    a = builder(get_task("disjointness"), 20)
    b = build(get_task("disjointness"), 20, seed=5, heads=None)
    for key in a.params:
        assert np.array_equal(a.params[key], b.params[key])
    assert a.config["construction"]["stored_bits"] >= 21
    assert a.activation == "relu"
