"""Shared rendering helpers: rich console, JSON output, owner colours."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

OWNER_STYLE = {0: "bold cyan", 1: "bold magenta", 2: "dim"}
OWNER_NAME = {0: "Alice", 1: "Bob", 2: "public"}


#: Widest output: on a wide terminal or projector, text and tables stop here rather
#: than stretching across the screen.
MAX_WIDTH = 100


def console(stderr: bool = False):
    """A rich console on stdout (or stderr) at the terminal's width, at most
    :data:`MAX_WIDTH` columns (80 when the output is not a terminal and COLUMNS is unset)."""
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False)
    if con.width > MAX_WIDTH:
        con.width = MAX_WIDTH
    return con


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, dataclasses and enums into JSON-friendly values."""
    import dataclasses
    import enum

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.names:
            return [to_jsonable({n: row[n] for n in obj.dtype.names}) for row in obj]
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, enum.Enum):
        return obj.value if not isinstance(obj, int) else obj.name
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_json"):
            return to_jsonable(obj.to_json())
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return str(obj)
    if isinstance(obj, int) and not isinstance(obj, bool) and obj.bit_length() > 13000:
        # above Python's 4300-digit conversion limit: its size, as a string
        from commlb.validate import short_number

        return short_number(obj)
    return obj


def emit_json(obj: Any) -> None:
    json.dump(to_jsonable(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")


OWNER_MARK = {0: "A", 1: "B", 2: "·"}
#: The marks under a token strip, spelled out (ownership must read without colour).
OWNER_KEY = "A = Alice, B = Bob, · = public"


def _labels(tokens: Any, names: list[str] | None) -> list[str]:
    from commlb.figures.common import token_names  # the same names the pictures write

    return token_names(tokens, names)


def owned_rows(labels: list[str], owner: Any, width: int = 72, max_tokens: int = 64):
    """Tokens with their owners in text: lines of tokens, each followed by a line of
    A / B / · marks under the tokens (``OWNER_KEY``), so ownership reads without colour
    (NO_COLOR, a file, a printed page).  The tokens are coloured by owner as well.  Long
    inputs are shortened in the middle; lines are at most ``width`` characters."""
    from rich.text import Text

    owner = [int(o) for o in np.asarray(owner).reshape(-1).tolist()]
    n = len(labels)
    half = max_tokens // 2
    idx = list(range(n)) if n <= max_tokens else list(range(half)) + [-1] + list(range(n - half, n))
    width = max(8, int(width))
    lines: list[list[int]] = [[]]
    used = 0
    for i in idx:
        cell = (len(f"…{n - 2 * half} more…") if i == -1 else max(1, len(labels[i]))) + 1
        if lines[-1] and used + cell > width + 1:
            lines.append([])
            used = 0
        lines[-1].append(i)
        used += cell
    text = Text()
    for row, line in enumerate(lines):
        if row:
            text.append("\n")
        marks = Text()
        for j, i in enumerate(line):
            sep = " " if j < len(line) - 1 else ""
            if i == -1:
                gap = f"…{n - 2 * half} more…"
                text.append(gap + sep, style="italic")
                marks.append(" " * len(gap) + sep)
                continue
            w = max(1, len(labels[i]))
            text.append(labels[i].ljust(w), style=OWNER_STYLE[owner[i]])
            text.append(sep)
            marks.append(OWNER_MARK[owner[i]].ljust(w), style=OWNER_STYLE[owner[i]])
            marks.append(sep)
        text.append("\n")
        text.append_text(marks)
    return text


def token_strip(tokens: np.ndarray, owner: np.ndarray, names: list[str] | None = None,
                max_tokens: int = 64, width: int = 72):
    """A rich Text of tokens coloured by owner with a row of A/B/· marks under them
    (:func:`owned_rows`), shortened in the middle for long inputs."""
    return owned_rows(_labels(tokens, names), owner, width=width, max_tokens=max_tokens)


def owner_legend():
    from rich.text import Text

    t = Text()
    for k in (0, 1, 2):
        t.append(f"{OWNER_MARK[k]} = {OWNER_NAME[k]}", style=OWNER_STYLE[k])
        t.append("  " if k < 2 else "")
    return t
