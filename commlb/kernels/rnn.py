"""The Elman RNN cell over a batch of sequences: its numba kernels and their plain twin.

Arithmetic: exactly :mod:`commlb.models.rnn`'s fixed-point step (int64 throughout),
per layer ``l``::

    acc = h[l] @ w_rec[l] + (l == 0 ? u0[x] : h_new[l-1] @ w_in[l] + bsh[l])
    pre = clip(f > 0 ? (acc + 2^(f-1)) >> f : acc, raw_min, raw_max)   # counts saturations
    h_new[l] = relu(pre) | (pre > 0 ? one : 0) | table[clip(pre, lo, hi) - lo]

with ``u0[v] = (embed[v] + b[0]) << f`` and ``bsh[l] = b[l] << f`` (:class:`RNNCell`).  A
token ``-1`` reads nothing: the state passes through unchanged (the witness search uses
it for positions an input does not fill).

* ``run_rows_dense`` — numba, parallel over the rows (``run_rows_dense_serial`` for one
  row: no threads woken): dense float64 products by the transposed weights, exact when
  :attr:`RNNCell.float_ok` (every partial sum an integer below 2^53); the compiled cell
  whenever that holds and more than an eighth of the weights are nonzero
  (:attr:`RNNCell.dense`).  At d = 64 a step costs about 0.5 µs against 5 µs by sparse rows.
* ``run_rows`` — numba, parallel over the rows; weights in CSR form by *input* unit, so
  a step costs O(nonzeros), int64 throughout: the compiled cell for sparse weights (the
  explicit constructions) and wherever float64 products would not be exact.
* :func:`run_rows_python` — the plain twin: numpy int64 products, one step at a time.
* :func:`step_rows` — one step of many rows at once for callers with many independent
  rows (the protocol's segment replay): the products as in the twin (one exact matrix
  product for all rows), the rounding and activation fused in one numba pass
  (``activate_rows``, plain twin :func:`activate_rows_python`).
* :func:`replay_chain` — the protocol's segment replay in one pass: a chain of segments,
  each started from what the message before it decodes to, every message decoded from
  its packed bits and compared with the state its receiver continued from and with the
  replayed state: numba ``replay_chain_dense`` with dense float64 products (exact when
  :attr:`RNNCell.float_ok`), plain twin :func:`replay_chain_python`.

:meth:`RNNCell.run` picks one of them with the shared backend switch
(:mod:`commlb.kernels.backend`).  :meth:`commlb.models.rnn.RNNModel.run_batch` and the
witness search's batched rows (:func:`commlb.kernels.alice.rnn_rows`) both run through it;
the witness search's tree walk over a prefix tree (:func:`commlb.kernels.alice.rnn_keys`)
is a different algorithm (each node's product shared by its children) with its own twin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PLAIN_UPTO_STEPS", "PLAIN_STEPS_PER_PROCESS", "ACT_RELU", "ACT_TANH", "ACT_THRESHOLD", "RNNCell", "csr",
           "matmul_exact", "run_rows_python", "step_rows", "activate_rows_python", "replay_chain",
           "replay_chain_python", "check_steps", "check_steps_python"]

#: "auto" runs the plain twin for calls of up to this many row-steps (rows x tokens), as
#: long as this process has run fewer than :data:`PLAIN_STEPS_PER_PROCESS` that way: a few
#: milliseconds a call, against loading the compiled kernel (tens of ms) or compiling it
#: on a fresh install (seconds) -- a short command (the protocol engine's one sequence and
#: its check against the forward pass) never loads it, a long loop of calls loads it once
PLAIN_UPTO_STEPS = 256
PLAIN_STEPS_PER_PROCESS = 1 << 15
_plain_steps_done = 0


def _auto_backend(steps: int) -> str:
    """"python" or "numba" for an "auto" call of ``steps`` row-steps (see above)."""
    global _plain_steps_done
    from .backend import prefer_compiled

    if steps <= PLAIN_UPTO_STEPS and _plain_steps_done + steps <= PLAIN_STEPS_PER_PROCESS and not prefer_compiled():
        _plain_steps_done += steps
        return "python"
    return "numba"

ACT_RELU = 0
ACT_THRESHOLD = 1
ACT_TANH = 2
_ACT_CODES = {"relu": ACT_RELU, "threshold": ACT_THRESHOLD, "tanh": ACT_TANH}


def matmul_exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact int64 product (int64 never overflows for these magnitudes).  Uses float64
    BLAS when every partial sum is an integer below 2^52, which is exact and much faster."""
    k = a.shape[-1]
    if a.size == 0 or b.size == 0 or k == 0:
        return np.zeros(a.shape[:-1] + b.shape[1:], dtype=np.int64)
    amax = int(np.max(np.abs(a)))
    bmax = int(np.max(np.abs(b)))
    if k * amax * bmax < (1 << 52):
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a @ b


class _SparseWeights:
    """A mostly-zero int64 weight matrix as (row, value) lists grouped by column, for an
    exact batched product that costs O(batch · nonzeros)."""

    def __init__(self, w: np.ndarray) -> None:
        rows, cols = np.nonzero(w.T)  # sorted by output column
        self.cols = rows  # output column of each nonzero
        self.rows = cols  # input row of each nonzero
        self.vals = w[cols, rows]
        self.ncols = w.shape[1]
        self.uniq, self.starts = np.unique(self.cols, return_index=True)

    def apply(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], self.ncols), dtype=np.int64)
        if self.vals.size:
            prod = x[:, self.rows] * self.vals
            out[:, self.uniq] = np.add.reduceat(prod, self.starts, axis=1)
        return out


def csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per layer, the nonzeros of w[l] (d, d) grouped by row: (ptr (L, d+1), col, val)."""
    L, d, _ = w.shape
    nnz = max(1, max(int(np.count_nonzero(w[layer])) for layer in range(L)))
    ptr = np.zeros((L, d + 1), dtype=np.int64)
    col = np.zeros((L, nnz), dtype=np.int64)
    val = np.zeros((L, nnz), dtype=np.int64)
    for layer in range(L):
        rows, cols = np.nonzero(w[layer])
        ptr[layer, 1:] = np.cumsum(np.bincount(rows, minlength=d))
        col[layer, : rows.size] = cols
        val[layer, : rows.size] = w[layer][rows, cols]
    return ptr, col, val


class RNNCell:
    """A fixed-point RNN's parameters in the layout of the module docstring.

    ``table``/``lo``/``tmask``: the tanh lookup table, its first index and its saturation
    mask (:meth:`commlb.models.rnn.RNNModel.act_table`); unused for relu and threshold."""

    def __init__(self, w_rec: np.ndarray, w_in: np.ndarray, embed: np.ndarray, b: np.ndarray,
                 bits: int, frac: int, activation: str, table: np.ndarray | None = None, lo: int = 0,
                 tmask: np.ndarray | None = None) -> None:
        f = int(frac)
        self.w_rec = np.ascontiguousarray(w_rec, dtype=np.int64)
        self.w_in = np.ascontiguousarray(w_in, dtype=np.int64)
        self.L, self.d = self.w_rec.shape[0], self.w_rec.shape[1]
        self.bits, self.frac = int(bits), f
        self.raw_min, self.raw_max = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        b = np.asarray(b, dtype=np.int64)
        self.u0 = np.ascontiguousarray((np.asarray(embed, dtype=np.int64) + b[0]) << np.int64(f))
        self.bsh = np.ascontiguousarray(b << np.int64(f))
        self.bsh[0] = 0  # layer 0's bias is in u0
        self.act = _ACT_CODES[activation]
        self.one = min(1 << f, self.raw_max)
        self.table = np.ascontiguousarray(np.zeros(1) if table is None else table, dtype=np.int64)
        self.lo = int(lo)
        self.tmask = np.ascontiguousarray(np.zeros(self.table.size) if tmask is None else tmask, dtype=np.bool_)
        self._csr: tuple | None = None
        # the twin's products: sparse lists when at most a quarter of the weights are
        # nonzero, else float64 BLAS when every partial sum stays below 2^52, else int64
        wmax = max(int(np.abs(self.w_rec).max(initial=0)), int(np.abs(self.w_in).max(initial=0)), 1)
        self.float_ok = self.d * (1 << (self.bits - 1)) * wmax < (1 << 52)
        nnz = np.count_nonzero(self.w_rec) + np.count_nonzero(self.w_in[1:])
        total = self.w_rec.size + self.w_in[1:].size
        self.sparse = bool(nnz <= 0.25 * total)
        #: the compiled cell's products: dense float64 (``run_rows_dense``) when exact
        #: (:attr:`float_ok`) and more than an eighth of the weights are nonzero, else
        #: sparse rows in int64 (``run_rows``; at d = 64 a dense step costs about what
        #: the sparse one does at a tenth of the weights nonzero)
        self.dense = bool(self.float_ok and nnz > total / 8)
        self._sp: tuple | None = None
        self._wf: tuple | None = None
        self._wt: tuple | None = None  # the weights transposed, float64 (run_rows_dense, replay_chain)

    def weights_t(self) -> tuple[np.ndarray, np.ndarray]:
        """``w_rec`` and ``w_in`` transposed per layer (``[l, j, k] = w[l, k, j]``), float64,
        made once: the dense compiled products' layout."""
        if self._wt is None:
            self._wt = (np.ascontiguousarray(self.w_rec.transpose(0, 2, 1), dtype=np.float64),
                        np.ascontiguousarray(self.w_in.transpose(0, 2, 1), dtype=np.float64))
        return self._wt

    def _product(self, x: np.ndarray, which: int, layer: int) -> np.ndarray:
        """x @ w_rec[layer] (which = 0) or x @ w_in[layer] (which = 1), exact int64."""
        w = self.w_rec if which == 0 else self.w_in
        if self.sparse:
            if self._sp is None:
                self._sp = ([_SparseWeights(m) for m in self.w_rec], [_SparseWeights(m) for m in self.w_in])
            return self._sp[which][layer].apply(x)
        if self.float_ok:
            if self._wf is None:
                self._wf = (self.w_rec.astype(np.float64), self.w_in.astype(np.float64))
            return (x.astype(np.float64) @ self._wf[which][layer]).astype(np.int64)
        return x @ w[layer]

    @classmethod
    def from_model(cls, model: Any) -> RNNCell:
        p, prec = model.params, model.precision
        table, lo, tmask = model.act_table() if model.activation == "tanh" else (None, 0, None)
        return cls(p["w_rec"], p["w_in"], p["embed"], p["b"], prec.bits, prec.frac, model.activation,
                   table, lo, tmask)

    def run(self, states: np.ndarray, tokens: np.ndarray, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Read the rows of ``tokens`` (B, T; -1 reads nothing) from ``states`` (B, L, d):
        (final states (B, L, d) int64, saturations per row (B,)).  ``backend``: ``"numba"``,
        ``"python"`` or ``"auto"`` (the plain twin for short calls: :data:`PLAIN_UPTO_STEPS`)."""
        out, sat, _, _ = self.run_marked(states, tokens, np.zeros(0, dtype=np.int64), backend)
        return out, sat

    def run_marked(self, states: np.ndarray, tokens: np.ndarray, marks: np.ndarray,
                   backend: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`run`, also keeping the state and the saturations so far after the first
        ``marks[k]`` tokens (``marks`` increasing, in 0..T): returns (final states,
        saturations, marked states (B, K, L, d), marked saturations (B, K))."""
        from .backend import resolve_backend

        toks = np.ascontiguousarray(tokens, dtype=np.int64)
        backend = resolve_backend(backend, auto=_auto_backend(toks.size) if backend == "auto" else "numba")
        states = np.array(states, dtype=np.int64, copy=True)
        marks = np.ascontiguousarray(marks, dtype=np.int64)
        if marks.size and (np.any(np.diff(marks) < 0) or marks[0] < 0 or marks[-1] > toks.shape[1]):
            raise ValueError("marks must be increasing and within 0..T")
        if backend == "python":
            h, sat, mark_states, mark_sat = run_rows_python(self, states, toks, marks)
            return h, sat, mark_states, mark_sat
        B = toks.shape[0]
        sat = np.zeros(B, dtype=np.int64)
        mark_states = np.empty((B, marks.size, self.L, self.d), dtype=np.int64)  # every entry written
        mark_sat = np.empty((B, marks.size), dtype=np.int64)
        if not B:
            return states, sat, mark_states, mark_sat
        rest = (np.int64(self.act), self.table, np.int64(self.lo), np.int64(self.one), np.int64(self.frac),
                np.int64(self.raw_min), np.int64(self.raw_max), self.tmask, states, toks, sat, marks,
                mark_states, mark_sat)
        if self.dense:
            from ._rnn_numba import run_rows_dense, run_rows_dense_serial

            kernel = run_rows_dense if B > 1 else run_rows_dense_serial
            kernel(*self.weights_t(), self.u0, self.bsh, *rest)
        else:
            from ._rnn_numba import run_rows

            if self._csr is None:
                self._csr = csr(self.w_rec) + csr(self.w_in)
            run_rows(*self._csr, self.u0, self.bsh, *rest)
        return states, sat, mark_states, mark_sat


def run_rows_python(cell: RNNCell, states: np.ndarray, tokens: np.ndarray,
                    marks: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Plain twin of the numba kernel: the module docstring's step, numpy, batched over the
    rows, one token at a time (products exact: sparse lists, float64 BLAS below 2^52, or
    int64).  With ``marks`` also returns the marked states and saturations
    (:meth:`RNNCell.run_marked`)."""
    h = np.array(states, dtype=np.int64, copy=True)
    toks = np.asarray(tokens, dtype=np.int64)
    B = toks.shape[0]
    sat = np.zeros(B, dtype=np.int64)
    mark_at = np.zeros(0, dtype=np.int64) if marks is None else np.asarray(marks, dtype=np.int64)
    K = len(mark_at)
    mark_states = np.zeros((B, K, cell.L, cell.d), dtype=np.int64)
    mark_sat = np.zeros((B, K), dtype=np.int64)
    for k in range(K):
        if mark_at[k] == 0:
            mark_states[:, k], mark_sat[:, k] = h, sat
    for t in range(toks.shape[1]):
        tok = toks[:, t]
        step = tok >= 0
        new = h.copy()
        below: np.ndarray | None = None
        for layer in range(cell.L):
            acc = cell._product(h[:, layer], 0, layer)
            if layer == 0:
                acc = acc + cell.u0[np.where(step, tok, 0)]
            else:
                assert below is not None  # the layer below ran first
                acc = acc + cell._product(below, 1, layer) + cell.bsh[layer]
            out, s = activate_rows_python(cell, acc)
            new[:, layer] = np.where(step[:, None], out, h[:, layer])
            sat += np.where(step, s, 0)
            below = new[:, layer]
        h = new
        for k in range(K):
            if mark_at[k] == t + 1:
                mark_states[:, k], mark_sat[:, k] = h, sat
    if marks is None:
        return h, sat
    return h, sat, mark_states, mark_sat


def activate_rows_python(cell: RNNCell, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain twin of the numba ``activate_rows``: round, saturate and activate exact
    accumulators (B, d) as the cell does; returns (values (B, d), saturations (B,))."""
    f = cell.frac
    pre = (acc + (1 << (f - 1))) >> f if f > 0 else acc
    over = (pre < cell.raw_min) | (pre > cell.raw_max)
    pre = np.clip(pre, cell.raw_min, cell.raw_max)
    s = over.sum(axis=1)
    if cell.act == ACT_RELU:
        out = np.maximum(pre, 0)
    elif cell.act == ACT_THRESHOLD:
        out = np.where(pre > 0, cell.one, 0)
        if cell.one < (1 << f):
            s = s + (pre > 0).sum(axis=1)
    else:
        idx = np.clip(pre, cell.lo, cell.lo + cell.table.size - 1) - cell.lo
        out = cell.table[idx]
        s = s + cell.tmask[idx].sum(axis=1)
    return np.asarray(out, dtype=np.int64), np.asarray(s, dtype=np.int64)


def step_rows(cell: RNNCell, states: np.ndarray, tokens: np.ndarray,
              backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """One step of every row: ``states`` (B, L, d) read ``tokens`` (B,) (each >= 0) ->
    (new states (B, L, d), saturations per row (B,)).  The products are exact matrix
    products over all rows at once (:meth:`RNNCell._product`, as :func:`run_rows_python`);
    the rounding and activation run fused by the numba ``activate_rows`` (``backend``
    ``"numba"``/``"auto"``) or by :func:`activate_rows_python` (``"python"``)."""
    from .backend import resolve_backend

    backend = resolve_backend(backend)
    h = np.asarray(states, dtype=np.int64)
    tok = np.asarray(tokens, dtype=np.int64)
    if tok.size and tok.min() < 0:
        raise ValueError("step_rows reads a token in every row")
    B = h.shape[0]
    new = np.empty((B, cell.L, cell.d), dtype=np.int64)
    sat = np.zeros(B, dtype=np.int64)
    for layer in range(cell.L):
        acc = cell._product(h[:, layer], 0, layer)
        if layer == 0:
            acc += cell.u0[tok]
        else:
            acc += cell._product(new[:, layer - 1], 1, layer)
            acc += cell.bsh[layer]
        if backend == "python":
            new[:, layer], s = activate_rows_python(cell, acc)
            sat += s
        else:
            from ._rnn_numba import activate_rows

            view = new[:, layer]  # C-contiguous when L = 1: written in place
            out = view if view.flags.c_contiguous else np.empty((B, cell.d), dtype=np.int64)
            activate_rows(np.ascontiguousarray(acc), np.int64(cell.act), cell.table, np.int64(cell.lo),
                          np.int64(cell.one), np.int64(cell.frac), np.int64(cell.raw_min),
                          np.int64(cell.raw_max), cell.tmask, out, sat)
            if out is not view:
                new[:, layer] = out
    return new, sat


def replay_chain_python(cell: RNNCell, h0: np.ndarray, msgs: np.ndarray, width: int, sent: np.ndarray | None,
                        flat: np.ndarray, stops: np.ndarray,
                        out_pos: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    """Plain twin of :func:`replay_chain`: each message decoded by
    :func:`commlb.bits.decode` from its unpacked bits, each step by
    :func:`run_rows_python`."""
    from ..bits import FieldSpec, Payload, decode

    L, d = cell.L, cell.d
    spec = FieldSpec("state", "fixed", (L, d), int(width), 0)
    out_pos = np.asarray(out_pos, dtype=np.int64)
    out_states = np.zeros((out_pos.size, L, d), dtype=np.int64)
    h = np.asarray(h0, dtype=np.int64)[None]
    sat = 0
    start = 0
    where = {int(t): o for o, t in enumerate(out_pos.tolist())}
    for k, stop in enumerate(np.asarray(stops).tolist()):
        for t in range(start, stop):  # one token at a time
            h, s = run_rows_python(cell, h, np.asarray(flat[t: t + 1], dtype=np.int64)[None])
            sat += int(s[0])
            if t in where:
                out_states[where[t]] = h[0]
        start = stop
        if k + 1 < len(stops):
            bits = np.unpackbits(np.asarray(msgs[k], dtype=np.uint8))[: L * d * int(width)]
            got = decode([spec], Payload(bits.astype(np.uint8)))["state"]
            if sent is not None and not np.array_equal(got, sent[k]):
                return 1, k, sat, out_states
            if not np.array_equal(got, h[0]):
                return 2, k, sat, out_states
            h = got[None]
    return 0, 0, sat, out_states


def replay_chain(cell: RNNCell, h0: np.ndarray, msgs: np.ndarray, width: int, sent: np.ndarray | None,
                 flat: np.ndarray, stops: np.ndarray, out_pos: np.ndarray,
                 backend: str = "auto") -> tuple[int, int, int, np.ndarray]:
    """Replay a chain of segments and check its messages in one pass (the RNN protocol's
    ``verify="replay"``, docs/theory.md §3.9).

    Segment k reads ``flat[stops[k-1] : stops[k]]`` (each token >= 0; ``stops[-1]`` = 0)
    from ``h0`` (L, d) (k = 0) or from what message k − 1 decodes to.  ``msgs`` (K, B)
    uint8 holds the K = len(stops) − 1 messages' bit strings, packed eight bits a byte
    most significant first (``np.packbits``), each L·d two's complement values of
    ``width`` bits.  After segment k < K, message k is decoded and must equal ``sent[k]``
    (unless ``sent`` is None) and then the replayed state.  Returns (code, k,
    saturations, out_states): code 0 when every check passes, 1 when message k does not
    decode to ``sent[k]``, 2 when segment k does not end in what message k decodes to
    (the first failure; the pass stops there); ``out_states[o]`` is the state after
    position ``out_pos[o]`` (increasing).  ``backend`` ``"numba"``/``"auto"``: one
    compiled pass with dense float64 products (only when :attr:`RNNCell.float_ok`, which
    makes them exact; else a ``ValueError``); ``"python"``: :func:`replay_chain_python`."""
    from .backend import resolve_backend

    backend = resolve_backend(backend)
    flat = np.ascontiguousarray(flat, dtype=np.int64)
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    out_pos = np.ascontiguousarray(out_pos, dtype=np.int64)
    msgs = np.ascontiguousarray(msgs, dtype=np.uint8)
    K = stops.size - 1
    if msgs.shape[0] != K or msgs.shape[1] * 8 < cell.L * cell.d * int(width) or not 1 <= int(width) <= 64:
        raise ValueError("replay_chain needs one message of L·d values of 1..64 bits per segment but the last")
    if flat.size and flat.min() < 0:
        raise ValueError("replay_chain reads a token at every step")
    if stops.size and (np.any(np.diff(stops) < 0) or stops[0] < 0 or stops[-1] > flat.size):
        raise ValueError("stops must be increasing and within the tokens")
    if backend == "python":
        return replay_chain_python(cell, h0, msgs, width, sent, flat, stops, out_pos)
    if not cell.float_ok:
        raise ValueError("replay_chain's compiled kernel needs products exact in float64 (cell.float_ok)")
    wt_rec, wt_in = cell.weights_t()
    from ._rnn_numba import replay_chain_dense

    L, d = cell.L, cell.d
    check = sent is not None
    sent_arr = np.ascontiguousarray(sent, dtype=np.int64) if check else np.zeros((1, L, d), dtype=np.int64)
    if check and sent_arr.shape != (K, L, d):
        raise ValueError("sent must hold one (L, d) state per message")
    out_states = np.zeros((out_pos.size, L, d), dtype=np.int64)
    result = np.zeros(3, dtype=np.int64)
    replay_chain_dense(wt_rec, wt_in, cell.u0, cell.bsh, np.int64(cell.act), cell.table,
                       np.int64(cell.lo), np.int64(cell.one), np.int64(cell.frac), np.int64(cell.raw_min),
                       np.int64(cell.raw_max), cell.tmask, np.ascontiguousarray(h0, dtype=np.int64), msgs,
                       np.int64(width), sent_arr, check, flat, stops, out_pos, out_states, result)
    return int(result[0]), int(result[1]), int(result[2]), out_states


def check_steps_python(cell: RNNCell, h0: np.ndarray, msgs: np.ndarray, width: int, sent: np.ndarray | None,
                       flat: np.ndarray, stops: np.ndarray, traj: np.ndarray) -> tuple[int, int, int]:
    """Plain twin of :func:`check_steps`: each message decoded by :func:`commlb.bits.decode`
    from its unpacked bits, all steps at once by :func:`run_rows_python` (one step of
    every row), the first failure found in the order of the run."""
    from ..bits import FieldSpec, Payload, decode

    L, d = cell.L, cell.d
    T = int(np.asarray(flat).size)
    traj = np.asarray(traj, dtype=np.int64)
    stops = np.asarray(stops, dtype=np.int64)
    spec = FieldSpec("state", "fixed", (L, d), int(width), 0)
    prev = np.empty((T, L, d), dtype=np.int64)
    if T:
        prev[0] = h0
        prev[1:] = traj[:-1]
    events: list[tuple[int, int, int, int]] = []  # (position, 0 message / 1 step, code, k or t)
    for k in range(stops.size - 1):
        t = int(stops[k])
        bits = np.unpackbits(np.asarray(msgs[k], dtype=np.uint8))[: L * d * int(width)]
        got = decode([spec], Payload(bits.astype(np.uint8)))["state"]
        if sent is not None and not np.array_equal(got, sent[k]):
            events.append((t, 0, 1, k))
        elif not np.array_equal(got, traj[t - 1]):
            events.append((t, 0, 2, k))
        prev[t] = got
    new, sat = run_rows_python(cell, prev, np.asarray(flat, dtype=np.int64)[:, None])
    wrong = np.flatnonzero(np.any(new != traj, axis=(1, 2)))
    if wrong.size:
        events.append((int(wrong[0]), 1, 3, int(wrong[0])))
    if events:
        _, _, code, where = min(events)
        return code, where, 0
    return 0, 0, int(sat.sum())


def check_steps(cell: RNNCell, h0: np.ndarray, msgs: np.ndarray, width: int, sent: np.ndarray | None,
                flat: np.ndarray, stops: np.ndarray, traj: np.ndarray,
                backend: str = "auto") -> tuple[int, int, int]:
    """Check a protocol run's every step against the states its engine kept, its
    certificate (the RNN protocol's ``verify="replay"`` when the engine kept them,
    docs/theory.md §3.9).

    ``traj`` (T, L, d): the state after each position t, which reads ``flat[t]`` (each
    >= 0); segment k covers positions ``stops[k-1] .. stops[k] - 1`` (``stops[-1]`` = 0,
    ``stops[-1] == T``).  Every step is recomputed from the state before it: ``h0`` at
    position 0, what message k − 1 decodes to at the start of segment k (``msgs``: the
    K = len(stops) − 1 messages' bit strings packed as for :func:`replay_chain`), the
    kept state ``traj[t-1]`` elsewhere; message k must decode to ``sent[k]`` (unless
    None) and to the state segment k ends in, ``traj[stops[k] - 1]``.  Returns (code, k,
    saturations): (0, 0, saturations of all steps) when all holds, else the first failure
    in the order of the run with saturations 0: (1, k) message k differs from
    ``sent[k]``, (2, k) from the end of segment k, (3, t) the step at position t does not
    give ``traj[t]``.  ``backend`` ``"numba"``/``"auto"``: ``check_steps_dense``, the
    products by BLAS over 128 positions at a time (only when :attr:`RNNCell.float_ok`,
    else a ``ValueError``); ``"python"``: :func:`check_steps_python`."""
    from .backend import resolve_backend

    backend = resolve_backend(backend)
    flat = np.ascontiguousarray(flat, dtype=np.int64)
    stops = np.ascontiguousarray(stops, dtype=np.int64)
    msgs = np.ascontiguousarray(msgs, dtype=np.uint8)
    traj = np.ascontiguousarray(traj, dtype=np.int64)
    L, d = cell.L, cell.d
    K = stops.size - 1
    T = flat.size
    if traj.shape != (T, L, d):
        raise ValueError("check_steps needs the state after every position, (T, L, d)")
    if msgs.shape[0] != K or msgs.shape[1] * 8 < L * d * int(width) or not 1 <= int(width) <= 64:
        raise ValueError("check_steps needs one message of L·d values of 1..64 bits per segment but the last")
    if T and flat.min() < 0:
        raise ValueError("check_steps reads a token at every step")
    if not stops.size or np.any(np.diff(stops) <= 0) or stops[0] <= 0 or stops[-1] != T:
        raise ValueError("stops must be strictly increasing, from 1, and end at the last position")
    if backend == "python":
        return check_steps_python(cell, h0, msgs, width, sent, flat, stops, traj)
    if not cell.float_ok:
        raise ValueError("check_steps's compiled kernel needs products exact in float64 (cell.float_ok)")
    if cell._wf is None:
        cell._wf = (cell.w_rec.astype(np.float64), cell.w_in.astype(np.float64))
    from ._rnn_numba import check_steps_dense

    check = sent is not None
    sent_arr = np.ascontiguousarray(sent, dtype=np.int64) if check else np.zeros((1, L, d), dtype=np.int64)
    if check and sent_arr.shape != (K, L, d):
        raise ValueError("sent must hold one (L, d) state per message")
    result = np.zeros(3, dtype=np.int64)
    check_steps_dense(cell._wf[0], cell._wf[1], cell.u0, cell.bsh, np.int64(cell.act), cell.table,
                      np.int64(cell.lo), np.int64(cell.one), np.int64(cell.frac), np.int64(cell.raw_min),
                      np.int64(cell.raw_max), cell.tmask, np.ascontiguousarray(h0, dtype=np.int64), msgs,
                      np.int64(width), sent_arr, check, flat, stops, traj, result)
    return int(result[0]), int(result[1]), int(result[2])
