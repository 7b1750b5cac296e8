"""What ``commlb explain`` returns: the walk-through (:class:`Explanation`) and its
panels (:class:`Step`), with their JSON form and the labels of tokens and bit counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..display import shown


@dataclass(frozen=True)
class Step:
    """One panel of the walk-through: ``key`` (problem, reduction, protocol, inequality,
    conclusion), a title, paragraphs of plain text, and the numbers behind them."""

    key: str
    title: str
    paragraphs: list[str]
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "paragraphs": self.paragraphs, "data": self.data}


@shown("explanation")
@dataclass
class Explanation:
    """The walk-through.  ``basis`` is ``"construction"`` (weights that solve the task),
    ``"random"`` (seeded random weights: not a solver) or ``"file"``; ``protocol`` names
    the protocol run (``"simulate"`` or ``"query-vector"``)."""

    task: str
    model: str
    n: int
    reduction: str
    problem: str
    steps: list[Step]
    simulation: dict[str, Any]
    tokens: Any = None
    owner: Any = None
    vocab_names: list[str] | None = None
    basis: str = "construction"
    protocol: str = "simulate"
    #: the run walked through (a :class:`~commlb.simulate.SimulationResult` whose transcript
    #: is the one the steps describe), for figures; None for ``explain --problem``
    result: Any = field(default=None, repr=False)

    def body_html(self) -> str:
        """The walk-through as an HTML fragment (what a notebook shows; see
        :mod:`commlb.explain.page`)."""
        from .page import notebook_html

        return notebook_html(self)

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(key)

    def text(self) -> str:
        """All paragraphs, as plain text (what the panels say)."""
        return "\n\n".join(f"{s.title}\n" + "\n".join(s.paragraphs) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "n": self.n,
            "reduction": self.reduction,
            "problem": self.problem,
            "basis": self.basis,
            "protocol": self.protocol,
            "steps": [s.to_json() for s in self.steps],
            "instance": {"tokens": _jsonable(self.tokens), "owner": _jsonable(self.owner),
                         "token_names": token_labels(self.tokens, self.vocab_names)},
            "simulation": _jsonable(self.simulation),
        }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.names:
            return [{n: _jsonable(row[n]) for n in obj.dtype.names} for row in obj]
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_json"):
        return _jsonable(obj.to_json())
    return obj


def token_labels(tokens: Any, names: list[str] | None) -> list[str]:
    """A short printable label per token (structured qSA tokens as z/y)."""
    if tokens is None:
        return []
    arr = np.asarray(tokens)
    out: list[str] = []
    if arr.dtype.names:
        for row in arr:
            parts = []
            if "z" in arr.dtype.names:
                z = np.atleast_1d(row["z"])
                parts.append("z=" + ",".join(f"{v:+g}" if v else "0" for v in z))
            if "y" in arr.dtype.names:
                y = np.atleast_1d(row["y"])
                parts.append("y={" + ",".join(str(int(v)) for v in y) + "}")
            out.append(" ".join(parts) or "·")
        return out
    for tok in arr.reshape(-1):
        t = int(tok)
        out.append(names[t] if names is not None and 0 <= t < len(names) else str(t))
    return out


def fmt_bits(value: Any) -> str:
    """A bit count as printed: an integer, or two decimals."""
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.2f}"
