"""A run as a protocol, drawn: the instance's tokens with their owners and the cut
above, the messages as numbered arrows between Alice and Bob below (a message sequence
chart).  SVG ids: ``token-I`` for position I, ``cut-K`` for the K-th cut line,
``message-K`` for the K-th message (numbered from 1, as ``simulate --transcript``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import (
    MARK_COLOUR,
    OWNER_FACE,
    OWNER_HATCH,
    OWNER_KEY,
    OWNER_MARK,
    OWNER_NAME,
    new_figure,
    shown_positions,
    token_box,
    token_names,
    wrap,
)

__all__ = ["transcript_figure", "cut_boundaries", "strip", "strip_width", "MAX_TOKENS", "MAX_MESSAGES"]

#: tokens drawn before the strip is shortened in the middle
MAX_TOKENS = 64
#: messages drawn before the chart is shortened in the middle
MAX_MESSAGES = 20


def cut_boundaries(owner: Any) -> list[int]:
    """Where the cut runs: the positions i such that a boundary lies just before token
    i, because the nearest non-public token before i belongs to the other party."""
    out = []
    last = None
    for i, o in enumerate(int(v) for v in np.asarray(owner).reshape(-1)):
        if o == 2:
            continue
        if last is not None and o != last:
            out.append(i)
        last = o
    return out


def strip_width(length: int, limit: int = MAX_TOKENS) -> float:
    """How wide (in token boxes) :func:`strip` draws a sequence of ``length``."""
    return float(length) if length <= limit else 2 * (limit // 2) + 1.4


def strip(ax: Any, tokens: Any, owner: np.ndarray, names: list[str] | None, x0: float, y: float, gid: str,
          limit: int = MAX_TOKENS, differ: set[int] | None = None) -> dict[int, float]:
    """Tokens as boxes from (x0, y), one unit apart, hatched and lettered by owner (the
    positions in ``differ`` outlined thick); returns the x of each drawn position."""
    labels = token_names(tokens, names)
    shown = shown_positions(len(labels), limit)
    font = 10 if len(shown) <= 32 else 8 if len(shown) <= 48 else 7
    xs: dict[int, float] = {}
    x = x0
    for i in shown:
        if i == -1:
            ax.text(x + 0.7, y + 0.45, f"… {len(labels) - 2 * (limit // 2)} more …", ha="center", va="center",
                    fontsize=font, style="italic", rotation=90)
            x += 1.4
            continue
        xs[i] = x
        edge, lw = (MARK_COLOUR, 2.6) if differ and i in differ else ("#333333", 0.8)
        token_box(ax, x, y, int(owner[i]), labels[i], f"{gid}-{i}", fontsize=font, edge=edge, linewidth=lw)
        x += 1.0
    return xs


def transcript_figure(result: Any, *, title: str | None = None, max_tokens: int = MAX_TOKENS,
                      max_messages: int = MAX_MESSAGES) -> Any:
    """One run (a :class:`~commlb.simulate.SimulationResult`) as a picture: the tokens
    (hatched and lettered by owner, position numbers above), the cut between Alice's and
    Bob's tokens as dashed lines, and every message as an arrow from its sender to its
    receiver with its number, label, size in bits and round; the totals, the answer and
    the lower bound below.  Long inputs and long transcripts are shortened in the middle.
    Returns the matplotlib Figure."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from ..transcript_view import plain_note

    setup = result.setup
    tokens = result.instance.tokens
    owner = np.asarray(result.split.owner).reshape(-1)
    names = setup.task.vocab_names() if hasattr(setup.task, "vocab_names") else None
    messages = list(result.transcript.messages)
    width_units = max(strip_width(len(owner), max_tokens), 16.0)
    shown_msgs = list(range(len(messages)))
    if len(messages) > max_messages:
        half = max_messages // 2
        shown_msgs = list(range(half)) + [-1] + list(range(len(messages) - half + 1, len(messages)))
    rows = max(1, len(shown_msgs))
    y_range = 5.2 + 1.25 * rows
    fig_w = max(8.0, min(20.0, 0.36 * width_units + 1.2))
    caption = _caption(result, messages, fig_w)
    cap_h = 0.2 + 0.16 * (caption.count("\n") + 1)
    fig_h = 0.6 + cap_h + 0.48 * y_range
    fig = new_figure(fig_w, fig_h)
    ax = fig.add_axes((0.02, cap_h / fig_h, 0.96, 1 - (cap_h + 0.6) / fig_h))

    xs = strip(ax, tokens, owner, names, (width_units - strip_width(len(owner), max_tokens)) / 2, 0.0, "token",
               limit=max_tokens)
    step = 1 if len(xs) <= 32 else 5
    for i, x in xs.items():
        if i % step == 0:
            ax.text(x + 0.45, 1.08, str(i), ha="center", va="bottom", fontsize=7, color="#555555")
    cuts = [i for i in cut_boundaries(owner) if i in xs]
    for k, i in enumerate(cuts, 1):
        x = xs[i] - 0.05
        ax.plot([x, x], [-0.75, 1.6], color="black", linestyle=(0, (4, 2)), linewidth=2.0, gid=f"cut-{k}")
    if cuts:
        ax.text(xs[cuts[0]] - 0.05, 1.65, "cut" if len(cuts) == 1 else f"cut ({len(cuts)} places)", ha="center",
                va="bottom", fontsize=10, fontweight="bold")

    # the two parties and their messages
    x_a, x_b = 0.16 * width_units, 0.84 * width_units
    top = -1.5
    bottom = top - 0.9 - 1.25 * rows
    for who, x in ((0, x_a), (1, x_b)):
        ax.add_patch(Rectangle((x - 1.6, top - 0.35), 3.2, 0.8, facecolor=OWNER_FACE[who], hatch=OWNER_HATCH[who],
                               edgecolor="black", linewidth=1.2, gid=f"party-{OWNER_NAME[who].lower()}"))
        ax.text(x, top + 0.05, f"{OWNER_MARK[who]}: {OWNER_NAME[who]}", ha="center", va="center", fontsize=11,
                fontweight="bold", bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
        ax.plot([x, x], [top - 0.35, bottom], color="#444444", linewidth=1.5)
    y = top - 1.0
    for idx in shown_msgs:
        if idx == -1:
            skipped = messages[max_messages // 2: len(messages) - max_messages // 2 + 1]
            ax.text((x_a + x_b) / 2, y - 0.2, f"⋮  {len(skipped)} more messages, {sum(m.bits for m in skipped):,} "
                    "bits  ⋮", ha="center", va="center", fontsize=10, style="italic")
            y -= 1.25
            continue
        m = messages[idx]
        src, dst = (x_a, x_b) if int(m.sender) == 0 else (x_b, x_a)
        arrow = FancyArrowPatch((src, y - 0.25), (dst, y - 0.25), arrowstyle="-|>", mutation_scale=18,
                                linewidth=2.0, color="black", gid=f"message-{idx + 1}")
        ax.add_patch(arrow)
        ax.text((x_a + x_b) / 2, y - 0.12, f"{idx + 1}. {m.label}: {m.bits:,} bits (round {m.round})",
                ha="center", va="bottom", fontsize=10)
        ax.text((x_a + x_b) / 2, y - 0.4, plain_note(m.label), ha="center", va="top", fontsize=8, style="italic",
                color="#333333", bbox={"boxstyle": "square,pad=0.05", "facecolor": "white", "edgecolor": "none"})
        y -= 1.25
    if not messages:
        ax.text((x_a + x_b) / 2, y - 0.2, "no message crosses the cut", ha="center", va="center", fontsize=11)
    ax.set_xlim(-0.3, width_units + 0.3)
    ax.set_ylim(bottom - 0.2, 2.2)
    ax.axis("off")

    task = setup.task_name or setup.task.name
    fig.suptitle(title or f"{task}, n = {setup.n}: {result.built.family} run as a protocol", fontsize=14)
    fig.text(0.02, 0.015, caption, fontsize=9, ha="left", va="bottom")
    return fig


def _short(value: Any) -> str:
    text = str(value.tolist() if hasattr(value, "tolist") else value)
    return text if len(text) <= 40 else text[:37] + "…"


def _caption(result: Any, messages: list[Any], fig_w: float) -> str:
    a2b = sum(m.bits for m in messages if int(m.sender) == 0)
    b2a = sum(m.bits for m in messages if int(m.sender) == 1)
    verdict = ""
    if result.expected is not None:
        word = ", right" if result.correct else ", WRONG" if result.correct is False else ""
        verdict = f" (true answer {_short(result.expected)}{word})"
    lines = [f"{len(messages)} message(s), {result.transcript.total_bits:,} bits: Alice → Bob {a2b:,}, "
             f"Bob → Alice {b2a:,}. Answer {_short(result.output)}{verdict}."]
    lb = result.lower_bound
    if lb is not None:
        source = lb.citation.split(':')[0]
        if lb.kind == "two-way" and lb.compare_bits is not None and lb.compare_bits != lb.bits:
            # the same convention as simulate's table: the receiver of the last message
            # outputs, so the announcement bit of D is not charged
            lines.append(f"Lower bound: {lb.problem} needs D = {lb.bits:g} bits when both parties learn the answer, "
                         f"so {lb.compare_bits:g} bits here, where the last receiver answers (two-way; {source}).")
        else:
            lines.append(f"Lower bound: {lb.problem} needs {lb.compare_bits:g} bits ({lb.kind}; {source}).")
    lines.append(OWNER_KEY + ". The cut: where Alice's tokens meet Bob's.")
    return "\n".join(wrap(t, int(fig_w * 14)) for t in lines)
