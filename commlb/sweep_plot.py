"""Figures of a sweep (``commlb sweep --plot``): the models' size and the bits they send
against n, with the lower bound where it applies.  matplotlib is imported lazily (Agg
backend), so importing this module costs nothing until a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .sweep import SweepResult, growth_exponent, short_kind

# ---------------------------------------------------------------------------------
# Plot (matplotlib imported lazily, Agg backend)
# ---------------------------------------------------------------------------------
_COLOURS = {"rnn": "#d62728", "transformer": "#1f77b4", "ffn": "#2ca02c"}
_MARKERS = {"rnn": "o", "transformer": "s", "ffn": "^"}


#: what the size panel of a sweep figure can show: metric -> (axis label, the row's value)
SIZE_METRICS: dict[str, tuple[str, Any]] = {
    "width": ("width (RNN: hidden size d; transformer: d_model)", lambda r: r.width),
    "params": ("parameters", lambda r: r.params),
    "state-bits": ("L·d·p (layers · width · precision)",
                   lambda r: None if None in (r.layers, r.width, r.precision_bits)
                   else int(r.layers) * int(r.width) * int(r.precision_bits)),
}
METRICS = (*SIZE_METRICS, "bits")
_SIZE_TITLES = {"width": "width", "params": "parameters", "state-bits": "L·d·p (an RNN's message)"}


def _slope_label(xs: Sequence[float], ys: Sequence[float], x_name: str = "n") -> str:
    pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2 or len({x for x, _ in pts}) < 2:
        return ""
    text = f", slope {growth_exponent([x for x, _ in pts], [y for _, y in pts]):.2f}"
    if len({y for _, y in pts}) == 1:  # say it in words: a flat line is the point of the plot
        text += f" (constant: {pts[0][1]:,} at every {x_name})"
    return text


def _caption(result: SweepResult, x_name: str = "n") -> str:
    problem = next((r.problem for r in result.rows if r.problem), None)
    if problem:
        what = (f"{x_name}: the size of the communication problem ({problem}), whose inputs the reduction "
                "splits between Alice's tokens and Bob's. The cut: the boundary between Alice's tokens and Bob's")
    else:
        what = (f"{x_name}: the size of the task (no reduction from a communication problem). The cut: the "
                "split of the sequence between Alice and Bob")
    def drawn(attr: str) -> bool:  # the same rows _bound_lines draws
        return any(r.ok and (getattr(r, attr) or 0) > 0 for r in result.rows)

    lines = []
    if drawn("error_bound"):
        lines.append("Dashed: the problem's lower bound on those bits for a protocol that errs, at the one-sided "
                     "95% upper confidence bound eps+ on the measured error")
    elif any(r.ok for r in result.rows):
        lines.append("No bound for protocols that err is drawn: none applies at these points' eps+ (see the "
                     "table's notes)")
    if drawn("lower_bound"):
        lines.append("dotted: the exact-correctness bound (only for a model right on every input; withheld "
                     "where a trial erred)")
    bounds = "; ".join(lines) + ". " if lines else ""
    return (f"{what}; bits: what the model, run as a protocol, sends across it. {bounds}Slopes: log-log growth "
            f"exponents (1 = linear in {x_name}, near 0 = polylogarithmic).")


def plot_sweep(result: SweepResult, path: str | Path | None = None, title: str | None = None,
               metric: str | None = None, x_label: str | None = None) -> Any:
    """The sweep as a matplotlib Figure, written to ``path`` too when given (.png, .svg
    or .pdf).  By default two panels side by side: the models' size against n (``metric``:
    ``width``, ``params`` or ``state-bits``, default ``state-bits``) and the bits they send
    across the cut against n with the lower bound dashed; ``metric="bits"`` draws the bits
    panel alone.  Log-log axes, each line's slope in its label, a caption saying what n
    and the cut are.  ``x_label`` names the horizontal axis (default ``"n"``; e.g. ``"q"``
    when the title speaks of q), so that the axes say what the title says."""
    if metric is not None and metric not in METRICS:
        raise InvalidInputError(f"--metric must be one of {', '.join(METRICS)}, not {metric!r}")
    if path is not None:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".svg", ".pdf"):
            raise InvalidInputError(f"--plot {str(path)!r}: use a .png, .svg or .pdf file name")
        if path.parent and not path.parent.exists():
            raise InvalidInputError(f"--plot {str(path)!r}: directory {str(path.parent)!r} does not exist")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    size_metric = None if metric == "bits" else (metric or "state-bits")
    x_name = (x_label or "n").split(" ")[0]
    fig = Figure(figsize=(15 if size_metric else 10, 7.2), dpi=120)
    axes = fig.subplots(1, 2) if size_metric else [fig.subplots(1, 1)]
    bits_ax = axes[-1]
    if size_metric:
        label, value = SIZE_METRICS[size_metric]
        ax = axes[0]
        drawn = False
        for model in result.models:
            pts = [(r.n, value(r)) for r in result.rows_for(model) if r.ok and value(r)]
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(xs, ys, marker=_MARKERS.get(model, "o"), markersize=8, linewidth=3, color=_COLOURS.get(model),
                    label=f"{model}{_slope_label(xs, ys, x_name)}")
            drawn = True
        if size_metric == "state-bits":
            _bound_lines(ax, result, only=("rnn",))
        ax.set_ylabel(label, fontsize=14)
        ax.set_title(f"model size: {_SIZE_TITLES[size_metric]}", fontsize=16)
        _finish_axes(ax, drawn, x_label)
    plotted = False
    for model in result.models:
        rows = [r for r in result.rows_for(model) if r.ok and r.bits is not None]
        if not rows:
            continue
        xs, ys = [r.n for r in rows], [r.bits for r in rows]
        bits_ax.plot(xs, ys, marker=_MARKERS.get(model, "o"), markersize=8, linewidth=3, color=_COLOURS.get(model),
                     label=f"{model}: bits sent{_slope_label(xs, ys, x_name)}")
        plotted = True
    _bound_lines(bits_ax, result)
    bits_ax.set_ylabel("bits sent across the cut", fontsize=14)
    bits_ax.set_title("bits sent across the cut", fontsize=16)
    _finish_axes(bits_ax, plotted, x_label)
    fig.suptitle(title or f"{result.task}: model size and bits sent against {x_name}", fontsize=18)
    import textwrap

    fig.text(0.01, 0.01, "\n".join(textwrap.wrap(_caption(result, x_name), 150 if size_metric else 110)), fontsize=10,
             ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    if path is not None:
        fig.savefig(path, format=path.suffix.lower().lstrip("."))
    return fig


def _bound_lines(ax: Any, result: SweepResult, only: tuple[str, ...] | None = None) -> None:
    """The lower bounds of the rows, one line per distinct series of points: dashed, the
    bound at each point's measured ε⁺ (for protocols that err, docs/theory.md §6.10);
    dotted, the exact-correctness bound where no trial erred (it holds only for a model
    correct on every input)."""
    for attr, kind_attr, style, head in (
            ("error_bound", "error_bound_kind", "--", "bound at eps+"),
            ("lower_bound", "lower_bound_kind", ":", "exact-correctness bound")):
        lines: dict[tuple, list[tuple[str, str]]] = {}
        for model in result.models:
            if only is not None and model not in only:
                continue
            rows = [r for r in result.rows_for(model) if r.ok and getattr(r, attr) is not None]
            lb = [(r.n, getattr(r, attr)) for r in rows if getattr(r, attr) > 0]
            if lb:
                lines.setdefault(tuple(lb), []).append((model, getattr(rows[0], kind_attr) or "lower bound"))
        for points, who in lines.items():
            colour = _COLOURS.get(who[0][0], "black") if len(who) == 1 else "black"
            label = f"{head}, " + "; ".join(f"{fam} ({short_kind(kind)})" for fam, kind in who)
            ax.plot([p[0] for p in points], [p[1] for p in points], linestyle=style, color=colour,
                    linewidth=2.5 if style == "--" else 1.8, alpha=0.8, label=label)


def _integer_ticks(axis: Any, values: Sequence[float], limits: tuple[float, float]) -> None:
    """Plain numbers on a log axis; when its powers of two give fewer than three ticks in
    view, the measured values are ticked as well (a short range still shows a scale)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = sorted(limits)
    powers = [2.0**k for k in range(-40, 80) if lo <= 2.0**k <= hi]
    extra = {float(v) for v in values if v and v > 0} if len(powers) < 3 else set()
    ticks = sorted(set(powers) | {v for v in extra if all(abs(v / p - 1) > 0.12 for p in powers)})
    if len(ticks) > 12:
        ticks = powers
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _finish_axes(ax: Any, drawn: bool, x_label: str | None = None) -> None:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    xs = [float(x) for line in ax.get_lines() for x in line.get_xdata()]
    ys = [float(y) for line in ax.get_lines() for y in line.get_ydata()]
    if xs:
        ax.relim()
        ax.autoscale_view()
        _integer_ticks(ax.xaxis, xs, ax.get_xlim())
        _integer_ticks(ax.yaxis, ys, ax.get_ylim())
    ax.set_xlabel(x_label or "n", fontsize=14)
    ax.tick_params(labelsize=12)
    ax.grid(True, which="major", alpha=0.3)
    if drawn:
        # off the data: below the axes
        ax.legend(fontsize=11, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False, ncol=1)
    else:
        ax.text(0.5, 0.5, "no model family could be measured", ha="center", va="center",
                transform=ax.transAxes, fontsize=14)
