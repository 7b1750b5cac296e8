"""Opt-in full-size check of every construction (issue 6): exactly 1,000 random instances
at each N in (16, 64, 256, 1024), for every builder in ``commlb/models/constructions/``.

The default test files draw 1,000 instances at small N but fewer at N = 256 and 1024,
where one forward pass costs 25 ms–0.3 s, to keep the default suite under 10 minutes.
This file runs the full count everywhere; it is skipped unless ``COMMLB_FULL=1`` is set
(``make test-full``, or ``COMMLB_FULL=1 .venv/bin/python -m pytest -n 2
tests/test_constructions_full.py``).  ``bench/constructions_full_report.py`` runs the
same checks and prints a table with timings.

What is compared is what the default tests compare (their helpers are imported):

* binary and class answers: the model's decision equals ``task.solve`` (at the
  position the task's answer is read at) and nothing saturated; for the binary tasks
  both answers make up at least a fifth of the 1,000 instances;
* qSA: the raw output equals the independently rounded average and is within the
  construction's ``error_bound`` of qSA (``test_construction_qsa._check``);
* qSTR / qSTR-simple: within the derived ``error_bound`` of g on the clipped input
  (``test_construction_qstr._check``).

Instance ``i`` of a case at size ``N`` is drawn by the task's own generator from
``numpy.random.default_rng((SEED, N, i))``, so any failure is reproduced by
``draw_instance(case, N, i)``.  For the per-position tasks (qSA, qSTR, Match2, hop_k)
the models are built with ``outputs="last"`` and read at the last position, the one
the reductions read (only the needed positions are computed).  A size the builder
refuses up front (the direct FFN for index lookup at N = 1024: a dense n³ first-layer
table of 8 GiB) is checked to be refused with InvalidInputError instead.  Dyck-(2,2) uses the mix
of ``test_dyck_rnn.test_random_strings_at_every_size`` (600 generated, 150 balanced
of depth ≤ 2, 150 balanced of depth ≤ 3, 100 uniform) so that both answers appear.

Instances run in worker processes (``concurrent.futures``, 2 workers by default, one
BLAS thread each; 1 worker when pytest-xdist already runs one test per core;
``COMMLB_FULL_WORKERS`` overrides).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import concurrent.futures  # noqa: E402
import functools  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import commlb  # noqa: E402

SIZES = (16, 64, 256, 1024)
INSTANCES = 1000
#: base seed of every instance: instance i at size N comes from default_rng((SEED, N, i))
SEED = 6
#: each answer of a binary task is at least this share of the instances
MIN_SHARE = 0.2

FULL = os.environ.get("COMMLB_FULL") == "1"
SKIP_REASON = ("full-size construction check (1,000 instances at N = 16..1024, tens of minutes); "
               "run it with `make test-full` or `COMMLB_FULL=1 .venv/bin/python -m pytest -n 2 "
               "tests/test_constructions_full.py`")


# ------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    """One construction: how to build it at size n, draw instance i, and check it.

    ``check(model, task, tokens)`` raises AssertionError on a wrong answer and returns
    (answer, error): the answer of a binary/class task (None for real-valued ones) and
    the largest error of a real-valued one (None otherwise)."""

    name: str
    registry: tuple[str, str]
    build: Callable[[int], tuple[Any, Any]]
    draw: Callable[[Any, np.random.Generator, int, int], Any]
    check: Callable[[Any, Any, Any], tuple[int | None, float | None]]
    binary: bool = False
    note: str = ""
    #: sizes the builder refuses up front (InvalidInputError with an estimate); checked
    #: to be refused, not skipped
    refused: tuple[int, ...] = ()


def _generate(task, rng, n, i):
    return task.generate(rng, n)


def _check_decision(model, task, tokens):
    """Scalar decision at the last position equals task.solve; nothing saturated."""
    out = model.forward(tokens)
    expect = int(task.solve(tokens))
    assert out.decision == expect, f"decision {out.decision}, task.solve {expect}"
    assert out.saturations == 0, f"{out.saturations} saturations"
    return expect, None


# index lookup (BHBK24, docs/theory.md §9.2)
def _build_index_lookup(n):
    from commlb.models.constructions.index_lookup import build

    task = commlb.get_task("index-lookup", alphabet=2, n=n)
    return build(task, n), task


def _check_index_lookup(model, task, tokens):
    """As test_index_lookup.test_correct_on_random_instances: the decision, and the
    read-out exactly the answer's one-hot (all rounded attention mass on j = i)."""
    out = model.forward(tokens)
    expect = int(task.solve(tokens))
    assert out.decision == expect, f"decision {out.decision}, task.solve {expect}"
    assert out.saturations == 0, f"{out.saturations} saturations"
    one_hot = np.zeros(2, dtype=np.int64)
    one_hot[expect] = int(model.precision.scale)
    assert out.values[0].tolist() == one_hot.tolist(), f"values {out.values[0].tolist()}"
    return expect, None


# qSA (SHT23 Theorem 2, docs/theory.md §9.5)
def _build_qsa(n):
    from commlb.models.constructions.qsa import build

    task = commlb.get_task("qsa", q=2, d_out=1)
    return build(task, n, outputs="last"), task


def _check_qsa(model, task, tokens):
    from test_construction_qsa import _check

    return None, float(_check(model, task, tokens, rows=[len(tokens) - 1]))


# Match2 (SHT23 Theorem 6, docs/theory.md §9.6), M = 2N as in the default tests
def _build_match2(n):
    from commlb.models.constructions.match2 import build

    task = commlb.get_task("match2", M=2 * n)
    return build(task, n, outputs="last"), task


def _check_match2(model, task, tokens):
    out = model.forward(tokens)
    expect = int(task.solve(tokens)[-1])
    assert out.decision == expect, f"decision {out.decision}, task.solve[-1] {expect}"
    assert out.saturations == 0, f"{out.saturations} saturations"
    return expect, None


# qSTR and qSTR-simple (MH25 Theorem 3, docs/theory.md §9.7): q = 2, d = 1, link norm2
def _build_qstr(name, n):
    from commlb.models.constructions.qstr import build

    task = commlb.get_task(name, q=2, d=1, link="norm2")
    return build(task, n, outputs="last"), task


def _check_qstr(model, task, tokens):
    from test_construction_qstr import _check

    return None, float(_check(model, task, tokens, rows=[len(tokens) - 1]))


# two-layer equality / disjointness (BHBK24, docs/theory.md §9.3)
def _build_two_layer(name, n):
    from commlb.models.constructions.two_layer import build_disjointness, build_equality

    builder = build_equality if name == "equality" else build_disjointness
    task = commlb.get_task(name)
    return builder(task, n), task


# nearest neighbour (BHBK24, docs/theory.md §9.4): d = ⌈log2 k⌉, 2 labels (index-to-nearest-neighbor)
def _build_nearest(n):
    from commlb.models.constructions.nearest import build
    from commlb.tasks.nearest import NearestNeighborTask

    task = NearestNeighborTask(d=max(1, math.ceil(math.log2(n))), labels=2)
    return build(task, n), task


# hop_k (SHT24 Theorem 4.2, docs/theory.md §9.8): k = 4, alphabet 4
def _build_khop(n):
    from commlb.models.constructions.khop import build

    task = commlb.get_task("khop", k=4, alphabet=4)
    return build(task, n, outputs="last"), task


def _check_khop(model, task, tokens):
    from test_construction_khop import _expected

    out = model.forward(tokens)
    expect = int(_expected(task, tokens)[-1])  # ⊥ is class `alphabet`
    assert out.decision == expect, f"decision {out.decision}, hop_4 at the last position {expect}"
    assert out.saturations == 0, f"{out.saturations} saturations"
    return expect, None


# storing RNN (disjointness, equality, index lookup), one layer (the default)
def _build_storing(name, n):
    from commlb.models.constructions.storing_rnn import build
    from commlb.tasks.index_lookup import IndexLookupTask

    task = IndexLookupTask(alphabet=2, n=n) if name == "index-lookup" else commlb.get_task(name)
    return build(task, n), task


# Dyck-(2,2) RNN (BHBK24)
def _build_dyck(n):
    from commlb.models.constructions.dyck_rnn import build
    from commlb.tasks.dyck import DyckTask

    task = DyckTask()
    return build(task, n), task


def _draw_dyck(task, rng, n, i):
    """The mix of test_dyck_rnn.test_random_strings_at_every_size, by instance index."""
    from test_dyck_rnn import _balanced_walk

    if i < 600:
        return task.generate(rng, n)
    if i < 750:
        return np.array(_balanced_walk(rng, n, 2), dtype=np.int64)  # members
    if i < 900:
        return np.array(_balanced_walk(rng, n, 3), dtype=np.int64)  # balanced, mostly too deep
    return rng.integers(0, 4, n)  # uniform: non-members


def _check_dyck(model, task, tokens):
    from commlb.tasks.dyck import dyck_member_reference

    expect, _ = _check_decision(model, task, tokens)
    assert expect == dyck_member_reference(tokens), "task.solve disagrees with the stack reference"
    return expect, None


# direct FFNs on the flattened input (upper bound for SHT23 Theorem 10, docs/theory.md §9.11)
def _build_ffn(name, n):
    from commlb.models.constructions.ffn_direct import build
    from commlb.tasks.index_lookup import IndexLookupTask

    task = IndexLookupTask(alphabet=2, n=n) if name == "index-lookup" else commlb.get_task(name)
    return build(task, n), task


CASES: dict[str, Case] = {c.name: c for c in (
    Case("index_lookup", ("index-lookup", "transformer"), _build_index_lookup, _generate, _check_index_lookup,
         binary=True, note="alphabet 2; tokens N + 2"),
    Case("qsa", ("qsa", "transformer"), _build_qsa, _generate, _check_qsa, note="q = 2, d' = 1; last position"),
    Case("match2", ("match2", "transformer"), _build_match2, _generate, _check_match2, binary=True,
         note="M = 2N; last position"),
    Case("qstr", ("qstr", "transformer"), functools.partial(_build_qstr, "qstr"), _generate, _check_qstr,
         note="q = 2, d = 1, norm2; last position"),
    Case("qstr-simple", ("qstr-simple", "transformer"), functools.partial(_build_qstr, "qstr-simple"), _generate,
         _check_qstr, note="q = 2, d = 1, norm2; last position"),
    Case("two_layer-equality", ("equality", "transformer"), functools.partial(_build_two_layer, "equality"), _generate,
         _check_decision, binary=True, note="tokens 2N + 2"),
    Case("two_layer-disjointness", ("disjointness", "transformer"), functools.partial(_build_two_layer, "disjointness"),
         _generate, _check_decision, binary=True, note="tokens 2N + 2"),
    Case("nearest", ("nearest-neighbor", "transformer"), _build_nearest, _generate, _check_decision, binary=True,
         note="k = N points, d = ceil(log2 N), 2 labels; tokens 2N + 2"),
    Case("khop", ("khop", "transformer"), _build_khop, _generate, _check_khop, note="k = 4, alphabet 4; last position"),
    Case("storing_rnn-disjointness", ("disjointness", "rnn"), functools.partial(_build_storing, "disjointness"),
         _generate, _check_decision, binary=True, note="1 layer"),
    Case("storing_rnn-equality", ("equality", "rnn"), functools.partial(_build_storing, "equality"), _generate,
         _check_decision, binary=True, note="1 layer"),
    Case("storing_rnn-index-lookup", ("index-lookup", "rnn"), functools.partial(_build_storing, "index-lookup"),
         _generate, _check_decision, binary=True, note="1 layer, alphabet 2"),
    Case("dyck_rnn", ("dyck22", "rnn"), _build_dyck, _draw_dyck, _check_dyck, binary=True,
         note="mix: 600 generated, 300 balanced walks, 100 uniform"),
    Case("ffn_direct-disjointness", ("disjointness", "ffn"), functools.partial(_build_ffn, "disjointness"),
         _generate, _check_decision, binary=True),
    Case("ffn_direct-equality", ("equality", "ffn"), functools.partial(_build_ffn, "equality"),
         _generate, _check_decision, binary=True),
    Case("ffn_direct-index-lookup", ("index-lookup", "ffn"), functools.partial(_build_ffn, "index-lookup"),
         _generate, _check_decision, binary=True, note="alphabet 2; N = 1024 refused (dense n³ table)",
         refused=(1024,)),
)}


# ------------------------------------------------------------------ running
def instance_rng(n: int, i: int) -> np.random.Generator:
    return np.random.default_rng((SEED, n, i))


@functools.lru_cache(maxsize=4)
def _model(case: str, n: int) -> tuple[Any, Any]:
    """One model per (case, N) per process (building the codes costs up to seconds)."""
    return CASES[case].build(n)


def draw_instance(case: str, n: int, i: int) -> Any:
    """Instance ``i`` of ``case`` at size ``n`` (for reproducing a failure)."""
    _, task = _model(case, n)
    return CASES[case].draw(task, instance_rng(n, i), n, i)


def _run_chunk(case: str, n: int, indices: list[int]) -> dict:
    """Check the given instances; failures are collected, not raised, so that every
    instance is checked and all failures are reported."""
    spec = CASES[case]
    model, task = _model(case, n)
    failures, answers, max_err = [], {}, 0.0
    for i in indices:
        tokens = spec.draw(task, instance_rng(n, i), n, i)
        try:
            answer, err = spec.check(model, task, tokens)
        except AssertionError as exc:
            failures.append((i, f"AssertionError: {exc}".splitlines()[0][:300]))
            continue
        except Exception as exc:  # a crash is a failure of the instance too
            failures.append((i, f"{type(exc).__name__}: {exc}".splitlines()[0][:300]))
            continue
        if answer is not None:
            answers[answer] = answers.get(answer, 0) + 1
        if err is not None:
            max_err = max(max_err, err)
    return {"checked": len(indices), "failures": failures, "answers": answers, "max_err": max_err}


def default_workers() -> int:
    if "COMMLB_FULL_WORKERS" in os.environ:
        return max(1, int(os.environ["COMMLB_FULL_WORKERS"]))
    # pytest-xdist already runs one test per core: a pool on top would oversubscribe
    return 1 if "PYTEST_XDIST_WORKER" in os.environ else 2


@dataclass
class Result:
    case: str
    n: int
    checked: int
    failures: list[tuple[int, str]]
    answers: dict
    max_err: float | None
    seconds: float
    error_bound: float | None = None

    def failure_lines(self, limit: int = 10) -> list[str]:
        return [f"{self.case} N={self.n} instance {i} (rng default_rng(({SEED}, {self.n}, {i}))): {msg}"
                for i, msg in self.failures[:limit]]


def run_case(case: str, n: int, instances: int = INSTANCES, workers: int | None = None,
             chunks: int = 20) -> Result:
    """Check ``instances`` instances of ``case`` at size ``n`` in ``workers`` processes."""
    workers = default_workers() if workers is None else workers
    t0 = time.perf_counter()
    model, _ = _model(case, n)  # build once here: forked workers inherit it
    real = CASES[case].check in (_check_qsa, _check_qstr)
    bound = model.config["construction"]["error_bound"] if real else None
    parts = [list(range(instances))[k::chunks] for k in range(chunks)]
    parts = [p for p in parts if p]
    if workers <= 1:
        outs = [_run_chunk(case, n, p) for p in parts]
    else:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            outs = list(pool.map(_run_chunk, [case] * len(parts), [n] * len(parts), parts))
    answers: dict = {}
    for out in outs:
        for key, count in out["answers"].items():
            answers[key] = answers.get(key, 0) + count
    failures = sorted(f for out in outs for f in out["failures"])
    return Result(case, n, sum(o["checked"] for o in outs), failures, answers,
                  max(o["max_err"] for o in outs) if real else None,
                  time.perf_counter() - t0, bound)


# ------------------------------------------------------------------ the tests
@pytest.mark.full
@pytest.mark.skipif(not FULL, reason=SKIP_REASON)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_construction_on_1000_random_instances(case, n):
    if n in CASES[case].refused:
        from commlb.errors import InvalidInputError

        with pytest.raises(InvalidInputError, match="limit"):
            CASES[case].build(n)
        return
    result = run_case(case, n)
    print(f"{case} N={n}: {result.checked} instances, {len(result.failures)} errors, "
          f"answers {dict(sorted(result.answers.items()))}, max error {result.max_err}, "
          f"{result.seconds:.1f} s")
    assert result.checked == INSTANCES
    assert not result.failures, "\n".join([f"{len(result.failures)} of {INSTANCES} instances wrong:"]
                                          + result.failure_lines())
    if CASES[case].binary:
        assert set(result.answers) == {0, 1}
        assert min(result.answers.values()) >= MIN_SHARE * INSTANCES, result.answers
    if result.max_err is not None:
        assert result.max_err <= result.error_bound


@pytest.mark.full
@pytest.mark.skipif(not FULL, reason=SKIP_REASON)
def test_every_construction_is_covered():
    """Every (task, model) pair in the construction registry has a case here, and each
    case's model has the registered builder's weights."""
    from commlb.models.constructions import CONSTRUCTIONS, get_construction

    assert sorted(c.registry for c in CASES.values()) == sorted(CONSTRUCTIONS)
    for case in CASES.values():
        model, task = case.build(16)
        builder = get_construction(*case.registry)
        registered = builder(task, 16)
        assert type(registered) is type(model) and registered.params.keys() == model.params.keys()
        for key in model.params:
            assert np.array_equal(registered.params[key], model.params[key]), (case.name, key)
