"""Sorting 64-bit message keys together with their input indices in place, and the runs of
equal keys, in little memory (the witness search over 2^n inputs).

:func:`sort_keys_indices` sorts ``keys`` (uint64) and permutes ``idx`` (uint32 or int64)
with it, in place, by (key, index): an MSD radix sort (American flag sort, McIlroy, Bostic
& McIlroy 1993) on up to 8 bits at a time, starting at the highest bit where the keys of a
bucket differ (so keys confined to a few low bits, or all equal, cost no empty passes);
buckets of at most ``SMALL`` entries are finished by insertion sort on (key, index).
Extra memory: three 256-entry tables and a stack of at most n / SMALL ranges, against the
2 x 8 bytes per entry that ``argsort`` plus a gathered copy of the keys take.  Within a run
of equal keys the indices come out ascending, as with a stable argsort.

:func:`run_summary` walks the sorted keys once: the number of runs of equal keys, and the
start and length of the first ``max_multi`` runs longer than one.

:func:`group_by_partition` groups a chunk's keys by the partition of the spilled count
(the top bits of a SplitMix64 mix of the key), keeping their order inside a partition,
with their offsets: one counting sort.

Plain twins: :func:`sort_keys_indices_reference` (``numpy.lexsort``),
:func:`run_summary_reference` (``numpy.unique``) and :func:`group_by_partition_reference`
(a stable ``argsort``); tests compare them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["SMALL", "sort_keys_indices", "sort_keys_indices_reference", "run_summary", "run_summary_reference",
           "group_by_partition", "group_by_partition_reference", "partition_of"]

#: buckets up to this size are finished by a comparison sort
SMALL = 32


@njit(cache=True)
def _small_sort(keys, idx, lo, hi):
    """Insertion sort of keys[lo:hi] by (key, index), with their indices (hi - lo <= SMALL)."""
    for t in range(lo + 1, hi):
        kv = keys[t]
        iv = idx[t]
        u = t - 1
        while u >= lo and (keys[u] > kv or (keys[u] == kv and idx[u] > iv)):
            keys[u + 1] = keys[u]
            idx[u + 1] = idx[u]
            u -= 1
        keys[u + 1] = kv
        idx[u + 1] = iv


@njit(cache=True)
def sort_keys_indices(keys, idx):
    """Sort ``keys`` ascending in place and apply the same permutation to ``idx``; equal keys
    are ordered by index.  Indices must be distinct."""
    n = keys.shape[0]
    # the stack holds disjoint ranges of more than SMALL entries each
    depth = n // SMALL + 2
    stack_lo = np.empty(depth, dtype=np.int64)
    stack_hi = np.empty(depth, dtype=np.int64)
    top = 0
    if 1 < n <= SMALL:
        _small_sort(keys, idx, 0, n)
    elif n > SMALL:
        stack_lo[0] = 0
        stack_hi[0] = n
        top = 1
    counts = np.zeros(1 << 8, dtype=np.int64)
    heads = np.zeros(1 << 8, dtype=np.int64)
    tails = np.zeros(1 << 8, dtype=np.int64)
    while top > 0:
        top -= 1
        lo = stack_lo[top]
        hi = stack_hi[top]
        mn = keys[lo]
        mx = keys[lo]
        for t in range(lo + 1, hi):
            v = keys[t]
            if v < mn:
                mn = v
            if v > mx:
                mx = v
        if mn == mx:
            idx[lo:hi].sort()  # one key: order by index
            continue
        diff = mn ^ mx
        high = 63
        while (diff >> np.uint64(high)) == 0:
            high -= 1
        # digit width: about log2(size) - 2 bits (buckets of ~4 entries), 4 to 8 (wider tables
        # scatter over too many cache lines and are slower, measured)
        width = 4
        while width < 8 and (np.int64(1) << (width + 3)) < hi - lo:
            width += 1
        if width > high + 1:
            width = high + 1
        shift = high + 1 - width
        nb = 1 << width
        mask = np.uint64(nb - 1)
        sh = np.uint64(shift)
        for b in range(nb):
            counts[b] = 0
        for t in range(lo, hi):
            counts[np.int64((keys[t] >> sh) & mask)] += 1
        pos = lo
        for b in range(nb):
            heads[b] = pos
            pos += counts[b]
            tails[b] = pos
        # American flag permutation: place each element into its bucket by cycles
        for b in range(nb):
            while heads[b] < tails[b]:
                kv = keys[heads[b]]
                iv = idx[heads[b]]
                d = np.int64((kv >> sh) & mask)
                while d != b:
                    p = heads[d]
                    heads[d] += 1
                    kt = keys[p]
                    it = idx[p]
                    keys[p] = kv
                    idx[p] = iv
                    kv = kt
                    iv = it
                    d = np.int64((kv >> sh) & mask)
                keys[heads[b]] = kv
                idx[heads[b]] = iv
                heads[b] += 1
        start = lo
        for b in range(nb):
            end = start + counts[b]
            if end - start > 1:
                if shift == 0:
                    idx[start:end].sort()  # the digit was the lowest bits: one key
                elif end - start <= SMALL:
                    _small_sort(keys, idx, start, end)
                else:
                    stack_lo[top] = start
                    stack_hi[top] = end
                    top += 1
            start = end


def sort_keys_indices_reference(keys: np.ndarray, idx: np.ndarray) -> None:
    """Plain twin of :func:`sort_keys_indices` (``numpy.lexsort``; 3 x 8 bytes extra per entry)."""
    order = np.lexsort((idx, keys))
    keys[:] = keys[order]
    idx[:] = idx[order]


@njit(cache=True)
def run_summary(keys, max_multi):
    """(number of runs of equal keys, starts, lengths, members, multi) of the sorted
    ``keys``: starts and lengths of the first ``max_multi`` runs longer than one only; the
    number of inputs in such runs and the number of such runs, over all of them."""
    n = keys.shape[0]
    starts = np.empty(max_multi, dtype=np.int64)
    lengths = np.empty(max_multi, dtype=np.int64)
    runs = 0
    multi = 0
    members = 0
    t = 0
    while t < n:
        s = t
        t += 1
        while t < n and keys[t] == keys[s]:
            t += 1
        runs += 1
        if t - s > 1:
            members += t - s
            if multi < max_multi:
                starts[multi] = s
                lengths[multi] = t - s
            multi += 1
    m = min(multi, max_multi)
    return runs, starts[:m].copy(), lengths[:m].copy(), members, multi


def run_summary_reference(keys: np.ndarray, max_multi: int) -> tuple[int, np.ndarray, np.ndarray, int, int]:
    """Plain twin of :func:`run_summary` (``numpy.unique`` on the sorted keys)."""
    if keys.size == 0:
        return 0, np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    multi = counts > 1
    return (int(first.size), first[multi][:max_multi].astype(np.int64), counts[multi][:max_multi].astype(np.int64),
            int(counts[multi].sum()), int(np.count_nonzero(multi)))


@njit(cache=True)
def _mix(v):
    """SplitMix64's finaliser of one 64-bit value (wrapping arithmetic)."""
    x = v ^ (v >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def group_by_partition(keys, bits):
    """(keys grouped by partition, their offsets in ``keys`` as uint32, start of each
    partition: 2^bits + 1 entries): the partition of a key is the top ``bits`` bits of
    SplitMix64's finaliser of it; inside a partition the keys keep their order (a
    counting sort: three passes, no comparison).  ``keys.size`` must be below 2^32."""
    n = keys.shape[0]
    parts = 1 << bits
    shift = np.uint64(64 - bits) if bits > 0 else np.uint64(0)
    which = np.empty(n, dtype=np.int32)
    counts = np.zeros(parts + 1, dtype=np.int64)
    for t in range(n):
        p = np.int32(_mix(keys[t]) >> shift) if bits > 0 else np.int32(0)
        which[t] = p
        counts[p + 1] += 1
    for p in range(parts):
        counts[p + 1] += counts[p]
    starts = counts.copy()
    out_keys = np.empty(n, dtype=np.uint64)
    out_offsets = np.empty(n, dtype=np.uint32)
    for t in range(n):
        p = which[t]
        at = counts[p]
        out_keys[at] = keys[t]
        out_offsets[at] = t
        counts[p] = at + 1
    return out_keys, out_offsets, starts


def partition_of(keys: np.ndarray, bits: int) -> np.ndarray:
    """The partition (0 .. 2^bits - 1) of each 64-bit key: the top ``bits`` bits of the
    SplitMix64 finaliser of the key (packed messages are far from uniform; the mix is)."""
    if bits == 0:
        return np.zeros(keys.size, dtype=np.int64)
    x = keys.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(64 - bits)).astype(np.int64)


def group_by_partition_reference(keys: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain twin of :func:`group_by_partition` (:func:`partition_of`, a stable argsort, a gather)."""
    part = partition_of(keys, bits)
    order = np.argsort(part, kind="stable")
    starts = np.searchsorted(part[order], np.arange((1 << bits) + 1), side="left").astype(np.int64)
    return keys[order].astype(np.uint64), order.astype(np.uint32), starts
