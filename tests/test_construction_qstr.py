"""The one-layer, H = q head qSTR transformer (MH25 Theorem 3 / §2.2, docs/theory.md §9.7) for
qstr and qstr-simple: every head retrieves its token exactly, the output is within the
derived error bound of g on random instances at N = 16..1024 for the three links, width
(q+1)(⌈12 log2 N⌉ + d) + 1, and the construction run as a prefix-split protocol."""

import math

import numpy as np
import pytest

import commlb
from commlb.bits import Precision, acc_width, unsigned_width
from commlb.core import ALICE, BOB
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.qstr import CLIP, CODE_CONSTANT, GRID_BITS, build, token_ids
from commlb.protocol.core import Split
from commlb.protocol.transformer import simulate_transformer
from commlb.tasks.qstr import make_qstr_tokens

#: width <= (q+1)·(12·log2 N + 1 + d) + 1 (the +1 is the ceiling of m)
WIDTH_CONSTANT = CODE_CONSTANT


def _task(name="qstr", q=2, d=1, link="norm2"):
    return commlb.get_task(name, q=q, d=d, link=link)


def _clipped(tokens):
    out = tokens.copy()
    out["x"] = np.clip(out["x"], -CLIP, CLIP)
    return out


def _check(model, task, tokens, rows=None):
    out = model.forward(token_ids(model, tokens))
    assert out.saturations == 0
    truth = task.solve(_clipped(tokens))
    if rows is not None:
        truth = truth[rows]
    err = np.abs(out.decision[:, 0] - truth)
    assert err.max() <= model.config["construction"]["error_bound"]
    return err.max()


def _heads_retrieve_exactly(model, tokens):
    """White-box: the attention output of head h at every position is x̂ at t_ih."""
    n = len(tokens)
    ids = token_ids(model, tokens)
    x0, _ = model.embed_rows(ids, np.arange(n))
    qkv, _ = model.qkv(0, x0)
    part, _ = model.partial_sums(0, qkv["q"], np.arange(n), qkv["k"], qkv["v"], np.arange(n))
    attn, _ = model.combine(part)
    xq = np.clip(np.floor(tokens["x"].reshape(n, -1) * 2**GRID_BITS + 0.5), -CLIP * 2**GRID_BITS,
                 CLIP * 2**GRID_BITS).astype(np.int64) << (model.precision.frac - GRID_BITS)
    t = tokens["t"].reshape(n, -1)
    for h in range(model.heads):
        assert np.array_equal(attn[:, h, :], xq[t[:, h]])


@pytest.mark.parametrize("name", ["qstr", "qstr-simple"])
@pytest.mark.parametrize("n", [16, 64, 256, 1024])
def test_correct_on_random_instances(name, n):
    """q = 2, d = 1, link norm2 (the link of MH25 Prop. 4 and 21, the one that needs q heads): random
    instances read at the last position — qstr: 1000 at N <= 256, 200 at N = 1024 (one
    forward pass costs ~12 ms at N = 256 and ~25 ms at 1024); qstr-simple (same weights):
    1000 at N <= 64, 200 at 256, 50 at 1024 — plus instances read at every position
    (100, 30, 5, 2)."""
    task = _task(name)
    rng = np.random.default_rng(n)
    last = build(task, n, outputs="last")
    counts = {16: 1000, 64: 1000, 256: 1000, 1024: 200} if name == "qstr" else {16: 1000, 64: 1000, 256: 200, 1024: 50}
    for _ in range(counts[n]):
        _check(last, task, task.generate(rng, n), rows=[n - 1])
    full = build(task, n)
    for _ in range({16: 100, 64: 30, 256: 5, 1024: 2}[n]):
        tokens = task.generate(rng, n)
        _check(full, task, tokens)
        _heads_retrieve_exactly(full, tokens)


@pytest.mark.parametrize("link", ["norm2", "linear", "he2"])
@pytest.mark.parametrize("q,d,n", [(1, 1, 16), (3, 1, 64), (2, 2, 64), (4, 1, 32)])
def test_links_sparsities_dimensions(link, q, d, n):
    task = _task(q=q, d=d, link=link)
    model = build(task, n)
    assert model.heads == q
    rng = np.random.default_rng(q * 100 + d * 10 + n)
    worst = 0.0
    for _ in range(30):
        tokens = task.generate(rng, n)
        worst = max(worst, _check(model, task, tokens))
    _heads_retrieve_exactly(model, tokens)
    assert worst <= model.config["construction"]["error_bound"] <= 0.3 * math.sqrt(q * d)


def test_repeated_and_extreme_entries():
    """Tuples with repeats, and inputs at and beyond the clip range (compared with g of
    the clipped input)."""
    n, q = 16, 3
    task = _task(q=q)
    model = build(task, n)
    x = np.linspace(-10, 10, n)
    t = np.stack([np.arange(n), np.arange(n), (np.arange(n) * 7) % n], axis=1)
    tokens = make_qstr_tokens(x, t)
    _check(model, task, tokens)
    _heads_retrieve_exactly(model, tokens)


def test_width_follows_the_theorem():
    for q in (1, 2, 4):
        for n in (16, 64, 256, 1024):
            d = 1
            model = build(_task(q=q, d=d), n)
            m = model.key_dim
            assert m <= CODE_CONSTANT * math.log2(n) + 1
            assert model.width == (q + 1) * (m + d) + 1 <= (q + 1) * (WIDTH_CONSTANT * math.log2(n) + 1 + d) + 1
            assert model.heads == q and model.layers == 1
            assert model.mlp_dim == q * d * 2 * math.ceil(CLIP / 0.25)  # independent of N
            assert model.precision.bits <= 24
            # the key codes of the N positions, read from the weights: coherence <= 1/2
            keys = model.params["pos"] @ model.params["wk"][0, 0]
            gram = keys @ keys.T
            assert np.all(np.diag(gram) == gram[0, 0]) and gram[0, 0] > 0
            cos = gram / gram[0, 0]
            np.fill_diagonal(cos, 0)
            assert np.abs(cos).max() <= 0.5
            # exact retrieval: every other attention weight rounds to 0
            x = np.random.default_rng(n).uniform(-CLIP, CLIP, size=(n, d))
            t = np.random.default_rng(q).integers(0, n, size=(n, q))
            _heads_retrieve_exactly(model, make_qstr_tokens(x, t))


def test_builder_options_and_refusals():
    task = _task()
    assert get_construction("qstr", "transformer") is build
    assert get_construction("qstr-simple", "transformer") is build
    model = build(task, 32, width=3 * (40 + 1) + 1, layers=1, heads=2)
    assert model.key_dim == 40
    rng = np.random.default_rng(2)
    for _ in range(20):
        _check(model, task, task.generate(rng, 32))
    for bad in ({"layers": 2}, {"heads": 1}, {"hidden": 3}, {"outputs": "first"}, {"width": 10}):
        with pytest.raises(InvalidInputError):
            build(task, 32, **bad)
    with pytest.raises(InvalidInputError):
        build(commlb.get_task("qstr", q=2, d=1, link=lambda g: g.sum(axis=(1, 2))), 32)
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.fixed(16, 6))  # x grid needs f >= 8
    with pytest.raises(InvalidInputError):
        build(task, 32, precision=Precision.float_(16))
    with pytest.raises(InvalidInputError):
        token_ids(model, _task(q=1).generate(rng, 32))


# ------------------------------------------------------------------ protocol
def _prefix_bits(model, k):
    """Bob (holding the last token) sends its token id; Alice answers each head's partial
    sums over her k keys — or sends her keys and values if that is cheaper."""
    prec = model.precision
    H, m, d = model.heads, model.key_dim, model.value_dim
    qa = unsigned_width(model.vocab_size - 1) + H * (d * acc_width(prec, k, 2) + acc_width(prec, k, 1))
    kv = k * H * (m + d) * prec.bits
    return min(qa, kv), qa <= kv


@pytest.mark.parametrize("name", ["qstr", "qstr-simple"])
@pytest.mark.parametrize("n", [16, 64, 256, 1024])
def test_prefix_protocol(name, n):
    task = _task(name)
    model = build(task, n, outputs="last")
    k = n // 2
    bits, qa = _prefix_bits(model, k)
    rng = np.random.default_rng(n + 5)
    for _ in range(10):
        tokens = task.generate(rng, n)
        transcript, out = simulate_transformer(model, token_ids(model, tokens), Split.prefix(n, k))
        assert transcript.meta["protocol_matches_forward"] is True
        assert abs(out.decision[0, 0] - task.solve(_clipped(tokens))[-1]) <= model.config["construction"]["error_bound"]
        assert transcript.total_bits == bits
        if qa:
            assert [(m.sender, m.label) for m in transcript.messages] == [
                (BOB, "query-token L1"), (ALICE, "partial-sums L1")]
    assert qa
    # H·(d+1) accumulators of O(p + log N) bits plus a token id of O(q log N + d) bits
    assert bits <= 4 * model.heads * (model.precision.bits + math.log2(n)) + 2 * math.log2(model.vocab_size)
    print(f"{name} N={n}: width {model.width}, H={model.heads}, p={model.precision.bits}, bits {bits}")
