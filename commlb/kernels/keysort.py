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
from numba import njit, prange

__all__ = ["SMALL", "PER_RUN", "sort_keys_indices", "sort_keys_indices_reference", "run_summary",
           "run_summary_reference", "group_by_partition", "group_by_partition_reference", "partition_of", "mix_keys",
           "RunGrouper", "group_runs_reference"]

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
def _sort_range(keys, idx, lo0, hi0, stack_lo, stack_hi, counts, heads, tails):
    """Sort keys[lo0:hi0] by (key, index) in place with their indices (the MSD radix sort of
    :func:`sort_keys_indices`); the stacks hold (hi0 - lo0) // SMALL + 2 ranges, the tables
    256 entries."""
    n = hi0 - lo0
    top = 0
    if 1 < n <= SMALL:
        _small_sort(keys, idx, lo0, hi0)
    elif n > SMALL:
        stack_lo[0] = lo0
        stack_hi[0] = hi0
        top = 1
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


@njit(cache=True)
def sort_keys_indices(keys, idx):
    """Sort ``keys`` ascending in place and apply the same permutation to ``idx``; equal keys
    are ordered by index.  Indices must be distinct."""
    n = keys.shape[0]
    depth = n // SMALL + 2
    _sort_range(keys, idx, 0, n, np.empty(depth, dtype=np.int64), np.empty(depth, dtype=np.int64),
                np.zeros(1 << 8, dtype=np.int64), np.zeros(1 << 8, dtype=np.int64), np.zeros(1 << 8, dtype=np.int64))


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
    return (mix_keys(keys) >> np.uint64(64 - bits)).astype(np.int64)


def group_by_partition_reference(keys: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain twin of :func:`group_by_partition` (:func:`partition_of`, a stable argsort, a gather)."""
    part = partition_of(keys, bits)
    order = np.argsort(part, kind="stable")
    starts = np.searchsorted(part[order], np.arange((1 << bits) + 1), side="left").astype(np.int64)
    return keys[order].astype(np.uint64), order.astype(np.uint32), starts


# ---------------------------------------------------------------------------------
# runs of equal keys, grouped as they are enumerated (the exhaustive witness search)
# ---------------------------------------------------------------------------------
#: members stored for one run when not every member of every run fits the budget
PER_RUN = 33


def mix_keys(keys: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser of every key (a bijection of 64-bit words: equal keys, equal
    mixed keys); plain numpy."""
    x = np.asarray(keys, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


@njit(cache=True, parallel=True)
def _partition_chunk(chunk, t0, bits, keys, idx, lo, offsets_row, counts):
    """Mix the keys of one enumeration chunk (leaves t0, t0 + 1, ...; ``chunk`` is
    overwritten) and write them into keys[lo:lo + m] grouped by the top ``bits`` bits of
    the mixed key, in leaf order inside a group, with their leaf numbers in ``idx``;
    ``offsets_row[g]`` is where group g starts (2^bits + 1 entries, absolute).  A counting
    sort in parallel over ``counts.shape[0]`` consecutive slices of the chunk (``counts``:
    one row of 2^bits entries per slice): each slice counts its groups, slice s's part of
    group g goes after slices 0 .. s-1's (so leaf order holds inside a group), and each
    slice scatters its own keys."""
    m = chunk.shape[0]
    nb = 1 << bits
    slices = counts.shape[0]
    sh = np.uint64(64 - bits) if bits > 0 else np.uint64(0)
    for s in prange(slices):
        for g in range(nb):
            counts[s, g] = 0
        for t in range(m * s // slices, m * (s + 1) // slices):
            v = _mix(chunk[t])
            chunk[t] = v
            g = np.int64(v >> sh) if bits > 0 else np.int64(0)
            counts[s, g] += 1
    at = lo
    for g in range(nb):
        offsets_row[g] = at
        for s in range(slices):
            c = counts[s, g]
            counts[s, g] = at
            at += c
    offsets_row[nb] = at
    for s in prange(slices):
        for t in range(m * s // slices, m * (s + 1) // slices):
            v = chunk[t]
            g = np.int64(v >> sh) if bits > 0 else np.int64(0)
            p = counts[s, g]
            keys[p] = v
            idx[p] = t0 + t
            counts[s, g] = p + 1


@njit(cache=True)
def _table_size(m):
    """Slots of a group's hash table: the power of two at least 2 m (load at most 1/2)."""
    t = 1
    while t < 2 * m:
        t <<= 1
    return t


@njit(cache=True)
def _bucket_runs(keys, idx, offsets, g, tkeys, tidx, tflag, dk, di, stack_lo, stack_hi, counts, heads, tails,
                 stats):
    """Group g: its keys, read piece by piece (one piece per chunk), go into an open
    addressing hash table (the low bits of the mixed key, linear probing, load at most 1/2);
    a key met again puts its entries (the first one once) on a list, which is sorted by
    (key, index) and written back over the group's pieces (chunk order).  stats[g] = (runs,
    members of runs longer than one, runs longer than one).  The scratch holds at least
    2 m table slots and m list entries for the group's m keys."""
    nch = offsets.shape[0]
    m = 0
    for c in range(nch):
        m += offsets[c, g + 1] - offsets[c, g]
    size = _table_size(m)
    mask = size - 1
    for h in range(size):
        tflag[h] = 0
    nd = 0
    runs = 0
    for c in range(nch):
        for p in range(offsets[c, g], offsets[c, g + 1]):
            kv = keys[p]
            h = np.int64(kv & np.uint64(mask))
            while True:
                f = tflag[h]
                if f == 0:
                    tflag[h] = 1
                    tkeys[h] = kv
                    tidx[h] = idx[p]
                    runs += 1
                    break
                if tkeys[h] == kv:
                    if f == 1:
                        tflag[h] = 2
                        dk[nd] = kv
                        di[nd] = tidx[h]
                        nd += 1
                    dk[nd] = kv
                    di[nd] = idx[p]
                    nd += 1
                    break
                h = (h + 1) & mask
    multi = 0
    if nd > 0:
        _sort_range(dk, di, 0, nd, stack_lo, stack_hi, counts, heads, tails)
        multi = run_summary(dk[:nd], 0)[0]  # every entry is in a run longer than one
        c = 0
        w = offsets[0, g]
        wend = offsets[0, g + 1]
        for u in range(nd):
            while w == wend:
                c += 1
                w = offsets[c, g]
                wend = offsets[c, g + 1]
            keys[w] = dk[u]
            idx[w] = di[u]
            w += 1
    stats[g, 0] = runs
    stats[g, 1] = nd
    stats[g, 2] = multi


@njit(cache=True)
def _scratch_for(most, key_dtype_probe, idx_dtype_probe):
    """Scratch of :func:`_bucket_runs` for groups of up to ``most`` keys: (tkeys, tidx,
    tflag, dk, di, stack_lo, stack_hi, counts, heads, tails)."""
    size = _table_size(most)
    depth = most // SMALL + 2
    return (np.empty(size, dtype=key_dtype_probe.dtype), np.empty(size, dtype=idx_dtype_probe.dtype),
            np.zeros(size, dtype=np.uint8), np.empty(most, dtype=key_dtype_probe.dtype),
            np.empty(most, dtype=idx_dtype_probe.dtype), np.empty(depth, dtype=np.int64),
            np.empty(depth, dtype=np.int64), np.zeros(1 << 8, dtype=np.int64), np.zeros(1 << 8, dtype=np.int64),
            np.zeros(1 << 8, dtype=np.int64))


@njit(cache=True, parallel=True)
def _groups_runs(keys, idx, offsets, sizes, cap, workers, stats):
    """:func:`_bucket_runs` for every group of at most ``cap`` keys, ``workers`` ranges of
    groups in parallel (each with its own scratch); larger groups are left (stats -1)."""
    ng = sizes.shape[0]
    for wk in prange(workers):
        g0 = ng * wk // workers
        g1 = ng * (wk + 1) // workers
        most = 0
        for g in range(g0, g1):
            if most < sizes[g] <= cap:
                most = sizes[g]
        tkeys, tidx, tflag, dk, di, stack_lo, stack_hi, counts, heads, tails = _scratch_for(most, keys[:1], idx[:1])
        for g in range(g0, g1):
            if sizes[g] > cap:
                stats[g, 0] = -1
            else:
                _bucket_runs(keys, idx, offsets, g, tkeys, tidx, tflag, dk, di, stack_lo, stack_hi, counts, heads,
                             tails, stats)


@njit(cache=True)
def _big_groups_runs(keys, idx, offsets, sizes, cap, stats):
    """:func:`_bucket_runs` for the groups of more than ``cap`` keys, one after the other."""
    most = 0
    for g in range(sizes.shape[0]):
        if sizes[g] > cap and sizes[g] > most:
            most = sizes[g]
    tkeys, tidx, tflag, dk, di, stack_lo, stack_hi, counts, heads, tails = _scratch_for(most, keys[:1], idx[:1])
    for g in range(sizes.shape[0]):
        if sizes[g] > cap:
            _bucket_runs(keys, idx, offsets, g, tkeys, tidx, tflag, dk, di, stack_lo, stack_hi, counts, heads, tails,
                         stats)


@njit(cache=True)
def _collect_runs(keys, idx, offsets, stats, max_multi, budget, per_run, store_all, order, starts, lengths):
    """The runs longer than one, group by group (each group's members as
    :func:`_bucket_runs` left them): their members go to ``order`` (all of them when
    ``store_all``, else the first ``per_run`` of each run while ``budget`` lasts), their
    starts in ``order`` and lengths to ``starts``/``lengths`` (the first ``max_multi``).
    Returns (entries of ``order`` used, runs recorded)."""
    ng = stats.shape[0]
    stored = 0
    k = 0
    for g in range(ng):
        left = stats[g, 1]
        if left == 0:
            continue
        c = 0
        r = offsets[0, g]
        rend = offsets[0, g + 1]
        prev = keys[r]
        have = False
        take = False
        rs = 0
        rl = 0
        for _ in range(left):
            while r == rend:
                c += 1
                r = offsets[c, g]
                rend = offsets[c, g + 1]
            kv = keys[r]
            iv = idx[r]
            r += 1
            if not have or kv != prev:
                if have and take:
                    starts[k] = rs
                    lengths[k] = rl
                    k += 1
                have = True
                prev = kv
                rl = 0
                rs = stored
                take = k < max_multi and (store_all or stored + per_run <= budget)
            if take and (store_all or rl < per_run):
                order[stored] = iv
                stored += 1
            rl += 1
        if have and take:
            starts[k] = rs
            lengths[k] = rl
            k += 1
    return stored, k


class RunGrouper:
    """The runs of equal 64-bit keys over ``n`` inputs whose keys arrive in chunks of
    consecutive leaves, in little memory: 12 bytes per input (16 at 2^32 inputs and more)
    plus one chunk and a scratch group per worker.

    :meth:`add` mixes each chunk's keys (SplitMix64, a bijection) and groups them by the top
    bits of the mixed key into their place in one key array and one leaf array (a counting
    sort of the chunk, in cache, over ``slices`` consecutive slices of it in parallel: by
    default one a thread, of at least 2^16 keys each).  :meth:`runs` then sorts each group (its pieces gathered
    from every chunk into a scratch of about 2^14 keys, an in-cache radix sort) in
    parallel, counts the runs, and collects the members of runs longer than one.  A group
    far larger than the others (many inputs sharing few messages) is sorted after the
    others with a scratch of its size if that fits ``spare`` bytes (default 4 bytes per input); otherwise the
    whole key array is radix sorted in place instead (:func:`sort_keys_indices`).  The
    result equals :func:`group_runs_reference` on the keys in leaf order."""

    def __init__(self, n: int, bits: int | None = None, cap: int | None = None, spare: int | None = None,
                 slices: int | None = None) -> None:
        self.n = int(n)
        self.slices = None if slices is None else max(1, int(slices))
        self.spare = 4 * self.n if spare is None else int(spare)
        if bits is None:
            bits = min(12, max(0, self.n.bit_length() - 15))
        self.bits = int(bits)
        ng = 1 << self.bits
        self.cap = int(cap) if cap is not None else max(4 * (self.n >> self.bits), 1 << 16)
        self.keys = np.empty(self.n, dtype=np.uint64)
        self.idx = np.empty(self.n, dtype=np.uint32 if self.n < 1 << 32 else np.int64)
        self.rows: list[np.ndarray] = []
        self.filled = 0
        self._ng = ng
        self._counts: np.ndarray | None = None

    def add(self, t0: int, chunk: np.ndarray) -> None:
        """Keys of leaves [t0, t0 + len(chunk)); chunks come in leaf order, without gaps
        (``chunk`` is overwritten)."""
        if int(t0) != self.filled:
            raise ValueError(f"chunk starts at leaf {t0}, expected {self.filled}")
        chunk = np.ascontiguousarray(chunk, dtype=np.uint64)
        if self.filled + chunk.size > self.n:
            raise ValueError("more keys than inputs")
        row = np.empty(self._ng + 1, dtype=np.int64)
        if chunk.size:
            slices = self.slices
            if slices is None:  # one slice per thread, of at least 2^16 keys
                from numba import get_num_threads

                slices = max(1, min(get_num_threads(), chunk.size >> 16))
            if self._counts is None or self._counts.shape[0] != slices:
                self._counts = np.empty((slices, self._ng), dtype=np.int64)
            _partition_chunk(chunk, np.int64(t0), np.int64(self.bits), self.keys, self.idx, np.int64(self.filled), row,
                             self._counts)
            self.rows.append(row)
        self.filled += chunk.size

    def runs(self, max_multi: int, budget: int, per_run: int = PER_RUN
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
        """(members, starts, lengths, runs, members in runs longer than one, runs longer
        than one).  ``members``: leaf numbers of the runs longer than one, run after run
        (in increasing order of mixed key; each run's leaves ascending); run k's are
        ``members[starts[k]:starts[k] + min(lengths[k], stored)]`` where every member is
        stored when all of them number at most ``budget``, else the first ``per_run`` of
        each run as long as ``budget`` lasts; at most ``max_multi`` runs are listed."""
        if self.filled != self.n:
            raise ValueError(f"{self.filled} of {self.n} keys added")
        if self.n == 0:
            z = np.zeros(0, dtype=np.int64)
            return self.idx[:0].copy(), z, z.copy(), 0, 0, 0
        offsets = np.vstack(self.rows)
        sizes = (offsets[:, 1:] - offsets[:, :-1]).sum(axis=0)
        big = sizes > self.cap
        stats = np.zeros((self._ng, 3), dtype=np.int64)
        per = self.keys.itemsize + self.idx.itemsize
        if big.any() and (_table_size(int(sizes[big].max())) * (per + 1) + int(sizes[big].max()) * per > self.spare):
            # too few distinct keys for groups: one in-place sort of everything (mixed-key order as well)
            sort_keys_indices(self.keys, self.idx)
            runs, starts, lengths, members, multi = run_summary(self.keys, max(0, int(max_multi)))
            if members > budget:  # list the runs the budget would have stored, as the groups do
                used = np.concatenate([[0], np.cumsum(np.minimum(lengths, per_run))])[:-1]
                k = int(np.count_nonzero(used + per_run <= budget))
                starts, lengths = starts[:k], lengths[:k]
            return self.idx, starts, lengths, int(runs), int(members), int(multi)
        from numba import get_num_threads

        workers = min(self._ng, 4 * get_num_threads())
        _groups_runs(self.keys, self.idx, offsets, sizes, np.int64(self.cap), np.int64(workers), stats)
        if big.any():
            _big_groups_runs(self.keys, self.idx, offsets, sizes, np.int64(self.cap), stats)
        total = int(stats[:, 1].sum())
        store_all = total <= budget
        order = np.empty(total if store_all else min(total, int(budget)), dtype=self.idx.dtype)
        starts = np.empty(max(0, int(max_multi)), dtype=np.int64)
        lengths = np.empty(max(0, int(max_multi)), dtype=np.int64)
        stored, k = _collect_runs(self.keys, self.idx, offsets, stats, np.int64(max_multi), np.int64(budget),
                                  np.int64(per_run), store_all, order, starts, lengths)
        return (order[:stored], starts[:k].copy(), lengths[:k].copy(), int(stats[:, 0].sum()), total,
                int(stats[:, 2].sum()))


def group_runs_reference(keys: np.ndarray, max_multi: int, budget: int, per_run: int = PER_RUN
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Plain twin of :class:`RunGrouper` (keys in leaf order, all at once): a lexsort by
    (mixed key, leaf) and the runs, as :meth:`RunGrouper.runs` returns them."""
    keys = np.asarray(keys, dtype=np.uint64)
    n = keys.size
    mixed = mix_keys(keys)
    leaves = np.arange(n, dtype=np.int64)
    order = np.lexsort((leaves, mixed))
    sk = mixed[order]
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), z.copy(), 0, 0, 0
    first = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    lens = np.diff(np.append(first, n))
    multi = lens > 1
    total = int(lens[multi].sum())
    store_all = total <= budget
    out: list[np.ndarray] = []
    starts: list[int] = []
    lengths: list[int] = []
    stored = 0
    for s, ln in zip(first[multi].tolist(), lens[multi].tolist()):
        if len(starts) >= max_multi or (not store_all and stored + per_run > budget):
            continue
        take = ln if store_all else min(ln, per_run)
        starts.append(stored)
        lengths.append(ln)
        out.append(order[s:s + take])
        stored += take
    members = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return (members.astype(np.int64), np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64),
            int(first.size), total, int(np.count_nonzero(multi)))
