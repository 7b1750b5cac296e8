"""Which lower bound applies to a transcript (docs/theory.md §3.3, §1.1, §4).

Counted bits never include announcing the answer: the party that receives the last
message outputs it.  So

* a **one-way** transcript (every message from Alice, or every message from Bob) is
  compared with the one-way deterministic complexity in that direction (``D→``: n for
  DISJ_n, EQ_n and INDEX_n from Alice to Bob): the receiver must tell apart every
  distinct row (column) of the communication matrix;
* an **interactive** transcript is compared with the two-way deterministic complexity
  minus the announcement (``D − ⌈log2 #outputs⌉``; D counts a last message telling the
  answer to both parties, which these protocols do not send).

Every applicable bound is a valid lower bound; the largest is the one reported
(:func:`chosen_bound`).  Both values are always listed (:func:`lower_bounds_for`), each
with whether it applies and why.  A bound constrains only models that are correct on
*every* input.  A split that gives a party a position the reduction gives the other
(:func:`split_breaks_reduction`) is no protocol for the problem, and no bound applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, BoundKind, KnownBound, Owner, Problem

__all__ = ["BoundEntry", "lower_bounds_for", "chosen_bound", "split_breaks_reduction", "plain_number"]


@dataclass(frozen=True)
class BoundEntry:
    """One literature bound next to a transcript: ``bits`` is the problem's value of that
    kind, ``compare_bits`` the number the transcript's bits are compared with (the same
    for one-way bounds; D minus the announcement for the two-way value)."""

    problem: str
    kind: str
    bits: float | None
    compare_bits: float | None
    formula: str
    citation: str
    applies: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "kind": self.kind, "bits": plain_number(self.bits),
                "compare_bits": plain_number(self.compare_bits), "formula": self.formula,
                "citation": self.citation, "applies": self.applies, "why": self.why}


def plain_number(v: float | None) -> Any:
    """A bit count for JSON and prose: an int when it is whole."""
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _pick(bounds: list[KnownBound], kind: BoundKind) -> KnownBound | None:
    cands = [b for b in bounds if b.kind is kind and b.lower and b.value is not None and not b.asymptotic]
    if not cands:
        return None
    return max(cands, key=lambda b: (b.exact, b.value))


def lower_bounds_for(problem: Problem, senders: set[Owner], rounds: int) -> list[BoundEntry]:
    """The deterministic bounds of ``problem`` next to a transcript whose messages come from
    ``senders``: the one-way values in both directions and the two-way value, each with
    whether it applies and why."""
    label = problem.label()
    bounds = problem.bounds()
    out: list[BoundEntry] = []
    announce = max(1, math.ceil(math.log2(max(2, int(getattr(problem, "num_outputs", 2))))))
    for kind, short, direction, sender in ((BoundKind.ONE_WAY_AB, "one-way A->B", "Alice → Bob", ALICE),
                                           (BoundKind.ONE_WAY_BA, "one-way B->A", "Bob → Alice", BOB)):
        b = _pick(bounds, kind)
        if b is None:
            continue
        applies = senders <= {sender}
        receiver = "Bob" if sender is ALICE else "Alice"
        if not senders:
            why = "no message crosses: a silent protocol is one-way both ways"
        elif applies:
            why = f"every message goes {direction}; {receiver} outputs, as D→ assumes"
        else:
            why = f"not one-way {direction}"
        out.append(BoundEntry(label, short, b.value, b.value, b.formula, b.citation, applies, why))
    det = _pick(bounds, BoundKind.DETERMINISTIC)
    if det is not None and det.value is not None:
        cmp = max(0.0, float(det.value) - announce)
        what = "1 bit" if announce == 1 else f"{announce} bits"
        out.append(BoundEntry(
            label, "two-way", det.value, cmp, f"D = {det.formula}", det.citation, True,
            f"always; D counts announcing the answer ({what}), which is never sent here: D − {announce}"))
    for b in bounds:
        if b.kind is BoundKind.K_ROUND and b.value is not None and b.lower:
            out.append(BoundEntry(label, f"{b.rounds or 'k'}-round", b.value, None, b.formula, b.citation, False,
                                  "round-limited bounds depend on who speaks first; shown for reference"))
    return out


def chosen_bound(entries: list[BoundEntry]) -> BoundEntry | None:
    """The bound a transcript is held to: the largest that applies."""
    usable = [e for e in entries if e.applies and e.compare_bits is not None]
    if not usable:
        return None
    # the largest applicable bound; on a tie prefer the one-way statement (the papers' form)
    return max(usable, key=lambda e: (e.compare_bits, e.kind.startswith("one-way")))


def split_breaks_reduction(reduction_owner: np.ndarray, split_owner: np.ndarray) -> str:
    """Why a split is not a protocol split for the reduction's problem ("" when it is).

    A transcript bounds f(x, y) only if each party sees no more than its reduction role
    allows: split-Alice positions must be the reduction's ALICE or PUBLIC tokens, split-Bob
    positions BOB or PUBLIC, and split-PUBLIC positions PUBLIC (a PUBLIC token is known to
    both)."""
    red = np.asarray(reduction_owner, dtype=np.int8)
    spl = np.asarray(split_owner, dtype=np.int8)
    for who, name in ((ALICE, "Alice"), (BOB, "Bob")):
        bad = np.flatnonzero((spl == who) & (red == who.other))
        if bad.size:
            return (f"the split gives {name} position {int(bad[0])}, which the reduction gives "
                    f"{who.other.name.capitalize()}: not a protocol for the problem, no bound applies")
    bad = np.flatnonzero((spl == PUBLIC) & (red != PUBLIC))
    if bad.size:
        return (f"the split makes position {int(bad[0])} PUBLIC, which depends on "
                f"{Owner(int(red[bad[0]])).name.capitalize()}'s input: not a protocol for the problem, "
                "no bound applies")
    return ""
