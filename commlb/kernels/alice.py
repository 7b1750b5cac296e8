"""Alice-side message kernels: what Alice sends, for every one of her inputs at once.

The witness search (:mod:`commlb.witness`) and the effective-bits count push *all* of
Alice's inputs through the Alice side of a one-way protocol and look for two inputs whose
messages are equal.  These kernels compute those messages, exactly and bit-identically to
what the protocol engine sends (the tests compare them with the engine's own transcript
payloads), and reduce each message to a 64-bit **key**:

* if the message has at most 64 bits, the key *is* the message: the integer whose binary
  digits are the payload bits (fields in order, values in C order, each value in its
  field's two's-complement width, most significant bit first), so equal keys mean equal
  messages;
* otherwise the key is a hash of those bits (cut into 64-bit words, splitmix64 chained
  over the words);
  equal keys then only nominate a collision, which the caller confirms by comparing the
  messages themselves.

Enumeration order.  Alice's input is a vector of ``D`` digits in base ``b``
(:class:`commlb.core.InputSpace`: input index ``x = Σ_j digit_j b^j``).  The kernels walk
a *tree of levels*: level ``l`` has ``radix[l]`` children (``b`` when it reads one digit of
x, 1 for a token every input shares), and the leaf number is the mixed-radix number of the
level choices with the **last level fastest**.  :func:`tree_to_input` maps leaf numbers to
input indices.  An odometer over the leaf numbers recomputes only the levels below the
deepest change, so every node of the tree is computed once:

* :func:`additive_keys` — messages that are sums of per-position contributions
  (one-layer attention partial sums for a PUBLIC query, FFN first-layer partial
  pre-activations, keys/values in disjoint slots): one table row added and one removed
  per changed digit, about ``b/(b-1)`` changes per input;
* :func:`rnn_keys` — the RNN state after Alice's prefix (and any PUBLIC tokens she reads
  before the handoff): a depth-first walk of the prefix tree (about ``2^(D+1)`` cell
  steps for ``b = 2`` instead of ``D·2^D``), where each node's recurrent matrix product is
  computed once and shared by all its children.

Both run in parallel over contiguous ranges of leaves (``numba.prange``).  Batched twins
over explicit token rows (:func:`additive_rows`, :func:`rnn_rows`) serve sampled searches
and confirmation.  Plain numpy references, written independently from the module
docstrings of :mod:`commlb.models.rnn` / :mod:`commlb.models.ffn` /
:mod:`commlb.models.transformer`, are the ``*_reference`` functions; hypothesis tests
hold kernel == reference == engine.

RNN arithmetic (exact, fixed point; :mod:`commlb.models.rnn`): per layer ``l``,
``acc = h[l] @ w_rec[l] + (l == 0 ? (embed[x] + b[0]) << f : h_new[l-1] @ w_in[l] + (b[l] << f))``,
``pre = clip((acc + 2^(f-1)) >> f)``, then ReLU / threshold / the tanh table.  Products
are summed in float64 when every partial sum is an integer below 2^52 (then exact), in
int64 otherwise; the result is the same integer.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

__all__ = [
    "key_rows",
    "key_rows_reference",
    "additive_keys",
    "additive_keys_reference",
    "additive_rows",
    "additive_rows_reference",
    "rnn_keys",
    "rnn_keys_reference",
    "rnn_rows",
    "rnn_rows_reference",
    "tree_to_input",
    "tree_tokens",
    "RNNArrays",
    "ACT_RELU",
    "ACT_THRESHOLD",
    "ACT_TANH",
]

ACT_RELU = 0
ACT_THRESHOLD = 1
ACT_TANH = 2

_GOLD = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


# ---------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _key(row, widths, pack):
    # the bits of the message (values in order, each in its width, MSB first) cut into
    # 64-bit words; one word is the key itself, several are hashed (splitmix64 chain)
    word = np.uint64(0)
    filled = 0
    h = np.uint64(_GOLD)
    nwords = 0
    for i in range(row.shape[0]):
        w = widths[i]
        v = np.uint64(row[i])
        if w < 64:
            v = v & ((np.uint64(1) << np.uint64(w)) - np.uint64(1))
        while w > 0:
            take = min(w, 64 - filled)
            part = (v >> np.uint64(w - take)) if w - take < 64 else np.uint64(0)
            if take < 64:
                part = part & ((np.uint64(1) << np.uint64(take)) - np.uint64(1))
                word = (word << np.uint64(take)) | part
            else:
                word = part
            filled += take
            w -= take
            if filled == 64:
                if pack:
                    return word
                nwords += 1
                h = _mix64(h ^ (word + np.uint64(_GOLD) * np.uint64(nwords)))
                word = np.uint64(0)
                filled = 0
    if pack:
        return word
    if filled > 0:
        nwords += 1
        h = _mix64(h ^ (word + np.uint64(_GOLD) * np.uint64(nwords)))
    return h


@njit(cache=True, parallel=True)
def _key_rows(rows, widths, pack, out):
    for i in prange(rows.shape[0]):
        out[i] = _key(rows[i], widths, pack)


def _as_widths(widths: np.ndarray) -> tuple[np.ndarray, bool]:
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    return widths, bool(int(widths.sum()) <= 64)


def key_rows(rows: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Keys (uint64) of message rows ``rows`` (B, W) int64 whose value i has ``widths[i]``
    bits: the packed message when ``sum(widths) <= 64``, else a hash."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    widths, pack = _as_widths(widths)
    out = np.empty(rows.shape[0], dtype=np.uint64)
    if rows.shape[0]:
        _key_rows(rows, widths, pack, out)
    return out


def key_rows_reference(rows: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Plain numpy twin of :func:`key_rows` (through an explicit bit matrix)."""
    rows = np.asarray(rows, dtype=np.int64)
    widths, pack = _as_widths(widths)
    u = rows.astype(np.uint64)  # two's complement bits
    cols = []
    for i, w in enumerate(widths.tolist()):
        shifts = np.arange(w - 1, -1, -1, dtype=np.uint64)
        cols.append(((u[:, i:i + 1] >> shifts[None, :]) & np.uint64(1)).astype(np.uint64))
    bits = np.concatenate(cols, axis=1) if cols else np.zeros((rows.shape[0], 0), np.uint64)
    total = bits.shape[1]
    words = []
    for start in range(0, total, 64):
        chunk = bits[:, start:start + 64]
        k = chunk.shape[1]
        weights = np.uint64(1) << np.arange(k - 1, -1, -1, dtype=np.uint64)
        words.append(np.bitwise_or.reduce(chunk * weights[None, :], axis=1) if k else
                     np.zeros(rows.shape[0], np.uint64))
    if pack:
        return words[0] if words else np.zeros(rows.shape[0], np.uint64)

    def mix(z: np.ndarray) -> np.ndarray:
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        return z ^ (z >> np.uint64(31))

    h = np.full(rows.shape[0], _GOLD, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, word in enumerate(words):
            h = mix(h ^ (word + np.uint64(_GOLD) * np.uint64(i + 1)))
    return h


def _chunks(total: int) -> int:
    return max(1, min(total, 8 * get_num_threads()))


# ---------------------------------------------------------------------------------
# tree order
# ---------------------------------------------------------------------------------
def tree_to_input(leaves: np.ndarray, radix: np.ndarray, digit: np.ndarray, base: int) -> np.ndarray:
    """Input indices (Σ_j digit_j base^j) of tree leaf numbers (last level fastest).

    ``digit[l]`` is the input digit level ``l`` branches on (-1 for a level of radix 1)."""
    leaves = np.asarray(leaves, dtype=np.int64).copy()
    out = np.zeros(leaves.shape, dtype=np.int64)
    for l in range(len(radix) - 1, -1, -1):
        r = int(radix[l])
        if r == 1:
            continue
        c = leaves % r
        leaves //= r
        out += c * np.int64(base) ** np.int64(digit[l])
    return out


def tree_tokens(leaves: np.ndarray, radix: np.ndarray, level_tokens: np.ndarray) -> np.ndarray:
    """Token rows (B, levels) of tree leaf numbers: ``level_tokens[l, c_l]``."""
    leaves = np.asarray(leaves, dtype=np.int64).copy()
    n_levels = len(radix)
    out = np.empty((leaves.size, n_levels), dtype=np.int64)
    for l in range(n_levels - 1, -1, -1):
        r = int(radix[l])
        c = leaves % r
        leaves //= r
        out[:, l] = level_tokens[l][c]
    return out


# ---------------------------------------------------------------------------------
# additive messages
# ---------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def _additive_keys(tables, offset, widths, pack, t0, t1, out, nchunks):
    # tables (D, b, W): digit j's contribution for each of its values; digit 0 fastest
    D = tables.shape[0]
    base = tables.shape[1]
    W = tables.shape[2]
    total = t1 - t0
    for c in prange(nchunks):
        s = t0 + total * c // nchunks
        e = t0 + total * (c + 1) // nchunks
        if s >= e:
            continue
        digits = np.empty(D, np.int64)
        acc = offset.copy()
        rem = s
        for j in range(D):
            digits[j] = rem % base
            rem //= base
            for w in range(W):
                acc[w] += tables[j, digits[j], w]
        for t in range(s, e):
            out[t - t0] = _key(acc, widths, pack)
            j = 0
            while j < D:
                old = digits[j]
                new = old + 1
                if new == base:
                    new = 0
                digits[j] = new
                for w in range(W):
                    acc[w] += tables[j, new, w] - tables[j, old, w]
                if new != 0:
                    break
                j += 1


def additive_keys(tables: np.ndarray, offset: np.ndarray, widths: np.ndarray,
                  t0: int, t1: int) -> np.ndarray:
    """Keys of the messages ``offset + Σ_j tables[j, digit_j(x)]`` for inputs x in
    [t0, t1) (x = Σ_j digit_j b^j; here leaf number = input index).  int64 sums are exact
    (the caller guarantees no overflow: they are the exact accumulators the engine sends)."""
    tables = np.ascontiguousarray(tables, dtype=np.int64)
    offset = np.ascontiguousarray(offset, dtype=np.int64)
    widths, pack = _as_widths(widths)
    out = np.empty(t1 - t0, dtype=np.uint64)
    if t1 > t0:
        _additive_keys(tables, offset, widths, pack, np.int64(t0), np.int64(t1), out, _chunks(t1 - t0))
    return out


def additive_keys_reference(tables: np.ndarray, offset: np.ndarray, widths: np.ndarray,
                            t0: int, t1: int) -> np.ndarray:
    """Plain numpy twin of :func:`additive_keys`."""
    tables = np.asarray(tables, dtype=np.int64)
    D, base, _ = tables.shape
    xs = np.arange(t0, t1, dtype=np.int64)
    rows = np.broadcast_to(np.asarray(offset, dtype=np.int64), (xs.size, tables.shape[2])).copy()
    rem = xs.copy()
    for j in range(D):
        rows += tables[j][rem % base]
        rem //= base
    return key_rows_reference(rows, widths)


@njit(cache=True, parallel=True)
def _additive_rows(tables, tokens, out):
    B, P = tokens.shape
    W = tables.shape[2]
    for i in prange(B):
        for w in range(W):
            out[i, w] = 0
        for k in range(P):
            t = tokens[i, k]
            for w in range(W):
                out[i, w] += tables[k, t, w]


def additive_rows(tables: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """``out[i] = Σ_k tables[k, tokens[i, k]]``: tables (P, V, W) int64, tokens (B, P)."""
    tables = np.ascontiguousarray(tables, dtype=np.int64)
    tokens = np.ascontiguousarray(tokens, dtype=np.int64)
    out = np.empty((tokens.shape[0], tables.shape[2]), dtype=np.int64)
    _additive_rows(tables, tokens, out)
    return out


def additive_rows_reference(tables: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    tables = np.asarray(tables, dtype=np.int64)
    tokens = np.asarray(tokens, dtype=np.int64)
    out = np.zeros((tokens.shape[0], tables.shape[2]), dtype=np.int64)
    for k in range(tokens.shape[1]):
        out += tables[k][tokens[:, k]]
    return out


# ---------------------------------------------------------------------------------
# RNN
# ---------------------------------------------------------------------------------
class RNNArrays:
    """The RNN's parameters laid out for the kernels (raw int64; see the module docstring).

    ``u0[v] = (embed[v] + b[0]) << f`` (layer 0's token term), ``bsh[l] = b[l] << f``;
    ``use_float`` when every matrix-product partial sum is an integer below 2^52."""

    def __init__(self, w_rec: np.ndarray, w_in: np.ndarray, embed: np.ndarray, b: np.ndarray,
                 h0: np.ndarray, bits: int, frac: int, activation: str,
                 tanh_table: np.ndarray | None = None, tanh_lo: int = 0) -> None:
        self.w_rec = np.ascontiguousarray(w_rec, dtype=np.int64)
        self.w_in = np.ascontiguousarray(w_in, dtype=np.int64)
        self.L, self.d = self.w_rec.shape[0], self.w_rec.shape[1]
        f = int(frac)
        self.frac = f
        self.bits = int(bits)
        self.raw_min = -(1 << (bits - 1))
        self.raw_max = (1 << (bits - 1)) - 1
        embed = np.asarray(embed, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        self.u0 = np.ascontiguousarray((embed + b[0]) << np.int64(f))
        self.bsh = np.ascontiguousarray(b << np.int64(f))
        self.h0 = np.ascontiguousarray(h0, dtype=np.int64)
        self.act = {"relu": ACT_RELU, "threshold": ACT_THRESHOLD, "tanh": ACT_TANH}[activation]
        self.one = min(1 << f, self.raw_max)
        if tanh_table is None:
            tanh_table = np.zeros(1, dtype=np.int64)
        self.table = np.ascontiguousarray(tanh_table, dtype=np.int64)
        self.lo = int(tanh_lo)
        wmax = max(int(np.abs(self.w_rec).max(initial=0)), int(np.abs(self.w_in).max(initial=0)), 1)
        self.use_float = bool(self.d * (1 << (bits - 1)) * wmax < (1 << 52))
        self.w_rec_f = self.w_rec.astype(np.float64)
        self.w_in_f = self.w_in.astype(np.float64)

    @classmethod
    def from_model(cls, model) -> "RNNArrays":
        p = model.params
        prec = model.precision
        table, lo = (None, 0)
        if model.activation == "tanh":
            table, lo, _ = model.act_table()
        return cls(p["w_rec"], p["w_in"], p["embed"], p["b"], p["h0"], prec.bits, prec.frac,
                   model.activation, table, lo)

    def args(self) -> tuple:
        return (self.w_rec, self.w_in, self.w_rec_f, self.w_in_f, self.use_float, self.u0, self.bsh,
                self.act, self.table, np.int64(self.lo), np.int64(self.one), np.int64(self.frac),
                np.int64(self.raw_min), np.int64(self.raw_max))


@njit(cache=True, inline="always")
def _matvec_into(h, w_i, w_f, use_float, acc, scratch):
    # acc[j] += Σ_k h[k] w[k, j], exact
    d_in = w_i.shape[0]
    d_out = w_i.shape[1]
    if use_float:
        for j in range(d_out):
            scratch[j] = 0.0
        for k in range(d_in):
            hk = np.float64(h[k])
            for j in range(d_out):
                scratch[j] += hk * w_f[k, j]
        for j in range(d_out):
            acc[j] += np.int64(scratch[j])
    else:
        for k in range(d_in):
            hk = h[k]
            for j in range(d_out):
                acc[j] += hk * w_i[k, j]


@njit(cache=True, inline="always")
def _round_act(acc, out, act, table, lo, one, f, raw_min, raw_max):
    d = acc.shape[0]
    hi = lo + table.shape[0] - 1
    for j in range(d):
        v = acc[j]
        if f > 0:
            v = (v + (np.int64(1) << (f - 1))) >> f
        if v < raw_min:
            v = raw_min
        elif v > raw_max:
            v = raw_max
        if act == 0:
            if v < 0:
                v = 0
        elif act == 1:
            v = one if v > 0 else 0
        else:
            i = v
            if i < lo:
                i = lo
            elif i > hi:
                i = hi
            v = table[i - lo]
        out[j] = v


@njit(cache=True, inline="always")
def _base(state, base, w_rec, w_rec_f, use_float, bsh, scratch):
    # the part of the next step that depends on the state only: h[l] @ w_rec[l] (+ b[l] << f, l >= 1)
    L = state.shape[0]
    d = state.shape[1]
    for l in range(L):
        for j in range(d):
            base[l, j] = bsh[l, j] if l > 0 else 0
        _matvec_into(state[l], w_rec[l], w_rec_f[l], use_float, base[l], scratch)


@njit(cache=True, inline="always")
def _child(parent, base, tok, out, w_in, w_in_f, use_float, u0, act, table, lo, one, f,
           raw_min, raw_max, acc, scratch):
    L = parent.shape[0]
    d = parent.shape[1]
    if tok < 0:  # a level that reads no token: the state passes through
        for l in range(L):
            for j in range(d):
                out[l, j] = parent[l, j]
        return
    for l in range(L):
        for j in range(d):
            acc[j] = base[l, j]
        if l == 0:
            for j in range(d):
                acc[j] += u0[tok, j]
        else:
            _matvec_into(out[l - 1], w_in[l], w_in_f[l], use_float, acc, scratch)
        _round_act(acc, out[l], act, table, lo, one, f, raw_min, raw_max)


@njit(cache=True, parallel=True)
def _rnn_keys(w_rec, w_in, w_rec_f, w_in_f, use_float, u0, bsh, act, table, lo, one, f, raw_min, raw_max,
              h0, level_tokens, radix, widths, pack, t0, t1, out, nchunks):
    n_levels = radix.shape[0]
    L = h0.shape[0]
    d = h0.shape[1]
    total = t1 - t0
    for c in prange(nchunks):
        s = t0 + total * c // nchunks
        e = t0 + total * (c + 1) // nchunks
        if s >= e:
            continue
        states = np.empty((n_levels + 1, L, d), np.int64)
        bases = np.empty((n_levels + 1, L, d), np.int64)
        counters = np.empty(n_levels, np.int64)
        acc = np.empty(d, np.int64)
        scratch = np.empty(d, np.float64)
        row = np.empty(L * d, np.int64)
        rem = s
        for l in range(n_levels - 1, -1, -1):
            counters[l] = rem % radix[l]
            rem //= radix[l]
        for l in range(L):
            for j in range(d):
                states[0, l, j] = h0[l, j]
        _base(states[0], bases[0], w_rec, w_rec_f, use_float, bsh, scratch)
        start = 0  # first level whose child state must be recomputed
        for t in range(s, e):
            for l in range(start, n_levels):
                _child(states[l], bases[l], level_tokens[l, counters[l]], states[l + 1], w_in, w_in_f,
                       use_float, u0, act, table, lo, one, f, raw_min, raw_max, acc, scratch)
                if l + 1 < n_levels:
                    _base(states[l + 1], bases[l + 1], w_rec, w_rec_f, use_float, bsh, scratch)
            k = 0
            for l in range(L):
                for j in range(d):
                    row[k] = states[n_levels, l, j]
                    k += 1
            out[t - t0] = _key(row, widths, pack)
            # odometer: last level fastest
            l = n_levels - 1
            while l >= 0:
                counters[l] += 1
                if counters[l] < radix[l]:
                    break
                counters[l] = 0
                l -= 1
            start = l if l >= 0 else 0


def rnn_keys(arrays: RNNArrays, level_tokens: np.ndarray, radix: np.ndarray,
             t0: int, t1: int) -> np.ndarray:
    """Keys of the RNN state after the levels' tokens, for tree leaves [t0, t1).

    ``level_tokens[l, c]`` is the token read at level ``l`` for choice ``c`` (< radix[l]);
    -1 reads nothing.  The state is (L, d), so the key packs L·d values of p bits."""
    level_tokens = np.ascontiguousarray(level_tokens, dtype=np.int64)
    radix = np.ascontiguousarray(radix, dtype=np.int64)
    widths, pack = _as_widths(np.full(arrays.L * arrays.d, arrays.bits, dtype=np.int64))
    out = np.empty(t1 - t0, dtype=np.uint64)
    if t1 > t0:
        _rnn_keys(*arrays.args(), arrays.h0, level_tokens, radix, widths, pack,
                  np.int64(t0), np.int64(t1), out, _chunks(t1 - t0))
    return out


@njit(cache=True, parallel=True)
def _rnn_rows(w_rec, w_in, w_rec_f, w_in_f, use_float, u0, bsh, act, table, lo, one, f, raw_min, raw_max,
              h0, tokens, out):
    B, T = tokens.shape
    L = h0.shape[0]
    d = h0.shape[1]
    for i in prange(B):
        cur = h0.copy()
        nxt = np.empty((L, d), np.int64)
        base = np.empty((L, d), np.int64)
        acc = np.empty(d, np.int64)
        scratch = np.empty(d, np.float64)
        for t in range(T):
            _base(cur, base, w_rec, w_rec_f, use_float, bsh, scratch)
            _child(cur, base, tokens[i, t], nxt, w_in, w_in_f, use_float, u0, act, table, lo, one, f,
                   raw_min, raw_max, acc, scratch)
            cur, nxt = nxt, cur
        k = 0
        for l in range(L):
            for j in range(d):
                out[i, k] = cur[l, j]
                k += 1


def rnn_rows(arrays: RNNArrays, tokens: np.ndarray) -> np.ndarray:
    """States (B, L·d) after reading each row of ``tokens`` (B, T) from h0 (-1 = skip)."""
    tokens = np.ascontiguousarray(tokens, dtype=np.int64)
    out = np.empty((tokens.shape[0], arrays.L * arrays.d), dtype=np.int64)
    _rnn_rows(*arrays.args(), arrays.h0, tokens, out)
    return out


def rnn_rows_reference(arrays: RNNArrays, tokens: np.ndarray) -> np.ndarray:
    """Plain numpy twin of :func:`rnn_rows`: the RNN docstring's arithmetic, batched over
    rows, int64 matrix products (object-free, exact)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    B, T = tokens.shape
    L, d, f = arrays.L, arrays.d, arrays.frac
    h = np.broadcast_to(arrays.h0, (B, L, d)).copy()
    for t in range(T):
        tok = tokens[:, t]
        step = tok >= 0
        new = h.copy()
        below = None
        for l in range(L):
            acc = h[:, l] @ arrays.w_rec[l]
            if l == 0:
                acc = acc + arrays.u0[np.where(step, tok, 0)]
            else:
                acc = acc + below @ arrays.w_in[l] + arrays.bsh[l]
            pre = (acc + (1 << (f - 1))) >> f if f > 0 else acc
            pre = np.clip(pre, arrays.raw_min, arrays.raw_max)
            if arrays.act == ACT_RELU:
                out = np.maximum(pre, 0)
            elif arrays.act == ACT_THRESHOLD:
                out = np.where(pre > 0, arrays.one, 0)
            else:
                hi = arrays.lo + arrays.table.size - 1
                out = arrays.table[np.clip(pre, arrays.lo, hi) - arrays.lo]
            new[:, l] = np.where(step[:, None], out, h[:, l])
            below = new[:, l]
        h = new
    return h.reshape(B, L * d)


def rnn_keys_reference(arrays: RNNArrays, level_tokens: np.ndarray, radix: np.ndarray,
                       t0: int, t1: int) -> np.ndarray:
    """Plain numpy twin of :func:`rnn_keys` (every leaf run from h0, no sharing)."""
    toks = tree_tokens(np.arange(t0, t1), np.asarray(radix), np.asarray(level_tokens))
    rows = rnn_rows_reference(arrays, toks)
    return key_rows_reference(rows, np.full(arrays.L * arrays.d, arrays.bits, dtype=np.int64))
