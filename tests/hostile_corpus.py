"""A corpus of hostile command lines: what ordinary mistakes and a suspicious user type.

Every case names its class (the kind of mistake), the command line, what a clean outcome
is, and the files it needs (built once by :func:`make_fixtures` in a scratch directory;
``{F}`` in an argument is replaced by that directory).

Outcomes:

- ``refuse``: exit 2, exactly one line on stderr, nothing on stdout, no traceback.
- ``clean``: either a success (exit 0, no traceback) or a refusal as above.  For inputs
  that a careful implementation may also simply handle (``list reductions --n 20000``).
- ``ok``: exit 0, no traceback, nothing on stderr but ``note:`` lines (the ASCII-terminal
  cases: the output must be written in the terminal's encoding).
- ``values``: ``bounds --function``: either exit 0 with the matrix's value set equal to
  the true one (computed by the test with Python integers), or a refusal.

Every case must end within 20 s and 3 GB.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any

HUGE = "1000000000"
BIG_DIGITS = "9" * 5000          # above Python's 4300-digit int/str conversion limit
BIG_INT_TEXT = "1" + "0" * 5000


@dataclass
class Case:
    cls: str
    argv: list[str]
    expect: str = "refuse"               # refuse | clean | ok | values
    stdout_path: str | None = None       # e.g. /dev/full
    stdin_path: str = "/dev/null"
    encoding: str | None = None          # stdout encoding of the terminal (ascii)
    env: dict[str, str] = field(default_factory=dict)
    truth: tuple[str, int] | None = None  # (expression, n) for ``values``
    mention: tuple[str, ...] = ()        # the one stderr line must contain each of these
    not_mention: tuple[str, ...] = ()    # ... and none of these
    id: str = ""

    def resolved_argv(self, fixtures: str) -> list[str]:
        return [a.replace("{F}", fixtures) for a in self.argv]


TASKS = ["disjointness", "equality", "index-lookup", "qsa", "khop", "match2", "match3", "dyck22",
         "nearest-neighbor", "function-composition", "qstr", "qstr-simple"]
REDUCTIONS = ["disj-to-disjointness", "disj-to-dyck", "disj-to-match3", "disj-to-qsa", "eq-to-dyck",
              "eq-to-equality", "index-to-composition", "index-to-index-lookup",
              "index-to-nearest-neighbor", "index-to-qsa", "pc-to-khop", "pc-to-khop-blocks"]
PROBLEMS = ["disj", "eq", "ghd", "gt", "index", "ip", "pc"]

# small, valid, quick command lines of every command (for the output-side classes)
VALID = {
    "list": ["list", "problems"],
    "list-json": ["list", "tasks", "--json"],
    "bounds": ["bounds", "--problem", "eq", "--n", "2"],
    "bounds-json": ["bounds", "--problem", "disj", "--n", "2", "--json"],
    "simulate": ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4"],
    "simulate-json": ["simulate", "--task", "equality", "--model", "rnn", "--n", "4", "--json"],
    "witness": ["witness", "--task", "disjointness", "--model", "rnn", "--n", "4", "--hidden", "1",
                "--precision", "2", "--weights", "random"],
    "explain": ["explain", "--task", "disjointness", "--model", "rnn", "--n", "4"],
    "check-reduction": ["check-reduction", "disj-to-disjointness", "--n", "2"],
    "sweep": ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4", "--trials", "2",
              "--instances", "1"],
    "sweep-csv": ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4", "--trials", "2",
                  "--instances", "1", "--csv", "-"],
}
SEEDED = {  # commands that take --seed
    "simulate": VALID["simulate"], "witness": VALID["witness"], "explain": VALID["explain"],
    "check-reduction": VALID["check-reduction"], "sweep": VALID["sweep"],
}

# expressions for bounds --function: (expression, n)
FUNCTIONS = [
    ("(3**(x+40)) % 7", 3), ("(3**(x+40)) % 7", 2), ("(3**(x+y+40)) % 7", 3),
    ("(x << 100) >> 100", 3), ("(x << 100) % 5", 3), ("x << 100", 3),
    ("max(x, 3, x) - x", 2), ("max(x, 3, x) - x", 3), ("min(x, y, 1)", 3), ("max(x, y, 2, 1)", 3),
    ("(2**64 + x) % 3", 3), ("(x * 2**62 * 4) % 5", 3), ("((x+1) * 2**40 * (y+1) * 2**40) % 11", 3),
    ("(-(2**63)) // -1 % 7 + x * 0", 2), ("abs(-(2**63) + x) % 9", 2), ("(y - 2**63 - 1) % 13", 3),
    ("(7**(x*y+25)) % 10", 3), ("((x+2)**(y+30)) % 17", 3), ("(x**40 + y**40) % 3", 3),
    ("popcount(x << 70) + popcount(y)", 3), ("bit(x << 64, 65) + bit(y, 1)", 3),
    ("parity((x+1) * 2**63)", 2), ("(x + y) % 2", 3), ("x == y", 3), ("x < y", 3),
    ("where(x > y, x, y)", 3), ("(~x) % 4", 3), ("(-x) % 5", 3), ("x ^ y", 2),
    ("(x*2**63 - y*2**63) % 7", 2), ("(2**62 + 2**62 + x) % 5", 3), ("((x+5)**20) % 7", 3),
    ("(x if x > y else y + 2**70) % 3", 3), ("(1 << (x + 62)) % 9", 3), ("(3 * (x + 2**62)) % 11", 3),
    ("(10**30 + x) % 7", 3), ("(10**30) // (10**28 + y)", 3), ("abs(x - y)", 3),
    ("popcount(x)", 3), ("min(x) + y", 2), ("max(x)", 2), ("abs(x, y)", 2), ("popcount(x, y)", 2),
    ("bit(x)", 2), ("bit(x, 1, 2)", 2), ("where(x, y)", 2), ("where(x, y, 1, 2)", 2),
    ("min()", 2), ("9**9**9", 2), ("x ** (10**18)", 2), ("1 << (10**10)", 2), ("x << (2**70)", 2),
    ("(x + 2) ** 100000 % 7", 2), ("2 ** 10**6 % 7", 2),
]


def _function_cases() -> list[Case]:
    out = []
    for expr, n in FUNCTIONS:
        out.append(Case("function-exactness", ["bounds", "--function", expr, "--n", str(n),
                                               "--methods", "rank-real"], expect="values", truth=(expr, n)))
    return out


def _huge_cases() -> list[Case]:
    c: list[Case] = []
    for task in TASKS:
        c.append(Case("huge-size", ["simulate", "--task", task, "--model", "rnn", "--n", HUGE]))
    for task in ("disjointness", "equality", "index-lookup", "qsa", "khop"):
        c.append(Case("huge-size", ["simulate", "--task", task, "--model", "transformer", "--n", HUGE]))
        c.append(Case("huge-size", ["simulate", "--task", task, "--model", "ffn", "--n", HUGE]))
    for task in ("disjointness", "equality", "index-lookup", "qsa", "khop", "dyck22", "match3"):
        c.append(Case("huge-size", ["witness", "--task", task, "--model", "rnn", "--n", HUGE]))
    for task in ("disjointness", "index-lookup", "khop", "match3", "qsa", "nearest-neighbor"):
        c.append(Case("huge-size", ["explain", "--task", task, "--model", "rnn", "--n", HUGE]))
    c.append(Case("huge-size", ["explain", "--task", "disjointness", "--model", "transformer", "--n", HUGE]))
    for red in REDUCTIONS:
        c.append(Case("huge-size", ["check-reduction", red, "--n", HUGE]))
    for what in ("problems", "tasks", "reductions"):
        c.append(Case("huge-size", ["list", what, "--n", "20000"], expect="clean"))
        c.append(Case("huge-size", ["list", what, "--n", HUGE], expect="clean"))
    for prob in PROBLEMS:
        c.append(Case("huge-size", ["bounds", "--problem", prob, "--n", HUGE]))
    c.append(Case("huge-size", ["bounds", "--problem", "eq", "--n", "1000000"]))
    c.append(Case("huge-size", ["bounds", "--problem", "disj", "--n", "100000"]))
    c.append(Case("huge-size", ["bounds", "--function", "x & y", "--n", "1000000"]))
    c.append(Case("huge-size", ["bounds", "--function", "x & y", "--n", "40"]))
    # k-hop: huge k
    for k in ("1000000", "1000000000000000000"):
        c.append(Case("huge-size", ["simulate", "--task", "khop", "--model", "transformer", "--k", k]))
        c.append(Case("huge-size", ["simulate", "--task", "khop", "--model", "rnn", "--k", k, "--n", "8"]))
        c.append(Case("huge-size", ["explain", "--task", "khop", "--k", k]))
        c.append(Case("huge-size", ["check-reduction", "pc-to-khop", "-p", f"k={k}"]))
        c.append(Case("huge-size", ["sweep", "--task", "khop", "--task-option", f"k={k}", "--n", "8"]))
    # trials / budget / instances
    for t in ("1000000000000", "100000000"):
        c.append(Case("huge-size", ["simulate", "--task", "disjointness", "--model", "rnn", "--trials", t]))
        c.append(Case("huge-size", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "8",
                                    "--trials", t, "--max-seconds", "0"]))
    c.append(Case("huge-size", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "8",
                                "--instances", "1000000000", "--max-seconds", "0"]))
    for b in ("1000000000000000", "10000000000", "100000000000s", "1e9s"):
        c.append(Case("huge-size", ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "40",
                                    "--budget", b]))
    c.append(Case("huge-size", ["check-reduction", "disj-to-disjointness", "--n", "30", "--samples",
                                "1000000000000"]))
    c.append(Case("huge-size", ["check-reduction", "disj-to-disjointness", "--n", "14",
                                "--exhaustive-limit", "1000000000000"]))
    # model sizes of random weights
    for opt, val in (("--hidden", "1000000"), ("--hidden", "100000"), ("--layers", "1000000"),
                     ("--heads", "1000000"), ("--width", "1000000000"), ("--precision", "100000"),
                     ("--layers", "100000")):
        model = "rnn" if opt in ("--hidden",) else "transformer"
        c.append(Case("huge-size", ["simulate", "--task", "disjointness", "--model", model, "--weights",
                                    "random", opt, val]))
        c.append(Case("huge-size", ["witness", "--task", "disjointness", "--model", model, "--weights",
                                    "random", "--n", "8", opt, val]))
    c.append(Case("huge-size", ["simulate", "--task", "disjointness", "--model", "ffn", "--weights", "random",
                                "--hidden", "1000000000"]))
    c.append(Case("huge-size", ["simulate", "--task", "disjointness", "--model", "transformer", "--weights",
                                "random", "--heads", "1000", "--width", "1000", "--layers", "1000"]))
    # sweep ranges
    for spec in ("1..60000x1.00000001", "1..1000000+1", "1..4000", "1..100000000x2", "1000000000",
                 "1..60000x1.0000000000000001", "2..3x1.0000001"):
        c.append(Case("huge-size", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", spec]))
    # a trial distribution the problem lacks, or one too small for it
    for task, dist, n in (("index-lookup", "razborov", "8"), ("equality", "singleton", "4"),
                          ("disjointness", "razborov", "2"), ("disjointness", "nope", "8")):
        c.append(Case("bad-value", ["simulate", "--task", task, "--model", "rnn", "--n", n, "--trials", "3",
                                    "--trial-distribution", dist]))
        c.append(Case("bad-value", ["sweep", "--task", task, "--models", "rnn", "--n", n, "--trials", "3",
                                    "--trial-distribution", dist]))
    c.append(Case("bad-value", ["sweep", "--task", "match2", "--models", "rnn", "--n", "8", "--trials", "3",
                                "--trial-distribution", "uniform"]))
    c.append(Case("bad-value", ["precompile", "--only", "witness,nope"]))
    c.append(Case("bad-value", ["precompile", "--bytecode=yes"]))
    return c


def _seed_cases() -> list[Case]:
    c = []
    for argv in SEEDED.values():
        for seed in ("-1", "-9999999999999", "340282366920938463463374607431768211457"):
            c.append(Case("bad-seed", argv + ["--seed", seed], mention=("--seed",)))
        c.append(Case("bad-seed", argv + ["--seed", "1.5"], mention=("--seed",)))
        c.append(Case("bad-seed", argv + ["--seed", BIG_DIGITS], mention=("--seed",)))
    return c


BAD_OUT = ["/nonexistent-dir/out.{ext}", "{F}", "{F}/a-file/out.{ext}", "/proc/version",
           "/dev/full", "{F}/ro-dir/out.{ext}"]


# a command line of each command that draws a picture (--figure FILE)
FIGURE_COMMANDS = [["bounds", "--problem", "eq", "--n", "2"],
                   ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4"],
                   ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "4", "--hidden", "1",
                    "--precision", "3"]]


def _figure_cases() -> list[Case]:
    """--figure / --tree-figure: a suffix that is not .png, .svg or .pdf, a picture too
    large to draw, a tree picture without the protocol tree, options that exclude it."""
    c = []
    for argv in FIGURE_COMMANDS:
        for name in ("{F}/out.xyz", "{F}/out", "{F}/out.PNG.txt", "{F}/out.jpg", "", "-"):
            c.append(Case("bad-figure", argv + ["--figure", name], mention=("--figure",)))
    bounds = FIGURE_COMMANDS[0]
    c += [
        Case("bad-figure", bounds + ["--tree-figure", "{F}/tree.gif"], mention=("--tree-figure",)),
        Case("bad-figure", ["bounds", "--problem", "ip", "--n", "7", "--figure", "{F}/big.png"],
             mention=("--figure", "64 x 64")),
        Case("bad-figure", ["bounds", "--problem", "disj", "--n", HUGE, "--figure", "{F}/big.png"]),
        Case("bad-figure", bounds + ["--methods", "rank-gf2", "--tree-figure", "{F}/t.png"],
             mention=("--tree-figure", "exact")),
        Case("bad-figure", ["bounds", "--problem", "ip", "--n", "6", "--tree-figure", "{F}/t.png"],
             mention=("--tree-figure",)),
        Case("bad-figure", bounds + ["--error", "0.1", "--tree-figure", "{F}/t.png"], mention=("--tree-figure",)),
        Case("bad-figure", FIGURE_COMMANDS[2] + ["--effective-bits", "--figure", "{F}/w.png"],
             mention=("--figure",)),
        Case("bad-figure", ["simulate", "--weights", os.path.join(DATA, "gpt2_hf"), "--adapter",
                            os.path.join(DATA, "khop_lm_adapter.toml"), "--n", "8", "--figure", "{F}/t.png"],
             mention=("--figure",)),
    ]
    return c


def _output_path_cases() -> list[Case]:
    c = []
    for p in BAD_OUT:
        # a read-only directory stops everyone but root: there, writing is right too
        expect = "clean" if "ro-dir" in p and os.geteuid() == 0 else "refuse"
        c.append(Case("unwritable-output", ["bounds", "--problem", "eq", "--n", "2", "--certificate",
                                            p.format(F="{F}", ext="json")], expect=expect))
        c.append(Case("unwritable-output", ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4",
                                            "--save-weights", p.format(F="{F}", ext="npz")], expect=expect))
        c.append(Case("unwritable-output", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                            "--trials", "1", "--instances", "1", "--plot",
                                            p.format(F="{F}", ext="png")], expect=expect))
        c.append(Case("unwritable-output", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                            "--trials", "1", "--instances", "1", "--csv",
                                            p.format(F="{F}", ext="csv")], expect=expect))
        for argv in FIGURE_COMMANDS:
            c.append(Case("unwritable-output", argv + ["--figure", p.format(F="{F}", ext="png")], expect=expect,
                          mention=("--figure",)))
        c.append(Case("unwritable-output", FIGURE_COMMANDS[0] + ["--tree-figure", p.format(F="{F}", ext="svg")],
                      expect=expect, mention=("--tree-figure",)))
    c.append(Case("unwritable-output", ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "4",
                                        "--save-weights", "{F}/out.txt"]))
    c.append(Case("unwritable-output", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                        "--trials", "1", "--instances", "1", "--plot", "{F}/out.xyz"]))
    return c


WEIGHT_FILES = ["empty.npz", "badzip.npz", "text.npz", "truncated.npz", "nometa.npz", "meta-notjson.npz",
                "meta-nonutf8.npz", "meta-list.npz", "meta-nofamily.npz", "meta-badfamily.npz",
                "meta-precision-type.npz", "meta-precision-missing.npz", "meta-config-type.npz",
                "meta-config-missing-keys.npz", "params-missing.npz", "params-nan.npz", "params-inf.npz",
                "params-strings.npz", "params-object.npz", "params-shape.npz", "huge-header.npz",
                "meta-2d.npz", "params-huge-int.npz", "directory.npz", "no-such-file.npz",
                "weights.txt", "matrix.npy", "meta-config-size-text.npz", "meta-config-positions-text.npz",
                "meta-config-size-float.npz", "params-scalar.npz"]


def _weights_cases() -> list[Case]:
    c = []
    for f in WEIGHT_FILES:
        c.append(Case("corrupt-weights", ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "8",
                                          "--weights", "{F}/" + f], not_mention=("allow_pickle", "Aborted")))
    for f in ("empty.npz", "badzip.npz", "truncated.npz", "nometa.npz", "meta-badfamily.npz",
              "params-missing.npz", "params-nan.npz", "params-object.npz", "huge-header.npz",
              "params-shape.npz", "meta-config-type.npz"):
        c.append(Case("corrupt-weights", ["witness", "--task", "disjointness", "--model", "rnn", "--n", "8",
                                          "--weights", "{F}/" + f], not_mention=("allow_pickle", "Aborted")))
    # a valid file for the wrong family / wrong task size
    c.append(Case("corrupt-weights", ["simulate", "--task", "disjointness", "--model", "transformer", "--n", "8",
                                      "--weights", "{F}/good-rnn.npz"]))
    c.append(Case("corrupt-weights", ["simulate", "--task", "index-lookup", "--model", "rnn", "--n", "64",
                                      "--weights", "{F}/good-rnn.npz"]))
    return c


MATRIX_FILES = ["nonutf8.txt", "huge-int.txt", "huge-neg.txt", "floats.txt", "ragged.txt", "empty.txt",
                "comments.txt", "corrupt.npy", "object.npy", "3d.npy", "nan.npy", "huge-header.npy",
                "empty-shape.npy", "binary.txt", "bigvalue.txt", "inf.npy", "complex.npy", "strings.npy",
                "bool.npy", "uint64.npy", "huge-int-short.txt", "no-such.txt"]


def _matrix_cases() -> list[Case]:
    c = [Case("bad-matrix-file", ["bounds", "--matrix", "{F}/" + f], not_mention=("allow_pickle",))
         for f in MATRIX_FILES if f != "bool.npy"]
    c.append(Case("bad-matrix-file", ["bounds", "--matrix", "{F}/bool.npy"], expect="clean"))
    c.append(Case("bad-matrix-file", ["bounds", "--matrix", "{F}"]))
    # several matrices (a batch): options that belong to one matrix, and a directory without any
    two = ["bounds", "--matrix", "{F}/bool.npy", "--matrix", "{F}/bool.npy"]
    c.append(Case("bad-matrix-batch", ["bounds", "--matrix", "{F}/no-matrices"], mention=("--matrix",)))
    c.append(Case("bad-matrix-batch", two + ["--figure", "{F}/m.png"], mention=("--figure",)))
    c.append(Case("bad-matrix-batch", two + ["--fooling", "{F}/fractional.json"], mention=("--fooling",)))
    c.append(Case("bad-matrix-batch", two + ["--problem", "eq", "--n", "2"]))
    c.append(Case("bad-matrix-batch", two + ["--matrix", "{F}/3d.npy"]))
    c.append(Case("bad-matrix-batch", ["bounds", "--matrix", "{F}/bool.npy", "--workers", "2"],
                  mention=("--workers",)))
    c.append(Case("bad-matrix-batch", two + ["--scheduler", "tcp://127.0.0.1:1"]))
    c.append(Case("bad-matrix-batch", two + ["--workers", "0"], mention=("--workers",)))
    return c


FOOLING_FILES = ["fractional.json", "fractional-value.json", "huge-int.json", "huge-value.json",
                 "nonutf8.json", "notjson.json", "out-of-range.json", "negative.json", "strings.json",
                 "nested.json", "empty-object.json", "bools.json", "wrong-value.json", "triples.json",
                 "null.json", "empty.json", "number.json", "not-fooling.json", "float-big.json",
                 "nan.json"]


def _fooling_cases() -> list[Case]:
    c = [Case("bad-fooling-file", ["bounds", "--problem", "eq", "--n", "2", "--fooling", "{F}/" + f])
         for f in FOOLING_FILES]
    c.append(Case("bad-fooling-file", ["bounds", "--problem", "eq", "--n", "2", "--fooling", "{F}/nope.json"]))
    return c


def _bignum_cases() -> list[Case]:
    c = []
    for opt in ("--n", "--k", "--q", "--trials", "--hidden", "--layers", "--precision"):
        c.append(Case("huge-number", ["simulate", "--task", "khop", "--model", "rnn", opt, BIG_DIGITS],
                      mention=(opt,)))
    c.append(Case("huge-number", ["bounds", "--problem", "eq", "--n", BIG_DIGITS], mention=("--n",)))
    c.append(Case("huge-number", ["bounds", "--problem", "eq", "--n", "2", "--prime", BIG_DIGITS],
                  mention=("--prime",)))
    c.append(Case("huge-number", ["bounds", "--problem", "eq", "--n", "2", "--time-limit", BIG_DIGITS]))
    c.append(Case("huge-number", ["bounds", "--function", BIG_INT_TEXT + " + x", "--n", "2"]))
    c.append(Case("huge-number", ["bounds", "--function", "10**5000 + x", "--n", "2"]))
    c.append(Case("huge-number", ["bounds", "--function", "x % (10**5000)", "--n", "2"], expect="values",
                  truth=("x % (10**5000)", 2)))
    c.append(Case("huge-number", ["witness", "--task", "index-lookup", "--model", "rnn", "--budget", BIG_DIGITS]))
    c.append(Case("huge-number", ["witness", "--task", "index-lookup", "--model", "rnn", "--n", BIG_DIGITS]))
    c.append(Case("huge-number", ["sweep", "--task", "disjointness", "--n", BIG_DIGITS]))
    c.append(Case("huge-number", ["sweep", "--task", "disjointness", "--n", "1.." + BIG_DIGITS + "x2"]))
    c.append(Case("huge-number", ["sweep", "--task", "khop", "--n", "8", "--task-option", "k=" + BIG_DIGITS]))
    c.append(Case("huge-number", ["explain", "--task", "khop", "--task-option", "k=" + BIG_DIGITS]))
    c.append(Case("huge-number", ["explain", "--task", "disjointness", "--n", BIG_DIGITS]))
    c.append(Case("huge-number", ["check-reduction", "pc-to-khop", "-p", "k=" + BIG_DIGITS]))
    c.append(Case("huge-number", ["check-reduction", "disj-to-disjointness", "--n", BIG_DIGITS]))
    c.append(Case("huge-number", ["check-reduction", "disj-to-disjointness", "-p", "n=" + BIG_DIGITS]))
    c.append(Case("huge-number", ["list", "problems", "--n", BIG_DIGITS]))
    c.append(Case("huge-number", ["bounds", "--matrix", "{F}/huge-int.txt"]))
    c.append(Case("huge-number", ["bounds", "--problem", "eq", "--n", "2", "--fooling", "{F}/huge-int.json"]))
    # an estimate in a refusal that is itself a number of more than 4300 digits
    c.append(Case("huge-number", ["bounds", "--problem", "eq", "--n", "20000"]))
    c.append(Case("huge-number", ["check-reduction", "disj-to-disjointness", "--n", "20000", "--samples", "50"],
                  expect="clean"))
    c.append(Case("huge-number", ["witness", "--task", "disjointness", "--model", "rnn", "--n", "20000"]))
    c.append(Case("huge-number", ["simulate", "--task", "khop", "--model", "rnn", "--n", "100000", "--k", "1000"]))
    return c


def _task_option_cases() -> list[Case]:
    c = []
    for cmd in ("sweep", "explain"):
        base = (["sweep", "--task", "khop", "--models", "rnn", "--n", "4", "--trials", "1", "--instances", "1"]
                if cmd == "sweep" else ["explain", "--task", "khop"])
        for opt in ("k=abc", "k=1.5", "k=", "=3", "k", "k=-1", "k=0", "k=nan", "k=inf", "k=1e400",
                    "nonsense=1", "alphabet=x", "alphabet=-4", "k=[1]", "k=True"):
            c.append(Case("task-option-type", base + ["--task-option", opt]))
    for opt in ("M=abc", "M=-1", "M=1.5", "M=0"):
        c.append(Case("task-option-type", ["explain", "--task", "match3", "--task-option", opt]))
    c.append(Case("task-option-type", ["explain", "--task", "qsa", "--task-option", "reduction=nope"]))
    c.append(Case("task-option-type", ["explain", "--task", "qsa", "--task-option", "reduction=5"]))
    for p in ("k=abc", "k=1.5", "n=x", "bogus=1", "k=-3", "output=nope", "start=99", "start=-1", "=1"):
        c.append(Case("task-option-type", ["check-reduction", "pc-to-khop", "-p", p]))
    for opt in ("precision=abc", "precision=1.5", "nonsense=1", "precision=-4", "precision=100000"):
        c.append(Case("task-option-type", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                           "--trials", "1", "--instances", "1", "--model-option", opt]))
    return c


def _execution_cases() -> list[Case]:
    """--workers / --scheduler of the commands that can run on Dask."""
    c = []
    sweep = ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4", "--trials", "1", "--instances", "1"]
    for w in ("0", "-1", "nan", "abc", "1.5", "100000", "99999999999999999999999"):
        c.append(Case("bad-execution", sweep + ["--workers", w], mention=("--workers",)))
    for addr in ("", "not an address", "tcp://127.0.0.1:1", "tcp://256.0.0.1:8786"):
        c.append(Case("bad-execution", sweep + ["--scheduler", addr]))
    c.append(Case("bad-execution", sweep + ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]))
    c.append(Case("bad-execution", sweep, env={"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:1"}))
    for base in (["witness", "--task", "index-lookup", "--model", "rnn", "--n", "4", "--hidden", "1",
                  "--precision", "2"], ["check-reduction", "disj-to-disjointness", "--n", "2"],
                 ["evaluate", "--weights", "tests/data/models/gpt2_hf", "--adapter",
                  "tests/data/models/khop_lm_adapter.toml", "--n", "8", "--instances", "2"]):
        for w in ("0", "abc"):
            c.append(Case("bad-execution", base + ["--workers", w], mention=("--workers",)))
        c.append(Case("bad-execution", base + ["--scheduler", "tcp://127.0.0.1:1"]))
        c.append(Case("bad-execution", base + ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]))
    witness = ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "4", "--hidden", "1", "--precision", "2"]
    for where in ("/nonexistent-dir", "{F}/bool.npy", "/proc", "", "{F}/no-such/deeper"):
        c.append(Case("bad-spill-dir", witness + ["--spill-dir", where], mention=("--spill-dir",)))
        c.append(Case("bad-spill-dir", witness + ["--effective-bits", "--spill-dir", where], mention=("--spill-dir",)))
    c.append(Case("bad-spill-dir", witness + ["--spill-dir", "{F}", "--budget", "100"], mention=("--spill-dir",)))
    c.append(Case("bad-spill-dir", witness + ["--spill-dir", "{F}", "--workers", "0"], mention=("--workers",)))
    return c


def _float_cases() -> list[Case]:
    c = []
    sweep = ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4", "--trials", "1", "--instances", "1"]
    for v in ("nan", "inf", "-1", "-inf", "1e400"):
        c.append(Case("bad-float", sweep + ["--max-seconds", v], mention=("--max-seconds",)))
        c.append(Case("bad-float", ["check-reduction", "disj-to-disjointness", "--n", "2", "--max-seconds", v],
                      mention=("--max-seconds",)))
        c.append(Case("bad-float", ["bounds", "--problem", "eq", "--n", "2", "--time-limit", v],
                      mention=("--time-limit",)))
    c.append(Case("bad-float", ["bounds", "--problem", "eq", "--n", "2", "--time-limit", "0"],
                  mention=("--time-limit",)))
    for b in ("nans", "infs", "-5s", "0s", "-3", "0", "abc", "1.5", "s", "1e400s"):
        c.append(Case("bad-float", ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "8",
                                    "--budget", b], mention=("--budget",)))
    return c


def _methods_cases() -> list[Case]:
    c = []
    for m in (",,,", " , ", "foo", "rank-real,,foo", "RANK-REAL", "rank-real;fooling", "exact,exact,nope"):
        c.append(Case("bad-methods", ["bounds", "--problem", "eq", "--n", "2", "--methods", m],
                      mention=("--methods",)))
    for p in ("4", "1", "0", "-7", "2305843009213693951", "18446744073709551629", "9"):
        c.append(Case("bad-methods", ["bounds", "--problem", "eq", "--n", "2", "--methods", "rank-gfp",
                                      "--prime", p], mention=("--prime",)))
    return c


def _sweep_fail_cases() -> list[Case]:
    c = []
    for extra in (["--model-option", "precision=1"], ["--model-option", "hidden=0"],
                  ["--model-option", "bogus=3"]):
        c.append(Case("sweep-all-fail", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4,8",
                                         "--trials", "1", "--instances", "1"] + extra))
    c.append(Case("sweep-all-fail", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                     "--trials", "1", "--instances", "1", "--json", "--model-option",
                                     "precision=1"]))
    c.append(Case("sweep-all-fail", ["sweep", "--task", "disjointness", "--models", "rnn", "--n", "4",
                                     "--trials", "1", "--instances", "1", "--csv", "-", "--model-option",
                                     "precision=1"]))
    return c


def _unclear_cases() -> list[Case]:
    c = []
    c.append(Case("unclear-message", ["explain", "--problem", "ip", "--error", "0.1", "--precision", "3"],
                  mention=("--precision",)))  # explain's model options apply to --task only
    c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--k", "3"], mention=("--k",)))
    c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--precision", "3"],
                  mention=("--precision",)))
    c.append(Case("unclear-message", ["bounds", "--problem", "eq", "--n", "2", "--seed", "3"], mention=("--seed",)))
    for task in ("disjointness", "equality", "index-lookup", "qsa", "match3"):
        c.append(Case("unclear-message", ["explain", "--task", task, "--k", "3"], mention=("--k",)))
        c.append(Case("unclear-message", ["simulate", "--task", task, "--model", "rnn", "--k", "3"], mention=("--k",)))
    for task in ("disjointness", "index-lookup", "khop"):
        c.append(Case("unclear-message", ["simulate", "--task", task, "--model", "rnn", "--q", "3"], mention=("--q",)))
    for q in ("0", "-1", "1000000000"):
        c.append(Case("unclear-message", ["simulate", "--task", "qsa", "--model", "transformer", "--q", q],
                      mention=("--q",), not_mention=(" n ", "n =", "--n")))
    for n in ("0", "-3"):
        for cmd in (["simulate", "--task", "disjointness", "--model", "rnn"],
                    ["witness", "--task", "disjointness", "--model", "rnn"],
                    ["explain", "--task", "disjointness"], ["check-reduction", "disj-to-disjointness"],
                    ["bounds", "--problem", "eq"], ["list", "problems"]):
            c.append(Case("unclear-message", cmd + ["--n", n], mention=("--n",)))
    c.append(Case("unclear-message", ["bounds", "--matrix", "{F}/object.npy"], not_mention=("allow_pickle",)))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn",
                                      "--weights", "{F}/params-object.npz"], not_mention=("allow_pickle",)))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn",
                                      "--weights", "{F}/matrix.npy"], not_mention=("allow_pickle",)))
    c.append(Case("unclear-message", ["simulate", "--task", "nosuchtask", "--model", "rnn"], mention=("nosuchtask",)))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "lstm"]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--reduction", "nope"]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn",
                                      "--reduction", "eq-to-equality"]))
    c.append(Case("unclear-message", ["bounds", "--problem", "nope", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--problem", "eq", "--function", "x", "--n", "2"]))
    c.append(Case("unclear-message", ["check-reduction", "nope"]))
    c.append(Case("unclear-message", ["check-reduction", "{F}/red-syntax.py:R"]))
    c.append(Case("unclear-message", ["check-reduction", "{F}/red-notred.py:R"]))
    c.append(Case("unclear-message", ["check-reduction", "{F}/red-raises.py:make"]))
    c.append(Case("unclear-message", ["check-reduction", "{F}/nofile.py:R"]))
    # a reduction from a file in every command that takes one: the same one-line refusals
    for bad in ("red-syntax.py:R", "red-notred.py:R", "red-raises.py:make", "red-import-raises.py:R",
                "nofile.py:R", "red-notred.py:NOPE"):
        for cmd in (["simulate", "--model", "rnn", "--reduction"], ["witness", "--model", "rnn", "--reduction"],
                    ["simulate", "--task", "disjointness", "--model", "rnn", "--reduction"]):
            c.append(Case("unclear-message", cmd + ["{F}/" + bad]))
        c.append(Case("unclear-message", ["explain", "--task", "disjointness", "--task-option",
                                          "reduction={F}/" + bad]))
        c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--n", "4", "--task-option",
                                          "reduction={F}/" + bad]))
    # the reduction graph: commlb reduce, chains as reduction names, list --graph
    for argv in (["reduce"], ["reduce", "--from", "nope"], ["reduce", "--from", "disj", "--to", "nope"],
                 ["reduce", "--from", "dyck22"], ["reduce", "--from", "disj", "--max-steps", "0"],
                 ["reduce", "--from", "eq", "--with", "{F}/red-syntax.py:R"],
                 ["reduce", "--from", "eq", "--with", "{F}/red-notred.py:R"],
                 ["reduce", "--from", "eq", "--with", "{F}/red-import-raises.py:R"],
                 ["reduce", "--from", "eq", "--with", "not-a-file"],
                 ["reduce", "--from", "eq", "--to", "dyck22", "--save", "{F}/out.txt"],
                 ["reduce", "--from", "eq", "--to", "dyck22", "--save", "/nonexistent-dir/c.py"],
                 ["reduce", "--from", "eq", "--to", "dyck22", "--n", "0"],
                 ["reduce", "--from", "eq", "--to", "dyck22", "--n", BIG_DIGITS],
                 ["reduce", "--from", "eq", "--to", "dyck22", "--n", "100000000000"],
                 ["check-reduction", "eq-to-disj"], ["check-reduction", "eq-to-disj+"], ["check-reduction", "+"],
                 ["check-reduction", "eq-to-disj+nope"], ["check-reduction", "index-to-disj+eq-to-equality"],
                 ["check-reduction", "eq-to-disj+{F}/red-syntax.py:R"],
                 ["simulate", "--model", "rnn", "--reduction", "eq-to-disj+disj-to-qsa+disj-to-dyck"],
                 ["list", "reductions", "--graph", "{F}/g.txt"], ["list", "problems", "--graph", "{F}/g.svg"],
                 ["list", "reductions", "--graph", "/nonexistent-dir/g.svg"]):
        c.append(Case("unclear-message", argv))
    # a model family from a file
    for bad in ("red-syntax.py:R", "red-notred.py:R", "red-import-raises.py:R", "nofile.py:R"):
        c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "{F}/" + bad]))
        c.append(Case("unclear-message", ["witness", "--task", "disjointness", "--model", "{F}/" + bad]))
        c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--n", "4", "--models",
                                          "rnn,{F}/" + bad]))
    c.append(Case("unclear-message", ["explain", "--task", "disjointness", "--model", "{F}/red-notred.py:R"]))
    c.append(Case("unclear-message", ["simulate", "--task", "{F}/red-syntax.py:T", "--model", "rnn"]))
    c.append(Case("unclear-message", ["simulate", "--task", "{F}/red-notred.py:R", "--model", "rnn"]))
    c.append(Case("unclear-message", ["bounds", "--problem", "{F}/red-notred.py:R", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--problem", "{F}/red-import-raises.py:P", "--n", "2"]))
    c.append(Case("unclear-message", ["check-reduction", "disj-to-disjointness", "--samples", "0"]))
    c.append(Case("unclear-message", ["check-reduction", "disj-to-disjointness", "--exhaustive-limit", "-1"]))
    c.append(Case("unclear-message", ["explain", "--task", "nope"]))
    c.append(Case("unclear-message", ["explain", "--task", "disjointness", "--model", "lstm"]))
    c.append(Case("unclear-message", ["witness", "--task", "disjointness", "--model", "rnn", "--split", "zzz"]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--split", "prefix:x"]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--split", "prefix:-1"]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--split",
                                      "prefix:" + BIG_DIGITS]))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--split", "ABQ"]))
    for models in (",,,", "lstm", "rnn,,lstm", ""):
        c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--models", models],
                      mention=("--models",)))
    for spec in ("", ",", "a..b", "5..1", "1..10x1", "1..10x0", "1..10xnan", "1..10xinf", "1..10+0",
                 "1..10+-1", "0", "-4", "1.5", "1..10x-2"):
        c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--n", spec], mention=("--n",)))
    c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--n", "4", "--trials", "-1"],
                  mention=("--trials",)))
    for v in ("0", "-1"):
        c.append(Case("unclear-message", ["sweep", "--task", "disjointness", "--n", "4", "--instances", v],
                      mention=("--instances",)))
    c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--trials", "-1"]))
    for opt in ("--hidden", "--layers", "--heads", "--width", "--precision"):
        for v in ("0", "-2"):
            c.append(Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "transformer",
                                              "--weights", "random", opt, v], mention=(opt,)))
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-raises.py:f", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-float.py:f", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-syntax.py:f", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-divzero.py:f", "--n", "2"]))
    # the user's own numpy code wraps around 2^64 as written: commlb evaluates it faithfully
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-huge.py:f", "--n", "2"], expect="clean"))
    c.append(Case("unclear-message", ["bounds", "--function", "{F}/fn-none.py:f", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x / y", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "__import__('os')", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x +", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x % y", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x.real", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "1.5 * x", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x - 5", "--n", "2"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x", "--n", "-1"]))
    c.append(Case("unclear-message", ["bounds", "--function", "x"]))
    c.append(Case("unclear-message", ["bounds", "--function", "popcount(x - 9)", "--n", "2"]))
    return c


def _stdout_full_cases() -> list[Case]:
    return [Case("stdout-full", argv, stdout_path="/dev/full") for argv in VALID.values()]


def _ascii_cases() -> list[Case]:
    c = []
    for argv in VALID.values():
        c.append(Case("ascii-terminal", argv, expect="ok", encoding="ascii", env={"PYTHONIOENCODING": "ascii"}))
    for argv in (VALID["simulate"], VALID["explain"], VALID["list"], VALID["witness"]):
        c.append(Case("ascii-terminal", argv, expect="ok", encoding="ascii", env={"LANG": "C", "LC_ALL": "C"}))
    # a refusal whose message quotes non-ASCII input
    c.append(Case("ascii-terminal", ["simulate", "--task", "disjöintness→", "--model", "rnn"], encoding="ascii",
                  env={"PYTHONIOENCODING": "ascii"}))
    c.append(Case("ascii-terminal", ["bounds", "--function", "x → y", "--n", "2"], encoding="ascii",
                  env={"PYTHONIOENCODING": "ascii"}))
    return c


def _stdin_cases() -> list[Case]:
    return [
        Case("stdin-eof", ["bounds", "--matrix", "/dev/stdin"]),
        Case("stdin-eof", ["bounds", "--matrix", "-"]),
        Case("stdin-eof", ["bounds", "--problem", "eq", "--n", "2", "--fooling", "/dev/stdin"]),
        Case("stdin-eof", ["bounds", "--problem", "eq", "--n", "2", "--fooling", "-"]),
        Case("stdin-eof", ["simulate", "--task", "disjointness", "--model", "rnn", "--weights", "/dev/stdin"]),
        Case("stdin-eof", ["simulate", "--task", "disjointness", "--model", "rnn", "--weights", "-"]),
        Case("stdin-eof", ["check-reduction", "/dev/stdin:R"]),
        Case("stdin-eof", ["bounds", "--function", "/dev/stdin:f", "--n", "2"]),
        Case("stdin-eof", ["witness", "--task", "disjointness", "--model", "rnn", "--weights", "/dev/stdin"]),
        Case("stdin-eof", ["simulate", "--task", "disjointness", "--model", "rnn", "--weights", "{F}/empty.npz"],
             not_mention=("Aborted",)),
    ]


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "models")


def _evaluate_cases() -> list[Case]:
    """commlb evaluate (trained checkpoints): bad sizes, seeds, outputs and files."""
    hf = os.path.join(DATA, "gpt2_hf")
    adapter = os.path.join(DATA, "khop_lm_adapter.toml")
    if not os.path.isdir(hf):
        return []
    base = ["evaluate", "--weights", hf, "--adapter", adapter]
    c = [
        Case("huge-size", base + ["--n", HUGE, "--instances", "1"]),
        Case("huge-size", base + ["--n", "8", "--instances", "1000000000000"]),
        Case("huge-size", base + ["--n", "8", "--task-option", "k=0..1000000000"]),
        Case("bad-seed", base + ["--n", "8", "--instances", "2", "--seed", "-1"], mention=("--seed",)),
        Case("unclear-message", base + ["--n", "0"], mention=("--n",)),
        Case("unclear-message", base + ["--n", "8", "--instances", "0"], mention=("--instances",)),
        Case("unclear-message", base + ["--n", "8", "--heads", "-1"], mention=("--heads",)),
        Case("task-option-type", base + ["--n", "8", "--instances", "2", "--task-option", "k=abc"]),
        Case("task-option-type", base + ["--n", "8", "--instances", "2", "--task-option", "k"]),
        Case("huge-number", base + ["--n", BIG_DIGITS], mention=("--n",)),
        Case("unwritable-output", base + ["--n", "8", "--instances", "2", "--plot", "/nonexistent-dir/p.png"]),
        Case("unwritable-output", base + ["--n", "8", "--instances", "2", "--plot", "{F}"]),
        Case("stdout-full", base + ["--n", "8", "--instances", "2"], stdout_path="/dev/full"),
        Case("stdout-full", base + ["--n", "8", "--instances", "2", "--json"], stdout_path="/dev/full"),
        Case("ascii-terminal", base + ["--n", "8", "--instances", "2"], expect="ok", encoding="ascii",
             env={"PYTHONIOENCODING": "ascii"}),
        Case("stdin-eof", ["evaluate", "--weights", "/dev/stdin", "--adapter", adapter, "--n", "8"]),
        Case("unclear-message", ["evaluate", "--weights", hf, "--n", "8"]),
        Case("unclear-message", ["evaluate", "--weights", hf, "--adapter", "{F}/notjson.json", "--n", "8"]),
        Case("unclear-message", ["evaluate", "--weights", hf, "--adapter", "nope", "--n", "8"]),
        Case("unclear-message", base + ["--n", "8", "--dtype", "float8"], mention=("--dtype",)),
        Case("corrupt-weights", ["evaluate", "--weights", "{F}/model.safetensors.index.json", "--adapter", adapter,
                                 "--n", "8"], not_mention=("passwd:",)),
        Case("unclear-message", base + ["--n", "8", "--dtype", ""], mention=("--dtype",)),
    ]
    sim = ["simulate", "--weights", hf, "--adapter", adapter]
    c += [
        Case("huge-size", sim + ["--n", HUGE]),
        Case("bad-seed", sim + ["--n", "8", "--seed", "-1"], mention=("--seed",)),
        Case("task-option-type", sim + ["--n", "8", "--task-option", "k=abc"]),
        Case("unclear-message", sim + ["--n", "8", "--split", "prefix:zz"]),
        Case("unclear-message", sim + ["--n", "8", "--dtype", "int8"], mention=("--dtype",)),
        Case("unclear-message", ["simulate", "--task", "disjointness", "--model", "rnn", "--n", "8", "--dtype",
                                 "bfloat16"], mention=("--dtype",)),
        Case("stdout-full", sim + ["--n", "8"], stdout_path="/dev/full"),
        Case("ascii-terminal", sim + ["--n", "8"], expect="ok", encoding="ascii", env={"PYTHONIOENCODING": "ascii"}),
    ]
    for f in ("empty.npz", "badzip.npz", "truncated.npz", "huge-header.npz", "params-object.npz", "good-rnn.npz",
              "directory.npz", "weights.txt", "matrix.npy", "nonutf8.txt"):
        c.append(Case("corrupt-weights", ["evaluate", "--weights", "{F}/" + f, "--adapter", adapter, "--n", "8",
                                          "--instances", "2"], not_mention=("allow_pickle", "Aborted")))
    return c


def _error_bound_cases() -> list[Case]:
    """bounds --error (bounds for protocols that err) and its --distribution file."""
    base = ["bounds", "--problem", "eq", "--n", "2", "--error"]
    c = [Case("bad-float", base + [v], mention=("--error",)) for v in ("nan", "inf", "2", "-1", "1/0", "abc", "0.5")]
    c.append(Case("huge-number", base + [BIG_DIGITS], mention=("--error",)))
    c.append(Case("bad-methods", base + ["0.1", "--methods", ",,,"], mention=("--methods",)))
    c.append(Case("bad-methods", base + ["0.1", "--methods", "nope"]))
    c.append(Case("unwritable-output", base + ["0.1", "--certificate", "/nonexistent-dir/c.json"]))
    c.append(Case("huge-size", ["bounds", "--problem", "disj", "--n", HUGE, "--error", "0.1"]))
    for f in ("nonutf8.txt", "huge-header.npy", "object.npy", "nan.npy", "inf.npy", "empty.txt", "3d.npy",
              "floats.txt", "huge-int.txt", "binary.txt", "nope.npy"):
        c.append(Case("bad-matrix-file", base + ["0.1", "--distribution", "{F}/" + f],
                      not_mention=("allow_pickle",)))
    return c


def _lecture_cases() -> list[Case]:
    """explain's page and pause options: combinations that make no sense, unwritable or
    unsuffixed pages; each one line, before the walk-through runs."""
    base = VALID["explain"]
    c = [Case("explain-page", base + extra) for extra in (
        ["--step", "--json"], ["--step", "--format", "html"], ["--step", "--output", "{F}/p.html"],
        ["--json", "--format", "markdown"], ["--json", "--output", "{F}/p.html"],
        ["--format", "text", "--output", "{F}/p.html"], ["--output", "{F}/p.txt"], ["--output", "-"],
        ["--output", "{F}/no-such-dir/p.html"], ["--format", "pdf"], ["--format", "html", "--output", "{F}"],
        ["--output", ""])]
    c += [Case("explain-page", ["explain", "--problem", "ip", "--error", "0.1", "--step", "--json"])]
    c += [Case("unwritable-output", base + ["--output", p.format(F="{F}", ext="html")],
               expect="clean" if "ro-dir" in p and os.geteuid() == 0 else "refuse") for p in BAD_OUT]
    return c


def _verify_cases() -> list[Case]:
    """--verify: a mode that does not exist, or one the model has not (the segment replay
    is for RNNs): one line each, before any run."""
    sim = ["simulate", "--task", "disjointness", "--n", "4"]
    sweep = ["sweep", "--task", "disjointness", "--n", "4", "--trials", "0"]
    c = [Case("bad-value", sim + ["--model", "rnn", "--verify", v], mention=("--verify",))
         for v in ("bogus", "", "REPLAY", "none", "forward,replay")]
    c += [Case("bad-value", sim + ["--model", m, "--verify", v], mention=("--verify",))
          for m in ("transformer", "ffn") for v in ("replay", "all", "messages")]
    c.append(Case("bad-value", ["simulate", "--weights", os.path.join(DATA, "gpt2_hf"), "--adapter",
                                os.path.join(DATA, "khop_lm_adapter.toml"), "--n", "8", "--verify", "replay"],
                  mention=("--verify",)))
    c += [Case("bad-value", sweep + ["--models", models, "--verify", v], mention=("--verify",))
          for models, v in (("rnn", "bogus"), ("rnn,transformer", "replay"), ("ffn", "all"), ("rnn", "none"),
                            ("rnn,ffn", "messages"),
                            ("transformer,rnn", "all"))]
    return c


def _generic_cases(known: set[str]) -> list[Case]:
    """Commands registered on the CLI that this corpus does not know yet: --help works,
    and an unknown option is one clean line."""
    try:
        from commlb.cli.main import COMMANDS
    except Exception:
        return []
    c = []
    for name in COMMANDS:
        c.append(Case("unknown-option", [name, "--no-such-option"], mention=("--no-such-option",)))
        if name not in known:
            c.append(Case("new-command", [name, "--seed", "-1"]))
            c.append(Case("new-command", [name, "--n", HUGE]))
            c.append(Case("new-command", [name, "--weights", "{F}/empty.npz"]))
            c.append(Case("new-command", [name, "--weights", "{F}/huge-header.npz"]))
    c.append(Case("unknown-option", ["nosuchcommand"]))
    return c


def _no_limit_cases() -> list[Case]:
    """--no-limit lifts commlb's caps, not the machine's memory: absurd sizes are still
    one line; a refusal without it names it; it takes no value."""
    c: list[Case] = []
    for cmd in (["simulate", "--task", "disjointness", "--model", "rnn"], ["witness", "--task", "disjointness",
                "--model", "rnn"], ["explain", "--task", "disjointness"], ["sweep", "--task", "disjointness"],
                ["check-reduction", "disj-to-disjointness"], ["evaluate", "--weights", "{F}/good-rnn.npz",
                                                               "--task", "disjointness"]):
        c.append(Case("no-limit", cmd + ["--no-limit=yes"], mention=("--no-limit",)))
        if cmd[0] != "evaluate":
            c.append(Case("no-limit", cmd + ["--n", HUGE, "--no-limit"], mention=("memory",)))
            c.append(Case("no-limit", cmd + ["--n", HUGE], mention=("--no-limit",)))
    c.append(Case("no-limit", ["simulate", "--task", "khop", "--model", "rnn", "--k", "1000000000000000000",
                               "--n", "8", "--no-limit"]))
    c.append(Case("no-limit", ["sweep", "--task", "khop", "--task-option", "k=1000000", "--n", "8", "--no-limit"]))
    c.append(Case("no-limit", ["simulate", "--task", "disjointness", "--model", "transformer", "--weights", "random",
                               "--width", "1000000000", "--no-limit"], mention=("memory",)))
    c.append(Case("no-limit", ["simulate", "--task", "disjointness", "--model", "rnn", "--weights", "random",
                               "--hidden", "10000000", "--no-limit"], mention=("memory",)))
    c.append(Case("no-limit", ["simulate", "--task", "disjointness", "--model", "rnn", "--trials", "100000000"],
                  mention=("--no-limit",)))
    c.append(Case("no-limit", ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "40", "--budget",
                               "1000000000000000"], mention=("--no-limit",)))
    # check-reduction's time limit is its own option
    c.append(Case("no-limit", ["check-reduction", "disj-to-disjointness", "--n", "30", "--samples", "1000000000000"],
                  mention=("--max-seconds",)))
    return c


def _option_spelling_cases() -> list[Case]:
    """simulate and sweep take both --k / --q and --task-option k= / q=: bad values and
    disagreeing spellings are one line in both."""
    c: list[Case] = []
    base = {"simulate": ["simulate", "--task", "khop", "--model", "rnn"],
            "sweep": ["sweep", "--task", "khop", "--models", "rnn", "--n", "8"]}
    for cmd in base.values():
        for flag in ("--k", "--q"):
            for v in ("0", "-1", "abc", "1.5", "1e999"):
                c.append(Case("option-spelling", cmd + [flag, v], mention=(flag,)))
        for v in ("k=0", "k=abc", "k", "=3", "k=1.5", "k=" + "9" * 60, "zz=3"):
            c.append(Case("option-spelling", cmd + ["--task-option", v], mention=("--task-option",)))
        c.append(Case("option-spelling", cmd + ["--k", "3", "--task-option", "k=4"], mention=("disagree",)))
    c.append(Case("option-spelling", ["simulate", "--task", "disjointness", "--model", "rnn", "--task-option",
                                      "k=3"], mention=("--task-option k=",)))
    c.append(Case("option-spelling", ["simulate", "--task", "disjointness", "--model", "rnn", "--k", "3"],
                  mention=("--k",)))
    c.append(Case("option-spelling", ["simulate", "--task", "disjointness", "--model", "rnn", "--task-option",
                                      "reduction=nope"], mention=("reduction",)))
    return c


def corpus() -> list[Case]:
    cases = (_huge_cases() + _function_cases() + _seed_cases() + _output_path_cases() + _weights_cases()
             + _matrix_cases() + _fooling_cases() + _bignum_cases() + _task_option_cases() + _float_cases()
             + _methods_cases() + _sweep_fail_cases() + _unclear_cases() + _stdout_full_cases()
             + _ascii_cases() + _stdin_cases() + _evaluate_cases() + _error_bound_cases() + _execution_cases()
             + _figure_cases()
             + _no_limit_cases()
             + _option_spelling_cases()
             + _lecture_cases()
             + _verify_cases()
             + _generic_cases({"list", "check-reduction", "simulate", "bounds", "witness", "sweep", "explain",
                               "evaluate"}))
    seen: dict[str, int] = {}
    for case in cases:
        base = f"{case.cls}:{' '.join(case.argv)[:70]}"
        if case.stdout_path:
            base += " >" + case.stdout_path
        if case.env:
            base += " " + ",".join(f"{k}={v}" for k, v in case.env.items())
        seen[base] = seen.get(base, 0) + 1
        case.id = base if seen[base] == 1 else f"{base}#{seen[base]}"
    return cases


# ---------------------------------------------------------------- fixture files


def _npz(path: str, arrays: dict[str, Any]) -> None:
    import numpy as np

    np.savez(path, **arrays)


def _meta(obj: Any) -> Any:
    import numpy as np

    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def make_fixtures(root: str) -> str:
    """Write every file the corpus refers to under ``root``; returns ``root``."""
    import numpy as np

    os.makedirs(root, exist_ok=True)
    p = lambda name: os.path.join(root, name)  # noqa: E731

    # a real weights file, then broken variants of it
    from commlb.simulate import build_model, resolve_task

    setup = resolve_task("disjointness", 8)
    built = build_model(setup, "rnn", weights="random", seed=0)
    built.model.save(p("good-rnn.npz"))
    with np.load(p("good-rnn.npz"), allow_pickle=False) as data:
        good = {k: data[k] for k in data.files}
    meta = json.loads(bytes(good["__meta__"]).decode())
    params = {k: v for k, v in good.items() if k.startswith("param:")}
    first = sorted(params)[0]

    open(p("empty.npz"), "wb").close()
    with open(p("badzip.npz"), "wb") as fh:
        fh.write(b"PK\x03\x04" + b"\x00garbage" * 20)
    with open(p("text.npz"), "w") as fh:
        fh.write("these are not weights\n")
    raw = open(p("good-rnn.npz"), "rb").read()
    with open(p("truncated.npz"), "wb") as fh:
        fh.write(raw[: len(raw) // 2])
    _npz(p("nometa.npz"), params)
    _npz(p("meta-notjson.npz"), {**params, "__meta__": np.frombuffer(b"{not json", dtype=np.uint8)})
    _npz(p("meta-nonutf8.npz"), {**params, "__meta__": np.frombuffer(b"\xff\xfe{\x00}", dtype=np.uint8)})
    _npz(p("meta-list.npz"), {**params, "__meta__": _meta([1, 2, 3])})
    _npz(p("meta-nofamily.npz"), {**params, "__meta__": _meta({k: v for k, v in meta.items() if k != "family"})})
    _npz(p("meta-badfamily.npz"), {**params, "__meta__": _meta({**meta, "family": "lstm"})})
    _npz(p("meta-precision-type.npz"), {**params, "__meta__": _meta({**meta, "precision": {"kind": "fixed",
                                                                                         "bits": "many"}})})
    _npz(p("meta-precision-missing.npz"), {**params, "__meta__": _meta({k: v for k, v in meta.items()
                                                                        if k != "precision"})})
    _npz(p("meta-config-type.npz"), {**params, "__meta__": _meta({**meta, "config": "abc"})})
    _npz(p("meta-config-missing-keys.npz"), {**params, "__meta__": _meta({**meta, "config": {}})})
    _npz(p("meta-2d.npz"), {**params, "__meta__": np.zeros((2, 2), dtype=np.uint8)})
    cfg = meta["config"]
    _npz(p("meta-config-size-text.npz"), {**params, "__meta__": _meta({**meta, "config": {**cfg, "hidden": "8"}})})
    _npz(p("meta-config-positions-text.npz"),
         {**params, "__meta__": _meta({**meta, "config": {**cfg, "output_positions": "last"}})})
    _npz(p("meta-config-size-float.npz"), {**params, "__meta__": _meta({**meta, "config": {**cfg, "layers": 1.5}})})
    scalar = dict(params)
    scalar[first] = np.array(0.5)
    _npz(p("params-scalar.npz"), {**scalar, "__meta__": good["__meta__"]})
    _npz(p("params-missing.npz"), {"__meta__": good["__meta__"]})
    nan = dict(params)
    nan[first] = np.full(params[first].shape, np.nan)
    _npz(p("params-nan.npz"), {**nan, "__meta__": good["__meta__"]})
    inf = dict(params)
    inf[first] = np.full(params[first].shape, np.inf)
    _npz(p("params-inf.npz"), {**inf, "__meta__": good["__meta__"]})
    strs = dict(params)
    strs[first] = np.full(params[first].shape, "w", dtype="<U1")
    _npz(p("params-strings.npz"), {**strs, "__meta__": good["__meta__"]})
    obj = dict(params)
    obj[first] = np.array([{"a": 1}, None], dtype=object)
    np.savez(p("params-object.npz"), **obj, __meta__=good["__meta__"])
    shp = dict(params)
    shp[first] = np.zeros((3, 5, 7))
    _npz(p("params-shape.npz"), {**shp, "__meta__": good["__meta__"]})
    big = dict(params)
    big[first] = np.full(params[first].shape, 2**62, dtype=np.int64)
    _npz(p("params-huge-int.npz"), {**big, "__meta__": good["__meta__"]})
    with zipfile.ZipFile(p("huge-header.npz"), "w") as zf:
        zf.writestr("__meta__.npy", _npy_header((len(good["__meta__"]),), "|u1") + bytes(good["__meta__"]))
        zf.writestr(f"{first}.npy", _npy_header((10**6, 10**6)) + b"\x00" * 64)
        for k in params:
            if k != first:
                buf = __import__("io").BytesIO()
                np.save(buf, params[k])
                zf.writestr(f"{k}.npy", buf.getvalue())
    os.makedirs(p("directory.npz"), exist_ok=True)
    with open(p("weights.txt"), "w") as fh:
        fh.write("1 2 3\n")
    np.save(p("matrix.npy"), np.eye(4, dtype=np.int8))

    # unwritable places
    with open(p("a-file"), "w") as fh:
        fh.write("a file, not a directory\n")
    os.makedirs(p("ro-dir"), exist_ok=True)
    os.chmod(p("ro-dir"), 0o555)

    # matrix files
    with open(p("nonutf8.txt"), "wb") as fh:
        fh.write(b"\xff\xfe1 0\n0 1\n")
    with open(p("huge-int.txt"), "w") as fh:
        fh.write(f"1 {BIG_DIGITS}\n0 1\n")
    with open(p("huge-neg.txt"), "w") as fh:
        fh.write(f"1 -{BIG_DIGITS}\n0 1\n")
    with open(p("huge-int-short.txt"), "w") as fh:
        fh.write(f"1 {2**70}\n0 1\n")
    with open(p("bigvalue.txt"), "w") as fh:
        fh.write("1 40000\n0 1\n")
    with open(p("floats.txt"), "w") as fh:
        fh.write("0.5 1\n1 0\n")
    with open(p("ragged.txt"), "w") as fh:
        fh.write("0 1 1\n1 0\n")
    open(p("empty.txt"), "w").close()
    with open(p("comments.txt"), "w") as fh:
        fh.write("# nothing here\n\n# still nothing\n")
    with open(p("corrupt.npy"), "wb") as fh:
        fh.write(b"\x93NUMPY\x01\x00garbage")
    np.save(p("object.npy"), np.array([[1, None], [0, 1]], dtype=object), allow_pickle=True)
    np.save(p("3d.npy"), np.zeros((2, 2, 2), dtype=np.int8))
    np.save(p("nan.npy"), np.array([[1.0, np.nan], [0.0, 1.0]]))
    np.save(p("inf.npy"), np.array([[1.0, np.inf], [0.0, 1.0]]))
    np.save(p("complex.npy"), np.array([[1 + 1j, 0], [0, 1]]))
    np.save(p("strings.npy"), np.array([["a", "b"], ["c", "d"]]))
    np.save(p("bool.npy"), np.eye(3, dtype=bool))
    os.makedirs(p("no-matrices"), exist_ok=True)
    with open(os.path.join(p("no-matrices"), "readme.md"), "w") as fh:
        fh.write("no matrix here\n")
    np.save(p("uint64.npy"), np.array([[0, 2**64 - 1], [1, 0]], dtype=np.uint64))
    with open(p("huge-header.npy"), "wb") as fh:
        fh.write(_npy_header((10**6, 10**6), "<i8") + b"\x00" * 64)
    np.save(p("empty-shape.npy"), np.zeros((0, 3), dtype=np.int8))
    with open(p("binary.txt"), "wb") as fh:
        fh.write(bytes(range(256)) * 4)

    # fooling-set files (for bounds --problem eq --n 2: a 4 x 4 identity)
    fool = {
        "fractional.json": {"value": 1, "pairs": [[0.5, 0.5], [1.7, 1.2]]},
        "fractional-value.json": {"value": 0.5, "pairs": [[0, 0], [1, 1]]},
        "huge-int.json": None,  # written by hand below
        "huge-value.json": {"value": 10**30, "pairs": [[0, 0], [1, 1]]},
        "out-of-range.json": {"value": 1, "pairs": [[0, 0], [99, 99]]},
        "negative.json": {"value": 1, "pairs": [[0, 0], [-1, -1]]},
        "strings.json": {"value": 1, "pairs": [["a", "b"], [1, 1]]},
        "nested.json": {"value": 1, "pairs": [[[0], [0]], [1, 1]]},
        "empty-object.json": {},
        "bools.json": {"value": 1, "pairs": [[True, False], [False, True]]},
        "wrong-value.json": {"value": 7, "pairs": [[0, 0], [1, 1]]},
        "triples.json": {"value": 1, "pairs": [[0, 0, 0], [1, 1, 1]]},
        "null.json": None,
        "number.json": 42,
        "not-fooling.json": {"value": 0, "pairs": [[0, 1], [0, 2]]},
        "float-big.json": {"value": 1, "pairs": [[1e300, 0], [1, 1]]},
    }
    for name, obj_ in fool.items():
        with open(p(name), "w") as fh:
            if name == "huge-int.json":
                fh.write('{"value": 1, "pairs": [[0, 0], [' + BIG_DIGITS + ', 1]]}')
            else:
                json.dump(obj_, fh)
    with open(p("nonutf8.json"), "wb") as fh:
        fh.write(b'{"value": 1, "pairs": [[0, 0]]}\xff\xfe')
    with open(p("notjson.json"), "w") as fh:
        fh.write("value 1 pairs 0 0\n")
    with open(p("model.safetensors.index.json"), "w") as fh:  # a shard index pointing outside its folder
        json.dump({"weight_map": {"wte.weight": "../../etc/passwd"}}, fh)
    open(p("empty.json"), "w").close()
    with open(p("nan.json"), "w") as fh:
        fh.write('{"value": 1, "pairs": [[NaN, 0], [Infinity, 1]]}')

    # user code
    files = {
        "red-syntax.py": "def R(:\n",
        "red-notred.py": "R = 42\n",
        "red-import-raises.py": "import commlb\nraise ImportError('this plugin is broken')\n",
        "red-raises.py": "def make(n=4):\n    raise RuntimeError('no reduction today')\n",
        "fn-raises.py": "def f(x, y):\n    raise ValueError('broken function')\n",
        "fn-float.py": "def f(x, y):\n    return (x + y) / 3\n",
        "fn-syntax.py": "def f(x, y) return x\n",
        "fn-divzero.py": "import numpy as np\ndef f(x, y):\n    return (x + 1) // (y * 0) + x / (y * 0)\n",
        "fn-huge.py": ("import numpy as np\ndef f(x, y):\n"
                       "    return np.broadcast_to(np.array(2**62, dtype=np.int64), (x.shape[0], y.shape[1])) * 4\n"),
        "fn-none.py": "def f(x, y):\n    return None\n",
    }
    for name, text in files.items():
        with open(p(name), "w") as fh:
            fh.write(text)
    return root
