"""The RNN model: exact arithmetic against a slow pure-Python reference, the batched step
and its numba twin, the tanh table, float mode, persistence and input checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.models.base import MODEL_FAMILIES, load_model
from commlb.models.rnn import RNNModel

# ------------------------------------------------------------------ slow reference
# Plain Python integers and math.tanh, one unit at a time: an independent statement of
# the arithmetic in commlb/models/rnn.py's docstring (no table, no clamping of the tanh
# argument, no numpy arithmetic).


def _act_ref(pre, activation, prec):
    f = prec.frac
    if activation == "relu":
        return max(pre, 0), 0
    if activation == "threshold":
        one = 1 << f
        if pre > 0:
            return (min(one, prec.raw_max), int(one > prec.raw_max))
        return 0, 0
    v = math.floor(math.tanh(pre / 2**f) * 2**f + 0.5)
    if v > prec.raw_max or v < prec.raw_min:
        return min(max(v, prec.raw_min), prec.raw_max), 1
    return v, 0


def _round_ref(acc, prec):
    f = prec.frac
    pre = (acc + (1 << (f - 1))) >> f if f > 0 else acc
    if pre < prec.raw_min or pre > prec.raw_max:
        return min(max(pre, prec.raw_min), prec.raw_max), 1
    return pre, 0


def reference_forward(model, tokens):
    """(values as list of lists, saturations) in fixed point."""
    prec = model.precision
    f = prec.frac
    P = {k: v.tolist() for k, v in model.params.items()}
    L, d = model.layers, model.hidden
    h = [list(row) for row in P["h0"]]
    sat = 0
    outs = sorted({(p + len(tokens)) if p < 0 else p for p in model.config["output_positions"]})
    values = []
    for t, tok in enumerate(tokens):
        new = []
        for layer in range(L):
            row = []
            for j in range(d):
                acc = sum(h[layer][k] * P["w_rec"][layer][k][j] for k in range(d))
                if layer == 0:
                    acc += P["embed"][tok][j] << f
                else:
                    acc += sum(new[layer - 1][k] * P["w_in"][layer][k][j] for k in range(d))
                acc += P["b"][layer][j] << f
                pre, s1 = _round_ref(acc, prec)
                v, s2 = _act_ref(pre, model.activation, prec)
                sat += s1 + s2
                row.append(v)
            new.append(row)
        h = new
        if t in outs:
            vals = []
            for o in range(model.out_dim):
                acc = sum(h[-1][k] * P["wout"][k][o] for k in range(d)) + (P["bout"][o] << f)
                v, s = _round_ref(acc, prec)
                sat += s
                vals.append(v)
            values.append(vals)
        if t >= max(outs):
            break
    return values, sat


_ACTS = ["tanh", "relu", "threshold"]


@st.composite
def models(draw, fixed=True):
    bits = draw(st.integers(4, 24))
    frac = draw(st.integers(0, bits - 1)) if draw(st.booleans()) else bits // 2
    prec = Precision.fixed(bits, frac) if fixed else Precision.float_(draw(st.sampled_from([8, 12, 16, 20])))
    layers = draw(st.integers(1, 3))
    hidden = draw(st.integers(1, 6))
    vocab = draw(st.integers(1, 5))
    act = draw(st.sampled_from(_ACTS))
    kind = draw(st.sampled_from(["binary", "class", "vector"]))
    length = draw(st.integers(1, 10))
    outs = draw(st.lists(st.integers(-length, length - 1), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    model = RNNModel.random(vocab, rng, hidden=hidden, layers=layers, activation=act, precision=prec,
                            output_kind=kind, num_classes=3, output_positions=outs)
    tokens = rng.integers(0, vocab, size=length)
    return model, tokens


@settings(deadline=None, max_examples=60)
@given(models())
def test_forward_matches_slow_reference(case):
    model, tokens = case
    out = model.forward(tokens)
    values, sat = reference_forward(model, tokens.tolist())
    assert out.values.tolist() == values
    assert out.saturations == sat
    # the decision follows from the values
    kind = model.config["output_kind"]
    arr = np.array(values)
    if kind == "binary":
        expect = (arr[:, 0] > 0).astype(int)
        assert np.array_equal(np.atleast_1d(out.decision), expect)
    elif kind == "class":
        assert np.array_equal(np.atleast_1d(out.decision), np.argmax(arr, axis=1))


@settings(deadline=None, max_examples=30)
@given(models(), st.integers(1, 5))
def test_step_batch_and_numba_match_step(case, batch):
    model, _ = case
    rng = np.random.default_rng(batch)
    T = 6
    toks = rng.integers(0, model.vocab_size, size=(batch, T))
    start = np.stack([model.initial_state() for _ in range(batch)])
    # random starting states too (in range), so the step is exercised off the orbit of h0
    prec = model.precision
    start[1:] = rng.integers(prec.raw_min, prec.raw_max + 1, size=start[1:].shape)
    expect_states, expect_sat = [], []
    for row in range(batch):
        st_, s_total = start[row].copy(), 0
        for t in range(T):
            st_, s = model.step(st_, int(toks[row, t]))
            s_total += s
        expect_states.append(st_)
        expect_sat.append(s_total)
    for backend in ("python", "numba"):
        got, sat = model.run_batch(start, toks, backend=backend)
        assert np.array_equal(got, np.stack(expect_states)), backend
        assert sat.tolist() == expect_sat, backend
    # run (the unbatched loop forward and the protocol use) agrees as well
    for row in range(batch):
        st_, s = model.run(start[row], toks[row])
        assert np.array_equal(st_, expect_states[row]) and s == expect_sat[row]


def _sparse_model(rng, prec, layers, hidden, act):
    model = RNNModel.random(4, rng, hidden=hidden, layers=layers, activation=act, precision=prec)
    params = dict(model.params)
    for name in ("w_rec", "w_in"):
        # one nonzero per row (a random permutation pattern): density 1/hidden <= 1/4
        mask = np.zeros(params[name].shape, dtype=bool)
        for layer in range(layers):
            mask[layer, np.arange(hidden), rng.permutation(hidden)] = True
        params[name] = np.where(mask, params[name], 0)
    return RNNModel(params, prec, model.config)


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(4, 12), st.sampled_from(_ACTS))
def test_sparse_batched_step_matches_dense_step(seed, layers, hidden, act):
    """Mostly-zero weights take the sparse batched path; it must agree with the dense
    per-row step and the numba kernel."""
    rng = np.random.default_rng(seed)
    model = _sparse_model(rng, Precision.fixed(12), layers, hidden, act)
    assert model.cell().sparse
    toks = rng.integers(0, 4, size=(7, 5))
    numpy_states, numpy_sat = model.run_batch(np.stack([model.initial_state()] * 7), toks, backend="python")
    numba_states, numba_sat = model.run_batch(np.stack([model.initial_state()] * 7), toks, backend="numba")
    for row in range(7):
        st_, s = model.run(model.initial_state(), toks[row])
        assert np.array_equal(numpy_states[row], st_) and numpy_sat[row] == s
    assert np.array_equal(numpy_states, numba_states) and np.array_equal(numpy_sat, numba_sat)


@settings(deadline=None, max_examples=25)
@given(models())
def test_forward_batch_matches_forward(case):
    model, tokens = case
    rng = np.random.default_rng(len(tokens))
    rows = np.stack([tokens, rng.integers(0, model.vocab_size, size=tokens.size)])
    values, dec = model.forward_batch(rows)
    for r in range(2):
        out = model.forward(rows[r])
        assert np.array_equal(values[r], out.values)
        if model.config["output_kind"] != "vector":
            assert np.array_equal(dec[r], np.atleast_1d(out.decision))


@pytest.mark.parametrize("bits,frac", [(4, 2), (8, 4), (8, 7), (12, 6), (16, 8), (16, 15), (20, 10), (24, 12), (24, 3)])
def test_tanh_table_is_exact_over_the_whole_range(bits, frac):
    """The clamped table equals floor(tanh(x)·2^f + 1/2) (clipped) for every raw value."""
    prec = Precision.fixed(bits, frac)
    model = RNNModel.random(2, np.random.default_rng(0), hidden=1, precision=prec)
    raw = np.arange(prec.raw_min, prec.raw_max + 1, dtype=np.int64)
    if bits > 20:  # both ends, everything within 2^17 of 0 (covers ±R), and a random sample
        rng = np.random.default_rng(bits)
        raw = np.concatenate([raw[:4096], raw[-4096:], np.arange(-(1 << 17), 1 << 17),
                              rng.integers(prec.raw_min, prec.raw_max + 1, size=200_000)])
    direct = np.floor(np.tanh(raw / prec.scale) * prec.scale + 0.5)
    sat_direct = (direct > prec.raw_max) | (direct < prec.raw_min)
    direct = np.clip(direct, prec.raw_min, prec.raw_max).astype(np.int64)
    got, sat = model._act(raw)
    assert np.array_equal(got, direct)
    assert sat == int(np.count_nonzero(sat_direct))
    if bits <= 16:  # and it agrees with the shared table of commlb.bits
        assert np.array_equal(prec.apply(np.tanh, raw).values, direct)


def test_threshold_and_relu_rules():
    prec = Precision.fixed(8, 4)
    model = RNNModel.random(2, np.random.default_rng(0), hidden=1, activation="threshold", precision=prec)
    got, sat = model._act(np.array([-3, 0, 1, 127]))
    assert got.tolist() == [0, 0, 16, 16] and sat == 0
    full = Precision.fixed(8, 7)  # 1.0 is not representable: saturates to raw_max, counted
    model = RNNModel.random(2, np.random.default_rng(0), hidden=1, activation="threshold", precision=full)
    got, sat = model._act(np.array([-1, 0, 5]))
    assert got.tolist() == [0, 0, 127] and sat == 1
    model = RNNModel.random(2, np.random.default_rng(0), hidden=1, activation="relu", precision=prec)
    got, sat = model._act(np.array([-5, 0, 7]))
    assert got.tolist() == [0, 0, 7] and sat == 0


@settings(deadline=None, max_examples=25)
@given(models(fixed=False))
def test_float_mode_values_are_in_format_and_match_stepping(case):
    model, tokens = case
    prec = model.precision
    out = model.forward(tokens)
    assert np.array_equal(prec.quantize(out.values).values, out.values)
    # stepping one token at a time and reading out gives the same numbers
    outs = model.output_positions(tokens.size)
    state = model.initial_state()
    rows = []
    for t, tok in enumerate(tokens[: outs.max() + 1]):
        state, _ = model.step(state, int(tok))
        assert np.array_equal(prec.quantize(state).values, state)
        if t in outs:
            rows.append(model.readout(state)[0])
    assert np.allclose(np.stack(rows), out.values, rtol=0, atol=0)


def test_random_is_seeded_and_layer0_input_weights_are_zero():
    a = RNNModel.random(5, np.random.default_rng(7), hidden=4, layers=2)
    b = RNNModel.random(5, np.random.default_rng(7), hidden=4, layers=2)
    c = RNNModel.random(5, np.random.default_rng(8), hidden=4, layers=2)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)
    assert not np.any(a.params["w_in"][0])
    assert a.state_bits() == 2 * 4 * 16
    assert MODEL_FAMILIES["rnn"] is RNNModel


@pytest.mark.parametrize("prec", [Precision.fixed(12), Precision.float_(16)])
def test_save_load_round_trip(tmp_path, prec):
    model = RNNModel.random(6, np.random.default_rng(3), hidden=5, layers=2, activation="relu",
                            precision=prec, output_kind="class", num_classes=4, output_positions=(2, -1))
    path = tmp_path / "rnn.npz"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, RNNModel)
    assert loaded.config == model.config and loaded.precision == model.precision
    tokens = np.random.default_rng(1).integers(0, 6, size=9)
    a, b = model.forward(tokens), loaded.forward(tokens)
    assert a.same_bits(b) and np.array_equal(a.decision, b.decision)


def test_input_checks():
    model = RNNModel.random(3, np.random.default_rng(0), hidden=2)
    with pytest.raises(InvalidInputError):
        model.forward(np.array([0, 3]))
    with pytest.raises(InvalidInputError):
        model.forward(np.array([], dtype=np.int64))
    with pytest.raises(InvalidInputError):
        model.forward(np.array([[0, 1]]))
    with pytest.raises(InvalidInputError):
        RNNModel.random(3, np.random.default_rng(0), activation="sigmoid")
    with pytest.raises(InvalidInputError):
        RNNModel.random(0, np.random.default_rng(0))
    params = dict(model.params)
    params["w_rec"] = params["w_rec"][:, :1]
    with pytest.raises(InvalidInputError, match="w_rec"):
        RNNModel(params, model.precision, model.config)
    params = dict(model.params)
    params["b"] = params["b"] + (1 << 20)
    with pytest.raises(InvalidInputError, match="outside"):
        RNNModel(params, model.precision, model.config)
    late = RNNModel.random(3, np.random.default_rng(0), hidden=2, output_positions=(5,))
    with pytest.raises(InvalidInputError, match="output positions"):
        late.forward(np.array([0, 1, 2]))


@settings(deadline=None, max_examples=60)
@given(models(), st.integers(1, 9))
def test_step_rows_numba_and_twin_match_the_cell_twin(case, batch):
    """One step of many rows (the segment replay's step): the fused numba rounding and
    activation, its plain twin, and the cell's reference twin give the same states and
    saturations, from random in-range states."""
    from commlb.kernels.rnn import run_rows_python, step_rows

    model, _ = case
    rng = np.random.default_rng(batch)
    prec = model.precision
    start = rng.integers(prec.raw_min, prec.raw_max + 1, size=(batch,) + model.state_shape)
    toks = rng.integers(0, model.vocab_size, size=batch)
    cell = model.cell()
    ref, ref_sat = run_rows_python(cell, start, toks[:, None])
    for backend in ("python", "numba"):
        got, sat = step_rows(cell, start, toks, backend)
        assert np.array_equal(got, ref) and np.array_equal(sat, ref_sat), backend


def _segmented_run(model, lengths, seed):
    """For the replay kernels' twin tests: the model's compiled cell (None when its products
    are not exact in float64, which these kernels need), the seeded generator, the segment
    ends (cumulative ``lengths``) and random tokens over all segments."""
    cell = model.cell()
    if not cell.float_ok:
        return None, None, None, None
    rng = np.random.default_rng(seed)
    stops = np.cumsum(lengths).astype(np.int64)
    flat = rng.integers(0, model.vocab_size, size=int(stops[-1]))
    return cell, rng, stops, flat


@settings(deadline=None, max_examples=80)
@given(models(), st.lists(st.integers(1, 7), min_size=1, max_size=6),
       st.sampled_from(["honest", "bit", "sent", "token", "no-sent"]), st.integers(0, 2**32 - 1))
def test_replay_chain_numba_matches_its_twin(case, lengths, tamper, seed):
    """The segment replay's one compiled pass (decode each message, compare it with the
    state its receiver continued from and with the replayed state, step the next segment
    from it) equals its plain twin (commlb.bits.decode, the cell's reference twin token by
    token): same verdict, failing message, saturations and states at the output
    positions; honest messages (the states the compiled cell keeps at the segment ends,
    encoded by commlb.bits.encode) pass, and the states at the outputs are the cell's."""
    from commlb.bits import FieldSpec, encode
    from commlb.kernels.rnn import replay_chain

    model, _ = case
    cell, rng, stops, flat = _segmented_run(model, lengths, seed)
    if cell is None:
        return
    prec, n, h0 = model.precision, flat.size, model.initial_state()
    out_pos = np.unique(rng.integers(0, n, size=int(rng.integers(1, 4))))
    marks = np.unique(np.concatenate([stops[:-1], out_pos + 1]))
    _, sat_ref, kept, _ = cell.run_marked(h0[None], flat[None], marks)
    sent = kept[0][np.searchsorted(marks, stops[:-1])]
    spec = FieldSpec("state", "fixed", model.state_shape, prec.bits, prec.frac)
    nbytes = (spec.nbits + 7) // 8
    msgs = np.zeros((sent.shape[0], nbytes), dtype=np.uint8)
    for k in range(sent.shape[0]):
        msgs[k] = np.packbits(encode([spec], {"state": sent[k]}).bits)
    given_sent: np.ndarray | None = sent.copy()
    K = sent.shape[0]
    bad = int(rng.integers(K)) if K else 0
    if tamper == "bit" and K:
        msgs[bad, 0] ^= 0x80  # the first bit of a message
    elif tamper == "sent" and K:
        assert given_sent is not None
        given_sent[bad].flat[int(rng.integers(spec.count))] += 1
    elif tamper == "token" and model.vocab_size > 1:
        t = int(rng.integers(n))
        flat = flat.copy()
        flat[t] = (flat[t] + 1) % model.vocab_size
    elif tamper == "no-sent":
        given_sent = None
    ref = replay_chain(cell, h0, msgs, prec.bits, given_sent, flat, stops, out_pos, "python")
    got = replay_chain(cell, h0, msgs, prec.bits, given_sent, flat, stops, out_pos, "numba")
    assert got[:3] == ref[:3] and np.array_equal(got[3], ref[3])
    if tamper in ("honest", "no-sent"):
        assert got[:3] == (0, 0, int(sat_ref[0]))
        assert np.array_equal(got[3], kept[0][np.searchsorted(marks, out_pos + 1)])
    elif tamper in ("bit", "sent") and K:
        assert got[:2] == (1, bad)  # the decoding check names the message


def test_rnn_auto_backend_keeps_short_calls_plain_unless_asked():
    """'auto' runs a short call on the plain twin (the process's budget permitting) and the
    compiled kernel inside compiled_kernels() or above PLAIN_UPTO_STEPS row-steps."""
    import commlb.kernels.rnn as rnn
    from commlb.kernels.backend import compiled_kernels

    before = rnn._plain_steps_done
    if before + 10 <= rnn.PLAIN_STEPS_PER_PROCESS:
        assert rnn._auto_backend(10) == "python" and rnn._plain_steps_done == before + 10
    with compiled_kernels():
        assert rnn._auto_backend(10) == "numba"
    assert rnn._auto_backend(rnn.PLAIN_UPTO_STEPS + 1) == "numba"


@settings(deadline=None, max_examples=80)
@given(models(), st.lists(st.integers(1, 7), min_size=1, max_size=6),
       st.sampled_from(["honest", "bit", "sent", "state", "token", "no-sent"]), st.integers(0, 2**32 - 1))
def test_check_steps_numba_matches_its_twin(case, lengths, tamper, seed):
    """The replay's step-by-step check of a run against the states its engine kept (its
    certificate: products by BLAS 128 positions at a time, then the rounding and
    activation) equals its plain twin (commlb.bits.decode, one step of every row by the
    cell's reference twin): same verdict, failing message or position and saturations;
    an honest run passes with the cell's saturations; a changed bit, handed-over state,
    kept state or token is caught where it first shows."""
    from commlb.bits import FieldSpec, encode
    from commlb.kernels.rnn import check_steps

    model, _ = case
    cell, rng, stops, flat = _segmented_run(model, lengths, seed)
    if cell is None:
        return
    prec, n, h0 = model.precision, flat.size, model.initial_state()
    _, sat_ref, kept, _ = cell.run_marked(h0[None], flat[None], np.arange(1, n + 1))
    traj = kept[0].copy()
    sent = traj[stops[:-1] - 1].copy()
    spec = FieldSpec("state", "fixed", model.state_shape, prec.bits, prec.frac)
    msgs = np.zeros((sent.shape[0], (spec.nbits + 7) // 8), dtype=np.uint8)
    for k in range(sent.shape[0]):
        msgs[k] = np.packbits(encode([spec], {"state": sent[k]}).bits)
    given_sent: np.ndarray | None = sent
    K = sent.shape[0]
    bad = int(rng.integers(K)) if K else 0
    t_bad = int(rng.integers(n))
    if tamper == "bit" and K:
        msgs[bad, 0] ^= 0x80  # the first bit of a message
    elif tamper == "sent" and K:
        given_sent = sent.copy()
        given_sent[bad].flat[int(rng.integers(spec.count))] += 1
    elif tamper == "state":
        traj[t_bad].flat[int(rng.integers(spec.count))] += 1
    elif tamper == "token" and model.vocab_size > 1:
        flat = flat.copy()
        flat[t_bad] = (flat[t_bad] + 1) % model.vocab_size
    elif tamper == "no-sent":
        given_sent = None
    ref = check_steps(cell, h0, msgs, prec.bits, given_sent, flat, stops, traj, "python")
    got = check_steps(cell, h0, msgs, prec.bits, given_sent, flat, stops, traj, "numba")
    assert got == ref
    if tamper in ("honest", "no-sent"):
        assert got == (0, 0, int(sat_ref[0]))
    elif tamper in ("bit", "sent") and K:
        assert got[:2] == (1, bad)  # the decoding check names the message
    elif tamper == "state":
        assert got[0] in (2, 3) and got != (0, 0, int(sat_ref[0]))  # the change is seen
