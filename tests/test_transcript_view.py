"""Readable transcripts: messages numbered, values as numbers (fixed point divided by its
scale, the raw integers with --raw-bits), what each party has read so far, a plain-words
note per message, and the instance (x, y, tokens, owners) in --json."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from commlb.cli.main import main
from commlb.core import ALICE, BOB
from commlb.transcript_view import plain_note, ranges, reads_so_far

ARGS = ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4", "--split", "interleave",
        "--hidden", "2", "--weights", "random"]


@pytest.fixture(scope="module")
def run_json():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main([*ARGS, "--json"])
    return json.loads(buf.getvalue())


def test_json_instance_is_the_reductions_encoding(run_json):
    from commlb.simulate import resolve_task

    inst = run_json["instance"]
    setup = resolve_task("disjointness", 4)
    enc = setup.reduction.encode(np.array(inst["x"]), np.array(inst["y"]))
    assert inst["tokens"] == enc.tokens.tolist()
    assert inst["owners"] == [("alice", "bob", "public")[int(o)] for o in enc.owner]
    names = setup.task.vocab_names()
    assert inst["token_names"] == [names[t] for t in inst["tokens"]]
    # the answer recorded is the problem's on these inputs
    assert run_json["expected"] == int(setup.problem.evaluate(np.array(inst["x"]), np.array(inst["y"])))
    # interleave: the split's owners alternate over the private positions
    private = [o for o in run_json["instance"]["split_owners"] if o != "public"]
    assert private == ["alice", "bob"] * (len(private) // 2)


def test_json_messages_numbered_with_numbers_and_reads(run_json):
    msgs = run_json["messages"]
    frac = run_json["precision"]["frac"]
    assert [m["number"] for m in msgs] == list(range(1, len(msgs) + 1))
    for m in msgs:
        assert {"round", "sender", "receiver", "label", "values", "bits"} <= set(m)  # keys kept
        raw = np.asarray(m["values"]["state"]).reshape(-1).tolist()
        assert [Fraction(v) for v in m["numbers"]["state"]] == [Fraction(r, 2 ** frac) for r in raw]
        upto = int(m["label"].split("@")[1])
        assert m["read_so_far"] == {"alice": ranges(range(upto + 1)), "bob": ranges(range(upto + 1))}
        assert m["what"].startswith("the RNN's memory after reading positions 0..%d" % upto)
    # the hand-overs happen where the owner changes: positions read only grow
    ends = [int(m["label"].split("@")[1]) for m in msgs]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)


def test_transcript_text_numbered_values_as_numbers_and_raw(capsys, run_json):
    main([*ARGS, "--transcript"])
    text = capsys.readouterr().out
    main([*ARGS, "--transcript", "--raw-bits"])
    raw_text = capsys.readouterr().out
    msgs = run_json["messages"]
    for m in msgs:
        k = m["number"]
        who = f"{m['sender'].capitalize()} → {m['receiver'].capitalize()}"
        assert re.search(rf"^\s*{k}\. {who}, round {m['round']}: {re.escape(m['label'])}, {m['bits']} bits",
                         text, re.M), k
        reads = m["read_so_far"]
        assert f"read so far: Alice {reads['alice']}; Bob {reads['bob']}" in text
    first = msgs[0]
    nums = ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in first["numbers"]["state"])
    raws = ", ".join(str(v) for v in np.asarray(first["values"]["state"]).reshape(-1).tolist())
    assert f"state = [{nums}]" in text
    if nums != raws:
        assert f"state = [{raws}]" not in text
    assert f"state = [{raws}]" in raw_text


def test_ranges():
    assert ranges([]) == "none"
    assert ranges([3]) == "3"
    assert ranges([5, 0, 1, 2, 7, 9, 10]) == "0–2, 5, 7, 9–10"


def _msg(sender, label):
    return SimpleNamespace(sender=sender, receiver=BOB if sender == ALICE else ALICE, label=label)


def test_reads_pass_on_what_the_sender_has_read():
    owner = np.array([0, 0, 2, 1, 1, 2])
    reads = reads_so_far([_msg(ALICE, "query-token L1"), _msg(BOB, "partial-sums L1")], owner)
    # before anything: Alice 0,1 + public 2,5; Bob 3,4 + public; Bob learns Alice's, then Alice Bob's
    assert reads[0] == {"alice": {0, 1, 2, 5}, "bob": {0, 1, 2, 3, 4, 5}}
    assert reads[1] == {"alice": {0, 1, 2, 3, 4, 5}, "bob": {0, 1, 2, 3, 4, 5}}


def test_plain_notes_are_one_line_and_name_the_layer():
    for label in ("state@7", "query-token L1", "query L2", "query-vector L1", "partial-sums L3",
                  "keys-values L1", "pre-activations L1"):
        note = plain_note(label)
        assert "\n" not in note and len(note) <= 90 and "labelled" not in note, label
    assert "0..7" in plain_note("state@7") and plain_note("query L2").endswith("layer 2")
