"""Shared machinery of the built-in communication problems.

:class:`ProblemBase` adds to :class:`commlb.core.Problem` what every built-in problem
shares: input validation, batch sampling, the full communication matrix
(:meth:`ProblemBase.matrix`, refused above ``2^26`` entries with an estimate) and the
accessors :meth:`ProblemBase.deterministic_bound` / :meth:`ProblemBase.one_way_bound`
that pick one literature bound out of :meth:`bounds`.

:func:`pack_bits` packs 0/1 vectors into 64-bit words (entry ``j`` is bit ``j``: the
integer of a bit vector is ``x = sum_j x_j 2^j``, the same order as
:meth:`commlb.core.InputSpace.from_index`), so that bitwise problems broadcast over
words instead of single bits: ``evaluate(X[:, None, :], Y[None, :, :])`` on 4096 x 4096
pairs costs one word operation per pair.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import BoundKind, KnownBound, Problem
from ..errors import InvalidInputError, TooLargeError

__all__ = [
    "ProblemBase",
    "pack_bits",
    "as_bits",
    "as_ints",
    "check_n",
    "batch_shape",
    "ceil_log2",
    "DEFAULT_MAX_ENTRIES",
    "DONT_CARE",
]

#: largest communication matrix :meth:`ProblemBase.matrix` builds (entries)
DEFAULT_MAX_ENTRIES = 1 << 26
#: matrix entry of a pair outside the promise of a promise problem
DONT_CARE = -1

_WORD = 64


def ceil_log2(value: int) -> int:
    """⌈log2 value⌉ for an integer value >= 1 (exact, no floating point)."""
    if value < 1:
        raise ValueError("ceil_log2 needs a value >= 1")
    return (int(value) - 1).bit_length()


def check_n(n: Any, name: str, minimum: int = 1) -> int:
    """``n`` as a Python int, or :class:`InvalidInputError` when it is not an integer
    >= ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        else:
            raise InvalidInputError(f"{name}: n must be an integer, got {n!r}")
    n = int(n)
    if n < minimum:
        raise InvalidInputError(f"{name}: n must be >= {minimum}, got {n}")
    return n


def _as_int64(values: Any, length: int, who: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InvalidInputError(f"{who} must be an integer array")
    arr = arr.astype(np.int64, copy=False)
    if arr.ndim == 0 or arr.shape[-1] != length:
        raise InvalidInputError(
            f"{who} must have last axis of length {length}, got shape {arr.shape}"
        )
    return arr


def as_bits(values: Any, length: int, who: str) -> np.ndarray:
    """An int64 array of shape (..., length) with entries in {0, 1}, or
    :class:`InvalidInputError`."""
    arr = _as_int64(values, length, who)
    if arr.size and np.any((arr & ~np.int64(1)) != 0):
        raise InvalidInputError(f"{who} must hold only 0/1 entries")
    return arr


def as_ints(values: Any, length: int, upper: int, who: str) -> np.ndarray:
    """An int64 array of shape (..., length) with entries in [0, upper), or
    :class:`InvalidInputError`."""
    arr = _as_int64(values, length, who)
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise InvalidInputError(f"{who} must hold integers in [0, {upper})")
    return arr


def batch_shape(x: np.ndarray, y: np.ndarray) -> tuple[int, ...]:
    """The broadcast of the leading (batch) axes of x and y."""
    try:
        return np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    except ValueError:
        raise InvalidInputError(
            f"batch shapes {x.shape[:-1]} and {y.shape[:-1]} do not broadcast"
        ) from None


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack 0/1 vectors (..., n) into uint64 words (..., ⌈n/64⌉).

    Bit ``j`` of the vector is bit ``j % 64`` of word ``j // 64`` (least significant
    first), so for n <= 64 the single word is ``sum_j x_j 2^j``.
    """
    bits = np.asarray(bits)
    n = bits.shape[-1]
    words = max(1, -(-n // _WORD))
    pad = words * _WORD - n
    b = bits.astype(np.uint64)
    if pad:
        b = np.concatenate([b, np.zeros(b.shape[:-1] + (pad,), dtype=np.uint64)], axis=-1)
    b = b.reshape(b.shape[:-1] + (words, _WORD))
    return (b << np.arange(_WORD, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)


class ProblemBase(Problem):
    """Base of the built-in problems: validation, batch sampling, the communication
    matrix and bound accessors.  Subclasses implement ``evaluate`` and ``bounds``."""

    def sample_batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` random pairs stacked: X of shape (count, len_x), Y (count, len_y),
        int64 (inside the promise for promise problems)."""
        count = self._check_count(count)
        return self.x_space.sample(rng, count), self.y_space.sample(rng, count)

    @staticmethod
    def _check_count(count: Any) -> int:
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise InvalidInputError(f"count must be a non-negative integer, got {count!r}")
        return int(count)

    # ------------------------------------------------------------------ matrix

    def matrix(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> np.ndarray:
        """The communication matrix M[i, j] = f(x_space.from_index(i), y_space.from_index(j)).

        Rows are Alice's inputs, columns Bob's, in :meth:`InputSpace.from_index` order.
        Pairs outside the promise of a promise problem hold :data:`DONT_CARE` (-1).
        dtype int8 when every value fits (Boolean problems), int64 otherwise.
        Raises :class:`TooLargeError` (with the size and memory estimate) above
        ``max_entries`` entries.
        """
        rows = int(self.x_space.size)
        cols = int(self.y_space.size)
        entries = rows * cols
        dtype = np.int8 if self.num_outputs <= 127 else np.int64
        if entries > max_entries:
            itemsize = np.dtype(dtype).itemsize
            raise TooLargeError(
                f"{self!r}: the communication matrix has {rows} x {cols} = {entries:.3g} "
                f"entries (~{entries * itemsize / 2**30:.3g} GiB), above the limit of "
                f"{max_entries} entries; use a smaller n (or sample pairs with sample_batch)"
            )
        xs = self.x_space.enumerate()
        ys = self.y_space.enumerate()
        out = np.empty((rows, cols), dtype=dtype)
        # rows per block: keep the broadcast temporaries near 2^22 pairs
        block = max(1, (1 << 22) // max(1, cols))
        promise = self.is_promise
        for start in range(0, rows, block):
            stop = min(rows, start + block)
            xb = xs[start:stop, None, :]
            yb = ys[None, :, :]
            vals = np.broadcast_to(self.evaluate(xb, yb), (stop - start, cols))
            if promise:
                inside = np.broadcast_to(self.in_promise(xb, yb), vals.shape)
                vals = np.where(inside, vals, DONT_CARE)
            out[start:stop] = vals
        return out

    # ------------------------------------------------------------------ bounds

    def deterministic_bound(self) -> KnownBound | None:
        """The deterministic two-way lower bound: an exact value if one is known, else
        a non-asymptotic one, else an asymptotic one; None if :meth:`bounds` has none."""
        return _pick(b for b in self.bounds() if b.kind is BoundKind.DETERMINISTIC)

    def one_way_bound(self, direction: str = "AB") -> KnownBound | None:
        """The deterministic one-way lower bound for messages from Alice to Bob
        (``"AB"``) or Bob to Alice (``"BA"``), picked like :meth:`deterministic_bound`."""
        key = str(direction).upper().replace("->", "").replace("→", "")
        kinds = {"AB": BoundKind.ONE_WAY_AB, "BA": BoundKind.ONE_WAY_BA}
        if key not in kinds:
            raise InvalidInputError(f"direction must be 'AB' or 'BA', got {direction!r}")
        return _pick(b for b in self.bounds() if b.kind is kinds[key])

    def bounds_json(self) -> list[dict[str, Any]]:
        return [b.to_json() for b in self.bounds()]


def _pick(candidates: Any) -> KnownBound | None:
    lower = [b for b in candidates if b.lower]
    for test in (lambda b: b.exact, lambda b: not b.asymptotic, lambda b: True):
        for b in lower:
            if test(b):
                return b
    return None


def binary_entropy(eps: float) -> float:
    """H2(eps) = -eps log2 eps - (1 - eps) log2 (1 - eps)."""
    if eps <= 0.0 or eps >= 1.0:
        return 0.0
    return -eps * math.log2(eps) - (1.0 - eps) * math.log2(1.0 - eps)
