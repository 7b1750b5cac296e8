"""A transformer run as a two-party protocol (docs/theory.md §3.1–3.2; docs/design.md §5).

Who holds what
--------------
Every position has a *home*: the owner of its token, and for a PUBLIC position the
**output party** — the owner of the last non-public position of the sequence (ALICE if
every token is PUBLIC).  Layer 0 (embedding + positional code) of a PUBLIC position is
known to both parties; from layer 1 on its residual stream depends on both inputs and
lives at its home only.  A party computes the residual stream of exactly the positions
it is home of, and only of those that later layers or the read-out need
(:func:`commlb.models.transformer.needed_positions`): the output positions at the last
layer, every key/value position (all of them, or the earlier ones under a causal mask)
one layer below, and so on.

What crosses the cut
--------------------
For each layer ℓ and each *direction* (asker X, answerer Y), the queries are the
positions homed at X that are needed after layer ℓ and see at least one key of Y (at
layer 1, Y's keys are Y's own tokens: PUBLIC keys are computed by the asker; from layer
2 on, Y's keys are the positions homed at Y).  Two ways to finish them, the cheaper is
chosen (ties: query-and-answer), and the message note records both costs:

* **query-and-answer** — X sends each query (unless Y can compute it: a layer-1 query at
  a PUBLIC position costs nothing, which gives the one-way protocol of the one-layer lower
  bounds) and Y replies with its partial sums over its own keys.  X adds its own partial
  sums; since the softmax stabiliser is a public constant per head the sums add exactly.
* **keys-and-values** — Y sends the keys and values of its key positions and X computes
  everything itself.

A layer-1 query at a private position is a function of one token from the public
vocabulary, so X may instead send that token's id (``⌈log2 V⌉`` bits) and Y rebuilds the
query from the public weights; the simulator does so when it is cheaper and
``cheap_queries`` is on (default), and says so in the message note.

Bit formulas (p = precision bits, H heads, d_k key/query and d_v value dimension per
head, V vocabulary size, T = number of the answerer's key positions the message's
queries can see — all of them, or those at or before the latest query with a causal
mask):

=========================  =====================================================
message (label prefix)     bits
=========================  =====================================================
``query``                  n_q · H · d_k · p
``query-token``            n_q · ⌈log2 V⌉
``partial-sums``           n_q · H · (d_v · w_num + w_den), with
                           w_num = acc_width(p, T, 2) and w_den = acc_width(p, T, 1)
                           (exact accumulators, :func:`commlb.bits.acc_width`);
                           float mode the same form with the exact float
                           accumulator widths w = float_acc_width(p, T, 2) and
                           float_acc_width(p, T, 1) (docs/theory.md §3.7);
                           hard attention: n_q · H · (p + w_cnt + d_v · w_sum) with
                           w_cnt = ⌈log2 (T + 1)⌉, w_sum = acc_width(p, T, 1)
``keys-values``            n_kv · H · (d_k + d_v) · p
=========================  =====================================================

Order of messages in a layer: (1) Alice sends her queries, her keys/values and her
unsolicited partial sums (answers to PUBLIC queries); (2) Bob answers Alice's queries and
sends his own queries, keys/values and unsolicited sums; (3) Alice answers Bob's
queries.  Rounds therefore grow with the number of layers in general.  Counted bits never
include announcing the answer: the output party computes the read-out itself (if a model
reads several output positions homed at different parties, each computes its own).

Verification: the protocol's read-out must equal ``model.forward`` bit for bit, in fixed
point and in float mode alike (float partial sums cross as exact accumulators, so the
merged sum is the forward pass's exact sum, rounded once).  A mismatch raises
:class:`EngineError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bits import FieldSpec, acc_width, float_acc_frac, float_acc_width, unsigned_width
from ..core import ALICE, BOB, PUBLIC, Owner
from ..errors import EngineError, InvalidInputError
from ..models.base import ModelOutput
from ..models.transformer import Partial, TransformerModel, needed_positions
from .core import Channel, PartyView, Split, Transcript, verify_output

__all__ = [
    "simulate_transformer",
    "plan_transformer",
    "TransformerPlan",
    "DirectionPlan",
    "message_bits",
    "public_home",
]


# ---------------------------------------------------------------------------------
# Bit formulas (the module docstring's table, as code used for planning)
# ---------------------------------------------------------------------------------
def message_bits(model: TransformerModel, kind: str, count: int, terms: int = 0) -> int:
    """Bits of a message of ``kind`` carrying ``count`` queries / key positions;
    ``terms`` is T (the answerer's key positions visible to the queries)."""
    prec = model.precision
    p, H, dk, dv = prec.bits, model.heads, model.key_dim, model.value_dim
    if kind == "query":
        return count * H * dk * p
    if kind == "query-token":
        return count * unsigned_width(model.vocab_size - 1)
    if kind == "keys-values":
        return count * H * (dk + dv) * p
    if kind == "partial-sums":
        return count * H * _answer_bits_per_head(model, terms)
    raise EngineError(f"unknown transformer message kind {kind!r}")


def _answer_bits_per_head(model: TransformerModel, terms: int) -> int:
    prec = model.precision
    dv = model.value_dim
    if not prec.is_fixed:
        return dv * float_acc_width(prec, terms, 2) + float_acc_width(prec, terms, 1)
    if model.hard:
        return prec.bits + unsigned_width(terms) + dv * acc_width(prec, terms, 1)
    return dv * acc_width(prec, terms, 2) + acc_width(prec, terms, 1)


def _answer_fields(model: TransformerModel, nq: int, terms: int) -> list[FieldSpec]:
    prec = model.precision
    H, dv = model.heads, model.value_dim
    if not prec.is_fixed:  # exact float accumulators (docs/theory.md §3.7)
        return [FieldSpec("num", "acc", (nq, H, dv), float_acc_width(prec, terms, 2), float_acc_frac(prec, 2)),
                FieldSpec("den", "acc", (nq, H), float_acc_width(prec, terms, 1), float_acc_frac(prec, 1))]
    if model.hard:
        return [FieldSpec("top", "fixed", (nq, H), prec.bits, prec.frac),
                FieldSpec("count", "uint", (nq, H), unsigned_width(terms)),
                FieldSpec("num", "acc", (nq, H, dv), acc_width(prec, terms, 1), prec.frac)]
    return [FieldSpec("num", "acc", (nq, H, dv), acc_width(prec, terms, 2), 2 * prec.frac),
            FieldSpec("den", "acc", (nq, H), acc_width(prec, terms, 1), prec.frac)]


def _value_kind(model: TransformerModel) -> tuple[str, int, int]:
    prec = model.precision
    return ("fixed", prec.bits, prec.frac) if prec.is_fixed else ("float", prec.bits, 0)


# ---------------------------------------------------------------------------------
# The plan: everything here depends only on public information (model, split)
# ---------------------------------------------------------------------------------
def public_home(owner: np.ndarray) -> Owner:
    """Where PUBLIC positions' residual streams live after layer 1: the owner of the last
    non-public position (the output party of the usual reductions), else ALICE."""
    private = np.flatnonzero(owner != PUBLIC)
    return Owner(int(owner[private[-1]])) if private.size else ALICE


@dataclass(frozen=True)
class DirectionPlan:
    """How the queries of ``asker`` at one layer get the answerer's contribution."""

    layer: int  # 0-based
    asker: Owner
    queries: np.ndarray  # positions, ascending
    query_kind: np.ndarray  # per query: "public", "query-token" or "query"
    mode: str  # "query-answer" or "keys-values"
    kv_positions: np.ndarray  # the answerer's key positions the queries see
    cost_query_answer: int
    cost_keys_values: int

    @property
    def answerer(self) -> Owner:
        return self.asker.other

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer + 1,
            "asker": self.asker.name.lower(),
            "queries": int(self.queries.size),
            "mode": self.mode,
            "cost_query_answer": self.cost_query_answer,
            "cost_keys_values": self.cost_keys_values,
        }


@dataclass(frozen=True)
class TransformerPlan:
    owner: np.ndarray
    home: np.ndarray  # Owner per position
    public_home: Owner
    need: list[np.ndarray]
    outputs: np.ndarray
    directions: list[DirectionPlan] = field(default_factory=list)

    def keys_of(self, party: Owner, layer: int, as_answerer: bool) -> np.ndarray:
        """Key positions whose layer-``layer`` keys/values ``party`` contributes.

        Layer 0 (the first attention layer): an answerer contributes its own tokens only;
        the asker contributes its own and the PUBLIC ones.  Later layers: the positions
        homed at ``party``."""
        cand = self.need[layer]
        if layer == 0:
            own = self.owner[cand] == party
            if not as_answerer:
                own |= self.owner[cand] == PUBLIC
            return cand[own]
        return cand[self.home[cand] == party]

    def direction(self, layer: int, asker: Owner) -> DirectionPlan | None:
        for d in self.directions:
            if d.layer == layer and d.asker == asker:
                return d
        return None


def plan_transformer(model: TransformerModel, split: Split, cheap_queries: bool = True) -> TransformerPlan:
    """Decide, from public information only, which positions are computed where and how
    each layer's cross-cut attention is paid for (the cheaper of the two modes)."""
    owner = np.asarray(split.owner, dtype=np.int8)
    length = owner.size
    outputs = model.output_positions(length)
    need = needed_positions(length, model.layers, outputs, model.causal)
    pub = public_home(owner)
    home = np.where(owner == PUBLIC, int(pub), owner).astype(np.int8)
    plan = TransformerPlan(owner, home, pub, need, outputs, [])
    dk_bits = message_bits(model, "query", 1)
    tok_bits = message_bits(model, "query-token", 1)
    for layer in range(model.layers):
        for asker in (ALICE, BOB):
            answerer = asker.other
            cand = need[layer + 1]
            cand = cand[home[cand] == asker]
            ykeys = plan.keys_of(answerer, layer, as_answerer=True)
            if cand.size == 0 or ykeys.size == 0:
                continue
            if model.causal:
                sees = np.searchsorted(ykeys, cand, side="right") > 0
                queries = cand[sees]
            else:
                queries = cand
            if queries.size == 0:
                continue
            kinds = []
            for i in queries:
                if layer == 0 and owner[i] == PUBLIC:
                    kinds.append("public")
                elif layer == 0 and cheap_queries and tok_bits < dk_bits:
                    kinds.append("query-token")
                else:
                    kinds.append("query")
            kinds_arr = np.array(kinds)
            kv = ykeys[ykeys <= queries.max()] if model.causal else ykeys
            cost_qa = 0
            for kind in ("query-token", "query"):
                cost_qa += message_bits(model, kind, int(np.sum(kinds_arr == kind)))
            for group in _answer_groups(kinds_arr):
                qs = queries[group]
                cost_qa += message_bits(model, "partial-sums", qs.size, _terms(model, ykeys, qs))
            cost_kv = message_bits(model, "keys-values", kv.size)
            mode = "query-answer" if cost_qa <= cost_kv else "keys-values"
            plan.directions.append(
                DirectionPlan(layer, asker, queries, kinds_arr, mode, kv, cost_qa, cost_kv)
            )
    return plan


def _answer_groups(kinds: np.ndarray) -> list[np.ndarray]:
    """Answers to PUBLIC queries go out unsolicited (one message), answers to sent
    queries in a second message."""
    groups = [np.flatnonzero(kinds == "public"), np.flatnonzero(kinds != "public")]
    return [g for g in groups if g.size]


def _terms(model: TransformerModel, ykeys: np.ndarray, queries: np.ndarray) -> int:
    if model.causal:
        return int(np.searchsorted(ykeys, queries.max(), side="right"))
    return int(ykeys.size)


# ---------------------------------------------------------------------------------
# A party: its view, its own streams, decoded messages — nothing else
# ---------------------------------------------------------------------------------
class _Party:
    def __init__(self, who: Owner, view: PartyView, model: TransformerModel, plan: TransformerPlan) -> None:
        self.who = who
        self.view = view
        self.model = model
        self.plan = plan
        self.saturations = 0
        self.streams: list[dict[int, np.ndarray]] = [dict() for _ in range(model.layers + 1)]
        visible = plan.need[0][[view.can_see(int(i)) for i in plan.need[0]]]
        if visible.size:
            toks = np.array(view.tokens(visible), dtype=np.int64)
            rows, sat = model.embed_rows(toks, visible)
            self.saturations += sat
            self.streams[0] = {int(p): rows[k] for k, p in enumerate(visible)}
        self.received_kv: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cache: dict[tuple[int, str, bytes], dict[str, np.ndarray]] = {}
        self.received_partial: dict[int, dict[int, Partial]] = {}

    def rows(self, layer: int, positions: np.ndarray) -> np.ndarray:
        stream = self.streams[layer]
        try:
            if positions.size == 0:
                return np.zeros((0, self.model.width), dtype=self.model.params["embed"].dtype)
            return np.stack([stream[int(p)] for p in positions])
        except KeyError as exc:
            raise EngineError(f"{self.who.name} has no layer-{layer} stream at position {exc}") from None

    def _qkv(self, layer: int, positions: np.ndarray, what: str) -> dict[str, np.ndarray]:
        key = (layer, what, np.asarray(positions, dtype=np.int64).tobytes())
        hit = self._cache.get(key)
        if hit is None:
            hit, sat = self.model.qkv(layer, self.rows(layer, positions), what)
            self.saturations += sat
            self._cache[key] = hit
        return hit

    # -- sending ----------------------------------------------------------------
    def query_values(self, d: DirectionPlan, kind: str) -> tuple[list[FieldSpec], dict[str, np.ndarray], np.ndarray]:
        sel = d.queries[d.query_kind == kind]
        m = self.model
        if kind == "query-token":
            toks = np.array(self.view.tokens(sel), dtype=np.int64)
            spec = FieldSpec("token", "uint", (sel.size,), unsigned_width(m.vocab_size - 1))
            return [spec], {"token": toks}, sel
        vk, width, frac = _value_kind(m)
        q = self._qkv(d.layer, sel, "q")["q"]
        spec = FieldSpec("query", vk, (sel.size, m.heads, m.key_dim), width, frac)
        return [spec], {"query": q}, sel

    def kv_values(self, d: DirectionPlan) -> tuple[list[FieldSpec], dict[str, np.ndarray]]:
        m = self.model
        vals = self._qkv(d.layer, d.kv_positions, "kv")
        vk, width, frac = _value_kind(m)
        n = d.kv_positions.size
        return ([FieldSpec("keys", vk, (n, m.heads, m.key_dim), width, frac),
                 FieldSpec("values", vk, (n, m.heads, m.value_dim), width, frac)],
                {"keys": vals["k"], "values": vals["v"]})

    def rebuild_queries(self, d: DirectionPlan, positions: np.ndarray, kind: str,
                        received: dict[str, np.ndarray] | None) -> np.ndarray:
        """The asker's queries as the answerer knows them: computed from PUBLIC tokens,
        rebuilt from received token ids, or received as vectors."""
        m = self.model
        if kind == "public":
            toks = np.array(self.view.tokens(positions), dtype=np.int64)
        elif kind == "query-token":
            assert received is not None
            toks = np.asarray(received["token"], dtype=np.int64)
            if toks.size and (toks.min() < 0 or toks.max() >= m.vocab_size):
                raise EngineError("received a query token outside the vocabulary")
        else:
            assert received is not None
            return np.asarray(received["query"])
        x0, sat = m.embed_rows(toks, positions)
        q, sat2 = m.qkv(d.layer, x0, "q")
        self.saturations += sat + sat2
        return q["q"]

    def answer(
        self, d: DirectionPlan, positions: np.ndarray, q: np.ndarray
    ) -> tuple[list[FieldSpec], dict[str, np.ndarray]]:
        m = self.model
        keys = self.plan.keys_of(self.who, d.layer, as_answerer=True)
        kv = self._qkv(d.layer, keys, "kv")
        part, sat = m.partial_sums(d.layer, q, positions, kv["k"], kv["v"], keys)
        self.saturations += sat
        terms = _terms(m, keys, positions)
        fields = _answer_fields(m, positions.size, terms)
        if part.top is not None:  # hard attention
            return fields, {"top": part.top, "count": part.den, "num": part.num}
        return fields, {"num": part.num, "den": part.den}

    # -- receiving --------------------------------------------------------------
    def take_partial(self, layer: int, positions: np.ndarray, got: dict[str, np.ndarray]) -> None:
        store = self.received_partial.setdefault(layer, {})
        m = self.model
        for k, p in enumerate(positions):
            if m.hard:
                part = Partial(got["num"][k:k + 1], got["count"][k:k + 1], got["top"][k:k + 1])
            else:
                part = Partial(got["num"][k:k + 1], got["den"][k:k + 1])
            store[int(p)] = part

    def take_kv(self, layer: int, positions: np.ndarray, got: dict[str, np.ndarray]) -> None:
        self.received_kv[layer] = (positions, np.asarray(got["keys"]), np.asarray(got["values"]))

    # -- computing ----------------------------------------------------------------
    def finish_layer(self, layer: int) -> None:
        """Residual streams after ``layer`` at every needed position homed here."""
        m = self.model
        plan = self.plan
        cand = plan.need[layer + 1]
        mine = cand[plan.home[cand] == self.who]
        if mine.size == 0:
            return
        q = self._qkv(layer, mine, "q")["q"]
        keys = plan.keys_of(self.who, layer, as_answerer=False)
        kv = self._qkv(layer, keys, "kv")
        total, sat = m.partial_sums(layer, q, mine, kv["k"], kv["v"], keys)
        self.saturations += sat
        if layer in self.received_kv:
            kpos, k, v = self.received_kv[layer]
            extra, sat = m.partial_sums(layer, q, mine, k, v, kpos)
            self.saturations += sat
            total = total + extra
        got = self.received_partial.get(layer, {})
        if got:
            idx = [k for k, p in enumerate(mine) if int(p) in got]
            if idx:
                parts = [got[int(mine[k])] for k in idx]
                num = np.concatenate([pp.num for pp in parts])
                den = np.concatenate([pp.den for pp in parts])
                if total.top is None:  # softmax
                    top = sub_top = None
                else:
                    tops = [pp.top for pp in parts if pp.top is not None]
                    assert len(tops) == len(parts), "hard-attention partials carry their top scores"
                    top = np.concatenate(tops)
                    sub_top = total.top[idx]
                sub = Partial(total.num[idx], total.den[idx], sub_top)
                merged = sub + Partial(num.astype(total.num.dtype), den.astype(total.den.dtype), top)
                total.num[idx] = merged.num
                total.den[idx] = merged.den
                if total.top is not None:
                    total.top[idx] = merged.top
        attn, sat = m.combine(total)
        self.saturations += sat
        new, sat = m.update(layer, self.rows(layer, mine), attn)
        self.saturations += sat
        self.streams[layer + 1] = {int(p): new[k] for k, p in enumerate(mine)}

    def readout(self, positions: np.ndarray) -> np.ndarray:
        vals, sat = self.model.readout(self.rows(self.model.layers, positions))
        self.saturations += sat
        return vals


# ---------------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------------
def _label(kind: str, d: DirectionPlan) -> str:
    return f"{kind} L{d.layer + 1}"


def _mode_note(d: DirectionPlan) -> str:
    return (f"layer {d.layer + 1}, {d.asker.name.lower()}'s {d.queries.size} queries: {d.mode} "
            f"({d.cost_query_answer} bits for queries + partial sums vs {d.cost_keys_values} bits for "
            "keys + values)")


def simulate_transformer(
    model: TransformerModel,
    tokens: np.ndarray,
    split: Split,
    *,
    cheap_queries: bool = True,
    verify: bool = True,
) -> tuple[Transcript, ModelOutput]:
    """Run ``model`` on ``tokens`` as a protocol between the owners of ``split``.

    Returns the transcript (every message encoded, counted, decoded) and the protocol's
    output.  With ``verify`` the output is checked against ``model.forward`` (bit for bit
    in fixed point) and a mismatch raises :class:`EngineError`."""
    if not isinstance(model, TransformerModel):
        raise InvalidInputError(f"simulate_transformer needs a transformer, got {type(model).__name__}")
    tokens = model.check_tokens(tokens)
    if len(split) != tokens.size:
        raise InvalidInputError(f"split has {len(split)} owners for {tokens.size} tokens")
    plan = plan_transformer(model, split, cheap_queries=cheap_queries)
    parties = {who: _Party(who, PartyView(who, tokens, split.owner), model, plan) for who in (ALICE, BOB)}
    channel = Channel()

    def send_queries(d: DirectionPlan) -> None:
        asker = parties[d.asker]
        for kind in ("query-token", "query"):
            if not np.any(d.query_kind == kind):
                continue
            fields, values, sel = asker.query_values(d, kind)
            note = _mode_note(d)
            if kind == "query-token":
                note += (f"; sent each query's token id ({fields[0].width} bits) instead of the query "
                         f"vector ({message_bits(model, 'query', 1)} bits): the receiver rebuilds "
                         "q = W_q(embed[token] + pos[i]) from the public weights")
            got = channel.send(d.asker, _label(kind, d), fields, values, note)
            pending[(d.layer, d.asker, kind)] = (sel, got)

    def send_answers(d: DirectionPlan, kinds: tuple[str, ...]) -> None:
        answerer, asker = parties[d.answerer], parties[d.asker]
        for group_kinds in (("public",), ("query-token", "query")):
            if not set(group_kinds) & set(kinds):
                continue
            mask = np.isin(d.query_kind, group_kinds)
            if not np.any(mask):
                continue
            positions = d.queries[mask]
            qs = np.zeros((positions.size, model.heads, model.key_dim),
                          dtype=np.int64 if model.precision.is_fixed else np.float64)
            for kind in group_kinds:
                kmask = d.query_kind[mask] == kind
                if not np.any(kmask):
                    continue
                if kind == "public":
                    qs[kmask] = answerer.rebuild_queries(d, positions[kmask], kind, None)
                else:
                    sel, got = pending[(d.layer, d.asker, kind)]
                    if not np.array_equal(sel, positions[kmask]):
                        raise EngineError("query positions out of order")
                    qs[kmask] = answerer.rebuild_queries(d, sel, kind, got)
            fields, values = answerer.answer(d, positions, qs)
            what = "PUBLIC queries (no query message needed)" if group_kinds == ("public",) else "received queries"
            note = _mode_note(d) + f"; partial sums over {d.answerer.name.lower()}'s keys for {what}"
            got = channel.send(d.answerer, _label("partial-sums", d), fields, values, note)
            asker.take_partial(d.layer, positions, got)

    def send_kv(d: DirectionPlan) -> None:
        fields, values = parties[d.answerer].kv_values(d)
        got = channel.send(d.answerer, _label("keys-values", d), fields, values, _mode_note(d))
        parties[d.asker].take_kv(d.layer, d.kv_positions, got)

    pending: dict[tuple[int, Owner, str], tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for layer in range(model.layers):
        d_ab = plan.direction(layer, ALICE)  # Alice asks, Bob answers
        d_ba = plan.direction(layer, BOB)  # Bob asks, Alice answers
        # (1) Alice: her queries; her keys/values or unsolicited sums for Bob's queries
        if d_ab is not None and d_ab.mode == "query-answer":
            send_queries(d_ab)
        if d_ba is not None:
            if d_ba.mode == "keys-values":
                send_kv(d_ba)
            else:
                send_answers(d_ba, ("public",))
        # (2) Bob: answers to Alice (or his keys/values); his own queries
        if d_ab is not None:
            if d_ab.mode == "keys-values":
                send_kv(d_ab)
            else:
                send_answers(d_ab, ("public", "query-token", "query"))
        if d_ba is not None and d_ba.mode == "query-answer":
            send_queries(d_ba)
        # (3) Alice answers Bob's queries
        if d_ba is not None and d_ba.mode == "query-answer":
            send_answers(d_ba, ("query-token", "query"))
        for who in (ALICE, BOB):
            parties[who].finish_layer(layer)

    # read-out by the home of each output position
    values = []
    for p in plan.outputs:
        values.append(parties[Owner(int(plan.home[p]))].readout(np.array([p]))[0])
    out_values = np.stack(values)
    output = ModelOutput(out_values, model.decide(out_values),
                         parties[ALICE].saturations + parties[BOB].saturations)
    meta: dict[str, Any] = {
        "model_family": "transformer",
        "public_home": plan.public_home.name.lower(),
        "output_party": sorted({Owner(int(plan.home[p])).name.lower() for p in plan.outputs}),
        "plan": [d.to_json() for d in plan.directions],
    }
    if verify:
        reference = model.forward(tokens)
        meta.update(verify_output(model, output, reference, "transformer"))
    transcript = channel.transcript(output.values, **meta)
    return transcript, output


