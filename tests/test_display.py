"""Results in a notebook or a rich console (:mod:`commlb.display`): a one-line ``repr``,
a rich table and an HTML table with the figure, each read back and compared with the
object it shows."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from rich.console import Console

import commlb
from commlb.sweep import run_sweep


class _Tables(HTMLParser):
    """Every table's rows (cells as text) and every image's src."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Tables:
    p = _Tables()
    p.feed(text)
    return p


def _rich(obj) -> str:
    con = Console(file=io.StringIO(), width=80, color_system=None)
    con.print(obj)
    return con.file.getvalue()


def _svg_ids(src: str) -> set[str]:
    head, _, payload = src.partition(",")
    assert head == "data:image/svg+xml;base64"
    svg = base64.b64decode(payload).decode()
    ET.fromstring(svg)
    return set(re.findall(r'id="([^"]+)"', svg))


@pytest.fixture(scope="module")
def transformer_run():
    return commlb.run("disjointness", "transformer", n=4, effective=False)


def test_simulation_result(transformer_run):
    r = transformer_run
    line = repr(r)
    assert "\n" not in line and len(line) < 160
    assert f"{r.total_bits} bits in {r.transcript.rounds} rounds" in line
    page = _parse(r._repr_html_())
    fields, messages = page.tables
    as_dict = {row[0]: row[1] for row in fields}
    assert as_dict["bits sent"].startswith(f"{r.total_bits} (Alice → Bob {r.transcript.bits_alice_to_bob}")
    assert as_dict["x (Alice)"] == "".join(str(int(v)) for v in r.x)
    assert [int(row[4]) for row in messages[1:]] == [m.bits for m in r.transcript.messages]
    ids = _svg_ids(page.images[0])  # the transcript figure: every message drawn
    assert {f"message-{k}" for k in range(1, len(r.transcript.messages) + 1)} <= ids
    text = _rich(r)
    for m in r.transcript.messages:
        assert m.label in text


def test_sweep_result():
    s = run_sweep("index-lookup", "rnn,transformer", "8,16", trials=2, instances=1)
    assert repr(s) == "<SweepResult index-lookup: rnn, transformer × n = 8..16 (4 points, 4 measured)>"
    page = _parse(s._repr_html_())
    points = page.tables[1]
    assert [(row[0], int(row[1]), int(row[6])) for row in points[1:]] == [(r.model, r.n, r.bits) for r in s.rows]
    assert len(page.images) == 1
    assert "rnn" in _rich(s) and "transformer" in _rich(s)


def test_bounds_report_and_its_matrix_figure():
    from commlb.bounds.matrix import matrix_from_problem

    rep = commlb.compute_bounds(matrix_from_problem("eq", 2))
    best = rep.best_lower_bound
    assert f"D ≥ {best[0]} ({best[1]})" in repr(rep)
    page = _parse(rep._repr_html_())
    assert [row[0] for row in page.tables[1][1:]] == [m.method for m in rep.table]
    ids = _svg_ids(page.images[0])
    assert {f"cell-{i}-{j}" for i in range(4) for j in range(4)} <= ids  # every cell of the 4 × 4 matrix


def test_witness_and_reduction_report():
    w = commlb.find_witness("disjointness", "rnn", 4, hidden=1, precision=2, weights="random")
    assert w.found and "a collision" in repr(w)
    fields = {row[0]: row[1] for row in _parse(w._repr_html_()).tables[0]}
    assert fields["x"] == "".join(str(v) for v in w.alice_inputs[0])
    assert fields["x'"] == "".join(str(v) for v in w.alice_inputs[1])
    rep = commlb.check_reduction(commlb.get_reduction("disj-to-disjointness", n=2))
    assert repr(rep) == (f"<ReductionReport disj-to-disjointness: OK on {rep.pairs_checked} of {rep.total_pairs} "
                         "pairs (exhaustive)>")


def test_a_figure_that_refuses_is_left_out():
    from commlb.display import figure_of, register_figure
    from commlb.errors import TooLargeError

    def refuse(obj):
        raise TooLargeError("too large to draw")

    def bug(obj):
        raise ZeroDivisionError

    register_figure("effective-bits", refuse)
    assert figure_of("effective-bits", object()) is None
    register_figure("effective-bits", bug)
    with pytest.raises(ZeroDivisionError):  # a bug is not hidden
        figure_of("effective-bits", object())
