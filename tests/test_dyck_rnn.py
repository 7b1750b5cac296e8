"""The constant-size Dyck-(2,2) RNN (BHBK24): correct on every string (a bisimulation with
the stack semantics, plus exhaustive enumeration up to length 8), on >= 1000 random
balanced and unbalanced strings at n = 16, 64, 256, 1024, with a size that does not
depend on n; its prefix-cut protocol sends L·d·p bits at every n."""

import itertools

import numpy as np
import pytest

from commlb.bits import Precision
from commlb.core import ALICE, PUBLIC
from commlb.errors import InvalidInputError
from commlb.models.constructions import get_construction
from commlb.models.constructions.dyck_rnn import build
from commlb.protocol.core import Split
from commlb.protocol.rnn import expected_bits, simulate_rnn
from commlb.tasks.dyck import DyckTask, dyck_member_reference

SIZES = (16, 64, 256, 1024)
#: the construction's size, the same at every n: d = 12 units, L = 1 layer, p = 2 bits
D, L, P = 12, 1, 2


def run_batch(model, strings):
    """Decisions of ``model`` on equal-length token rows via the batched step (the same
    arithmetic as forward, :meth:`RNNModel.step_batch`)."""
    rows = np.asarray(strings, dtype=np.int64)
    states = np.repeat(model.initial_state()[None], rows.shape[0], axis=0)
    for i in range(rows.shape[1]):
        states, _ = model.step_batch(states, rows[:, i])
    values = np.array([model.readout(s)[0] for s in states])
    return (values[:, 0] > 0).astype(np.int64), values


def _stack_key(tokens, kinds, depth):
    """The stack after ``tokens`` (None once invalid): the slow semantics, incrementally."""
    stack = []
    for tok in tokens:
        kind, closing = divmod(int(tok), 2)
        if closing:
            if not stack or stack.pop() != kind:
                return None
        else:
            stack.append(kind)
            if len(stack) > depth:
                return None
    return tuple(stack)


@pytest.mark.parametrize("kinds,depth", [(2, 2), (1, 3), (3, 2)])
def test_bisimulation_with_the_stack_semantics(kinds, depth):
    """Breadth-first over reachable (RNN state, stack) pairs: the RNN state determines the
    stack (or 'invalid'), the read-out says 'member' exactly at the empty stack, and
    every token keeps the correspondence.  This covers strings of every length."""
    task = DyckTask(kinds, depth)
    model = build(task, 8)
    start = model.initial_state()
    seen = {}
    frontier = [(start, ())]
    seen[start.tobytes()] = ()
    while frontier:
        nxt = []
        for state, stack in frontier:
            member = int(model.readout(state)[0][0] > 0)
            assert member == int(stack == ()), (stack, state)
            for tok in range(2 * kinds):
                new, sat = model.step(state, tok)
                assert sat == 0
                if stack is None:
                    new_stack = None
                else:
                    kind, closing = divmod(tok, 2)
                    if closing:
                        new_stack = stack[:-1] if stack and stack[-1] == kind else None
                    else:
                        new_stack = stack + (kind,) if len(stack) < depth else None
                key = new.tobytes()
                if key in seen:
                    assert seen[key] == new_stack, "one RNN state stands for two different stacks"
                    continue
                seen[key] = new_stack
                nxt.append((new, new_stack))
        frontier = nxt
    # every stack of depth <= D and the invalid state are reached; the RNN states are the
    # live transitions (one unit on) plus "all off" for the invalid state
    stacks = {()} | {s for k in range(1, depth + 1) for s in itertools.product(range(kinds), repeat=k)}
    assert set(seen.values()) == stacks | {None}
    assert len(stacks) + 1 == task.dfa().num_states
    assert len(seen) == model.config["transition_units"] + 1 == model.hidden + 1
    assert all(int(np.count_nonzero(s)) == int(st is not None) for s, st in
               ((np.frombuffer(k, dtype=np.int64), v) for k, v in seen.items()))


def test_all_strings_up_to_length_8():
    task = DyckTask()
    model = build(task, 8)
    total = 0
    for length in range(1, 9):
        strings = np.array(list(itertools.product(range(4), repeat=length)), dtype=np.int64)
        got, _ = run_batch(model, strings)
        want = np.array([dyck_member_reference(s) for s in strings])
        assert np.array_equal(got, want)
        total += len(strings)
        if length <= 5:  # the plain forward pass on every short string
            assert all(model.forward(s).decision == w for s, w in zip(strings, want))
    assert total == sum(4**k for k in range(1, 9))


def _balanced_walk(rng, n, max_depth):
    """A random balanced string of even length n with depth <= max_depth (depth 3 makes
    balanced strings outside Dyck-(2,2))."""
    out, stack = [], []
    for i in range(n):
        remaining = n - i
        can_open = len(stack) < max_depth and remaining - 1 >= len(stack) + 1
        if stack and (not can_open or rng.random() < 0.5):
            out.append(2 * stack.pop() + 1)
        else:
            kind = int(rng.integers(0, 2))
            stack.append(kind)
            out.append(2 * kind)
    return out


@pytest.mark.parametrize("n", SIZES)
def test_random_strings_at_every_size(n):
    task = DyckTask()
    model = build(task, n)
    rng = np.random.default_rng(n)
    strings = [task.generate(rng, n) for _ in range(600)]
    strings += [_balanced_walk(rng, n, 2) for _ in range(150)]  # members
    strings += [_balanced_walk(rng, n, 3) for _ in range(150)]  # balanced, mostly too deep
    strings += [rng.integers(0, 4, n) for _ in range(100)]  # uniform: non-members
    rows = np.array(strings, dtype=np.int64)
    got, values = run_batch(model, rows)
    want = np.array([dyck_member_reference(s) for s in rows])
    assert np.array_equal(want, [task.solve(s) for s in rows])
    assert np.array_equal(got, want)
    assert len(rows) >= 1000 and want.sum() >= 300 and (1 - want).sum() >= 300
    # forward itself on a sample agrees bit for bit with the batched run
    for k in rng.choice(len(rows), 25, replace=False):
        out = model.forward(rows[k])
        assert out.decision == want[k] and np.array_equal(out.values[0], values[k])
        assert out.saturations == 0


def test_size_is_constant_in_n():
    task = DyckTask()
    models = [build(task, n) for n in SIZES + (4096,)]
    for m in models:
        assert (m.hidden, m.layers, m.precision.bits) == (D, L, P)
        assert m.state_bits() == L * D * P == 24
        assert m.num_params() == models[0].num_params()
        for name, arr in m.params.items():
            assert np.array_equal(arr, models[0].params[name])


@pytest.mark.parametrize("n", SIZES)
def test_prefix_cut_protocol_carries_a_constant(n):
    task = DyckTask()
    model = build(task, n)
    rng = np.random.default_rng(100 + n)
    bits = set()
    for trial in range(6):
        tokens = task.generate(rng, n) if trial % 2 else np.array(_balanced_walk(rng, n, 2))
        k = int(rng.integers(1, n))
        transcript, out = simulate_rnn(model, tokens, Split.prefix(n, k))
        assert transcript.rounds == 1 and transcript.one_way and len(transcript.messages) == 1
        assert transcript.messages[0].sender == ALICE
        assert transcript.total_bits == L * D * P == expected_bits(model, Split.prefix(n, k))
        assert out.decision == task.solve(tokens)
        assert transcript.meta["protocol_matches_forward"] is True
        bits.add(transcript.total_bits)
    assert bits == {24}


def test_more_layers_double_the_message_and_interleave_pays_per_handoff():
    task = DyckTask()
    rng = np.random.default_rng(5)
    two = build(task, 64, layers=2)
    tokens = np.array(_balanced_walk(rng, 64, 2))
    transcript, out = simulate_rnn(two, tokens, Split.prefix(64, 30))
    assert transcript.total_bits == 2 * L * D * P and out.decision == 1
    one = build(task, 64)
    owner = np.full(64, PUBLIC, dtype=np.int8)
    owner[:40] = ALICE
    split = Split.interleave(owner)  # 40 alternating private positions, then PUBLIC
    transcript, out = simulate_rnn(one, tokens, split)
    assert transcript.total_bits == 39 * D * P and out.decision == task.solve(tokens)


def test_options_and_other_precisions():
    task = DyckTask()
    rng = np.random.default_rng(8)
    rows = np.array([task.generate(rng, 32) for _ in range(200)])
    want = np.array([task.solve(r) for r in rows])
    variants = [
        build(task, 32, hidden=20),
        build(task, 32, layers=3),
        build(task, 32, precision=Precision.fixed(16)),
        build(task, 32, precision=Precision.fixed(8, 6)),
        build(task, 32, precision=Precision.float_(4)),
        build(task, 32, precision=Precision.float_(16), seed=123, heads=None),
    ]
    for model in variants:
        got, _ = run_batch(model, rows)
        assert np.array_equal(got, want), model.describe()
    assert variants[0].hidden == 20 and variants[1].state_bits() == 3 * D * P
    with pytest.raises(InvalidInputError, match="hidden >= 12"):
        build(task, 32, hidden=11)
    with pytest.raises(InvalidInputError, match="fractional bits"):
        build(task, 32, precision=Precision.fixed(8, 7))
    with pytest.raises(InvalidInputError, match="no option"):
        build(task, 32, width=4)
    with pytest.raises(InvalidInputError, match="layers"):
        build(task, 32, layers=0)


def test_registered_as_the_dyck22_rnn_construction():
    assert get_construction("dyck22", "rnn") is build
