"""Benchmark: enumerating all of Alice's inputs through an RNN (the witness search's hot loop).

What is timed, side by side in one run, for an RNN with d = 16 hidden units, p = 16-bit
fixed point (f = 8), tanh, one layer, random seeded weights, and Alice's input = n bits
read as n tokens (her message = the state after them):

* ``numba prefix tree`` — :func:`commlb.kernels.alice.rnn_keys`: all 2^n inputs by an
  odometer walk of the prefix tree (each prefix state computed once, each node's
  recurrent product shared by its children; about 2^(n+1) cell steps), every final state
  reduced to a 64-bit key, in parallel over ranges of leaves (``numba.prange``);
* ``numba per input`` — :func:`commlb.kernels.alice.rnn_rows` + :func:`key_rows`: the same
  arithmetic without prefix sharing (n cell steps per input), for scale;
* ``numpy batched`` — the plain numpy batched forward pass over the same inputs
  (:func:`commlb.kernels.alice.rnn_rows_reference`: n batched steps with float64 BLAS
  products, exact, in chunks of 2^16 inputs) and the numpy key twin
  (:func:`key_rows_reference`).

The per-input variants are run on a prefix of the leaves (``--subset``, default 2^18
inputs) and **extrapolated linearly** to all 2^n inputs (their cost is exactly linear in
the number of inputs: n steps each); the output says so.  Their keys on that prefix are
checked equal to the tree's.  Goal (issue 5): all 2^24 inputs in < 2 s on 2 cores, at least
20x the numpy baseline.

``--command``: instead, the whole ``commlb witness --task disjointness --model rnn --n N
--hidden 16 --precision 16`` in a fresh process beside the tree kernel above (all 2^N
inputs, in this process), interleaved, with wall and CPU ratios, the load average and the
command's peak memory (bench/bench_witness_command.py; ``--bytecode both`` runs the
command with and without compiled bytecode).

Run:  .venv/bin/python bench/bench_witness.py [--sizes 20,24] [--subset 18] [--repeat 3]
      .venv/bin/python bench/bench_witness.py --command [--sizes 24] [--bytecode both]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, best_of, machine_line, print_table  # noqa: E402

from commlb.bits import Precision  # noqa: E402
from commlb.kernels import alice as K  # noqa: E402
from commlb.models.rnn import RNNModel  # noqa: E402


def numpy_keys(arrays: K.RNNArrays, tokens: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    widths = np.full(arrays.L * arrays.d, arrays.bits)
    out = []
    for lo in range(0, tokens.shape[0], chunk):
        out.append(K.key_rows_reference(K.rnn_rows_reference(arrays, tokens[lo:lo + chunk]), widths))
    return np.concatenate(out)


def main() -> None:
    import numba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20,24", help="comma-separated n (Alice enumerates 2^n inputs)")
    ap.add_argument("--subset", type=int, default=18, help="log2 of the inputs the per-input variants run on")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--command", action="store_true",
                    help="time the whole witness command beside the kernel (bench_witness_command.py)")
    ap.add_argument("--bytecode", default="env", choices=["env", "compiled", "none", "both"],
                    help="with --command: which compiled bytecode the command finds")
    args = ap.parse_args()
    if args.command:
        import bench_witness_command

        for n in (int(s) for s in args.sizes.split(",")):
            bench_witness_command.main(["--n", str(n), "--repeat", str(args.repeat), "--bytecode", args.bytecode])
        return
    rng = np.random.default_rng(2026)
    model = RNNModel.random(2, rng, hidden=args.hidden, activation="tanh", precision=Precision.fixed(args.bits))
    arrays = K.RNNArrays.from_model(model)
    widths = np.full(arrays.L * arrays.d, arrays.bits)
    print(machine_line())
    print(f"RNN d={args.hidden}, p={args.bits} fixed (f={model.precision.frac}), tanh, L=1; numba threads: "
          f"{numba.get_num_threads()}; exact float64 kernel: {arrays.use_float}")
    for n in (int(s) for s in args.sizes.split(",")):
        N = 1 << n
        level_tokens = np.tile(np.array([[0, 1]]), (n, 1))
        radix = np.full(n, 2)
        tree = best_of("numba prefix tree", lambda: K.rnn_keys(arrays, level_tokens, radix, 0, N),
                       repeat=args.repeat)
        keys = tree.result
        c0 = time.process_time()
        w0 = time.perf_counter()
        K.rnn_keys(arrays, level_tokens, radix, 0, N)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        sub = min(N, 1 << args.subset)
        toks = K.tree_tokens(np.arange(sub), radix, level_tokens)
        rows = best_of("numba per input", lambda: K.key_rows(K.rnn_rows(arrays, toks), widths),
                       repeat=args.repeat)
        base = best_of("numpy batched", lambda: numpy_keys(arrays, toks), repeat=max(1, args.repeat - 1))
        assert np.array_equal(rows.result, keys[:sub]) and np.array_equal(base.result, keys[:sub])
        scale = N / sub
        note = f"measured on {sub:,} inputs, x{scale:g} extrapolated" if scale > 1 else ""
        rows_all = Timing("numba per input", rows.seconds * scale, note=note)
        base_all = Timing("numpy batched", base.seconds * scale, note=note)
        distinct = np.unique(keys).size
        print_table(f"n = {n}: all {N:,} inputs of Alice ({distinct:,} distinct 64-bit keys)",
                    [tree, rows_all, base_all], reference=tree)
        for t in (tree, rows_all, base_all):
            print(f"  {t.label:<20} {N / t.seconds:14,.0f} inputs/s")
        print(f"  speed-up of the tree over numpy: {base_all.seconds / tree.seconds:.1f}x; "
              f"over numba per input: {rows_all.seconds / tree.seconds:.1f}x")
        threads = numba.get_num_threads()
        print(f"  one more tree run: {wall:.2f} s wall, {cpu:.2f} s CPU summed over threads "
              f"(on {threads} otherwise idle cores: about {cpu / threads:.2f} s; the wall time above includes "
              f"waiting for cores shared with other processes, load average {os.getloadavg()[0]:.1f})")
        if n == 24:
            verdict = "met" if tree.seconds < 2 else "NOT met"
            ratio = base_all.seconds / tree.seconds
            print(f"  goal 2^24 inputs in < 2 s: {tree.seconds:.2f} s ({verdict}); goal >= 20x numpy: "
                  f"{ratio:.1f}x ({'met' if ratio >= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
