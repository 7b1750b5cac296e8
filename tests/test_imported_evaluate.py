"""Adapters and `commlb evaluate` on the fixture models."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from commlb.errors import InvalidInputError
from commlb.imported import open_model
from commlb.imported.adapter import Adapter, load_adapter
from commlb.imported.errors import ModelFileError
from commlb.imported.evaluate import evaluate, parse_task_options, wilson_interval
from commlb.tasks.khop import hop_positions_reference

DATA = Path(__file__).parent / "data" / "models"
GPT2_PT = str(DATA / "gpt2_backbone.pt")
GPT2_YAML = str(DATA / "gpt2_backbone.yaml")


def test_sht24_adapter_writes_the_published_layout():
    ad = load_adapter("sht24-khop")
    x = np.array([[0, 1, 0, 2, 1, 3, 0]])  # characters a b a c b d a
    ids = ad.encode(x, {"k": 2})
    assert ids.tolist() == [[2, 17, 18, 17, 19, 18, 20, 17]]
    pos = hop_positions_reference(x[0], 2)
    answers = np.where(pos >= 0, x[0][np.maximum(pos, 0)], -1)[None]
    target, scored = ad.targets_and_scored(answers, x.shape[1])
    assert target[0, 0] == 22  # the blank id at the prefix
    for i in range(1, 8):
        want = 21 if pos[i - 1] < 0 else 17 + x[0, pos[i - 1]]
        assert target[0, i] == want
    # scored exactly where the target is a character (17..20)
    np.testing.assert_array_equal(scored[0], (target[0] >= 17) & (target[0] <= 20))


def test_toml_adapter_and_bad_adapters(tmp_path):
    ad = load_adapter(str(DATA / "khop_lm_adapter.toml"))
    assert ad.prefix_ids({"k": 3}).tolist() == [13] and ad.readout == "lm_head"
    bad = {"prefix": ["{k}"], "tokens": {"offset": 1, "map": [1]}}
    (tmp_path / "a.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFileError, match="exactly one of offset or map"):
        load_adapter(str(tmp_path / "a.json"))
    (tmp_path / "b.json").write_text(json.dumps({"prefix": ["k"]}))
    with pytest.raises(ModelFileError, match="prefix entry"):
        load_adapter(str(tmp_path / "b.json"))
    (tmp_path / "c.json").write_text(json.dumps({"prefx": []}))
    with pytest.raises(ModelFileError, match="unknown adapter key"):
        load_adapter(str(tmp_path / "c.json"))
    (tmp_path / "d.toml").write_text("name = ")
    with pytest.raises(ModelFileError, match="TOML"):
        load_adapter(str(tmp_path / "d.toml"))
    with pytest.raises(ModelFileError, match="neither a built-in"):
        load_adapter("no-such-adapter")


def test_adapter_map_tables():
    ad = Adapter.from_dict({"tokens": {"map": [5, 7]}, "targets": {"map": [1, 2], "none": 0}, "score": "answers"}, "t")
    assert ad.encode(np.array([[1, 0, 1]]), {}).tolist() == [[7, 5, 7]]
    target, scored = ad.targets_and_scored(np.array([[1, -1, 0]]), 3)
    assert target.tolist() == [[2, 0, 1]] and scored.tolist() == [[True, False, True]]
    with pytest.raises(ModelFileError, match="map has 2 entries"):
        ad.encode(np.array([[2]]), {})


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and abs(hi - 0.27753) < 1e-4
    lo, hi = wilson_interval(5, 10)
    assert abs(lo - 0.23659) < 1e-4 and abs(hi - 0.76341) < 1e-4


def test_parse_task_options():
    assert parse_task_options(["k=0..2", "alphabet=4"]) == [{"k": 0, "alphabet": 4}, {"k": 1, "alphabet": 4},
                                                            {"k": 2, "alphabet": 4}]
    assert parse_task_options(["k=1,3"]) == [{"k": 1}, {"k": 3}]
    for bad in (["k"], ["k=3..1"], ["k=1", "k=2"], ["1x=2"]):
        with pytest.raises(InvalidInputError):
            parse_task_options(bad)


def test_evaluate_counts_errors_as_an_unbatched_recount_does():
    """The batched evaluation's error count equals one computed sequence by sequence
    with the slow reference hop_k and the model's unbatched forward pass."""
    model = open_model(GPT2_PT, GPT2_YAML, adapter=load_adapter("sht24-khop"))
    ad = load_adapter("sht24-khop")
    res = evaluate(model, ad, None, [{"k": 2}], n=12, instances=40, seed=5, batch=7)
    row = res.rows[0]
    from commlb.registry import get_task

    task = get_task("khop", k=2, alphabet=4)
    rng = np.random.default_rng([5, 0])
    errors = scored = 0
    for _ in range(40):
        x = task.generate(rng, 12)
        hidden = model.forward(np.concatenate([[2], 17 + x]))
        pos = hop_positions_reference(x, 2)
        for i in range(12):
            if pos[i] >= 0:
                scored += 1
                errors += int(hidden[i + 1].argmax() != 17 + x[pos[i]])
    assert (row.errors, row.scored) == (errors, scored)
    assert row.ci95[0] <= row.error_rate <= row.ci95[1]
    assert row.effective_n <= row.scored


def test_model_that_fits_no_adapter_is_refused():
    model = open_model(str(DATA / "lstm.pt"), adapter=load_adapter("sht24-khop"))  # 6-token vocabulary
    with pytest.raises(ModelFileError, match="vocabulary"):
        evaluate(model, load_adapter("sht24-khop"), None, [{"k": 1}], n=8, instances=2)


def _run(args, capsys):
    from commlb.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_cli_evaluate_rows_and_json_keys(capsys):
    from commlb.cli.main import main

    main(["evaluate", "--weights", str(DATA / "gpt2_hf"), "--adapter", str(DATA / "khop_lm_adapter.toml"),
          "--task-option", "k=0..4", "--n", "16", "--instances", "20", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert len(data["rows"]) == 5
    assert [r["task_options"]["k"] for r in data["rows"]] == [0, 1, 2, 3, 4]
    for r in data["rows"]:
        assert set(r) >= {"task_options", "error_rate", "ci95", "scored", "instances"}
        assert r["instances"] == 20 and r["scored"] == 20 * 16  # score = all task positions
        assert 0 <= r["ci95"][0] <= r["error_rate"] <= r["ci95"][1] <= 1
    assert set(data["model"]) >= {"family", "layers", "width", "heads", "parameters", "format"}
    assert data["model"]["format"].startswith("Hugging Face folder")
    assert "do not apply" in data["note"]


def test_cli_evaluate_table_says_bounds_do_not_apply(capsys):
    from commlb.cli.main import main

    main(["evaluate", "--weights", GPT2_PT, "--config", GPT2_YAML, "--adapter", "sht24-khop",
          "--task-option", "k=1", "--n", "10", "--instances", "5"])
    out = capsys.readouterr().out
    assert "error rate" in out and "do not apply" in " ".join(out.split())


def test_cli_evaluate_refusals_are_one_line(tmp_path, capsys):
    code, _, err = _run(["evaluate", "--weights", GPT2_PT, "--adapter", "sht24-khop", "--n", "8"], capsys)
    assert code == 2 and err.count("\n") == 1 and "heads" in err
    marker = tmp_path / "pwned"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps({"w": RunsCode()}, protocol=2))
    code, _, err = _run(["evaluate", "--weights", str(tmp_path / "evil.pt"), "--heads", "2",
                           "--adapter", "sht24-khop", "--n", "8"], capsys)
    assert code == 2 and err.count("\n") == 1 and "system" in err and not marker.exists()
    (tmp_path / "cut.pt").write_bytes((DATA / "gpt2_backbone.pt").read_bytes()[:5000])
    code, _, err = _run(["evaluate", "--weights", str(tmp_path / "cut.pt"), "--heads", "2",
                           "--adapter", "sht24-khop", "--n", "8"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = _run(["evaluate", "--weights", GPT2_PT, "--config", GPT2_YAML, "--adapter", "sht24-khop",
                           "--n", "40"], capsys)
    assert code == 2 and "32 learned positions" in err


def test_no_torch_at_run_time_and_lazy_imports():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from commlb.cli.main import main\n"
        "try:\n"
        "    main(['evaluate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('HELP', [m for m in ('safetensors', 'yaml', 'matplotlib', 'numba') if m in sys.modules])\n"
        f"main(['evaluate', '--weights', {str(DATA / 'gpt2_hf')!r}, '--adapter', "
        f"{str(DATA / 'khop_lm_adapter.toml')!r}, '--n', '8', '--instances', '4', '--json'])\n"
        "print('RUN', 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HELP []" in out.stdout
    assert "RUN False False" in out.stdout


def test_cli_evaluate_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from commlb.cli.main import main

    main(["evaluate", "--weights", str(DATA / "gru.safetensors"), "--adapter", str(DATA / "rnn_khop_adapter.json"),
          "--task-option", "k=0..2", "--n", "10", "--instances", "10", "--plot", str(tmp_path / "e.png")])
    assert (tmp_path / "e.png").stat().st_size > 1000
    assert "plot written" in capsys.readouterr().out
