"""Ctrl-C for tests: run a Python script in a subprocess, wait for its first line of
output (the script prints it once its search is running), send SIGINT, and collect what
it prints afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def interrupt_after_first_line(script: str, expect: str = "searching",
                               timeout: float = 60.0) -> tuple[int, str, str, float]:
    """(exit code, stdout after the first line, stderr, seconds from SIGINT to exit)."""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == expect, proc.stderr.read() if proc.stderr else ""
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        waited = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err, waited
