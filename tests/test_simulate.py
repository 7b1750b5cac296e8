"""The simulation API (commlb.simulate): task resolution, model building, one instance,
trials, the bound that applies to a transcript, JSON, and the effective-bits hook."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest

from commlb.core import ALICE, BOB, PUBLIC
from commlb.errors import InvalidInputError, UnknownNameError
from commlb.models.constructions import has_construction
from commlb.protocol.core import Split
from commlb.registry import get_problem
from commlb.simulate import (
    TASK_DEFAULTS,
    build_model,
    lower_bounds_for,
    resolve_task,
    run,
    run_trials,
    sample_inputs,
    simulate_instance,
    split_breaks_reduction,
)

JSON_KEYS = {
    "task", "model", "reduction", "problem", "n", "seed", "params", "precision", "split", "messages",
    "total_bits", "bits_alice_to_bob", "bits_bob_to_alice", "rounds", "output", "expected", "correct",
    "protocol_matches_forward", "lower_bound", "lower_bounds", "conclusion", "instance", "verify",
    "verification",
}


# ------------------------------------------------------------------ tasks
@pytest.mark.parametrize("task", sorted(TASK_DEFAULTS))
def test_resolve_task_defaults(task):
    spec = TASK_DEFAULTS[task]
    setup = resolve_task(task)
    assert setup.n == spec.n and setup.task.name == task
    if spec.reduction is None:
        assert setup.reduction is None and setup.problem is None
        assert setup.default_split == f"prefix:{setup.length // 2}"
    else:
        assert setup.reduction.name == spec.reduction
        assert setup.problem is setup.reduction.problem
        assert setup.default_split == "reduction"
        inst = setup.example_instance()
        assert len(inst) == setup.length


def test_resolve_task_options():
    khop = resolve_task("khop", 3, k=3)
    assert khop.reduction.problem.params()["k"] == 3 and khop.options["k"] == 3
    assert resolve_task("khop").reduction.problem.params()["k"] == 2  # the default k
    qsa = resolve_task("qsa", q=5)
    assert qsa.n == 5 and qsa.problem.n == 5 and qsa.reduction.name == "disj-to-qsa"
    assert resolve_task("qsa", reduction="index-to-qsa", n=4).reduction.name == "index-to-qsa"
    with pytest.raises(InvalidInputError, match="disagree"):
        resolve_task("qsa", 4, q=5)
    with pytest.raises(InvalidInputError, match="--k"):
        resolve_task("disjointness", k=2)
    with pytest.raises(UnknownNameError):
        resolve_task("no-such-task")
    with pytest.raises(InvalidInputError, match="targets task"):
        resolve_task("disjointness", reduction="eq-to-equality")
    with pytest.raises(InvalidInputError):
        resolve_task("disjointness", 0)


def test_sample_inputs_balanced_for_disj_and_eq():
    rng = np.random.default_rng(5)
    disj = get_problem("disj", n=40)
    vals = [int(disj.evaluate(*sample_inputs(disj, rng))) for _ in range(400)]
    assert 0.35 < np.mean(vals) < 0.65
    eq = get_problem("eq", n=40)
    vals = [int(eq.evaluate(*sample_inputs(eq, rng))) for _ in range(400)]
    assert 0.35 < np.mean(vals) < 0.65


# ------------------------------------------------------------------ models
def test_build_model_sources(tmp_path):
    setup = resolve_task("index-lookup", 16)
    built = build_model(setup, "transformer")
    assert built.source == "construction" and built.family == "transformer"
    assert built.note.startswith("construction")
    rnd = build_model(setup, "transformer", weights="random", width=8, precision=12, seed=4)
    assert rnd.source == "random" and rnd.precision.bits == 12 and rnd.model.width == 8
    assert "random weights (seed 4)" in rnd.note
    path = tmp_path / "m.npz"
    rnd.model.save(path)
    loaded = build_model(setup, "transformer", weights=str(path))
    assert loaded.source == "file"
    for name, arr in rnd.model.params.items():
        assert np.array_equal(loaded.model.params[name], arr)
    with pytest.raises(InvalidInputError, match="not rnn"):
        build_model(setup, "rnn", weights=str(path))
    with pytest.raises(InvalidInputError, match="tokens"):
        build_model(resolve_task("index-lookup", 64), "transformer", weights=str(path))
    with pytest.raises(InvalidInputError, match="--heads"):
        build_model(setup, "rnn", heads=2)
    with pytest.raises(InvalidInputError, match="unknown model family"):
        build_model(setup, "lstm")


def test_default_weights_fall_back_to_random_with_a_note():
    setup = resolve_task("match3", 4)
    assert not has_construction("match3", "ffn")
    built = build_model(setup, "ffn")
    assert built.source == "random" and built.note.startswith("no construction for match3/ffn")
    with pytest.raises(InvalidInputError, match="no construction"):
        build_model(setup, "ffn", weights="construction")


def test_structured_tokens_need_a_construction():
    setup = resolve_task("qsa", 4)
    with pytest.raises(InvalidInputError, match="multi-field tokens"):
        build_model(setup, "rnn", weights="random")


# ------------------------------------------------------------------ one instance
def test_simulate_instance_explicit_inputs_index_lookup():
    setup = resolve_task("index-lookup", 16)
    built = build_model(setup, "transformer")
    x = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0])
    for i in (0, 1, 5, 15):
        res = simulate_instance(setup, built, x=x, y=np.array([i]))
        assert res.expected == x[i] and res.output == x[i] and res.correct is True
        assert res.protocol_matches_forward
        assert np.array_equal(res.instance.tokens[:16], x)
        # Bob's query token crosses first, counted; Alice answers once
        assert [m.sender for m in res.transcript.messages] == [BOB, ALICE]
        lb = res.lower_bound
        assert lb.kind == "two-way" and lb.bits == 5 and lb.compare_bits == 4  # D(INDEX_16) = log2 16 + 1


def test_to_json_keys_and_consistency():
    res = run("equality", "transformer", n=6, weights="random", trials=4, seed=2)
    out = res.to_json()
    # effective bits are added when Alice has at most 2^16 inputs (here 2^6)
    assert set(out) == JSON_KEYS | {"trials", "trial_distribution", "errors", "effective_bits", "error_bound"}
    assert out["trial_distribution"] == "balanced"
    # EQ's bound under its planted trial distribution is 0 at eps+ = 1 - 0.05^(1/4) >= 1/2
    assert out["error_bound"]["trials"] == 4 and not out["error_bound"]["applies"]
    eff = out["effective_bits"]
    assert eff["applicable"] and eff["inputs"] == 2**6
    assert 1 <= eff["distinct_messages"] <= 2**6
    assert eff["effective_bits"] == math.log2(eff["distinct_messages"])
    assert eff["one_way_bound"] == 6  # D->(EQ_6) = 6: all 2^6 rows of the matrix differ
    assert eff["meets_one_way_bound"] == (eff["distinct_messages"] == 2**6)
    assert out["total_bits"] == sum(m["bits"] for m in out["messages"])
    assert out["bits_alice_to_bob"] + out["bits_bob_to_alice"] == out["total_bits"]
    assert out["trials"] == 4 and 0 <= out["errors"] <= 4
    assert out["split"] == {"name": "reduction", "alice": 6, "bob": 6, "public": 2}
    assert out["params"]["weights"] == "random" and out["params"]["num_params"] == res.model.num_params()
    # messages carry the decoded values of their payloads
    for m, msg in zip(out["messages"], res.transcript.messages):
        assert m["values"] == {k: np.asarray(v).tolist() for k, v in msg.values().items()}


def test_trials_count_errors_that_reproduce():
    setup = resolve_task("disjointness", 10)
    built = build_model(setup, "rnn", hidden=1, precision=4, weights="random", seed=3)
    summary = run_trials(setup, built, 60, seed=1)
    assert summary.count == summary.verified == 60
    assert 0 < summary.errors < 60  # a 1-value state guesses: some right, some wrong
    first = summary.first_error
    again = simulate_instance(setup, built, x=first["x"], y=first["y"])
    assert again.correct is False and again.output == first["output"] and again.expected == first["expected"]
    assert summary.bits_min == summary.bits_max == 4


def test_same_seed_same_fingerprint_and_new_seed_new_instance():
    a = run("disjointness", "rnn", n=12, weights="random", hidden=3, seed=11)
    b = run("disjointness", "rnn", n=12, weights="random", hidden=3, seed=11)
    assert a.transcript.fingerprint() == b.transcript.fingerprint()
    assert np.array_equal(a.instance.tokens, b.instance.tokens)
    c = run("disjointness", "rnn", n=12, weights="random", hidden=3, seed=12)
    assert not np.array_equal(a.instance.tokens, c.instance.tokens)


def test_split_object_and_spec_give_the_same_run():
    setup = resolve_task("disjointness", 6)
    built = build_model(setup, "transformer", weights="random", width=8)
    r1 = simulate_instance(setup, built, seed=3, split="prefix:6")
    r2 = simulate_instance(setup, built, seed=3, split=Split.prefix(14, 6))
    assert r1.transcript.fingerprint() == r2.transcript.fingerprint()
    assert r1.lower_bound is not None  # prefix:6 = Alice a, Bob "# b =": a protocol split


def test_task_without_reduction_uses_task_truth():
    setup = resolve_task("match2", 8)
    built = build_model(setup, "rnn", weights="random")
    res = simulate_instance(setup, built, seed=0)
    truth = setup.task.solve(res.instance.tokens)  # one answer per position; the model reads the last
    assert res.expected == truth[-1]
    assert res.correct == (res.output == truth[-1])
    assert res.lower_bounds == [] and res.lower_bound is None
    assert res.split.name == "prefix:4"
    assert "no lower bound" in res.conclusion


# ------------------------------------------------------------------ bounds
def test_lower_bounds_for_regimes():
    disj = get_problem("disj", n=8)
    one_way = {e.kind: e for e in lower_bounds_for(disj, {ALICE}, 1)}
    assert one_way["one-way A->B"].applies and not one_way["one-way B->A"].applies
    assert one_way["two-way"].applies and one_way["two-way"].bits == 9 and one_way["two-way"].compare_bits == 8
    both = {e.kind: e for e in lower_bounds_for(disj, {ALICE, BOB}, 3)}
    assert not both["one-way A->B"].applies and not both["one-way B->A"].applies and both["two-way"].applies
    silent = {e.kind: e for e in lower_bounds_for(disj, set(), 0)}
    assert silent["one-way A->B"].applies and silent["one-way B->A"].applies
    index = {e.kind: e for e in lower_bounds_for(get_problem("index", n=64), {ALICE}, 1)}
    assert index["one-way A->B"].bits == 64 and index["two-way"].compare_bits == 6


def test_split_breaks_reduction():
    red = np.array([ALICE, ALICE, PUBLIC, BOB, BOB, PUBLIC])
    assert split_breaks_reduction(red, red) == ""
    assert split_breaks_reduction(red, np.array([ALICE, ALICE, ALICE, BOB, BOB, BOB])) == ""
    assert "gives Alice position 3" in split_breaks_reduction(red, np.array([ALICE, ALICE, PUBLIC, ALICE, BOB, PUBLIC]))
    assert "PUBLIC" in split_breaks_reduction(red, np.array([PUBLIC, ALICE, PUBLIC, BOB, BOB, PUBLIC]))


def test_conclusion_states_the_one_way_bound_like_the_papers():
    res = run("disjointness", "rnn", n=20, hidden=3, precision=8, weights="random")
    assert res.conclusion.startswith("this RNN sends d·p = 3·8 = 24 bits one way")
    assert "all 2^20 rows of its matrix, so it needs 20 bits" in res.conclusion
    assert "no RNN with d·p < 20 solves disjointness at n = 20 on every input" in res.conclusion
    small = run("disjointness", "rnn", n=20, hidden=1, precision=8, weights="random")
    assert small.total_bits == 8 < 20
    assert "answers some input of disjointness at n = 20 wrongly" in small.conclusion


# ------------------------------------------------------------------ effective bits hook
def test_effective_bits_hook(monkeypatch):
    calls = []

    def effective_bits(reduction, model, split, **options):
        calls.append((reduction.name, model.family, split.name))
        return 7

    fake = types.ModuleType("commlb.witness")
    fake.effective_bits = effective_bits
    monkeypatch.setitem(sys.modules, "commlb.witness", fake)
    small = run("disjointness", "rnn", n=8, weights="random", hidden=2)
    assert small.to_json()["effective_bits"] == 7 and calls == [("disj-to-disjointness", "rnn", "reduction")]
    off = run("disjointness", "rnn", n=8, weights="random", hidden=2, effective=False)
    assert "effective_bits" not in off.to_json() and len(calls) == 1
    big = run("disjointness", "rnn", n=17, weights="random", hidden=2)  # 2^17 Alice inputs: not searched
    assert "effective_bits" not in big.to_json() and len(calls) == 1
