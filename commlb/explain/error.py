"""Models that err: the distributional bounds of INDEX (one-way) and IP (discrepancy),
the step that states them and the walk-through of a problem alone (``explain --problem``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from .explanation import Explanation, Step
from .texts import _PROBLEMS, FAMILY_NAMES

#: problems with an error-tolerant walk-through
ERROR_PROBLEMS = ("index", "ip")


def parse_error(value: Any) -> Any:
    """ε as an exact fraction in [0, 1/2) from ``0.01``, ``1/100`` or a number; one-line
    :class:`InvalidInputError` otherwise."""
    from fractions import Fraction

    try:
        eps = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"--error must be a number like 0.01 or 1/100, got {value!r}") from None
    if not 0 <= eps < Fraction(1, 2):
        raise InvalidInputError(f"--error must be at least 0 and below 1/2, got {value}")
    return eps


def binary_entropy(eps: float) -> float:
    """H2(ε) = −ε log2 ε − (1 − ε) log2 (1 − ε), with H2(0) = 0."""
    if eps <= 0:
        return 0.0
    return -eps * math.log2(eps) - (1 - eps) * math.log2(1 - eps)


@dataclass(frozen=True)
class ErrorBound:
    """A lower bound on the bits of every deterministic protocol that errs on at most an
    ε share of the inputs drawn from ``distribution`` (hence, by Yao's principle, on
    public-coin protocols with error ε).  ``value`` is the formula's real value and
    ``whole`` the whole number of bits it forces (⌈value⌉, never more)."""

    problem: str
    n: int
    eps: Any
    kind: str
    distribution: str
    formula: str
    value: float
    whole: int
    source: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "n": self.n, "eps": str(self.eps), "kind": self.kind,
                "distribution": self.distribution, "formula": self.formula, "value": self.value,
                "whole": self.whole, "source": self.source, "status": self.status}


def error_bound(problem: str, n: int, eps: Any) -> ErrorBound:
    """The error-tolerant bound of ``problem`` (``index``: one-way, (1 − H2(ε))·n;
    ``ip``: discrepancy, n/2 − log2(1/(1 − 2ε)) − 1 under the receiver-outputs
    convention) at size ``n`` and error ``eps``."""
    from fractions import Fraction

    e = float(eps)
    if problem == "index":
        value = (1.0 - binary_entropy(e)) * n
        return ErrorBound("index", n, eps, "one-way Alice → Bob, distributional", "x uniform in {0,1}^n and i "
                          "uniform, independent", "(1 − H2(ε))·n", value, _whole(value),
                          "Ablayev 1996; Kremer, Nisan & Ron 1999 (one-way INDEX, by the information argument)",
                          "proved in the cited papers")
    if problem == "ip":
        adv = 1 - 2 * Fraction(eps)  # exact: ε may lie within float rounding of 1/2
        value = n / 2 - (math.log2(adv.denominator) - math.log2(adv.numerator)) - 1
        return ErrorBound("ip", n, eps, "two-way, distributional", "x and y uniform in {0,1}^n, independent",
                          "n/2 − log2(1/(1 − 2ε)) − 1", value, _whole(value),
                          "Chor & Goldreich 1988 (the discrepancy of IP_n under the uniform distribution is at "
                          "most 2^(−n/2)) with the discrepancy bound of Kushilevitz & Nisan 1997",
                          "proved in the cited papers; the − 1 for the receiver-outputs convention is derived "
                          "here, see docs/theory.md §3.6")
    raise InvalidInputError(f"no error-tolerant walk-through for problem {problem!r}; "
                            f"available: {', '.join(ERROR_PROBLEMS)}")


def _whole(value: float) -> int:
    # bits are whole; round up, but never past a value that float noise may have lifted
    # just above an integer (so the claim is never larger than the formula)
    return max(0, math.ceil(value - 1e-9))


def _exact(x: Any) -> str:
    """A fraction as printed: its short decimal when that is exact, else p/q."""
    from fractions import Fraction

    text = f"{float(x):g}"
    return text if Fraction(text) == Fraction(x) else str(Fraction(x))


def _pct(eps: Any) -> str:
    v = float(eps) * 100
    return f"{v:g}%"


def _step_error(eb: ErrorBound, data: dict[str, Any] | None, built: Any = None) -> Step:
    """The error-tolerant step: the bound at ε, why it holds, and (with a run) what it
    says of the model's shape."""
    e = float(eb.eps)
    right = _pct(1 - eb.eps)
    paras: list[str] = []
    if eb.problem == "index":
        h = binary_entropy(e)
        paras.append(f"Suppose a model is right only on {right} of the inputs, with Alice's string x and Bob's "
                     "position i drawn uniformly and independently. The exact bounds above say nothing about "
                     "it. The distributional bound does: every one-way protocol in which Alice sends c bits and "
                     f"Bob answers, right with probability at least 1 − ε, has c ≥ {eb.formula}, where "
                     "H2(ε) = −ε·log2 ε − (1 − ε)·log2(1 − ε).")
        paras.append("Why: Alice's string carries n bits of uncertainty. Once Bob has the message, guessing the "
                     "bit x_i wrong with probability ε_i leaves at most H2(ε_i) bits of uncertainty about it "
                     "(Fano's inequality), so at most H2(ε_1) + … + H2(ε_n) ≤ n·H2(ε) bits remain in all (ε "
                     "is the average of the ε_i, and H2 is concave). The message carried the rest, at least "
                     "n − n·H2(ε) bits, and c bits carry at most c.")
        paras.append(f"At n = {eb.n} and ε = {_exact(eb.eps)}: H2(ε) = {h:.4f}, so c ≥ {eb.n}·(1 − {h:.4f}) = "
                     f"{eb.value:.2f} bits, at least {eb.whole} whole bits, against {eb.n} for a model that is "
                     "never wrong" + (" (no bound: the formula is not positive)" if eb.value <= 0 else "") + ".")
    else:
        adv = _exact(1 - 2 * eb.eps)
        inv = f"1/({adv})" if "/" in adv or "e" in adv else f"1/{adv}"
        paras.append(f"Suppose a protocol for inner product mod 2 is right only on {right} of the inputs, x and y "
                     "drawn uniformly and independently. Every conversation of c bits whose last receiver "
                     "answers splits the input table into at most 2^(c+1) rectangles, each answered with one "
                     "value (the last receiver's answer depends on its own input: two rectangles per "
                     f"conversation). Being right on {right} means a bias of 1 − 2ε = {adv} towards the "
                     "truth, summed over the rectangles.")
        paras.append("Why that is expensive: on any rectangle the answers of IP_n are almost balanced. Its "
                     "discrepancy under the uniform distribution, the largest bias any rectangle can have, is "
                     "at most 2^(−n/2) (Lindsey's lemma; the table is a Hadamard matrix). So 2^(c+1)·2^(−n/2) "
                     f"≥ 1 − 2ε, that is c ≥ {eb.formula}.")
        paras.append(f"At n = {eb.n} and ε = {_exact(eb.eps)}: c ≥ {eb.n}/2 − log2({inv}) − 1 = {eb.value:.2f} bits, "
                     f"at least {eb.whole} whole bits"
                     + (" (no bound: the formula is not positive)" if eb.value <= 0 else "") + ".")
    step_data: dict[str, Any] = {"error_bound": eb.to_json(), "applies": None, "shape_bits": None}
    if data is not None and built is not None:
        family = FAMILY_NAMES[built.family]
        shape = int(data.get("shape_bits") or data["total_bits"])
        senders = {m["sender"] for m in data.get("messages") or []}
        at_most = "at most " if built.family == "ffn" else ""
        if eb.problem == "index" and senders <= {"alice"}:
            step_data.update(applies=True, shape_bits=shape)
            if shape < eb.value:
                paras.append(f"This {family}'s protocol is one-way, Alice to Bob, and every {family} of its shape "
                             f"sends {at_most}{shape} bits on this split, fewer than {eb.value:.2f}: so no "
                             f"{family} of this shape is right on {right} of these inputs, whatever its weights.")
            else:
                paras.append(f"This {family}'s protocol is one-way, Alice to Bob, and sends {at_most}{shape} bits, "
                             f"at least {eb.value:.2f}: the bound does not rule out {_article(family)} {family} "
                             f"of this shape that is right on {right} of these inputs.")
        else:
            step_data.update(applies=False, shape_bits=shape)
            paras.append(f"This {family}'s protocol is not one-way from Alice to Bob (Bob's position crosses "
                         "too), so the one-way bound does not apply to it: with a conversation, INDEX costs only "
                         "about log2 n bits.")
    paras.append(f"Source: {eb.source}. Status: {eb.status}. The distribution matters: the bound holds for "
                 f"{eb.distribution}; by Yao's principle it also bounds randomized protocols with error ε "
                 "(docs/theory.md §3.6).")
    return Step("error", f"6. If the model may err: right on {right} of the inputs", paras, step_data)


def explain_error(problem: str, n: int, error: Any) -> Explanation:
    """The error-tolerant walk-through of a problem alone (no model): the problem, and the
    bound that every protocol right on a 1 − ε share of uniform inputs obeys."""
    from ..registry import get_problem

    if problem not in ERROR_PROBLEMS:
        raise InvalidInputError(f"explain --problem: no error-tolerant walk-through for {problem!r}; "
                                f"available: {', '.join(ERROR_PROBLEMS)}")
    if isinstance(n, bool) or int(n) != n or not 1 <= int(n) <= 1 << 20:
        raise InvalidInputError(f"--n must be an integer from 1 to {1 << 20}, got {n!r}")
    eps = parse_error(error)
    prob = get_problem(problem, n=int(n))
    if problem == "ip":
        intro = (f"The communication problem is inner product IP_{n}: Alice holds x, Bob holds y, both strings "
                 f"of {n} bits, and they must find x_1·y_1 + … + x_{n}·y_{n} mod 2.")
    else:
        fmt = {"n": n, "logn": max(1, math.ceil(math.log2(max(n, 2))))}
        t = _PROBLEMS["index"]
        intro = (f"The communication problem is {t['name'].format(**fmt)}. Alice holds {t['alice'].format(**fmt)}. "
                 f"Bob holds {t['bob'].format(**fmt)}. Together they must find {t['goal'].format(**fmt)}.")
    first = Step("problem", "1. The communication problem", [intro], {"problem": problem, "n": int(n)})
    eb = error_bound(problem, int(n), eps)
    error_step = _step_error(eb, None)
    error_step = Step("error", error_step.title.replace("6. If the model may err", "2. If the protocol may err"),
                      error_step.paragraphs, error_step.data)
    label = f"{prob.name.upper()}_{int(n)}"
    return Explanation(task="", model="", n=int(n), reduction="", problem=label, steps=[first, error_step],
                       simulation={"error_bound": eb.to_json()}, basis="none", protocol="none")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" or word.startswith(("RNN", "FFN")) else "a"
