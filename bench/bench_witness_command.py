"""Benchmark: the whole ``commlb witness`` command against its kernel, side by side.

The command (a fresh process each time, as a user runs it)::

    commlb witness --task disjointness --model rnn --n N --hidden 16 --precision 16

against the kernel of bench/bench_witness.py in this process: all 2^N keys of an RNN with
d = 16, p = 16 fixed, tanh (``commlb.kernels.alice.rnn_keys``, one call, warm), and the
same kernel on the command's own model (the storing RNN construction).  The runs are
interleaved (kernel, command, kernel, ...) so that both see the same load; each line gives
wall and CPU seconds (the command's CPU from its own resource usage) and the command's
peak RSS.  Ratios are of medians.  Goal: the command within 2x the kernel.

``--bytecode``: which compiled bytecode the command finds.  ``env``: as this environment
has it (the default); ``compiled``: the standard library, site-packages and commlb compiled
once into a pycache prefix directory (``PYTHONPYCACHEPREFIX``; what ``pip install``, or
``uv pip install --compile-bytecode``, leaves beside the sources); ``none``: only the
standard library's (an install without compiled bytecode under
``PYTHONDONTWRITEBYTECODE=1``: every run compiles numba, NumPy and commlb from source as
it imports them); ``both``: ``compiled`` and ``none`` interleaved, one row each.  The
prefixes live under ``--pyc-dir``.  ``--cold``: each command run gets an empty
``NUMBA_CACHE_DIR`` (first run after install; add ``--precompile`` to run ``commlb
precompile`` into it first, timed separately).

Run:  .venv/bin/python bench/bench_witness_command.py [--n 24] [--repeat 3] [--bytecode both]
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


def _compile_bytecode(prefix: str, stdlib_only: bool = False) -> None:
    if Path(prefix, ".complete").exists():
        return
    env = dict(os.environ, PYTHONPYCACHEPREFIX=prefix)
    paths = {sysconfig.get_paths()["stdlib"]}
    if not stdlib_only:
        paths |= {sysconfig.get_paths()["purelib"], str(ROOT / "commlb"), str(ROOT / "cli")}
    print(f"compiling bytecode into {prefix} ...", flush=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sorted(paths)], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    Path(prefix, ".complete").touch()


def _bytecode_envs(mode: str, base: dict[str, str], pyc_dir: str) -> dict[str, dict[str, str]]:
    """Row label -> environment of the command runs, for ``--bytecode mode``."""
    if mode == "env":
        what = "none written (PYTHONDONTWRITEBYTECODE set)" if sys.flags.dont_write_bytecode else "as installed"
        return {f"command (bytecode {what})": dict(base)}
    out = {}
    for kind in (("compiled", "none") if mode == "both" else (mode,)):
        prefix = str(Path(pyc_dir, "all" if kind == "compiled" else "stdlib"))
        _compile_bytecode(prefix, stdlib_only=kind == "none")
        label = "command (bytecode compiled)" if kind == "compiled" else "command (no bytecode)"
        out[label] = dict(base, PYTHONPYCACHEPREFIX=prefix, PYTHONDONTWRITEBYTECODE="1")
    return out


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bytecode", default="env", choices=["env", "compiled", "none", "both"],
                    help="which compiled bytecode the command finds (see above)")
    ap.add_argument("--pyc-dir", default=str(Path(tempfile.gettempdir(), "commlb-bench-pyc")),
                    help="where --bytecode compiled/none/both keep their pycache prefixes")
    ap.add_argument("--cold", action="store_true", help="an empty numba cache for every command run")
    ap.add_argument("--precompile", action="store_true", help="with --cold: run `commlb precompile` first")
    ap.add_argument("--before", default="", metavar="DIR",
                    help="also run the command from this source tree (e.g. a checkout of an older commit), "
                         "interleaved, as 'command (DIR)'")
    args = ap.parse_args(argv)
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
    commands = _bytecode_envs(args.bytecode, dict(os.environ), args.pyc_dir)
    before_cmd = [sys.executable, "-c", "from commlb.cli.main import main; main()"] + cmd[1:]
    runs: list[tuple[str, list[str], dict[str, str], str | None]] = []
    for label, env in commands.items():
        runs.append((label, cmd, env, None))
        if args.before:
            prefix = env.get("PYTHONPYCACHEPREFIX")
            if prefix and label.endswith("(bytecode compiled)"):  # its sources compiled as well
                subprocess.run([sys.executable, "-m", "compileall", "-q", args.before],
                               env=dict(os.environ, PYTHONPYCACHEPREFIX=prefix), check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs.append((label.replace("command", f"command {args.before}", 1), before_cmd,
                         dict(env, PYTHONPATH=args.before), args.before))
    print(machine_line())
    print(f"numba threads: {numba.get_num_threads()}; numba cache: "
          + ("empty for each run" + (" + commlb precompile" if args.precompile else "") if args.cold else "warm"))
    print(f"command: {' '.join(['commlb'] + cmd[1:])}")
    if not args.cold:
        for _, argv_, env, cwd in runs:  # warm: the numba cache and the page cache hold everything
            _run(argv_, env, cwd=cwd)
    rows: dict[str, list[tuple[float, float]]] = {"kernel (bench_witness)": [], "kernel (command's model)": []}
    rows.update({label: [] for label, *_ in runs})
    rows["precompile"] = []
    peaks: dict[str, list[int]] = {label: [] for label, *_ in runs}
    loads: list[float] = []
    for _ in range(args.repeat):
        rows["kernel (bench_witness)"].append(_timed(bench_kernel))
        for label, argv_, env, cwd in runs:
            run_env = env
            tmp = None
            if args.cold:
                tmp = tempfile.mkdtemp(prefix="commlb-numba-")
                run_env = dict(env, NUMBA_CACHE_DIR=tmp)
                if args.precompile:
                    w, cpu, _ = _run([exe, "precompile"], run_env)
                    rows["precompile"].append((w, cpu))
            loads.append(os.getloadavg()[0])
            w, cpu, peak = _run(argv_, run_env, cwd=cwd)
            rows[label].append((w, cpu))
            peaks[label].append(peak)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        rows["kernel (command's model)"].append(_timed(own_kernel))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in rows.items() if v}
    ref_w, ref_c = med["kernel (bench_witness)"]
    print(f"\nn = {n}: {N:,} inputs, {args.repeat} interleaved runs (medians; load average "
          f"{min(loads):.1f}-{max(loads):.1f})")
    width = max(len(k) for k in med) + 1
    print(f"  {'':<{width}} {'wall s':>8} {'CPU s':>8} {'wall / kernel':>14} {'CPU / kernel':>13}")
    for k, (w, c) in med.items():
        print(f"  {k:<{width}} {w:8.2f} {c:8.2f} {w / ref_w:13.2f}x {c / ref_c:12.2f}x   "
              + " ".join(f"{x[0]:.2f}" for x in rows[k]))
    for label, values in peaks.items():
        print(f"  {label}: peak RSS {max(values) / 2**20:.0f} MiB ({max(values) / N:.1f} bytes per input, "
              "interpreter and libraries included)")
        verdict = "met" if med[label][0] <= 2 * ref_w else "NOT met"
        print(f"    goal: within 2x the kernel (wall): {med[label][0] / ref_w:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
