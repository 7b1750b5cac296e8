"""The in-place key/index radix sort and the run summary of the witness search, against
their numpy twins."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.kernels.keysort import (
    SMALL,
    group_by_partition,
    group_by_partition_reference,
    mix_keys,
    run_summary,
    run_summary_reference,
    sort_keys_indices,
    sort_keys_indices_reference,
)


@st.composite
def key_arrays(draw):
    n = draw(st.sampled_from([0, 1, 2, SMALL, SMALL + 1, 100, 1000, 5000]))
    kind = draw(st.sampled_from(["full", "few", "equal", "high", "low-bits"]))
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed)
    if kind == "full":
        keys = g.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + g.integers(0, 2, n, dtype=np.uint64)
    elif kind == "few":  # many runs longer than one, keys spread over the word
        keys = g.integers(0, max(1, n // 8), n).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    elif kind == "equal":
        keys = np.full(n, g.integers(0, 2**63), dtype=np.uint64)
    elif kind == "high":  # keys differing only in their top bits
        keys = g.integers(0, 16, n).astype(np.uint64) << np.uint64(60)
    else:
        keys = g.integers(0, 3, n).astype(np.uint64)
    dtype = draw(st.sampled_from([np.uint32, np.int64]))
    idx = g.permutation(n).astype(dtype) * dtype(draw(st.integers(1, 3)))  # distinct, any order
    return keys, idx


@settings(deadline=None, max_examples=80)
@given(key_arrays(), st.integers(1, 50))
def test_radix_sort_and_runs_equal_numpy_twins(arrays, max_multi):
    keys, idx = arrays
    k1, i1 = keys.copy(), idx.copy()
    k2, i2 = keys.copy(), idx.copy()
    sort_keys_indices(k1, i1)
    sort_keys_indices_reference(k2, i2)
    assert np.array_equal(k1, k2) and np.array_equal(i1, i2)
    # a permutation of the input pairs, sorted by (key, index)
    assert sorted(zip(keys.tolist(), idx.tolist(), strict=True)) == list(zip(k1.tolist(), i1.tolist(), strict=True))
    fast = run_summary(k1, max_multi)
    twin = run_summary_reference(k2, max_multi)
    assert fast[0] == twin[0] == len(set(keys.tolist()))
    assert np.array_equal(fast[1], twin[1]) and np.array_equal(fast[2], twin[2])
    assert fast[3] == twin[3] and fast[4] == twin[4]
    assert len(fast[1]) == min(max_multi, fast[4])


@settings(deadline=None, max_examples=60)
@given(key_arrays(), st.integers(0, 10))
def test_group_by_partition_equals_numpy_twin(arrays, bits):
    keys, _ = arrays
    fast = group_by_partition(keys, bits)
    twin = group_by_partition_reference(keys, bits)
    for a, b in zip(fast, twin, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    grouped, offsets, starts = fast
    assert starts[0] == 0 and starts[-1] == keys.size and np.all(np.diff(starts) >= 0)
    assert np.array_equal(grouped, keys[offsets.astype(np.int64)])  # offsets point at the keys
    for p in range(1 << bits):  # inside a partition, the keys' original order
        assert np.all(np.diff(offsets[starts[p]:starts[p + 1]].astype(np.int64)) > 0)


def _group_all(keys, chunks, bits, cap, max_multi, budget, spare, slices=None):
    from commlb.kernels.keysort import RunGrouper

    g = RunGrouper(keys.size, bits=bits, cap=cap, spare=spare, slices=slices)
    cuts = sorted({0, keys.size, *[c % (keys.size + 1) for c in chunks]})
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        g.add(lo, keys[lo:hi].copy())
    return g.runs(max_multi, budget)


@settings(deadline=None, max_examples=80)
@given(key_arrays(), st.lists(st.integers(0, 10**6), max_size=6), st.integers(0, 6),
       st.sampled_from([None, 1, 8, 40]), st.integers(0, 40), st.sampled_from([0, 40, 100, 10**6]),
       st.sampled_from([None, 0]), st.sampled_from([None, 1, 2, 3, 7]))
def test_run_grouper_equals_numpy_twin(arrays, chunks, bits, cap, max_multi, budget, spare, slices):
    """Chunked grouping (each chunk in parallel slices, groups in parallel, oversized groups
    after them, or the whole-array sort when a group is too large) lists the same runs,
    with the same members, as the lexsort twin."""
    from commlb.kernels.keysort import PER_RUN, group_runs_reference

    keys, _ = arrays
    order, starts, lengths, runs, members, multi = _group_all(keys, chunks, bits, cap, max_multi, budget, spare,
                                                              slices)
    t_order, t_starts, t_lengths, t_runs, t_members, t_multi = group_runs_reference(keys, max_multi, budget)
    assert (runs, members, multi) == (t_runs, t_members, t_multi)
    assert runs == len(set(keys.tolist()))
    assert np.array_equal(lengths, t_lengths)
    every = members <= budget
    for k in range(lengths.size):
        take = int(lengths[k]) if every else min(int(lengths[k]), PER_RUN)
        got = order[starts[k]:starts[k] + take].astype(np.int64)
        assert np.array_equal(got, t_order[t_starts[k]:t_starts[k] + take])
        assert np.all(keys[got] == keys[got[0]])  # the members share their key
    if every:
        assert lengths.size == min(max_multi, multi)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.integers(-2**62, 2**62), max_size=200))
def test_sorted_unique_equals_numpy_unique(values):
    from commlb.core import sorted_unique

    got = sorted_unique(np.array(values, dtype=np.int64))
    assert got.dtype == np.int64 and np.array_equal(got, np.unique(np.array(values, dtype=np.int64)))



@settings(deadline=None, max_examples=40)
@given(key_arrays(), st.integers(0, 8), st.sampled_from([1, 2, 3, 5]), st.integers(0, 1000))
def test_run_grouper_chunk_layout_equals_partition_twin(arrays, bits, slices, t0):
    """One chunk's grouping, in any number of parallel slices, lays the mixed keys and
    their leaf numbers out as the stable partition twin does (leaf order inside a group)."""
    from commlb.kernels.keysort import RunGrouper

    keys, _ = arrays
    g = RunGrouper(t0 + keys.size, bits=bits, slices=slices)
    g.filled = t0  # this chunk starts at leaf t0
    g.add(t0, keys.copy())
    grouped, offsets, starts = group_by_partition_reference(keys, bits)
    assert np.array_equal(g.keys[t0:], mix_keys(grouped))
    assert np.array_equal(g.idx[t0:].astype(np.int64), offsets.astype(np.int64) + t0)
    if keys.size:
        assert np.array_equal(g.rows[0], starts + t0)
