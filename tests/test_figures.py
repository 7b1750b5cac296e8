"""Pictures (commlb/figures, ``--figure``): the files the commands write are opened and
checked against the objects they show.  SVGs are parsed (every drawn element has an id:
the cells, their values, the fooling pairs, the leaves, the tokens, the messages); PNGs
are read pixel by pixel at the places the same figure, drawn again through the API, puts
each token."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")

SVG = "{http://www.w3.org/2000/svg}"


def invoke(command, *args):
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=True)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def svg_groups(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.parse(path).getroot()
    return root, {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def fill_of(group: ET.Element) -> str:
    path = group.find(f"{SVG}path")
    assert path is not None
    match = re.search(r"fill:\s*(#[0-9a-f]{6}|none)", path.get("style", ""))
    return match.group(1) if match else "#000000"  # SVG's default fill is black


def corner_of(group: ET.Element) -> tuple[float, float]:
    """The smallest x and y of the path's points (its top-left corner in SVG coordinates)."""
    path = group.find(f"{SVG}path")
    assert path is not None
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    return min(nums[0::2]), min(nums[1::2])


def text_of(group: ET.Element) -> str:
    return "".join(t.text or "" for t in group.iter(f"{SVG}text"))


def is_fooling(values: np.ndarray, value: int, pairs: list[tuple[int, int]]) -> bool:
    if any(values[r, c] != value for r, c in pairs):
        return False
    return all(values[r1, c2] != value or values[r2, c1] != value
               for k, (r1, c1) in enumerate(pairs) for (r2, c2) in pairs[k + 1:])


def points(value: str) -> float:
    return float(value.removesuffix("pt"))


# --------------------------------------------------------------------------- bounds


@pytest.fixture(scope="module")
def ip3(tmp_path_factory):
    """`commlb bounds --problem ip --n 3 --figure ip.svg --tree-figure tree.svg --json`."""
    from commlb.bounds.matrix import matrix_from_problem
    from commlb.cli.bounds import bounds

    out = tmp_path_factory.mktemp("ip3")
    res = invoke(bounds, "--problem", "ip", "--n", "3", "--figure", out / "ip.svg", "--tree-figure",
                 out / "tree.svg", "--json")
    return matrix_from_problem("ip", 3).values, json.loads(res.stdout), out


def test_bounds_figure_cells_match_the_matrix(ip3):
    values, _, out = ip3
    root, groups = svg_groups(out / "ip.svg")
    assert points(root.get("width")) > 300 and points(root.get("height")) > 300
    cells = {(int(m.group(1)), int(m.group(2))): g for key, g in groups.items()
             if (m := re.fullmatch(r"cell-(\d+)-(\d+)", key))}
    assert set(cells) == {(r, c) for r in range(8) for c in range(8)}
    # one fill per value and different fills for different values
    fill_by_value: dict[int, set[str]] = {}
    for (r, c), g in cells.items():
        fill_by_value.setdefault(int(values[r, c]), set()).add(fill_of(g))
        assert text_of(groups[f"cell-{r}-{c}-text"]) == str(values[r, c])
    assert all(len(f) == 1 for f in fill_by_value.values())
    assert len(set.union(*fill_by_value.values())) == len(fill_by_value) == 2
    # laid out as a grid: row r lower down than row r - 1, column c to the right of c - 1
    corners = {key: corner_of(g) for key, g in cells.items()}
    for r in range(8):
        xs = [corners[r, c][0] for c in range(8)]
        assert xs == sorted(xs) and len(set(np.round(xs, 3))) == 8
    for c in range(8):
        ys = [corners[r, c][1] for r in range(8)]
        assert ys == sorted(ys) and len(set(np.round(ys, 3))) == 8


def test_bounds_figure_marks_a_fooling_set_and_the_rectangles(ip3):
    values, _, out = ip3
    _, groups = svg_groups(out / "ip.svg")
    marked = [(int(m.group(1)), int(m.group(2))) for key in groups if (m := re.fullmatch(r"fooling-(\d+)-(\d+)", key))]
    for v in (0, 1):
        pairs = [p for p in marked if values[p] == v]
        assert len(pairs) >= 2 and is_fooling(values, v, pairs), v
    leaves: dict[int, list[tuple[int, int]]] = {}
    for key in groups:
        if m := re.fullmatch(r"leaf-(\d+)-(\d+)-(\d+)", key):
            leaves.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3))))
    cells = [cell for part in leaves.values() for cell in part]
    assert sorted(cells) == [(r, c) for r in range(8) for c in range(8)]  # a partition of the matrix
    for k, part in leaves.items():
        rows, cols = {r for r, _ in part}, {c for _, c in part}
        assert len(part) == len(rows) * len(cols), f"R{k} is not a rectangle"
        assert len({int(values[cell]) for cell in part}) == 1, f"R{k} is not monochromatic"
        assert text_of(groups[f"leafcell-{part[0][0]}-{part[0][1]}-text"]) == f"R{k}"


def test_tree_figure_draws_the_certified_tree(ip3):
    _, report, out = ip3
    tree = report["deterministic"]["tree"]

    def paths(node, path=""):
        yield path, "speaker" not in node or node.get("speaker") is None
        for bit, key in (("0", "left"), ("1", "right")):
            if node.get(key):
                yield from paths(node[key], path + bit)

    expected = dict(paths(tree))
    _, groups = svg_groups(out / "tree.svg")
    drawn = {key.removeprefix("tree-node-"): g for key, g in groups.items() if key.startswith("tree-node-")}
    assert set(drawn) == {p or "root" for p in expected}
    depth = max(len(p) for p in expected)
    assert depth == report["deterministic"]["upper"] == 4
    leaves = sorted(p for p, leaf in expected.items() if leaf)
    assert len(leaves) <= 2**depth


def test_matrix_figure_returns_a_figure_and_refuses_what_it_cannot_draw():
    from matplotlib.figure import Figure

    from commlb.bounds.matrix import matrix_from_problem
    from commlb.errors import InvalidInputError
    from commlb.figures import matrix_figure

    eq = matrix_from_problem("eq", 2)
    fig = matrix_figure(eq, highlight="none")
    assert isinstance(fig, Figure)
    assert {p.get_gid() for p in fig.axes[0].patches} >= {f"cell-{r}-{c}" for r in range(4) for c in range(4)}
    with pytest.raises(InvalidInputError, match="not a fooling set"):
        matrix_figure(eq, fooling={1: [(0, 0), (0, 1)]})
    with pytest.raises(InvalidInputError, match="up to 64 x 64"):
        matrix_figure(np.zeros((65, 2), dtype=np.int8))
    with pytest.raises(InvalidInputError, match="protocol tree"):
        matrix_figure(eq, highlight="rectangles")


# --------------------------------------------------------------------------- simulate


def _token_pixels(fig, owner_count: int) -> dict[int, tuple[slice, slice]]:
    """Pixel windows (rows, cols of the PNG) inside each token box, below its label."""
    fig.canvas.draw()
    height = fig.canvas.get_width_height()[1]
    ax = fig.axes[0]
    out = {}
    for patch in ax.patches:
        m = re.fullmatch(r"token-(\d+)", patch.get_gid() or "")
        if not m:
            continue
        box = patch.get_window_extent()
        x0, x1 = box.x0 + 0.15 * box.width, box.x1 - 0.15 * box.width
        y0, y1 = box.y0 + 0.08 * box.height, box.y0 + 0.3 * box.height  # the band under the label
        out[int(m.group(1))] = (slice(int(height - y1), int(height - y0)), slice(int(x0), int(x1)))
    assert len(out) == owner_count
    return out


def test_simulate_png_tokens_show_their_owners(tmp_path):
    import matplotlib.image as mpimg

    from commlb.cli.simulate import simulate
    from commlb.figures import transcript_figure
    from commlb.figures.common import OWNER_FACE
    from commlb.simulate import run

    png = tmp_path / "t.png"
    invoke(simulate, "--task", "disjointness", "--model", "rnn", "--n", "8", "--figure", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(png)
    result = run("disjointness", "rnn", 8)  # the same run (seed 0), drawn again for the positions
    fig = transcript_figure(result)
    width, height = fig.canvas.get_width_height()
    assert image.shape[:2] == (height, width) and width >= 700 and height >= 400
    owner = np.asarray(result.split.owner)
    faces = {k: np.array([int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]) for k, c in OWNER_FACE.items()}
    for i, (rows, cols) in _token_pixels(fig, len(owner)).items():
        colour = np.median(image[rows, cols, :3].reshape(-1, 3), axis=0)
        nearest = min(faces, key=lambda k: float(np.abs(faces[k] - colour).sum()))
        assert nearest == int(owner[i]), (i, colour)
        assert np.abs(faces[nearest] - colour).sum() < 0.1
    assert set(owner.tolist()) == {0, 1, 2}  # all three kinds of token were checked


def test_simulate_svg_messages_and_cut(tmp_path):
    from commlb.cli.simulate import simulate
    from commlb.simulate import run

    svg = tmp_path / "t.svg"
    invoke(simulate, "--task", "index-lookup", "--model", "transformer", "--n", "8", "--figure", svg)
    result = run("index-lookup", "transformer", 8)
    messages = result.transcript.messages
    _, groups = svg_groups(svg)
    alice = corner_of(groups["party-alice"])[0]
    bob = corner_of(groups["party-bob"])[0]
    assert alice < bob
    drawn = sorted(int(k.split("-")[1]) for k in groups if re.fullmatch(r"message-\d+", k))
    assert drawn == list(range(1, len(messages) + 1)) and len(messages) >= 2
    for k, m in enumerate(messages, 1):
        d = groups[f"message-{k}"].find(f"{SVG}path").get("d")
        start = float(re.findall(r"-?\d+(?:\.\d+)?", d)[0])
        # an arrow starts on its sender's side
        assert abs(start - alice) < abs(start - bob) if int(m.sender) == 0 else abs(start - bob) < abs(start - alice)
    owner = np.asarray(result.split.owner).tolist()
    tokens = sorted(int(k.split("-")[1]) for k in groups if re.fullmatch(r"token-\d+", k))
    assert tokens == list(range(len(owner)))
    marks = [text_of(groups[f"token-{i}-owner"]) for i in tokens]
    assert marks == [{0: "A", 1: "B", 2: "·"}[o] for o in owner]
    assert [k for k in groups if k.startswith("cut-")] == ["cut-1"]



def test_simulate_caption_states_the_bound_the_table_compares_with():
    """A two-way run's caption gives D (both parties learn the answer) and the number the
    bits are compared with (the last receiver answers), the same as simulate's table."""
    from commlb.figures import transcript_figure
    from commlb.simulate import run

    result = run("disjointness", "transformer", 6)
    lb = result.lower_bound
    assert lb is not None and lb.kind == "two-way"
    caption = " ".join(" ".join(t.get_text() for t in transcript_figure(result).texts).split())
    # DISJ_6: D = n + 1 = 7 with the announcement, 6 without (the problem's own numbers)
    assert "D = 7 bits" in caption and "so 6 bits here" in caption
    assert lb.compare_bits == 6 and "needs 7 bits (" not in caption


# --------------------------------------------------------------------------- witness


def test_witness_svg_rows_differ_where_the_inputs_do(tmp_path):
    from commlb.cli.witness import witness
    from commlb.simulate import resolve_task

    names = resolve_task("index-lookup", 8).task.vocab_names()
    svg = tmp_path / "w.svg"
    res = invoke(witness, "--task", "index-lookup", "--model", "rnn", "--n", "8", "--hidden", "2", "--precision",
                 "4", "--figure", svg, "--json")
    data = json.loads(res.stdout)
    assert data["found"]
    seq1, seq2 = data["sequences"]
    _, groups = svg_groups(svg)
    for row, seq in ((1, seq1), (2, seq2)):
        assert sorted(int(k.rsplit("-", 1)[1]) for k in groups
                      if re.fullmatch(rf"row{row}-token-\d+", k)) == list(range(len(seq)))
        labels = [text_of(groups[f"row{row}-token-{i}-label"]) for i in range(len(seq))]
        assert labels == [names[t] for t in seq]
    differ = sorted(int(k.split("-")[1]) for k in groups if re.fullmatch(r"differ-\d+", k))
    assert differ == [i for i, (a, b) in enumerate(zip(seq1, seq2)) if a != b] and differ
    verdicts = [text_of(groups[f"answer-{k}"]) for k in (1, 2)]
    for label, verdict in zip(("x", "x'"), verdicts):
        assert ("WRONG" in verdict) == (label in data["wrong_on"])
    assert "message" in groups


def test_save_figure_formats_by_suffix_and_same_figure_same_bytes(tmp_path):
    from commlb.bounds.matrix import matrix_from_problem
    from commlb.errors import InvalidInputError
    from commlb.figures import matrix_figure, save_figure

    fig = matrix_figure(matrix_from_problem("eq", 2), highlight="none")
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}
    for suffix, head in magic.items():
        first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        save_figure(fig, first)
        save_figure(fig, second)
        assert first.read_bytes().startswith(head)
        assert first.read_bytes() == second.read_bytes()  # no date or random id in the file
    for bad in ("a.gif", "a", "-", str(tmp_path / "missing" / "a.png")):
        with pytest.raises(InvalidInputError, match="--figure"):
            save_figure(fig, bad)


def test_tree_too_large_is_refused_and_the_matrix_picture_leaves_its_rectangles_out():
    from commlb.bounds.exact import ProtocolTree
    from commlb.errors import InvalidInputError
    from commlb.figures import matrix_figure, tree_figure

    def split(rows):  # Alice halves the rows until each leaf holds one row
        if len(rows) == 1:
            return ProtocolTree(tuple(rows), (0,), None, None, None, rows[0] % 2)
        half = len(rows) // 2
        return ProtocolTree(tuple(rows), (0,), "alice", split(rows[:half]), split(rows[half:]), None)

    big = split(list(range(129)))
    with pytest.raises(InvalidInputError, match="129 leaves"):
        tree_figure(big)

    class Report:  # what matrix_figure reads of a bounds report
        rows, cols, fooling_set, tree = 64, 1, {}, split(list(range(64)))

    values = (np.arange(64) % 2).astype(np.int8).reshape(64, 1)
    fig = matrix_figure(values, Report())
    assert len(fig.axes) == 2  # 64 leaves: drawn

    def by_cols(row, cols):  # then Bob halves the columns
        if len(cols) == 1:
            return ProtocolTree((row,), (cols[0],), None, None, None, 0)
        half = len(cols) // 2
        return ProtocolTree((row,), tuple(cols), "bob", by_cols(row, cols[:half]), by_cols(row, cols[half:]), None)

    def by_rows(rows):
        if len(rows) == 1:
            return by_cols(rows[0], [0, 1, 2])
        half = len(rows) // 2
        return ProtocolTree(tuple(rows), (0, 1, 2), "alice", by_rows(rows[:half]), by_rows(rows[half:]), None)

    Report.tree, Report.cols = by_rows(list(range(64))), 3  # 192 leaves over a 64 x 3 matrix
    fig = matrix_figure(np.zeros((64, 3), dtype=np.int8), Report())
    assert len(fig.axes) == 1
    assert "192 rectangles are not drawn" in " ".join(t.get_text() for t in fig.texts).replace("\n", " ")


def test_witness_figure_without_a_witness_says_so():
    from commlb.figures import witness_figure
    from commlb.witness.result import WitnessResult

    none = WitnessResult(found=False, task="disjointness", model="rnn", problem="DISJ_3", n=3, message_bits=96,
                         one_way_bound=3.0, inputs_enumerated=8, exhaustive=True, distinct_messages=8,
                         effective_bits=3.0, note="no collision: all 8 inputs of Alice send 8 distinct messages")
    fig = witness_figure(none)
    text = next(t.get_text() for t in fig.texts if t.get_gid() == "no-witness").replace("\n", " ")
    assert text.startswith("No collision: all 8 inputs") and text.count("collision") == 1
    assert "D→(DISJ_3) = 3 bits" in text and not fig.axes
