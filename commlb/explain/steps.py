"""The five steps of a walk-through (problem, reduction, protocol, inequality,
conclusion), each written from the numbers of the run."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .explanation import Step, fmt_bits
from .texts import (
    _FAMILY_PROTOCOL,
    _MESSAGE_MEANING,
    _PARTS,
    _PROBLEMS,
    _PUNCHLINES,
    _QUERY_VECTOR_PROTOCOL,
    FAMILY_NAMES,
    source_sentence,
)


# ---------------------------------------------------------------------------------
# The five steps
# ---------------------------------------------------------------------------------
def _lower(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data.get("lower_bound") or {})


def _kind(kind: Any) -> str:
    """The bound's kind as printed: ``one-way A->B`` → ``one-way, Alice → Bob``."""
    text = str(kind or "")
    return text.replace("A->B", "Alice → Bob").replace("B->A", "Bob → Alice").replace("->", "→")




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
             f"the task {reduction.task.name}"
             + (f": {_quote_tokens(reduction.description)}" if getattr(reduction, "description", "") else "")
             + ". Every token is known to Alice, "
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
        from ..models.constructions import has_construction

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


def _sweep_hint(task: str) -> str:
    from ..models.constructions import has_construction

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
        from ..models.constructions import has_construction

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
