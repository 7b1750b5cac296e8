"""The one-layer Match2 transformer (SHT23 Theorem 6, docs/theory.md §9.6; sphere code [DER]):
correct on every input for small N and M, on random inputs (with and without matches) at
N = 16..1024 with M = 2N, on near misses, width 7 with d_k = d_v = 3, precision
log2 M + O(1), and run as a two-party protocol over a prefix split."""

import itertools
import math

import numpy as np
import pytest

import commlb
from commlb.bits import Precision, acc_width, unsigned_width
from commlb.core import ALICE, BOB
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.match2 import WIDTH, build, default_precision, sphere_code
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer
from commlb.tasks.match import match2_reference

from sizes import full

#: p <= log2 M + P_EXTRA (the default is ⌈log2 M⌉ + 10)
P_EXTRA = 11


def _task(M):
    return commlb.get_task("match2", M=M)


def test_sphere_code_is_mirror_symmetric_and_unit():
    for M in (2, 3, 7, 8, 33, 64, 2048):
        code = sphere_code(M)
        assert np.allclose(np.linalg.norm(code, axis=1), 1.0)
        neg = code[(-np.arange(M)) % M]
        assert np.allclose(neg, code * np.array([1, -1, 1]))
        gram = code @ code.T
        np.fill_diagonal(gram, -2)
        assert gram.max() < 1 - 1e-9  # distinct points


@pytest.mark.parametrize("M,n", [(2, 6), (3, 5), (4, 4), (5, 4), (6, 3), (7, 3), (8, 3), (11, 2)])
def test_correct_on_every_input_small(M, n):
    task = _task(M)
    model = build(task, n)
    for values in itertools.product(range(M), repeat=n):
        x = np.array(values)
        out = model.forward(x)
        expect = match2_reference(values, M)
        assert np.array_equal(out.decision, expect)
        assert np.array_equal(expect, task.solve(x))
        assert out.saturations == 0


@pytest.mark.parametrize("n", [16, 64, 256, *full(1024)])
def test_correct_on_random_instances(n):
    """1000 random instances at every N read at every position for N <= 256; at N = 1024
    (in the full run, ``COMMLB_FULL=1``)
    1000 instances read at the last position (same weights, ``outputs="last"``) and 15
    read at every position (the full read-out costs ~0.17 s per instance there)."""
    M = 2 * n
    task = _task(M)
    rng = np.random.default_rng(n)
    full = build(task, n)
    full_trials = 1000 if n <= 256 else 15
    seen = {0: 0, 1: 0}
    for _ in range(full_trials):
        x = task.generate(rng, n)
        out = full.forward(x)
        expect = task.solve(x)
        assert np.array_equal(out.decision, expect)
        assert out.saturations == 0
        seen[0] += int(np.sum(expect == 0))
        seen[1] += int(np.sum(expect == 1))
    last = build(task, n, outputs="last")
    assert np.array_equal(last.params["wq"], full.params["wq"])
    for _ in range(1000 if n == 1024 else 0):
        x = task.generate(rng, n)
        expect = int(task.solve(x)[-1])
        assert last.forward(x).decision == expect
        seen[expect] += 1
    assert min(seen.values()) > 0.2 * sum(seen.values())  # both answers are common


@pytest.mark.parametrize("n", [64, *full(1024)])
def test_near_misses(n):
    """Values x_i whose negation is absent while −x_i ± 1 (the closest residues on the
    code's ordering) and x_i itself are present: the answer is 0 there."""
    M = 2 * n
    task = _task(M)
    model = build(task, n)
    rng = np.random.default_rng(7)
    for _ in range(5 if n == 1024 else 50):
        a = rng.integers(1, M, size=n // 4)
        x = np.concatenate([a, (-a + 1) % M, (-a - 1) % M, rng.integers(0, M, size=n - 3 * (n // 4))])
        out = model.forward(x)
        expect = task.solve(x)
        assert np.array_equal(out.decision, expect)
        assert np.any(expect == 0) and np.any(expect == 1)


@pytest.mark.parametrize("n,M", [(64, 64 * 64), (64, 1 << 14), (256, 257)])
def test_other_moduli(n, M):
    """M = N², the largest M of the 24-bit limit, and M = N + 1 (odd: only 0 is self-paired)."""
    task = _task(M)
    model = build(task, n)
    assert model.precision.bits <= 24
    rng = np.random.default_rng(M)
    for _ in range(100):
        x = task.generate(rng, n)
        x[: n // 8] = (-x[n // 8: n // 4]) % M  # plant some matches
        assert np.array_equal(model.forward(x).decision, task.solve(x))


def test_width_and_precision_follow_the_theorem():
    for n in (16, 64, 256, 1024):
        M = 2 * n
        model = build(_task(M), n)
        assert model.width == WIDTH == 7  # 3 code + 3 attention output + 1 answer
        assert model.key_dim == 3 and model.value_dim == 3 and model.mlp_dim == 6
        assert model.heads == 1 and model.layers == 1
        assert model.precision.bits <= math.log2(M) + P_EXTRA
        assert model.precision == default_precision(M)
        info = model.config["construction"]
        # the threshold sits below half the measured score margin and above the rounding
        assert 2 ** -model.precision.frac < info["threshold"] < info["score_margin"] / 2
        assert info["score_margin"] > 1 / M  # a gap of order 1/M: the sphere, not the circle


@pytest.mark.parametrize("n,M", [(4, 6), (16, 32), (64, 128)])
def test_softmax_variant(n, M):
    """Softmax with the scale c (SHT24 Lemma A.2): the same decisions; every input for
    tiny N, random ones otherwise; p = f + log2 c + O(1) fits 24 bits up to M = 128."""
    task = _task(M)
    soft = build(task, n, attention="softmax")
    assert soft.config["attention"] == "softmax" and soft.params["stab"][0, 0] > 0
    c = soft.config["construction"]["attention_scale"]
    assert c * soft.config["construction"]["score_margin"] > (soft.precision.frac + 1) * math.log(2)
    inputs = (np.array(v) for v in itertools.product(range(M), repeat=n)) if n <= 4 else (
        task.generate(np.random.default_rng(M), n) for _ in range(300))
    for x in inputs:
        out = soft.forward(x)
        assert np.array_equal(out.decision, task.solve(x)) and out.saturations == 0
    with pytest.raises(InvalidInputError):
        build(_task(512), 8, attention="softmax")  # c·2^f no longer fits 24 bits


def test_builder_options():
    task = _task(32)
    assert get_construction("match2", "transformer") is build
    assert build(task, 8, width=7, layers=1, heads=1).width == 7
    for bad in ({"width": 5}, {"layers": 2}, {"heads": 3}, {"hidden": 4}, {"outputs": "some"},
                {"attention": "linear"}):
        with pytest.raises(InvalidInputError):
            build(task, 8, **bad)
    with pytest.raises(InvalidInputError):
        build(task, 8, precision=Precision.fixed(8, 2))  # cannot separate 32 residues
    with pytest.raises(InvalidInputError):
        build(task, 8, precision=Precision.float_(16))
    model = build(task, 8, precision=Precision.fixed(20, 12))  # more bits work too
    x = np.array([3, 29, 5, 1, 0, 17, 9, 12])
    assert np.array_equal(model.forward(x).decision, task.solve(x))


# ------------------------------------------------------------------ protocol
def _last_bits(model, k):
    """One-way: Bob (holding the last token) sends its token id, Alice answers with her
    hard partial sums over her k keys — or Alice sends her keys and values if cheaper."""
    p = model.precision.bits
    query_answer = unsigned_width(model.vocab_size - 1) + p + unsigned_width(k) + 3 * acc_width(model.precision, k, 1)
    keys_values = k * (3 + 3) * p
    return min(query_answer, keys_values), query_answer <= keys_values


@pytest.mark.parametrize("n", [16, 64, 256, 1024])
def test_protocol_prefix_split(n):
    M = 2 * n
    task = _task(M)
    model = build(task, n, outputs="last")
    rng = np.random.default_rng(n + 3)
    k = n // 2
    split = Split.prefix(n, k)
    bits, qa = _last_bits(model, k)
    for _ in range(20):
        x = task.generate(rng, n)
        transcript, out = simulate_transformer(model, x, split)
        assert out.decision == task.solve(x)[-1]
        assert transcript.meta["protocol_matches_forward"] is True
        assert transcript.total_bits == bits
        if qa:
            assert [(m.sender, m.label) for m in transcript.messages] == [
                (BOB, "query-token L1"), (ALICE, "partial-sums L1")]
    assert qa and bits < 3 * math.log2(M) + 5 * model.precision.bits
    print(f"N={n}, M={M}: width {model.width}, p={model.precision.bits}, bits {bits}")


def test_protocol_all_positions_interleaved():
    n, M = 32, 64
    task = _task(M)
    model = build(task, n)
    rng = np.random.default_rng(1)
    x = task.generate(rng, n)
    split = Split.interleave(np.full(n, ALICE, dtype=np.int8))
    transcript, out = simulate_transformer(model, x, split)
    assert np.array_equal(out.decision, task.solve(x))
    assert transcript.meta["protocol_matches_forward"] is True
    assert transcript.total_bits > 0
