"""The one backend switch shared by every kernel.

Every function that has a compiled kernel and a plain twin takes ``backend=`` with the same
three words (like galois's ``compile=``):

* ``"numba"`` — the compiled kernel (numba, ``cache=True``);
* ``"python"`` — the plain twin (Python / numpy), the reference the tests compare with;
* ``"auto"`` — the caller's default: the compiled kernel unless the input is so small that
  the plain twin answers before numba has loaded (each caller states its rule).

This module imports nothing heavy, so choosing a backend never imports numba.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InvalidInputError

__all__ = ["BACKENDS", "PLAIN_BELOW_ENTRIES", "resolve_backend", "auto_for_size", "compiled_kernels",
           "prefer_compiled"]

BACKENDS = ("numba", "python", "auto")

#: "auto" runs the plain twin of an elimination kernel up to this many matrix entries: it
#: answers in milliseconds there, while a first call of the compiled kernel on a fresh
#: install compiles it (seconds) - what made short commands slow to start
PLAIN_BELOW_ENTRIES = 64 * 64


def resolve_backend(backend: str, auto: str = "numba") -> str:
    """``"numba"`` or ``"python"`` for ``backend``; ``"auto"`` gives ``auto``.  Anything else
    is a user error (one line, exit code 2)."""
    if backend == "auto":
        backend = auto
    if backend not in ("numba", "python"):
        raise InvalidInputError(f"unknown backend {backend!r}; use numba, python or auto")
    return backend


def auto_for_size(backend: str, entries: int) -> str:
    """:func:`resolve_backend` for the elimination kernels: ``"auto"`` is ``"python"`` up
    to :data:`PLAIN_BELOW_ENTRIES` entries, else ``"numba"``."""
    return resolve_backend(backend, auto="python" if entries <= PLAIN_BELOW_ENTRIES else "numba")


_compiled_depth = 0


@contextmanager
def compiled_kernels() -> Iterator[None]:
    """Within the block, "auto" rules that keep small calls on the plain twin (the RNN
    cell's, :mod:`commlb.kernels.rnn`) pick the compiled kernel: a warm-up on a small
    instance then compiles or loads what the larger runs after it will call (the sweep's
    warm-up, so no point is charged for a compilation)."""
    global _compiled_depth
    _compiled_depth += 1
    try:
        yield
    finally:
        _compiled_depth -= 1


def prefer_compiled() -> bool:
    """True inside :func:`compiled_kernels`."""
    return _compiled_depth > 0
