"""`commlb simulate --weights FILE --adapter …` on the fixture GPT-2 and LSTM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from commlb.cli.main import main

DATA = Path(__file__).parent / "data" / "models"
GPT2 = ["--weights", str(DATA / "gpt2_backbone.pt"), "--config", str(DATA / "gpt2_backbone.yaml"),
        "--adapter", "sht24-khop", "--task-option", "k=2"]
LSTM = ["--weights", str(DATA / "lstm.pt"), "--adapter", str(DATA / "rnn_khop_adapter.json"),
        "--task-option", "k=2"]


def _json(args, capsys):
    main(["simulate", *args, "--json"])
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("model,split,n", [(GPT2, "prefix:10", 20), (GPT2, "interleave", 20),
                                           (LSTM, "prefix:10", 20), (LSTM, "interleave", 20)])
def test_simulate_weights_json(model, split, n, capsys):
    data = _json([*model, "--n", str(n), "--split", split], capsys)
    tr = data["transcript"]
    assert tr["verification"]["protocol_matches_forward"]
    assert tr["verification"]["same_readout_positions"] == tr["verification"]["scored_positions"] == data["scored"]
    listed = sum(m["float32_values"] for m in tr["messages"])
    assert tr["total_bits"] == 32 * listed > 0
    assert all(m["bits"] == 32 * m["float32_values"] for m in tr["messages"])
    layers = tr["layers"]
    assert len(layers) == data["model"]["layers"] == 2
    assert sum(row["bits"] for row in layers) == tr["total_bits"]
    assert all(set(row) >= {"layer", "bits", "rounds"} for row in layers)
    assert "do not apply" in data["note"]
    if data["model"]["family"] == "lstm":  # h and c: 2 x width values per layer and hand-over
        handovers = 1 if split.startswith("prefix") else n - 1
        assert tr["total_bits"] == handovers * 2 * 2 * 8 * 32
    if split.startswith("prefix"):
        assert tr["rounds"] == 1 and tr["one_way"]


def test_simulate_weights_table(capsys):
    main(["simulate", *GPT2, "--n", "12", "--split", "interleave", "--exchange", "partial"])
    out = " ".join(capsys.readouterr().out.split())
    assert "partial sums" in out and "verified" in out and "per layer" in out and "do not apply" in out


def test_simulate_weights_refusals(capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--weights", str(DATA / "gpt2_backbone.pt"), "--n", "8"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--adapter" in err
    with pytest.raises(SystemExit) as info:
        main(["simulate", *GPT2[:-2], "--task-option", "k=0..3", "--n", "8"])
    assert info.value.code == 2 and "one value" in capsys.readouterr().err
