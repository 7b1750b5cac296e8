"""Bounds applied to runs of models that err: the confidence bound, which bound applies
under which distribution and transcript, and the simulate wiring."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from click.testing import CliRunner

from commlb.bounds.catalogue import index_one_way_bits, ip_discrepancy_bits
from commlb.bounds.erring import assess_errors, clopper_pearson_upper, trial_distribution
from commlb.registry import get_problem


def binom_cdf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    lg = math.lgamma
    return sum(math.exp(lg(n + 1) - lg(i + 1) - lg(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p))
               for i in range(k + 1))


def upper_by_bisection(k: int, n: int, conf: float = 0.95) -> float:
    """Plain twin: the p with P[Bin(n, p) <= k] = 1 - conf (the CDF falls in p)."""
    if k == n:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if binom_cdf(k, n, mid) > 1 - conf:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@pytest.mark.parametrize("k,n", [(0, 10), (0, 2000), (3, 50), (25, 100), (997, 2000), (40, 40), (1, 1)])
def test_clopper_pearson_matches_the_binomial_definition(k, n):
    ours = clopper_pearson_upper(k, n)
    assert ours == pytest.approx(upper_by_bisection(k, n), abs=1e-9)
    assert ours >= k / n


def test_uniform_trial_distribution_is_recognised():
    assert trial_distribution(get_problem("index", n=8))[1]
    assert trial_distribution(get_problem("ip", n=4))[1]
    assert not trial_distribution(get_problem("disj", n=4))[1]  # balanced product, not uniform
    assert not trial_distribution(get_problem("eq", n=4))[1]


def test_index_one_way_bound_at_the_upper_confidence_bound():
    prob = get_problem("index", n=16)
    a = assess_errors(prob, 20, 2000, senders={"alice"}, bits_alice_to_bob=8, bits_bob_to_alice=0,
                      family="RNN", size_symbol="d·p")
    up = clopper_pearson_upper(20, 2000)
    assert a.applies and a.error_upper == up and a.error_rate == 0.01
    # evaluated at eps >= eps+ (rounded up), never below: at most the value at eps+ itself
    bits, real = index_one_way_bits(16, Fraction(up))
    assert a.bound_real <= real + 1e-9 and a.bound_real == pytest.approx(real, abs=1e-9)
    assert a.bound_bits == bits
    assert a.sent_bits == 8 and a.meets is (8 >= bits)
    text = a.sentence()
    assert "one-way" in a.kind and "uniform" in a.kind and "Clopper" in text and "§6.2" in text


def test_index_bound_does_not_apply_to_two_way_transcripts():
    prob = get_problem("index", n=16)
    a = assess_errors(prob, 0, 500, senders={"alice", "bob"}, bits_alice_to_bob=8, bits_bob_to_alice=4)
    assert not a.applies and "one-way" in a.reason and a.bound_bits is None


def test_no_bound_when_the_error_may_reach_one_half():
    prob = get_problem("index", n=16)
    a = assess_errors(prob, 997, 2000, senders={"alice"}, bits_alice_to_bob=8, bits_bob_to_alice=0)
    assert not a.applies and a.error_upper >= 0.5 and "1/2" in a.reason


def test_zero_errors_in_a_sample_gets_the_distributional_bound_not_the_exact_one():
    prob = get_problem("index", n=8)
    a = assess_errors(prob, 0, 300, senders={"alice"}, bits_alice_to_bob=128, bits_bob_to_alice=0)
    assert a.applies and not a.exhaustive
    assert a.error_upper == pytest.approx(1 - 0.05 ** (1 / 300))
    assert a.bound_bits == index_one_way_bits(8, Fraction(a.error_upper))[0] <= 8  # exact D-> would be 8


def test_ip_discrepancy_bound_loses_one_bit_for_the_receiver_that_outputs():
    prob = get_problem("ip", n=12)
    a = assess_errors(prob, 5, 1000, senders={"alice", "bob"}, bits_alice_to_bob=10, bits_bob_to_alice=3)
    full_bits, full_real = ip_discrepancy_bits(12, Fraction(a.error_upper))
    assert a.applies and a.sent_bits == 13
    assert a.bound_bits == full_bits - 1 and a.bound_real == pytest.approx(full_real - 1, abs=1e-9)


@pytest.mark.parametrize("name", ["disj", "gt"])
def test_no_bound_without_a_stated_distributional_bound(name):
    a = assess_errors(get_problem(name, n=4), 1, 1000, senders={"alice"}, bits_alice_to_bob=4, bits_bob_to_alice=0)
    assert not a.applies and a.reason


def test_simulate_json_reports_the_error_bound():
    from commlb.cli.simulate import simulate

    res = CliRunner().invoke(simulate, ["--task", "index-lookup", "--model", "rnn", "--weights", "random",
                                        "--hidden", "2", "--precision", "4", "--n", "16", "--trials", "200",
                                        "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    eb = data["error_bound"]
    assert eb["trials"] == 200 and eb["errors"] == data["errors"]
    assert eb["error_upper"] == pytest.approx(clopper_pearson_upper(eb["errors"], 200))
    assert eb["distribution"].startswith("uniform")
    if eb["error_upper"] >= 0.5:
        assert not eb["applies"] and "1/2" in eb["reason"]
    else:
        assert eb["applies"] and eb["bound_bits"] == index_one_way_bits(16, Fraction(eb["error_upper"]))[0]


# ------------------------------------------------------------------ sweep
def test_sweep_rows_carry_the_bound_at_eps_plus():
    from commlb.sweep import run_sweep

    res = run_sweep("index-lookup", "rnn,transformer", [16], trials=30, instances=1, max_seconds=0)
    rnn, tf = res.rows_for("rnn")[0], res.rows_for("transformer")[0]
    for row in (rnn, tf):
        assert row.ok and row.trials == 30
        assert row.error_upper == pytest.approx(clopper_pearson_upper(row.errors, 30))
    # the RNN's cut is one-way Alice -> Bob: (1 - H2(eps+))·16 in Alice's bits
    assert rnn.error_bound == index_one_way_bits(16, Fraction(rnn.error_upper))[0] < 16
    assert rnn.error_bound_sent == rnn.bits_alice_to_bob and rnn.meets_error_bound is True
    assert "one-way" in rnn.error_bound_kind and rnn.error_bound_distribution.startswith("uniform")
    assert rnn.error_bound_status == "derived here" and "Ablayev" in rnn.error_bound_source
    # the transformer's protocol has a message from Bob: the one-way bound does not apply
    assert tf.error_bound is None and tf.bits_bob_to_alice > 0 and "one-way" in tf.error_bound_text
    notes = " ".join(res.notes())
    assert "rnn: bound at eps+" in notes and "transformer: no bound at eps+" in notes
    data = res.to_json()["rows"][0]
    assert data["error_bound"] == rnn.error_bound and data["meets_error_bound"] is True


def test_sweep_withholds_the_exact_bound_from_a_construction_that_errs(monkeypatch):
    import commlb.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "_error_trials", lambda *a, **k: (40, 3))
    res = sweep_mod.run_sweep("index-lookup", "rnn", [16], trials=40, instances=1, max_seconds=0)
    row = res.rows[0]
    assert row.errors == 3 and row.lower_bound is None and row.meets_bound is None
    assert "exact bound withheld" in row.note
    up = clopper_pearson_upper(3, 40)
    assert row.error_upper == pytest.approx(up) and row.error_bound == index_one_way_bits(16, Fraction(up))[0]
    csv_text = res.to_csv()
    header, line = csv_text.splitlines()[:2]
    cells = dict(zip(header.split(","), line.split(",")))
    assert cells["lower_bound"] == "" and int(cells["error_bound"]) == row.error_bound


def test_sweep_says_why_no_bound_applies_when_eps_plus_reaches_one_half(monkeypatch):
    import commlb.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "_error_trials", lambda *a, **k: (4, 0))  # 0/4: eps+ = 1 - 0.05^(1/4)
    res = sweep_mod.run_sweep("index-lookup", "rnn", [16], trials=4, instances=1, max_seconds=0)
    row = res.rows[0]

    def res_notes(_row):
        return res.notes()

    assert row.error_upper == pytest.approx(1 - 0.05 ** 0.25) and row.error_upper >= 0.5
    assert row.error_bound is None and "1/2" in row.error_bound_text
    assert "rnn: no bound at eps+ (eps+ >= 1/2: too few --trials)" in res_notes(row)
    assert row.lower_bound == 16  # no error seen: the exact bound stays, marked exact-correctness


def test_sweep_table_shows_the_bound_at_eps_plus_within_80_columns():
    from commlb.cli.sweep import sweep as sweep_cmd

    res = CliRunner(env={"COLUMNS": "80"}).invoke(
        sweep_cmd, ["--task", "index-lookup", "--models", "rnn", "--n", "16", "--trials", "20",
                    "--instances", "1", "--max-seconds", "0"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "@ε⁺" in res.output and "ε⁺ = 0.139" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    row = next(line for line in res.output.splitlines() if line.strip().startswith("rnn"))
    assert row.split()[-1] == str(index_one_way_bits(16, Fraction(1 - 0.05 ** (1 / 20)))[0])


# ------------------------------------------------------------------ evaluate (trained models)
LSTM = {"family": "lstm", "layers": 2, "width": 8}
GPT2 = {"family": "gpt2", "layers": 2, "width": 24, "heads": 2}


def test_index_lookup_generator_draws_uniform_index_through_the_reduction():
    """The claim assess_trained rests on: over {0,1} the generator's instance is the
    reduction's encoding of (x, i), with x and i uniform (a seeded goodness-of-fit)."""
    import numpy as np

    from commlb.registry import get_reduction, get_task

    n = 2
    task, red = get_task("index-lookup", alphabet=2), get_reduction("index-to-index-lookup", n=n)
    rng = np.random.default_rng(7)
    counts: dict[tuple[int, ...], int] = {}
    for _ in range(4000):
        tokens = task.generate(rng, n)
        x, i = tokens[:n], int(tokens[-1]) - task.position_token(0)
        assert red.encode(x, i).tokens.tolist() == tokens.tolist()
        key = (*x.tolist(), i)
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 8
    chi2 = sum((c - 500) ** 2 / 500 for c in counts.values())
    assert chi2 < 24.3  # 7 degrees of freedom, p = 0.001


def test_trained_recurrent_model_on_index_gets_the_one_way_bound_in_its_state_bits():
    from commlb.bounds.erring import assess_trained

    a = assess_trained("index-lookup", {"alphabet": 2}, 16, 30, 2000, LSTM)
    up = clopper_pearson_upper(30, 2000)
    assert a.applies and a.error_upper == up and a.errors == 30 and a.trials == 2000
    assert a.bound_bits == index_one_way_bits(16, Fraction(up))[0]
    assert a.sent_bits == 2 * 2 * 8 * 32 and a.meets  # h and c of 2 layers, float32
    assert "generator" in a.distribution and "uniform" in a.distribution
    assert "2·L·d·32" in a.implication and "an LSTM" in a.implication
    gru = assess_trained("index-lookup", {"alphabet": 2}, 16, 30, 2000, {**LSTM, "family": "gru"})
    assert gru.sent_bits == 2 * 8 * 32 and "a GRU" in gru.implication


def test_trained_models_the_bound_does_not_cover_say_why():
    from commlb.bounds.erring import assess_trained

    two_way = assess_trained("index-lookup", {"alphabet": 2}, 16, 30, 2000, GPT2)
    assert not two_way.applies and "one-way" in two_way.reason
    khop = assess_trained("khop", {"k": 2, "alphabet": 4}, 32, 3, 1000, GPT2)
    assert not khop.applies and "asymptotic only" in khop.reason and khop.error_upper < 0.5
    symbols = assess_trained("index-lookup", {"alphabet": 4}, 16, 3, 1000, LSTM)
    assert not symbols.applies and "symbols" in symbols.reason
    bad = assess_trained("khop", {"k": 2}, 32, 700, 1000, GPT2)
    assert not bad.applies and bad.reason.startswith("eps+ = ") and "1/2" in bad.reason


def test_cli_evaluate_states_the_bound_per_row(tmp_path, capsys):
    from commlb.cli.main import main

    main(["evaluate", "--weights", "tests/data/models/gpt2_backbone.pt", "--config",
          "tests/data/models/gpt2_backbone.yaml", "--adapter", "sht24-khop", "--task-option", "k=1..2",
          "--n", "10", "--instances", "30", "--json"])
    data = json.loads(capsys.readouterr().out)
    for row in data["rows"]:
        eb = row["error_bound"]
        assert eb["trials"] == 30 and eb["errors"] == row["wrong_instances"] <= 30
        assert eb["error_upper"] == pytest.approx(clopper_pearson_upper(row["wrong_instances"], 30))
        assert not eb["applies"] and "asymptotic only" in eb["reason"]
    adapter = tmp_path / "index.json"
    adapter.write_text(json.dumps({"name": "fixture-index", "task": "index-lookup", "task_options": {"alphabet": 2},
                                   "tokens": {"offset": 0}, "targets": {"offset": 0}, "score": "last",
                                   "readout": "linear:head"}))
    main(["evaluate", "--weights", "tests/data/models/lstm.pt", "--adapter", str(adapter), "--n", "3",
          "--instances", "40"])
    out = " ".join(capsys.readouterr().out.split())
    assert "error-tolerant bound (" in out and "eps+ =" in out and ("1/2" in out or "one-way" in out)


# ------------------------------------------------------------------ trial distributions
def test_razborov_distribution_at_n_3_matches_its_definition():
    """n = 3, l = 1: disjoint pairs (3/4) are the 6 ordered pairs of distinct singletons,
    1/8 each; meeting pairs (1/4) are ({j}, {j}), 1/12 each.  Seeded chi-square, 8 dof."""
    import numpy as np

    from commlb.bounds.trial_distributions import razborov_sample

    prob, rng = get_problem("disj", n=3), np.random.default_rng(11)
    counts: dict[tuple, int] = {}
    draws = 12000
    for _ in range(draws):
        x, y = razborov_sample(prob, rng)
        assert x.sum() == y.sum() == 1
        counts[(int(x.argmax()), int(y.argmax()))] = counts.get((int(x.argmax()), int(y.argmax())), 0) + 1
    expected = {(a, b): draws * (1 / 12 if a == b else 1 / 8) for a in range(3) for b in range(3)}
    assert set(counts) == set(expected)
    chi2 = sum((counts[k] - e) ** 2 / e for k, e in expected.items())
    assert chi2 < 26.1  # p = 0.001 at 8 degrees of freedom


@pytest.mark.parametrize("n", [7, 10, 16])
def test_razborov_pairs_have_size_l_and_meet_in_at_most_one_element(n):
    import numpy as np

    from commlb.bounds.trial_distributions import razborov_sample

    prob, rng = get_problem("disj", n=n), np.random.default_rng(n)
    ell, meet = (n + 1) // 4, 0
    for _ in range(4000):
        x, y = razborov_sample(prob, rng)
        assert x.sum() == y.sum() == ell and int((x & y).sum()) <= 1
        meet += int((x & y).sum())
    assert abs(meet / 4000 - 0.25) < 0.03  # 0.25 ± 4.4 standard deviations


def test_singleton_distribution_is_index_in_disguise():
    import numpy as np

    from commlb.bounds.trial_distributions import singleton_sample

    prob, rng = get_problem("disj", n=9), np.random.default_rng(3)
    for _ in range(200):
        x, y = singleton_sample(prob, rng)
        assert y.sum() == 1
        assert int(prob.evaluate(x, y)) == 1 - int(x[y.argmax()])


def test_disj_bounds_by_trial_distribution():
    prob = get_problem("disj", n=12)
    one = assess_errors(prob, 4, 1000, senders={"alice"}, bits_alice_to_bob=12, bits_bob_to_alice=0,
                        distribution_name="singleton")
    assert one.applies and one.bound_bits == index_one_way_bits(12, Fraction(one.error_upper))[0]
    assert "singleton" in one.kind and "singleton" in one.distribution
    two = assess_errors(prob, 4, 1000, senders={"alice", "bob"}, bits_alice_to_bob=6, bits_bob_to_alice=6,
                        distribution_name="singleton")
    assert not two.applies and "one-way" in two.reason
    raz = assess_errors(prob, 4, 1000, senders={"alice"}, bits_alice_to_bob=12, bits_bob_to_alice=0,
                        distribution_name="razborov")
    assert not raz.applies and "Razborov" in raz.distribution and "asymptotic only" in raz.reason
    bal = assess_errors(prob, 4, 1000, senders={"alice"}, bits_alice_to_bob=12, bits_bob_to_alice=0)
    assert not bal.applies and "--trial-distribution singleton" in bal.reason


def test_simulate_trial_distribution_is_named_and_used():
    from commlb.cli.simulate import simulate

    base = ["--task", "disjointness", "--model", "rnn", "--n", "8", "--trials", "150", "--json"]
    out = {}
    for dist in ("singleton", "razborov"):
        res = CliRunner().invoke(simulate, [*base, "--trial-distribution", dist], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        out[dist] = json.loads(res.stdout)
        assert out[dist]["trial_distribution"] == dist
    eb = out["singleton"]["error_bound"]
    assert eb["applies"] and eb["bound_bits"] == index_one_way_bits(8, Fraction(eb["error_upper"]))[0]
    assert eb["sent_bits"] == out["singleton"]["bits_alice_to_bob"]
    assert not out["razborov"]["error_bound"]["applies"]
    bad = CliRunner().invoke(simulate, ["--task", "index-lookup", "--model", "rnn", "--n", "8", "--trials", "2",
                                        "--trial-distribution", "razborov"])
    from commlb.errors import InvalidInputError

    assert isinstance(bad.exception, InvalidInputError) and "disj only" in str(bad.exception)


# ------------------------------------------------------------------ EQ under the planted distribution
def test_eq_planted_bound_shape():
    from commlb.bounds.catalogue import eq_planted_bits, eq_public_coin_upper

    for n in (2, 4, 16):
        assert eq_planted_bits(n, Fraction(0))[0] == n  # error 0: all 2^n diagonal rectangles
        last = n
        for k in range(1, 200):
            eps = Fraction(k, 400)
            bits = eq_planted_bits(n, eps)[0]
            assert bits <= last and bits <= eq_public_coin_upper(n, eps)[0]
            last = bits


def _one_way_min_error(n: int, c: int) -> Fraction:
    """The least error under the planted distribution of a one-way c-bit protocol for EQ_n
    (Alice -> Bob, Bob outputs), by enumerating Alice's message functions; Bob's best
    answer for each (message, y) is chosen exactly."""
    from itertools import product

    N = 1 << n
    # mu(x, y) = 1/2 [x = y]/N + 1/2 / N^2
    w = {(x, y): Fraction(1, 2 * N) * (x == y) + Fraction(1, 2 * N * N) for x in range(N) for y in range(N)}
    best = Fraction(1)
    for msg in product(range(1 << c), repeat=N):
        err = Fraction(0)
        for m in range(1 << c):
            xs = [x for x in range(N) if msg[x] == m]
            for y in range(N):
                one = sum(w[x, y] for x in xs if x == y)  # mass where EQ = 1
                zero = sum(w[x, y] for x in xs if x != y)
                err += min(one, zero)
        best = min(best, err)
    return best


@pytest.mark.parametrize("c", [0, 1, 2])
def test_eq_planted_bound_holds_for_every_one_way_protocol_of_n_2(c):
    from commlb.bounds.catalogue import eq_planted_bits

    err = _one_way_min_error(2, c)
    assert eq_planted_bits(2, err)[0] <= c  # the bound at the best error such a protocol reaches


def test_eq_trials_get_the_planted_bound():
    prob = get_problem("eq", n=16)
    a = assess_errors(prob, 0, 2000, senders={"alice"}, bits_alice_to_bob=64, bits_bob_to_alice=0)
    from commlb.bounds.catalogue import eq_planted_bits, eq_public_coin_upper

    bits = eq_planted_bits(16, Fraction(a.error_upper))[0]
    assert a.applies and a.bound_bits == bits and 1 < bits <= eq_public_coin_upper(16, Fraction(a.error_upper))[0]
    assert "planted" in a.kind and a.sent_bits == 64
    loose = assess_errors(prob, 800, 2000, senders={"alice"}, bits_alice_to_bob=64, bits_bob_to_alice=0)
    assert not loose.applies and "0 bits" in loose.reason
