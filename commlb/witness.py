"""Witnesses: the exact input an undersized model gets wrong (the pigeonhole argument, run).

If a model's protocol on a split is **one-way** (every message goes from Alice to Bob),
Bob's answer is a function of (Alice's message, y).  When the message can take fewer
values than f has distinct rows — for INDEX_n, DISJ_n and EQ_n all 2^n rows are distinct,
so fewer than 2^n messages, e.g. an RNN with L·d·p < n state bits — two inputs x ≠ x'
send the same message (pigeonhole), a Bob input y with f(x, y) ≠ f(x', y) exists, and the
model gives the same answer on (x, y) and (x', y): it is wrong on one of them
(docs/theory.md §3.3, §8.1; the one-way bound D→ = log2 #distinct rows, Kushilevitz–Nisan
1997, docs/theory.md §5.3).  This module finds such a pair and proves it:

1. **Alice's messages for her inputs** — through the batched kernels of
   :mod:`commlb.kernels.alice` (RNN state after her prefix by a depth-first walk of the
   prefix tree; one-layer attention partial sums for PUBLIC queries and FFN first-layer
   partial pre-activations as sums of per-position tables), each message reduced to a
   64-bit key (the message itself when it has ≤ 64 bits, else a hash).  The kernels are
   checked against the protocol engine's own transcript on a few inputs every run; a
   model or split they do not cover falls back to running the engine on each input.
2. **Collision search** — exhaustive over Alice's whole input space when its estimated
   time and memory fit (else refused with the estimate and ``budget``), or a random
   birthday-style sample of ``budget`` inputs (or seconds).  Equal keys are sorted
   together; a collision is confirmed by comparing the messages themselves.
3. **A distinguishing Bob input** — for INDEX a position where x and x' differ; in
   general a search over Bob's inputs (exhaustive when small, candidates then a random
   sample otherwise), through the problem's ``evaluate`` and the reduction's ``encode``.
4. **Proof** — both full inputs are run through ``model.forward`` (the plain forward
   pass, not the protocol), and through the engine to show the two messages are
   bit-identical; the outputs are equal and f differs, so the model is wrong on one.

:func:`effective_bits` counts the distinct messages over all of Alice's inputs: a model
correct on every input needs log2 of that count ≥ the one-way bound.

Public API: :func:`find_witness` (task name + the model options of ``commlb simulate``),
:func:`search_witness` (a reduction and a model object), :func:`effective_bits`,
:class:`WitnessResult`, :class:`EffectiveBits`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .core import ALICE, BOB, PUBLIC, InputSpace, Reduction
from .errors import EngineError, InvalidInputError, TooLargeError

__all__ = [
    "WitnessResult",
    "EffectiveBits",
    "find_witness",
    "search_witness",
    "effective_bits",
    "parse_budget",
    "witness_model",
    "AliceLayout",
    "alice_layout",
    "message_source",
]

Progress = Callable[[int, int, str], None]

#: exhaustive runs are refused above these estimates unless ``exhaustive=True``
MAX_EXHAUSTIVE_SECONDS = 900.0
MAX_EXHAUSTIVE_BYTES = 8 << 30
#: bytes per enumerated input: its key, the sort order and the sorted keys
BYTES_PER_INPUT = 24
#: the engine fallback (one protocol run per input) is allowed up to this many inputs
MAX_ENGINE_INPUTS = 1 << 14
#: with backend "auto", up to this many inputs the plain numpy twins run instead of the
#: numba kernels (no compilation or cache loading for small runs): the witness search
#: switches early, the effective-bits count (simulate's hook, up to 2^16 inputs) never
NUMPY_BELOW = 1 << 12
NUMPY_BELOW_EFFECTIVE = 1 << 16
_BLOCK = 1 << 20


def _log2(value: int) -> float:
    return math.log2(value) if value > 0 else 0.0


# ---------------------------------------------------------------------------------
# Alice's tokens as a function of her input
# ---------------------------------------------------------------------------------
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
        for row, x in zip(predicted, xs):
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


# ---------------------------------------------------------------------------------
# Message sources: Alice's message for any of her inputs
# ---------------------------------------------------------------------------------
class _Source:
    """Alice's message as rows of int64 values (``widths`` bits each) and 64-bit keys.

    ``keys_tree(t0, t1)`` covers leaves [t0, t1) of the enumeration tree (all inputs);
    ``leaves_to_digits`` maps leaves to Alice's inputs; ``rows`` computes messages of
    given inputs (digit rows)."""

    kind = ""

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str) -> None:
        self.layout = layout
        self.fields = fields
        self.nominal_bits = int(nominal_bits)
        self.backend = backend
        self.radix = np.full(layout.digits, layout.base, dtype=np.int64)
        self.level_digit = np.arange(layout.digits - 1, -1, -1, dtype=np.int64)

    @property
    def widths(self) -> np.ndarray:
        return np.concatenate([np.full(f.count, f.width, dtype=np.int64) for f in self.fields]) \
            if self.fields else np.zeros(0, dtype=np.int64)

    @property
    def n_inputs(self) -> int:
        return self.layout.size

    @property
    def exact_keys(self) -> bool:
        """True when keys are the packed messages (≤ 64 bits): equal keys, equal messages."""
        return int(self.widths.sum()) <= 64

    def leaves_to_digits(self, leaves: np.ndarray) -> np.ndarray:
        from .kernels.alice import tree_to_input

        idx = tree_to_input(leaves, self.radix, self.level_digit, self.layout.base)
        return self.layout.space.from_index(idx).reshape(len(idx), -1)

    def rows(self, digits: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def keys(self, digits: np.ndarray) -> np.ndarray:
        from .kernels import alice as K

        rows = self.rows(digits)
        return (K.key_rows if self.backend == "numba" else K.key_rows_reference)(rows, self.widths)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        return self.keys(self.leaves_to_digits(np.arange(t0, t1, dtype=np.int64)))


class _RNNSource(_Source):
    kind = "rnn prefix tree"

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str,
                 model: Any, cut: int) -> None:
        from .kernels.alice import RNNArrays

        super().__init__(layout, fields, nominal_bits, backend)
        self.arrays = RNNArrays.from_model(model)
        self.cut = int(cut)
        self.positions = np.arange(self.cut, dtype=np.int64)
        # the tree: one level per position read before the handoff; a level branches on
        # the digit it reads (radix b) or is fixed (radix 1); unread digits go last
        reads = layout.digit_of[: self.cut]
        used = reads[reads >= 0]
        self.tree = layout.per_digit and used.size == np.unique(used).size
        if self.tree:
            base = layout.base
            radix, digit, toks = [], [], []
            for p in range(self.cut):
                j = int(reads[p])
                if j >= 0:
                    radix.append(base)
                    digit.append(j)
                    toks.append(layout.table[p])
                else:
                    radix.append(1)
                    digit.append(-1)
                    toks.append(np.full(base, layout.template[p]))
            for j in sorted(set(range(layout.digits)) - set(used.tolist())):
                radix.append(base)
                digit.append(j)
                toks.append(np.full(base, -1))
            self.radix = np.array(radix, dtype=np.int64)
            self.level_digit = np.array(digit, dtype=np.int64)
            self.level_tokens = np.array(toks, dtype=np.int64).reshape(len(radix), base)

    def rows(self, digits: np.ndarray) -> np.ndarray:
        from .kernels import alice as K

        toks = self.layout.tokens(digits, self.positions)
        fn = K.rnn_rows if self.backend == "numba" else K.rnn_rows_reference
        return fn(self.arrays, toks)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        from .kernels import alice as K

        if not self.tree:
            return super().keys_tree(t0, t1)
        fn = K.rnn_keys if self.backend == "numba" else K.rnn_keys_reference
        return fn(self.arrays, self.level_tokens, self.radix, t0, t1)


class _AdditiveSource(_Source):
    kind = "additive tables"

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str,
                 positions: np.ndarray, tables: np.ndarray, label: str) -> None:
        super().__init__(layout, fields, nominal_bits, backend)
        self.kind = label
        self.positions = np.asarray(positions, dtype=np.int64)
        self.tables = np.ascontiguousarray(tables, dtype=np.int64)  # (P, V, W)
        W = self.tables.shape[2]
        D, base = layout.digits, layout.base
        self.digit_tables = np.zeros((D, base, W), dtype=np.int64)
        self.offset = np.zeros(W, dtype=np.int64)
        if layout.per_digit:
            for k, p in enumerate(self.positions.tolist()):
                j = int(layout.digit_of[p])
                if j >= 0:
                    self.digit_tables[j] += self.tables[k][layout.table[p]]
                else:
                    self.offset += self.tables[k, layout.template[p]]

    def rows(self, digits: np.ndarray) -> np.ndarray:
        from .kernels import alice as K

        toks = self.layout.tokens(digits, self.positions)
        fn = K.additive_rows if self.backend == "numba" else K.additive_rows_reference
        return fn(self.tables, toks)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        from .kernels import alice as K

        if not self.layout.per_digit:
            return super().keys_tree(t0, t1)
        fn = K.additive_keys if self.backend == "numba" else K.additive_keys_reference
        return fn(self.digit_tables, self.offset, self.widths, t0, t1)


class _EngineSource(_Source):
    """Fallback: run the protocol engine on each input and read its payload (as 64-bit
    words).  Exact for any model and one-way split, slow (one protocol run per input)."""

    kind = "protocol engine, one run per input"

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str,
                 model: Any, split: Any) -> None:
        from .bits import FieldSpec

        nb = int(nominal_bits)
        words = [FieldSpec(f"w{i}", "int", (), min(64, nb - 64 * i)) for i in range((nb + 63) // 64)]
        super().__init__(layout, words, nominal_bits, backend)
        self.message_fields = fields
        self.model = model
        self.split = split

    def rows(self, digits: np.ndarray) -> np.ndarray:
        digits = np.asarray(digits, dtype=np.int64)
        out = np.zeros((digits.shape[0], len(self.fields)), dtype=np.int64)
        for i, x in enumerate(digits):
            bits = _engine_payload(self.model, self.layout.reduction.encode(x, self.layout.y0).tokens,
                                   self.split)
            for w in range(len(self.fields)):
                chunk = bits[64 * w: 64 * (w + 1)]
                val = 0
                for b in chunk.tolist():
                    val = (val << 1) | int(b)
                if chunk.size == 64 and val >= 1 << 63:
                    val -= 1 << 64
                out[i, w] = val
        return out


def _engine_run(model: Any, tokens: np.ndarray, split: Any, verify: bool = False) -> Any:
    from .protocol import simulate

    transcript, _ = simulate(model, np.asarray(tokens), split, verify=verify)
    return transcript


def _engine_payload(model: Any, tokens: np.ndarray, split: Any) -> np.ndarray:
    tr = _engine_run(model, tokens, split)
    if not tr.messages:
        return np.zeros(0, dtype=np.uint8)
    return np.concatenate([m.payload.bits for m in tr.messages]).astype(np.uint8)


def _engine_values(tr: Any) -> np.ndarray:
    """Alice's message values in field order, flattened (what kernel rows hold)."""
    parts = []
    for m in tr.messages:
        vals = m.values()
        for f in m.fields:
            parts.append(np.asarray(vals[f.name]).reshape(-1))
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _one_way_check(tr: Any, family: str, split: Any) -> None:
    senders = {m.sender for m in tr.messages}
    if not tr.messages:
        raise InvalidInputError(
            f"witness: on this split the {family} protocol sends no message (one party computes the answer "
            "alone), so there is nothing to collide"
        )
    if senders != {ALICE}:
        k, r = len(tr.messages), tr.rounds
        who = "only Bob speaks" if senders == {BOB} else "both parties speak"
        raise InvalidInputError(
            f"witness needs a one-way protocol from Alice to Bob; on the {split.name} split the {family} "
            f"protocol sends {k} message{'s' if k != 1 else ''} in {r} round{'s' if r != 1 else ''} and {who}"
        )


def message_source(reduction: Reduction, model: Any, split: Any = None, *, backend: str = "auto",
                   max_engine_inputs: int = MAX_ENGINE_INPUTS, seed: int = 0,
                   numpy_below: int = NUMPY_BELOW) -> _Source:
    """The message source for (reduction, model, split): a batched kernel when one covers
    the model and the split, else the protocol engine; checked against the engine."""
    from .protocol.core import Split

    layout_probe = reduction.encode(np.zeros(reduction.problem.x_space.length, dtype=np.int64),
                                    reduction.problem.y_space.from_index(0))
    if split is None:
        split = Split.from_instance(layout_probe)
    layout = alice_layout(reduction, split.owner, seed=seed)
    if backend == "auto":
        backend = "python" if layout.size <= numpy_below else "numba"
    if backend not in ("numba", "python"):
        raise InvalidInputError(f"backend must be auto, numba or python, not {backend!r}")
    family = str(getattr(model, "family", ""))
    tr = _engine_run(model, layout.template, split, verify=True)
    _one_way_check(tr, family, split)
    fields = [f for m in tr.messages for f in m.fields]
    nominal = int(tr.total_bits)
    source: _Source | None = None
    fixed = model.precision.is_fixed
    if fixed and family == "rnn" and len(tr.messages) == 1:
        from .protocol.rnn import rnn_schedule

        last = int(model.output_positions(layout.template.size).max())
        first, segments = rnn_schedule(split.owner, last)
        if first is ALICE and len(segments) == 2:
            source = _RNNSource(layout, fields, nominal, backend, model, segments[0][2])
    elif fixed and family == "ffn" and len(tr.messages) == 1:
        positions = np.flatnonzero(split.owner == ALICE)
        source = _AdditiveSource(layout, fields, nominal, backend, positions,
                                 model.contribution_table(positions), "ffn first-layer tables")
    elif fixed and family == "transformer" and model.layers == 1 and not model.hard:
        built = _transformer_tables(model, split, layout, tr)
        if built is not None:
            positions, tables, label = built
            source = _AdditiveSource(layout, fields, nominal, backend, positions, tables, label)
    if source is None:
        if layout.size > max_engine_inputs:
            why = ("float arithmetic" if not fixed else
                   f"this {family} model and split (no batched kernel)")
            raise TooLargeError(
                f"witness: {why} needs one protocol run per input, and Alice has {layout.size:,} inputs "
                f"(at most {max_engine_inputs:,} that way); use a smaller --n"
            )
        source = _EngineSource(layout, fields, nominal, backend, model, split)
    else:
        _cross_check(source, model, split, tr, seed)
    return source


def _transformer_tables(model: Any, split: Any, layout: AliceLayout, tr: Any) -> tuple | None:
    """Per-position tables (P, V, W) of Alice's one-layer message: partial sums for PUBLIC
    queries (each key's contribution through ``model.partial_sums``) or her keys/values."""
    from .protocol.transformer import plan_transformer

    plan = plan_transformer(model, split)
    if plan.direction(0, ALICE) is not None:
        return None
    d = plan.direction(0, BOB)
    if d is None or len(tr.messages) != 1:
        return None
    V = model.vocab_size
    if d.mode == "query-answer":
        if not np.all(d.query_kind == "public"):
            return None
        keys = plan.keys_of(ALICE, 0, as_answerer=True)
        xq, _ = model.embed_rows(layout.template[d.queries], d.queries)
        q = model.qkv(0, xq, "q")[0]["q"]
        W = d.queries.size * model.heads * (model.value_dim + 1)
        tables = np.zeros((keys.size, V, W), dtype=np.int64)
        for k, p in enumerate(keys.tolist()):
            toks = np.unique(layout.table[p]) if layout.per_digit else np.arange(V)
            e, _ = model.embed_rows(toks, np.full(toks.size, p))
            kv = model.qkv(0, e, "kv")[0]
            for i, t in enumerate(toks.tolist()):
                part, _ = model.partial_sums(0, q, d.queries, kv["k"][i:i + 1], kv["v"][i:i + 1],
                                             np.array([p], dtype=np.int64))
                tables[k, t] = np.concatenate([part.num.reshape(-1), part.den.reshape(-1)])
        return keys, tables, "one-layer attention partial sums (per-key tables)"
    # keys-values: Alice's keys and values, each position in its own slot
    kvpos = d.kv_positions
    H, dk, dv = model.heads, model.key_dim, model.value_dim
    nk = kvpos.size
    W = nk * H * (dk + dv)
    tables = np.zeros((nk, V, W), dtype=np.int64)
    for k, p in enumerate(kvpos.tolist()):
        toks = np.unique(layout.table[p]) if layout.per_digit else np.arange(V)
        e, _ = model.embed_rows(toks, np.full(toks.size, p))
        kv = model.qkv(0, e, "kv")[0]
        for i, t in enumerate(toks.tolist()):
            kslot = k * H * dk
            vslot = nk * H * dk + k * H * dv
            tables[k, t, kslot:kslot + H * dk] = kv["k"][i].reshape(-1)
            tables[k, t, vslot:vslot + H * dv] = kv["v"][i].reshape(-1)
    return kvpos, tables, "one-layer keys and values (slot tables)"


def _cross_check(source: _Source, model: Any, split: Any, tr0: Any, seed: int) -> None:
    """The kernel's messages must equal the engine's on the template and a few random
    inputs, value for value; anything else is an engine or kernel bug."""
    layout = source.layout
    rng = np.random.default_rng([int(seed), 0xC0FFEE])
    digits = np.vstack([np.zeros((1, layout.digits), dtype=np.int64), layout.space.sample(rng, 3)])
    rows = source.rows(digits)
    keys = source.keys(digits)
    # the enumeration order agrees with the per-input path on the first leaves
    probe = np.arange(min(layout.size, 64), dtype=np.int64)
    if np.any(source.keys_tree(0, probe.size) != source.keys(source.leaves_to_digits(probe))):
        raise EngineError(f"witness kernel ({source.kind}): tree enumeration disagrees with per-input messages")
    for i, x in enumerate(digits):
        tr = tr0 if i == 0 else _engine_run(model, layout.reduction.encode(x, layout.y0).tokens, split)
        want = _engine_values(tr)
        if want.shape != rows[i].shape or np.any(want != rows[i]):
            raise EngineError(f"witness kernel ({source.kind}) disagrees with the protocol engine on input "
                              f"{x.tolist()}: {rows[i].tolist()} != {want.tolist()}")
        if source.exact_keys:
            bits = np.concatenate([m.payload.bits for m in tr.messages]).astype(np.uint64)
            val = 0
            for b in bits.tolist():
                val = (val << 1) | int(b)
            if int(keys[i]) != val:
                raise EngineError("witness key differs from the engine's payload bits")


# ---------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EffectiveBits:
    """log2 #distinct messages over all of Alice's inputs, next to the nominal message
    size and the one-way bound.  ``applicable`` is False (with ``note``) when the
    protocol on this split is not one-way or the count cannot be made."""

    applicable: bool
    distinct_messages: int | None = None
    effective_bits: float | None = None
    nominal_bits: int | None = None
    one_way_bound: float | None = None
    inputs: int | None = None
    exact: bool = True
    note: str = ""
    source: str = ""
    seconds: float = 0.0

    @property
    def meets_bound(self) -> bool | None:
        if self.effective_bits is None or self.one_way_bound is None:
            return None
        return bool(self.effective_bits >= self.one_way_bound - 1e-9)

    def to_json(self) -> dict[str, Any]:
        return {
            "applicable": self.applicable,
            "distinct_messages": self.distinct_messages,
            "effective_bits": self.effective_bits,
            "nominal_bits": self.nominal_bits,
            "one_way_bound": self.one_way_bound,
            "meets_one_way_bound": self.meets_bound,
            "inputs": self.inputs,
            "exact": self.exact,
            "source": self.source,
            "note": self.note,
            "seconds": round(self.seconds, 4),
        }


@dataclass
class WitnessResult:
    """The outcome of a witness search (:meth:`to_json` is ``commlb witness --json``).

    When ``found``: ``alice_inputs`` = (x, x') with bit-identical messages, ``bob_input``
    = y with f(x, y) ≠ f(x', y), ``outputs`` the model's answers on both full inputs
    (plain forward pass), ``expected`` the true answers, ``wrong_on`` which of "x", "x'"
    the model gets wrong (at least one, since the answers are equal)."""

    found: bool
    task: str
    model: str
    problem: str
    n: int
    message_bits: int
    one_way_bound: float | None
    inputs_enumerated: int
    exhaustive: bool
    distinct_messages: int
    alice_inputs: tuple[list[int], list[int]] | None = None
    bob_input: list[int] | None = None
    outputs: list[Any] | None = None
    output_values: list[Any] | None = None
    expected: list[int] | None = None
    wrong_on: list[str] | None = None
    sequences: list[list[int]] | None = None
    owners: list[int] | None = None
    message: dict[str, Any] | None = None
    messages_identical: bool | None = None
    outputs_identical: bool | None = None
    effective_bits: float | None = None
    total_inputs: int = 0
    collisions_seen: int = 0
    source: str = ""
    seconds: float = 0.0
    note: str = ""
    vocab_names: list[str] | None = None
    model_note: str = ""
    reduction: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {
            "found": self.found,
            "task": self.task,
            "model": self.model,
            "reduction": self.reduction,
            "problem": self.problem,
            "n": self.n,
            "alice_inputs": None if self.alice_inputs is None else [list(self.alice_inputs[0]),
                                                                    list(self.alice_inputs[1])],
            "bob_input": self.bob_input,
            "message_bits": self.message_bits,
            "nominal_bits": self.message_bits,
            "outputs": self.outputs,
            "output_values": self.output_values,
            "expected": self.expected,
            "wrong_on": self.wrong_on,
            "inputs_enumerated": self.inputs_enumerated,
            "total_inputs": self.total_inputs,
            "exhaustive": self.exhaustive,
            "distinct_messages": self.distinct_messages,
            "effective_bits": self.effective_bits,
            "one_way_bound": self.one_way_bound,
            "sequences": self.sequences,
            "owners": self.owners,
            "message": self.message,
            "messages_identical": self.messages_identical,
            "outputs_identical": self.outputs_identical,
            "collisions_seen": self.collisions_seen,
            "source": self.source,
            "seconds": round(self.seconds, 4),
            "note": self.note,
            "model_note": self.model_note,
        }
        return out


# ---------------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------------
def parse_budget(budget: Any) -> tuple[int | None, float | None]:
    """``budget``: None, a number of inputs (int or "1000000", "1e6"), or seconds ("30s").
    Returns (inputs, seconds)."""
    if budget is None:
        return None, None
    if isinstance(budget, (int, np.integer)) and not isinstance(budget, bool):
        if budget < 1:
            raise InvalidInputError(f"--budget must be positive, got {budget}")
        return int(budget), None
    text = str(budget).strip().lower()
    try:
        if text.endswith("s"):
            secs = float(text[:-1])
            if not secs > 0:
                raise ValueError
            return None, secs
        val = float(text)
        if not val >= 1 or val != int(val):
            raise ValueError
        return int(val), None
    except ValueError:
        raise InvalidInputError(f"--budget must be a number of inputs (e.g. 1000000) or seconds (e.g. 30s), "
                                f"got {budget!r}") from None


def _fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    if s < 3.2e7 * 2:
        return f"{s / 86400:.1f} days"
    return f"{s / 3.15e7:.3g} years"


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b:.3g} PiB"


def _rate(source: _Source) -> float:
    """Inputs per second of the exhaustive kernel, measured on a small range (after one
    warm-up call that triggers compilation or cache loading)."""
    n = source.n_inputs
    probe = int(min(n, 1 << 12))
    source.keys_tree(0, min(n, 16))
    t = time.perf_counter()
    source.keys_tree(0, probe)
    dt = max(time.perf_counter() - t, 1e-6)
    return probe / dt


def _estimate(source: _Source) -> tuple[float, float]:
    rate = _rate(source)
    return source.n_inputs / rate, float(source.n_inputs) * BYTES_PER_INPUT


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, run starts into the sorted order, run lengths) of equal keys."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    if sk.size == 0:
        return order, np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    lengths = np.diff(np.concatenate([starts, [sk.size]]))
    return order, starts, lengths


def _exact_distinct(source: _Source, digits_of: Callable[[np.ndarray], np.ndarray], order: np.ndarray,
                    starts: np.ndarray, lengths: np.ndarray, limit: int = 1 << 22) -> tuple[int, bool]:
    """Distinct messages: the number of key runs when keys are exact, else runs of one
    plus the distinct messages inside each run of equal hashes (recomputed), if at most
    ``limit`` inputs share a hash; beyond that the hash count is returned (exact=False)."""
    if source.exact_keys:
        return int(starts.size), True
    multi = lengths > 1
    members = int(lengths[multi].sum())
    if members == 0:
        return int(starts.size), True
    if members > limit:
        return int(starts.size), False
    distinct = int(np.count_nonzero(~multi))
    run_starts, run_lengths = starts[multi], lengths[multi]
    # batches of whole runs, about 2^18 inputs each (bounded memory for the rows)
    ends = np.cumsum(run_lengths)
    lo = 0
    while lo < run_starts.size:
        hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + (1 << 18), side="right"))
        hi = max(hi, lo + 1)
        idx = np.concatenate([order[a:a + b] for a, b in zip(run_starts[lo:hi], run_lengths[lo:hi])])
        run_id = np.repeat(np.arange(hi - lo), run_lengths[lo:hi])
        rows = source.rows(digits_of(idx))
        distinct += int(np.unique(np.column_stack([run_id, rows]), axis=0).shape[0])
        lo = hi
    return distinct, True


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


def _index_y(problem: Any, x: np.ndarray, x2: np.ndarray) -> np.ndarray | None:
    diff = np.flatnonzero(x != x2)
    if problem.name == "index" and diff.size:
        return np.array([int(diff[0])], dtype=np.int64)
    return None


@dataclass
class _Collision:
    x: np.ndarray
    x2: np.ndarray
    y: np.ndarray


def _find_pair(source: _Source, digits_of: Callable[[np.ndarray], np.ndarray], order: np.ndarray,
               starts: np.ndarray, lengths: np.ndarray, rng: np.random.Generator,
               max_pairs: int = 2000) -> tuple[_Collision | None, int]:
    """The first pair in a run of equal keys with equal messages and a distinguishing y.

    Tries the first input of each run against up to 32 others, at most ``max_pairs``
    pairs in all; returns (pair or None, number of pairs tried)."""
    problem = source.layout.reduction.problem
    tried = 0
    for s, n in zip(starts[lengths > 1].tolist(), lengths[lengths > 1].tolist()):
        members = order[s:s + min(n, 33)]
        digits = digits_of(members)
        rows = None if source.exact_keys else source.rows(digits)
        for i in range(1, digits.shape[0]):
            if rows is not None and not np.array_equal(rows[0], rows[i]):
                continue
            x, x2 = digits[0].astype(np.int64), digits[i].astype(np.int64)
            y = _index_y(problem, x, x2)
            if y is None:
                y = _distinguishing_y(problem, x, x2, rng)
            tried += 1
            if y is not None:
                return _Collision(x, x2, y), tried
            if tried >= max_pairs:
                return None, tried
    return None, tried


def _prove(source: _Source, model: Any, split: Any, pair: _Collision) -> dict[str, Any]:
    """Run both full inputs through the plain forward pass and the engine; check the
    messages are bit-identical and the outputs equal, and read off the true answers."""
    red = source.layout.reduction
    problem = red.problem
    inst = [red.encode(pair.x, pair.y), red.encode(pair.x2, pair.y)]
    outs = [model.forward(np.asarray(i.tokens)) for i in inst]
    trs = [_engine_run(model, i.tokens, split, verify=True) for i in inst]
    pay = [np.concatenate([m.payload.bits for m in t.messages]) for t in trs]
    identical = bool(pay[0].shape == pay[1].shape and np.array_equal(pay[0], pay[1]))
    if not identical:
        raise EngineError("witness: the engine's messages for the colliding inputs differ (kernel bug)")
    same_out = outs[0].same_bits(outs[1])
    if not same_out:
        raise EngineError("witness: equal one-way messages gave different outputs (engine bug)")
    answers = []
    for o in outs:
        try:
            answers.append(int(red.decode(o.decision)))
        except Exception:  # a random model's out-of-range symbol: no valid answer
            answers.append(None)
    expected = [int(np.asarray(problem.evaluate(pair.x, pair.y)).reshape(-1)[0]),
                int(np.asarray(problem.evaluate(pair.x2, pair.y)).reshape(-1)[0])]
    wrong = [name for name, a, e in zip(("x", "x'"), answers, expected) if a != e]
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


def _bound_value(problem: Any) -> float | None:
    getter = getattr(problem, "one_way_bound", None)
    if getter is None:
        return None
    b = getter("AB")
    return None if b is None or b.value is None else float(b.value)


def _enumerate(source: _Source, progress: Progress | None) -> np.ndarray:
    N = source.n_inputs
    keys = np.empty(N, dtype=np.uint64)
    for lo in range(0, N, _BLOCK):
        hi = min(N, lo + _BLOCK)
        keys[lo:hi] = source.keys_tree(lo, hi)
        if progress is not None:
            progress(hi, N, "enumerating Alice's inputs")
    return keys


def _sample(source: _Source, count: int | None, seconds: float | None, rng: np.random.Generator,
            progress: Progress | None, found: Callable[[np.ndarray, np.ndarray], bool]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs (distinct digit rows) and their keys, drawn in chunks up to ``count``
    draws or ``seconds``; stops early once ``found(digits, keys)`` (a birthday search:
    collisions appear after about sqrt(#messages) draws)."""
    layout = source.layout
    D, base = layout.digits, layout.base
    dtype = np.int8 if base <= 127 else (np.int16 if base <= 32767 else np.int64)
    chunk = 1 << 16
    t_end = None if seconds is None else time.perf_counter() + seconds
    drawn = 0
    digits = np.zeros((0, D), dtype=dtype)
    keys = np.zeros(0, dtype=np.uint64)
    while True:
        if count is not None and drawn >= count:
            break
        if t_end is not None and time.perf_counter() >= t_end:
            break
        c = chunk if count is None else min(chunk, count - drawn)
        new = rng.integers(0, base, size=(c, D)).astype(dtype)
        digits = np.vstack([digits, new])
        keys = np.concatenate([keys, source.keys(new.astype(np.int64))])
        drawn += c
        # the same input drawn twice is not a collision (inputs compared by their index
        # when it fits 63 bits: much faster than comparing rows)
        if D * math.log2(base) < 63:
            index = digits.astype(np.int64) @ (np.int64(base) ** np.arange(D, dtype=np.int64))
            _, first = np.unique(index, return_index=True)
        else:
            _, first = np.unique(digits, axis=0, return_index=True)
        first.sort()
        digits, keys = digits[first], keys[first]
        if progress is not None:
            progress(drawn, count if count is not None else 0, "sampling Alice's inputs")
        if found(digits, keys):
            break
    return digits.astype(np.int64), keys


def search_witness(reduction: Reduction, model: Any, split: Any = None, *, budget: Any = None, seed: int = 0,
                   exhaustive: bool | None = None, progress: Progress | None = None, backend: str = "auto",
                   task_name: str = "", model_note: str = "") -> WitnessResult:
    """Look for x ≠ x' with identical one-way messages and a Bob input y separating them,
    for ``model`` on ``reduction``'s instances (split: the reduction's owners by default).

    ``exhaustive``: None = all of Alice's inputs when the estimate fits (else refuse
    without a ``budget``, or sample with one), True = force, False = sample.  ``budget``:
    inputs to sample (int) or seconds ("30s").  Raises :class:`TooLargeError` with an
    estimate when an exhaustive run is needed but too large."""
    t_start = time.perf_counter()
    count, seconds = parse_budget(budget)
    source = message_source(reduction, model, split, backend=backend, seed=seed)
    layout = source.layout
    split = split if split is not None else _default_split(reduction)
    problem = reduction.problem
    N = layout.size
    if exhaustive is None:
        if count is not None and count >= N:
            exhaustive = True
        elif count is not None or seconds is not None:
            exhaustive = False
        elif N <= 1 << 20 and source.kind != _EngineSource.kind:
            exhaustive = True  # always feasible: about a second at worst
        else:
            est_s, est_b = _estimate(source)
            if est_s > MAX_EXHAUSTIVE_SECONDS or est_b > MAX_EXHAUSTIVE_BYTES:
                raise TooLargeError(
                    f"an exhaustive search over Alice's {layout.base}^{layout.digits} = {N:.3g} inputs would take "
                    f"about {_fmt_seconds(est_s)} and {_fmt_bytes(est_b)}; pass --budget N (random inputs, "
                    "e.g. --budget 1000000) or --budget 60s to sample instead"
                )
            exhaustive = True
    rng = np.random.default_rng([int(seed), 0x517])
    if exhaustive:
        est_b = float(N) * BYTES_PER_INPUT
        if est_b > 4 * MAX_EXHAUSTIVE_BYTES:
            raise TooLargeError(f"an exhaustive search over {N:.3g} inputs needs about {_fmt_bytes(est_b)}; "
                                "pass --budget to sample")
        keys = _enumerate(source, progress)
        digits_of = source.leaves_to_digits
        enumerated = N
    else:
        if count is None and seconds is None:
            count = 1 << 20
        def stop(digits: np.ndarray, keys: np.ndarray) -> bool:
            order, starts, lengths = _runs(keys)
            if not np.any(lengths > 1):
                return False
            got, _ = _find_pair(source, lambda idx: digits[np.asarray(idx, dtype=np.int64)].astype(np.int64),
                                order, starts, lengths, rng, max_pairs=64)
            return got is not None

        digits_all, keys = _sample(source, count, seconds, rng, progress, stop)

        def digits_of(idx: np.ndarray) -> np.ndarray:
            return digits_all[np.asarray(idx, dtype=np.int64)]

        enumerated = int(keys.size)
    if progress is not None:
        progress(enumerated, enumerated, "sorting messages")
    order, starts, lengths = _runs(keys)
    distinct, exact = _exact_distinct(source, digits_of, order, starts, lengths)
    pair, tried = _find_pair(source, digits_of, order, starts, lengths, rng)
    bound = _bound_value(problem)
    eff = _log2(distinct) if exhaustive else None
    result = WitnessResult(
        found=pair is not None,
        task=task_name or reduction.task.name,
        model=str(model.family),
        reduction=reduction.name,
        problem=problem.label(),
        n=int(getattr(problem, "n", layout.digits)),
        message_bits=source.nominal_bits,
        one_way_bound=bound,
        inputs_enumerated=enumerated,
        exhaustive=bool(exhaustive),
        distinct_messages=distinct,
        effective_bits=eff,
        total_inputs=N,
        collisions_seen=int(np.count_nonzero(lengths > 1)),
        source=source.kind + f" ({source.backend})",
        model_note=model_note,
        vocab_names=_vocab_names(reduction),
        owners=np.asarray(layout.owner).astype(int).tolist(),
    )
    if pair is not None:
        proof = _prove(source, model, split, pair)
        result.alice_inputs = (pair.x.tolist(), pair.x2.tolist())
        result.bob_input = pair.y.tolist()
        for key, value in proof.items():
            setattr(result, key, value)
        result.note = (f"x and x' send the same {source.nominal_bits}-bit message, so Bob's answer on y is the "
                       f"same for both, but f(x, y) = {proof['expected'][0]} and f(x', y) = {proof['expected'][1]}")
    else:
        scope = "all" if exhaustive else "the sampled"
        if distinct == enumerated:
            result.note = (f"no collision: {scope} {enumerated:,} inputs of Alice send {distinct:,} distinct messages"
                           + ("; the model is large enough to tell every input apart" if exhaustive else
                              " (not exhaustive: a collision may exist among inputs not drawn)"))
        else:
            result.note = (f"{enumerated - distinct:,} inputs share a message with another, but none of the {tried:,} "
                           "colliding pairs tried has a Bob input telling them apart (the first input of each run of "
                           "equal messages against up to 32 others)")
        if not exact:
            result.note += "; distinct count from 64-bit hashes"
    result.seconds = time.perf_counter() - t_start
    return result


def _default_split(reduction: Reduction) -> Any:
    from .protocol.core import Split

    inst = reduction.encode(np.zeros(reduction.problem.x_space.length, dtype=np.int64),
                            reduction.problem.y_space.from_index(0))
    return Split.from_instance(inst)


def _vocab_names(reduction: Reduction) -> list[str] | None:
    try:
        return reduction.task.vocab_names()
    except Exception:
        return None


def effective_bits(reduction: Reduction, model: Any, split: Any = None, *, max_inputs: int = 1 << 24,
                   backend: str = "auto", max_engine_inputs: int = 1 << 10) -> EffectiveBits:
    """log2 of the number of distinct messages Alice sends over **all** her inputs.

    ``reduction``: a :class:`~commlb.core.Reduction`; ``model``: any commlb model;
    ``split``: a :class:`~commlb.protocol.core.Split` or None (the reduction's owners).
    Returns :class:`EffectiveBits` (``to_json()`` for ``simulate --json``).  It never
    raises for a split or model it cannot count (not one-way, more than ``max_inputs``
    inputs, or no batched kernel — float arithmetic, hard attention, several layers —
    and more than ``max_engine_inputs`` inputs for one protocol run each): it returns
    ``applicable=False`` with the reason in ``note``.  A model correct on every input
    has ``effective_bits >= one_way_bound`` (the one-way complexity is log2 #distinct
    rows, and inputs with equal messages get equal answers)."""
    t = time.perf_counter()
    problem = reduction.problem
    bound = _bound_value(problem)
    try:
        size = int(problem.x_space.size)
        if size > max_inputs:
            return EffectiveBits(False, one_way_bound=bound, inputs=size,
                                 note=f"Alice has {size:.3g} inputs, above the limit of {max_inputs:,}")
        source = message_source(reduction, model, split, backend=backend, max_engine_inputs=max_engine_inputs,
                                numpy_below=NUMPY_BELOW_EFFECTIVE)
    except (InvalidInputError, TooLargeError) as exc:
        return EffectiveBits(False, one_way_bound=bound, note=str(exc))
    keys = _enumerate(source, None)
    order, starts, lengths = _runs(keys)
    distinct, exact = _exact_distinct(source, source.leaves_to_digits, order, starts, lengths)
    return EffectiveBits(True, distinct, _log2(distinct), source.nominal_bits, bound, source.n_inputs, exact,
                         "" if exact else "distinct count from 64-bit hashes", source.kind + f" ({source.backend})",
                         time.perf_counter() - t)


def witness_model(setup: Any, family: str, *, weights: str | None = None, **options: Any) -> tuple[Any, str]:
    """The model a witness search runs on: :func:`commlb.models.build.build_model` with the
    same options, except that with ``weights=None``, when the paper construction refuses
    the requested sizes (constructions are built to be large enough), random weights of
    those sizes are used.  Returns (BuiltModel, note for the reader)."""
    from .models.build import build_model

    try:
        built = build_model(setup, family, weights=weights, **options)
        return built, built.note
    except InvalidInputError as exc:
        if weights is not None:
            raise
        built = build_model(setup, family, weights="random", **options)
        task = setup.task_name or setup.task.name
        return built, f"the {task}/{family} construction cannot be built at these sizes ({exc}); {built.note}"


def find_witness(task: str, model_family: str, n: int | None = None, *, hidden: int | None = None,
                 layers: int | None = None, heads: int | None = None, width: int | None = None,
                 precision: int | None = None, arith: str = "fixed", weights: str | None = None,
                 seed: int = 0, budget: Any = None, exhaustive: bool | None = None, split: Any = None,
                 reduction: str | None = None, progress: Progress | None = None, backend: str = "auto",
                 **task_options: Any) -> WitnessResult:
    """``commlb witness`` as a function: resolve the task and build the model as
    ``commlb simulate`` does (:func:`commlb.setup.resolve_task`; the model options are
    those of :func:`commlb.models.build.build_model`, ``weights`` may be a ``.npz`` path; see
    :func:`witness_model` for the one difference), then :func:`search_witness` on the
    reduction's split (or ``split``: a spec such as ``prefix:K``).  ``budget``: inputs to
    sample or seconds ("30s"); ``exhaustive``: force or forbid enumerating every input."""
    from .protocol.core import Split
    from .setup import resolve_task

    setup = resolve_task(task, n, reduction=reduction, **task_options)
    if setup.reduction is None:
        raise InvalidInputError(f"task {task} has no reduction from a communication problem, so there is no "
                                "Alice input to collide")
    built, note = witness_model(setup, model_family, weights=weights, hidden=hidden, layers=layers, heads=heads,
                                width=width, precision=precision, arith=arith, seed=seed)
    sp = None
    if split not in (None, "", "reduction"):
        sp = split if isinstance(split, Split) else Split.parse(split, setup.example_instance())
    return search_witness(setup.reduction, built.model, sp, budget=budget, seed=seed, exhaustive=exhaustive,
                          progress=progress, backend=backend, task_name=task, model_note=note)
