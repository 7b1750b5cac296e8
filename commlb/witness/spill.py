"""The exhaustive enumeration when Alice's messages do not fit one process: partitioned
by a hash of their key, spilled to disk, counted partition by partition on the
executor's workers, merged in key order (docs/design.md §9.1).

1. **Enumerate** (one task per chunk of :data:`CHUNK` leaves, fixed by the input count):
   the chunk's 64-bit keys, grouped by partition (the top bits of a SplitMix64 mix of the
   key; stable, so leaves stay in increasing order inside a partition), written with the
   leaves' offsets to one file per chunk in the spill directory; the task returns where
   each partition starts in its file.
2. **Count** (one task per partition): the partition's pieces of every chunk file, read in
   chunk order, stably sorted by key; the runs of equal keys give the distinct count
   (hash runs recomputed as :func:`commlb.witness.search.count_distinct` does), and the
   first :data:`MAX_RUNS` runs of equal keys (with up to 33 leaves each) are returned.
3. **Merge**: counts summed, the partitions' runs merged in key order — the order the
   in-memory search walks them — so :func:`commlb.witness.collision.find_pair` picks the
   same pair as in process.

Both phases are pure functions of their inputs and files written under a temporary name
then renamed, so a task Dask re-runs (a worker that died) rewrites or rereads the same
bytes.  The spill directory is removed at the end.  Memory per task is bounded by the
sizes (about 36 bytes per key of a chunk, 28 per key of a partition); disk needs
:data:`BYTES_PER_SPILLED` bytes per input, checked before anything is written.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..costs import fmt_bytes, fmt_seconds
from ..errors import InvalidInputError, TooLargeError
from ..validate import short_text

__all__ = ["CHUNK", "PARTITION", "MAX_RUNS", "BYTES_PER_SPILLED", "SpillCount", "partition_of",
           "spilled_count", "plan", "check_spill_dir", "check_disk", "estimate", "parallel_tasks",
           "count_plan", "CountPlan", "fits_one_worker"]

#: leaves per enumeration task (fixed: the chunks never depend on the workers)
CHUNK = 1 << 21
#: about this many keys per partition (the partition count is the power of two above)
PARTITION = 1 << 22
#: runs of equal keys kept per partition for the collision search (find_pair tries at most
#: 2000 pairs and every run of exact keys gives at least one)
MAX_RUNS = 2048
#: bytes on disk per input: its 64-bit key and a 32-bit offset inside its chunk
BYTES_PER_SPILLED = 12
#: bytes of memory per key a task holds at its peak (keys, offsets, sort order, copies)
BYTES_PER_KEY_IN_TASK = 36
#: members of a run kept for the collision search (find_pair looks at 33)
_RUN_MEMBERS = 33


def partition_of(keys: np.ndarray, bits: int) -> np.ndarray:
    """The partition (0 .. 2^bits - 1) of each 64-bit key: the top ``bits`` bits of the
    SplitMix64 finaliser of the key (packed messages are far from uniform; the mix is);
    :func:`commlb.kernels.keysort.partition_of`."""
    from ..kernels.keysort import partition_of as mixed

    return mixed(keys, bits)


def plan(n_inputs: int, chunk: int = CHUNK, partition: int = PARTITION) -> tuple[int, int]:
    """(number of chunks, partition bits) for ``n_inputs`` inputs: fixed by the inputs."""
    chunks = max(1, -(-int(n_inputs) // chunk))
    bits = max(0, math.ceil(math.log2(max(1, n_inputs) / partition)))
    return chunks, bits


@dataclass
class SpillCount:
    """What the partitioned count hands back to the search: the distinct count (and
    whether it is exact), the number of runs of equal keys, and the first runs of equal
    keys in key order as ``order``/``starts``/``lengths`` arrays over leaves (the form
    :func:`commlb.witness.collision.find_pair` takes)."""

    distinct: int
    exact: bool
    collisions_seen: int
    order: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    chunks: int = 0
    partitions: int = 0
    spilled_bytes: int = 0
    peaks: list[int] = field(default_factory=list)
    in_memory: bool = False


@dataclass(frozen=True)
class _Job:
    directory: str
    chunk: int
    bits: int
    n_inputs: int
    limit: int


def _chunk_path(job: _Job, c: int) -> str:
    return os.path.join(job.directory, f"chunk-{c:07d}.bin")


def _peak_rss() -> int:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):  # pragma: no cover - not on this platform
        return 0


def _enumerate_chunk(c: int, source: Any, job: _Job) -> tuple[np.ndarray, int]:
    """Phase 1 for chunk ``c``: keys grouped by partition, with their offsets in the chunk,
    to one file (keys, then offsets); returns (start of each partition in the file, peak)."""
    lo = c * job.chunk
    hi = min(job.n_inputs, lo + job.chunk)
    from ..kernels import keysort as ks

    keys = source.keys_tree(lo, hi)
    group = ks.group_by_partition if source.backend == "numba" else ks.group_by_partition_reference
    grouped, offsets, bounds = group(keys, job.bits)
    del keys
    path = _chunk_path(job, c)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        grouped.tofile(fh)
        offsets.tofile(fh)
    os.replace(tmp, path)
    return bounds, _peak_rss()


def _count_partition(p: int, source: Any, job: _Job, bounds: np.ndarray) -> dict[str, Any]:
    """Phase 2 for partition ``p``: its keys from every chunk file, in chunk order, sorted;
    distinct count and the first runs of equal keys (leaves in increasing order)."""
    from .search import count_distinct, sorted_runs

    sizes = (bounds[:, p + 1] - bounds[:, p]).astype(np.int64)
    keys = np.empty(int(sizes.sum()), dtype=np.uint64)
    leaves = np.empty(keys.size, dtype=np.int64)
    at = 0
    for c in np.flatnonzero(sizes > 0).tolist():
        a, m = int(bounds[c, p]), int(sizes[c])
        size = min(job.chunk, job.n_inputs - c * job.chunk)
        with open(_chunk_path(job, c), "rb") as fh:
            fh.seek(8 * a)
            if fh.readinto(keys[at:at + m].view(np.uint8).data) != 8 * m:
                raise OSError(f"{_chunk_path(job, c)}: shorter than its table of partitions says")
            fh.seek(8 * size + 4 * a)
            leaves[at:at + m] = np.fromfile(fh, dtype=np.uint32, count=m)
        leaves[at:at + m] += c * job.chunk
        at += m
    # keys sorted in place with their leaves (radix sort; equal keys by increasing leaf,
    # the in-memory search's order); the runs longer than one only
    sorted_leaves, starts, lengths, runs, members, multi = sorted_runs(keys, source.backend, idx=leaves)
    refined = None
    if members <= job.limit:
        refined, _ = count_distinct(source, source.leaves_to_digits, sorted_leaves, starts, lengths,
                                    limit=job.limit, runs=runs, members=members)
    run_starts = starts[:MAX_RUNS]
    run_lengths = lengths[:MAX_RUNS]
    from ..kernels.keysort import mix_keys

    run_keys = mix_keys(keys[run_starts])  # runs merge in mixed-key order, as the in-memory search lists them
    run_leaves = [sorted_leaves[s:s + min(n, _RUN_MEMBERS)] for s, n in
                  zip(run_starts.tolist(), run_lengths.tolist(), strict=True)]
    return {"runs": runs, "members": members, "refined": refined, "multi": multi, "run_keys": run_keys,
            "run_leaves": run_leaves, "peak": _peak_rss()}


def _count_in_memory(_: int, source: Any, limit: int) -> dict[str, Any] | None:
    """The whole count as the in-process search runs it (every key in memory, grouped
    into runs as it is enumerated, the same kernels), as one task on a worker; returns the distinct count and the
    first :data:`MAX_RUNS` runs of equal keys (as the partitions' merge does), or None
    when the memory available on this worker's machine now is too small (then the count
    is spilled)."""
    from .search import MAX_RUN_MEMBERS, _available_bytes, _bytes_needed, _enumerate, count_distinct

    avail = _available_bytes()
    if avail is not None and _bytes_needed(int(source.n_inputs)) > 0.8 * avail:
        return None
    order, starts, lengths, runs, members, multi = _enumerate(source, None)
    # _enumerate lists every member of the runs only up to MAX_RUN_MEMBERS of them
    distinct, exact = count_distinct(source, source.leaves_to_digits, order, starts, lengths,
                                     limit=min(limit, MAX_RUN_MEMBERS), runs=runs, members=members)
    kept = [order[s:s + min(n, _RUN_MEMBERS)].astype(np.int64) for s, n in
            zip(starts[:MAX_RUNS].tolist(), lengths[:MAX_RUNS].tolist(), strict=True)]
    return {"distinct": int(distinct), "exact": bool(exact), "multi": int(multi), "kept": kept,
            "peak": _peak_rss()}


#: CPU time of both rounds per input, as a multiple of the kernel's on the probe (measured
#: with one numba thread: 1.44 for an RNN d = 16 at n = 24, 1.36 for d = 64 at n = 22)
ROUNDS_PER_KERNEL = 1.5
#: CPU seconds per key of the in-memory count's grouping of the keys into runs
#: (:class:`commlb.kernels.keysort.RunGrouper`, which replaced the radix sort of all keys
#: that took 42-50 ns a key).  Measured by ``bench/bench_witness_search.py --grouping`` on
#: 2^24 distinct keys in 2^21-key chunks, as the count runs it, one or two numba threads
#: alike: 17.6-18.7 ns a key when the pages of its arrays (12 bytes an input) are already
#: mapped, 29-32 ns in a run that first touches them, as a fresh count does (otherwise idle
#: machine; 16-18 and 30-44 ns at load average 9, where the page faults of those 192 MiB
#: took 0.14-0.16 s of system CPU).  The same case as :data:`ROUNDS_PER_KERNEL`'s; keys with
#: many collisions cost more (34-39 ns a key with 256 distinct messages, 52-66 when most
#: inputs share their message with another), as the spilled count's rounds do.
SORT_SECONDS_PER_KEY = 30e-9
#: the whole count runs in memory on one worker when its arrays take at most this share of
#: the worker's memory limit (Dask pauses a worker at 80% of it and restarts it at 95%)
WORKER_MEMORY_FRACTION = 0.6


def _kernel_seconds(source: Any, n: int) -> float:
    """Estimated CPU seconds of the kernel over ``n`` inputs: timed here on 2^16 inputs
    (after a warm-up call; the least of three runs) with one numba thread, as a single-threaded worker runs it (the
    CPU time of threads waiting for each other on a busy machine is no work)."""
    import sys
    import time

    numba = sys.modules.get("numba")
    threads = numba.get_num_threads() if numba is not None else None
    probe = min(n, 1 << 16)
    try:
        if numba is not None:
            numba.set_num_threads(1)
        source.keys_tree(0, min(n, 16))
        spent = math.inf
        for _ in range(3):  # the least of three: one probe alone varied 2x on a busy machine
            t = time.process_time()
            source.keys_tree(0, probe)
            spent = min(spent, time.process_time() - t)
    finally:
        if numba is not None:
            numba.set_num_threads(threads)
    return max(spent, 1e-6) / probe * n


def _seconds(source: Any, n: int) -> float:
    """Estimated CPU seconds of both rounds of the spilled count:
    :func:`_kernel_seconds` times :data:`ROUNDS_PER_KERNEL`."""
    return _kernel_seconds(source, n) * ROUNDS_PER_KERNEL


def parallel_tasks(executor: Any) -> int:
    """How many tasks ``executor`` runs at once: its workers, but on a local cluster no more
    than this machine's cores (1 in process)."""
    workers = max(1, int(getattr(executor, "workers", 1)))
    if getattr(executor, "kind", "") in ("local-cluster", "in-process"):
        workers = min(workers, os.cpu_count() or 1)
    return workers


def fits_one_worker(n_inputs: int, executor: Any) -> bool:
    """Whether the in-memory count of ``n_inputs`` keys (the in-process search's arrays)
    fits one of ``executor``'s workers: within the in-process limit
    (:data:`commlb.witness.search.MAX_EXHAUSTIVE_BYTES`), :data:`WORKER_MEMORY_FRACTION` of
    the workers' memory limit and, on a local cluster, 80% of the memory available now
    (the worker checks its own again before it allocates)."""
    from .search import MAX_EXHAUSTIVE_BYTES, _available_bytes, _bytes_needed

    need = _bytes_needed(int(n_inputs))
    if need > MAX_EXHAUSTIVE_BYTES:
        return False
    limit = executor.worker_memory() if hasattr(executor, "worker_memory") else None
    if limit is not None and need > WORKER_MEMORY_FRACTION * limit:
        return False
    if getattr(executor, "kind", "") == "local-cluster":
        avail = _available_bytes()
        if avail is not None and need > 0.8 * avail:
            return False
    return True


@dataclass(frozen=True)
class CountPlan:
    """How the count runs on an executor: ``in_memory`` (the whole count, as in process, as
    one task on one worker) or spilled, the estimated wall and CPU seconds of the work, and
    a sentence for people."""

    in_memory: bool
    seconds: float
    cpu: float
    text: str
    #: ``seconds`` on an idle machine (without the share of the cores a busy one leaves)
    idle_seconds: float = 0.0


#: CPU seconds a worker's first count task spends beyond its work: importing commlb's
#: witness modules, loading the kernels from numba's cache, reading the message source
#: (measured on this machine: 0.23 s with compiled bytecode, 1.4 s without)
FIRST_TASK_SECONDS = 0.3
#: the same when the installed packages have no compiled bytecode (an install that does
#: not compile it, or ``PYTHONDONTWRITEBYTECODE``): every worker compiles the sources of
#: NumPy, numba, Dask and commlb as it imports them
FIRST_TASK_SECONDS_NO_BYTECODE = 1.5


def _first_task_seconds() -> float:
    """:data:`FIRST_TASK_SECONDS`, or :data:`FIRST_TASK_SECONDS_NO_BYTECODE` when numba's
    modules have no bytecode cached next to them (then no worker finds any either)."""
    import importlib.util

    spec = importlib.util.find_spec("numba.core.dispatcher")
    origin = getattr(spec, "origin", None)
    try:
        cached = origin is not None and os.path.exists(importlib.util.cache_from_source(origin))
    except (NotImplementedError, ValueError):
        cached = True
    return FIRST_TASK_SECONDS if cached else FIRST_TASK_SECONDS_NO_BYTECODE


def _core_share(executor: Any, tasks: int) -> tuple[float, str]:
    """(share of a core each of ``tasks`` tasks gets, a phrase) on a local cluster or in
    process: this machine's cores over the tasks and the 1-minute load average of what
    else runs, at most 1; 1 on a remote cluster (its load is not known here)."""
    if getattr(executor, "kind", "") not in ("local-cluster", "in-process") or not hasattr(os, "getloadavg"):
        return 1.0, ""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    share = min(1.0, cores / (load + tasks))
    if share >= 0.95:
        return 1.0, ""
    return share, f"; this machine is busy (load {load:.1f} on {cores} cores): about {share:.2f} of a core a task"


def count_plan(source: Any, executor: Any, directory: str | None = None) -> CountPlan:
    """In memory on one worker or spilled over all of them, whichever is estimated faster,
    among those that fit: the in-memory count (kernel on the worker's numba threads, the
    keys grouped into runs as in process) needs :func:`fits_one_worker`; the spilled one costs
    :data:`ROUNDS_PER_KERNEL` times the kernel's CPU, spread over
    :func:`parallel_tasks`.  A spill directory given (``--spill-dir``), or the in-process
    executor, asks for the spilled count.  On a cluster each worker's first task adds
    :func:`_first_task_seconds`; on a local cluster of a busy machine every task gets
    only its share of a core (:func:`_core_share`), and the sentence says so."""
    n = int(source.n_inputs)
    kernel = _kernel_seconds(source, n)
    tasks = parallel_tasks(executor)
    first = _first_task_seconds() if getattr(executor, "distributed", False) else 0.0
    start = f", and {first:.1f} s a worker to start" if first else ""
    spilled_cpu = kernel * ROUNDS_PER_KERNEL
    share, busy = _core_share(executor, tasks)
    idle = spilled_cpu / tasks + first
    wall = idle / share
    spilled = CountPlan(False, wall, spilled_cpu,
                        f"about {fmt_seconds(wall)} ({fmt_seconds(spilled_cpu)} of CPU over {tasks} at once{start})"
                        f"{busy}", idle)
    if directory is not None or not getattr(executor, "distributed", False):
        return spilled
    threads = max(1, int(getattr(executor, "task_threads", 1)))
    sort = n * SORT_SECONDS_PER_KEY
    share, busy = _core_share(executor, threads)
    idle = kernel / threads + sort + first
    wall = idle / share
    if wall > spilled.seconds or not fits_one_worker(n, executor):
        return spilled
    return CountPlan(True, wall, kernel + sort,
                     f"about {fmt_seconds(wall)} ({fmt_seconds(kernel + sort)} of CPU, the kernel on {threads} "
                     f"thread{'s' if threads > 1 else ''}{start}){busy}", idle)


def estimate(source: Any, executor: Any, directory: str | None = None) -> tuple[float, str]:
    """(seconds on an idle machine, a sentence) for counting all of ``source``'s inputs on
    ``executor`` (:func:`count_plan`; the sentence allows for a busy machine's load).  The
    seconds are what a count is refused on (above
    :data:`commlb.witness.search.MAX_EXHAUSTIVE_SECONDS`): a busy minute does not refuse
    a count that the machine can do."""
    how = count_plan(source, executor, directory)
    return how.idle_seconds, how.text


def check_spill_dir(path: str, option: str = "--spill-dir") -> str:
    """``path`` as a spill directory: it must exist, be a directory and take a new file
    (one is created and removed: permission bits do not tell, e.g. for root or a read-only
    mount).  Returns its absolute path; raises :class:`InvalidInputError` (one line)."""
    text = str(path)
    if not text.strip() or "\x00" in text:
        raise InvalidInputError(f"{option}: give a directory")
    if not os.path.exists(text):
        raise InvalidInputError(f"{option} {short_text(text)}: no such directory")
    if not os.path.isdir(text):
        raise InvalidInputError(f"{option} {short_text(text)}: not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".commlb-probe-", dir=text)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise InvalidInputError(f"{option} {short_text(text)}: cannot create a file there "
                                f"({exc.strerror or exc})") from None
    return os.path.abspath(text)


def check_disk(n_inputs: int, directory: str, option: str | None = None) -> int:
    """Bytes the spill needs; raises :class:`TooLargeError` when ``directory`` has less
    free space (with 10% to spare).  ``option``: the option that chose ``directory`` (None:
    the system's temporary directory, chosen by ``TMPDIR``)."""
    need = int(n_inputs) * BYTES_PER_SPILLED
    os.makedirs(directory, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if need * 1.1 > free:
        where = "set TMPDIR to a larger disk" if option is None else f"give {option} a larger disk"
        raise TooLargeError(f"counting {n_inputs:,} messages spills about {fmt_bytes(need)} to {directory}, "
                            f"which has {fmt_bytes(free)} free: {where}, or use --budget")
    return need


def spilled_count(source: Any, executor: Any, *, limit: int = 1 << 22, chunk: int | None = None,
                  partition: int | None = None, directory: str | None = None,
                  progress: Any = None, how: CountPlan | None = None) -> SpillCount:
    """Distinct messages over all of ``source``'s inputs and the first runs of equal keys,
    computed on ``executor`` (any :class:`commlb.execution.Executor`, in process too) with
    the keys spilled to a temporary directory under ``directory`` (default: the system's
    temporary directory; every worker must see it; ``--spill-dir``, checked with
    :func:`check_spill_dir`).  ``limit``: as in
    :func:`commlb.witness.search.count_distinct`.  ``progress(done, total, phase)``.
    ``how``: the :func:`count_plan` the caller already made (and checked) for these
    arguments, so that the kernel is not timed again and the count runs as planned."""
    n = int(source.n_inputs)
    chunk = CHUNK if chunk is None else int(chunk)
    chunks, bits = plan(n, chunk, PARTITION if partition is None else int(partition))
    how = count_plan(source, executor, directory) if how is None else how
    if how.in_memory:
        executor.note(f"{n:,} inputs counted in memory on one worker, {how.text}")
        got = executor.map_chunks(_count_in_memory, [0], shared=(source, int(limit)),
                                  progress=None if progress is None else
                                  (lambda _: progress(1, 1, "counting in memory on one worker")))[0]
        if got is not None:
            return _from_kept(got["distinct"], got["exact"], got["multi"], got["kept"], peaks=[got["peak"]],
                              in_memory=True)
        executor.note("the worker has less memory available than the in-memory count needs: spilled instead")
        how = count_plan(source, executor, directory or tempfile.gettempdir())
    base = directory or tempfile.gettempdir()
    need = check_disk(n, base, None if directory is None else "--spill-dir")
    if hasattr(executor, "note"):
        executor.note(f"{n:,} inputs in {chunks:,} chunks and {1 << bits:,} partitions on {executor.workers} "
                      f"worker(s), {how.text}; {fmt_bytes(need)} spilled "
                      f"to {base}")
    spill = tempfile.mkdtemp(prefix="commlb-spill-", dir=base)
    job = _Job(spill, int(chunk), bits, n, int(limit))
    try:
        done = [0]

        def step(phase: str, total: int) -> Any:
            if progress is None:
                return None

            def tick(_: Any) -> None:
                done[0] += 1
                progress(done[0], total, phase)
            return tick

        done[0] = 0
        first = executor.map_chunks(_enumerate_chunk, range(chunks), shared=(source, job),
                                    progress=step("enumerating Alice's inputs (chunks)", chunks))
        bounds = np.stack([b for b, _ in first])
        spilled = os.path.getsize(_chunk_path(job, 0)) if chunks == 1 else \
            sum(os.path.getsize(_chunk_path(job, c)) for c in range(chunks))
        done[0] = 0
        second = executor.map_chunks(_count_partition, range(1 << bits), shared=(source, job, bounds),
                                     progress=step("counting distinct messages (partitions)", 1 << bits))
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    members = sum(r["members"] for r in second)
    runs = sum(r["runs"] for r in second)
    if members > limit:
        distinct, exact = runs, False
    else:
        distinct, exact = sum(int(r["refined"]) for r in second), True
    # the runs of equal keys of all partitions, in mixed-key order (the in-memory search's order)
    run_keys = np.concatenate([r["run_keys"] for r in second]) if second else np.zeros(0, np.uint64)
    run_leaves = [leaves for r in second for leaves in r["run_leaves"]]
    pick = np.argsort(run_keys, kind="stable")[:MAX_RUNS]
    kept = [run_leaves[i] for i in pick.tolist()]
    return _from_kept(distinct, exact, sum(r["multi"] for r in second), kept, chunks, 1 << bits, spilled,
                      [p for _, p in first] + [r["peak"] for r in second])


def _from_kept(distinct: int, exact: bool, multi: int, kept: list[np.ndarray], chunks: int = 0,
               partitions: int = 0, spilled: int = 0, peaks: list[int] | None = None,
               in_memory: bool = False) -> SpillCount:
    """A :class:`SpillCount` from the first runs of equal keys (their leaves, in key order)."""
    lengths = np.array([k.size for k in kept], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if kept else np.zeros(0, np.int64)
    order = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    return SpillCount(distinct, exact, multi, order, starts, lengths, chunks, partitions, spilled, peaks or [],
                      in_memory)
