"""A hard time limit on a block of Python code in the current thread
(:func:`time_limit`), for work whose own loops cannot check a clock everywhere (building
a large model, one long protocol run).

When the limit passes, a watchdog thread raises :class:`TimeLimitReached` in the thread
that runs the block, the way Ctrl-C raises :class:`KeyboardInterrupt`: at the next Python
instruction, so compiled code (a numba kernel, one NumPy call) finishes its call first.
Code that survives Ctrl-C survives this.  It works in any thread (Dask runs work in
worker threads, where signals cannot be used) and leaves signal handlers and timers
alone (pytest-timeout's SIGALRM keeps working).

:func:`run_watched` is the other direction: a compiled search that releases the GIL
runs in a worker thread while the calling thread reports progress and turns Ctrl-C into
a stop request the search reads at its next check.

Public API: :func:`time_limit`, :class:`Limit`, :class:`TimeLimitReached`, :func:`run_watched`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["time_limit", "TimeLimitReached", "Limit", "run_watched"]


class TimeLimitReached(BaseException):
    """Raised inside a :func:`time_limit` block when its time is up.  A BaseException,
    like KeyboardInterrupt, so ``except Exception`` in the work does not swallow it."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> int:
    """Ask CPython to raise ``exc`` in the thread (None: withdraw a pending one)."""
    obj = ctypes.py_object(exc) if exc is not None else None
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), obj))


class Limit:
    """The handle :func:`time_limit` yields: :meth:`disarm` lifts the limit for the rest
    of the block (the work that had to fit is done)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phase = "armed"
        self._tid = threading.get_ident()

    def _fire(self) -> None:
        with self._lock:
            if self._phase != "armed":
                return
            self._phase = "fired"
            _raise_in(self._tid, TimeLimitReached)

    def disarm(self) -> None:
        """No exception from now on (one raised already is withdrawn if not yet delivered)."""
        with self._lock:
            fired = self._phase == "fired"
            self._phase = "done"
        if fired:
            _raise_in(self._tid, None)


@contextmanager
def time_limit(seconds: float) -> Iterator[Limit]:
    """Run the block for at most about ``seconds`` (wall clock): past that,
    :class:`TimeLimitReached` is raised inside it and leaves the ``with`` statement.
    ``seconds`` ≤ 0 or infinite: no limit.  When the block ends just as the limit passes,
    the late exception is withdrawn, so nothing is raised after the block."""
    limit = Limit()
    if not seconds or seconds <= 0 or seconds == float("inf"):
        limit._phase = "done"
        yield limit
        return
    timer = threading.Timer(seconds, limit._fire)
    timer.daemon = True
    timer.start()
    try:
        yield limit
    finally:
        timer.cancel()
        # raised but perhaps not delivered yet: withdraw it (a no-op when it was)
        limit.disarm()


def run_watched(work: Callable[[], Any], tell: Callable[[], None], stop: Callable[[], None], *,
                name: str = "commlb-search", every: float = 0.5) -> tuple[Any, bool]:
    """``work()`` (compiled code that releases the GIL) in a worker thread while this
    thread calls ``tell()`` every ``every`` seconds and turns Ctrl-C into ``stop()`` (a
    request the work reads at its next check), then waits for the work to return.
    Returns (what ``work`` returned, whether Ctrl-C stopped it); an exception in the work
    is raised here.

    The wait is on an :class:`threading.Event` set by the worker, not on
    ``Thread.join``: a join interrupted by KeyboardInterrupt can leave CPython reporting
    the thread finished while it still runs (the result was then read before the worker
    wrote it)."""
    out: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            out["result"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            out["exc"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    interrupted = False
    worker.start()
    try:
        last = time.perf_counter()
        while not done.wait(0.1):
            if time.perf_counter() - last >= every:
                last = time.perf_counter()
                tell()
    except KeyboardInterrupt:
        interrupted = True
        stop()
        done.wait()
    if "exc" in out:
        raise out["exc"]
    return out["result"], interrupted
