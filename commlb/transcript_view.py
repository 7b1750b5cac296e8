"""A transcript as a reader follows it: each message numbered, its values as numbers,
what each party has read of the input so far, and one line in plain words on what the
message is.

Text and arithmetic only (no rendering): the command line and ``--json`` both read it.

*Values as numbers.*  A ``fixed`` or ``acc`` field holds integers with ``frac``
fractional bits: the number is the integer divided by ``2^frac`` (exact in binary
floating point for the widths used here).  ``int``/``uint``/``bool`` fields are numbers
already; ``float`` fields decode to their value.

*Read so far.*  The positions whose content has reached a party, directly or through
the messages it received.  A party reads its own tokens and the public ones.  An RNN reads left to
right: the state sent after position N (label ``state@N``) has read positions 0..N, and
the receiver continues from there, so both have then read 0..N.  Every other protocol
here (transformer layers, the FFN's first layer, the query-vector protocol) lets each
party read all its own and the public tokens at once, and a message passes on what its
sender has read: after it the receiver has read the union.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["numbers", "plain_note", "reads_so_far", "ranges", "message_rows", "instance_json"]

_PARTY = {0: "alice", 1: "bob"}

#: one line in plain words per kind of message (the label's first word)
_NOTES = {
    "state": "the RNN's memory after reading positions 0..{at}; the receiver runs on from it",
    "query-token": "the sender's token id at the asking position; the receiver rebuilds its query",
    "query": "the query vector: what the asking position looks for",
    "query-vector": "Alice's query, her share of the attention sums and her row: all Bob needs",
    "partial-sums": "the sender's share of the attention average (numerator, denominator)",
    "keys-values": "the keys and values of the sender's positions",
    "pre-activations": "the sender's part of each first-layer neuron's weighted sum",
}


def plain_note(label: str) -> str:
    """What a message is, in one line of plain words (from its label)."""
    head = re.split(r"[@ ]", label, maxsplit=1)[0]
    note = _NOTES.get(head)
    if note is None:
        return f"a message labelled {label!r}"
    at = re.search(r"@(\d+)", label)
    note = note.replace("{at}", at.group(1) if at else "N")
    layer = re.search(r"\bL(\d+)\b", label)
    return note + (f", layer {layer.group(1)}" if layer else "")


def numbers(message: Any, raw: bool = False) -> dict[str, list[Any]]:
    """The message's values: numbers (fixed point divided by its scale ``2^frac``), or the
    raw integers sent when ``raw``."""
    vals = message.values()
    out: dict[str, list[Any]] = {}
    for f in message.fields:
        arr = np.asarray(vals[f.name])
        if not raw and f.kind in ("fixed", "acc") and f.frac:
            if arr.dtype == object:  # wide exact accumulators: Python integers, divided exactly
                arr = np.array([int(v) / (1 << int(f.frac)) for v in arr.reshape(-1).tolist()])
            else:
                arr = arr.astype(np.float64) / float(2 ** int(f.frac))
        out[f.name] = arr.reshape(-1).tolist()
    return out


def ranges(positions: Any) -> str:
    """Sorted positions as ranges: ``0–5, 7, 9–12``; ``none`` when empty."""
    pos = sorted(int(p) for p in positions)
    if not pos:
        return "none"
    parts: list[str] = []
    start = prev = pos[0]
    for p in pos[1:]:
        if p == prev + 1:
            prev = p
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        start = prev = p
    parts.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(parts)


def reads_so_far(messages: Any, owner: Any) -> list[dict[str, set[int]]]:
    """For each message, the positions each party has read once it is received (see the
    module docstring for the rule)."""
    owner = np.asarray(owner).reshape(-1)
    public = set(np.flatnonzero(owner == 2).tolist())
    read = {p: set(np.flatnonzero(owner == p).tolist()) | public for p in (0, 1)}
    out: list[dict[str, set[int]]] = []
    rnn = bool(messages) and all(re.fullmatch(r"state@\d+", m.label) for m in messages)
    if rnn:
        read = {0: set(), 1: set()}
    for m in messages:
        s, r = int(m.sender), int(m.receiver)
        if rnn:
            upto = int(m.label.split("@")[1])
            read[s] = set(range(upto + 1))
            read[r] = set(range(upto + 1))
        else:
            read[r] = read[r] | read[s]
        out.append({_PARTY[p]: set(read[p]) for p in (0, 1)})
    return out


def message_rows(messages: Any, owner: Any, raw: bool = False) -> list[dict[str, Any]]:
    """One dict per message: its number (from 1), the plain-words note, the numbers (or
    raw integers), and the positions each party has read after it (as ranges)."""
    reads = reads_so_far(messages, owner)
    rows = []
    for k, (m, r) in enumerate(zip(messages, reads), 1):
        rows.append({"number": k, "what": plain_note(m.label), "numbers": numbers(m, raw=raw),
                     "read_so_far": {p: ranges(v) for p, v in r.items()}})
    return rows


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype.names:
            return [{n: _plain(row[n]) for n in v.dtype.names} for row in v]
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    return v


def instance_json(result: Any) -> dict[str, Any]:
    """The instance of a simulation: the problem's inputs x and y (when a reduction wrote
    it), the tokens, their names when the task has them, each token's owner as the
    reduction gives it (``owners``) and as the run's split gives it (``split_owners``;
    the same unless ``--split`` changed it)."""
    names = {0: "alice", 1: "bob", 2: "public"}
    inst = result.instance
    out: dict[str, Any] = {"x": _plain(result.x), "y": _plain(result.y),
                           "tokens": _plain(inst.tokens),
                           "owners": [names[int(o)] for o in np.asarray(inst.owner).tolist()],
                           "split_owners": [names[int(o)] for o in np.asarray(result.split.owner).tolist()]}
    vocab = result.setup.task.vocab_names()  # None for a task without printable names
    if vocab is not None and not getattr(inst.tokens, "dtype", np.dtype(int)).names:
        out["token_names"] = [vocab[int(t)] if 0 <= int(t) < len(vocab) else str(int(t))
                              for t in np.asarray(inst.tokens).tolist()]
    return out
