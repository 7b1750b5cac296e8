"""Small helpers shared by the sequence tasks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError


def int_tokens(tokens: Any, task: str) -> np.ndarray:
    """``tokens`` as a 1-D int64 array, or :class:`InvalidInputError`."""
    arr = np.asarray(tokens)
    if arr.dtype == np.int64 and arr.ndim == 1:
        return arr
    if arr.ndim != 1:
        raise InvalidInputError(f"{task}: tokens must be a 1-D array, got shape {arr.shape}")
    if arr.dtype.names is not None or not (
        np.issubdtype(arr.dtype, np.integer) or arr.size == 0
    ):
        raise InvalidInputError(f"{task}: tokens must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_range(tokens: np.ndarray, low: int, high: int, task: str, what: str) -> None:
    """Raise unless every entry of ``tokens`` lies in [low, high)."""
    if tokens.size and (tokens.min() < low or tokens.max() >= high):
        raise InvalidInputError(f"{task}: {what} must lie in [{low}, {high})")


def positive_int(value: int, name: str, task: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; anything else (a string, a fraction, NaN, a
    bool) is refused with one line naming the parameter."""
    ok = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok and isinstance(value, (float, np.floating)):
        ok = bool(np.isfinite(value)) and float(value).is_integer()
    if not ok or int(value) < minimum:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InvalidInputError(f"{task}: {name} must be an integer >= {minimum}, got {shown}")
    return int(value)
