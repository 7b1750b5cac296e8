"""Benchmark: the RNN protocol simulation against the plain forward pass.

What is timed, on the same input, side by side in one run (round robin: every repeat runs
each variant once, so a change of load hits all of them; best of ``--repeat``):

* ``forward`` — :meth:`RNNModel.forward` (exact fixed point, the compiled cell, one token
  per step: dense float64 products, exact here, :attr:`RNNCell.dense`; the sparse-row
  int64 kernel it used before is timed once beside it);
* ``protocol`` — :func:`commlb.protocol.rnn.simulate_rnn` with ``verify=False`` (the
  batched engine for fixed point: one run of the cell keeping the state at every handoff,
  each segment checked to hold only its holder's and PUBLIC positions, the handoff
  messages recorded as one block, range-checked and counted, their bit strings not yet
  encoded);
* ``+ verify (messages)`` — ``verify="messages"``: every message's bit string encoded (one
  pass after the run) and compared, decoded, with the state its receiver continued from
  (``messages_decode_to_handoff_states``): the bits counted are what crossed; the output
  itself is not checked;
* ``+ verify (forward)`` — ``verify=True``, what ``commlb simulate`` runs: every message
  encoded and decoded back in one pass and compared with the state its receiver continued
  from, and an independent forward pass compared bit for bit
  (``protocol_matches_forward``); that pass runs in a second thread beside the engine's
  run when a core is free at the start (``OVERLAP_FROM_TOKENS``), which shortens the
  wall time only;
* ``+ verify (replay)`` — ``verify="replay"``: the same decoding check, and every segment
  recomputed from the decoded message before it through its holder's view, both in one
  compiled pass (:func:`commlb.kernels.rnn.replay_chain`: decode message k, compare it
  with the state its receiver continued from and with the replayed state, step segment
  k + 1 from it; dense float64 products) (``segments_replayed``; docs/theory.md §3.9
  says what each check proves — the replay does not run ``model.forward``).

Wall and process CPU time are both printed (CPU is steadier on a shared machine; the
compiled cell, BLAS and the forward check's thread may use both cores, which CPU time
counts twice), with the load average.  A verified run does the N token steps twice (the
engine's run and the check's), so its CPU time is at least twice the forward pass's.
The per-segment engine (each party reading through its view, each state encoded and
decoded as it goes) is timed once beside it, in CPU time.

Model: d = 64 hidden units, L = 1 layer (``--layers``), tanh, p = 16-bit fixed point,
random seeded weights, vocabulary 8; N = 4096 tokens.  Splits: prefix (Alice the first
half: one message), interleave (alternate owners: N − 1 handoffs) and a random owner array
with 10% PUBLIC tokens.  Ratios are variant time / forward time (> 1 = slower).

Run:  .venv/bin/python bench/bench_protocol_rnn.py [--n 4096] [--hidden 64] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import machine_line  # noqa: E402

from commlb.bits import Precision  # noqa: E402
from commlb.models.rnn import RNNModel  # noqa: E402
from commlb.protocol.core import Split  # noqa: E402
from commlb.protocol.rnn import simulate_rnn  # noqa: E402


def round_robin(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best (wall, process CPU) seconds of each function, the functions taking turns."""
    for fn in fns.values():  # warm-up (compilation, caches)
        fn()
    best = {name: (float("inf"), float("inf")) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w, c = time.perf_counter() - w0, time.process_time() - c0
            best[name] = (min(best[name][0], w), min(best[name][1], c))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--repeat", type=int, default=5)
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
    ref = model.forward(tokens)
    cell = model.cell()
    if cell.dense:  # the forward pass by the sparse-row kernel, the reference before dense products
        h0 = model.initial_state()[None]
        dense = round_robin({"dense": lambda: cell.run(h0, tokens[None], "numba")}, args.repeat)["dense"]
        cell.dense = False
        sparse = round_robin({"sparse": lambda: cell.run(h0, tokens[None], "numba")}, args.repeat)["sparse"]
        cell.dense = True
        print(f"forward kernel, N steps: dense products {dense[1] * 1e3:.2f} ms CPU, sparse rows "
              f"{sparse[1] * 1e3:.2f} ms CPU ({sparse[1] / dense[1]:.1f}x); load average {os.getloadavg()[0]:.1f}")
    for name, split in splits.items():
        tr, out = simulate_rnn(model, tokens, split, verify="all")
        assert out.same_bits(ref)
        assert tr.meta["protocol_matches_forward"] and tr.meta["segments_replayed"]
        variants: dict[str, Callable[[], Any]] = {
            "forward": lambda: model.forward(tokens),
            "protocol": lambda s=split: simulate_rnn(model, tokens, s, verify=False),
            "+ verify (messages)": lambda s=split: simulate_rnn(model, tokens, s, verify="messages"),
            "+ verify (forward)": lambda s=split: simulate_rnn(model, tokens, s, verify=True),
            "+ verify (replay)": lambda s=split: simulate_rnn(model, tokens, s, verify="replay"),
        }
        load0 = os.getloadavg()[0]
        best = round_robin(variants, args.repeat)
        load1 = os.getloadavg()[0]
        fw, fc = best["forward"]
        print(f"\nsplit {name}: {tr.total_bits} bits, {tr.rounds} rounds, {len(tr.messages)} messages "
              f"of {model.state_bits()} bits; load average {load0:.1f} -> {load1:.1f}")
        print(f"  {'':<20} {'wall s':>9} {'/ fwd':>7} {'CPU s':>9} {'/ fwd':>7}")
        for label, (w, c) in best.items():
            print(f"  {label:<20} {w:9.4f} {w / fw:7.2f} {c:9.4f} {c / fc:7.2f}")
        t0 = time.process_time()
        simulate_rnn(model, tokens, split, verify=False, engine="segments")
        print(f"  per-segment engine (CPU, once) / forward = {(time.process_time() - t0) / fc:.2f}")


if __name__ == "__main__":
    main()
