"""The numba kernel of :mod:`commlb.kernels.rnn` (kept apart so that building an
:class:`~commlb.kernels.rnn.RNNCell` never imports numba)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["run_rows", "run_rows_dense", "run_rows_dense_serial", "check_steps_dense", "activate_rows",
           "replay_chain_dense"]


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


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dense_step(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, half, raw_min, raw_max, tmask, cur, acc, pre, tok):
    """One token step of a state ``cur`` (L, d) float64 holding integers, in place, with
    dense products by the transposed weights ``wt_*[l, j, k] = w_*[l, k, j]`` (float64);
    ``acc`` (d,) float64 and ``pre`` (d,) int64 are scratch.  Returns the saturations.

    Exactness: every term is an integer, and the terms of one product add up in absolute
    value to less than 2^52 (:attr:`commlb.kernels.rnn.RNNCell.float_ok`; a layer above
    the first adds two such products, less than 2^53), so every partial sum in any order
    is an exactly representable integer: reassociating the sums (``fastmath``
    ``reassoc``, so that they vectorise) and fused multiply-adds (``contract``) give
    exactly the integer result.  The rounding, saturation and activation are
    :func:`_unit`'s, in passes over the d units that vectorise."""
    L, d = cur.shape
    s = np.int64(0)
    for layer in range(L):
        j = 0
        while j + 4 <= d:  # four outputs at a time: each element of the state read once for four
            t0 = t1 = t2 = t3 = 0.0
            for k in range(d):
                c = cur[layer, k]  # last step's state of this layer
                t0 += c * wt_rec[layer, j, k]
                t1 += c * wt_rec[layer, j + 1, k]
                t2 += c * wt_rec[layer, j + 2, k]
                t3 += c * wt_rec[layer, j + 3, k]
            if layer > 0:
                for k in range(d):
                    c = cur[layer - 1, k]  # this step's state of the layer below
                    t0 += c * wt_in[layer, j, k]
                    t1 += c * wt_in[layer, j + 1, k]
                    t2 += c * wt_in[layer, j + 2, k]
                    t3 += c * wt_in[layer, j + 3, k]
            acc[j], acc[j + 1], acc[j + 2], acc[j + 3] = t0, t1, t2, t3
            j += 4
        while j < d:
            t0 = 0.0
            for k in range(d):
                t0 += cur[layer, k] * wt_rec[layer, j, k]
            if layer > 0:
                for k in range(d):
                    t0 += cur[layer - 1, k] * wt_in[layer, j, k]
            acc[j] = t0
            j += 1
        # the unit of _unit, in passes that vectorise: round and saturate, then activate
        for j in range(d):
            a = np.int64(acc[j]) + (u0[tok, j] if layer == 0 else bsh[layer, j])
            p = (a + half) >> f if f > 0 else a
            s += (p < raw_min) + (p > raw_max)
            pre[j] = min(max(p, raw_min), raw_max)
        if act == 0:
            for j in range(d):
                cur[layer, j] = np.float64(max(pre[j], np.int64(0)))
        elif act == 1:
            for j in range(d):
                cur[layer, j] = np.float64(one if pre[j] > 0 else np.int64(0))
            if one < (np.int64(1) << f):  # the step's 1 saturated
                for j in range(d):
                    s += pre[j] > 0
        else:
            hi = lo + table.shape[0] - 1
            for j in range(d):
                idx = min(max(pre[j], lo), hi) - lo
                cur[layer, j] = np.float64(table[idx])
                s += tmask[idx]
    return s


@njit(cache=True, inline="always")
def _keep_marks(cur, s, i, done, m, marks, mark_states, mark_sat):
    """Row i has read ``done`` tokens: keep its state ``cur`` and saturations ``s`` for every
    mark from the m-th on that equals ``done``; returns the next mark's index."""
    while m < marks.shape[0] and marks[m] == done:
        for layer in range(cur.shape[0]):
            for j in range(cur.shape[1]):
                mark_states[i, m, layer, j] = np.int64(cur[layer, j])
        mark_sat[i, m] = s
        m += 1
    return m


@njit(cache=True, inline="always")
def _dense_row(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, states, tokens,
               sat, marks, mark_states, mark_sat, i):
    """Row ``i`` of :func:`run_rows_dense`."""
    T = tokens.shape[1]
    L, d = states.shape[1], states.shape[2]
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    cur = np.empty((L, d), np.float64)  # the state, integers held exactly
    for layer in range(L):
        for j in range(d):
            cur[layer, j] = np.float64(states[i, layer, j])
    acc = np.empty(d, np.float64)
    pre = np.empty(d, np.int64)
    s = np.int64(0)
    m = 0
    m = _keep_marks(cur, s, i, 0, m, marks, mark_states, mark_sat)
    for t in range(T):
        tok = tokens[i, t]
        if tok >= 0:  # -1 reads nothing
            s += _dense_step(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, half, raw_min, raw_max, tmask,
                             cur, acc, pre, tok)
        m = _keep_marks(cur, s, i, t + 1, m, marks, mark_states, mark_sat)
    for layer in range(L):
        for j in range(d):
            states[i, layer, j] = np.int64(cur[layer, j])
    sat[i] += s


@njit(cache=True, parallel=True)
def run_rows_dense(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, states, tokens,
                   sat, marks, mark_states, mark_sat):
    """:func:`run_rows` with dense float64 products (:func:`_dense_step`, weights
    transposed: ``wt_*[l, j, k] = w_*[l, k, j]``), for a cell whose products are exact
    in float64 (:attr:`commlb.kernels.rnn.RNNCell.float_ok`) and whose weights are not
    sparse: same arguments otherwise, same results (plain twin
    :func:`commlb.kernels.rnn.run_rows_python`).  Parallel over the rows."""
    for i in prange(tokens.shape[0]):
        _dense_row(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, states, tokens,
                   sat, marks, mark_states, mark_sat, i)


@njit(cache=True, nogil=True)
def run_rows_dense_serial(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, states,
                          tokens, sat, marks, mark_states, mark_sat):
    """:func:`run_rows_dense` in the calling thread, for one row (a forward pass, the
    protocol engine's run): no thread pool woken for it; the GIL is released, so that
    the protocol engine's run and its forward check can overlap in two threads."""
    for i in range(tokens.shape[0]):
        _dense_row(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, states, tokens,
                   sat, marks, mark_states, mark_sat, i)


@njit(cache=True)
def _take_message(msg, width, sent_k, check_sent, cur):
    """Decode message ``msg`` (its bit string packed eight bits a byte, most significant
    first, as ``np.packbits`` writes it: L·d values of ``width`` bits each, two's
    complement, most significant bit first), compare it with ``sent_k`` (L, d) when
    ``check_sent`` and with the replayed state ``cur`` (L, d) float64, and put it into
    ``cur``.  Returns 1 if it differs from ``sent_k``, else 2 if it differs from the
    replayed state, else 0."""
    L, d = cur.shape
    nb = width // 8
    aligned = (width & 7) == 0
    sign = np.int64(1) << (width - 1) if width < 64 else np.int64(0)
    bad_sent = False
    bad_replay = False
    for layer in range(L):
        for j in range(d):
            i = layer * d + j
            code = np.uint64(0)
            if aligned:  # the value is nb whole bytes
                b0 = i * nb
                for b in range(nb):
                    code = (code << np.uint64(8)) | np.uint64(msg[b0 + b])
            else:  # any width: bit by bit
                o = i * width
                for b in range(width):
                    q = o + b
                    code = (code << np.uint64(1)) | ((np.uint64(msg[q >> 3]) >> np.uint64(7 - (q & 7))) & np.uint64(1))
            v = np.int64(code)
            if width < 64:  # sign extension: (v XOR sign) - sign
                v = (v ^ sign) - sign
            if check_sent and v != sent_k[layer, j]:
                bad_sent = True
            fv = np.float64(v)
            if fv != cur[layer, j]:
                bad_replay = True
            cur[layer, j] = fv
    return 1 if bad_sent else 2 if bad_replay else 0


@njit(cache=True)
def replay_chain_dense(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask,
                       h0, msgs, width, sent, check_sent, flat, stops, out_pos, out_states, result):
    """The segment replay and the message decoding check in one pass (plain twin:
    :func:`commlb.kernels.rnn.replay_chain_python`).

    Segment k reads ``flat[stops[k-1] : stops[k]]`` (``stops[-1]`` = 0) from ``h0`` (k = 0)
    or from what message k − 1 decodes to.  After segment k < K (K = ``msgs.shape[0]`` =
    number of segments − 1), message k (row k of ``msgs``, packed bits) is decoded and
    compared, first with ``sent[k]`` when ``check_sent`` (the state its receiver
    continued from; else ``sent`` is any (1, L, d) array), then with the replayed state,
    and segment k + 1 starts from it (:func:`_take_message`).  The state
    after reading position ``out_pos[o]`` (increasing) goes to ``out_states[o]``.
    ``result`` gets (0, 0, saturations) when every check passes, else (1, k, ·) for the
    first message k that does not decode to ``sent[k]`` or (2, k, ·) for the first
    segment k that does not end in the state message k decodes to; the pass stops there."""
    L, d = h0.shape
    nseg = stops.shape[0]
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    cur = np.empty((L, d), np.float64)
    acc = np.empty(d, np.float64)
    pre = np.empty(d, np.int64)
    for layer in range(L):
        for j in range(d):
            cur[layer, j] = np.float64(h0[layer, j])
    s = np.int64(0)
    o = 0
    nout = out_pos.shape[0]
    start = 0
    for k in range(nseg):
        for t in range(start, stops[k]):
            s += _dense_step(wt_rec, wt_in, u0, bsh, act, table, lo, one, f, half, raw_min, raw_max, tmask,
                             cur, acc, pre, flat[t])
            while o < nout and out_pos[o] == t:
                for layer in range(L):
                    for j in range(d):
                        out_states[o, layer, j] = np.int64(cur[layer, j])
                o += 1
        start = stops[k]
        if k + 1 < nseg:
            code = _take_message(msgs[k], width, sent[k if check_sent else 0], check_sent, cur)
            if code:
                result[0], result[1], result[2] = code, k, s
                return
    result[0], result[1], result[2] = 0, 0, s


@njit(cache=True)
def check_steps_dense(w_rec, w_in, u0, bsh, act, table, lo, one, f, raw_min, raw_max, tmask, h0, msgs, width,
                      sent, check_sent, flat, stops, traj, result):
    """Check a run's every step against its certificate, the state after every position
    (plain twin: :func:`commlb.kernels.rnn.check_steps_python`).

    ``traj[t]`` (L, d) is the state claimed after reading ``flat[t]``; segment k covers
    positions ``stops[k-1] .. stops[k] - 1``.  The state before position t is ``h0`` for
    t = 0, what message k − 1 decodes to at the start t = ``stops[k-1]`` of segment k
    (its packed bits, row k − 1 of ``msgs``, decoded by :func:`_take_message`, which
    also compares it with ``sent[k-1]`` when ``check_sent`` and with ``traj[t-1]``, the
    end of segment k − 1), else ``traj[t-1]``.  Each step is recomputed from the state
    before it, rows of 128 positions at a time: per layer the products by the weights
    ``w_*`` (float64, as stored: ``[l, k, j]``) as one BLAS matrix product (exact under
    :attr:`commlb.kernels.rnn.RNNCell.float_ok`, whatever the order of the sums), then
    :func:`_unit`'s rounding and activation, compared with ``traj[t]``.

    ``result`` gets (0, 0, saturations) when all holds; else the first failure in the
    order of the run (position t's step, then at the end of a segment its message):
    (1, k, 0) message k does not decode to ``sent[k]``, (2, k, 0) it does not decode to
    the state segment k ends in, (3, t, 0) the step at position t does not give
    ``traj[t]``."""
    T = flat.shape[0]
    L, d = h0.shape
    nseg = stops.shape[0]
    half = np.int64(1) << (f - 1) if f > 0 else np.int64(0)
    hi = lo + table.shape[0] - 1
    C = 128
    prev = np.empty((L, C, d), np.float64)  # the state before each row's step, per layer
    below = np.empty((C, d), np.float64)  # the claimed state of the layer below, this step
    cur = np.empty((L, d), np.float64)
    pre = np.empty(d, np.int64)
    s = np.int64(0)
    k = 0  # the segment of position c0
    while k < nseg and stops[k] <= 0:
        k += 1
    for c0 in range(0, T, C):
        n = min(T, c0 + C) - c0
        # the states before the steps; the messages decoded at the segment starts
        fail_code = 0
        fail_at = T  # the position before whose step the message check failed
        fail_k = 0
        for r in range(n):
            t = c0 + r
            if t == 0:
                for layer in range(L):
                    for j in range(d):
                        prev[layer, r, j] = np.float64(h0[layer, j])
                continue
            while k < nseg and stops[k] <= t:
                k += 1
            if k > 0 and stops[k - 1] == t:  # segment k starts here, from message k - 1
                for layer in range(L):
                    for j in range(d):
                        cur[layer, j] = np.float64(traj[t - 1, layer, j])
                code = _take_message(msgs[k - 1], width, sent[k - 1 if check_sent else 0], check_sent, cur)
                if code and fail_code == 0:
                    fail_code, fail_at, fail_k = code, t, k - 1
                for layer in range(L):
                    for j in range(d):
                        prev[layer, r, j] = cur[layer, j]
            else:
                for layer in range(L):
                    for j in range(d):
                        prev[layer, r, j] = np.float64(traj[t - 1, layer, j])
        # the steps, in order; the first failure (a step's, or a message's before it) ends the pass
        bad_t = T
        for layer in range(L):
            acc = np.dot(prev[layer, :n], w_rec[layer])
            if layer > 0:
                for r in range(n):
                    for j in range(d):
                        below[r, j] = np.float64(traj[c0 + r, layer - 1, j])
                acc += np.dot(below[:n], w_in[layer])
            for r in range(min(n, bad_t - c0)):
                t = c0 + r
                tok = flat[t]
                for j in range(d):
                    a = np.int64(acc[r, j]) + (u0[tok, j] if layer == 0 else bsh[layer, j])
                    p = (a + half) >> f if f > 0 else a
                    s += (p < raw_min) + (p > raw_max)
                    pre[j] = min(max(p, raw_min), raw_max)
                bad = 0
                if act == 0:
                    for j in range(d):
                        bad += max(pre[j], np.int64(0)) != traj[t, layer, j]
                elif act == 1:
                    for j in range(d):
                        bad += (one if pre[j] > 0 else np.int64(0)) != traj[t, layer, j]
                    if one < (np.int64(1) << f):  # the step's 1 saturated
                        for j in range(d):
                            s += pre[j] > 0
                else:
                    for j in range(d):
                        idx = min(max(pre[j], lo), hi) - lo
                        bad += table[idx] != traj[t, layer, j]
                        s += tmask[idx]
                if bad:
                    bad_t = t
                    break
        if fail_code and fail_at <= bad_t:
            result[0], result[1], result[2] = fail_code, fail_k, 0
            return
        if bad_t < T:
            result[0], result[1], result[2] = 3, bad_t, 0
            return
    result[0], result[1], result[2] = 0, 0, s
