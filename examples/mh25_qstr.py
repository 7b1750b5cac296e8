"""MH25 — Mousavi-Hosseini, Sanford, Wu & Erdogdu, "When Do Transformers Outperform
Feedforward and Recurrent Networks? A Statistical Perspective" (2025), docs/theory.md §7.7, §8.10, §9.7.

q-sparse token regression (qSTR): the label at position i is g(x_{t_i1}, …, x_{t_iq}).
Theorem 3's construction uses one attention layer with H = q heads, head h retrieving
x_{t_ih}.  Fewer heads: Proposition 4 is a risk lower bound for the nonlinear link
"norm2" that gives H = Ω(q) when d ≫ q; the exact statement H ≥ q is Proposition 21, under
its assumption that attention does not mix the data and positional components (both are
statistical results, not communication bounds — docs/theory.md §8.10).  This example builds
the construction for q = 1..4, runs it as a protocol on a prefix split (qSTR has no
reduction from a communication problem, so no lower bound is stated), and shows its
heads, size, bits and measured error as q and N grow; the RNN and FFN have no
construction here and are reported as notes.

Prints the table and writes mh25_qstr_heads.png (heads and size vs q) and
mh25_qstr_bits.png (bits vs N at q = 2) to --out.
Run:  python examples/mh25_qstr.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from commlb.models.constructions import has_construction
from commlb.sweep import plot_sweep, run_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".", help="directory for the plots (default: current directory)")
    parser.add_argument("--small", action="store_true", help="small sizes only (a few seconds)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    if not has_construction("qstr", "transformer"):
        print("note: the qSTR construction (MH25 Theorem 3, H = q heads) is not available in this "
              "checkout, so there is nothing to run; the example needs "
              "commlb/models/constructions/qstr.py")
        return 0

    qs = (1, 2) if args.small else (1, 2, 3, 4)
    ns = "8,16" if args.small else "8..64x2"
    print("qSTR with the norm2 link (MH25 Thm 3 construction: one layer, H = q heads; prefix split)")
    cols = ("q", "N", "heads", "params", "width", "p", "bits", "rounds", "errors")
    widths = (3, 5, 6, 9, 6, 3, 7, 7, 7)
    print("  " + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    by_q: dict[int, list] = {}
    notes: list[str] = []
    bits_result = None
    for q in qs:
        result = run_sweep("qstr", "transformer,rnn,ffn", ns, trials=5, instances=1, task_options={"q": q},
                           max_seconds=2.0)
        notes.extend(n for n in result.notes() if n not in notes)
        if q == 2:
            bits_result = result
        for r in result.rows_for("transformer"):
            if not r.ok:
                print(f"  {q:>3} {r.n:>5}  ({r.status}: {r.note})")
                continue
            by_q.setdefault(q, []).append(r)
            err = "-" if r.errors is None else f"{r.errors}/{r.trials}"
            vals = (q, r.n, r.heads, r.params, r.width, r.precision_bits, r.bits, r.rounds, err)
            print("  " + " ".join(f"{str(v):>{w}}" for v, w in zip(vals, widths)))
    for note in notes:
        print(f"  note: {note}")
    heads_match = all(r.heads == q for q, rows in by_q.items() for r in rows)
    print(f"  heads = q at every point: {heads_match} (MH25 Prop. 21: H >= q for norm2 when attention "
          "does not mix data and position; Prop. 4: H = Omega(q) when d >> q)")

    if by_q:
        from matplotlib.figure import Figure

        qq = sorted(by_q)
        n_last = by_q[qq[0]][-1].n
        fig = Figure(figsize=(14, 6.5), dpi=120)
        heads_ax, params_ax = fig.subplots(1, 2)
        # the bound first, wide and pale, so that the construction's points on it stay visible
        heads_ax.plot(qq, qq, "-", color="0.75", lw=9, solid_capstyle="round",
                      label="q (MH25 Prop. 21: H >= q, a statistical bound under its assumptions)")
        heads_ax.plot(qq, [by_q[q][0].heads for q in qq], "s--", color="tab:blue", lw=2, ms=10,
                      label="heads of the construction (Thm 3)")
        heads_ax.set_ylabel("heads H", fontsize=16)
        heads_ax.set_title("heads vs q: one head per retrieved token", fontsize=16)
        params = [next((r.params for r in by_q[q] if r.n == n_last), None) for q in qq]
        params_ax.plot(qq, params, "o-", color="tab:red", lw=3, ms=9, label=f"parameters at N = {n_last}")
        params_ax.set_ylabel("parameters", fontsize=16)
        params_ax.set_title(f"parameters vs q (N = {n_last})", fontsize=16)
        from matplotlib.ticker import MaxNLocator, StrMethodFormatter

        heads_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        params_ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        for ax in (heads_ax, params_ax):
            ax.set_xticks(qq)
            ax.set_xlabel("q (tokens each label depends on)", fontsize=16)
            ax.tick_params(labelsize=13)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
        fig.suptitle("MH25 qSTR: the construction's heads and size against q", fontsize=18)
        fig.tight_layout()
        path = out / "mh25_qstr_heads.png"
        fig.savefig(path)
        print(f"  plot: {path}")
    if bits_result is not None:
        path = out / "mh25_qstr_bits.png"
        plot_sweep(bits_result, path, title="MH25 qSTR (q = 2): model size and bits sent vs N",
                   x_label="N (sequence length)")
        print(f"  plot: {path}")
    print(f"\ndone in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
