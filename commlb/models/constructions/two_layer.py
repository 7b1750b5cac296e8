"""Two-layer transformers of logarithmic size for string equality and disjointness
(BHBK24; docs/theory.md §9.3: the result is from the abstract, the weights are commlb's
own derivation of the construction it describes).

Input ``a_1..a_n # b_1..b_n =`` (token ids 0, 1, "#" = 2, "=" = 3; length T = 2n + 2).
Residual stream of width m_model = m + 5:

* a code block of m dims: the positional table puts the sign code s_i ∈ {±1}^m both at
  a_i's position i and at b_i's position n + 1 + i (0 at "#" and "="); the codes are the
  nearly orthogonal codes of :mod:`.codes` (coherence ≤ 1/2, m = ⌈12·log2 n⌉);
* BMARK: 1 at the positions of b (positional); BIT: the token's bit (embedding: 1 for
  the token 1, else 0); FETCH, LOCAL, AVG: written by the layers.

Layer 1 (one head, d_k = m + 1, d_v = 1): query (γ·code, c·BMARK) with γ = c/m, key
(code, −BMARK), value BIT → FETCH.  At b_i the score is c at a_i, c·⟨u_i, u_j⟩ ≤ c·ε at
a_j (j ≠ i), at most 0 at the b's (the −c of BMARK) and 0 at "#", "="; the public
stabiliser is c, so a_i's weight is exp(0) = 1 and, as in the index-lookup construction
(:mod:`.index_lookup`), every other weight exp(−c·gap) rounds to 0 in p-bit fixed point
once c·gap > (f + 1)·ln 2: FETCH = a_i exactly.  The MLP computes the local bit, gated by
BMARK so only b's positions get one:

* equality: LOCAL = ReLU(FETCH − BIT + BMARK − 1) + ReLU(BIT − FETCH + BMARK − 1) =
  [a_i ≠ b_i] at b_i, 0 elsewhere (FETCH ∈ [0, 1] there);
* disjointness: LOCAL = ReLU(FETCH + BIT + BMARK − 2) = a_i ∧ b_i.

Layer 2 (one head, zero query and key, stabiliser 0): every weight is exp(0) = 1, so
the "=" position reads the average of LOCAL over all T positions, count/T, rounded to f
fractional bits: it is 0 iff the count is 0 and at least 2^−f otherwise as long as
2^(f+1) ≥ T.  Read-out: 2^−f − 2·AVG > 0 iff count = 0, i.e. the answer (1 = equal /
disjoint).  (Attending to the second string only would also work; attending to all T
positions, with zero local bits off the b's, gives the same decision with no extra
weights.)

Size: L = 2 layers, H = 1 head per layer, width m + 5 = ⌈12·log2 n⌉ + 5 = O(log N) (the
constant 12 is the Hoeffding + union-bound constant for coherence 1/2, :mod:`.codes`),
no more than 12·log2 T for T = 2n + 2 ≥ 8.  Precision (default): f = max(6, ⌈log2 T⌉)
fractional bits (the layer-2 average) and p = f + 1 + ⌈log2 c⌉ + 1 bits so the raw scale
c fits — p = O(log N) (Merrill–Sabharwal's log-precision regime); c is chosen as in
:mod:`.index_lookup`: exact rounding and real-softmax mass ≥ 1 − 1/100 on a_i.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel
from . import refuse_options
from .codes import code_dimension, draw_codes

__all__ = ["build_equality", "build_disjointness", "default_precision", "EXTRA_DIMS", "SOFTMAX_DELTA"]

#: dims besides the code block: BMARK, BIT, FETCH, LOCAL, AVG
EXTRA_DIMS = 5
CODE_COHERENCE = 0.5
SOFTMAX_DELTA = 0.01
_SEED = 0x2_1A7E


def _scale_need(length: int, frac: int) -> float:
    """c·gap needed: exact rounding at f bits and real softmax mass ≥ 1 − δ."""
    return max((frac + 1) * math.log(2), math.log(max(length, 2) / SOFTMAX_DELTA)) + 0.5


def default_precision(n: int) -> Precision:
    """f = max(6, ⌈log2 T⌉) with T = 2n + 2, and p = f + 1 + bits of the attention scale
    c for a code gap of 1/2 (the coherence the codes are drawn to)."""
    length = 2 * int(n) + 2
    frac = max(6, math.ceil(math.log2(length)))
    c = 2 * _scale_need(length, frac) + 1  # gap >= 1/2, plus the rounding of r
    bits = frac + 1 + math.ceil(math.log2(c)) + 1
    if bits > MAX_FIXED_BITS:
        raise InvalidInputError(f"two-layer construction: n = {n} needs {bits} bits, above {MAX_FIXED_BITS}")
    return Precision.fixed(bits, frac)


def build_equality(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
                   layers: int | None = None, heads: int | None = None, seed: int = _SEED,
                   **options: Any) -> TransformerModel:
    """The two-layer log-width transformer for string equality ``a # b =`` with strings
    of ``n`` bits (answer 1 iff a = b).  See the module docstring."""
    return _build("equality", n, precision, width, layers, heads, seed, options)


def build_disjointness(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
                       layers: int | None = None, heads: int | None = None, seed: int = _SEED,
                       **options: Any) -> TransformerModel:
    """The two-layer log-width transformer for disjointness ``a # b =`` with strings of
    ``n`` bits (answer 1 iff no i has a_i = b_i = 1).  See the module docstring."""
    return _build("disjointness", n, precision, width, layers, heads, seed, options)


def _build(kind: str, n: int, precision: Precision | None, width: int | None, layers: int | None,
           heads: int | None, seed: int, options: dict[str, Any]) -> TransformerModel:
    refuse_options(f"two-layer {kind}", options)
    if layers is not None and int(layers) != 2:
        raise InvalidInputError(f"the {kind} construction has 2 layers; drop --layers or use random weights")
    if heads is not None and int(heads) != 1:
        raise InvalidInputError(f"the {kind} construction has 1 head per layer; drop --heads or use random weights")
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"{kind} construction: n must be >= 1, got {n}")
    if width is None:
        m = code_dimension(n, CODE_COHERENCE)
    else:
        m = int(width) - EXTRA_DIMS
        if m < 1:
            raise InvalidInputError(f"{kind} construction: width must be at least {EXTRA_DIMS + 1}, got {width}")
    prec = default_precision(n) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError(f"the {kind} construction is built for fixed-point arithmetic (--arith fixed)")
    length = 2 * n + 2
    if (1 << (prec.frac + 1)) < length:
        raise InvalidInputError(
            f"{kind} construction: {prec.describe()} cannot tell a count of 1 from 0 in an average over "
            f"{length} positions (needs 2^(f+1) >= {length}: f >= {math.ceil(math.log2(length)) - 1})"
        )
    rng = np.random.default_rng([int(seed), n, m])
    codes = draw_codes(n, m, rng, width_given=width is not None, who="two-layer", extra_dims=EXTRA_DIMS,
                       epsilon=CODE_COHERENCE)
    gap = 1.0 - max(codes.max_inner, 0.0)
    r = math.ceil(_scale_need(length, prec.frac) * prec.scale / (m * gap))
    c_raw = r * m
    if prec.frac > prec.bits - 2 or c_raw > prec.raw_max:
        raise InvalidInputError(
            f"{kind} construction: {prec.describe()} cannot hold the attention scale c = "
            f"{c_raw / prec.scale:g} (needs c <= 2^(p-1-f)); use more bits"
        )
    one = int(prec.scale)
    mm = m + EXTRA_DIMS
    code = slice(0, m)
    BMARK, BIT, FETCH, LOCAL, AVG = range(m, m + EXTRA_DIMS)

    embed = np.zeros((4, mm), dtype=np.int64)
    embed[1, BIT] = one
    pos = np.zeros((length, mm), dtype=np.int64)
    signs = codes.signs.astype(np.int64) * one
    pos[:n, code] = signs
    pos[n + 1:2 * n + 1, code] = signs
    pos[n + 1:2 * n + 1, BMARK] = one

    dk = m + 1
    wq = np.zeros((2, 1, mm, dk), dtype=np.int64)
    wk = np.zeros_like(wq)
    wv = np.zeros((2, 1, mm, 1), dtype=np.int64)
    wo = np.zeros((2, 1, 1, mm), dtype=np.int64)
    wq[0, 0, np.arange(m), np.arange(m)] = r  # γ = r / 2^f = c / m
    wq[0, 0, BMARK, m] = c_raw
    wk[0, 0, np.arange(m), np.arange(m)] = one
    wk[0, 0, BMARK, m] = -one
    wv[0, 0, BIT, 0] = one
    wo[0, 0, 0, FETCH] = one
    wv[1, 0, LOCAL, 0] = one  # layer 2: zero query/key, uniform weights
    wo[1, 0, 0, AVG] = one

    hidden = 2
    w1 = np.zeros((2, mm, hidden), dtype=np.int64)
    b1 = np.zeros((2, hidden), dtype=np.int64)
    w2 = np.zeros((2, hidden, mm), dtype=np.int64)
    if kind == "equality":
        w1[0, FETCH, 0], w1[0, BIT, 0], w1[0, BMARK, 0], b1[0, 0] = one, -one, one, -one
        w1[0, FETCH, 1], w1[0, BIT, 1], w1[0, BMARK, 1], b1[0, 1] = -one, one, one, -one
        w2[0, 0, LOCAL] = one
        w2[0, 1, LOCAL] = one
    else:
        w1[0, FETCH, 0], w1[0, BIT, 0], w1[0, BMARK, 0], b1[0, 0] = one, one, one, -2 * one
        w2[0, 0, LOCAL] = one
    wout = np.zeros((mm, 1), dtype=np.int64)
    wout[AVG, 0] = -2 * one
    bout = np.array([1], dtype=np.int64)  # 2^-f
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.array([[c_raw], [0]], dtype=np.int64),
        "w1": w1, "b1": b1, "w2": w2, "b2": np.zeros((2, mm), dtype=np.int64),
        "wout": wout, "bout": bout,
    }
    config = {
        "layers": 2, "heads": 1, "width": mm, "key_dim": dk, "value_dim": 1, "mlp_dim": hidden,
        "vocab_size": 4, "max_length": length, "causal": False, "attention": "softmax",
        "output_kind": "binary", "output_positions": [-1],
        "construction": {
            "name": f"two-layer {kind} (BHBK24, docs/theory.md §9.3)",
            "code_dim": m,
            "coherence": codes.coherence,
            "max_inner": codes.max_inner,
            "coherence_target": codes.target,
            "draws": codes.draws,
            "attention_scale": c_raw / prec.scale,
            "real_softmax_leak_bound": length * math.exp(-(c_raw / prec.scale) * gap),
        },
    }
    return TransformerModel(params, prec, config)
