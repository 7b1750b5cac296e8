"""A classroom walk-through of one lower-bound argument (``commlb explain``).

:func:`explain` runs the whole chain on one small instance and returns five steps, each
a title, a few paragraphs of plain words and the numbers behind them:

1. **problem** — the communication problem the reduction starts from: what Alice and Bob
   hold, what they must compute, and why it needs that many bits (the rows-of-the-matrix
   / pigeonhole argument for one-way messages, the fooling-set argument for
   conversations);
2. **reduction** — how (x, y) is written as the task's tokens, who owns each token and
   what each part means, checked on this instance (the task's answer decodes to f(x, y));
3. **protocol** — the model run as a protocol *for real*: every message, what it carries,
   its bits, and the check that the protocol's answer equals the model's forward pass;
4. **inequality** — bits sent against the bound that applies to this transcript, and
   what that forces on the model's size;
5. **conclusion** — what the run shows and, as important, what it does not.

Every pair (task, model family) is one of three kinds (:attr:`Explanation.basis`):

* ``"construction"`` — commlb has weights that solve the task (a paper's construction or
  one of ours); the walk-through runs them and sets their protocol against the bound;
* ``"random"`` — no construction: the model has seeded random weights, is not a solver,
  and the walk-through says so.  What it still shows is real: the messages of a model
  depend only on its shape (sizes and precision), so when they are shorter than the bound
  *no* model of that shape solves the task; it never claims to reproduce a theorem;
* refused — no reduction, or no model of that family can read the task's tokens: a
  one-line :class:`~commlb.errors.InvalidInputError` (exit code 2 in the CLI).

For DISJ_q → qSA with a transformer the walk-through runs the one-way query-vector
protocol (:mod:`commlb.protocol.query_vector`), the protocol of SHT23 Theorem 4's
argument, rather than the cheaper two-way protocol ``simulate`` picks: only the former's
size is a function of the width.

Every number in the text is taken from the run (tests/test_explain.py recomputes each one
from an independent run).  Statuses are stated for readers: *proved in the cited paper*,
*derived here* (with the docs/theory.md section), or *conjectured*.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import ReductionSource as Source
from .errors import InvalidInputError

__all__ = ["Step", "Explanation", "Source", "explain", "explain_error", "error_bound", "ErrorBound",
           "ERROR_PROBLEMS", "PAPERS", "STATUSES", "source_sentence", "refusal", "token_labels",
           "model_summary", "FAMILY_NAMES"]

#: paper abbreviations used in the text
PAPERS = {
    "SHT23": "Sanford, Hsu & Telgarsky, Representational Strengths and Limitations of Transformers (NeurIPS 2023)",
    "BHBK24": "Bhattamishra, Hahn, Blunsom & Kanade, Separations in the Representational Capabilities of "
              "Transformers and Recurrent Architectures (NeurIPS 2024)",
    "SHT24": "Sanford, Hsu & Telgarsky, Transformers, Parallel Computation, and Logarithmic Depth (ICML 2024)",
    "PNP24": "Peng, Narayanan & Papadimitriou, On Limitations of the Transformer Architecture (COLM 2024)",
    "MH25": "Mousavi-Hosseini, Sanford, Wu & Erdogdu, When Do Transformers Outperform Feedforward and "
            "Recurrent Networks? A Statistical Perspective (2025)",
}

#: the statuses a statement can have, as printed
STATUSES = ("proved in the cited paper", "derived here", "conjectured")


def source_sentence(src: Source, checked: bool = True) -> str:
    """A reduction's source (:attr:`commlb.core.Reduction.source`) in one sentence;
    ``checked``: whether the walk-through checked an inequality (else only the paper's
    statement has a status)."""
    head = f"{src.paper} ({PAPERS.get(src.paper, src.paper)}): {src.result}."
    if not checked:
        return head + " No inequality is checked at this size, so this run does not test that statement."
    where = f", see docs/theory.md {src.section}" if src.status == "derived here" else ""
    return (head + f" Status of the inequality checked here: {src.status}{where}"
            + (f"; {src.note}" if src.note else "") + ".")


def refusal(task: str, family: str, setup: Any) -> str | None:
    """Why explain does not walk through (task, family), in one line, or None."""
    from .models.constructions import has_construction

    if setup.reduction is None:
        return (f"explain: task {task} has no reduction from a communication problem in commlb, so there "
                f"is no lower-bound argument to walk through; run it with `commlb simulate --task {task}`")
    if setup.structured_tokens and not has_construction(task, family):
        return (f"explain: no {family} model in commlb reads {task}'s real-valued tokens (only constructions "
                f"with a token encoder do, and there is no {task}/{family} construction), so there is no "
                f"protocol to run; try --model transformer")
    return None

# ---------------------------------------------------------------------------------
# Plain-words descriptions of the problems
# ---------------------------------------------------------------------------------
_PROBLEMS: dict[str, dict[str, str]] = {
    "disj": {
        "name": "set disjointness DISJ_{n}",
        "alice": "a set A of numbers from 1 to {n}, written as {n} bits a_1 … a_{n} (a_i = 1 means i is in A)",
        "bob": "a set B of numbers from 1 to {n}, written the same way as b_1 … b_{n}",
        "goal": "whether the two sets are disjoint: the answer is 1 if no i has a_i = b_i = 1, and 0 otherwise",
        "one_way": (
            "Suppose Alice may send one message and Bob must then answer. Picture a table with one row for "
            "each of Alice's 2^{n} possible sets and one column for each of Bob's. Two different rows always "
            "differ somewhere: if A contains some i that A' does not, Bob holding B = {{i}} must answer 0 for "
            "A and 1 for A'. So if two different sets of Alice's produced the same message, Bob would answer "
            "the same for both and be wrong on one of them. Alice therefore needs 2^{n} different messages, "
            "and 2^{n} different bit strings need at least {n} bits (pigeonhole)."
        ),
        "two_way": (
            "Even a back-and-forth conversation needs {n} + 1 bits. Look at the 2^{n} inputs where Bob's set "
            "is exactly the complement of Alice's: all of them are disjoint. If two of them, (A, not-A) and "
            "(A', not-A'), led to the same conversation, then Alice holding A and Bob holding not-A' would "
            "also have that same conversation — each of them says exactly what they said before, because "
            "each sees the same messages — and would answer 'disjoint'. But A ≠ A' means A meets not-A' or "
            "A' meets not-A, so one of these mixed inputs is not disjoint: a wrong answer. So those 2^{n} "
            "inputs need 2^{n} different conversations, plus at least one more that ends in 'not "
            "disjoint': 2^{n} + 1 conversations need at least {n} + 1 bits (a fooling set)."
        ),
    },
    "eq": {
        "name": "equality EQ_{n}",
        "alice": "a string a of {n} bits",
        "bob": "a string b of {n} bits",
        "goal": "whether a = b (answer 1) or not (answer 0)",
        "one_way": (
            "Suppose Alice sends one message and Bob answers. In the table with one row per string of "
            "Alice's and one column per string of Bob's, every row is different (row a has its single 1 in "
            "column a). If two different strings of Alice's produced the same message, Bob holding one of "
            "them would answer the same for both — wrong for one. So Alice needs 2^{n} different messages: "
            "at least {n} bits (pigeonhole)."
        ),
        "two_way": (
            "A conversation needs {n} + 1 bits. The 2^{n} inputs (a, a) all have answer 1. If (a, a) and "
            "(a', a') with a ≠ a' had the same conversation, then (a, a') would have it too (each party sees "
            "the same messages as before) and would also be answered 1 — wrong. So 2^{n} conversations end in "
            "'equal', at least one more ends in 'different': {n} + 1 bits (a fooling set). (With shared "
            "random coins equality becomes cheap; this is a deterministic bound.)"
        ),
    },
    "index": {
        "name": "indexing INDEX_{n}",
        "alice": "a string x of {n} bits",
        "bob": "a position i between 0 and {n} − 1 (positions are counted from 0)",
        "goal": "the bit x_i",
        "one_way": (
            "If only Alice may speak, she must send {n} bits. Picture a table with one row for each of "
            "Alice's 2^{n} strings and one column for each position i; the entry is x_i. Row x is the string "
            "x itself, so all 2^{n} rows are different. If two different strings got the same message, Bob "
            "would give the same answer for both — but they differ at some position i, and for that i he is "
            "wrong on one of them. So Alice needs 2^{n} different messages, which takes {n} bits "
            "(pigeonhole). Note the direction: if Bob could talk first he would send i (about log2 {n} bits) "
            "and Alice would reply with one bit. A model that reads Alice's part first, like an RNN, has no "
            "such luck."
        ),
        "two_way": (
            "With a conversation it is cheap: Bob sends i ({logn} bits) and Alice answers x_i (1 bit), and "
            "no protocol does better than about log2 {n} + 1 bits because Bob's {n} possible positions "
            "must be told apart. The interesting bound is the one-way one: when only Alice talks, she needs "
            "{n} bits."
        ),
    },
    "pc": {
        "name": "pointer chasing",
        "alice": "the odd steps of a chain of pointers (a function on the vertices)",
        "bob": "the even steps",
        "goal": "where the chain ends after k steps, starting from a known vertex",
        "one_way": (
            "Each step needs the holder of that step's function to speak. With fewer rounds than steps, "
            "some party must describe a large part of its function ahead of time, which costs bits "
            "proportional to the number of vertices (Nisan–Wigderson; SHT24 App. E for the multi-party form)."
        ),
        "two_way": (
            "With k rounds, the right party starting, k·log2(#vertices) bits suffice; with fewer rounds the "
            "cost jumps to roughly the number of vertices. A model that finishes in fewer rounds (an RNN "
            "with few layers, a shallow transformer) must therefore be wide."
        ),
    },
}

# What each part of a reduction's token sequence means
_PARTS: dict[str, list[str]] = {
    "disj-to-disjointness": [
        "a_1 … a_n — Alice's bits, one token each",
        "'#' — a fixed separator (public: the same for every input)",
        "b_1 … b_n — Bob's bits",
        "'=' — a fixed end token (public); the model's answer is read here",
    ],
    "eq-to-equality": [
        "a_1 … a_n — Alice's string, one token per bit",
        "'#' — a fixed separator (public)",
        "b_1 … b_n — Bob's string",
        "'=' — a fixed end token (public); the model's answer is read here",
    ],
    "index-to-index-lookup": [
        "x_1 … x_n — Alice's bits, used as the symbols to look up",
        "'?' — a fixed token (public) announcing the query",
        "@i — Bob's token naming the position i; the answer x_i is read here",
    ],
    "index-to-qsa": [
        "tokens 1 … n — Alice's data: token j carries the value z_j = x_j and the fixed pointer {j}",
        "the last token — Bob's query: its pointer set is {i}, so the average it asks for is z_i = x_i",
    ],
    "disj-to-qsa": [
        "2q data tokens in q pairs — Bob's: in pair i, the second slot holds +1 if b_i = 1 and −1 "
        "otherwise; the first slot always holds −1",
        "the last token — Alice's query: its pointer set picks one slot of each pair, the second one "
        "when a_i = 1",
        "qSA at the last token is the average of the q picked values: exactly −1 when no i has "
        "a_i = b_i = 1, at least −1 + 2/q otherwise",
    ],
    "disj-to-dyck": [
        "4 tokens per coordinate, owned Alice, Bob, Bob, Alice: Alice writes '( … )' for a_i = 0 and "
        "'[ … ]' for a_i = 1; Bob writes '()' in the middle for b_i = 0 and ')(' for b_i = 1",
        "only '[)(]' (a_i = b_i = 1) breaks the brackets, so the string is well formed iff the sets are "
        "disjoint",
        "a fixed '()' at the end (public), where the answer is read",
    ],
    "eq-to-dyck": [
        "2 tokens per coordinate: Alice opens with '(' or '[' (a_i = 0 or 1), Bob closes with ')' or ']'",
        "the string is well formed iff every pair matches, i.e. iff a = b",
        "a fixed '()' at the end (public), where the answer is read",
    ],
}

_FAMILY_PROTOCOL = {
    "rnn": (
        "An RNN reads the tokens left to right and keeps a memory: its hidden state, {layers} × {width} "
        "numbers of {p} bits. Alice runs it over her tokens (and the public ones). When the next token is "
        "Bob's, the only way Bob can continue the computation is to get the memory itself, so the state "
        "crosses whole: {layers}·{width}·{p} = {per_message} bits per hand-over. The party holding the last "
        "token reads the answer."
    ),
    "transformer": (
        "A transformer layer mixes tokens only through attention: the output at a position is a weighted "
        "average over all positions, and a weighted average is a sum. So each party can add up its own "
        "positions' contributions (a numerator vector and a denominator, kept exactly) and send just "
        "these partial sums; the receiver adds its own part and divides. When the position that asks "
        "(the query) is public, the answerer does not even need to hear the query."
    ),
    "ffn": (
        "A feedforward net's first layer is a weighted sum over the whole flattened input, so Alice can "
        "compute her part of every first-layer neuron and send those partial sums; Bob adds his part and "
        "finishes the network."
    ),
}

_QUERY_VECTOR_PROTOCOL = (
    "The protocol run here is the one of SHT23's Theorem 4 argument. Alice's only token is the query "
    "position, where the answer is read; Bob holds every data token. Alice sends one message: the query "
    "vector of her position (H·d_k numbers of p bits), her share of the attention sums (her own position "
    "is one of the keys) and the residual row of her position (m numbers of p bits, which the residual "
    "connection adds to the attention output). Bob computes the attention over his tokens with that "
    "query, adds Alice's share, finishes the layer and outputs. Its size depends only on the shape of the "
    "model, which is why it bounds the width."
)


@dataclass(frozen=True)
class Step:
    """One panel of the walk-through: ``key`` (problem, reduction, protocol, inequality,
    conclusion), a title, paragraphs of plain text, and the numbers behind them."""

    key: str
    title: str
    paragraphs: list[str]
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "paragraphs": self.paragraphs, "data": self.data}


@dataclass
class Explanation:
    """The walk-through.  ``basis`` is ``"construction"`` (weights that solve the task),
    ``"random"`` (seeded random weights: not a solver) or ``"file"``; ``protocol`` names
    the protocol run (``"simulate"`` or ``"query-vector"``)."""

    task: str
    model: str
    n: int
    reduction: str
    problem: str
    steps: list[Step]
    simulation: dict[str, Any]
    tokens: Any = None
    owner: Any = None
    vocab_names: list[str] | None = None
    basis: str = "construction"
    protocol: str = "simulate"

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(key)

    def text(self) -> str:
        """All paragraphs, as plain text (what the panels say)."""
        return "\n\n".join(f"{s.title}\n" + "\n".join(s.paragraphs) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "n": self.n,
            "reduction": self.reduction,
            "problem": self.problem,
            "basis": self.basis,
            "protocol": self.protocol,
            "steps": [s.to_json() for s in self.steps],
            "instance": {"tokens": _jsonable(self.tokens), "owner": _jsonable(self.owner),
                         "token_names": token_labels(self.tokens, self.vocab_names)},
            "simulation": _jsonable(self.simulation),
        }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.names:
            return [{n: _jsonable(row[n]) for n in obj.dtype.names} for row in obj]
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_json"):
        return _jsonable(obj.to_json())
    return obj


def token_labels(tokens: Any, names: list[str] | None) -> list[str]:
    """A short printable label per token (structured qSA tokens as z/y)."""
    if tokens is None:
        return []
    arr = np.asarray(tokens)
    out: list[str] = []
    if arr.dtype.names:
        for row in arr:
            parts = []
            if "z" in arr.dtype.names:
                z = np.atleast_1d(row["z"])
                parts.append("z=" + ",".join(f"{v:+g}" if v else "0" for v in z))
            if "y" in arr.dtype.names:
                y = np.atleast_1d(row["y"])
                parts.append("y={" + ",".join(str(int(v)) for v in y) + "}")
            out.append(" ".join(parts) or "·")
        return out
    for tok in arr.reshape(-1):
        t = int(tok)
        out.append(names[t] if names is not None and 0 <= t < len(names) else str(t))
    return out


def fmt_bits(value: Any) -> str:
    """A bit count as printed: an integer, or two decimals."""
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.2f}"


def explain(task: str, model: str, n: int | None = None, *, seed: int = 0,
            task_options: dict[str, Any] | None = None, model_options: dict[str, Any] | None = None,
            error: Any = None) -> Explanation:
    """The five-step walk-through of ``task`` with a ``model`` family at a small ``n``
    (default: the reduction's example size).  Raises :class:`InvalidInputError` (one line)
    for a pair it refuses: a task without a reduction, or a family that cannot read the
    task's tokens.  With ``error`` (ε, e.g. ``"0.01"``) a sixth step states the bound
    that a model right on a 1 − ε share of uniform inputs still obeys (problems with one:
    :data:`ERROR_PROBLEMS`)."""
    from .models.base import MODEL_FAMILIES
    from .models.build import model_tokens
    from .registry import reduction_factory
    from .setup import TASK_DEFAULTS, resolve_task
    from .simulate import simulate_instance

    family = str(model).lower()
    options = dict(task_options or {})
    if n is None and task in TASK_DEFAULTS and TASK_DEFAULTS[task].reduction and "q" not in options:
        # a classroom-sized instance: the reduction's own example size
        red_name = str(options.get("reduction") or TASK_DEFAULTS[task].reduction)
        n = int(getattr(reduction_factory(red_name), "example_params", {}).get("n", 6))
    setup = resolve_task(task, n=n, **options)
    task_name = setup.task_name or setup.task.name
    if family not in MODEL_FAMILIES:
        raise InvalidInputError(f"unknown model family {family!r}; choose one of {', '.join(MODEL_FAMILIES)}")
    why_not = refusal(task_name, family, setup)
    if why_not:
        raise InvalidInputError(why_not)
    reduction, problem = setup.reduction, setup.problem
    assert reduction is not None and problem is not None  # refusal() refused tasks without one
    eps = None
    if error is not None:
        eps = parse_error(error)
        if problem.name not in ERROR_PROBLEMS:
            raise InvalidInputError(f"explain --error: no error-tolerant bound for {problem.name} (the "
                                    f"reduction's problem) in explain; available: {', '.join(ERROR_PROBLEMS)}")
    built = _build(setup, family, seed, dict(model_options or {}))
    result = simulate_instance(setup, built, seed=seed, effective=False)
    transcript = result.transcript
    protocol = "simulate"
    standard_bits = None
    if reduction.name == "disj-to-qsa" and family == "transformer":
        from .protocol.query_vector import query_vector_applies, simulate_query_vector

        if query_vector_applies(built.model, result.split) is None:
            ids = model_tokens(task_name, built.model, result.instance.tokens)
            qv, out = simulate_query_vector(built.model, ids, result.split)
            if reduction.decode(out.decision) != reduction.decode(result.model_output.decision):
                raise AssertionError("the query-vector protocol and simulate disagree")
            standard_bits = transcript.total_bits
            transcript, protocol = qv, "query-vector"
    data = _run_data(setup, built, result, transcript)
    data["protocol"] = protocol
    data["standard_protocol_bits"] = standard_bits
    tokens = result.instance.tokens
    owner = result.split.owner
    names = reduction.task.vocab_names()  # None for a task without printable names
    basis = built.source
    steps = [
        _step_problem(problem, data, family),
        _step_reduction(reduction, data, tokens, owner, names),
        _step_protocol(family, built, data),
        _step_inequality(family, built, data, problem),
        _step_conclusion(reduction, family, built, data, task_name),
    ]
    if eps is not None:
        steps.append(_step_error(error_bound(problem.name, int(problem.n), eps), data, built))
    return Explanation(task=task_name, model=family, n=int(setup.n), reduction=reduction.name,
                       problem=problem.name, steps=steps, simulation=data, tokens=tokens, owner=owner,
                       vocab_names=names, basis=basis, protocol=protocol)


def _build(setup: Any, family: str, seed: int, options: dict[str, Any]) -> Any:
    """The model: the construction, or random weights when there is none or when it does
    not come in the sizes asked for (``weights``: ``"construction"`` or ``"random"`` to
    insist)."""
    from .witness import witness_model

    weights = options.pop("weights", None)
    if weights not in (None, "construction", "random"):
        raise InvalidInputError(f"explain --weights must be construction or random, got {weights!r}")
    built, _ = witness_model(setup, family, weights=weights, seed=seed, **options)
    return built


def _run_data(setup: Any, built: Any, result: Any, transcript: Any) -> dict[str, Any]:
    """The numbers of the run the text is written from (the transcript actually walked
    through, which for the query-vector protocol is not ``result.transcript``)."""
    from .bounds.applicable import lower_bounds_for

    entries = lower_bounds_for(setup.problem, {m.sender for m in transcript.messages}, transcript.rounds)
    applicable = [e for e in entries if e.applies and e.compare_bits is not None]
    best = max(applicable, key=lambda e: float(e.compare_bits or 0)) if applicable else None
    base = result.to_json()
    return {
        "task": base.get("task"), "model": base.get("model"), "reduction": base.get("reduction"),
        "problem": base.get("problem"), "n": base.get("n"), "seed": base.get("seed"),
        "params": built.model.num_params(), "precision": built.precision.bits,
        "x": _jsonable(result.x), "y": _jsonable(result.y),
        "messages": [_message_json(m) for m in transcript.messages],
        "total_bits": transcript.total_bits, "rounds": transcript.rounds,
        "bits_alice_to_bob": transcript.bits_alice_to_bob, "bits_bob_to_alice": transcript.bits_bob_to_alice,
        "output": base.get("output"), "expected": base.get("expected"), "correct": base.get("correct"),
        "protocol_matches_forward": bool(transcript.meta.get("protocol_matches_forward", False)),
        "lower_bound": None if best is None else best.to_json(),
        "lower_bounds": [e.to_json() for e in entries],
        "shape_bits": _shape_bits(built, result, transcript),
    }


def _shape_bits(built: Any, result: Any, transcript: Any) -> int:
    """Bits that every model of this shape sends on this split: the transcript itself for
    RNNs and transformers (message sizes are functions of the shape), the uniform
    accumulator bound for FFNs (whose exact widths follow the weights' range)."""
    if built.family == "ffn":
        return int(transcript.meta.get("uniform_bound_bits", transcript.total_bits))
    return int(transcript.total_bits)


def _message_json(m: Any) -> dict[str, Any]:
    return {"round": m.round, "sender": m.sender.name.lower(), "receiver": m.receiver.name.lower(),
            "label": m.label, "bits": m.bits, "note": m.note,
            "fields": [{"name": f.name, "kind": f.kind, "shape": list(f.shape), "width": f.width,
                        "count": f.count} for f in m.fields]}


# ---------------------------------------------------------------------------------
# The five steps
# ---------------------------------------------------------------------------------
def _lower(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data.get("lower_bound") or {})


def _kind(kind: Any) -> str:
    """The bound's kind as printed: ``one-way A->B`` → ``one-way, Alice → Bob``."""
    text = str(kind or "")
    return text.replace("A->B", "Alice → Bob").replace("B->A", "Bob → Alice").replace("->", "→")


FAMILY_NAMES = {"rnn": "RNN", "transformer": "transformer", "ffn": "feedforward net"}


def _is_one_way(kind: str | None) -> bool:
    return bool(kind) and "one-way" in str(kind)


def _step_problem(problem: Any, data: dict[str, Any], family: str) -> Step:
    n = int(problem.n)
    lb = _lower(data)
    kind = lb.get("kind")
    texts = _PROBLEMS.get(problem.name)
    fmt = {"n": n, "logn": max(1, math.ceil(math.log2(max(n, 2))))}
    paras: list[str] = []
    if texts:
        paras.append(f"The communication problem is {texts['name'].format(**fmt)}. "
                     f"Alice holds {texts['alice'].format(**fmt)}. Bob holds {texts['bob'].format(**fmt)}. "
                     f"Neither sees the other's input. Together they must find {texts['goal'].format(**fmt)}, "
                     "and we count every bit they send each other.")
        order = ("one_way", "two_way") if _is_one_way(kind) or not lb else ("two_way", "one_way")
        paras.append("Why it costs bits: " + texts[order[0]].format(**fmt))
    else:
        paras.append(f"The communication problem is {problem.name} (n = {n}): "
                     f"{getattr(problem, 'description', '')}. Alice holds x, Bob holds y, and they must "
                     "compute f(x, y) by sending bits.")
    if lb:
        paras.append(f"The bound used below: {fmt_bits(lb['compare_bits'])} bits ({_kind(kind)}; "
                     f"{lb.get('citation', '')}).")
        if "two-way" in str(kind):
            paras.append("(The classic count includes one last bit announcing the answer to both parties; in "
                         "the protocols below the party that receives the last message simply knows the answer, "
                         f"so they are held to one bit less: {fmt_bits(lb['compare_bits'])}.)")
    else:
        known = "; ".join(f"{b.formula} ({getattr(b.kind, 'value', b.kind)}; {b.citation})" for b in problem.bounds())
        paras.append("Known bounds: " + (known or "none recorded") + ".")
    return Step("problem", "1. The communication problem", paras,
                {"problem": problem.name, "n": n, "lower_bound": lb or None})


def _step_reduction(reduction: Any, data: dict[str, Any], tokens: Any, owner: Any,
                    names: list[str] | None) -> Step:
    paras = [f"The reduction {reduction.name} writes Alice's and Bob's inputs as one input sequence for "
             f"the task {reduction.task.name}: {_quote_tokens(reduction.description)}. Every token is known to Alice, "
             "to Bob, or to both (public: the same for every input)."]
    parts = _PARTS.get(reduction.name)
    if parts:
        paras.append("What the parts mean: " + "; ".join(parts) + ".")
    counts = {}
    if owner is not None:
        own = np.asarray(owner)
        counts = {"alice": int(np.sum(own == 0)), "bob": int(np.sum(own == 1)), "public": int(np.sum(own == 2))}
        paras.append(f"On this instance: {len(own)} tokens, {counts['alice']} Alice's, {counts['bob']} "
                     f"Bob's, {counts['public']} public.")
    x, y = data.get("x"), data.get("y")
    expected = data.get("expected")
    if x is not None and y is not None:
        paras.append(f"Alice's input x = {_short(x)}, Bob's input y = {_short(y)}; "
                     f"f(x, y) = {expected}.")
    paras.append("If a model solves the task, it solves the communication problem too: its answer on "
                 "this sequence decodes to f(x, y). So whatever the model needs to move between "
                 "Alice's tokens and Bob's, the problem's bound applies to it.")
    return Step("reduction", "2. The reduction: the problem written as a sequence", paras,
                {"reduction": reduction.name, "task": reduction.task.name, "counts": counts,
                 "x": x, "y": y, "expected": expected})


def _short(value: Any, limit: int = 24) -> str:
    arr = np.asarray(value).reshape(-1)
    text = "".join(str(int(v)) for v in arr[:limit]) if arr.size > 1 else str(int(arr[0]))
    return text + ("…" if arr.size > limit else "")


def _size_fmt(built: Any) -> dict[str, Any]:
    model = built.model
    cfg = getattr(model, "config", {}) or {}
    family = built.family
    if family == "transformer":
        layers, width = int(model.layers), int(model.width)
    elif family == "rnn":
        layers, width = int(cfg.get("layers", 1)), int(cfg.get("hidden", cfg.get("hidden_size", 0)))
    else:
        layers, width = len(cfg.get("hidden_sizes") or [model.first_width]), int(model.first_width)
    return {"layers": layers, "width": width, "p": int(model.precision.bits),
            "heads": cfg.get("heads"), "params": int(model.num_params())}


_MESSAGE_MEANING = {
    "state": "the RNN's whole memory after reading the sender's tokens (every layer's hidden state)",
    "query-token": "the id of the sender's token at the asking position, cheaper than the query vector: "
                   "the receiver rebuilds the query from the public weights",
    "query": "the query vector of the asking position: what it is looking for",
    "query-vector": "the query vector of Alice's position, her share of the attention sums, and her "
                    "position's residual row",
    "partial-sums": "the sender's share of the attention average: the exact numerator vector and "
                    "denominator summed over the sender's own positions",
    "keys-values": "the keys and values of the sender's positions",
    "pre-activations": "the sender's part of every first-layer neuron's weighted sum",
}


def _meaning(label: str) -> str:
    head = label.split("@", 1)[0].split(" ", 1)[0]
    return _MESSAGE_MEANING.get(head, label)


#: messages listed one by one in the protocol step (the rest are summed up in one line)
MESSAGES_SHOWN = 6


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def model_summary(built: Any) -> str:
    """"a 1-layer, 1-head transformer of width 39 (3942 parameters, fixed point p = 12 bits)"."""
    size = _size_fmt(built)
    prec = built.model.precision
    arith = "fixed point" if prec.is_fixed else "floating point"
    family = built.family
    if family == "transformer":
        shape = f"a {size['layers']}-layer, {size['heads']}-head transformer of width {size['width']}"
    elif family == "rnn":
        shape = f"an RNN with {_plural(size['layers'], 'layer')} of hidden size {size['width']}"
    else:
        shape = (f"a feedforward net with 1 hidden layer of width {size['width']}" if size["layers"] == 1 else
                 f"a feedforward net with {size['layers']} hidden layers, the first of width {size['width']}")
    return f"{shape} ({size['params']} parameters, {arith} p = {prec.bits} bits)"


_PROVENANCE = re.compile(r"THEORY\.md|DESIGN\.md|\[[A-Z0-9/-]+\]")


def _construction_name(note: str) -> str:
    """The construction's name without internal provenance: parenthetical parts citing
    internal notes or carrying status tags are dropped."""
    text = note.replace("construction: ", "", 1)

    def clean(match: re.Match[str]) -> str:
        parts = [p.strip() for p in re.split(r"[;,]", match.group(1))]
        kept = [p for p in parts if p and not _PROVENANCE.search(p) and not p.startswith("§")]
        return f" ({', '.join(kept)})" if kept else ""

    text = re.sub(r"\s+\(([^()]*)\)", clean, text)  # "Dyck-(2,2)" is a name, not a parenthesis
    return _PROVENANCE.sub("", text).strip()


def _step_protocol(family: str, built: Any, data: dict[str, Any]) -> Step:
    size = _size_fmt(built)
    msgs = list(data.get("messages") or [])
    per_message = msgs[0]["bits"] if msgs else 0
    if built.source == "construction":
        source = "weights from a construction: " + _construction_name(str(built.note))
    elif built.source == "random":
        from .models.constructions import has_construction

        why = ("the construction cannot be built with the sizes or arithmetic asked for"
               if has_construction(data["task"], family) else "no construction for this task and family")
        source = f"RANDOM weights (seed {data.get('seed')}): {why}"
    else:
        source = str(built.note)
    paras = [f"The model: {model_summary(built)}, {source}."]
    if built.source == "random":
        paras.append("A random model is not a solver. It still runs as a protocol, and the size of its "
                     "messages is what any model of this shape would send.")
    if data.get("protocol") == "query-vector":
        paras.append(_QUERY_VECTOR_PROTOCOL)
        paras.append(f"(`commlb simulate` runs a cheaper two-way protocol on this instance: Alice sends her "
                     f"token's id and Bob answers with his partial sums, {data['standard_protocol_bits']} bits "
                     "in all. It is correct too, but its size does not depend on the width, so it says "
                     "nothing about m.)")
    else:
        tmpl = _FAMILY_PROTOCOL.get(family)
        if tmpl:
            paras.append(tmpl.format(per_message=per_message, **size))
    paras.append(f"Running it for real on this instance: {_plural(len(msgs), 'message')} in "
                 f"{_plural(int(data.get('rounds') or 0), 'round')}, {data.get('total_bits')} bits in total "
                 f"({data.get('bits_alice_to_bob')} from Alice to Bob, {data.get('bits_bob_to_alice')} "
                 "from Bob to Alice).")
    explained: set[str] = set()
    hidden = range(MESSAGES_SHOWN, len(msgs)) if len(msgs) > MESSAGES_SHOWN + 1 else range(0)
    for k, m in enumerate(msgs, 1):
        if k - 1 in hidden:
            if k - 1 == hidden.start:
                rest = msgs[hidden.start:hidden.stop]
                labels = sorted({r["label"].split("@")[0].split(" ")[0] for r in rest})
                paras.append(f"Messages {hidden.start + 1}–{hidden.stop}: {len(rest)} more "
                             f"({', '.join(labels)}), {sum(int(r['bits']) for r in rest)} bits in all.")
            continue
        fields = ", ".join(_field_text(f) for f in m.get("fields", []))
        meaning = _meaning(m["label"])
        what = "" if meaning in explained else f" — {meaning}"
        explained.add(meaning)
        paras.append(f"Message {k} (round {m['round']}), {m['sender'].capitalize()} → "
                     f"{m['receiver'].capitalize()}: {m['label']}{what}. "
                     f"It holds {fields}: {m['bits']} bits.")
    agree = data.get("protocol_matches_forward")
    output, expected = data.get("output"), data.get("expected")
    if output is None:
        verdict = f"The protocol's answer does not decode to an answer of the problem (the true answer is {expected})"
    else:
        verdict = f"The protocol's answer is {output} and the true answer f(x, y) is {expected}"
    paras.append(verdict + f" ({'correct' if data.get('correct') else 'wrong'}). The answer "
                 + ("equals the model's own forward pass on the whole sequence, bit for bit: the "
                    "conversation really computed what the model computes." if agree else
                    "does NOT equal the forward pass (a bug in the simulator)."))
    return Step("protocol", "3. The model run as a protocol", paras,
                {"model": model_summary(built), "source": built.source,
                 "messages": msgs, "total_bits": data.get("total_bits"), "rounds": data.get("rounds"),
                 "bits_alice_to_bob": data.get("bits_alice_to_bob"),
                 "bits_bob_to_alice": data.get("bits_bob_to_alice"),
                 "output": output, "expected": expected,
                 "correct": data.get("correct"), "protocol_matches_forward": agree})


def _field_text(f: dict[str, Any]) -> str:
    shape = list(f.get("shape") or [])
    count = int(f.get("count", int(np.prod(shape)) if shape else 1))
    if count == 1:
        return f"{f.get('name')} (one {f.get('width')}-bit number)"
    return f"{f.get('name')} ({count} numbers of {f.get('width')} bits)"


def _step_inequality(family: str, built: Any, data: dict[str, Any], problem: Any) -> Step:
    lb = _lower(data)
    total = int(data["total_bits"])
    rounds = int(data.get("rounds") or 0)
    size = _size_fmt(built)
    msgs = list(data.get("messages") or [])
    random = built.source == "random"
    paras: list[str] = [f"The protocol sent {total} bits in {_plural(rounds, 'round')}."]
    step_data: dict[str, Any] = {"total_bits": total, "lower_bound": None, "lower_bound_kind": None,
                                 "holds": None, "rounds": rounds, "size": size,
                                 "shape_bits": data.get("shape_bits")}
    if not lb:
        entries = [e for e in (data.get("lower_bounds") or []) if e.get("compare_bits") is not None]
        if entries:
            paras.append("No bound recorded for " + str(data.get("problem")) + " applies to this transcript: "
                         + "; ".join(f"the {_kind(e['kind'])} bound of {fmt_bits(e['compare_bits'])} bits "
                                     f"does not ({e['why']})" for e in entries)
                         + ". So there is no inequality to check on this split.")
        else:
            paras.append(f"The known bounds for {data.get('problem')} (step 1) are asymptotic or limit the number "
                         "of rounds: none is an exact number of bits to set against this transcript at this size, "
                         "so no inequality is checked here.")
        return Step("inequality", "4. The inequality: bits sent ≥ bound", paras, step_data)
    bound = float(lb["compare_bits"])
    b = fmt_bits(bound)
    holds = total >= bound
    step_data.update(lower_bound=lb["compare_bits"], lower_bound_kind=lb.get("kind"), holds=holds)
    why = lb.get("why") if _is_one_way(lb.get("kind")) else None
    paras.append(f"The bound that applies to it: {b} bits ({_kind(lb.get('kind'))}" + (f": {why}" if why else "")
                 + ").")
    if holds and data.get("correct") and not random:
        paras.append(f"{total} ≥ {b}, as it must be for a model that solves the task.")
    elif holds:
        paras.append(f"{total} ≥ {b}: the inequality holds.")
    else:
        paras.append(f"{total} < {b}: fewer bits than the problem needs, so a model whose protocol sends these "
                     "messages answers some input wrongly.")
    for e in data.get("lower_bounds") or []:
        if e.get("applies") or e.get("compare_bits") is None or float(e["compare_bits"]) <= bound:
            continue
        who, other = ("Alice", "Bob") if "A->B" in str(e.get("kind")) else ("Bob", "Alice")
        paras.append(f"The larger one-way bound ({fmt_bits(e['compare_bits'])} bits, for protocols in which only "
                     f"{who} talks) does not apply: here {other} talked too. Being allowed to talk both ways is "
                     "what makes this protocol cheap.")
    consequence = _consequence(family, built, data, problem, bound, msgs, size)
    if consequence:
        paras.append(consequence)
    shape = int(data.get("shape_bits") or total)
    if family == "ffn":
        paras.append(f"Every feedforward net of this shape sends at most {shape} bits on this split (one "
                     f"accumulator per first-layer neuron, at the width that any {size['p']}-bit weights can "
                     f"fill); this one's exact sums needed {total}.")
    else:
        paras.append(f"These message sizes depend only on the model's shape (its sizes and p = {size['p']}), not "
                     f"on its weights: every {FAMILY_NAMES[family]} of this shape sends {shape} bits on this split.")
    if shape < bound:
        paras.append(f"Since {shape} < {b}, no {FAMILY_NAMES[family]} of this shape answers every input of the "
                     "task correctly, whatever its weights.")
    return Step("inequality", "4. The inequality: bits sent ≥ bound", paras, step_data)


def _consequence(family: str, built: Any, data: dict[str, Any], problem: Any, bound: float,
                 msgs: list[dict[str, Any]], size: dict[str, Any]) -> str:
    """What bits ≥ bound forces on the model's size, in the bits actually sent."""
    b = fmt_bits(bound)
    p, L = int(size["p"]), int(size["layers"])
    if family == "rnn":
        d = int(size["width"])
        if len(msgs) > 1:
            return (f"For an RNN each message is its state, L·d·p = {L}·{d}·{p} bits, and here the tokens "
                    f"alternate between Alice and Bob, so the state crossed {len(msgs)} times: "
                    f"{len(msgs)}·{L}·{d}·{p} = {data['total_bits']} ≥ {b}. The number of hand-overs grows "
                    "with n, so a constant-size state passes this test: lower bounds for RNNs need a split "
                    "with a single cut (all of Alice's tokens before Bob's), where the state crosses once.")
        need_d = math.ceil(bound / (L * p))
        return (f"For an RNN the message is its state, L·d·p = {L}·d·{p} bits, so a correct RNN needs "
                f"{L}·d·{p} ≥ {b}: a hidden size d ≥ ⌈{b}/{L * p}⌉ = {need_d} at n = {problem.n} with p = {p} "
                f"(this model has d = {d}). The bound grows linearly with n while p stays about log n, so d "
                "must grow like n / log n.")
    if family == "transformer":
        model = built.model
        H, dk, dv, m = int(model.heads), int(model.key_dim), int(model.value_dim), int(model.width)
        if data.get("protocol") == "query-vector":
            fields = {f["name"]: f for f in msgs[0]["fields"]}
            self_bits = sum(int(f["count"]) * int(f["width"]) for k, f in fields.items()
                            if k not in ("query", "residual"))
            return (f"The message is H·d_k·p + m·p + (Alice's share) = {H}·{dk}·{p} + {m}·{p} + {self_bits} = "
                    f"{data['total_bits']} bits, and its size is fixed by the shape. A one-layer, one-head "
                    "model that solves qSA therefore has (d_k + m)·p + (Alice's share) ≥ D→(DISJ_q) = q: with "
                    "the share of O(p) bits, the width grows linearly with q. This is SHT23's Theorem 4 in "
                    "the bits actually sent.")
        if L == 1 and len(msgs) == 1 and msgs[0]["label"].startswith("partial-sums"):
            fields = {f["name"]: f for f in msgs[0]["fields"]}
            sender = msgs[0]["sender"].capitalize()
            pronoun = "her" if sender == "Alice" else "his"
            if "top" in fields:
                form = (f"H·(p + w_count + d_v·w_sum) = {H}·({fields['top']['width']} + "
                        f"{fields['count']['width']} + {dv}·{fields['num']['width']})")
            elif fields.get("num", {}).get("kind") == "float":
                form = f"H·(d_v + 1)·p = {H}·({dv} + 1)·{p}"
            else:
                form = f"H·(d_v·w_num + w_den) = {H}·({dv}·{fields['num']['width']} + {fields['den']['width']})"
            return (f"The query position is public, so this one-layer transformer's protocol is one-way: "
                    f"{sender} sends only {pronoun} partial sums, {form} = {data['total_bits']} bits, and the "
                    f"receiver outputs. The sums cross as exact accumulators, wider than p = {p} (the w above are "
                    f"their widths as sent); the papers write H·(d + 1)·p, with p-bit rounded sums. So a correct "
                    f"one-layer model needs H·(d_v + 1)·p_acc ≥ D→ = {b} bits, with p_acc the widths as sent: "
                    "when D→ grows linearly with n, so must the model (docs/theory.md §3.4).")
        if L == 1:
            return (f"This one-layer transformer's protocol is interactive ({_plural(len(msgs), 'message')}), "
                    f"so the one-way bound does not constrain it; the bound that applies, {b} bits, is small, "
                    "and a small model passes it.")
        return (f"This transformer has {L} layers, and each layer adds rounds in which positions may need the "
                "other side's partial sums: the one-layer argument, which needs a one-way protocol, no longer "
                "forces a large size.")
    if family == "ffn":
        return (f"For a feedforward net the message is one partial sum per first-layer neuron, so first-layer "
                f"width × bits per sum ≥ {b}: with this net's {size['width']} neurons of "
                f"{max(int(f['width']) for f in msgs[0]['fields'])} bits, {data['total_bits']} ≥ {b}."
                if msgs else "")
    return ""


#: (reduction, family) -> what the argument says about that family, in plain words (constructions)
_PUNCHLINES: dict[tuple[str, str], str] = {
    ("index-to-index-lookup", "rnn"): (
        "An RNN that does index lookup must carry all n symbols in its state: at least n bits, linear in n. "
        "A one-layer transformer needs only O(log n) width (try --model transformer): a separation."),
    ("index-to-index-lookup", "transformer"): (
        "The transformer escapes the n-bit one-way bound because attention lets the query go first: Bob's "
        "index crosses, and Alice answers with a few O(log n)-bit sums. Width O(log n) suffices, while an "
        "RNN needs a state of n bits (try --model rnn)."),
    ("disj-to-disjointness", "rnn"): (
        "An RNN deciding disjointness must pass at least n bits through its state at the cut: linear size. "
        "BHBK24 contrast this with two-layer transformers of logarithmic size."),
    ("disj-to-disjointness", "transformer"): (
        "With a public query position a one-layer transformer gives a one-way protocol whose receiver "
        "outputs, so it needs H·(d_v + 1)·p_acc ≥ D→(DISJ_n) = n bits (p_acc: the width of the sums as sent): "
        "linear size. A second layer escapes this, because it adds rounds of communication; BHBK24 give "
        "two-layer transformers of logarithmic size."),
    ("eq-to-equality", "rnn"): (
        "An RNN deciding string equality needs a state of at least n bits: linear size."),
    ("eq-to-equality", "transformer"): (
        "With a public query position a one-layer transformer gives a one-way protocol whose receiver "
        "outputs, so it needs H·(d_v + 1)·p_acc ≥ D→(EQ_n) = n bits (p_acc: the width of the sums as sent); "
        "two layers of logarithmic size suffice (BHBK24)."),
    ("disj-to-qsa", "transformer"): (
        "A one-layer transformer that approximates q-sparse averaging within 1/(2q) gives the one-way protocol "
        "above, so its width must grow linearly with q. SHT23's construction (Theorem 2) matches this up to log "
        "factors with m = O(q log N): width, not depth, is the price of sparse averaging."),
    ("index-to-qsa", "transformer"): (
        "SHT23's Theorem 11 is about recurrent models. A one-layer transformer escapes the one-way bound the "
        "same way as for index lookup: Bob's query crosses first and Alice answers with a few sums."),
    ("disj-to-dyck", "rnn"): (
        "Here the RNN's protocol hands its state over at every change of owner, and a Dyck-(2,2) state is one "
        "of 8 values: a constant-size RNN recognises the language (BHBK24), so the interleaved split costs it "
        "many small messages, not a large state."),
    ("eq-to-dyck", "rnn"): (
        "Here the RNN's protocol hands its state over at every change of owner, and a Dyck-(2,2) state is one "
        "of 8 values: a constant-size RNN recognises the language (BHBK24), so the interleaved split costs it "
        "many small messages, not a large state."),
}


def _sweep_hint(task: str) -> str:
    from .models.constructions import has_construction

    families = [f for f in ("rnn", "transformer", "ffn") if has_construction(task, f)]
    if not families:
        return ""
    what = "them grow" if len(families) > 1 else "it grow"
    return f" Run `commlb sweep --task {task} --models {','.join(families)}` to watch {what} with n."


def _step_conclusion(reduction: Any, family: str, built: Any, data: dict[str, Any], task: str) -> Step:
    src = getattr(reduction, "source", None)  # a commlb.core.ReductionSource, or None
    lb = _lower(data)
    total = int(data["total_bits"])
    name = FAMILY_NAMES.get(family, family)
    paras: list[str] = []
    random = built.source == "random"
    if random:
        wrong = ("answered this instance wrongly" if not data.get("correct")
                 else "happened to answer this instance correctly")
        from .models.constructions import has_construction

        none = (f"the {name} construction for {task} cannot be built with the sizes or arithmetic asked for"
                if has_construction(task, family) else f"commlb has no {name} construction for {task}")
        paras.append(f"This walk-through does not reproduce a theorem: {none}, so the model has random weights, "
                     f"and a random model does not solve the task (this one {wrong}).")
        shape = int(data.get("shape_bits") or total)
        if lb:
            bound = float(lb["compare_bits"])
            if shape < bound:
                shows = (f"any {name} of this shape sends at most {shape} bits on this split, fewer than the "
                         f"{fmt_bits(bound)} the problem needs, so no {name} of this shape solves {task} at "
                         f"n = {data.get('n')} on every input")
            else:
                shows = (f"any {name} of this shape sends {'at most ' if family == 'ffn' else ''}{shape} bits on "
                         f"this split, at least the "
                         f"{fmt_bits(bound)} the problem needs, so the bound does not rule this shape out")
        else:
            at_most = "at most " if family == "ffn" else ""
            shows = (f"the protocol any {name} of this shape runs on this split ({at_most}{shape} bits), with no "
                     "exact bound to set it against")
        paras.append(f"What it shows: {shows}. What it does not show: that any {name} solves {task}, or how "
                     "small one can be.")
    else:
        punch = _PUNCHLINES.get((reduction.name, family))
        if punch:
            paras.append(punch)
    if src:
        paras.append(("The result this reduction serves: " if random else "Source: ") + source_sentence(src, bool(lb)))
    if lb:
        paras.append(f"At n = {data.get('n')} this {name} ({data['params']} parameters, p = {data['precision']}) "
                     f"sends {total} bits against a bound of {fmt_bits(lb['compare_bits'])}."
                     + ("" if random else _sweep_hint(task)))
    else:
        paras.append(f"At n = {data.get('n')} this {name} ({data['params']} parameters, p = {data['precision']}) "
                     f"sends {total} bits in {_plural(int(data.get('rounds') or 0), 'round')}; no exact bound "
                     "applies to it at this size." + ("" if random else _sweep_hint(task)))
    return Step("conclusion", "5. Conclusion", paras,
                {"basis": built.source, "source": None if src is None else src.to_json()})


def _quote_tokens(text: str) -> str:
    """A reduction's description with its bare '?' token quoted (so a '?' in the text is
    always a token, never a missing number)."""
    return re.sub(r"(?<=\s)\?(?=\s)", "'?'", text)


# ---------------------------------------------------------------------------------
# Models that err: the distributional bounds of INDEX (one-way) and IP (discrepancy)
# ---------------------------------------------------------------------------------
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
    from .registry import get_problem

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
