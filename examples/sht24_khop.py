"""SHT24 — Sanford, Hsu & Telgarsky, "Transformers, Parallel Computation, and Logarithmic
Depth" (ICML 2024), docs/theory.md §7.9, §9.8, §10.

* k-hop induction heads: Theorem 4.2 computes hop_k with a transformer of logarithmic
  depth by pointer doubling.  With one lookup per layer, L layers reach k ≤ 2^(L−2) hops,
  so commlb's construction has L = ⌈log2 k⌉ + 2 layers (derived in docs/theory.md §10.3;
  it agrees with the ⌊log2 k⌋ + 2 quoted for the theorem when k is a power of two); the
  table prints the layers next to that formula.
* Pointer chasing: hop_k embeds k-step pointer chasing (commlb's pc-to-khop reduction,
  PC(n, k) with n vertices).  With the receiver of the last message outputting, a chase
  needs k − 1 rounds (Alice first); fewer rounds cost Ω(n − k log n) bits
  (Nisan–Wigderson 1993, docs/theory.md §10.2).  A softmax transformer split between two
  parties gives about two rounds per layer (queries one way, partial sums back), so the
  log-depth construction has fewer rounds than the chase needs once k is large, and pays
  in bits instead: every position's partial sums cross.  The round bounds of SHT24
  Cor. 5.2–5.6 (depth ≥ k, or width Ω(N/k⁶)) are for multi-layer RNNs/SSMs, kernel
  attention, Longformer masks and one-layer chain of thought, not for softmax
  transformers.  The sweep runs the construction as a protocol: rounds and bits against
  k and n.

Prints the tables and writes sht24_khop_rounds.png (rounds and layers vs k) and
sht24_khop_bits.png (bits vs n) to --out.  Run:  python examples/sht24_khop.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from commlb.reductions.pointer_multi import doubling_layers
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
    cols = ("k", "n", "layers", "⌈log2 k⌉+2", "rounds", "bits", "params", "errors")
    widths = (3, 4, 7, 11, 7, 8, 8, 7)
    print("  " + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    per_k: dict[int, list] = {}
    notes: list[str] = []
    bits_result = None
    for k in ks:
        result = run_sweep("khop", "transformer,rnn", "3,4" if k >= 5 else ns, trials=3, instances=1,
                           task_options={"k": k}, max_seconds=2.0)
        notes.extend(n for n in result.notes() if n not in notes)
        if k == 2:
            bits_result = result
        for r in result.rows_for("transformer"):
            if not r.ok:
                print(f"  {k:>3} {r.n:>4}  ({r.status}: {r.note})")
                continue
            per_k.setdefault(k, []).append(r)
            formula = doubling_layers(k)
            err = "-" if r.errors is None else f"{r.errors}/{r.trials}"
            vals = (k, r.n, r.layers, formula, r.rounds, r.bits, r.params, err)
            print("  " + " ".join(f"{str(v):>{w}}" for v, w in zip(vals, widths)))
    for note in notes:
        print(f"  note: {note}")
    multi = [r for rows in per_k.values() for r in rows if r.layers >= 3 and r.rounds]
    if multi:
        per_layer = sorted({round(r.rounds / r.layers, 2) for r in multi})
        shapes = sorted({(r.layers, r.rounds) for r in multi})
        print("  rounds per layer: " + ", ".join(f"L = {lay}: {rnd}" for lay, rnd in shapes)
              + f" (ratio {per_layer[0]}..{per_layer[-1]}: about two per layer, queries one way "
              "and partial sums back)")
    print("  a chase of k steps needs k - 1 rounds (Alice first; the receiver of the last message "
          "outputs), else Omega(n - k log n) bits (Nisan-Wigderson 1993); the construction's "
          "depth grows like log2 k, so at large k its protocol has fewer rounds than that and "
          "pays in bits (docs/theory.md §10.1-10.3)")

    if per_k:
        from matplotlib.figure import Figure

        kk = sorted(per_k)
        fig = Figure(figsize=(15, 6.8), dpi=120)
        layers_ax, rounds_ax = fig.subplots(1, 2)
        # a step: ⌈log2 k⌉ + 2 is constant on (2^(j-1), 2^j], so each step ends on a power of two
        layers_ax.step(kk, [doubling_layers(k) for k in kk], where="pre", color="0.7", lw=8,
                       label="⌈log2 k⌉ + 2: the fewest layers with one lookup per layer\n"
                       "(L layers reach k ≤ 2^(L−2); docs/theory.md §10.3)")
        layers_ax.plot(kk, [per_k[k][0].layers for k in kk], "s", color="tab:blue", ms=11,
                       label="layers of the construction (SHT24 Thm 4.2)")
        layers_ax.plot(kk, [2 + (k.bit_length() - 1) for k in kk], "x", color="black", ms=10, mew=2,
                       label="⌊log2 k⌋ + 2 quoted for Thm 4.2\n(one short when k is not a power of 2)")
        layers_ax.set_ylabel("layers L", fontsize=16)
        layers_ax.set_title("layers vs k", fontsize=16)
        rounds_ax.plot(kk, [max(r.rounds for r in per_k[k]) for k in kk], "o-", color="tab:orange", lw=3, ms=9,
                       label="protocol rounds of the construction")
        rounds_ax.plot(kk, [k - 1 for k in kk], "k--", lw=2,
                       label="k − 1: the rounds a k-step chase needs,\n"
                       "else Ω(n − k log n) bits (Nisan–Wigderson 1993)")
        rounds_ax.set_ylabel("rounds", fontsize=16)
        rounds_ax.set_title("protocol rounds vs k", fontsize=16)
        from matplotlib.ticker import MaxNLocator

        for ax in (layers_ax, rounds_ax):
            ax.set_xticks(kk)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("k (hops)", fontsize=16)
            ax.tick_params(labelsize=13)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=11, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
        fig.suptitle("SHT24 k-hop: the construction's depth and its protocol's rounds against k", fontsize=18)
        fig.tight_layout()
        path = out / "sht24_khop_rounds.png"
        fig.savefig(path)
        print(f"  plot: {path}")
    if bits_result is not None:
        path = out / "sht24_khop_bits.png"
        plot_sweep(bits_result, path, title="SHT24 2-hop: width and bits sent vs n", metric="width",
                   x_label="n (vertices per layer of PC(n, 2))")
        print(f"  plot: {path}")
    print(f"\ndone in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
