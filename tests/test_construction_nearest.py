"""The two-layer nearest-neighbour transformer (BHBK24, docs/theory.md §9.4 reconstruction):
correct on every small instance with a defined answer, on random instances up to
k = 1024 points, width 2d + 2·labels + 4 = O(log N), integer precision O(log N), and a
protocol for INDEX through index-to-nearest-neighbor that passes the consistency
harness."""

import itertools
import math

import numpy as np
import pytest

import commlb
from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.nearest import build, model_width
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer
from commlb.tasks.nearest import NearestNeighborTask, hamming, nearest_label_reference
from commlb.testing import assert_consistent

from sizes import full

#: with d = ⌈log2 k⌉ and 2 labels: width = 2d + 8 <= WIDTH_CONSTANT·log2 N (N = 2k + 2 >= 34)
WIDTH_CONSTANT = 4
#: p <= log2 N + PRECISION_SLACK
PRECISION_SLACK = 2


@pytest.mark.parametrize("d,labels,k", [(1, 2, 3), (2, 2, 2), (2, 3, 2), (3, 2, 1), (1, 1, 2)])
def test_correct_on_every_small_instance(d, labels, k):
    task = NearestNeighborTask(d=d, labels=labels)
    model = build(task, k)
    defined = 0
    for pts in itertools.product(range(2**d), repeat=k):
        for labs in itertools.product(range(labels), repeat=k):
            for q in range(2**d):
                tokens = task.assemble(pts, labs, q)
                expect = nearest_label_reference(list(pts), list(labs), q, d)
                out = model.forward(tokens)
                assert out.saturations == 0
                if expect >= 0:
                    defined += 1
                    assert out.decision == expect
                    one_hot = np.zeros(labels, dtype=np.int64)
                    one_hot[expect] = 1
                    assert out.values[0].tolist() == one_hot.tolist()  # exactly the label's one-hot
                else:
                    # ties between labels: the answer is one of the nearest points' labels
                    dist = hamming(np.array(pts), q)
                    assert out.decision in set(np.array(labs)[dist == dist.min()].tolist())
    assert defined > 0


@pytest.mark.parametrize("k,instances", [(16, 1000), (64, 1000), (256, 150), *full((1024, 12))])
def test_correct_on_random_instances(k, instances):
    """d = ⌈log2 k⌉ (as in index-to-nearest-neighbor), 2 labels; plus a tenth as many
    with 3 labels in d + 3 dimensions.  One forward costs ~2 ms at k = 64, ~40 ms at
    k = 256 and ~0.27 s at k = 1024 (the T² previous-token layer), so 150 and 12
    instances are drawn there (k = 1024 in the full run, ``COMMLB_FULL=1``)."""
    d = max(1, math.ceil(math.log2(k)))
    for task, count in ((NearestNeighborTask(d=d, labels=2), instances),
                        (NearestNeighborTask(d=d + 3, labels=3), max(2, instances // 10))):
        model = build(task, k)
        rng = np.random.default_rng(k + task.d)
        for _ in range(count):
            tokens = task.generate(rng, k)
            out = model.forward(tokens)
            assert out.decision == task.solve(tokens)
            assert out.saturations == 0


def test_size_follows_the_construction():
    for k in (16, 64, 256, 1024):
        d = math.ceil(math.log2(k))
        model = build(NearestNeighborTask(d=d, labels=2), k)
        length = 2 * k + 2
        assert model.layers == 2 and model.heads == 1
        assert model.width == model_width(d, 2) == 2 * d + 8
        assert model.width <= WIDTH_CONSTANT * math.log2(length)
        assert model.precision.frac == 0
        assert model.precision.bits <= math.log2(length) + PRECISION_SLACK
        print(f"k={k}: d={d}, width {model.width}, p={model.precision.bits}")
    assert get_construction("nearest-neighbor", "transformer") is build


def test_options_and_refusals():
    task = NearestNeighborTask(d=4, labels=2)
    assert build(task, 8, layers=2, heads=1, width=model_width(4, 2), seed=3).width == 16
    for bad in ({"layers": 1}, {"heads": 2}, {"width": 40}, {"hidden": 2},
                {"precision": Precision.fixed(5, 0)}, {"precision": Precision.float_(16)}):
        with pytest.raises(InvalidInputError):
            build(task, 8, **bad)
    with pytest.raises(InvalidInputError):
        build(task, 0)
    model = build(task, 8, precision=Precision.fixed(16, 8))  # any format with the range works
    rng = np.random.default_rng(0)
    for _ in range(100):
        tokens = task.generate(rng, 8)
        assert model.forward(tokens).decision == task.solve(tokens)


# ------------------------------------------------------------------ protocol for INDEX
def test_protocol_index_every_input_with_bound():
    """INDEX_4 (d = 2): all 64 pairs; the harness checks faithfulness, counting,
    formulas, determinism, isolation and, the model being correct everywhere, the bound."""
    red = commlb.get_reduction("index-to-nearest-neighbor", n=4)
    model = build(red.task, 4)
    report = assert_consistent(None, red, model, samples=64)
    assert report.exhaustive and report.correct == report.pairs == 64
    assert report.bound_checked and report.bits_min >= report.bound_bits


@pytest.mark.parametrize("n", [16, 64])
def test_protocol_index_random(n):
    red = commlb.get_reduction("index-to-nearest-neighbor", n=n)
    model = build(red.task, n)
    rng = np.random.default_rng(n)
    for _ in range(12):
        x = rng.integers(0, 2, size=n)
        i = int(rng.integers(0, n))
        inst = red.encode(x, [i])
        transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst))
        assert red.decode(out.decision) == x[i]
        assert transcript.meta["protocol_matches_forward"] is True
        assert transcript.rounds >= 2
    print(f"INDEX_{n} via nearest neighbour: {transcript.total_bits} bits, {transcript.rounds} rounds")
    report = assert_consistent(None, red, model, samples=5, seed=2)
    assert report.correct == report.pairs


def test_fewer_points_than_built_for():
    """The model built for k points answers instances with any k' <= k points."""
    task = NearestNeighborTask(d=5, labels=3)
    model = build(task, 40)
    rng = np.random.default_rng(9)
    for _ in range(200):
        kk = int(rng.integers(1, 41))
        tokens = task.generate(rng, kk)
        assert model.forward(tokens).decision == task.solve(tokens)
