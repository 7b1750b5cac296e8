"""q-sparse averaging by one attention layer of width O(q log N) (SHT23 Theorem 2;
docs/theory.md §7.5, §9.5).

Theorem (SHT23 Thm 2; construction as restated in SHT24 App. F.2): one
self-attention unit with embedding dimension m = O(d' + q log N) ε-approximates qSA with
p = O(log((q/ε) log N)) bits.  Construction: codes u_1..u_N in {±1/√m}^m and, for every
q-set S, a *dual certificate* w_S with ⟨u_j, w_S⟩ = 1 on S and ≤ 1/2 off S; query of token
i = c·w_{y_i}, key of token j = u_j, value z_j, so the attention is uniform on y_i.

What is built here (derived here; one layer, one head, **hard attention** by default — SHT24 Lemma A.2's
hardmax, which softmax with query scale c = Θ((p/ξ) log N) reproduces; see "why hard"
below):

* keys: the positional table puts the sign code s_j ∈ {±1}^m (raw ±1) at position j;
* query of token i: a certificate for S = y_i whose score ⟨q, s_j⟩ is *exactly the same
  integer* for every j ∈ S and strictly smaller off S, checked on every set at build
  time.  Two forms:

  - ``sum`` (q ≤ 2, any N): w_S = Σ_{j∈S} s_j.  For q = 2, ⟨s_a, s_a + s_b⟩ = m + g_ab =
    ⟨s_b, s_a + s_b⟩ (the Gram matrix is symmetric), so the scores on S tie exactly; off
    S they are g_aj + g_bj, and the draw is kept when max_j g_aj + max_j g_bj < m + g_ab
    for every pair (a sufficient check, N² work).  The query is *linear* in the pointer
    indicators, so the embedding is the sum of one row per pointer (q fields of N rows);
  - ``table`` (any q, small N): the least-squares certificate w_S = S_S (S_Sᵀ S_S)^{-1} 1
    (docs/theory.md §9.5's recipe) scaled by K·2^f and rounded: on S the exact score is
    K·2^f ± m/2, which rounds to K once 2^f > m; the rounded scores off S are checked
    < K for all C(N, q) sets and all j.  One embedding row per q-set.

* values: z_j quantised per coordinate to the grid 2^(−g) (g = ⌈log2(√d'/ε)⌉), written
  by the token embedding;
* the attention output (the average of the quantised z over y_i, rounded once to f
  fractional bits) is written to an output block and read out (``output_kind``
  "vector"), at every position (``outputs="all"``, default) or the last (``"last"``).

Error: ‖f(X)_i − qSA(X)_i‖₂ ≤ √d'·(2^(−g−1) + 2^(−f−1)) ≤ √d'·2^(−g) ≤ ε for z in the
cube [−1, 1]^{d'} ⊇ unit ball.  Default ε = 1/(8q): below the 1/(2q) of the lower
bound, so the disj-to-qsa decode (threshold −1 + 1/q) and index-to-qsa (1/2) read the
answer correctly.

Size: code dimension m = ⌈C·q·log2 N⌉ with C = ``CODE_CONSTANT`` = 10, model width
2m + 2d' (key block, query block, value block, output block), d_k = m, d_v = d'.
Precision (default): the log-precision regime p = 2⌈log2 N⌉ clamped to [12, 24] with
f = p/2, raised when needed so that f ≥ g (and 2^f > m for ``table``) and the scores fit.

Tokens.  qSA tokens are structured (z, y, pos).  The model is a plain
:class:`~commlb.models.transformer.TransformerModel` with a **field embedding** (config
``embed_fields``, see that module): the integer token id packs several fields (mixed
radix) and the embedding is the sum of one table row per field.  The fields here are the
d' quantised coordinates of z and the pointers (``sum``) or the set rank (``table``);
:func:`token_ids` packs qSA tokens.  The token-wise input map φ of SHT23 is thus a sum of
small tables; with a single table a token would need C(N, q)·G^{d'} rows.  Because the
field embedding is part of the transformer family, a saved construction reloads as
itself (``commlb simulate --save-weights F`` then ``--weights F``).

Why hard attention (the default): the sum certificate's score on S, m + g_ab, differs
from set to set, and a fixed-point softmax needs the top score within a few units of the
public stabiliser for every set (the weights are exp(s − c) on a 2^(−f) grid); hardmax
needs only the exact ties and the strict gap, which the integer scores give.  The
``table`` form puts the score on S at the same level for every set, so it also runs as
a **softmax** layer (``attention="softmax"``, SHT23's actual unit): the level is the
public stabiliser c = ((f + 1)·ln 2 + 1)/(1 − ρ) with ρ the measured worst off-set
ratio ⟨s_j, w_S⟩, every weight off S rounds to 0 (checked on the rounded scores) and the
output bits equal the hardmax's; the query then needs p ≈ 2f + O(log(c·q/m)) bits.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel, pack_fields
from . import refuse_options
from .hardmax import softmax_requirement

__all__ = [
    "FieldEmbeddingTransformer",
    "pack_fields",
    "build",
    "token_ids",
    "default_epsilon",
    "set_rank",
    "CODE_CONSTANT",
    "TABLE_BUDGET",
]

#: C in m = ⌈C·q·log2 N⌉ (enough for the sufficient check to pass in a few draws)
CODE_CONSTANT = 10
#: largest joint certificate table (rows × code dims) built for q >= 3
TABLE_BUDGET = 1 << 24
#: scores on S round to this integer in the ``table`` form
_TABLE_LEVEL = 8
_SEED = 0x95A


#: the field-embedding transformer is the transformer family itself (config key
#: ``embed_fields``); the name is kept for existing imports
FieldEmbeddingTransformer = TransformerModel


def default_epsilon(q: int) -> float:
    return 1.0 / (8 * int(q))


def set_rank(sets: np.ndarray) -> np.ndarray:
    """Colex rank of sorted q-subsets (rows) of [N]: Σ_k C(y_k, k + 1)."""
    sets = np.asarray(sets, dtype=np.int64)
    q = sets.shape[-1]
    out = np.zeros(sets.shape[:-1], dtype=np.int64)
    top = int(sets.max()) + 1 if sets.size else 1
    for k in range(q):
        table = np.array([math.comb(v, k + 1) for v in range(top)], dtype=np.int64)
        out += table[sets[..., k]]
    return out


def _draw_sum_codes(n: int, q: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Sign codes (n, m) passing the sufficient check of the ``sum`` certificate; returns
    them and the worst ratio (max off-set score)/(on-set score) over all sets."""
    for _ in range(64):
        signs = np.where(rng.random((n, m)) < 0.5, -1, 1).astype(np.int64)
        gram = signs @ signs.T
        if n == 1:
            return signs, 0.0
        off = gram.copy()
        np.fill_diagonal(off, np.iinfo(np.int64).min)
        if q == 1:
            worst = off.max() / m
            if worst < 1:
                return signs, float(worst)
            continue
        rowmax = off.max(axis=1)  # max_{j != a} g_aj (also covers j = b: harmless)
        on = m + gram
        bound = (rowmax[:, None] + rowmax[None, :]) / on
        np.fill_diagonal(bound, 0)
        worst = float(bound.max())
        if worst < 1:
            return signs, worst
    raise InvalidInputError(
        f"qSA construction: no draw of {n} sign codes in {m} dimensions separated every "
        f"{q}-set in 64 draws; use a larger width"
    )


def _ls_certificates(signs: np.ndarray, block: np.ndarray) -> np.ndarray | None:
    """Least-squares certificates w_S = S_S (S_Sᵀ S_S)^{-1} 1 (rows) for the sets in
    ``block``: <s_j, w_S> = 1 for j in S.  None if some Gram matrix is singular."""
    q = block.shape[1]
    sub = signs[block].astype(np.float64)  # (S, q, m)
    gram = np.einsum("sqm,srm->sqr", sub, sub)
    try:
        coef = np.linalg.solve(gram, np.ones((len(block), q, 1)))[..., 0]  # G^{-1} 1
    except np.linalg.LinAlgError:
        return None
    return np.einsum("sq,sqm->sm", coef, sub)


def _table_certificates(n: int, q: int, m: int, rng: np.random.Generator, f: int, softmax: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Sign codes and, for every q-set (rows in colex-rank order), the rounded query raw
    vector and the score level L (raw): verified exactly that the score rounds to L at
    every j in S and, off S, lies below L (hard) or at least (f + 1)·ln 2 below it in value
    (softmax: every off-set weight exp(s − L) then rounds to 0)."""
    combos = np.array(list(itertools.combinations(range(n), q)), dtype=np.int64)
    combos = combos[np.argsort(set_rank(combos))]
    scale = 1 << f
    chunk = max(1, (1 << 22) // (q * m))  # sets per block: bounds the (sets, q, m) array
    blocks = [combos[i:i + chunk] for i in range(0, len(combos), chunk)]
    for _ in range(16):
        signs = np.where(rng.random((n, m)) < 0.5, -1, 1).astype(np.int64)
        signs_t = signs.T.astype(np.float64)
        # the worst off-set ratio <s_j, w_S> in real arithmetic (the certificate's margin)
        worst_real, ok = -np.inf, True
        for block in blocks:
            w = _ls_certificates(signs, block)
            if w is None:
                ok = False
                break
            real = w @ signs_t
            np.put_along_axis(real, block, -np.inf, axis=1)
            worst_real = max(worst_real, float(real.max()))
        if not ok or worst_real >= 1:
            continue
        if softmax:
            c = ((f + 1) * math.log(2) + 1) / (1 - max(worst_real, 0.0))
            level = math.ceil(c * scale)
            gap_needed = (f + 1) * math.log(2) * scale
        else:
            level, gap_needed = _TABLE_LEVEL, 0.5
        qraw = np.zeros((len(combos), m), dtype=np.int64)
        for start, block in zip(range(0, len(combos), chunk), blocks):
            w = _ls_certificates(signs, block)
            assert w is not None
            qblock = np.floor(level * scale * w + 0.5).astype(np.int64)
            acc = qblock @ signs.T  # exact integers (S, N)
            scores = np.floor_divide(2 * acc + scale, 2 * scale)  # round half up of acc / 2^f
            on = np.take_along_axis(scores, block, axis=1)
            np.put_along_axis(scores, block, np.iinfo(np.int64).min, axis=1)
            if not np.all(on == level) or level - scores.max() < gap_needed:
                ok = False
                break
            qraw[start:start + chunk] = qblock
        if ok:
            return signs, combos, qraw, float(worst_real if np.isfinite(worst_real) else 0.0), level
    raise InvalidInputError(
        f"qSA construction: the least-squares certificates in {m} dimensions did not separate "
        f"every {q}-set of [{n}] in 16 draws; use a larger width"
    )


def _precision(n: int, q: int, g: int, m: int, form: str, given: Precision | None) -> Precision:
    if given is not None:
        return given
    p = min(24, max(12, 2 * math.ceil(math.log2(max(n, 2)))))
    f = max(p // 2, g, (m.bit_length() + 1) if form == "table" else 0)
    top = 2 * m if form == "sum" else 2 * _TABLE_LEVEL
    p = max(p, f + 3, top.bit_length() + 1)
    if p > MAX_FIXED_BITS:
        raise InvalidInputError(
            f"qSA construction: needs {p} bits (f = {f}) beyond the {MAX_FIXED_BITS}-bit fixed-point limit; "
            "use a larger epsilon or smaller N"
        )
    return Precision.fixed(p, f)


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          layers: int | None = None, heads: int | None = None, seed: int = _SEED,
          epsilon: float | None = None, outputs: str = "all", form: str | None = None,
          attention: str = "hard", **options: Any) -> TransformerModel:
    """The qSA transformer for ``n`` tokens of ``task`` (a
    :class:`~commlb.tasks.qsa.QSATask`: sparsity q, value dimension d').  ``width`` is
    the model width 2m + 2d' (default m = ⌈10·q·log2 n⌉); ``epsilon`` the approximation
    (default 1/(8q)); ``outputs`` "all" or "last"; ``form`` "sum" (q ≤ 2, the default
    there) or "table" (any q, default for q ≥ 3); ``attention`` "hard" (default) or
    "softmax" (``table`` form only: the query is scaled so that the score on S is the
    public stabiliser c and every other weight rounds to 0; the outputs are the same
    bits as hard attention).  Pack tokens with :func:`token_ids`."""
    for name, value in (("layers", layers), ("heads", heads)):
        if value is not None and int(value) != 1:
            raise InvalidInputError(f"the qSA construction has 1 layer and 1 head; drop --{name} or use random weights")
    refuse_options("qSA", options)
    q = int(getattr(task, "q", 0))
    d = int(getattr(task, "d_out", 0))
    if q < 1 or d < 1:
        raise InvalidInputError("the qSA construction needs a qSA task (q >= 1, d_out >= 1)")
    n = int(n)
    if n < q:
        raise InvalidInputError(f"qSA construction: N = {n} is smaller than q = {q}")
    if outputs not in ("all", "last"):
        raise InvalidInputError(f"qSA construction: outputs must be 'all' or 'last', not {outputs!r}")
    form = form or ("sum" if q <= 2 else "table")
    if form not in ("sum", "table") or (form == "sum" and q > 2):
        raise InvalidInputError("qSA construction: form must be 'sum' (q <= 2) or 'table'")
    if attention not in ("hard", "softmax"):
        raise InvalidInputError(f"qSA construction: attention must be 'hard' or 'softmax', not {attention!r}")
    if attention == "softmax" and form != "table":
        raise InvalidInputError(
            "qSA construction: softmax needs the table form (the sum certificate's score on S, "
            "m + g_ab, varies with the set, so no public stabiliser fits every set); use form='table'")
    eps = default_epsilon(q) if epsilon is None else float(epsilon)
    if not 0 < eps < 1:
        raise InvalidInputError(f"qSA construction: epsilon must lie in (0, 1), got {eps}")
    g = max(0, math.ceil(math.log2(math.sqrt(d) / eps)))
    if width is None:
        m = max(4, math.ceil(CODE_CONSTANT * q * math.log2(max(n, 2))))
    else:
        m = (int(width) - 2 * d) // 2
        if m < 1 or 2 * m + 2 * d != int(width):
            raise InvalidInputError(f"qSA construction: width must be 2m + 2d' = 2m + {2 * d} with m >= 1, got {width}")
    levels = (1 << (g + 1)) + 1  # k·2^-g for k in [−2^g, 2^g]
    if form == "table":
        n_sets = math.comb(n, q)
        if n_sets * (2 * m + 2 * d) > TABLE_BUDGET:
            raise InvalidInputError(
                f"qSA construction: a table of C({n}, {q}) = {n_sets} certificates of width {2 * m + 2 * d} "
                f"exceeds {TABLE_BUDGET} entries; use N <= {_largest_n(q, m, d)} for q = {q}"
            )
    prec = _precision(n, q, g, m, form, precision)
    if not prec.is_fixed:
        raise InvalidInputError("the qSA construction is built for fixed-point arithmetic (--arith fixed)")
    f = prec.frac
    if f < g or prec.bits - f < 3:
        raise InvalidInputError(
            f"qSA construction: {prec.describe()} needs f >= {g} (the z grid) and 3 integer bits"
        )
    one = 1 << f
    rng = np.random.default_rng([int(seed), n, m, q])
    if form == "sum":
        signs, ratio = _draw_sum_codes(n, q, m, rng)
        if 2 * m > prec.raw_max:
            raise InvalidInputError(f"qSA construction: scores up to {2 * m} do not fit {prec.describe()}")
        point_fields = [n] * q
    else:
        if one <= m:
            raise InvalidInputError(f"qSA construction (table): needs 2^f > m = {m}; use more fractional bits")
        signs, combos, qraw, ratio, level = _table_certificates(n, q, m, rng, f, attention == "softmax")
        point_fields = [len(combos)]
        if attention == "softmax":
            need = max(int(np.abs(qraw).max()), level).bit_length() + 1
            if precision is None and need > prec.bits:
                if need > MAX_FIXED_BITS:
                    raise InvalidInputError(
                        f"qSA construction (softmax): needs {need} bits beyond the {MAX_FIXED_BITS}-bit "
                        "fixed-point limit; use attention='hard'")
                prec = Precision.fixed(need, f)
            if need > prec.bits:
                raise InvalidInputError(
                    f"qSA construction (softmax): {prec.describe()} cannot hold the query scale; "
                    f"needs {need} bits")
    # hard attention: the scores are integers in units of 2^-f (margin 2^-f),
    # at most 2m for the sum form and at most max_row sum |query raw| / 2^f for the table
    score_max = 2 * m if form == "sum" else -(-int(np.abs(qraw).sum(axis=1).max()) // one)
    softmax = None if attention != "hard" else softmax_requirement(n, 1.0 / one, score_max / one, 1.0, f,
                                                                   prec.bits)
    mm = 2 * m + 2 * d
    kb, qb = slice(0, m), slice(m, 2 * m)
    vb, ob = slice(2 * m, 2 * m + d), slice(2 * m + d, 2 * m + 2 * d)
    fields = [levels] * d + point_fields
    rows = [np.zeros((levels, mm), dtype=np.int64) for _ in range(d)]
    for c in range(d):
        rows[c][:, 2 * m + c] = (np.arange(levels) - (1 << g)) << (f - g)
    if form == "sum":
        for _ in range(q):
            block = np.zeros((n, mm), dtype=np.int64)
            block[:, qb] = signs * one  # query value s_a (+ s_b): scores are integer raws
            rows.append(block)
    else:
        block = np.zeros((len(combos), mm), dtype=np.int64)
        block[:, qb] = qraw
        rows.append(block)
    embed = np.concatenate(rows, axis=0)
    pos = np.zeros((n, mm), dtype=np.int64)
    pos[:, kb] = signs  # raw ±1: score raw = <query raw, s_j> / 2^f
    eye_m = np.eye(m, dtype=np.int64) * one
    eye_d = np.eye(d, dtype=np.int64) * one
    wq = np.zeros((1, 1, mm, m), dtype=np.int64)
    wq[0, 0, qb, :] = eye_m
    wk = np.zeros((1, 1, mm, m), dtype=np.int64)
    wk[0, 0, kb, :] = eye_m
    wv = np.zeros((1, 1, mm, d), dtype=np.int64)
    wv[0, 0, vb, :] = eye_d
    wo = np.zeros((1, 1, d, mm), dtype=np.int64)
    wo[0, 0, :, ob] = eye_d
    wout = np.zeros((mm, d), dtype=np.int64)
    wout[ob, :] = eye_d
    params = {
        "embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
        "stab": np.full((1, 1), level if attention == "softmax" else 0, dtype=np.int64),
        "wout": wout, "bout": np.zeros(d, dtype=np.int64),
    }
    config = {
        "layers": 1, "heads": 1, "width": mm, "key_dim": m, "value_dim": d, "mlp_dim": 0,
        "vocab_size": math.prod(fields), "embed_fields": fields, "max_length": n, "causal": False,
        "attention": attention, "output_kind": "vector",
        "output_positions": list(range(n)) if outputs == "all" else [-1],
        "construction": {
            "name": "qSA (SHT23 Theorem 2, docs/theory.md §9.5; integer dual certificates derived "
                    "here)" + ("; " + softmax.describe() if softmax is not None else "; softmax attention"),
            "softmax": None if softmax is None else softmax.to_json(),
            "q": q, "d_out": d, "n": n, "form": form, "code_dim": m,
            "code_constant": CODE_CONSTANT, "epsilon": eps, "z_grid_bits": g,
            "error_bound": math.sqrt(d) * (2.0 ** (-g - 1) + 2.0 ** (-f - 1)),
            "certificate_ratio": ratio,
            "attention_scale": (level / one) if attention == "softmax" else None,
        },
    }
    return TransformerModel(params, prec, config)


def _largest_n(q: int, m: int, d: int) -> int:
    n = q
    while math.comb(n + 1, q) * (2 * m + 2 * d) <= TABLE_BUDGET:
        n += 1
    return n


def token_ids(model: TransformerModel, tokens: np.ndarray) -> np.ndarray:
    """Pack qSA tokens (structured z, y, pos) into the model's integer token ids: z
    rounded per coordinate to the grid 2^(−g) (clipped to [−1, 1]), then the pointers
    (``sum``) or the rank of the pointer set (``table``)."""
    info = _construction_info(model)
    arr = np.asarray(tokens)
    if arr.dtype.names is None or not {"z", "y"} <= set(arr.dtype.names):
        raise InvalidInputError("qSA tokens must be a structured array with fields z, y, pos")
    n = len(arr)
    q, d, g = int(info["q"]), int(info["d_out"]), int(info["z_grid_bits"])
    z = np.asarray(arr["z"], dtype=np.float64).reshape(n, -1)
    y = np.asarray(arr["y"], dtype=np.int64).reshape(n, -1)
    if z.shape[1] != d or y.shape[1] != q:
        raise InvalidInputError(f"qSA tokens have d' = {z.shape[1]}, q = {y.shape[1]}; the model wants {d}, {q}")
    if y.size and (y.min() < 0 or y.max() >= int(info["n"])):
        raise InvalidInputError(f"qSA pointers must lie in [0, {info['n']})")
    levels = np.clip(np.floor(z * (1 << g) + 0.5), -(1 << g), 1 << g).astype(np.int64) + (1 << g)
    fields = [levels[:, c] for c in range(d)]
    if info["form"] == "sum":
        fields += [y[:, k] for k in range(q)]
    else:
        fields.append(set_rank(np.sort(y, axis=1)))
    return pack_fields(fields, model.config["embed_fields"])


def _construction_info(model: Any) -> dict[str, Any]:
    """The ``construction`` record of a qSA model built by :func:`build` (or loaded from
    its saved weights); a clear error for any other model."""
    config = getattr(model, "config", {}) or {}
    info = config.get("construction")
    keys = {"q", "d_out", "n", "form", "z_grid_bits"}
    if not isinstance(info, dict) or not keys <= set(info) or config.get("embed_fields") is None:
        raise InvalidInputError("qSA tokens are read only by the qSA construction's field embedding "
                                "(this model was not built by commlb.models.constructions.qsa)")
    return info
