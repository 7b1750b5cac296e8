"""SHT23 — Sanford, Hsu & Telgarsky, "Representational Strengths and Limitations of
Transformers" (NeurIPS 2023), docs/theory.md §7.5–7.6, §8.5–8.6, §9.5–9.6.

* q-sparse averaging (qSA): Theorem 4 says a one-layer, one-head transformer that
  1/(2q)-approximates qSA needs m·p >= c·q (reduction from DISJ_q with N = 2q + 1,
  docs/theory.md §8.5); Theorem 2's construction (width O(q log N)) meets it up to log
  factors.  The
  sweep runs the construction as a protocol for growing q with simulate's cheapest
  protocol (the query token's id, then Bob's partial sums), whose size does not depend on
  the width; Theorem 4's argument uses the one-way query-vector protocol instead
  (docs/theory.md §3.5), whose m·p + O(p) bits must reach D->(DISJ_q) = q.
* Match3 (triple detection): Theorem 7's one-layer bound, through the DISJ_n -> Match3
  reduction (N = 2n + 1, gadget derived in commlb): the bits any one-layer protocol must
  send.  Match2 (pair detection): Theorem 6's constant-width construction, whose width
  stays the same at every N.

Prints the tables and writes sht23_qsa.png and sht23_match2.png to --out.
Run:  python examples/sht23_qsa_match3.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from commlb.simulate import resolve_task
from commlb.sweep import plot_sweep, run_sweep, text_rows


def print_rows(result, extra: str = "") -> None:
    print("\n".join(text_rows(result, ("model", "n", "params", "width", "heads", "p", "bits", "rounds",
                                        "bound", "errors"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".", help="directory for the plots (default: current directory)")
    parser.add_argument("--small", action="store_true", help="small sizes only (a few seconds)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    # --- qSA: bits of the Theorem 2 construction vs the Theorem 4 bound, as q grows
    qs = "2,3" if args.small else "2..6"
    qsa = run_sweep("qsa", "transformer", qs, trials=5, instances=1, max_seconds=4.0)
    print("\nqSA (n = q, N = 2q + 1; Thm 2 construction, run with the cheapest protocol: Alice's token id, "
          "then Bob's partial sums, whose size does not depend on the width.  Thm 4's m·p + O(p) >= "
          "D->(DISJ_q) = q is about the one-way query-vector protocol, docs/theory.md §3.5)")
    print_rows(qsa)
    ok = [r for r in qsa.rows if r.ok]
    if ok:
        print("  width per unit of q: " + ", ".join(f"q={r.n}: {r.width / r.n:.1f}" for r in ok))
    else:
        print("  note: no qSA point could be run as a protocol here (see the notes above); "
              "the plot shows what was measured")
    plot_sweep(qsa, out / "sht23_qsa.png", title="SHT23 qSA: size (m·p) and bits sent vs q",
               x_label="q (= n of DISJ_q; N = 2q + 1)")
    print(f"  plot: {out / 'sht23_qsa.png'}")

    # --- Match3: the one-layer bound through DISJ_n (no construction: one layer cannot be small)
    print("\nMatch3 (SHT23 Thm 7 via DISJ_n, N = 2n + 1): bits any one-layer protocol must send")
    print(f"  {'n':>5} {'N':>5} {'D->(DISJ_n)':>11}  reduction")
    for n in ((4, 8) if args.small else (4, 8, 16, 32, 64)):
        setup = resolve_task("match3", n=n)
        bound = setup.problem.one_way_bound("AB")
        print(f"  {n:>5} {setup.length:>5} {bound.value:>11g}  {setup.reduction.name}")
    print("  (the query is public, so a one-layer, H-head transformer sends one message of at most "
          "H(d_v+1)p_acc bits and Bob outputs: H(d_v+1)p_acc >= D->(DISJ_n) = n = (N - 1)/2, "
          "linear in N; p_acc = 2p + floor(log2 n), docs/theory.md §3.4, §8.6)")

    # --- Match2: Theorem 6's constant-width construction
    ns = "8,16" if args.small else "8..128x2"
    match2 = run_sweep("match2", "transformer", ns, trials=5, instances=1, max_seconds=3.0)
    print("\nMatch2 (SHT23 Thm 6: one layer of constant width; no reduction, prefix split)")
    print_rows(match2)
    widths = {r.width for r in match2.rows if r.ok}
    if widths:
        print(f"  widths over N: {sorted(widths)} (constant: {len(widths) == 1})")
    plot_sweep(match2, out / "sht23_match2.png", title="SHT23 Match2: width and bits sent vs N", metric="width",
               x_label="N (sequence length)")
    print(f"  plot: {out / 'sht23_match2.png'}")
    print(f"\ndone in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
