"""The direct FFN constructions (commlb/models/constructions/ffn_direct.py): exact on
every input at small n, on 1,000 random instances at n = 16..256 (1024 in the full run,
``COMMLB_FULL=1``, which also runs tests/test_constructions_full.py; index lookup at
n = 16, 64, 128: its dense one-hot table grows as n³, a forward pass at n = 256 takes
~0.1 s, and n = 1024 is refused), one message whose information is exactly n bits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.ffn_direct import MAX_TABLE, build, min_hidden
from commlb.protocol.core import Split
from commlb.protocol.ffn import simulate_ffn
from commlb.registry import get_reduction, get_task
from commlb.tasks.index_lookup import IndexLookupTask

from sizes import full


def _decide(model, rows):
    """Decisions by the model's own two steps (first-layer sum from its contribution
    table, then :meth:`finish`), with the table built once; the first rows are also run
    through ``forward`` to hold the shortcut to the plain forward pass."""
    rows = np.asarray(rows, dtype=np.int64)
    T = rows.shape[1]
    table = model.contribution_table(np.arange(T, dtype=np.int64))
    out = []
    for k, row in enumerate(rows):
        res = model.finish(table[np.arange(T), row].sum(axis=0))
        if k < 3:
            assert res.same_bits(model.forward(row))
        assert res.saturations == 0
        out.append(int(res.decision))
    return np.array(out)


def _truth(task, rows):
    return np.array([task.solve(r) for r in rows])


@pytest.mark.parametrize("name", ["disjointness", "equality"])
def test_strings_exact_on_every_input_small_n(name):
    task = get_task(name)
    for n in range(1, 6):
        model = build(task, n)
        vecs = list(itertools.product([0, 1], repeat=n))
        rows = [task.assemble(np.array(a), np.array(b)) for a in vecs for b in vecs]
        expect = [int(not np.any(np.array(a) & np.array(b))) if name == "disjointness" else int(a == b)
                  for a in vecs for b in vecs]
        assert np.array_equal(_decide(model, rows), np.array(expect)), n


def test_index_lookup_exact_on_every_input_small_n():
    for alphabet, top in ((2, 6), (3, 4), (5, 3)):
        for n in range(1, top + 1):
            task = IndexLookupTask(alphabet=alphabet, n=n)
            model = build(task, n)
            rows = [np.concatenate([x, [alphabet, alphabet + 1 + i]])
                    for x in itertools.product(range(alphabet), repeat=n) for i in range(n)]
            assert np.array_equal(_decide(model, rows), _truth(task, rows)), (alphabet, n)


@pytest.mark.parametrize("name,n", [(t, n) for t in ("disjointness", "equality") for n in (16, 64, 256, *full(1024))])
def test_strings_on_1000_random_instances(name, n):
    task = get_task(name)
    model = build(task, n)
    rng = np.random.default_rng(n)
    rows = []
    for k in range(1000):  # half drawn to answer 1 (disjoint / equal), half uniform
        a = rng.integers(0, 2, size=n)
        if k % 2:
            b = rng.integers(0, 2, size=n)
        elif name == "equality":
            b = a.copy()
        else:
            b = rng.integers(0, 2, size=n) & (1 - a)
        rows.append(task.assemble(a, b))
    truth = _truth(task, rows)
    assert 0.3 < truth.mean() < 0.7
    assert np.array_equal(_decide(model, rows), truth)


@pytest.mark.parametrize("n,alphabet", [(16, 2), (64, 4), (128, 2)])
def test_index_lookup_on_1000_random_instances(n, alphabet):
    task = IndexLookupTask(alphabet=alphabet, n=n)
    model = build(task, n)
    rng = np.random.default_rng(n + alphabet)
    rows = [task.generate(rng, n) for _ in range(1000)]
    truth = _truth(task, rows)
    assert len(set(truth.tolist())) == alphabet
    assert np.array_equal(_decide(model, rows), truth)


def test_index_lookup_too_large_a_table_is_refused_with_an_estimate():
    n = 1024
    assert (n + 2) * (3 + n) * n > MAX_TABLE
    with pytest.raises(InvalidInputError, match="GiB"):
        build(IndexLookupTask(alphabet=2, n=n), n)


@pytest.mark.parametrize("name,reduction", [("disjointness", "disj-to-disjointness"),
                                            ("equality", "eq-to-equality"),
                                            ("index-lookup", "index-to-index-lookup")])
def test_one_message_whose_information_is_n_bits(name, reduction):
    """The protocol is one message of h_1 accumulators; over all of Alice's inputs it takes
    exactly 2^n values (effective bits = n = the one-way bound), counted by the witness
    machinery and, independently, by running the engine on every input."""
    from commlb.witness import effective_bits

    n = 8
    red = get_reduction(reduction, n=n)
    task = red.task
    model = get_construction(name, "ffn")(task, n)
    assert model.params["b1"].shape == (min_hidden(name, n),) and "w2" not in model.params  # one hidden layer
    payloads = set()
    rng = np.random.default_rng(0)
    y = red.problem.sample_y(rng) if hasattr(red.problem, "sample_y") else None
    for x in itertools.product([0, 1], repeat=n):
        xb = np.array(x)
        yb = y if y is not None else (np.array([3]) if name == "index-lookup" else np.zeros(n, dtype=np.int64))
        inst = red.encode(xb, yb)
        transcript, out = simulate_ffn(model, inst.tokens, Split.from_instance(inst))
        assert transcript.rounds == 1 and len(transcript.messages) == 1
        assert transcript.messages[0].bits == transcript.total_bits
        assert transcript.meta["protocol_matches_forward"]
        assert int(red.decode(out.decision)) == int(np.asarray(red.problem.evaluate(xb, yb)).reshape(-1)[0])
        payloads.add(transcript.messages[0].payload.hex())
    assert len(payloads) == 2**n
    eff = effective_bits(red, model)
    assert eff.applicable and eff.distinct_messages == 2**n and eff.effective_bits == n


def test_options_are_checked():
    task = get_task("disjointness")
    with pytest.raises(InvalidInputError, match="hidden units"):
        build(task, 8, hidden=5)
    with pytest.raises(InvalidInputError, match="one hidden layer"):
        build(task, 8, layers=2)
    with pytest.raises(InvalidInputError, match="no option"):
        build(task, 8, width=3)
    with pytest.raises(InvalidInputError, match="solves"):
        build(get_task("qsa"), 8)
