"""Sizes of the default suite and of the full one (``COMMLB_FULL=1``, ``make test-full``).

The default suite runs every check at sizes that take seconds; the full run adds the
large ones.  A parameter list reads ``(16, 64, 256, *full(1024))`` so the large case is
collected only in the full run (no skips in the default summary).
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

FULL = os.environ.get("COMMLB_FULL") == "1"


def full(*cases: T) -> tuple[T, ...]:
    """``cases`` in the full run, nothing in the default suite."""
    return cases if FULL else ()


def either(default: T, in_full: T) -> T:
    """``in_full`` in the full run, ``default`` otherwise (e.g. a number of instances)."""
    return in_full if FULL else default
