"""``commlb list problems|tasks|reductions`` through click's CliRunner and a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import commlb
from commlb import registry
from commlb.cli.list_cmd import list_cmd
from commlb.errors import InvalidInputError


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(list_cmd, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def bound(entry: dict, kind: str) -> dict:
    (found,) = [b for b in entry["bounds"] if b["kind"] == kind and b["lower"]][:1]
    return found


def test_problems_json_disj_deterministic_bound():
    data = run_json("problems")
    assert data["n"] == 8
    by_name = {e["name"]: e for e in data["problems"]}
    assert set(by_name) == set(commlb.list_problems())
    assert {"disj", "eq", "ip", "gt", "index", "pc", "ghd"} <= set(by_name)
    det = bound(by_name["disj"], "deterministic")
    assert det["value"] == 9 and isinstance(det["value"], int)
    assert det["formula"] == "n + 1" and det["exact"] is True
    assert "Kushilevitz" in det["citation"]
    for entry in data["problems"]:
        assert "error" not in entry, entry
        assert entry["bounds"] and all(b["citation"] for b in entry["bounds"])
        assert entry["description"]
    assert by_name["ghd"]["promise"] is True and by_name["disj"]["promise"] is False
    assert by_name["index"]["y_space"] == {"kind": "index", "length": 1, "base": 8, "bits": 3.0}


def test_problems_json_follows_n():
    by_name = {e["name"]: e for e in run_json("problems", "--n", "16")["problems"]}
    assert bound(by_name["disj"], "deterministic")["value"] == 17
    assert bound(by_name["eq"], "deterministic")["value"] == 17
    assert bound(by_name["index"], "deterministic")["value"] == 5
    assert bound(by_name["index"], "one-way A->B")["value"] == 16
    assert bound(by_name["index"], "one-way B->A")["value"] == 4
    assert by_name["pc"]["params"]["n"] == 16


def test_problems_table():
    result = CliRunner().invoke(list_cmd, ["problems"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("disj", "eq", "ip", "gt", "index", "pc", "ghd"):
        assert name in result.output
    assert "n + 1" in result.output and "exact" in result.output
    assert "Razborov" in result.output


def test_tasks_listing_loosely():
    data = run_json("tasks", "--n", "6")
    names = [e["name"] for e in data["tasks"]]
    assert names == commlb.list_tasks()
    for entry in data["tasks"]:
        if "error" in entry:
            continue
        if entry.get("vocab_size") is not None:
            assert entry["vocab_size"] >= 0
        if entry.get("length") is not None:
            assert entry["length"] >= 1
    result = CliRunner().invoke(list_cmd, ["tasks"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in names:
        assert name in result.output


def test_reductions_listing_loosely():
    data = run_json("reductions", "--n", "4")
    names = [e["name"] for e in data["reductions"]]
    assert names == commlb.list_reductions()
    for entry in data["reductions"]:
        if "error" in entry:
            continue
        assert entry["problem"] in commlb.list_problems()
        assert entry["task"] in commlb.list_tasks()
        if "tokens" in entry:
            assert sum(entry["tokens"].values()) == entry["length"]
    result = CliRunner().invoke(list_cmd, ["reductions"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in names:
        assert name in result.output


def test_broken_or_n_less_task_does_not_stop_the_listing(monkeypatch):
    class NoN:
        name = "test-no-n"
        description = "a task without an n parameter"
        output_kind = "binary"
        vocab_size = 3

        def length(self, n):
            return 2 * n + 1

        def params(self):
            return {}

    def broken(**params):
        raise InvalidInputError("cannot be built")

    commlb.list_tasks()  # load the real tasks first
    monkeypatch.setitem(registry._TASKS, "test-no-n", NoN)
    monkeypatch.setitem(registry._TASKS, "test-broken", broken)
    by_name = {e["name"]: e for e in run_json("tasks", "--n", "5")["tasks"]}
    assert by_name["test-no-n"]["length"] == 11 and by_name["test-no-n"]["built_with"] == {}
    assert "cannot be built" in by_name["test-broken"]["error"]


def test_bad_arguments():
    result = CliRunner().invoke(list_cmd, ["widgets"])
    assert result.exit_code == 2
    result = CliRunner().invoke(list_cmd, ["problems", "--n", "0"])
    assert result.exit_code == 2 and "--n" in result.output


@pytest.mark.parametrize("args,code", [(["list", "problems", "--json"], 0),
                                       (["list", "problems", "--n", "0"], 2)])
def test_through_the_entry_point(args, code):
    out = subprocess.run([sys.executable, "-m", "commlb.cli.main", *args],
                         capture_output=True, text=True)
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    if code == 0:
        disj = [e for e in json.loads(out.stdout)["problems"] if e["name"] == "disj"][0]
        det = [b for b in disj["bounds"] if b["kind"] == "deterministic"][0]
        assert det["value"] == 9 and det["formula"] == "n + 1" and det["citation"]
    else:
        assert out.stderr.strip().startswith("error:") and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("error", [TypeError, ValueError, KeyError, IndexError, ZeroDivisionError])
def test_a_bug_in_a_tasks_size_is_not_a_note(monkeypatch, error):
    """Only a refusal (a CommlbError) becomes a note in the listing; a task whose
    ``length`` raises anything else has a bug, and the listing shows it."""
    class Buggy:
        name = "test-buggy"
        description = "a task whose length has a bug"
        output_kind = "binary"
        vocab_size = 3

        def length(self, n):
            raise error("bug in length")

        def params(self):
            return {}

    commlb.list_tasks()
    monkeypatch.setitem(registry._TASKS, "test-buggy", lambda **params: Buggy())
    with pytest.raises(error, match="bug in length"):
        CliRunner().invoke(list_cmd, ["tasks", "--n", "5", "--json"], catch_exceptions=False)
