"""The cost model refuses before building, and the value it suggests is accepted; the
file checks read headers only."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

from commlb.costs import MAX_TOKENS, check_model_size, check_repetitions, check_task_size
from commlb.errors import InvalidInputError, TooLargeError
from commlb.setup import TASK_DEFAULTS
from commlb.validate import check_npy_members, finite_float, short_number

_SUGGESTION = re.compile(r"use (--[a-z-]+|--task-option [a-z]+=|-p [a-z]+=)\s?([\d,]+) or (smaller|fewer)")


def _suggested(message: str) -> int:
    m = _SUGGESTION.search(message)
    assert m, message
    return int(m.group(2).replace(",", ""))


@pytest.mark.parametrize("task", sorted(TASK_DEFAULTS))
def test_huge_n_refused_and_the_suggestion_accepted(task: str) -> None:
    options = {"q": 10**9} if task == "qsa" else {}
    with pytest.raises(TooLargeError) as info:
        check_task_size(task, None if task == "qsa" else 10**9, options, command="simulate")
    fit = _suggested(str(info.value))
    assert 1 <= fit < 10**9
    retry = {"q": fit} if task == "qsa" else {}
    length = check_task_size(task, None if task == "qsa" else fit, retry, command="simulate")
    assert length is None or length <= MAX_TOKENS


@pytest.mark.parametrize("k", [10**6, 10**18])
def test_exponential_growth_in_k_refused_with_a_k_that_fits(k: int) -> None:
    with pytest.raises(TooLargeError) as info:
        check_task_size("khop", 8, {"k": k}, command="simulate")
    fit = _suggested(str(info.value))
    length = check_task_size("khop", 8, {"k": fit}, command="simulate")
    assert length is not None and length <= MAX_TOKENS


def test_small_sizes_give_the_exact_length() -> None:
    # DISJ_n as a # b =: 2n + 2 tokens
    assert check_task_size("disjointness", 20) == 42


def test_model_size_and_repetitions() -> None:
    check_model_size("rnn", 130, hidden=64)
    with pytest.raises(TooLargeError, match="--hidden"):
        check_model_size("rnn", 130, hidden=10**6)
    with pytest.raises(TooLargeError, match="--layers"):
        check_model_size("transformer", 130, layers=10**6)
    check_repetitions(1000, 1e-3, "--trials", "instances")
    with pytest.raises(TooLargeError, match="--trials"):
        check_repetitions(10**12, 1e-3, "--trials", "instances")


def test_short_number_never_fails() -> None:
    text = short_number(10**5000)
    assert len(text) < 40 and "5001 digits" in text
    assert short_number(-(10**50)).startswith("-")
    assert short_number(12345) == "12345"


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc", float("nan")])
def test_finite_float_refuses(value: object) -> None:
    with pytest.raises(InvalidInputError, match="--max-seconds"):
        finite_float(value, "--max-seconds")


def _header(shape: tuple[int, ...], descr: str) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_npy_headers_checked_before_reading(tmp_path) -> None:
    liar = tmp_path / "liar.npy"
    liar.write_bytes(_header((10**6, 10**6), "<f8") + b"\0" * 64)
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):
        check_npy_members(liar, "--matrix")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInputError, match="Python objects") as info:
        check_npy_members(obj, "--matrix")
    assert "allow_pickle" not in str(info.value)
    ok = tmp_path / "ok.npz"
    np.savez(ok, a=np.zeros((2, 3)), b=np.arange(4))
    assert check_npy_members(ok, "--weights") == {"a": ((2, 3), "<f8"), "b": ((4,), "<i8")}


@pytest.mark.parametrize("error", [TypeError, ValueError, KeyError, IndexError, OverflowError])
def test_a_bug_in_a_reductions_encode_propagates(monkeypatch, error) -> None:
    """The size estimate swallows only a reduction's own refusal (a CommlbError); before,
    these five were taken for 'cannot be built here' and the check silently passed."""
    import commlb
    from commlb import costs

    red = commlb.get_reduction("disj-to-disjointness", n=4)

    def broken_encode(self, x, y):
        raise error("bug in encode")

    monkeypatch.setattr(type(red), "encode", broken_encode)
    costs._measured.cache_clear()
    try:
        with pytest.raises(error, match="bug in encode"):
            check_task_size("disjointness", 10**9, reduction="disj-to-disjointness", command="simulate")
    finally:
        costs._measured.cache_clear()


def test_a_refusing_reduction_gives_no_estimate_and_no_error(monkeypatch) -> None:
    import commlb
    from commlb import costs

    red = commlb.get_reduction("disj-to-disjointness", n=4)

    def refusing_encode(self, x, y):
        raise InvalidInputError("not at this size")

    monkeypatch.setattr(type(red), "encode", refusing_encode)
    costs._measured.cache_clear()
    try:
        assert check_task_size("disjointness", 10**9, reduction="disj-to-disjointness") is None
    finally:
        costs._measured.cache_clear()


@pytest.mark.parametrize("error", [TypeError, ValueError])
def test_a_bug_in_a_tasks_length_propagates(monkeypatch, error) -> None:
    import commlb

    task = commlb.get_task("match2")  # a task without a reduction: its own length is asked

    def broken_length(self, n):
        raise error("bug in length")

    monkeypatch.setattr(type(task), "length", broken_length)
    with pytest.raises(error, match="bug in length"):
        check_task_size("match2", 10**9, command="sweep")


# ------------------------------------------------------------------ --no-limit
def test_every_refusal_names_the_value_that_fits_and_the_override() -> None:
    for refuse in (lambda: check_task_size("disjointness", 10**6, command="simulate"),
                   lambda: check_model_size("rnn", 64, hidden=10**6, command="simulate"),
                   lambda: check_repetitions(10**9, 1e-3, "--trials", "random instances", "simulate")):
        with pytest.raises(TooLargeError) as info:
            refuse()
        message = str(info.value)
        assert re.search(r"use --\w+ [\d,]+ or (smaller|fewer), or --no-limit to run it anyway$", message), message


def test_lifted_limits_report_the_estimate_and_go_ahead() -> None:
    from commlb.costs import limits_lifted

    seen: list[str] = []
    with limits_lifted(seen.append):
        length = check_task_size("disjointness", 40_000, command="simulate")
        check_repetitions(10**9, 1e-3, "--trials", "random instances", "simulate")
        check_model_size("rnn", 64, hidden=20_000, command="simulate")  # 3.2 GB of parameters
    assert length is not None and length > MAX_TOKENS
    assert len(seen) == 3
    assert "71,544 tokens" in seen[0] and "~11.6 days" in seen[1] and "2.98 GiB of memory" in seen[2]
    assert all("--no-limit" not in s for s in seen)
    # and outside the block the caps are back
    with pytest.raises(TooLargeError):
        check_task_size("disjointness", 40_000, command="simulate")


def test_lifted_limits_still_refuse_more_memory_than_the_machine_has(monkeypatch) -> None:
    from commlb import costs

    monkeypatch.setattr(costs, "machine_bytes", lambda: float(1 << 30))
    with costs.limits_lifted():
        check_model_size("rnn", 64, hidden=5_000, command="simulate")  # 200 MB: goes ahead
        with pytest.raises(TooLargeError, match="more than the 1 GiB of memory this process can have, even with "
                                                "--no-limit: use --hidden"):
            check_model_size("rnn", 64, hidden=20_000, command="simulate")


def test_no_limit_runs_a_command_past_the_token_cap(capsys) -> None:
    """71,544 tokens is above the 65,536-token cap: refused without the option, run (and
    verified) with it, the estimate printed as a warning."""
    from commlb.cli.main import main

    args = ["simulate", "--task", "disjointness", "--model", "rnn", "--weights", "random", "--hidden", "2",
            "--n", "40000", "--no-effective-bits", "--json"]
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "or --no-limit to run it anyway" in err
    main([*args, "--no-limit"])
    captured = capsys.readouterr()
    assert "warning: --no-limit: going past commlb's limits" in captured.err and "71,544 tokens" in captured.err
    import json

    result = json.loads(captured.out)
    assert result["protocol_matches_forward"] is True and len(result["instance"]["tokens"]) > MAX_TOKENS
