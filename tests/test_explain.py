"""`commlb explain`: five steps, the panels render, and every number in the text is the
simulation's (checked against an independent run of the same instance)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from commlb.cli.explain import explain as explain_cmd
from commlb.errors import CommlbError, InvalidInputError
from commlb.explain import explain

STEP_KEYS = ["problem", "reduction", "protocol", "inequality", "conclusion"]
TITLES = ["1. The communication problem", "2. The reduction", "3. The model run as a protocol",
          "4. The inequality", "5. Conclusion"]


def independent_run(task, family, n, seed=0):
    """The same instance simulated directly through the public simulation API."""
    from commlb.simulate import build_model, resolve_task, simulate_instance

    setup = resolve_task(task, n=n)
    built = build_model(setup, family, seed=seed)
    return simulate_instance(setup, built, seed=seed, effective=False)


def numbers_in(text):
    return {int(v) for v in re.findall(r"(?<![\w.])(\d+)(?![\w.])", text)}


def check_numbers(e, task, family):
    res = independent_run(task, family, e.n)
    tr = res.transcript
    sim = e.simulation
    # the explanation's simulation is the same run as the independent one
    assert sim["total_bits"] == tr.total_bits
    assert [m["bits"] for m in sim["messages"]] == [m.bits for m in tr.messages]
    assert sim["expected"] == res.expected
    protocol = " ".join(e.step("protocol").paragraphs)
    inequality = " ".join(e.step("inequality").paragraphs)
    # totals, per-direction bits, rounds and every message's bits are stated in the text
    assert f"{tr.total_bits} bits in total" in protocol
    assert f"({tr.bits_alice_to_bob} from Alice to Bob, {tr.bits_bob_to_alice} from Bob to Alice)" in protocol
    shown = {int(k): (int(r), int(b)) for k, r, b in
             re.findall(r"Message (\d+) \(round (\d+)\)[^•]*?: (\d+) bits\.", protocol)}
    summed = re.findall(r"Messages (\d+)–(\d+): (\d+) more \([^)]*\), (\d+) bits in all", protocol)
    covered = set(shown)
    for lo, hi, count, total in summed:
        lo, hi = int(lo), int(hi)
        assert int(count) == hi - lo + 1
        assert int(total) == sum(m.bits for m in tr.messages[lo - 1:hi])
        covered |= set(range(lo, hi + 1))
    assert covered == set(range(1, len(tr.messages) + 1)), (covered, protocol)
    for k, (rnd, bits) in shown.items():
        m = tr.messages[k - 1]
        assert (rnd, bits) == (m.round, m.bits), k
        for f in m.fields:
            assert f"{f.width} bits" in protocol or f"{f.width}-bit" in protocol
    assert f"is {res.output} and the true answer f(x, y) is {res.expected}" in protocol
    problem_text = " ".join(e.step("problem").paragraphs)
    if res.lower_bound is None:  # e.g. pointer chasing: only round-limited / asymptotic bounds
        assert f"The protocol sent {tr.total_bits} bits in" in inequality
        assert "no exact bound" in inequality and "Known bounds:" in problem_text
        assert e.step("inequality").data["holds"] is None
    else:
        bound = res.lower_bound.compare_bits
        bound_txt = str(int(bound)) if float(bound).is_integer() else f"{bound:.2f}"
        assert f"The protocol sent {tr.total_bits} bits." in inequality
        assert f"{tr.total_bits} ≥ {bound_txt}" in inequality
        assert e.step("inequality").data["holds"] == (tr.total_bits >= bound)
        assert f"{bound_txt} bits" in problem_text
    conclusion = " ".join(e.step("conclusion").paragraphs)
    assert f"At n = {e.n} " in conclusion and f"sends {tr.total_bits} bits" in conclusion
    assert str(res.model.num_params()) in conclusion


@pytest.mark.parametrize("task, family", [("disjointness", "rnn"), ("qsa", "transformer")])
def test_classroom_pairs(task, family):
    e = explain(task, family)
    assert [s.key for s in e.steps] == STEP_KEYS
    check_numbers(e, task, family)
    assert e.simulation["correct"] is True and e.simulation["protocol_matches_forward"] is True


def test_disjointness_rnn_reads_well():
    e = explain("disjointness", "rnn")
    problem = " ".join(e.step("problem").paragraphs)
    assert "Alice holds a set A" in problem and "Bob holds a set B" in problem
    assert "pigeonhole" in problem  # the one-way rows argument, since an RNN's protocol is one-way
    assert f"2^{e.n} different messages" in problem
    reduction = " ".join(e.step("reduction").paragraphs)
    assert "'#'" in reduction and "public" in reduction
    counts = e.step("reduction").data["counts"]
    assert counts == {"alice": e.n, "bob": e.n, "public": 2}
    inequality = " ".join(e.step("inequality").paragraphs)
    hidden = e.step("inequality").data["size"]["width"]
    assert f"this model has d = {hidden}" in inequality
    conclusion = " ".join(e.step("conclusion").paragraphs)
    assert "BHBK24" in conclusion and "THEORY.md §3.4" in conclusion


def test_qsa_transformer_names_sht23_theorem_4():
    e = explain("qsa", "transformer")
    conclusion = " ".join(e.step("conclusion").paragraphs)
    assert "SHT23, Theorem 4" in conclusion and "[3P]" in conclusion
    problem = " ".join(e.step("problem").paragraphs)
    assert "set disjointness" in problem and "fooling set" in problem  # two-way: Alice's query crosses


def test_index_lookup_transformer_says_why_the_one_way_bound_does_not_apply():
    e = explain("index-lookup", "transformer")
    check_numbers(e, "index-lookup", "transformer")
    inequality = " ".join(e.step("inequality").paragraphs)
    assert f"larger one-way bound ({e.n} bits" in inequality
    assert e.simulation["bits_bob_to_alice"] > 0 and e.simulation["bits_alice_to_bob"] > 0


def _pairs_with_construction():
    from commlb.models.constructions import list_constructions
    from commlb.simulate import TASK_DEFAULTS

    return [(t, f) for t, f in list_constructions() if TASK_DEFAULTS.get(t) and TASK_DEFAULTS[t].reduction]


@pytest.mark.parametrize("task, family", _pairs_with_construction())
def test_every_task_with_a_reduction_and_a_construction(task, family):
    e = explain(task, family)
    check_numbers(e, task, family)
    assert e.simulation["correct"] is True  # constructions are solvers
    data = e.to_json()
    json.dumps(data)  # serialisable
    assert [s["key"] for s in data["steps"]] == STEP_KEYS
    assert len(data["instance"]["token_names"]) == len(data["instance"]["owner"])


def test_long_protocols_are_summed_up():
    e = explain("dyck22", "rnn")  # the interleaved split: one hand-over per change of owner
    check_numbers(e, "dyck22", "rnn")
    protocol = " ".join(e.step("protocol").paragraphs)
    assert "more (state)" in protocol
    inequality = " ".join(e.step("inequality").paragraphs)
    assert f"crossed {len(e.simulation['messages'])} times" in inequality
    assert "cannot stay small" not in inequality  # a constant-size RNN passes on this split


def test_random_weights_are_explained_as_random():
    e = explain("match3", "transformer")
    protocol = " ".join(e.step("protocol").paragraphs)
    assert "RANDOM weights" in protocol and "not a solver" in protocol
    check_numbers(e, "match3", "transformer")


def test_task_without_reduction_is_refused():
    with pytest.raises(InvalidInputError, match="no reduction"):
        explain("qstr", "transformer")


# ------------------------------------------------------------------ CLI
def invoke(*args):
    return CliRunner().invoke(explain_cmd, list(args), catch_exceptions=True)


@pytest.mark.parametrize("task, family", [("disjointness", "rnn"), ("qsa", "transformer")])
def test_cli_panels(task, family):
    res = invoke("--task", task, "--model", family)
    assert res.exit_code == 0, (res.output, res.exception)
    out = res.stdout
    positions = [out.find(t) for t in TITLES]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert out.count("╭") >= 5  # one panel per step
    e = explain(task, family)
    assert f"{e.simulation['total_bits']} bits" in out
    assert "Alice" in out and "Bob" in out and "public" in out  # the owner legend


def test_cli_json_matches_the_text():
    res = invoke("--task", "disjointness", "--model", "rnn", "--n", "5", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n"] == 5 and data["reduction"] == "disj-to-disjointness"
    sim = data["simulation"]
    assert sim["total_bits"] == sum(m["bits"] for m in sim["messages"])
    assert sum(f["count"] * f["width"] for m in sim["messages"] for f in m["fields"]) == sim["total_bits"]
    text = " ".join(p for s in data["steps"] for p in s["paragraphs"])
    assert f"{sim['total_bits']} bits in total" in text
    assert data["steps"][3]["data"]["lower_bound"] == sim["lower_bound"]["bits"] == 5


def test_cli_bad_input_is_a_user_error():
    for args in (("--task", "nope"), ("--task", "qstr", "--model", "transformer"),
                 ("--task", "disjointness", "--model", "lstm")):
        res = invoke(*args)
        assert isinstance(res.exception, CommlbError), (args, res.exception)


def test_cli_task_options_choose_the_reduction():
    res = invoke("--task", "qsa", "--model", "transformer", "--task-option", "reduction=index-to-qsa", "--json")
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads(res.stdout)
    assert data["reduction"] == "index-to-qsa" and data["problem"] == "index"
    assert data["n"] == 8  # the reduction's example size
    assert data["simulation"]["correct"] is True
    assert "Theorem 11" in " ".join(data["steps"][4]["paragraphs"])
