"""`commlb witness`: the acceptance command lines of issue 5, JSON keys, the rendered
report, refusals (exit 2).  Runs the real entry point in-process (``main(argv)``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from commlb.cli.main import main
from commlb.simulate import build_model, resolve_task

JSON_KEYS = {"found", "alice_inputs", "bob_input", "message_bits", "outputs", "expected", "wrong_on",
             "inputs_enumerated", "exhaustive", "distinct_messages", "effective_bits", "nominal_bits",
             "one_way_bound", "sequences", "owners"}


def cli(capsys, *args: str) -> str:
    main(["witness", *args])
    return capsys.readouterr().out


def cli_json(capsys, *args: str) -> dict:
    return json.loads(cli(capsys, *args, "--json"))


def cli_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(["witness", *args])
    captured = capsys.readouterr()
    assert info.value.code == 2, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    return lines[0]


def test_index_lookup_rnn_acceptance_json_and_rerun(capsys):
    out = cli_json(capsys, "--task", "index-lookup", "--model", "rnn", "--n", "16", "--hidden", "2",
                   "--precision", "4")
    assert JSON_KEYS <= set(out)
    assert out["found"] and out["exhaustive"] and out["inputs_enumerated"] == 2**16
    assert out["message_bits"] == 8 and out["one_way_bound"] == 16
    # re-run the same (seeded) model on the two reported inputs
    setup = resolve_task("index-lookup", 16)
    model = build_model(setup, "rnn", hidden=2, precision=4, weights="random", seed=0).model
    x, x2 = (np.array(v) for v in out["alice_inputs"])
    y = np.array(out["bob_input"])
    seqs = [setup.reduction.encode(v, y).tokens for v in (x, x2)]
    assert [s.tolist() for s in seqs] == out["sequences"]
    res = [model.forward(s) for s in seqs]
    assert res[0].same_bits(res[1])
    truth = [int(setup.problem.evaluate(v, y)) for v in (x, x2)]
    assert truth == out["expected"] and truth[0] != truth[1]
    answer = int(setup.reduction.decode(res[0].decision))
    assert out["wrong_on"] == [w for w, t in zip(("x", "x'"), truth) if t != answer]


def test_index_lookup_rnn_report(capsys):
    text = cli(capsys, "--task", "index-lookup", "--model", "rnn", "--n", "16", "--hidden", "2", "--precision", "4")
    for phrase in ("x'", "WRONG", "right", "bit-identical", "one-way bound", "effective", "exhaustive"):
        assert phrase in text, phrase


def test_transformer_disjointness_witness(capsys):
    out = cli_json(capsys, "--task", "disjointness", "--model", "transformer", "--n", "22", "--layers", "1",
                   "--heads", "1", "--width", "1", "--precision", "4")
    assert out["found"] and out["message_bits"] < 22 and out["exhaustive"]
    assert len(out["wrong_on"]) >= 1 and out["outputs"][0] == out["outputs"][1]
    assert out["expected"][0] != out["expected"][1]


def test_storing_construction_no_collision(capsys):
    args = ("--task", "index-lookup", "--model", "rnn", "--n", "16", "--hidden", "16", "--precision", "16")
    out = cli_json(capsys, *args)
    assert not out["found"] and out["distinct_messages"] == 2**16 and out["effective_bits"] == 16
    assert out["alice_inputs"] is None and out["wrong_on"] is None
    assert "construction" in out["model_note"] and out["message_bits"] == 256
    text = cli(capsys, *args)
    assert "no collision" in text and "65,536 distinct" in text


def test_effective_bits_flag(capsys):
    out = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", "12", "--precision", "16",
                   "--effective-bits")
    assert out["applicable"] and out["effective_bits"] == 12 and out["meets_one_way_bound"]
    text = cli(capsys, "--task", "disjointness", "--model", "rnn", "--n", "10", "--hidden", "1", "--precision", "3",
               "--effective-bits")
    assert "distinct messages" in text and "< the one-way bound" in text


def test_n40_refused_with_estimate_then_sampled(capsys):
    line = cli_error(capsys, "--task", "index-lookup", "--model", "rnn", "--n", "40")
    assert "2^40" in line and "--budget" in line and "would take" in line
    out = cli_json(capsys, "--task", "index-lookup", "--model", "rnn", "--n", "40", "--hidden", "2",
                   "--precision", "4", "--budget", "1000000")
    assert not out["exhaustive"] and out["found"] and out["inputs_enumerated"] <= 1000000
    out = cli_json(capsys, "--task", "index-lookup", "--model", "rnn", "--n", "40", "--budget", "3000")
    assert not out["exhaustive"] and not out["found"] and out["inputs_enumerated"] <= 3000


@pytest.mark.parametrize("args,phrase", [
    (["--task", "index-lookup", "--model", "transformer", "--n", "8", "--width", "4"], "one-way"),
    (["--task", "index-lookup", "--model", "rnn", "--n", "8", "--budget", "soon"], "--budget"),
    (["--task", "index-lookup", "--model", "rnn", "--n", "8", "--heads", "2"], "--heads"),
    (["--task", "match2", "--model", "rnn"], "no reduction"),
    (["--task", "disjointness", "--model", "rnn", "--n", "6", "--effective-bits", "--budget", "10"], "--budget"),
    (["--task", "disjointness", "--model", "rnn", "--n", "6", "--hidden", "2", "--precision", "4",
      "--split", "interleave"], "one-way"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, phrase):
    assert phrase in cli_error(capsys, *args)


def test_weights_file(capsys, tmp_path):
    setup = resolve_task("disjointness", 8)
    model = build_model(setup, "ffn", hidden=1, precision=3, weights="random", seed=4).model
    path = str(tmp_path / "w.npz")
    model.save(path)
    out = cli_json(capsys, "--task", "disjointness", "--model", "ffn", "--n", "8", "--weights", path)
    again = cli_json(capsys, "--task", "disjointness", "--model", "ffn", "--n", "8", "--hidden", "1",
                     "--precision", "3", "--weights", "random", "--seed", "4")
    assert out["found"] == again["found"] and out["alice_inputs"] == again["alice_inputs"]
    assert "loaded from" in out["model_note"]
