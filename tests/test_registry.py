"""The registry: the catalogue is complete in a fresh interpreter, whatever is imported
first; keyword mistakes are one line while a TypeError inside a factory is a bug; a new
problem and a new reduction are one module each, and every command sees them; ``import
commlb`` stays light and exposes the entry points lazily."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from commlb import registry
from commlb.errors import InvalidInputError


def _python(code: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def _commlb(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return _python("from commlb.cli.main import main; main()", *args, cwd=cwd)


# ------------------------------------------------------------------ defect 1: import order
def test_problems_defined_beside_reductions_resolve_in_a_fresh_process(tmp_path):
    proc = _python("import commlb; print(repr(commlb.get_problem('pc-perm', n=4))); "
                   "print(repr(commlb.get_problem('index-symbols', n=3)))", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["PermutationPointerChasing(n=4,", "k=2,", "start=0,", "output=vertex)",
                                   "SymbolIndex(n=3)"]


def test_catalogue_does_not_grow_when_more_is_imported(tmp_path):
    """What ``list_problems`` returns first thing in a fresh process is everything any
    package registers (tasks, reductions, simulate, witness imported afterwards)."""
    code = textwrap.dedent("""
        import json, commlb
        first = {"problems": commlb.list_problems(), "tasks": commlb.list_tasks(),
                 "reductions": commlb.list_reductions()}
        import commlb.reductions, commlb.tasks, commlb.simulate, commlb.witness, commlb.sweep, commlb.explain
        import commlb.testing.reductions, commlb.bounds.report
        after = {"problems": commlb.list_problems(), "tasks": commlb.list_tasks(),
                 "reductions": commlb.list_reductions()}
        print(json.dumps([first, after]))
    """)
    proc = _python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, after = json.loads(proc.stdout)
    assert first == after
    assert {"pc-perm", "index-symbols"} <= set(first["problems"])


def test_list_problems_in_a_fresh_process_lists_every_registered_problem(tmp_path):
    import commlb.reductions  # noqa: F401  (everything that could register a problem)
    import commlb.tasks  # noqa: F401

    proc = _commlb("list", "problems", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = [entry["name"] for entry in json.loads(proc.stdout)["problems"]]
    assert sorted(listed) == sorted(registry._PROBLEMS)
    assert {"pc-perm", "index-symbols"} <= set(listed)


def test_bounds_reaches_the_problems_defined_for_reductions(tmp_path):
    """``index-symbols`` is a total function: its certified one-way complexity is
    ⌈log2 #distinct rows⌉ = ⌈log2 3^3⌉ = 5 at n = 3.  ``pc-perm`` is a promise problem
    whose promise (both maps permutations) is a product set: ``bounds`` reaches it and
    gives the bounds of the 3! x 3! matrix inside the promise, instead of "unknown
    problem"."""
    proc = _commlb("bounds", "--problem", "index-symbols", "--n", "3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["one_way"]["alice_to_bob"] == 5
    proc = _commlb("bounds", "--problem", "pc-perm", "--n", "3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (json.loads(proc.stdout)["rows"], json.loads(proc.stdout)["cols"]) == (6, 6)


# ------------------------------------------------------------------ defect 2: TypeError
@pytest.fixture
def fresh_tables(monkeypatch):
    """Registries that a test may add to; restored afterwards."""
    for kind in ("problem", "task", "reduction"):
        registry._load(kind)
    monkeypatch.setattr(registry, "_PROBLEMS", dict(registry._PROBLEMS))
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_REDUCTIONS", dict(registry._REDUCTIONS))


def test_wrong_keyword_is_one_line_naming_what_the_factory_takes():
    with pytest.raises(InvalidInputError, match=r"problem 'pc': .*'size'.*it takes: n, k, start, output"):
        registry.get_problem("pc", n=4, size=4)
    with pytest.raises(InvalidInputError, match=r"problem 'disj': .*'n'"):
        registry.get_problem("disj")


def test_type_error_inside_a_factory_is_a_bug_not_a_wrong_keyword(fresh_tables):
    @registry.register_problem("buggy-factory")
    def buggy(n: int):
        return len(n)  # a bug: TypeError inside the factory

    with pytest.raises(TypeError, match="has no len"):
        registry.get_problem("buggy-factory", n=3)
    with pytest.raises(InvalidInputError):  # a real keyword mistake is still one line
        registry.get_problem("buggy-factory", m=3)


# ------------------------------------------------------------------ a toy problem and reduction
TOY_PROBLEM = '''
"""Parity of x XOR y (a toy problem for the registry test)."""

import numpy as np

from commlb.core import BoundKind, InputSpace, KnownBound
from commlb.problems.base import ProblemBase
from commlb.registry import register_problem


@register_problem("toy-xor-parity")
class XorParity(ProblemBase):
    name = "toy-xor-parity"
    description = "parity of x XOR y"

    def __init__(self, n: int) -> None:
        self.n = int(n)
        self.x_space = InputSpace("bits", self.n)
        self.y_space = InputSpace("bits", self.n)

    def evaluate(self, x, y):
        return (np.sum(np.asarray(x), axis=-1) + np.sum(np.asarray(y), axis=-1)) % 2

    def bounds(self):
        return [KnownBound(BoundKind.DETERMINISTIC, "2", "toy", value=2.0, exact=True)]
'''

TOY_REDUCTION = '''
"""Parity of x XOR y -> equality of one bit (a toy reduction for the registry test)."""

import numpy as np

import commlb
from commlb.core import ALICE, BOB, PUBLIC, Instance, Reduction
from commlb.registry import register_reduction
from commlb.tasks.strings import EQUALS, SEP


@register_reduction("toy-xor-parity-to-equality")
class XorParityToEquality(Reduction):
    name = "toy-xor-parity-to-equality"
    theorem = "toy"
    example_params = {"n": 3}

    def __init__(self, n: int = 3) -> None:
        self.problem = commlb.get_problem("toy-xor-parity", n=n)
        self.task = commlb.get_task("equality")

    def encode(self, x, y):
        tokens = np.array([int(np.sum(x)) % 2, SEP, int(np.sum(y)) % 2, EQUALS], dtype=np.int64)
        return Instance(tokens, np.array([ALICE, PUBLIC, BOB, PUBLIC], dtype=np.int8))

    def decode(self, output):
        return 1 - int(np.asarray(output).reshape(-1)[-1])
'''


def _toy_modules(tmp_path):
    (tmp_path / "problems").mkdir()
    (tmp_path / "reductions").mkdir()
    (tmp_path / "problems" / "toy_xor_parity.py").write_text(TOY_PROBLEM, encoding="utf-8")
    (tmp_path / "reductions" / "toy_xor_parity_to_equality.py").write_text(TOY_REDUCTION, encoding="utf-8")
    return tmp_path / "problems", tmp_path / "reductions"


def test_toy_problem_and_reduction_in_process(tmp_path, fresh_tables, monkeypatch):
    """Import the two modules (nothing else registers them) and run list, bounds and
    check-reduction on them through the CLI."""
    from commlb.cli.main import cli

    problems_dir, reductions_dir = _toy_modules(tmp_path)
    monkeypatch.syspath_prepend(str(problems_dir))
    monkeypatch.syspath_prepend(str(reductions_dir))
    for mod in ("toy_xor_parity", "toy_xor_parity_to_equality"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    __import__("toy_xor_parity")
    __import__("toy_xor_parity_to_equality")
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["list", "problems", "--json"]).output)
    assert "toy-xor-parity" in [e["name"] for e in listed["problems"]]
    listed = json.loads(runner.invoke(cli, ["list", "reductions", "--json"]).output)
    entry = {e["name"]: e for e in listed["reductions"]}["toy-xor-parity-to-equality"]
    assert entry["problem"] == "toy-xor-parity" and entry["task"] == "equality"
    result = runner.invoke(cli, ["bounds", "--problem", "toy-xor-parity", "--n", "3", "--json"])
    assert result.exit_code == 0, result.output
    # the matrix is [[p(x) xor p(y)]]: 4 monochromatic rectangles at least, so D = 2
    assert json.loads(result.output)["deterministic"]["lower"] == 2
    result = runner.invoke(cli, ["check-reduction", "toy-xor-parity-to-equality", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["exhaustive"] is True and report["total_pairs"] == 64


def test_toy_modules_dropped_into_the_packages_need_no_other_edit(tmp_path):
    """In a fresh process the two files, put on the packages' paths, are found by the
    registry on its own (no import statement names them)."""
    problems_dir, reductions_dir = _toy_modules(tmp_path)
    code = textwrap.dedent(f"""
        import sys
        import commlb.problems, commlb.reductions
        commlb.problems.__path__.append({str(problems_dir)!r})
        commlb.reductions.__path__.append({str(reductions_dir)!r})
        from commlb.cli.main import main
        main()
    """)
    proc = _python(code, "list", "problems", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "toy-xor-parity" in [e["name"] for e in json.loads(proc.stdout)["problems"]]
    proc = _python(code, "check-reduction", "toy-xor-parity-to-equality", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    proc = _python(code, "bounds", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "toy-xor-parity" in proc.stdout.replace("\n", "").replace(" ", "")


# ------------------------------------------------------------------ lazy package
def test_import_commlb_is_light_and_exposes_entry_points_lazily(tmp_path):
    code = textwrap.dedent("""
        import json, sys
        import commlb
        heavy = [m for m in ("numba", "scipy", "cvxpy", "matplotlib", "dask", "safetensors",
                             "commlb.simulate", "commlb.witness") if m in sys.modules]
        names = {n: getattr(commlb, n).__module__ for n in
                 ("run", "find_witness", "compute_bounds", "check_reduction", "assert_consistent",
                  "get_problem")}
        print(json.dumps({"heavy": heavy, "names": names, "numba_after": "numba" in sys.modules}))
    """)
    proc = _python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["heavy"] == []
    assert out["names"] == {"run": "commlb.simulate", "find_witness": "commlb.witness.find",
                            "compute_bounds": "commlb.bounds.report", "check_reduction": "commlb.testing.reductions",
                            "assert_consistent": "commlb.testing.consistency", "get_problem": "commlb.registry"}
    assert out["numba_after"] is False
