"""Match2 by one attention layer with query/key dimension m = 3 (SHT23 Theorem 6;
docs/theory.md §9.6 — SHT23's own construction could not be read; this module's
variant is derived and checked here).

Match2(X)_i = 1 iff x_i + x_j ≡ 0 (mod M) for some j (j = i allowed), x ∈ [0, M)
(:mod:`commlb.tasks.match`).

The code (derived here).  Every residue x gets a point K[x] on the unit sphere S² ⊂ R³ such that
negation mod M is the reflection R(a, b, c) = (a, −b, c): K[−x] = R·K[x].  The M residues
fall into pairs {x, −x} (x ≠ −x) and the self-paired residues 0 and M/2 (M even).  Pair k
gets a point v_k of a Fibonacci spiral on the cap b ≥ β of the upper hemisphere (axis b)
and its mirror R·v_k; the self-paired residues sit at (±1, 0, 0) on the mirror circle.
Because R is linear, the query R·K[x_i] is a linear map of the key block, so one block of
three dims serves as key, query and value.  The circle embedding (cos, sin, 1) of
docs/theory.md §9.6 has the same
reflection symmetry but a score gap of ≈ 2π²/M², which needs p ≈ 2·log2 M fractional
bits; points on the sphere are ≈ M^{-1/2} apart, a score gap of order 1/M, so
p = log2 M + O(1) bits suffice (still the p = O(log M) of the theorem).

The layer (one head, **hard attention** by default = SHT24 Lemma A.2's hardmax, which
softmax with scale c = Θ((p/ξ)·log N) reproduces; ``attention="softmax"`` builds that
softmax — query c·R·K with an integer c > ((f + 1)·ln 2 + 1)/margin, checked on every
rounded score — but with the margin ξ ≈ 1.6/M it needs c ≈ M·f and p ≈ 2·log2 M + O(1)
bits, which passes the 24-bit fixed-point limit beyond M = 128):

* residual stream of width **7**: ``K`` (3 dims, K̂[x_i], the rounded code, from the
  embedding; no positional table: Match2 is permutation invariant), ``A`` (3 dims, the
  attention output) and ``O`` (1 dim, the answer);
* query q_i = R·K̂[x_i] = K̂[−x_i], key k_j = K̂[x_j], value v_j = K̂[x_j]
  (d_k = d_v = 3: SHT23's m = 3).  The score ⟨K̂[−x_i], K̂[y]⟩ is largest exactly at
  y = −x_i (checked on the rounded integer code at build time: ``margin``), so if some
  x_j ≡ −x_i the hardmax averages copies of K̂[−x_i] and A = K̂[−x_i] exactly; otherwise A
  is the rounded average of points all ≥ margin away in score, so
  ‖A − K̂[−x_i]‖₁ ≥ margin/‖K̂[−x_i]‖ − 3·2^(−f−1) > 2τ;
* MLP (d_ff = 6): hidden = ReLU(±(A − R·K)), O = τ − Σ hidden (exact: every value lies on
  the fixed-point grid);
* read-out (1 dim) = O; decision 1 iff O > 0, at every position.

Size: width 7, one head of d_k = d_v = 3, d_ff = 6, for every N and M.  Precision
(default): f = ⌈log2 M⌉ + 5 fractional bits, p = f + 5 (so p = log2 M + O(1); M ≤ 2^14
fits the 24-bit fixed-point limit).  With M = N^{O(1)} this is p = O(log N).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel
from . import refuse_options
from .hardmax import softmax_requirement

__all__ = ["build", "default_precision", "sphere_code", "WIDTH"]

#: residual width: code (3) + attention output (3) + answer (1)
WIDTH = 7
_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))


def default_precision(modulus: int) -> Precision:
    """f = ⌈log2 M⌉ + 5 fractional bits, p = f + 5 (values in [−1, 1], hidden units in
    [0, 2], the answer in [−12, 1])."""
    f = math.ceil(math.log2(max(int(modulus), 2))) + 5
    return Precision.fixed(f + 5, f)


def sphere_code(modulus: int) -> np.ndarray:
    """(M, 3) real unit vectors K[x] with K[−x mod M] = R·K[x], R = diag(1, −1, 1)."""
    M = int(modulus)
    out = np.zeros((M, 3))
    pairs = [x for x in range(1, M) if x < M - x]
    P = len(pairs)
    # cap b >= beta: points about sqrt(2π(1 − β)/P) apart; keep the mirror images as far
    beta = min(0.5, 0.5 * math.sqrt(2 * math.pi / max(P, 1)))
    for k, x in enumerate(pairs):
        b = beta + (1 - beta) * (k + 0.5) / P
        r = math.sqrt(max(0.0, 1 - b * b))
        phi = k * _GOLDEN
        out[x] = (r * math.cos(phi), b, r * math.sin(phi))
        out[M - x] = (r * math.cos(phi), -b, r * math.sin(phi))
    out[0] = (1.0, 0.0, 0.0)
    if M % 2 == 0:
        out[M // 2] = (-1.0, 0.0, 0.0)
    return out


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          layers: int | None = None, heads: int | None = None, seed: int = 0,
          outputs: str = "all", attention: str = "hard", **options: Any) -> TransformerModel:
    """The width-7, one-head Match2 transformer for ``n`` values of ``task`` (a
    :class:`~commlb.tasks.match.Match2Task`, modulus ``task.M``).  The model does not
    depend on ``n`` except through its positional table size; ``seed`` is unused (the
    code is deterministic).  ``width``/``layers``/``heads`` are accepted when they equal
    7/1/1.  ``outputs``: answer at every position ("all", default) or only the last
    ("last", what a reduction reads).  ``attention``: "hard" (default) or "softmax"
    (query scaled by an integer c with c·margin > (f + 1)·ln 2 + 1, public stabiliser the
    largest self score: every non-matching weight rounds to 0 when a match exists;
    p = f + log2 c + O(1), so only small M fit 24 bits — refused otherwise)."""
    for name, value, want in (("width", width, WIDTH), ("layers", layers, 1), ("heads", heads, 1)):
        if value is not None and int(value) != want:
            raise InvalidInputError(f"the Match2 construction has {name} {want}; drop --{name} or use random weights")
    refuse_options("Match2", options)
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"Match2 construction: n must be >= 1, got {n}")
    if outputs not in ("all", "last"):
        raise InvalidInputError(f"Match2 construction: outputs must be 'all' or 'last', not {outputs!r}")
    if attention not in ("hard", "softmax"):
        raise InvalidInputError(f"Match2 construction: attention must be 'hard' or 'softmax', not {attention!r}")
    M = int(getattr(task, "M", 0))
    if M < 2:
        raise InvalidInputError("the Match2 construction needs a Match2 task with modulus M >= 2")
    prec = default_precision(M) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError("the Match2 construction is built for fixed-point arithmetic (--arith fixed)")
    if prec.bits - prec.frac < 5:
        raise InvalidInputError(
            f"Match2 construction: {prec.describe()} leaves {prec.bits - prec.frac} integer bits; "
            "it needs 5 (sign + the answer's range [-12, 1])"
        )
    one = int(prec.scale)
    code = prec.quantize(sphere_code(M)).values  # raw, exact mirror symmetry kept:
    # quantize rounds b and −b to opposite raw values only if no tie; force it
    pairs = [x for x in range(1, M) if x < M - x]
    code[[M - x for x in pairs]] = code[pairs] * np.array([1, -1, 1])
    refl = np.array([1, -1, 1], dtype=np.int64)
    target = code[(-np.arange(M)) % M]
    if not np.array_equal(target, code * refl):
        raise InvalidInputError("Match2 construction: the rounded code lost its mirror symmetry")
    # exact score gap on the rounded code: <K[t], K[t]> vs <K[t], K[y]>, y != t
    self_score = np.einsum("ij,ij->i", code, code)  # raw^2 units, exact in int64
    margin_raw2 = int(self_score.min())
    code_f = code.astype(np.float64)  # |raw| < 2^23: the products and sums stay exact below 2^53
    for start in range(0, M, 1024):  # blocks of the Gram matrix (memory stays O(M))
        block = code_f[start:start + 1024] @ code_f.T  # integers, exact in float64
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = -np.inf
        if M > 1:
            best = block.max(axis=1).astype(np.int64)
            margin_raw2 = min(margin_raw2, int(np.min(self_score[start:start + 1024] - best)))
    if margin_raw2 <= 0:
        raise InvalidInputError(
            f"Match2 construction: {prec.describe()} cannot separate {M} residues on the sphere; "
            f"use at least {default_precision(M).frac} fractional bits"
        )
    # ‖A − T‖₁ ≥ ‖A − T‖₂ ≥ margin/‖T‖ − 3·2^(−f−1) when there is no match
    norm_max = math.sqrt(float(self_score.max())) / one
    sep = margin_raw2 / one**2 / norm_max - 3.0 / (2 * one)
    tau_raw = math.floor(sep / 2 * one)
    if tau_raw < 1:
        raise InvalidInputError(
            f"Match2 construction: {prec.describe()} leaves no threshold between match and "
            f"no match for M = {M}; use at least {default_precision(M).frac} fractional bits"
        )
    scale_c, stab_raw = 1, 0
    softmax = None if attention != "hard" else softmax_requirement(
        n, margin_raw2 / one**2, float(self_score.max()) / one**2, norm_max, prec.frac, prec.bits)
    if attention == "softmax":
        margin = margin_raw2 / one**2
        scale_c = math.ceil(((prec.frac + 1) * math.log(2) + 1) / margin)
        top = scale_c * int(self_score.max()) // one + 1  # largest score (raw)
        need = max(prec.frac + 5, (top + scale_c * one).bit_length() + 1)
        if precision is None and need > prec.bits:
            if need > MAX_FIXED_BITS:
                raise InvalidInputError(
                    f"Match2 construction (softmax): M = {M} needs c = {scale_c} and {need} bits, beyond "
                    f"the {MAX_FIXED_BITS}-bit fixed-point limit; use attention='hard'")
            prec = Precision.fixed(need, prec.frac)
        if need > prec.bits:
            raise InvalidInputError(f"Match2 construction (softmax): {prec.describe()} cannot hold c = {scale_c}")
        # exact check on the rounded scores: round(c·<K_t, K_y> / 2^f) for every t, y
        stab_raw = (2 * scale_c * int(self_score.max()) + one) // (2 * one)
        for start in range(0, M, 1024):
            acc = scale_c * (code[start:start + 1024] @ code.T)
            scores = np.floor_divide(2 * acc + one, 2 * one)
            rows = np.arange(scores.shape[0])
            on = scores[rows, rows + start].copy()
            scores[rows, rows + start] = np.iinfo(np.int64).min
            if np.any(stab_raw - scores.max(axis=1) <= (prec.frac + 1) * math.log(2) * one) or np.any(
                    stab_raw - on > one):
                raise InvalidInputError(f"Match2 construction (softmax): c = {scale_c} leaves a non-matching "
                                        "weight above the rounding; use attention='hard'")

    kb, ab, ob = slice(0, 3), slice(3, 6), 6
    embed = np.zeros((M, WIDTH), dtype=np.int64)
    embed[:, kb] = code
    pos = np.zeros((n, WIDTH), dtype=np.int64)
    eye = np.eye(3, dtype=np.int64) * one
    wq = np.zeros((1, 1, WIDTH, 3), dtype=np.int64)
    wq[0, 0, kb, :] = eye * refl * scale_c  # q = c·R·K (c = 1 for hard attention)
    wk = np.zeros((1, 1, WIDTH, 3), dtype=np.int64)
    wk[0, 0, kb, :] = eye
    wv = wk.copy()
    wo = np.zeros((1, 1, 3, WIDTH), dtype=np.int64)
    wo[0, 0, :, ab] = eye
    # hidden 0..2: ReLU(A − R·K), hidden 3..5: ReLU(R·K − A)
    w1 = np.zeros((1, WIDTH, 6), dtype=np.int64)
    w1[0, ab, 0:3] = eye
    w1[0, kb, 0:3] = -eye * refl
    w1[0, ab, 3:6] = -eye
    w1[0, kb, 3:6] = eye * refl
    w2 = np.zeros((1, 6, WIDTH), dtype=np.int64)
    w2[0, :, ob] = -one
    b2 = np.zeros((1, WIDTH), dtype=np.int64)
    b2[0, ob] = tau_raw
    wout = np.zeros((WIDTH, 1), dtype=np.int64)
    wout[ob, 0] = one
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.full((1, 1), stab_raw, dtype=np.int64),
        "w1": w1, "b1": np.zeros((1, 6), dtype=np.int64), "w2": w2, "b2": b2,
        "wout": wout, "bout": np.zeros(1, dtype=np.int64),
    }
    config = {
        "layers": 1, "heads": 1, "width": WIDTH, "key_dim": 3, "value_dim": 3, "mlp_dim": 6,
        "vocab_size": M, "max_length": n, "causal": False, "attention": attention,
        "output_kind": "binary", "output_positions": list(range(n)) if outputs == "all" else [-1],
        "construction": {
            "name": "Match2 (SHT23 Theorem 6, docs/theory.md §9.6; sphere code derived here)"
                    + ("; " + softmax.describe() if softmax is not None else "; softmax attention"),
            "softmax": None if softmax is None else softmax.to_json(),
            "modulus": M,
            "key_dim": 3,
            "score_margin": margin_raw2 / one**2,
            "threshold": tau_raw / one,
            "attention_scale": scale_c,
            "precision": prec.describe(),
        },
    }
    return TransformerModel(params, prec, config)
