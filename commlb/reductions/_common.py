"""Helpers shared by the built-in reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError

#: the note of a reduction whose checked inequality is the problem's own bounds
ONE_WAY_NOTE = "the one-way and two-way bounds of the problem (Kushilevitz & Nisan 1997) through this reduction"


def bits(value: Any, length: int, who: str) -> np.ndarray:
    """A 0/1 int64 vector of the given length, or :class:`InvalidInputError`."""
    arr = np.asarray(value, dtype=np.int64)
    if arr.shape != (length,):
        arr = arr.reshape(-1)
    # set() of a short list is several times faster than numpy reductions here, and the
    # checker calls this for every pair
    if arr.shape != (length,) or not set(arr.tolist()) <= {0, 1}:
        raise InvalidInputError(f"{who} must be a 0/1 vector of length {length}")
    return arr


def last_scalar(output: Any) -> Any:
    """The answer read at the last position: a scalar output is itself; an array output
    (one value per position) gives its last entry."""
    arr = np.asarray(output)
    return arr.reshape(-1)[-1] if arr.ndim else arr.item()


def last_row(output: Any) -> np.ndarray:
    """For vector outputs: an (N, d') array gives its last row; a (d',) array is the row."""
    arr = np.asarray(output, dtype=np.float64)
    return arr[-1] if arr.ndim == 2 else arr.reshape(-1)
