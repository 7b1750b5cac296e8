"""Feedforward networks on the flattened input that solve disjointness, equality and
index lookup exactly with one hidden unit per coordinate (the matching upper bound for
the FFN width lower bound of SHT23 Theorem 10, docs/theory.md §9.11, §8.10).

An FFN on the flattened input is charged, under a split of the positions, for Alice's
first-layer partial pre-activations (:mod:`commlb.protocol.ffn`): one number per hidden
unit.  A correct one-way protocol for DISJ_n, EQ_n or INDEX_n carries ≥ n bits, so the
first layer needs h_1·w ≥ n bits, where w is the width of a partial sum.  These
constructions meet the information count exactly: h_1 = n (2n for equality) units whose
partial sums take two values each, so Alice's 2^n inputs give 2^n distinct messages
(effective bits = n, ``commlb witness --effective-bits``).  The protocol encodes each
partial sum as an exact accumulator of the width of its exact range (2f fractional bits:
4 bits per unit at the default f = 1), so the nominal message is 4·h_1 bits:

* **disjointness** (tokens ``a # b =``): u_j = relu(a_j + b_j − 1) is 1 exactly when
  both sets contain j; the read-out 1/2 − Σ_j u_j is > 0 iff the sets are disjoint.
* **equality**: u_j = relu(a_j − b_j), v_j = relu(b_j − a_j); read-out 1/2 − Σ (u_j + v_j)
  is > 0 iff a = b.
* **index lookup** (``x_1..x_n ? i`` over an alphabet of size A): u_j = relu(x_j + M·[i =
  j] − M) with M = A − 1 equals x_j when j = i and 0 otherwise, so Σ_j u_j = x_i; class
  scores 2c·Σ_j u_j − c² are maximal exactly at c = x_i (the gap is (x_i − c)² ≥ 1).

Size: one layer, h_1 = n (2n for equality), one-hot input of length T (T·V·h_1 first-layer
weights, almost all zero, stored densely; index lookup has V = A + 1 + n, so its table
grows as n³ and sizes above :data:`MAX_TABLE` entries are refused with an estimate).
All values are small integers (and 1/2), so every fixed-point format with f ≥ 1 and
enough integer bits for n, 2(A − 1) and (A − 1)² is exact; the default
(:func:`default_precision`) is f = 1 and p = bit_length(n) + 3 (at least 8), so nothing
saturates and each partial sum's exact range takes 4 bits (4n bits for disjointness).
Float arithmetic is refused (the point is the exact count).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...bits import Precision
from ...errors import InvalidInputError
from ..ffn import FFNModel
from . import refuse_options

__all__ = ["build", "min_hidden", "default_precision", "MAX_TABLE"]

#: largest dense first-layer table (T·V·h_1 int64 entries, 512 MiB) the builder makes
MAX_TABLE = 1 << 26
_TASKS = ("disjointness", "equality", "index-lookup")


def _task_name(task: Any) -> str:
    name = getattr(task, "name", task)
    if name not in _TASKS:
        raise InvalidInputError(f"the direct FFN solves {', '.join(_TASKS)}, not {name!r}")
    return str(name)


def min_hidden(task: Any, n: int) -> int:
    """Hidden units the construction uses: n (2n for equality)."""
    return 2 * int(n) if _task_name(task) == "equality" else int(n)


def default_precision(task: Any, n: int) -> Precision:
    """One fractional bit (every value is an integer or a half) and enough integer bits
    that nothing saturates: the read-out reaches −n + 1/2 (strings) and the class scores
    ±(A − 1)² (index lookup): p = max(8, bit_length(max(n, 2(A−1)², …)) + 3), f = 1."""
    top = int(getattr(task, "alphabet", 2)) - 1 if _task_name(task) == "index-lookup" else 1
    reach = max(int(n), 2 * top * top, 2 * top + 1)
    return Precision.fixed(max(8, reach.bit_length() + 3), 1)


def _raw(prec: Precision, value: float) -> int:
    raw = value * prec.scale
    if raw != int(raw) or not prec.raw_min <= raw <= prec.raw_max:
        raise InvalidInputError(
            f"direct FFN: the weight {value} is not representable in {prec.describe()}; use more bits")
    return int(raw)


def build(task: Any, n: int, precision: Precision | None = None, hidden: int | None = None,
          layers: int | None = None, seed: int = 0, **options: Any) -> FFNModel:
    """The direct FFN for ``task`` at size ``n``.  ``hidden`` may only be the size the
    construction has (or None); ``layers`` only 1; ``seed`` is accepted for the shared
    builder signature (the weights are deterministic)."""
    refuse_options("direct FFN", options)
    del seed
    name = _task_name(task)
    n = int(n)
    if n < 1:
        raise InvalidInputError(f"direct FFN: n must be >= 1, got {n}")
    prec = default_precision(task, int(n)) if precision is None else precision
    if not prec.is_fixed:
        raise InvalidInputError("the direct FFN is built for fixed-point arithmetic (--arith fixed)")
    if prec.frac < 1:
        raise InvalidInputError("the direct FFN needs the value 1/2: at least one fractional bit")
    h = min_hidden(name, n)
    if hidden is not None and int(hidden) != h:
        raise InvalidInputError(f"the direct FFN for {name} at n = {n} has {h} hidden units; drop --hidden "
                                "or use random weights")
    if layers is not None and int(layers) != 1:
        raise InvalidInputError("the direct FFN has one hidden layer; drop --layers or use random weights")
    T, V = (n + 2, int(getattr(task, "alphabet", 2)) + 1 + n) if name == "index-lookup" else (2 * n + 2, 4)
    if T * V * h > MAX_TABLE:
        raise InvalidInputError(
            f"the direct FFN for {name} at n = {n} has a dense first layer of {T}·{V}·{h} = {T * V * h:.3g} "
            f"weights ({T * V * h * 8 / 2**30:.1f} GiB); the limit is {MAX_TABLE:,}: use a smaller --n"
        )
    if name == "index-lookup":
        return _build_index(task, n, prec)
    return _build_strings(name, n, prec, h)


def _build_strings(name: str, n: int, prec: Precision, h: int) -> FFNModel:
    from ...tasks.strings import EQUALS, SEP  # token ids 0, 1, "#", "="

    T, V = 2 * n + 2, max(SEP, EQUALS) + 1
    one = _raw(prec, 1.0)
    w1 = np.zeros((T, V, h), dtype=np.int64)
    b1 = np.zeros(h, dtype=np.int64)
    a_pos, b_pos = np.arange(n), n + 1 + np.arange(n)
    units = np.arange(n)
    if name == "disjointness":
        w1[a_pos, 1, units] = one  # u_j = relu(a_j + b_j - 1)
        w1[b_pos, 1, units] = one
        b1[:] = -one
    else:  # equality: u_j = relu(a_j - b_j), v_j = relu(b_j - a_j)
        w1[a_pos, 1, units] = one
        w1[b_pos, 1, units] = -one
        w1[a_pos, 1, n + units] = -one
        w1[b_pos, 1, n + units] = one
    params = {
        "w1": w1, "b1": b1,
        "wout": np.full((h, 1), -one, dtype=np.int64),
        "bout": np.array([_raw(prec, 0.5)], dtype=np.int64),
    }
    config = {
        "length": T, "vocab_size": V, "input": "onehot", "hidden_sizes": [h], "activation": "relu",
        "output_kind": "binary",
        "construction": {"name": f"direct FFN for {name} (one unit per coordinate; docs/theory.md §9.11)",
                         "hidden": h},
    }
    return FFNModel(params, prec, config)


def _build_index(task: Any, n: int, prec: Precision) -> FFNModel:
    if getattr(task, "n", None) not in (None, n):
        raise InvalidInputError(f"direct FFN: the task is for n = {task.n}, not {n}")
    A = int(getattr(task, "alphabet", 2))
    top = A - 1
    T, V = n + 2, A + 1 + n
    w1 = np.zeros((T, V, n), dtype=np.int64)
    units = np.arange(n)
    for s in range(A):
        w1[units, s, units] = _raw(prec, float(s))  # x_j enters unit j as its value
    w1[n + 1, A + 1 + units, units] = _raw(prec, float(top))  # +M on the unit the query names
    b1 = np.full(n, -_raw(prec, float(top)), dtype=np.int64)  # -M everywhere
    classes = np.arange(A)
    wout = np.zeros((n, A), dtype=np.int64)
    wout[:, :] = np.array([_raw(prec, 2.0 * c) for c in classes])[None, :]
    bout = np.array([-_raw(prec, float(c * c)) for c in classes], dtype=np.int64)
    config = {
        "length": T, "vocab_size": V, "input": "onehot", "hidden_sizes": [n], "activation": "relu",
        "output_kind": "class",
        "construction": {"name": "direct FFN for index lookup (one unit per position; docs/theory.md §9.11)",
                         "hidden": n, "alphabet": A},
    }
    return FFNModel(params={"w1": w1, "b1": b1, "wout": wout, "bout": bout}, precision=prec, config=config)
