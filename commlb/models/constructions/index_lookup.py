"""One-layer, one-head transformer of width O(log N) for index lookup (BHBK24, docs/theory.md
§9.2 [reconstruction; only "nearly orthogonal vectors in O(log N) dimensions" is from the
abstract]).

Input ``x_1..x_n ? i`` (token ids: symbols 0..A−1, "?" = A, position token A+1+j names
position j).  Residual stream of width m_model = m + 1 + A:

* a code block of m dims: the positional table puts the sign code s_j ∈ {±1}^m at symbol
  position j (0 at "?" and at the index position); the embedding of the position token
  naming i puts s_i there;
* one marker dim, 1 for "?" and position tokens, 0 for symbols;
* a one-hot block of A dims, e_s for symbol s.

Head (d_k = m + 1, d_v = A): key k_j = (code block, −marker); query q = (γ·code block,
c·marker) with γ = c/m, so at the index position the score of symbol position j is
c·⟨u_i, u_j⟩ with u = s/√m (c at j = i, at most c·ε elsewhere, ε the measured coherence
of the codes), −c at "?" and 0 at the index position itself; value v_j = one-hot(x_j).
The public stabiliser is c, so the weight at j = i is exp(0) = 1.  The output projection
writes the attention output into the one-hot block (empty at the index token) and the
read-out returns that block: argmax = x_i.

Choice of c (the "large enough" of docs/theory.md §9.2), with gap = 1 − max_{i≠j}⟨u_i,u_j⟩
(≥ 1 − ε): two conditions, and c is the smallest grid value meeting both with 1/2 to spare:

* real arithmetic: the softmax mass off j = i is at most (N + 1)·exp(−c·gap) (N − 1 other
  symbols at score ≤ c − c·gap, "?" at −c, the index token at 0), which is ≤ δ = 1/100
  once c·gap ≥ ln((N + 1)/δ);
* fixed point: every other weight exp(−c·gap) rounds to 0 at f fractional bits once
  c·gap > (f + 1)·ln 2, so the p-bit attention puts mass exactly 1 on j = i (the
  hardmax-from-softmax effect of SHT24 Lemma A.2) and the read-out is exactly one-hot(x_i).

Width: m = ⌈C·log2 N⌉ with C = 12, which guarantees coherence ≤ 1/2 by Hoeffding and a
union bound (:mod:`.codes`); the drawn codes are measured and redrawn (seeded) until the
coherence holds.  Precision (default): the log-precision regime p = 2⌈log2 N⌉ clamped to
[12, 24] bits with f = p/2 fractional bits (24 = the fixed-point limit, reached at
N = 4096).  The construction itself only needs c ≤ 2^(p−1−f), so it stays exact at any
precision that passes the check in :func:`build`; the larger p of the regime makes the
exact accumulators, and so the protocol's messages, grow like O(log N).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...bits import Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel
from .codes import code_constant, code_dimension, draw_codes

__all__ = ["build", "default_precision", "CODE_COHERENCE", "CODE_CONSTANT", "SOFTMAX_DELTA"]

#: coherence the codes are drawn to (ε in docs/theory.md §9.2)
CODE_COHERENCE = 0.5
#: C in m = ⌈C·log2 N⌉ (from Hoeffding + union bound, see codes.py)
CODE_CONSTANT = code_constant(CODE_COHERENCE)
#: real-arithmetic softmax mass allowed off the looked-up position (δ)
SOFTMAX_DELTA = 0.01
_SEED = 0x1D8_4B2


def default_precision(n: int) -> Precision:
    """p = 2⌈log2 n⌉ clamped to [12, 24], f = p/2 (the log-precision regime)."""
    p = min(24, max(12, 2 * math.ceil(math.log2(max(n, 2)))))
    return Precision.fixed(p)


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          seed: int = _SEED, **options: Any) -> TransformerModel:
    """The log-width index-lookup transformer for ``n`` symbols of ``task`` (an
    :class:`~commlb.tasks.index_lookup.IndexLookupTask`).  ``width`` is the model width
    m_model = m + 1 + alphabet (default from m = ⌈12·log2 n⌉).  Other options shared by the
    model builders (``layers``, ``heads``) are accepted when they say what this
    construction is (one layer, one head) or are None."""
    for name, value in options.items():
        if value is None or (name in ("layers", "heads") and int(value) == 1):
            continue
        if name in ("layers", "heads"):
            raise InvalidInputError(
                f"the index-lookup construction has 1 layer and 1 head; drop --{name} or use random weights"
            )
        raise InvalidInputError(f"the index-lookup construction has no option {name!r}")
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"index-lookup construction: n must be >= 1, got {n}")
    alphabet = int(getattr(task, "alphabet", 2))
    extra = 1 + alphabet
    if width is None:
        m = code_dimension(n, CODE_COHERENCE)
    else:
        m = int(width) - extra
        if m < 1:
            raise InvalidInputError(
                f"index-lookup construction: width must be at least {extra + 1} (code + marker + "
                f"{alphabet} one-hot dims), got {width}"
            )
    prec = default_precision(n) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError("the index-lookup construction is built for fixed-point arithmetic (--arith fixed)")
    rng = np.random.default_rng([int(seed), n, m])
    codes = draw_codes(n, m, rng, width_given=width is not None, who="index-lookup", extra_dims=extra,
                       epsilon=CODE_COHERENCE)
    gap = 1.0 - codes.max_inner  # > 0: codes are distinct
    f = prec.frac
    need = max((f + 1) * math.log(2), math.log((n + 1) / SOFTMAX_DELTA)) + 0.5
    r = math.ceil(need * prec.scale / (m * gap))  # gamma = r / 2^f, c = gamma * m
    c_raw = r * m
    if prec.frac > prec.bits - 2 or c_raw > prec.raw_max:
        raise InvalidInputError(
            f"index-lookup construction: precision {prec.describe()} cannot hold the attention "
            f"scale c = {c_raw / prec.scale:g} (needs c <= 2^(p-1-f) and f <= p-2); use more bits"
        )
    one = int(prec.scale)  # raw value of 1.0
    vocab = alphabet + 1 + n
    length = n + 2
    mm = m + extra
    code, marker = slice(0, m), m

    embed = np.zeros((vocab, mm), dtype=np.int64)
    embed[np.arange(alphabet), m + 1 + np.arange(alphabet)] = one  # symbols: one-hot
    embed[alphabet, marker] = one  # "?"
    embed[alphabet + 1:, code] = codes.signs.astype(np.int64) * one  # position tokens: s_i
    embed[alphabet + 1:, marker] = one
    pos = np.zeros((length, mm), dtype=np.int64)
    pos[:n, code] = codes.signs.astype(np.int64) * one  # symbol positions: s_j

    dk, dv = m + 1, alphabet
    wq = np.zeros((1, 1, mm, dk), dtype=np.int64)
    wq[0, 0, np.arange(m), np.arange(m)] = r  # gamma = r / 2^f
    wq[0, 0, marker, m] = c_raw  # c
    wk = np.zeros((1, 1, mm, dk), dtype=np.int64)
    wk[0, 0, np.arange(m), np.arange(m)] = one
    wk[0, 0, marker, m] = -one
    wv = np.zeros((1, 1, mm, dv), dtype=np.int64)
    wv[0, 0, m + 1 + np.arange(alphabet), np.arange(alphabet)] = one
    wo = np.zeros((1, 1, dv, mm), dtype=np.int64)
    wo[0, 0, np.arange(alphabet), m + 1 + np.arange(alphabet)] = one
    wout = np.zeros((mm, alphabet), dtype=np.int64)
    wout[m + 1 + np.arange(alphabet), np.arange(alphabet)] = one
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.array([[c_raw]], dtype=np.int64),
        "wout": wout, "bout": np.zeros(alphabet, dtype=np.int64),
    }
    config = {
        "layers": 1, "heads": 1, "width": mm, "key_dim": dk, "value_dim": dv, "mlp_dim": 0,
        "vocab_size": vocab, "max_length": length, "causal": False, "attention": "softmax",
        "output_kind": "class", "output_positions": [-1],
        "construction": {
            "name": "index-lookup (BHBK24, docs/theory.md §9.2)",
            "code_dim": m,
            "code_constant": CODE_CONSTANT,
            "coherence": codes.coherence,
            "max_inner": codes.max_inner,
            "coherence_target": codes.target,
            "draws": codes.draws,
            "attention_scale": c_raw / prec.scale,
            "real_softmax_leak_bound": (n + 1) * math.exp(-(c_raw / prec.scale) * gap),
        },
    }
    return TransformerModel(params, prec, config)
