"""Benchmark: the whole ``commlb witness`` command against its kernel, side by side.

The command (a fresh process each time, as a user runs it)::

    commlb witness --task disjointness --model rnn --n N --hidden 16 --precision 16

against the kernel of bench/bench_witness.py in this process: all 2^N keys of an RNN with
d = 16, p = 16 fixed, tanh (``commlb.kernels.alice.rnn_keys``, one call, warm), and the
same kernel on the command's own model (the storing RNN construction).  The runs are
interleaved (kernel, command, kernel, ...) so that both see the same load; each line gives
wall and CPU seconds (the command's CPU from its own resource usage) and the command's
peak RSS.  Ratios are of medians.  Goal: the command within 2x the kernel.

``--bytecode DIR``: run the command with ``PYTHONPYCACHEPREFIX=DIR``, after compiling the
standard library, site-packages and commlb into DIR once (what ``pip install``, or ``uv pip
install --compile-bytecode``, leaves beside the sources; without bytecode every import
compiles its module from source, e.g. under ``PYTHONDONTWRITEBYTECODE=1`` on a venv
installed without it).  ``--cold``: each command run gets an empty ``NUMBA_CACHE_DIR``
(first run after install; add ``--precompile`` to run ``commlb precompile`` into it first,
timed separately).

Run:  .venv/bin/python bench/bench_witness_command.py [--n 24] [--repeat 3] [--bytecode /tmp/pyc]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _compile_bytecode(prefix: str) -> None:
    if Path(prefix, ".complete").exists():
        return
    env = dict(os.environ, PYTHONPYCACHEPREFIX=prefix)
    paths = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], str(ROOT / "commlb"),
             str(ROOT / "cli")}
    print(f"compiling bytecode into {prefix} ...", flush=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sorted(paths)], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    Path(prefix, ".complete").touch()


def _run(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS bytes) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def _timed(fn):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bytecode", default="", help="pycache prefix directory to compile into and run with")
    ap.add_argument("--cold", action="store_true", help="an empty numba cache for every command run")
    ap.add_argument("--precompile", action="store_true", help="with --cold: run `commlb precompile` first")
    ap.add_argument("--before", default="", metavar="DIR",
                    help="also run the command from this source tree (e.g. a checkout of an older commit), "
                         "interleaved, as 'command (DIR)'")
    args = ap.parse_args()
    if args.cold and args.before:
        ap.error("--before runs warm only")

    import numba
    import numpy as np

    sys.path.insert(0, str(ROOT / "bench"))
    from _harness import machine_line

    from commlb.bits import Precision
    from commlb.kernels import alice as K
    from commlb.models.rnn import RNNModel
    from commlb.setup import resolve_task
    from commlb.witness.find import witness_model
    from commlb.witness.sources import message_source

    n, N = args.n, 1 << args.n
    model = RNNModel.random(2, np.random.default_rng(2026), hidden=16, activation="tanh",
                            precision=Precision.fixed(16))
    arrays = K.RNNArrays.from_model(model)
    level_tokens = np.tile(np.array([[0, 1]]), (n, 1))
    radix = np.full(n, 2)

    def bench_kernel() -> None:
        K.rnn_keys(arrays, level_tokens, radix, 0, N)

    setup = resolve_task("disjointness", n)
    built, _ = witness_model(setup, "rnn", hidden=16, precision=16)
    source = message_source(setup.reduction, built.model, None, backend="numba")

    def own_kernel() -> None:
        source.keys_tree(0, N)

    K.rnn_keys(arrays, level_tokens, radix, 0, 1 << 12)
    source.keys_tree(0, 1 << 12)

    exe = str(Path(sys.executable).with_name("commlb"))
    cmd = [exe, "witness", "--task", "disjointness", "--model", "rnn", "--n", str(n), "--hidden", "16",
           "--precision", "16"]
    env = dict(os.environ)
    if args.bytecode:
        _compile_bytecode(args.bytecode)
        env["PYTHONPYCACHEPREFIX"] = args.bytecode
    mode = (f"bytecode from {args.bytecode}" if args.bytecode else
            "bytecode: " + ("none written (PYTHONDONTWRITEBYTECODE set)" if sys.flags.dont_write_bytecode
                            else "as installed"))
    print(machine_line())
    print(f"numba threads: {numba.get_num_threads()}; {mode}; numba cache: "
          + ("empty for each run" + (" + commlb precompile" if args.precompile else "") if args.cold else "warm"))
    print(f"command: {' '.join(['commlb'] + cmd[1:])}")
    if not args.cold:
        _run(cmd, env)  # warm: the numba cache and the page cache hold everything
    rows: dict[str, list[tuple[float, float]]] = {"kernel (bench_witness)": [], "kernel (command's model)": [],
                                                   "command": [], "precompile": []}
    before_cmd = [sys.executable, "-c", "from commlb.cli.main import main; main()"] + cmd[1:]
    before_env = dict(env, PYTHONPATH=args.before)
    before = f"command ({args.before})"
    if args.before:
        rows[before] = []
        if not args.cold:
            _run(before_cmd, before_env, cwd=args.before)
    peaks: list[int] = []
    loads: list[float] = []
    for _ in range(args.repeat):
        rows["kernel (bench_witness)"].append(_timed(bench_kernel))
        run_env = env
        tmp = None
        if args.cold:
            tmp = tempfile.mkdtemp(prefix="commlb-numba-")
            run_env = dict(env, NUMBA_CACHE_DIR=tmp)
            if args.precompile:
                w, c, _ = _run([exe, "precompile"], run_env)
                rows["precompile"].append((w, c))
        loads.append(os.getloadavg()[0])
        w, c, peak = _run(cmd, run_env)
        rows["command"].append((w, c))
        peaks.append(peak)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        rows["kernel (command's model)"].append(_timed(own_kernel))
        if args.before:
            w, c, _ = _run(before_cmd, before_env, cwd=args.before)
            rows[before].append((w, c))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in rows.items() if v}
    ref_w, ref_c = med["kernel (bench_witness)"]
    print(f"\nn = {n}: {N:,} inputs, {args.repeat} interleaved runs (medians; load average "
          f"{min(loads):.1f}-{max(loads):.1f})")
    print(f"  {'':<26} {'wall s':>8} {'CPU s':>8} {'wall / kernel':>14} {'CPU / kernel':>13}")
    for k, (w, c) in med.items():
        print(f"  {k:<26} {w:8.2f} {c:8.2f} {w / ref_w:13.2f}x {c / ref_c:12.2f}x   "
              + " ".join(f"{x[0]:.2f}" for x in rows[k]))
    print(f"  command peak RSS: {max(peaks) / 2**20:.0f} MiB ({max(peaks) / N:.1f} bytes per input, "
          "interpreter and libraries included)")
    verdict = "met" if med["command"][0] <= 2 * ref_w else "NOT met"
    print(f"  goal: command within 2x the kernel (wall): {med['command'][0] / ref_w:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
