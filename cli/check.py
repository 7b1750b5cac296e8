"""``commlb check-reduction``: soundness and locality of a built-in or user reduction.

    commlb check-reduction disj-to-disjointness --n 6
    commlb check-reduction pc-to-khop --n 3 -p k=3
    commlb check-reduction path/to/file.py:ATTR [--n N]

Exit 0 when the reduction passes, 1 with the smallest counterexample when it fails,
2 (one line) for a bad name, path or parameter.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .options import (
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    FiniteFloat,
    check_typed_options,
    execution_options,
    no_limit_option,
    parse_key_values,
)
from .render import OWNER_NAME, OWNER_STYLE, console, emit_json, token_strip


def _requires(func: Any, name: str) -> bool:
    """Whether ``func`` has a required parameter ``name`` (False when it cannot tell)."""
    import inspect

    try:
        param = inspect.signature(func).parameters.get(name)
    except (TypeError, ValueError):
        return False
    return param is not None and param.default is inspect.Parameter.empty


def resolve_reduction(target: str, n: int | None, extra: dict[str, Any]) -> Any:
    """A reduction by name (built-in or from a plugin package), or a user's reduction
    from ``file.py:ATTR`` (a Reduction instance, class or factory), with default
    parameters from its ``example_params`` (a factory that needs n and has none: n = 4).
    A composed chain ``--chain``'s ``a+b+c`` is resolved by :mod:`commlb.cli.reduce`."""
    from commlb.plugins import is_file_spec
    from commlb.registry import factory_for, get_reduction

    params = dict(extra)
    if n is not None:
        params["n"] = n
    factory = factory_for("reduction", target)
    defaults = dict(getattr(factory, "example_params", {}) or {})
    if is_file_spec(target) and "n" not in defaults and "n" not in params and _requires(factory, "n"):
        defaults["n"] = 4
    defaults.update(params)
    if not is_file_spec(target):
        from commlb.costs import check_reduction_size

        check_reduction_size(target, defaults, command="check-reduction")
    return get_reduction(target, **defaults)


def _render(report: Any, reduction: Any) -> None:
    import numpy as np
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    out = console()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    params = ", ".join(f"{k}={v}" for k, v in report.params.items())
    table.add_row("reduction", f"{report.reduction} ({params})")
    table.add_row("problem → task", f"{report.problem} → {report.task}")
    if report.theorem:
        table.add_row("serves", report.theorem)
    if report.exhaustive:
        mode = f"exhaustive: all {report.total_pairs:,} pairs"
    else:
        from commlb.validate import short_number

        total = f"{report.total_pairs:,}" if report.total_pairs < 10**24 else short_number(report.total_pairs)
        mode = f"sampled: {report.samples:,} random pairs of {total} (seed {report.seed})"
    table.add_row("mode", mode)
    stopped = "" if report.ok else "  (stopped at the first failing pair)"
    table.add_row("pairs checked", f"{report.pairs_checked:,}{stopped}")
    table.add_row("sequence length", str(report.length))
    counts = Text()
    for code, key in ((0, "alice"), (1, "bob"), (2, "public")):
        counts.append(f"{OWNER_NAME[code]} {report.tokens_per_owner.get(key, 0)}  ",
                      style=OWNER_STYLE[code])
    table.add_row("tokens per owner", counts)
    if report.owners:
        names = None
        try:
            names = reduction.task.vocab_names()
        except Exception:
            names = None
        try:
            x, y = reduction.problem.sample(np.random.default_rng(0))
            inst = reduction.encode(x, y)
            table.add_row("example tokens", token_strip(inst.tokens, inst.owner, names))
            if inst.tokens.dtype.names:  # several fields per token: spell out the owners
                table.add_row("owners", token_strip(np.asarray(inst.owner, dtype=np.int64),
                                                    inst.owner, ["A", "B", "P"]))
        except Exception:
            pass
    table.add_row("time", f"{report.seconds:.3f} s")
    if report.ok:
        table.add_row("result", Text("PASS: sound and local", style="bold green"))
        out.print(table)
        return
    table.add_row("result", Text(f"FAIL ({report.counterexample.kind})", style="bold red"))
    out.print(table)
    cex = report.counterexample
    body = Table(show_header=False, box=None, pad_edge=False)
    body.add_column(style="bold")
    body.add_column()
    body.add_row("kind", cex.kind)
    body.add_row("x", f"{cex.x}  (index {cex.x_index})")
    body.add_row("y", f"{cex.y}  (index {cex.y_index})")
    if cex.other is not None:
        body.add_row("compared with", f"x' = {cex.other[0]}, y' = {cex.other[1]}")
    if cex.position is not None:
        body.add_row("position", str(cex.position))
    if cex.kind == "soundness":
        body.add_row("f(x, y)", str(cex.expected))
        body.add_row("decoded", repr(cex.got))
    body.add_row("details", cex.details)
    out.print(Panel(body, title="smallest counterexample", border_style="red", expand=False))


@click.command("check-reduction")
@click.argument("target")
@click.option("--n", "n", type=POSITIVE, default=None,
              help="Problem size (default: the reduction's example size).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Extra reduction parameter, e.g. -p k=3 (repeatable).")
@click.option("--samples", type=POSITIVE, default=10_000, show_default=True,
              help="Random pairs to check when the input space is too large.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the sampler.")
@click.option("--exhaustive-limit", type=NON_NEGATIVE, default=None,
              help="Check every pair when |X|·|Y| is at most this (default 2^20 = 1,048,576; "
                   "2^24 with --workers or --scheduler).")
@click.option("--max-seconds", type=FiniteFloat(0.0, open_min=True), default=600.0, show_default=True,
              help="Refuse (with an estimate) a check that would take longer.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@execution_options
@no_limit_option
def check_reduction(target: str, n: int | None, params: tuple[str, ...], samples: int, seed: int,
                    exhaustive_limit: int | None, max_seconds: float, as_json: bool, workers: int | None,
                    scheduler: str | None) -> None:
    """Check TARGET (a reduction name, or path/to/file.py:ATTR) for soundness and locality.

    Soundness: decode(task.solve(encode(x, y))) == f(x, y).  Locality: ALICE tokens do
    not change with y, BOB tokens not with x, PUBLIC tokens never.  Exhaustive when
    there are at most --exhaustive-limit pairs, else --samples random pairs.
    Exit code 0 on success, 1 with the smallest counterexample on failure.  With --workers
    or --scheduler the check runs on Dask: exhaustive in chunks of whole rows, sampled in
    chunks of 1024 pairs seeded from --seed and the chunk's index (the same report).
    """
    from commlb.execution import make_executor
    from commlb.testing.reductions import check_reduction as run_check

    reduction = resolve_reduction(target, n, check_typed_options(parse_key_values(params, "--param"), "--param"))
    total = int(reduction.problem.x_space.size) * int(reduction.problem.y_space.size)
    with make_executor(workers, scheduler) as executor:
        if exhaustive_limit is None:
            exhaustive_limit = 2**24 if executor.distributed else 2**20
        run: dict[str, Any] = {"samples": samples, "rng": seed, "exhaustive_limit": exhaustive_limit,
                               "max_seconds": max_seconds, "executor": executor if executor.distributed else None}
        work = total if total <= exhaustive_limit else samples
        if as_json or work < 20_000:
            report = run_check(reduction, **run)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            label = "checking all pairs" if total <= exhaustive_limit else "checking sampled pairs"
            with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console(stderr=True), transient=True) as bar:
                task_id = bar.add_task(label, total=work)
                report = run_check(reduction, **run,
                                   progress=lambda done, _total: bar.update(task_id, completed=done))
    if as_json:
        emit_json(report.to_json())
    else:
        _render(report, reduction)
    if not report.ok:
        # sys.exit, not ctx.exit: the entry point runs click with standalone_mode=False,
        # where ctx.exit(1) would turn into a return value and exit 0.
        sys.exit(1)
