"""A classroom walk-through of one lower-bound argument (``commlb explain``).

:func:`explain` runs the whole chain on one small instance and returns five steps, each
a title, a few paragraphs of plain words and the numbers behind them:

1. **problem** — the communication problem the reduction starts from: what Alice and Bob
   hold, what they must compute, and why it needs that many bits (the rows-of-the-matrix
   / pigeonhole argument for one-way messages, the fooling-set argument for
   conversations);
2. **reduction** — how (x, y) is written as the task's tokens, who owns each token and
   what each part means, checked on this instance (the task's answer decodes to f(x, y));
3. **protocol** — the model run as a protocol *for real*
   (:func:`commlb.simulate.run`): every message, what it carries, its bits, and the check
   that the protocol's answer equals the model's forward pass;
4. **inequality** — bits sent ≥ the bound, and what that forces on the model's size;
5. **conclusion** — the paper and theorem the argument reproduces, with the status tag
   of THEORY.md (FT / ABS / 3P / DER / UNVERIFIED).

Every number in the text is taken from the simulation's result (the tests check this).
The CLI renders each step as a panel; :meth:`Explanation.to_json` gives the same content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["Step", "Explanation", "explain", "PAPERS"]

#: paper abbreviations used in THEORY.md
PAPERS = {
    "SHT23": "Sanford, Hsu & Telgarsky, Representational Strengths and Limitations of Transformers (NeurIPS 2023)",
    "BHBK24": "Bhattamishra, Hahn, Blunsom & Kanade, Separations in the Representational Capabilities of "
              "Transformers and Recurrent Architectures (NeurIPS 2024)",
    "SHT24": "Sanford, Hsu & Telgarsky, Transformers, Parallel Computation, and Logarithmic Depth (ICML 2024)",
    "PNP24": "Peng, Narayanan & Papadimitriou, On Limitations of the Transformer Architecture (COLM 2024)",
    "MH25": "Mousavi-Hosseini, Sanford, Wu & Erdogdu, When Do Transformers Outperform Feedforward and "
            "Recurrent Networks? A Statistical Perspective (2025)",
}

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
        "An RNN reads the tokens left to right and keeps a memory — its hidden state, {layers} × {width} "
        "numbers of {p} bits. Alice runs it over her tokens (and the public ones). When the next token is "
        "Bob's, the only way Bob can continue the computation is to get the memory itself, so Alice sends "
        "the whole state: {layers}·{width}·{p} = {per_message} bits per hand-over. Bob then runs the rest "
        "and reads the answer."
    ),
    "transformer": (
        "A transformer layer mixes tokens only through attention: the output at a position is a weighted "
        "average over all positions, and a weighted average is a sum. So each party can add up its own "
        "positions' contributions (a numerator vector and a denominator, kept exactly) and send just "
        "these partial sums; the receiver adds its own part and divides. When the position that asks "
        "(the query) is known to both, the answerer does not even need to hear the query."
    ),
    "ffn": (
        "A feedforward net's first layer is a weighted sum over the whole flattened input, so Alice can "
        "compute her part of every first-layer neuron and send those partial sums; Bob adds his part and "
        "finishes the network."
    ),
}


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


def _fmt_bits(value: Any) -> str:
    if value is None:
        return "?"
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.2f}"


def explain(task: str, model: str, n: int | None = None, *, seed: int = 0,
            task_options: dict[str, Any] | None = None, model_options: dict[str, Any] | None = None
            ) -> Explanation:
    """The five-step walk-through of ``task`` with a ``model`` family at a small ``n``
    (default: the reduction's example size).  Raises :class:`InvalidInputError` for a task
    without a reduction and :class:`UnknownNameError` for a family without a
    construction."""
    from . import simulate as sim
    from .registry import reduction_factory

    family = str(model).lower()
    options = dict(task_options or {})
    if n is None and task in sim.TASK_DEFAULTS and sim.TASK_DEFAULTS[task].reduction and "q" not in options:
        # a classroom-sized instance: the reduction's own example size
        red_name = options.get("reduction") or sim.TASK_DEFAULTS[task].reduction
        n = int(getattr(reduction_factory(red_name), "example_params", {}).get("n", 6))
    setup = sim.resolve_task(task, n=n, **options)
    reduction = setup.reduction
    if reduction is None:
        raise InvalidInputError(
            f"task {task!r} has no reduction from a communication problem, so there is no lower-bound "
            "argument to walk through; try one of the tasks listed by `commlb list reductions`"
        )
    built = sim.build_model(setup, family, seed=seed, **(model_options or {}))
    result = sim.simulate_instance(setup, built, seed=seed, effective=False)
    data = result.to_json()
    data["x"] = _jsonable(result.x)
    data["y"] = _jsonable(result.y)
    data["messages"] = [_message_json(m) for m in result.transcript.messages]
    tokens = result.instance.tokens
    owner = result.split.owner
    try:
        names = reduction.task.vocab_names()
    except Exception:  # a task whose vocabulary needs n it does not have
        names = None
    problem = reduction.problem
    steps = [
        _step_problem(problem, data, family),
        _step_reduction(reduction, data, tokens, owner, names),
        _step_protocol(family, built, data),
        _step_inequality(family, built, data, problem),
        _step_conclusion(reduction, family, built, data),
    ]
    return Explanation(task=setup.task_name or reduction.task.name, model=family, n=int(setup.n),
                       reduction=reduction.name, problem=problem.name, steps=steps, simulation=data,
                       tokens=tokens, owner=owner, vocab_names=names)


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
        order = ("one_way", "two_way") if _is_one_way(kind) else ("two_way", "one_way")
        paras.append("Why it costs bits: " + texts[order[0]].format(**fmt))
    else:
        paras.append(f"The communication problem is {problem.name} (n = {n}): "
                     f"{getattr(problem, 'description', '')}. Alice holds x, Bob holds y, and they must "
                     "compute f(x, y) by sending bits.")
    bound_bits = lb.get("bits")
    if bound_bits is not None:
        paras.append(f"The bound used below: {_fmt_bits(bound_bits)} bits ({_kind(kind)}; {lb.get('citation', '')}).")
        if "two-way" in str(kind):
            paras.append("(The classic count includes one last bit announcing the answer to both parties; in "
                         "the protocols below the party that receives the last message simply knows the answer, "
                         f"so they are held to one bit less: {_fmt_bits(bound_bits)}.)")
    else:
        known = "; ".join(f"{b.formula} ({getattr(b.kind, 'value', b.kind)}; {b.citation})" for b in problem.bounds())
        paras.append("Known bounds: " + (known or "none recorded") + ". None of them is an exact number of "
                     "bits that applies to this transcript at this size, so the argument below is stated "
                     "in the paper's terms (rounds and size) rather than as one inequality.")
    return Step("problem", "1. The communication problem", paras,
                {"problem": problem.name, "n": n, "lower_bound": lb})


def _step_reduction(reduction: Any, data: dict[str, Any], tokens: Any, owner: Any,
                    names: list[str] | None) -> Step:
    paras = [f"The reduction {reduction.name} writes Alice's and Bob's inputs as one input sequence for "
             f"the task {reduction.task.name}: {reduction.description}. Every token is known to Alice, "
             "to Bob, or to both (public — the same for every input)."]
    parts = _PARTS.get(reduction.name)
    if parts:
        paras.append("What the parts mean: " + "; ".join(parts) + ".")
    counts = {}
    if owner is not None:
        own = np.asarray(owner)
        counts = {"alice": int(np.sum(own == 0)), "bob": int(np.sum(own == 1)), "public": int(np.sum(own == 2))}
        paras.append(f"On this instance: {len(own)} tokens — {counts['alice']} Alice's, {counts['bob']} "
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
    prec = model.precision
    width = cfg.get("width", cfg.get("hidden", cfg.get("hidden_size", "?")))
    return {"layers": cfg.get("layers", 1), "width": width, "p": prec.bits,
            "heads": cfg.get("heads"), "params": model.num_params()}


_MESSAGE_MEANING = {
    "state": "the RNN's whole memory after reading the sender's tokens (every layer's hidden state)",
    "query-token": "the id of the sender's token at the asking position — cheaper than the query vector, "
                   "and the receiver rebuilds the query from the public weights",
    "query": "the query vector of the asking position: what it is looking for",
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
    """"a 1-layer, 1-head transformer of width 39 (3942 parameters, fixed point p = 12)"."""
    model = built.model
    size = _size_fmt(built)
    prec = model.precision
    arith = "fixed point" if prec.is_fixed else "floating point"
    family = built.family
    if family == "transformer":
        shape = f"a {size['layers']}-layer, {size['heads']}-head transformer of width {size['width']}"
    elif family == "rnn":
        shape = f"an RNN with {_plural(int(size['layers'] or 1), 'layer')} of hidden size {size['width']}"
    else:
        shape = f"a feedforward net with {_plural(int(size['layers'] or 1), 'hidden layer')} of width {size['width']}"
    return f"{shape} ({size['params']} parameters, {arith} p = {prec.bits} bits)"


def _step_protocol(family: str, built: Any, data: dict[str, Any]) -> Step:
    size = _size_fmt(built)
    msgs = list(data.get("messages") or [])
    per_message = msgs[0]["bits"] if msgs else 0
    source = {"construction": "explicit weights from the construction",
              "random": "RANDOM weights", "file": "weights from a file"}.get(built.source, built.source)
    note = str(getattr(built, "note", "") or "").replace("construction: ", "")
    paras = [f"The model: {model_summary(built)}, {source}" + (f" — {note}" if note else "") + "."]
    if built.source == "random":
        paras.append("A random model is not a solver: whatever it sends, the bound speaks only of models that "
                     "answer every input correctly.")
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
    paras.append(f"The protocol's answer is {data.get('output')} and the true answer f(x, y) is "
                 f"{data.get('expected')} ({'correct' if data.get('correct') else 'WRONG'}). The answer "
                 + ("equals the model's own forward pass on the whole sequence, bit for bit: the "
                    "conversation really computed what the model computes." if agree else
                    "does NOT equal the forward pass (a bug in the simulator)."))
    return Step("protocol", "3. The model run as a protocol", paras,
                {"model": model_summary(built), "source": built.source,
                 "messages": msgs, "total_bits": data.get("total_bits"), "rounds": data.get("rounds"),
                 "bits_alice_to_bob": data.get("bits_alice_to_bob"),
                 "bits_bob_to_alice": data.get("bits_bob_to_alice"),
                 "output": data.get("output"), "expected": data.get("expected"),
                 "correct": data.get("correct"), "protocol_matches_forward": agree})


def _field_text(f: dict[str, Any]) -> str:
    shape = list(f.get("shape") or [])
    count = int(f.get("count", int(np.prod(shape)) if shape else 1))
    if count == 1:
        return f"{f.get('name')} (one {f.get('width')}-bit number)"
    shape_txt = "×".join(str(s) for s in shape)
    return f"{f.get('name')} ({shape_txt} = {count} numbers of {f.get('width')} bits)"


def _bound_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in (data.get("lower_bounds") or []) if isinstance(e, dict)]


def _step_inequality(family: str, built: Any, data: dict[str, Any], problem: Any) -> Step:
    lb = _lower(data)
    bound = lb.get("bits")
    total = data.get("total_bits")
    size = _size_fmt(built)
    msgs = list(data.get("messages") or [])
    numbers = sum(int(f.get("count", 1)) for m in msgs for f in m.get("fields", []))
    widest = max((int(f.get("width", 0)) for m in msgs for f in m.get("fields", [])), default=0)
    holds = None if bound is None or total is None else total >= bound
    paras: list[str] = []
    if bound is None:
        paras.append(f"The protocol sent {total} bits in {_plural(int(data.get('rounds') or 0), 'round')}. "
                     "There is no exact bound to compare them with at this size (see step 1), so the "
                     f"inequality is the paper's: {getattr(problem, 'name', '')} needs many rounds or many "
                     "bits, and a model that gives a protocol with few rounds must send many bits.")
        return Step("inequality", "4. The inequality: bits sent ≥ bound", paras,
                    {"total_bits": total, "lower_bound": None, "lower_bound_kind": None, "holds": None,
                     "rounds": data.get("rounds"), "size": size})
    chosen = next((e for e in _bound_entries(data) if e.get("applies")
                   and str(lb.get("kind", "")).startswith(str(e.get("kind")))), {})
    paras.append(f"The protocol sent {total} bits. The problem needs at least {_fmt_bits(bound)} bits "
                 f"({_kind(lb.get('kind'))}" + (f": {chosen['why']}" if chosen.get("why") and _is_one_way(lb.get("kind"))
                                                 else "") + "). "
                 f"So {total} ≥ {_fmt_bits(bound)}"
                 + (" — as it must be, since the model answers correctly." if holds and data.get("correct") else
                    " holds." if holds else
                    " FAILS: this model sends too few bits to be correct on every input"
                    + (" (it is random, so that is no surprise)." if built.source == "random" else
                       " — it must answer some input wrongly.")))
    skipped = [e for e in _bound_entries(data) if not e.get("applies") and e.get("compare_bits") is not None
               and bound is not None and float(e["compare_bits"]) > float(bound)]
    for e in skipped:
        kind = str(e.get("kind"))
        if "A->B" in kind or "Alice" in kind:
            who, other = "Alice", "Bob"
        else:
            who, other = "Bob", "Alice"
        paras.append(f"The larger one-way bound ({_fmt_bits(e.get('compare_bits'))} bits, for protocols in "
                     f"which only {who} talks) does not apply: here {other} talked too. Being allowed to "
                     "talk both ways is what makes this protocol cheap.")
    if numbers and widest and bound:
        need = math.ceil(float(bound) / widest)
        paras.append(f"The messages carried {_plural(numbers, 'number')} of at most {widest} bits each, and "
                     "those numbers are the model's own intermediate values. Any model of this kind that "
                     f"solves the task must move at least {_fmt_bits(bound)} bits across the cut: with "
                     f"{widest}-bit numbers that is at least ⌈{_fmt_bits(bound)}/{widest}⌉ = "
                     f"{_plural(need, 'number')}.")
    p = int(size["p"])
    L = int(size["layers"] or 1)
    consequence = ""
    handoffs = len(msgs)
    if family == "rnn" and bound is not None and handoffs > 1:
        consequence = (f"For an RNN each message is its state, {L}·d·{p} bits, and here the tokens alternate "
                       f"between Alice and Bob, so the state crossed {handoffs} times: {handoffs}·{L}·d·{p} ≥ "
                       f"{_fmt_bits(bound)}. The number of hand-overs grows with n, so a constant-size state "
                       "passes this test — which is why lower bounds for RNNs need a split with a single cut "
                       "(all of Alice's tokens before Bob's), where the state crosses once.")
    elif family == "rnn" and bound is not None:
        need_d = math.ceil(float(bound) / (L * p))
        consequence = (f"For an RNN the message is its state, layers × hidden size × p = {L}·d·{p} bits, so "
                       f"{L}·d·{p} ≥ {_fmt_bits(bound)} forces a hidden size d ≥ {need_d} at n = {problem.n} "
                       f"with p = {p} (this model has d = {size['width']}). The bound grows linearly with n "
                       "while p stays about log n, so d must grow like n / log n: an RNN cannot stay small.")
    elif family == "transformer" and bound is not None and L == 1:
        model = built.model
        H, dk, dv = int(model.heads), int(model.key_dim), int(model.value_dim)
        cheap = next((m for m in msgs if m["label"].startswith("query-token")), None)
        if cheap is not None:
            paras.append(f"Note the cheap form of the query: instead of its query vector (H·d_k·p = {H}·{dk}·{p} = "
                         f"{H * dk * p} bits) the asking party sent its token id ({cheap['bits']} bits), since the "
                         "other party can rebuild the query from the public weights. The bound does not care "
                         "about the form: whatever crosses must carry the bits.")
        consequence = (f"For a one-layer transformer a message is a query (H·d_k = {H}·{dk} = {H * dk} numbers "
                       f"of p = {p} bits) or partial sums (H·(d_v + 1) = {H}·{dv + 1} = {H * (dv + 1)} exact "
                       "sums of about p + log2 N bits). So heads × width × precision must be at least about "
                       f"{_fmt_bits(bound)} bits: when the bound grows linearly with n, so must the "
                       "one-layer model; when it grows like log n, a log-size model can pass.")
    elif family == "transformer" and bound is not None:
        consequence = (f"This transformer has {L} layers, and each layer adds a round in which positions may "
                       "need the other side's partial sums: its protocol is long whatever its width, so the "
                       "one-layer argument no longer forces a large size. That is how a second layer "
                       "escapes the bound.")
    elif family == "ffn" and bound is not None:
        consequence = ("For a feedforward net the message is one partial sum per first-layer neuron, so "
                       f"first-layer width × bits per sum ≥ {_fmt_bits(bound)}.")
    if consequence:
        paras.append(consequence)
    return Step("inequality", "4. The inequality: bits sent ≥ bound", paras,
                {"total_bits": total, "lower_bound": bound, "lower_bound_kind": lb.get("kind"), "holds": holds,
                 "numbers": numbers, "bits_per_number": widest, "size": size})


#: (reduction, family) -> what the argument says about that family, in plain words
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
        "A one-layer transformer needs H(d+1)p ≥ n + 1: linear size. BHBK24's two-layer construction of "
        "logarithmic size escapes this, because a second layer adds rounds of communication."),
    ("eq-to-equality", "rnn"): (
        "An RNN deciding string equality needs a state of at least n bits: linear size."),
    ("eq-to-equality", "transformer"): (
        "A one-layer transformer needs H(d+1)p ≥ n + 1; two layers of logarithmic size suffice (BHBK24)."),
    ("disj-to-qsa", "transformer"): (
        "A one-layer transformer that approximates q-sparse averaging within 1/(2q) needs m·p ≥ q + 1 − O(p): "
        "its embedding width m must grow linearly with q. SHT23's construction (Theorem 2) matches this up to "
        "log factors with m = O(q log N), so width, not depth, is the price of sparse averaging."),
    ("index-to-qsa", "rnn"): (
        "A recurrent model solving qSA even with q = 1 needs memory of about N bits (SHT23 Theorem 11), while "
        "one attention layer of width O(log N) solves it."),
    ("disj-to-dyck", "transformer"): (
        "A one-layer transformer recognising bounded Dyck-(2,2) needs linear size, because the split may "
        "interleave Alice's and Bob's brackets; a constant-size RNN recognises it (try --model rnn)."),
    ("disj-to-dyck", "rnn"): (
        "Here the RNN's protocol hands its state over at every change of owner, and a Dyck-(2,2) state is one "
        "of 8 values: a constant-size RNN recognises the language (BHBK24), so the interleaved split costs it "
        "many small messages, not a large state."),
}


def _sweep_hint(task: str) -> str:
    from .models.constructions import has_construction

    families = [f for f in ("rnn", "transformer", "ffn") if has_construction(task, f)]
    if not families:
        return ""
    what = "both grow" if len(families) > 1 else "it grow"
    return f" Run `commlb sweep --task {task} --models {','.join(families)}` to watch {what} with n."


def _step_conclusion(reduction: Any, family: str, built: Any, data: dict[str, Any]) -> Step:
    src = getattr(reduction, "source", None)  # a ReductionSource, or None
    paras: list[str] = []
    punch = _PUNCHLINES.get((reduction.name, family))
    if punch:
        paras.append(punch)
    if src:
        paper, theorem, section, status = src.paper, src.theorem, src.section, src.status
        paras.append(f"This reproduces {paper}, {theorem}: {PAPERS.get(paper, paper)}. "
                     f"See THEORY.md {section}; status: {status}.")
    paras.append(f"The reduction's statement: {reduction.theorem}.")
    lb = _lower(data)
    paras.append(f"At n = {data.get('n')} this {FAMILY_NAMES.get(family, family)} ({built.model.num_params()} parameters, "
                 f"p = {built.model.precision.bits}) sends {data.get('total_bits')} bits against a bound of "
                 f"{_fmt_bits(lb.get('bits'))}." + _sweep_hint(reduction.task.name))
    return Step("conclusion", "5. Conclusion", paras,
                {"source": None if src is None else {"paper": src.paper, "theorem": src.theorem,
                                                     "section": src.section, "status": src.status},
                 "theorem": reduction.theorem})
