"""Gap-Hamming distance GHD_n (a promise problem).

Alice holds x, Bob y ∈ {0,1}^n.  Promise: the Hamming distance Δ(x, y) is at most
n/2 − g ("close") or at least n/2 + g ("far"), with gap g = √n by default.  The output
is 1 on the close side, 0 on the far side.  Outside the promise :meth:`evaluate` returns
the completion [Δ < n/2], which agrees with the promise on both sides; the communication
matrix marks those pairs DONT_CARE (-1).

The default gap is min(√n, n/2) (for n <= 3, √n > n/2 would leave no far side); an
explicit ``gap`` must lie in (0, n/2].

Bounds (docs/theory.md §4.6): randomized Θ(n) (Chakrabarti–Regev 2011; Vidick 2012; Sherstov
2012), one-way randomized Ω(n) (Indyk–Woodruff 2003; Woodruff 2004; Jayram–Kumar–Sivakumar
2008), stated for gap √n; they carry over to any gap g <= √n (a smaller gap only enlarges
the promise).  Deterministic Ω(n) follows from the randomized bound, since a deterministic
protocol is a randomized one that never errs (D ≥ R_ε); commlb knows no direct proof of
it and states it with that derivation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import BoundKind, InputSpace, KnownBound
from ..errors import InvalidInputError
from ..registry import register_problem
from .base import ProblemBase, as_bits, batch_shape, check_n, pack_bits
from .bitwise import EPSILON

__all__ = ["GapHamming"]


@register_problem("ghd")
class GapHamming(ProblemBase):
    """GHD_n with gap g: 1 if Δ(x, y) <= n/2 − g, 0 if Δ(x, y) >= n/2 + g, promised
    one of the two.  ``close_max = ⌊n/2 − g⌋`` and ``far_min = ⌈n/2 + g⌉`` are the integer
    thresholds."""

    name = "ghd"
    description = (
        "Gap-Hamming GHD_n (promise): 1 if dist(x, y) <= n/2 - g, 0 if >= n/2 + g; g = sqrt(n)"
    )
    output_format = "1 (close) or 0 (far); pairs outside the promise are don't-cares"

    def __init__(self, n: int, gap: float | None = None) -> None:
        self.n = check_n(n, self.name)
        if gap is None:
            g = min(math.sqrt(self.n), self.n / 2)
        else:
            try:
                g = float(gap)
            except (TypeError, ValueError):
                raise InvalidInputError(f"ghd: gap must be a number, got {gap!r}") from None
            if not (0 < g <= self.n / 2):
                raise InvalidInputError(f"ghd: gap must lie in (0, n/2] = (0, {self.n / 2}], got {gap!r}")
        self.gap = g
        self.close_max = math.floor(self.n / 2 - g)
        self.far_min = math.ceil(self.n / 2 + g)
        self.x_space = InputSpace("bits", self.n)
        self.y_space = InputSpace("bits", self.n)

    @property
    def is_promise(self) -> bool:
        return True

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Hamming distance Δ(x, y) over the broadcast batch axes (int64)."""
        x = as_bits(x, self.n, "x")
        y = as_bits(y, self.n, "y")
        batch_shape(x, y)
        diff = np.bitwise_count(pack_bits(x) ^ pack_bits(y))
        return diff.sum(axis=-1, dtype=np.int64)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """1 on the close side, 0 on the far side; [Δ < n/2] outside the promise."""
        return (2 * self.distance(x, y) < self.n).astype(np.int64)

    def in_promise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dist = self.distance(x, y)
        return (dist <= self.close_max) | (dist >= self.far_min)

    def _distance_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distances on each side and their probabilities under a uniform pair conditioned
        on that side (proportional to C(n, d)), computed in log space."""
        n = self.n
        close = np.arange(0, self.close_max + 1)
        far = np.arange(self.far_min, n + 1)

        def probs(ds: np.ndarray) -> np.ndarray:
            logc = np.array([math.lgamma(n + 1) - math.lgamma(d + 1) - math.lgamma(n - d + 1)
                             for d in ds])
            w = np.exp(logc - logc.max())
            return w / w.sum()

        return close, probs(close), far, probs(far)

    def sample_batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` pairs inside the promise: each side with probability 1/2, then a
        uniform pair conditioned on that side (x uniform, y = x XOR a uniform set of the
        drawn distance)."""
        count = self._check_count(count)
        n = self.n
        close, p_close, far, p_far = self._distance_weights()
        side_close = rng.random(count) < 0.5
        dist = np.where(side_close, rng.choice(close, size=count, p=p_close),
                        rng.choice(far, size=count, p=p_far)).astype(np.int64)
        x = rng.integers(0, 2, size=(count, n), dtype=np.int64)
        # a uniform subset of size dist[r] in row r: the positions of the dist[r] smallest keys
        ranks = np.argsort(np.argsort(rng.random((count, n)), axis=1), axis=1)
        flip = (ranks < dist[:, None]).astype(np.int64)
        return x, x ^ flip

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.sample_batch(rng, 1)
        return x[0], y[0]

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "gap": self.gap}

    def bounds(self) -> list[KnownBound]:
        n = self.n
        out = [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="n + 1 (Alice sends x)",
                value=float(n + 1),
                lower=False,
                citation="trivial protocol",
                status="derived here: Alice sends x, Bob answers",
                note="upper bound",
            ),
        ]
        if self.gap <= math.sqrt(n) + 1e-12:
            out += [
                KnownBound(
                    kind=BoundKind.DETERMINISTIC,
                    formula="Omega(n)",
                    asymptotic=True,
                    citation="Chakrabarti & Regev 2011, through D >= R_eps (a deterministic "
                             "protocol is a randomized one with error 0)",
                    status="derived here from the randomized bound (docs/theory.md §4.6)",
                    note="stated for gap sqrt(n); holds for any smaller gap",
                ),
                KnownBound(
                    kind=BoundKind.RANDOMIZED,
                    formula="Omega(n)",
                    asymptotic=True,
                    epsilon=EPSILON,
                    citation="Chakrabarti & Regev 2011; Vidick 2012; Sherstov 2012",
                    status="proved in the cited papers (docs/theory.md §4.6)",
                    note="stated for gap sqrt(n); holds for any smaller gap",
                ),
                KnownBound(
                    kind=BoundKind.RANDOMIZED_ONE_WAY_AB,
                    formula="Omega(n)",
                    asymptotic=True,
                    epsilon=EPSILON,
                    citation="Indyk & Woodruff 2003; Woodruff 2004; Jayram, Kumar & Sivakumar 2008",
                    status="proved in the cited papers (docs/theory.md §4.6)",
                    note="stated for gap sqrt(n); holds for any smaller gap",
                ),
            ]
        return out
