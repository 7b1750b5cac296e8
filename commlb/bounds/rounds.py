"""Round-aware bounds next to a transcript: which apply with the rounds it actually has
and the direction its messages actually take (docs/theory.md §10.2, §6.9, §10.4).

Output convention (one, everywhere in commlb, docs/theory.md §1.1): the party that
receives the last message outputs; the answer is never sent.  A transcript's **pattern**
is its direction sequence: silent, one-way Alice → Bob, one-way Bob → Alice, or two-way
with r rounds (a round is a maximal run of messages from one party) and a first speaker.

For two-party pointer chasing PC(n, k) (f_1 = f_A is Alice's), :func:`round_bounds` lists

* the **cheap protocol** (upper bound, exact): k − 1 rounds with Alice first, or k with Bob
  first, suffice for (k − 1)·⌈log2 n⌉ bits.  A transcript with that many rounds is in the
  regime where no round lower bound applies, and its bits are set against that protocol;
* the **round lower bounds** of Nisan–Wigderson 1993 (deterministic Ω(n − k log n),
  randomized Ω(n/k² − k log n)), shifted to the receiver-outputs convention: they apply
  when Bob speaks first with at most k − 1 rounds, or Alice first with at most k − 2.
  Asymptotic only: the entry says whether the transcript is in their regime, and is
  never evaluated at a finite n;
* where the transcript is one-way (at most one round) and the matrix is small
  (n^n ≤ 256), the **exact one-way complexity** in the transcript's direction (the
  distinct rows or columns of PC's matrix, docs/theory.md §5.3), held against the bits
  sent — a deterministic, exact-correctness bound.

For pointer chasing on permutations (pc-perm, SHT24's block layout) the round/size
trade-off is a k-player blackboard statement (R ≥ k rounds or messages of Ω(q/k⁵) bits,
SHT24 Prop. E.3–E.4; asymptotic only): the entry reports the transcript's two-party
rounds next to k and never a bit bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RoundBound", "RoundReport", "transcript_pattern", "round_bounds", "EXACT_ONE_WAY_MAX_ROWS"]

#: largest n^n for which the exact one-way complexity of PC(n, k) is computed here
EXACT_ONE_WAY_MAX_ROWS = 256


@dataclass(frozen=True)
class RoundBound:
    """One round-aware statement next to a transcript."""

    statement: str
    kind: str  # "upper bound", "deterministic, r rounds", "randomized, r rounds", ...
    source: str
    status: str  # proved / derived here / exact, computed here / asymptotic only / upper bound
    applies: bool
    why: str
    bits: int | None = None  # the exact value where one is computed
    compare_bits: int | None = None  # the transcript's bits it is held against
    meets: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RoundReport:
    problem: str
    pattern: str
    rounds: int
    first: str | None
    bits: int
    convention: str = "the receiver of the last message outputs; the answer is never sent (docs/theory.md §1.1)"
    entries: list[RoundBound] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "pattern": self.pattern, "rounds": self.rounds, "first": self.first,
                "bits": self.bits, "convention": self.convention, "entries": [e.to_json() for e in self.entries]}


def transcript_pattern(transcript: Any) -> tuple[str, int, str | None]:
    """(pattern, rounds, first speaker) of a transcript, from its messages in order."""
    msgs = list(transcript.messages)
    if not msgs:
        return "silent (no message crosses)", 0, None
    order = [m.sender.name.lower() for m in msgs]
    rounds = 1 + sum(1 for a, b in zip(order, order[1:]) if a != b)
    first = order[0]
    if rounds == 1:
        return ("one-way Alice -> Bob" if first == "alice" else "one-way Bob -> Alice"), 1, first
    return f"two-way, {rounds} rounds, {first.capitalize()} first", rounds, first


def round_bounds(problem: Any, transcript: Any, erred: bool = False) -> RoundReport | None:
    """The round-aware bounds of ``problem`` next to ``transcript`` (None for a problem
    without any: only pointer chasing has round-limited bounds here).  ``erred``: the
    model answered some input wrongly, so no exact-correctness bound applies to it."""
    name = getattr(problem, "name", "")
    if name not in ("pc", "pc-perm"):
        return None
    pattern, rounds, first = transcript_pattern(transcript)
    bits = int(transcript.total_bits)
    report = RoundReport(problem.label(), pattern, rounds, first, bits)
    if name == "pc":
        report.entries = _pc_entries(problem, rounds, first, bits, transcript, erred)
    else:
        report.entries = [_blackboard_entry(problem, rounds)]
    return report


def _pc_entries(problem: Any, rounds: int, first: str | None, bits: int, transcript: Any,
                erred: bool) -> list[RoundBound]:
    n, k = int(problem.n), int(problem.k)
    log_n = max(1, math.ceil(math.log2(n))) if n > 1 else 0
    cheap = (k - 1) * log_n
    enough = k - 1 if first in (None, "alice") else k  # rounds the cheap protocol needs with this starter
    out: list[RoundBound] = []
    starter = "Alice" if first in (None, "alice") else "Bob"
    if rounds >= enough:
        why = (f"{_rounds(rounds)} with {starter} first >= {enough}: the chase fits in the rounds, "
               f"so no round lower bound applies; this transcript sent {bits} bits, "
               f"{_ratio(bits, cheap)} the cheap protocol's {cheap}")
    else:
        why = f"{_rounds(rounds)} with {starter} first < {enough}: too few rounds for this protocol"
    out.append(RoundBound(
        f"PC(n, k) in k - 1 rounds, Alice first (k rounds Bob first): (k - 1)*ceil(log2 n) = {cheap} bits",
        "upper bound (deterministic, exact)",
        "Alice sends v_1, Bob v_2, ...; the receiver of v_(k-1) computes v_k",
        "derived here (docs/theory.md §10.2)", rounds >= enough, why, cheap, bits, None))
    limit = k - 1 if first == "bob" else k - 2
    regime = first is not None and rounds <= limit
    if first is None:
        why_lb = "no message crosses: a silent protocol outputs without communicating"
    elif regime:
        why_lb = (f"{_rounds(rounds)} with {starter} first <= {limit}: in the regime of the bound; asymptotic "
                  f"only, so not evaluated at n = {n}, k = {k} (n - k*log2 n = {n - k * math.log2(n):.3g} "
                  f"is no bit count)")
    else:
        why_lb = (f"{_rounds(rounds)} with {starter} first > {limit}: outside the regime "
                  f"(at most {limit} round{'s' if limit != 1 else ''} with {starter} first)")
    src = "Nisan–Wigderson 1993 (k rounds when the answer is the last message)"
    status = "asymptotic only (round shift derived here, docs/theory.md §10.2)"
    out.append(RoundBound(
        "Omega(n - k log n) bits for at most k - 1 rounds with Bob first (k - 2 with Alice first)",
        "deterministic, round-limited", src, status, regime, why_lb))
    out.append(RoundBound(
        "Omega(n/k^2 - k log n) bits, same rounds, error <= 1/3 on every input",
        "randomized, round-limited", src, status, regime,
        why_lb + ("; a deterministic model that errs is covered only by distributional bounds" if regime else "")))
    exact = _exact_one_way(problem, rounds, first, bits, transcript, erred)
    if exact is not None:
        out.append(exact)
    return out


def _exact_one_way(problem: Any, rounds: int, first: str | None, bits: int, transcript: Any,
                   erred: bool) -> RoundBound | None:
    """The exact one-way complexity of PC(n, k) in the transcript's direction, for a
    one-way transcript of a small instance (docs/theory.md §5.3)."""
    n = int(problem.n)
    if rounds != 1 or n ** n > EXACT_ONE_WAY_MAX_ROWS:
        return None
    from .matrix import matrix_from_problem
    from .oneway import one_way

    res = one_way(matrix_from_problem(problem))
    alice = first == "alice"
    value = res.alice_to_bob if alice else res.bob_to_alice
    sent = int(transcript.bits_alice_to_bob if alice else transcript.bits_bob_to_alice)
    direction = "Alice -> Bob" if alice else "Bob -> Alice"
    count = res.distinct_rows if alice else res.distinct_cols
    what = "rows" if alice else "columns"
    why = (f"the transcript is one-way {direction}: the receiver must tell apart the {count} distinct {what} "
           f"of the {n ** n} x {n ** n} matrix; it sent {sent} bits"
           + ("" if sent >= value else f" < {value}, so it answers some input wrongly"))
    if erred:
        why = (f"the model answered wrongly, and D^({direction}) = {value} bounds protocols correct on every "
               "input only")
    return RoundBound(f"D^({direction})({problem.label()}) = ceil(log2 {count}) = {value}",
                      f"deterministic, one round ({direction})", "Kushilevitz–Nisan 1997, §4.2",
                      "exact, computed here (docs/theory.md §5.3)", not erred, why, value, sent,
                      None if erred else sent >= value)


def _blackboard_entry(problem: Any, rounds: int) -> RoundBound:
    k = int(problem.k)
    enough = rounds >= k
    why = (f"this two-party transcript has {rounds} rounds, k = {k}: the statement is about k-player "
           "blackboard rounds (players P_k, ..., P_1 in order), and it bounds message size only "
           "asymptotically; commlb compares rounds, never bits (docs/theory.md §10.4)")
    return RoundBound("R >= k rounds or messages of Omega(q/k^5) bits ((q, k) pointer chasing on matchings)",
                      "randomized, k-player blackboard, round/size trade-off",
                      "Assadi–N 2021 Prop. 4.12 = SHT24 Prop. E.3, E.4",
                      "asymptotic only", False, why + ("" if enough else "; fewer two-party rounds than k"))


def _rounds(r: int) -> str:
    return f"{r} round{'s' if r != 1 else ''}"


def _ratio(bits: int, cheap: int) -> str:
    if cheap <= 0:
        return "against 0 bits for"
    return f"{bits / cheap:.3g} x"
