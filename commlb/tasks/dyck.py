"""Bounded Dyck languages Dyck-(k, D) (BHBK24; docs/theory.md §7.3), registered as ``dyck22``
with k = 2 bracket types and depth D = 2 by default.

Tokens: bracket type t ∈ [0, k) opens with id 2t and closes with id 2t + 1, so for k = 2
the ids 0, 1, 2, 3 are "(", ")", "[", "]".  A string is in Dyck-(k, D) iff it is well
balanced (every closing bracket closes the most recent open bracket of the same type and
nothing stays open) and the nesting depth never exceeds D.  The answer (1 = member) is
read at the last position.  [BHBK24's exact depth convention is not known here; here "()"
has depth 1 and "(())" depth 2.]

The language is regular: :meth:`DyckTask.dfa` gives its automaton, whose states are the
stacks of at most D open brackets plus one dead state — 1 + k + … + k^D + 1 states,
8 for Dyck-(2,2).  ``solve`` runs the automaton; :func:`dyck_member_reference` is the
slow, obvious stack version kept for tests.  A constant-size RNN recognises it (BHBK24);
a one-layer transformer needs linear size (``commlb.reductions.dyck``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = ["DyckTask", "DyckDFA", "dyck_dfa", "dyck_member_reference"]


@dataclass(frozen=True, eq=False)
class DyckDFA:
    """Automaton of Dyck-(k, D): ``delta[state, token]`` is the next state, ``accept``
    the accepting states, ``start`` the empty stack, ``dead`` the rejecting sink, and
    ``stacks[state]`` the stack of open bracket types (bottom first) a state stands for
    (``None`` for the dead state)."""

    delta: np.ndarray
    accept: np.ndarray
    start: int
    dead: int
    stacks: tuple[tuple[int, ...] | None, ...]

    @property
    def num_states(self) -> int:
        return len(self.stacks)

    def run(self, tokens: np.ndarray, state: int | None = None) -> int:
        """The state after reading ``tokens`` from ``state`` (default: the start)."""
        s = self.start if state is None else state
        delta = self.delta
        for tok in tokens.tolist():
            s = int(delta[s, tok])
        return s


def dyck_dfa(kinds: int = 2, depth: int = 2) -> DyckDFA:
    """The automaton of Dyck-(kinds, depth) (see :class:`DyckDFA`)."""
    stacks: list[tuple[int, ...] | None] = [()]
    frontier: list[tuple[int, ...]] = [()]
    for _ in range(depth):
        frontier = [s + (t,) for s in frontier for t in range(kinds)]
        stacks.extend(frontier)
    stacks.append(None)
    index = {s: i for i, s in enumerate(stacks)}
    dead = len(stacks) - 1
    delta = np.full((len(stacks), 2 * kinds), dead, dtype=np.int64)
    for s, i in index.items():
        if s is None:
            continue
        for t in range(kinds):
            if len(s) < depth:
                delta[i, 2 * t] = index[s + (t,)]
            if s and s[-1] == t:
                delta[i, 2 * t + 1] = index[s[:-1]]
    accept = np.zeros(len(stacks), dtype=bool)
    accept[index[()]] = True
    return DyckDFA(delta=delta, accept=accept, start=index[()], dead=dead, stacks=tuple(stacks))


def dyck_member_reference(tokens: Any, kinds: int = 2, depth: int = 2) -> int:
    """Slow, obvious membership test (for tests): an explicit stack."""
    stack: list[int] = []
    for tok in [int(t) for t in tokens]:
        kind, closing = divmod(tok, 2)
        if not 0 <= kind < kinds:
            return 0
        if closing:
            if not stack or stack.pop() != kind:
                return 0
        else:
            stack.append(kind)
            if len(stack) > depth:
                return 0
    return int(not stack)


@register_task("dyck22")
class DyckTask(Task):
    """Membership in bounded Dyck-(kinds, depth), default Dyck-(2,2) (BHBK24); ``solve``
    returns 1 for a member, 0 otherwise (the answer at the last position)."""

    name = "dyck22"
    defaults = TaskDefaults("disj-to-dyck", 8, why="DISJ_n as bounded Dyck-(2,2) (docs/theory.md §8.3)")
    description = "bounded Dyck-(2,2): balanced, 2 bracket types, depth <= 2 (BHBK24)"
    output_kind = "binary"

    def __init__(self, kinds: int = 2, depth: int = 2) -> None:
        self.kinds = positive_int(kinds, "kinds", self.name)
        self.depth = positive_int(depth, "depth", self.name)
        self._dfa = dyck_dfa(self.kinds, self.depth)

    def dfa(self) -> DyckDFA:
        return self._dfa

    @property
    def vocab_size(self) -> int:
        return 2 * self.kinds

    def vocab_names(self) -> list[str]:
        pairs = ["()", "[]", "{}", "<>"]
        names: list[str] = []
        for t in range(self.kinds):
            names.extend(pairs[t] if t < len(pairs) else (f"o{t}", f"c{t}"))
        return names

    def open_token(self, kind: int) -> int:
        return 2 * kind

    def close_token(self, kind: int) -> int:
        return 2 * kind + 1

    def length(self, n: int) -> int:
        return positive_int(n, "n", self.name)

    def params(self) -> dict[str, Any]:
        return {"kinds": self.kinds, "depth": self.depth}

    def solve(self, tokens: Any) -> int:
        arr = int_tokens(tokens, self.name)
        check_range(arr, 0, 2 * self.kinds, self.name, "tokens")
        return int(self._dfa.accept[self._dfa.run(arr)])

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """A random member of length n (n even) with probability 1/2, else a random
        member with one token changed (almost always a non-member; odd n never is one)."""
        n = positive_int(n, "n", self.name)
        stack: list[int] = []
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            remaining = n - i
            can_open = len(stack) < self.depth and remaining - 1 >= len(stack) + 1
            can_close = bool(stack)
            if can_open and (not can_close or rng.random() < 0.5):
                kind = int(rng.integers(0, self.kinds))
                stack.append(kind)
                out[i] = 2 * kind
            elif can_close:
                out[i] = 2 * stack.pop() + 1
            else:  # odd length: nothing fits, any token
                out[i] = rng.integers(0, 2 * self.kinds)
        if rng.random() < 0.5:
            i = int(rng.integers(0, n))
            out[i] = (out[i] + rng.integers(1, 2 * self.kinds)) % (2 * self.kinds)
        return out
