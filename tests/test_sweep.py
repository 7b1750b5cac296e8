"""`commlb sweep`: n ranges, rows measured by running the real protocol, the index-lookup
separation in the JSON numbers, CSV, plots (PNG/SVG checked as files), refusals."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from commlb.cli.sweep import sweep as sweep_cmd
from commlb.errors import CommlbError, InvalidInputError, TooLargeError, UnknownNameError
from commlb.sweep import (
    CSV_COLUMNS,
    growth_exponent,
    parse_models,
    parse_n_values,
    plot_sweep,
    run_sweep,
    short_kind,
)

#: transformer bits at n must stay below C_POLYLOG · log2(n)^2 (measured: 78 bits at n = 16,
#: 142 at n = 1024, i.e. at most 4.9·log2(n)^2, so C = 5 leaves no slack to hide a
#: linear term: a linear protocol would pass 5·log2(n)^2 well before n = 1024)
C_POLYLOG = 5.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return CliRunner().invoke(sweep_cmd, list(args), catch_exceptions=True)


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "spec, expected",
    [
        ("16..1024x2", [16, 32, 64, 128, 256, 512, 1024]),
        ("8,16,32", [8, 16, 32]),
        ("10..50+10", [10, 20, 30, 40, 50]),
        ("3..5", [3, 4, 5]),
        ("32,8,16,8", [8, 16, 32]),
        ("4..8,100", [4, 5, 6, 7, 8, 100]),
        ("1..100x10", [1, 10, 100]),
        (" 8 .. 64 x 4 ", [8, 32]),
        ("2..20x1.5", [2, 3, 4, 7, 10, 15]),
    ],
)
def test_parse_n_values(spec, expected):
    assert parse_n_values(spec) == expected


def test_parse_n_values_geometric_stays_in_range_and_grows():
    values = parse_n_values("7..1000x3")
    assert values[0] == 7 and values[-1] <= 1000 and values[-1] * 3 > 1000
    assert all(b == a * 3 for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("spec", ["", "x", "0", "4..3", "4..8x1", "4..8+0", "a..b", "8,,-1"])
def test_parse_n_values_refuses_bad_specs(spec):
    with pytest.raises(InvalidInputError):
        parse_n_values(spec)


def test_parse_n_values_refuses_huge_work():
    with pytest.raises(TooLargeError, match="limit"):
        parse_n_values("1..100000")
    with pytest.raises(TooLargeError, match="smaller"):
        parse_n_values(str(1 << 20))


def test_parse_models():
    assert parse_models("rnn, Transformer,rnn") == ["rnn", "transformer"]
    with pytest.raises(UnknownNameError):
        parse_models("rnn,lstm")
    with pytest.raises(InvalidInputError):
        parse_models(" , ")


def test_short_kind():
    assert short_kind("one-way A->B") == "one-way A→B"
    assert short_kind("two-way minus announcement") == "two-way"
    assert short_kind(None) == ""


def test_growth_exponent():
    xs = [16, 32, 64, 128]
    assert growth_exponent(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert growth_exponent(xs, [7.0] * 4) == pytest.approx(0.0)


# ------------------------------------------------------------------ the index-lookup separation
@pytest.fixture(scope="module")
def separation():
    """The acceptance sweep, through the CLI, with its JSON and its plot."""
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    plot = tmp / "sep.png"
    res = invoke("--task", "index-lookup", "--models", "rnn,transformer", "--n", "16..1024x2",
                 "--trials", "4", "--instances", "2", "--plot", str(plot), "--json")
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout), plot


def test_sweep_json_has_every_point_with_the_required_keys(separation):
    data, _ = separation
    assert data["task"] == "index-lookup"
    assert data["n"] == [16, 32, 64, 128, 256, 512, 1024]
    rows = data["rows"]
    assert [(r["model"], r["n"]) for r in rows] == [(m, n) for m in ("rnn", "transformer") for n in data["n"]]
    for r in rows:
        for key in ("model", "n", "params", "bits", "lower_bound", "error_rate"):
            assert key in r


def test_transformer_bits_are_polylogarithmic(separation):
    data, _ = separation
    rows = [r for r in data["rows"] if r["model"] == "transformer"]
    assert all(r["status"] == "ok" for r in rows)
    for r in rows:
        n = r["n"]
        assert r["bits"] <= C_POLYLOG * math.log2(n) ** 2, r
        # the protocol really ran, agreed with the forward pass and met its bound
        assert 1 <= r["protocol_runs"] <= 2 and r["protocol_matches_forward"] is True
        assert r["lower_bound"] is not None and r["bits"] >= r["lower_bound"]
        assert r["meets_bound"] is True
        assert r["error_rate"] == 0.0 and 1 <= r["trials"] <= 4
        assert r["bits_min"] == r["bits"]  # the plan depends only on the model and the split
        assert r["layers"] == 1 and r["heads"] == 1
        assert r["width"] <= 12 * math.ceil(math.log2(n)) + 4  # m = ⌈12 log2 n⌉ code dims + marker + 2 symbols
    exponent = growth_exponent([r["n"] for r in rows], [r["bits"] for r in rows])
    assert exponent < 0.25, exponent


def test_rnn_bits_are_at_least_linear(separation):
    data, _ = separation
    rows = [r for r in data["rows"] if r["model"] == "rnn"]
    assert all(r["status"] == "ok" for r in rows), [r["note"] for r in rows]
    for r in rows:
        assert r["bits"] >= r["n"], r  # one-way INDEX_n: the state at the cut carries >= n bits
        assert r["lower_bound"] == r["n"] and "one-way" in r["lower_bound_kind"]
        assert r["rounds"] == 1 and r["bits_bob_to_alice"] == 0
        assert r["error_rate"] == 0.0 and r["trials"] >= 1
        assert r["protocol_matches_forward"] is True
        if r["trials"] < 4:  # the time budget cut the trials short, and the row says so
            assert "time budget" in r["note"]
    exponent = growth_exponent([r["n"] for r in rows], [r["bits"] for r in rows])
    assert exponent > 0.9, exponent


def test_separation_widens(separation):
    data, _ = separation
    by = {(r["model"], r["n"]): r["bits"] for r in data["rows"]}
    ratios = [by[("rnn", n)] / by[("transformer", n)] for n in data["n"]]
    assert ratios[-1] > 4 * ratios[0]


def test_plot_is_a_png(separation):
    _, plot = separation
    raw = plot.read_bytes()
    assert raw[:8] == PNG_MAGIC
    # IHDR: width and height of a slide-sized figure
    width = int.from_bytes(raw[16:20], "big")
    height = int.from_bytes(raw[20:24], "big")
    assert width >= 800 and height >= 500


# ------------------------------------------------------------------ library, CSV, SVG, notes
@pytest.fixture(scope="module")
def small():
    return run_sweep("index-lookup", "transformer,ffn", "8,32", trials=3, instances=1, seed=3)


def test_family_without_construction_is_a_note_not_a_failure():
    result = run_sweep("nearest-neighbor", "transformer,rnn", "4,8", trials=2, instances=1, seed=3)
    rnn = result.rows_for("rnn")
    assert [r.status for r in rnn] == ["no-construction", "no-construction"]
    assert all("rnn" in r.note for r in rnn)
    assert any(note.startswith("rnn:") for note in result.notes())
    assert all(r.ok for r in result.rows_for("transformer"))
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert all(r["bits"] == "" for r in rows if r["model"] == "rnn")


def test_rows_match_a_direct_simulation(small):
    from commlb.simulate import build_model, resolve_task, simulate_instance

    row = small.rows_for("transformer")[1]
    setup = resolve_task("index-lookup", n=32)
    built = build_model(setup, "transformer", seed=3)
    res = simulate_instance(setup, built, seed=0, effective=False)
    assert row.bits == res.transcript.total_bits
    assert row.params == built.model.num_params()
    assert row.precision_bits == built.precision.bits
    assert row.lower_bound == res.lower_bound.compare_bits


def test_time_budget_keeps_one_run_and_one_trial_and_says_so():
    import time

    def slow(point, done, total, stage):  # the first run ends past half the limit, the first trial past it
        if stage in ("protocol run 1 of 3", "trial 1 of 5"):
            time.sleep(1.6)

    result = run_sweep("index-lookup", "transformer", "8", trials=5, instances=3, max_seconds=3.0,
                       point_progress=slow)
    row = result.rows[0]
    assert row.ok and row.protocol_runs == 1 and row.trials == 1
    assert "1 of 3 instances" in row.note and "1 of 5 trials" in row.note
    unlimited = run_sweep("index-lookup", "transformer", "8", trials=5, instances=3, max_seconds=0)
    assert unlimited.rows[0].protocol_runs == 3 and unlimited.rows[0].trials == 5


def test_single_blas_thread_restores_the_thread_count():
    import numpy as np
    import scipy.linalg  # noqa: F401  (a second OpenBLAS, with prefixed symbols)
    from threadpoolctl import threadpool_info

    from commlb.sweep import single_blas_thread

    np.ones((2, 2)) @ np.ones((2, 2))

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    assert before, "no BLAS found in the process"
    with single_blas_thread():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def test_csv_round_trip(small, tmp_path):
    rows = list(csv.DictReader(io.StringIO(small.to_csv())))
    assert len(rows) == 4
    assert list(rows[0]) == list(CSV_COLUMNS)
    t = [r for r in rows if r["model"] == "transformer"]
    assert [int(r["bits"]) for r in t] == [r.bits for r in small.rows_for("transformer")]
    f = [r for r in rows if r["model"] == "ffn"]
    assert [int(r["bits"]) for r in f] == [r.bits for r in small.rows_for("ffn")]
    assert all(int(r["bits"]) >= float(r["lower_bound"]) for r in f)


def test_svg_plot_is_valid_xml(small, tmp_path):
    path = tmp_path / "plot.svg"
    plot_sweep(small, path, title="test")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert "n" in path.read_text() and "bits sent" in path.read_text()


def test_plot_refuses_unknown_suffix(small, tmp_path):
    with pytest.raises(InvalidInputError, match="png"):
        plot_sweep(small, tmp_path / "plot.gif")


def test_cli_csv_to_stdout_and_file(tmp_path):
    res = invoke("--task", "index-lookup", "--models", "transformer", "--n", "8,16", "--trials", "2",
                 "--instances", "1", "--csv", "-")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [int(r["n"]) for r in rows] == [8, 16]
    out = tmp_path / "rows.csv"
    res = invoke("--task", "index-lookup", "--models", "transformer", "--n", "8", "--trials", "0",
                 "--instances", "1", "--csv", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("task,model,n,")
    assert "index-lookup" in res.stdout  # the table is still printed


def test_cli_task_and_model_options_reach_the_construction():
    res = invoke("--task", "khop", "--models", "transformer", "--n", "3", "--task-option", "k=3",
                 "--trials", "1", "--instances", "1", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["rows"][0]
    assert row["layers"] == 4 and row["rounds"] >= 3  # 3 hops: pointer doubling needs 4 layers here
    res = invoke("--task", "index-lookup", "--models", "transformer", "--n", "16", "--model-option",
                 "precision=16", "--trials", "1", "--instances", "1", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"][0]["precision_bits"] == 16


def test_cli_table_mentions_each_point():
    res = invoke("--task", "index-lookup", "--models", "transformer", "--n", "8,16", "--trials", "2",
                 "--instances", "1")
    assert res.exit_code == 0, res.output
    assert "transformer" in res.stdout and "bits" in res.stdout and "0/2" in res.stdout


def test_cli_errors_are_user_errors():
    for args in (("--task", "nope", "--n", "8"), ("--task", "index-lookup", "--n", "9..3"),
                 ("--task", "index-lookup", "--models", "lstm"),
                 ("--task", "index-lookup", "--n", "8", "--model-option", "bogus=1"),
                 ("--task", "index-lookup", "--n", "8", "--model-option", "precision"),
                 ("--task", "khop", "--n", "3", "--task-option", "q=2")):
        res = invoke(*args)
        assert isinstance(res.exception, CommlbError), (args, res.exception)


def test_cli_exit_code_two_for_bad_input():
    proc = subprocess.run([sys.executable, "-m", "commlb.cli.main", "sweep", "--task", "index-lookup",
                           "--n", "9..3"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "smaller than the start" in proc.stderr


@pytest.mark.parametrize("metric", ["state-bits", "width", "params"])
def test_figure_has_a_size_panel_and_a_bits_panel(small, metric):
    from commlb.sweep_plot import SIZE_METRICS

    fig = plot_sweep(small, metric=metric)
    size_ax, bits_ax = fig.axes
    value = SIZE_METRICS[metric][1]
    lines = {ln.get_label().split(",")[0]: ln for ln in size_ax.get_lines()}
    for model in small.models:
        pts = [(r.n, value(r)) for r in small.rows_for(model) if r.ok and value(r)]
        if pts:
            ln = lines[model]
            assert list(ln.get_xdata()) == [p[0] for p in pts] and list(ln.get_ydata()) == [p[1] for p in pts]
    bits = {ln.get_label().split(":")[0]: ln for ln in bits_ax.get_lines() if "bits sent" in ln.get_label()}
    for model in small.models:
        rows = [r for r in small.rows_for(model) if r.ok and r.bits is not None]
        if rows:
            assert list(bits[model].get_ydata()) == [r.bits for r in rows]
            assert "slope" in bits[model].get_label()
    # the lower bound: dashed at eps+ where it applies (3 trials give eps+ >= 1/2: none here),
    # dotted for the exact-correctness bound of the points that made no error
    styles = {ln.get_label().split(",")[0]: ln.get_linestyle() for ln in bits_ax.get_lines()}
    assert styles.get("exact-correctness bound") == ":" and "bound at eps+" not in styles
    caption = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "The cut" in caption and "n:" in caption


def test_bits_metric_is_one_panel_and_bad_metric_refused(small):
    assert len(plot_sweep(small, metric="bits").axes) == 1
    with pytest.raises(InvalidInputError, match="--metric"):
        plot_sweep(small, metric="depth")


def test_sweep_takes_simulates_spelling_of_task_options():
    """--k 3 is --task-option k=3 (simulate's spelling works in sweep too): the same rows;
    and it reaches the construction (3 hops need 4 layers, 2 hops fewer)."""
    rows = {}
    for spelling in (("--k", "3"), ("--task-option", "k=3"), ("--k", "2")):
        res = invoke("--task", "khop", "--models", "transformer", "--n", "3", *spelling, "--trials", "1",
                     "--instances", "1", "--json")
        assert res.exit_code == 0, res.output
        rows[spelling] = [{k: v for k, v in r.items() if "seconds" not in k and k != "elapsed"}
                          for r in json.loads(res.stdout)["rows"]]
    assert rows[("--k", "3")] == rows[("--task-option", "k=3")]
    assert rows[("--k", "3")][0]["layers"] == 4 and rows[("--k", "2")][0]["layers"] < 4
    res = invoke("--task", "khop", "--n", "3", "--k", "3", "--task-option", "k=2")
    assert isinstance(res.exception, CommlbError) and "disagree" in str(res.exception)


def test_figure_axes_follow_the_x_label_and_name_a_constant_size(small):
    fig = plot_sweep(small, metric="width", x_label="q (the DISJ_q size)")
    assert [ax.get_xlabel() for ax in fig.axes] == ["q (the DISJ_q size)"] * 2
    caption = next(t.get_text() for t in fig.texts if "The cut" in t.get_text()).replace("\n", " ")
    assert caption.startswith("q: ") and "linear in q" in caption
    assert fig.get_suptitle().endswith("against q")
    size_ax = fig.axes[0]
    for line in size_ax.get_lines():
        ys = list(line.get_ydata())
        if line.get_linestyle() == "--" or len(ys) < 2:
            continue
        constant = len(set(ys)) == 1
        assert ("(constant: " in line.get_label()) == constant
        if constant:
            assert f"constant: {ys[0]:,} at every q" in line.get_label()


def test_caption_describes_only_the_bound_lines_drawn():
    """The caption speaks of a dashed ε⁺ line only when one is drawn: with 2 trials ε⁺ is
    above 1/2 and no bound for protocols that err applies; with 40 error-free trials of
    index-lookup the one-way INDEX bound at ε⁺ is drawn."""
    from commlb.sweep_plot import _caption

    few = run_sweep("index-lookup", "rnn", "8,16", trials=2, instances=1, seed=3, max_seconds=0)
    assert all(r.error_bound is None for r in few.rows)
    assert "Dashed" not in _caption(few) and "No bound for protocols that err is drawn" in _caption(few)
    many = run_sweep("index-lookup", "rnn", "8,16", trials=40, instances=1, seed=3, max_seconds=0)
    assert all(r.error_bound and r.error_bound > 0 for r in many.rows)
    assert "Dashed" in _caption(many) and "No bound" not in _caption(many)


def test_trial_distribution_singleton_gives_disj_the_one_way_bound_at_eps_plus():
    """Under the singleton distribution DISJ is INDEX in disguise: the RNN (one-way) gets
    the distributional bound (1 − H2(ε⁺))·n at its measured ε⁺, rounded up; under the
    balanced sampler no DISJ bound applies.  The transformer (two-way) gets none."""
    import math

    from commlb.bounds.rational import binary_entropy

    hard = run_sweep("disjointness", "rnn,transformer", "8", trials=60, instances=1, seed=1, max_seconds=0,
                     trial_distribution="singleton")
    assert hard.to_json()["trial_distribution"] == "singleton"
    rnn, tf = hard.rows_for("rnn")[0], hard.rows_for("transformer")[0]
    assert rnn.errors == 0 and rnn.error_upper is not None and 0 < rnn.error_upper < 0.5
    assert rnn.error_bound == math.ceil((1 - binary_entropy(rnn.error_upper)) * 8 - 1e-9)
    assert tf.error_bound is None
    plain = run_sweep("disjointness", "rnn", "8", trials=60, instances=1, seed=1, max_seconds=0)
    assert plain.rows[0].error_bound is None and plain.to_json()["trial_distribution"] == "balanced"
    with pytest.raises(InvalidInputError, match="defined for disj only"):
        run_sweep("index-lookup", "rnn", "8", trials=3, trial_distribution="singleton")
