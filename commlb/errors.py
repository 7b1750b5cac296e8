"""Exceptions for user mistakes.  The CLI catches :class:`CommlbError` once and prints
its message as one line with exit code 2.  Anything else is a bug and gets a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "CommlbError",
    "UnknownNameError",
    "InvalidInputError",
    "TooLargeError",
    "EngineError",
    "check_arguments",
]


class CommlbError(Exception):
    """Base class of errors caused by what the user asked for (exit code 2)."""

    exit_code = 2


class UnknownNameError(CommlbError, KeyError):
    """A problem, task, reduction, model or method name that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class InvalidInputError(CommlbError, ValueError):
    """A parameter or input file that is malformed or out of range."""


class TooLargeError(CommlbError):
    """Work that cannot finish in reasonable time or memory; the message carries an
    estimate and the option that makes it feasible."""


class EngineError(RuntimeError):
    """An internal inconsistency (e.g. protocol output != forward pass).  A bug, never
    a user error: it is not caught by the CLI."""


def check_arguments(func: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> None:
    """Refuse, before calling ``func``, arguments its signature does not take (an unknown
    keyword, a missing required one) with :class:`InvalidInputError` naming ``what`` and
    the parameters it takes.  The call itself is then made outside any ``except
    TypeError``, so a ``TypeError`` raised inside ``func`` is a bug and propagates."""
    import inspect

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # no signature to check (some builtins): call as is
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        takes = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise InvalidInputError(f"{what}: {exc} (it takes: {', '.join(takes) or 'nothing'})") from None
