"""The reduction catalogue as a graph (commlb.reductions.graph), chains composed as
reductions (commlb.chain), ``commlb reduce`` and ``commlb list reductions --graph``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import commlb
from commlb.chain import ComposedReduction, compose
from commlb.errors import CommlbError
from commlb.reductions import graph as G
from commlb.testing import check_reduction

ROOT = Path(__file__).resolve().parents[1]


def _invoke(*args: str):
    from commlb.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "100"})


def test_graph_has_one_edge_per_registered_map_and_reduction():
    g = G.graph()
    names = {k for _u, _v, k in g.edges(keys=True)}
    assert names == set(commlb.registry.list_maps()) | set(commlb.list_reductions())
    # every reduction's edge goes from its problem to its task
    for _u, v, k, d in g.edges(keys=True, data=True):
        if d["kind"] == "reduction":
            red = commlb.get_reduction(k, **commlb.registry.reduction_factory(k).example_params)
            assert v == ("task", red.task.name)


def test_chains_are_paths_of_maps_then_one_reduction():
    assert ["disj-to-dyck"] in G.chains("disj", "dyck22")
    index_qsa = G.chains("index", "qsa")
    assert index_qsa[0] == ["index-to-qsa"] and ["index-to-disj", "disj-to-qsa"] in index_qsa
    for chain in G.chains("eq", None):
        kinds = [G.step_kind(s) for s in chain]
        assert kinds[-1] == "reduction" and set(kinds[:-1]) <= {"map"}


def test_composition_is_the_maps_then_the_reduction_and_is_checked_exhaustively():
    red = commlb.get_reduction("eq-to-disj+disj-to-dyck", n=3)
    assert isinstance(red, ComposedReduction) and red.problem.label() == "EQ_3"
    direct = commlb.get_reduction("disj-to-dyck", n=6)
    rng = np.random.default_rng(1)
    for _ in range(20):
        x, y = rng.integers(0, 2, 3), rng.integers(0, 2, 3)
        got = red.encode(x, y)
        want = direct.encode(np.concatenate([x, 1 - x]), np.concatenate([1 - y, y]))
        assert np.array_equal(got.tokens, want.tokens) and np.array_equal(got.owner, want.owner)
    report = check_reduction(red)
    assert report.ok and report.exhaustive and report.total_pairs == 64


def test_index_chain_decodes_through_the_negation():
    red = commlb.get_reduction("index-to-disj+disj-to-qsa", n=4)
    report = check_reduction(red)
    assert report.ok and report.total_pairs == 16 * 4


BROKEN_MAP = '''
import numpy as np
import commlb
from commlb.core import ProblemMap


class IndexToDisjForgetsTheNegation(ProblemMap):
    name = "index-to-disj-wrong"

    def __init__(self, n=3):
        self.source = commlb.get_problem("index", n=n)
        self.target = commlb.get_problem("disj", n=n)

    def map_x(self, x):
        return np.asarray(x)

    def map_y(self, y):
        e = np.zeros(self.source.n, dtype=np.int64)
        e[int(np.asarray(y).reshape(-1)[0])] = 1
        return e


class Costly(IndexToDisjForgetsTheNegation):
    name = "index-to-disj-costly"
    cost_bits = 2

    def decode(self, answer):
        return 1 - int(answer)
'''


@pytest.fixture(name="maps_file")
def _maps_file(tmp_path):
    path = tmp_path / "my_maps.py"
    path.write_text(BROKEN_MAP)
    return str(path)


def test_a_wrong_map_in_a_chain_is_caught_with_exit_1(maps_file, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = _invoke("check-reduction", f"{maps_file}:IndexToDisjForgetsTheNegation+disj-to-disjointness",
                     "--n", "3", "--json")
    assert result.exit_code == 1
    cex = json.loads(result.stdout)["counterexample"]
    assert cex["kind"] == "soundness"
    x, y = np.asarray(cex["x"]), int(cex["y"][0])
    assert cex["expected"] == int(x[y])  # INDEX's answer; the chain decoded its negation


def test_a_costly_map_lowers_every_numeric_bound_by_its_cost(maps_file):
    red = commlb.get_reduction(f"{maps_file}:Costly+disj-to-disjointness", n=5)
    assert red.cost_bits == 2 and check_reduction(red).ok
    plain = {b.kind: b for b in commlb.get_problem("index", n=5).bounds()}
    for b in red.problem.bounds():
        if b.value is not None and b.lower:
            assert b.value == max(0.0, plain[b.kind].value - 2) and b.formula.endswith("- 2")
    t = G.transfer(f"{maps_file}:Costly+disj-to-disjointness", 5)
    assert t.cost_bits == 2 and [s["cost_bits"] for s in t.steps] == [2, 0]


def test_transfer_states_sizes_and_the_source_bounds():
    t = G.transfer("eq-to-disj+disj-to-qsa", 4)
    assert [(s["from"], s["to"]) for s in t.steps] == [("EQ_4", "DISJ_8"), ("DISJ_8", "qsa")]
    assert t.length == 2 * 8 + 1  # DISJ_q -> qSA has 2q + 1 tokens, q = 2·4
    one_way = {b.kind.value: b.value for b in t.bounds}["one-way A->B"]
    assert one_way == 4  # D->(EQ_4): the chain carries EQ_4's bound, not DISJ_8's


def test_compose_refuses_steps_that_do_not_meet():
    with pytest.raises(CommlbError, match="ends at DISJ_6 but the next step starts at DISJ_4"):
        compose(commlb.registry.get_map("eq-to-disj", n=3), commlb.get_reduction("disj-to-dyck", n=4))
    with pytest.raises(CommlbError, match="ends at DISJ_4 but the next step starts at EQ_4"):
        commlb.get_reduction("index-to-disj+eq-to-equality", n=4)


def test_chain_runs_in_simulate(monkeypatch):
    out = json.loads(_invoke("simulate", "--reduction", "index-to-disj+disj-to-disjointness", "--model", "rnn",
                             "--n", "5", "--json").output)
    assert out["problem"] == "INDEX_5" and out["task"] == "disjointness" and out["correct"] is True
    assert out["lower_bound"]["bits"] == 5  # D->(INDEX_5) = 5, Alice to Bob


def test_reduce_command_checks_and_saves(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    saved = tmp_path / "chains.py"
    result = _invoke("reduce", "--from", "index", "--to", "qsa", "--n", "3", "--save", str(saved), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [c["chain"] for c in out["chains"]] == ["index-to-qsa", "index-to-disj+disj-to-qsa"]
    for c in out["chains"]:
        assert c["check"]["ok"] and c["check"]["exhaustive"] and c["check"]["total_pairs"] == 8 * 3
    result = _invoke("check-reduction", f"{saved}:CHAIN_2", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["reduction"] == "index-to-disj+disj-to-qsa"


def test_a_users_reduction_gets_every_chain_into_it(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    mine = tmp_path / "mine.py"
    text = (ROOT / "commlb" / "reductions" / "strings.py").read_text()
    assert "class DisjToDisjointness" in text
    mine.write_text(
        "import commlb\n"
        "from commlb.reductions.strings import DisjToDisjointness\n\n"
        "class Mine(DisjToDisjointness):\n"
        "    name = 'my-disj-to-disjointness'\n"
        "    example_params = {'n': 4}\n"
        "    def __init__(self, n=4):\n"
        "        super().__init__(n)\n")
    result = _invoke("reduce", "--to", "disjointness", "--with", f"{mine}:Mine", "--json")
    assert result.exit_code == 0, result.output
    chains = {c["chain"]: c for c in json.loads(result.stdout)["chains"]}
    assert {f"eq-to-disj+{mine}:Mine", f"index-to-disj+{mine}:Mine", f"{mine}:Mine"} <= set(chains)
    assert all(c["check"]["ok"] for c in chains.values())


def test_list_reductions_draws_the_graph(tmp_path):
    svg = tmp_path / "g.svg"
    png = tmp_path / "g.png"
    assert _invoke("list", "reductions", "--graph", str(svg), "--json").exit_code == 0
    assert _invoke("list", "reductions", "--graph", str(png), "--json").exit_code == 0
    texts = {t.text for t in ET.parse(svg).iter() if t.tag.endswith("text") and t.text}
    g = G.graph()
    assert {name for _kind, name in g.nodes} <= texts
    # every edge carries its name (parallel edges stack their names in one label)
    words = {w for t in texts for w in t.split("\n")}
    assert {str(key) for _u, _v, key in g.edges(keys=True)} <= words
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 600


def test_check_map_is_exhaustive_and_catches_a_wrong_decode(maps_file):
    from commlb.chain import check_map

    good = check_map(commlb.registry.get_map("index-to-disj", n=4))
    assert good.ok and good.exhaustive and good.pairs_checked == 16 * 4
    wrong = check_map(commlb.registry.get_map(f"{maps_file}:IndexToDisjForgetsTheNegation", n=3))
    assert not wrong.ok and wrong.counterexample["expected"] != wrong.counterexample["got"]
    x, y = wrong.counterexample["x"], wrong.counterexample["y"][0]
    assert wrong.counterexample["expected"] == x[y]


def test_list_reductions_lists_the_problem_maps():
    out = json.loads(_invoke("list", "reductions", "--json").stdout)
    maps = {m["name"]: m for m in out["maps"]}
    assert set(maps) == set(commlb.registry.list_maps())
    assert (maps["eq-to-disj"]["from"], maps["eq-to-disj"]["to"]) == ("EQ_3", "DISJ_6")
    assert all(m["cost_bits"] == 0 and m["origin"] == "built in" for m in maps.values())


def test_graph_drawing_is_the_same_every_run_and_edge_labels_do_not_overlap(tmp_path):
    def labels(path):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = G.draw(str(path))
        renderer = FigureCanvasAgg(fig).get_renderer()
        edge_names = {str(key) for _u, _v, key in G.graph().edges(keys=True)}
        out = [(t.get_text(), t.get_position(), t.get_window_extent(renderer))
               for t in fig.axes[0].texts if set(t.get_text().split("\n")) <= edge_names]
        return out

    first, second = labels(tmp_path / "a.svg"), labels(tmp_path / "b.svg")
    assert [(text, pos) for text, pos, _ in first] == [(text, pos) for text, pos, _ in second]
    assert len(first) == len({(u, v) for u, v, _k in G.graph().edges(keys=True)})
    boxes = [box for _t, _p, box in first]
    overlapping = [(first[i][0], first[j][0]) for i in range(len(boxes)) for j in range(i)
                   if boxes[i].overlaps(boxes[j])]
    assert overlapping == []
