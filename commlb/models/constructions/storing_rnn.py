"""RNNs that store Alice's input in their state and then answer exactly: disjointness,
equality (``a # b =``) and index lookup (``x_1..x_n ? i``).

These realise the *upper bound* that matches the RNN lower bounds of BHBK24 (docs/theory.md
§9.9, §3.3): cutting after Alice's part turns any RNN into a one-way protocol of L·d·p
bits, so an RNN that solves DISJ_n / EQ_n / INDEX_n needs L·d·p ≥ n (one-way complexity
n); the constructions below solve them with a state of O(n) bits, so the bound is tight
up to a constant factor.  All arithmetic is the exact fixed point of
:mod:`commlb.models.rnn` with activation ReLU; every weight is a power of two (or a small
integer) on the p-bit grid, every pre-activation an exact integer in range, so nothing
saturates and the answer is exact on every input.  The raw integer of a unit (value ·
2^f) is what is described below; a weight of value w multiplies a raw integer by w.

Disjointness and equality: a rotating shift register
----------------------------------------------------
Layer 0 has m ≥ 2 *register* units r_0..r_{m-1}, two *top-bit* units g1, g2, a
*comparison* unit c and a *counter* D (``hidden`` ≥ m + 4; extra units stay 0).  Each
step the registers rotate (r_k ← r_{k-1}); the register leaving position m-1 is shifted
left one bit while it enters position 0, losing its top bit:

    r_0 ← 2·r_{m-1} − 2^(K−j)·g1 + 2^(K−j−1)·g2,   r_k ← r_{k−1}  (+ the input bit at k = q)
    g1  ← relu(M·(E − 2^(K−1) + 1)),  g2 ← relu(2M·(E − 2^(K−1))),   M = 2^j,

where E = r_{m-2} (+ the input bit if q = m − 1) is exactly the value r_{m-1} takes in
this step, so t = g1 − g2/2 = M·[top bit of r_{m-1}] is always ready one step ahead (g2
has twice the slope so that its weight 2^(K−j−1) stays on the grid; the Elman
cell has one nonlinearity per step, so the top bit is computed from the affine
expression of the register it will belong to).  The input bit [token = 1] enters the
register at rotation position q.  A bit entering at step t leaves the top of a register
at step t + K·m − q; with K = ⌈(n+1)/m⌉ and q = K·m − (n+1) that is step t + n + 1, i.e.
Alice's bit a_i is emitted exactly when Bob's bit b_i is read.  (Bits never leave early:
registers start at 0, and Bob's own bits would need n + 1 more steps.)  Then

    c ← relu(g1 − g2/2 + M·[token = 1] − M) = M·(a_i ∧ b_i)     (0 while Alice reads)
    DISJ: D ← D + c / M                 (D = |a ∧ b| at "=");  read-out 1 − 2·D > 0
    EQ:   D ← D + [token = 1] − 2·c / M  (D = |a| + |b| − 2|a ∧ b| = |a ⊕ b| ≥ 0 at "=");
          read-out 1 − 2·D > 0

Range conditions (all checked): registers < 2^K ≤ 2^(p−1); the g pre-activations
M·2^K − 2M ≤ 2^(p−1) − 1 and −M·2^K ≥ −2^(p−1) (so j + K ≤ p − 1); the weight −2^(K−j) ≥
−2^(p−1−f) (so K − j ≤ p − 1 − f); the slope weight 2M < 2^(p−1−f) (so j ≤ p − 3 − f);
the weights 1/M, −1/2 on the grid (j ≤ f, f ≥ 1).  K_max is the largest K for which some
j satisfies all of them (found by search: 11 at p = 16, f = 8, which is the bound
⌊(2p − 2 − f)/2⌋ of the first two conditions; 4 at p = 8, f = 4), and
**d = max(2, ⌈(n+1)/K_max⌉) + 4 units** (:func:`min_hidden`): a state of L·d·p ≈ (n+1)·p/K_max + 4p bits
(1.45·n + 64 bits at p = 16, e.g. d = 7 for n = 32: 112 bits for 33 stored bits).  The
counter needs 2n ≤ 2^(p−1) − 1.

Index lookup: a circular shift register
---------------------------------------
The query arrives in the last token, so the answer must come out of the state in one
step: the output is W·relu(A·h + β_i) + b_out, where the query i only moves the biases
β_i.  Reading an inner digit of a packed register that way needs a sawtooth with many
kinks, i.e. many units, so each symbol gets its own unit (a design choice, not a
proven necessity).  Layer 0 is a ring of n units u_0..u_{n−1}: u_0 ← u_{n−1} + value of
the token (the symbol s as raw integer s; "?" and position tokens add 0), u_k ← u_{k−1}.
While the n symbols are read, u_{n−1} still holds its initial 0 when it wraps into u_0, so
after them x_t (0-based) sits in u_{n−1−t}; the "?" step rotates once more, and the index
token naming position i rotates again and adds −(A−1) to every unit except
u_{(n+1−i) mod n}, where x_i lands in that step, so after the step the state is x_i in one
unit and 0 elsewhere.  Read-out class scores score_c = 2c·Σ_k u_k − c² (raw) are maximal
exactly at c = x_i (the gap is (x_i − c)² ≥ 1).  **d = n units** (L·d·p = n·p bits ≥
n·⌈log2 A⌉): linear in n as the lower bound demands, a factor p/log2 A above it; the state
after Alice's symbols is the symbols themselves, so all A^n inputs give distinct messages.

More layers (``layers`` = L ≥ 2): layers 1..L−1 copy the answer-carrying quantity (D, or
Σ_k u_k) into their unit 0 and the read-out uses the top layer; the state (and each
handoff message) is then L·d·p bits.

Default precision: ``Precision.fixed(16)`` (f = 8).  Float arithmetic is refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...bits import Precision
from ...errors import InvalidInputError
from ..rnn import RNNModel
from . import refuse_options

__all__ = ["build", "register_bits", "min_hidden", "DEFAULT_PRECISION"]

DEFAULT_PRECISION = Precision.fixed(16)
_TASKS = ("disjointness", "equality", "index-lookup")


def _layout_ok(prec: Precision, K: int, j: int) -> bool:
    """The range conditions of the module docstring for K-bit registers and M = 2^j."""
    p, f = prec.bits, prec.frac
    return (1 <= K <= p - 1 and j >= 0 and j + K <= p - 1 and K - j <= p - 1 - f
            and j <= p - 3 - f and j <= f and f >= 1)


def _top_scale(prec: Precision, K: int) -> int:
    """The smallest j (M = 2^j) that makes K-bit registers fit, or -1."""
    for j in range(0, prec.bits):
        if _layout_ok(prec, K, j):
            return j
    return -1


def register_bits(prec: Precision) -> int:
    """K_max: the most bits one register unit can hold at this precision (0 if none),
    e.g. 11 at p = 16, f = 8."""
    for K in range(prec.bits - 1, 0, -1):
        if _top_scale(prec, K) >= 0:
            return K
    return 0


def _task_name(task: Any) -> str:
    name = getattr(task, "name", task)
    if name not in _TASKS:
        raise InvalidInputError(f"the storing RNN solves {', '.join(_TASKS)}, not {name!r}")
    return str(name)


def min_hidden(task: Any, n: int, precision: Precision | None = None) -> int:
    """The smallest hidden size the construction needs for ``n`` at ``precision``."""
    name = _task_name(task)
    prec = DEFAULT_PRECISION if precision is None else precision
    _check_precision(prec)
    if name == "index-lookup":
        return int(n)
    kmax = register_bits(prec)
    if kmax < 1:
        raise InvalidInputError(f"the storing RNN has no register layout at {prec.describe()}; use more bits")
    return max(2, math.ceil((int(n) + 1) / kmax)) + 4


def _check_precision(prec: Precision) -> None:
    if not prec.is_fixed:
        raise InvalidInputError("the storing RNN is built for fixed-point arithmetic (--arith fixed)")
    if prec.frac > prec.bits - 3:
        raise InvalidInputError(
            f"the storing RNN needs the weight 2.0 on the p-bit grid: f <= p - 3 (got p = {prec.bits}, "
            f"f = {prec.frac}); use more bits or fewer fractional bits"
        )


def build(task: Any, n: int, precision: Precision | None = None, hidden: int | None = None,
          layers: int | None = None, seed: int = 0, **options: Any) -> RNNModel:
    """The storing RNN for ``task`` (a Task object or its name) at size ``n``.

    ``hidden`` defaults to :func:`min_hidden`; a smaller value raises
    :class:`InvalidInputError` naming the minimum.  ``layers`` defaults to 1.  ``seed`` is
    accepted for the shared builder signature (the weights are deterministic).  Other
    shared options (``heads``, ``width``) are accepted only when None."""
    refuse_options("storing RNN", options)
    del seed
    name = _task_name(task)
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"storing RNN: n must be >= 1, got {n}")
    prec = DEFAULT_PRECISION if precision is None else precision
    _check_precision(prec)
    L = 1 if layers is None else int(layers)
    if L < 1:
        raise InvalidInputError(f"storing RNN: layers must be >= 1, got {layers}")
    need = min_hidden(name, n, prec)
    d = need if hidden is None else int(hidden)
    if d < need:
        k = register_bits(prec)
        why = (f"{n} ring units, one per symbol" if name == "index-lookup"
               else f"{need - 4} registers of <= {k} bits for n + 1 = {n + 1} bits, plus 4 control units")
        raise InvalidInputError(
            f"storing RNN for {name} at n = {n} with {prec.bits}-bit fixed point needs hidden >= {need} "
            f"({why}); got {d}"
        )
    if name == "index-lookup":
        return _build_index(task, n, prec, d, L)
    return _build_strings(name, n, prec, d, L)


def _empty(vocab: int, d: int, L: int, out_dim: int) -> dict[str, np.ndarray]:
    return {
        "embed": np.zeros((vocab, d), dtype=np.int64),
        "w_rec": np.zeros((L, d, d), dtype=np.int64),
        "w_in": np.zeros((L, d, d), dtype=np.int64),
        "b": np.zeros((L, d), dtype=np.int64),
        "h0": np.zeros((L, d), dtype=np.int64),
        "wout": np.zeros((d, out_dim), dtype=np.int64),
        "bout": np.zeros(out_dim, dtype=np.int64),
    }


def _weight(prec: Precision, value: float) -> int:
    """Raw integer of a weight of the given value, which must lie on the p-bit grid."""
    raw = value * prec.scale
    if raw != int(raw) or not prec.raw_min <= raw <= prec.raw_max:
        raise InvalidInputError(f"storing RNN: weight {value} is not representable in {prec.describe()}")
    return int(raw)


def _build_strings(name: str, n: int, prec: Precision, d: int, L: int) -> RNNModel:
    from ...tasks.strings import EQUALS, SEP  # token ids 0, 1, "#", "="

    p = prec.bits
    kmax = register_bits(prec)
    m = max(2, math.ceil((n + 1) / kmax))
    K = math.ceil((n + 1) / m)
    q = K * m - (n + 1)
    j = _top_scale(prec, K)  # K <= kmax, so a scale exists
    M = 1 << j
    if 2 * n > prec.raw_max:
        raise InvalidInputError(f"storing RNN: the counter needs 2n <= {prec.raw_max} at p = {p}; use more bits")
    regs = list(range(m))
    g1, g2, c, D = m, m + 1, m + 2, m + 3
    P = _empty(4, d, L, 1)
    wr, emb, b = P["w_rec"][0], P["embed"], P["b"][0]
    one = _weight(prec, 1.0)
    # rotation: r_k <- r_{k-1}; r_0 <- 2 r_{m-1} - 2^(K-j) g1 + 2^(K-j-1) g2
    for k in range(1, m):
        wr[regs[k - 1], regs[k]] = one
    wr[regs[m - 1], regs[0]] = _weight(prec, 2.0)
    wr[g1, regs[0]] = _weight(prec, -float(1 << (K - j)))
    wr[g2, regs[0]] = _weight(prec, float(2.0 ** (K - j - 1)))
    emb[1, regs[q]] = 1  # the input bit enters at rotation position q (raw 1)
    # top-bit units: threshold of E = r_{m-2} (+ input bit if q = m-1) at 2^(K-1)
    for unit, offset, slope in ((g1, 1, M), (g2, 0, 2 * M)):
        wr[regs[m - 2], unit] = _weight(prec, float(slope))
        if q == m - 1:
            emb[1, unit] = slope
        b[unit] = slope * (offset - (1 << (K - 1)))
    # comparison: c = relu(g1 - g2/2 + M [token = 1] - M) = M (emitted bit AND token bit)
    wr[g1, c] = one
    wr[g2, c] = _weight(prec, -0.5)
    emb[1, c] = M
    b[c] = -M
    # counter
    wr[D, D] = one
    if name == "disjointness":
        wr[c, D] = _weight(prec, 1.0 / M)
    else:
        wr[c, D] = _weight(prec, -2.0 / M)
        emb[1, D] = 1
    # deeper layers copy D into their unit 0
    src = D
    for layer in range(1, L):
        P["w_in"][layer][src, 0] = one
        src = 0
    P["wout"][src, 0] = _weight(prec, -2.0)
    P["bout"][0] = 1
    del SEP, EQUALS  # their embeddings are all zero: they enter the register as a 0 bit
    config = {
        "vocab_size": 4, "hidden": d, "layers": L, "activation": "relu",
        "output_kind": "binary", "output_positions": [-1],
        "construction": {
            "name": f"storing RNN for {name} (rotating shift register; docs/theory.md §9.9 upper bound)",
            "registers": m, "register_bits": K, "input_position": q, "top_scale": M,
            "stored_bits": K * m, "min_hidden": m + 4, "state_bits": L * d * p,
        },
    }
    return RNNModel(P, prec, config)


def _build_index(task: Any, n: int, prec: Precision, d: int, L: int) -> RNNModel:
    alphabet = int(getattr(task, "alphabet", 2))
    if getattr(task, "n", None) not in (None, n):
        raise InvalidInputError(f"storing RNN: the task is for n = {task.n}, not {n}")
    A = alphabet
    top = A - 1
    if 2 * top * prec.scale > prec.raw_max or top * top > prec.raw_max:
        raise InvalidInputError(
            f"storing RNN for index lookup: alphabet {A} needs weights 2(A-1) <= 2^(p-1-f) and "
            f"(A-1)^2 <= 2^(p-1) at {prec.describe()}; use more bits"
        )
    if L > 1 and n * top > prec.raw_max:
        raise InvalidInputError(f"storing RNN: with layers > 1 the sum of the ring needs n(A-1) <= {prec.raw_max}")
    vocab = A + 1 + n
    P = _empty(vocab, d, L, A)
    wr, emb = P["w_rec"][0], P["embed"]
    one = _weight(prec, 1.0)
    for k in range(1, n):
        wr[k - 1, k] = one  # shift ...
    wr[n - 1, 0] = one  # ... around the ring
    emb[np.arange(A), 0] = np.arange(A)  # symbol s enters u_0 as raw s
    for i in range(n):
        tok = A + 1 + i
        emb[tok, :n] = -top  # kill every unit ...
        emb[tok, (n + 1 - i) % n] = 0  # ... except the one x_i moves into
    line = np.arange(n)
    if L == 1:
        for cls in range(A):
            P["wout"][line, cls] = _weight(prec, 2.0 * cls)
    else:
        P["w_in"][1][line, 0] = one
        for layer in range(2, L):
            P["w_in"][layer][0, 0] = one
        for cls in range(A):
            P["wout"][0, cls] = _weight(prec, 2.0 * cls)
    P["bout"][:] = -np.arange(A) ** 2
    config = {
        "vocab_size": vocab, "hidden": d, "layers": L, "activation": "relu",
        "output_kind": "class", "output_positions": [-1],
        "construction": {
            "name": "storing RNN for index lookup (circular shift register; docs/theory.md §9.9 upper bound)",
            "alphabet": A, "min_hidden": n, "state_bits": L * d * prec.bits,
        },
    }
    return RNNModel(P, prec, config)
