"""Test harnesses for users and for commlb's own tests.

- :func:`check_reduction` (soundness and locality of a reduction), in ``reductions.py``;
- :func:`assert_consistent` (reduction + model + split: the whole protocol contract),
  in ``consistency.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_reduction", "assert_consistent"]


def __getattr__(name: str) -> Any:
    if name in ("check_reduction", "ReductionReport", "Counterexample"):
        from . import reductions

        return getattr(reductions, name)
    if name in ("assert_consistent",):
        from . import consistency

        return getattr(consistency, name)
    raise AttributeError(name)
