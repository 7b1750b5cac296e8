"""Message sources: Alice's one-way message for any of her inputs, as 64-bit keys.

:func:`message_source` picks, for a model and a one-way split, the fastest source that
covers them, and checks it against the protocol engine before it is used:

* :class:`RNNSource` — the RNN state after Alice's prefix, by a depth-first walk of the
  prefix tree (:func:`commlb.kernels.alice.rnn_keys`);
* :class:`AdditiveSource` — messages that are sums of per-position tables: FFN first-layer
  partial pre-activations, one-layer attention partial sums for PUBLIC queries, or Alice's
  keys and values (:func:`commlb.kernels.alice.additive_keys`);
* :class:`EngineSource` — any other model or split: the protocol engine itself, one run
  per input (exact and slow, so refused above :data:`MAX_ENGINE_INPUTS` inputs).

The first two compute the message a second way, beside the protocol simulators of
:mod:`commlb.protocol` (docs/design.md §6).  What keeps the two paths equal is the
cross-check of every run (:func:`cross_check`): the kernel's message values must equal the
engine's transcript, value for value, on the template input and three random ones, its
keys must equal the engine's payload bits when messages have at most 64 bits, and the
tree enumeration must agree with the per-input path on the first 64 leaves; any
difference raises :class:`~commlb.errors.EngineError`.  A message is reduced to a 64-bit
key: the message itself when it has at most 64 bits (``exact_keys``), else a hash.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import ALICE, BOB, Reduction, sorted_unique
from ..errors import EngineError, InvalidInputError, TooLargeError
from .layout import AliceLayout, alice_layout

__all__ = [
    "MessageSource",
    "RNNSource",
    "AdditiveSource",
    "EngineSource",
    "message_source",
    "engine_run",
    "engine_values",
    "check_one_way",
    "cross_check",
    "MAX_ENGINE_INPUTS",
    "NUMPY_BELOW",
    "PLAIN_UPTO_ROWS",
]

#: the engine fallback (one protocol run per input) is allowed up to this many inputs
MAX_ENGINE_INPUTS = 1 << 14
#: messages of this many inputs or fewer (the cross-check's few inputs, the members of a
#: few short runs) are computed by the plain twins whatever the backend: faster than
#: loading (or, on a fresh install, compiling) a kernel for them
PLAIN_UPTO_ROWS = 64
#: with backend "auto", up to this many inputs the plain numpy twins run instead of the
#: numba kernels (no compilation or cache loading for small runs): the witness search
#: switches early, the effective-bits count (simulate's hook, up to 2^16 inputs) never
NUMPY_BELOW = 1 << 12


class MessageSource:
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
        from ..kernels.alice import tree_to_input

        idx = tree_to_input(leaves, self.radix, self.level_digit, self.layout.base)
        return self.layout.space.from_index(idx).reshape(len(idx), -1)

    def rows(self, digits: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def keys(self, digits: np.ndarray) -> np.ndarray:
        from ..kernels import alice as K

        rows = self.rows(digits)
        fast = self.backend == "numba" and len(rows) > PLAIN_UPTO_ROWS
        return (K.key_rows if fast else K.key_rows_reference)(rows, self.widths)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        return self.keys(self.leaves_to_digits(np.arange(t0, t1, dtype=np.int64)))


class RNNSource(MessageSource):
    kind = "rnn prefix tree"

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str,
                 model: Any, cut: int) -> None:
        from ..kernels.alice import RNNArrays

        super().__init__(layout, fields, nominal_bits, backend)
        self.arrays = RNNArrays.from_model(model)
        self.cut = int(cut)
        self.positions = np.arange(self.cut, dtype=np.int64)
        # the tree: one level per position read before the handoff; a level branches on
        # the digit it reads (radix b) or is fixed (radix 1); unread digits go last
        reads = layout.digit_of[: self.cut]
        used = reads[reads >= 0]
        self.tree = layout.per_digit and used.size == sorted_unique(used).size
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
        from ..kernels import alice as K

        toks = self.layout.tokens(digits, self.positions)
        fn = K.rnn_rows if self.backend == "numba" and len(toks) > PLAIN_UPTO_ROWS else K.rnn_rows_reference
        return fn(self.arrays, toks)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        from ..kernels import alice as K

        if not self.tree:
            return super().keys_tree(t0, t1)
        fn = K.rnn_keys if self.backend == "numba" else K.rnn_keys_reference
        return fn(self.arrays, self.level_tokens, self.radix, t0, t1)


class AdditiveSource(MessageSource):
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
        from ..kernels import alice as K

        toks = self.layout.tokens(digits, self.positions)
        fn = K.additive_rows if self.backend == "numba" and len(toks) > PLAIN_UPTO_ROWS else K.additive_rows_reference
        return fn(self.tables, toks)

    def keys_tree(self, t0: int, t1: int) -> np.ndarray:
        from ..kernels import alice as K

        if not self.layout.per_digit:
            return super().keys_tree(t0, t1)
        fn = K.additive_keys if self.backend == "numba" else K.additive_keys_reference
        return fn(self.digit_tables, self.offset, self.widths, t0, t1)


class EngineSource(MessageSource):
    """Fallback: run the protocol engine on each input and read its payload (as 64-bit
    words).  Exact for any model and one-way split, slow (one protocol run per input)."""

    kind = "protocol engine, one run per input"

    def __init__(self, layout: AliceLayout, fields: list, nominal_bits: int, backend: str,
                 model: Any, split: Any) -> None:
        from ..bits import FieldSpec

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


def engine_run(model: Any, tokens: np.ndarray, split: Any, verify: bool = False) -> Any:
    from ..protocol import simulate

    transcript, _ = simulate(model, np.asarray(tokens), split, verify=verify)
    return transcript


def _engine_payload(model: Any, tokens: np.ndarray, split: Any) -> np.ndarray:
    tr = engine_run(model, tokens, split)
    if not tr.messages:
        return np.zeros(0, dtype=np.uint8)
    return np.concatenate([m.payload.bits for m in tr.messages]).astype(np.uint8)


def engine_values(tr: Any) -> np.ndarray:
    """Alice's message values in field order, flattened (what kernel rows hold)."""
    parts = []
    for m in tr.messages:
        vals = m.values()
        for f in m.fields:
            parts.append(np.asarray(vals[f.name]).reshape(-1))
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def check_one_way(tr: Any, family: str, split: Any) -> None:
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
                   numpy_below: int = NUMPY_BELOW) -> MessageSource:
    """The message source for (reduction, model, split): a batched kernel when one covers
    the model and the split, else the protocol engine; checked against the engine."""
    from ..protocol.core import Split

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
    tr = engine_run(model, layout.template, split, verify=True)
    check_one_way(tr, family, split)
    fields = [f for m in tr.messages for f in m.fields]
    nominal = int(tr.total_bits)
    source: MessageSource | None = None
    fixed = model.precision.is_fixed
    if fixed and family == "rnn" and len(tr.messages) == 1:
        from ..protocol.rnn import rnn_schedule

        last = int(model.output_positions(layout.template.size).max())
        first, segments = rnn_schedule(split.owner, last)
        if first is ALICE and len(segments) == 2:
            source = RNNSource(layout, fields, nominal, backend, model, segments[0][2])
    elif fixed and family == "ffn" and len(tr.messages) == 1:
        positions = np.flatnonzero(split.owner == ALICE)
        source = AdditiveSource(layout, fields, nominal, backend, positions,
                                 model.contribution_table(positions), "ffn first-layer tables")
    elif fixed and family == "transformer" and model.layers == 1 and not model.hard:
        built = _transformer_tables(model, split, layout, tr)
        if built is not None:
            positions, tables, label = built
            source = AdditiveSource(layout, fields, nominal, backend, positions, tables, label)
    if source is None:
        if layout.size > max_engine_inputs:
            why = ("float arithmetic" if not fixed else
                   f"this {family} model and split (no batched kernel)")
            raise TooLargeError(
                f"witness: {why} needs one protocol run per input, and Alice has {layout.size:,} inputs "
                f"(at most {max_engine_inputs:,} that way); use a smaller --n"
            )
        source = EngineSource(layout, fields, nominal, backend, model, split)
    else:
        cross_check(source, model, split, tr, seed)
    return source


def _transformer_tables(model: Any, split: Any, layout: AliceLayout, tr: Any) -> tuple | None:
    """Per-position tables (P, V, W) of Alice's one-layer message: partial sums for PUBLIC
    queries (each key's contribution through ``model.partial_sums``) or her keys/values."""
    from ..protocol.transformer import plan_transformer

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
            toks = sorted_unique(layout.table[p]) if layout.per_digit else np.arange(V)
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
        toks = sorted_unique(layout.table[p]) if layout.per_digit else np.arange(V)
        e, _ = model.embed_rows(toks, np.full(toks.size, p))
        kv = model.qkv(0, e, "kv")[0]
        for i, t in enumerate(toks.tolist()):
            kslot = k * H * dk
            vslot = nk * H * dk + k * H * dv
            tables[k, t, kslot:kslot + H * dk] = kv["k"][i].reshape(-1)
            tables[k, t, vslot:vslot + H * dv] = kv["v"][i].reshape(-1)
    return kvpos, tables, "one-layer keys and values (slot tables)"


def cross_check(source: MessageSource, model: Any, split: Any, tr0: Any, seed: int) -> None:
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
        tr = tr0 if i == 0 else engine_run(model, layout.reduction.encode(x, layout.y0).tokens, split)
        want = engine_values(tr)
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
