"""The catalogue of bounds for protocols that err, per problem, as functions of ε.

Each :class:`CatalogueEntry` states one bound exactly as commlb uses it: the kind
(randomized public/private coin, distributional under which μ, one-way or two-way, k
rounds), the statement, the source, and its status:

* ``proved`` — a statement with explicit constants, proved in the cited source;
* ``derived here`` — commlb's own derivation, written out in docs/theory.md §6;
* ``asymptotic only`` — an Ω/Θ statement whose constants are not explicit (or an ε → 0
  limit): shown for orientation and **never evaluated at a finite n** (``formula`` is None);
* ``upper bound`` — a protocol, i.e. a limit on what any lower bound can say.

``formula(n, eps)`` returns (whole bits, real value) where the statement has explicit
constants.  docs/theory.md §6 has the full list with the derivations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .rational import binary_entropy, ceil_log2, ceil_log2_root, ceil_with_guard

__all__ = ["CatalogueEntry", "CATALOGUE", "entries_for", "eq_public_coin_upper", "eq_planted_bits",
           "index_one_way_bits",
           "ip_discrepancy_bits"]


@dataclass(frozen=True)
class CatalogueEntry:
    problem: str
    kind: str
    statement: str
    conditions: str
    source: str
    status: str
    theory: str
    formula: Callable[[int, Fraction], tuple[int, float]] | None = None
    note: str = ""

    def evaluate(self, n: int | None, eps: Fraction) -> dict[str, Any]:
        out: dict[str, Any] = {"problem": self.problem, "kind": self.kind, "statement": self.statement,
                               "conditions": self.conditions, "source": self.source, "status": self.status,
                               "theory": self.theory, "error": str(eps)}
        if self.formula is not None and n is not None:
            bits, real = self.formula(n, eps)
            out["bits"], out["real"] = bits, real
        else:
            out["bits"], out["real"] = None, None
        if self.note:
            out["note"] = self.note
        return out


def index_one_way_bits(n: int, eps: Fraction) -> tuple[int, float]:
    """(1 − H2(ε))·n, rounded up to whole bits after a 1e-9 guard."""
    real = (1.0 - binary_entropy(float(eps))) * n
    return ceil_with_guard(real), real


def ip_discrepancy_bits(n: int, eps: Fraction) -> tuple[int, float]:
    """n/2 − log2(1/(1 − 2ε)) = log2((1 − 2ε)·2^(n/2)); whole bits: the smallest k with
    4^k ≥ (1 − 2ε)²·2^n, exactly."""
    gap = 1 - 2 * Fraction(eps)
    real = n / 2 + math.log2(gap)
    return ceil_log2_root(gap * gap * (1 << n), 2), real


def eq_public_coin_upper(n: int, eps: Fraction) -> tuple[int, float]:
    """Bits of the public-coin protocol for EQ_n: Alice sends k random parities of x with
    2^−k ≤ ε, Bob compares and announces the answer: k + 1 bits (k ≤ n; with k = n it is
    the deterministic protocol)."""
    if eps <= 0:
        return n + 1, float(n + 1)
    k = min(n, ceil_log2(1 / Fraction(eps)))
    return k + 1, float(k + 1)


def eq_planted_bits(n: int, eps: Fraction) -> tuple[int, float]:
    """D^μ_ε(EQ_n) under μ = ½(x uniform, y = x) + ½(x, y uniform), receiver outputs:
    the 1-answers of a c-bit protocol form ≤ 2^c rectangles, and m rectangles err with
    2ε ≥ 1/m − 2^−n when m ≥ 2 (docs/theory.md §6.6).  Whole bits: the smallest c with
    2^c ≥ max(2, 1/(2ε + 2^−n)) while 2ε < 1 − (1 + 2^−n)²/4, else 0; exactly."""
    eps = Fraction(eps)
    tiny = Fraction(1, 1 << n)
    if 2 * eps >= 1 - (1 + tiny) ** 2 / 4:
        return 0, 0.0
    need = max(Fraction(2), 1 / (2 * eps + tiny))
    return ceil_log2(need), math.log2(need)


_KN = "Kushilevitz–Nisan 1997"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    # ---------------------------------------------------------------- INDEX
    CatalogueEntry(
        "index", "distributional, one-way Alice→Bob, uniform inputs",
        "D^{→,uniform}_ε(INDEX_n) ≥ (1 − H2(ε))·n  (so also R^{→,pub}_ε ≥ it)",
        "0 ≤ ε < 1/2; Alice holds x ∈ {0,1}^n, Bob holds i; Alice sends one message, Bob outputs",
        "Ablayev 1996; Kremer–Nisan–Ron 1999", "derived here", "docs/theory.md §6.2",
        index_one_way_bits),
    CatalogueEntry(
        "index", "deterministic and randomized, two-way",
        "D(INDEX_n) ≤ ⌈log2 n⌉ + 1 (Bob sends i, Alice answers)",
        "two-way, or one-way Bob→Alice", _KN, "upper bound", "docs/theory.md §6.2",
        lambda n, eps: (math.ceil(math.log2(n)) + 1 if n > 1 else 1, math.log2(n) + 1 if n > 1 else 1.0),
        "the one-way bound says nothing about protocols in which Bob speaks first"),
    # ---------------------------------------------------------------- IP
    CatalogueEntry(
        "ip", "distributional, two-way, uniform inputs (hence public-coin randomized)",
        "D^{uniform}_ε(IP_n) ≥ n/2 − log2(1/(1 − 2ε))",
        "0 ≤ ε < 1/2; from disc_uniform(IP_n) ≤ 2^(−n/2) (Lindsey's lemma)",
        "Chor–Goldreich 1988; Kushilevitz–Nisan 1997 ch. 3 (discrepancy)", "proved",
        "docs/theory.md §6.1", ip_discrepancy_bits),
    # ---------------------------------------------------------------- DISJ
    CatalogueEntry(
        "disj", "randomized, two-way (public coin)", "R_ε(DISJ_n) = Ω(n)",
        "constant ε < 1/2", "Kalyanasundaram–Schnitger 1992", "asymptotic only", "docs/theory.md §6.5"),
    CatalogueEntry(
        "disj", "distributional, two-way, Razborov's distribution",
        "D^μ_ε(DISJ_n) = Ω(n) for μ on sets of size n/4 meeting in at most one element",
        "small constant ε (the source fixes it); μ is not the uniform distribution",
        "Razborov 1992", "asymptotic only", "docs/theory.md §6.5"),
    CatalogueEntry(
        "disj", "randomized, two-way (information complexity)", "R_ε(DISJ_n) = Ω(n)",
        "constant ε < 1/2; hard distribution: one special coordinate, others uniform on {00, 01, 10}",
        "Bar-Yossef–Jayram–Kumar–Sivakumar 2004", "asymptotic only", "docs/theory.md §6.5"),
    CatalogueEntry(
        "disj", "randomized, two-way, ε → 0", "R_ε(DISJ_n) = C·n − o(n) with C ≈ 0.4827 as ε → 0",
        "a limit as ε → 0 and n → ∞: not a bound at any finite n or fixed ε",
        "Braverman–Garg–Pankratov–Weinstein 2013", "asymptotic only", "docs/theory.md §6.5"),
    CatalogueEntry(
        "disj", "distributional, one-way Alice→Bob (via the VC bound)",
        "D^{→,μ}_ε(DISJ_n) ≥ (1 − H2(ε))·n, μ = uniform x, y a uniform singleton",
        "0 ≤ ε < 1/2; the singletons are shattered by Alice's sets (INDEX_n embeds)",
        "Kremer–Nisan–Ron 1999 (VC form)", "derived here", "docs/theory.md §6.2", index_one_way_bits),
    # ---------------------------------------------------------------- EQ
    CatalogueEntry(
        "eq", "randomized, public coin, two-way",
        "R^pub_ε(EQ_n) ≤ ⌈log2(1/ε)⌉ + 1: Alice sends random parities, Bob answers",
        "public coins; the error is one-sided (equal inputs are always accepted)",
        _KN + " ch. 3", "upper bound", "docs/theory.md §6.6", eq_public_coin_upper,
        "public-coin EQ is cheap: no randomized lower bound above this exists, so commlb claims none"),
    CatalogueEntry(
        "eq", "distributional, two-way, planted distribution (receiver outputs)",
        "D^μ_ε(EQ_n) ≥ log2 max(2, 1/(2ε + 2^−n)), μ = ½(y = x) + ½(x, y uniform)",
        "2ε < 1 − (1 + 2^−n)²/4 (else 0); below the public-coin upper bound, as it must be",
        "derived here (rectangle counting)", "derived here", "docs/theory.md §6.6", eq_planted_bits),
    CatalogueEntry(
        "eq", "randomized, private coin, two-way", "R^priv_ε(EQ_n) = Θ(log n)",
        "private coins only (Newman's theorem: private ≤ public + O(log n))",
        "Newman 1991; " + _KN + " ch. 3", "asymptotic only", "docs/theory.md §6.6"),
    # ---------------------------------------------------------------- GT
    CatalogueEntry(
        "gt", "randomized, two-way", "R_ε(GT_n) = Θ(log n)",
        "constant ε < 1/2; upper bound by noisy binary search",
        "Viola 2015 (lower); Feige–Raghavan–Peleg–Upfal 1994, Nisan 1993 (upper)", "asymptotic only",
        "docs/theory.md §6.7"),
    # ---------------------------------------------------------------- GHD
    CatalogueEntry(
        "ghd", "randomized, two-way", "R_ε(GHD_n) = Ω(n)",
        "promise: Hamming distance ≤ n/2 − √n or ≥ n/2 + √n; constant ε < 1/2",
        "Chakrabarti–Regev 2011; Vidick 2012; Sherstov 2012", "asymptotic only", "docs/theory.md §6.8"),
    CatalogueEntry(
        "ghd", "randomized, one-way", "R^→_ε(GHD_n) = Ω(n)", "constant ε < 1/2",
        "Indyk–Woodruff 2003; Woodruff 2004; Jayram–Kumar–Sivakumar 2008", "asymptotic only",
        "docs/theory.md §6.8"),
    # ---------------------------------------------------------------- PC
    CatalogueEntry(
        "pc", "deterministic, k rounds, the wrong player starts", "D^{k rounds}(PC_k) = Ω(n − k log n)",
        "the last message determines the output; with the receiver of the last message "
        "outputting (commlb's transcripts) shift the round count by one",
        "Nisan–Wigderson 1993", "asymptotic only", "docs/theory.md §6.9"),
    CatalogueEntry(
        "pc", "randomized, k rounds, the wrong player starts", "R^{k rounds}_ε(PC_k) = Ω(n/k² − k log n)",
        "constant ε; same output convention as above", "Nisan–Wigderson 1993", "asymptotic only",
        "docs/theory.md §6.9"),
    CatalogueEntry(
        "pc", "randomized, k rounds, the wrong player starts", "R^{k rounds}_ε(PC_k) = Ω(n/k + k)",
        "constant ε; same output convention as above", "Klauck 2000", "asymptotic only",
        "docs/theory.md §6.9"),
    CatalogueEntry(
        "pc", "randomized, k rounds, the wrong player starts", "R^{k rounds}_ε(PC_k) = Ω(n/k − k log n)",
        "constant ε; same output convention as above", "Yehudayoff 2016", "asymptotic only",
        "docs/theory.md §6.9"),
)


def entries_for(problem: str | None) -> list[CatalogueEntry]:
    """The catalogue entries of a problem (registry name), in catalogue order."""
    if problem is None:
        return []
    return [e for e in CATALOGUE if e.problem == problem]
