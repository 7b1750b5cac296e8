"""The communication matrix as a grid, and the protocol tree as a drawn tree.

:func:`matrix_figure` draws one panel per thing to show: the matrix with a fooling set
marked (its pairs outlined thick and cross-hatched), and the same matrix cut into the
monochromatic rectangles that the leaves of a protocol tree give (each cell labelled
with its leaf R1, R2, … and hatched per rectangle).  :func:`tree_figure` draws that tree
with the same leaf names, so the two pictures read together.  Every cell is one SVG
element with id ``cell-R-C`` (``leaf-K-R-C`` in the rectangle panel, ``fooling-R-C``
for a marked pair); the tree's nodes are ``tree-node-PATH`` (PATH the bits from the
root, ``root`` for the root).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .common import MARK_COLOUR, OWNER_FACE, OWNER_HATCH, OWNER_NAME, new_figure, wrap

__all__ = ["matrix_figure", "tree_figure", "check_matrix_size", "MAX_SIDE", "MAX_LEAVES", "value_fills"]

#: the largest matrix side drawn (a cell per entry stays visible up to here)
MAX_SIDE = 64
#: the most leaves a drawn protocol tree may have
MAX_LEAVES = 128
_LEAF_HATCHES = ("", "//", "\\\\", "xx", "..", "++", "--", "||", "oo", "**")
_DONT_CARE_FILL = "#d9d9d9"


def check_matrix_size(rows: int, cols: int, option: str = "--figure") -> None:
    """Refuse a matrix too large to draw cell by cell (before anything is computed)."""
    if rows > MAX_SIDE or cols > MAX_SIDE:
        raise InvalidInputError(f"{option}: the matrix is {rows} x {cols}; a picture is drawn for matrices up to "
                                f"{MAX_SIDE} x {MAX_SIDE} (use a smaller --n)")


def value_fills(values: list[int]) -> dict[int, str]:
    """A grey per output value, white for the smallest and darkest for the largest (so
    a black-and-white print keeps them apart; the values are written in the cells too)."""
    vals = sorted(values)
    if len(vals) == 1:
        return {vals[0]: "#ffffff"}
    out = {}
    for i, v in enumerate(vals):
        level = int(round(255 - (255 - 82) * i / (len(vals) - 1)))
        out[v] = f"#{level:02x}{level:02x}{level:02x}"
    return out


def _grey_name(fill: str) -> str:
    level = int(fill[1:3], 16)
    return "white" if level == 255 else "dark grey" if level < 120 else "grey" if level < 200 else "light grey"


def _text_colour(fill: str) -> str:
    return "white" if int(fill[1:3], 16) < 150 else "black"


def _tick_labels(count: int, n: int | None) -> list[str]:
    if n is not None and count == 2**n and n <= 6:
        return [format(i, f"0{n}b") if n else "0" for i in range(count)]
    return [str(i) for i in range(count)]


def _values_of(matrix: Any, report: Any) -> tuple[np.ndarray, str, int | None]:
    """(values, source, n) of the matrix as the report saw it (a promise problem whose
    promise is a product set is restricted to it, as :func:`compute_bounds` does)."""
    from ..bounds.matrix import CommMatrix, matrix_from_array

    M = matrix if isinstance(matrix, CommMatrix) else matrix_from_array(np.asarray(matrix))
    if report is not None and M.has_dont_care and (report.rows, report.cols) != M.shape:
        from ..bounds.report import restrict_to_product_promise

        M, _ = restrict_to_product_promise(M)
    return np.asarray(M.values), M.source, M.n


def _fooling_pairs(report: Any) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    if report is None:
        return out
    for value, entry in (getattr(report, "fooling_set", None) or {}).items():
        pairs = entry.get("pairs") if isinstance(entry, dict) else None
        if pairs:
            out[int(value)] = [(int(r), int(c)) for r, c in pairs]
    return out


def _grid(ax: Any, values: np.ndarray, fills: dict[int, str], n: int | None, gid: str,
          labels: list[list[str]] | None = None, faces: list[list[str]] | None = None,
          hatches: list[list[str]] | None = None) -> None:
    """One rectangle per entry (row r at the top), its value (or ``labels``) written in it."""
    from matplotlib.patches import Rectangle

    rows, cols = values.shape
    fontsize = max(4.0, min(11.0, 150.0 / max(rows, cols)))
    write = max(rows, cols) <= 32
    for r in range(rows):
        for c in range(cols):
            v = int(values[r, c])
            fill = _DONT_CARE_FILL if v < 0 else fills[v]
            face = fill if faces is None else faces[r][c]
            hatch = ("..." if v < 0 else None) if hatches is None else hatches[r][c]
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="#777777", linewidth=0.5,
                                   hatch=hatch, gid=f"{gid}-{r}-{c}"))
            if write:
                text = ("*" if v < 0 else str(v)) if labels is None else labels[r][c]
                ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=fontsize, gid=f"{gid}-{r}-{c}-text",
                        color=_text_colour(face) if not hatch else "black",
                        bbox=None if not hatch else {"boxstyle": "square,pad=0.1", "facecolor": "white",
                                                     "edgecolor": "none", "alpha": 0.85})
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ticks = max(1, int(np.ceil(max(rows, cols) / 16)))
    ax.set_xticks([c + 0.5 for c in range(0, cols, ticks)])
    ax.set_xticklabels(_tick_labels(cols, n)[::ticks], rotation=90, fontsize=max(5.0, fontsize * 0.8),
                       family="monospace")
    ax.set_yticks([r + 0.5 for r in range(0, rows, ticks)])
    ax.set_yticklabels(_tick_labels(rows, n)[::ticks], fontsize=max(5.0, fontsize * 0.8), family="monospace")
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("y: Bob's input (columns)", fontsize=10)
    ax.set_ylabel("x: Alice's input (rows)", fontsize=10)
    ax.tick_params(length=0)


def matrix_figure(matrix: Any, report: Any = None, *, highlight: str = "auto", title: str | None = None,
                  fooling: dict[int, list[tuple[int, int]]] | None = None, search_seconds: float = 10.0) -> Any:
    """The matrix as a grid of cells, each entry's value written in it and shaded grey by
    value, with a fooling set marked and, when ``report`` (a
    :class:`~commlb.bounds.report.BoundsReport`) holds a protocol tree, a second panel of
    the tree's monochromatic rectangles.  The fooling set is ``fooling`` (value -> pairs),
    else the report's, else one searched for here (``search_seconds`` in all;
    every set drawn is verified first).  ``highlight`` = ``"fooling"``, ``"rectangles"``,
    ``"none"`` (the bare matrix) or ``"auto"`` (both).  The search runs only for matrices
    of at most :data:`MAX_SEARCH_VALUES` values.  Returns the matplotlib Figure."""
    if highlight not in ("auto", "fooling", "rectangles", "none"):
        raise InvalidInputError(f"highlight must be auto, fooling, rectangles or none, not {highlight!r}")
    values, source, n = _values_of(matrix, report)
    rows, cols = values.shape
    check_matrix_size(rows, cols)
    searched = False
    if highlight in ("auto", "fooling"):
        if fooling is None:
            fooling = _fooling_pairs(report)
        if not fooling and not np.any(values < 0):
            fooling, searched = _search_fooling(values, search_seconds), True
    else:
        fooling = {}
    tree = getattr(report, "tree", None) if highlight in ("auto", "rectangles") else None
    if highlight == "rectangles" and tree is None:
        raise InvalidInputError("no protocol tree to draw its rectangles: run the exact method")
    skipped = ""
    if highlight == "auto" and tree is not None and len(tree.leaves()) > MAX_LEAVES:
        skipped = (f"The protocol tree's {len(tree.leaves())} rectangles are not drawn (at most {MAX_LEAVES}).")
        tree = None
    from ..bounds.fooling import verify_fooling_set

    for value, pairs in fooling.items():
        if not verify_fooling_set(values, value, pairs):
            raise InvalidInputError(f"the pairs given for value {value} are not a fooling set of this matrix")
    panels = ["matrix" if not fooling else "fooling"] + (["rectangles"] if tree is not None else [])
    present = sorted({int(v) for v in np.unique(values) if v >= 0})
    fills = value_fills(present)
    side = min(7.5, max(4.0, 0.32 * max(rows, cols) + 2.0))
    fig = new_figure(side * len(panels) + 0.6, side + 2.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    notes: list[str] = []
    for ax, panel in zip(axes, panels):
        if panel in ("matrix", "fooling"):
            _grid(ax, values, fills, n, "cell")
            if panel == "fooling":
                notes.append(_draw_fooling(ax, fooling, values, searched))
                ax.set_title("the matrix; a fooling set outlined and cross-hatched", fontsize=12, pad=42)
            else:
                ax.set_title("the communication matrix", fontsize=12, pad=42)
        else:
            notes.append(_draw_rectangles(ax, values, fills, n, tree))
    if len(present) <= 4:
        key = "values: " + ", ".join(f"{v} ({_grey_name(fills[v])})" for v in present)
    else:
        key = (f"{len(present)} values, shaded from white ({present[0]}) to dark grey ({present[-1]}); "
               "each cell's value is written in it")
    if np.any(values < 0):
        key += "; * (dotted grey): outside the promise"
    fig.suptitle(title or f"{source}: {rows} x {cols} matrix, entry (x, y) = f(x, y)", fontsize=14)
    caption = wrap(" ".join([key + "."] + [t for t in notes + [skipped] if t]), int(14 * (side * len(panels) + 0.6)))
    lines = caption.count("\n") + 1
    height = side + 1.6 + 0.17 * lines
    fig.set_size_inches(side * len(panels) + 0.6, height)
    fig.text(0.01, 0.01, caption, fontsize=9, ha="left", va="bottom")
    fig.tight_layout(rect=(0, (0.2 + 0.17 * lines) / height, 1, 1 - 0.45 / height))
    return fig


#: a fooling set is searched for a picture only when the matrix has at most this many values
MAX_SEARCH_VALUES = 8


def _search_fooling(values: np.ndarray, seconds: float) -> dict[int, list[tuple[int, int]]]:
    """A largest fooling set per value that the search finds in ``seconds`` in all
    (verified by the caller like any other); none for a matrix of many values."""
    from ..bounds.fooling import max_fooling_set

    out: dict[int, list[tuple[int, int]]] = {}
    present = sorted({int(v) for v in np.unique(values)})
    if len(present) > MAX_SEARCH_VALUES:
        return out
    for v in present:
        res = max_fooling_set(values, v, time_limit=max(0.05, seconds / len(present)))
        if res.pairs:
            out[v] = [(int(r), int(c)) for r, c in res.pairs]
    return out


def _draw_fooling(ax: Any, fooling: dict[int, list[tuple[int, int]]], values: np.ndarray, searched: bool) -> str:
    from matplotlib.patches import Rectangle

    parts = []
    for value, pairs in sorted(fooling.items()):
        for r, c in pairs:
            ax.add_patch(Rectangle((c + 0.06, r + 0.06), 0.88, 0.88, facecolor="none", edgecolor=MARK_COLOUR,
                                   hatch="xx", linewidth=2.4, gid=f"fooling-{r}-{c}"))
        parts.append(f"{len(pairs)} pairs of value {value}")
    total = sum(len(p) for p in fooling.values())
    if len(parts) > 4:
        parts = [f"{total} pairs over {len(parts)} values"]
    where = " (found for this picture)" if searched else ""
    return (f"Fooling set{where}: {'; '.join(parts)}. For any two marked cells (x, y), (x', y') of one value "
            f"z, one of the crossed cells (x, y'), (x', y) is not z, so no monochromatic rectangle holds two "
            f"of them and every protocol tree needs at least {total} leaves.")


def _leaf_number(tree: Any) -> dict[int, int]:
    """id(leaf) -> 1-based number, left to right (the order of ``tree.leaves()``)."""
    return {id(leaf): k for k, leaf in enumerate(tree.leaves(), 1)}


def _leaf_style(k: int) -> tuple[str, str]:
    from matplotlib import colormaps

    rgba = colormaps["tab20"]((k - 1) % 20)
    face = "#" + "".join(f"{int(round(255 * (0.55 * ch + 0.45))):02x}" for ch in rgba[:3])  # pale
    # the (colour, hatch) pair differs between any two leaves up to 200, and so does the
    # hatch between neighbours: a leaf is told apart without colour too
    j = k - 1
    return face, _LEAF_HATCHES[(j + j // 20) % len(_LEAF_HATCHES)]


def _draw_rectangles(ax: Any, values: np.ndarray, fills: dict[int, str], n: int | None, tree: Any) -> str:
    rows, cols = values.shape
    leaves = tree.leaves()
    if len(leaves) > MAX_LEAVES:
        raise InvalidInputError(f"the protocol tree has {len(leaves)} leaves; its rectangles are drawn for up to "
                                f"{MAX_LEAVES}")
    labels = [["" for _ in range(cols)] for _ in range(rows)]
    faces = np.full((rows, cols), "#ffffff", dtype=object)
    hatches = np.full((rows, cols), "", dtype=object)
    owner = np.zeros((rows, cols), dtype=np.int64)
    for k, leaf in enumerate(leaves, 1):
        face, hatch = _leaf_style(k)
        for r in leaf.rows:
            for c in leaf.cols:
                if owner[r, c]:
                    raise InvalidInputError(f"the protocol tree's leaves overlap at ({r}, {c})")
                owner[r, c] = k
                # every cell named while they are large enough; else only each leaf's first cell
                if max(rows, cols) <= 16 or (r, c) == (leaf.rows[0], leaf.cols[0]):
                    labels[r][c] = f"R{k}"
                faces[r, c] = face
                hatches[r, c] = hatch
    from matplotlib.patches import Rectangle

    _grid(ax, values, fills, n, "leafcell", labels=labels, faces=faces.tolist(), hatches=hatches.tolist())
    for r in range(rows):  # the leaf of each cell, as its own element (leaf-K-R-C)
        for c in range(cols):
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor="none", edgecolor="none", gid=f"leaf-{owner[r, c]}-{r}-{c}"))
    # thick borders between cells of different rectangles
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols and owner[r, c] != owner[r, c + 1]:
                ax.plot([c + 1, c + 1], [r, r + 1], color="black", linewidth=2.2, solid_capstyle="butt")
            if r + 1 < rows and owner[r, c] != owner[r + 1, c]:
                ax.plot([c, c + 1], [r + 1, r + 1], color="black", linewidth=2.2, solid_capstyle="butt")
    ax.add_patch(Rectangle((0, 0), cols, rows, facecolor="none", edgecolor="black", linewidth=2.2))
    ax.set_title(f"the {len(leaves)} leaves of a depth-{tree.depth} protocol tree:\n"
                 "monochromatic rectangles R1, R2, …", fontsize=12, pad=42)
    by_output: dict[Any, list[int]] = {}
    for k, leaf in enumerate(leaves, 1):
        by_output.setdefault(leaf.output, []).append(k)
    outputs = "; ".join(f"output {v}: " + ", ".join(f"R{k}" for k in ks[:24]) + (f", … ({len(ks)} in all)"
                                                                                if len(ks) > 24 else "")
                        for v, ks in by_output.items())
    if max(rows, cols) > 16:
        outputs += " (each rectangle named in its first cell)"
    return (f"Rectangles (their cells need not be adjacent: a rectangle is a set of rows times a set of "
            f"columns): {outputs}. Each is monochromatic, so the tree's {len(leaves)} leaves cover the "
            f"matrix with no two values in one leaf.")


# ------------------------------------------------------------------------ the tree


def _label_set(kind: str, idx: tuple[int, ...], n: int | None, count: int, limit: int = 3) -> str:
    names = _tick_labels(count, n)
    shown = [names[i] if 0 <= i < len(names) else str(i) for i in idx[:limit]]
    more = f", +{len(idx) - limit}" if len(idx) > limit else ""
    return f"{kind} in {{{', '.join(shown)}{more}}}"


def tree_figure(tree: Any, *, n: int | None = None, shape: tuple[int, int] | None = None,
                title: str | None = None) -> Any:
    """A protocol tree (:class:`~commlb.bounds.exact.ProtocolTree`) drawn top-down:
    each inner node names who speaks (Alice: hatched //, A; Bob: \\\\, B), its edges the
    bit sent and the rows or columns it keeps; each leaf is a rectangle R1, R2, … (the
    numbering of :func:`matrix_figure`) with the output it announces.  Laid out with
    networkx: the leaves left to right in order, each parent above its children's middle.
    ``n`` (input bits) prints rows and columns in binary.  Returns the Figure."""
    import networkx as nx
    from matplotlib.patches import FancyBboxPatch

    leaves = tree.leaves()
    if len(leaves) > MAX_LEAVES:
        raise InvalidInputError(f"the protocol tree has {len(leaves)} leaves; it is drawn for up to {MAX_LEAVES}")
    rows = shape[0] if shape else 1 + max(max(leaf.rows) for leaf in leaves)
    cols = shape[1] if shape else 1 + max(max(leaf.cols) for leaf in leaves)
    graph: Any = nx.DiGraph()
    number = _leaf_number(tree)

    def add(node: Any, path: str) -> None:
        graph.add_node(path, node=node)
        if not node.is_leaf:
            for bit, child in (("0", node.left), ("1", node.right)):
                if child is not None:
                    add(child, path + bit)
                    graph.add_edge(path, path + bit, bit=bit)

    add(tree, "")
    pos: dict[str, tuple[float, float]] = {}
    leaf_x = 0
    for path in nx.dfs_postorder_nodes(graph, ""):
        kids = sorted(graph.successors(path))
        if kids:
            x = sum(pos[k][0] for k in kids) / len(kids)
        else:
            x = float(leaf_x)
            leaf_x += 1
        pos[path] = (x, -float(len(path)))
    depth = tree.depth
    width = max(6.0, min(24.0, 1.3 * len(leaves) + 1.5))
    fig = new_figure(width, 1.7 * depth + 3.0)
    ax = fig.subplots()
    compact = len(leaves) > 24  # the boxes get narrow: a letter for the speaker, the output alone
    font = 10 if not compact else 7
    for parent, child in graph.edges:
        (x0, y0), (x1, y1) = pos[parent], pos[child]
        ax.plot([x0, x1], [y0, y1], color="#555555", linewidth=1.2, zorder=1)
        ax.text(0.4 * x0 + 0.6 * x1, 0.4 * y0 + 0.6 * y1, graph.edges[parent, child]["bit"], ha="center",
                va="center", fontsize=font + 1, fontweight="bold", zorder=3,
                bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": "#555555"},
                gid=f"tree-edge-{child}")
    for path in graph.nodes:  # under an inner node: which rows (Alice) or columns (Bob) send 0 and 1
        node = graph.nodes[path]["node"]
        if node.is_leaf or len(leaves) > 32:
            continue
        x, y = pos[path]
        split = [(bit, kid) for bit, kid in (("0", node.left), ("1", node.right)) if kid is not None]
        lines = [f"{bit}: " + (_label_set("x", kid.rows, n, rows, 2) if node.speaker == "alice"
                               else _label_set("y", kid.cols, n, cols, 2)) for bit, kid in split]
        ax.text(x, y - 0.3, "\n".join(lines), ha="center", va="top", fontsize=font - 1.5, zorder=3,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    for path, (x, y) in pos.items():
        node = graph.nodes[path]["node"]
        gid = f"tree-node-{path or 'root'}"
        if node.is_leaf:
            k = number[id(node)]
            face, hatch = _leaf_style(k)
            ax.add_patch(FancyBboxPatch((x - 0.36, y - 0.28), 0.72, 0.56, boxstyle="square,pad=0", facecolor=face,
                                        hatch=hatch, edgecolor="black", linewidth=1.2, zorder=2, gid=gid))
            ax.text(x, y, f"R{k}\n{'' if compact else 'out '}{node.output}", ha="center", va="center",
                    fontsize=font, zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        else:
            who = 0 if node.speaker == "alice" else 1
            ax.add_patch(FancyBboxPatch((x - 0.36, y - 0.24), 0.72, 0.48, boxstyle="round,pad=0.02",
                                        facecolor=OWNER_FACE[who], hatch=OWNER_HATCH[who], edgecolor="black",
                                        linewidth=1.2, zorder=2, gid=gid))
            text = "AB"[who] if compact else f"{'AB'[who]}: {OWNER_NAME[who]}\nsends a bit"
            ax.text(x, y, text, ha="center", va="center", fontsize=font + (2 if compact else 0), zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    ax.set_xlim(-0.7, max(p[0] for p in pos.values()) + 0.7)
    ax.set_ylim(-depth - 0.6, 0.6)
    ax.axis("off")
    fig.suptitle(title or f"a protocol tree of depth {depth}: {depth} bits on every path, {len(leaves)} leaves",
                 fontsize=13)
    caption = wrap("Inner nodes: who sends the next bit (A, hatched //: Alice, who splits the rows x; B, "
                   "hatched \\\\: Bob, who splits the columns y), and which inputs send 0 and which 1. Leaves R1, "
                   "R2, …: rectangles of the matrix, left to right, and the output announced there.",
                   int(width * 13))
    fig.text(0.01, 0.01, caption, fontsize=10, ha="left", va="bottom")
    bottom = (0.25 + 0.18 * (caption.count("\n") + 1)) / (1.7 * depth + 3.0)
    fig.tight_layout(rect=(0, bottom, 1, 0.94))
    return fig
