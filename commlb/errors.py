"""Exceptions for user mistakes.  The CLI catches :class:`CommlbError` once and prints
its message as one line with exit code 2.  Anything else is a bug and gets a traceback."""

from __future__ import annotations

__all__ = [
    "CommlbError",
    "UnknownNameError",
    "InvalidInputError",
    "TooLargeError",
    "EngineError",
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
