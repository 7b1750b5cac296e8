"""The one-way query-vector protocol of a one-layer transformer (SHT23 Theorem 4's
protocol; docs/theory.md §3.5).

Setting: a one-layer transformer read at a single output position o whose token belongs
to one party, the *asker* X; the other party Y holds the rest (PUBLIC positions are known
to both).  X sends Y **one message** and Y outputs:

* ``query`` — the query vector of position o, H·d_k numbers of p bits;
* X's share of the attention at o: its partial sums over its own key positions (o among
  them), exactly the fields an answer carries in :mod:`commlb.protocol.transformer`
  (softmax: numerator and denominator as exact accumulators; hard attention: the top
  score, the count attaining it, and the sum of their values);
* ``residual`` — the layer-0 residual stream of position o, m numbers of p bits (the
  residual connection adds it to the attention output before the read-out).

Y computes its own partial sums over its and the PUBLIC key positions with the received
query, adds X's share (the softmax stabiliser is a public constant, so the sums add
exactly), divides, applies the residual update (and MLP) and the read-out.  The message
size depends only on the model's shape:

    bits = H·d_k·p + (partial-sum fields for |X's key positions| terms) + m·p,

so a one-layer model of this shape that solves a problem through a reduction in which X
holds the query gives a one-way X → Y protocol of that many bits, and the one-way
complexity D→ of the problem bounds it from below.  For DISJ_q → qSA (Alice holds the
query's pointer set, Bob the data) this is SHT23 Theorem 4's argument: (H·d_k + m)·p plus
an O(p)-bit self term must reach D→(DISJ_q) = q, so the width grows linearly with q.

:func:`simulate_transformer` may choose a cheaper two-way protocol (the query token's id,
then Bob's partial sums back); that protocol is correct too but says nothing about the
width m, which is why the walk-through runs this one.  The output is verified against
``model.forward`` bit for bit (in float mode too: the sums cross as exact accumulators,
docs/theory.md §3.7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bits import FieldSpec
from ..core import PUBLIC, Owner
from ..errors import EngineError, InvalidInputError
from ..models.base import ModelOutput
from ..models.transformer import Partial, TransformerModel, needed_positions
from .core import Channel, PartyView, Split, Transcript, verify_output
from .transformer import _answer_fields, _value_kind

__all__ = ["simulate_query_vector", "query_vector_applies", "query_vector_bits"]


def query_vector_applies(model: Any, split: Split) -> str | None:
    """None when the protocol applies to ``model`` on ``split``, else why not (one line)."""
    if not isinstance(model, TransformerModel):
        return "the query-vector protocol is for transformers"
    if model.layers != 1:
        return f"the query-vector protocol is for one-layer transformers (this one has {model.layers})"
    owner = np.asarray(split.owner)
    outputs = np.unique(model.output_positions(owner.size))
    if outputs.size != 1:
        return "the query-vector protocol reads one output position"
    if int(owner[outputs[0]]) == int(PUBLIC):
        return "the output position is public, so no query needs to cross"
    return None


def query_vector_bits(model: TransformerModel, asker_keys: int) -> dict[str, int]:
    """The message's bits per part for a model of this shape whose asker holds
    ``asker_keys`` key positions: ``query``, ``self_sums``, ``residual`` and ``total``."""
    prec = model.precision
    query = model.heads * model.key_dim * prec.bits
    sums = sum(f.count * f.width for f in _answer_fields(model, 1, asker_keys))
    residual = model.width * prec.bits
    return {"query": query, "self_sums": sums, "residual": residual, "total": query + sums + residual}


def simulate_query_vector(model: TransformerModel, tokens: np.ndarray, split: Split, *,
                          verify: bool = True) -> tuple[Transcript, ModelOutput]:
    """Run the one-way query-vector protocol (module docstring) and return the transcript
    and the receiver's output; ``verify`` checks it against ``model.forward``."""
    why = query_vector_applies(model, split)
    if why is not None:
        raise InvalidInputError(why)
    tokens = model.check_tokens(tokens)
    owner = np.asarray(split.owner, dtype=np.int8)
    if owner.size != tokens.size:
        raise InvalidInputError(f"split has {owner.size} owners for {tokens.size} tokens")
    length = tokens.size
    o = int(model.output_positions(length)[0]) % length
    asker = Owner(int(owner[o]))
    answerer = asker.other
    keys_all = needed_positions(length, 1, [o], model.causal)[0]
    x_keys = keys_all[owner[keys_all] == int(asker)]
    y_keys = keys_all[owner[keys_all] != int(asker)]  # the answerer's and the public ones

    # --- the asker: query, own partial sums, residual row of o (its own token only)
    xv = PartyView(asker, tokens, owner)
    x_toks = np.array(xv.tokens(x_keys), dtype=np.int64)
    x_rows, sat_x = model.embed_rows(x_toks, x_keys)
    row_o = x_rows[int(np.flatnonzero(x_keys == o)[0])][None, :]
    q, s1 = model.qkv(0, row_o, "q")
    kv, s2 = model.qkv(0, x_rows, "kv")
    mine, s3 = model.partial_sums(0, q["q"], np.array([o]), kv["k"], kv["v"], x_keys)
    vk, width, frac = _value_kind(model)
    fields = [FieldSpec("query", vk, (1, model.heads, model.key_dim), width, frac)]
    fields += _answer_fields(model, 1, int(x_keys.size))
    fields.append(FieldSpec("residual", vk, (1, model.width), width, frac))
    values: dict[str, np.ndarray] = {"query": q["q"], "residual": row_o}
    if model.hard:
        assert mine.top is not None  # hard attention keeps the top score
        values.update(top=mine.top, count=mine.den, num=mine.num)
    else:
        values.update(num=mine.num, den=mine.den)
    sat_x += s1 + s2 + s3

    channel = Channel()
    note = (f"one-way query-vector protocol: the query of position {o} ({model.heads}·{model.key_dim} numbers), "
            f"{asker.name.lower()}'s partial sums over its {x_keys.size} key position(s), and the residual "
            f"row of position {o} ({model.width} numbers); {answerer.name.lower()} outputs")
    got = channel.send(asker, "query-vector L1", fields, values, note)

    # --- the answerer: its own partial sums with the received query, then the rest
    yv = PartyView(answerer, tokens, owner)
    y_toks = np.array(yv.tokens(y_keys), dtype=np.int64)
    sat_y = 0
    if y_keys.size:
        y_rows, t0 = model.embed_rows(y_toks, y_keys)
        ykv, t1 = model.qkv(0, y_rows, "kv")
        theirs, t2 = model.partial_sums(0, np.asarray(got["query"]), np.array([o]), ykv["k"], ykv["v"], y_keys)
        sat_y += t0 + t1 + t2
    else:
        theirs = None
    acc = mine.num.dtype
    if model.hard:
        received = Partial(np.asarray(got["num"]).astype(acc), np.asarray(got["count"]).astype(mine.den.dtype),
                           np.asarray(got["top"]).astype(np.int64))
    else:
        received = Partial(np.asarray(got["num"]).astype(acc), np.asarray(got["den"]).astype(mine.den.dtype))
    total = received if theirs is None else theirs + received
    attn, t3 = model.combine(total)
    new, t4 = model.update(0, np.asarray(got["residual"]), attn)
    out_values, t5 = model.readout(new)
    sat_y += t3 + t4 + t5
    output = ModelOutput(out_values, model.decide(out_values), sat_x + sat_y)
    meta: dict[str, Any] = {"model_family": "transformer", "protocol": "query-vector",
                            "output_party": [answerer.name.lower()],
                            "bits_by_part": query_vector_bits(model, int(x_keys.size))}
    if verify:
        meta.update(verify_output(model, output, model.forward(tokens), "transformer"))
        if not meta.get("protocol_matches_forward", False):
            raise EngineError("the query-vector protocol disagrees with the forward pass")
    return channel.transcript(output.values, **meta), output

