"""The one-layer qSA transformer (SHT23 Theorem 2, docs/theory.md §9.5; integer dual
certificates [DER]): exactly the rounded average of the quantised values on every tested
instance (so within ε of qSA), on random instances at N = 16..1024, width
≤ 2·C·q·log2 N + 2d' with C = 10, and run as the protocol of the INDEX and DISJ
reductions (SHT23 Theorems 11 and 4)."""

import itertools
import math

import numpy as np
import pytest

import commlb
from commlb.bits import Precision, acc_width, unsigned_width
from commlb.core import ALICE, BOB
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.qsa import (
    CODE_CONSTANT,
    build,
    set_rank,
    token_ids,
)
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer
from commlb.tasks.qsa import make_qsa_tokens

#: model width 2m + 2d' with m = ⌈10·q·log2 N⌉: width <= 20·q·log2 N + 2d' + 2
WIDTH_CONSTANT = 2 * CODE_CONSTANT


def _task(q, d=1):
    return commlb.get_task("qsa", q=q, d_out=d)


def _expected_raw(model, tokens):
    """Independent reference: the model's answer is the mean over y_i of z quantised to
    the grid 2^-g, rounded to f fractional bits (half up)."""
    info = model.config["construction"]
    g, f, q = info["z_grid_bits"], model.precision.frac, info["q"]
    n = len(tokens)
    z = tokens["z"].reshape(n, -1)
    levels = np.clip(np.floor(z * 2**g + 0.5), -(2**g), 2**g).astype(np.int64)
    raw = levels << (f - g)
    total = raw[tokens["y"].reshape(n, q)].sum(axis=1)
    return np.floor_divide(2 * total + q, 2 * q)


def _fast_instance(task, rng, n):
    """Same distribution as ``task.generate`` (z uniform in the unit ball, y a uniform
    q-subset), without its O(N² log N) argsort; q <= 2."""
    d, q = task.d_out, task.q
    direction = rng.standard_normal((n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    z = direction * rng.random((n, 1)) ** (1.0 / d)
    a = rng.integers(0, n, size=n)
    if q == 1:
        return make_qsa_tokens(z, a[:, None])
    b = rng.integers(0, n - 1, size=n)
    b += b >= a
    return make_qsa_tokens(z, np.sort(np.stack([a, b], axis=1), axis=1))


def _check(model, task, tokens, rows=None):
    out = model.forward(token_ids(model, tokens))
    assert out.saturations == 0
    expect = _expected_raw(model, tokens)
    if rows is not None:
        expect = expect[rows]
    assert np.array_equal(out.values, expect)
    truth = task.solve(tokens) if rows is None else task.solve(tokens)[rows]
    err = np.linalg.norm(out.decision - truth, axis=1)
    assert err.max() <= model.config["construction"]["error_bound"] <= model.config["construction"]["epsilon"]
    return err.max()


def test_toy_instance_from_theory():
    """docs/theory.md §7.5's example (N = 6, q = 2), values scaled by 1/10 into the unit ball."""
    task = _task(2)
    z = np.array([3, 1, 4, 1, 5, 9]) / 10
    y = np.array([[1, 2], [0, 5], [3, 4], [0, 1], [2, 5], [1, 4]])
    tokens = make_qsa_tokens(z, y)
    model = build(task, 6)
    out = model.forward(token_ids(model, tokens))
    assert np.allclose(out.decision[:, 0], [0.25, 0.6, 0.3, 0.2, 0.65, 0.3], atol=1 / 16)
    _check(model, task, tokens)


@pytest.mark.parametrize("q,n", [(1, 3), (2, 4), (2, 5), (3, 5)])
def test_every_pointer_configuration_small(q, n):
    """Every q-set at every position (the positions' sets cycle through all sets), with
    random values."""
    task = _task(q)
    model = build(task, n)
    sets = np.array(list(itertools.combinations(range(n), q)))
    rng = np.random.default_rng(q * 10 + n)
    for start in range(0, len(sets), n):
        y = sets[(start + np.arange(n)) % len(sets)]
        z = rng.uniform(-1, 1, size=(n, 1))
        _check(model, task, make_qsa_tokens(z, y))


@pytest.mark.parametrize("n", [16, 64, 256, 1024])
def test_correct_on_random_instances_q2(n):
    """q = 2, d' = 1: 1000 random instances at N <= 256 and 200 at N = 1024 read at the
    last position (the one the reductions read; same weights as the all-positions model:
    one forward pass costs ~25 ms there), plus instances read at every position (1000 at
    N = 16, 200 at 64, 10 at 256, 3 at 1024)."""
    task = _task(2)
    rng = np.random.default_rng(n)
    last = build(task, n, outputs="last")
    for _ in range(1000 if n <= 256 else 200):
        _check(last, task, _fast_instance(task, rng, n), rows=[n - 1])
    full = build(task, n)
    assert np.array_equal(full.params["embed"], last.params["embed"])
    for _ in range({16: 1000, 64: 200, 256: 10, 1024: 3}[n]):
        _check(full, task, task.generate(rng, n))


@pytest.mark.parametrize("q,d,n", [(1, 1, 1024), (1, 2, 64), (2, 3, 64), (3, 1, 16), (3, 1, 64), (4, 1, 16)])
def test_other_sparsities_and_dimensions(q, d, n):
    task = _task(q, d)
    model = build(task, n)
    assert model.config["construction"]["form"] == ("sum" if q <= 2 else "table")
    rng = np.random.default_rng(q + d + n)
    for _ in range(100 if n <= 64 else 5):
        _check(model, task, task.generate(rng, n))


def test_width_follows_the_theorem():
    for q, ns in ((1, (16, 64, 256, 1024)), (2, (16, 64, 256, 1024)), (3, (16, 64))):
        for n in ns:
            model = build(_task(q), n)
            m = model.key_dim
            assert m <= CODE_CONSTANT * q * math.log2(n) + 1
            assert model.width == 2 * m + 2 <= WIDTH_CONSTANT * q * math.log2(n) + 4
            assert model.heads == 1 and model.layers == 1
            # log precision: p = O(log N), within the fixed-point limit
            assert model.precision.bits <= max(12, 2 * math.ceil(math.log2(n))) + (6 if q >= 3 else 0)
    # the code dimension grows like log N: doubling log N doubles m
    m16 = build(_task(2), 16).key_dim
    m256 = build(_task(2), 256).key_dim
    assert m256 == 2 * m16


def test_certificates_are_exact():
    """Scores on y_i tie exactly and beat every other position (the raw integers)."""
    n = 32
    for q in (1, 2, 3):
        model = build(_task(q), n)
        signs = model.params["pos"][:, : model.key_dim]
        sets = np.array(list(itertools.combinations(range(n), q)))[:300]
        tokens = make_qsa_tokens(np.zeros((len(sets), 1)), sets)
        ids = token_ids(model, tokens)
        rows, _ = model.embed_rows(ids, np.zeros(len(sets), dtype=np.int64) % n)
        qv, _ = model.qkv(0, rows, "q")
        acc = qv["q"][:, 0, :] @ signs.T
        scores = np.floor_divide(2 * acc + model.precision.scale, 2 * model.precision.scale)
        on = np.take_along_axis(scores, sets, axis=1)
        assert np.all(on == on[:, :1])
        off = scores.copy()
        np.put_along_axis(off, sets, np.iinfo(np.int64).min, axis=1)
        assert np.all(off.max(axis=1) < on[:, 0])


@pytest.mark.parametrize("q,n", [(1, 16), (2, 16), (3, 16), (4, 12)])
def test_softmax_table_equals_hard(q, n):
    """With the table certificates the softmax layer (score c on y_i = the public
    stabiliser, every other weight rounded to 0) gives the same bits as the hardmax."""
    task = _task(q)
    hard = build(task, n, form="table")
    soft = build(task, n, form="table", attention="softmax")
    assert soft.config["attention"] == "softmax" and hard.config["attention"] == "hard"
    assert soft.params["stab"][0, 0] > 0
    rng = np.random.default_rng(n + q)
    for _ in range(100):
        tokens = task.generate(rng, n)
        out = soft.forward(token_ids(soft, tokens))
        assert out.saturations == 0
        assert np.array_equal(out.values, hard.forward(token_ids(hard, tokens)).values)
    assert soft.precision.bits <= 24


def test_softmax_disj_protocol():
    n = 4
    red = commlb.get_reduction("disj-to-qsa", n=n)
    model = build(red.task, 2 * n + 1, outputs="last", attention="softmax")
    prec, terms = model.precision, 2 * n
    qa = unsigned_width(model.vocab_size - 1) + acc_width(prec, terms, 2) + acc_width(prec, terms, 1)
    kv = terms * (model.key_dim + 1) * prec.bits
    for x in itertools.product((0, 1), repeat=n):
        y = (1, 0, 1, 1)
        inst = red.encode(x, y)
        transcript, out = simulate_transformer(model, token_ids(model, inst.tokens), Split.from_instance(inst))
        assert red.decode(out.decision) == red.problem.evaluate(np.array(x), np.array(y))
        assert transcript.meta["protocol_matches_forward"] is True
        assert transcript.total_bits == min(qa, kv)


def test_set_rank_is_a_bijection():
    for n, q in ((7, 3), (9, 2), (6, 6)):
        sets = np.array(list(itertools.combinations(range(n), q)))
        assert sorted(set_rank(sets).tolist()) == list(range(math.comb(n, q)))


def test_builder_options_and_refusals():
    task = _task(2)
    assert get_construction("qsa", "transformer") is build
    model = build(task, 32, width=2 * 60 + 2, layers=1, heads=1)
    assert model.embed_fields is not None and model.key_dim == 60
    rng = np.random.default_rng(3)
    for _ in range(50):
        _check(model, task, task.generate(rng, 32))
    assert build(task, 32, epsilon=0.01).config["construction"]["error_bound"] <= 0.01
    for bad in ({"layers": 2}, {"heads": 2}, {"hidden": 3}, {"outputs": "first"}, {"width": 5},
                {"epsilon": 0}, {"form": "sum", "epsilon": 2}):
        with pytest.raises(InvalidInputError):
            build(task, 32, **bad)
    with pytest.raises(InvalidInputError):
        build(_task(3), 16, form="sum")  # the sum certificate ties only for q <= 2
    with pytest.raises(InvalidInputError):
        build(task, 32, attention="softmax")  # the sum form has no common stabiliser
    with pytest.raises(InvalidInputError):
        build(task, 32, attention="linear")
    with pytest.raises(InvalidInputError):
        build(_task(3), 1024)  # C(1024, 3) certificates: refused up front, with the largest N
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.float_(16))
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.fixed(12, 2))  # z grid needs f >= 4
    with pytest.raises(InvalidInputError):
        token_ids(model, make_qsa_tokens(np.zeros(32), np.zeros(32, dtype=np.int64)))  # q = 1 tokens


# ------------------------------------------------------------------ protocols
def _one_way_bits(model, terms, d):
    """The asker sends its token id, the other party answers with hard partial sums over
    its ``terms`` keys (top score, count, d' sums) — or sends keys and values if cheaper."""
    p = model.precision.bits
    qa = unsigned_width(model.vocab_size - 1) + p + unsigned_width(terms) + d * acc_width(model.precision, terms, 1)
    kv = terms * (model.key_dim + d) * p
    return min(qa, kv), qa <= kv


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_disj_protocol_every_input(n):
    """DISJ_n → qSA (N = 2n + 1, q = n; SHT23 Thm 4 gadget): on every (x, y) the protocol
    equals the forward pass, decodes DISJ, and its bits are at least D(DISJ_n) = n + 1."""
    red = commlb.get_reduction("disj-to-qsa", n=n)
    model = build(red.task, 2 * n + 1, outputs="last")
    bits, qa = _one_way_bits(model, 2 * n, 1)
    for x in itertools.product((0, 1), repeat=n):
        for y in itertools.product((0, 1), repeat=n):
            inst = red.encode(x, y)
            transcript, out = simulate_transformer(model, token_ids(model, inst.tokens), Split.from_instance(inst))
            assert red.decode(out.decision) == red.problem.evaluate(np.array(x), np.array(y))
            assert transcript.meta["protocol_matches_forward"] is True
            assert transcript.total_bits == bits >= n + 1
            if qa:
                assert [(m.sender, m.label) for m in transcript.messages] == [
                    (ALICE, "query-token L1"), (BOB, "partial-sums L1")]


@pytest.mark.parametrize("n", [16, 64, 256, 1024])
def test_index_protocol(n):
    """INDEX_n → qSA (q = 1, N = n + 1; SHT23 Thm 11): Bob's query, Alice's data."""
    red = commlb.get_reduction("index-to-qsa", n=n)
    model = build(red.task, n + 1, outputs="last")
    bits, qa = _one_way_bits(model, n, 1)
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = rng.integers(0, 2, size=n)
        i = int(rng.integers(0, n))
        inst = red.encode(x, [i])
        transcript, out = simulate_transformer(model, token_ids(model, inst.tokens), Split.from_instance(inst))
        assert red.decode(out.decision) == x[i]
        assert transcript.meta["protocol_matches_forward"] is True
        assert transcript.total_bits == bits
        assert transcript.messages[0].sender == BOB
    assert qa
    if n >= 256:
        assert bits < n / 3  # polylog: Bob's query is cheap to send, Alice's data is not
    print(f"N={n + 1}: width {model.width}, p={model.precision.bits}, bits {bits}")


def test_disj_protocol_sending_the_query_vector():
    """Without the token-id shortcut Alice sends her query vector: m·p bits."""
    n = 3
    red = commlb.get_reduction("disj-to-qsa", n=n)
    model = build(red.task, 2 * n + 1, outputs="last")
    inst = red.encode([1, 0, 1], [0, 0, 1])
    transcript, out = simulate_transformer(model, token_ids(model, inst.tokens), Split.from_instance(inst),
                                           cheap_queries=False)
    assert red.decode(out.decision) == 0
    first = transcript.messages[0]
    if first.label == "query L1":
        assert first.bits == model.key_dim * model.precision.bits
    else:  # Bob's keys and values were cheaper than the query vector
        assert first.label == "keys-values L1" and first.sender == BOB
