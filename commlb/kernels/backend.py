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

from ..errors import InvalidInputError

__all__ = ["BACKENDS", "resolve_backend"]

BACKENDS = ("numba", "python", "auto")


def resolve_backend(backend: str, auto: str = "numba") -> str:
    """``"numba"`` or ``"python"`` for ``backend``; ``"auto"`` gives ``auto``.  Anything else
    is a user error (one line, exit code 2)."""
    if backend == "auto":
        backend = auto
    if backend not in ("numba", "python"):
        raise InvalidInputError(f"unknown backend {backend!r}; use numba, python or auto")
    return backend
