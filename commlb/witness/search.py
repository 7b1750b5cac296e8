"""The search: Alice's messages over her whole input space (or a sample), sorted, and
the runs of equal messages.

:func:`search_witness` enumerates every input of Alice's when the estimate fits (else it
refuses with the estimate, or samples ``budget`` inputs or seconds, birthday style),
groups the 64-bit keys into runs of equal keys as they are enumerated, with 32-bit input
indices (:class:`commlb.kernels.keysort.RunGrouper`: each chunk grouped by the top bits of
its mixed keys, then every group sorted in cache, in parallel; 12 bytes per input, 16 above
2^32 inputs or when many inputs share few messages), counts the distinct messages and hands the runs of equal keys to
:func:`commlb.witness.collision.find_pair`.  An exhaustive run whose arrays would not fit
in the memory available now is refused before anything is allocated.  :func:`effective_bits` counts the distinct
messages over all of Alice's inputs: a model correct on every input needs log2 of that
count ≥ the one-way bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import Reduction
from ..costs import fmt_bytes, fmt_seconds
from ..errors import InvalidInputError, TooLargeError
from .collision import find_pair, prove
from .result import EffectiveBits, WitnessResult
from .sources import EngineSource, MessageSource, message_source

__all__ = ["search_witness", "effective_bits", "parse_budget", "key_runs", "sorted_runs", "count_distinct", "Progress",
           "MAX_EXHAUSTIVE_SECONDS", "MAX_EXHAUSTIVE_BYTES", "BYTES_PER_INPUT", "NUMPY_BELOW_EFFECTIVE",
           "MAX_MULTI_RUNS", "MAX_RUN_MEMBERS"]

Progress = Callable[[int, int, str], None]

#: exhaustive runs are refused above these estimates unless ``exhaustive=True``
MAX_EXHAUSTIVE_SECONDS = 900.0
MAX_EXHAUSTIVE_BYTES = 8 << 30
#: bytes per enumerated input: its 64-bit key and its 32-bit index, both sorted in place
#: (16 bytes when the indices need 64 bits)
BYTES_PER_INPUT = 12
#: the first this many runs of equal keys longer than one are kept (positions and lengths)
MAX_MULTI_RUNS = 1 << 21
#: every member of the runs of equal keys longer than one is kept when they number at most
#: this many (else the first 33 of each run): hashed keys are told apart by recomputing
#: these inputs' messages
MAX_RUN_MEMBERS = 1 << 22
#: with backend "auto", up to this many inputs the effective-bits count (simulate's hook,
#: up to 2^16 inputs) runs the plain numpy twins instead of the numba kernels
NUMPY_BELOW_EFFECTIVE = 1 << 16
#: inputs enumerated per kernel call (a progress step)
_BLOCK = 1 << 21


def _log2(value: int) -> float:
    return math.log2(value) if value > 0 else 0.0


def parse_budget(budget: Any) -> tuple[int | None, float | None]:
    """``budget``: None, a number of inputs (int or "1000000", "1e6"), or seconds ("30s").
    Returns (inputs, seconds)."""
    if budget is None:
        return None, None
    if isinstance(budget, (int, np.integer)) and not isinstance(budget, bool):
        if budget < 1:
            raise InvalidInputError(f"--budget must be positive, got {budget}")
        return int(budget), None
    text = str(budget).strip().lower()
    try:
        if text.endswith("s"):
            secs = float(text[:-1])
            if not secs > 0:
                raise ValueError
            return None, secs
        val = float(text)
        if not val >= 1 or val != int(val):
            raise ValueError
        return int(val), None
    except ValueError:
        raise InvalidInputError(f"--budget must be a number of inputs (e.g. 1000000) or seconds (e.g. 30s), "
                                f"got {budget!r}") from None


def _rate(source: MessageSource) -> float:
    """Inputs per second of the exhaustive kernel, measured on a small range (after one
    warm-up call that triggers compilation or cache loading)."""
    n = source.n_inputs
    probe = int(min(n, 1 << 12))
    source.keys_tree(0, min(n, 16))
    t = time.perf_counter()
    source.keys_tree(0, probe)
    dt = max(time.perf_counter() - t, 1e-6)
    return probe / dt


def _bytes_needed(n_inputs: int) -> float:
    """Peak bytes of an exhaustive run: keys and indices, one enumeration block and the
    listed members of runs longer than one (a group of keys far larger than the others
    may take up to 4 bytes per input more: :class:`commlb.kernels.keysort.RunGrouper`)."""
    per = BYTES_PER_INPUT if n_inputs < 1 << 32 else 16
    return float(n_inputs) * per + 8.0 * min(n_inputs, _BLOCK) + 4.0 * min(n_inputs, MAX_RUN_MEMBERS)


def _available_bytes() -> float | None:
    """Memory available to a new allocation now (``MemAvailable`` of /proc/meminfo), or
    None where that is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _estimate(source: MessageSource) -> tuple[float, float]:
    rate = _rate(source)
    return source.n_inputs / rate, _bytes_needed(source.n_inputs)


def sorted_runs(keys: np.ndarray, backend: str = "numba", idx: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Sort ``keys`` in place and return (input index of each sorted key, starts and
    lengths of the first :data:`MAX_MULTI_RUNS` runs of equal keys longer than one,
    number of runs, number of inputs in runs longer than one, number of such runs).  ``backend`` "numba" runs
    the radix kernel, anything else its numpy twin.  ``idx``: distinct labels of the keys
    (uint32 or int64), sorted in place with them and returned instead of the positions
    (equal keys come in increasing label order)."""
    from ..kernels import keysort as ks

    n = int(keys.size)
    if idx is None:
        idx = np.arange(n, dtype=np.uint32 if n < 1 << 32 else np.int64)
    if backend == "numba":
        ks.sort_keys_indices(keys, idx)
        runs, starts, lengths, members, multi = ks.run_summary(keys, min(MAX_MULTI_RUNS, n // 2 + 1))
    else:
        ks.sort_keys_indices_reference(keys, idx)
        runs, starts, lengths, members, multi = ks.run_summary_reference(keys, MAX_MULTI_RUNS)
    return idx, starts, lengths, int(runs), int(members), int(multi)


def key_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, run starts into the sorted order, run lengths) of equal keys."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    if sk.size == 0:
        return order, np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    lengths = np.diff(np.concatenate([starts, [sk.size]]))
    return order, starts, lengths


def count_distinct(source: MessageSource, digits_of: Callable[[np.ndarray], np.ndarray], order: np.ndarray,
                    starts: np.ndarray, lengths: np.ndarray, limit: int = 1 << 22,
                    runs: int | None = None, members: int | None = None) -> tuple[int, bool]:
    """Distinct messages: the number of key runs when keys are exact, else runs of one
    plus the distinct messages inside each run of equal hashes (recomputed), if at most
    ``limit`` inputs share a hash; beyond that the hash count is returned (exact=False).

    ``starts``/``lengths``: every run (from :func:`key_runs`), or, with ``runs`` (the
    number of runs) and ``members`` (inputs in runs longer than one) given, the runs
    longer than one only (from :func:`sorted_runs`; all of them whenever ``members <=
    limit``)."""
    total = int(starts.size) if runs is None else int(runs)
    if source.exact_keys:
        return total, True
    multi = lengths > 1
    if members is None:
        members = int(lengths[multi].sum())
    if members == 0:
        return total, True
    if members > limit:
        return total, False
    distinct = total - int(np.count_nonzero(multi))
    run_starts, run_lengths = starts[multi], lengths[multi]
    # batches of whole runs, about 2^18 inputs each (bounded memory for the rows)
    ends = np.cumsum(run_lengths)
    lo = 0
    while lo < run_starts.size:
        hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + (1 << 18), side="right"))
        hi = max(hi, lo + 1)
        idx = np.concatenate([order[a:a + b] for a, b in zip(run_starts[lo:hi], run_lengths[lo:hi], strict=True)])
        run_id = np.repeat(np.arange(hi - lo), run_lengths[lo:hi])
        rows = source.rows(digits_of(idx))
        distinct += int(np.unique(np.column_stack([run_id, rows]), axis=0).shape[0])
        lo = hi
    return distinct, True


def _bound_value(problem: Any) -> float | None:
    getter = getattr(problem, "one_way_bound", None)
    if getter is None:
        return None
    b = getter("AB")
    return None if b is None or b.value is None else float(b.value)


def _enumerate(source: MessageSource, progress: Progress | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Every input's key, grouped into runs of equal keys as the chunks come
    (:class:`commlb.kernels.keysort.RunGrouper`; with the python backend, all keys then
    :func:`~commlb.kernels.keysort.group_runs_reference`).  Returns (members, starts,
    lengths, runs, members in runs longer than one, runs longer than one): see
    :meth:`RunGrouper.runs <commlb.kernels.keysort.RunGrouper.runs>`; every member of every
    run longer than one is listed when they number at most :data:`MAX_RUN_MEMBERS`."""
    from ..kernels import keysort as ks

    N = source.n_inputs
    max_multi = min(MAX_MULTI_RUNS, N // 2 + 1)
    grouper = ks.RunGrouper(N) if source.backend == "numba" else None
    keys = np.empty(N, dtype=np.uint64) if grouper is None else None
    for lo in range(0, N, _BLOCK):
        hi = min(N, lo + _BLOCK)
        chunk = source.keys_tree(lo, hi)
        if grouper is not None:
            grouper.add(lo, chunk)
        else:
            assert keys is not None
            keys[lo:hi] = chunk
        if progress is not None:
            progress(hi, N, "enumerating Alice's inputs")
    if progress is not None:
        progress(N, N, "grouping equal messages")
    if grouper is not None:
        return grouper.runs(max_multi, MAX_RUN_MEMBERS)
    assert keys is not None
    return ks.group_runs_reference(keys, max_multi, MAX_RUN_MEMBERS)


def _sample(source: MessageSource, count: int | None, seconds: float | None, rng: np.random.Generator,
            progress: Progress | None, found: Callable[[np.ndarray, np.ndarray], bool]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs (distinct digit rows) and their keys, drawn in chunks up to ``count``
    draws or ``seconds``; stops early once ``found(digits, keys)`` (a birthday search:
    collisions appear after about sqrt(#messages) draws)."""
    layout = source.layout
    D, base = layout.digits, layout.base
    dtype = np.int8 if base <= 127 else (np.int16 if base <= 32767 else np.int64)
    chunk = 1 << 16
    t_end = None if seconds is None else time.perf_counter() + seconds
    drawn = 0
    digits = np.zeros((0, D), dtype=dtype)
    keys = np.zeros(0, dtype=np.uint64)
    while True:
        if count is not None and drawn >= count:
            break
        if t_end is not None and time.perf_counter() >= t_end:
            break
        c = chunk if count is None else min(chunk, count - drawn)
        new = rng.integers(0, base, size=(c, D)).astype(dtype)
        digits = np.vstack([digits, new])
        keys = np.concatenate([keys, source.keys(new.astype(np.int64))])
        drawn += c
        # the same input drawn twice is not a collision (inputs compared by their index
        # when it fits 63 bits: much faster than comparing rows)
        if D * math.log2(base) < 63:
            index = digits.astype(np.int64) @ (np.int64(base) ** np.arange(D, dtype=np.int64))
            order = np.argsort(index, kind="stable")  # first occurrence of each (np.unique is slow)
            s = index[order]
            first = order[np.concatenate([[True], s[1:] != s[:-1]])] if s.size else order
        else:
            _, first = np.unique(digits, axis=0, return_index=True)
        first.sort()
        digits, keys = digits[first], keys[first]
        if progress is not None:
            progress(drawn, count if count is not None else 0, "sampling Alice's inputs")
        if found(digits, keys):
            break
    return digits.astype(np.int64), keys


def search_witness(reduction: Reduction, model: Any, split: Any = None, *, budget: Any = None, seed: int = 0,
                   exhaustive: bool | None = None, progress: Progress | None = None, backend: str = "auto",
                   task_name: str = "", model_note: str = "", executor: Any = None,
                   spill_dir: str | None = None) -> WitnessResult:
    """Look for x ≠ x' with identical one-way messages and a Bob input y separating them,
    for ``model`` on ``reduction``'s instances (split: the reduction's owners by default).

    ``exhaustive``: None = all of Alice's inputs when the estimate fits (else refuse
    without a ``budget``, or sample with one), True = force, False = sample.  ``budget``:
    inputs to sample (int) or seconds ("30s").  Raises :class:`TooLargeError` with an
    estimate when an exhaustive run is needed but too large.  ``executor``: a
    :class:`commlb.execution.Executor`; with one, the exhaustive enumeration is partitioned,
    spilled to disk (under ``spill_dir``, default the system's temporary directory) and
    counted on its workers (:mod:`.spill`; the same result)."""
    t_start = time.perf_counter()
    count, seconds = parse_budget(budget)
    source = message_source(reduction, model, split, backend=backend, seed=seed)
    layout = source.layout
    split = split if split is not None else _default_split(reduction)
    problem = reduction.problem
    N = layout.size
    plan = None  # the count's plan on an executor, when made for the estimate below
    if exhaustive is None:
        if count is not None and count >= N:
            exhaustive = True
        elif count is not None or seconds is not None:
            exhaustive = False
        elif N <= 1 << 20 and source.kind != EngineSource.kind:
            exhaustive = True  # always feasible: about a second at worst
        else:
            if executor is not None:  # in memory on one worker or spilled to disk, shared by the workers
                from .spill import count_plan

                plan = count_plan(source, executor, spill_dir)
                est_s, est_b = plan.idle_seconds, 0.0
            else:
                est_s, est_b = _estimate(source)
            if est_s > MAX_EXHAUSTIVE_SECONDS or est_b > MAX_EXHAUSTIVE_BYTES:
                raise TooLargeError(
                    f"an exhaustive search over Alice's {layout.base}^{layout.digits} = {N:.3g} inputs would take "
                    f"about {fmt_seconds(est_s)} and {fmt_bytes(est_b)}; pass --budget N (random inputs, "
                    "e.g. --budget 1000000) or --budget 60s to sample instead"
                    + ("" if executor is not None else ", or --workers N to enumerate on Dask, spilled to disk")
                )
            exhaustive = True
    rng = np.random.default_rng([int(seed), 0x517])
    if exhaustive:
        est_b = _bytes_needed(N)
        if executor is None and est_b > 4 * MAX_EXHAUSTIVE_BYTES:
            raise TooLargeError(f"an exhaustive search over {N:.3g} inputs needs about {fmt_bytes(est_b)}; "
                                "pass --budget to sample, or --workers N to enumerate on Dask, spilled to disk")
        avail = _available_bytes()
        if executor is None and avail is not None and est_b > avail:
            raise TooLargeError(f"an exhaustive search over {N:.3g} inputs needs about {fmt_bytes(est_b)} "
                                f"({BYTES_PER_INPUT} bytes per input) but {fmt_bytes(avail)} is available; "
                                "pass --budget N (random inputs) to sample instead, or --workers N to "
                                "enumerate on Dask, spilled to disk")
        digits_of: Callable[[np.ndarray], np.ndarray] = source.leaves_to_digits
        enumerated = N
        if executor is not None:
            from .spill import spilled_count

            spilled = spilled_count(source, executor, progress=progress, directory=spill_dir, how=plan)
        else:
            order, starts, lengths, runs, members, collisions = _enumerate(source, progress)
    else:
        if count is None and seconds is None:
            count = 1 << 20
        def stop(digits: np.ndarray, keys: np.ndarray) -> bool:
            order, starts, lengths = key_runs(keys)
            if not np.any(lengths > 1):
                return False
            got, _ = find_pair(source, lambda idx: digits[np.asarray(idx, dtype=np.int64)].astype(np.int64),
                                order, starts, lengths, rng, max_pairs=64)
            return got is not None

        digits_all, keys = _sample(source, count, seconds, rng, progress, stop)

        def sampled_digits(idx: np.ndarray) -> np.ndarray:
            return digits_all[np.asarray(idx, dtype=np.int64)]

        digits_of = sampled_digits

        enumerated = int(keys.size)
    if exhaustive and executor is not None:
        order, starts, lengths = spilled.order, spilled.starts, spilled.lengths
        distinct, exact, collisions = spilled.distinct, spilled.exact, spilled.collisions_seen
    elif exhaustive:
        distinct, exact = count_distinct(source, digits_of, order, starts, lengths, runs=runs, members=members,
                                         limit=MAX_RUN_MEMBERS)
    else:
        if progress is not None:
            progress(enumerated, enumerated, "sorting messages")
        order, starts, lengths = key_runs(keys)
        distinct, exact = count_distinct(source, digits_of, order, starts, lengths)
        collisions = int(np.count_nonzero(lengths > 1))
    pair, tried = find_pair(source, digits_of, order, starts, lengths, rng)
    bound = _bound_value(problem)
    eff = _log2(distinct) if exhaustive else None
    result = WitnessResult(
        found=pair is not None,
        task=task_name or reduction.task.name,
        model=str(model.family),
        reduction=reduction.name,
        problem=problem.label(),
        n=int(getattr(problem, "n", layout.digits)),
        message_bits=source.nominal_bits,
        one_way_bound=bound,
        inputs_enumerated=enumerated,
        exhaustive=bool(exhaustive),
        distinct_messages=distinct,
        effective_bits=eff,
        total_inputs=N,
        collisions_seen=collisions,
        source=source.kind + f" ({source.backend})",
        model_note=model_note,
        vocab_names=_vocab_names(reduction),
        owners=np.asarray(layout.owner).astype(int).tolist(),
    )
    if pair is not None:
        proof = prove(source, model, split, pair)
        result.alice_inputs = (pair.x.tolist(), pair.x2.tolist())
        result.bob_input = pair.y.tolist()
        for key, value in proof.items():
            setattr(result, key, value)
        result.note = (f"x and x' send the same {source.nominal_bits}-bit message, so Bob's answer on y is the "
                       f"same for both, but f(x, y) = {proof['expected'][0]} and f(x', y) = {proof['expected'][1]}")
    else:
        scope = "all" if exhaustive else "the sampled"
        if distinct == enumerated:
            result.note = (f"no collision: {scope} {enumerated:,} inputs of Alice send {distinct:,} distinct messages"
                           + ("; the model is large enough to tell every input apart" if exhaustive else
                              " (not exhaustive: a collision may exist among inputs not drawn)"))
        else:
            result.note = (f"{enumerated - distinct:,} inputs share a message with another, but none of the {tried:,} "
                           "colliding pairs tried has a Bob input telling them apart (the first input of each run of "
                           "equal messages against up to 32 others)")
        if not exact:
            result.note += "; distinct count from 64-bit hashes"
    result.seconds = time.perf_counter() - t_start
    return result


def _default_split(reduction: Reduction) -> Any:
    from ..protocol.core import Split

    inst = reduction.encode(np.zeros(reduction.problem.x_space.length, dtype=np.int64),
                            reduction.problem.y_space.from_index(0))
    return Split.from_instance(inst)


def _vocab_names(reduction: Reduction) -> list[str] | None:
    try:
        return reduction.task.vocab_names()
    except InvalidInputError:  # a vocabulary that cannot be named at this size
        return None


def effective_bits(reduction: Reduction, model: Any, split: Any = None, *, max_inputs: int | None = None,
                   backend: str = "auto", max_engine_inputs: int = 1 << 10, executor: Any = None,
                   progress: Progress | None = None, spill_dir: str | None = None) -> EffectiveBits:
    """log2 of the number of distinct messages Alice sends over **all** her inputs.

    ``reduction``: a :class:`~commlb.core.Reduction`; ``model``: any commlb model;
    ``split``: a :class:`~commlb.protocol.core.Split` or None (the reduction's owners).
    Returns :class:`EffectiveBits` (``to_json()`` for ``simulate --json``).  It never
    raises for a split or model it cannot count (not one-way, more than ``max_inputs``
    inputs (by default: more than this machine can enumerate in memory within
    :data:`MAX_EXHAUSTIVE_SECONDS`, the exhaustive witness search's limits), or no
    batched kernel — float arithmetic, hard attention, several layers — and more
    than ``max_engine_inputs`` inputs for one protocol run each): it returns
    ``applicable=False`` with the reason in ``note``.  A model correct on every input
    has ``effective_bits >= one_way_bound`` (the one-way complexity is log2 #distinct
    rows, and inputs with equal messages get equal answers).  ``executor``: a
    :class:`commlb.execution.Executor`; with one, the count is partitioned, spilled to disk
    and run on its workers (:mod:`.spill`; the same count), ``max_inputs`` does not apply
    and a count estimated above :data:`MAX_EXHAUSTIVE_SECONDS` on its workers is refused;
    ``spill_dir``: where it spills (default the system's temporary directory)."""
    t = time.perf_counter()
    problem = reduction.problem
    bound = _bound_value(problem)
    try:
        size = int(problem.x_space.size)
        if executor is None and max_inputs is not None and size > max_inputs:
            return EffectiveBits(False, one_way_bound=bound, inputs=size,
                                 note=f"Alice has {size:.3g} inputs, above the limit of {max_inputs:,}")
        source = message_source(reduction, model, split, backend=backend, max_engine_inputs=max_engine_inputs,
                                numpy_below=NUMPY_BELOW_EFFECTIVE)
    except (InvalidInputError, TooLargeError) as exc:
        return EffectiveBits(False, one_way_bound=bound, note=str(exc))
    if executor is None and max_inputs is None and source.n_inputs > 1 << 20:
        # the same limits as the exhaustive witness search, checked before anything is allocated
        est_s, est_b = _estimate(source)
        avail = _available_bytes()
        short = ("time" if est_s > MAX_EXHAUSTIVE_SECONDS else
                 "memory" if est_b > MAX_EXHAUSTIVE_BYTES or (avail is not None and est_b > avail) else None)
        if short is not None:
            return EffectiveBits(False, one_way_bound=bound, inputs=source.n_inputs,
                                 note=f"counting the messages of Alice's {source.n_inputs:.3g} inputs in this process "
                                      f"would take about {fmt_seconds(est_s)} and {fmt_bytes(est_b)}"
                                      + ("" if avail is None else f" ({fmt_bytes(avail)} available)")
                                      + "; use a smaller --n, or --workers N to count on Dask, spilled to disk")
    if executor is not None:
        from .spill import spilled_count

        plan = None
        if source.n_inputs > 1 << 20:
            from .spill import count_plan

            plan = count_plan(source, executor, spill_dir)
            est_s = plan.idle_seconds
            if est_s > MAX_EXHAUSTIVE_SECONDS:
                raise TooLargeError(f"counting the messages of Alice's {source.n_inputs:.3g} inputs would take "
                                    f"about {fmt_seconds(est_s)} on {executor.workers} worker(s): use a smaller "
                                    "--n or more workers")
        spilled = spilled_count(source, executor, progress=progress, directory=spill_dir, how=plan)
        distinct, exact = spilled.distinct, spilled.exact
    else:
        order, starts, lengths, runs, members, _ = _enumerate(source, None)
        distinct, exact = count_distinct(source, source.leaves_to_digits, order, starts, lengths, runs=runs,
                                         members=members, limit=MAX_RUN_MEMBERS)
    return EffectiveBits(True, distinct, _log2(distinct), source.nominal_bits, bound, source.n_inputs, exact,
                         "" if exact else "distinct count from 64-bit hashes", source.kind + f" ({source.backend})",
                         time.perf_counter() - t)
