"""How results show themselves in a notebook or a rich console: a short ``repr``, a rich
table (``__rich__``) and an HTML table with the figure where there is one
(``_repr_html_``), for :class:`~commlb.simulate.SimulationResult`, the bound reports,
witness results, sweeps, explanations and reduction reports.

Each of those classes forwards its three methods here with its kind (``"simulation"``,
``"bounds"``, ``"error-bounds"``, ``"witness"``, ``"effective-bits"``, ``"sweep"``,
``"explanation"``, ``"reduction-check"``).  This module reads their attributes and
imports none of them (so it sits at the bottom of the layers, docs/design.md §2).  The
figures come from drawers registered by the layers that own them
(:func:`register_figure`: ``commlb/__init__`` registers :mod:`commlb.figures`), drawn only
when a notebook asks for HTML; matplotlib is imported then and not before.

Every number shown is one the object holds: nothing is recomputed here.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["register_figure", "figure_of", "short_repr", "rich_view", "html_view", "svg_img", "shown"]

_DRAWERS: dict[str, Callable[[Any], Any]] = {}
#: tables show at most this many rows (a note says how many more there are)
MAX_ROWS = 40


def register_figure(kind: str, draw: Callable[[Any], Any]) -> None:
    """Use ``draw(obj)`` (returning a matplotlib Figure, or None for no figure) for the
    HTML view of objects of ``kind``."""
    _DRAWERS[kind] = draw


def figure_of(kind: str, obj: Any) -> Any:
    """The figure of ``obj`` (None without a drawer, without matplotlib, or when the
    drawer refuses the object as too large with a :class:`~commlb.errors.CommlbError`)."""
    from .errors import CommlbError

    draw = _DRAWERS.get(kind)
    if draw is None:
        return None
    try:
        return draw(obj)
    except ImportError:  # matplotlib is an optional dependency
        return None
    except CommlbError:  # e.g. a matrix above the size a figure draws
        return None


def svg_img(fig: Any, alt: str) -> str:
    """A matplotlib Figure as an ``<img>`` with an SVG ``data:`` URI (self-contained)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    data = base64.b64encode(buf.getvalue().encode("utf-8")).decode("ascii")
    return (f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt)}" '
            'style="max-width:100%;height:auto">')


# ---------------------------------------------------------------------------------------------
# the three views
# ---------------------------------------------------------------------------------------------


def short_repr(kind: str, obj: Any) -> str:
    """One line: what the object is and its headline numbers."""
    return f"<{type(obj).__name__} {_VIEWS[kind](obj)['headline']}>"


def rich_view(kind: str, obj: Any) -> Any:
    """A rich renderable: a table of the object's fields, then its rows (if any)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    view = _VIEWS[kind](obj)
    head = Table(title=f"{type(obj).__name__}: {view['headline']}", show_header=False, title_justify="left")
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    for key, value in view["pairs"]:
        head.add_row(key, _text(value))
    parts: list[Any] = [head]
    if view.get("grid"):
        columns, rows = view["grid"]
        grid = Table(title=view.get("grid_title"), title_justify="left")
        for col in columns:
            grid.add_column(col, justify="right" if col in _NUMERIC else "left")
        for row in rows[:MAX_ROWS]:
            grid.add_row(*[_text(v) for v in row])
        parts.append(grid)
        if len(rows) > MAX_ROWS:
            parts.append(Text(f"… {len(rows) - MAX_ROWS} more rows"))
    parts += [Text(f"note: {note}") for note in view.get("notes", [])]
    return Group(*parts)


def html_view(kind: str, obj: Any) -> str:
    """An HTML fragment: a caption, a table of fields, the rows (if any), the notes and
    the figure (if one is registered for ``kind``)."""
    view = _VIEWS[kind](obj)
    out = ['<div class="commlb-result">',
           f"<p><strong>{_esc(type(obj).__name__)}</strong>: {_esc(view['headline'])}</p>"]
    if view.get("html_only"):  # the object draws itself (an explanation: the whole page)
        out += [view["html"](), "</div>"]
        return "\n".join(out)
    out.append("<table>" + "".join(f'<tr><th {_CELL}>{_esc(k)}</th><td {_CELL}>{_esc(_text(v))}</td></tr>'
                                   for k, v in view["pairs"]) + "</table>")
    if view.get("grid"):
        columns, rows = view["grid"]
        if view.get("grid_title"):
            out.append(f"<p>{_esc(view['grid_title'])}</p>")
        head = "".join(f"<th {_CELL}>{_esc(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td {_CELL}>{_esc(_text(v))}</td>" for v in row) + "</tr>"
                       for row in rows[:MAX_ROWS])
        out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if len(rows) > MAX_ROWS:
            out.append(f"<p>… {len(rows) - MAX_ROWS} more rows</p>")
    out += [f"<p>note: {_esc(note)}</p>" for note in view.get("notes", [])]
    fig = figure_of(kind, obj)
    if fig is not None:
        out.append(svg_img(fig, f"figure of the {type(obj).__name__}"))
    out.append("</div>")
    return "\n".join(out)


_CELL = 'style="text-align:left;padding:1px 10px 1px 0"'
_NUMERIC = {"n", "params", "width", "L", "p", "bits", "R", "bound", "#", "round", "runs", "trials", "lower",
            "upper"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        text = "".join(str(int(v)) for v in value) if value and all(_is_bit(v) for v in value) else str(list(value))
        return text if len(text) <= 80 else text[:77] + "…"
    return str(value)


def _is_bit(v: Any) -> bool:
    return isinstance(v, (int, bool)) and not isinstance(v, float) and v in (0, 1)


def _bits(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.2f}"


# ---------------------------------------------------------------------------------------------
# what each kind shows
# ---------------------------------------------------------------------------------------------


def _simulation(r: Any) -> dict[str, Any]:
    setup, tr = r.setup, r.transcript
    task = setup.task_name or setup.task.name
    lb = r.lower_bound
    bound = None if lb is None else f"{_bits(lb.compare_bits)} bits ({lb.kind}; {lb.citation.split(':')[0]})"
    verdict = "" if r.correct is None else (", right" if r.correct else ", WRONG")
    headline = (f"{task} with {r.built.family} at n = {setup.n}: {tr.total_bits} bits in {tr.rounds} "
                f"round{'s' if tr.rounds != 1 else ''}" + ("" if lb is None else f", bound {_bits(lb.compare_bits)}")
                + f"{verdict}")
    pairs = [("task", task), ("model", f"{r.built.family} ({r.built.model.num_params()} parameters, "
                                       f"{r.built.source})"),
             ("reduction", None if setup.reduction is None else setup.reduction.name),
             ("n", setup.n), ("seed", r.seed), ("x (Alice)", r.x), ("y (Bob)", r.y),
             ("answer", r.output), ("expected", r.expected), ("correct", r.correct),
             ("bits sent", f"{tr.total_bits} (Alice → Bob {tr.bits_alice_to_bob}, Bob → Alice "
                           f"{tr.bits_bob_to_alice})"),
             ("rounds", tr.rounds), ("lower bound", bound),
             ("verified by", ", ".join(name for name, ran in r.verification.items() if ran) or "not verified")]
    rows = [[k, m.round, f"{m.sender.name.capitalize()} → {m.receiver.name.capitalize()}", m.label, m.bits]
            for k, m in enumerate(tr.messages, 1)]
    return {"headline": headline, "pairs": pairs, "grid": (["#", "round", "from → to", "message", "bits"], rows),
            "grid_title": "messages"}


def _bounds(rep: Any) -> dict[str, Any]:
    best = rep.best_lower_bound
    up = rep.best_upper_bound
    headline = (f"{rep.source}, {rep.rows} × {rep.cols}: "
                + ("no lower bound" if best is None else f"D ≥ {best[0]} ({best[1]})")
                + ("" if up is None else f", D ≤ {up[0]} ({up[1]})"))
    pairs = [("matrix", rep.source), ("size", f"{rep.rows} × {rep.cols}"), ("output values", rep.output_values),
             ("best lower bound", None if best is None else f"{best[0]} bits ({best[1]})"),
             ("best upper bound", None if up is None else f"{up[0]} bits ({up[1]})")]
    rows = [[m.method, m.quantity, m.value, m.bits, m.status] for m in rep.table]
    return {"headline": headline, "pairs": pairs, "grid": (["method", "quantity", "value", "bits", "status"], rows),
            "grid_title": "methods", "notes": list(rep.notes)}


def _error_bounds(rep: Any) -> dict[str, Any]:
    best = rep.best_two_way
    headline = (f"{rep.source}, {rep.rows} × {rep.cols}, ε = {rep.error}: "
                + ("no two-way bound" if best is None else f"{best.bits} bits two-way ({best.method})"))
    pairs = [("matrix", rep.source), ("size", f"{rep.rows} × {rep.cols}"), ("error ε", str(rep.error)),
             ("distribution", rep.distribution)]
    rows = [[b.method, b.kind, b.bits, b.status, "verified" if b.verified else "NOT verified", b.source]
            for b in rep.bounds]
    return {"headline": headline, "pairs": pairs,
            "grid": (["method", "kind", "bits", "status", "certificate", "source"], rows),
            "grid_title": "bounds for protocols that err", "notes": list(rep.notes)}


def _witness(w: Any) -> dict[str, Any]:
    where = f"{w.task} with {w.model} at n = {w.n}"
    if w.found and w.alice_inputs is not None:
        headline = (f"{where}: a collision — x and x' send the same {w.message_bits}-bit message, and "
                    f"y tells them apart")
    else:
        headline = (f"{where}: no collision among {w.inputs_enumerated} of Alice's inputs"
                    + (" (all of them)" if w.exhaustive else " (a sample)"))
    pairs: list[tuple[str, Any]] = [("found", w.found), ("problem", w.problem),
                                    ("message bits", w.message_bits), ("one-way bound", w.one_way_bound),
                                    ("inputs tried", f"{w.inputs_enumerated} of {w.total_inputs}"
                                     + (" (exhaustive)" if w.exhaustive else "")),
                                    ("distinct messages", w.distinct_messages)]
    if w.found and w.alice_inputs is not None:
        pairs += [("x", w.alice_inputs[0]), ("x'", w.alice_inputs[1]), ("y (Bob)", w.bob_input),
                  ("answers (x, x')", w.outputs), ("true answers", w.expected), ("wrong on", w.wrong_on)]
    return {"headline": headline, "pairs": pairs, "notes": [w.note] if w.note else []}


def _effective(e: Any) -> dict[str, Any]:
    if not e.applicable:
        return {"headline": f"not applicable: {e.note}", "pairs": [("applicable", False), ("why", e.note)]}
    headline = (f"{_bits(e.effective_bits)} effective bits of {e.nominal_bits} sent"
                + ("" if e.one_way_bound is None else f" (one-way bound {_bits(e.one_way_bound)})"))
    pairs = [("distinct messages", e.distinct_messages), ("effective bits", e.effective_bits),
             ("nominal bits", e.nominal_bits), ("one-way bound", e.one_way_bound), ("inputs", e.inputs),
             ("exact", e.exact), ("meets bound", e.meets_bound)]
    return {"headline": headline, "pairs": pairs, "notes": [e.note] if e.note else []}


def _sweep(s: Any) -> dict[str, Any]:
    ok = sum(1 for r in s.rows if r.ok)
    ns = s.n_values
    span = str(ns[0]) if len(ns) == 1 else f"{ns[0]}..{ns[-1]}"
    headline = (f"{s.task}: {', '.join(s.models)} × n = {span} ({len(s.rows)} points, {ok} measured"
                + (", INTERRUPTED" if getattr(s, "interrupted", False) else "") + ")")
    pairs = [("task", s.task), ("models", ", ".join(s.models)), ("n", ", ".join(str(n) for n in ns)),
             ("protocol runs per point", s.instances), ("trials per point", s.trials), ("seed", s.seed),
             ("seconds", round(s.seconds, 2))]
    rows = []
    for r in s.rows:
        err = None if r.errors is None else f"{r.errors}/{r.trials}"
        rows.append([r.model, r.n, r.params, r.width, r.layers, r.precision_bits, r.bits if r.ok else r.status,
                     r.rounds, None if r.lower_bound is None else _bits(r.lower_bound), r.lower_bound_kind, err])
    return {"headline": headline, "pairs": pairs,
            "grid": (["model", "n", "params", "width", "L", "p", "bits", "R", "bound", "kind", "errors"], rows),
            "grid_title": "points", "notes": list(s.notes())}


def _explanation(e: Any) -> dict[str, Any]:
    data = e.simulation or {}
    lb = data.get("lower_bound") or {}
    headline = (f"{e.task} with {e.model} at n = {e.n}: {len(e.steps)} steps" if e.task else
                f"{e.problem}: {len(e.steps)} steps")
    if data.get("total_bits") is not None:
        headline += f", {data['total_bits']} bits sent" + (f" against a bound of {_bits(lb['compare_bits'])}"
                                                            if lb.get("compare_bits") is not None else "")
    pairs = [("task", e.task), ("model", e.model), ("problem", e.problem), ("reduction", e.reduction),
             ("n", e.n), ("weights", e.basis), ("steps", ", ".join(s.title for s in e.steps))]
    return {"headline": headline, "pairs": pairs, "html": e.body_html, "html_only": True}


def _reduction_check(r: Any) -> dict[str, Any]:
    how = "exhaustive" if r.exhaustive else f"sampled, seed {r.seed}"
    headline = (f"{r.reduction}: {'OK' if r.ok else 'FAILS'} on {r.pairs_checked} of {r.total_pairs} pairs ({how})")
    pairs = [("reduction", r.reduction), ("problem", r.problem), ("task", r.task), ("theorem", r.theorem),
             ("ok", r.ok), ("pairs checked", f"{r.pairs_checked} of {r.total_pairs} ({how})"),
             ("sequence length", r.length), ("tokens per owner", r.tokens_per_owner)]
    if r.counterexample is not None:
        pairs.append(("counterexample", r.counterexample.to_json()))
    return {"headline": headline, "pairs": pairs}


_VIEWS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "simulation": _simulation, "bounds": _bounds, "error-bounds": _error_bounds, "witness": _witness,
    "effective-bits": _effective, "sweep": _sweep, "explanation": _explanation, "reduction-check": _reduction_check,
}


def kinds() -> Sequence[str]:
    """The kinds this module can show."""
    return tuple(_VIEWS)


def shown(kind: str) -> Callable[[type], type]:
    """Class decorator (put it above ``@dataclass``): the class's ``__repr__``,
    ``__rich__`` and ``_repr_html_`` become :func:`short_repr`, :func:`rich_view` and
    :func:`html_view` of ``kind``."""
    if kind not in _VIEWS:
        raise ValueError(f"no view for {kind!r}")

    def decorate(cls: type) -> type:
        methods: dict[str, Callable[[Any], Any]] = {
            "__repr__": lambda self: short_repr(kind, self),
            "__rich__": lambda self: rich_view(kind, self),
            "_repr_html_": lambda self: html_view(kind, self),
        }
        for name, method in methods.items():
            setattr(cls, name, method)
        return cls

    return decorate
