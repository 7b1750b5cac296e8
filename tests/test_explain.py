"""`commlb explain`: every (task, model, reduction) it accepts either walks through a
construction, or says plainly what a random model does and does not show, or is refused
in one line; every number in every sentence is recomputed here from an independent run
of the same instance (and from the templates' own literal text); no '?' stands for a
missing value."""

from __future__ import annotations

import ast
import json
import math
import re
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from commlb.cli.explain import explain as explain_cmd
from commlb.errors import CommlbError, InvalidInputError
from commlb.explain import STATUSES, explain

STEP_KEYS = ["problem", "reduction", "protocol", "inequality", "conclusion"]
TITLES = ["1. The communication problem", "2. The reduction", "3. The model run as a protocol",
          "4. The inequality", "5. Conclusion"]
FAMILIES = ("rnn", "transformer", "ffn")


def _all_pairs():
    """Every (task, family, reduction) explain can be asked for: each task of simulate's
    table with each family and each reduction that targets it (None: the default)."""
    from commlb.registry import get_reduction, list_reductions, reduction_factory
    from commlb.simulate import TASK_DEFAULTS

    targets: dict[str, list[str]] = {}
    for name in list_reductions():
        task = get_reduction(name, **reduction_factory(name).example_params).task.name
        targets.setdefault(task, []).append(name)
    out = []
    for task, spec in TASK_DEFAULTS.items():
        for family in FAMILIES:
            for red in targets.get(task) or [None]:
                out.append((task, family, None if red == spec.reduction else red))
    return out


ALL_PAIRS = _all_pairs()


def _expected_kind(task, family, red):
    """Decided here, independently of explain: refused when the task has no reduction or
    the family cannot read its tokens; else a construction when one exists, else random."""
    from commlb.models.constructions import has_construction
    from commlb.simulate import TASK_DEFAULTS, resolve_task

    if TASK_DEFAULTS[task].reduction is None:
        return "refused"
    setup = resolve_task(task, 4, **({"reduction": red} if red else {}))
    if setup.structured_tokens and not has_construction(task, family):
        return "refused"
    return "construction" if has_construction(task, family) else "random"


@cache
def _explained(task, family, red):
    return explain(task, family, task_options={"reduction": red} if red else None)


def _text(e):
    return " ".join(p for s in e.steps for p in s.paragraphs)


# ------------------------------------------------------------ the numbers, recomputed
@lru_cache(maxsize=1)
def _template_numbers():
    """Numbers that occur literally in explain's own text (theorem numbers, years,
    constants of the prose): every string constant of every module of commlb/explain/."""
    import commlb.explain as pkg

    nums: set[int] = set()
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                nums |= _ints(node.value)
    return frozenset(nums)


def _ints(text):
    return {int(v) for v in re.findall(r"(?<![\w.])(\d+)(?![\w])", text)}


def independent(task, family, red, n, seed=0):
    """The same instance run directly through the simulation API (and, for DISJ_q → qSA
    with a transformer, through the query-vector protocol)."""
    from commlb.protocol.core import Split
    from commlb.protocol.query_vector import simulate_query_vector
    from commlb.simulate import build_model, lower_bounds_for, model_tokens, resolve_task, simulate_instance

    setup = resolve_task(task, n=n, **({"reduction": red} if red else {}))
    built = build_model(setup, family, seed=seed)
    res = simulate_instance(setup, built, seed=seed, effective=False)
    tr = res.transcript
    if setup.reduction.name == "disj-to-qsa" and family == "transformer":
        tr, _ = simulate_query_vector(built.model, model_tokens(task, built.model, res.instance.tokens),
                                      Split(res.instance.owner))
    entries = lower_bounds_for(setup.problem, {m.sender for m in tr.messages}, tr.rounds)
    usable = [e.compare_bits for e in entries if e.applies and e.compare_bits is not None]
    bound = max(usable) if usable else None
    return setup, built, res, tr, entries, bound


def _b(v):
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def check_walkthrough(e, task, family, red):
    setup, built, res, tr, entries, bound = independent(task, family, red, e.n)
    model = built.model
    p = built.precision.bits
    sim = e.simulation
    # the same run: every message's bits
    assert sim["total_bits"] == tr.total_bits
    assert [m["bits"] for m in sim["messages"]] == [m.bits for m in tr.messages]
    protocol = " ".join(e.step("protocol").paragraphs)
    inequality = " ".join(e.step("inequality").paragraphs)
    conclusion = " ".join(e.step("conclusion").paragraphs)
    problem_text = " ".join(e.step("problem").paragraphs)
    # protocol: totals, directions, rounds, each message (listed or summed up)
    assert (f"{len(tr.messages)} message{'s' if len(tr.messages) != 1 else ''} in {tr.rounds} "
            f"round{'s' if tr.rounds != 1 else ''}, {tr.total_bits} bits in total") in protocol
    assert f"({tr.bits_alice_to_bob} from Alice to Bob, {tr.bits_bob_to_alice} from Bob to Alice)" in protocol
    shown = {int(k): (int(r), int(b)) for k, r, b in
             re.findall(r"Message (\d+) \(round (\d+)\)[^•]*?: (\d+) bits\.", protocol)}
    covered = set(shown)
    summed: set[int] = set()
    for lo, hi, count, total in re.findall(r"Messages (\d+)–(\d+): (\d+) more \([^)]*\), (\d+) bits in all",
                                          protocol):
        lo, hi = int(lo), int(hi)
        assert int(count) == hi - lo + 1
        assert int(total) == sum(m.bits for m in tr.messages[lo - 1:hi])
        covered |= set(range(lo, hi + 1))
        summed |= {lo, hi, int(count), int(total)}
    assert covered == set(range(1, len(tr.messages) + 1)), (covered, protocol)
    for k, (rnd, bits) in shown.items():
        m = tr.messages[k - 1]
        assert (rnd, bits) == (m.round, m.bits), k
        assert sum(f.count * f.width for f in m.fields) == m.bits
        for f in m.fields:
            piece = (f"{f.name} (one {f.width}-bit number)" if f.count == 1
                     else f"{f.name} ({f.count} numbers of {f.width} bits)")
            assert piece in protocol
    if res.output is None:
        assert f"the true answer is {res.expected}" in protocol
    else:
        assert f"is {res.output} and the true answer f(x, y) is {res.expected}" in protocol
    # the inequality: the bound recomputed from the transcript's senders
    assert f"The protocol sent {tr.total_bits} bits in {tr.rounds} round" in inequality
    if bound is None:
        assert e.step("inequality").data["holds"] is None
        assert "against a bound" not in conclusion
        assert "no exact bound applies" in conclusion
    else:
        b = _b(bound)
        assert f"The bound that applies to it: {b} bits" in inequality
        assert f"The bound used below: {b} bits" in problem_text
        sign = "≥" if tr.total_bits >= bound else "<"
        assert f"{tr.total_bits} {sign} {b}" in inequality
        assert e.step("inequality").data["holds"] == (tr.total_bits >= bound)
        assert (f"At n = {e.n} this {_name(family)} ({model.num_params()} parameters, p = {p}) sends "
                f"{tr.total_bits} bits against a bound of {b}") in conclusion
    # the shape statement, recomputed: RNN/transformer bits are the transcript's; the FFN's
    # the uniform accumulator bound
    if bound is None:
        shape = e.simulation["shape_bits"]
        assert f"({'at most ' if family == 'ffn' else ''}{shape} bits)" in conclusion or not e.basis == "random"
        if family != "ffn":
            assert shape == tr.total_bits
    elif family == "ffn" and tr.messages:
        from commlb.protocol.ffn import uniform_bound_bits

        shape = uniform_bound_bits(model, int(np.sum(res.split.owner == 0)))
        assert f"sends at most {shape} bits on this split" in inequality
    elif family != "ffn":
        shape = tr.total_bits
        assert f"every {_name(family)} of this shape sends {shape} bits on this split" in inequality
    else:
        shape = tr.total_bits
    if bound is not None and shape < bound:
        assert "whatever its weights" in inequality
    # the family's consequence, with its arithmetic redone
    numbers = _consequence_numbers(e, family, model, tr, bound, inequality, p)
    # every integer in every paragraph is one of: the run's numbers (recomputed here),
    # the template's literal numbers, or numbers of the cited sources' text
    allowed = set(_template_numbers()) | numbers
    allowed |= {e.n, e.n + 1, tr.total_bits, tr.rounds, len(tr.messages), tr.bits_alice_to_bob,
                tr.bits_bob_to_alice, model.num_params(), p, shape, int(res.seed), 2 ** e.n}
    allowed |= summed | {m.bits for m in tr.messages} | {m.round for m in tr.messages}
    allowed |= {v for m in tr.messages for v in _ints(m.label)}
    allowed |= {v for m in tr.messages for f in m.fields for v in (f.count, f.width)}
    allowed |= {max(1, math.ceil(math.log2(max(setup.problem.n, 2)))), setup.problem.n}
    if bound is not None:
        allowed |= {int(bound)}
    for entry in entries:
        if entry.compare_bits is not None:
            allowed.add(int(entry.compare_bits))
        allowed |= _ints(entry.citation) | _ints(entry.formula) | _ints(entry.why)
    for b in setup.problem.bounds():
        allowed |= _ints(b.citation) | _ints(str(b.formula))
    allowed |= _ints(setup.reduction.description) | _ints(setup.reduction.name)
    source = setup.reduction.source  # the cited source's text (commlb.core.ReductionSource)
    if source is not None:
        allowed |= _ints(source.result) | _ints(source.note) | _ints(source.section)
    owner = np.asarray(res.instance.owner)
    allowed |= {owner.size, int(np.sum(owner == 0)), int(np.sum(owner == 1)), int(np.sum(owner == 2))}
    for v in (res.x, res.y):
        allowed.add(int("".join(str(int(t)) for t in np.asarray(v).reshape(-1)[:24])))
    for out in (res.output, res.expected):
        if out is not None and np.asarray(out).size == 1:
            allowed.add(abs(int(np.asarray(out).reshape(-1)[0])))
    allowed |= _size_numbers(family, model)
    if e.protocol == "query-vector":  # the cheaper protocol simulate runs, named for contrast
        assert f"{res.transcript.total_bits} bits in all" in protocol
        allowed.add(res.transcript.total_bits)
    for step in e.steps:
        for para in step.paragraphs:
            stray = _ints(para) - allowed
            assert not stray, (step.key, stray, para)


def _name(family):
    return {"rnn": "RNN", "transformer": "transformer", "ffn": "feedforward net"}[family]


def _size_numbers(family, model):
    if family == "transformer":
        # a hard-attention construction states the softmax scale and precision beside its own
        construction = model.config.get("construction")
        soft = (construction.get("softmax") if isinstance(construction, dict) else None) or {}
        return {model.layers, model.heads, model.width, model.key_dim, model.value_dim} | {
            int(soft[k]) for k in ("hard_bits", "softmax_scale", "softmax_bits") if k in soft}
    if family == "rnn":
        return {int(model.config.get("layers", 1)), int(model.config["hidden"])}
    return {len(model.config.get("hidden_sizes") or [1]), model.first_width}


def _consequence_numbers(e, family, model, tr, bound, inequality, p):
    """Check the size consequence sentence against arithmetic done here; return the
    numbers it may contain."""
    out: set[int] = set()
    if bound is None:
        return out
    b = _b(bound)
    if family == "rnn":
        L, d = int(model.config.get("layers", 1)), int(model.config["hidden"])
        assert L * d * p * len(tr.messages) == tr.total_bits  # the state crosses whole at each hand-over
        if len(tr.messages) == 1:
            need = math.ceil(bound / (L * p))
            assert f"⌈{b}/{L * p}⌉ = {need}" in inequality and f"this model has d = {d}" in inequality
            out |= {need, L * p}
        else:
            assert f"crossed {len(tr.messages)} times: {len(tr.messages)}·{L}·{d}·{p} = {tr.total_bits}" in inequality
    elif family == "transformer" and e.protocol == "query-vector":
        f = {x.name: x for x in tr.messages[0].fields}
        own = sum(x.count * x.width for k, x in f.items() if k not in ("query", "residual"))
        H, dk, m = model.heads, model.key_dim, model.width
        assert H * dk * p + m * p + own == tr.total_bits
        assert f"{H}·{dk}·{p} + {m}·{p} + {own} = {tr.total_bits} bits" in inequality
        out |= {own}
    elif family == "transformer" and model.layers == 1 and len(tr.messages) == 1 \
            and tr.messages[0].label.startswith("partial-sums"):
        f = {x.name: x for x in tr.messages[0].fields}
        H, dv = model.heads, model.value_dim
        if "top" in f:
            assert H * (f["top"].width + f["count"].width + dv * f["num"].width) == tr.total_bits
        else:
            assert H * (dv * f["num"].width + f["den"].width) == tr.total_bits
            assert f"{H}·({dv}·{f['num'].width} + {f['den'].width}) = {tr.total_bits} bits" in inequality
        assert f"D→ = {b} bits" in inequality
    return out


# ------------------------------------------------------------ every pair
@pytest.mark.parametrize("task, family, red", ALL_PAIRS, ids=[f"{t}-{f}-{r or 'default'}" for t, f, r in ALL_PAIRS])
def test_every_pair(task, family, red):
    kind = _expected_kind(task, family, red)
    if kind == "refused":
        with pytest.raises(InvalidInputError) as info:
            explain(task, family, task_options={"reduction": red} if red else None)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith("explain: ") and len(msg) < 400
        return
    e = _explained(task, family, red)
    assert [s.key for s in e.steps] == STEP_KEYS
    assert e.basis == kind
    text = _text(e)
    assert "?" not in text.replace("'?'", ""), text  # no value left unknown
    for internal in ("THEORY" + ".md", "DESIGN" + ".md", "UNVERIFIED", "[3P]", "[DER]", "[FT", "[ABS", "not checked"):
        assert internal not in text, internal
    assert e.simulation["protocol_matches_forward"] is True
    if kind == "random":
        conclusion = " ".join(e.step("conclusion").paragraphs)
        assert "This walk-through does not reproduce a theorem" in conclusion
        assert "What it shows:" in conclusion and "What it does not show:" in conclusion
        assert "reproduces " + "SHT" not in text and "Source: " not in text
        assert "RANDOM weights" in " ".join(e.step("protocol").paragraphs)
        assert "as it must be" not in text  # nothing is claimed for a model that is not a solver
    else:
        assert e.simulation["correct"] is True  # constructions solve the task
        assert "does not reproduce a theorem" not in text
        source = e.step("conclusion").data["source"]
        assert source is None or source["status"] in STATUSES
    check_walkthrough(e, task, family, red)
    json.dumps(e.to_json())


def test_the_pairs_are_counted():
    kinds = [_expected_kind(t, f, r) for t, f, r in ALL_PAIRS]
    # every task × family pair appears, each reduction of a task with each family
    assert {(t, f) for t, f, _ in ALL_PAIRS} == {(t, f) for t in {t for t, _, _ in ALL_PAIRS} for f in FAMILIES}
    assert kinds.count("construction") >= 16 and kinds.count("random") >= 12


def test_random_shape_bits_do_not_depend_on_the_weights():
    """The 'any model of this shape' sentence: another seed of the same shape sends the
    same bits (RNN, transformer) or at most the stated bound (FFN)."""
    from commlb.simulate import build_model, resolve_task, simulate_instance

    for task, family in (("match3", "transformer"), ("khop", "rnn"), ("dyck22", "ffn"),
                         ("function-composition", "transformer")):
        e = _explained(task, family, None)
        setup = resolve_task(task, e.n)
        for seed in (1, 2):
            built = build_model(setup, family, weights="random", seed=seed)
            tr = simulate_instance(setup, built, seed=0, effective=False).transcript
            if family == "ffn":
                assert tr.total_bits <= e.simulation["shape_bits"]
            else:
                assert tr.total_bits == e.simulation["shape_bits"]


# ------------------------------------------------------------ particular walk-throughs
def test_qsa_runs_the_query_vector_protocol():
    e = _explained("qsa", "transformer", None)
    assert e.protocol == "query-vector"
    msgs = e.simulation["messages"]
    assert len(msgs) == 1 and msgs[0]["sender"] == "alice"  # one-way: Alice holds the query
    lb = e.simulation["lower_bound"]
    assert lb["kind"] == "one-way A->B" and lb["compare_bits"] == e.n  # D→(DISJ_q) = q
    model_bits = e.simulation["total_bits"]
    inequality = " ".join(e.step("inequality").paragraphs)
    assert "SHT23's Theorem 4 in the bits actually sent" in inequality
    protocol = " ".join(e.step("protocol").paragraphs)
    assert f"{e.simulation['standard_protocol_bits']} bits in all" in protocol
    assert e.simulation["standard_protocol_bits"] < model_bits
    conclusion = " ".join(e.step("conclusion").paragraphs)
    assert "SHT23" in conclusion and "Theorem 4" in conclusion and "derived here" in conclusion


def test_qsa_bits_grow_with_the_width():
    """The query-vector message is a function of the width, which grows with q."""
    sizes = [explain("qsa", "transformer", q).simulation["total_bits"] for q in (2, 4)]
    assert sizes[0] < sizes[1]


def test_one_layer_bound_is_stated_in_the_bits_sent_and_is_n():
    e = _explained("match3", "transformer", None)
    inequality = " ".join(e.step("inequality").paragraphs)
    assert f"D→ = {e.n} bits" in inequality and "n + 1" not in _text(e)
    for task in ("disjointness", "equality"):
        text = _text(_explained(task, "transformer", None))
        assert "D→(" in text and "= n bits" in text and "n + 1 bits" not in text.split("Why it costs")[0]


def test_function_composition_says_why_no_bound_applies():
    e = _explained("function-composition", "rnn", None)
    inequality = " ".join(e.step("inequality").paragraphs)
    assert "does not (not one-way Alice → Bob)" in inequality
    assert "pointer" not in inequality.lower() and "rounds or many bits" not in inequality


def test_index_lookup_transformer_says_why_the_one_way_bound_does_not_apply():
    e = _explained("index-lookup", "transformer", None)
    inequality = " ".join(e.step("inequality").paragraphs)
    assert f"larger one-way bound ({e.n} bits" in inequality
    assert e.simulation["bits_bob_to_alice"] > 0 and e.simulation["bits_alice_to_bob"] > 0


def test_long_protocols_are_summed_up():
    e = _explained("dyck22", "rnn", None)  # the interleaved split: one hand-over per change of owner
    protocol = " ".join(e.step("protocol").paragraphs)
    assert "more (state)" in protocol
    inequality = " ".join(e.step("inequality").paragraphs)
    assert f"crossed {len(e.simulation['messages'])} times" in inequality
    assert "d must grow" not in inequality  # a constant-size RNN passes on this split


# ------------------------------------------------------------------ CLI
def invoke(*args):
    return CliRunner().invoke(explain_cmd, list(args), catch_exceptions=True)


@pytest.mark.parametrize("task, family", [("disjointness", "rnn"), ("qsa", "transformer"), ("match3", "ffn")])
def test_cli_panels(task, family):
    res = invoke("--task", task, "--model", family)
    assert res.exit_code == 0, (res.output, res.exception)
    out = res.stdout
    positions = [out.find(t) for t in TITLES]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert out.count("╭") >= 5  # one panel per step
    e = _explained(task, family, None)
    assert f"{e.simulation['total_bits']} bits" in out
    assert "Alice" in out and "Bob" in out and "public" in out  # the owner legend


def test_cli_json_matches_the_text():
    res = invoke("--task", "disjointness", "--model", "rnn", "--n", "5", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n"] == 5 and data["reduction"] == "disj-to-disjointness" and data["basis"] == "construction"
    sim = data["simulation"]
    assert sim["total_bits"] == sum(m["bits"] for m in sim["messages"])
    assert sum(f["count"] * f["width"] for m in sim["messages"] for f in m["fields"]) == sim["total_bits"]
    text = " ".join(p for s in data["steps"] for p in s["paragraphs"])
    assert f"{sim['total_bits']} bits in total" in text
    assert data["steps"][3]["data"]["lower_bound"] == sim["lower_bound"]["compare_bits"] == 5


@pytest.mark.parametrize("args", [("--task", "nope"), ("--task", "qstr", "--model", "transformer"),
                                  ("--task", "match2"), ("--task", "qsa", "--model", "rnn"),
                                  ("--task", "disjointness", "--model", "lstm")])
def test_cli_refusals_are_user_errors(args):
    res = invoke(*args)
    assert isinstance(res.exception, CommlbError), (args, res.exception)


def test_cli_refusal_is_one_line_exit_2():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "commlb.cli.main", "explain", "--task", "qsa", "--model", "ffn"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "qsa" in lines[0]


def test_cli_task_options_choose_the_reduction():
    res = invoke("--task", "qsa", "--model", "transformer", "--task-option", "reduction=index-to-qsa", "--json")
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads(res.stdout)
    assert data["reduction"] == "index-to-qsa" and data["problem"] == "index"
    assert data["n"] == 8  # the reduction's example size
    assert data["simulation"]["correct"] is True
    assert "Theorem 11" in " ".join(data["steps"][4]["paragraphs"])


# ------------------------------------------------------------------ README rows
def _readme_row(prefix):
    readme = Path(__file__).resolve().parents[1] / "README.md"
    rows = [ln for ln in readme.read_text().splitlines() if ln.startswith(prefix)]
    assert len(rows) == 1, prefix
    return rows[0]


def _list(text):
    return [int(v) for v in text.replace(",", " ").split()]


def test_readme_row_sht23_theorem_4():
    row = _readme_row("| SHT23 Thm 4")
    assert "`commlb explain --task qsa --model transformer --n Q`" in row
    m = re.search(r"sends H·d_k·p \+ m·p \+ (\d+) = ([\d, ]+) bits for q = ([\d, ]+) \(d_k = ([\d, ]+); "
                  r"m = ([\d, ]+); p = (\d+)\), each ≥ D→\(DISJ_q\) = q; the two-way protocol `simulate` picks "
                  r"sends ([\d, ]+) bits", row)
    assert m, row
    share, totals, qs, dks, ms, p, standard = m.groups()
    for q, total, dk, width, std in zip(_list(qs), _list(totals), _list(dks), _list(ms), _list(standard), strict=True):
        e = explain("qsa", "transformer", q)
        sim = e.simulation
        fields = {f["name"]: f for f in sim["messages"][0]["fields"]}
        assert fields["query"]["count"] == dk and fields["residual"]["count"] == width
        assert fields["query"]["width"] == fields["residual"]["width"] == int(p)
        own = sum(f["count"] * f["width"] for k, f in fields.items() if k not in ("query", "residual"))
        assert own == int(share) and dk * int(p) + width * int(p) + own == total == sim["total_bits"]
        assert sim["lower_bound"]["compare_bits"] == q and total >= q
        assert sim["standard_protocol_bits"] == std


def test_readme_row_undersized_rnn():
    """The row's shape claims, recomputed: an RNN with d = 2, p = 4 sends 8 bits, below
    D→(INDEX_16) = 16, on random weights (the distinct-message count is checked under
    COMMLB_FULL=1: it enumerates 2^16 inputs)."""
    import os

    from commlb.simulate import resolve_task, simulate_instance
    from commlb.witness import witness_model

    row = _readme_row("| Pigeonhole: an undersized RNN")
    assert "a random RNN (no training)" in row
    setup = resolve_task("index-lookup", 16)
    built, _ = witness_model(setup, "rnn", hidden=2, precision=4)  # what the row's command builds
    assert built.source == "random"
    res = simulate_instance(setup, built, effective=False)
    assert res.transcript.total_bits == 8 and "sends an 8-bit state" in row
    assert res.lower_bound.compare_bits == 16 and "D→(INDEX_16) = 16" in row
    if os.environ.get("COMMLB_FULL"):
        from commlb.witness import effective_bits

        data = effective_bits(setup.reduction, built.model, None).to_json()
        assert "12 distinct values" in row and int(data["distinct_messages"]) == 12, data


# ------------------------------------------------------------------ models that err
def _h2(e):
    return 0.0 if e == 0 else -e * math.log2(e) - (1 - e) * math.log2(1 - e)


@pytest.mark.parametrize("eps, n", [("0.01", 16), ("1/10", 12), ("0", 8), ("0.25", 20)])
def test_error_step_index_numbers(eps, n):
    from fractions import Fraction

    e = explain("index-lookup", "rnn", n, error=eps)
    step = e.steps[-1]
    assert step.key == "error" and len(e.steps) == 6
    text = " ".join(step.paragraphs)
    ev = float(Fraction(eps))
    value = (1 - _h2(ev)) * n
    whole = math.ceil(round(value, 9))
    assert f"H2(ε) = {_h2(ev):.4f}" in text
    assert f"c ≥ {n}·(1 − {_h2(ev):.4f}) = {value:.2f} bits, at least {whole} whole bits" in text
    assert whole <= n and (ev > 0 or whole == n)  # never above the exact bound, equal to it at ε = 0
    pct = f"{(1 - ev) * 100:g}%"
    assert f"right only on {pct} of the inputs" in text
    bits = e.simulation["total_bits"]  # the storing RNN: one-way, Alice to Bob
    assert f"sends {bits} bits, at least {value:.2f}" in text
    assert "Kremer, Nisan & Ron 1999" in text and "proved in the cited papers" in text
    stray = _ints(text) - (set(_template_numbers()) | {n, whole, bits, int(value)} | _ints(f"{value:.2f}")
                           | _ints(f"{_h2(ev):.4f}") | _ints(pct) | _ints(f"{ev:g}"))
    assert not stray, stray


def test_error_step_rules_out_a_small_shape():
    e = explain("index-lookup", "rnn", 16, error="0.01",
                model_options={"hidden": 2, "precision": 4, "weights": "random"})
    text = " ".join(e.steps[-1].paragraphs)
    assert e.simulation["total_bits"] == 8 < (1 - _h2(0.01)) * 16
    assert "sends 8 bits on this split, fewer than 14.71: so no RNN of this shape is right on 99%" in text


def test_error_step_does_not_apply_to_a_conversation():
    e = explain("index-lookup", "transformer", 16, error="0.01")
    text = " ".join(e.steps[-1].paragraphs)
    assert e.simulation["bits_bob_to_alice"] > 0
    assert "the one-way bound does not apply" in text and e.steps[-1].data["applies"] is False


@pytest.mark.parametrize("eps, n", [("0.01", 8), ("0.1", 16), ("0", 6), ("0.45", 4)])
def test_error_walkthrough_ip_numbers(eps, n):
    from fractions import Fraction

    from commlb.explain import explain_error

    e = explain_error("ip", n, eps)
    text = " ".join(e.steps[-1].paragraphs)
    ev = float(Fraction(eps))
    value = n / 2 - math.log2(1 / (1 - 2 * ev)) - 1  # disc(IP_n) = 2^(-n/2); one bit less: no announcement
    assert f"= {value:.2f} bits, at least {max(0, math.ceil(round(value, 9)))} whole bits" in text
    assert f"1 − 2ε = {1 - 2 * ev:g}" in text
    if value <= 0:
        assert "no bound" in text
    assert "Chor & Goldreich 1988" in text and "Kushilevitz & Nisan 1997" in text


def test_error_refusals():
    from commlb.explain import explain_error

    for bad in ("0.5", "-0.1", "abc", "1/0", "2"):
        with pytest.raises(InvalidInputError):
            explain_error("ip", 8, bad)
    with pytest.raises(InvalidInputError, match="no error-tolerant"):
        explain_error("disj", 8, "0.1")
    with pytest.raises(InvalidInputError, match="no error-tolerant bound for disj"):
        explain("disjointness", "rnn", error="0.1")
    for args in (("--problem", "ip"), ("--problem", "ip", "--task", "disjointness", "--error", "0.1"), ()):
        res = invoke(*args, "--error", "0.1") if args == () else invoke(*args)
        assert isinstance(res.exception, CommlbError), (args, res.output)


def test_cli_error_panels():
    res = invoke("--task", "index-lookup", "--model", "rnn", "--n", "16", "--error", "0.01")
    assert res.exit_code == 0, (res.output, res.exception)
    assert "6. If the model may err: right on 99% of the inputs" in res.stdout
    res = invoke("--problem", "ip", "--n", "8", "--error", "1/100", "--json")
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads(res.stdout)
    assert data["simulation"]["error_bound"]["whole"] == 3 and data["problem"] == "IP_8"


def test_construction_names_lose_internal_provenance_only():
    from commlb.explain import _construction_name

    outside_note = "THEORY" + ".md §1.3"  # a pointer to notes outside the repository
    assert _construction_name(f"construction: qSA (SHT23 Theorem 2, {outside_note}; dual certificates [DER])") \
        == "qSA (SHT23 Theorem 2)"
    assert _construction_name("construction: qSA (SHT23 Theorem 2, docs/theory.md §9.3; dual certificates [DER])") \
        == "qSA (SHT23 Theorem 2, docs/theory.md §9.3)"
    assert _construction_name("construction: an RNN for Dyck-(2,2) (BHBK24, docs/theory.md §7.3)") \
        == "an RNN for Dyck-(2,2) (BHBK24, docs/theory.md §7.3)"


def test_cli_model_sizes_fall_back_to_random_weights_and_say_so():
    res = invoke("--task", "index-lookup", "--model", "rnn", "--n", "16", "--hidden", "2", "--precision", "4",
                 "--error", "0.01", "--json")
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads(res.stdout)
    assert data["basis"] == "random" and data["simulation"]["total_bits"] == 1 * 2 * 4
    text = " ".join(p for s in data["steps"] for p in s["paragraphs"])
    assert "the RNN construction for index-lookup cannot be built with the sizes or arithmetic asked for" in text
    assert "sends 8 bits on this split, fewer than 14.71: so no RNN of this shape is right on 99%" in text
    assert "8 < 16" in text and "whatever its weights" in text
    res = invoke("--task", "index-lookup", "--model", "rnn", "--hidden", "2", "--precision", "4",
                 "--weights", "construction")
    assert isinstance(res.exception, CommlbError)
    res = invoke("--problem", "ip", "--error", "0.1", "--hidden", "3")
    assert isinstance(res.exception, CommlbError) and "--hidden applies to --task" in str(res.exception)


def test_error_near_one_half_and_exact_fractions():
    from commlb.explain import explain_error

    e = explain_error("ip", 8, "0.4999999999999999999")  # within float rounding of 1/2: exact arithmetic
    bound = e.simulation["error_bound"]
    adv = 2 * 10 ** -19
    assert abs(bound["value"] - (4 - math.log2(1 / adv) - 1)) < 1e-9 and bound["whole"] == 0
    assert "no bound" in e.text()
    e = explain_error("ip", 8, "1/3")
    assert "ε = 1/3: c ≥ 8/2 − log2(1/(1/3)) − 1 = 1.42 bits, at least 2 whole bits" in e.text()
