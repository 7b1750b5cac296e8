"""Your own reductions, tasks and problems everywhere (commlb.plugins): from a file
(``FILE.py:ATTR``) in every command and in ``commlb.run``, and from an installed package
through real ``commlb.plugins`` entry points (a dist-info directory on the path, read by
importlib.metadata in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import commlb
from commlb.errors import CommlbError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/my_reduction.py:REDUCTION"


def _invoke(*args: str):
    from commlb.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "120"})


def _main(*args: str) -> tuple[int, str, str]:
    """The command line in this process, through main() (which turns a user mistake into
    one line on stderr and exit code 2): (exit code, stdout, stderr)."""
    import contextlib
    import io

    from commlb.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "commlb.cli.main", *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, COLUMNS="120", **(env or {})), timeout=300)


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# ------------------------------------------------------------------ a reduction in a file


def test_file_reduction_runs_through_simulate_without_a_task():
    result = _invoke("simulate", "--reduction", EXAMPLE, "--model", "rnn", "--n", "5", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # EQ_5 written as disjointness on 2·5 bits: Alice's 10 tokens, "#", Bob's 10, "="
    assert out["task"] == "disjointness" and out["problem"] == "EQ_5"
    assert len(out["instance"]["tokens"]) == 22
    assert out["correct"] is True and out["protocol_matches_forward"] is True
    # the bound is the reduction's problem's: D->(EQ_5) = 5
    assert out["lower_bound"]["bits"] == 5 and out["lower_bound"]["problem"] == "EQ_5"


def test_file_reduction_default_size_is_its_own():
    out = json.loads(_invoke("simulate", "--reduction", EXAMPLE, "--model", "rnn", "--json").output)
    assert out["n"] == 4  # EqToDisjointness(n=4): its signature's default, not disjointness's default n


def test_file_reduction_with_a_task_that_does_not_match_is_refused():
    code, _, err = _main("simulate", "--task", "equality", "--reduction", EXAMPLE, "--model", "rnn")
    assert code == 2
    assert "targets task disjointness, not equality" in err


def test_file_reduction_witness_finds_a_real_collision():
    result = _invoke("witness", "--reduction", EXAMPLE, "--model", "rnn", "--n", "4", "--hidden", "1",
                     "--precision", "2", "--weights", "random", "--json")
    assert result.exit_code == 0, result.output
    w = json.loads(result.stdout)
    assert w["found"] is True
    # check the witness independently: two Alice inputs, one Bob input, different answers
    prob = commlb.get_problem("eq", n=4)
    x1, x2 = (np.asarray(v) for v in w["alice_inputs"])
    y = np.asarray(w["bob_input"])
    assert not np.array_equal(x1, x2) and w["outputs"][0] == w["outputs"][1]
    assert int(prob.evaluate(x1, y)) != int(prob.evaluate(x2, y))


def test_file_reduction_in_explain():
    result = _invoke("explain", "--task", "disjointness", "--task-option", f"reduction={EXAMPLE}", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["reduction"] == "eq-to-disjointness (example)"
    assert out["problem"] == "eq" and out["n"] == 6


def test_file_reduction_in_sweep():
    result = _invoke("sweep", "--task", "disjointness", "--task-option", f"reduction={EXAMPLE}",
                     "--models", "rnn", "--n", "3,4", "--trials", "2", "--instances", "2", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["problem"], r["n"]) for r in rows] == [("eq", 3), ("eq", 4)]
    assert {r["reduction"] for r in rows} == {"eq-to-disjointness (example)"}
    assert all(r["status"] == "ok" for r in rows)


@pytest.fixture(name="example_module")
def _example_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_reduction_example", ROOT / "examples" / "my_reduction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_takes_a_reduction_object_a_class_and_a_file(example_module):
    by_object = commlb.run(None, "rnn", reduction=example_module.EqToDisjointness(3), x=[1, 0, 1], y=[1, 0, 1],
                           effective=False)
    by_class = commlb.run(None, "rnn", 3, reduction=example_module.EqToDisjointness, x=[1, 0, 1], y=[1, 0, 0],
                          effective=False)
    by_file = commlb.run("disjointness", "rnn", 3, reduction=EXAMPLE, x=[0, 0, 1], y=[0, 0, 1], effective=False)
    assert (by_object.expected, by_class.expected, by_file.expected) == (1, 0, 1)
    for r in (by_object, by_class, by_file):
        assert r.correct and r.setup.problem.label() == "EQ_3"
    task = commlb.get_task("disjointness")
    red = commlb.run(task, "rnn", reduction="disj-to-disjointness", n=4, effective=False)
    assert red.setup.task is not None and red.setup.problem.label() == "DISJ_4"


def test_get_reduction_takes_objects(example_module):
    inst = example_module.EqToDisjointness(3)
    assert commlb.get_reduction(inst) is inst
    built = commlb.get_reduction(example_module.EqToDisjointness, n=2)
    assert built.problem.n == 2
    with pytest.raises(CommlbError, match="not a Reduction"):
        commlb.get_reduction(lambda n: 5, n=2)


# ------------------------------------------------------------------ a task and a problem in a file

TOY = '''
import numpy as np
import commlb
from commlb import ALICE, BOB, PUBLIC, Instance, KnownBound, Problem, Reduction, Task
from commlb.core import BoundKind, InputSpace, TaskDefaults


class Parity2(Problem):
    """PAR_n: the parity of x XOR y (every row differs from its complement only)."""
    name = "par2"
    description = "parity of x XOR y"

    def __init__(self, n=3):
        self.n = n
        self.x_space = InputSpace("bits", n)
        self.y_space = InputSpace("bits", n)

    def evaluate(self, x, y):
        return (np.sum(np.asarray(x), axis=-1) + np.sum(np.asarray(y), axis=-1)) % 2

    def bounds(self):
        return [KnownBound(BoundKind.DETERMINISTIC, "2", "two parities", value=2.0, exact=True)]


class SumParity(Task):
    """Is the number of ones in the sequence odd?"""
    name = "sum-parity"
    output_kind = "binary"
    defaults = TaskDefaults(reduction=None, n=6)

    @property
    def vocab_size(self):
        return 2

    def length(self, n):
        return n

    def generate(self, rng, n):
        return rng.integers(0, 2, size=n)

    def solve(self, tokens):
        return int(np.sum(tokens) % 2)


class ParToSum(Reduction):
    name = "par2-to-sum-parity"

    def __init__(self, n=3):
        self.problem = Parity2(n)
        self.task = SumParity()
        self.owner = np.array([ALICE] * n + [BOB] * n, dtype=np.int8)

    def encode(self, x, y):
        return Instance(np.concatenate([np.asarray(x), np.asarray(y)]).astype(np.int64), self.owner)

    def decode(self, output):
        return int(output)
'''


@pytest.fixture(name="toy_file")
def _toy_file(tmp_path):
    path = tmp_path / "toy_plugin.py"
    path.write_text(TOY)
    return str(path)


def test_problem_from_a_file_in_bounds(toy_file):
    result = _invoke("bounds", "--problem", f"{toy_file}:Parity2", "--n", "3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # parity of x XOR y: a 2-colour checkerboard of rank 2, so D >= log2(2) + 1 = 2 exactly
    assert out["deterministic"]["lower"] == 2


def test_task_from_a_file_in_simulate(toy_file):
    result = _invoke("simulate", "--task", f"{toy_file}:SumParity", "--model", "rnn", "--weights", "random",
                     "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["task"] == "sum-parity" and len(out["instance"]["tokens"]) == 6


def test_task_and_reduction_from_a_file_in_check_reduction(toy_file):
    result = _invoke("check-reduction", f"{toy_file}:ParToSum", "--n", "3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ok"] is True and out["exhaustive"] is True and out["total_pairs"] == 64


# ------------------------------------------------------------------ an installed plugin package

PACKAGE = '''
import numpy as np
import commlb
from commlb import ALICE, BOB, PUBLIC, Instance, Reduction


class ToyEqToDisjointness(Reduction):
    """EQ_n as disjointness on 2n bits (Alice (a, not a), Bob (not b, b))."""
    name = "toy-eq-to-disjointness"
    description = "EQ_n as disjointness on 2n bits, from a plugin package"
    example_params = {"n": 3}

    def __init__(self, n):
        self.problem = commlb.get_problem("eq", n=n)
        self.task = commlb.get_task("disjointness")
        self.owner = np.array([ALICE] * 2 * n + [PUBLIC] + [BOB] * 2 * n + [PUBLIC], dtype=np.int8)

    def encode(self, x, y):
        a, b = np.asarray(x), np.asarray(y)
        return Instance(self.task.assemble(np.concatenate([a, 1 - a]), np.concatenate([1 - b, b])), self.owner)

    def decode(self, output):
        return int(output)
'''


def _install(site: Path, name: str, module_text: str, entry: str) -> None:
    """A package as pip leaves it: the module, and NAME-0.1.dist-info with METADATA and
    entry_points.txt declaring ``entry`` in the group commlb.plugins."""
    (site / f"{name}.py").write_text(module_text)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[commlb.plugins]\n{entry}\n")


def test_installed_plugin_appears_in_list_and_runs(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "commlb_toy_plugin", PACKAGE, "toy = commlb_toy_plugin:ToyEqToDisjointness")
    env = {"PYTHONPATH": str(site)}
    listed = _cli("list", "reductions", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    entry = {e["name"]: e for e in json.loads(listed.stdout)["reductions"]}["toy-eq-to-disjointness"]
    assert entry["problem"] == "eq" and entry["task"] == "disjointness"
    assert "commlb_toy_plugin" in entry["origin"]
    checked = _cli("check-reduction", "toy-eq-to-disjointness", "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["total_pairs"] == 64 and json.loads(checked.stdout)["ok"] is True
    # without the package on the path the name is unknown again: the entry point did it
    assert _cli("check-reduction", "toy-eq-to-disjointness").returncode == 2


def test_installed_plugin_module_registers_by_decorator(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    text = PACKAGE.replace("class ToyEqToDisjointness", "@commlb.registry.register_reduction('toy-eq-dec')\n"
                           "class ToyEqToDisjointness").replace('name = "toy-eq-to-disjointness"',
                                                                 'name = "toy-eq-dec"')
    _install(site, "commlb_toy_dec", "import commlb.registry\n" + text, "toy = commlb_toy_dec")
    listed = _cli("list", "reductions", "--json", env={"PYTHONPATH": str(site)})
    assert listed.returncode == 0, listed.stderr
    names = {e["name"]: e for e in json.loads(listed.stdout)["reductions"]}
    assert "toy-eq-dec" in names and "commlb_toy_dec" in names["toy-eq-dec"]["origin"]


@pytest.mark.parametrize("module_text,entry,needle", [
    ("raise RuntimeError('broken on purpose')\n", "bad = commlb_bad_plugin", "broken on purpose"),
    ("def f(:\n", "bad = commlb_bad_plugin", "SyntaxError"),
    ("X = 1\n", "bad = commlb_bad_plugin:Y", "commlb_bad_plugin"),
    ("X = 1\n", "bad = commlb_bad_plugin:X", "gave a int"),
])
def test_broken_installed_plugin_is_one_line(tmp_path, module_text, entry, needle):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "commlb_bad_plugin", module_text, entry)
    out = _cli("list", "reductions", env={"PYTHONPATH": str(site)})
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert needle in out.stderr


# ------------------------------------------------------------------ bad files, every command


BAD = {
    "syntax.py": ("def R(:\n", "SyntaxError"),
    "raises.py": ("raise ValueError('no import today')\n", "no import today"),
    "wrongtype.py": ("R = 42\n", "not a Reduction"),
    "missing.py": ("S = 1\n", "no attribute 'R'"),
    "factory-raises.py": ("def R(n=4):\n    raise RuntimeError('factory says no')\n", "factory says no"),
}


@pytest.mark.parametrize("fname", sorted(BAD))
@pytest.mark.parametrize("command", [
    ["check-reduction", "{R}"],
    ["simulate", "--reduction", "{R}", "--model", "rnn"],
    ["witness", "--reduction", "{R}", "--model", "rnn"],
    ["explain", "--task", "disjointness", "--task-option", "reduction={R}"],
])
def test_bad_reduction_file_is_one_line_exit_2(tmp_path, fname, command):
    text, needle = BAD[fname]
    path = tmp_path / fname
    path.write_text(textwrap.dedent(text))
    argv = [a.replace("{R}", f"{path}:R") for a in command]
    code, out, err = _main(*argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and not out
    assert needle in lines[0]


# ------------------------------------------------------------------ input formats


def test_list_problems_verbose_states_each_input_format():
    code, out, err = _main("list", "problems", "--verbose", "--n", "5")
    assert code == 0, err
    assert "[i]: an int64 array of length 1 holding Bob's index i in [0, n)" in " ".join(out.split())
    result = _invoke("list", "problems", "--n", "5", "--json")
    entries = {e["name"]: e for e in json.loads(result.stdout)["problems"]}
    for name, e in entries.items():
        problem = commlb.get_problem(name, n=5)
        ex = e["example"]
        # the example is a real pair of the problem, in the format stated: f is its value
        assert int(problem.evaluate(np.asarray(ex["x"]), np.asarray(ex["y"]))) == ex["f"], name
        assert len(ex["x"]) == problem.x_space.length and len(ex["y"]) == problem.y_space.length
        assert set(e["input_format"]) == {"x", "y", "output"}
    assert len(entries["index"]["example"]["y"]) == 1 and "[i]" in entries["index"]["input_format"]["y"]
    assert "f_A" in entries["pc"]["input_format"]["x"]


def test_a_users_problem_gets_a_format_from_its_spaces(toy_file):
    problem = commlb.get_problem(f"{toy_file}:Parity2", n=3)
    fmt = problem.input_format()
    assert fmt["x"] == "n bits: an int64 array of n entries in {0, 1}" and fmt["output"] == "1 or 0"


# ------------------------------------------------------------------ a model family of one's own

FAMILY = '''
from commlb.models.rnn import RNNModel
from commlb.plugins import ModelFamily
from commlb.protocol.rnn import simulate_rnn


class ShadowRNN(RNNModel):
    family = "shadow-rnn"


def random(vocab_size, length, rng, precision, output_kind, num_classes, hidden=4, layers=1):
    base = RNNModel.random(vocab_size, rng, hidden, layers=layers, precision=precision, output_kind=output_kind,
                           num_classes=num_classes, output_positions=(-1,))
    return ShadowRNN(base.params, base.precision, base.config)


FAMILY = ModelFamily("shadow-rnn", simulate_rnn, random, options=("hidden", "layers"), model_class=ShadowRNN)
'''


@pytest.fixture(name="family_file")
def _family_file(tmp_path):
    path = tmp_path / "fam.py"
    path.write_text(FAMILY)
    return f"{path}:FAMILY"


def test_model_family_from_a_file_runs_its_protocol(family_file):
    args = ("simulate", "--task", "disjointness", "--n", "5", "--hidden", "3", "--json")
    mine = json.loads(_invoke(*args, "--model", family_file).stdout)
    rnn = json.loads(_invoke(*args, "--model", "rnn", "--weights", "random").stdout)
    assert mine["model"] == "shadow-rnn" and mine["protocol_matches_forward"] is True
    # the same weights (same seed, same draw) through the same protocol: the same messages
    assert [m["values"] for m in mine["messages"]] == [m["values"] for m in rnn["messages"]]
    assert mine["total_bits"] == rnn["total_bits"] == 3 * 16
    assert mine["lower_bound"]["bits"] == 5


def test_model_family_from_a_file_in_witness_and_run(family_file):
    w = json.loads(_invoke("witness", "--task", "disjointness", "--model", family_file, "--n", "4", "--hidden", "1",
                           "--precision", "2", "--json").stdout)
    assert w["found"] and w["model"] == "shadow-rnn"
    prob = commlb.get_problem("disj", n=4)
    x1, x2 = (np.asarray(v) for v in w["alice_inputs"])
    assert int(prob.evaluate(x1, np.asarray(w["bob_input"]))) != int(prob.evaluate(x2, np.asarray(w["bob_input"])))
    result = commlb.run("disjointness", family_file, 4, hidden=2, effective=False)
    assert result.built.family == "shadow-rnn" and result.protocol_matches_forward


@pytest.mark.parametrize("text,needle", [
    ("FAMILY = 3\n", "not a commlb.plugins.ModelFamily"),
    ("from commlb.plugins import ModelFamily\nFAMILY = ModelFamily('rnn', print, print)\n", "built in"),
    ("from commlb.plugins import ModelFamily\n"
     "def boom(*a, **k):\n    raise RuntimeError('no weights today')\n"
     "FAMILY = ModelFamily('boom', print, boom)\n", "no weights today"),
])
def test_bad_model_family_is_one_line(tmp_path, text, needle):
    path = tmp_path / "badfam.py"
    path.write_text(text)
    code, out, err = _main("simulate", "--task", "disjointness", "--model", f"{path}:FAMILY", "--weights", "random")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1 and needle in err, err


def test_installed_model_family_runs_by_name(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "commlb_shadow", FAMILY, "shadow = commlb_shadow:FAMILY")
    out = _cli("simulate", "--task", "disjointness", "--model", "shadow-rnn", "--n", "4", "--hidden", "2", "--json",
               env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == "shadow-rnn"


def test_sweep_point_with_a_file_family_runs_in_a_fresh_process(family_file):
    """What a Dask worker does: unpickle a point and measure it, with nothing loaded."""
    import pickle

    from commlb.sweep import SweepPoint

    point = SweepPoint("disjointness", "shadow-rnn", 4, 0, 1, 0, {}, {}, 30.0, family_spec=family_file)
    code = ("import pickle, sys; from commlb.sweep import measure_point; "
            "row = measure_point(pickle.loads(sys.stdin.buffer.read())); print(row.model, row.status)")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(point), capture_output=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    # no shadow-rnn construction for disjointness: the row says so (it was resolved, not refused)
    assert out.stdout.decode().split() == ["shadow-rnn", "no-construction"]


def test_readme_states_each_problems_input_format_as_the_code_does():
    text = (ROOT / "README.md").read_text()
    for name in commlb.list_problems():
        f = commlb.get_problem(name, n=4).input_format()
        assert f"| `{name}` | {f['x']} | {f['y']} | {f['output']} |" in text, name
