"""Property tests: every shared kernel against its plain twin, and the one backend switch.

(The larger kernels have their own files: rank in test_rank.py, fooling in
test_fooling.py, exact D in test_exact.py, the Alice-side keys in test_alice_kernels.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.bits import Precision
from commlb.errors import InvalidInputError
from commlb.kernels import bitops
from commlb.kernels.backend import resolve_backend
from commlb.models.rnn import RNNModel

words = st.integers(0, 2**64 - 1)


@given(words)
def test_popcount_and_ctz_equal_twins(x):
    assert bitops.popcount64(np.uint64(x)) == bitops.popcount_python(x) == sum((x >> i) & 1 for i in range(64))
    if x:
        low = bitops.ctz64(np.uint64(x))
        assert low == bitops.ctz_python(x)
        assert (x >> low) & 1 and x % (1 << low) == 0
    out = np.full(65, -1, dtype=np.int64)
    k = bitops.set_bits64(np.uint64(x), out)
    assert out[:k].tolist() == bitops.set_bits_python(x) and (out[k:] == -1).all()
    assert sum(1 << i for i in out[:k].tolist()) == x


@given(st.lists(words, max_size=70))
def test_word_rank_equals_twin(rows):
    from commlb.kernels.gf2 import insert_word, rank_gf2_python, rank_words

    vecs = np.array(rows, dtype=np.uint64)
    r = rank_words(vecs, len(rows))
    assert r == rank_gf2_python(rows, 64)[0]
    # incremental insertion grows the rank exactly when a row is independent of the earlier ones
    basis = np.zeros(64, dtype=np.uint64)
    for t, v in enumerate(rows):
        grew = insert_word(basis, np.uint64(v))
        assert grew == rank_gf2_python(rows[: t + 1], 64)[0] - rank_gf2_python(rows[:t], 64)[0]


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 251, 2147483647]))
def test_gfp_rows_kernel_equals_twin_and_certifies(m, n, seed, p):
    from commlb.bounds.rank import verify_rank_certificate_gfp
    from commlb.kernels.gfp import rank_gfp_python, rank_gfp_rows

    rng = np.random.default_rng(seed)
    A = rng.integers(0, 3, size=(m, n)) * rng.integers(0, 2, size=(m, 1))  # some zero rows
    r, prow, pcol = rank_gfp_rows(np.mod(A, p).astype(np.int64), p)
    assert (r, prow.tolist(), pcol.tolist()) == rank_gfp_python(A.tolist(), p)
    assert verify_rank_certificate_gfp(A, prow.tolist(), pcol.tolist(), p)


def test_backend_vocabulary():
    assert resolve_backend("auto") == "numba"
    assert resolve_backend("auto", auto="python") == "python"
    assert resolve_backend("python") == "python"
    for bad in ("numpy", "rows", "fortran"):
        with pytest.raises(InvalidInputError, match="numba, python or auto"):
            resolve_backend(bad)


def test_every_public_backend_switch_speaks_the_same_words():
    from commlb.bounds.fooling import max_fooling_set
    from commlb.bounds.rank import rank_gf2, rank_gfp

    M = np.eye(5, dtype=np.int64)
    for fn in (lambda b: rank_gf2(M, backend=b).rank, lambda b: rank_gfp(M, backend=b).rank,
               lambda b: max_fooling_set(M, 1, backend=b).size):
        assert fn("numba") == fn("python") == fn("auto") == 5
        with pytest.raises(InvalidInputError):
            fn("numpy")


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 6), st.integers(1, 3), st.sampled_from(["tanh", "relu", "threshold"]),
       st.integers(3, 16), st.integers(0, 2**32 - 1))
def test_rnn_cell_kernel_equals_twin_and_model_step(d, L, act, bits, seed):
    from commlb.kernels.rnn import RNNCell

    rng = np.random.default_rng(seed)
    frac = int(rng.integers(0, bits))
    model = RNNModel.random(5, rng, hidden=d, layers=L, activation=act, precision=Precision.fixed(bits, frac))
    cell = RNNCell.from_model(model)
    B, T = 6, int(rng.integers(1, 6))
    toks = rng.integers(-1, 5, size=(B, T))  # -1 reads nothing
    prec = model.precision
    start = rng.integers(prec.raw_min, prec.raw_max + 1, size=(B, L, d))
    got, sat = cell.run(start, toks, "numba")
    twin, twin_sat = cell.run(start, toks, "python")
    assert np.array_equal(got, twin) and np.array_equal(sat, twin_sat)
    for i in range(B):  # the model's own one-token step, skipping -1
        h, s = start[i].copy(), 0
        for tok in toks[i]:
            if tok >= 0:
                h, k = model.step(h, int(tok))
                s += k
        assert np.array_equal(got[i], h) and sat[i] == s


def test_gf2_threads_chosen_from_size_and_free_cores(monkeypatch):
    from numba import config

    from commlb.kernels import gf2

    assert gf2.choose_threads(1000, 1000) == 1  # below the size where threads pay
    monkeypatch.setattr(gf2, "free_cores", lambda: 1)
    assert gf2.choose_threads(8192, 8192) == 1  # busy machine: one thread
    monkeypatch.setattr(gf2, "free_cores", lambda: 64)
    assert gf2.choose_threads(8192, 8192) == int(config.NUMBA_NUM_THREADS)
    assert 1 <= gf2.free_cores() <= 64


def test_kernels_make_openmp_threads_wait_passively_unless_told():
    import os
    import subprocess
    import sys

    code = "import commlb.kernels, os; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "active"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "active"


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 200), st.integers(1, 200), st.integers(0, 2**32 - 1), st.sampled_from([1, 2]))
def test_gf2_rank_same_on_any_thread_count(m, n, seed, threads):
    from commlb.bounds.rank import verify_rank_certificate_gf2
    from commlb.kernels.gf2 import rank_gf2_bits, rank_gf2_python

    bits = np.random.default_rng(seed).integers(0, 2, (m, n), dtype=np.uint8)
    r, prow, pcol = rank_gf2_bits(bits, threads=threads)
    rows = [int("".join(str(b) for b in row[::-1]), 2) for row in bits]
    assert r == rank_gf2_python(rows, n)[0]
    assert len(prow) == len(pcol) == r
    assert verify_rank_certificate_gf2(bits, prow.tolist(), pcol.tolist())


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 5), st.integers(1, 2), st.sampled_from(["tanh", "relu", "threshold"]),
       st.integers(0, 2**32 - 1))
def test_rnn_cell_marks_equal_twin_and_prefix_runs(d, L, act, seed):
    from commlb.kernels.rnn import RNNCell

    rng = np.random.default_rng(seed)
    model = RNNModel.random(4, rng, hidden=d, layers=L, activation=act, precision=Precision.fixed(10))
    cell = RNNCell.from_model(model)
    T = int(rng.integers(0, 9))
    toks = rng.integers(-1, 4, size=(3, T))
    marks = np.unique(rng.integers(0, T + 1, size=4))
    start = np.stack([model.initial_state()] * 3)
    got = cell.run_marked(start, toks, marks, "numba")
    twin = cell.run_marked(start, toks, marks, "python")
    for a, b in zip(got, twin, strict=True):
        assert np.array_equal(a, b)
    for k, m in enumerate(marks):  # the state kept at a mark is the state after that prefix
        st_, sat = cell.run(start, toks[:, :m], "python")
        assert np.array_equal(got[2][:, k], st_) and np.array_equal(got[3][:, k], sat)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 9), st.integers(1, 3), st.sampled_from(["tanh", "relu", "threshold"]),
       st.integers(3, 20), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_rnn_dense_and_sparse_compiled_cells_equal_twin(d, L, act, bits, B, seed):
    """The compiled cell's two product paths — dense float64 (run_rows_dense, one row in
    the calling thread or many in parallel) and sparse int64 rows (run_rows) — each equal
    the plain twin on final states, saturations and the states kept at marks, from random
    in-range states with tokens that read nothing (-1) mixed in."""
    from commlb.kernels.rnn import RNNCell

    rng = np.random.default_rng(seed)
    frac = int(rng.integers(0, bits))
    model = RNNModel.random(5, rng, hidden=d, layers=L, activation=act, precision=Precision.fixed(bits, frac))
    cell = RNNCell.from_model(model)
    assert cell.float_ok  # at most 20 bits and d <= 9: every product is exact in float64
    T = int(rng.integers(0, 12))
    toks = rng.integers(-1, 5, size=(B, T))
    marks = np.unique(rng.integers(0, T + 1, size=3))
    prec = model.precision
    start = rng.integers(prec.raw_min, prec.raw_max + 1, size=(B, L, d))
    twin = cell.run_marked(start, toks, marks, "python")
    for dense in (True, False):
        cell.dense = dense
        got = cell.run_marked(start, toks, marks, "numba")
        for a, b in zip(got, twin, strict=True):
            assert np.array_equal(a, b), dense


def test_rnn_cell_takes_dense_products_only_where_float64_is_exact():
    """float_ok decides: 16-bit weights at d = 64 run dense; 24-bit values with a
    weight of 2^23 - 1 at d = 96 (a product's terms can add up past 2^52) keep the int64
    sparse-row kernel, which still equals the twin."""
    from commlb.kernels.rnn import RNNCell

    rng = np.random.default_rng(3)
    dense = RNNCell.from_model(RNNModel.random(4, rng, hidden=64, precision=Precision.fixed(16)))
    assert dense.float_ok and dense.dense
    model = RNNModel.random(4, rng, hidden=96, activation="relu", precision=Precision.fixed(24, 20))
    params = dict(model.params)
    params["w_rec"] = params["w_rec"].copy()
    params["w_rec"][0, 0, 0] = model.precision.raw_max
    model = RNNModel(params, model.precision, model.config)
    cell = RNNCell.from_model(model)
    assert not cell.float_ok and not cell.dense
    prec = model.precision
    start = rng.integers(prec.raw_min, prec.raw_max + 1, size=(2, 1, 96))
    toks = rng.integers(0, 4, size=(2, 9))
    got, twin = cell.run(start, toks, "numba"), cell.run(start, toks, "python")
    assert np.array_equal(got[0], twin[0]) and np.array_equal(got[1], twin[1])
