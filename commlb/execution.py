"""Where independent pieces of work run: in this process (the default), on a local Dask
cluster (``--workers N``) or on an existing one (``--scheduler ADDRESS`` or the
environment variable ``DASK_SCHEDULER_ADDRESS``); docs/design.md §9.

A command cuts its work into chunks whose contents (and seeds) are fixed by its inputs,
calls :meth:`Executor.map_chunks` with a top-level (picklable) function, and gets the
results back in chunk order, whichever worker ran which chunk.  Nothing here schedules,
queues or pools: Dask (``dask.distributed``) does, through ``Client.map`` and
``Client.gather``.  Dask is imported only when a cluster is asked for; without it
installed, ``--workers``/``--scheduler`` are refused with one line.

Public API: :class:`Executor`, :func:`make_executor`, :data:`MAX_WORKERS`,
:data:`CONNECT_TIMEOUT`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO, TypeVar

from .errors import InvalidInputError

__all__ = ["Executor", "make_executor", "MAX_WORKERS", "CONNECT_TIMEOUT", "SCHEDULER_ENV"]

T = TypeVar("T")
R = TypeVar("R")

#: most worker processes ``--workers`` starts on this machine
MAX_WORKERS = 256
#: how long a scheduler address may take to answer before it is refused
CONNECT_TIMEOUT = "3s"
#: environment variable naming an existing scheduler (used when --scheduler is not given)
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
_INSTALL_HINT = "install the Dask extra: pip install 'commlb[dask]'"


class Executor:
    """Runs a function over chunks, in process or on a Dask cluster; a context manager
    (leaving it closes the client and any local cluster it started).

    ``kind`` is ``"in-process"``, ``"local-cluster"`` or ``"scheduler"``; ``workers`` the
    number of workers (1 in process); ``address`` the scheduler's address (None in
    process); ``dashboard`` the dashboard's address when one runs.
    """

    def __init__(self, kind: str = "in-process", client: Any = None, cluster: Any = None,
                 workers: int = 1, address: str | None = None, dashboard: str | None = None,
                 task_threads: int = 1):
        self.kind = kind
        self.workers = workers
        #: threads a task's numba kernels run on, on a worker (known for a local cluster)
        self.task_threads = task_threads
        self.address = address
        self.dashboard = dashboard
        self._client = client
        self._cluster = cluster
        self.echo: TextIO | None = None
        self._interrupted: list[bool] = []
        self._previous_handler = _on_interrupt(self._interrupted) if client is not None else None

    @property
    def distributed(self) -> bool:
        return self._client is not None

    def worker_memory(self) -> int | None:
        """The smallest memory limit of the cluster's workers, in bytes (None in process, or
        when a worker has no limit)."""
        if self._client is None:
            return None
        # from the scheduler's own table: scheduler_info() lists only 5 workers by default
        # in some Dask versions
        limits = [int(v or 0) for v in self._client.run_on_scheduler(_memory_limits)]
        return min(limits) if limits and all(limits) else None

    def note(self, text: str) -> None:
        """A line for people about the work on the cluster (an estimate, a size), written
        where the cluster's address was; nothing in process."""
        if self._client is not None and self.echo is not None:
            print(f"dask: {text}", file=self.echo, flush=True)

    def map_chunks(self, fn: Callable[..., R], chunks: Iterable[T],
                   progress: Callable[[R], None] | None = None, shared: tuple[Any, ...] = ()) -> list[R]:
        """``[fn(c, *shared) for c in chunks]``, in chunk order.  ``shared``: arguments every
        call takes (sent to each worker once, not with every chunk).  ``progress`` is called
        with each result as it is finished (in chunk order in process, in completion order
        on a cluster).  An exception raised by ``fn`` on a worker is raised here."""
        items = list(chunks)
        if self._client is None:
            out = []
            for item in items:
                result = fn(item, *shared)
                out.append(result)
                if progress is not None:
                    progress(result)
            return out
        if not items:
            return []
        _send_user_code(shared)
        extra = [[self._client.scatter(value, broadcast=True, hash=False)] * len(items) for value in shared]
        if self._interrupted:
            raise KeyboardInterrupt
        futures = self._client.map(fn, items, *extra, pure=False)
        try:
            return _wait(self._client, futures, progress, self._interrupted)
        except BaseException:
            self._client.cancel(futures)
            raise

    def close(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
        if self._interrupted and exc[0] is None:  # Ctrl-C after the last wait: still an interruption
            raise KeyboardInterrupt

    def describe(self) -> str:
        if self.kind == "in-process":
            return "in process"
        if self.kind == "local-cluster":
            return f"local Dask cluster of {self.workers} worker processes"
        return f"Dask scheduler {self.address} ({self.workers} workers)"


def _memory_limits(dask_scheduler: Any) -> list[int]:
    """The memory limit of every worker (run on the scheduler)."""
    return [ws.memory_limit for ws in dask_scheduler.workers.values()]


def _on_interrupt(interrupted: list[bool]) -> Any:
    """While a cluster is open, Ctrl-C is only noted in ``interrupted``; :func:`_wait`,
    :meth:`Executor.map_chunks` and leaving the executor raise KeyboardInterrupt at their
    next check.  Raised from the handler, it could land inside a garbage-collector
    callback (the scheduler of a local cluster installs one in this process), where
    Python prints it as an ignored exception and goes on.  Returns the previous handler
    (None off the main thread, where nothing is installed)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        interrupted.append(True)

    return signal.signal(signal.SIGINT, handler)


def _wait(client: Any, futures: list[Any], progress: Callable[[Any], None] | None,
          interrupted: list[bool]) -> list[Any]:
    """The futures' results, in their order: each batch of futures that finishes is
    gathered once (reported to ``progress`` one by one) while the rest run; a Ctrl-C noted
    in ``interrupted`` is checked twice a second (KeyboardInterrupt raised here)."""
    import asyncio

    from distributed import wait

    # Python 3.10: asyncio's TimeoutError (what the poll raises) is not the builtin one
    timeouts = (TimeoutError, asyncio.TimeoutError)
    results: list[Any] = [None] * len(futures)
    position = {f.key: i for i, f in enumerate(futures)}
    pending = list(futures)
    while pending:
        if interrupted:
            raise KeyboardInterrupt
        try:
            done, not_done = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
        except timeouts:
            continue
        finished = [f for f in pending if f in done]
        for future, value in zip(finished, client.gather(finished), strict=True):
            results[position[future.key]] = value
            if progress is not None:
                progress(value)
        pending = [f for f in pending if f in not_done]
    if interrupted:
        raise KeyboardInterrupt
    return results


#: prefix of the module names given to users' files (FILE.py:ATTR), which workers cannot import
USER_MODULE_PREFIX = "commlb_user_"


def _send_user_code(values: tuple[Any, ...]) -> None:
    """Objects whose classes come from a user's file (loaded under a made-up module name no
    worker can import) are pickled with their code (cloudpickle's by-value mode)."""
    modules = {c.__module__ for v in values for c in type(v).__mro__}
    user = [sys.modules[m] for m in modules if m.startswith(USER_MODULE_PREFIX) and m in sys.modules]
    if user:
        import cloudpickle  # a dependency of distributed

        for module in user:
            cloudpickle.register_pickle_by_value(module)


def make_executor(workers: int | None = None, scheduler: str | None = None, *,
                  env: dict[str, str] | None = None, echo: TextIO | None = None) -> Executor:
    """The executor the options ask for: ``workers`` starts a local cluster of that many
    single-threaded worker processes, ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS`` in
    ``env``, default ``os.environ``, when neither option is given) connects to an existing
    one; otherwise work runs in process.  A local cluster's dashboard address (or why it
    has none) is written to ``echo`` (default standard error).  Bad values, a scheduler that
    does not answer within :data:`CONNECT_TIMEOUT` and a missing Dask install raise
    :class:`InvalidInputError`."""
    environ = os.environ if env is None else env
    if workers is not None and scheduler is not None:
        raise InvalidInputError("give --workers (a local cluster) or --scheduler (an existing one), not both")
    if workers is None and scheduler is None:
        scheduler = environ.get(SCHEDULER_ENV) or None
    if workers is None and scheduler is None:
        return Executor()
    stream = sys.stderr if echo is None else echo
    if workers is not None:
        if isinstance(workers, bool) or int(workers) != workers or not 1 <= int(workers) <= MAX_WORKERS:
            raise InvalidInputError(f"--workers must be an integer from 1 to {MAX_WORKERS}, got {workers!r}")
        executor = _local_cluster(int(workers), stream)
    else:
        assert scheduler is not None
        executor = _connect(scheduler.strip())
    executor.echo = stream
    return executor


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InvalidInputError(f"--workers and --scheduler need dask.distributed; {_INSTALL_HINT}") from None
    return distributed


def _local_cluster(workers: int, stream: TextIO) -> Executor:
    import importlib.util

    distributed = _import_distributed()
    _quiet()
    has_dashboard = importlib.util.find_spec("bokeh") is not None
    # the worker processes start with Ctrl-C ignored (a process started with SIGINT ignored
    # keeps it so): a Ctrl-C at the terminal reaches this process, which cancels the tasks
    # and closes the cluster, instead of every worker printing a traceback
    # the workers' own log lines (heartbeats that fail while the cluster closes): only
    # critical ones; a task's error still reaches this process and is raised here
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")
    _slow_ticks()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    # numba's parallel kernels (prange) in each worker use the worker's share of the cores,
    # not all of them each (N workers x all cores threads oversubscribe the machine)
    env = {} if "NUMBA_NUM_THREADS" in os.environ else \
        {"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))}
    given = env.get("NUMBA_NUM_THREADS", os.environ.get("NUMBA_NUM_THREADS", "1"))
    threads = int(given) if given.strip().isdigit() and int(given) > 0 else 1
    try:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", env=env)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    try:
        client = distributed.Client(cluster)
    except BaseException:
        cluster.close()
        raise
    dashboard = cluster.dashboard_link if has_dashboard else None
    where = f"dashboard {dashboard}" if dashboard else "no dashboard (install bokeh>=3.1 for one)"
    print(f"dask: local cluster of {workers} worker processes at {cluster.scheduler_address}; {where}",
          file=stream, flush=True)
    return Executor("local-cluster", client, cluster, workers, cluster.scheduler_address, dashboard, threads)


#: Dask's housekeeping intervals for a local cluster (defaults 20 ms, 100 ms, 100 ms, 500 ms):
#: its scheduler and nannies run in this process, and with the defaults an idle cluster of
#: 2 workers took 4.8% of a core here and 3.4% in each worker (measured, docs/design.md §9);
#: with these 0.9% and 2.8%.  The tasks here are coarse (seconds), so nothing waits on them.
LOCAL_INTERVALS = {"distributed.admin.tick.interval": "500ms",
                   "distributed.worker.memory.monitor-interval": "1s",
                   "distributed.scheduler.work-stealing-interval": "500ms",
                   "distributed.admin.system-monitor.interval": "2s",
                   # the workers' statistical profiler (the dashboard's profile page) samples the
                   # running task's stack every 10 ms: 2.2% of a core during a busy task here,
                   # 0.3% without it
                   "distributed.worker.profile.enabled": False}


def _slow_ticks() -> None:
    """Dask's housekeeping of a local cluster at :data:`LOCAL_INTERVALS` (the worker
    processes get the configuration from their nannies), and the workers' environment
    without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``: with it, glibc hands freed memory
    back to the system at once and the next NumPy array of a few hundred KiB faults its
    pages in again; a sweep of 16 points spent 2.6-3.1 s of system time that way on one
    worker against 0.1 s in process, and twice the CPU in all (docs/design.md §9.5).  Big
    arrays are mapped and unmapped on their own whatever the threshold.  A value the user
    set in the environment is kept (the workers inherit it)."""
    import dask
    import distributed  # noqa: F401  (its configuration defaults are loaded on import)

    dask.config.set(LOCAL_INTERVALS)
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    if environ.pop("MALLOC_TRIM_THRESHOLD_", None) is not None:
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


def _quiet() -> None:
    """Dask's own log lines (a worker restarted, a process killed at close) are for its
    operators; commlb's output says what happened.  Errors still show."""
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)


def _connect(address: str) -> Executor:
    if not address:
        raise InvalidInputError("--scheduler: give the scheduler's address, e.g. tcp://10.0.0.5:8786")
    import asyncio

    distributed = _import_distributed()
    _quiet()
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:  # two classes before Python 3.11
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"--scheduler {address}: no Dask scheduler answered within "
                                f"{CONNECT_TIMEOUT} ({reason[:120]})") from None
    except ValueError as exc:  # an address Dask cannot parse
        raise InvalidInputError(f"--scheduler {address!r}: {str(exc).splitlines()[0][:120]}") from None
    workers = len(client.nthreads())  # every worker (scheduler_info() may list only 5)
    return Executor("scheduler", client, None, workers, address, None)

