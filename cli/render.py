"""Shared rendering helpers: rich console, JSON output, owner colours."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

OWNER_STYLE = {0: "bold cyan", 1: "bold magenta", 2: "dim"}
OWNER_NAME = {0: "Alice", 1: "Bob", 2: "public"}


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


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


def token_strip(tokens: np.ndarray, owner: np.ndarray, names: list[str] | None = None,
                max_tokens: int = 64):
    """A rich Text of tokens coloured by owner, shortened in the middle for long inputs."""
    from rich.text import Text

    text = Text()
    n = len(tokens)
    if n > max_tokens:
        half = max_tokens // 2
        idx = list(range(half)) + [-1] + list(range(n - half, n))
    else:
        idx = list(range(n))
    for i in idx:
        if i == -1:
            text.append(f" …({n - 2 * (max_tokens // 2)} more)… ", style="italic")
            continue
        tok = tokens[i]
        if getattr(tokens, "dtype", None) is not None and tokens.dtype.names:
            label = "·"
        else:
            label = names[int(tok)] if names is not None and 0 <= int(tok) < len(names) else str(int(tok))
        text.append(label, style=OWNER_STYLE[int(owner[i])])
        text.append(" ")
    return text


def owner_legend():
    from rich.text import Text

    t = Text()
    for k in (0, 1, 2):
        t.append(f"{OWNER_NAME[k]} ", style=OWNER_STYLE[k])
    return t
