"""Run many ``commlb`` command lines cheaply: import commlb (and numba, numpy, click,
rich) once, then fork one child per command line.

Each child gets real file descriptors (stdout and stderr go to temporary files, or
stdout to a given path such as ``/dev/full``; stdin is ``/dev/null`` unless given),
``RLIMIT_AS`` of ``memory_bytes``, ``RLIMIT_CPU`` of ``seconds`` (and a wall-clock
``SIGALRM`` at three times that), its own working
directory and environment, and runs ``commlb.cli.main.main(argv)`` exactly as the
console script would, including the interpreter's final flush of stdout (a failure there
exits 120 with Python's "Exception ignored" message).  The parent reads back the exit
code (or the signal that killed the child), the output and the child's peak RSS.

Cold, each command line pays about a second of imports; forked, a case costs a few
milliseconds plus its own work.

    runner = ForkRunner()
    result = runner.run(["bounds", "--problem", "eq", "--n", "3"])
    results = runner.run_many([case1, case2, ...], jobs=2)
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

GiB = 1 << 30

# numba's OpenMP layer refuses to run after fork(); the workqueue layer gives the same
# results and survives it (set before numba is imported).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")


@dataclass
class Job:
    argv: Sequence[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdout_path: str | None = None      # e.g. "/dev/full"; None = a temp file we read back
    stdin_path: str = "/dev/null"
    stdout_encoding: str | None = None  # e.g. "ascii": what PYTHONIOENCODING would give
    seconds: float = 20.0
    memory_bytes: int = 3 * GiB


@dataclass
class Result:
    argv: list[str]
    exit_code: int | None       # None when killed by a signal
    signal: int | None          # the signal that killed the child
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    @property
    def killed_by_time(self) -> bool:
        return self.signal in (signal.SIGALRM, signal.SIGXCPU)

    @property
    def killed_by_memory(self) -> bool:
        return "MemoryError" in self.stderr or self.signal == signal.SIGKILL


def _preload() -> None:
    """Import what every command imports, so that children start warm."""
    import click  # noqa: F401
    import numpy  # noqa: F401
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401

    import commlb  # noqa: F401
    import commlb.cli.main  # noqa: F401

    for name in ("numba", "commlb.simulate", "commlb.sweep", "commlb.witness", "commlb.explain",
                 "commlb.bounds.report", "commlb.bounds.matrix", "commlb.testing.reductions",
                 "commlb.registry"):
        try:
            __import__(name)
        except ImportError:
            pass
    from commlb.cli.main import COMMANDS

    for module_name, _attr, _help in COMMANDS.values():
        try:
            __import__(f"commlb.cli.{module_name}")
        except ImportError:
            pass


def _child(job: Job, out_path: str, err_path: str) -> None:  # pragma: no cover - runs in the fork
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (job.memory_bytes, job.memory_bytes))
        # CPU seconds are the limit (the machine may be shared); wall-clock time is a
        # backstop at three times that for a child that blocks
        cpu = max(1, int(job.seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, 3 * job.seconds)
        fd_in = os.open(job.stdin_path, os.O_RDONLY)
        os.dup2(fd_in, 0)
        fd_out = os.open(job.stdout_path or out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd_out, 1)
        fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd_err, 2)
        for fd in (fd_in, fd_out, fd_err):
            os.close(fd)
        if job.cwd:
            os.chdir(job.cwd)
        os.environ.update(job.env)
        # fresh text streams over the real descriptors, as the interpreter makes them
        enc = job.stdout_encoding or "utf-8"
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=enc)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=enc,
                                      errors="strict", line_buffering=False)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=enc,
                                      errors="backslashreplace", line_buffering=True)
        sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
        sys.argv = ["commlb", *job.argv]
        if os.environ.get("FORKSERVER_DUMP"):  # where a child hangs, just before the backstop
            import faulthandler

            faulthandler.dump_traceback_later(3 * job.seconds - 1, exit=False, file=sys.__stderr__)
        from commlb.cli.main import main

        try:
            main(list(job.argv))
            code = 0
        except SystemExit as exc:
            c = exc.code
            if c is None:
                code = 0
            elif isinstance(c, int):
                code = c
            else:
                sys.stderr.write(f"{c}\n")
                code = 1
        except BaseException:  # what the interpreter does with an uncaught exception
            traceback.print_exc()
            code = 1
        try:
            sys.stdout.flush()
        except BaseException as exc:  # the interpreter's final flush failing
            sys.stderr.write(f"Exception ignored on flushing sys.stdout:\n{type(exc).__name__}: {exc}\n")
            code = 120
        sys.stderr.flush()
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


class ForkRunner:
    """Import once, fork per command line."""

    def __init__(self, preload: bool = True):
        if preload:
            _preload()
        self.scratch = tempfile.mkdtemp(prefix="commlb-fork-")
        self._counter = 0

    def _paths(self) -> tuple[str, str]:
        self._counter += 1
        return (os.path.join(self.scratch, f"{self._counter}.out"),
                os.path.join(self.scratch, f"{self._counter}.err"))

    def _start(self, job: Job) -> tuple[int, str, str, float]:
        out_path, err_path = self._paths()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            _child(job, out_path, err_path)
        return pid, out_path, err_path, time.perf_counter()

    @staticmethod
    def _finish(job: Job, status: int, rusage: Any, out_path: str, err_path: str, t0: float) -> Result:
        seconds = time.perf_counter() - t0
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None

        def read(path: str) -> str:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                os.unlink(path)
            except FileNotFoundError:
                return ""
            return data.decode("utf-8", errors="backslashreplace")

        stdout = "" if job.stdout_path else read(out_path)
        stderr = read(err_path)
        if job.stdout_path:
            try:
                os.unlink(out_path)
            except FileNotFoundError:
                pass
        return Result(list(job.argv), code, sig, stdout, stderr, seconds, rusage.ru_maxrss / 1024)

    def run(self, job: Job | Sequence[str]) -> Result:
        if not isinstance(job, Job):
            job = Job(list(job))
        pid, out_path, err_path, t0 = self._start(job)
        _, status, rusage = os.wait4(pid, 0)
        return self._finish(job, status, rusage, out_path, err_path, t0)

    def run_many(self, jobs: Iterable[Job], workers: int = 2) -> list[Result]:
        """Run the jobs with at most ``workers`` children at a time; results in job order."""
        pending = list(enumerate(jobs))[::-1]
        running: dict[int, tuple[int, Job, str, str, float]] = {}
        results: dict[int, Result] = {}
        while pending or running:
            while pending and len(running) < max(1, workers):
                index, job = pending.pop()
                pid, out_path, err_path, t0 = self._start(job)
                running[pid] = (index, job, out_path, err_path, t0)
            pid, status, rusage = os.wait4(-1, 0)
            if pid not in running:
                continue
            index, job, out_path, err_path, t0 = running.pop(pid)
            results[index] = self._finish(job, status, rusage, out_path, err_path, t0)
        return [results[i] for i in sorted(results)]


def warm(commands: Iterable[Sequence[str]]) -> None:
    """Run small command lines in this process (output discarded) so that numba's cached
    kernels are loaded once, before forking."""
    import contextlib

    from commlb.cli.main import main

    for argv in commands:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main(list(argv))
            except SystemExit:
                pass
            except Exception:  # best effort: the case itself will show the failure
                pass


def serve(warm_commands: list[list[str]]) -> None:  # pragma: no cover - runs in the server
    """The server loop: one JSON :class:`Job` per line on stdin, one JSON
    :class:`Result` per line on stdout."""
    import json
    from dataclasses import asdict

    out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing else may write into the reply channel
    runner = ForkRunner()
    warm(warm_commands)
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        job = Job(**json.loads(line))
        out.write(json.dumps(asdict(runner.run(job))) + "\n")
        out.flush()


class ServerRunner:
    """A fork server in a fresh interpreter: for callers (a pytest worker) whose own
    process has already started threads or numba's OpenMP layer and must not fork."""

    def __init__(self, warm_commands: list[list[str]] | None = None):
        import json
        import subprocess

        env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve",
                                      json.dumps(warm_commands or [])],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if ready.strip() != "ready":
            raise RuntimeError(f"fork server did not start: {ready!r}")

    def run(self, job: Job | Sequence[str]) -> Result:
        import json
        from dataclasses import asdict

        if not isinstance(job, Job):
            job = Job(list(job))
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(asdict(job)) + "\n")
        self.proc.stdin.flush()
        return Result(**json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    import json as _json

    serve(_json.loads(sys.argv[2]) if len(sys.argv) > 2 else [])
elif __name__ == "__main__":  # a quick manual check: python tests/cli_forkserver.py ARGS...
    runner = ForkRunner()
    r = runner.run(sys.argv[1:])
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    print(f"[exit {r.exit_code}, signal {r.signal}, {r.seconds:.2f} s, {r.max_rss_mb:.0f} MB]", file=sys.stderr)
