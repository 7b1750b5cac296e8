"""check-reduction (and evaluate) on an executor: the same report as in process, with
the work cut into many small chunks in process, and on a local Dask cluster of 2
worker processes (through --scheduler, so one cluster serves every test here)."""

from __future__ import annotations

import json

import numpy as np
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


# ---- sampled check-reduction ------------------------------------------------------

def _sampled(reduction, **kw):
    out = R.check_reduction(reduction, exhaustive_limit=1, **kw).to_json()
    out.pop("seconds")
    return out


@pytest.mark.parametrize("target,n", TARGETS, ids=[t[0].rsplit(":", 1)[-1] for t in TARGETS])
def test_sampled_chunks_same_on_an_executor(monkeypatch, target, n):
    """The chunks of a sampled check, run one after another here or through an executor's
    map_chunks (one pair per chunk or seven), give one report."""
    reduction = resolve_reduction(target, n, {})
    monkeypatch.setattr(R, "SAMPLE_CHUNK", 7)
    local = _sampled(reduction, samples=40, rng=11)
    assert local["pairs_checked"] == 40 and not local["exhaustive"] and local["seed"] == 11
    assert _sampled(reduction, samples=40, rng=11, executor=Executor()) == local
    if "broken" in target and "ONCE" not in target:  # one wrong pair of 64: sampling may miss it
        assert not local["ok"]
    monkeypatch.setattr(R, "SAMPLE_CHUNK", 1)
    assert _sampled(reduction, samples=40, rng=11, executor=Executor()) == _sampled(reduction, samples=40, rng=11)


def test_sampled_chunk_seeds_come_from_the_seed_and_the_chunk_index(monkeypatch):
    """Chunk i draws from SeedSequence(seed).spawn child i: the pairs of the first chunk
    do not depend on how many chunks follow."""
    reduction = resolve_reduction("tests/broken_reductions.py:ALICE_READS_Y", 24, {})
    monkeypatch.setattr(R, "SAMPLE_CHUNK", 5)
    a = R._sample_rows((0, 5), reduction, 3)
    child = np.random.SeedSequence(3).spawn(2)[0]
    x, y = reduction.problem.sample(np.random.default_rng(child))
    assert np.array_equal(a["pair"][0], x) and np.array_equal(a["pair"][1], y)
    b = R._sample_rows((1, 5), reduction, 3)
    assert not np.array_equal(b["pair"][0], a["pair"][0])


def test_sampled_chunk_references_catch_what_no_chunk_sees(monkeypatch):
    """Owners that depend on x, on a problem whose promise (x = y) leaves no second pair to
    compare with inside a chunk of one pair: every chunk passes alone; comparing the
    chunks' first pairs finds it."""
    from test_check_reduction import _GapEqToEquality

    import commlb

    class Diagonal(_GapEqToEquality):
        def __init__(self, n):
            super().__init__(n)
            problem = self.problem
            problem.in_promise = lambda x, y: problem._dist(x, y) == 0
            problem.sample = lambda rng: (lambda x: (x, x.copy()))(rng.integers(0, 2, problem.n))

        def encode(self, x, y):
            inst = super().encode(x, y)
            owner = inst.owner.copy()
            if int(np.asarray(x)[0]) == 1:
                owner[-1] = 0  # the final PUBLIC token becomes ALICE's
            return commlb.Instance(inst.tokens, owner)

    reduction = Diagonal(12)
    monkeypatch.setattr(R, "SAMPLE_CHUNK", 1)
    parts = [R._sample_rows((i, 1), reduction, 0) for i in range(30)]
    assert all(p["best"] is None for p in parts)
    assert len({p["owner"] for p in parts}) == 2
    report = _sampled(reduction, samples=30, rng=0)
    assert not report["ok"] and report["counterexample"]["kind"] == "locality"
    assert "owner of position 25" in report["counterexample"]["details"]
    assert _sampled(reduction, samples=30, rng=0, executor=Executor()) == report


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target,n", [("disj-to-disjointness", 40),
                                      ("tests/broken_reductions.py:ALICE_READS_Y", 40)])
def test_sampled_check_on_one_and_two_workers_equals_in_process(cluster, target, n):
    args = [target, "--n", str(n), "--samples", "2500", "--seed", "9", "--json"]
    local = CliRunner().invoke(check_cmd, args)
    runs = [CliRunner().invoke(check_cmd, [*args, "--scheduler", cluster.address])]
    if "broken" not in target:
        runs.append(CliRunner().invoke(check_cmd, [*args, "--workers", "1"]))
    a = json.loads(local.stdout)
    a.pop("seconds")
    assert not a["exhaustive"] and a["pairs_checked"] == 2500
    assert a["ok"] == (local.exit_code == 0) == ("broken" not in target)
    for run in runs:
        assert run.exit_code == local.exit_code, run.output
        b = json.loads(run.stdout)
        b.pop("seconds")
        assert a == b


# ---- batch bounds -------------------------------------------------------------------

def _no_elapsed(value):
    if isinstance(value, dict):
        return {k: _no_elapsed(v) for k, v in value.items() if k != "elapsed"}
    if isinstance(value, list):
        return [_no_elapsed(v) for v in value]
    return value


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrices")
    rng = np.random.default_rng(4)
    for i in range(5):
        np.save(root / f"m{i}.npy", rng.integers(0, 3 if i % 2 else 2, size=(5 + i, 6)))
    (root / "eq3.txt").write_text("1 0 0\n0 1 0\n0 0 1\n")
    (root / "notes.md").write_text("not a matrix\n")
    return root


def test_bounds_of_a_directory_are_those_of_each_matrix(matrix_dir):
    """A directory: its .npy/.txt files in name order, each report the one of a single
    --matrix run (timings aside)."""
    from commlb.cli.bounds import bounds as cli_bounds

    runner = CliRunner()
    batch = runner.invoke(cli_bounds, ["--matrix", str(matrix_dir), "--json"])
    assert batch.exit_code == 0, batch.output
    got = json.loads(batch.stdout)["matrices"]
    names = [m["file"].rsplit("/", 1)[-1] for m in got]
    assert names == ["eq3.txt", "m0.npy", "m1.npy", "m2.npy", "m3.npy", "m4.npy"]
    for item in got[:3]:
        one = runner.invoke(cli_bounds, ["--matrix", item["file"], "--json"])
        assert _no_elapsed(json.loads(one.stdout)) == _no_elapsed({k: v for k, v in item.items() if k != "file"})
    assert got[0]["deterministic"]["lower"] == 3  # the 3 x 3 identity


@pytest.mark.timeout(300)
@pytest.mark.parametrize("extra", [[], ["--error", "1/3", "--methods", "discrepancy-spectral,one-way-vc"]],
                         ids=["exact", "error"])
def test_batch_bounds_on_two_workers_equal_in_process(cluster, matrix_dir, extra):
    from commlb.cli.bounds import bounds as cli_bounds

    files = [str(matrix_dir / f"m{i}.npy") for i in (2, 0, 4)]
    args = [*[a for f in files for a in ("--matrix", f)], "--json", *extra]
    local = CliRunner().invoke(cli_bounds, args)
    spread = CliRunner().invoke(cli_bounds, [*args, "--scheduler", cluster.address])
    assert local.exit_code == spread.exit_code == 0, (local.output, spread.output)
    a, b = json.loads(local.stdout), json.loads(spread.stdout)
    assert [m["file"] for m in a["matrices"]] == files
    assert _no_elapsed(a) == _no_elapsed(b)


def test_chunks_slower_than_the_poll_interval(cluster):
    """The wait polls the futures every 0.5 s; a poll that times out is not an error (on
    Python 3.10 it raises asyncio's TimeoutError, a different class from the builtin one)."""
    import time

    seen: list[object] = []
    assert cluster.map_chunks(time.sleep, [1.2, 1.2], progress=seen.append) == [None, None]
    assert seen == [None, None]


def _worker_environment():
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("NUMBA_NUM_THREADS")


def test_local_cluster_workers_keep_freed_memory_and_their_share_of_threads(cluster):
    """The workers start without Dask's MALLOC_TRIM_THRESHOLD_ (unless this environment
    sets one) and with numba on their share of the cores (what the executor reports)."""
    import os

    seen = set(cluster._client.run(_worker_environment).values())
    assert seen == {(os.environ.get("MALLOC_TRIM_THRESHOLD_"), str(cluster.task_threads))}
    assert cluster.task_threads == max(1, (os.cpu_count() or 1) // 2) or "NUMBA_NUM_THREADS" in os.environ
