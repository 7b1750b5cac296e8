"""The numba kernel of :mod:`commlb.kernels.rnn` (kept apart so that building an
:class:`~commlb.kernels.rnn.RNNCell` never imports numba)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["run_rows"]


@njit(cache=True, inline="always")
def _unit(acc, half, f, raw_min, raw_max, act, one, lo, table, tmask):
    """One unit of the cell from its exact accumulator ``acc``: rounded to the grid,
    saturated to [raw_min, raw_max], activated (0 ReLU, 1 step, else the table).
    Returns (value, saturations counted: 0, 1 or 2)."""
    pre = (acc + half) >> f if f > 0 else acc
    s = np.int64(0)
    if pre < raw_min:
        pre = raw_min
        s += 1
    elif pre > raw_max:
        pre = raw_max
        s += 1
    if act == 0:
        v = pre if pre > 0 else np.int64(0)
    elif act == 1:
        v = one if pre > 0 else np.int64(0)
        if pre > 0 and one < (np.int64(1) << f):
            s += 1
    else:
        idx = min(max(pre, lo), lo + table.shape[0] - 1) - lo
        v = table[idx]
        if tmask[idx]:
            s += 1
    return v, s


@njit(cache=True, parallel=True)
def run_rows(rec_ptr, rec_col, rec_val, in_ptr, in_col, in_val, u0, bsh, act, table, lo,
             one, f, raw_min, raw_max, tmask, states, tokens, sat, marks, mark_states, mark_sat):
    """States (B, L, d) updated in place by reading the rows of ``tokens`` (B, T); ``sat``
    (B,) gets the saturations.  ``marks`` (K,, increasing): after the first marks[k]
    tokens the state and the saturations so far go to ``mark_states[:, k]`` and
    ``mark_sat[:, k]``.  See :mod:`commlb.kernels.rnn`."""
    B, T = tokens.shape
    L, d = states.shape[1], states.shape[2]
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    for i in prange(B):
        cur = states[i].copy()  # last step's state
        nxt = np.empty((L, d), np.int64)  # this step's state
        acc = np.empty(d, np.int64)
        s = np.int64(0)
        m = 0
        K = marks.shape[0]
        while m < K and marks[m] == 0:
            mark_states[i, m] = cur
            mark_sat[i, m] = s
            m += 1
        for t in range(T):
            tok = tokens[i, t]
            if tok < 0:
                while m < K and marks[m] == t + 1:
                    mark_states[i, m] = cur
                    mark_sat[i, m] = s
                    m += 1
                continue
            for layer in range(L):
                if layer == 0:
                    for j in range(d):
                        acc[j] = u0[tok, j]
                else:
                    for j in range(d):
                        acc[j] = bsh[layer, j]
                    for k in range(d):
                        hk = nxt[layer - 1, k]  # this step's state of layer - 1
                        if hk != 0:
                            for e in range(in_ptr[layer, k], in_ptr[layer, k + 1]):
                                acc[in_col[layer, e]] += hk * in_val[layer, e]
                for k in range(d):
                    hk = cur[layer, k]
                    if hk != 0:
                        for e in range(rec_ptr[layer, k], rec_ptr[layer, k + 1]):
                            acc[rec_col[layer, e]] += hk * rec_val[layer, e]
                for j in range(d):
                    v, k_sat = _unit(acc[j], half, f, raw_min, raw_max, act, one, lo, table, tmask)
                    s += k_sat
                    nxt[layer, j] = v
            cur, nxt = nxt, cur
            while m < K and marks[m] == t + 1:
                mark_states[i, m] = cur
                mark_sat[i, m] = s
                m += 1
        for layer in range(L):
            for j in range(d):
                states[i, layer, j] = cur[layer, j]
        sat[i] += s


@njit(cache=True)
def activate_rows(acc, act, table, lo, one, f, raw_min, raw_max, tmask, out, sat):
    """The cell's rounding, saturation and activation of exact accumulators ``acc``
    (B, d) into ``out`` (B, d), adding each row's saturations to ``sat`` (B,), in one
    pass (the module docstring of :mod:`commlb.kernels.rnn`; plain twin:
    :func:`commlb.kernels.rnn.activate_rows_python`)."""
    B, d = acc.shape
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    for i in range(B):
        s = np.int64(0)
        for j in range(d):
            v, k_sat = _unit(acc[i, j], half, f, raw_min, raw_max, act, one, lo, table, tmask)
            s += k_sat
            out[i, j] = v
        sat[i] += s


@njit(cache=True)
def run_ragged_dense(w_rec, w_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask,
                     states, flat, offs, lens, sat):
    """Rows of different lengths, one after another: row r starts from ``states[r]``
    (updated in place) and reads ``flat[offs[r] : offs[r] + lens[r]]``; ``sat[r]`` gets
    its saturations.  The products are dense float64 (``w_rec``/``w_in`` as float64):
    exact when every partial sum is an integer below 2^52 (the caller checks,
    :attr:`commlb.kernels.rnn.RNNCell.float_ok`).  Plain twin:
    :func:`commlb.kernels.rnn.run_ragged_python`."""
    R = states.shape[0]
    L, d = states.shape[1], states.shape[2]
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    cur = np.empty((L, d), np.float64)
    accf = np.empty(d, np.float64)
    for r in range(R):
        for layer in range(L):
            for j in range(d):
                cur[layer, j] = np.float64(states[r, layer, j])
        s = np.int64(0)
        for t in range(offs[r], offs[r] + lens[r]):
            tok = flat[t]
            for layer in range(L):
                for j in range(d):
                    accf[j] = 0.0
                for k in range(d):
                    hk = cur[layer, k]  # last step's state of this layer
                    if hk != 0.0:
                        for j in range(d):
                            accf[j] += hk * w_rec[layer, k, j]
                if layer > 0:
                    for k in range(d):
                        hk = cur[layer - 1, k]  # this step's state of the layer below
                        if hk != 0.0:
                            for j in range(d):
                                accf[j] += hk * w_in[layer, k, j]
                for j in range(d):
                    acc = np.int64(accf[j]) + (u0[tok, j] if layer == 0 else bsh[layer, j])
                    v, k_sat = _unit(acc, half, f, raw_min, raw_max, act, one, lo, table, tmask)
                    s += k_sat
                    cur[layer, j] = np.float64(v)
        for layer in range(L):
            for j in range(d):
                states[r, layer, j] = np.int64(cur[layer, j])
        sat[r] += s
