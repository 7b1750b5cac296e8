"""commlb.witness through its public API: the acceptance cases of issue 5, the pigeonhole
property over random small models of each family, effective bits against a brute-force
count on the protocol engine, sampling, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.errors import InvalidInputError, TooLargeError
from commlb.protocol import simulate
from commlb.protocol.core import Split
from commlb.simulate import build_model, resolve_task
from commlb.witness import effective_bits, find_witness, parse_budget, search_witness


def _rebuild(task, family, n, **kw):
    setup = resolve_task(task, n)
    return setup, build_model(setup, family, **kw).model


def _check_witness(setup, model, res):
    """Independent check of a reported witness: both full inputs through model.forward
    give the same answer, the truths differ, and the wrong one is the one reported."""
    red, problem = setup.reduction, setup.problem
    x, x2 = (np.array(v) for v in res.alice_inputs)
    y = np.array(res.bob_input)
    assert not np.array_equal(x, x2)
    out = [model.forward(red.encode(v, y).tokens) for v in (x, x2)]
    assert out[0].same_bits(out[1])
    truth = [int(problem.evaluate(v, y)) for v in (x, x2)]
    assert truth[0] != truth[1]
    answer = red.decode(out[0].decision)
    wrong = [name for name, t in zip(("x", "x'"), truth) if t != answer]
    assert wrong and wrong == res.wrong_on
    assert res.expected == truth and res.outputs == [answer, answer]
    # the two one-way messages are bit-identical on the engine
    split = Split.from_instance(red.encode(x, y))
    pays = [np.concatenate([m.payload.bits for m in simulate(model, red.encode(v, y).tokens, split)[0].messages])
            for v in (x, x2)]
    assert np.array_equal(pays[0], pays[1]) and pays[0].size == res.message_bits


# ------------------------------------------------------------------ acceptance
def test_index_lookup_rnn_hidden2_p4_exhaustive_witness():
    res = find_witness("index-lookup", "rnn", 16, hidden=2, precision=4)
    assert res.found and res.exhaustive
    assert res.inputs_enumerated == 2**16 == res.total_inputs
    assert res.message_bits == 2 * 4 < res.one_way_bound == 16
    assert res.distinct_messages <= 2**8 and res.effective_bits < 16
    # the construction refuses p = 4, so the model is random of the asked size (said so)
    assert "random weights" in res.model_note
    setup, model = _rebuild("index-lookup", "rnn", 16, hidden=2, precision=4, weights="random", seed=0)
    _check_witness(setup, model, res)
    js = res.to_json()
    for key in ("found", "alice_inputs", "bob_input", "message_bits", "outputs", "expected", "wrong_on",
                "inputs_enumerated", "exhaustive", "distinct_messages", "effective_bits", "one_way_bound"):
        assert key in js


def test_disjointness_one_layer_transformer_message_shorter_than_n():
    # n = 22, width 1, p = 4: partial sums num (12 bits) + den (9 bits) = 21 < 22
    res = find_witness("disjointness", "transformer", 22, layers=1, heads=1, width=1, precision=4)
    assert res.message_bits < 22 and res.found and res.exhaustive
    assert res.inputs_enumerated == 2**22
    setup, model = _rebuild("disjointness", "transformer", 22, layers=1, heads=1, width=1, precision=4,
                            weights="random", seed=0)
    _check_witness(setup, model, res)


def test_storing_construction_has_no_collision_and_16_effective_bits():
    # the acceptance line: the index-lookup storing RNN (a ring of d = n units) at d = 16, p = 16
    res = find_witness("index-lookup", "rnn", 16, hidden=16, precision=16)
    assert "construction" in res.model_note and "random" not in res.model_note
    assert not res.found and res.exhaustive
    assert res.distinct_messages == 2**16 and res.effective_bits == 16.0
    assert "no collision" in res.note
    # disjointness: the rotating-register construction fits in d = 16 at p = 16
    res = find_witness("disjointness", "rnn", 16, hidden=16, precision=16)
    assert "construction" in res.model_note and not res.found and res.effective_bits == 16.0


def test_n40_refused_without_budget_and_sampled_with_one():
    with pytest.raises(TooLargeError) as info:
        find_witness("index-lookup", "rnn", 40)
    msg = str(info.value)
    assert "--budget" in msg and "2^40" in msg
    res = find_witness("index-lookup", "rnn", 40, budget=20000)
    assert not res.exhaustive and not res.found
    assert 19000 < res.inputs_enumerated <= 20000 and res.distinct_messages == res.inputs_enumerated
    # an undersized model: the birthday search finds a witness long before the budget
    res = find_witness("index-lookup", "rnn", 40, hidden=2, precision=4, budget=1000000)
    assert res.found and not res.exhaustive and res.inputs_enumerated < 1000000
    setup, model = _rebuild("index-lookup", "rnn", 40, hidden=2, precision=4, weights="random", seed=0)
    _check_witness(setup, model, res)


def test_budget_in_seconds_and_parse():
    assert parse_budget("30s") == (None, 30.0)
    assert parse_budget("1e6") == (1000000, None)
    assert parse_budget(5) == (5, None)
    for bad in ("0", "-3", "abc", "1.5", "0s"):
        with pytest.raises(InvalidInputError):
            parse_budget(bad)
    res = find_witness("index-lookup", "rnn", 30, budget="0.5s")
    assert not res.exhaustive and res.inputs_enumerated > 0


def test_two_way_protocol_is_refused():
    # Bob's index token is private: the transformer asks Alice with Bob's query
    with pytest.raises(InvalidInputError, match="one-way"):
        find_witness("index-lookup", "transformer", 8, weights="random", width=4)
    with pytest.raises(InvalidInputError, match="one-way"):
        find_witness("disjointness", "rnn", 6, hidden=2, precision=4, split="interleave")


def test_split_that_gives_bob_alices_bit_is_refused():
    setup, model = _rebuild("index-lookup", "rnn", 8, hidden=2, precision=6, weights="random")
    inst = setup.reduction.encode(np.zeros(8, dtype=np.int64), np.array([0]))
    with pytest.raises(InvalidInputError, match="does not separate"):
        search_witness(setup.reduction, model, Split.prefix(len(inst), 4))
    # Alice may also read the PUBLIC "?" (prefix:9): still one-way, still a witness
    res = search_witness(setup.reduction, model, Split.prefix(len(inst), 9))
    assert res.found and res.message_bits == 12


def test_weights_file(tmp_path):
    setup, model = _rebuild("equality", "ffn", 8, hidden=1, precision=4, weights="random", seed=7)
    path = str(tmp_path / "m.npz")
    model.save(path)
    res = find_witness("equality", "ffn", 8, weights=path)
    direct = search_witness(setup.reduction, model)
    assert res.found == direct.found and res.alice_inputs == direct.alice_inputs
    assert res.distinct_messages == direct.distinct_messages
    if res.found:
        _check_witness(setup, model, res)


# ------------------------------------------------------------------ pigeonhole property
FAMILY_SIZES = {
    "rnn": lambda d: dict(hidden=d["h"], layers=d["L"], precision=d["p"]),
    "ffn": lambda d: dict(hidden=d["h"], layers=d["L"], precision=d["p"]),
    "transformer": lambda d: dict(layers=1, heads=d["L"], width=d["h"], precision=d["p"]),
}


@settings(deadline=None, max_examples=40)
@given(st.sampled_from(["rnn", "ffn", "transformer"]), st.sampled_from(["index-lookup", "disjointness", "equality"]),
       st.integers(2, 8), st.integers(1, 3), st.integers(1, 2), st.integers(2, 8), st.integers(0, 1000))
def test_short_one_way_message_always_has_a_witness(family, task, n, h, L, p, seed):
    """Pigeonhole: INDEX_n, DISJ_n and EQ_n have 2^n distinct rows, so a one-way message
    with fewer than 2^n values (in particular fewer than n bits) collides on two inputs
    that some y tells apart; an exhaustive run must find and prove such a pair, and
    must find none when every input sends its own message."""
    if family == "transformer" and task == "index-lookup":
        return  # Bob's private query: not one-way (refusal tested above)
    setup = resolve_task(task, n)
    model = build_model(setup, family, weights="random", seed=seed, **FAMILY_SIZES[family](dict(h=h, L=L, p=p))).model
    res = search_witness(setup.reduction, model, seed=seed)
    assert res.exhaustive and res.inputs_enumerated == 2**n
    assert res.found == (res.distinct_messages < 2**n)
    if res.message_bits < res.one_way_bound:
        assert res.found
    if res.found:
        _check_witness(setup, model, res)


@settings(deadline=None, max_examples=15)
@given(st.sampled_from(["rnn", "ffn", "transformer"]), st.sampled_from(["disjointness", "equality", "index-lookup"]),
       st.integers(0, 3), st.integers(0, 1), st.integers(0, 2), st.integers(0, 1000))
def test_undersized_models_of_each_family_get_a_proven_witness(family, task, dn, dh, dp, seed):
    """Sizes chosen so that the one-way message is (almost always) shorter than n bits:
    whenever it is, the exhaustive search must return a proven witness."""
    if family == "transformer":
        if task == "index-lookup":
            task = "equality"
        n, sizes = 14 + min(dn, 1), dict(layers=1, heads=1, width=1, precision=2 + min(dp, 1))
    else:
        n, sizes = 9 + dn, dict(hidden=1 + (dh if family == "rnn" else 0), precision=2 + dp)
    setup = resolve_task(task, n)
    model = build_model(setup, family, weights="random", seed=seed, **sizes).model
    res = search_witness(setup.reduction, model, seed=seed)
    assert res.exhaustive and res.found == (res.distinct_messages < 2**n)
    if res.message_bits < res.one_way_bound:
        assert res.found
    if res.found:
        _check_witness(setup, model, res)


# ------------------------------------------------------------------ effective bits
def _brute_force_distinct(setup, model, split=None):
    red = setup.reduction
    n = red.problem.x_space.length
    y0 = red.problem.y_space.from_index(0)
    seen = set()
    for x in red.problem.x_space.enumerate():
        inst = red.encode(x, y0)
        sp = split or Split.from_instance(inst)
        tr, _ = simulate(model, inst.tokens, sp, verify=False)
        seen.add(b"".join(m.payload.bits.tobytes() for m in tr.messages))
    assert len(x) == n
    return len(seen)


@pytest.mark.parametrize("task,family,sizes", [
    ("index-lookup", "rnn", dict(hidden=5, precision=16)),  # 80 bits: hashed keys, exact recount
    ("disjointness", "rnn", dict(hidden=2, precision=5)),
    ("equality", "transformer", dict(layers=1, heads=1, width=2, precision=4)),
    ("disjointness", "ffn", dict(hidden=2, precision=4)),
])
def test_effective_bits_equal_brute_force_count(task, family, sizes):
    setup, model = _rebuild(task, family, 7, weights="random", seed=1, **sizes)
    eb = effective_bits(setup.reduction, model)
    assert eb.applicable and eb.exact and eb.inputs == 2**7
    assert eb.distinct_messages == _brute_force_distinct(setup, model)
    assert eb.effective_bits == pytest.approx(np.log2(eb.distinct_messages))
    assert eb.one_way_bound == 7.0
    js = eb.to_json()
    assert js["meets_one_way_bound"] == (eb.distinct_messages == 2**7)
    # the numba kernels give the same count
    assert effective_bits(setup.reduction, model, backend="numba").distinct_messages == eb.distinct_messages


def test_effective_bits_of_a_correct_model_meet_the_bound():
    setup, model = _rebuild("index-lookup", "rnn", 8, precision=16)  # storing construction
    eb = effective_bits(setup.reduction, model)
    assert eb.applicable and eb.distinct_messages == 256 and eb.meets_bound
    assert eb.nominal_bits == model.state_bits()


def test_effective_bits_not_applicable_is_reported_not_raised():
    setup, model = _rebuild("disjointness", "rnn", 6, hidden=2, precision=6, weights="random")
    inst = setup.reduction.encode(np.zeros(6, dtype=np.int64), np.zeros(6, dtype=np.int64))
    eb = effective_bits(setup.reduction, model, Split.interleave(inst.owner))
    assert not eb.applicable and "one-way" in eb.note and eb.distinct_messages is None
    eb = effective_bits(setup.reduction, model, max_inputs=16)
    assert not eb.applicable and "limit" in eb.note


def test_effective_bits_in_process_are_refused_by_estimate_not_by_a_fixed_size():
    # 2^21 inputs: above 2^20 the estimate is consulted, and it lets them be counted in process
    setup, model = _rebuild("index-lookup", "rnn", 21, precision=16)  # storing construction: all distinct
    eb = effective_bits(setup.reduction, model)
    assert eb.applicable and eb.distinct_messages == 1 << 21
    # 2^48 inputs would take far beyond the exhaustive limits: reported, naming the way out
    setup, model = _rebuild("index-lookup", "rnn", 48, precision=16)
    eb = effective_bits(setup.reduction, model)
    assert not eb.applicable and eb.distinct_messages is None
    assert "--workers N" in eb.note and "in this process would take about" in eb.note


def test_simulate_json_carries_effective_bits():
    """simulate's hook calls effective_bits(reduction, model, split) for small inputs."""
    from commlb.simulate import run

    js = run("index-lookup", "rnn", 8, hidden=2, precision=6, weights="random").to_json()
    eb = js["effective_bits"]
    assert eb["applicable"] and eb["nominal_bits"] == 12 and eb["one_way_bound"] == 8.0
    setup, model = _rebuild("index-lookup", "rnn", 8, hidden=2, precision=6, weights="random")
    assert eb["distinct_messages"] == _brute_force_distinct(setup, model)


def test_hashed_keys_with_many_collisions_count_exactly():
    """An 80-bit threshold-RNN state takes few values: the keys are hashes (> 64 bits),
    so every run of equal hashes is recounted on the messages themselves."""
    from commlb.bits import Precision
    from commlb.models.rnn import RNNModel

    setup = resolve_task("equality", 8)
    model = RNNModel.random(setup.vocab_size, np.random.default_rng(3), hidden=5, activation="threshold",
                            precision=Precision.fixed(16))
    eb = effective_bits(setup.reduction, model)
    assert eb.applicable and eb.exact and eb.nominal_bits == 80
    assert eb.distinct_messages == _brute_force_distinct(setup, model) < 2**5
    res = search_witness(setup.reduction, model)
    assert res.found and res.distinct_messages == eb.distinct_messages
    _check_witness(setup, model, res)


def test_float_arithmetic_runs_on_the_engine_fallback():
    setup, model = _rebuild("disjointness", "rnn", 6, hidden=1, precision=6, arith="float", weights="random", seed=2)
    eb = effective_bits(setup.reduction, model)
    assert eb.applicable and "engine" in eb.source
    assert eb.distinct_messages == _brute_force_distinct(setup, model)
    res = search_witness(setup.reduction, model)
    assert res.found == (res.distinct_messages < 2**6)
    if res.found:
        _check_witness(setup, model, res)
    # too many inputs for one protocol run each: refused with the reason
    setup, model = _rebuild("disjointness", "rnn", 15, hidden=1, precision=6, arith="float", weights="random")
    with pytest.raises(TooLargeError, match="one protocol run per input"):
        search_witness(setup.reduction, model)


def test_exhaustive_run_refused_up_front_when_memory_is_short(monkeypatch):
    """12 bytes per input (key and index): with less available than that, the search is
    refused with the estimate before any input is enumerated."""
    import commlb.witness.search as search_mod

    def never(*args, **kwargs):
        raise AssertionError("enumerated although the arrays cannot fit")

    monkeypatch.setattr(search_mod, "_available_bytes", lambda: float(1 << 20))
    monkeypatch.setattr(search_mod, "_enumerate", never)
    with pytest.raises(TooLargeError) as info:
        find_witness("index-lookup", "rnn", 20, hidden=2, precision=4)
    msg = str(info.value)
    assert "--budget" in msg and "1 MiB is available" in msg and "12 bytes per input" in msg
    assert search_mod._bytes_needed(1 << 20) == (12 * (1 << 20) + 8 * min(1 << 20, search_mod._BLOCK)
                                                + 4 * min(1 << 20, search_mod.MAX_RUN_MEMBERS))
