"""Imported models run as two-party protocols, in the arithmetic they were trained in
(float32, bfloat16 or float16; docs/design.md §8, docs/theory.md §11).

Every message goes through :meth:`commlb.protocol.core.Channel.send`: its values are
numbers of the model's format carried as their bit patterns (fields of kind ``uint``,
width 32 for float32, 16 for bfloat16 and float16, named ``…:f32``, ``…:bf16``,
``…:f16``), so a message of d values costs exactly 32·d (16·d) bits and the receiver
gets the sender's numbers bit for bit.  In bfloat16/float16 a partial sum (S, W, computed
in float32 as the forward pass's softmax is) is rounded to the format before it is sent;
queries, keys, values, maxima and recurrent states already are numbers of the format.
Each party reads its tokens through a :class:`~commlb.protocol.core.PartyView` (the
other party's tokens are not in it).

GPT-2 (:func:`simulate_gpt2`)
-----------------------------
Every position has a *home*: its owner; for a PUBLIC position (an adapter's prefix) the
owner of the last private position before it, or both parties (*shared*) when none
precedes it — under the causal mask its residual stream then depends on public tokens
only.  Each party computes the residual stream of the positions homed at it and of the
shared ones; the layer-0 embedding of any PUBLIC position is known to both.  In
block ℓ a query at position i (homed at X) attends causally to keys j ≤ i; the keys that
X does not hold (homed at Y; in block 0 Y's own tokens) are reached one of two ways, the
cheaper in float32 values chosen per block and direction (the message note gives both):

* **partial sums** — X sends its queries q_i (not those of PUBLIC positions in block 0,
  which Y computes itself); Y answers, per query and head, over its keys K_Y:
  m_Y = max_j s_ij, S_Y = Σ_j exp(s_ij − m_Y), W_Y = Σ_j exp(s_ij − m_Y)·v_j
  (s_ij = q_i·k_j/√d_head).  X merges with its own (m_X, S_X, W_X) by the exact
  log-sum-exp combination m = max(m_X, m_Y), S = S_X·e^(m_X−m) + S_Y·e^(m_Y−m),
  W = W_X·e^(m_X−m) + W_Y·e^(m_Y−m), attention = W / S; this is softmax attention over
  K_X ∪ K_Y exactly in real arithmetic.  Cost: n_q·H·d_head + n_q·H·(d_head + 2) values.
* **keys and values** — Y sends k_j, v_j of its keys that X's queries can see (j ≤ the
  last such query); X computes the attention itself.  Cost: n_kv·2·H·d_head values.

LayerNorm, the MLP, the final LayerNorm and the read-out are local.  Message order in a
block: Alice (her queries / keys-values), Bob (answers, his queries / keys-values), Alice
(answers); rounds are counted by the channel.  Under a prefix split Alice's queries see
no key of Bob's, so only Bob's queries need an answer.

RNN / GRU / LSTM (:func:`simulate_recurrent`)
---------------------------------------------
The party that owns the next private position holds the recurrent state (PUBLIC
positions are read by whoever holds it); whenever the owner changes, the holder sends the
state of every layer: h (d values), and c too for an LSTM (2·d values per layer).

Verification against the forward pass (:func:`verify`): the same read-out (argmax) at
every scored position and the largest difference of the read-out values, absolute and
relative to the largest magnitude.  float32 sums taken in another order differ in the
last bits; a differing argmax where the forward pass's top two values are further apart
than twice that difference is an engine bug (:class:`~commlb.errors.EngineError`), within
it a near tie that is reported; so is any read-out value further than
:func:`relative_tolerance` of the largest magnitude from the forward pass's (10⁻³ in
float32, 16 units of roundoff in bfloat16/float16).  In bfloat16/float16, queries that
receive no partial sums (every keys/values exchange, and the positions that see only
their own party's keys) compute attention exactly as the forward pass does —
probabilities rounded to the format before their product with the values — so a run
with keys/values exchanges only reproduces the forward pass bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bits import FieldSpec
from ..core import ALICE, BOB, PUBLIC, Owner
from ..errors import EngineError
from ..protocol.core import Channel, PartyView, Split, Transcript
from .numformat import FORMATS, NumberFormat

__all__ = [
    "ProtocolRun",
    "float32_values",
    "format_values",
    "homes",
    "send_f32",
    "send_values",
    "simulate_gpt2",
    "simulate_imported",
    "simulate_recurrent",
    "verify",
]

F32 = np.float32


def send_values(channel: Channel, sender: Owner, label: str, arrays: dict[str, np.ndarray],
                fmt: NumberFormat = FORMATS["float32"], note: str = "") -> dict[str, np.ndarray]:
    """Send arrays of numbers of ``fmt`` as their bit patterns; return what the receiver
    decodes (float32 arrays, bit-identical to what was sent).

    The message is recorded with :meth:`~commlb.protocol.core.Channel.send_many`: the
    codes are checked to fit their ``fmt.bits``-bit fields now, the cost is
    ``fmt.bits`` per value, and the bit string is laid out when first read (the
    transcript's fingerprint, ``--json``); the receiver gets the values decoded from the
    codes, which for unsigned fields that fit are exactly what the bit string decodes
    to."""
    fields = []
    values = {}
    codes = {}
    for name, arr in arrays.items():
        key = f"{name}:{fmt.suffix}"
        a = np.ascontiguousarray(arr, dtype=F32)
        fields.append(FieldSpec(key, "uint", a.shape, fmt.bits))
        codes[key] = fmt.encode(a)
        values[key] = codes[key][None]
    what = "IEEE float32" if fmt.exact32 else fmt.name
    channel.send_many([sender], [label], fields, values, [note or f"{what} values, {fmt.bits} bits each"])
    return {name: fmt.decode(codes[f"{name}:{fmt.suffix}"]).reshape(np.shape(arrays[name])) for name in arrays}


def send_f32(channel: Channel, sender: Owner, label: str, arrays: dict[str, np.ndarray],
             note: str = "") -> dict[str, np.ndarray]:
    """:func:`send_values` in float32."""
    return send_values(channel, sender, label, arrays, FORMATS["float32"], note)


_WIDTHS = {f.suffix: f.bits for f in FORMATS.values()}


def format_values(message: Any) -> int:
    """The number of model-format values a message lists (its ``…:f32``, ``…:bf16`` and
    ``…:f16`` fields)."""
    return int(sum(f.count for f in message.fields
                   if _WIDTHS.get(f.name.rsplit(":", 1)[-1]) == f.width and ":" in f.name))


def float32_values(message: Any) -> int:
    """The number of float32 values a message lists (its ``…:f32`` fields)."""
    return int(sum(f.count for f in message.fields if f.name.endswith(":f32") and f.width == 32))


def homes(owner: np.ndarray) -> np.ndarray:
    """Home of every position: its owner for a private position; for a PUBLIC position
    the owner of the last private position before it, or PUBLIC — *shared* — when no
    private position precedes it: under a causal mask its residual stream is then a
    function of public tokens only, and both parties compute it."""
    owner = np.asarray(owner)
    out = np.empty(owner.size, dtype=np.int8)
    last = int(PUBLIC)
    for i, o in enumerate(owner.tolist()):
        if o != PUBLIC:
            last = o
            out[i] = o
        else:
            out[i] = last
    return out


@dataclass
class ProtocolRun:
    """A protocol run: the transcript, the read-out at the scored positions, the check
    against the forward pass and the per-layer accounting."""

    transcript: Transcript
    scored: np.ndarray
    values: np.ndarray            # read-out values at the scored positions [n_scored, C]
    check: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)
    value_format: str = "float32"

    @property
    def predictions(self) -> np.ndarray:
        return self.values.argmax(-1)

    def to_json(self) -> dict[str, Any]:
        tr = self.transcript
        msgs = []
        for m in tr.messages:
            msgs.append({"round": m.round, "sender": m.sender.name.lower(), "receiver": m.receiver.name.lower(),
                         "label": m.label, "fields": [f.to_json() for f in m.fields], "bits": m.bits,
                         "values": format_values(m), "float32_values": float32_values(m), "note": m.note})
        return {"messages": msgs, "total_bits": tr.total_bits, "bits_alice_to_bob": tr.bits_alice_to_bob,
                "bits_bob_to_alice": tr.bits_bob_to_alice, "rounds": tr.rounds, "one_way": tr.one_way,
                "value_format": self.value_format, "bits_per_value": FORMATS[self.value_format].bits,
                "values": int(sum(format_values(m) for m in tr.messages)),
                "float32_values": int(sum(float32_values(m) for m in tr.messages)),
                "fingerprint": tr.fingerprint(), "layers": self.layers, "verification": self.check,
                "scored_positions": np.flatnonzero(self.scored).tolist(),
                "predictions": self.predictions.tolist()}


def _layer_table(channel: Channel, layers: int, modes: dict[int, dict[str, str]] | None = None) -> list[dict]:
    out = []
    for layer in range(layers):
        msgs = [m for m in channel.messages if m.label.startswith(f"layer {layer + 1}:")]
        row: dict[str, Any] = {"layer": layer + 1, "bits": int(sum(m.bits for m in msgs)), "messages": len(msgs),
               "rounds": len({m.round for m in msgs}), "values": int(sum(format_values(m) for m in msgs)),
               "float32_values": int(sum(float32_values(m) for m in msgs))}
        if modes is not None:
            row["exchange"] = modes.get(layer, {})
        out.append(row)
    return out


# ----------------------------------------------------------------------------- GPT-2
class _GPT2Party:
    """One party's state in a GPT-2 run: arrays over all positions, of which it fills
    only those it may know (its view's tokens, its home positions, what it received)."""

    def __init__(self, who: Owner, view: PartyView, model: Any, home: np.ndarray) -> None:
        self.who, self.view, self.model = who, view, model
        self.home = home
        self.mine = np.flatnonzero((home == who) | (home == PUBLIC))
        T = len(home)
        visible = view.visible_positions()
        toks = np.asarray(view.tokens(visible), dtype=np.int64)
        self.x0 = np.zeros((T, model.width), dtype=F32)  # layer 0 of the visible positions
        self.x0[visible] = model.embed(toks, visible)
        self.x = np.zeros((T, model.width), dtype=F32)  # residual stream of the home positions
        self.x[self.mine] = self.x0[self.mine]
        shape = (T, model.heads, model.head_dim)
        self.q, self.k, self.v = (np.zeros(shape, dtype=F32) for _ in range(3))
        self._keys0 = np.flatnonzero((home == who) | (home == PUBLIC) | (view.owner == PUBLIC))

    def local_keys(self, layer: int) -> np.ndarray:
        """Keys this party holds in ``layer``: its home positions, plus in block 0 every
        PUBLIC position (computed from the public token)."""
        return self._keys0 if layer == 0 else self.mine

    def start_block(self, layer: int) -> None:
        keys = self.local_keys(layer)
        home = (self.home[keys] == self.who) | (self.home[keys] == PUBLIC)
        rows = np.where(home[:, None], self.x[keys], self.x0[keys])
        self.q[:], self.k[:], self.v[:] = 0, 0, 0
        self.q[keys], self.k[keys], self.v[keys] = self.model.qkv(layer, rows)
        self.remote_keys = np.zeros(0, dtype=np.int64)
        T, H = len(self.home), self.model.heads
        self.remote_m = np.full((T, H), -np.inf, dtype=F32)
        self.remote_s = np.zeros((T, H), dtype=F32)
        self.remote_w = np.zeros((T, H, self.model.head_dim), dtype=F32)

    def partial(self, queries: np.ndarray, positions: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, ...]:
        """(m, S, W) per query and head over ``keys`` (causal: j <= position)."""
        m = self.model
        H, dh = m.heads, m.head_dim
        n = len(positions)
        if keys.size == 0 or n == 0:
            return (np.full((n, H), -np.inf, dtype=F32), np.zeros((n, H), dtype=F32),
                    np.zeros((n, H, dh), dtype=F32))
        w, mx, V = self._weights(queries, positions, keys)
        S = w.sum(axis=-1).T
        W = np.matmul(w, V).transpose(1, 0, 2)  # [n, H, dh]
        return mx.T.astype(F32), S.astype(F32), W.astype(F32)

    def _weights(self, queries: np.ndarray, positions: np.ndarray, keys: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """exp(s − max) [H, n, nk] (0 where causally masked), the maxima [H, n] and the
        values [H, nk, dh]; the scores s rounded as the forward pass rounds them."""
        m = self.model
        K, V = self.k[keys], self.v[keys]  # [nk, H, dh]
        Kt = np.ascontiguousarray(K.transpose(1, 2, 0))  # [H, dh, nk]
        scores = m.scores(np.ascontiguousarray(queries.transpose(1, 0, 2)), Kt)  # [H, n, nk]
        allowed = keys[None, :] <= positions[:, None]  # [n, nk]
        scores = np.where(allowed[None], scores, F32(-np.inf))
        mx = scores.max(axis=-1)  # [H, n]
        safe = np.where(np.isfinite(mx), mx, F32(0))
        return np.exp(scores - safe[:, :, None]), mx, np.ascontiguousarray(V.transpose(1, 0, 2))

    def local_attention(self, positions: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Attention [n, H, dh] of queries at ``positions`` that see no key of the other
        party, exactly as the forward pass computes it: probabilities rounded to the
        format, then their product with the values rounded."""
        r = self.model.number.round
        w, _, V = self._weights(self.q[positions], positions, keys)
        p = r(w / w.sum(axis=-1, keepdims=True))
        return r(np.matmul(p, V)).transpose(1, 0, 2)

    def finish_block(self, layer: int) -> None:
        """Attention for every home position (merging what the other party sent), then
        the rest of the block."""
        pos = self.mine
        if pos.size == 0:
            return
        keys = self.local_keys(layer)
        if self.remote_keys.size:  # keys-and-values mode: every key here, in position order
            held = np.zeros(len(self.home), dtype=bool)
            held[keys] = True
            held[self.remote_keys] = True
            keys = np.flatnonzero(held)
        fmt = self.model.number
        if not fmt.exact32:
            # rows that received no partial sums: the forward pass's own rounding
            alone = ~np.isfinite(self.remote_m[pos]).any(axis=1)
            attn = np.empty((pos.size, self.model.heads, self.model.head_dim), dtype=F32)
            if alone.any():
                attn[alone] = self.local_attention(pos[alone], keys)
            pos_m = pos[~alone]
        else:
            pos_m = pos
        if pos_m.size:
            mx, S, W = self.partial(self.q[pos_m], pos_m, keys)
            m2, s2, w2 = self.remote_m[pos_m], self.remote_s[pos_m], self.remote_w[pos_m]
            mm = np.maximum(mx, m2)
            safe = np.where(np.isfinite(mm), mm, F32(0))
            a = np.where(np.isfinite(mx), np.exp(mx - safe), F32(0)).astype(F32)
            b = np.where(np.isfinite(m2), np.exp(m2 - safe), F32(0)).astype(F32)
            S = S * a + s2 * b
            W = W * a[:, :, None] + w2 * b[:, :, None]
            merged = fmt.round(W / S[:, :, None])
            if fmt.exact32:
                attn = merged
            else:
                attn[~alone] = merged
        self.x[pos] = self.model.after_attention(layer, self.x[pos], attn)

    def readout(self, positions: np.ndarray) -> np.ndarray:
        return self.model.read(self.model.final(self.x[positions]))


@dataclass
class _Plan:
    """How the asker's queries reach the answerer's keys in one block."""

    use: str                # "partial" or "kv"
    need: np.ndarray        # asker's query positions that see at least one answerer key
    sent_q: np.ndarray      # the queries actually sent (block 0: not the PUBLIC ones)
    theirs: np.ndarray      # answerer's keys the asker does not hold
    kv_keys: np.ndarray     # of those, the ones some query can see
    cost_partial: int
    cost_kv: int
    fmt: NumberFormat = FORMATS["float32"]

    def note(self) -> str:
        chosen = "partial sums" if self.use == "partial" else "keys/values"
        return (f"{chosen} chosen: partial sums {self.cost_partial} values, keys/values {self.cost_kv} values "
                f"({self.fmt.name}, {self.fmt.bits} bits each)")


def _plan(parties: dict[Owner, _GPT2Party], owner: np.ndarray, layer: int, asker: Owner, mode: str) -> _Plan | None:
    X, Y = parties[asker], parties[asker.other]
    model = X.model
    H, dh = model.heads, model.head_dim
    queries = X.mine
    local = np.zeros(len(owner), dtype=bool)
    local[X.local_keys(layer)] = True
    theirs = Y.local_keys(layer)
    theirs = theirs[~local[theirs]]
    if theirs.size == 0 or queries.size == 0:
        return None
    need = queries[queries >= theirs.min()]
    if need.size == 0:
        return None
    sent_q = need if layer > 0 else need[owner[need] != PUBLIC]
    kv_keys = theirs[theirs <= need.max()]
    cost_partial = sent_q.size * H * dh + need.size * H * (dh + 2)
    cost_kv = kv_keys.size * 2 * H * dh
    use = mode if mode != "cheaper" else ("kv" if cost_kv < cost_partial else "partial")
    return _Plan(use, need, sent_q, theirs, kv_keys, int(cost_partial), int(cost_kv), model.number)


class _Block:
    """The messages of one transformer block; each method does nothing when the plan of
    that direction does not call for it."""

    def __init__(self, ch: Channel, parties: dict[Owner, _GPT2Party], model: Any, layer: int,
                 plans: dict[Owner, _Plan]) -> None:
        self.ch, self.parties, self.model, self.layer, self.plans = ch, parties, model, layer, plans
        self.label = f"layer {layer + 1}:"

    def _get(self, asker: Owner, use: str) -> _Plan | None:
        plan = self.plans.get(asker)
        return plan if plan is not None and plan.use == use else None

    def send_queries(self, asker: Owner) -> None:
        plan = self._get(asker, "partial")
        if plan is None:
            return
        X, Y = self.parties[asker], self.parties[asker.other]
        if plan.sent_q.size:
            got = send_values(self.ch, asker, f"{self.label} queries", {"q": X.q[plan.sent_q]}, self.model.number,
                              note=plan.note())
            Y.q[plan.sent_q] = got["q"]  # the answerer's copy of the asker's queries, as received
        public = np.setdiff1d(plan.need, plan.sent_q)
        if public.size:  # block-0 queries of PUBLIC positions: from the public tokens
            Y.q[public] = self.model.qkv(self.layer, Y.x0[public])[0]

    def send_answers(self, asker: Owner) -> None:
        plan = self._get(asker, "partial")
        if plan is None:
            return
        X, Y = self.parties[asker], self.parties[asker.other]
        mx, S, W = Y.partial(Y.q[plan.need], plan.need, plan.theirs)
        r = self.model.number.round  # S and W are float32 sums: sent in the model's format
        got = send_values(self.ch, asker.other, f"{self.label} partial sums (max, sum, weighted sum)",
                          {"m": mx, "s": r(S), "w": r(W)}, self.model.number)
        X.remote_m[plan.need], X.remote_s[plan.need], X.remote_w[plan.need] = got["m"], got["s"], got["w"]

    def send_kv(self, asker: Owner) -> None:
        plan = self._get(asker, "kv")
        if plan is None:
            return
        X, Y = self.parties[asker], self.parties[asker.other]
        got = send_values(self.ch, asker.other, f"{self.label} keys and values",
                          {"k": Y.k[plan.kv_keys], "v": Y.v[plan.kv_keys]}, self.model.number, note=plan.note())
        X.k[plan.kv_keys], X.v[plan.kv_keys] = got["k"], got["v"]
        X.remote_keys = plan.kv_keys


def simulate_gpt2(model: Any, ids: np.ndarray, split: Split, scored: np.ndarray,
                  mode: str = "cheaper", check: bool = True) -> ProtocolRun:
    """Run a :class:`~commlb.imported.models.GPT2` on model ids [T] under ``split``
    (module docstring).  ``mode``: ``cheaper`` (per block and direction), ``partial``
    or ``kv``."""
    if mode not in ("cheaper", "partial", "kv"):
        raise EngineError(f"unknown exchange mode {mode!r}")
    ids = np.asarray(ids, dtype=np.int64)
    T = ids.size
    model.check_length(T)
    owner = split.owner
    home = homes(owner)
    parties = {w: _GPT2Party(w, PartyView(w, ids, owner), model, home) for w in (ALICE, BOB)}
    ch = Channel()
    modes: dict[int, dict[str, str]] = {}
    for layer in range(model.layers):
        for p in parties.values():
            p.start_block(layer)
        plans: dict[Owner, _Plan] = {}
        for asker in (ALICE, BOB):
            plan = _plan(parties, owner, layer, asker, mode)
            if plan is not None:
                plans[asker] = plan
                modes.setdefault(layer, {})[f"{asker.name.lower()}_asks"] = (
                    "partial-sums" if plan.use == "partial" else "keys-values")
        block = _Block(ch, parties, model, layer, plans)
        # (1) Alice: her queries, her keys/values for Bob
        block.send_queries(ALICE)
        block.send_kv(BOB)
        # (2) Bob: answers to Alice, his keys/values for Alice, his queries
        block.send_answers(ALICE)
        block.send_kv(ALICE)
        block.send_queries(BOB)
        # (3) Alice answers Bob
        block.send_answers(BOB)
        for p in parties.values():
            p.finish_block(layer)
    pos = np.flatnonzero(scored)
    values = np.zeros((pos.size, _classes(model)), dtype=F32)
    out_party = int(homes(owner)[-1]) if T and homes(owner)[-1] != PUBLIC else int(ALICE)
    for w, p in parties.items():
        sel = (home[pos] == w) | ((home[pos] == PUBLIC) & (int(w) == out_party))
        if sel.any():
            values[sel] = p.readout(pos[sel])
    tr = ch.transcript(values.argmax(-1), arithmetic=model.arithmetic, family="gpt2")
    return ProtocolRun(tr, np.asarray(scored, bool), values, _check(check, model, ids, pos, values),
                       _layer_table(ch, model.layers, modes), model.number.name)


def _classes(model: Any) -> int:
    return model.out_width if model.readout.kind == "hidden" else int(model.readout.classes)


# ------------------------------------------------------------------- RNN/GRU/LSTM
def simulate_recurrent(model: Any, ids: np.ndarray, split: Split, scored: np.ndarray,
                       check: bool = True) -> ProtocolRun:
    """Run a :class:`~commlb.imported.models.Recurrent` model under ``split``: the state
    (h, and c for an LSTM, every layer) crosses whenever the owner of the next private
    position changes.  A bidirectional model runs :func:`_simulate_bidirectional`."""
    if model.bidirectional:
        return _simulate_bidirectional(model, ids, split, scored, check)
    ids = np.asarray(ids, dtype=np.int64)
    owner = split.owner
    views = {w: PartyView(w, ids, owner) for w in (ALICE, BOB)}
    private = np.flatnonzero(owner != PUBLIC)
    holder = Owner(int(owner[private[0]])) if private.size else ALICE
    state = model.zero_state()
    ch = Channel()
    pos = np.flatnonzero(scored)
    values = np.zeros((pos.size, _classes(model)), dtype=F32)
    index = {int(p): n for n, p in enumerate(pos)}
    lstm = model.cell == "lstm"
    for t in range(ids.size):
        if owner[t] != PUBLIC and Owner(int(owner[t])) is not holder:
            new = []
            for layer, (h, c) in enumerate(state):
                arrays = {"h": h, "c": c} if lstm else {"h": h}
                got = send_values(ch, holder, f"layer {layer + 1}: state before position {t}", arrays, model.number)
                new.append((got["h"], got["c"] if lstm else c))
            state = new
            holder = holder.other
        tok = views[holder].token(t)
        top, state = model.step(model.inputs(np.asarray(tok)), state)
        if t in index:
            values[index[t]] = model.read(top)
    tr = ch.transcript(values.argmax(-1), arithmetic=model.arithmetic, family=model.family)
    return ProtocolRun(tr, np.asarray(scored, bool), values, _check(check, model, ids, pos, values),
                       _layer_table(ch, model.layers), model.number.name)


def bidirectional_homes(owner: np.ndarray) -> np.ndarray:
    """Home of every position of a bidirectional model: its owner for a private
    position; for a PUBLIC one the owner of the last private position before it, else of
    the first after it (Alice when there is none)."""
    out = homes(owner)
    private = np.flatnonzero(np.asarray(owner) != PUBLIC)
    first = int(owner[private[0]]) if private.size else int(ALICE)
    out[out == PUBLIC] = first
    return out


def _simulate_bidirectional(model: Any, ids: np.ndarray, split: Split, scored: np.ndarray,
                            check: bool) -> ProtocolRun:
    """A bidirectional RNN/GRU/LSTM under ``split``, layer by layer: the forward
    direction runs from the first position to the last and the reverse direction from
    the last to the first, each computed at every position by that position's home
    (:func:`bidirectional_homes`), so the state (h, and c for an LSTM) crosses whenever
    the home of the next position differs; the home of position t then holds both halves
    [h_forward; h_reverse] of the layer's output at t, the next layer's input there.  Each
    direction of each layer costs one hand-over per change of home along the sequence."""
    ids = np.asarray(ids, dtype=np.int64)
    owner = split.owner
    T = ids.size
    home = bidirectional_homes(owner)
    views = {w: PartyView(w, ids, owner) for w in (ALICE, BOB)}
    mine = {w: np.flatnonzero(home == w) for w in (ALICE, BOB)}
    # each party's layer input at its home positions (zero elsewhere: it does not know them)
    x = {w: np.zeros((T, model.input_size if model.embedding is None else model.embedding.shape[1]), dtype=F32)
         for w in (ALICE, BOB)}
    for w in (ALICE, BOB):
        if mine[w].size:
            x[w][mine[w]] = model.inputs(np.asarray(views[w].tokens(mine[w]), dtype=np.int64))
    ch = Channel()
    lstm = model.cell == "lstm"
    for layer in range(model.layers):
        out = {w: np.zeros((T, model.out_width), dtype=F32) for w in (ALICE, BOB)}
        for rev in (False, True):
            order = range(T - 1, -1, -1) if rev else range(T)
            h, c = model.zero_state()[layer]
            holder = Owner(int(home[order[0]])) if T else ALICE
            name = "reverse" if rev else "forward"
            for t in order:
                if Owner(int(home[t])) is not holder:
                    arrays = {"h": h, "c": c} if lstm else {"h": h}
                    got = send_values(ch, holder, f"layer {layer + 1}: {name} state before position {t}", arrays,
                                      model.number)
                    h, c = got["h"], (got["c"] if lstm else c)
                    holder = holder.other
                xw = model.input_proj(layer, x[holder][t], rev)
                h, c = model.step_layer(layer, xw, h, c, rev)
                half = slice(model.width, 2 * model.width) if rev else slice(0, model.width)
                out[holder][t, half] = h
        x = out
    pos = np.flatnonzero(scored)
    values = np.zeros((pos.size, _classes(model)), dtype=F32)
    for w in (ALICE, BOB):
        sel = home[pos] == w
        if sel.any():
            values[sel] = model.read(x[w][pos[sel]])
    tr = ch.transcript(values.argmax(-1), arithmetic=model.arithmetic, family=model.family)
    return ProtocolRun(tr, np.asarray(scored, bool), values, _check(check, model, ids, pos, values),
                       _layer_table(ch, model.layers), model.number.name)


def _check(check: bool, model: Any, ids: np.ndarray, pos: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    if not check:  # the caller verifies otherwise (benchmarks time the protocol alone)
        return {"protocol_matches_forward": None, "skipped": True}
    return verify(model, ids, pos, values)


def simulate_imported(model: Any, ids: np.ndarray, split: Split, scored: np.ndarray, mode: str = "cheaper",
                      check: bool = True) -> ProtocolRun:
    """Run an imported model under ``split`` with one BLAS thread: a protocol multiplies a
    few rows at a time, too little work for BLAS threads, which on a busy 2-core machine
    made one 99-token GPT-2 run ~20x slower (measured: 2.5 s with two threads against
    0.1 s with one)."""
    from .models import one_blas_thread

    with one_blas_thread():
        if model.family == "gpt2":
            return simulate_gpt2(model, ids, split, scored, mode, check)
        return simulate_recurrent(model, ids, split, scored, check)


# ------------------------------------------------------------------- verification
def verify(model: Any, ids: np.ndarray, positions: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """Compare the protocol's read-out values at ``positions`` with the forward pass
    (module docstring); raise :class:`EngineError` on a real mismatch."""
    ref = model.predict(np.asarray(ids)[None])[0][positions]
    diff = np.abs(values.astype(np.float64) - ref)
    largest = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    same = values.argmax(-1) == ref.argmax(-1)
    near_ties = 0
    if not same.all():
        top2 = np.sort(ref, axis=-1)[:, -2:]
        gap = top2[:, 1] - top2[:, 0]
        bad = ~same & (gap > 2 * largest)
        if bad.any():
            raise EngineError(f"imported {model.family} protocol read-out differs from the forward pass at "
                              f"{int(bad.sum())} scored positions (largest difference {largest:.3g})")
        near_ties = int((~same).sum())
    tol = relative_tolerance(model.number)
    if scale and largest > tol * scale:
        raise EngineError(f"imported {model.family} protocol values differ from the forward pass by {largest:.3g} "
                          f"(largest magnitude {scale:.3g}, tolerance {tol:.3g} of it)")
    return {"protocol_matches_forward": True, "same_readout_positions": int(same.sum()),
            "scored_positions": int(same.size), "near_ties": near_ties, "largest_difference": largest,
            "largest_relative_difference": largest / scale if scale else 0.0, "relative_tolerance": tol}


def relative_tolerance(fmt: NumberFormat) -> float:
    """How far (relative to the largest magnitude) the protocol's read-out may lie from
    the forward pass's: 10⁻³ in float32 (sums in another order); 16 units of roundoff
    in bfloat16/float16, where partial sums S and W are rounded to the format in transit
    (measured on the fixtures: at most 3 units)."""
    return 1e-3 if fmt.exact32 else 16 * fmt.unit_roundoff


def make_split(spec: str | None, n_prefix: int, n_task: int) -> Split:
    """The owners of a model sequence of ``n_prefix`` adapter prefix positions (PUBLIC)
    followed by ``n_task`` task positions: ``prefix:K`` (Alice the first K task positions,
    Bob the rest; the default is K = ⌊n/2⌋), ``interleave`` (alternating over the task
    positions), or one letter A/B/P per model position."""
    from ..errors import InvalidInputError

    T = n_prefix + n_task
    if spec is None:
        spec = f"prefix:{n_task // 2}"
    if spec.startswith("prefix:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            raise InvalidInputError(f"bad split {spec!r}: expected prefix:K with an integer K") from None
        if not 0 <= k <= n_task:
            raise InvalidInputError(f"prefix:{k} does not fit {n_task} task positions")
        owner = np.full(T, BOB, dtype=np.int8)
        owner[:n_prefix] = PUBLIC
        owner[n_prefix:n_prefix + k] = ALICE
        return Split(owner, f"prefix:{k}")
    base = np.full(T, ALICE, dtype=np.int8)
    base[:n_prefix] = PUBLIC
    if spec == "interleave":
        return Split.interleave(base)
    letters = spec.replace(",", "").replace(" ", "").upper()
    table = {"A": ALICE, "B": BOB, "P": PUBLIC}
    if len(letters) != T or any(c not in table for c in letters):
        raise InvalidInputError(f"bad split {spec!r}: use 'prefix:K', 'interleave', or {T} letters from A, B, P")
    return Split(np.array([table[c] for c in letters], dtype=np.int8), "custom")
