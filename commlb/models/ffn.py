"""Feedforward network on the flattened input (the model class of SHT23 Theorem 10, and of
MH25 Theorem 9's sample-complexity result; docs/theory.md §3.2, §8.10).

The input is the concatenation, over the T positions of a fixed-length sequence, of a
per-position token vector e(tok_i): either the one-hot vector of the token (``input =
"onehot"``) or a learned embedding row (``input = "embed"``).  The first layer is a fully
connected projection of that flattened vector, so its pre-activation is a sum over
positions

    z_j = Σ_i  W1[i] · e(tok_i)  +  b1_j

and any partition of the positions (Alice's, Bob's, PUBLIC) splits it into partial sums
that add exactly.  Further hidden layers and a linear read-out follow.

Parameters (named numpy arrays; raw int64 in fixed point, value = raw / 2^f; float64
values exactly representable in the float format otherwise)
-----------------------------------------------------------------------------------------
* one-hot input: ``w1`` (T, V, h_1) — W1[i] restricted to position i's one-hot block;
* embedding input: ``embed`` (V, E) and ``w1`` (T, E, h_1);
* ``b1`` (h_1,); hidden layers l = 2..L: ``w{l}`` (h_{l-1}, h_l), ``b{l}`` (h_l,);
* read-out ``wout`` (h_L, out_dim), ``bout`` (out_dim,).

Config: ``length`` T, ``vocab_size`` V, ``input`` ("onehot" | "embed"), ``embed_dim`` E
(embed only), ``hidden_sizes`` [h_1, …, h_L], ``activation`` ("relu" | "tanh"),
``output_kind`` ("binary" | "class" | "vector").

Exact arithmetic (fixed point, p bits, f fractional; see :mod:`commlb.bits`)
----------------------------------------------------------------------------
1. **Contribution table.**  For position i and token v, the exact int64 vector with
   **2f fractional bits**

       C[i, v, j] = w1[i, v, j] << f                      (one-hot: the weight times 1.0)
       C[i, v, j] = Σ_k embed[v, k] · w1[i, k, j]          (embedding; exact int64 products)

   :meth:`FFNModel.contribution_table` returns C[positions] as an int64 array of shape
   (P, V, h_1), C order.
2. **Partial pre-activation** of a set of positions S with tokens tok:
   ``A_S[j] = Σ_{i ∈ S} C[i, tok_i, j]`` — an exact int64 sum (order irrelevant; the
   constructor proves no overflow is possible).  This is :meth:`partial_preactivation`
   (one row) and :meth:`partial_preactivation_batch` (many rows of tokens for the same
   positions); both :meth:`forward` and the protocol call them.
   *Kernel contract*: given ``table = model.contribution_table(positions)`` (P, V, h_1)
   int64 and ``tokens`` (B, P) int64, the output (B, h_1) int64 is
   ``out[b, j] = Σ_k table[k, tokens[b, k], j]``; nothing else is involved.
3. **First layer**: ``acc = A_all + (b1 << f)`` (still 2f fractional bits), rounded once:
   ``z1 = sat(round_shift(acc, f))`` — add 2^(f−1), arithmetic shift right by f (round to
   nearest, ties toward +∞), then clip to [−2^(p−1), 2^(p−1) − 1] (:meth:`Precision.from_acc`).
4. **Activation**: ReLU ``max(z, 0)`` (exact) or tanh via :meth:`Precision.apply`
   (lookup table over all raw values for p ≤ 16: round(tanh(raw/2^f)·2^f)).
5. **Layers l ≥ 2**: ``acc = h_{l-1} @ w{l} + (b{l} << f)`` exact int64, rounded once as
   in step 3, then the activation.
6. **Read-out**: ``acc = h_L @ wout + (bout << f)``, rounded once (no activation).  The
   output values have shape (1, out_dim); decision: binary 1 iff value > 0, class = argmax.

Exact arithmetic (float mode, Merrill–Sabharwal p-bit floats; docs/theory.md §3.7, §3.8)
------------------------------------------------------------------------------------------
The same steps, with every sum computed **exactly** and rounded once to the format (MS23's
exact accumulation; the transformer's rule).  Every p-bit float, and every product of two,
is a dyadic rational, so the contribution table is kept as exact integers over one grid
2^s of the whole model (:attr:`FFNModel.acc_shift`; s = −2f in fixed point):
``C[i, v, j] = table[i, v, j] · 2^s`` with ``table`` integers (int64 while every partial
sum fits, Python integers otherwise).  Step 2's A_S is then an exact integer sum in both
modes, which is why partial sums over disjoint position sets add exactly; step 3 adds b1
exactly and rounds the sum once (:meth:`Precision.round_scaled`), and steps 5–6 are exact
dot products (:func:`commlb.bits.exact_scaled_matmul`) rounded once.  The result does not
depend on the order of any sum, so :mod:`commlb.protocol.ffn`, which splits step 2
between the parties, reproduces the forward pass bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bits import Precision, ScaledInts, exact_matmul, exact_scaled_matmul, rescale_ints, scaled_ints, signed_width
from ..errors import InvalidInputError
from .base import Model, ModelOutput

__all__ = ["FFNModel"]

#: rows of token sequences handled at once by the batched numpy reference
_BATCH_CHUNK = 4096


def _max_abs(ints: np.ndarray) -> int:
    """Largest magnitude of an integer array (int64 or Python integers); 0 when empty."""
    if ints.size == 0:
        return 0
    return max(abs(int(ints.max())), abs(int(ints.min())))


def _narrow(ints: np.ndarray) -> np.ndarray:
    """Python integers as int64 when they fit (the same values; faster to round)."""
    if ints.dtype == object and _max_abs(ints) < (1 << 62):
        return ints.astype(np.int64)
    return ints


class FFNModel(Model):
    """Feedforward network over the flattened sequence (see the module docstring)."""

    family = "ffn"

    def __init__(self, params: dict[str, np.ndarray], precision: Precision, config: dict[str, Any]) -> None:
        super().__init__(params, precision, config)
        cfg = self.config
        for key in ("length", "vocab_size", "hidden_sizes"):
            if key not in cfg:
                raise InvalidInputError(f"ffn config is missing {key!r}")
        cfg.setdefault("input", "onehot")
        cfg.setdefault("activation", "relu")
        cfg.setdefault("output_kind", "binary")
        cfg["hidden_sizes"] = [int(h) for h in cfg["hidden_sizes"]]
        if cfg["input"] not in ("onehot", "embed"):
            raise InvalidInputError(f"ffn input must be 'onehot' or 'embed', not {cfg['input']!r}")
        if cfg["activation"] not in ("relu", "tanh"):
            raise InvalidInputError(f"ffn activation must be 'relu' or 'tanh', not {cfg['activation']!r}")
        if cfg["output_kind"] not in ("binary", "class", "vector"):
            raise InvalidInputError(
                f"output_kind must be binary, class or vector, not {cfg['output_kind']!r}"
            )
        if not cfg["hidden_sizes"] or min(cfg["hidden_sizes"]) < 1:
            raise InvalidInputError("ffn needs at least one hidden layer of width >= 1")
        self._check_shapes()
        self._check_no_overflow()
        self._table_cache: np.ndarray | None = None
        self._float_setup()

    # ------------------------------------------------------------------ config
    @property
    def length(self) -> int:
        return int(self.config["length"])

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def hidden_sizes(self) -> list[int]:
        return list(self.config["hidden_sizes"])

    @property
    def layers(self) -> int:
        return len(self.config["hidden_sizes"])

    @property
    def first_width(self) -> int:
        """h_1: the number of first-layer units (what a cut message carries)."""
        return int(self.config["hidden_sizes"][0])

    @property
    def onehot(self) -> bool:
        return self.config["input"] == "onehot"

    @property
    def in_dim(self) -> int:
        """Per-position input width: V (one-hot) or E (embedding)."""
        return self.vocab_size if self.onehot else int(self.config["embed_dim"])

    def _check_shapes(self) -> None:
        T, V, hs = self.length, self.vocab_size, self.hidden_sizes
        if T < 1 or V < 1:
            raise InvalidInputError("ffn length and vocab_size must be >= 1")
        expect: dict[str, tuple[int, ...]] = {}
        if self.onehot:
            expect["w1"] = (T, V, hs[0])
        else:
            if "embed_dim" not in self.config:
                raise InvalidInputError("ffn config with input='embed' needs 'embed_dim'")
            E = int(self.config["embed_dim"])
            expect["embed"] = (V, E)
            expect["w1"] = (T, E, hs[0])
        expect["b1"] = (hs[0],)
        for layer in range(2, len(hs) + 1):
            expect[f"w{layer}"] = (hs[layer - 2], hs[layer - 1])
            expect[f"b{layer}"] = (hs[layer - 1],)
        if "wout" not in self.params or "bout" not in self.params:
            raise InvalidInputError("ffn read-out parameters 'wout'/'bout' are missing")
        out_dim = self.params["wout"].shape[-1] if self.params["wout"].ndim == 2 else -1
        expect["wout"] = (hs[-1], out_dim)
        expect["bout"] = (out_dim,)
        for name, shape in expect.items():
            if name not in self.params:
                raise InvalidInputError(f"ffn parameter {name!r} is missing")
            if tuple(self.params[name].shape) != shape:
                raise InvalidInputError(
                    f"ffn parameter {name!r} has shape {self.params[name].shape}, expected {shape}"
                )
        extra = set(self.params) - set(expect)
        if extra:
            raise InvalidInputError(f"unexpected ffn parameters: {sorted(extra)}")
        dtype_ok = np.int64 if self.precision.is_fixed else np.float64
        for name, arr in self.params.items():
            if arr.dtype != dtype_ok:
                self.params[name] = arr.astype(dtype_ok)
        if self.precision.is_fixed:
            for name, arr in self.params.items():
                if arr.size and (arr.min() < self.precision.raw_min or arr.max() > self.precision.raw_max):
                    raise InvalidInputError(f"ffn parameter {name!r} has raw values outside {self.precision.bits} bits")

    def _check_no_overflow(self) -> None:
        """Every exact accumulator fits int64: terms · 2^(2(p−1)) plus the bias is below 2^62."""
        if not self.precision.is_fixed:
            return
        p = self.precision.bits
        term = 1 << (2 * (p - 1))
        worst = [self.length * (1 if self.onehot else self.in_dim)]
        worst += [h + 1 for h in self.hidden_sizes]
        for terms in worst:
            if signed_width(-(terms + 1) * term, (terms + 1) * term) > 63:
                raise InvalidInputError(
                    f"ffn accumulators of {terms} terms at p = {p} bits would overflow int64; "
                    "use a lower precision or a shorter input"
                )

    def _float_setup(self) -> None:
        """Float mode: the exact integer form of the first-layer weights (one grid 2^s for
        the whole model) and whether partial sums of the table fit int64."""
        self._grid = -2 * self.precision.frac
        self._wide = False
        self._w1_ints: np.ndarray = self.params["w1"]
        self._embed_ints: np.ndarray | None = None
        # later layers' weights with their bias as one more row, in exact integer form
        self._layer_ops: dict[str, ScaledInts] = {}
        if self.precision.is_fixed:
            return
        self._b1_ints = scaled_ints(self.params["b1"])
        for layer in [*range(2, self.layers + 1), "out"]:
            w, b = self.params[f"w{layer}"], self.params[f"b{layer}"]
            self._layer_ops[f"w{layer}"] = ScaledInts.of(np.concatenate([w, b.reshape(1, -1)], axis=0))
        w_ints, w_shift = scaled_ints(self.params["w1"])
        if self.onehot:
            self._w1_ints, self._grid = w_ints, w_shift
            top = _max_abs(w_ints)
        else:
            e_ints, e_shift = scaled_ints(self.params["embed"])
            self._w1_ints, self._embed_ints = w_ints, e_ints
            self._grid = w_shift + e_shift
            top = self.in_dim * _max_abs(w_ints) * _max_abs(e_ints)
        # a partial sum over at most T positions, plus the bias written on the same grid
        self._wide = (self.length * top).bit_length() > 61

    @property
    def acc_shift(self) -> int:
        """s: the contribution table and every partial sum A_S are integers times 2^s
        (−2f in fixed point; in float mode fixed by the weights, docs/theory.md §3.8)."""
        return self._grid

    def check_tokens(self, tokens: np.ndarray) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError("ffn input must be a 1-D integer token array")
        if arr.size != self.length:
            raise InvalidInputError(
                f"this ffn reads exactly {self.length} tokens (flattened input), got {arr.size}"
            )
        arr = arr.astype(np.int64)
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise InvalidInputError(f"token ids must lie in [0, {self.vocab_size})")
        return arr

    # ------------------------------------------------------------------ first layer
    def contribution_table(self, positions: np.ndarray) -> np.ndarray:
        """C[positions] (P, V, h_1): each (position, token)'s exact first-layer contribution
        as integers times 2^:attr:`acc_shift` (int64 with 2f fractional bits in fixed
        point; in float mode int64, or Python integers in an object array when partial
        sums could leave int64)."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size and (positions.min() < 0 or positions.max() >= self.length):
            raise InvalidInputError(f"positions must lie in [0, {self.length})")
        if self._table_cache is None and self.length * self.vocab_size * self.first_width <= 1 << 22:
            self._table_cache = self._compute_table(np.arange(self.length, dtype=np.int64))
            self._table_cache.setflags(write=False)
        if self._table_cache is not None:
            return self._table_cache[positions]
        return self._compute_table(positions)

    def _compute_table(self, positions: np.ndarray) -> np.ndarray:
        w1 = self.params["w1"][positions]  # (P, V or E, h1)
        if self.precision.is_fixed:
            if self.onehot:
                return w1 << np.int64(self.precision.frac)
            # exact int64 products summed over k (no BLAS: int64 einsum is exact)
            return np.einsum("vk,pkj->pvj", self.params["embed"], w1)
        w_ints = self._w1_ints[positions]
        if self._embed_ints is None:
            table = w_ints
        elif w_ints.dtype != object and self._embed_ints.dtype != object and not self._wide:
            # every product sum fits int64 (checked in _float_setup): exact
            table = np.stack([exact_matmul(self._embed_ints, w_ints[k]) for k in range(positions.size)]) \
                if positions.size else np.zeros((0, self.vocab_size, self.first_width), dtype=np.int64)
        else:
            e_obj = np.asarray(self._embed_ints, dtype=object)
            table = np.empty((positions.size, self.vocab_size, self.first_width), dtype=object)
            for k in range(positions.size):
                table[k] = e_obj @ np.asarray(w_ints[k], dtype=object)
        if self._wide:
            return np.asarray(table, dtype=object)
        return np.asarray(table, dtype=np.int64)

    def partial_preactivation(self, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """A_S: the exact first-layer partial pre-activation (h_1,) of the positions S =
        ``positions`` holding ``tokens`` (``tokens[k]`` sits at ``positions[k]``), as
        integers times 2^:attr:`acc_shift` (fixed point: int64 with 2f fractional bits;
        float: int64 or Python integers).  Empty S gives zeros."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(1, -1)
        return self.partial_preactivation_batch(tokens, positions)[0]

    def partial_preactivation_batch(self, token_rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """:meth:`partial_preactivation` for many rows of tokens at the same positions:
        ``token_rows`` (B, P) -> (B, h_1).  The plain numpy reference of the batched
        kernel (module docstring, kernel contract)."""
        positions = np.asarray(positions, dtype=np.int64).ravel()
        rows = np.asarray(token_rows, dtype=np.int64)
        if rows.ndim != 2 or rows.shape[1] != positions.size:
            raise InvalidInputError(
                f"token rows must have shape (B, {positions.size}), got {rows.shape}"
            )
        if rows.size and (rows.min() < 0 or rows.max() >= self.vocab_size):
            raise InvalidInputError(f"token ids must lie in [0, {self.vocab_size})")
        dtype = object if self._wide else np.int64
        out = np.zeros((rows.shape[0], self.first_width), dtype=dtype)
        if positions.size == 0:
            return out
        table = self.contribution_table(positions)
        pidx = np.arange(positions.size)[None, :]
        for start in range(0, rows.shape[0], _BATCH_CHUNK):
            chunk = rows[start:start + _BATCH_CHUNK]
            out[start:start + chunk.shape[0]] = table[pidx, chunk].sum(axis=1)
        return out

    def partial_range(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per unit, the least and greatest value A_S can take over every choice of tokens
        at ``positions`` (exact: positions are independent, so it is the sum of the
        per-position minima / maxima over the vocabulary), in units of 2^:attr:`acc_shift`."""
        positions = np.asarray(positions, dtype=np.int64).ravel()
        if positions.size == 0:
            zero = np.zeros(self.first_width, dtype=object if self._wide else np.int64)
            return zero, zero.copy()
        table = self.contribution_table(positions)
        return table.min(axis=1).sum(axis=0), table.max(axis=1).sum(axis=0)

    def table_step(self, positions: np.ndarray) -> int:
        """k >= 0: every entry of the contribution table at ``positions`` (so every partial
        sum over them) is a multiple of 2^k in units of 2^:attr:`acc_shift` — a property
        of the public weights; 0 when every entry is 0."""
        table = self.contribution_table(np.asarray(positions, dtype=np.int64).ravel())
        # the lowest set bit of the OR of all magnitudes is the lowest set bit of any entry
        if table.dtype == object:
            bits = 0
            for v in table.ravel().tolist():
                bits |= abs(int(v))
        else:
            bits = int(np.bitwise_or.reduce(np.abs(table), axis=None)) if table.size else 0
        return (bits & -bits).bit_length() - 1 if bits else 0

    def first_layer(self, total: np.ndarray) -> tuple[np.ndarray, int]:
        """From the complete first-layer sum A_all (h_1,) to the activated first hidden
        layer: add the bias, round once, activate."""
        prec = self.precision
        if prec.is_fixed:
            acc = np.asarray(total, dtype=np.int64) + (self.params["b1"] << np.int64(prec.frac))
            q = prec.from_acc(acc, 2 * prec.frac)
        else:
            # A_all + b1 exactly, on the finer of the two grids, then one rounding
            b_ints, b_shift = self._b1_ints
            grid = min(self._grid, b_shift)
            acc = rescale_ints(np.asarray(total), self._grid, grid) + rescale_ints(b_ints, b_shift, grid)
            q = prec.round_scaled(_narrow(acc), grid)
        act, sat = self._activate(q.values)
        return act, q.saturated + sat

    # ------------------------------------------------------------------ the rest
    def _activate(self, raw: np.ndarray) -> tuple[np.ndarray, int]:
        if self.config["activation"] == "relu":
            return np.maximum(raw, 0), 0
        q = self.precision.apply(np.tanh, raw)
        return q.values, q.saturated

    def _linear(self, x: np.ndarray, name: str) -> tuple[np.ndarray, int]:
        """Layer ``name`` (``w2`` … ``wout``) applied to x: x·w + b, rounded once."""
        prec = self.precision
        if prec.is_fixed:
            w, b = self.params[name], self.params["b" + name[1:]]
            acc = x.astype(np.int64) @ w + (b << np.int64(prec.frac))
            q = prec.from_acc(acc, 2 * prec.frac)
        else:  # the exact sum x·w + b (b enters as one more column), rounded once
            a = np.concatenate([np.asarray(x, dtype=np.float64).reshape(1, -1), np.ones((1, 1))], axis=1)
            ints, shift = exact_scaled_matmul(a, self._layer_ops[name])
            q = prec.round_scaled(ints.reshape(-1), shift)
        return q.values, q.saturated

    def finish(self, total: np.ndarray) -> ModelOutput:
        """Everything after the first-layer sum: the function the output party applies to
        A_all.  Returns the read-out (1, out_dim) and its decision."""
        h, sat = self.first_layer(total)
        for layer in range(2, self.layers + 1):
            z, s1 = self._linear(h, f"w{layer}")
            h, s2 = self._activate(z)
            sat += s1 + s2
        values, s = self._linear(h, "wout")
        values = values.reshape(1, -1)
        return ModelOutput(values, self.decide(values), sat + s)

    def decide(self, values: np.ndarray) -> Any:
        kind = self.config["output_kind"]
        if kind == "binary":
            return int(values[0, 0] > 0)
        if kind == "class":
            return int(np.argmax(values[0]))
        return self.precision.to_real(values)

    def forward(self, tokens: np.ndarray) -> ModelOutput:
        """The plain forward pass: A_all over every position, then :meth:`finish`."""
        tokens = self.check_tokens(tokens)
        total = self.partial_preactivation(tokens, np.arange(self.length, dtype=np.int64))
        return self.finish(total)

    # ------------------------------------------------------------------ init
    @classmethod
    def random(
        cls,
        vocab_size: int,
        length: int,
        rng: np.random.Generator,
        hidden: int = 16,
        layers: int = 1,
        precision: Precision = Precision.fixed(16),
        activation: str = "relu",
        output_kind: str = "binary",
        num_classes: int = 2,
        embed_dim: int | None = None,
    ) -> FFNModel:
        """Seeded random weights (Gaussian, 1/sqrt(fan-in) scale, rounded to the precision).

        ``embed_dim=None`` gives one-hot input (fan-in T: one active entry per position);
        otherwise a Gaussian embedding of width ``embed_dim`` (fan-in T·E).  Out dim: 1
        (binary) or ``num_classes`` (class and vector)."""
        for name, val in (("vocab_size", vocab_size), ("length", length), ("hidden", hidden),
                          ("layers", layers), ("num_classes", num_classes)):
            if int(val) < 1:
                raise InvalidInputError(f"ffn {name} must be >= 1, got {val}")
        if embed_dim is not None and int(embed_dim) < 1:
            raise InvalidInputError(f"ffn embed_dim must be >= 1, got {embed_dim}")
        V, T, h, L = int(vocab_size), int(length), int(hidden), int(layers)
        out_dim = 1 if output_kind == "binary" else int(num_classes)

        def g(*shape: int, scale: float = 1.0) -> np.ndarray:
            return rng.standard_normal(shape) * scale

        real: dict[str, np.ndarray] = {}
        config: dict[str, Any] = {
            "length": T, "vocab_size": V, "hidden_sizes": [h] * L,
            "activation": activation, "output_kind": output_kind,
        }
        if embed_dim is None:
            config["input"] = "onehot"
            real["w1"] = g(T, V, h, scale=1 / np.sqrt(T))
        else:
            E = int(embed_dim)
            config["input"] = "embed"
            config["embed_dim"] = E
            real["embed"] = g(V, E)
            real["w1"] = g(T, E, h, scale=1 / np.sqrt(T * E))
        real["b1"] = g(h, scale=0.1)
        for layer in range(2, L + 1):
            real[f"w{layer}"] = g(h, h, scale=1 / np.sqrt(h))
            real[f"b{layer}"] = g(h, scale=0.1)
        real["wout"] = g(h, out_dim, scale=1 / np.sqrt(h))
        real["bout"] = g(out_dim, scale=0.1)
        params = {k: precision.quantize(v).values for k, v in real.items()}
        return cls(params, precision, config)
