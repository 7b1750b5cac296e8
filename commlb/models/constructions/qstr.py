"""q-sparse token regression by one attention layer with H = q heads (MH25 §2.2,
Theorem 3 / Theorem 10 construction; docs/theory.md §7.7, §9.7), for ``qstr`` and its
simple variant ``qstr-simple`` (one shared tuple; the same weights serve both).

MH25's construction: embeddings z_i = (x_i, enc(i, t_i)) with enc stacking ω_i and
ω_{t_i1}, …, ω_{t_iq} (near-orthogonal Rademacher codes of dimension d_e), so
D_e = d + (q+1)·d_e; head h compares the query's ω_{t_ih} with the key's ω_j, so it
retrieves x_{t_ih}; the concatenated head outputs go through a ReLU MLP that implements
the link g.  Realised here with exact fixed point (derived here where noted):

* residual stream (width (q+1)·m + (q+1)·d + 1): key block (m, the sign code s_i of
  :mod:`.codes` at position i, from the positional table: ω_i), q query blocks (m each,
  s_{t_ih} from the token embedding: ω_{t_ih}), value block (d, x̂_i: x clipped to
  [−X, X] and rounded to the grid 2^(−g)), q output blocks (d each) and one sum dim;
* head h (d_k = m, d_v = d): query γ·s_{t_ih}, key s_j, value x̂_j; softmax with the
  index-lookup scale (:mod:`.index_lookup`): the score is c at j = t_ih and at most
  c·(1 − gap) elsewhere, the public stabiliser is c, and c·gap > (f + 1)·ln 2 makes every
  other weight round to 0 — head h returns x̂_{t_ih} exactly (SHT24 Lemma A.2's
  hardmax-from-softmax, here exact);
* MLP (derived here): g is a sum of functions of linear forms of the retrieved vectors —
  ``norm2``: the q·d coordinates, squared; ``he2``: ⟨u_h, x̂_{t_ih}⟩, squared;
  ``linear``: ⟨u, x̂_{t_ih}⟩.  A square is the piecewise-linear interpolant of z² on
  the breakpoints kδ (δ = 1/4, |z| ≤ B), Σ_k c_k·(ReLU(z − kδ) + ReLU(−z − kδ)) with
  c_0 = δ, c_k = 2δ (exact at every breakpoint, error ≤ δ²/4 between); the MLP adds them
  into the sum dim and the read-out applies the link's affine scale
  (1/√(qd), −√(qd) for ``norm2``; 1/√(2q), −√(q/2) for ``he2``; 1/q for ``linear``).

Tokens: the model is a :class:`~commlb.models.transformer.TransformerModel` with a field
embedding (config ``embed_fields``: d fields of 2·X·2^g + 1 grid levels of x, then q
fields of N positions of t; the embedding is the sum of one table row per field), so
the table has d·(2·X·2^g + 1) + q·N rows instead of one per token; :func:`token_ids`
packs qSTR tokens, and saved weights reload as the same model.

Error (``config["construction"]["error_bound"]``, derived term by term in
:func:`_error_bound`): quantising x (≤ X·2^(−g) per square, ≤ √d·2^(−g−1) per linear
form), the interpolation (δ²/4 per square) and the fixed-point roundings, times the
link's scale.  Inputs with |x| > X (X = 8: probability ≈ 10^-15 per Gaussian
coordinate) are clipped; the bound is stated for the clipped input.

Size: m = ⌈12·log2 N⌉ (coherence ≤ 1/2, :mod:`.codes`), width (q+1)·(m + d) + 1 =
(q+1)·(12·log2 N + d) + 1, H = q heads, d_ff = (forms)·2·(B/δ) (q·d·64 for ``norm2``),
independent of N.  Precision (default): f = max(⌈log2 N⌉, g + 2) with g = 8, and enough
integer bits for the attention scale c and the sum of squares: p = O(log N) (≤ 24).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel, pack_fields
from . import refuse_options
from .codes import code_dimension, random_sign_codes

__all__ = ["build", "token_ids", "CLIP", "GRID_BITS", "BREAK_STEP", "CODE_CONSTANT"]

#: inputs are clipped to [−CLIP, CLIP]
CLIP = 8.0
#: x is rounded to the grid 2^-GRID_BITS
GRID_BITS = 8
#: spacing δ of the breakpoints of the piecewise-linear square
BREAK_STEP = 0.25
#: C in m = ⌈C·log2 N⌉ (coherence 1/2, codes.py)
CODE_CONSTANT = 12
#: real-arithmetic softmax mass allowed off the retrieved position
SOFTMAX_DELTA = 0.01
_SEED = 0x57A


def _link_scale(link: str, q: int, d: int) -> tuple[float, float]:
    """(α, β): y = α·S + β where S is the sum the MLP computes."""
    if link == "norm2":
        return 1 / math.sqrt(q * d), -math.sqrt(q * d)
    if link == "he2":
        return 1 / math.sqrt(2 * q), -math.sqrt(q / 2)
    return 1.0 / q, 0.0


def _error_bound(link: str, q: int, d: int, f: int, alpha: float, alpha_raw: int, beta: float,
                 beta_raw: int, s_max: float, u_err: float) -> float:
    """|model − g(clipped x)| ≤ this (derived here).

    Per square of a form z (z = a coordinate, or ⟨u_h, x̂⟩ with u rounded to f bits):
    |z² − ẑ²| ≤ 2|z|·e_z + e_z², e_z = input quantisation (+ rounding of u and of the
    form), plus δ²/4 of the interpolation; per linear form e_z.  The MLP output is one
    rounding (2^(−f−1)), the read-out multiplies by α rounded (|α − α̂|·S_max) plus β
    rounded and one more rounding."""
    grid = 2.0 ** -GRID_BITS
    step = 2.0 ** -f
    if link == "norm2":
        e_z = grid / 2
        per = 2 * CLIP * e_z + e_z**2 + BREAK_STEP**2 / 4
        forms = q * d
    else:
        zmax = math.sqrt(d) * CLIP
        # |⟨u, x⟩ − ⟨û, x̂⟩| ≤ ‖x − x̂‖₁·max|û| + ‖u − û‖₁·max|x| + rounding of the form
        e_z = d * grid / 2 + d * u_err * CLIP + step / 2
        per = (2 * zmax * e_z + e_z**2 + BREAK_STEP**2 / 4) if link == "he2" else e_z
        forms = q
    total = abs(alpha) * (forms * per + step / 2)
    total += abs(alpha - alpha_raw * step) * s_max + abs(beta - beta_raw * step) + step / 2
    return total


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          layers: int | None = None, heads: int | None = None, seed: int = _SEED,
          outputs: str = "all", **options: Any) -> TransformerModel:
    """The q-head qSTR transformer for ``n`` tokens of ``task`` (a
    :class:`~commlb.tasks.qstr.QSTRTask` or ``SimpleQSTRTask``: q, d, link "norm2",
    "linear" or "he2").  ``width`` (the model width (q+1)(m+d)+1) sets the code
    dimension m; ``heads`` must be q; ``outputs`` "all" or "last".  Pack tokens with
    :func:`token_ids`."""
    q = int(getattr(task, "q", 0))
    d = int(getattr(task, "d", 0))
    link = getattr(task, "link", None)
    if q < 1 or d < 1:
        raise InvalidInputError("the qSTR construction needs a qSTR task (q >= 1, d >= 1)")
    if not isinstance(link, str) or link not in ("norm2", "linear", "he2"):
        raise InvalidInputError("the qSTR construction implements the links norm2, linear and he2, not a callable")
    if layers is not None and int(layers) != 1:
        raise InvalidInputError("the qSTR construction has 1 layer; drop --layers or use random weights")
    if heads is not None and int(heads) != q:
        raise InvalidInputError(f"the qSTR construction has H = q = {q} heads (MH25 Thm 3); drop --heads")
    refuse_options("qSTR", options)
    if outputs not in ("all", "last"):
        raise InvalidInputError(f"qSTR construction: outputs must be 'all' or 'last', not {outputs!r}")
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"qSTR construction: n must be >= 1, got {n}")
    extra = (q + 1) * d + 1
    if width is None:
        m = code_dimension(n, 0.5)
    else:
        m = (int(width) - extra) // (q + 1)
        if m < 1 or (q + 1) * m + extra != int(width):
            raise InvalidInputError(
                f"qSTR construction: width must be (q+1)·m + {extra} with m >= 1, got {width}")

    forms = q * d if link == "norm2" else q
    bound = CLIP if link == "norm2" else math.sqrt(d) * CLIP
    breaks = math.ceil(bound / BREAK_STEP)
    s_max = forms * (breaks * BREAK_STEP) ** 2 if link != "linear" else forms * bound
    if precision is None:
        f = max(math.ceil(math.log2(max(n, 2))), GRID_BITS + 2)
        need_c = max((f + 1) * math.log(2), math.log(n / SOFTMAX_DELTA)) + 0.5
        top = max(s_max + 1, 2 * need_c + 2, bound * 2 + 1)
        p = f + math.ceil(math.log2(top)) + 2
        if p > MAX_FIXED_BITS:
            f -= p - MAX_FIXED_BITS
            p = MAX_FIXED_BITS
        prec = Precision.fixed(p, f)
    else:
        prec = precision
    if not prec.is_fixed:
        raise InvalidInputError("the qSTR construction is built for fixed-point arithmetic (--arith fixed)")
    f = prec.frac
    if f < GRID_BITS or prec.max_value < s_max:
        raise InvalidInputError(
            f"qSTR construction: {prec.describe()} needs f >= {GRID_BITS} and range >= {s_max:g}")
    one = 1 << f
    rng = np.random.default_rng([int(seed), n, m])
    codes = random_sign_codes(n, m, rng, 0.5 if width is None else 1 - 1 / m, max_draws=64)
    gap = 1.0 - codes.max_inner
    need = max((f + 1) * math.log(2), math.log(max(n, 2) / SOFTMAX_DELTA)) + 0.5
    r = math.ceil(need * one / (m * gap))
    c_raw = r * m
    if c_raw > prec.raw_max:
        raise InvalidInputError(f"qSTR construction: {prec.describe()} cannot hold the attention scale "
                                f"c = {c_raw / one:g}; use more integer bits")
    signs = codes.signs.astype(np.int64)

    H = q
    W = (q + 1) * m + extra
    kb = slice(0, m)
    qb = [slice((h + 1) * m, (h + 2) * m) for h in range(H)]
    vb = slice((q + 1) * m, (q + 1) * m + d)
    ob = [slice((q + 1) * m + d * (h + 1), (q + 1) * m + d * (h + 2)) for h in range(H)]
    sb = W - 1
    levels = 2 * int(CLIP * (1 << GRID_BITS)) + 1
    fields = [levels] * d + [n] * q
    tables = []
    for c in range(d):
        t = np.zeros((levels, W), dtype=np.int64)
        t[:, vb.start + c] = (np.arange(levels) - levels // 2) << (f - GRID_BITS)
        tables.append(t)
    for h in range(H):
        t = np.zeros((n, W), dtype=np.int64)
        t[:, qb[h]] = signs * r  # γ·s_t with γ = r/2^f
        tables.append(t)
    embed = np.concatenate(tables)
    pos = np.zeros((n, W), dtype=np.int64)
    pos[:, kb] = signs * one
    eye_m = np.eye(m, dtype=np.int64) * one
    eye_d = np.eye(d, dtype=np.int64) * one
    wq = np.zeros((1, H, W, m), dtype=np.int64)
    wk = np.zeros((1, H, W, m), dtype=np.int64)
    wv = np.zeros((1, H, W, d), dtype=np.int64)
    wo = np.zeros((1, H, d, W), dtype=np.int64)
    for h in range(H):
        wq[0, h, qb[h], :] = eye_m
        wk[0, h, kb, :] = eye_m
        wv[0, h, vb, :] = eye_d
        wo[0, h, :, ob[h]] = eye_d

    # linear forms a_k on the residual (raw coefficients, f fractional bits)
    u_err = 0.0
    form_rows: list[np.ndarray] = []
    if link == "norm2":
        for h in range(H):
            for c in range(d):
                a = np.zeros(W, dtype=np.int64)
                a[ob[h].start + c] = one
                form_rows.append(a)
    else:
        us = task.u if link == "he2" else np.repeat(task.u[:1], q, axis=0)
        u_raw = prec.quantize(us).values
        u_err = float(np.max(np.abs(u_raw / one - us)))
        for h in range(H):
            a = np.zeros(W, dtype=np.int64)
            a[ob[h]] = u_raw[h]
            form_rows.append(a)
    units, coefs, offsets = [], [], []
    step_raw = int(BREAK_STEP * one)
    for a in form_rows:
        if link == "linear":
            for sign in (1, -1):
                units.append(sign * a)
                offsets.append(0)
                coefs.append(sign * one)
            continue
        for k in range(breaks):
            c_k = step_raw if k == 0 else 2 * step_raw
            for sign in (1, -1):
                units.append(sign * a)
                offsets.append(-k * step_raw)
                coefs.append(c_k)
    dff = len(units)
    w1 = np.zeros((1, W, dff), dtype=np.int64)
    w1[0] = np.stack(units, axis=1)
    b1 = np.array([offsets], dtype=np.int64)
    w2 = np.zeros((1, dff, W), dtype=np.int64)
    w2[0, :, sb] = coefs
    alpha, beta = _link_scale(link, q, d)
    alpha_raw = int(prec.quantize(alpha).values)
    beta_raw = int(prec.quantize(beta).values)
    wout = np.zeros((W, 1), dtype=np.int64)
    wout[sb, 0] = alpha_raw
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.full((1, H), c_raw, dtype=np.int64),
        "w1": w1, "b1": b1, "w2": w2, "b2": np.zeros((1, W), dtype=np.int64),
        "wout": wout, "bout": np.array([beta_raw], dtype=np.int64),
    }
    config = {
        "layers": 1, "heads": H, "width": W, "key_dim": m, "value_dim": d, "mlp_dim": dff,
        "vocab_size": math.prod(fields), "embed_fields": fields, "max_length": n, "causal": False,
        "attention": "softmax", "output_kind": "vector",
        "output_positions": list(range(n)) if outputs == "all" else [-1],
        "construction": {
            "name": "qSTR with H = q heads (MH25 Theorem 3, docs/theory.md §9.7)",
            "q": q, "d": d, "n": n, "link": link, "code_dim": m, "code_constant": CODE_CONSTANT,
            "coherence": codes.coherence, "max_inner": codes.max_inner,
            "attention_scale": c_raw / one, "clip": CLIP, "grid_bits": GRID_BITS,
            "break_step": BREAK_STEP,
            "error_bound": _error_bound(link, q, d, f, alpha, alpha_raw, beta, beta_raw, s_max, u_err),
            "real_softmax_leak_bound": n * math.exp(-(c_raw / one) * gap),
        },
    }
    return TransformerModel(params, prec, config)


def token_ids(model: TransformerModel, tokens: np.ndarray) -> np.ndarray:
    """Pack qSTR tokens (structured x, t, pos) into the model's token ids: each coordinate
    of x clipped to [−X, X] and rounded to the grid 2^-g, then the q positions of t."""
    config = getattr(model, "config", {}) or {}
    info = config.get("construction")
    if (not isinstance(info, dict) or not {"q", "d", "n", "link"} <= set(info)
            or config.get("embed_fields") is None):
        raise InvalidInputError("qSTR tokens are read only by the qSTR construction's field embedding "
                                "(this model was not built by commlb.models.constructions.qstr)")
    arr = np.asarray(tokens)
    if arr.dtype.names is None or not {"x", "t"} <= set(arr.dtype.names):
        raise InvalidInputError("qSTR tokens must be a structured array with fields x, t, pos")
    n = len(arr)
    q, d = int(info["q"]), int(info["d"])
    x = np.asarray(arr["x"], dtype=np.float64).reshape(n, -1)
    t = np.asarray(arr["t"], dtype=np.int64).reshape(n, -1)
    if x.shape[1] != d or t.shape[1] != q:
        raise InvalidInputError(f"qSTR tokens have d = {x.shape[1]}, q = {t.shape[1]}; the model wants {d}, {q}")
    if t.size and (t.min() < 0 or t.max() >= int(info["n"])):
        raise InvalidInputError(f"qSTR positions must lie in [0, {info['n']})")
    half = int(CLIP * (1 << GRID_BITS))
    levels = np.clip(np.floor(x * (1 << GRID_BITS) + 0.5), -half, half).astype(np.int64) + half
    fields = [levels[:, c] for c in range(d)] + [t[:, h] for h in range(q)]
    return pack_fields(fields, model.config["embed_fields"])
