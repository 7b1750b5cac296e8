"""`commlb simulate`: the acceptance lines of issue 3, JSON keys, rendering widths, and
one-line refusals (exit 2).  Runs the real entry point in-process (``main(argv)``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from commlb.cli.main import main
from commlb.models.constructions import has_construction

JSON_KEYS = {
    "task", "model", "reduction", "problem", "n", "seed", "params", "precision", "split", "messages",
    "total_bits", "bits_alice_to_bob", "bits_bob_to_alice", "rounds", "output", "expected", "correct",
    "protocol_matches_forward", "lower_bound", "lower_bounds", "conclusion", "instance", "verify",
    "verification",
}
MESSAGE_KEYS = {"round", "sender", "receiver", "label", "values", "bits", "number", "numbers", "what", "read_so_far"}

needs_storing_rnn = pytest.mark.skipif(not has_construction("disjointness", "rnn"),
                                       reason="the storing RNN construction is not in this checkout")


def cli(capsys, *args: str) -> str:
    main(["simulate", *args])
    return capsys.readouterr().out


def cli_json(capsys, *args: str) -> dict:
    return json.loads(cli(capsys, *args, "--json"))


def cli_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(["simulate", *args])
    captured = capsys.readouterr()
    assert info.value.code == 2, captured
    return captured.err


# ------------------------------------------------------------------ acceptance
def test_default_disjointness_rnn_runs(capsys):
    out = cli(capsys, "--task", "disjointness", "--model", "rnn")
    assert "DISJ_64" in out and "verified" in out and "conclusion" in out


@needs_storing_rnn
def test_default_disjointness_rnn_is_correct_and_meets_the_bound(capsys):
    res = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--trials", "20")
    assert res["params"]["weights"] == "construction"
    assert res["correct"] is True and res["errors"] == 0
    assert res["protocol_matches_forward"] is True
    assert res["lower_bound"]["kind"] == "one-way A->B" and res["lower_bound"]["bits"] == 64
    assert res["total_bits"] >= res["lower_bound"]["bits"]
    assert res["rounds"] == 1 and res["bits_bob_to_alice"] == 0


def test_json_128_bits_disjointness_rnn(capsys):
    res = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", "32", "--hidden", "8",
                   "--precision", "16")
    assert set(res) == JSON_KEYS
    assert res["total_bits"] == 128 and res["rounds"] == 1
    assert res["bits_alice_to_bob"] == 128 and res["bits_bob_to_alice"] == 0
    assert res["protocol_matches_forward"] is True
    assert res["lower_bound"] == {"problem": "DISJ_32", "kind": "one-way A->B", "bits": 32,
                                  "citation": res["lower_bound"]["citation"]}
    assert res["lower_bound"]["citation"]
    two_way = [e for e in res["lower_bounds"] if e["kind"] == "two-way"]
    assert len(two_way) == 1 and two_way[0]["bits"] == 33 and two_way[0]["compare_bits"] == 32
    assert res["split"] == {"name": "reduction", "alice": 32, "bob": 32, "public": 2}
    owners = ["alice"] * 32 + ["public"] + ["bob"] * 32 + ["public"]
    assert res["instance"]["owners"] == res["instance"]["split_owners"] == owners
    assert res["precision"]["bits"] == 16
    assert len(res["messages"]) == 1
    msg = res["messages"][0]
    assert set(msg) == MESSAGE_KEYS and msg["bits"] == 128
    assert msg["sender"] == "alice" and msg["receiver"] == "bob"
    # the message carries the 8 state values that the bits encode
    assert np.asarray(next(iter(msg["values"].values()))).size == 8
    assert res["expected"] in (0, 1) and res["correct"] == (res["output"] == res["expected"])
    if has_construction("disjointness", "rnn"):
        assert res["params"]["weights"] == "construction" and res["correct"] is True


def test_layers_2_doubles_the_rnn_message(capsys):
    base = ("--task", "disjointness", "--model", "rnn", "--n", "20", "--hidden", "4", "--precision", "12",
            "--weights", "random")
    one = cli_json(capsys, *base)
    two = cli_json(capsys, *base, "--layers", "2")
    assert len(one["messages"]) == len(two["messages"]) == 1
    assert two["total_bits"] == 2 * one["total_bits"] == 2 * 4 * 12


@needs_storing_rnn
def test_layers_2_doubles_the_constructed_rnn_message(capsys):
    base = ("--task", "disjointness", "--model", "rnn", "--n", "32", "--hidden", "8", "--precision", "16",
            "--trials", "10")
    one = cli_json(capsys, *base)
    two = cli_json(capsys, *base, "--layers", "2")
    assert one["params"]["weights"] == two["params"]["weights"] == "construction"
    assert one["total_bits"] == 128 and two["total_bits"] == 256 and two["rounds"] == 1
    assert two["correct"] is True and two["errors"] == 0


@pytest.mark.parametrize("weights", ["random", "default"])
def test_interleave_one_handoff_per_owner_change(capsys, weights):
    n, hidden, p = 8, 4, 10
    args = ["--task", "disjointness", "--model", "rnn", "--n", str(n), "--split", "interleave"]
    if weights == "random":
        args += ["--hidden", str(hidden), "--precision", str(p), "--weights", "random"]
    res = cli_json(capsys, *args)
    # interleave alternates A, B over the 2n private positions: 2n - 1 owner changes
    assert len(res["messages"]) == 2 * n - 1 == res["rounds"]
    senders = [m["sender"] for m in res["messages"]]
    assert senders == ["alice" if i % 2 == 0 else "bob" for i in range(2 * n - 1)]
    per = res["messages"][0]["bits"]
    assert all(m["bits"] == per for m in res["messages"])
    assert res["total_bits"] == (2 * n - 1) * per
    if weights == "random":
        assert per == hidden * p
    # interleave hands Alice some of Bob's bits: not a protocol for DISJ_n, so no bound
    assert res["lower_bound"] is None
    assert all(not e["applies"] for e in res["lower_bounds"])
    assert "not a protocol" in res["conclusion"]
    assert res["protocol_matches_forward"] is True


def test_interactive_split_that_respects_the_reduction(capsys):
    # Alice a, Bob b, and Alice also holds the final PUBLIC "=" (a PUBLIC token may go to
    # either party): the state goes to Bob and comes back, an interactive protocol for DISJ_n
    n = 6
    split = "A" * n + "P" + "B" * n + "A"
    res = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", str(n), "--split", split,
                   "--hidden", "3", "--precision", "8", "--weights", "random")
    assert [m["sender"] for m in res["messages"]] == ["alice", "bob"] and res["rounds"] == 2
    assert res["total_bits"] == 2 * 3 * 8
    assert res["lower_bound"]["kind"] == "two-way minus announcement" and res["lower_bound"]["bits"] == n
    assert [e["applies"] for e in res["lower_bounds"]] == [False, False, True]


def test_index_lookup_transformer_1024_trials(capsys):
    res = cli_json(capsys, "--task", "index-lookup", "--model", "transformer", "--n", "1024", "--trials", "200")
    assert res["params"]["weights"] == "construction"
    assert res["trials"] == 200 and res["errors"] == 0 and res["correct"] is True
    assert res["protocol_matches_forward"] is True
    # the query position is Bob's: his query (a token id, ceil(log2 V) bits) is counted,
    # then a single answer goes Alice -> Bob; no keys or values cross
    vocab = res["params"]["vocab_size"]
    bob = [m for m in res["messages"] if m["sender"] == "bob"]
    alice = [m for m in res["messages"] if m["sender"] == "alice"]
    assert len(bob) == 1 and bob[0]["label"].startswith("query") and bob[0]["bits"] == math.ceil(math.log2(vocab))
    assert len(alice) == 1 and alice[0]["label"].startswith("partial-sums")
    assert res["total_bits"] == bob[0]["bits"] + alice[0]["bits"]
    assert res["total_bits"] < 1024  # far below what an RNN must send
    assert res["lower_bound"]["bits"] == 10  # D(INDEX_1024) = 11, minus the announcement


def test_index_lookup_public_query_is_one_way(capsys):
    n = 64
    # the query position made PUBLIC (Bob keeps "?", so the output is his): no query
    # message is needed and Alice's partial sums are the only message
    split = "A" * n + "BP"
    res = cli_json(capsys, "--task", "index-lookup", "--model", "transformer", "--n", str(n), "--split", split)
    assert len(res["messages"]) == 1 and res["rounds"] == 1
    assert res["messages"][0]["sender"] == "alice" and res["bits_bob_to_alice"] == 0
    assert res["messages"][0]["label"].startswith("partial-sums")
    assert res["correct"] is True
    # making Bob's index PUBLIC is not a protocol for INDEX_n: no bound is claimed
    assert res["lower_bound"] is None and "PUBLIC" in res["conclusion"]


def test_same_seed_same_transcript(capsys):
    args = ("--task", "disjointness", "--model", "transformer", "--n", "12", "--weights", "random", "--seed", "7")
    a = cli_json(capsys, *args)
    b = cli_json(capsys, *args)
    assert a["messages"] == b["messages"] and a["output"] == b["output"]
    c = cli_json(capsys, "--task", "disjointness", "--model", "transformer", "--n", "12", "--weights", "random",
                 "--seed", "8")
    assert c["messages"] != a["messages"]


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("args, phrase", [
    (["--task", "nosuch", "--model", "rnn"], "unknown task"),
    (["--task", "disjointness", "--model", "rnn", "--n", "0"], "--n"),
    (["--task", "disjointness", "--model", "rnn", "--heads", "2"], "--heads"),
    (["--task", "disjointness", "--model", "rnn", "--k", "2"], "--k"),
    (["--task", "disjointness", "--model", "rnn", "--split", "prefix:x"], "prefix"),
    (["--task", "disjointness", "--model", "rnn", "--n", "4", "--split", "ABAB"], "split"),
    (["--task", "disjointness", "--model", "rnn", "--weights", "/nonexistent/w.npz"], "does not exist"),
    (["--task", "disjointness", "--model", "rnn", "--weights", "bogus"], "--weights"),
    (["--task", "qsa", "--model", "rnn", "--q", "4", "--n", "5"], "disagree"),
    (["--task", "disjointness", "--model", "rnn", "--precision", "1"], "precision"),
    (["--task", "disjointness", "--model", "rnn", "--trials", "-1"], "--trials"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, phrase):
    err = cli_error(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and phrase in lines[0]


def test_weights_file_round_trip_and_mismatch(capsys, tmp_path):
    path = str(tmp_path / "w.npz")
    args = ("--task", "equality", "--model", "transformer", "--n", "6", "--width", "8", "--weights", "random",
            "--seed", "3")
    first = cli_json(capsys, *args, "--save-weights", path)
    again = cli_json(capsys, "--task", "equality", "--model", "transformer", "--n", "6", "--seed", "3",
                     "--weights", path)
    assert again["params"]["weights"] == "file"
    assert again["messages"] == first["messages"] and again["output"] == first["output"]
    err = cli_error(capsys, "--task", "equality", "--model", "rnn", "--n", "6", "--weights", path)
    assert "transformer" in err
    err = cli_error(capsys, "--task", "equality", "--model", "transformer", "--n", "40", "--weights", path)
    assert "tokens" in err
    err = cli_error(capsys, "--task", "equality", "--model", "transformer", "--n", "6", "--weights", path,
                    "--precision", "8")
    assert "--precision" in err


# ------------------------------------------------------------------ human output
@pytest.mark.parametrize("columns", ["80", "120"])
def test_rendering_fits_the_terminal(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    out = cli(capsys, "--task", "disjointness", "--model", "rnn", "--n", "64", "--split", "interleave",
              "--hidden", "4", "--weights", "random", "--trials", "3")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= int(columns)
    for needle in ("messages (127)", f"total {127 * 4 * 16} bits", "answer:", "verified (protocol_matches_forward)",
                   "lower bounds", "trials: 3",
                   "conclusion:", "more"):
        assert needle in out, needle


def test_transcript_flag_prints_every_message(capsys):
    args = ("--task", "disjointness", "--model", "rnn", "--n", "8", "--split", "interleave", "--hidden", "2",
            "--weights", "random")
    short = cli(capsys, *args)
    full = cli(capsys, *args, "--transcript")
    assert "--transcript shows every message" in short
    assert "--transcript shows every message" not in full
    rows = [line for line in full.splitlines() if line.startswith("│") and "→" in line]
    assert sum("Alice → Bob" in r for r in rows) == 8 and sum("Bob → Alice" in r for r in rows) == 7
    assert "state = [" in full


def test_wrong_answer_exits_0_and_says_so(capsys):
    # a 1-value random RNN state cannot carry DISJ_16; find a seed it gets wrong
    for seed in range(20):
        res = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", "16", "--hidden", "1",
                       "--precision", "4", "--weights", "random", "--seed", str(seed), "--no-effective-bits")
        if res["correct"] is False:
            break
    else:
        pytest.fail("no wrong answer in 20 seeds")
    out = cli(capsys, "--task", "disjointness", "--model", "rnn", "--n", "16", "--hidden", "1", "--precision", "4",
              "--weights", "random", "--seed", str(seed), "--no-effective-bits")
    assert "WRONG" in out and "sends only 4" in out


def test_float_mode_runs_and_is_verified(capsys):
    res = cli_json(capsys, "--task", "disjointness", "--model", "transformer", "--n", "8", "--arith", "float",
                   "--precision", "16", "--weights", "random", "--no-effective-bits")
    assert res["precision"]["kind"] == "float" and res["protocol_matches_forward"] is True
    out = cli(capsys, "--task", "disjointness", "--model", "transformer", "--n", "8", "--arith", "float",
              "--precision", "16", "--weights", "random", "--no-effective-bits")
    assert "float mode" in out


def test_task_without_reduction_states_no_bound(capsys):
    res = cli_json(capsys, "--task", "match2", "--model", "transformer", "--n", "8")
    assert res["reduction"] is None and res["problem"] is None and res["lower_bound"] is None
    assert res["split"]["name"] == "prefix:4"
    assert "no lower bound" in res["conclusion"]


def test_effective_bits_line(capsys):
    # 256 Alice inputs: every one is counted (commlb.witness.effective_bits)
    solver = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", "8")
    eb = solver["effective_bits"]
    if solver["params"]["weights"] == "construction":
        # a model correct on every input sends 2^8 distinct messages: exactly the bound
        assert eb["applicable"] and eb["distinct_messages"] == 256 and eb["effective_bits"] == 8
    tiny = cli(capsys, "--task", "disjointness", "--model", "rnn", "--n", "8", "--hidden", "1", "--precision", "2",
               "--weights", "random")
    assert "effective bits:" in tiny and "NOT met" in tiny
    off = cli_json(capsys, "--task", "disjointness", "--model", "rnn", "--n", "8", "--no-effective-bits")
    assert "effective_bits" not in off


def test_three_layer_float_transformer_verifies_over_200_trials():
    """The command that used to fail float verification (its partial sums crossed rounded
    to p bits): it exits 0 and every trial equals the forward pass bit for bit
    (docs/theory.md §3.7)."""
    args = ["simulate", "--task", "equality", "--model", "transformer", "--weights", "random", "--layers", "3",
            "--arith", "float", "--precision", "12", "--n", "8", "--seed", "2", "--trials", "200"]
    done = subprocess.run([sys.executable, "-m", "commlb.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "100"}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    text = " ".join(done.stdout.split())
    assert "equals the forward pass bit for bit (float mode: exact p-bit states and exact accumulators " \
           "across the cut)" in text
    assert "200 random instances" in text and "200 verified against the forward pass" in text


@pytest.mark.parametrize("dedicated, generic", [
    (["--task", "khop", "--k", "3"], ["--task", "khop", "--task-option", "k=3"]),
    (["--task", "qsa", "--q", "4"], ["--task", "qsa", "--task-option", "q=4"]),
    (["--reduction", "disj-to-disjointness"], ["--task-option", "reduction=disj-to-disjointness"]),
])
def test_both_option_spellings_run_the_same_instance(capsys, dedicated, generic):
    """simulate takes sweep's --task-option KEY=VALUE as well as its own --k / --q /
    --reduction: the same run, bit for bit."""
    common = ["--model", "transformer" if "qsa" in dedicated else "rnn", "--no-effective-bits"]
    one = cli_json(capsys, *dedicated, *common)
    two = cli_json(capsys, *generic, *common)
    assert one["task"] == two["task"] and one["n"] == two["n"]
    assert [m["values"] for m in one["messages"]] == [m["values"] for m in two["messages"]]
    assert one["total_bits"] == two["total_bits"] and one["output"] == two["output"]
    if "--k" in dedicated:  # and the option changed something: k = 2 is another instance
        other = cli_json(capsys, "--task", "khop", "--k", "2", *common)
        assert other["instance"] != one["instance"]


def test_disagreeing_spellings_are_refused(capsys):
    assert "disagree" in cli_error(capsys, "--task", "khop", "--model", "rnn", "--k", "3", "--task-option", "k=4")
