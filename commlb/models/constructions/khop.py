"""k-hop induction heads by pointer doubling: a causal, one-head-per-layer transformer of
constant width (SHT24 Theorem 4.2; docs/theory.md §9.8, §10.3).  The weights below are
commlb's own derivation of the construction the theorem describes.

Layers (0-based positions; ⊥ = "no such position", see :mod:`commlb.tasks.khop`):

1. **previous token** — position i attends to i − 1 and copies x_{i−1} (and x_{i−1}²);
   position 0 gets the sentinel −1 (its MLP rewrites the copy of itself).  Score
   ``j − 2·(−1)^(i+j)`` (key = (j, (−1)^j), query = (1, −2·(−1)^i)): under the causal mask
   it equals i + 1 at j = i − 1, i − 2 at j = i and at most i − 1 elsewhere, so the
   hardmax is exactly i − 1 with positions stored as plain integers.
2. **last occurrence** — position i attends to the latest t ≤ i whose previous token is
   x_i: score ``B·(2·x_{t−1}·x_i − x_{t−1}²) + t`` with B = N.  The bracket is
   x_i² − (x_{t−1} − x_i)², largest exactly when x_{t−1} = x_i and smaller by at least B
   otherwise, and + t breaks ties toward the latest t, so the argmax is find¹(i) when it
   exists.  The MLP compares the copied x_{t−1} with x_i (|d| ≥ 1 for integers, four
   ReLUs) and raises the flag ⊥ when they differ.  The pointer P = find¹(i) is stored as
   an integer with its flag.
3. **doubling**, layers 3..L — position i attends to position P(i): score
   ``2·P·j − j² = P² − (j − P)²`` (key (j, j²), query (2P, −1)); P(i) ≤ i, so the causal
   mask never hides it and the argmax is exactly P(i).  It reads P(P(i)) (so P doubles:
   find^(2^(ℓ−2)) after layer ℓ) and, where the binary expansion of k asks for it, the
   accumulated pointer A of position P(i): A ← A∘P (find-powers commute, so A(P(i)) =
   find^(a + 2^(ℓ−3))(i)), together with the token x_A it carries.  ⊥ flags combine by
   OR = a + b − ReLU(a + b − 1).  Each "replace the slot" update is done by the MLP
   (slot += ReLU(new) − ReLU(old)), so the width does not grow with the depth.

Read-out at the last position (or at every position with ``outputs="all"``): classes
0..V−1 are the tokens and class V is ⊥ (the task's −1): logit_c = 2c·x_A − c² for c < V
(peaks at c = x_A) and logit_V = (V² + 1)·⊥_A − 1.

Depth.  Layer 2 can contribute 0 or 1 hop to A and layer ℓ ≥ 3 contributes 0 or
2^(ℓ−3), so L layers reach every k ≤ 2^(L−2): **L = ⌈log2 k⌉ + 2**, the same formula as
:func:`commlb.reductions.pointer_multi.doubling_layers` (derivation in docs/theory.md
§10.3).  No one-lookup-per-layer construction does better: each layer composes two
pointers already known after the layer below, so after L layers a position knows find^r
only for r ≤ 2^(L−2) (after layer 2 only find¹); k = 3 in three layers would need find³
after layer 3.  The ⌊log2 k⌋ + 2 quoted for SHT24 Theorem 4.2 agrees exactly when k is a
power of two (k = 1, 2, 4, 8, …; the acceptance case k = 4 gives L = 4) and is one less
otherwise; SHT24's trained models (depth 4 learns k ≤ 4, depth 5 k ≤ 8, depth 6 k ≤ 16)
fit ⌈log2 k⌉ + 2.

Size: width m = 19 (constant: independent of N, k and the alphabet), d_k = 3, d_v = 5,
MLP width 12, one head per layer, hard attention (SHT24 Lemma A.2 hardmax, to which a
softmax with the scale of that lemma rounds in p-bit arithmetic).

Precision: every value is an integer, so the default format is integer fixed point
(f = 0 fractional bits) with p = bits of the largest magnitude R plus sign, where
R = max((N − 1)², N·(3(V − 1)² + 1), …) (the doubling scores reach (N − 1)², the
last-occurrence scores about 3·B·V²): p = 2·log2 N + O(1) for 3V² ≤ N (SHT24's
O(log N), resp. O(log(N·|Σ|))); measured at V = 4: p = 10, 13, 17, 21 bits at
N = 16, 64, 256, 1024.  Any fixed-point format with R·2^f < 2^(p−1) gives the same
answers; the 24-bit limit of exact accumulation (:mod:`commlb.bits`) caps N at 2,897
for alphabets up to about 30 (704 at V = 64).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...bits import MAX_FIXED_BITS, Precision
from ...errors import InvalidInputError
from ..transformer import TransformerModel
from . import refuse_options
from .hardmax import softmax_requirement

__all__ = ["build", "khop_layers", "hop_schedule", "required_magnitude", "default_precision",
           "sequence_length", "WIDTH", "MLP_WIDTH"]

# residual-stream slots
(ONE, FIRST, POS, POS2, PAR, TOK, TOK2, PTOK, PTOK2, P, BP, A, BA, TA, S0, S1, S2, S3, S4) = range(19)
#: model width m (constant)
WIDTH = 19
#: hidden width of each layer's MLP
MLP_WIDTH = 12
KEY_DIM = 3
VALUE_DIM = 5


def khop_layers(k: int) -> int:
    """L = ⌈log2 k⌉ + 2 for k ≥ 1 (see the module docstring)."""
    k = int(k)
    if k < 1:
        raise InvalidInputError(f"the k-hop construction needs k >= 1, got {k}")
    return (k - 1).bit_length() + 2


def hop_schedule(k: int) -> list[int]:
    """Hops each layer adds to the accumulated pointer A: entry ℓ − 1 for layer ℓ
    (0 for layer 1; 0 or 1 for layer 2; 0 or 2^(ℓ−3) for ℓ ≥ 3).  Sums to k."""
    layers = khop_layers(k)
    first = 1 if k == 1 << (layers - 2) else 0  # layer 2 adds a hop only when k = 2^(L-2)
    rest = k - first
    out = [0, first]
    for ell in range(3, layers + 1):
        bit = 1 << (ell - 3)
        out.append(bit if rest & bit else 0)
    assert sum(out) == k
    return out


def required_magnitude(length: int, alphabet: int) -> int:
    """R: the largest |integer| the construction ever computes at sequence length ≤
    ``length`` over ``alphabet`` tokens (scores, queries, positional features, MLP
    and read-out values)."""
    n, v = int(length), int(alphabet)
    top = v - 1
    candidates = [
        (n - 1) ** 2,  # j², doubling scores P² − (j − P)²
        2 * n * top * top + n * top * top + n,  # last-occurrence score B·(2στ − σ²) + t, both signs
        n * (2 * top + 1) + n,  # σ = −1 sentinel: −B(2τ + 1)
        2 * n * max(top, 1),  # query entry 2B·x_i
        2 * n,  # query entry 2P, weight 2B
        v * v + 2 * v + 2,  # MLP hidden values, read-out logits
    ]
    return max(candidates)


def default_precision(length: int, alphabet: int) -> Precision:
    """Integer fixed point (f = 0) with p = bit length of R plus a sign bit."""
    p = required_magnitude(length, alphabet).bit_length() + 1
    if p > MAX_FIXED_BITS:
        raise InvalidInputError(
            f"k-hop construction: length {length} over {alphabet} tokens needs {p}-bit integers "
            f"(positions squared), above the {MAX_FIXED_BITS}-bit fixed-point limit; at most "
            f"{_max_length(alphabet)} tokens fit"
        )
    return Precision.fixed(max(p, 4), 0)


def _max_length(alphabet: int) -> int:
    lo, hi = 2, 1 << 13
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if required_magnitude(mid, alphabet).bit_length() + 1 <= MAX_FIXED_BITS:
            lo = mid
        else:
            hi = mid - 1
    return lo


def sequence_length(task: Any, n: int) -> int:
    """The longest sequence the model built for (``task``, ``n``) takes when no
    ``length`` is given: ``n`` (a khop task of size n has n tokens), except when the
    alphabet is (k + 1)·n — the alphabet of the pointer-chasing encodings PC(n, k) →
    hop_k, whose size n is what callers such as ``commlb simulate`` pass — where it is the
    longer of their two layouts that fits the fixed-point limit: the recursive one
    (L_k = 2n, L_j = n·(L_{j+1} + 2), N = L_2 + 3; ``pc-to-khop``, exponential in k)
    and the block one (2nk + 1; ``pc-to-khop-blocks``).  (Formulas repeated here so that
    models import no reductions; a test compares them.)"""
    k, alphabet, n = int(task.k), int(task.alphabet), int(n)
    if n >= 1 and alphabet == (k + 1) * n:
        rec = 0
        for _ in range(k, 1, -1):
            rec = n * (rec + 2)
        layouts = sorted({rec + 3, 2 * n * k + 1})
        fitting = [size for size in layouts if size <= _max_length(alphabet)]
        return max(n, fitting[-1] if fitting else layouts[-1])
    return n


def build(task: Any, n: int, precision: Precision | None = None, width: int | None = None,
          layers: int | None = None, heads: int | None = None, seed: int = 0,
          outputs: str = "last", length: int | None = None, **options: Any) -> TransformerModel:
    """The pointer-doubling hop_k transformer for ``task`` (a
    :class:`~commlb.tasks.khop.KHopTask`; k and the alphabet come from it), taking
    sequences of up to ``length`` tokens (default :func:`sequence_length`: ``n``, or the
    pointer-chasing layout length when ``n`` is the size of such an encoding).

    ``layers``/``heads``/``width`` are accepted when they equal what the construction is
    (⌈log2 k⌉ + 2, 1, 19) and refused otherwise; ``seed`` is accepted and unused (the
    weights are deterministic); ``outputs`` is ``"last"`` (read the answer at the last
    position, as the reductions do) or ``"all"`` (every position; sequences must then
    have the full length).  The decision is the token hop_k(X)_i, or V (the alphabet
    size) for ⊥."""
    refuse_options("k-hop", options)
    k = int(getattr(task, "k", -1))
    alphabet = int(getattr(task, "alphabet", 0))
    if k < 1 or alphabet < 1:
        raise InvalidInputError(f"the k-hop construction needs a khop task with k >= 1, got k = {k}")
    if int(n) < 1 or (length is not None and int(length) < 1):
        raise InvalidInputError(f"k-hop construction: n and length must be >= 1, got {n}, {length}")
    n = sequence_length(task, n) if length is None else int(length)
    num_layers = khop_layers(k)
    if layers is not None and int(layers) != num_layers:
        raise InvalidInputError(
            f"the k-hop construction for k = {k} has {num_layers} layers (⌈log2 k⌉ + 2); drop --layers "
            "or use random weights"
        )
    if heads is not None and int(heads) != 1:
        raise InvalidInputError("the k-hop construction has 1 head per layer; drop --heads or use random weights")
    if width is not None and int(width) != WIDTH:
        raise InvalidInputError(f"the k-hop construction has width {WIDTH} (constant); drop --width")
    if outputs not in ("last", "all"):
        raise InvalidInputError(f"outputs must be 'last' or 'all', not {outputs!r}")
    prec = default_precision(n, alphabet) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError("the k-hop construction uses hard attention, which needs fixed point (--arith fixed)")
    magnitude = required_magnitude(n, alphabet)
    if magnitude * (1 << prec.frac) > prec.raw_max:
        need = default_precision(n, alphabet).bits
        raise InvalidInputError(
            f"k-hop construction: {prec.describe()} cannot hold integers up to {magnitude} "
            f"(needs {need} bits with f = 0, or {need} + f bits)"
        )
    params = _weights(n, alphabet, k, int(1 << prec.frac))
    schedule = hop_schedule(k)
    # every score is an integer, so the margin is 1; scores and values are at most R
    softmax = softmax_requirement(n, 1.0, magnitude, magnitude, prec.frac, prec.bits)
    config = {
        "layers": num_layers, "heads": 1, "width": WIDTH, "key_dim": KEY_DIM, "value_dim": VALUE_DIM,
        "mlp_dim": MLP_WIDTH, "vocab_size": alphabet, "max_length": n, "causal": True,
        "attention": "hard", "output_kind": "class",
        "output_positions": list(range(n)) if outputs == "all" else [-1],
        "construction": {
            "name": "k-hop induction heads by pointer doubling (SHT24 Thm 4.2, docs/theory.md §9.8, "
                    "§10.3); " + softmax.describe(),
            "softmax": softmax.to_json(),
            "k": k,
            "alphabet": alphabet,
            "layers_formula": "ceil(log2 k) + 2",
            "sht24_layers": int(k).bit_length() + 1,  # ⌊log2 k⌋ + 2
            "hops_per_layer": schedule,
            "bottom_class": alphabet,
            "max_integer": magnitude,
        },
    }
    return TransformerModel(params, prec, config)


def _weights(n: int, alphabet: int, k: int, one: int) -> dict[str, np.ndarray]:
    """Integer weights scaled by ``one`` = 2^f (values are raw fixed point)."""
    m, L, H = WIDTH, khop_layers(k), 1
    V = alphabet
    B = n  # last-occurrence: position tie-break below the match bracket's unit
    schedule = hop_schedule(k)
    tok = np.arange(V, dtype=np.int64)
    embed = np.zeros((V, m), dtype=np.int64)
    embed[:, TOK] = tok * one
    embed[:, TOK2] = tok * tok * one
    embed[:, TA] = tok * one  # A starts at i itself (hop 0) carrying x_i
    j = np.arange(n, dtype=np.int64)
    pos = np.zeros((n, m), dtype=np.int64)
    pos[:, ONE] = one
    pos[0, FIRST] = one
    pos[:, POS] = j * one
    pos[:, POS2] = j * j * one
    pos[:, PAR] = np.where(j % 2 == 0, 1, -1) * one
    pos[:, A] = j * one

    wq = np.zeros((L, H, m, KEY_DIM), dtype=np.int64)
    wk = np.zeros_like(wq)
    wv = np.zeros((L, H, m, VALUE_DIM), dtype=np.int64)
    wo = np.zeros((L, H, VALUE_DIM, m), dtype=np.int64)
    w1 = np.zeros((L, m, MLP_WIDTH), dtype=np.int64)
    b1 = np.zeros((L, MLP_WIDTH), dtype=np.int64)
    w2 = np.zeros((L, MLP_WIDTH, m), dtype=np.int64)
    b2 = np.zeros((L, m), dtype=np.int64)
    # Weights multiply values with f fractional bits, so an integer weight w is raw w·one.

    # ---- layer 1: previous token
    wq[0, 0, ONE, 0] = one
    wq[0, 0, PAR, 1] = -2 * one
    wk[0, 0, POS, 0] = one
    wk[0, 0, PAR, 1] = one
    wv[0, 0, TOK, 0] = one
    wv[0, 0, TOK2, 1] = one
    wo[0, 0, 0, PTOK] = one
    wo[0, 0, 1, PTOK2] = one
    # position 0 copied itself: PTOK -> -1, PTOK2 -> 1
    w1[0, PTOK, 0], w1[0, FIRST, 0], b1[0, 0] = one, V * one, (1 - V) * one
    w2[0, 0, PTOK] = -one
    w1[0, PTOK2, 1], w1[0, FIRST, 1], b1[0, 1] = one, V * V * one, -V * V * one
    w2[0, 1, PTOK2] = -one
    w1[0, FIRST, 2] = one
    w2[0, 2, PTOK2] = one

    # ---- layer 2: last occurrence -> find^1 with its flag
    wq[1, 0, TOK, 0] = 2 * B * one
    wq[1, 0, ONE, 1] = -B * one
    wq[1, 0, ONE, 2] = one
    wk[1, 0, PTOK, 0] = one
    wk[1, 0, PTOK2, 1] = one
    wk[1, 0, POS, 2] = one
    wv[1, 0, POS, 0] = one
    wv[1, 0, TOK, 1] = one
    wv[1, 0, PTOK, 2] = one
    wo[1, 0, 0, S0] = one
    wo[1, 0, 1, S1] = one
    wo[1, 0, 2, S2] = one
    # d = S2 - TOK; miss = relu(d) - relu(d-1) + relu(-d) - relu(-d-1)
    for unit, sign, shift in ((0, 1, 0), (1, 1, -1), (2, -1, 0), (3, -1, -1)):
        w1[1, S2, unit], w1[1, TOK, unit], b1[1, unit] = sign * one, -sign * one, shift * one
    miss = {0: 1, 1: -1, 2: 1, 3: -1}
    for unit, coef in miss.items():
        w2[1, unit, BP] = coef * one
    w1[1, S0, 4] = one  # t
    w1[1, S1, 5] = one  # x_t
    w1[1, S2, 6] = one  # x_{t-1}, may be -1
    w1[1, S2, 7] = -one
    w2[1, 4, P] = one
    w2[1, 4, S0] = -one
    w2[1, 5, S1] = -one
    w2[1, 6, S2] = -one
    w2[1, 7, S2] = one
    if schedule[1]:  # A <- find^1 (replace A = i and x_A = x_i)
        w1[1, A, 8] = one
        w1[1, TA, 9] = one
        w2[1, 4, A] = one
        w2[1, 8, A] = -one
        w2[1, 5, TA] = one
        w2[1, 9, TA] = -one
        for unit, coef in miss.items():
            w2[1, unit, BA] = coef * one

    # ---- layers 3..L: doubling through P
    for layer in range(2, L):
        add = schedule[layer] > 0
        wq[layer, 0, P, 0] = 2 * one
        wq[layer, 0, ONE, 1] = -one
        wk[layer, 0, POS, 0] = one
        wk[layer, 0, POS2, 1] = one
        reads = [(P, S0), (BP, S1)] + ([(A, S2), (BA, S3), (TA, S4)] if add else [])
        for r, (src, dst) in enumerate(reads):
            wv[layer, 0, src, r] = one
            wo[layer, 0, r, dst] = one
        # P <- P(tau); S0 cleared
        w1[layer, S0, 0] = one
        w1[layer, P, 1] = one
        w2[layer, 0, P], w2[layer, 0, S0], w2[layer, 1, P] = one, -one, -one
        # BP <- BP or BP(tau); S1 cleared
        w1[layer, S1, 2] = one
        w1[layer, BP, 3], w1[layer, S1, 3], b1[layer, 3] = one, one, -one
        w2[layer, 2, BP], w2[layer, 2, S1], w2[layer, 3, BP] = one, -one, -one
        if add:
            # A <- A(tau)
            w1[layer, S2, 4] = one
            w1[layer, A, 5] = one
            w2[layer, 4, A], w2[layer, 4, S2], w2[layer, 5, A] = one, -one, -one
            # BA <- BP or BA(tau)  (BP is still the old flag of P(i))
            w1[layer, S3, 6] = one
            w1[layer, BP, 7], w1[layer, S3, 7], b1[layer, 7] = one, one, -one
            w1[layer, BA, 8] = one
            w1[layer, BP, 9] = one
            w2[layer, 6, BA], w2[layer, 6, S3] = one, -one
            w2[layer, 7, BA], w2[layer, 8, BA], w2[layer, 9, BA] = -one, -one, one
            # TA <- TA(tau)
            w1[layer, S4, 10] = one
            w1[layer, TA, 11] = one
            w2[layer, 10, TA], w2[layer, 10, S4], w2[layer, 11, TA] = one, -one, -one

    # ---- read-out: classes 0..V-1 tokens, V = bottom
    wout = np.zeros((m, V + 1), dtype=np.int64)
    bout = np.zeros(V + 1, dtype=np.int64)
    wout[TA, :V] = 2 * tok * one
    bout[:V] = -tok * tok * one
    wout[BA, V] = (V * V + 1) * one
    bout[V] = -one
    return {"embed": embed, "pos": pos, "wq": wq, "wk": wk, "wv": wv, "wo": wo,
            "stab": np.zeros((L, H), dtype=np.int64), "w1": w1, "b1": b1, "w2": w2, "b2": b2,
            "wout": wout, "bout": bout}
