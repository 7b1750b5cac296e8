"""The one error of the imported-model readers."""

from __future__ import annotations

from ..errors import InvalidInputError

__all__ = ["ModelFileError"]


class ModelFileError(InvalidInputError):
    """A checkpoint, config or adapter file that cannot be used as given (missing,
    corrupted, truncated, hostile, or a layout commlb does not know): one line, exit 2."""
