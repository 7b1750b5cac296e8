"""Total Boolean functions of two n-bit strings: DISJ_n, EQ_n, IP_n, GT_n.

Alice holds x ∈ {0,1}^n, Bob y ∈ {0,1}^n, both as int64 0/1 arrays.  Bit order: entry
``j`` is the coefficient of 2^j (x = Σ_j x_j 2^j, entry 0 least significant), the order of
:meth:`commlb.core.InputSpace.from_index`; so row ``i`` of the communication matrix is the
string whose integer is ``i``, and GT_n's matrix is strictly lower triangular.

Bounds (docs/theory.md §4.1–4.5): D = n + 1 for each of them when n >= 1 (two-way, counting the final
bit that announces the answer), one-way D→ = n in either direction (every row and every
column of the matrix is distinct, and D→ = ⌈log2 #distinct rows⌉).  D(EQ_n) is formally
verified (Lean); the other three values are derived in docs/theory.md §4.1–4.5.  Randomized
bounds: DISJ Ω(n), IP n/2 − log2(1/(1−2ε)) − O(1), GT Θ(log n), EQ O(log 1/ε) public coin.

Evaluation packs each operand into 64-bit words before broadcasting (see
:func:`commlb.problems.base.pack_bits`), so a 4096 x 4096 matrix costs one word operation
per pair.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import BoundKind, InputSpace, KnownBound
from ..registry import register_problem
from .base import ProblemBase, as_bits, batch_shape, check_n, pack_bits

__all__ = ["BitwiseProblem", "Disjointness", "Equality", "InnerProduct", "GreaterThan", "EPSILON"]

#: error used for the randomized bounds we list (any constant < 1/2 gives the same Θ)
EPSILON = 1.0 / 3.0

_KN97 = "Kushilevitz & Nisan 1997, Communication Complexity"
_LEAN = "communication-complexity-lean (mihirsinghal), CommunicationComplexity/Functions"
_TWO_WAY_NOTE = "two-way value counts the final bit announcing the answer to both parties"


def _one_way_pair(n: int, what: str) -> list[KnownBound]:
    """D→ = n in both directions: all 2^n rows (columns) of the matrix are distinct and
    the deterministic one-way complexity is ⌈log2 #distinct rows⌉ (docs/theory.md §5.3)."""
    out = []
    for kind, lines in ((BoundKind.ONE_WAY_AB, "rows"), (BoundKind.ONE_WAY_BA, "columns")):
        out.append(KnownBound(
            kind=kind,
            formula="n",
            value=float(n),
            exact=True,
            citation=f"{_KN97}: one-way D = ceil(log2 #distinct {lines}); {what} has 2^n "
                     f"distinct {lines}",
            status="derived here (docs/theory.md §5.3)",
            note="the receiver outputs the answer; n + 1 if both parties must know it",
        ))
    return out


class BitwiseProblem(ProblemBase):
    """f(x, y) for x, y ∈ {0,1}^n, evaluated on packed 64-bit words."""

    def __init__(self, n: int) -> None:
        self.n = check_n(n, self.name)
        self.x_space = InputSpace("bits", self.n)
        self.y_space = InputSpace("bits", self.n)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """f(x, y) over the broadcast batch axes: x (..., n), y (..., n) -> int64 (...)."""
        x = as_bits(x, self.n, "x")
        y = as_bits(y, self.n, "y")
        shape = batch_shape(x, y)
        px, py = pack_bits(x), pack_bits(y)
        if px.shape[-1] == 1:  # n <= 64: one word, drop the word axis before broadcasting
            out = self._combine_word(px[..., 0], py[..., 0])
        else:
            out = self._combine_words(px, py)
        out = np.asarray(out, dtype=np.int64)
        assert out.shape == shape  # packing keeps the batch axes, so this always holds
        return out

    def _combine_word(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return self._combine_words(px[..., None], py[..., None])

    def _combine_words(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {"n": self.n}


@register_problem("disj")
class Disjointness(BitwiseProblem):
    """DISJ_n(x, y) = 1 iff x ∧ y = 0 (the sets share no element).

    Bounds: D = n + 1 (fooling set {(S, Sᶜ)}: 2^n one-rectangles plus a zero-rectangle;
    docs/theory.md §4.1, fooling set formalised in Lean), D→ = n, randomized Ω(n)
    (Kalyanasundaram–Schnitger 1992; Razborov 1992; Bar-Yossef–Jayram–Kumar–Sivakumar
    2004).
    """

    name = "disj"

    def sample_balanced(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Each bit 1 with probability p = sqrt(1 − 2^(−1/n)), so that x and y are
        disjoint with probability 1/2."""
        n = self.n
        p = float(np.sqrt(1.0 - 2.0 ** (-1.0 / n))) if n else 0.5
        return ((rng.random(n) < p).astype(np.int64), (rng.random(n) < p).astype(np.int64))
    description = "set disjointness DISJ_n: 1 iff x AND y = 0 (no common 1)"

    def _combine_word(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return (px & py) == 0

    def _combine_words(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.all((px & py) == 0, axis=-1)

    def bounds(self) -> list[KnownBound]:
        n = self.n
        return [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="n + 1",
                value=float(n + 1),
                exact=True,
                citation=f"{_KN97}: fooling set {{(S, complement of S)}} (2^n one-rectangles) "
                         f"plus one zero-rectangle; fooling set formalised in {_LEAN}/"
                         f"Disjointness.lean (Claim 1.21)",
                status="derived here (docs/theory.md §4.1); the fooling set is formally "
                       "verified in Lean",
                note=_TWO_WAY_NOTE,
            ),
            *_one_way_pair(n, "DISJ_n"),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="Omega(n)",
                asymptotic=True,
                epsilon=EPSILON,
                citation="Kalyanasundaram & Schnitger 1992; Razborov 1992; "
                         "Bar-Yossef, Jayram, Kumar & Sivakumar 2004",
                status="proved in the cited papers (docs/theory.md §4.1)",
                note="constant ~0.4827 n as eps -> 0 (Braverman, Garg, Pankratov & "
                     "Weinstein 2013), asymptotic only",
            ),
        ]


@register_problem("eq")
class Equality(BitwiseProblem):
    """EQ_n(x, y) = 1 iff x = y.

    Bounds: D = n + 1, formally verified (Lean, communication-complexity-lean
    Functions/Equality.lean); D→ = n; public-coin randomized k + 1 bits for
    error 2^−k (upper bound); private-coin Θ(log n) (docs/theory.md §4.2).
    """

    name = "eq"

    def sample_balanced(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A uniform pair, with y replaced by a copy of x half of the time."""
        x, y = self.sample(rng)
        if rng.random() < 0.5:
            y = np.array(x, copy=True)
        return x, y
    description = "equality EQ_n: 1 iff x = y"

    def _combine_word(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return px == py

    def _combine_words(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.all(px == py, axis=-1)

    def bounds(self) -> list[KnownBound]:
        n = self.n
        k = math.ceil(math.log2(1.0 / EPSILON))
        return [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="n + 1",
                value=float(n + 1),
                exact=True,
                citation=f"{_KN97} (fooling set {{(x, x)}}); formal proof in {_LEAN}/Equality.lean",
                status="proved in the cited source; formally verified in Lean",
                note=_TWO_WAY_NOTE,
            ),
            *_one_way_pair(n, "EQ_n"),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="ceil(log2(1/eps)) + 1 (public coin: k random parities, error 2^-k)",
                value=float(k + 1),
                lower=False,
                epsilon=EPSILON,
                citation=f"{_KN97}: public-coin equality test by random inner products",
                status="derived here: the standard protocol (docs/theory.md §4.2)",
                note="an upper bound: equality is cheap with public randomness",
            ),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="Omega(log n) (private coin)",
                asymptotic=True,
                epsilon=EPSILON,
                citation=f"{_KN97}: private-coin R(f) = Omega(log D(f)); Newman 1991",
                status="proved in the cited sources (docs/theory.md §4.2)",
                note="private coins only; with public coins O(log 1/eps) suffices",
            ),
        ]


@register_problem("ip")
class InnerProduct(BitwiseProblem):
    """IP_n(x, y) = ⟨x, y⟩ mod 2.

    Bounds: D = n + 1 (rank of the 0/1 matrix 2^n − 1 and of its complement >= 2^n − 1;
    docs/theory.md §4.4); D→ = n; randomized R_ε >= n/2 − log2(1/(1−2ε)) − O(1) by
    discrepancy <= 2^(−n/2) (Chor–Goldreich 1988; public-coin form formalised in Lean).
    """

    name = "ip"
    description = "inner product IP_n: <x, y> mod 2"

    def _combine_word(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.bitwise_count(px & py) & 1

    def _combine_words(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.sum(np.bitwise_count(px & py), axis=-1, dtype=np.int64) & 1

    def bounds(self) -> list[KnownBound]:
        n = self.n
        lead = n / 2 - math.log2(1.0 / (1.0 - 2.0 * EPSILON))
        return [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="n + 1",
                value=float(n + 1),
                exact=True,
                citation=f"{_KN97}: rank bound, rank(M) = 2^n - 1 and rank(J - M) >= 2^n - 1 "
                         f"give >= 2^(n+1) - 2 leaves (n = 1 is AND: 2 bits)",
                status="derived here (docs/theory.md §4.4)",
                note=_TWO_WAY_NOTE,
            ),
            *_one_way_pair(n, "IP_n"),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="n/2 - log2(1/(1 - 2*eps)) - O(1)",
                asymptotic=True,
                epsilon=EPSILON,
                citation="Chor & Goldreich 1988 (discrepancy of IP_n <= 2^(-n/2)); public-coin "
                         f"form formalised in {_LEAN}/InnerProduct.lean",
                status="proved in the cited paper; the discrepancy bound is formally verified "
                       "in Lean (docs/theory.md §4.4)",
                note=f"leading term at this n and eps: {lead:.3f} bits (the O(1) is not included)",
            ),
        ]


@register_problem("gt")
class GreaterThan(BitwiseProblem):
    """GT_n(x, y) = 1 iff x > y as integers, x = Σ_j x_j 2^j (entry 0 least significant).

    Bounds: D = n + 1 (strictly lower triangular matrix of rank 2^n − 1, complement of
    rank 2^n; docs/theory.md §4.5); D→ = n; randomized Θ(log n): upper bound by noisy
    binary search (Feige–Raghavan–Peleg–Upfal 1994; Nisan 1993), lower Ω(log n)
    (Viola 2015).
    """

    name = "gt"
    description = "greater-than GT_n: 1 iff x > y as integers (entry 0 = least significant bit)"
    x_format = "n bits: an int64 array of n entries in {0, 1}, entry j the coefficient of 2^j"
    y_format = "n bits, as x (entry 0 the least significant bit)"

    def _combine_word(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return px > py

    def _combine_words(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(px.shape, py.shape)[:-1]
        greater = np.zeros(shape, dtype=bool)
        decided = np.zeros(shape, dtype=bool)
        for w in range(px.shape[-1] - 1, -1, -1):  # most significant word first
            a, b = px[..., w], py[..., w]
            greater |= ~decided & (a > b)
            decided |= a != b
        return greater

    def bounds(self) -> list[KnownBound]:
        n = self.n
        return [
            KnownBound(
                kind=BoundKind.DETERMINISTIC,
                formula="n + 1",
                value=float(n + 1),
                exact=True,
                citation=f"{_KN97}: rank bound, the strictly lower triangular matrix has rank "
                         f"2^n - 1 and its complement rank 2^n",
                status="derived here (docs/theory.md §4.5)",
                note=_TWO_WAY_NOTE,
            ),
            *_one_way_pair(n, "GT_n"),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="Omega(log n)",
                asymptotic=True,
                epsilon=EPSILON,
                citation="Viola 2015",
                status="proved in the cited paper (docs/theory.md §4.5)",
            ),
            KnownBound(
                kind=BoundKind.RANDOMIZED,
                formula="O(log n) (noisy binary search)",
                asymptotic=True,
                lower=False,
                epsilon=EPSILON,
                citation="Feige, Raghavan, Peleg & Upfal 1994; Nisan 1993",
                status="proved in the cited papers (docs/theory.md §4.5)",
            ),
        ]
