"""Every claim commlb states about a bound, a round count, a depth or a precision is
recomputed here from what the code does (docs/theory.md §2.4–2.5, §3.4, §10.1–10.3)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import commlb
from commlb.bits import Precision, acc_width
from commlb.bounds.matrix import matrix_from_problem
from commlb.bounds.oneway import one_way
from commlb.core import BoundKind
from commlb.models.constructions.hardmax import softmax_requirement
from commlb.reductions.pointer_multi import doubling_layers, model_rounds
from commlb.registry import get_reduction, list_reductions
from commlb.simulate import run

_TWO_WAY = re.compile(r"=\s*n\s*\+\s*1|=\s*q\s*\+\s*1")  # "D(f) = n + 1" stated as the bound
ONE_LAYER_PUBLIC_QUERY = {  # task -> reduction whose answer position is PUBLIC
    "equality": "eq-to-equality",
    "disjointness": "disj-to-disjointness",
    "dyck22": "disj-to-dyck",
    "match3": "disj-to-match3",
}


# ------------------------------------------------------- one layer, public query (§3.4)
@pytest.mark.parametrize("task,reduction", sorted(ONE_LAYER_PUBLIC_QUERY.items()))
def test_one_layer_public_query_is_one_way_and_bounded_by_d_arrow(task, reduction):
    """A one-layer transformer with a public query position sends one message (from the
    party that does not output; for disj-to-dyck that is Bob) and the receiver outputs: the
    bound that applies is D-> = n, not D = n + 1; the message is H*(d_v*w_num + w_den) bits
    of exact accumulators, at most H*(d_v + 1)*p_acc with p_acc = 2p + floor(log2 T), T = the sender's key positions."""
    n, p = 5, 16
    res = run(task, "transformer", n, reduction=reduction, weights="random", layers=1, heads=2,
              precision=p, seed=3)
    tr = res.transcript
    assert res.protocol_matches_forward
    assert tr.one_way and tr.rounds == 1 and len(tr.messages) == 1
    sender = tr.messages[0].sender  # the party that does not own the last private token
    model = res.built.model
    alice_keys = int(np.sum(res.split.owner == int(sender)))  # the sender's key positions
    w_num, w_den = acc_width(model.precision, alice_keys, 2), acc_width(model.precision, alice_keys, 1)
    p_acc = 2 * p + int(math.floor(math.log2(alice_keys)))
    assert w_num == p_acc and w_den == p + int(math.floor(math.log2(alice_keys))) + 1
    H, dv = model.heads, model.value_dim
    assert tr.total_bits == H * (dv * w_num + w_den) <= H * (dv + 1) * p_acc
    lb = res.to_json()["lower_bound"]
    assert lb["kind"].startswith("one-way") and lb["bits"] == n  # D->, not D = n + 1
    two_way = res.setup.problem.deterministic_bound().value
    assert two_way == n + 1 and lb["bits"] == two_way - 1
    red = get_reduction(reduction, n=n)
    assert "D->(" in red.theorem and ") = n" in red.theorem and not _TWO_WAY.search(red.theorem)
    assert "p_acc" in red.theorem


def test_issue_figures_eq8_p16():
    """EQ_8 at p = 16: 35-bit numerators and 20-bit denominators cross, not p-bit sums."""
    res = run("equality", "transformer", 8, weights="random", layers=1, precision=16)
    fields = {f.name: f for f in res.transcript.messages[0].fields}
    assert fields["num"].width == 35 and fields["den"].width == 20
    assert res.to_json()["lower_bound"]["bits"] == 8


@pytest.mark.parametrize("name", ["disj", "eq"])
def test_one_way_is_one_less_than_two_way_on_the_matrix(name):
    """Recomputed from the communication matrix: D-> = ceil(log2 #distinct rows) = n,
    while the listed two-way D = n + 1 counts the announced answer."""
    n = 4
    problem = commlb.get_problem(name, n=n)
    res = one_way(matrix_from_problem(problem))
    assert res.alice_to_bob == res.bob_to_alice == n
    assert problem.one_way_bound("AB").value == n == problem.deterministic_bound().value - 1


def test_no_reduction_states_the_two_way_bound_for_a_one_way_protocol():
    for name in list_reductions():
        text = get_reduction(name, **_example(name)).theorem
        assert not _TWO_WAY.search(text), (name, text)
        assert not re.search(r"H\(d\+1\)p\s*>=", text), (name, text)  # stated in bits sent


def _example(name):
    from commlb.registry import reduction_factory

    return dict(getattr(reduction_factory(name), "example_params", {}) or {})


# ---------------------------------------------------------- pointer chasing (§10.2)
def test_pointer_chasing_rounds_under_receiver_outputs():
    """PC(n, 2): with Alice first one message of ceil(log2 n) bits suffices (k - 1 = 1
    round: Bob receives v_1 and computes v_2); with Bob first one message must carry
    much more.  The problem's listed bounds say the same."""
    n, k = 3, 2
    problem = commlb.get_problem("pc", n=n, k=k)
    res = one_way(matrix_from_problem(problem))
    log_n = math.ceil(math.log2(n))
    assert res.alice_to_bob == (k - 1) * log_n
    assert res.bob_to_alice > n  # one round with the wrong starter is not cheap
    bounds = problem.bounds()
    upper = [b for b in bounds if not b.lower]
    assert upper[0].value == res.alice_to_bob and upper[0].rounds == k - 1
    for b in bounds:
        if b.lower:
            assert b.rounds == k - 1 and "Nisan" in b.citation and "Duris" not in b.citation


# ------------------------------------------------------------- k-hop depth (§10.3)
def _max_hops(layers: int) -> int:
    """Largest k a one-lookup-per-layer doubling reaches in ``layers`` layers: layer 2
    knows find^1, and a layer can only compose two pointers known one layer below."""
    if layers < 2:
        return 0
    known = {0, 1}
    for _ in range(3, layers + 1):
        known = {a + b for a in known for b in known}
    return max(known)


@pytest.mark.parametrize("k", range(1, 10))
def test_khop_depth_is_ceil_log2_plus_two(k):
    from commlb.models.constructions.khop import build, hop_schedule
    from commlb.tasks.khop import KHopTask

    model = build(KHopTask(k=k, alphabet=3), 12, outputs="last")
    layers = model.layers
    assert layers == doubling_layers(k) == math.ceil(math.log2(k)) + 2
    assert _max_hops(layers) >= k > _max_hops(layers - 1)  # one layer fewer cannot reach k
    assert sum(hop_schedule(k)) == k
    assert model.config["construction"]["layers_formula"] == "ceil(log2 k) + 2"


def test_transformer_rounds_at_most_two_per_layer_plus_one():
    """Measured rounds of the doubling construction on the block split: 2L - 1, within
    model_rounds' 2L + 1 (docs/theory.md §10.1)."""
    for k in (2, 3, 4):
        res = run("khop", "transformer", 3, reduction="pc-to-khop-blocks", task_options={"k": k})
        L = res.built.model.layers
        assert res.correct and res.transcript.rounds == 2 * L - 1
        assert res.transcript.rounds <= model_rounds("transformer", L).rounds == 2 * L + 1


# ---------------------------------------------------- hard vs softmax attention (§2.5)
@settings(max_examples=200, deadline=None)
@given(positions=st.integers(2, 40), frac=st.integers(0, 12), margin=st.floats(0.01, 4.0),
       spread=st.floats(0.0, 50.0), vmax=st.floats(0.5, 20.0), ties=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1))
def test_softmax_with_the_stated_scale_rounds_to_the_hardmax(positions, frac, margin, spread, vmax,
                                                             ties, seed):
    rng = np.random.default_rng(seed)
    ties = min(ties, positions)
    top = float(rng.uniform(-spread, spread))
    scores = np.full(positions, top)
    scores[ties:] = top - margin - rng.uniform(0.0, spread, positions - ties)
    values = rng.uniform(-vmax, vmax, positions)
    max_score = float(np.abs(scores).max())
    req = softmax_requirement(positions, margin, max_score, vmax, frac, hard_bits=8)
    z = req.scale * (scores - scores.max())
    w = np.exp(z)
    soft = float(np.dot(w, values) / w.sum())
    hard = float(values[:ties].mean())
    assert abs(soft - hard) < 2.0 ** (-frac - 2)  # the same number after rounding to f bits
    # the exponent arguments fit the stated precision: sign + f fractional + integer bits
    assert np.all(np.abs(z) <= 2.0 ** (req.bits - frac - 1))


@pytest.mark.parametrize("task,options", [("khop", {"k": 3}), ("qsa", {}), ("match2", {}),
                                          ("nearest-neighbor", {})])
def test_hard_constructions_state_the_softmax_precision(task, options):
    res = run(task, "transformer", None, task_options=options)
    model = res.built.model
    assert model.config["attention"] == "hard"
    note = str(res.built.note)
    m = re.search(r"hard attention \(p = (\d+)\); a softmax equals it with queries scaled by "
                  r"c = (\d+) and p = (\d+) bits", note)
    assert m, note
    assert int(m.group(1)) == model.precision.bits < int(m.group(3))


# ---------------------------------------------------------- statuses and citations
_INTERNAL = re.compile(r"\[(3P|FT|DER|ABS|UNVERIFIED)|from memory|not checked|THEORY\.md")
_STATUS = ("proved in", "derived here", "conjectured")


def test_printed_statuses_are_words_a_reader_understands():
    from commlb.registry import list_problems

    for name in list_problems():
        extra = {"k": 3} if name.startswith("pc") else {}
        for b in commlb.get_problem(name, n=6, **extra).bounds():
            text = " ".join((b.status, b.citation, b.note, b.formula))
            assert not _INTERNAL.search(text), (name, text)
            assert b.status.startswith(_STATUS), (name, b.status)
    for name in list_reductions():
        theorem = get_reduction(name, **_example(name)).theorem
        assert not _INTERNAL.search(theorem), (name, theorem)


def test_citations():
    ghd = commlb.get_problem("ghd", n=16).bounds()
    det = [b for b in ghd if b.kind is BoundKind.DETERMINISTIC and b.lower]
    assert det and "Chakrabarti" in det[0].citation and "D >= R" in det[0].citation
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "MH25 Thm 9" not in readme and "SHT23 Thm 10: FFN" in readme
    mh25 = (root / "examples" / "mh25_qstr.py").read_text(encoding="utf-8")
    assert "Prop. 21" in mh25 and "Proposition 21" in mh25
    for path in ("commlb/models/constructions/ffn_direct.py", "commlb/protocol/ffn.py"):
        text = (root / path).read_text(encoding="utf-8")
        assert "SHT23 Theorem 10" in text and "MH25 Theorem 9, docs" not in text
    pc = (root / "commlb" / "problems" / "pointer_chasing.py").read_text(encoding="utf-8")
    assert "Duris" not in pc and "Nisan–Wigderson 1993" in pc


def test_precision_and_p_acc_agree_with_the_codec():
    """p_acc = 2p + floor(log2 T) is the width commlb.bits gives a sum of T products."""
    for p in (8, 12, 16):
        prec = Precision.fixed(p)
        for terms in (1, 2, 3, 7, 8, 100, 1000):
            assert acc_width(prec, terms, 2) == 2 * p + int(math.floor(math.log2(terms)))
            assert acc_width(prec, terms, 1) == p + int(math.floor(math.log2(terms))) + 1


def test_readme_softmax_figures_are_what_simulate_prints():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    m = re.search(r"qSA at q = (\d+): p = (\d+) hard, (\d+) for a softmax", readme)
    assert m, "README states the qSA softmax precision"
    res = run("qsa", "transformer", int(m.group(1)))
    soft = res.built.model.config["construction"]["softmax"]
    assert (soft["hard_bits"], soft["softmax_bits"]) == (int(m.group(2)), int(m.group(3)))
