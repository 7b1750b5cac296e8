"""What every figure shares: a fresh Figure (no pyplot state), the owners' fills and
hatches, token boxes, and writing a figure to a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

#: Alice, Bob, public: a fill, a hatch and a letter, so ownership reads without colour
OWNER_FACE = {0: "#9ecae1", 1: "#fdae6b", 2: "#f0f0f0"}
OWNER_HATCH = {0: "//", 1: "\\\\", 2: ""}
OWNER_MARK = {0: "A", 1: "B", 2: "·"}
OWNER_NAME = {0: "Alice", 1: "Bob", 2: "public"}
OWNER_KEY = "A, hatched //: Alice's token    B, hatched \\\\: Bob's token    ·, plain: public"
#: what marks a difference or a highlighted cell (with a thick edge, not colour alone)
MARK_COLOUR = "#d62728"


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure of ``width`` x ``height`` inches, made without pyplot (no global
    state, no window), or a one-line refusal when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidInputError("pictures need matplotlib: pip install 'commlb[plot]'") from None
    return Figure(figsize=(width, height), dpi=100)


def check_figure_path(path: str | os.PathLike[str], option: str = "--figure") -> Path:
    """Refuse, before any work, a figure path with a suffix other than .png, .svg or .pdf,
    or one that cannot be written."""
    from ..validate import check_output_path
    from . import FIGURE_SUFFIXES

    return check_output_path(path, option, FIGURE_SUFFIXES)


def save_figure(fig: Any, path: str | os.PathLike[str], option: str = "--figure") -> Path:
    """Write ``fig`` to ``path``; the suffix (.png, .svg, .pdf) picks the format.  SVG text
    stays text (searchable, and the ids of the drawn elements are kept); the files carry
    no date, so the same figure gives the same bytes."""
    from ..validate import write_file

    p = check_figure_path(path, option)
    fmt = p.suffix.lower().lstrip(".")
    import matplotlib

    metadata: dict[str, Any] = {"Date": None} if fmt in ("svg", "pdf") else {}
    if fmt == "pdf":
        metadata["CreationDate"] = None
        metadata.pop("Date")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "commlb"}):
        write_file(p, lambda target: fig.savefig(target, format=fmt, metadata=metadata), option)
    return p


def token_box(ax: Any, x: float, y: float, owner: int, label: str, gid: str, *, width: float = 0.9,
              height: float = 0.9, fontsize: float = 10, mark: bool = True, edge: str = "#333333",
              linewidth: float = 0.8) -> Any:
    """A token at (x, y) (its lower-left corner): filled and hatched by owner, its name
    inside and the owner's letter (A / B / ·) under it."""
    from matplotlib.patches import Rectangle

    box = Rectangle((x, y), width, height, facecolor=OWNER_FACE[owner], hatch=OWNER_HATCH[owner],
                    edgecolor=edge, linewidth=linewidth, gid=gid)
    ax.add_patch(box)
    if label:
        ax.text(x + width / 2, y + height * 0.62, label, ha="center", va="center", fontsize=fontsize,
                bbox={"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
                gid=f"{gid}-label")
    if mark:
        ax.text(x + width / 2, y - 0.18, OWNER_MARK[owner], ha="center", va="top", fontsize=fontsize * 0.9,
                color="#333333", gid=f"{gid}-owner")
    return box


def token_names(tokens: Any, names: list[str] | None) -> list[str]:
    """The printable name of each token (its id when the task has no names; "·" for
    structured tokens)."""
    import numpy as np

    arr = np.asarray(tokens)
    if arr.dtype.names:
        return ["·"] * int(arr.shape[0])
    out = []
    for tok in arr.reshape(-1).tolist():
        t = int(tok)
        out.append(names[t] if names is not None and 0 <= t < len(names) else str(t))
    return out


def shown_positions(length: int, limit: int) -> list[int]:
    """Positions to draw for a sequence of ``length``: all of them, or the first and last
    ``limit // 2`` with -1 standing for the gap."""
    if length <= limit:
        return list(range(length))
    half = limit // 2
    return list(range(half)) + [-1] + list(range(length - half, length))


def wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
