"""Pictures of the objects commlb computes, as matplotlib Figures (docs/design.md §2.1).

* :func:`matrix_figure` — the communication matrix as a grid of cells, with a fooling
  set and the monochromatic rectangles of a protocol tree highlighted
  (``commlb bounds --figure``);
* :func:`tree_figure` — the protocol tree, drawn (``commlb bounds --tree-figure``);
* :func:`transcript_figure` — a run as a protocol: the tokens with their owners, the
  cut, and the messages as numbered arrows between Alice and Bob
  (``commlb simulate --figure``);
* :func:`witness_figure` — a witness: the two inputs whose messages collide, drawn as
  two rows (``commlb witness --figure``).

Every function takes the result object and returns the Figure (for a notebook);
:func:`save_figure` writes one to a .png, .svg or .pdf file.  Ownership reads without
colour: Alice's tokens are hatched ``//`` and marked A, Bob's ``\\\\`` and B.  The
drawn elements carry SVG ids (``cell-R-C``, ``token-I``, ``message-K``, …) so a picture
can be checked.  matplotlib and networkx are imported only when a figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .common import check_figure_path, save_figure
    from .matrix import check_matrix_size, matrix_figure, tree_figure
    from .transcript import transcript_figure
    from .witness import witness_figure

__all__ = ["matrix_figure", "tree_figure", "transcript_figure", "witness_figure", "save_figure",
           "check_figure_path", "check_matrix_size", "FIGURE_SUFFIXES"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")

_WHERE = {
    "matrix_figure": "matrix", "tree_figure": "matrix", "check_matrix_size": "matrix",
    "transcript_figure": "transcript", "witness_figure": "witness",
    "save_figure": "common", "check_figure_path": "common",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'commlb.figures' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"commlb.figures.{module}"), name)
