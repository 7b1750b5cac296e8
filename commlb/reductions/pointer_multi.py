"""Pointer chasing → hop_k with one contiguous block per step (SHT24 Proposition E.4
layout; docs/theory.md §8.9, §10.4), and the number of rounds a multi-layer model's protocol has.

Why a second pointer-chasing reduction.  ``pc-to-khop`` handles arbitrary maps but
interleaves Alice's and Bob's tokens throughout an exponentially long sequence.  SHT24's
multi-layer bounds need the *block* layout of Proposition E.4: step j's table is one
contiguous block T_j, the blocks are written in the order T_k, …, T_2, T_1 and the start
vertex comes last, so player P_j (holding T_j) sits j-th from the end.  A model that
reads the sequence left to right then serves the players in the order P_k, …, P_1 —
the order of one round of the sequential blackboard (SHT24 Def. E.1) and the
reverse of the order in which the pointer advances: each round moves the chase by one
step, so R rounds reach v_R, and k steps need R ≥ k rounds or messages of
s = Ω(q/k⁵) bits (Assadi–N 2021 Prop. 4.12 = SHT24 Prop. E.3).

Block layout (alphabet (k + 1)·n; the token "layer j, vertex v" has id j·n + v):

    T_j = (j−1, 0) (j, f_j(0))  (j−1, 1) (j, f_j(1))  …  (j−1, n−1) (j, f_j(n−1))
    X   = T_k T_{k−1} … T_1 (0, v_0)                  (length 2nk + 1)

f_j = f_A for odd j (ALICE), f_B for even j (BOB); the keys and the final token are
PUBLIC.  From the position of (j, v_j) in T_j, the most recent earlier (j, v_j) is the
key of v_j in T_{j+1} — provided no earlier value in T_j is also (j, v_j), i.e. f_j is
injective.  So the maps must be permutations (SHT24's perfect matchings E_j); the
source problem is PC(n, k) under that promise, :class:`PermutationPointerChasing`.

Rounds (:func:`model_rounds`, each with its source): an L-layer RNN / SSM, a kernel
(Performer-type) transformer and a Longformer-masked transformer give L-round blackboard
protocols over this split (proved in SHT24 Cor. 5.2–5.4); a one-layer transformer with
N_CoT chain-of-thought steps gives N_CoT rounds (Cor. 5.6); an L-layer softmax
transformer split between two parties gives at most 2L + 1 rounds — per layer, queries
one way and partial sums back (derived here, docs/theory.md §10.1; the pointer-doubling
construction on this split measures 2L − 1).  Against :func:`required_rounds` = k: with fewer rounds, the width
must be Ω(N/k⁶) (Prop. E.4).  The hop_k transformer of SHT24 Theorem 4.2 uses only
⌈log2 k⌉ + 2 layers (:func:`doubling_layers`, docs/theory.md §10.3): its simulation is not
a small-message blackboard protocol (attention needs every position's partial sums), which
is why the transformer side of the separation is stated through MPC and Conjecture 2.4
(Cor. 4.3) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import ALICE, BOB, PUBLIC, Instance, Reduction
from ..errors import InvalidInputError, TooLargeError
from ..problems.pointer_chasing_perm import PermutationPointerChasing
from ..registry import register_reduction
from ..tasks.khop import KHopTask
from ._common import last_scalar
from .pointer_chasing import SHT24_FEW_ROUNDS

__all__ = [
    "PermutationPointerChasing",
    "PCToKHopBlocks",
    "RoundsFormula",
    "model_rounds",
    "required_rounds",
    "doubling_layers",
    "block_players",
    "pc_blocks_length",
]

_MAX_LENGTH = 5_000_000


def pc_blocks_length(n: int, k: int) -> int:
    """Length 2nk + 1 of the block layout."""
    return 2 * n * k + 1


def block_players(n: int, k: int) -> np.ndarray:
    """The k-player view of the block layout: entry i is the player j (1..k) whose
    block T_j holds position i; the final PUBLIC token goes to P_1 (as in SHT24
    Prop. E.4, where P_1 holds the last block up to X_N)."""
    players = np.repeat(np.arange(k, 0, -1), 2 * n)
    return np.append(players, 1).astype(np.int64)


@register_reduction("pc-to-khop-blocks")
class PCToKHopBlocks(Reduction):
    """PC(n, k) on permutations → hop_k with one contiguous block per step (SHT24
    Prop. E.4 layout; see the module docstring): T_k … T_1 then the PUBLIC start
    token; Alice's tokens hold f_A's values (odd steps), Bob's f_B's (even steps), the
    keys are PUBLIC.  ``decode`` returns v_k (or v_k mod 2 with ``output="parity"``).

    Serves: SHT24 Prop. E.4 and Cor. 5.2–5.6 (docs/theory.md §8.9, §10.4): read as a k-player
    blackboard protocol (``block_players``), an L-layer RNN/SSM, kernel or Longformer
    attention model has L rounds, and a one-layer model with N_CoT CoT steps has N_CoT
    rounds (``model_rounds``); fewer than k rounds force width·precision Ω(N/k⁶).
    """

    name = "pc-to-khop-blocks"
    source = SHT24_FEW_ROUNDS
    description = "pointer chasing on permutations as hop_k, one contiguous block per step"
    theorem = (
        "SHT24 Prop. E.4 / Cor. 5.2-5.6 (docs/theory.md §8.9, §10.4): L-layer RNN/kernel/"
        "Longformer models give L-round protocols; R < k rounds need s = Omega(N/k^6)"
    )
    example_params = {"n": 4, "k": 3}

    def __init__(self, n: int, k: int = 2, start: int = 0, output: str = "vertex") -> None:
        self.problem = PermutationPointerChasing(n=n, k=k, start=start, output=output)
        self.n, self.k = self.problem.n, self.problem.k
        self.start, self.output = self.problem.start, self.problem.output
        n, k = self.n, self.k
        length = pc_blocks_length(n, k)
        if length > _MAX_LENGTH:
            raise TooLargeError(f"pc-to-khop-blocks: {length} tokens; use smaller n or k")
        self.task = KHopTask(k=k, alphabet=(k + 1) * n)
        tokens = np.empty(length, dtype=np.int64)
        owner = np.empty(length, dtype=np.int8)
        value_pos = np.empty((k + 1, n), dtype=np.int64)  # value_pos[j, u]: where f_j(u) goes
        pos = 0
        for j in range(k, 0, -1):
            for u in range(n):
                tokens[pos] = (j - 1) * n + u
                owner[pos] = PUBLIC
                value_pos[j, u] = pos + 1
                owner[pos + 1] = ALICE if j % 2 == 1 else BOB
                tokens[pos + 1] = j * n  # placeholder, written by encode
                pos += 2
        tokens[pos] = self.start
        owner[pos] = PUBLIC
        self._template, self._owner, self._value_pos = tokens, owner, value_pos

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, "start": self.start, "output": self.output}

    def _function(self, f: Any, who: str) -> np.ndarray:
        arr = np.asarray(f, dtype=np.int64).reshape(-1)
        if arr.shape != (self.n,) or arr.min() < 0 or arr.max() >= self.n:
            raise InvalidInputError(f"{who} must be a map [n] -> [n]: {self.n} values in [0, {self.n})")
        return arr

    def encode(self, x: Any, y: Any) -> Instance:
        f_a = self._function(x, "x (f_A)")
        f_b = self._function(y, "y (f_B)")
        tokens = self._template.copy()
        for j in range(1, self.k + 1):
            f = f_a if j % 2 == 1 else f_b
            tokens[self._value_pos[j]] = j * self.n + f
        return Instance(tokens, self._owner)

    def decode(self, output: Any) -> int:
        vertex = int(last_scalar(output)) - self.k * self.n
        return vertex & 1 if self.output == "parity" else vertex


# ------------------------------------------------------------------ rounds


@dataclass(frozen=True)
class RoundsFormula:
    """How many rounds a model's protocol has over the block split, and why."""

    family: str
    rounds: int
    formula: str
    message: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "rounds": self.rounds, "formula": self.formula,
                "message": self.message, "source": self.source}


_FAMILIES = {
    "rnn": ("L", "each player writes its block's final hidden state of the layer (m bits)",
            "proved in SHT24 Cor. 5.2: one round per layer"),
    "kernel-attention": ("L", "per head, sum over the block of K'(x_j)^T V(x_j) (m*m'*H*p bits)",
                         "proved in SHT24 Cor. 5.3"),
    "longformer": ("L", "window tokens and global tokens of the block ((w + N/(gk))*m*H*p bits)",
                   "proved in SHT24 Cor. 5.4"),
    "transformer-cot": ("N_CoT", "per CoT step and head, the block's partial softmax sums "
                        "(S, Z): O(mHp) bits", "proved in SHT24 Cor. 5.6: one round per CoT step"),
    "transformer": ("at most 2L + 1", "per layer, queries one way and partial softmax sums back "
                    "(up to N*H*(m + d_v + 1)*p bits per layer)",
                    "derived here (docs/theory.md §10.1): exact two-party simulation, one "
                    "query/answer exchange per direction and layer"),
}


def model_rounds(family: str, layers: int = 1, cot_steps: int = 0) -> RoundsFormula:
    """Rounds of the protocol an L-layer model of ``family`` gives over the block split
    (``rnn``, ``kernel-attention``, ``longformer``, ``transformer`` use ``layers``;
    ``transformer-cot`` is one layer with ``cot_steps`` chain-of-thought steps)."""
    if family not in _FAMILIES:
        raise InvalidInputError(f"family must be one of {', '.join(_FAMILIES)}, got {family!r}")
    if int(layers) < 1 or int(cot_steps) < 0:
        raise InvalidInputError("layers must be >= 1 and cot_steps >= 0")
    formula, message, source = _FAMILIES[family]
    if family == "transformer-cot":
        rounds = int(cot_steps)
    elif family == "transformer":
        rounds = 2 * int(layers) + 1  # an upper bound: see the formula
    else:
        rounds = int(layers)
    return RoundsFormula(family=family, rounds=rounds, formula=f"rounds = {formula}",
                         message=message, source=source)


def required_rounds(k: int) -> RoundsFormula:
    """What (q, k) pointer chasing needs: R ≥ k rounds, or messages of s = Ω(q/k⁵) bits
    (Assadi–N 2021 Prop. 4.12 = SHT24 Prop. E.3); for hop_k, s = Ω(N/k⁶)
    (SHT24 Prop. E.4)."""
    return RoundsFormula(
        family="pointer-chasing", rounds=int(k), formula="R >= k, or s = Omega(N/k^6)",
        message="s-bit blackboard messages", source="proved in SHT24 Prop. E.3/E.4 (Assadi-N 2021 Prop. 4.12)",
    )


def doubling_layers(k: int) -> int:
    """Layers of a pointer-doubling hop_k transformer with one lookup per layer:
    ⌈log2 k⌉ + 2 (k ≥ 1).  Layer 1 copies the previous token, layer 2 gives find¹, and
    each later layer at most doubles the largest hop a position knows, so L layers
    reach k ≤ 2^(L−2) (derivation in docs/theory.md §10.3).  This is the depth of
    :func:`commlb.models.constructions.khop.build`; it equals the ⌊log2 k⌋ + 2 quoted for
    SHT24 Theorem 4.2 when k is a power of two and is one more otherwise."""
    if int(k) < 1:
        raise InvalidInputError("k must be >= 1")
    return (int(k) - 1).bit_length() + 2
