"""Protocol primitives: splits, what each party may see, the channel and the transcript.

Invariants enforced here (docs/design.md §4, invariants 1 and 3):

1. *Isolation*: a party's code gets a :class:`PartyView`, which holds only that party's
   tokens and the PUBLIC ones; asking it for another position raises
   :class:`IsolationError`.  The other party's tokens are not stored in the view at all.
2. *Honest counting*: the only way to move data between parties is
   :meth:`Channel.send`, which encodes the values into a :class:`~commlb.bits.Payload`,
   records it, and hands the receiver the *decoded* values.  A message's cost is the
   payload's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bits import FieldSpec, Payload, _from_unsigned, _pack, _to_unsigned, _unpack, decode, encode
from ..core import ALICE, BOB, PUBLIC, Instance, Owner
from ..errors import EngineError, InvalidInputError

__all__ = [
    "verify_output",
    "Split",
    "PartyView",
    "IsolationError",
    "Message",
    "Channel",
    "MessageLog",
    "Transcript",
]


class IsolationError(EngineError):
    """A party tried to read a token it does not own."""


@dataclass(frozen=True, eq=False)
class Split:
    """Who owns each position.  ``name`` says where it came from."""

    owner: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        owner = np.asarray(self.owner, dtype=np.int8)
        if owner.ndim != 1 or (owner.size and (owner.min() < 0 or owner.max() > 2)):
            raise InvalidInputError("a split is one owner (0 Alice, 1 Bob, 2 public) per position")
        object.__setattr__(self, "owner", owner)

    def __len__(self) -> int:
        return int(self.owner.size)

    @classmethod
    def from_instance(cls, instance: Instance) -> Split:
        return cls(instance.owner.copy(), "reduction")

    @classmethod
    def prefix(cls, length: int, k: int) -> Split:
        """Alice owns positions [0, k), Bob the rest."""
        if not 0 <= k <= length:
            raise InvalidInputError(f"prefix:{k} does not fit a sequence of length {length}")
        owner = np.full(length, BOB, dtype=np.int8)
        owner[:k] = ALICE
        return cls(owner, f"prefix:{k}")

    @classmethod
    def interleave(cls, base: np.ndarray) -> Split:
        """Alternate ALICE, BOB over the non-public positions of ``base`` (PUBLIC stays)."""
        base = np.asarray(base, dtype=np.int8)
        owner = base.copy()
        private = np.flatnonzero(base != PUBLIC)
        owner[private] = np.where(np.arange(private.size) % 2 == 0, ALICE, BOB)
        return cls(owner, "interleave")

    @classmethod
    def parse(cls, spec: str | None, instance: Instance) -> Split:
        """``None``/``"reduction"``: the reduction's owners; ``prefix:K``; ``interleave``;
        or an explicit list of owners, one letter per position (``A``, ``B``, ``P``),
        optionally comma separated."""
        length = len(instance)
        if spec is None or spec == "reduction":
            return cls.from_instance(instance)
        if spec.startswith("prefix:"):
            try:
                k = int(spec.split(":", 1)[1])
            except ValueError:
                raise InvalidInputError(f"bad split {spec!r}: expected prefix:K with an integer K") from None
            return cls.prefix(length, k)
        if spec == "interleave":
            return cls.interleave(instance.owner)
        letters = spec.replace(",", "").replace(" ", "").upper()
        table = {"A": ALICE, "B": BOB, "P": PUBLIC}
        if len(letters) != length or any(c not in table for c in letters):
            raise InvalidInputError(
                f"bad split {spec!r}: use 'reduction', 'prefix:K', 'interleave', or {length} "
                "letters from A, B, P"
            )
        return cls(np.array([table[c] for c in letters], dtype=np.int8), "custom")

    def counts(self) -> dict[str, int]:
        return {o.name.lower(): int(np.sum(self.owner == o)) for o in Owner}

    def owner_changes(self) -> int:
        """Number of times the owner of the next non-public token changes, left to right."""
        private = self.owner[self.owner != PUBLIC]
        return int(np.count_nonzero(private[1:] != private[:-1])) if private.size else 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.counts()}


class PartyView:
    """What one party knows of the input: its own tokens and the PUBLIC ones.

    The hidden tokens are not kept, so no code holding a view can read them.
    """

    __slots__ = ("who", "owner", "_visible", "_tokens", "_seen")

    def __init__(self, who: Owner, tokens: np.ndarray, owner: np.ndarray) -> None:
        if who is PUBLIC:
            raise EngineError("a party is ALICE or BOB")
        self.who = Owner(who)
        self.owner = np.asarray(owner, dtype=np.int8).copy()
        self.owner.setflags(write=False)
        visible = (self.owner == who) | (self.owner == PUBLIC)
        self._visible = visible
        self._seen = np.asarray(tokens)[visible]  # the visible tokens in position order
        self._tokens: dict[int, Any] | None = None  # position -> token, made on first use

    def __len__(self) -> int:
        return int(self.owner.size)

    def can_see(self, position: int) -> bool:
        return bool(self._visible[position])

    def token(self, position: int) -> Any:
        position = int(position) % len(self)
        if not self._visible[position]:
            raise IsolationError(
                f"{self.who.name} cannot read position {position} (owned by "
                f"{Owner(int(self.owner[position])).name})"
            )
        if self._tokens is None:
            self._tokens = dict(zip(np.flatnonzero(self._visible).tolist(), self._seen, strict=True))
        return self._tokens[position]

    def tokens(self, positions: Iterable[int]) -> list[Any]:
        return [self.token(i) for i in positions]

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The tokens at ``positions`` (an integer array, 0 <= position < len) as an array,
        in one vectorised pass; raises :class:`IsolationError` if any is not visible."""
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= len(self)):
            raise EngineError(f"positions outside 0..{len(self) - 1}")
        hidden = ~self._visible[pos]
        if np.any(hidden):
            self.token(int(pos[np.argmax(hidden)]))  # raises IsolationError naming the position
        # rank of each position among the visible ones = its index in self._seen
        return self._seen[np.cumsum(self._visible)[pos] - 1]

    def own_positions(self) -> np.ndarray:
        return np.flatnonzero(self.owner == self.who)

    def public_positions(self) -> np.ndarray:
        return np.flatnonzero(self.owner == PUBLIC)

    def visible_positions(self) -> np.ndarray:
        return np.flatnonzero(self._visible)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a block allocates many objects that all
    stay alive (its passes would scan them again and again for nothing)."""
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


#: big-endian word types of the byte-aligned field widths
_WORDS = {8: ">u1", 16: ">u2", 32: ">u4", 64: ">u8"}


class _Batch:
    """K messages of one layout whose bit strings are encoded together on first use.

    When every field's width is 8, 16, 32 or 64 bits the bit strings are byte-aligned and
    kept packed, eight bits a byte (:meth:`packed`: each value its big-endian word, which
    is exactly its width's bits, most significant first, as :func:`~commlb.bits.encode`
    writes them); a message's 0/1 array is unpacked from its row when read."""

    def __init__(self, fields: tuple[FieldSpec, ...], stacked: dict[str, np.ndarray], K: int,
                 in_range: bool = False) -> None:
        self.fields, self.stacked, self.K = fields, stacked, K
        #: every value was checked to fit its field when the batch was recorded
        #: (:meth:`Channel.send_many`), so encoding need not check again
        self.in_range = in_range
        self.per = sum(f.nbits for f in fields)
        self.aligned = all(f.width in _WORDS for f in fields)
        self._bits: np.ndarray | None = None
        self._packed: np.ndarray | None = None

    def _big(self, f: FieldSpec) -> FieldSpec:
        return FieldSpec(f.name, f.kind, (self.K,) + f.shape, f.width, f.frac)

    def packed(self) -> np.ndarray | None:
        """The (K, per / 8) packed bit strings of a byte-aligned layout, encoded in one pass
        (once); None for other layouts."""
        if not self.aligned:
            return None
        if self._packed is None:
            parts = [self._words(f).view(np.uint8).reshape(self.K, f.nbits // 8) for f in self.fields]
            self._packed = np.ascontiguousarray(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))
        return self._packed

    def _words(self, f: FieldSpec) -> np.ndarray:
        """One byte-aligned field's codes as big-endian words, after the range check of
        :func:`~commlb.bits.encode`.  An integer array is cast straight to the word: the
        cast keeps the low ``width`` bits, which for a value in range is its code (two's
        complement for signed kinds)."""
        arr = np.asarray(self.stacked[f.name])
        big = self._big(f)
        if arr.dtype.kind in "iu" and f.kind in ("fixed", "int", "acc", "uint") and arr.size:
            lo, hi = (0, (1 << f.width) - 1) if f.kind == "uint" else (-(1 << (f.width - 1)),
                                                                      (1 << (f.width - 1)) - 1)
            if not self.in_range and (int(arr.min()) < lo or int(arr.max()) > hi):
                _to_unsigned(arr, big)  # raises EngineError naming the field and the range
            return arr.astype(_WORDS[f.width]).reshape(-1)
        return _to_unsigned(arr, big).astype(_WORDS[f.width])

    def _encode_bits(self) -> np.ndarray:
        """The (K, per) 0/1 matrix of any layout, encoded in one pass."""
        # message-major order: message k's fields in order, as encode() lays them out
        parts = [_unpack(_to_unsigned(self.stacked[f.name], self._big(f)), f.width).reshape(self.K, f.nbits)
                 for f in self.fields]
        return np.ascontiguousarray(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))

    def all_bits(self) -> np.ndarray:
        """The (K, per) bit matrix of all K messages (made once)."""
        if self._bits is None:
            pk = self.packed()
            self._bits = np.unpackbits(pk, axis=1) if pk is not None else self._encode_bits()
        return self._bits

    def bits(self, k: int) -> np.ndarray:
        if self._bits is None and self.aligned:
            pk = self.packed()
            assert pk is not None  # aligned layouts are packed
            return np.unpackbits(pk[k])
        return self.all_bits()[k]

    def decodes_to(self, name: str, expected: np.ndarray) -> bool:
        """Whether field ``name`` of the K bit strings decodes to ``expected`` (K, *shape):
        :meth:`decode_all`'s values compared, read straight from the packed big-endian
        words when they are two's complement codes (signed kinds of a byte-aligned
        layout), without making the decoded array."""
        pos = 0
        for f in self.fields:
            if f.name == name:
                break
            pos += f.nbits
        else:
            raise EngineError(f"no field {name!r} in the messages")
        pk = self.packed()
        want = np.asarray(expected)
        if want.shape != (self.K,) + f.shape:
            return False
        if pk is not None and f.kind in ("fixed", "int", "acc"):
            words = pk[:, pos // 8: (pos + f.nbits) // 8]
            if not words.flags.c_contiguous:
                words = np.ascontiguousarray(words)
            signed = words.view(">i" + str(f.width // 8)).reshape(want.shape)
            return bool(np.array_equal(signed, want))
        return bool(np.array_equal(self.decode_all()[name], want))

    def decode_all(self) -> dict[str, np.ndarray]:
        """What the K bit strings decode to, in one pass: each field's values stacked on a
        first axis of length K (the inverse of the encoding, as :func:`~commlb.bits.decode`
        reads one payload)."""
        out: dict[str, np.ndarray] = {}
        pos = 0
        pk = self.packed()
        bits = self.all_bits() if pk is None else None
        for f in self.fields:
            if pk is not None:
                words = np.ascontiguousarray(pk[:, pos // 8: (pos + f.nbits) // 8]).view(_WORDS[f.width])
                pos += f.nbits
                if f.kind in ("fixed", "int", "acc") and f.width < 64:  # two's complement, in place
                    v = words.astype(np.int64).reshape((self.K,) + f.shape)
                    sign = np.int64(1 << (f.width - 1))
                    v ^= sign
                    v -= sign
                    out[f.name] = v
                    continue
                codes = words.reshape(-1).astype(np.uint64)
            else:
                assert bits is not None
                codes = _pack(bits[:, pos: pos + f.nbits].reshape(self.K * f.count, f.width))
                pos += f.nbits
            out[f.name] = _from_unsigned(codes, self._big(f))
        return out


class _LazyPayload(Payload):
    """A payload whose bits come from a :class:`_Batch` when first read; its length (the
    cost) is known without encoding."""

    _batch: _Batch
    _k: int

    def __init__(self, batch: _Batch, k: int) -> None:  # noqa: D107 - Payload's fields are replaced
        object.__setattr__(self, "_batch", batch)
        object.__setattr__(self, "_k", k)

    @property
    def bits(self) -> np.ndarray:
        return self._batch.bits(self._k)

    def __len__(self) -> int:
        return self._batch.per


@dataclass(frozen=True, eq=False)
class Message:
    """One message: its encoded payload is what it costs.

    ``round`` counts maximal runs of messages by the same sender (1-based);
    ``fields`` describe the payload layout; ``note`` says anything the reader should
    know (e.g. that a cheaper equivalent form was sent)."""

    round: int
    sender: Owner
    receiver: Owner
    label: str
    fields: tuple[FieldSpec, ...]
    payload: Payload
    note: str = ""

    @property
    def bits(self) -> int:
        return len(self.payload)

    def values(self) -> dict[str, np.ndarray]:
        return decode(self.fields, self.payload)

    def to_json(self, with_values: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "round": self.round,
            "sender": self.sender.name.lower(),
            "receiver": self.receiver.name.lower(),
            "label": self.label,
            "fields": [f.to_json() for f in self.fields],
            "bits": self.bits,
            "payload_hex": self.payload.hex(),
        }
        if with_values:
            out["values"] = {k: np.asarray(v).tolist() for k, v in self.values().items()}
        if self.note:
            out["note"] = self.note
        return out


class _Block:
    """K messages of one layout recorded together (:meth:`Channel.send_many`): arrays and
    one :class:`_Batch`, no per-message objects until a message is looked at."""

    __slots__ = ("batch", "senders", "rounds", "labels", "notes")

    def __init__(self, batch: _Batch, senders: np.ndarray, rounds: np.ndarray,
                 labels: Sequence[str] | Callable[[int], str], notes: Sequence[str] | Callable[[int], str]) -> None:
        self.batch, self.senders, self.rounds, self.labels, self.notes = batch, senders, rounds, labels, notes

    def __len__(self) -> int:
        return self.batch.K

    def message(self, k: int) -> Message:
        sender = _PARTY[int(self.senders[k])]
        label = self.labels(k) if callable(self.labels) else self.labels[k]
        note = self.notes(k) if callable(self.notes) else self.notes[k]
        payload = object.__new__(_LazyPayload)
        payload.__dict__.update(_batch=self.batch, _k=k)
        msg = object.__new__(Message)
        # the frozen dataclass's fields filled in directly (as the dataclass would)
        msg.__dict__.update(round=int(self.rounds[k]), sender=sender, receiver=sender.other, label=label,
                            fields=self.batch.fields, payload=payload, note=note)
        return msg


_PARTY = {int(ALICE): ALICE, int(BOB): BOB}


class MessageLog(Sequence[Message]):
    """The messages of a run in order: single messages and blocks of K messages of one
    layout (:meth:`Channel.send_many`).  A list to every reader (``len``, indexing,
    slicing, iteration give :class:`Message` objects, a block's made when looked at);
    counts, rounds and senders are read off the blocks' arrays without making any."""

    def __init__(self, parts: Iterable[Message | _Block] = ()) -> None:
        self._parts: list[Message | _Block] = []
        self._ends: list[int] = []
        for part in parts:
            self._add(part)

    def _add(self, part: Message | _Block) -> None:
        size = len(part) if isinstance(part, _Block) else 1
        self._parts.append(part)
        self._ends.append((self._ends[-1] if self._ends else 0) + size)

    def append(self, msg: Message) -> None:
        self._add(msg)

    def copy(self) -> MessageLog:
        return MessageLog(self._parts)

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def _at(self, k: int) -> Message:
        import bisect

        i = bisect.bisect_right(self._ends, k)
        part = self._parts[i]
        if isinstance(part, _Block):
            return part.message(k - (self._ends[i] - len(part)))
        return part

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._at(k) for k in range(*index.indices(len(self)))]
        k = int(index)
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("message index out of range")
        return self._at(k)

    def __iter__(self) -> Iterator[Message]:
        for part in self._parts:
            if isinstance(part, _Block):
                for k in range(len(part)):
                    yield part.message(k)
            else:
                yield part

    def total_bits(self) -> int:
        return sum(len(p) * p.batch.per if isinstance(p, _Block) else p.bits for p in self._parts)

    def bits_from(self, sender: Owner) -> int:
        total = 0
        for p in self._parts:
            if isinstance(p, _Block):
                total += int(np.count_nonzero(p.senders == int(sender))) * p.batch.per
            elif p.sender == sender:
                total += p.bits
        return total

    def rounds(self) -> int:
        if not self._parts:
            return 0
        last = self._parts[-1]
        return int(last.rounds[-1]) if isinstance(last, _Block) else last.round

    def senders(self) -> set[Owner]:
        out: set[Owner] = set()
        for p in self._parts:
            if isinstance(p, _Block):
                out |= {_PARTY[v] for v in (int(ALICE), int(BOB)) if np.any(p.senders == v)}
            else:
                out.add(p.sender)
        return out

    def sender_array(self) -> np.ndarray:
        """Every message's sender (0 Alice, 1 Bob) in order, int8."""
        parts = [p.senders if isinstance(p, _Block) else np.array([int(p.sender)], dtype=np.int8)
                 for p in self._parts]
        return np.concatenate(parts).astype(np.int8) if parts else np.zeros(0, dtype=np.int8)

    def layouts(self) -> list[tuple[FieldSpec, ...]]:
        """The distinct layouts (tuples of fields) of the messages, in order of appearance."""
        seen: list[tuple[FieldSpec, ...]] = []
        for p in self._parts:
            lay = p.batch.fields if isinstance(p, _Block) else p.fields
            if not any(lay is s or lay == s for s in seen):
                seen.append(lay)
        return seen

    def decoded(self) -> dict[str, np.ndarray]:
        """What every message's bit string decodes to, stacked on a first axis (one entry
        per message), for messages of one layout: each block's bits encoded and decoded in
        one pass (:meth:`_Batch.decode_all`), single messages by :func:`decode`."""
        lays = self.layouts()
        if len(lays) > 1:
            raise EngineError("decoded() needs messages of one layout")
        if not lays:
            return {}
        chunks: dict[str, list[np.ndarray]] = {f.name: [] for f in lays[0]}
        for p in self._parts:
            vals = p.batch.decode_all() if isinstance(p, _Block) else {k: v[None] for k, v in p.values().items()}
            for name, arr in vals.items():
                chunks[name].append(np.asarray(arr))
        return {name: parts[0] if len(parts) == 1 else np.concatenate(parts) for name, parts in chunks.items()}

    def decodes_to(self, name: str, expected: np.ndarray) -> bool:
        """Whether field ``name`` of every message, decoded from its bits, equals
        ``expected`` (one entry per message, stacked): :meth:`decoded` compared, a block
        of messages by :meth:`_Batch.decodes_to` (no decoded array made for byte-aligned
        signed layouts)."""
        want = np.asarray(expected)
        if want.ndim == 0 or want.shape[0] != len(self):
            return False
        k = 0
        for p in self._parts:
            if isinstance(p, _Block):
                n = len(p)
                if not p.batch.decodes_to(name, want[k: k + n]):
                    return False
            else:
                n = 1
                got = np.asarray(p.values()[name])
                if got.shape != want.shape[1:] or not np.array_equal(got, want[k]):
                    return False
            k += n
        return True


class Channel:
    """The only way data crosses the cut."""

    def __init__(self) -> None:
        self.messages = MessageLog()
        self._round = 0
        self._last_sender: Owner | None = None

    def send(
        self,
        sender: Owner,
        label: str,
        fields: Sequence[FieldSpec],
        values: Mapping[str, np.ndarray],
        note: str = "",
    ) -> dict[str, np.ndarray]:
        """Encode ``values`` per ``fields``, record the message, return what the
        receiver decodes (and nothing else reaches the receiver)."""
        sender = Owner(sender)
        if sender is PUBLIC:
            raise EngineError("PUBLIC does not send messages")
        payload = encode(fields, values)
        if sender is not self._last_sender:
            self._round += 1
            self._last_sender = sender
        msg = Message(self._round, sender, sender.other, label, tuple(fields), payload, note)
        self.messages.append(msg)
        return decode(msg.fields, msg.payload)

    def send_many(
        self,
        senders: Sequence[Owner] | np.ndarray,
        labels: Sequence[str] | Callable[[int], str],
        fields: Sequence[FieldSpec],
        values: Mapping[str, np.ndarray],
        notes: Sequence[str] | Callable[[int], str],
    ) -> None:
        """Record K messages of one layout at once, in order, for engines that hand values
        over by reference while they run: ``values[name]`` holds the K messages' arrays
        stacked on a first axis; ``labels`` and ``notes`` are lists or functions of k.
        What is counted is checked now, in one vectorised pass: every value fits its field
        (the check :func:`~commlb.bits.encode` makes; for these kinds a value that fits
        decodes to itself, so the receiver gets exactly the value it was handed), and each
        message costs ``sum(field.nbits)`` bits.  The bit strings themselves are encoded
        together the first time any is read (:meth:`MessageLog.decoded` reads them all
        and decodes them back in one pass)."""
        sender_arr = np.asarray([int(s) for s in senders] if not isinstance(senders, np.ndarray) else senders,
                                dtype=np.int8).reshape(-1)
        K = int(sender_arr.size)
        for name, seq in (("label", labels), ("note", notes)):
            if not callable(seq) and len(seq) != K:
                raise EngineError(f"send_many needs one {name} per message")
        if K == 0:
            return
        if any(f.kind == "float" or f.width > 64 for f in fields):
            raise EngineError("send_many takes integer-coded fields of at most 64 bits")
        if np.any((sender_arr != int(ALICE)) & (sender_arr != int(BOB))):
            raise EngineError("PUBLIC does not send messages")
        big = [FieldSpec(f.name, f.kind, (K,) + f.shape, f.width, f.frac) for f in fields]
        stacked = {}
        for spec in big:
            arr = np.asarray(values[spec.name])
            if arr.shape != spec.shape:
                raise EngineError(f"field {spec.name}: shape {arr.shape} != declared {spec.shape}")
            if arr.dtype.kind == "i" and spec.kind in ("fixed", "int", "acc") and arr.size:
                lo, hi = -(1 << (spec.width - 1)), (1 << (spec.width - 1)) - 1
                if arr.min() < lo or arr.max() > hi:
                    _to_unsigned(arr, spec)  # raises EngineError naming the field and the range
            else:
                _to_unsigned(arr, spec)  # raises EngineError when a value does not fit
            stacked[spec.name] = arr
        # rounds: a new round whenever the sender changes (also from the last message sent)
        change = np.empty(K, dtype=np.int64)
        change[0] = self._last_sender is None or int(sender_arr[0]) != int(self._last_sender)
        change[1:] = sender_arr[1:] != sender_arr[:-1]
        rounds = self._round + np.cumsum(change)
        self._round = int(rounds[-1])
        self._last_sender = _PARTY[int(sender_arr[-1])]
        self.messages._add(_Block(_Batch(tuple(fields), stacked, K, in_range=True), sender_arr, rounds, labels, notes))

    def transcript(self, output: Any, **meta: Any) -> Transcript:
        return Transcript(self.messages.copy(), output, meta)


@dataclass(eq=False)
class Transcript:
    """The messages of one protocol run and its output.  ``messages`` is a list of
    :class:`Message` or a :class:`MessageLog` (what :meth:`Channel.transcript` gives)."""

    messages: Sequence[Message]
    output: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bits(self) -> int:
        if isinstance(self.messages, MessageLog):
            return self.messages.total_bits()
        return sum(m.bits for m in self.messages)

    def bits_from(self, sender: Owner) -> int:
        if isinstance(self.messages, MessageLog):
            return self.messages.bits_from(sender)
        return sum(m.bits for m in self.messages if m.sender == sender)

    @property
    def bits_alice_to_bob(self) -> int:
        return self.bits_from(ALICE)

    @property
    def bits_bob_to_alice(self) -> int:
        return self.bits_from(BOB)

    @property
    def rounds(self) -> int:
        """Number of maximal runs of messages by the same sender (0 if silent)."""
        if isinstance(self.messages, MessageLog):
            return self.messages.rounds()
        return max((m.round for m in self.messages), default=0)

    @property
    def one_way(self) -> bool:
        if isinstance(self.messages, MessageLog):
            return len(self.messages.senders()) <= 1
        return len({m.sender for m in self.messages}) <= 1

    def fingerprint(self) -> str:
        """A digest of every payload in order: equal digests mean bit-identical runs."""
        import hashlib

        h = hashlib.sha256()
        for m in self.messages:
            h.update(f"{m.round}|{m.sender}|{m.label}|{m.bits}|".encode())
            h.update(m.payload.bits.tobytes())
        return h.hexdigest()

    def to_json(self, with_values: bool = True) -> dict[str, Any]:
        out = np.asarray(self.output)
        return {
            "messages": [m.to_json(with_values) for m in self.messages],
            "total_bits": self.total_bits,
            "bits_alice_to_bob": self.bits_alice_to_bob,
            "bits_bob_to_alice": self.bits_bob_to_alice,
            "rounds": self.rounds,
            "output": out.tolist(),
            "fingerprint": self.fingerprint(),
            **self.meta,
        }


# ---------------------------------------------------------------- verification
def verify_output(model: Any, got: Any, ref: Any, family: str) -> dict[str, Any]:
    """Check a protocol's output ``got`` against the forward pass ``ref`` (docs/design.md §4,
    invariant 2): bit for bit, in fixed point and in float mode alike — every family's
    protocol computes what its model computes (float RNN states cross as exactly
    representable p-bit floats; the transformer's and the FFN's partial sums cross as
    exact accumulators, docs/theory.md §3.7, §3.8).  A mismatch is an engine bug: raises
    :class:`EngineError`.  Returns the transcript metadata of the check."""
    if not got.same_bits(ref):
        raise EngineError(f"{family} protocol output {got.values.tolist()} != forward pass {ref.values.tolist()}")
    return {"protocol_matches_forward": True}
