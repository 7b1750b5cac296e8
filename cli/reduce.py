"""``commlb reduce``: chains of reductions from a problem to a task, their compositions
checked, and the bounds they carry.

    commlb reduce --from disj --to dyck22
    commlb reduce --from index --to qsa --n 6
    commlb reduce --to disjointness --with my.py:R      # a user's reduction in every chain
    commlb reduce --from eq --to dyck22 --save chain.py  # then: check-reduction chain.py:REDUCTION

Each chain is printed with the name that refers to its composition anywhere a reduction
name is taken (``eq-to-disj+disj-to-dyck``), the sizes step by step, the bits the steps
cost, the result of checking the composition (exhaustive when small, else sampled), and
the bounds of the source problem it transfers (docs/theory.md §13.1).
"""

from __future__ import annotations

from typing import Any

import click

from .options import POSITIVE, output_file


def _render(results: list[Any], source: str | None, target: str | None, n: int | None) -> None:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from .render import console

    out = console()
    ends = " ".join(p for p in (f"from {source}" if source else "", f"to {target}" if target else "") if p)
    out.print(Text(f"Chains {ends}: {len(results)}", style="bold"))
    out.print(Text("A chain is problem maps (problem → problem, by local maps of x and of y) and one reduction; "
                   "its name refers to the composition wherever a reduction name is taken.", style="italic"))
    for i, r in enumerate(results, 1):
        out.print()
        out.print(Text(f"{i}. {r.spec}", style="bold"))
        steps = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
        steps.add_column(style="dim", no_wrap=True)
        steps.add_column(overflow="fold")
        for s in r.steps:
            cost = f", {s['cost_bits']} bits" if s["cost_bits"] else ""
            steps.add_row("step", escape(f"{s['step']}: {s['from']} → {s['to']}{cost}"))
        if r.length is not None:
            steps.add_row("instance", f"{r.length} tokens at {r.problem.label()}")
        if r.check is not None:
            c = r.check
            mode = f"all {c.total_pairs:,} pairs" if c.exhaustive else f"{c.pairs_checked:,} sampled pairs"
            kind = c.counterexample["kind"] if isinstance(c.counterexample, dict) else \
                getattr(c.counterexample, "kind", "")
            verdict = "[green]PASS[/green]: sound and local" if c.ok else f"[red]FAIL[/red] ({kind})"
            steps.add_row("checked", f"{verdict} ({mode})")
        cost = f" less {r.cost_bits} bits (the steps' cost)" if r.cost_bits else " (every step costs 0 bits)"
        steps.add_row("transfers", escape(f"the bounds of {r.problem.label()}{cost}:"))
        for b in r.bounds:
            if not b.lower:
                continue
            kind = b.kind.value + (f", eps={b.epsilon:.3g}" if b.epsilon is not None else "")
            if b.asymptotic or b.value is None:
                value = f"{b.formula} (asymptotic only)"
            else:
                v = b.value
                value = f"{b.formula} = {int(v) if float(v).is_integer() else round(v, 3)}"
            steps.add_row("", escape(f"• {kind}: {value}"))
        out.print(Padding(steps, (0, 0, 0, 3)))
    if not results:
        out.print(Text("no chain (commlb list reductions --graph FILE.svg draws the graph)", style="italic"))
    if n is None and results:
        out.print(Text("\n(sizes: each chain's example size; --n N sets the source problem's size)", style="italic"))


def _save(path: str, chains: list[tuple[str, int]]) -> None:
    lines = ['"""Composed reductions written by `commlb reduce`: each CHAIN_k is a factory',
             "(``CHAIN_k(n)``), REDUCTION the first; check one with",
             "",
             f"    commlb check-reduction {path}:REDUCTION",
             '"""', "", "import commlb", ""]
    for k, (spec, size) in enumerate(chains, 1):
        lines += ["", f"def CHAIN_{k}(n={size}, **params):",
                  f'    """{spec} (n: the size of the source problem)"""',
                  f'    return commlb.get_reduction("{spec}", n=n, **params)', "", "",
                  f"CHAIN_{k}.example_params = {{\"n\": {size}}}", ""]
    lines.append("REDUCTION = CHAIN_1")
    from commlb.validate import write_file

    def write(target: Any) -> None:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    write_file(path, write, "--save")


@click.command("reduce")
@click.option("--from", "source", default=None, metavar="PROBLEM", help="The problem the chains start at.")
@click.option("--to", "target", default=None, metavar="TASK",
              help="The task (or problem) the chains end at.")
@click.option("--n", "n", type=POSITIVE, default=None,
              help="Size of the source problem (default: each chain's example size).")
@click.option("--with", "extra", multiple=True, metavar="FILE.py:ATTR",
              help="Add a reduction or problem map of your own to the graph (repeatable; loading it runs it).")
@click.option("--max-steps", type=POSITIVE, default=4, show_default=True, help="Longest chain searched.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check each composition for soundness and locality (exhaustive when small, else sampled).")
@click.option("--samples", type=POSITIVE, default=2000, show_default=True,
              help="Random pairs per check when there are too many pairs to check them all.")
@click.option("--save", "save", default=None, callback=output_file("--save", (".py",)),
              help="Write the compositions to FILE.py (CHAIN_1, CHAIN_2, ...; REDUCTION = CHAIN_1).")
@click.option("--json", "as_json", is_flag=True, help="Print the chains as JSON.")
def reduce_cmd(source: str | None, target: str | None, n: int | None, extra: tuple[str, ...], max_steps: int,
               check: bool, samples: int, save: str | None, as_json: bool) -> None:
    """Find every chain of reductions from a problem (--from) to a task (--to), build
    each composition, check it, and show the bounds it carries to the task."""
    from commlb.costs import check_reduction_size
    from commlb.errors import InvalidInputError
    from commlb.reductions.graph import chains, transfer

    found = chains(source, target, extra=extra, max_steps=max_steps)
    results = []
    for chain in found:
        spec = "+".join(chain)
        if n is not None:
            check_reduction_size(spec, {"n": n}, command="reduce")
        result = transfer(chain, n)
        if check:
            from commlb.testing.reductions import check_reduction

            if hasattr(result.reduction, "encode"):
                result.check = check_reduction(result.reduction, samples=samples, exhaustive_limit=1 << 16,
                                               max_seconds=120.0)
            else:  # a chain of problem maps: Q(x, y) = decode(P(map_x(x), map_y(y)))
                from commlb.chain import check_map

                result.check = check_map(result.reduction, samples=samples)
        results.append(result)
    if save:
        specs = [(r.spec, int(r.reduction.problem.n)) for r in results if hasattr(r.reduction, "encode")]
        if not specs:
            raise InvalidInputError("--save: no chain ends at a task, so there is no reduction to write")
        _save(save, specs)
    if as_json:
        from .render import emit_json

        emit_json({"from": source, "to": target, "n": n, "chains": [r.to_json() for r in results]})
    else:
        _render(results, source, target, n)
    if any(r.check is not None and not r.check.ok for r in results):
        import sys

        sys.exit(1)
