"""What a softmax layer needs to reproduce a hard-attention construction.

Several constructions (qSA, Match2, k-hop, nearest neighbour) use hard attention: the
output is the average of the values at the positions of maximal score.  The theorems
they illustrate are about softmax attention; SHT24 Lemma A.2 bridges the two: if every
row of scores has a margin ξ between its maximal entries and all others, scaling the
queries by a large enough c makes a finite-precision softmax equal the hardmax.  This
module gives that c and the precision it costs, in the form derived in docs/theory.md
§2.5 (the lemma states c = Θ(((p + ζ)/ξ)·log N) with hidden constants; this is a
concrete sufficient choice):

* the weight of a non-maximal position is at most e^(−c·ξ) times that of a maximal one,
  so the output moves by at most (N − 1)·e^(−c·ξ)·2V from the hardmax output (V the
  largest |value|); it rounds to the same f-fractional-bit number once that is below
  2^(−f−2), i.e. once

      c ≥ (ln(N − 1) + ln(2V) + (f + 2)·ln 2) / ξ ;

* the scaled scores c·s, with the row maximum subtracted (a valid implementation in
  SHT24's sense), lie in [−2cS, 0] for scores |s| ≤ S, so the exponent argument needs
  ⌈log2(2cS + 1)⌉ integer bits besides the f fractional bits and a sign bit:

      p_softmax = f + 1 + ⌈log2(2cS + 1)⌉.

The hard-attention precision p_hard is what the construction itself uses; both are
printed side by side wherever a construction's size is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["SoftmaxRequirement", "softmax_requirement"]


@dataclass(frozen=True)
class SoftmaxRequirement:
    """The query scale c and the precision a softmax needs to equal the hardmax."""

    scale: int
    bits: int
    hard_bits: int
    margin: float
    max_score: float

    def describe(self) -> str:
        return (f"hard attention (p = {self.hard_bits}); a softmax equals it with queries scaled "
                f"by c = {self.scale} and p = {self.bits} bits (SHT24 Lemma A.2, docs/theory.md §2.5)")

    def to_json(self) -> dict[str, Any]:
        return {"attention": "hard", "hard_bits": self.hard_bits, "softmax_scale": self.scale,
                "softmax_bits": self.bits, "margin": self.margin, "max_score": self.max_score}


def softmax_requirement(positions: int, margin: float, max_score: float, max_value: float,
                        frac_bits: int, hard_bits: int) -> SoftmaxRequirement:
    """The integer scale c and precision of docs/theory.md §2.5 for a row of ``positions``
    scores with the given ``margin`` (> 0) between maximal and other entries, scores of
    magnitude at most ``max_score``, values of magnitude at most ``max_value``, and an
    output on the grid 2^(−frac_bits)."""
    if not margin > 0 or positions < 1 or max_score < 0 or max_value < 0 or frac_bits < 0:
        raise ValueError("softmax_requirement: need margin > 0, positions >= 1 and non-negative bounds")
    others = max(positions - 1, 1)
    need = (math.log(others) + math.log(max(2.0 * max_value, 1.0)) + (frac_bits + 2) * math.log(2.0)) / margin
    scale = max(1, math.ceil(need))
    span = math.ceil(2 * scale * max_score) + 1
    bits = frac_bits + 1 + max(1, (span - 1).bit_length())
    return SoftmaxRequirement(scale=scale, bits=bits, hard_bits=int(hard_bits), margin=float(margin),
                              max_score=float(max_score))
