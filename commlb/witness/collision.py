"""From two inputs with equal keys to a proved witness.

:func:`find_pair` walks the runs of equal keys and returns the first pair x ≠ x' whose
messages are equal (rows compared when keys are hashes) and a Bob input y with
f(x, y) ≠ f(x', y), both inside the promise (for INDEX a position where x and x' differ;
in general an exhaustive or sampled search over Bob's inputs).  :func:`prove` runs both
full inputs through ``model.forward`` (the plain forward pass, not the protocol) and
through the protocol engine: the two messages must be bit-identical and the outputs
equal, and since f differs the model is wrong on one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EngineError, InvalidInputError
from .sources import MessageSource, engine_run

__all__ = ["Collision", "find_pair", "prove"]


def _distinguishing_y(problem: Any, x: np.ndarray, x2: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A Bob input y with f(x, y) != f(x', y), both inside the promise: every y when Bob
    has at most 2^16 inputs, else natural candidates (for INDEX the differing positions;
    x, x', unit vectors at differing positions, their complements) then 2^14 random y."""
    ys = problem.y_space
    if ys.size <= 1 << 16:
        cands = ys.enumerate()
    else:
        diff = np.flatnonzero(x != x2)
        cand = []
        if ys.kind == "bits" and ys.length == x.size:
            for j in diff.tolist()[:64]:
                e = np.zeros(ys.length, dtype=np.int64)
                e[j] = 1
                cand += [e, 1 - e]
            cand += [x.copy(), x2.copy(), 1 - x, 1 - x2]
        cands = np.vstack(cand + [ys.sample(rng, 1 << 14)]) if cand else ys.sample(rng, 1 << 14)
    for lo in range(0, cands.shape[0], 1 << 14):
        block = cands[lo:lo + (1 << 14)]
        a = np.asarray(problem.evaluate(x[None, :], block))
        b = np.asarray(problem.evaluate(x2[None, :], block))
        ok = np.asarray(problem.in_promise(x[None, :], block)) & np.asarray(problem.in_promise(x2[None, :], block))
        hit = np.flatnonzero((a != b) & ok)
        if hit.size:
            return block[hit[0]].astype(np.int64)
    return None


@dataclass
class Collision:
    x: np.ndarray
    x2: np.ndarray
    y: np.ndarray


def find_pair(source: MessageSource, digits_of: Callable[[np.ndarray], np.ndarray], order: np.ndarray,
               starts: np.ndarray, lengths: np.ndarray, rng: np.random.Generator,
               max_pairs: int = 2000) -> tuple[Collision | None, int]:
    """The first pair in a run of equal keys with equal messages and a distinguishing y.

    Tries the first input of each run against up to 32 others, at most ``max_pairs``
    pairs in all; returns (pair or None, number of pairs tried)."""
    problem = source.layout.reduction.problem
    tried = 0
    for s, n in zip(starts[lengths > 1].tolist(), lengths[lengths > 1].tolist(), strict=True):
        members = order[s:s + min(n, 33)]
        digits = digits_of(members)
        rows = None if source.exact_keys else source.rows(digits)
        for i in range(1, digits.shape[0]):
            if rows is not None and not np.array_equal(rows[0], rows[i]):
                continue
            x, x2 = digits[0].astype(np.int64), digits[i].astype(np.int64)
            y = problem.separating_y(x, x2)
            if y is None:
                y = _distinguishing_y(problem, x, x2, rng)
            tried += 1
            if y is not None:
                return Collision(x, x2, y), tried
            if tried >= max_pairs:
                return None, tried
    return None, tried


def prove(source: MessageSource, model: Any, split: Any, pair: Collision) -> dict[str, Any]:
    """Run both full inputs through the plain forward pass and the engine; check the
    messages are bit-identical and the outputs equal, and read off the true answers."""
    red = source.layout.reduction
    problem = red.problem
    inst = [red.encode(pair.x, pair.y), red.encode(pair.x2, pair.y)]
    outs = [model.forward(np.asarray(i.tokens)) for i in inst]
    trs = [engine_run(model, i.tokens, split, verify=True) for i in inst]
    pay = [np.concatenate([m.payload.bits for m in t.messages]) for t in trs]
    identical = bool(pay[0].shape == pay[1].shape and np.array_equal(pay[0], pay[1]))
    if not identical:
        raise EngineError("witness: the engine's messages for the colliding inputs differ (kernel bug)")
    same_out = outs[0].same_bits(outs[1])
    if not same_out:
        raise EngineError("witness: equal one-way messages gave different outputs (engine bug)")
    answers: list[int | None] = []
    for o in outs:
        try:
            answers.append(int(red.decode(o.decision)))
        except InvalidInputError:  # the reduction refuses the output: no valid answer
            answers.append(None)
    expected = [int(np.asarray(problem.evaluate(pair.x, pair.y)).reshape(-1)[0]),
                int(np.asarray(problem.evaluate(pair.x2, pair.y)).reshape(-1)[0])]
    wrong = [name for name, a, e in zip(("x", "x'"), answers, expected, strict=True) if a != e]
    if not wrong:
        raise EngineError("witness: equal answers on inputs with different truths, yet none is wrong")
    msg = trs[0].messages
    return {
        "sequences": [np.asarray(i.tokens).astype(np.int64).tolist() for i in inst],
        "owners": np.asarray(source.layout.owner).astype(int).tolist(),
        "outputs": answers,
        "output_values": [np.asarray(o.values).tolist() for o in outs],
        "expected": expected,
        "wrong_on": wrong,
        "messages_identical": identical,
        "outputs_identical": bool(same_out),
        "message": {
            "labels": [m.label for m in msg],
            "bits": int(sum(m.bits for m in msg)),
            "payload_hex": "".join(m.payload.hex() for m in msg),
            "values": {f"{m.label}:{k}": np.asarray(v).tolist() for m in msg for k, v in m.values().items()},
        },
    }
