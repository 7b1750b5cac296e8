"""The CLI under hostile input (tests/hostile_corpus.py): every case ends cleanly within
20 s and 3 GB.  A refusal is exit code 2 with exactly one line on stderr, nothing on
stdout and no traceback; ``bounds --function`` gives the true value set (computed here
with Python integers) or a refusal.

The cases run in forked children of one warm process (tests/cli_forkserver.py), so the
whole corpus costs seconds rather than a cold start per case.

    python tests/test_hostile_cli.py            # summary per class, failures listed
    python tests/test_hostile_cli.py -v         # ... with every failing case's stderr
"""

from __future__ import annotations

import ast
import os
import re
import sys
import tempfile
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cli_forkserver import ForkRunner, Job, Result, ServerRunner, warm  # noqa: E402
from hostile_corpus import Case, corpus, make_fixtures  # noqa: E402

SECONDS = 20.0
MEMORY = 3 << 30
CASES = corpus()

# ------------------------------------------------------------------ the truth, in Python ints


class Unrepresentable(Exception):
    """The expression has no finite small value set (division by zero, a value too large
    to compute, a helper called wrongly): only a refusal is correct."""


_LIMIT_BITS = 1 << 20


def _check_size(v: int) -> int:
    if abs(v).bit_length() > _LIMIT_BITS:
        raise Unrepresentable("value too large")
    return v


def _pow(a: int, b: int) -> int:
    if b < 0:
        raise Unrepresentable("negative exponent")
    if abs(a) > 1 and b * abs(a).bit_length() > _LIMIT_BITS:
        raise Unrepresentable("power too large")
    return a**b


def _lshift(a: int, b: int) -> int:
    if b < 0:
        raise Unrepresentable("negative shift")
    if a and b > _LIMIT_BITS:
        raise Unrepresentable("shift too large")
    return a << b


def _rshift(a: int, b: int) -> int:
    if b < 0:
        raise Unrepresentable("negative shift")
    return a >> b


def _div(a: int, b: int) -> int:
    if b == 0:
        raise Unrepresentable("division by zero")
    return a // b


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise Unrepresentable("modulo by zero")
    return a % b


def _popcount(v: int) -> int:
    if v < 0:
        raise Unrepresentable("popcount of a negative number")
    return bin(v).count("1")


def _arity(name: str, args: list[int], lo: int, hi: int | None) -> None:
    if len(args) < lo or (hi is not None and len(args) > hi):
        raise Unrepresentable(f"{name} with {len(args)} arguments")


_BIN = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: _div, ast.Mod: _mod, ast.Pow: _pow, ast.BitAnd: lambda a, b: a & b,
        ast.BitOr: lambda a, b: a | b, ast.BitXor: lambda a, b: a ^ b, ast.LShift: _lshift,
        ast.RShift: _rshift}
_CMP = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def _helper(name: str, args: list[int]) -> int:
    if name == "popcount":
        _arity(name, args, 1, 1)
        return _popcount(args[0])
    if name == "parity":
        _arity(name, args, 1, 1)
        return _popcount(args[0]) & 1
    if name == "bit":
        _arity(name, args, 2, 2)
        return _rshift(args[0], args[1]) & 1
    if name == "abs":
        _arity(name, args, 1, 1)
        return abs(args[0])
    if name in ("min", "max"):
        _arity(name, args, 2, None)
        return (min if name == "min" else max)(args)
    if name == "where":
        _arity(name, args, 3, 3)
        return args[1] if args[0] else args[2]
    raise Unrepresentable(f"unknown helper {name}")


def py_eval(node: ast.AST, env: dict[str, int]) -> int:
    """The documented meaning of a --function expression, on Python integers."""
    if isinstance(node, ast.Expression):
        return py_eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return _check_size(_BIN[type(node.op)](py_eval(node.left, env), py_eval(node.right, env)))
    if isinstance(node, ast.UnaryOp):
        v = py_eval(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Invert):
            return ~v
        if isinstance(node.op, ast.Not):
            return int(not v)
    if isinstance(node, ast.Compare):
        left = py_eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = py_eval(comp, env)
            if type(op) not in _CMP:
                raise Unrepresentable("comparison")
            if not _CMP[type(op)](left, right):
                return 0
            left = right
        return 1
    if isinstance(node, ast.BoolOp):
        vals = [bool(py_eval(v, env)) for v in node.values]
        return int(all(vals) if isinstance(node.op, ast.And) else any(vals))
    if isinstance(node, ast.IfExp):
        return py_eval(node.body, env) if py_eval(node.test, env) else py_eval(node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _helper(node.func.id, [py_eval(a, env) for a in node.args])
    raise Unrepresentable(f"{type(node).__name__} is not part of the expression language")


def true_values(expr: str, n: int) -> set[int] | None:
    """The value set of the matrix (don't-care -1 left out), or None when only a
    refusal is right (an error anywhere, or a value outside [-1, 32767])."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    values = set()
    try:
        for x in range(1 << n):
            for y in range(1 << n):
                values.add(py_eval(tree, {"x": x, "y": y, "n": n}))
    except Unrepresentable:
        return None
    if any(v < -1 or v > 32767 for v in values):
        return None
    values.discard(-1)
    return values


_VALUES = re.compile(r"matrix, values \{([-\d, ]*)\}")


def printed_values(stdout: str) -> set[int] | None:
    m = _VALUES.search(" ".join(stdout.split()))
    if not m:
        return None
    return {int(v) for v in m.group(1).replace(" ", "").split(",") if v}


# ------------------------------------------------------------------ judging one result


def problems(case: Case, r: Result) -> list[str]:
    """Why the outcome is not clean (empty: clean)."""
    if r.killed_by_time:
        return ["time: killed after 20 s"]
    if r.killed_by_memory:
        return ["memory: over 3 GB"]
    if r.signal is not None:
        return [f"killed by signal {r.signal}"]
    out: list[str] = []
    if "Traceback" in r.stderr or "Traceback" in r.stdout:
        out.append("traceback")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]

    def refusal() -> list[str]:
        why = []
        if r.exit_code != 2:
            why.append(f"exit {r.exit_code}, not 2")
        if len(lines) != 1:
            why.append(f"{len(lines)} lines on stderr, not 1")
        if r.stdout.strip():
            why.append("output on stdout")
        line = lines[0] if lines else ""
        for word in case.mention:
            if word not in line:
                why.append(f"message does not name {word!r}")
        for word in case.not_mention:
            # as a whole option or word: "--n" is not mentioned by "--no-limit"
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", line):
                why.append(f"message mentions {word!r}")
        return why

    if case.expect == "refuse":
        out += refusal()
    elif case.expect == "clean":
        if r.exit_code != 0:
            out += refusal()
    elif case.expect == "ok":
        if r.exit_code != 0:
            out.append(f"exit {r.exit_code}, not 0")
        noise = [ln for ln in lines if not ln.startswith("note:")]
        if noise:
            out.append(f"{len(noise)} lines on stderr")
        if case.encoding == "ascii" and not r.stdout.isascii():
            out.append("non-ASCII output")
    elif case.expect == "values":
        assert case.truth is not None
        expr, n = case.truth
        truth = true_values(expr, n)
        if r.exit_code == 0 and not out:
            got = printed_values(r.stdout)
            if truth is None:
                out.append(f"accepted ({got}); only a refusal is right")
            elif got != truth:
                out.append(f"wrong values: printed {sorted(got) if got is not None else None}, true {sorted(truth)}")
        else:
            out += refusal()
    return out


# ------------------------------------------------------------------ running


_WARM = [
    ["bounds", "--problem", "eq", "--n", "2"],
    ["bounds", "--function", "x & y", "--n", "2", "--methods", "rank-real"],
    ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4"],
    ["explain", "--task", "disjointness", "--model", "rnn", "--n", "4"],
    ["check-reduction", "disj-to-disjointness", "--n", "2"],
]


def job_for(case: Case, fixtures: str, workdir: str) -> Job:
    env = {"COLUMNS": "1000" if case.expect == "values" else "100", "TERM": "dumb", "NO_COLOR": "1"}
    env.update(case.env)
    return Job(case.resolved_argv(fixtures), cwd=workdir, env=env, stdout_path=case.stdout_path,
               stdin_path=case.stdin_path, stdout_encoding=case.encoding, seconds=SECONDS, memory_bytes=MEMORY)


class Harness:
    """The corpus's fixture files and a fork server: forking in this process when it is
    a plain script, else in a fresh server process (a pytest worker has threads and may
    have started numba's OpenMP layer, which must not fork)."""

    def __init__(self, in_process: bool = False) -> None:
        if in_process:
            self.runner: Any = ForkRunner()
            warm(_WARM)
        else:
            self.runner = ServerRunner(_WARM)
        self.root = tempfile.mkdtemp(prefix="commlb-hostile-")
        self.fixtures = make_fixtures(os.path.join(self.root, "F"))
        self.workdir = os.path.join(self.root, "work")
        os.makedirs(self.workdir, exist_ok=True)

    def run(self, case: Case) -> Result:
        return self.runner.run(job_for(case, self.fixtures, self.workdir))

    def run_all(self, cases: list[Case], workers: int = 2) -> list[Result]:
        jobs = [job_for(c, self.fixtures, self.workdir) for c in cases]
        if isinstance(self.runner, ForkRunner):
            return self.runner.run_many(jobs, workers=workers)
        return [self.runner.run(j) for j in jobs]

    def close(self) -> None:
        if isinstance(self.runner, ServerRunner):
            self.runner.close()


@pytest.fixture(scope="module")
def harness() -> Any:
    h = Harness()
    yield h
    h.close()


def test_corpus_size_and_coverage() -> None:
    from commlb.cli.main import COMMANDS

    assert len(CASES) >= 350
    commands = {c.argv[0] for c in CASES}
    assert set(COMMANDS) <= commands


def test_truth_evaluator_knows_the_examples() -> None:
    assert true_values("(3**(x+40)) % 7", 3) == {1, 2, 3, 4, 5, 6}
    assert true_values("max(x, 3, x) - x", 2) == {0, 1, 2, 3}
    assert true_values("x << 100", 3) is None
    assert true_values("(x << 100) >> 100", 3) == set(range(8))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(harness: Harness, case: Case) -> None:
    r = harness.run(case)
    why = problems(case, r)
    assert not why, (f"{' '.join(case.resolved_argv(harness.fixtures))}: {'; '.join(why)}\n"
                     f"exit {r.exit_code}, {r.seconds:.1f} s\nstderr:\n{r.stderr[-2000:]}")


# ------------------------------------------------------------------ summary report


def main(argv: list[str]) -> int:
    import time
    from collections import Counter, OrderedDict

    verbose = "-v" in argv
    only = [a for a in argv if not a.startswith("-")]
    cases = [c for c in CASES if not only or any(o in c.id for o in only)]
    t0 = time.perf_counter()
    h = Harness(in_process=True)
    t1 = time.perf_counter()
    results = h.run_all(cases, workers=int(os.environ.get("HOSTILE_WORKERS", "2")))
    t2 = time.perf_counter()
    per: dict[str, Counter] = OrderedDict()
    failures = []
    kinds: Counter = Counter()
    slowest = sorted(zip(results, cases), key=lambda rc: -rc[0].seconds)[:5]
    for case, r in zip(cases, results):
        why = problems(case, r)
        cnt = per.setdefault(case.cls, Counter())
        cnt["cases"] += 1
        cnt["clean" if not why else "not clean"] += 1
        for w in why:
            kind = w.split(":")[0] if w.startswith(("time", "memory")) else (
                "traceback" if w == "traceback" else "exit code" if w.startswith("exit") else
                "lines" if "lines on stderr" in w else "wrong values" if w.startswith(("wrong values", "accepted"))
                else "message")
            kinds[kind] += 1
        if why:
            failures.append((case, r, why))
    width = max(len(k) for k in per) + 2
    print(f"{'class':<{width}} {'cases':>6} {'clean':>6} {'not clean':>10}")
    for cls, cnt in per.items():
        print(f"{cls:<{width}} {cnt['cases']:>6} {cnt['clean']:>6} {cnt['not clean']:>10}")
    total = sum(c["cases"] for c in per.values())
    clean = sum(c["clean"] for c in per.values())
    print(f"{'total':<{width}} {total:>6} {clean:>6} {total - clean:>10}")
    print("failure kinds: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"set-up {t1 - t0:.1f} s, cases {t2 - t1:.1f} s; slowest: "
          + ", ".join(f"{r.seconds:.1f}s {' '.join(c.argv)[:50]}" for r, c in slowest))
    print(f"largest peak RSS {max(r.max_rss_mb for r in results):.0f} MB")
    for case, r, why in failures:
        print(f"\n[{case.cls}] {' '.join(case.resolved_argv(h.fixtures))[:160]}\n   -> {'; '.join(why)}")
        if verbose:
            tail = r.stderr.strip().splitlines()[-3:]
            for line in tail:
                print(f"      {line[:200]}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
