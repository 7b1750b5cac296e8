"""Checks of what a user hands to commlb, in one place: numbers, output paths, text and
``.npy``/``.npz`` files.  Each raises :class:`commlb.errors.InvalidInputError` (or
:class:`~commlb.errors.TooLargeError`) with one line naming the option, so that every
command refuses the same mistake with the same words.

- :func:`short_number` / :func:`short_text`: numbers and strings shortened for a message
  (an integer of 5,000 digits cannot even be formatted by ``str`` by default).
- :func:`finite_float`: rejects NaN, infinities and values below a minimum.
- :func:`check_output_path`: a file that can be created or overwritten, checked before
  any work; :func:`write_text` writes it and turns an OS error into one line.
- :func:`read_text`: a text file as UTF-8 (a non-UTF-8 byte is named by its offset).
- :func:`check_npy_members`: the headers of a ``.npy`` or ``.npz`` file, read before any
  array is, so that a header claiming 10^12 elements is refused without allocating it.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, TooLargeError

__all__ = [
    "MAX_FILE_ARRAY_BYTES",
    "check_npy_members",
    "check_output_path",
    "finite_float",
    "read_text",
    "short_number",
    "short_text",
    "write_file",
    "write_text",
]

#: Largest total array size read from a user's .npy / .npz file.
MAX_FILE_ARRAY_BYTES = 1 << 30


def short_number(v: Any, digits: int = 24) -> str:
    """``v`` as text, integers of more than ``digits`` digits as ``123…789 (5000 digits)``
    (in ASCII: ``123...789``).  Never fails on a huge integer."""
    if isinstance(v, bool) or not isinstance(v, int):
        return str(v)
    if v == 0 or abs(v).bit_length() < 3.32 * digits:
        text = str(v) if abs(v).bit_length() < 14000 else None
        if text is not None and len(text.lstrip("-")) <= digits:
            return text
    n_digits = int(abs(v).bit_length() * math.log10(2)) + 1
    sign = "-" if v < 0 else ""
    lead = f"{abs(v) >> max(0, abs(v).bit_length() - 40)}"[:6]
    return f"{sign}{lead}...({n_digits} digits)"


def short_text(s: str, limit: int = 60) -> str:
    """A user's string for a message: at most ``limit`` characters, one line."""
    s = " ".join(str(s).split())
    return s if len(s) <= limit else f"{s[:limit - 20]}...{s[-12:]} ({len(s)} characters)"


def finite_float(value: Any, option: str, *, minimum: float | None = 0.0, positive: bool = False) -> float:
    """``value`` as a finite float >= ``minimum`` (> 0 when ``positive``)."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{option} must be a number, got {short_text(str(value))!r}") from None
    if not math.isfinite(v):
        raise InvalidInputError(f"{option} must be a finite number, got {value!r}")
    if positive and v <= 0:
        raise InvalidInputError(f"{option} must be > 0, got {value!r}")
    if minimum is not None and v < minimum:
        raise InvalidInputError(f"{option} must be >= {minimum:g}, got {value!r}")
    return v


def check_output_path(path: str | os.PathLike[str], option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse, before any work, an output file that cannot be written: a missing
    directory, a directory in place of the file, a path through a regular file, a
    read-only file system or a wrong suffix.  Nothing is created."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise InvalidInputError(f"{option}: use a file name ending in {' or '.join(suffixes)}, got {str(p)!r}")
    if p.exists():
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInputError(f"{option} {str(p)!r} is a directory, not a file")
        if not os.access(p, os.W_OK):
            raise InvalidInputError(f"{option}: cannot write {str(p)!r} (permission denied)")
        if p.is_file():
            try:  # opening for append changes nothing but proves the file can be written
                with open(p, "ab"):
                    pass
            except OSError as exc:
                raise InvalidInputError(f"{option}: cannot write {str(p)!r}: {exc.strerror or exc}") from None
        return p
    parent = p.parent if str(p.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe != parent:
        what = "a file" if probe.is_file() else "missing"
        raise InvalidInputError(f"{option}: cannot write {str(p)!r}: directory {str(parent)!r} is {what}")
    if not parent.is_dir():
        raise InvalidInputError(f"{option}: cannot write {str(p)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{option}: cannot write into directory {str(parent)!r} (permission denied)")
    return p


def write_text(path: str | os.PathLike[str], text: str, option: str) -> None:
    """Write ``text`` to ``path`` (UTF-8); an OS error (disk full, permission) becomes one
    line naming ``option``."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise InvalidInputError(f"{option}: cannot write {str(path)!r}: {exc.strerror or exc}") from None


def write_file(path: str | os.PathLike[str], writer: Any, option: str) -> None:
    """Call ``writer(path)`` (e.g. ``model.save``), turning an OS error into one line
    naming ``option``."""
    try:
        writer(path)
    except OSError as exc:
        raise InvalidInputError(f"{option}: cannot write {str(path)!r}: {os_error_text(exc)}") from None


def os_error_text(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def _stat_file(p: Path, option: str) -> os.stat_result:
    """``p``'s stat, refusing a missing path or a directory with one line naming ``option``."""
    try:
        st = p.stat()
    except OSError:
        raise InvalidInputError(f"{option}: {str(p)!r} does not exist") from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"{option} {str(p)!r} is a directory, not a file")
    return st


def read_text(path: str | os.PathLike[str], option: str, max_bytes: int = 256 << 20) -> str:
    """The file at ``path`` as UTF-8 text, refusing missing, non-regular, oversized or
    non-UTF-8 files with one line naming ``option``."""
    p = Path(path)
    st = _stat_file(p, option)
    if st.st_size > max_bytes:
        raise TooLargeError(f"{option} {str(p)!r} has {st.st_size:,} bytes; the limit is {max_bytes:,}")
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInputError(f"{option}: cannot read {str(p)!r}: {os_error_text(exc)}") from None
    if len(data) > max_bytes:
        raise TooLargeError(f"{option} {str(p)!r} has more than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{option} {str(p)!r}: not UTF-8 text (byte {exc.start})") from None


def check_npy_members(path: str | os.PathLike[str], option: str,
                      max_bytes: int = MAX_FILE_ARRAY_BYTES) -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and dtype of every array in a ``.npy`` or ``.npz`` file, from the headers
    alone.  Refuses a file that is not one, object arrays (commlb reads only numbers), a
    header claiming more bytes than the file holds, and a total above ``max_bytes``."""
    import numpy as np
    from numpy.lib import format as npf

    p = Path(path)
    st = _stat_file(p, option)
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"{option} {str(p)!r} is not a regular file")
    if st.st_size == 0:
        raise InvalidInputError(f"{option} {str(p)!r} is empty")

    def header(fh: Any, name: str, available: int) -> tuple[tuple[int, ...], str]:
        try:
            version = npf.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = npf.read_array_header_1_0(fh)
            else:
                shape, _fortran, dtype = npf.read_array_header_2_0(fh)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            raise InvalidInputError(
                f"{option} {str(p)!r}: {name} is not a .npy array ({short_text(str(exc))})") from None
        if dtype.hasobject:
            raise InvalidInputError(f"{option} {str(p)!r}: {name} holds Python objects; "
                                    "commlb reads only numeric arrays")
        count = 1
        for d in shape:
            count *= int(d)
        nbytes = count * dtype.itemsize
        if nbytes > available:
            raise InvalidInputError(f"{option} {str(p)!r}: {name} claims shape {short_text(str(shape))} "
                                    f"({short_number(nbytes)} bytes) but holds {available:,} bytes "
                                    "(truncated or corrupt)")
        return tuple(int(d) for d in shape), dtype.str

    out: dict[str, tuple[tuple[int, ...], str]] = {}
    with open(p, "rb") as fh:
        magic = fh.read(6)
    try:
        if magic.startswith(b"\x93NUMPY"):
            with open(p, "rb") as fh:
                out[p.name] = header(fh, "the array", st.st_size)
        elif magic.startswith(b"PK"):
            try:
                with zipfile.ZipFile(p) as zf:
                    for info in zf.infolist():
                        name = info.filename
                        with zf.open(info) as member:
                            out[name.removesuffix(".npy")] = header(member, repr(name), info.file_size)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
                raise InvalidInputError(
                    f"{option} {str(p)!r}: not a readable .npz file ({short_text(str(exc))})") from None
        else:
            raise InvalidInputError(f"{option} {str(p)!r} is not a .npy/.npz file")
    except OSError as exc:
        raise InvalidInputError(f"{option}: cannot read {str(p)!r}: {os_error_text(exc)}") from None
    total = 0
    for shape, dt in out.values():
        count = 1
        for d in shape:
            count *= d
        total += count * np.dtype(dt).itemsize
    if total > max_bytes:
        raise TooLargeError(f"{option} {str(p)!r} holds {short_number(total)} bytes of arrays; "
                            f"the limit is {max_bytes:,}")
    return out
