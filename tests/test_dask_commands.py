"""check-reduction (and evaluate) on an executor: the same report as in process, with
the work cut into many small chunks in process, and on a local Dask cluster of 2
worker processes (through --scheduler, so one cluster serves every test here)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import commlb.testing.reductions as R
from commlb.cli.check import check_reduction as check_cmd
from commlb.cli.check import resolve_reduction
from commlb.execution import Executor

BROKEN = ["ALICE_READS_Y", "DECODE_WRONG_ONCE", "OWNER_DEPENDS_ON_INPUT", "PUBLIC_SEPARATOR_MOVES"]
#: (target, n): sound and local built-ins (one with a promise), then the broken ones
TARGETS = [("disj-to-disjointness", 4), ("index-to-qsa", 3), ("eq-to-equality", 3)] + \
          [(f"tests/broken_reductions.py:{name}", 4) for name in BROKEN]


def _report(reduction, **kw):
    out = R.check_reduction(reduction, exhaustive_limit=1 << 30, **kw).to_json()
    out.pop("seconds")
    return out


@pytest.mark.parametrize("target,n", TARGETS, ids=[t[0].rsplit(":", 1)[-1] for t in TARGETS])
def test_chunked_check_equals_row_by_row(monkeypatch, target, n):
    reduction = resolve_reduction(target, n, {})
    local = _report(reduction)
    monkeypatch.setattr(R, "CHECK_CHUNK_PAIRS", 1)  # one row of x per chunk
    calls = []
    real = R._exhaustive

    def spy(*args, **kw):
        calls.append("x_rows" in kw or len(args) > 3)
        return real(*args, **kw)

    monkeypatch.setattr(R, "_exhaustive", spy)
    chunked = _report(reduction, executor=Executor())
    assert chunked == local
    assert calls[0] is True  # the chunks ran
    if local["ok"]:
        assert all(calls)  # a passing run never falls back to the row-by-row check
    else:
        assert calls[-1] is False  # a failure is reported by the row-by-row check


def test_chunk_references_catch_what_no_chunk_sees(monkeypatch):
    """PUBLIC tokens that change only from one row to the next: every one-row chunk passes
    alone; only comparing the chunks' references finds it."""
    reduction = resolve_reduction("tests/broken_reductions.py:PUBLIC_SEPARATOR_MOVES", 4, {})
    monkeypatch.setattr(R, "CHECK_CHUNK_PAIRS", 1)
    nx = int(reduction.problem.x_space.size)
    parts = [R._check_rows((i, i + 1), reduction) for i in range(nx)]
    local = _report(reduction)
    assert not local["ok"] and local["counterexample"]["kind"] == "locality"
    if all(p["ok"] for p in parts):
        assert len({p["public"] for p in parts}) > 1
    assert _report(reduction, executor=Executor()) == local


# ---- on a local Dask cluster of 2 worker processes ---------------------------------

@pytest.mark.timeout(300)
@pytest.mark.parametrize("target,n,pairs", [("disj-to-disjointness", 6, 4**6),
                                           ("tests/broken_reductions.py:DECODE_WRONG_ONCE", 4, 2**4 * 4)])
def test_check_reduction_on_two_workers_equals_in_process(cluster, target, n, pairs):
    args = [target, "--n", str(n), "--exhaustive-limit", "100000", "--json"]
    local = CliRunner().invoke(check_cmd, args)
    spread = CliRunner().invoke(check_cmd, [*args, "--scheduler", cluster.address])
    assert local.exit_code == spread.exit_code, (local.output, spread.output)
    a, b = json.loads(local.stdout), json.loads(spread.stdout)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert a["exhaustive"] and a["total_pairs"] == pairs
    assert a["ok"] == (local.exit_code == 0) == ("broken" not in target)


# ---- evaluate ---------------------------------------------------------------------

DATA = "tests/data/models"
EVALUATE = ["evaluate", "--weights", f"{DATA}/gpt2_hf", "--adapter", f"{DATA}/khop_lm_adapter.toml",
            "--task-option", "k=0..3", "--n", "16", "--instances", "30", "--json"]


def _evaluation(result):
    out = result.to_json()
    for row in out["rows"]:
        row.pop("seconds")
        row.pop("cpu_seconds")
    return out


def test_evaluate_on_an_executor_equals_in_process():
    from commlb.imported import open_model
    from commlb.imported.adapter import load_adapter
    from commlb.imported.evaluate import evaluate

    ad = load_adapter("sht24-khop")
    model = open_model(f"{DATA}/gpt2_backbone.pt", f"{DATA}/gpt2_backbone.yaml", adapter=ad)
    seen = []
    local = evaluate(model, ad, None, [{"k": 1}, {"k": 2}], n=12, instances=23, seed=5, batch=7)
    spread = evaluate(model, ad, None, [{"k": 1}, {"k": 2}], n=12, instances=23, seed=5, batch=7,
                      executor=Executor(), progress=seen.append)
    assert _evaluation(spread) == _evaluation(local)
    assert sum(seen) == 2 * 23 and len(seen) == 2 * 4  # batches of 7, 7, 7 and 2 per row
    assert any(r.errors for r in local.rows)  # a fixture that errs: the counts are compared


@pytest.mark.timeout(300)
def test_evaluate_on_two_workers_equals_in_process(cluster, capsys):
    from commlb.cli.main import main

    main(EVALUATE)
    local = json.loads(capsys.readouterr().out)
    main([*EVALUATE, "--scheduler", cluster.address])
    spread = json.loads(capsys.readouterr().out)
    for data in (local, spread):
        for row in data["rows"]:
            row.pop("seconds")
            row.pop("cpu_seconds")
    assert spread == local and len(local["rows"]) == 4


def test_chunks_slower_than_the_poll_interval(cluster):
    """The wait polls the futures every 0.5 s; a poll that times out is not an error (on
    Python 3.10 it raises asyncio's TimeoutError, a different class from the builtin one)."""
    import time

    seen: list[object] = []
    assert cluster.map_chunks(time.sleep, [1.2, 1.2], progress=seen.append) == [None, None]
    assert seen == [None, None]
