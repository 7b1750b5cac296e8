"""SHT24 — Sanford, Hsu & Telgarsky, "Transformers, Parallel Computation, and Logarithmic
Depth" (ICML 2024), docs/theory.md §7.9, §9.8, §10.

* k-hop induction heads: Theorem 4.2 builds a transformer with L = ⌊log2 k⌋ + 2 layers
  (pointer doubling) that computes hop_k; the table compares the layers of commlb's
  construction with that formula.
* Pointer chasing: hop_k embeds k-step pointer chasing (Prop. E.4; commlb's pc-to-khop
  reduction, PC(n, k) with n vertices).  A k-step chase needs k rounds, or else many bits
  (Duris–Galil–Schnitger, Nisan–Wigderson; the multi-party form Assadi–N, SHT24 Prop. E.3),
  and a model gives a protocol with about one round per layer — so few layers must pay in
  width (Cor. 5.2–5.6).  The sweep runs the construction as a protocol: rounds and bits
  against k and n.

Prints the tables and writes sht24_khop_rounds.png (rounds and layers vs k) and
sht24_khop_bits.png (bits vs n) to --out.  Run:  python examples/sht24_khop.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from commlb.sweep import plot_sweep, run_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".", help="directory for the plots (default: current directory)")
    parser.add_argument("--small", action="store_true", help="small sizes only (a few seconds)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    ks = (1, 2, 3) if args.small else (1, 2, 3, 4, 5)
    ns = "3,4" if args.small else "3,4,5"
    print("k-hop induction heads on pointer chasing PC(n, k) (SHT24 Thm 4.2, Prop. E.4)")
    cols = ("k", "n", "layers", "⌊log2 k⌋+2", "rounds", "bits", "params", "errors")
    widths = (3, 4, 7, 11, 7, 8, 8, 7)
    print("  " + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    per_k: dict[int, list] = {}
    notes: list[str] = []
    bits_result = None
    for k in ks:
        result = run_sweep("khop", "transformer,rnn", "3,4" if k >= 5 else ns, trials=3, instances=1, task_options={"k": k},
                           max_seconds=2.0)
        notes.extend(n for n in result.notes() if n not in notes)
        if k == 2:
            bits_result = result
        for r in result.rows_for("transformer"):
            if not r.ok:
                print(f"  {k:>3} {r.n:>4}  ({r.status}: {r.note})")
                continue
            per_k.setdefault(k, []).append(r)
            formula = math.floor(math.log2(k)) + 2
            err = "-" if r.errors is None else f"{r.errors}/{r.trials}"
            vals = (k, r.n, r.layers, formula, r.rounds, r.bits, r.params, err)
            print("  " + " ".join(f"{str(v):>{w}}" for v, w in zip(vals, widths)))
    for note in notes:
        print(f"  note: {note}")
    print("  (a protocol with fewer than k rounds would have to send bits growing with n; "
          "each layer gives about one round, so depth grows with k)")

    if per_k:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 6.5), dpi=120)
        kk = sorted(per_k)
        ax.plot(kk, [per_k[k][0].layers for k in kk], "s-", lw=3, ms=9, label="layers of the construction")
        ax.plot(kk, [max(r.rounds for r in per_k[k]) for k in kk], "o-", lw=3, ms=9, label="protocol rounds")
        ax.plot(kk, [math.floor(math.log2(k)) + 2 for k in kk], "k--", lw=2, label="⌊log2 k⌋ + 2 (SHT24 Thm 4.2)")
        ax.plot(kk, kk, ":", color="grey", lw=2, label="k (rounds a k-step chase needs)")
        ax.set_xticks(kk)
        ax.set_xlabel("k (hops)", fontsize=18)
        ax.set_ylabel("layers / rounds", fontsize=18)
        ax.set_title("SHT24 k-hop: depth and rounds vs k", fontsize=20)
        ax.tick_params(labelsize=14)
        ax.legend(fontsize=14)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / "sht24_khop_rounds.png"
        fig.savefig(path)
        plt.close(fig)
        print(f"  plot: {path}")
    if bits_result is not None:
        path = plot_sweep(bits_result, out / "sht24_khop_bits.png", title="SHT24 2-hop: bits sent vs n")
        print(f"  plot: {path}")
    print(f"\ndone in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
