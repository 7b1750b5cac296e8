"""``commlb precompile``: the groups run the kernels the commands call, so their compiled
code is in numba's cache before the first command needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from commlb.cli.main import main

_PROBE = """
import sys
from commlb.kernels._rnn_numba import check_steps_dense, replay_chain_dense
if sys.argv[1] == "yes":
    from commlb.precompile import precompile
    precompile(["rnn"])
print(min(len(replay_chain_dense.signatures), len(check_steps_dense.signatures)))
"""


def _signatures_after(run: bool) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, "yes" if run else "no"], capture_output=True, text=True,
                         timeout=600, check=True)
    return int(out.stdout.split()[-1])


def test_rnn_group_compiles_the_protocol_replay():
    # a fresh process has no compiled signature of the replay pass until something calls it;
    # the rnn group must be that something (simulate with both checks)
    assert _signatures_after(False) == 0
    assert _signatures_after(True) >= 1


def test_cli_lists_each_group_run_in_json(capsys):
    main(["precompile", "--only", "rnn", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert [g["group"] for g in got["groups"]] == ["rnn"]
    assert got["seconds"] >= got["groups"][0]["seconds"] > 0
    # without --bytecode no bytecode is written, only counted
    assert got["bytecode"]["compiled"] == 0 and got["bytecode"]["current"] + got["bytecode"]["missing"] > 0


@pytest.mark.parametrize("bad", ["gpu", "rnn,gpu"])
def test_unknown_group_is_refused(capsys, bad):
    with pytest.raises(SystemExit) as info:
        main(["precompile", "--only", bad])
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "gpu" in lines[0], err


_PROBE_BOUNDS = """
from commlb.kernels.exact import solve
from commlb.precompile import precompile
precompile(["bounds"])
print(len(solve.signatures))
"""


def test_bounds_group_compiles_the_exact_search():
    # the group's 128 x 128 matrices are too large for the exact search, so it runs the
    # search on a small matrix as well; without it a cold cache would skip the search
    out = subprocess.run([sys.executable, "-c", _PROBE_BOUNDS], capture_output=True, text=True, timeout=900,
                         check=True)
    assert int(out.stdout.split()[-1]) >= 1


_COVERAGE = """
import json, sys
from numba.core.registry import CPUDispatcher

from commlb.precompile import precompile


def compiled():
    import gc
    return {(d.py_func.__module__, d.py_func.__qualname__, str(sig)) for d in gc.get_objects()
            if isinstance(d, CPUDispatcher) and d.py_func.__module__.startswith("commlb.")
            for sig in d.signatures}


precompile(["witness"])
before = compiled()
from commlb.cli.main import main
for argv in json.loads(sys.argv[1]):
    main(argv)
print("NEW", json.dumps(sorted(map(list, compiled() - before))))
"""


def test_witness_group_covers_the_witness_command():
    # every kernel signature the witness command calls (the exhaustive RNN search on the
    # compiled backend, as `commlb witness ... --n 24` runs it, at a smaller n) was already
    # compiled or loaded by `commlb precompile --only witness`: nothing new on first use
    argv = [["witness", "--task", "disjointness", "--model", "rnn", "--n", "18", "--hidden", "16", "--precision",
             "16", "--json"],
            ["witness", "--task", "index-lookup", "--model", "rnn", "--n", "14", "--hidden", "2", "--precision",
             "4", "--json"],
            ["witness", "--task", "disjointness", "--model", "rnn", "--n", "18", "--hidden", "16", "--precision",
             "16", "--effective-bits", "--json"]]
    out = subprocess.run([sys.executable, "-c", _COVERAGE, json.dumps(argv)], capture_output=True, text=True,
                         timeout=900, check=True)
    new = json.loads(out.stdout.split("NEW", 1)[1])
    assert new == [], new


_BYTECODE = """
import importlib.util, json, os, sys
import numba
import commlb.kernels.keysort as ks
from commlb.precompile import compile_bytecode

first = compile_bytecode(write=False)
wrote = compile_bytecode()
again = compile_bytecode()
files = [importlib.util.cache_from_source(m.__file__) for m in (numba, ks)]
print(json.dumps({"first": first.__dict__, "wrote": wrote.__dict__, "again": again.__dict__,
                  "exist": [os.path.exists(f) and f.startswith(sys.argv[1]) for f in files]}))
"""


def test_bytecode_is_written_where_python_reads_it(tmp_path):
    # under PYTHONDONTWRITEBYTECODE, with an empty pycache prefix: no module of commlb or
    # numba has bytecode until compile_bytecode writes it, after which all are current
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _BYTECODE, str(tmp_path)], capture_output=True, text=True,
                         timeout=600, check=True, env=env)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    first, wrote, again = got["first"], got["wrote"], got["again"]
    assert first["current"] == 0 and first["missing"] > 100 and first["compiled"] == 0
    assert wrote["compiled"] == first["missing"] and wrote["unwritable"] == 0
    assert again == {"compiled": 0, "current": first["missing"], "missing": 0, "unwritable": 0}
    assert got["exist"] == [True, True]
    # a process started afterwards finds that bytecode current for what it imports
    check = ("import numba, commlb.kernels.keysort; from commlb.precompile import compile_bytecode; "
             "print(compile_bytecode(write=False).missing)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=600, check=True,
                         env=env)
    assert out.stdout.split()[-1] == "0"
