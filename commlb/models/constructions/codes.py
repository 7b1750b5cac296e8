"""Nearly orthogonal codes: N vectors u_1..u_N in R^m with entries ±1/√m (so ‖u_i‖ = 1)
and small coherence max_{i≠j} |⟨u_i, u_j⟩| ≤ ε, in m = O(ε^-2 log N) dimensions
(Johnson–Lindenstrauss style; docs/theory.md §9.1, the tool behind BHBK24's log-width
constructions).

Why m = ⌈C · log2 N⌉ with C = ⌊4 ln 2 / ε²⌋ + 1 works (derived here): for two independent random
sign vectors, ⟨s_i, s_j⟩ is a sum of m independent ±1, so Hoeffding gives
P(|⟨u_i, u_j⟩| ≥ ε) ≤ 2·exp(−ε² m / 2); a union bound over the N(N−1)/2 pairs is below
N²·exp(−ε² m / 2), which is < 1 once m > 4 ln N / ε² = (4 ln 2 / ε²)·log2 N.  For ε = 1/2
that is C = 12 (4 ln 2 / ε² ≈ 11.09).  The draw is random, so the coherence of every draw
is *measured* (exactly: Gram entries of sign vectors are integers) and the draw is
repeated with the same seeded generator until it holds.

Codes are stored as the sign matrix (int8); :attr:`NearlyOrthogonalCodes.vectors` gives
the unit vectors.  Models use the signs directly and fold 1/m into a scale (exactly
representable in fixed point, unlike 1/√m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InvalidInputError

__all__ = [
    "NearlyOrthogonalCodes",
    "code_constant",
    "code_dimension",
    "measure_coherence",
    "random_sign_codes",
    "draw_codes",
]

#: rows of the Gram matrix computed at once (memory bound for large N)
_BLOCK = 1024


@dataclass(frozen=True, eq=False)
class NearlyOrthogonalCodes:
    """``signs`` (N, m) int8 in {−1, +1}; u_i = signs[i] / √m.

    ``coherence`` = max_{i≠j} |⟨u_i, u_j⟩|; ``max_inner`` = max_{i≠j} ⟨u_i, u_j⟩ (signed,
    what a softmax score gap depends on); ``draws`` = how many draws were needed."""

    signs: np.ndarray
    coherence: float
    max_inner: float
    draws: int
    target: float

    @property
    def count(self) -> int:
        return int(self.signs.shape[0])

    @property
    def dim(self) -> int:
        return int(self.signs.shape[1])

    @property
    def vectors(self) -> np.ndarray:
        return self.signs.astype(np.float64) / math.sqrt(self.dim)


def code_constant(epsilon: float = 0.5) -> int:
    """C in m = ⌈C·log2 N⌉ from the Hoeffding + union bound above: the least integer
    above 4 ln 2 / ε² (12 for ε = 1/2)."""
    if not 0 < epsilon < 1:
        raise InvalidInputError(f"coherence target must lie in (0, 1), got {epsilon}")
    return math.floor(4 * math.log(2) / epsilon**2) + 1


def code_dimension(count: int, epsilon: float = 0.5) -> int:
    """m = ⌈C·log2 N⌉ for N = ``count`` codes (N counted as at least 2), at least 4."""
    if count < 1:
        raise InvalidInputError(f"need at least one code, got {count}")
    return max(4, math.ceil(code_constant(epsilon) * math.log2(max(count, 2))))


def measure_coherence(signs: np.ndarray) -> tuple[float, float]:
    """(max_{i≠j} |⟨u_i,u_j⟩|, max_{i≠j} ⟨u_i,u_j⟩) of the unit vectors signs/√m, computed
    exactly from the integer Gram matrix (0, −1 for a single code)."""
    s = np.asarray(signs)
    n, m = s.shape
    if n < 2:
        return 0.0, -1.0
    sf = s.astype(np.float32)  # integer Gram entries |.| <= m are exact in float32
    best_abs, best = 0, -m
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        gram = sf[start:stop] @ sf.T
        rows = np.arange(stop - start)
        gram[rows, rows + start] = np.nan  # drop the diagonal
        best_abs = max(best_abs, int(np.nanmax(np.abs(gram))))
        best = max(best, int(np.nanmax(gram)))
    return best_abs / m, best / m


def random_sign_codes(
    count: int,
    dim: int,
    rng: np.random.Generator,
    max_coherence: float = 0.5,
    max_draws: int = 64,
) -> NearlyOrthogonalCodes:
    """Draw ``count`` random sign codes of length ``dim`` until their coherence is at most
    ``max_coherence``; raise :class:`InvalidInputError` if ``max_draws`` draws all fail."""
    if count < 1 or dim < 1:
        raise InvalidInputError(f"need count >= 1 and dim >= 1, got {count}, {dim}")
    for draw in range(1, max_draws + 1):
        signs = np.where(rng.random((count, dim)) < 0.5, -1, 1).astype(np.int8)
        coh, inner = measure_coherence(signs)
        if coh <= max_coherence:
            return NearlyOrthogonalCodes(signs, coh, inner, draw, max_coherence)
    raise InvalidInputError(
        f"no draw of {count} sign codes in {dim} dimensions reached coherence <= {max_coherence} "
        f"in {max_draws} draws; use at least {code_dimension(count, max_coherence)} dimensions"
    )


def draw_codes(count: int, dim: int, rng: np.random.Generator, *, width_given: bool, who: str,
               extra_dims: int, epsilon: float = 0.5) -> NearlyOrthogonalCodes:
    """The codes of a lookup construction: coherence ``epsilon`` at the default dimension;
    at a dimension the user asked for (``width_given``), which may be too small for
    ``epsilon``, the first of a few weaker coherences that can be drawn (a larger attention
    scale then buys the same exactness) as long as the codes stay distinct.  ``who`` and
    ``extra_dims`` (the model's dims besides the code) only word the error."""
    if not width_given:
        return random_sign_codes(count, dim, rng, epsilon, max_draws=64)
    for target in (epsilon, 0.75, 0.875, 1 - 1 / dim):
        try:
            return random_sign_codes(count, dim, rng, target, max_draws=16)
        except InvalidInputError:
            continue
    raise InvalidInputError(
        f"{who} construction: {dim} code dimensions cannot hold {count} distinct codes in 64 draws; "
        f"use a width of at least {code_dimension(count, epsilon) + extra_dims}"
    )
