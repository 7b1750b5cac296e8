"""The layout of Alice's input: which of her tokens each digit of her input writes.

A reduction writes Alice's input x (``D`` digits in base ``b``, in the digit order of
:class:`~commlb.core.InputSpace`) into tokens.  :func:`alice_layout` finds out how by
encoding probe inputs: for most reductions every Alice token is a function of one digit
(``per_digit``: a table per position), which lets the message sources enumerate all of
Alice's inputs as a tree of digits; otherwise tokens come from ``reduction.encode`` one
input at a time.  It also checks that the split separates the inputs (tokens that depend
on x sit at Alice's positions, tokens that depend on y at Bob's, PUBLIC tokens never
change): otherwise no one-way argument applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, InputSpace, Reduction
from ..errors import InvalidInputError

__all__ = ["AliceLayout", "alice_layout"]


@dataclass(frozen=True, eq=False)
class AliceLayout:
    """How Alice's input (``D`` digits in base ``b``, :class:`InputSpace` order) becomes
    tokens, for a reduction and a split.

    ``per_digit``: every token is ``table[pos, digit_of[pos]-th digit of x]`` (or the
    template token where ``digit_of[pos] = -1``), checked on random inputs; else tokens
    come from ``reduction.encode`` one input at a time."""

    reduction: Reduction
    owner: np.ndarray
    space: InputSpace
    y0: np.ndarray
    template: np.ndarray
    digit_of: np.ndarray
    table: np.ndarray
    per_digit: bool

    @property
    def digits(self) -> int:
        return int(self.space.length)

    @property
    def base(self) -> int:
        return int(self.space.base)

    @property
    def size(self) -> int:
        return int(self.space.base) ** int(self.space.length)

    def inputs(self, digits: np.ndarray) -> np.ndarray:
        """Alice's input vectors for digit rows (they are the same arrays: entry j is digit j)."""
        return np.asarray(digits, dtype=np.int64)

    def tokens(self, digits: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """Token rows (B, len(positions)) for digit rows (B, D)."""
        digits = np.asarray(digits, dtype=np.int64)
        pos = np.arange(self.template.size) if positions is None else np.asarray(positions, dtype=np.int64)
        if self.per_digit:
            out = np.broadcast_to(self.template[pos], (digits.shape[0], pos.size)).copy()
            for k, p in enumerate(pos.tolist()):
                j = int(self.digit_of[p])
                if j >= 0:
                    out[:, k] = self.table[p][digits[:, j]]
            return out
        out = np.empty((digits.shape[0], pos.size), dtype=np.int64)
        for i, row in enumerate(digits):
            out[i] = np.asarray(self.reduction.encode(row, self.y0).tokens, dtype=np.int64)[pos]
        return out


def alice_layout(reduction: Reduction, owner: np.ndarray, *, seed: int = 0) -> AliceLayout:
    """Derive :class:`AliceLayout` by encoding probe inputs, and check that the split
    separates the inputs: tokens that depend on x sit at ALICE positions, tokens that
    depend on y at BOB positions, and PUBLIC tokens never change."""
    problem = reduction.problem
    space = problem.x_space
    owner = np.asarray(owner, dtype=np.int8)
    if space.kind not in ("bits", "function", "index"):
        raise InvalidInputError(f"witness: Alice's input space kind {space.kind!r} is not supported")
    D, base = int(space.length), int(space.base)
    y0 = problem.y_space.from_index(0)
    x0 = np.zeros(D, dtype=np.int64)
    template = np.asarray(reduction.encode(x0, y0).tokens)
    if template.dtype.names or template.ndim != 1 or not np.issubdtype(template.dtype, np.integer):
        raise InvalidInputError("witness: the reduction writes multi-field tokens; only token ids are supported")
    template = template.astype(np.int64)
    if template.size != owner.size:
        raise InvalidInputError(f"split has {owner.size} owners for {template.size} tokens")
    digit_of = np.full(template.size, -1, dtype=np.int64)
    table = np.repeat(template[:, None], base, axis=1)
    per_digit = True
    for j in range(D):
        for v in range(1, base):
            x = x0.copy()
            x[j] = v
            tok = np.asarray(reduction.encode(x, y0).tokens, dtype=np.int64)
            changed = np.flatnonzero(tok != template)
            _check_owned(owner, changed, ALICE, "Alice's input")
            for p in changed.tolist():
                if digit_of[p] not in (-1, j):
                    per_digit = False
                digit_of[p] = j
                table[p, v] = tok[p]
    layout = AliceLayout(reduction, owner, space, y0, template, digit_of, table, per_digit)
    # check on random inputs: the per-digit rule, y-independence of Alice's tokens and
    # x-independence of Bob's
    rng = np.random.default_rng([int(seed), 0xA11CE])
    xs = space.sample(rng, 16)
    ys = problem.y_space.sample(rng, 4)
    for y in ys:
        base_y = np.asarray(reduction.encode(x0, y).tokens, dtype=np.int64)
        _check_owned(owner, np.flatnonzero(base_y != template), BOB, "Bob's input")
        for x in xs[:4]:
            tok = np.asarray(reduction.encode(x, y).tokens, dtype=np.int64)
            mine = np.asarray(reduction.encode(x, y0).tokens, dtype=np.int64)
            if np.any(tok[owner == ALICE] != mine[owner == ALICE]):
                raise InvalidInputError("witness: a token at an Alice position depends on Bob's input")
            if np.any(tok[owner != ALICE] != base_y[owner != ALICE]):
                raise InvalidInputError("witness: a token outside Alice's positions depends on Alice's input")
    if per_digit:
        predicted = layout.tokens(xs)
        for row, x in zip(predicted, xs, strict=True):
            if np.any(row != np.asarray(reduction.encode(x, y0).tokens, dtype=np.int64)):
                per_digit = False
                break
    if not per_digit:
        layout = AliceLayout(reduction, owner, space, y0, template, digit_of, table, False)
    return layout


def _check_owned(owner: np.ndarray, positions: np.ndarray, who: Any, what: str) -> None:
    bad = positions[owner[positions] != who]
    if bad.size:
        raise InvalidInputError(
            f"witness: {what} changes position {int(bad[0])}, which the split gives "
            f"{'PUBLIC' if owner[bad[0]] == PUBLIC else ('Bob' if who is ALICE else 'Alice')}: "
            "the split does not separate the inputs, so no one-way argument applies"
        )
