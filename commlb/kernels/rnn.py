"""The Elman RNN cell over a batch of sequences: one numba kernel and its plain twin.

Arithmetic: exactly :mod:`commlb.models.rnn`'s fixed-point step (int64 throughout),
per layer ``l``::

    acc = h[l] @ w_rec[l] + (l == 0 ? u0[x] : h_new[l-1] @ w_in[l] + bsh[l])
    pre = clip(f > 0 ? (acc + 2^(f-1)) >> f : acc, raw_min, raw_max)   # counts saturations
    h_new[l] = relu(pre) | (pre > 0 ? one : 0) | table[clip(pre, lo, hi) - lo]

with ``u0[v] = (embed[v] + b[0]) << f`` and ``bsh[l] = b[l] << f`` (:class:`RNNCell`).  A
token ``-1`` reads nothing: the state passes through unchanged (the witness search uses
it for positions an input does not fill).

* :func:`run_rows` — numba, parallel over the rows; weights in CSR form by *input* unit, so
  a step costs O(nonzeros) (the explicit constructions are very sparse).
* :func:`run_rows_python` — the plain twin: numpy int64 products, one step at a time.

:meth:`RNNCell.run` picks one of them with the shared backend switch
(:mod:`commlb.kernels.backend`).  :meth:`commlb.models.rnn.RNNModel.run_batch` and the
witness search's batched rows (:func:`commlb.kernels.alice.rnn_rows`) both run through it;
the witness search's tree walk over a prefix tree (:func:`commlb.kernels.alice.rnn_keys`)
is a different algorithm (each node's product shared by its children) with its own twin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ACT_RELU", "ACT_TANH", "ACT_THRESHOLD", "RNNCell", "csr", "run_rows_python"]

ACT_RELU = 0
ACT_THRESHOLD = 1
ACT_TANH = 2
_ACT_CODES = {"relu": ACT_RELU, "threshold": ACT_THRESHOLD, "tanh": ACT_TANH}


def csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per layer, the nonzeros of w[l] (d, d) grouped by row: (ptr (L, d+1), col, val)."""
    L, d, _ = w.shape
    nnz = max(1, max(int(np.count_nonzero(w[l])) for l in range(L)))
    ptr = np.zeros((L, d + 1), dtype=np.int64)
    col = np.zeros((L, nnz), dtype=np.int64)
    val = np.zeros((L, nnz), dtype=np.int64)
    for l in range(L):
        rows, cols = np.nonzero(w[l])
        ptr[l, 1:] = np.cumsum(np.bincount(rows, minlength=d))
        col[l, : rows.size] = cols
        val[l, : rows.size] = w[l][rows, cols]
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

    @classmethod
    def from_model(cls, model: Any) -> RNNCell:
        p, prec = model.params, model.precision
        table, lo, tmask = model.act_table() if model.activation == "tanh" else (None, 0, None)
        return cls(p["w_rec"], p["w_in"], p["embed"], p["b"], prec.bits, prec.frac, model.activation,
                   table, lo, tmask)

    def run(self, states: np.ndarray, tokens: np.ndarray, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Read the rows of ``tokens`` (B, T; -1 reads nothing) from ``states`` (B, L, d):
        (final states (B, L, d) int64, saturations per row (B,)).  ``backend``: ``"numba"``,
        ``"python"`` or ``"auto"`` (numba)."""
        from .backend import resolve_backend

        backend = resolve_backend(backend)
        toks = np.ascontiguousarray(tokens, dtype=np.int64)
        states = np.array(states, dtype=np.int64, copy=True)
        if backend == "python":
            return run_rows_python(self, states, toks)
        if self._csr is None:
            self._csr = csr(self.w_rec) + csr(self.w_in)
        sat = np.zeros(toks.shape[0], dtype=np.int64)
        if toks.shape[0]:
            from ._rnn_numba import run_rows

            run_rows(*self._csr, self.u0, self.bsh, np.int64(self.act), self.table, np.int64(self.lo),
                     np.int64(self.one), np.int64(self.frac), np.int64(self.raw_min), np.int64(self.raw_max),
                     self.tmask, states, toks, sat)
        return states, sat


def run_rows_python(cell: RNNCell, states: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain twin of the numba kernel: the module docstring's step, numpy int64, batched
    over the rows, one token at a time."""
    h = np.array(states, dtype=np.int64, copy=True)
    toks = np.asarray(tokens, dtype=np.int64)
    B = toks.shape[0]
    f = cell.frac
    sat = np.zeros(B, dtype=np.int64)
    for t in range(toks.shape[1]):
        tok = toks[:, t]
        step = tok >= 0
        new = h.copy()
        below = None
        for l in range(cell.L):
            acc = h[:, l] @ cell.w_rec[l]
            if l == 0:
                acc = acc + cell.u0[np.where(step, tok, 0)]
            else:
                acc = acc + below @ cell.w_in[l] + cell.bsh[l]
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
            new[:, l] = np.where(step[:, None], out, h[:, l])
            sat += np.where(step, s, 0)
            below = new[:, l]
        h = new
    return h, sat
