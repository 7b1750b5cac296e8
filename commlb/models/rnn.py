"""Finite-precision Elman RNN (docs/theory.md §3.1–3.2: the hidden state is the message).

A :class:`RNNModel` has L stacked Elman layers of hidden size d, a token embedding, an
activation (``"tanh"``, ``"relu"`` or ``"threshold"``) and a linear read-out from the top
layer's state at the output position(s).  The state after reading a prefix of the input
is an (L, d) array: everything the rest of the computation needs from that prefix, which
is why it is exactly what crosses a cut (:mod:`commlb.protocol.rnn`).

Parameters (named numpy arrays; raw int64 fixed-point integers, value = raw · 2^-f, or
float64 values exact in the float format)
--------------------------------------------------------------------------------------
======== =============== ==========================================================
name     shape           meaning
======== =============== ==========================================================
``embed``  (V, d)        token embedding, the input of layer 0
``w_rec``  (L, d, d)     recurrent weights, ``w_rec[l, k, j]``: unit k -> unit j
``w_in``   (L, d, d)     input weights from layer l-1 to layer l; **``w_in[0]`` is
                         unused** (kept, zero, so every layer has the same shape)
``b``      (L, d)        biases
``h0``     (L, d)        the initial state (a public constant)
``wout``   (d, out_dim)  read-out from the top layer state
``bout``   (out_dim,)    read-out bias
======== =============== ==========================================================

Config keys: ``vocab_size``, ``hidden`` (d), ``layers`` (L), ``activation``,
``output_kind`` (``binary`` | ``class`` | ``vector``, see :mod:`commlb.models.base`),
``output_positions`` (default ``[-1]``; negative positions count from the end).

Exact fixed-point arithmetic (p bits, f fractional; int64 throughout)
---------------------------------------------------------------------
Let ``h[l]`` be the raw state of layer l before the step and ``x`` the token id.
For l = 0, 1, ..., L-1 in order (``h_new[l-1]`` is layer l-1's state *after* this step)::

    acc[j] = sum_k h[l][k] * w_rec[l][k][j]                       # 2f fractional bits
           + (l == 0 ? embed[x][j] << f                          # shifted up by f
                     : sum_k h_new[l-1][k] * w_in[l][k][j])
           + (b[l][j] << f)
    pre[j] = f > 0 ? (acc[j] + (1 << (f-1))) >> f : acc[j]     # arithmetic shift = floor:
                                                                 # round to nearest, ties to +inf
    if pre[j] < raw_min or pre[j] > raw_max:                    # raw_min = -2^(p-1),
        pre[j] = clip(pre[j], raw_min, raw_max); saturations += 1   # raw_max = 2^(p-1) - 1
    h_new[l][j] = act(pre[j])

All sums are exact: |product| <= 2^(2p-2) <= 2^46 and there are at most 2d + 2 terms.
The activations:

* ``relu``: ``max(pre, 0)`` (exact, never saturates);
* ``threshold``: ``one if pre > 0 else 0`` with ``one = min(1 << f, raw_max)``; when
  ``1 << f > raw_max`` (only if f = p - 1) each 1 output counts one saturation;
* ``tanh``: a lookup table.  :meth:`RNNModel.act_table` returns ``(table, lo)`` (int64
  array) and ``h = table[clip(pre, lo, lo + len(table) - 1) - lo]``.  The table holds
  ``floor(tanh(raw · 2^-f) · 2^f + 1/2)`` clipped to the range, computed once with numpy
  over raw in [lo, hi] where lo = max(raw_min, -R), hi = min(raw_max, R) and R =
  ceil(atanh(1 - 2^-(f+2)) · 2^f) + 2; beyond ±R the rounded tanh is constant (±2^f,
  clipped), so clamping the index is exact.  Entries equal to 2^f that were clipped
  (f = p - 1) count a saturation each time they are read (:meth:`act_table` returns
  the mask too).

The read-out at an output position t (the state after reading token t)::

    out_acc[o] = sum_k h_top[k] * wout[k][o] + (bout[o] << f)
    values[o]  = round and saturate out_acc[o] as for pre above

and the decision is ``values[0] > 0`` (binary), the argmax (class) or the values (vector).

Float mode (Merrill–Sabharwal p-bit floats, :class:`~commlb.bits.Precision` ``float``):
``pre`` is the float64 sum ``h @ w_rec + input + b`` rounded once to the format, then the
activation (tanh rounded once; relu and threshold exact).

One code path
-------------
:meth:`RNNModel.step` (one token, one state -> (state, saturations)),
:meth:`RNNModel.run` (a run of tokens -> (state, saturations)) and
:meth:`RNNModel.readout` are what :meth:`RNNModel.forward` and the protocol simulator
call; :meth:`RNNModel.step_batch` is the same arithmetic over a batch of states (the
plain-numpy reference for batched kernels) and is tested equal to :meth:`step`.
:meth:`RNNModel.run_batch` runs many steps over a batch, either by :meth:`step_batch`
(``backend="python"``) or by the batched cell kernel over the nonzero weights
(``"numba"``, :mod:`commlb.kernels.rnn`), and :meth:`RNNModel.forward_batch` reads out after it;
tests hold numba == numpy == :meth:`step` == the slow reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bits import Precision
from ..core import sorted_unique
from ..errors import InvalidInputError
from ..kernels.rnn import matmul_exact as _matmul_exact
from .base import Model, ModelOutput

__all__ = ["RNNModel", "ACTIVATIONS"]

ACTIVATIONS = ("tanh", "relu", "threshold")

#: below this many tokens, :meth:`RNNModel.run` (fixed point, backend "auto") always takes
#: the plain twin, which answers before a call of the compiled cell pays
RUN_NUMBA_FROM = 8


class RNNModel(Model):
    """L stacked Elman layers with exact fixed-point (or p-bit float) arithmetic."""

    family = "rnn"

    def __init__(self, params: dict[str, np.ndarray], precision: Precision, config: dict[str, Any]) -> None:
        super().__init__(params, precision, config)
        cfg = self.config
        for key in ("vocab_size", "hidden", "layers"):
            if key not in cfg:
                raise InvalidInputError(f"rnn config is missing {key!r}")
        cfg.setdefault("activation", "tanh")
        cfg.setdefault("output_kind", "binary")
        cfg.setdefault("output_positions", [-1])
        if cfg["activation"] not in ACTIVATIONS:
            raise InvalidInputError(
                f"rnn activation must be one of {', '.join(ACTIVATIONS)}, not {cfg['activation']!r}")
        if cfg["output_kind"] not in ("binary", "class", "vector"):
            raise InvalidInputError(f"output_kind must be binary, class or vector, not {cfg['output_kind']!r}")
        cfg["output_positions"] = [int(p) for p in cfg["output_positions"]]
        self._check_shapes()
        self._table: tuple[np.ndarray, int, np.ndarray] | None = None
        self._cell: Any = None

    # ------------------------------------------------------------------ config
    @property
    def layers(self) -> int:
        return int(self.config["layers"])

    @property
    def hidden(self) -> int:
        return int(self.config["hidden"])

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def activation(self) -> str:
        return str(self.config["activation"])

    @property
    def out_dim(self) -> int:
        return int(self.params["wout"].shape[1])

    @property
    def state_shape(self) -> tuple[int, int]:
        return (self.layers, self.hidden)

    def state_bits(self) -> int:
        """Bits of one whole state: L · d · p."""
        return self.layers * self.hidden * self.precision.bits

    def _check_shapes(self) -> None:
        L, d, V = self.layers, self.hidden, self.vocab_size
        if L < 1 or d < 1 or V < 1:
            raise InvalidInputError(f"rnn needs layers, hidden and vocab_size >= 1 (got {L}, {d}, {V})")
        expect = {"embed": (V, d), "w_rec": (L, d, d), "w_in": (L, d, d), "b": (L, d), "h0": (L, d)}
        for name, shape in expect.items():
            if name not in self.params:
                raise InvalidInputError(f"rnn parameter {name!r} is missing")
            if tuple(self.params[name].shape) != shape:
                raise InvalidInputError(f"rnn parameter {name!r} has shape {self.params[name].shape}, expected {shape}")
        if "wout" not in self.params or "bout" not in self.params:
            raise InvalidInputError("rnn read-out parameters 'wout'/'bout' are missing")
        wout, bout = self.params["wout"], self.params["bout"]
        if wout.ndim != 2 or wout.shape[0] != d or bout.shape != (wout.shape[1],):
            raise InvalidInputError(f"rnn read-out has the wrong shape: wout {wout.shape}, bout {bout.shape}")
        dtype_ok = np.int64 if self.precision.is_fixed else np.float64
        for name, arr in self.params.items():
            if arr.dtype != dtype_ok:
                self.params[name] = arr.astype(dtype_ok)
        if self.precision.is_fixed:
            prec = self.precision
            for name, arr in self.params.items():
                if arr.size and (arr.min() < prec.raw_min or arr.max() > prec.raw_max):
                    raise InvalidInputError(f"rnn parameter {name!r} has raw values outside the {prec.bits}-bit range")

    def check_tokens(self, tokens: np.ndarray) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError("rnn input must be a 1-D integer token array")
        arr = arr.astype(np.int64)
        if arr.size == 0:
            raise InvalidInputError("rnn input is empty")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise InvalidInputError(f"token ids must lie in [0, {self.vocab_size})")
        return arr

    def output_positions(self, length: int) -> np.ndarray:
        pos = np.asarray(self.config["output_positions"], dtype=np.int64)
        pos = np.where(pos < 0, pos + length, pos)
        if pos.size == 0 or pos.min() < 0 or pos.max() >= length:
            raise InvalidInputError(f"output positions {self.config['output_positions']} do not fit length {length}")
        return sorted_unique(pos)

    # ------------------------------------------------------------------ activation
    def act_table(self) -> tuple[np.ndarray, int, np.ndarray]:
        """The tanh lookup table of the module docstring: ``(table, lo, sat_mask)``;
        ``h = table[clip(pre, lo, lo + len(table) - 1) - lo]``."""
        if self._table is None:
            prec = self.precision
            f = prec.frac
            r = math.ceil(math.atanh(1.0 - 2.0 ** -(f + 2)) * 2.0**f) + 2
            lo, hi = max(prec.raw_min, -r), min(prec.raw_max, r)
            raw = np.arange(lo, hi + 1, dtype=np.int64)
            scaled = np.floor(np.tanh(raw.astype(np.float64) / prec.scale) * prec.scale + 0.5)
            sat = (scaled < prec.raw_min) | (scaled > prec.raw_max)
            table = np.clip(scaled, prec.raw_min, prec.raw_max).astype(np.int64)
            self._table = (table, lo, sat)
        return self._table

    def _act(self, pre: np.ndarray) -> tuple[np.ndarray, int]:
        prec = self.precision
        act = self.activation
        if act == "relu":
            return np.maximum(pre, 0), 0
        if not prec.is_fixed:
            if act == "threshold":
                return np.where(pre > 0, 1.0, 0.0), 0
            q = prec.quantize(np.tanh(pre))
            return q.values, q.saturated
        if act == "threshold":
            one = 1 << prec.frac
            on = pre > 0
            if one > prec.raw_max:
                return np.where(on, prec.raw_max, 0).astype(np.int64), int(np.count_nonzero(on))
            return np.where(on, one, 0).astype(np.int64), 0
        table, lo, sat = self.act_table()
        idx = np.clip(pre, lo, lo + table.size - 1) - lo
        return table[idx], int(np.count_nonzero(sat[idx]))

    def cell(self) -> Any:
        """The fixed-point cell in kernel layout (:class:`commlb.kernels.rnn.RNNCell`), built
        once: the parameters are read-only once the model has run."""
        if self._cell is None:
            from ..kernels.rnn import RNNCell

            self._cell = RNNCell.from_model(self)
        return self._cell

    def _round(self, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Round exact accumulators (2f fractional bits) to p bits; returns the raw values
        and a boolean mask of the entries that saturated."""
        prec = self.precision
        f = prec.frac
        pre = (acc + np.int64(1 << (f - 1))) >> np.int64(f) if f > 0 else acc
        over = (pre < prec.raw_min) | (pre > prec.raw_max)
        return np.clip(pre, prec.raw_min, prec.raw_max), over

    # ------------------------------------------------------------------ building blocks
    def initial_state(self) -> np.ndarray:
        """The public initial state h0, shape (L, d) (a fresh copy)."""
        return self.params["h0"].copy()

    def step(self, state: np.ndarray, token: int) -> tuple[np.ndarray, int]:
        """One token: new (L, d) state and the number of saturated roundings."""
        new, sat = self.step_batch(np.asarray(state)[None], np.array([int(token)], dtype=np.int64))
        return new[0], int(sat[0])

    def run(self, state: np.ndarray, tokens: Sequence[int] | np.ndarray,
            backend: str = "auto") -> tuple[np.ndarray, int]:
        """Read ``tokens`` left to right from ``state``: (final state, saturations).

        Fixed point runs the batched cell (:mod:`commlb.kernels.rnn`) on one row:
        ``backend`` ``"numba"``, ``"python"`` or ``"auto"`` (the plain twin below
        :data:`RUN_NUMBA_FROM` tokens, else :meth:`RNNCell.run <commlb.kernels.rnn.RNNCell.run>`'s
        rule: the compiled cell once a call or the process's calls are long enough).  Floats
        run here."""
        prec = self.precision
        toks = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if prec.is_fixed:
            from ..kernels.backend import resolve_backend

            if backend == "auto" and toks.size < RUN_NUMBA_FROM:
                backend = "python"
            elif backend != "auto":  # "auto" from RUN_NUMBA_FROM tokens: the cell's rule decides
                backend = resolve_backend(backend)
            h = np.asarray(state, dtype=np.int64)
            if toks.size == 0:
                return h.copy(), 0
            out, sat = self.cell().run(h[None], toks[None], backend)
            return out[0], int(sat[0])
        p = self.params
        h = np.array(state, dtype=np.float64, copy=True)
        if toks.size == 0:
            return h, 0
        inp0 = p["embed"][toks] + p["b"][0]  # everything that depends on the token alone
        sat = 0
        for t in range(toks.size):
            below = None
            for layer in range(self.layers):
                acc = h[layer] @ p["w_rec"][layer]
                if layer == 0:
                    acc = acc + inp0[t]
                else:
                    acc = acc + below @ p["w_in"][layer] + p["b"][layer]
                q = prec.quantize(acc)
                sat += q.saturated
                out, s = self._act(q.values)
                sat += s
                h[layer] = out
                below = out
        return h, sat

    def step_batch(self, states: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`step`: ``states`` (B, L, d), ``tokens`` (B,) ->
        (new states (B, L, d), saturations per row (B,) int64).  Fixed point: the cell's
        plain twin (:func:`commlb.kernels.rnn.run_rows_python`)."""
        prec = self.precision
        p = self.params
        toks = np.asarray(tokens, dtype=np.int64)
        if prec.is_fixed:
            return self.cell().run(np.asarray(states, dtype=np.int64), toks[:, None], "python")
        states = np.asarray(states, dtype=np.float64)
        B = states.shape[0]
        out = np.empty_like(states)
        sat = np.zeros(B, dtype=np.int64)
        below = None
        for layer in range(self.layers):
            acc = states[:, layer] @ p["w_rec"][layer]
            if layer == 0:
                acc = acc + p["embed"][toks] + p["b"][0]
            else:
                acc = acc + below @ p["w_in"][layer] + p["b"][layer]
            # per-row saturation counts for the float format
            q = prec.quantize(acc)
            pre = q.values
            if q.saturated:
                sat += np.array([prec.quantize(row).saturated for row in acc], dtype=np.int64)
            act, _ = self._act(pre)
            if self.activation == "tanh":
                for i, row in enumerate(pre):
                    sat[i] += prec.quantize(np.tanh(row)).saturated
            out[:, layer] = act
            below = act
        return out, sat

    def readout(self, state: np.ndarray) -> tuple[np.ndarray, int]:
        """Read-out values (out_dim,) of a state (L, d) (its top layer), and saturations.
        A batch of states (..., L, d) gives values (..., out_dim)."""
        prec = self.precision
        state = np.asarray(state)
        top = state[..., -1, :].reshape(-1, self.hidden)  # also accepts a batch (..., L, d)
        shape = state.shape[:-2] + (self.out_dim,)
        if prec.is_fixed:
            acc = _matmul_exact(top, self.params["wout"]) + (self.params["bout"] << np.int64(prec.frac))
            vals, over = self._round(acc)
            return vals.reshape(shape), int(np.count_nonzero(over))
        q = prec.quantize(top @ self.params["wout"] + self.params["bout"])
        return q.values.reshape(shape), q.saturated

    # ------------------------------------------------------------------ forward
    def forward(self, tokens: np.ndarray) -> ModelOutput:
        """The plain forward pass: run the whole sequence, read out at the output
        positions (tokens after the last output position are never read)."""
        tokens = self.check_tokens(tokens)
        outputs = self.output_positions(tokens.size)
        state = self.initial_state()
        sat = 0
        done = 0
        rows = []
        for pos in outputs:
            state, s = self.run(state, tokens[done : pos + 1])
            sat += s
            done = int(pos) + 1
            vals, s = self.readout(state)
            sat += s
            rows.append(vals)
        values = np.stack(rows)
        return ModelOutput(values, self.decide(values), sat)

    def run_batch(self, states: np.ndarray, tokens: np.ndarray, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Read the rows of ``tokens`` (B, T) from ``states`` (B, L, d): final states and
        saturations per row.  ``backend``: ``"python"`` (:meth:`step_batch` per step, the
        reference), ``"numba"`` (the batched cell kernel :mod:`commlb.kernels.rnn`; fixed
        point only) or ``"auto"`` (numba for fixed point, python for floats)."""
        from ..kernels.backend import resolve_backend

        toks = np.ascontiguousarray(tokens, dtype=np.int64)
        states = np.array(states, dtype=np.int64 if self.precision.is_fixed else np.float64, copy=True)
        backend = resolve_backend(backend, auto="numba" if self.precision.is_fixed else "python")
        if backend == "python":
            sat = np.zeros(toks.shape[0], dtype=np.int64)
            for t in range(toks.shape[1]):
                states, s = self.step_batch(states, toks[:, t])
                sat += s
            return states, sat
        if not self.precision.is_fixed:
            raise InvalidInputError("the numba RNN kernel is for fixed point")
        from ..kernels.rnn import RNNCell

        return RNNCell.from_model(self).run(states, toks, "numba")

    def forward_batch(self, tokens: np.ndarray, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Many sequences of one length at once (rows of ``tokens``, shape (B, T)), by
        :meth:`run_batch`: read-out values (B, num_outputs, out_dim) and decisions
        (B, num_outputs) (argmax / > 0; for ``vector`` outputs the decisions are the
        values).  Same bits as :meth:`forward` row by row in fixed point."""
        toks = np.asarray(tokens)
        if toks.ndim != 2 or not np.issubdtype(toks.dtype, np.integer):
            raise InvalidInputError("forward_batch needs a 2-D integer token array (batch, length)")
        toks = toks.astype(np.int64)
        if toks.size and (toks.min() < 0 or toks.max() >= self.vocab_size):
            raise InvalidInputError(f"token ids must lie in [0, {self.vocab_size})")
        B, T = toks.shape
        outputs = self.output_positions(T)
        states = np.broadcast_to(self.initial_state(), (B,) + self.state_shape).copy()
        rows = []
        done = 0
        for pos in outputs:
            states, _ = self.run_batch(states, toks[:, done : pos + 1], backend)
            done = int(pos) + 1
            rows.append(self.readout(states)[0])
        values = np.stack(rows, axis=1)
        kind = self.config["output_kind"]
        if kind == "binary":
            dec = (values[..., 0] > 0).astype(np.int64)
        elif kind == "class":
            dec = np.argmax(values, axis=2).astype(np.int64)
        else:
            dec = self.precision.to_real(values)
        return values, dec

    # ------------------------------------------------------------------ init
    @classmethod
    def random(
        cls,
        vocab_size: int,
        rng: np.random.Generator,
        hidden: int = 16,
        layers: int = 1,
        activation: str = "tanh",
        precision: Precision = Precision.fixed(16),
        output_kind: str = "binary",
        num_classes: int = 2,
        output_positions: Sequence[int] = (-1,),
    ) -> RNNModel:
        """Seeded random weights (Gaussian, 1/sqrt(fan-in) scale, rounded to the precision).
        ``w_in[0]`` is zero (unused)."""
        for name, val in (("vocab_size", vocab_size), ("hidden", hidden), ("layers", layers)):
            if int(val) < 1:
                raise InvalidInputError(f"rnn {name} must be >= 1, got {val}")
        if activation not in ACTIVATIONS:
            raise InvalidInputError(f"rnn activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        L, d, V = int(layers), int(hidden), int(vocab_size)
        out_dim = 1 if output_kind == "binary" else (int(num_classes) if output_kind == "class" else d)

        def g(*shape: int, scale: float = 1.0) -> np.ndarray:
            return rng.standard_normal(shape) * scale

        w_in = g(L, d, d, scale=1 / np.sqrt(d))
        w_in[0] = 0.0
        real = {
            "embed": g(V, d),
            "w_rec": g(L, d, d, scale=0.9 / np.sqrt(d)),
            "w_in": w_in,
            "b": g(L, d, scale=0.1),
            "h0": g(L, d, scale=0.1),
            "wout": g(d, out_dim, scale=1 / np.sqrt(d)),
            "bout": g(out_dim, scale=0.1),
        }
        if activation == "threshold":
            real["h0"] = (real["h0"] > 0).astype(np.float64)
        params = {k: precision.quantize(v).values for k, v in real.items()}
        config = {
            "vocab_size": V, "hidden": d, "layers": L, "activation": activation,
            "output_kind": output_kind, "output_positions": [int(q) for q in output_positions],
        }
        return cls(params, precision, config)
