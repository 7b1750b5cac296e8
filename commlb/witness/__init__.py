"""Witnesses: the exact input an undersized model gets wrong (the pigeonhole argument, run).

If a model's protocol on a split is **one-way** (every message goes from Alice to Bob),
Bob's answer is a function of (Alice's message, y).  When the message can take fewer
values than f has distinct rows — for INDEX_n, DISJ_n and EQ_n all 2^n rows are distinct,
so fewer than 2^n messages, e.g. an RNN with L·d·p < n state bits — two inputs x ≠ x'
send the same message (pigeonhole), a Bob input y with f(x, y) ≠ f(x', y) exists, and the
model gives the same answer on (x, y) and (x', y): it is wrong on one of them
(docs/theory.md §3.3, §8.1; the one-way bound D→ = log2 #distinct rows, Kushilevitz–Nisan
1997, docs/theory.md §5.3).  This package finds such a pair and proves it:

1. **Alice's messages for her inputs** (:mod:`.layout`, :mod:`.sources`) — through the
   batched kernels of :mod:`commlb.kernels.alice` (RNN state after her prefix by a
   depth-first walk of the prefix tree; one-layer attention partial sums for PUBLIC
   queries and FFN first-layer partial pre-activations as sums of per-position tables),
   each message reduced to a 64-bit key (the message itself when it has ≤ 64 bits, else
   a hash). The kernels are checked against the protocol engine's own transcript on a
   few inputs every run; a model or split they do not cover falls back to running the
   engine on each input.
2. **Collision search** (:mod:`.search`) — exhaustive over Alice's whole input space
   when its estimated time and memory fit (else refused with the estimate and
   ``budget``), or a random birthday-style sample of ``budget`` inputs (or seconds).
   Equal keys are sorted together; a collision is confirmed by comparing the messages
   themselves.
3. **A distinguishing Bob input** (:mod:`.collision`) — for INDEX a position where x and
   x' differ; in general a search over Bob's inputs (exhaustive when small, candidates
   then a random sample otherwise), through the problem's ``evaluate`` and the
   reduction's ``encode``.
4. **Proof** (:mod:`.collision`) — both full inputs are run through ``model.forward``
   (the plain forward pass, not the protocol), and through the engine to show the two
   messages are bit-identical; the outputs are equal and f differs, so the model is
   wrong on one.

:func:`effective_bits` counts the distinct messages over all of Alice's inputs: a model
correct on every input needs log2 of that count ≥ the one-way bound.

The modules, in the order of the argument: :mod:`.layout` (how Alice's input becomes
tokens), :mod:`.sources` (her message for any input, and the cross-check against the
protocol engine), :mod:`.search` (enumeration or sampling, sorting, counting),
:mod:`.collision` (the pair, the separating Bob input and the proof), :mod:`.result`
(what is reported) and :mod:`.find` (from a task name, as ``commlb witness`` does).

Public API: :func:`find_witness` (task name + the model options of ``commlb simulate``),
:func:`search_witness` (a reduction and a model object), :func:`effective_bits`,
:class:`WitnessResult`, :class:`EffectiveBits`.
"""


from __future__ import annotations

from .find import find_witness, witness_model
from .layout import AliceLayout, alice_layout
from .result import EffectiveBits, WitnessResult
from .search import effective_bits, parse_budget, search_witness
from .sources import message_source

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
