"""The bound that applies to a model that errs, from its measured error (docs/theory.md §6.10).

A deterministic model run on inputs drawn from μ, wrong on a share ε of them, is a
protocol with distributional error ε under μ.  From K trials with k errors:

* ε̂ = k/K, and the one-sided 95% **Clopper–Pearson** upper confidence bound ε⁺
  (:func:`clopper_pearson_upper`): the ε with P[Bin(K, ε) ≤ k] = 0.05 (1 when k = K;
  1 − 0.05^(1/K) when k = 0);
* the distributional bound stated for μ, evaluated at ε⁺ (the bounds fall as ε grows, so
  with probability ≥ 95% over the sample the bound at the true error is at least this),
  in the bits the transcript actually sent:

  - INDEX_n, x and i uniform, one-way Alice → Bob transcript: (1 − H2(ε⁺))·n bits of
    Alice's message (§6.2);
  - IP_n, x and y uniform, any transcript: n/2 − log2(1/(1 − 2ε⁺)) − 1 bits (§6.1 with one
    bit less for the receiver that outputs, §1.4);

* or the plain reason no bound applies: ε⁺ ≥ 1/2, the trial distribution is not one a bound
  is stated for (e.g. DISJ's balanced product distribution is not Razborov's), or the
  transcript is not of the kind the bound covers.

Exact-correctness bounds describe models correct on **every** input; a sampled run, even
with zero errors, gets the distributional bound at its ε⁺ instead (``exhaustive`` marks a
run that checked every input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .catalogue import eq_planted_bits, index_one_way_bits, ip_discrepancy_bits

__all__ = ["ErrorAssessment", "clopper_pearson_upper", "trial_distribution", "assess_errors", "assess_run",
           "assess_transcripts", "assess_trained", "CONFIDENCE"]

CONFIDENCE = 0.95


def clopper_pearson_upper(errors: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided upper confidence bound on a binomial proportion (Clopper–Pearson 1934)."""
    if trials <= 0:
        return 1.0
    if not 0 <= errors <= trials:
        raise ValueError(f"errors must be in [0, trials], got {errors} of {trials}")
    if errors == trials:
        return 1.0
    if errors == 0:
        return 1.0 - (1.0 - confidence) ** (1.0 / trials)
    from scipy.stats import beta

    return float(beta.ppf(confidence, errors + 1, trials - errors))


def trial_distribution(problem: Any, name: str = "balanced") -> tuple[str, bool]:
    """(description, uniform?) of the distribution the trials draw from: ``name`` from
    :mod:`.trial_distributions`; ``balanced`` is uniform when the problem keeps the base
    class's sampler (x and y uniform and independent)."""
    from ..core import Problem

    if name != "balanced":
        from .trial_distributions import TRIAL_DISTRIBUTIONS

        return TRIAL_DISTRIBUTIONS[name].description, name == "uniform"
    cls = type(problem)
    uniform = cls.sample_balanced is Problem.sample_balanced and cls.sample is Problem.sample
    if uniform:
        return "uniform (x and y uniform and independent)", True
    doc = " ".join((cls.sample_balanced.__doc__ or "").strip().split("\n\n")[0].split())
    return f"the problem's trial sampler ({doc.rstrip('.') if doc else 'not uniform'})", False


@dataclass(frozen=True)
class ErrorAssessment:
    trials: int
    errors: int
    error_rate: float
    error_upper: float
    confidence: float
    distribution: str
    exhaustive: bool
    applies: bool
    bound_bits: int | None
    bound_real: float | None
    sent_bits: int | None
    meets: bool | None
    kind: str | None
    statement: str | None
    source: str | None
    status: str | None
    theory: str | None
    reason: str
    implication: str

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def sentence(self) -> str:
        head = (f"measured error {self.errors}/{self.trials} = {100 * self.error_rate:.2f}% on {self.distribution}; "
                f"{int(self.confidence * 100)}% upper bound eps+ = {self.error_upper:.4f} (Clopper–Pearson)")
        if not self.applies:
            return f"{head}; no error-tolerant bound applies: {self.reason}"
        return f"{head}; {self.reason}; {self.implication}"


def _upper_fraction(x: float) -> Fraction:
    """x rounded up to a multiple of 2^-40, so the bound is evaluated at an ε ≥ ε⁺."""
    return Fraction(math.ceil(x * (1 << 40)), 1 << 40)


def assess_errors(problem: Any, errors: int, trials: int, *, senders: set[str], bits_alice_to_bob: int,
                  bits_bob_to_alice: int, family: str = "model", size_symbol: str | None = None,
                  exhaustive: bool = False, confidence: float = CONFIDENCE,
                  distribution: tuple[str, bool] | None = None, distribution_name: str = "balanced"
                  ) -> ErrorAssessment:
    """The distributional bound at ε⁺ for ``problem`` under the trial distribution, compared
    with the bits the transcript sent.  ``senders`` holds "alice"/"bob" for the messages;
    ``distribution`` ((description, uniform?)) overrides :func:`trial_distribution` when
    the trials were drawn another way (a task's generator)."""
    rate = errors / trials if trials else 0.0
    upper = clopper_pearson_upper(errors, trials, confidence)
    dist, uniform = distribution if distribution is not None else trial_distribution(problem, distribution_name)
    name = getattr(problem, "name", "")
    n = int(getattr(problem, "n", 0))
    label = problem.label() if hasattr(problem, "label") else name

    def none(reason: str) -> ErrorAssessment:
        return ErrorAssessment(trials, errors, rate, upper, confidence, dist, exhaustive, False, None, None,
                               None, None, None, None, None, None, None, reason, "")

    if trials <= 0:
        return none("no trials were run")
    if upper >= 0.5:
        return none(f"eps+ = {upper:.4f} >= 1/2, and a coin flip errs with probability 1/2: no bound "
                    f"holds for protocols that err that often")
    eps = _upper_fraction(upper)
    total = bits_alice_to_bob + bits_bob_to_alice
    if name == "index":
        if not uniform:
            return none(f"the INDEX bound is stated for uniform inputs; the trials drew from {dist}")
        if senders - {"alice"}:
            return none("the INDEX bound (1 - H2(eps))n is one-way Alice -> Bob; this transcript has "
                        "messages from Bob (two-way, INDEX costs only ceil(log2 n) + 1)")
        bits, real = index_one_way_bits(n, eps)
        sent = bits_alice_to_bob
        kind = "distributional, one-way Alice->Bob, uniform inputs"
        statement = f"D^(->,uniform)_eps({label}) >= (1 - H2(eps))*n = {real:.3f} at eps = eps+, so >= {bits} bits"
        source, status, theory = "Ablayev 1996; Kremer–Nisan–Ron 1999", "derived here", "docs/theory.md §6.2"
    elif name == "ip":
        if not uniform:
            return none(f"the IP discrepancy bound here is stated for uniform inputs; the trials drew from {dist}")
        bits_full, real_full = ip_discrepancy_bits(n, eps)
        bits, real = max(0, bits_full - 1), real_full - 1
        sent = total
        kind = "distributional, two-way, uniform inputs; the receiver outputs (one bit less)"
        statement = (f"D^uniform_eps({label}) >= n/2 - log2(1/(1 - 2eps)) - 1 = {real:.3f} at eps = eps+ "
                     f"(the last receiver outputs), so >= {bits} bits")
        source = "Chor–Goldreich 1988; Kushilevitz–Nisan 1997 ch. 3"
        status, theory = "proved (the -1 derived here)", "docs/theory.md §6.1, §1.4"
    elif name == "disj" and distribution_name == "singleton":
        if senders - {"alice"}:
            return none("under x uniform and y a uniform singleton, DISJ is INDEX in disguise and its bound "
                        "(1 - H2(eps))n is one-way Alice -> Bob; this transcript has messages from Bob "
                        "(two-way, Bob names i in ceil(log2 n) bits)")
        bits, real = index_one_way_bits(n, eps)
        sent = bits_alice_to_bob
        kind = "distributional, one-way Alice->Bob, x uniform, y a uniform singleton"
        statement = (f"D^(->,mu)_eps({label}) >= (1 - H2(eps))*n = {real:.3f} at eps = eps+ "
                     f"(DISJ(x, {{i}}) = 1 - x_i embeds INDEX_n), so >= {bits} bits")
        source, status, theory = "Ablayev 1996; Kremer–Nisan–Ron 1999", "derived here", "docs/theory.md §6.2, §6.11"
    elif name == "eq" and distribution_name == "balanced":
        # EQ's trial sampler is the planted distribution: y = x half of the time, else uniform
        bits, real = eq_planted_bits(n, eps)
        if bits == 0:
            return none(f"at eps+ = {upper:.4f} the planted-distribution bound for EQ is 0 bits "
                        "(2eps >= 1 - (1 + 2^-n)^2/4), and public-coin EQ is cheap")
        sent = total
        kind = "distributional, two-way, planted distribution (y = x half of the time); the receiver outputs"
        statement = (f"D^mu_eps({label}) >= log2 max(2, 1/(2eps + 2^-n)) = {real:.3f} at eps = eps+, so >= {bits} "
                     f"bits (public-coin EQ costs ceil(log2(1/eps)) + 1, so no bound can be larger)")
        source, status, theory = "rectangle counting", "derived here", "docs/theory.md §6.6"
    elif name == "disj" and distribution_name == "razborov":
        return none("the trials drew from Razborov's distribution, the one the two-way DISJ bound is proved "
                    "for, but that bound (Razborov 1992) is Omega(n) with no explicit constant here: asymptotic "
                    "only, never evaluated at a finite n (docs/theory.md §6.5, §6.11)")
    else:
        default = f"no distributional bound with explicit constants is stated for {label} under {dist}"
        why = {"eq": "public-coin EQ costs O(log 1/eps) bits, and the trial distribution is not a hard one",
               "disj": "the DISJ bounds are asymptotic only or stated for Razborov's distribution, and the "
                       "trials drew from " + dist + " (--trial-distribution singleton draws the "
                       "distribution of the one-way bound (1 - H2(eps))n)"}.get(name, default)
        return none(why)
    meets = sent >= bits
    size = size_symbol or "its message"
    article = "an" if family[:1] in "AEFHILMNORSX" else "a"  # an RNN, an FFN, a transformer
    if meets:
        implication = (f"this {family} sends {sent} bits, which the bound allows; {article} {family} with {size} "
                       f"< {bits} bits would err on more than an eps+ share of these inputs")
    else:
        implication = (f"this {family} sends only {sent} bits < {bits}, so by the bound its true error "
                       f"exceeds eps+: the sample underestimated it (chance <= {100 * (1 - confidence):.0f}%)")
    return ErrorAssessment(trials, errors, rate, upper, confidence, dist, exhaustive, True, bits, real, sent,
                           meets, kind, statement, source, status, theory,
                           f"{statement} ({status}; {source}; {theory})", implication)


def assess_transcripts(problem: Any, errors: int, trials: int, transcripts: Any, family: str,
                       layers: int = 1, distribution_name: str = "balanced") -> ErrorAssessment:
    """The assessment for a model whose protocol ran on several instances (``commlb
    sweep``): the senders of every transcript, and the largest bits sent each way (the
    bound must hold for the protocol's cost on any input).  ``family`` is the registry
    name (rnn, transformer, ffn)."""
    senders: set[str] = set()
    a2b = b2a = 0
    for tr in transcripts:
        senders |= {m.sender.name.lower() for m in tr.messages}
        a2b, b2a = max(a2b, int(tr.bits_alice_to_bob)), max(b2a, int(tr.bits_bob_to_alice))
    name = _FAMILY.get(family, "model")
    size = ("d·p" if layers == 1 else "L·d·p") if family == "rnn" else None
    return assess_errors(problem, int(errors), int(trials), senders=senders, bits_alice_to_bob=a2b,
                         bits_bob_to_alice=b2a, family=name, size_symbol=size,
                         distribution_name=distribution_name)


_FAMILY = {"rnn": "RNN", "transformer": "transformer", "ffn": "FFN"}


def assess_run(result: Any) -> ErrorAssessment | None:
    """The assessment for a finished simulation with trials (thin adapter over
    :func:`assess_errors`; None without a problem or trials)."""
    problem = getattr(result.setup, "problem", None)
    trials = getattr(result, "trials", None)
    if problem is None or trials is None:
        return None
    tr = result.transcript
    senders = {m.sender.name.lower() for m in tr.messages}
    family = {"rnn": "RNN", "transformer": "transformer", "ffn": "FFN"}.get(result.built.family, "model")
    size = None
    if result.built.family == "rnn":
        size = "d·p" if int(result.built.model.config.get("layers", 1)) == 1 else "L·d·p"
    return assess_errors(problem, int(trials.errors), int(trials.count), senders=senders,
                         bits_alice_to_bob=int(tr.bits_alice_to_bob), bits_bob_to_alice=int(tr.bits_bob_to_alice),
                         family=family, size_symbol=size,
                         distribution_name=str(getattr(trials, "distribution", "balanced")))


#: imported recurrent families (``commlb.imported``): the name the prose uses
_IMPORTED_RECURRENT = {"lstm": "LSTM", "gru": "GRU", "rnn-tanh": "RNN", "rnn-relu": "RNN"}


def assess_trained(task_name: str, task_options: dict[str, Any], n: int, wrong: int, instances: int,
                   model: dict[str, Any], confidence: float = CONFIDENCE) -> ErrorAssessment:
    """The bound at ε⁺ for a trained model measured by ``commlb evaluate``.

    The trials are the evaluated instances, drawn independently by the task's generator;
    an instance counts as an error when any scored position is wrong (positions of one
    instance are not independent; instances are, so Clopper–Pearson applies).  A bound
    applies only where the generator draws exactly a distribution a bound with explicit
    constants is stated for: index-lookup over {0, 1} writes x uniform in {0,1}^n and i
    uniform in [n], i.e. uniform INDEX_n (docs/theory.md §8.1, §6.2).  The transcript is
    the one the model gives on the reduction's split: an imported RNN/GRU/LSTM sends its
    float32 state once, Alice → Bob (L layers × d values, 2d for an LSTM, 32 bits each); a
    GPT-2 sends queries from Bob and partial sums back, so the one-way bound does not
    cover it.  ``model`` is the imported model's ``summary()``."""
    from ..registry import get_problem

    family = str(model.get("family", ""))
    layers, width = int(model.get("layers") or 1), int(model.get("width") or 0)
    upper = clopper_pearson_upper(wrong, instances, confidence)
    alphabet = int(task_options.get("alphabet", 2))
    generator = f"the {task_name} generator"
    if task_name == "index-lookup" and alphabet == 2:
        problem = get_problem("index", n=n)
        dist = (f"uniform (x uniform in {{0,1}}^{n}, i uniform in [{n}], independent: what {generator} "
                "draws, docs/theory.md §8.1)", True)
        if family in _IMPORTED_RECURRENT:
            per_layer = 2 * width if family == "lstm" else width
            sent = layers * per_layer * 32
            size = "2·L·d·32" if family == "lstm" else "L·d·32"
            return assess_errors(problem, wrong, instances, senders={"alice"}, bits_alice_to_bob=sent,
                                 bits_bob_to_alice=0, family=_IMPORTED_RECURRENT[family], size_symbol=size,
                                 confidence=confidence, distribution=dist)
        return assess_errors(problem, wrong, instances, senders={"alice", "bob"}, bits_alice_to_bob=0,
                             bits_bob_to_alice=0, family=family or "model", confidence=confidence,
                             distribution=dist)
    rate = wrong / instances if instances else 0.0
    if task_name == "khop":
        why = ("hop_k's problem is pointer chasing; its bounds for protocols that err (k-round, and "
               "SHT24's multi-party round/size trade-offs) are asymptotic only (docs/theory.md §6.9, §10.4), "
               "and commlb never evaluates an asymptotic constant at a finite n")
    elif task_name == "index-lookup":
        why = (f"index-lookup over {alphabet} symbols is INDEX over symbols, for which no bound at eps "
               "with explicit constants is stated here; the one-way bound (1 - H2(eps))n is for bits")
    else:
        why = (f"the instances come from {generator}, and commlb states a bound at eps with explicit "
               "constants only for INDEX and IP under uniform inputs, which this generator is not known "
               "to draw")
    if upper >= 0.5:
        why = f"eps+ = {upper:.4f} >= 1/2 (no bound holds for protocols that err that often); also {why}"
    return ErrorAssessment(instances, wrong, rate, upper, confidence, generator, False, False, None, None,
                           None, None, None, None, None, None, None, why, "")
