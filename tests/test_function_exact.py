"""``--function`` expressions are evaluated exactly: random expression trees, with
constants and intermediates far outside int64, against the same expression evaluated
with Python integers (tests/test_hostile_cli.py's reference interpreter)."""

from __future__ import annotations

import ast
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from test_hostile_cli import Unrepresentable, py_eval  # noqa: E402

from commlb.bounds.expression import evaluate_expression  # noqa: E402
from commlb.errors import CommlbError  # noqa: E402

_LEAVES = st.one_of(st.sampled_from(["x", "y", "n"]),
                    st.integers(-(2**70), 2**70).map(lambda v: f"({v})"),
                    st.integers(0, 70).map(str))
_BINARY = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "**"]


def _expr(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _LEAVES
    sub = _expr(depth - 1)
    return st.one_of(
        _LEAVES,
        st.tuples(sub, st.sampled_from(_BINARY), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(sub, min_size=2, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        sub.map(lambda e: f"abs({e})"),
        sub.map(lambda e: f"(-{e})"),
        st.tuples(sub, sub, sub).map(lambda t: f"where({t[0]} > {t[1]}, {t[1]}, {t[2]})"),
    )


def _truth(expr: str, n: int) -> np.ndarray | None:
    tree = ast.parse(expr, mode="eval")
    size = 1 << n
    out = np.empty((size, size), dtype=object)
    try:
        for x in range(size):
            for y in range(size):
                out[x, y] = py_eval(tree, {"x": x, "y": y, "n": n})
    except Unrepresentable:
        return None
    return out


@settings(max_examples=150, deadline=None)
@given(_expr(3))
def test_random_expressions_are_exact_or_refused(expr: str) -> None:
    n = 2
    xs = np.arange(1 << n)[:, None]
    ys = np.arange(1 << n)[None, :]
    truth = _truth(expr, n)
    try:
        got = evaluate_expression(expr, xs, ys, n)
    except CommlbError:
        # refused: right when the truth is undefined (division by zero, a huge power)
        # or lies outside the matrix's value range [-1, 32767]
        if truth is not None:
            values = [int(v) for v in truth.reshape(-1)]
            assert min(values) < -1 or max(values) > 32767, expr
        return
    assert truth is not None, f"{expr}: accepted, but the exact value is undefined or unbounded"
    got = np.broadcast_to(got, (1 << n, 1 << n))
    assert [int(v) for v in got.reshape(-1)] == [int(v) for v in truth.reshape(-1)], expr


@pytest.mark.parametrize("expr,n,values", [
    ("(3**(x+40)) % 7", 3, {1, 2, 3, 4, 5, 6}),
    ("(x << 100) >> 100", 3, set(range(8))),
    ("max(x, 3, x) - x", 2, {0, 1, 2, 3}),
    ("(2**64 + x) % 3", 2, {0, 1, 2}),
    ("abs(-(2**63) + x) % 9", 2, {(2**63 - x) % 9 for x in range(4)}),
])
def test_examples_from_the_issue(expr: str, n: int, values: set[int]) -> None:
    xs = np.arange(1 << n)[:, None]
    ys = np.arange(1 << n)[None, :]
    got = evaluate_expression(expr, xs, ys, n)
    assert {int(v) for v in np.unique(got)} == values


@pytest.mark.parametrize("expr", ["max(x)", "min()", "abs(x, y)", "popcount(x, y)", "bit(x)", "where(x, y)",
                                  "parity()", "9**9**9", "1 << (10**10)", "x << 100"])
def test_refused(expr: str) -> None:
    with pytest.raises(CommlbError):
        evaluate_expression(expr, np.arange(4)[:, None], np.arange(4)[None, :], 2)
