"""Benchmark: the transformer protocol simulation against the plain forward pass.

What is timed, on the same input, side by side in one run:

* ``forward`` — :meth:`TransformerModel.forward` (exact fixed point; only the positions the
  output needs are computed);
* ``protocol`` — :func:`commlb.protocol.transformer.simulate_transformer` with
  ``verify=False``: two parties, each computing from its own view, every message encoded
  to a bit string, recorded and decoded;
* ``protocol + verify`` — the same plus the bit-for-bit check against ``forward`` (what
  every ``commlb simulate`` run does).

Model: L = 2 layers, H = 4 heads, width m = 64 (d_k = d_v = 16), p = 16-bit fixed point,
random seeded weights, vocabulary 8; N = 4096 tokens by default.  Splits: prefix (Alice the
first half), interleave (alternate owners), and a random owner array with 10% PUBLIC
tokens.  The printed ratio is protocol time / forward time (> 1 = the protocol is slower).

Run:  .venv/bin/python bench/bench_protocol_transformer.py [--n 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Timing, best_of, machine_line, print_table, ratio  # noqa: E402

from commlb.bits import Precision  # noqa: E402
from commlb.models.transformer import TransformerModel  # noqa: E402
from commlb.protocol.core import Split  # noqa: E402
from commlb.protocol.transformer import simulate_transformer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--bits", type=int, default=16)
    args = ap.parse_args()
    n = args.n
    rng = np.random.default_rng(2024)
    model = TransformerModel.random(8, n, rng, layers=args.layers, heads=args.heads, width=args.width,
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
    print(f"transformer L={args.layers}, H={args.heads}, m={args.width}, p={args.bits} fixed, N={n}")
    fwd = best_of("forward", lambda: model.forward(tokens), repeat=args.repeat)
    for name, split in splits.items():
        t0 = time.perf_counter()
        transcript, out = simulate_transformer(model, tokens, split, verify=True)
        first = time.perf_counter() - t0
        assert out.same_bits(fwd.result)
        proto = best_of("protocol", lambda s=split: simulate_transformer(model, tokens, s, verify=False),
                        repeat=args.repeat, warmup=False)
        checked = Timing("protocol + verify", first)
        print_table(f"split {name}: {transcript.total_bits} bits, {transcript.rounds} rounds, "
                    f"{len(transcript.messages)} messages "
                    f"({', '.join(sorted({m.label for m in transcript.messages}))})",
                    [fwd, proto, checked], reference=fwd)
        print(f"  ratio protocol / forward = {ratio(proto, fwd):.2f}; "
              f"with verification = {ratio(checked, fwd):.2f}")


if __name__ == "__main__":
    main()
