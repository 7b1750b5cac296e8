"""Finite-precision transformer (SHT24 Def. 2.1–2.2 shape; docs/theory.md §3.2).

A :class:`TransformerModel` has L layers of H attention heads over a residual stream of
width m, a learned token embedding plus a learned positional table (added), an optional
causal mask, an optional ReLU MLP after each attention block, and a linear read-out at
the output position(s).

Arithmetic (fixed point, p bits, f fractional; everything exact except the stated
roundings, see :mod:`commlb.bits`):

* every linear map (query, key, value, MLP, read-out) is an exact int64 accumulator of
  products (2f fractional bits) rounded once to p bits;
* score s_ij = round(q_i · k_j), one rounding of the exact dot product;
* weight w_ij = round(exp((s_ij − c_h))) where c_h is the head's **public stabiliser**
  (a constant parameter, never a data-dependent max).  The difference s − c is an exact
  integer, so it can leave the p-bit range; the exponential is read from a table over
  every possible difference (for p ≤ 16) or computed in float64 and rounded once (p > 16),
  so every implementation gets the same bits.  Because c_h is a constant, the sums below
  split over any partition of the positions and add exactly;
* numerator N_i = Σ_j w_ij v_j (exact accumulator, 2f fractional bits) and denominator
  D_i = Σ_j w_ij (exact, f fractional bits), both int64;
* attention output a_i = N_i / D_i as a raw p-bit integer, by the integer division
  ``floor((2·N + D) / (2·D))``: round to nearest, **ties toward +infinity** (the same tie
  rule as :mod:`commlb.bits`); if every weight rounded to 0 (D = 0) the output is 0;
* the residual update x + Σ_h a_h W_o^h (+ the MLP) is one exact accumulator rounded once.

With ``attention="hard"`` (SHT24 Lemma A.2's hardmax) the weights are 1 on the set of
maximal scores among visible positions and 0 elsewhere (so a_i is the average of the
tied values), with the same division.

Float mode (Merrill–Sabharwal p-bit floats) follows the same steps with every value
rounded to the float format and every sum (linear maps, scores, N_i, D_i) computed
**exactly** and rounded once (MS23's exact accumulation; :func:`exact_float_matmul`).
N_i and D_i are kept as exact integers over the fixed grids 2^(2·e_min) and 2^e_min, so
partial sums over disjoint key sets add exactly here too and the protocol reproduces the
forward pass bit for bit (docs/theory.md §3.7).

Parameters are named numpy arrays (raw int64 for fixed point):
``embed`` (V, m), ``pos`` (T, m), ``wq``/``wk`` (L, H, m, d_k), ``wv`` (L, H, m, d_v),
``wo`` (L, H, d_v, m), ``stab`` (L, H); with an MLP ``w1`` (L, m, d_ff), ``b1`` (L, d_ff),
``w2`` (L, d_ff, m), ``b2`` (L, m); read-out ``wout`` (m, out_dim), ``bout`` (out_dim).

Field embedding (config key ``embed_fields``, a list of F sizes V_0, …, V_{F−1} whose
product is ``vocab_size``): a token id t is read in mixed radix, field 0 least
significant — t_k = ⌊t / (V_0·…·V_{k−1})⌋ mod V_k — and ``embed`` has Σ_k V_k rows, one
block of V_k rows per field (block k starts at row o_k = V_0 + … + V_{k−1}).  The layer-0
stream of token t at position i is

    x_i = pos[i] + Σ_k embed[o_k + t_k]

summed exactly in int64 and saturated once to p bits in fixed point (the rows are raw
integers, so that saturation is the only loss, as for the plain ``embed[t] + pos[i]``),
or summed in float64 in that order (pos, then fields 0, 1, …) and rounded once to the
format in float mode.  The vocabulary stays
the product Π V_k (token ids lie in [0, Π V_k), and a token sent as a message costs
⌈log2 Π V_k⌉ bits); only the table is the sum of the field sizes.  This is how a
construction embeds structured tokens (qSA's pointers and real-value grid levels,
:mod:`commlb.models.constructions.qsa`) without a table row per combination; such a
model saves and reloads like any other transformer.  :func:`pack_fields` packs field
values into token ids and :meth:`TransformerModel.field_ids` unpacks them.

The building blocks (:meth:`TransformerModel.embed_rows`, :meth:`qkv`,
:meth:`partial_sums`, :meth:`combine`, :meth:`update`, :meth:`readout`) are the one code
path that both :meth:`forward` and the protocol simulator
(:mod:`commlb.protocol.transformer`) call, so the two can only differ in which party
computes which part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bits import Precision, exact_float_matmul, exact_matmul, float_acc_frac, rescale_ints
from ..core import sorted_unique
from ..errors import InvalidInputError
from .base import Model, ModelOutput

__all__ = ["TransformerModel", "exact_matmul", "exact_float_matmul", "round_div", "needed_positions", "Partial",
           "pack_fields"]

#: rows of queries handled at once (bounds the memory of the score matrix)
_CHUNK = 512
#: token ids are int64, so a field-embedded vocabulary (the product of the field sizes)
#: must stay below 2^63
_MAX_VOCAB = 1 << 63


def pack_fields(fields: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """Mixed-radix token ids Σ_k fields[k]·(sizes[0]·…·sizes[k−1]) (field 0 least
    significant): the ids a model with ``config["embed_fields"] = sizes`` reads.  Every
    field value must lie in [0, sizes[k])."""
    sizes = [int(s) for s in sizes]
    if len(fields) != len(sizes) or not sizes:
        raise InvalidInputError(f"pack_fields: {len(fields)} field arrays for {len(sizes)} field sizes")
    if math.prod(sizes) > _MAX_VOCAB:
        raise InvalidInputError(f"pack_fields: the product of the field sizes {sizes} exceeds 2^63 (int64 token ids)")
    out = np.zeros(np.asarray(fields[0]).shape, dtype=np.int64)
    mult = 1
    for k, (vals, size) in enumerate(zip(fields, sizes)):
        vals = np.asarray(vals, dtype=np.int64)
        if vals.size and (vals.min() < 0 or vals.max() >= size):
            raise InvalidInputError(f"pack_fields: field {k} has values outside [0, {size})")
        out += vals * mult
        mult *= size
    return out


def round_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den rounded to nearest, ties toward +infinity, for den >= 0; 0 where den = 0."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    safe = np.where(den > 0, den, 1)
    out = np.floor_divide(2 * num + safe, 2 * safe)
    return np.where(den > 0, out, 0)


@dataclass(frozen=True)
class Partial:
    """Partial attention sums of some queries over some keys, per head.

    Softmax: ``num`` (nq, H, d_v), ``den`` (nq, H) — exact int64 accumulators in fixed
    point (2f and f fractional bits); in float mode exact Python integers over 2^(2·e_min)
    and 2^e_min (:func:`commlb.bits.float_acc_frac`); ``top`` is None.
    Hard attention: ``top`` (nq, H) is the largest score seen (raw, or the smallest
    int64 when no key was seen), ``num`` the sum of the values attaining it (f
    fractional bits) and ``den`` their number."""

    num: np.ndarray
    den: np.ndarray
    top: np.ndarray | None = None

    def __add__(self, other: Partial) -> Partial:
        if self.top is None:
            return Partial(self.num + other.num, self.den + other.den)
        assert other.top is not None, "hard-attention partials add only to hard-attention partials"
        mine = self.top[..., None]
        theirs = other.top[..., None]
        num = np.where(mine > theirs, self.num, 0) + np.where(theirs > mine, other.num, 0) + np.where(
            mine == theirs, self.num + other.num, 0
        )
        den = (np.where(self.top > other.top, self.den, 0) + np.where(other.top > self.top, other.den, 0)
               + np.where(self.top == other.top, self.den + other.den, 0))
        return Partial(num, den, np.maximum(self.top, other.top))


NO_SCORE = np.iinfo(np.int64).min


def needed_positions(
    length: int, layers: int, outputs: Sequence[int] | np.ndarray, causal: bool
) -> list[np.ndarray]:
    """Backward dependency analysis: ``result[l]`` (l = 1..L) are the positions whose
    layer-l residual stream is needed, and ``result[0]`` the embeddings needed.

    The output positions are needed at layer L; a position needed at layer l needs every
    key/value position (all of them, or those at or before it with a causal mask) at
    layer l − 1, plus itself (residual)."""
    out = [np.zeros(0, dtype=np.int64)] * (layers + 1)
    cur = sorted_unique(outputs)
    out[layers] = cur
    for layer in range(layers, 0, -1):
        if cur.size == 0:
            prev = cur
        elif causal:
            prev = np.arange(int(cur.max()) + 1, dtype=np.int64)
        else:
            prev = np.arange(length, dtype=np.int64)
        out[layer - 1] = prev
        cur = prev
    return out


class TransformerModel(Model):
    """L-layer, H-head transformer with exact fixed-point (or p-bit float) arithmetic."""

    family = "transformer"

    def __init__(self, params: dict[str, np.ndarray], precision: Precision, config: dict[str, Any]) -> None:
        super().__init__(params, precision, config)
        cfg = self.config
        for key in ("layers", "heads", "width", "key_dim", "value_dim", "vocab_size", "max_length"):
            if key not in cfg:
                raise InvalidInputError(f"transformer config is missing {key!r}")
        cfg.setdefault("mlp_dim", 0)
        cfg.setdefault("causal", False)
        cfg.setdefault("attention", "softmax")
        cfg.setdefault("output_kind", "binary")
        cfg.setdefault("output_positions", [-1])
        if cfg["attention"] not in ("softmax", "hard"):
            raise InvalidInputError(f"attention must be 'softmax' or 'hard', not {cfg['attention']!r}")
        if cfg["output_kind"] not in ("binary", "class", "vector"):
            raise InvalidInputError(f"output_kind must be binary, class or vector, not {cfg['output_kind']!r}")
        if cfg["attention"] == "hard" and not self.precision.is_fixed:
            raise InvalidInputError("hard attention is implemented for fixed point only")
        if cfg.get("embed_fields") is not None:
            sizes = [int(v) for v in cfg["embed_fields"]]
            if not sizes or min(sizes) < 1 or math.prod(sizes) != int(cfg["vocab_size"]):
                raise InvalidInputError(
                    f"embed_fields must be positive sizes whose product is vocab_size = {cfg['vocab_size']}, "
                    f"got {cfg['embed_fields']}")
            if math.prod(sizes) > _MAX_VOCAB:
                raise InvalidInputError(
                    f"embed_fields {sizes}: the vocabulary (their product) exceeds 2^63, beyond int64 token ids")
            cfg["embed_fields"] = sizes
        self._check_shapes()
        self._exp_table: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ config
    @property
    def layers(self) -> int:
        return int(self.config["layers"])

    @property
    def heads(self) -> int:
        return int(self.config["heads"])

    @property
    def width(self) -> int:
        return int(self.config["width"])

    @property
    def key_dim(self) -> int:
        return int(self.config["key_dim"])

    @property
    def value_dim(self) -> int:
        return int(self.config["value_dim"])

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def embed_fields(self) -> list[int] | None:
        """Field sizes of a field embedding (module docstring), or None for one table row
        per token."""
        sizes = self.config.get("embed_fields")
        return None if sizes is None else [int(v) for v in sizes]

    @property
    def embed_table_rows(self) -> int:
        """Rows of ``embed``: Σ field sizes with a field embedding, else ``vocab_size``."""
        sizes = self.embed_fields
        return self.vocab_size if sizes is None else sum(sizes)

    @property
    def causal(self) -> bool:
        return bool(self.config["causal"])

    @property
    def hard(self) -> bool:
        return self.config["attention"] == "hard"

    @property
    def mlp_dim(self) -> int:
        return int(self.config["mlp_dim"])

    def _check_shapes(self) -> None:
        L, H, m = self.layers, self.heads, self.width
        dk, dv, V, T = self.key_dim, self.value_dim, self.embed_table_rows, int(self.config["max_length"])
        expect = {
            "embed": (V, m), "pos": (T, m), "wq": (L, H, m, dk), "wk": (L, H, m, dk),
            "wv": (L, H, m, dv), "wo": (L, H, dv, m), "stab": (L, H),
        }
        if self.mlp_dim:
            d = self.mlp_dim
            expect.update({"w1": (L, m, d), "b1": (L, d), "w2": (L, d, m), "b2": (L, m)})
        for name, shape in expect.items():
            if name not in self.params:
                raise InvalidInputError(f"transformer parameter {name!r} is missing")
            if tuple(self.params[name].shape) != shape:
                raise InvalidInputError(
                    f"transformer parameter {name!r} has shape {self.params[name].shape}, expected {shape}"
                )
        if "wout" not in self.params or "bout" not in self.params:
            raise InvalidInputError("transformer read-out parameters 'wout'/'bout' are missing")
        if self.params["wout"].shape[0] != m or self.params["bout"].shape != self.params["wout"].shape[1:]:
            raise InvalidInputError("transformer read-out has the wrong shape")
        dtype_ok = np.int64 if self.precision.is_fixed else np.float64
        for name, arr in self.params.items():
            if arr.dtype != dtype_ok:
                self.params[name] = arr.astype(dtype_ok)

    def output_positions(self, length: int) -> np.ndarray:
        pos = np.asarray(self.config["output_positions"], dtype=np.int64)
        pos = np.where(pos < 0, pos + length, pos)
        if pos.size == 0 or pos.min() < 0 or pos.max() >= length:
            raise InvalidInputError(f"output positions {self.config['output_positions']} do not fit length {length}")
        return sorted_unique(pos)

    def check_tokens(self, tokens: np.ndarray) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError("transformer input must be a 1-D integer token array")
        arr = arr.astype(np.int64)
        if arr.size == 0 or arr.size > int(self.config["max_length"]):
            raise InvalidInputError(
                f"sequence length {arr.size} is outside 1..{self.config['max_length']} (the positional table)"
            )
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise InvalidInputError(f"token ids must lie in [0, {self.vocab_size})")
        return arr

    # ------------------------------------------------------------------ arithmetic
    def _linear(self, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None,
                base: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """round(base + x @ w + bias): one rounding of an exact sum (fixed) or of a
        float64 sum (float).  ``base`` and ``bias`` are values in the model's format."""
        prec = self.precision
        if prec.is_fixed:
            acc = exact_matmul(x, w)
            if bias is not None:
                acc = acc + (bias.astype(np.int64) << np.int64(prec.frac))
            if base is not None:
                acc = acc + (base.astype(np.int64) << np.int64(prec.frac))
            q = prec.from_acc(acc, 2 * prec.frac)
            return q.values, q.saturated
        # exact sum, one rounding: base and bias enter the product as extra columns
        cols, rows = [x], [w]
        if base is not None:
            cols.append(base)
            rows.append(np.eye(base.shape[-1]))
        if bias is not None:
            cols.append(np.ones((x.shape[0], 1)))
            rows.append(np.asarray(bias, dtype=np.float64).reshape(1, -1))
        ints, shift = exact_float_matmul(np.concatenate(cols, axis=1), np.concatenate(rows, axis=0))
        q = prec.round_scaled(ints, shift)
        return q.values, q.saturated

    def _exp(self, diff: np.ndarray) -> tuple[np.ndarray, int]:
        """Weights round(exp(diff)) for stabilised scores ``diff`` (raw integers in fixed
        point, exactly s − c)."""
        prec = self.precision
        if not prec.is_fixed:
            # exp(700) already exceeds every p <= 20 float format, so clipping only
            # keeps float64 finite; the result saturates either way
            q = prec.quantize(np.exp(np.minimum(diff, 700.0)))
            return q.values, q.saturated
        lo = prec.raw_min - prec.raw_max
        if prec.bits <= 16:
            if self._exp_table is None:
                allraw = np.arange(lo, prec.raw_max - prec.raw_min + 1, dtype=np.int64)
                with np.errstate(over="ignore"):  # overflow to inf saturates below
                    vals = np.exp(allraw.astype(np.float64) / prec.scale)
                    scaled = np.floor(vals * prec.scale + 0.5)
                sat = scaled > prec.raw_max
                self._exp_table = (np.minimum(scaled, prec.raw_max).astype(np.int64), sat)
            table, sat = self._exp_table
            idx = diff - lo
            return table[idx], int(np.count_nonzero(sat[idx]))
        with np.errstate(over="ignore"):
            q = prec.quantize(np.exp(diff.astype(np.float64) / prec.scale))
        return q.values, q.saturated

    # ------------------------------------------------------------------ building blocks
    def field_ids(self, token_ids: np.ndarray) -> list[np.ndarray]:
        """Per field, the field values of ``token_ids`` (mixed radix, field 0 least
        significant); ``[token_ids]`` without a field embedding."""
        rest = np.asarray(token_ids, dtype=np.int64)
        sizes = self.embed_fields
        if sizes is None:
            return [rest]
        out = []
        for size in sizes:
            out.append(rest % size)
            rest = rest // size
        return out

    def embed_rows(self, token_ids: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, int]:
        """Layer-0 residual stream of the given (token, position) pairs: embedding +
        positional, with a field embedding pos + Σ_k embed[o_k + t_k] (module docstring),
        rounded once."""
        token_ids = np.asarray(token_ids, dtype=np.int64)
        positions = np.asarray(positions, dtype=np.int64)
        sizes = self.embed_fields
        if sizes is None:
            e = self.params["embed"][token_ids] + self.params["pos"][positions]
        else:
            e = self.params["pos"][positions].copy()
            offset = 0
            for size, ids in zip(sizes, self.field_ids(token_ids)):
                e += self.params["embed"][offset + ids]
                offset += size
        if self.precision.is_fixed:
            q = self.precision.saturate_raw(e)
        else:
            q = self.precision.quantize(e)
        return q.values, q.saturated

    def qkv(self, layer: int, x: np.ndarray, what: str = "qkv") -> tuple[dict[str, np.ndarray], int]:
        """Queries, keys and/or values (n, H, d) of rows ``x`` at layer ``layer`` (0-based)."""
        out: dict[str, np.ndarray] = {}
        sat = 0
        for name in what:
            w = self.params[f"w{name}"][layer]  # (H, m, d)
            h, m, d = w.shape
            flat = w.transpose(1, 0, 2).reshape(m, h * d)
            vals, s = self._linear(x, flat)
            out[name] = vals.reshape(x.shape[0], h, d)
            sat += s
        return out, sat

    def partial_sums(self, layer: int, q: np.ndarray, qpos: np.ndarray, k: np.ndarray,
                     v: np.ndarray, kpos: np.ndarray) -> tuple[Partial, int]:
        """Attention sums of queries ``q`` (at positions ``qpos``) over keys/values ``k``,
        ``v`` (at positions ``kpos``), respecting the causal mask.  Disjoint key sets give
        partials whose :class:`Partial` sum is exactly the sum over their union."""
        prec = self.precision
        nq, H = q.shape[0], self.heads
        dv = self.value_dim
        fixed = prec.is_fixed
        # float mode: exact sums as Python integers over 2^(2·e_min) / 2^e_min
        acc_dtype = np.int64 if fixed else object
        num = np.zeros((nq, H, dv), dtype=acc_dtype)
        den = np.zeros((nq, H), dtype=acc_dtype)
        top = np.full((nq, H), NO_SCORE, dtype=np.int64) if self.hard else None
        sat = 0
        if nq == 0 or k.shape[0] == 0:
            return Partial(num, den, top), 0
        qpos = np.asarray(qpos, dtype=np.int64)
        kpos = np.asarray(kpos, dtype=np.int64)
        for start in range(0, nq, _CHUNK):
            sl = slice(start, min(nq, start + _CHUNK))
            mask = (kpos[None, :] <= qpos[sl, None]) if self.causal else None
            for h in range(H):
                if fixed:
                    acc = exact_matmul(q[sl, h], k[:, h].T)
                    sq = prec.from_acc(acc, 2 * prec.frac)
                    scores = sq.values
                else:
                    ints, shift = exact_float_matmul(q[sl, h], k[:, h].T)
                    sq = prec.round_scaled(ints, shift)
                    scores = sq.values
                sat += sq.saturated
                if top is not None:
                    masked = scores if mask is None else np.where(mask, scores, NO_SCORE)
                    best = masked.max(axis=1)
                    sel = (masked == best[:, None]) & (best[:, None] != NO_SCORE)
                    w = sel.astype(np.int64)
                    top[sl, h] = best
                    # values at the max, summed exactly (f fractional bits)
                    num[sl, h] = w @ v[:, h]
                    den[sl, h] = w.sum(axis=1)
                    continue
                stab = self.params["stab"][layer, h]
                w, s = self._exp(scores - stab)
                sat += s
                if mask is not None:
                    w = np.where(mask, w, 0)
                if fixed:
                    num[sl, h] = exact_matmul(w, v[:, h])
                    den[sl, h] = w.sum(axis=1)
                else:  # exact, on the fixed grids 2^(2·e_min) and 2^e_min (docs/theory.md §3.7)
                    ints, shift = exact_float_matmul(w, v[:, h])
                    num[sl, h] = rescale_ints(ints, shift, -float_acc_frac(prec, 2))
                    ints, shift = exact_float_matmul(w, np.ones((w.shape[1], 1)))
                    den[sl, h] = rescale_ints(ints, shift, -float_acc_frac(prec, 1))[:, 0]
        return Partial(num, den, top), sat

    def combine(self, total: Partial) -> tuple[np.ndarray, int]:
        """Attention outputs (nq, H, d_v) from complete sums: round(N / D)."""
        prec = self.precision
        if prec.is_fixed:
            # softmax: num has 2f fractional bits and den f, so num / den has f;
            # hard: num has f fractional bits and den is a count
            raw = round_div(total.num, total.den[..., None])
            q = prec.saturate_raw(raw)
            return q.values, q.saturated
        num = prec.round_scaled(total.num, -float_acc_frac(prec, 2))
        den = prec.round_scaled(total.den, -float_acc_frac(prec, 1))
        d = den.values[..., None]
        ratio = np.divide(num.values, d, out=np.zeros_like(num.values), where=d != 0)
        q = prec.quantize(ratio)
        return q.values, q.saturated + num.saturated + den.saturated

    def update(self, layer: int, x: np.ndarray, attn: np.ndarray) -> tuple[np.ndarray, int]:
        """Residual update of rows ``x`` with attention outputs ``attn`` (n, H, d_v),
        then the layer's MLP (if any)."""
        wo = self.params["wo"][layer]  # (H, dv, m)
        n = x.shape[0]
        flat_a = attn.reshape(n, -1)
        flat_w = wo.reshape(-1, self.width)
        x1, sat = self._linear(flat_a, flat_w, base=x)
        if self.mlp_dim:
            hidden, s1 = self._linear(x1, self.params["w1"][layer], bias=self.params["b1"][layer])
            hidden = np.maximum(hidden, 0)
            x1, s2 = self._linear(hidden, self.params["w2"][layer], bias=self.params["b2"][layer], base=x1)
            sat += s1 + s2
        return x1, sat

    def readout(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        return self._linear(x, self.params["wout"], bias=self.params["bout"])

    # ------------------------------------------------------------------ forward
    def forward(self, tokens: np.ndarray) -> ModelOutput:
        """The plain forward pass.  Only positions the output depends on are computed
        (:func:`needed_positions`); the others cannot change the answer."""
        tokens = self.check_tokens(tokens)
        length = tokens.size
        outputs = self.output_positions(length)
        need = needed_positions(length, self.layers, outputs, self.causal)
        positions = need[0]
        x, sat = self.embed_rows(tokens[positions], positions)
        stream = {int(p): i for i, p in enumerate(positions)}  # position -> row of x
        for layer in range(self.layers):
            qrows = np.array([stream[int(p)] for p in need[layer + 1]], dtype=np.int64)
            qx = x[qrows]
            parts, s = self.qkv(layer, qx, "q")
            kv, s2 = self.qkv(layer, x, "kv")
            total, s3 = self.partial_sums(layer, parts["q"], need[layer + 1], kv["k"], kv["v"], positions)
            attn, s4 = self.combine(total)
            x, s5 = self.update(layer, qx, attn)
            sat += s + s2 + s3 + s4 + s5
            positions = need[layer + 1]
            stream = {int(p): i for i, p in enumerate(positions)}
        rows = np.array([stream[int(p)] for p in outputs], dtype=np.int64)
        values, s = self.readout(x[rows])
        return ModelOutput(values, self.decide(values), sat + s)

    # ------------------------------------------------------------------ init
    @classmethod
    def random(
        cls,
        vocab_size: int,
        max_length: int,
        rng: np.random.Generator,
        layers: int = 1,
        heads: int = 1,
        width: int = 16,
        value_dim: int | None = None,
        precision: Precision = Precision.fixed(16),
        causal: bool = False,
        mlp: bool = False,
        key_dim: int | None = None,
        output_kind: str = "binary",
        num_classes: int = 2,
        output_positions: Sequence[int] = (-1,),
        attention: str = "softmax",
        embed_fields: Sequence[int] | None = None,
    ) -> TransformerModel:
        """Seeded random weights (Gaussian, 1/sqrt(fan-in) scale, rounded to the precision).

        Queries carry the usual 1/sqrt(d_k) temperature; each head's stabiliser is a
        random public constant near 1 (it only shifts the weights' range, the sums still
        add exactly).  ``embed_fields`` (sizes whose product is ``vocab_size``) gives a
        field embedding with Σ sizes table rows (module docstring)."""
        for name, val in (("vocab_size", vocab_size), ("max_length", max_length), ("layers", layers),
                          ("heads", heads), ("width", width)):
            if int(val) < 1:
                raise InvalidInputError(f"transformer {name} must be >= 1, got {val}")
        if embed_fields is not None and (not list(embed_fields) or min(int(v) for v in embed_fields) < 1):
            raise InvalidInputError(f"embed_fields must be a non-empty list of positive sizes, got {embed_fields}")
        L, H, m = int(layers), int(heads), int(width)
        dk = int(key_dim) if key_dim else max(1, m // H)
        dv = int(value_dim) if value_dim else max(1, m // H)
        out_dim = 1 if output_kind == "binary" else (int(num_classes) if output_kind == "class" else m)
        dff = 2 * m if mlp else 0

        def g(*shape: int, scale: float = 1.0) -> np.ndarray:
            return rng.standard_normal(shape) * scale

        table_rows = int(vocab_size) if embed_fields is None else sum(int(v) for v in embed_fields)
        real: dict[str, np.ndarray] = {
            "embed": g(table_rows, m),
            "pos": g(max_length, m, scale=0.5),
            "wq": g(L, H, m, dk, scale=1 / np.sqrt(m) / np.sqrt(dk)),
            "wk": g(L, H, m, dk, scale=1 / np.sqrt(m)),
            "wv": g(L, H, m, dv, scale=1 / np.sqrt(m)),
            "wo": g(L, H, dv, m, scale=1 / np.sqrt(H * dv)),
            "stab": 1.0 + g(L, H, scale=0.5),
            "wout": g(m, out_dim, scale=1 / np.sqrt(m)),
            "bout": g(out_dim, scale=0.1),
        }
        if dff:
            real.update({"w1": g(L, m, dff, scale=1 / np.sqrt(m)), "b1": g(L, dff, scale=0.1),
                         "w2": g(L, dff, m, scale=1 / np.sqrt(dff)), "b2": g(L, m, scale=0.1)})
        params = {k: precision.quantize(v).values for k, v in real.items()}
        config = {
            "layers": L, "heads": H, "width": m, "key_dim": dk, "value_dim": dv, "mlp_dim": dff,
            "vocab_size": int(vocab_size), "max_length": int(max_length), "causal": bool(causal),
            "attention": attention, "output_kind": output_kind,
            "output_positions": [int(p) for p in output_positions],
        }
        if embed_fields is not None:
            config["embed_fields"] = [int(v) for v in embed_fields]
        return cls(params, precision, config)
