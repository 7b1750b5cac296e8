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
           "spilled_count", "plan", "check_spill_dir", "check_disk", "estimate", "parallel_tasks"]

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


#: CPU time of both rounds per input, as a multiple of the kernel's on the probe (measured
#: with one numba thread: 1.44 for an RNN d = 16 at n = 24, 1.36 for d = 64 at n = 22)
ROUNDS_PER_KERNEL = 1.5


def _seconds(source: Any, n: int) -> float:
    """Estimated CPU seconds of both rounds: the kernel timed here on 2^16 inputs (after a
    warm-up call) with one numba thread, as a single-threaded worker runs it (the CPU
    time of threads waiting for each other on a busy machine is no work), times
    :data:`ROUNDS_PER_KERNEL`."""
    import sys
    import time

    numba = sys.modules.get("numba")
    threads = numba.get_num_threads() if numba is not None else None
    probe = min(n, 1 << 16)
    try:
        if numba is not None:
            numba.set_num_threads(1)
        source.keys_tree(0, min(n, 16))
        t = time.process_time()
        source.keys_tree(0, probe)
        spent = time.process_time() - t
    finally:
        if numba is not None:
            numba.set_num_threads(threads)
    return max(spent, 1e-6) / probe * n * ROUNDS_PER_KERNEL


def parallel_tasks(executor: Any) -> int:
    """How many tasks ``executor`` runs at once: its workers, but on a local cluster no more
    than this machine's cores (1 in process)."""
    workers = max(1, int(getattr(executor, "workers", 1)))
    if getattr(executor, "kind", "") in ("local-cluster", "in-process"):
        workers = min(workers, os.cpu_count() or 1)
    return workers


def estimate(source: Any, executor: Any) -> tuple[float, str]:
    """(seconds, a sentence) for counting all of ``source``'s inputs on ``executor``: the
    CPU time measured here spread over :func:`parallel_tasks`; on a local cluster of a busy
    machine (load average above its cores) the sentence says so."""
    n = int(source.n_inputs)
    cpu = _seconds(source, n)
    tasks = parallel_tasks(executor)
    wall = cpu / tasks
    text = f"about {fmt_seconds(wall)} ({fmt_seconds(cpu)} of CPU over {tasks} at once)"
    if getattr(executor, "kind", "") in ("local-cluster", "in-process") and hasattr(os, "getloadavg"):
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load > cores:
            text += f"; this machine is busy (load {load:.1f} on {cores} cores): longer"
    return wall, text


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
                  progress: Any = None) -> SpillCount:
    """Distinct messages over all of ``source``'s inputs and the first runs of equal keys,
    computed on ``executor`` (any :class:`commlb.execution.Executor`, in process too) with
    the keys spilled to a temporary directory under ``directory`` (default: the system's
    temporary directory; every worker must see it; ``--spill-dir``, checked with
    :func:`check_spill_dir`).  ``limit``: as in
    :func:`commlb.witness.search.count_distinct`.  ``progress(done, total, phase)``."""
    n = int(source.n_inputs)
    chunk = CHUNK if chunk is None else int(chunk)
    chunks, bits = plan(n, chunk, PARTITION if partition is None else int(partition))
    base = directory or tempfile.gettempdir()
    need = check_disk(n, base, None if directory is None else "--spill-dir")
    if hasattr(executor, "note"):
        executor.note(f"{n:,} inputs in {chunks:,} chunks and {1 << bits:,} partitions on {executor.workers} "
                      f"worker(s), {estimate(source, executor)[1]}; {fmt_bytes(need)} spilled to {base}")
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
    lengths = np.array([k.size for k in kept], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if kept else np.zeros(0, np.int64)
    order = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    return SpillCount(distinct, exact, sum(r["multi"] for r in second), order, starts, lengths, chunks,
                      1 << bits, spilled, [p for _, p in first] + [r["peak"] for r in second])
