"""``assert_consistent``: the whole protocol contract for a (problem, reduction, model, split).

One harness that every task, model family and reduction gets for free (after
Cirq's ``assert_implements_consistent_protocols``).  For each input pair (x, y) — every
pair when there are at most ``samples`` of them, else ``samples`` random pairs — it checks:

1. *soundness*: ``reduction.decode(task.solve(encode(x, y))) == f(x, y)``, and
   *locality*: the reduction's ALICE tokens do not change when only y changes (BOB's when
   only x changes, PUBLIC tokens and the owners never), against a random other input;
2. *faithfulness*: the protocol (run through :func:`commlb.protocol.simulate`, which
   verifies itself) gives the same output as ``model.forward``: bit for bit in fixed
   point; in float mode the simulator's own tolerance check must pass;
3. *honest counting*: each message's bit count is its payload's length, the payload
   matches its field layout, re-encoding the decoded values gives the same payload, and
   the total is the sum of the messages;
4. *the documented formula*: RNN — every message is L·d·p bits and there is one per owner
   change among the non-public positions up to the output; transformer — every query,
   query-token and keys-values message has the size of
   :func:`commlb.protocol.transformer.message_bits` and the total equals the plan's cost
   (the cheaper mode per layer and direction); FFN — one message Alice → Bob of
   :func:`commlb.protocol.ffn.message_bits` bits (none when one party owns nothing);
5. *determinism*: a second run gives a bit-identical transcript;
6. *isolation* (black box): rerun with the *other* party's tokens replaced by those of
   another input; as long as everything a party has received is unchanged, every
   message it sends must be unchanged too.  A party that read a token it does not own
   would show up here;
7. *the bound*: when every pair was checked and the model is correct on all of them, the
   most bits it ever sent are at least every deterministic lower bound that applies to its
   transcripts (:func:`commlb.bounds.applicable.lower_bounds_for`).

Any failure raises ``AssertionError`` naming the pair, the check and the numbers.  The
return value summarises what was checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Owner, Problem, Reduction
from ..errors import EngineError

__all__ = ["assert_consistent", "ConsistencyReport"]


@dataclass(frozen=True)
class ConsistencyReport:
    """What :func:`assert_consistent` checked."""

    pairs: int
    exhaustive: bool
    correct: int
    bits_min: int
    bits_max: int
    senders: tuple[str, ...]
    bound_checked: bool
    bound_bits: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _pairs(problem: Problem, inputs: Iterable[tuple[Any, Any]] | None, samples: int,
           rng: np.random.Generator) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    if inputs is not None:
        return [(np.asarray(x, dtype=np.int64).reshape(-1), np.asarray(y, dtype=np.int64).reshape(-1))
                for x, y in inputs], False
    nx, ny = int(problem.x_space.size), int(problem.y_space.size)
    if nx * ny <= samples:
        xs, ys = problem.x_space.enumerate(), problem.y_space.enumerate()
        pairs = [(xs[i], ys[j]) for i in range(nx) for j in range(ny)]
        keep = [bool(np.asarray(problem.in_promise(x, y))) for x, y in pairs]
        return [p for p, k in zip(pairs, keep) if k], True
    return [problem.sample(rng) for _ in range(samples)], False


def _split_for(split: Any, instance: Any) -> Any:
    from ..protocol.core import Split

    if split is None:
        return Split.from_instance(instance)
    if isinstance(split, Split):
        if len(split) != len(instance):
            raise AssertionError(f"the split has {len(split)} owners but the instance {len(instance)} tokens")
        return split
    return Split.parse(str(split), instance)


def _fail(what: str, x: Any, y: Any, detail: str) -> AssertionError:
    return AssertionError(f"{what} fails at x = {np.asarray(x).tolist()}, y = {np.asarray(y).tolist()}: {detail}")


def _check_counting(transcript: Any, x: Any, y: Any) -> None:
    from ..bits import encode

    total = 0
    for k, m in enumerate(transcript.messages):
        layout = sum(f.nbits for f in m.fields)
        if m.bits != len(m.payload) or m.bits != layout:
            raise _fail("honest counting", x, y, f"message {k} ({m.label}) counts {m.bits} bits, its payload has "
                        f"{len(m.payload)} and its fields {layout}")
        again = encode(m.fields, m.values())
        if not np.array_equal(np.asarray(again.bits), np.asarray(m.payload.bits)):
            raise _fail("honest counting", x, y, f"message {k} ({m.label}) does not re-encode to its payload")
        total += m.bits
    if total != transcript.total_bits:
        raise _fail("honest counting", x, y, f"total {transcript.total_bits} != sum of messages {total}")


def _check_formula(model: Any, split: Any, transcript: Any, length: int, x: Any, y: Any) -> None:
    family = model.family
    msgs = transcript.messages
    if family == "rnn":
        L, d, p = int(model.config["layers"]), int(model.config["hidden"]), model.precision.bits
        last = int(np.max(model.output_positions(length)))
        private = split.owner[: last + 1]
        private = private[private != PUBLIC]
        handoffs = int(np.count_nonzero(private[1:] != private[:-1])) if private.size else 0
        if len(msgs) != handoffs:
            raise _fail("RNN formula", x, y, f"{len(msgs)} messages for {handoffs} owner changes")
        for m in msgs:
            if m.bits != L * d * p:
                raise _fail("RNN formula", x, y,
                            f"message {m.label} has {m.bits} bits, L·d·p = {L}·{d}·{p} = {L * d * p}")
        return
    if family == "transformer":
        from ..protocol.transformer import message_bits, plan_transformer

        for m in msgs:
            kind = m.label.split(" ")[0]
            if kind in ("query", "query-token", "keys-values"):
                count = int(m.fields[0].shape[0])
                want = message_bits(model, kind, count)
                if m.bits != want:
                    raise _fail("transformer formula", x, y, f"{m.label}: {m.bits} bits, formula {want}")
            elif kind != "partial-sums":
                raise _fail("transformer formula", x, y, f"unknown message kind {m.label!r}")
        plan = plan_transformer(model, split)
        want_total = sum(d.cost_query_answer if d.mode == "query-answer" else d.cost_keys_values
                         for d in plan.directions)
        if transcript.total_bits != want_total:
            raise _fail("transformer formula", x, y,
                        f"{transcript.total_bits} bits, the plan's cost "
                        f"(cheaper mode per layer/direction) {want_total}")
        return
    if family == "ffn":
        from ..protocol.ffn import message_bits as ffn_message_bits

        want = ffn_message_bits(model, split)
        if want == 0:
            if msgs:
                raise _fail("FFN formula", x, y, f"{len(msgs)} messages where one party owns nothing")
            return
        if len(msgs) != 1 or msgs[0].sender is not ALICE or msgs[0].bits != want:
            got = [(m.sender.name, m.bits) for m in msgs]
            raise _fail("FFN formula", x, y, f"expected one message Alice → Bob of {want} bits, got {got}")
        return
    raise AssertionError(f"no documented bit formula for model family {family!r}")


def _check_locality(reduction: Reduction, instance: Any, x: Any, y: Any, ox: Any, oy: Any) -> None:
    """The reduction's owners are respected: ALICE tokens do not move when only y changes,
    BOB tokens not when only x changes, PUBLIC tokens never, and the owners are fixed."""
    def same(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> bool:
        # raw bytes: exact for integer tokens and for multi-field (structured) tokens alike
        return np.asarray(a)[where].tobytes() == np.asarray(b)[where].tobytes()

    owner = instance.owner
    for changed, (cx, cy) in (("y", (x, oy)), ("x", (ox, y))):
        try:
            if not bool(np.asarray(reduction.problem.in_promise(cx, cy))):
                continue
        except (ValueError, TypeError):
            continue
        other = reduction.encode(cx, cy)
        if not np.array_equal(other.owner, owner):
            raise _fail("locality", x, y, f"the owners change when only {changed} changes")
        keep = ALICE if changed == "y" else BOB
        for who in (keep, PUBLIC):
            where = owner == who
            if not same(instance.tokens, other.tokens, where):
                pos = int(np.flatnonzero(where)[0])
                raise _fail("locality", x, y, f"a {Owner(who).name} token (positions from {pos}) changes when "
                            f"only {changed} changes")


def _check_isolation(model: Any, tokens: np.ndarray, other_tokens: np.ndarray, split: Any,
                     transcript: Any, x: Any, y: Any) -> None:
    """Replace the tokens of each party Q by those of another input; the messages of the
    other party P must not change until P has received something different."""
    from ..protocol import simulate

    for changed in (ALICE, BOB):
        hybrid = np.array(tokens, copy=True)
        mask = split.owner == changed
        if not np.any(mask) or np.array_equal(hybrid[mask], other_tokens[mask]):
            continue
        hybrid[mask] = other_tokens[mask]
        try:
            alt, _ = simulate(model, hybrid, split, verify=True)
        except EngineError as exc:
            raise _fail("faithfulness (isolation rerun)", x, y, str(exc)) from None
        steady = changed.other  # the party whose tokens stayed
        received_same = True
        for k, (a, b) in enumerate(zip(transcript.messages, alt.messages)):
            if a.sender is steady and received_same:
                if a.label != b.label or a.bits != b.bits or not np.array_equal(
                        np.asarray(a.payload.bits), np.asarray(b.payload.bits)):
                    raise _fail("isolation", x, y,
                                f"{steady.name}'s message {k} ({a.label}) changed when only "
                                f"{changed.name}'s tokens changed and {steady.name} had received the same messages")
            if a.receiver is steady and not np.array_equal(np.asarray(a.payload.bits), np.asarray(b.payload.bits)):
                received_same = False
        if received_same and len(alt.messages) != len(transcript.messages):
            raise _fail("isolation", x, y, "the number of messages depends on a party's private tokens")


def assert_consistent(problem: Problem | None, reduction: Reduction, model: Any, split: Any = None, *,
                      inputs: Sequence[tuple[Any, Any]] | None = None, samples: int = 64, seed: int = 0,
                      check_isolation: bool = True) -> ConsistencyReport:
    """Check the protocol contract for ``model`` on ``reduction``'s instances (see the
    module docstring).  ``problem`` defaults to ``reduction.problem`` (and must agree
    with it); ``split`` is None (the reduction's owners), a spec for
    :meth:`~commlb.protocol.core.Split.parse` or a :class:`~commlb.protocol.core.Split`.
    Raises ``AssertionError`` on the first failure."""
    from ..bounds.applicable import lower_bounds_for
    from ..models.build import model_tokens
    from ..protocol import simulate

    problem = reduction.problem if problem is None else problem
    if problem is not reduction.problem and problem.params() != reduction.problem.params():
        raise AssertionError(f"problem {problem!r} is not the reduction's problem {reduction.problem!r}")
    rng = np.random.default_rng(seed)
    pairs, exhaustive = _pairs(problem, inputs, samples, rng)
    if not pairs:
        raise AssertionError("no input pairs to check")
    correct = 0
    bits: list[int] = []
    senders: set[Owner] = set()
    rounds = 0
    for x, y in pairs:
        instance = reduction.encode(x, y)
        # multi-field tokens (qSA) go through the construction's token-wise encoder
        tokens = model_tokens(reduction.task.name, model, instance.tokens)
        expected_truth = reduction.task.solve(instance.tokens)
        expected = int(np.asarray(problem.evaluate(x, y)).reshape(-1)[0])
        solved = reduction.decode(expected_truth)
        if int(solved) != expected:
            raise _fail("soundness", x, y, f"decode(task.solve(tokens)) = {solved}, f(x, y) = {expected}")
        sp = _split_for(split, instance)
        try:
            transcript, out = simulate(model, tokens, sp, verify=True)
        except EngineError as exc:
            raise _fail("faithfulness", x, y, str(exc)) from None
        reference = model.forward(tokens)
        if model.precision.is_fixed and not out.same_bits(reference):
            raise _fail("faithfulness", x, y, f"protocol {out.values.tolist()} != forward {reference.values.tolist()}")
        if not transcript.meta.get("protocol_matches_forward", False):
            raise _fail("faithfulness", x, y, "the simulator did not record its verification")
        _check_counting(transcript, x, y)
        _check_formula(model, sp, transcript, len(tokens), x, y)
        again, _ = simulate(model, tokens, sp, verify=False)
        if again.fingerprint() != transcript.fingerprint():
            raise _fail("determinism", x, y, "two runs gave different transcripts")
        ox, oy = problem.sample(rng)
        _check_locality(reduction, instance, x, y, ox, oy)
        if check_isolation:
            other = model_tokens(reduction.task.name, model, reduction.encode(ox, oy).tokens)
            _check_isolation(model, np.asarray(tokens), np.asarray(other), sp, transcript, x, y)
        try:
            answer = int(reduction.decode(out.decision))
        except (ValueError, IndexError, TypeError):
            answer = None
        correct += int(answer == expected)
        bits.append(transcript.total_bits)
        senders |= {m.sender for m in transcript.messages}
        rounds = max(rounds, transcript.rounds)

    bound_checked = False
    bound_bits = None
    notes: list[str] = []
    if exhaustive and correct == len(pairs):
        entries = [(e, e.compare_bits) for e in lower_bounds_for(problem, senders, rounds)
                   if e.applies and e.compare_bits is not None]
        for e, need in entries:
            if max(bits) < need:
                raise AssertionError(
                    f"the bound fails: the model is correct on all {len(pairs)} pairs but sends at most {max(bits)} "
                    f"bits, below the {e.kind} bound {need} of {e.problem} ({e.why})")
        if entries:
            bound_checked = True
            bound_bits = max(need for _, need in entries)
    elif not exhaustive:
        notes.append("sampled pairs: the lower-bound check needs every pair")
    else:
        notes.append(f"the model errs on {len(pairs) - correct} of {len(pairs)} pairs: no bound applies to it")
    return ConsistencyReport(len(pairs), exhaustive, correct, min(bits), max(bits),
                             tuple(sorted(s.name.lower() for s in senders)), bound_checked, bound_bits, tuple(notes))
