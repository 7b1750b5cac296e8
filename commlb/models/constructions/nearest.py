"""A two-layer transformer for nearest neighbour (BHBK24; docs/theory.md §9.4: the result is from the
abstract, the weights are commlb's own derivation).

Input ``p_1 c_1 p_2 c_2 … p_k c_k ? q`` (:mod:`commlb.tasks.nearest`: a point is a cube
vertex v ∈ {0,1}^d given as one token, seen as the vector (2v − 1) ∈ {±1}^d; a label
token is 2^d + c; "?" is 2^d + labels).  Length T = 2k + 2.  For ±1 vectors ⟨v, w⟩ =
d − 2·Hamming(v, w), so the nearest stored point is the one of largest inner product,
and two different inner products differ by at least 2.

Residual stream (width 2d + 2·labels + 4): ONE, POS = j and PAR = (−1)^j from the
positional table; VEC (d dims, the ±1 vector of a point token), LAB (one-hot of a label
token) and ISLABEL (1 for label tokens) from the embedding; BVEC (d) and OUT (labels)
written by the layers.  Nothing depends on k except the table's length, so the model
built for k points also answers every instance with fewer points.

* Layer 1 (bind each label to its point): every position attends to the previous one
  (score ``j − 2·(−1)^(i+j)`` under the causal mask: i + 1 at j = i − 1, i − 2 at
  j = i, ≤ i − 1 elsewhere — the previous-token head of :mod:`.khop`) and copies its
  VEC into BVEC.  At c_r's position BVEC is then p_r's vector.
* Layer 2 (the query reads the nearest label): the last position's query is
  (VEC, −(2d + 1)) against keys (BVEC, 1 − ISLABEL): the score at c_r's position is
  ⟨q, p_r⟩ ∈ [−d, d], and at every other position at most d − (2d + 1) < −d.  The value
  is LAB, written into OUT; the read-out returns OUT, whose argmax is the label.
  Ties among equally near points are averaged: when they share their label (the only
  case with a defined answer, :meth:`NearestNeighborTask.solve`) the average is that
  label's one-hot exactly.

Attention: hard (SHT24 Lemma A.2 hardmax).  BHBK24 use a softmax whose scale c makes it
nearly hard under the margin 2 between inner products (real-arithmetic mass off the
nearest points ≤ k·e^(−2c)).  Here the softmax stabiliser is a *public constant*
(:mod:`commlb.models.transformer`), while the layer-2 maximum d − 2·h depends on the
query's distance h to its nearest point: weights e^(c·(s − c·d)) of a far query would
all round to 0 in p-bit fixed point unless p grows like c·d.  Hard attention realises
the intended hardmax exactly.

Size: L = 2 layers, H = 1 head, width 2d + 2·labels + 4, d_k = max(2, d + 1),
d_v = max(d, labels).  With d = ⌈log2 k⌉ (the points are then k of the nearly
orthogonal vectors of docs/theory.md §9.4 — as in ``index-to-nearest-neighbor``) the width is
O(log N).  Precision: every value is an integer; the default format is integer fixed
point (f = 0) with p = bits of max(T + 2, 3d + 1) plus sign: O(log N).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel
from . import refuse_options
from .hardmax import softmax_requirement

__all__ = ["build", "default_precision", "required_magnitude", "model_width"]


def model_width(d: int, labels: int) -> int:
    """2d + 2·labels + 4."""
    return 2 * int(d) + 2 * int(labels) + 4


def required_magnitude(length: int, d: int) -> int:
    """The largest |integer| computed: layer-1 scores (≤ T + 2), layer-2 scores and query
    entries (≤ 3d + 1), one-hots."""
    return max(int(length) + 2, 3 * int(d) + 1, 2)


def default_precision(length: int, d: int) -> Precision:
    bits = required_magnitude(length, d).bit_length() + 1
    if bits > MAX_FIXED_BITS:
        raise InvalidInputError(f"nearest-neighbour construction: length {length} needs {bits} bits")
    return Precision.fixed(max(bits, 4), 0)


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          layers: int | None = None, heads: int | None = None, seed: int = 0,
          **options: Any) -> TransformerModel:
    """The two-layer nearest-neighbour transformer for ``n`` labelled points of ``task``
    (a :class:`~commlb.tasks.nearest.NearestNeighborTask`; d and the number of labels come
    from it).  ``layers``/``heads``/``width`` are accepted when they equal what the
    construction is (2, 1, 2d + 2·labels + 4); ``seed`` is accepted and unused."""
    refuse_options("nearest-neighbour", options)
    d = int(getattr(task, "d", 0))
    labels = int(getattr(task, "labels", 0))
    if d < 1 or labels < 1:
        raise InvalidInputError("the nearest-neighbour construction needs a nearest-neighbor task")
    k = int(n)
    if k < 1:
        raise InvalidInputError(f"nearest-neighbour construction: n must be >= 1, got {n}")
    m = model_width(d, labels)
    if layers is not None and int(layers) != 2:
        raise InvalidInputError("the nearest-neighbour construction has 2 layers; drop --layers or use random weights")
    if heads is not None and int(heads) != 1:
        raise InvalidInputError("the nearest-neighbour construction has 1 head; drop --heads or use random weights")
    if width is not None and int(width) != m:
        raise InvalidInputError(f"the nearest-neighbour construction has width 2d + 2*labels + 4 = {m}; drop --width")
    length = 2 * k + 2
    prec = default_precision(length, d) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError("the nearest-neighbour construction uses hard attention, which needs fixed point")
    magnitude = required_magnitude(length, d)
    # integer scores: margin 1 (label positions vs the rest, and between distances)
    softmax = softmax_requirement(length, 1.0, magnitude, magnitude, prec.frac, prec.bits)
    if magnitude * (1 << prec.frac) > prec.raw_max:
        raise InvalidInputError(
            f"nearest-neighbour construction: {prec.describe()} cannot hold integers up to {magnitude}"
        )
    one = 1 << prec.frac
    ONE, POS, PAR, ISLABEL = 0, 1, 2, 3
    vec = slice(4, 4 + d)
    bvec = slice(4 + d, 4 + 2 * d)
    lab = slice(4 + 2 * d, 4 + 2 * d + labels)
    out = slice(4 + 2 * d + labels, m)
    points = 1 << d
    vocab = points + labels + 1

    embed = np.zeros((vocab, m), dtype=np.int64)
    bits = (np.arange(points)[:, None] >> np.arange(d)[None, :]) & 1
    embed[:points, vec] = (2 * bits - 1) * one
    embed[points + np.arange(labels), lab.start + np.arange(labels)] = one
    embed[points:points + labels, ISLABEL] = one
    j = np.arange(length, dtype=np.int64)
    pos = np.zeros((length, m), dtype=np.int64)
    pos[:, ONE] = one
    pos[:, POS] = j * one
    pos[:, PAR] = np.where(j % 2 == 0, 1, -1) * one

    dk, dv = max(2, d + 1), max(d, labels)
    wq = np.zeros((2, 1, m, dk), dtype=np.int64)
    wk = np.zeros_like(wq)
    wv = np.zeros((2, 1, m, dv), dtype=np.int64)
    wo = np.zeros((2, 1, dv, m), dtype=np.int64)
    # layer 1: previous position, copy VEC -> BVEC
    wq[0, 0, ONE, 0] = one
    wq[0, 0, PAR, 1] = -2 * one
    wk[0, 0, POS, 0] = one
    wk[0, 0, PAR, 1] = one
    wv[0, 0, vec.start + np.arange(d), np.arange(d)] = one
    wo[0, 0, np.arange(d), bvec.start + np.arange(d)] = one
    # layer 2: <VEC_q, BVEC_j> - (2d + 1)·(1 - ISLABEL_j), value LAB -> OUT
    wq[1, 0, vec.start + np.arange(d), np.arange(d)] = one
    wq[1, 0, ONE, d] = -(2 * d + 1) * one
    wk[1, 0, bvec.start + np.arange(d), np.arange(d)] = one
    wk[1, 0, ONE, d] = one
    wk[1, 0, ISLABEL, d] = -one
    wv[1, 0, lab.start + np.arange(labels), np.arange(labels)] = one
    wo[1, 0, np.arange(labels), out.start + np.arange(labels)] = one
    wout = np.zeros((m, labels), dtype=np.int64)
    wout[out.start + np.arange(labels), np.arange(labels)] = one
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.zeros((2, 1), dtype=np.int64),
        "wout": wout, "bout": np.zeros(labels, dtype=np.int64),
    }
    config = {
        "layers": 2, "heads": 1, "width": m, "key_dim": dk, "value_dim": dv, "mlp_dim": 0,
        "vocab_size": vocab, "max_length": length, "causal": True, "attention": "hard",
        "output_kind": "class", "output_positions": [-1],
        "construction": {
            "name": "two-layer nearest neighbour (BHBK24, docs/theory.md §9.4); " + softmax.describe(),
            "softmax": softmax.to_json(),
            "points": k,
            "d": d,
            "labels": labels,
            "width_formula": "2d + 2*labels + 4",
            "max_integer": magnitude,
        },
    }
    return TransformerModel(params, prec, config)
