"""The pointer-doubling hop_k transformer (SHT24 Theorem 4.2, docs/theory.md §9.8): correct on
every short string and on random strings up to N = 1024 at every position, constant
width, ⌈log2 k⌉ + 2 layers with one head, O(log N) precision, and run as a protocol over
the pointer-chasing reductions with rounds growing with the depth."""

import itertools
import math

import numpy as np
import pytest

import commlb
from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.khop import (
    WIDTH,
    build,
    default_precision,
    hop_schedule,
    khop_layers,
    sequence_length,
)
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer
from commlb.reductions.pointer_multi import doubling_layers

from sizes import full

#: constant width of the construction (independent of N, k and the alphabet)
STATED_WIDTH = 19
#: precision at alphabet 4: p <= 2*ceil(log2 N) + PRECISION_SLACK bits
PRECISION_SLACK = 2


def _task(k, alphabet=4):
    return commlb.get_task("khop", k=k, alphabet=alphabet)


def _expected(task, tokens):
    """hop_k at every position, with ⊥ (−1) as class `alphabet`."""
    ans = task.solve(tokens)
    return np.where(ans < 0, task.alphabet, ans)


# ------------------------------------------------------------------ depth
def test_layers_formula_and_schedule():
    for k in range(1, 200):
        layers = khop_layers(k)
        assert layers == math.ceil(math.log2(k)) + 2
        assert 2 ** (layers - 3) < k <= 2 ** (layers - 2) or k == 1
        sched = hop_schedule(k)
        assert len(sched) == layers and sum(sched) == k and sched[0] == 0
        assert sched[1] in (0, 1)
        for ell in range(3, layers + 1):
            assert sched[ell - 1] in (0, 2 ** (ell - 3))
        assert layers == doubling_layers(k)  # one formula for the construction and the bound
        if k & (k - 1) == 0:  # powers of two: the ⌊log2 k⌋ + 2 quoted for SHT24's theorem
            assert layers == math.floor(math.log2(k)) + 2
    assert khop_layers(4) == 4  # the acceptance case
    with pytest.raises(InvalidInputError):
        khop_layers(0)


# ------------------------------------------------------------------ correctness
@pytest.mark.parametrize("alphabet,length", [(1, 4), (2, 7), (3, 5)])
def test_correct_on_every_short_string(alphabet, length):
    """Every string (equal neighbours included), every position, k = 1..5."""
    for k in range(1, 6):
        task = _task(k, alphabet)
        model = build(task, length, outputs="all")
        for tokens in itertools.product(range(alphabet), repeat=length):
            tokens = np.array(tokens)
            out = model.forward(tokens)
            assert np.array_equal(out.decision, _expected(task, tokens)), (k, tokens)
            assert out.saturations == 0


@pytest.mark.parametrize("n,instances", [(16, 1000), (64, 1000), (256, 200), *full((1024, 12))])
def test_correct_on_random_strings(n, instances):
    """k = 4 (4 layers).  Each forward is read at all n positions: by the causal mask the
    answer at position i is the model's answer on the prefix x_1..x_i, so a sequence checks
    n prefix instances.  One forward takes ~25 ms at N = 256 and ~0.1 s at N = 1024 (more
    on a loaded machine), so 200 sequences (51,200 prefix instances) are used at N = 256
    and 12 (12,288 prefix instances) at N = 1024 (in the full run, ``COMMLB_FULL=1``);
    1000 sequences at N = 16 and 64."""
    task = _task(4)
    model = build(task, n, outputs="all")
    assert model.layers == 4
    rng = np.random.default_rng(n)
    bottoms = 0
    for _ in range(instances):
        tokens = task.generate(rng, n)
        out = model.forward(tokens)
        expect = _expected(task, tokens)
        assert np.array_equal(out.decision, expect)
        assert out.saturations == 0
        bottoms += int(np.sum(expect == task.alphabet))
    assert bottoms > 0  # ⊥ answers were exercised


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 16])
def test_correct_for_other_k(k):
    n = 64
    task = _task(k, alphabet=3)
    model = build(task, n, outputs="all")
    last = build(task, n)  # read at the last position only
    rng = np.random.default_rng(k)
    for trial in range(150):
        # half generated (no equal neighbours), half arbitrary strings
        tokens = task.generate(rng, n) if trial % 2 else rng.integers(0, 3, size=n)
        expect = _expected(task, tokens)
        assert np.array_equal(model.forward(tokens).decision, expect)
        assert last.forward(tokens).decision == expect[-1]
        # a shorter sequence: the last-position model reads its own last position
        cut = int(rng.integers(1, n))
        assert last.forward(tokens[:cut]).decision == _expected(task, tokens[:cut])[-1]


# ------------------------------------------------------------------ size
def test_size_follows_the_theorem():
    for n in (16, 64, 256, 1024):
        for k in (1, 2, 4, 7, 16, 64):
            model = build(_task(k), n)
            assert model.width == WIDTH == STATED_WIDTH
            assert model.heads == 1
            assert model.layers == math.ceil(math.log2(k)) + 2
            assert model.key_dim == 3 and model.value_dim == 5 and model.mlp_dim == 12
            assert model.precision.frac == 0
            assert model.precision.bits <= 2 * math.ceil(math.log2(n)) + PRECISION_SLACK
            # the schedule, against its definition: layer 1 adds no hop, layer 2 one or
            # none, layer l >= 3 adds 0 or 2^(l-3), and the hops add up to k
            hops = hop_schedule(k)
            assert len(hops) == model.layers and hops[0] == 0 and hops[1] in (0, 1)
            assert all(h in (0, 1 << (ell - 3)) for ell, h in enumerate(hops[2:], start=3))
            assert sum(hops) == k
    # the width does not depend on the alphabet either; the precision grows like log(N·V²)
    wide = build(_task(4, alphabet=64), 256)
    assert wide.width == STATED_WIDTH
    assert wide.precision.bits <= math.ceil(math.log2(3 * 256 * 64**2)) + 2
    assert get_construction("khop", "transformer") is build


def test_options_and_refusals():
    task = _task(4)
    assert build(task, 32, layers=4, heads=1, width=19, seed=7).layers == 4
    with pytest.raises(InvalidInputError):
        build(task, 32, layers=3)
    with pytest.raises(InvalidInputError):
        build(task, 32, heads=2)
    with pytest.raises(InvalidInputError):
        build(task, 32, width=20)
    with pytest.raises(InvalidInputError):
        build(task, 32, hidden=3)
    with pytest.raises(InvalidInputError):
        build(task, 32, outputs="first")
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.fixed(8, 0))  # cannot hold 31²
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.float_(16))
    with pytest.raises(InvalidInputError):
        build(_task(0), 32)
    with pytest.raises(InvalidInputError):
        default_precision(10_000, 4)  # positions squared exceed 24 bits
    # any format with enough range gives the same answers (all values are integers)
    model = build(task, 64, precision=Precision.fixed(24, 6))
    rng = np.random.default_rng(3)
    for _ in range(50):
        tokens = task.generate(rng, 64)
        assert model.forward(tokens).decision == _expected(task, tokens)[-1]


# ------------------------------------------------------------------ protocol
def test_protocol_over_block_pointer_chasing_rounds_grow_with_depth():
    """pc-to-khop-blocks (SHT24 Prop. E.4 layout) on permutations of n = 4 vertices:
    the protocol's output decodes to v_k, it matches the forward pass bit for bit, and
    the number of rounds grows with the number of layers L = ⌈log2 k⌉ + 2."""
    rounds_by_layers = {}
    for k in (2, 4, 8, 16):
        red = commlb.get_reduction("pc-to-khop-blocks", n=4, k=k)
        rng = np.random.default_rng(k)
        model = None
        for _ in range(15):
            x, y = red.problem.sample(rng)
            inst = red.encode(x, y)
            if model is None:
                model = build(red.task, len(inst.tokens))
            transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst))
            assert red.decode(out.decision) == red.problem.evaluate(x, y)
            assert transcript.meta["protocol_matches_forward"] is True
            assert transcript.rounds >= model.layers  # at least one exchange per layer (docs/theory.md §10.1)
            rounds_by_layers.setdefault(model.layers, set()).add(transcript.rounds)
        print(f"k={k}: L={model.layers}, N={len(inst.tokens)}, p={model.precision.bits}, "
              f"rounds={sorted(rounds_by_layers[model.layers])}, bits={transcript.total_bits}")
    layers = sorted(rounds_by_layers)
    assert layers == [3, 4, 5, 6]
    for lo, hi in zip(layers, layers[1:]):
        assert max(rounds_by_layers[lo]) < min(rounds_by_layers[hi])


@pytest.mark.parametrize("n,k", [(3, 3), (3, 4), (4, 2)])
def test_protocol_over_pointer_chasing_arbitrary_maps(n, k):
    red = commlb.get_reduction("pc-to-khop", n=n, k=k)
    rng = np.random.default_rng(n * 10 + k)
    inst = red.encode(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    model = build(red.task, len(inst.tokens))
    assert model.layers == khop_layers(k)
    for _ in range(10):
        x = rng.integers(0, n, size=n)
        y = rng.integers(0, n, size=n)
        inst = red.encode(x, y)
        transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst))
        assert red.decode(out.decision) == red.problem.evaluate(x, y)
        assert transcript.meta["protocol_matches_forward"] is True
        assert transcript.rounds >= 2


def test_built_from_the_problem_size_like_commlb_simulate():
    """``commlb simulate --task khop --k 4`` passes the PC size n = 4 (not the sequence
    length): the builder sizes the model for the pointer-chasing layouts."""
    from commlb.reductions.pointer_chasing import pc_khop_length
    from commlb.reductions.pointer_multi import pc_blocks_length

    for n, k in ((3, 2), (4, 3), (4, 4), (2, 6)):
        task = commlb.get_reduction("pc-to-khop", n=n, k=k).task
        assert sequence_length(task, n) == max(pc_khop_length(n, k), pc_blocks_length(n, k))
    # the recursive layout of PC(6, 8) is far beyond 24 bits: the block layout is used
    task = commlb.get_reduction("pc-to-khop-blocks", n=6, k=8).task
    assert sequence_length(task, 6) == pc_blocks_length(6, 8)
    assert sequence_length(_task(3), 50) == 50  # a plain khop task: n tokens
    red = commlb.get_reduction("pc-to-khop", n=4, k=4)
    model = build(red.task, 4)
    assert model.layers == 4
    rng = np.random.default_rng(44)
    for _ in range(5):
        x, y = red.problem.sample(rng)
        inst = red.encode(x, y)
        transcript, out = simulate_transformer(model, inst.tokens, Split.from_instance(inst))
        assert red.decode(out.decision) == red.problem.evaluate(x, y)
        assert transcript.rounds >= 4


def test_consistency_harness_over_pointer_chasing():
    """The whole protocol contract (faithfulness, counting, formulas, determinism,
    isolation): every pair of PC(n=2, k=2) through pc-to-khop, and sampled pairs of
    PC(4, 4) on permutations through pc-to-khop-blocks."""
    from commlb.testing import assert_consistent

    red = commlb.get_reduction("pc-to-khop", n=2, k=2)
    report = assert_consistent(None, red, build(red.task, 2), samples=64)
    assert report.exhaustive and report.correct == report.pairs == 16
    red = commlb.get_reduction("pc-to-khop-blocks", n=4, k=4)
    report = assert_consistent(None, red, build(red.task, 4), samples=8, seed=5)
    assert report.correct == report.pairs == 8
    assert report.senders == ("alice", "bob")
