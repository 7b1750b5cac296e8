"""Shared timing helpers for the benchmarks (not tests: nothing here asserts a speed).

Every benchmark measures its candidates side by side in one run and prints ratios, so the
numbers are comparable whatever the machine.  ``best_of`` takes the minimum over a few
repetitions after one warm-up call (numba compilation and caches are excluded).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Timing", "best_of", "machine_line", "print_table", "ratio"]


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: float
    result: Any = None
    note: str = ""


def best_of(label: str, fn: Callable[[], Any], repeat: int = 3, warmup: bool = True,
            setup: Callable[[], Any] | None = None, note: str = "") -> Timing:
    """Minimum wall time of ``fn(setup())`` (or ``fn()``) over ``repeat`` runs.

    ``setup`` runs outside the timed region (e.g. a fresh copy for in-place kernels)."""
    def call() -> tuple[float, Any]:
        arg = setup() if setup is not None else None
        t0 = time.perf_counter()
        out = fn(arg) if setup is not None else fn()
        return time.perf_counter() - t0, out

    if warmup:
        call()
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        t, out = call()
        if t < best:
            best, result = t, out
    return Timing(label, best, result, note)


def ratio(slow: Timing, fast: Timing) -> float:
    return slow.seconds / fast.seconds if fast.seconds > 0 else float("inf")


def machine_line() -> str:
    return (f"python {sys.version.split()[0]}, {platform.machine()}, "
            f"{os.cpu_count()} logical cpus, {platform.platform()}")


def print_table(title: str, rows: list[Timing], reference: Timing | None = None) -> None:
    """Print timings, and each one's speed relative to ``reference`` (>1 = faster)."""
    print(f"\n{title}")
    width = max(len(r.label) for r in rows) + 2
    for r in rows:
        rel = ""
        if reference is not None and r is not reference:
            rel = f"   {ratio(r, reference):7.2f}x the time of {reference.label}"
        extra = f"   [{r.note}]" if r.note else ""
        print(f"  {r.label:<{width}} {r.seconds:10.4f} s{rel}{extra}")
