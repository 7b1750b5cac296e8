"""Input distributions μ on X × Y for distributional bounds, held exactly.

A distribution is an integer weight matrix W ≥ 0 (one weight per input pair) and
μ(x, y) = W[x, y] / Z with Z = Σ W.  ``uniform`` is W = 1.  A file gives the weights as
text (one row per line, numbers separated by spaces or commas; "1/3" and "0.25" are read
exactly) or ``.npy``; the weights are brought to a common denominator, so μ is exactly the
distribution written in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .rational import to_fraction

__all__ = ["Distribution", "uniform", "load_distribution", "from_weights"]

#: weights above this are refused (the spectral bound multiplies them; int64 must not overflow)
MAX_WEIGHT = 1 << 24


@dataclass(frozen=True, eq=False)
class Distribution:
    """μ = weights / total, weights a non-negative int64 matrix."""

    weights: np.ndarray
    name: str

    @property
    def total(self) -> int:
        return int(self.weights.sum())

    @property
    def is_uniform(self) -> bool:
        return bool(np.all(self.weights == self.weights.flat[0]))

    def prob(self, x: int, y: int) -> Fraction:
        return Fraction(int(self.weights[x, y]), self.total)

    def describe(self) -> str:
        return self.name


def uniform(rows: int, cols: int) -> Distribution:
    return Distribution(np.ones((rows, cols), dtype=np.int64), "uniform")


def from_weights(values: list[list[Fraction]] | np.ndarray, name: str, shape: tuple[int, int]) -> Distribution:
    """A Distribution from exact non-negative weights of the given shape."""
    rows = [[to_fraction(v, "distribution weight") for v in row] for row in
            (values.tolist() if isinstance(values, np.ndarray) else values)]
    if len(rows) != shape[0] or any(len(r) != shape[1] for r in rows):
        got = f"{len(rows)} x {len(rows[0]) if rows else 0}"
        raise InvalidInputError(f"{name}: the distribution is {got}, the matrix {shape[0]} x {shape[1]}")
    if any(v < 0 for r in rows for v in r):
        raise InvalidInputError(f"{name}: distribution weights must be >= 0")
    den = 1
    for r in rows:
        for v in r:
            den = den * v.denominator // math.gcd(den, v.denominator)
    ints = [[int(v * den) for v in r] for r in rows]
    g = 0
    for int_row in ints:
        for w in int_row:
            g = math.gcd(g, w)
    if g == 0:
        raise InvalidInputError(f"{name}: all distribution weights are zero")
    ints = [[v // g for v in r] for r in ints]
    top = max(max(r) for r in ints)
    if top > MAX_WEIGHT:
        raise InvalidInputError(
            f"{name}: after bringing the weights to integers the largest is {top} (> 2^24); "
            f"give the weights with fewer digits (e.g. integers up to 16 million)"
        )
    return Distribution(np.array(ints, dtype=np.int64), name)


def load_distribution(path: str, shape: tuple[int, int]) -> Distribution:
    """Weights from ``path`` (text rows or ``.npy``), checked against the matrix shape."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"--distribution: no such file {path!r}")
    name = f"from {p.name}"
    if p.suffix == ".npy":
        from ..validate import check_npy_members

        check_npy_members(p, "--distribution")  # the header first: no allocation from a lying header
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InvalidInputError(f"--distribution {path}: not a .npy array ({exc})") from None
        if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise InvalidInputError(f"--distribution {path}: needs a 2-D numeric array")
        return from_weights(arr, name, shape)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"--distribution {path}: not a text file (use .npy for binary)") from None
    rows = [line.replace(",", " ").split() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise InvalidInputError(f"--distribution {path}: no weights found")
    return from_weights([[to_fraction(v, f"--distribution {path}") for v in r] for r in rows], name, shape)
