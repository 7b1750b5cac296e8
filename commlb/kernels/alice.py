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
* otherwise the key is a hash: Σ_i (value_i mod 2^width_i)·R_i mod 2^64 with fixed odd
  multipliers R_i, finished by splitmix64; equal keys then only nominate a collision,
  which the caller confirms by comparing the messages themselves.

Enumeration order.  Alice's input is a vector of ``D`` digits in base ``b``
(:class:`commlb.core.InputSpace`: input index ``x = Σ_j digit_j b^j``).  The kernels walk
a *tree of levels*: level ``l`` has ``radix[l]`` children (``b`` when it reads one digit of
x, 1 for a token every input shares), and the leaf number is the mixed-radix number of the
level choices with the **last level fastest**.  :func:`tree_to_input` maps leaf numbers to
input indices.  An odometer over the leaf numbers recomputes only the levels below the
deepest change, so every node of the tree is computed once:

* :func:`additive_keys` — messages that are sums of per-position contributions
  (one-layer attention partial sums for a PUBLIC query, FFN first-layer partial
  pre-activations, keys/values in disjoint slots; the tables come from the models' own
  building blocks, see :mod:`commlb.witness`): one table row added and one removed per
  changed digit, about ``b/(b-1)`` changes per input (here the leaf number is the input
  index itself: digit 0 changes fastest);
* :func:`rnn_keys` — the RNN state after Alice's prefix (and any PUBLIC tokens she reads
  before the handoff): a depth-first walk of the prefix tree (about ``2^(D+1)`` cell
  steps for ``b = 2`` instead of ``D·2^D``), where each node's recurrent matrix product is
  computed once and shared by all its children.

Both run in parallel over contiguous ranges of leaves (``numba.prange``).  Batched twins
over explicit token rows (:func:`additive_rows`; :func:`rnn_rows`, which is the batched RNN
cell of :mod:`commlb.kernels.rnn`) serve sampled searches and confirmation.  Plain numpy
references, written independently from the module docstrings of :mod:`commlb.models.rnn` / :mod:`commlb.models.ffn` /
:mod:`commlb.models.transformer`, are the ``*_reference`` functions; hypothesis tests
hold kernel == reference == engine.

RNN arithmetic (exact, fixed point; :mod:`commlb.models.rnn`): per layer ``l``,
``acc = h[l] @ w_rec[l] + (l == 0 ? (embed[x] + b[0]) << f : h_new[l-1] @ w_in[l] + (b[l] << f))``,
``pre = clip((acc + 2^(f-1)) >> f)``, then ReLU / threshold / the tanh table.  The
kernels hold every value as a float64 that is an exact integer and run only when every
partial sum stays below 2^52 in magnitude (then float64 sums are exact in any order);
otherwise the int64 numpy twins run.  The result is the same integer either way.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from .rnn import ACT_RELU, ACT_TANH, ACT_THRESHOLD, RNNCell

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
def _key(row, masks, mults, pack):
    # pack: the message bits (values in order, each in its width, MSB first) as one
    # integer; else a multiplicative hash of the masked values, finished by splitmix64
    if pack:
        key = np.uint64(0)
        for i in range(row.shape[0]):
            w = mults[i]  # in pack mode the multipliers array holds the widths
            if w >= np.uint64(64):
                key = np.uint64(row[i])
            else:
                key = (key << w) | (np.uint64(row[i]) & masks[i])
        return key
    h = np.uint64(0)
    for i in range(row.shape[0]):
        h += (np.uint64(row[i]) & masks[i]) * mults[i]
    return _mix64(h ^ np.uint64(_GOLD))


@njit(cache=True, parallel=True)
def _key_rows(rows, masks, mults, pack, out):
    for i in prange(rows.shape[0]):
        out[i] = _key(rows[i], masks, mults, pack)


def _key_params(widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(masks, multipliers, pack) for values of the given bit widths.  Multiplier i is
    the odd number splitmix64(GOLD·(i+1)) | 1; when packing, the second array holds the
    widths instead."""
    widths = np.asarray(widths, dtype=np.int64)
    masks = np.array([(1 << int(w)) - 1 if w < 64 else (1 << 64) - 1 for w in widths.tolist()],
                     dtype=np.uint64)
    pack = bool(int(widths.sum()) <= 64)
    if pack:
        return masks, widths.astype(np.uint64), True
    mults = np.array([_mix_int(_GOLD * (i + 1) % (1 << 64)) | 1 for i in range(widths.size)], dtype=np.uint64)
    return masks, mults, False


def _mix_int(z: int) -> int:
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * _M1) & mask
    z = ((z ^ (z >> 27)) * _M2) & mask
    return z ^ (z >> 31)


def key_rows(rows: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Keys (uint64) of message rows ``rows`` (B, W) int64 whose value i has ``widths[i]``
    bits: the packed message when ``sum(widths) <= 64``, else a hash."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    masks, mults, pack = _key_params(widths)
    out = np.empty(rows.shape[0], dtype=np.uint64)
    if rows.shape[0]:
        _key_rows(rows, masks, mults, pack, out)
    return out


def key_rows_reference(rows: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Plain numpy twin of :func:`key_rows` (packing through an explicit bit matrix)."""
    rows = np.asarray(rows, dtype=np.int64)
    masks, mults, pack = _key_params(widths)
    u = rows.astype(np.uint64) & masks[None, :]  # two's complement bits of each width
    if pack:
        bits = []
        for i, w in enumerate(np.asarray(widths, dtype=np.int64).tolist()):
            shifts = np.arange(w - 1, -1, -1, dtype=np.uint64)
            bits.append((u[:, i:i + 1] >> shifts[None, :]) & np.uint64(1))
        if not bits:
            return np.zeros(rows.shape[0], dtype=np.uint64)
        mat = np.concatenate(bits, axis=1)
        weights = np.uint64(1) << np.arange(mat.shape[1] - 1, -1, -1, dtype=np.uint64)
        return np.bitwise_or.reduce(mat * weights[None, :], axis=1)
    with np.errstate(over="ignore"):
        h = (u * mults[None, :]).sum(axis=1, dtype=np.uint64) ^ np.uint64(_GOLD)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(_M1)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(_M2)
        return h ^ (h >> np.uint64(31))


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
def _additive_keys(tables, offset, masks, mults, pack, t0, t1, out, nchunks):
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
            out[t - t0] = _key(acc, masks, mults, pack)
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
    masks, mults, pack = _key_params(widths)
    out = np.empty(t1 - t0, dtype=np.uint64)
    if t1 > t0:
        _additive_keys(tables, offset, masks, mults, pack, np.int64(t0), np.int64(t1), out, _chunks(t1 - t0))
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
    """The RNN's parameters laid out for the kernels (see the module docstring).

    ``u0[v] = (embed[v] + b[0]) << f`` (layer 0's token term), ``bsh[l] = b[l] << f``
    (``bsh[0] = 0``: layer 0's bias is in ``u0``).  The kernels hold states and sums as
    float64 numbers that are exact integers: ``use_float`` says every partial sum stays
    below 2^52 in magnitude, so float64 arithmetic (in any order) is exact; otherwise
    the wrappers run the int64 numpy twins instead."""

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
        self.bsh[0] = 0
        self.h0 = np.ascontiguousarray(h0, dtype=np.int64)
        self.act = {"relu": ACT_RELU, "threshold": ACT_THRESHOLD, "tanh": ACT_TANH}[activation]
        self.one = min(1 << f, self.raw_max)
        if tanh_table is None:
            tanh_table = np.zeros(1, dtype=np.int64)
        self.table = np.ascontiguousarray(tanh_table, dtype=np.int64)
        self.lo = int(tanh_lo)
        wmax = max(int(np.abs(self.w_rec).max(initial=0)), int(np.abs(self.w_in).max(initial=0)), 1)
        umax = int(np.abs(self.u0).max(initial=0)) + int(np.abs(self.bsh).max(initial=0))
        # |acc| <= 2·d·2^(p-1)·max|w| + |token and bias terms|
        self.use_float = bool(2 * self.d * (1 << (bits - 1)) * wmax + umax < (1 << 52))
        self.w_rec_f = self.w_rec.astype(np.float64)
        self.w_in_f = self.w_in.astype(np.float64)
        # the same parameters for the batched cell (rnn_rows); saturations are not needed
        self.cell = RNNCell(w_rec, w_in, embed, b, bits, frac, activation, tanh_table, tanh_lo)

    @classmethod
    def from_model(cls, model) -> RNNArrays:
        p = model.params
        prec = model.precision
        table, lo = (None, 0)
        if model.activation == "tanh":
            table, lo, _ = model.act_table()
        return cls(p["w_rec"], p["w_in"], p["embed"], p["b"], p["h0"], prec.bits, prec.frac,
                   model.activation, table, lo)

    def args(self) -> tuple:
        f = self.frac
        half = float(1 << (f - 1)) if f > 0 else 0.0
        return (self.w_rec_f, self.w_in_f, self.u0.astype(np.float64), self.bsh.astype(np.float64),
                self.act, self.table.astype(np.float64), np.int64(self.lo), float(self.one), half,
                float(2.0 ** -f), float(self.raw_min), float(self.raw_max))


@njit(cache=True, inline="always")
def _round_act(v, act, table, lo, hi, one, half, inv, raw_min, raw_max):
    # pre = clip(floor((acc + 2^(f-1)) / 2^f)) (exact: acc is an integer below 2^52 and
    # 2^-f a power of two), then the activation
    v = np.floor((v + half) * inv)
    v = min(max(v, raw_min), raw_max)
    if act == 0:
        return max(v, 0.0)
    if act == 1:
        return one if v > 0.0 else 0.0
    return table[np.int64(min(max(v, lo), hi)) - np.int64(lo)]


# The helpers below index whole arrays by level instead of taking views: a view costs
# reference-count updates, which dominate a step of a small RNN.
@njit(cache=True, inline="always")
def _base(states, bases, lvl, w_rec, bsh, scratch):
    # the part of the next step that depends on the state only:
    # h[l] @ w_rec[l] (+ b[l] << f for l >= 1); summed in a separate scratch row, which
    # the compiler keeps apart from the arrays it reads (about twice as fast)
    L = states.shape[1]
    d = states.shape[2]
    for l in range(L):
        for j in range(d):
            scratch[j] = bsh[l, j]
        for k in range(d):
            hk = states[lvl, l, k]
            if hk != 0.0:
                for j in range(d):
                    scratch[j] += hk * w_rec[l, k, j]
        for j in range(d):
            bases[lvl, l, j] = scratch[j]


@njit(cache=True, inline="always")
def _child(states, bases, lvl, tok, w_in, u0, act, table, lo, hi, one, half, inv, raw_min, raw_max, acc):
    # states[lvl + 1] = one step from states[lvl] (whose base is bases[lvl]) reading tok
    L = states.shape[1]
    d = states.shape[2]
    if tok < 0:  # a level that reads no token: the state passes through
        for l in range(L):
            for j in range(d):
                states[lvl + 1, l, j] = states[lvl, l, j]
        return
    for j in range(d):
        states[lvl + 1, 0, j] = _round_act(bases[lvl, 0, j] + u0[tok, j], act, table, lo, hi, one, half, inv,
                                           raw_min, raw_max)
    for l in range(1, L):
        for j in range(d):
            acc[j] = bases[lvl, l, j]
        for k in range(d):
            hk = states[lvl + 1, l - 1, k]
            if hk != 0.0:
                for j in range(d):
                    acc[j] += hk * w_in[l, k, j]
        for j in range(d):
            states[lvl + 1, l, j] = _round_act(acc[j], act, table, lo, hi, one, half, inv, raw_min, raw_max)


@njit(cache=True, parallel=True)
def _rnn_keys(w_rec, w_in, u0, bsh, act, table, lo, one, half, inv, raw_min, raw_max,
              h0, level_tokens, radix, masks, mults, pack, t0, t1, out, nchunks):
    n_levels = radix.shape[0]
    L = h0.shape[0]
    d = h0.shape[1]
    hi = np.float64(lo + table.shape[0] - 1)
    flo = np.float64(lo)
    total = t1 - t0
    for c in prange(nchunks):
        s = t0 + total * c // nchunks
        e = t0 + total * (c + 1) // nchunks
        if s >= e:
            continue
        states = np.empty((n_levels + 1, L, d), np.float64)
        bases = np.empty((n_levels + 1, L, d), np.float64)
        counters = np.empty(n_levels, np.int64)
        acc = np.empty(d, np.float64)
        scratch = np.empty(d, np.float64)
        row = np.empty(L * d, np.int64)
        rem = s
        for l in range(n_levels - 1, -1, -1):
            counters[l] = rem % radix[l]
            rem //= radix[l]
        for l in range(L):
            for j in range(d):
                states[0, l, j] = h0[l, j]
        _base(states, bases, 0, w_rec, bsh, scratch)
        start = 0  # first level whose child state must be recomputed
        last = n_levels - 1
        for t in range(s, e):
            for l in range(start, last):
                _child(states, bases, l, level_tokens[l, counters[l]], w_in, u0, act, table, flo, hi, one, half,
                       inv, raw_min, raw_max, acc)
                _base(states, bases, l + 1, w_rec, bsh, scratch)
            tok = level_tokens[last, counters[last]]
            if L == 1 and tok >= 0:
                # the leaf step fused with the key: one layer, straight into the row
                for j in range(d):
                    row[j] = np.int64(_round_act(bases[last, 0, j] + u0[tok, j], act, table, flo, hi, one, half, inv,
                                                 raw_min, raw_max))
            else:
                _child(states, bases, last, tok, w_in, u0, act, table, flo, hi, one, half, inv, raw_min, raw_max,
                       acc)
                k = 0
                for l in range(L):
                    for j in range(d):
                        row[k] = np.int64(states[n_levels, l, j])
                        k += 1
            out[t - t0] = _key(row, masks, mults, pack)
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
    if not arrays.use_float:
        return rnn_keys_reference(arrays, level_tokens, radix, t0, t1)
    level_tokens = np.ascontiguousarray(level_tokens, dtype=np.int64)
    radix = np.ascontiguousarray(radix, dtype=np.int64)
    masks, mults, pack = _key_params(np.full(arrays.L * arrays.d, arrays.bits, dtype=np.int64))
    out = np.empty(t1 - t0, dtype=np.uint64)
    if t1 > t0:
        _rnn_keys(*arrays.args(), arrays.h0, level_tokens, radix, masks, mults, pack,
                  np.int64(t0), np.int64(t1), out, _chunks(t1 - t0))
    return out


def rnn_rows(arrays: RNNArrays, tokens: np.ndarray, backend: str = "numba") -> np.ndarray:
    """States (B, L·d) after reading each row of ``tokens`` (B, T) from h0 (-1 = skip), by
    the batched RNN cell (:mod:`commlb.kernels.rnn`; ``backend`` as there)."""
    tokens = np.ascontiguousarray(tokens, dtype=np.int64)
    h0 = np.broadcast_to(arrays.h0, (tokens.shape[0], arrays.L, arrays.d))
    states, _ = arrays.cell.run(h0, tokens, backend)
    return states.reshape(tokens.shape[0], arrays.L * arrays.d)


def rnn_rows_reference(arrays: RNNArrays, tokens: np.ndarray) -> np.ndarray:
    """:func:`rnn_rows` by the cell's plain twin."""
    return rnn_rows(arrays, tokens, "python")


def rnn_keys_reference(arrays: RNNArrays, level_tokens: np.ndarray, radix: np.ndarray,
                       t0: int, t1: int) -> np.ndarray:
    """Plain numpy twin of :func:`rnn_keys` (every leaf run from h0, no sharing)."""
    toks = tree_tokens(np.arange(t0, t1), np.asarray(radix), np.asarray(level_tokens))
    rows = rnn_rows_reference(arrays, toks)
    return key_rows_reference(rows, np.full(arrays.L * arrays.d, arrays.bits, dtype=np.int64))
