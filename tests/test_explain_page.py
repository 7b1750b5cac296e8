"""``commlb explain --format markdown|html`` and ``--step``: the page is parsed (no
browser) and checked against the walk-through it was written from; with Chromium
installed (/usr/bin/chromium) a real browser renders it; ``--step`` pauses on a terminal
(a pseudo-terminal here) and does not hang without one."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from commlb.cli.main import cli
from commlb.explain import explain, token_labels
from commlb.explain.page import OWNER_MARKS, to_html, to_markdown

CHROMIUM = "/usr/bin/chromium"


class _Page(HTMLParser):
    """The parts of the page the tests look at: sections (by id), token cells (label,
    mark, class), the message table's rows, images' src and every external reference."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.tokens: list[dict[str, str]] = []
        self.rows: list[list[str]] = []
        self.images: list[dict[str, str]] = []
        self.external: list[str] = []
        self.stack: list[str] = []
        self._tok: dict[str, str] | None = None
        self._cell: list[str] | None = None
        self._in_table = False
        self._in_body = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag not in ("meta", "img", "br", "link"):
            self.stack.append(tag)
        for key in ("src", "href"):
            if key in a and not a[key].startswith(("data:", "#")):
                self.external.append(a[key])
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "span" and "tok" in a.get("class", "").split() and "gap" not in a.get("class", ""):
            self._tok = {"class": a["class"], "b": "", "i": ""}
        if tag == "table":
            self._in_table = True
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body:
            self.rows.append([])
        if tag == "td" and self._in_body:
            self._cell = []
        if tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        if tag == "span" and self._tok is not None and self.stack.count("span") == 0:
            self.tokens.append(self._tok)
            self._tok = None
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._tok is not None and self.stack and self.stack[-1] in ("b", "i"):
            self._tok[self.stack[-1]] += data
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def transformer_walk():
    return explain("disjointness", "transformer")


def test_html_page_matches_the_walk_through(transformer_walk):
    e = transformer_walk
    text = to_html(e, command="commlb explain --task disjointness --model transformer")
    page = _parse(text)
    assert text.startswith("<!DOCTYPE html>")
    assert page.stack == [], f"unclosed elements: {page.stack}"
    assert page.sections == [f"step-{s.key}" for s in e.steps]
    # every token, its label and its owner's letter, in order (ownership not by colour alone)
    labels = token_labels(e.tokens, e.vocab_names)
    owners = [int(o) for o in e.owner]
    assert [t["b"] for t in page.tokens] == labels
    assert [t["i"] for t in page.tokens] == [OWNER_MARKS[o] for o in owners]
    assert [t["class"].split()[1] for t in page.tokens] == [{0: "a", 1: "b", 2: "p"}[o] for o in owners]
    # the message table: one row per message, bits as sent, summing to the total
    msgs = e.simulation["messages"]
    assert len(page.rows) == len(msgs) > 1
    assert [int(r[4]) for r in page.rows] == [int(m["bits"]) for m in msgs]
    assert sum(int(r[4]) for r in page.rows) == e.simulation["total_bits"]
    assert [r[2].split(" → ")[0].lower() for r in page.rows] == [m["sender"] for m in msgs]
    # self-contained: no reference outside the file; figures are SVG data URIs that parse
    assert page.external == []
    assert [i["alt"].split(":")[0] for i in page.images] == [
        "the tokens with their owners, the cut, and each message as an arrow between Alice and Bob",
        "bar chart of the bits of each message", "bar chart"]
    for img in page.images:
        assert img["alt"]
        head, _, payload = img["src"].partition(",")
        assert head == "data:image/svg+xml;base64"
        root = ET.fromstring(base64.b64decode(payload))
        assert root.tag.endswith("svg")
    # the run's picture draws every token and every message of this run (SVG ids)
    svg = base64.b64decode(page.images[0]["src"].partition(",")[2]).decode()
    assert len(set(re.findall(r'id="token-(\d+)"', svg))) == len(labels)
    assert len(set(re.findall(r'id="message-(\d+)"', svg))) == len(msgs)
    # every paragraph of every step is on the page (escaped text comes back unchanged)
    body = re.sub(r"\s+", " ", "".join(page.text))
    for step in e.steps:
        for para in step.paragraphs:
            assert re.sub(r"\s+", " ", para.replace("`", "")) in body


def test_inequality_figure_draws_the_run_numbers(transformer_walk):
    from commlb.explain.page import inequality_figure

    e = transformer_walk
    fig = inequality_figure(e)
    ax = fig.axes[0]
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == sorted([float(e.simulation["lower_bound"]["compare_bits"]), float(e.simulation["total_bits"])])


def test_markdown_page_and_figures_beside(tmp_path):
    e = explain("disjointness", "rnn")
    text, files = to_markdown(e, "lecture")
    assert text.startswith("# The lower-bound argument for an RNN on disjointness")
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == [s.title for s in e.steps]
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # one message: the transcript figure, no bar chart of message sizes
    assert refs == list(files) == ["lecture-transcript.svg", "lecture-inequality.svg"]
    block = text.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].split() == token_labels(e.tokens, e.vocab_names)
    assert block[1].split() == [OWNER_MARKS[int(o)] for o in e.owner]
    inline, none = to_markdown(e)
    assert none == {} and "](data:image/svg+xml;base64," in inline


def test_cli_writes_html_and_markdown(tmp_path):
    runner = CliRunner()
    out = tmp_path / "walk.html"
    res = runner.invoke(cli, ["explain", "--task", "index-lookup", "--model", "rnn", "--n", "8", "--output", str(out)])
    assert res.exit_code == 0, res.output
    page = _parse(out.read_text(encoding="utf-8"))
    assert page.sections[0] == "step-problem" and page.external == []
    assert "commlb explain --task index-lookup --model rnn --n 8" in "".join(page.text)
    md = tmp_path / "walk.md"
    res = runner.invoke(cli, ["explain", "--task", "index-lookup", "--model", "rnn", "--n", "8", "--format",
                              "markdown", "--output", str(md)])
    assert res.exit_code == 0, res.output
    beside = sorted(p.name for p in tmp_path.glob("walk-*.svg"))
    assert beside == ["walk-inequality.svg", "walk-transcript.svg"]
    assert "(walk-inequality.svg)" in md.read_text(encoding="utf-8")
    ET.parse(tmp_path / "walk-inequality.svg")
    res = runner.invoke(cli, ["explain", "--problem", "ip", "--n", "4", "--error", "0.1", "--format", "html"])
    assert res.exit_code == 0, res.output
    assert _parse(res.stdout).sections == ["step-problem", "step-error"]


def test_step_without_a_terminal_does_not_pause():
    res = CliRunner().invoke(cli, ["explain", "--task", "disjointness", "--model", "rnn", "--step"], input="")
    assert res.exit_code == 0, res.output
    assert res.stdout.count("╭─") == 5
    assert "not a terminal" in res.stderr and "Enter" not in res.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.timeout(240)
def test_step_pauses_on_a_terminal():
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: commlb with a terminal on stdin, stdout and stderr
        os.execv(sys.executable, [sys.executable, "-m", "commlb.cli.main", "explain", "--task", "disjointness",
                                  "--model", "rnn", "--step"])
    seen = bytearray()

    def read_until(marker: bytes, count: int) -> None:
        while seen.count(marker) < count:
            ready, _, _ = select.select([fd], [], [], 120)
            assert ready, f"no output; so far: {bytes(seen[-300:])!r}"
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    panel = "╭─".encode()
    read_until(b"-- Enter", 1)
    assert seen.count(panel) == 1  # the first panel, then a pause
    os.write(fd, b"\n")
    read_until(b"-- Enter", 2)
    assert seen.count(panel) == 2
    os.write(fd, b"q\n")
    _, status = os.waitpid(pid, 0)
    read_until(b"\x00never", 1)  # drain what is left
    assert os.waitstatus_to_exitcode(status) == 0
    assert seen.count(panel) == 2  # q stopped the walk-through


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
@pytest.mark.timeout(300)
def test_chromium_renders_the_page(tmp_path):
    """A real browser loads the page: every figure decodes (natural width > 0), the five
    sections are laid out, and the screenshot is not blank."""
    e = explain("disjointness", "transformer")
    probe = ("<script>addEventListener('load', () => { document.body.dataset.images = "
             "[...document.images].map(i => i.naturalWidth).join(','); document.body.dataset.sections = "
             "[...document.querySelectorAll('section')].filter(s => s.offsetHeight > 50).length; });</script>")
    page = tmp_path / "page.html"
    page.write_text(to_html(e).replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=240, check=True).stdout
    images = re.search(r'data-images="([^"]*)"', dom)
    assert images, dom[:500]
    widths = [int(w) for w in images.group(1).split(",")]
    assert len(widths) == 3 and min(widths) > 200
    assert re.search(r'data-sections="(\d+)"', dom).group(1) == str(len(e.steps))
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=240, check=True)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    dark = (pixels[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.01 < dark < 0.5  # text on a white page, not an empty or black one
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
