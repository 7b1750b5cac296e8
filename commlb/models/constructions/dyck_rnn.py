"""A constant-size RNN that recognises bounded Dyck-(2,2) exactly (BHBK24;
docs/theory.md §7.3, §9.10).

BHBK24's abstract: constant-size RNNs recognise bounded Dyck languages, while one-layer
transformers need linear size.  The language is regular (:meth:`DyckTask.dfa`: 8 states
for Dyck-(2,2), the stacks of at most two open brackets plus a dead sink), and any DFA is
run by a one-layer Elman RNN with hard-threshold units.  The construction here is derived
from the task's automaton (derived here; BHBK24's own construction is not known here,
docs/theory.md §12.3):

* **units** = the *live transitions* (q, a) of the DFA, δ(q, a) ≠ dead.  Unit (q, a) is on
  after step t iff the state before step t was q and token t was a, so exactly one unit
  is on while the run is alive, and the current state is the target δ(q, a) of that unit;
  the dead state is "every unit off".  For Dyck-(2,2): from the empty stack 2 openings,
  from each of the 2 depth-1 stacks 2 openings and 1 closing, from each of the 4 depth-2
  stacks 1 closing — **12 units**, whatever the length n;
* **update** (threshold: 1 iff pre > 0), in value units::

      pre_(q,a) = Σ_{(q',a'): δ(q',a') = q} h_(q',a')  +  [token = a]  −  1

  which is 1 > 0 iff the current state is q and the token is a, else ≤ 0.  So
  ``w_rec[0][k, j] = 1`` iff the target of unit k is the source of unit j,
  ``embed[x, j] = 1`` iff unit j reads token x, ``b[0, j] = −1``;
* **start**: h0 switches on one unit whose target is the start state (a closing bracket
  out of a depth-1 stack; for a DFA whose start has no live incoming transition an extra
  "init" unit is added that only h0 switches on);
* **read-out**: value = Σ_{units into an accepting state} h, decision value > 0 — the
  string is a member iff the final state is the empty stack;
* the dead state is absorbing in the DFA and "all off" stays all off (pre ≤ 0 − 1 + 1).

Every quantity is an integer multiple of 1 with |pre| ≤ 1, so the arithmetic is exact in
any fixed-point format whose 1.0 fits, f ≤ p − 2 (the smallest is p = 2, f = 0: states are
bits), and in any Merrill–Sabharwal float format (±1 and 0 are representable for p ≥ 4).
Default precision: ``Precision.fixed(2, 0)``.

Size: d = 12 units, L = 1 layer, p = 2 bits — **constant in n**.  Run as a protocol with a
prefix/suffix cut (:mod:`commlb.protocol.rnn`), the one message is the state, L·d·p = 24
bits at every n: a contiguous cut of a regular language carries O(1) bits, which is why
the one-layer transformer lower bound needs the non-contiguous gadgets of §11.2.

Options: ``hidden`` ≥ 12 pads with units that never switch on; ``layers`` = L > 1 stacks
L − 1 copy layers (``w_in[l] = I``, b = 0: layer l repeats layer l − 1's new state), so the
state message grows to L·d·p; ``seed`` is accepted and unused (no randomness).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...bits import Precision
from ...errors import InvalidInputError
from ..rnn import RNNModel

__all__ = ["build", "transition_units", "DEFAULT_PRECISION"]

DEFAULT_PRECISION = Precision.fixed(2, 0)
_SEED = 0


def transition_units(dfa: Any) -> tuple[list[tuple[int, int]], int, bool]:
    """The units of the construction: the live transitions ``(state, token)`` in order,
    the target state of each, and whether an extra "init" unit is needed (when no live
    transition enters the start state).  Returns ``(units, start_unit_index, extra_init)``;
    with ``extra_init`` the init unit comes last, at index ``len(units)``."""
    delta = np.asarray(dfa.delta)
    dead = int(dfa.dead)
    if not np.all(delta[dead] == dead):
        raise InvalidInputError("the automaton's dead state must be absorbing")
    units = [(q, a) for q in range(delta.shape[0]) if q != dead
             for a in range(delta.shape[1]) if int(delta[q, a]) != dead]
    into_start = [k for k, (q, a) in enumerate(units) if int(delta[q, a]) == int(dfa.start)]
    if into_start:
        return units, into_start[0], False
    return units, len(units), True


def build(task: Any, n: int, precision: Precision | None = None, hidden: int | None = None,
          layers: int | None = None, seed: int = _SEED, **options: Any) -> RNNModel:
    """The constant-size threshold RNN for ``task`` (a :class:`~commlb.tasks.dyck.DyckTask`,
    Dyck-(2,2) by default) at length ``n`` (the weights do not depend on n)."""
    for name, value in options.items():
        if value is None or (name == "heads" and int(value) == 1):
            continue
        raise InvalidInputError(f"the Dyck RNN construction has no option {name!r}")
    if int(n) < 1:
        raise InvalidInputError(f"Dyck RNN construction: n must be >= 1, got {n}")
    if not hasattr(task, "dfa"):
        raise InvalidInputError("the Dyck RNN construction needs a task with an automaton (dyck22)")
    dfa = task.dfa()
    delta = np.asarray(dfa.delta)
    vocab = int(delta.shape[1])
    units, start_unit, extra_init = transition_units(dfa)
    need = len(units) + int(extra_init)
    d = need if hidden is None else int(hidden)
    if d < need:
        raise InvalidInputError(
            f"the Dyck RNN construction needs hidden >= {need} (one unit per live transition of the "
            f"{dfa.num_states}-state automaton), got {d}"
        )
    L = 1 if layers is None else int(layers)
    if L < 1:
        raise InvalidInputError(f"Dyck RNN construction: layers must be >= 1, got {L}")
    prec = DEFAULT_PRECISION if precision is None else precision
    if prec.is_fixed and prec.frac > prec.bits - 2:
        raise InvalidInputError(
            f"the Dyck RNN construction needs 1.0 in range: fractional bits <= p - 2, got "
            f"{prec.frac} of {prec.bits}"
        )

    target = [int(delta[q, a]) for q, a in units]
    if extra_init:
        target.append(int(dfa.start))
    source = [q for q, _ in units]
    w_rec0 = np.zeros((d, d))
    for k, tk in enumerate(target):
        for j, sj in enumerate(source):
            if tk == sj:
                w_rec0[k, j] = 1.0
    embed = np.zeros((vocab, d))
    for j, (_, a) in enumerate(units):
        embed[a, j] = 1.0
    bias0 = np.full(d, -1.0)
    h0 = np.zeros((L, d))
    h0[:, start_unit] = 1.0
    wout = np.zeros((d, 1))
    accept = np.asarray(dfa.accept, dtype=bool)
    for k, tk in enumerate(target):
        if accept[tk]:
            wout[k, 0] = 1.0

    w_rec = np.zeros((L, d, d))
    w_rec[0] = w_rec0
    w_in = np.zeros((L, d, d))
    b = np.zeros((L, d))
    b[0] = bias0
    for layer in range(1, L):
        w_in[layer] = np.eye(d)  # copy the new state of the layer below
    real = {"embed": embed, "w_rec": w_rec, "w_in": w_in, "b": b, "h0": h0,
            "wout": wout, "bout": np.zeros(1)}
    params = {}
    for name, value in real.items():
        q = prec.quantize(value)
        if q.saturated or not np.array_equal(prec.to_real(q.values), value):
            raise InvalidInputError(f"{prec.describe()} cannot hold the Dyck RNN's weights exactly")
        params[name] = q.values
    config = {
        "vocab_size": vocab, "hidden": d, "layers": L, "activation": "threshold",
        "output_kind": "binary", "output_positions": [-1],
        "construction": "dyck_rnn", "automaton_states": int(dfa.num_states),
        "transition_units": len(units) + int(extra_init),
    }
    return RNNModel(params, prec, config)
