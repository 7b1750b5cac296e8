"""``commlb precompile``: the groups run the kernels the commands call, so their compiled
code is in numba's cache before the first command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from commlb.cli.main import main

_PROBE = """
import sys
from commlb.kernels._rnn_numba import replay_chain_dense
if sys.argv[1] == "yes":
    from commlb.precompile import precompile
    precompile(["rnn"])
print(len(replay_chain_dense.signatures))
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
