"""A bug gets a traceback, a user mistake one line: model building and answer decoding
let every error other than the documented user errors propagate."""

from __future__ import annotations

import pytest

from commlb.errors import InvalidInputError
from commlb.models import constructions
from commlb.models.build import build_model
from commlb.setup import resolve_task
from commlb.simulate import simulate_instance


@pytest.fixture
def buggy_construction(monkeypatch):
    """disjointness/rnn served by a builder with a bug inside (a TypeError)."""

    def build(task, n, precision=None):
        return sum([n, None])  # the bug

    monkeypatch.setattr(constructions, "has_construction", lambda task, family: True)
    monkeypatch.setattr(constructions, "get_construction", lambda task, family: build)
    return build


def test_type_error_inside_a_builder_propagates(buggy_construction):
    setup = resolve_task("disjointness", 4)
    with pytest.raises(TypeError, match="unsupported operand"):
        build_model(setup, "rnn")


def test_option_a_builder_does_not_take_is_one_line(buggy_construction):
    setup = resolve_task("disjointness", 4)
    with pytest.raises(InvalidInputError, match=r"disjointness/rnn construction: .*'hidden'.*it takes: task, n, "
                                                r"precision"):
        build_model(setup, "rnn", hidden=3)


def test_error_inside_decode_propagates(monkeypatch):
    setup = resolve_task("disjointness", 4)
    built = build_model(setup, "rnn")

    def decode(output):
        return [][1]  # a bug in a reduction: IndexError

    monkeypatch.setattr(setup.reduction, "decode", decode)
    with pytest.raises(IndexError):
        simulate_instance(setup, built, seed=1, effective=False)


def test_decode_refusing_an_output_counts_the_model_wrong(monkeypatch):
    setup = resolve_task("disjointness", 4)
    built = build_model(setup, "rnn")

    def decode(output):
        raise InvalidInputError("no such answer")

    monkeypatch.setattr(setup.reduction, "decode", decode)
    result = simulate_instance(setup, built, seed=1, effective=False)
    assert result.output is None and result.correct is False
    assert result.protocol_matches_forward
