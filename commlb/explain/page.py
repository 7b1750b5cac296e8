"""The walk-through as a page a teacher can put on a course site (``commlb explain
--format markdown|html``).

:func:`to_html` gives one self-contained HTML file: the steps' paragraphs, the instance's
tokens with their owners marked by letter (A, B, ·) as well as by colour, the messages
as a table, and the figures as inline SVG (``data:`` URIs), so the file can be copied
anywhere and opened without a server or a network.  :func:`to_markdown` gives the same
page in Markdown (GitHub tables); its figures are written beside the Markdown file
(``figure_files``) or, when there is no file, embedded as ``data:`` URIs.

The figures (:func:`figures`) are matplotlib Figures drawn from the numbers of the run;
matplotlib is imported only here, when a page is asked for.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import Any

from .explanation import Explanation, fmt_bits, token_labels

__all__ = ["PageFigure", "figures", "to_html", "to_markdown", "OWNER_MARKS"]

#: the mark under each token, by owner (0 Alice, 1 Bob, 2 public)
OWNER_MARKS = {0: "A", 1: "B", 2: "·"}
_OWNER_WORDS = {0: "Alice", 1: "Bob", 2: "public"}
_OWNER_CLASS = {0: "a", 1: "b", 2: "p"}
#: tokens shown on the page before the middle is shortened
MAX_PAGE_TOKENS = 160
#: more messages than this get a bar chart of their sizes too (the transcript figure
#: shortens long transcripts in the middle)
MESSAGES_CHART = 4


@dataclass(frozen=True)
class PageFigure:
    """One figure of the page: the step it belongs to, a file-name stem, its alt text and
    caption, and the SVG text."""

    step: str
    name: str
    alt: str
    caption: str
    svg: str

    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def title(explanation: Explanation) -> str:
    """The page's heading (the same sentence the terminal shows first)."""
    if explanation.task:
        from .texts import FAMILY_NAMES

        name = FAMILY_NAMES.get(explanation.model, explanation.model)
        article = "an" if name[0].lower() in "aeiou" or name.startswith("RNN") else "a"
        return f"The lower-bound argument for {article} {name} on {explanation.task}, step by step"
    return f"The bound for protocols that may err, for {explanation.problem} at n = {explanation.n}"


def subtitle(explanation: Explanation) -> str:
    if not explanation.task:
        return ""
    return (f"{explanation.problem} → {explanation.task} via {explanation.reduction}, n = {explanation.n}, "
            f"seed {explanation.simulation.get('seed', 0)}")


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def _svg(fig: Any) -> str:
    import io

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def inequality_figure(explanation: Explanation) -> Any | None:
    """Bars: the bits the protocol sent against the bound that applies to it (labelled
    with their numbers, hatched differently, so the figure reads without colour); None
    when the run has no applicable bound."""
    data = explanation.simulation
    lb = data.get("lower_bound")
    total = data.get("total_bits")
    if not lb or lb.get("compare_bits") is None or total is None:
        return None
    from matplotlib.figure import Figure

    bound = float(lb["compare_bits"])
    kind = str(lb.get("kind") or "lower bound").replace(" (deterministic)", "")
    labels = [f"lower bound\n({kind})", "bits this run\nsent"]
    values = [bound, float(total)]
    fig = Figure(figsize=(6.4, 1.9))
    ax = fig.add_subplot()
    bars = ax.barh([1, 0], values, color=["#bbbbbb", "#1f77b4"], edgecolor="black",
                   hatch=["//", ""], height=0.6)
    ax.set_yticks([1, 0], labels)
    log = max(values) > 30 * max(min(values), 1)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(left=1 if log else 0, right=max(values) * (4 if log else 1.25))
    for bar, value in zip(bars, values):
        ax.text(bar.get_width() * (1.08 if log else 1.0) + (0 if log else max(values) * 0.01),
                bar.get_y() + bar.get_height() / 2, f" {fmt_bits(value)} bits", va="center")
    ax.set_xlabel("bits across the cut" + (" (log scale)" if log else ""))
    holds = float(total) >= bound
    ax.set_title(f"{fmt_bits(total)} {'≥' if holds else '<'} {fmt_bits(bound)}: "
                 + ("the inequality holds" if holds else "the inequality FAILS"), loc="left", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.subplots_adjust(left=0.25)
    return fig


def messages_figure(explanation: Explanation) -> Any | None:
    """The bits of each message, numbered in order, Alice → Bob above the axis and
    Bob → Alice below it (so direction reads without colour); None with fewer than two
    messages (the table says it all)."""
    msgs = list(explanation.simulation.get("messages") or [])
    if len(msgs) < 2:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.4))
    ax = fig.add_subplot()
    xs = list(range(1, len(msgs) + 1))
    signed = [int(m["bits"]) * (1 if m["sender"] == "alice" else -1) for m in msgs]
    ax.bar(xs, signed, color=["#6baed6" if v > 0 else "#fd8d3c" for v in signed], edgecolor="black",
           hatch=["" if v > 0 else "\\\\" for v in signed])
    ax.axhline(0, color="black", linewidth=0.8)
    top = max([abs(v) for v in signed] + [1])
    ax.set_ylim(-top * 1.3, top * 1.3)
    ax.text(0.01, 0.97, "Alice → Bob", transform=ax.transAxes, va="top", fontsize=9)
    ax.text(0.01, 0.03, "Bob → Alice", transform=ax.transAxes, va="bottom", fontsize=9)
    ax.set_xlabel("message number")
    ax.set_ylabel("bits")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{abs(v):g}")
    if len(msgs) <= 20:
        ax.set_xticks(xs)
        for x, v in zip(xs, signed):
            ax.text(x, v + (top * 0.04 if v > 0 else -top * 0.04), str(abs(v)), ha="center",
                    va="bottom" if v > 0 else "top", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def figures(explanation: Explanation) -> list[PageFigure]:
    """The page's figures, in step order, as SVG."""
    out: list[PageFigure] = []
    msgs = explanation.simulation.get("messages") or []
    if explanation.result is not None:
        from ..figures import transcript_figure

        out.append(PageFigure("protocol", "transcript", "the tokens with their owners, the cut, and each message "
                              "as an arrow between Alice and Bob", "The run: the tokens (A = Alice, B = Bob, "
                              "· = public), the cut between Alice's and Bob's tokens, and every message as a "
                              "numbered arrow with its size.", _svg(transcript_figure(explanation.result))))
    fig = messages_figure(explanation) if len(msgs) > MESSAGES_CHART else None
    if fig is not None:
        out.append(PageFigure("protocol", "messages", "bar chart of the bits of each message",
                              f"The {len(msgs)} messages of the run: bits of each, Alice → Bob above the line, "
                              "Bob → Alice below.", _svg(fig)))
    fig = inequality_figure(explanation)
    if fig is not None:
        data = explanation.simulation
        out.append(PageFigure("inequality", "inequality", "bar chart: bits sent against the lower bound",
                              f"The bits this run sent ({fmt_bits(data['total_bits'])}) against the bound "
                              f"that applies to its protocol ({fmt_bits(data['lower_bound']['compare_bits'])}).",
                              _svg(fig)))
    return out


# ---------------------------------------------------------------------------------------------
# the pieces of a page
# ---------------------------------------------------------------------------------------------


def _token_cells(explanation: Explanation) -> list[tuple[str, int] | None]:
    """(label, owner) per token shown, None where the middle is left out."""
    labels = token_labels(explanation.tokens, explanation.vocab_names)
    owner = [int(o) for o in list(explanation.owner)] if explanation.owner is not None else []
    n = len(labels)
    if n <= MAX_PAGE_TOKENS:
        return [(labels[i], owner[i]) for i in range(n)]
    half = MAX_PAGE_TOKENS // 2
    return [(labels[i], owner[i]) for i in range(half)] + [None] + [(labels[i], owner[i])
                                                                   for i in range(n - half, n)]


def _message_rows(explanation: Explanation) -> list[list[str]]:
    rows = []
    for k, m in enumerate(explanation.simulation.get("messages") or [], 1):
        rows.append([str(k), str(m["round"]), f"{m['sender'].capitalize()} → {m['receiver'].capitalize()}",
                     str(m["label"]), str(m["bits"])])
    return rows


_MESSAGE_HEAD = ["#", "round", "from → to", "message", "bits"]


def _is_message(para: str) -> bool:
    return para.startswith("Message ") or (para.startswith("Messages ") and "more" in para)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_CSS = """
:root { --a: #08519c; --b: #a63603; --p: #6c757d; --ink: #1a1a1a; --rule: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .3rem; }
.sub { color: #555; margin: 0 0 1.5rem; }
section.step { border-left: 5px solid var(--rule); padding: .2rem 0 .2rem 1.1rem; margin: 1.8rem 0; }
section.problem { border-color: #1098ad; } section.reduction { border-color: #ae3ec9; }
section.protocol { border-color: #37b24d; } section.inequality { border-color: #f59f00; }
section.conclusion { border-color: #1c7ed6; } section.error { border-color: #e03131; }
h2 { font-size: 1.2rem; margin: .2rem 0 .7rem; }
p { margin: .55rem 0; }
code, .strip, table.msgs td.label { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.legend { font-size: .92rem; color: #333; }
.legend span { margin-right: 1rem; font-weight: 600; }
.legend .a { color: var(--a); } .legend .b { color: var(--b); } .legend .p { color: var(--p); }
.strip { display: flex; flex-wrap: wrap; gap: 4px; margin: .6rem 0 1rem; font-size: 1rem; }
.tok { display: inline-flex; flex-direction: column; align-items: center; min-width: 1.6rem;
       border: 1px solid var(--rule); border-radius: 4px; padding: 1px 4px; }
.tok b { font-weight: 600; } .tok i { font-style: normal; font-size: .75rem; }
.tok.a { border-color: var(--a); color: var(--a); background: #deebf7; }
.tok.b { border-color: var(--b); color: var(--b); background: #fee6ce; }
.tok.p { color: var(--p); background: #f3f4f6; border-style: dashed; }
.tok.gap { border: none; background: none; color: #555; font-style: italic; justify-content: center; }
ol.messages { padding-left: 1.4rem; } ol.messages li { margin: .3rem 0; }
table.msgs { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; width: 100%; }
table.msgs th, table.msgs td { border-bottom: 1px solid var(--rule); padding: .25rem .5rem; text-align: left; }
table.msgs td.num, table.msgs th.num { text-align: right; }
figure { margin: 1rem 0; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: .9rem; color: #444; margin-top: .3rem; }
footer { margin-top: 2.5rem; font-size: .85rem; color: #555; border-top: 1px solid var(--rule); padding-top: .8rem; }
@media print { section.step { break-inside: avoid; } }
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("commlb")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "(source tree)"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_para(text: str) -> str:
    """A paragraph's text escaped, with `backquoted` parts (commands) as code."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backquote: plain text
        return _esc(text)
    return "".join(f"<code>{_esc(p)}</code>" if i % 2 else _esc(p) for i, p in enumerate(parts))


def _html_strip(explanation: Explanation) -> str:
    cells = []
    for cell in _token_cells(explanation):
        if cell is None:
            n = len(token_labels(explanation.tokens, explanation.vocab_names))
            cells.append(f'<span class="tok gap">… {n - 2 * (MAX_PAGE_TOKENS // 2)} more …</span>')
            continue
        label, owner = cell
        cells.append(f'<span class="tok {_OWNER_CLASS[owner]}" title="{_OWNER_WORDS[owner]}">'
                     f"<b>{_esc(label)}</b><i>{OWNER_MARKS[owner]}</i></span>")
    legend = ('<p class="legend">Tokens, and under each its owner: '
              + "".join(f'<span class="tok-key {_OWNER_CLASS[k]}">{OWNER_MARKS[k]} = {_OWNER_WORDS[k]}</span>'
                        for k in (0, 1, 2)) + "</p>")
    return legend + '<div class="strip" role="list">' + "".join(cells) + "</div>"


def _html_table(head: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    th = "".join(f'<th{" class=num" if i in numeric else ""} scope="col">{_esc(h)}</th>' for i, h in enumerate(head))
    body = []
    for row in rows:
        tds = []
        for i, v in enumerate(row):
            cls = "num" if i in numeric else ("label" if head[i] == "message" else "")
            tds.append(f'<td class="{cls}">{_esc(v)}</td>' if cls else f"<td>{_esc(v)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f'<table class="msgs"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _html_figure(fig: PageFigure) -> str:
    return (f'<figure id="fig-{_esc(fig.name)}"><img src="{fig.data_uri()}" alt="{_esc(fig.alt)}">'
            f"<figcaption>{_esc(fig.caption)}</figcaption></figure>")


def body_html(explanation: Explanation, figs: list[PageFigure] | None = None) -> str:
    """The page's content (the steps, the tokens, the message table and the figures) as
    an HTML fragment without ``<html>``/``<head>``: also what a notebook shows."""
    figs = figures(explanation) if figs is None else figs
    parts = []
    for step in explanation.steps:
        out = [f'<section class="step {_esc(step.key)}" id="step-{_esc(step.key)}">', f"<h2>{_esc(step.title)}</h2>"]
        items: list[str] = []
        for i, para in enumerate(step.paragraphs):
            if _is_message(para):
                head, _, rest = para.partition(":")
                items.append(f"<li><strong>{_esc(head)}:</strong>{_html_para(rest)}</li>")
                continue
            if items:
                out.append('<ol class="messages">' + "".join(items) + "</ol>")
                items = []
            out.append(f"<p>{_html_para(para)}</p>")
            if step.key == "reduction" and i == 0 and explanation.tokens is not None:
                out.append(_html_strip(explanation))
        if items:
            out.append('<ol class="messages">' + "".join(items) + "</ol>")
        if step.key == "protocol" and explanation.simulation.get("messages"):
            out.append(_html_table(_MESSAGE_HEAD, _message_rows(explanation), {0, 1, 4}))
        out += [_html_figure(f) for f in figs if f.step == step.key]
        out.append("</section>")
        parts.append("\n".join(out))
    return "\n".join(parts)


def _scoped_css(scope: str) -> str:
    """The page's CSS for a fragment inside another page (a notebook): every rule
    limited to ``scope``, the page-wide rules (body, main, print) left out."""
    import re

    css = re.sub(r"@media[^{]*\{[^{}]*\{[^{}]*\}\s*\}", "", _CSS)
    out = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        names = [sel.strip() for sel in selectors.split(",")]
        if any(name in ("body", "main", "*") for name in names):
            continue
        names = [scope if name == ":root" else f"{scope} {name}" for name in names]
        out.append(f"{', '.join(names)} {{{body}}}")
    return "\n".join(out)


def notebook_html(explanation: Explanation) -> str:
    """The walk-through as one HTML fragment with its own scoped style (a notebook's
    output cell): the heading and :func:`body_html`."""
    sub = subtitle(explanation)
    return (f"<style>{_scoped_css('.commlb-page')}</style>\n<div class=\"commlb-page\">\n"
            f"<h3>{_esc(title(explanation))}</h3>\n" + (f'<p class="sub">{_esc(sub)}</p>\n' if sub else "")
            + body_html(explanation) + "\n</div>")


def to_html(explanation: Explanation, command: str | None = None) -> str:
    """One self-contained HTML page (UTF-8, inline CSS, figures as ``data:`` URIs)."""
    head = title(explanation)
    sub = subtitle(explanation)
    foot = f"Made with commlb {_esc(_version())}"
    if command:
        foot += f"; to run it yourself: <code>{_esc(command)}</code>"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(head)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{_esc(head)}</h1>\n" + (f'<p class="sub">{_esc(sub)}</p>\n' if sub else "")
            + body_html(explanation) + f"\n<footer>{foot}.</footer>\n</main>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Paragraph text safe in Markdown: characters that would start markup escaped."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backquote: escape it like the rest
        parts = [str(text).replace("`", "'")]
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # `code` stays code
            out.append(f"`{part}`")
            continue
        part = part.replace("\\", "\\\\")
        for ch in "*_[]<>|":
            part = part.replace(ch, "\\" + ch)
        out.append(part)
    return "".join(out)


def _md_strip(explanation: Explanation, width: int = 72) -> str:
    """Tokens and, under each, its owner's letter, in a fenced block (reads on any
    renderer and on paper)."""
    lines: list[str] = []
    top: list[str] = []
    bottom: list[str] = []
    used = 0
    for cell in _token_cells(explanation):
        if cell is None:
            label, mark = "…", " "
        else:
            label, mark = cell[0], OWNER_MARKS[cell[1]]
        w = max(1, len(label))
        if top and used + w + 1 > width:
            lines += [" ".join(top).rstrip(), " ".join(bottom).rstrip()]
            top, bottom, used = [], [], 0
        top.append(label.ljust(w))
        bottom.append(mark.ljust(w))
        used += w + 1
    if top:
        lines += [" ".join(top).rstrip(), " ".join(bottom).rstrip()]
    return ("Tokens, and under each its owner (A = Alice, B = Bob, · = public):\n\n```text\n"
            + "\n".join(lines) + "\n```")


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), "|" + "|".join("---" for _ in head) + "|"] + [line(r) for r in rows])


def to_markdown(explanation: Explanation, figure_prefix: str | None = None,
                command: str | None = None) -> tuple[str, dict[str, str]]:
    """The page in Markdown and its figure files: with ``figure_prefix`` (e.g. ``"lecture"``)
    figures are referenced as ``lecture-NAME.svg`` and returned as {file name: SVG text}
    for the caller to write beside the page; without, they are embedded as ``data:`` URIs
    and the dict is empty."""
    figs = figures(explanation)
    files: dict[str, str] = {}
    out = [f"# {_md_text(title(explanation))}", ""]
    sub = subtitle(explanation)
    if sub:
        out += [f"*{_md_text(sub)}*", ""]
    for step in explanation.steps:
        out += [f"## {_md_text(step.title)}", ""]
        k = 0
        for i, para in enumerate(step.paragraphs):
            if _is_message(para):
                head, _, rest = para.partition(":")
                k += 1
                out.append(f"{k}. **{_md_text(head)}:**{_md_text(rest)}")
                continue
            if k:
                out.append("")
                k = 0
            out += [_md_text(para), ""]
            if step.key == "reduction" and i == 0 and explanation.tokens is not None:
                out += [_md_strip(explanation), ""]
        if k:
            out.append("")
        if step.key == "protocol" and explanation.simulation.get("messages"):
            out += [_md_table(_MESSAGE_HEAD, _message_rows(explanation)), ""]
        for fig in (f for f in figs if f.step == step.key):
            if figure_prefix:
                name = f"{figure_prefix}-{fig.name}.svg"
                files[name] = fig.svg
                src = name
            else:
                src = fig.data_uri()
            out += [f"![{fig.alt}]({src})", "", f"*{_md_text(fig.caption)}*", ""]
    foot = f"Made with commlb {_version()}"
    if command:
        foot += f"; to run it yourself: `{command}`"
    out += ["---", "", foot + "."]
    return "\n".join(out) + "\n", files
