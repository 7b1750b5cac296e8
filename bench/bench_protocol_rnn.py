"""Benchmark: the RNN protocol simulation against the plain forward pass.

What is timed, on the same input, side by side in one run:

* ``forward`` — :meth:`RNNModel.forward` (exact fixed point, numpy, one token per step);
* ``protocol`` — :func:`commlb.protocol.rnn.simulate_rnn` with ``verify=False`` (the
  batched engine for fixed point: one run of the cell keeping the state at every handoff,
  each segment checked to hold only its holder's and PUBLIC positions, the handoff states
  counted and range-checked in one pass, their bit strings encoded when first read); the
  per-segment engine (each party reading through its view, each state encoded and decoded
  as it goes) is timed once beside it, in process CPU time;
* ``protocol + verify`` — the same plus the bit-for-bit check against ``forward`` (what
  every ``commlb simulate`` run does);
* ``forward_batch (numba)`` of the same single row, for scale (the compiled twin used by
  trials and tests; compile time excluded).

Model: d = 64 hidden units, L = 1 layer (``--layers``), tanh, p = 16-bit fixed point,
random seeded weights, vocabulary 8; N = 4096 tokens.  Splits: prefix (Alice the first
half: one message), interleave (alternate owners: N − 1 handoffs) and a random owner array
with 10% PUBLIC tokens.  The printed ratio is protocol time / forward time (> 1 = the
protocol is slower).

Run:  .venv/bin/python bench/bench_protocol_rnn.py [--n 4096] [--hidden 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, best_of, machine_line, print_table, ratio  # noqa: E402

from commlb.bits import Precision  # noqa: E402
from commlb.models.rnn import RNNModel  # noqa: E402
from commlb.protocol.core import Split  # noqa: E402
from commlb.protocol.rnn import simulate_rnn  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.n
    rng = np.random.default_rng(2024)
    model = RNNModel.random(8, rng, hidden=args.hidden, layers=args.layers, activation=args.activation,
                            precision=Precision.fixed(args.bits))
    tokens = rng.integers(0, 8, size=n)
    owner_random = rng.integers(0, 2, size=n).astype(np.int8)
    owner_random[rng.random(n) < 0.1] = 2
    splits = {
        "prefix": Split.prefix(n, n // 2),
        "interleave": Split.interleave(np.zeros(n, dtype=np.int8)),
        "random (10% PUBLIC)": Split(owner_random),
    }
    print(machine_line())
    print(f"rnn d={args.hidden}, L={args.layers}, {args.activation}, p={args.bits} fixed, N={n}")
    fwd = best_of("forward", lambda: model.forward(tokens), repeat=args.repeat)
    batch = best_of("forward_batch (numba, 1 row)", lambda: model.forward_batch(tokens[None]),
                    repeat=args.repeat)
    assert np.array_equal(batch.result[0][0], fwd.result.values)
    print_table("plain forward passes", [fwd, batch], reference=fwd)
    for name, split in splits.items():
        t0 = time.perf_counter()
        transcript, out = simulate_rnn(model, tokens, split, verify=True)
        first = time.perf_counter() - t0
        assert out.same_bits(fwd.result)
        proto = best_of("protocol", lambda s=split: simulate_rnn(model, tokens, s, verify=False),
                        repeat=args.repeat, warmup=False)
        checked = Timing("protocol + verify", first)
        print_table(f"split {name}: {transcript.total_bits} bits, {transcript.rounds} rounds, "
                    f"{len(transcript.messages)} messages of {model.state_bits()} bits",
                    [fwd, proto, checked], reference=fwd)
        print(f"  ratio protocol / forward = {ratio(proto, fwd):.2f}; "
              f"with verification = {ratio(checked, fwd):.2f}")
        cpu_fwd = _cpu(lambda: model.forward(tokens), args.repeat)
        cpu_proto = _cpu(lambda s=split: simulate_rnn(model, tokens, s, verify=False), args.repeat)
        cpu_segments = _cpu(lambda s=split: simulate_rnn(model, tokens, s, verify=False, engine="segments"), 1)
        print(f"  process CPU time (steadier on a shared machine): protocol / forward = {cpu_proto / cpu_fwd:.2f}; "
              f"segment engine / forward = {cpu_segments / cpu_fwd:.2f}; load average {os.getloadavg()[0]:.1f}")


def _cpu(fn, repeat: int) -> float:
    """Best process CPU time of ``fn`` over ``repeat`` runs (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


if __name__ == "__main__":
    main()
