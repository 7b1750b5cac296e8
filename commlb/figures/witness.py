"""A witness, drawn: the two full inputs (x, y) and (x', y) as two rows of tokens whose
Alice parts differ (outlined), both sending Bob the same message, so that the model's
answers are equal while the true answers differ.  SVG ids: ``row1-token-I`` and
``row2-token-I`` for the tokens, ``differ-I`` for a position where x and x' differ,
``message`` for the shared message, ``answer-1`` / ``answer-2`` for the verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import MARK_COLOUR, OWNER_KEY, new_figure, wrap
from .transcript import MAX_TOKENS, cut_boundaries, strip, strip_width

__all__ = ["witness_figure"]


def _short(value: Any, limit: int = 24) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def witness_figure(result: Any, *, title: str | None = None, max_tokens: int = MAX_TOKENS) -> Any:
    """A :class:`~commlb.witness.WitnessResult` as a picture: the rows (x, y) and (x', y)
    (tokens hatched and lettered by owner, the positions where x and x' differ outlined
    thick and marked ≠, the cut dashed), arrows from both rows' Alice parts to the one
    message they both send, and from it the model's answer on each row next to the true
    answer (WRONG or right).  Without a witness (the model told every input apart) the
    figure says so, with the counts.  Returns the matplotlib Figure."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    model = result.model.split(":")[0]
    if not result.found or result.sequences is None or result.owners is None:
        fig = new_figure(9.0, 3.0)
        fig.suptitle(title or f"{result.task}, n = {result.n}: {result.problem} and the {model}", fontsize=13)
        note = result.note[:1].upper() + result.note[1:]
        if result.effective_bits is not None and result.one_way_bound is not None:
            note += (f". Effective message size {result.effective_bits:.3g} bits; one-way bound "
                     f"D→({result.problem}) = {result.one_way_bound:g} bits.")
        fig.text(0.5, 0.5, wrap(note, 90), ha="center", va="center", fontsize=11, gid="no-witness")
        return fig
    head = title or f"{result.task}, n = {result.n}: {result.problem} and an undersized {model}"
    seq1, seq2 = (np.asarray(s, dtype=np.int64) for s in result.sequences)
    owner = np.asarray(result.owners, dtype=np.int64)
    differ = {i for i in range(len(seq1)) if int(seq1[i]) != int(seq2[i])}
    w = strip_width(len(owner), max_tokens)
    msg_x0, msg_x1 = w + 2.6, w + 8.4
    ans_x0 = msg_x1 + 1.4
    total_w = ans_x0 + 7.5
    fig_w = max(10.0, min(22.0, 0.33 * total_w + 1.5))
    msg = result.message or {}
    lines = [
        f"x = {_short(result.alice_inputs[0], 40)} and x' = {_short(result.alice_inputs[1], 40)} (Alice) differ at "
        f"{len(differ)} position(s); y = {_short(result.bob_input, 30)} (Bob).",
        f"Both send the same {msg.get('bits', result.message_bits)}-bit message (checked bit for bit on the "
        f"protocol engine's transcripts), so Bob answers the same on both: the model is wrong on "
        f"{' and '.join(f'({v}, y)' for v in result.wrong_on or [])}.",
    ]
    if result.one_way_bound is not None and result.effective_bits is not None:
        lines.append(f"Alice's {result.inputs_enumerated:,} inputs give only {result.distinct_messages:,} distinct "
                     f"messages ({result.effective_bits:.3g} bits), fewer than the one-way bound "
                     f"D→({result.problem}) = {result.one_way_bound:g} bits: some pair must collide.")
    lines.append(OWNER_KEY + "; thick red outline and ≠: where x and x' differ.")
    caption = "\n".join(wrap(t, int(fig_w * 14)) for t in lines)
    cap_h = 0.2 + 0.16 * (caption.count("\n") + 1)
    fig_h = 3.4 + cap_h
    fig = new_figure(fig_w, fig_h)
    ax = fig.add_axes((0.1, cap_h / fig_h, 0.88, 1 - (cap_h + 0.55) / fig_h))
    names = result.vocab_names
    ys = (2.4, 0.0)
    xs: dict[int, float] = {}
    for row, (seq, y) in enumerate(zip((seq1, seq2), ys), 1):
        xs = strip(ax, seq, owner, names, 0.0, y, f"row{row}-token", limit=max_tokens, differ=differ)
        ax.text(-0.4, y + 0.45, "(x, y)" if row == 1 else "(x', y)", ha="right", va="center", fontsize=12,
                fontweight="bold")
    for i in sorted(differ):
        if i in xs:
            ax.text(xs[i] + 0.45, 1.62, "≠", ha="center", va="center", fontsize=15, color=MARK_COLOUR,
                    fontweight="bold", gid=f"differ-{i}")
    cuts = [i for i in cut_boundaries(owner) if i in xs]
    for k, i in enumerate(cuts, 1):
        ax.plot([xs[i] - 0.05] * 2, [-0.7, 3.6], color="black", linestyle=(0, (4, 2)), linewidth=2.0,
                gid=f"cut-{k}")
    if cuts:
        ax.text(xs[cuts[0]] - 0.05, 3.65, "cut", ha="center", va="bottom", fontsize=10, fontweight="bold")
    # the shared message
    mid = 1.45  # the lane between the rows
    ax.add_patch(FancyBboxPatch((msg_x0, mid - 0.85), msg_x1 - msg_x0, 1.7, boxstyle="round,pad=0.1",
                                facecolor="#ffffff", edgecolor="black", linewidth=2.0, gid="message"))
    labels = " + ".join(msg.get("labels", [])) or "message"
    ax.text((msg_x0 + msg_x1) / 2, mid, f"the same message\n{_short(labels, 30)}: {msg.get('bits', '?')} bits\n"
            f"payload {_short(msg.get('payload_hex', ''), 20)}", ha="center", va="center", fontsize=10)
    alice = [i for i in xs if int(owner[i]) == 0]
    start_x = (max(xs[i] for i in alice) + 0.45) if alice else 0.0
    join_x = start_x + 0.9
    for y0 in (1.95, 0.95):  # from under (x, y) and over (x', y), into the lane between the rows
        ax.plot([start_x, join_x], [y0, mid], color="#1f4e79", linewidth=1.8)
    ax.add_patch(FancyArrowPatch((join_x, mid), (msg_x0 - 0.1, mid), arrowstyle="-|>", mutation_scale=16,
                                 linewidth=1.8, color="#1f4e79"))
    ax.text(msg_x0 - 0.2, mid + 0.08, "Alice's message", ha="right", va="bottom", fontsize=9,
            color="#1f4e79")
    for row, (y, got, want) in enumerate(zip(ys, result.outputs or [], result.expected or []), 1):
        ok = got == want
        ax.add_patch(FancyArrowPatch((msg_x1 + 0.1, mid), (ans_x0 - 0.1, y + 0.45), arrowstyle="-|>",
                                     mutation_scale=16, linewidth=1.8, color="#444444"))
        ax.text(ans_x0, y + 0.45, f"Bob answers {_short(got, 12)}\ntrue answer {_short(want, 12)}: "
                f"{'right' if ok else 'WRONG'}", ha="left", va="center", fontsize=11,
                fontweight="normal" if ok else "bold", color="black" if ok else MARK_COLOUR,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white",
                      "edgecolor": "#444444" if ok else MARK_COLOUR, "linewidth": 1 if ok else 2.4},
                gid=f"answer-{row}")
    ax.set_xlim(-0.3, total_w)
    ax.set_ylim(-0.8, 4.1)
    ax.axis("off")
    fig.suptitle(head, fontsize=13)
    fig.text(0.02, 0.015, caption, fontsize=9, ha="left", va="bottom")
    return fig
