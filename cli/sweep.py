"""``commlb sweep``: sizes, bits and error rates of each model family's construction as n
grows (thin: parse, call :func:`commlb.sweep.run_sweep`, render a table / JSON / CSV /
plot)."""

from __future__ import annotations

import sys
from typing import Any

import click

from commlb.errors import CommlbError, InvalidInputError

from .options import (
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    FiniteFloat,
    check_task_option_names,
    check_typed_options,
    execution_options,
    merge_task_options,
    no_limit_option,
    output_file,
    parse_key_values,
)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if digits else f"{value:g}"
    return str(value)


def _render(result: Any, con: Any) -> None:
    from rich import box
    from rich.table import Table

    from commlb.sweep import short_kind

    table = Table(title=f"{result.task}: up to {result.instances} protocol runs and {result.trials} trials per point",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for name, kw in (("model", {"no_wrap": True, "min_width": 11}),
                     ("n", {"justify": "right", "no_wrap": True, "min_width": 4}),
                     ("params", {"justify": "right", "no_wrap": True}),
                     ("width", {"justify": "right", "no_wrap": True}),
                     ("L", {"justify": "right", "no_wrap": True}), ("p", {"justify": "right", "no_wrap": True}),
                     ("bits", {"justify": "right", "no_wrap": True}), ("R", {"justify": "right", "no_wrap": True}),
                     ("bound", {"justify": "right", "no_wrap": True}), ("kind", {"no_wrap": True, "min_width": 5}),
                     ("err", {"justify": "right", "no_wrap": True}),
                     ("@ε⁺", {"justify": "right", "no_wrap": True})):
        table.add_column(name, **kw)
    last_model = None
    for row in result.rows:
        if last_model is not None and row.model != last_model:
            table.add_section()
        last_model = row.model
        if not row.ok:
            status = {"no-construction": "n/a", "over-budget": "over time"}.get(row.status, "failed")
            size = ["" if v is None else _fmt(v) for v in (row.params, row.width, row.layers, row.precision_bits)]
            table.add_row(row.model, str(row.n), *size, f"[yellow]{status}[/yellow]",
                          "", _fmt(row.lower_bound), short_kind(row.lower_bound_kind, compact=True), "", "")
            continue
        bits = str(row.bits)
        if row.meets_bound is False:
            bits = f"[bold red]{bits}[/bold red]"  # a correct protocol below its bound: a bug
        err = "–" if row.errors is None else f"{row.errors}/{row.trials}"
        at_eps = _fmt(row.error_bound)
        if row.meets_error_bound is False:
            at_eps = f"[bold red]{at_eps}[/bold red]"  # below the bound at eps+: the sample underestimated
        table.add_row(row.model, str(row.n), _fmt(row.params), _fmt(row.width), _fmt(row.layers),
                      _fmt(row.precision_bits), bits, _fmt(row.rounds), _fmt(row.lower_bound),
                      short_kind(row.lower_bound_kind, compact=True), err, at_eps)
    con.print(table)
    con.print(f"L layers, p bits of precision, bits: the largest count over the protocol runs, R rounds; "
              "bound: the problem's exact-correctness lower bound for that protocol (A→B: one-way from Alice "
              "to Bob; withheld where a trial erred); err: wrong answers in random trials; @ε⁺: the bound "
              "for protocols that err, at ε⁺, the one-sided 95% upper confidence bound on the error"
              f"{_eps_pairs(result)} ({result.seconds:.1f}s in all)", style="dim")
    for note in result.notes():
        con.print(f"[yellow]note:[/yellow] {note}")


def _eps_pairs(result: Any) -> str:
    """' (0/20 → ε⁺ = 0.139)': the distinct error counts and their ε⁺."""
    pairs = sorted({(r.errors, r.trials, r.error_upper) for r in result.rows
                    if r.ok and r.error_upper is not None and r.errors is not None})
    if not pairs or len(pairs) > 3:
        return ""
    return " (" + "; ".join(f"{e}/{t} → ε⁺ = {u:.3g}" for e, t, u in pairs) + ")"


def _run(task: str, families: list[str], ns: list[int], total: int, trials: int, instances: int, seed: int,
         task_options: dict[str, Any], model_options: dict[str, Any], max_seconds: float, executor: Any,
         err: Any, trial_distribution: str = "balanced", verify: str = "forward") -> Any:
    """The sweep, with a progress bar on ``err`` (a terminal) when given."""
    from commlb.sweep import run_sweep

    options = {"trials": trials, "instances": instances, "seed": seed, "task_options": task_options,
               "model_options": model_options, "max_seconds": max_seconds, "executor": executor,
               "trial_distribution": trial_distribution, "verify": verify}
    if err is None:
        return run_sweep(task, families, ns, **options)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(bar_width=24),
                  TextColumn("{task.fields[points]}"), TimeElapsedColumn(), console=err, transient=True) as bar:
        job = bar.add_task(f"sweeping {task}", total=total, points=f"0/{total} points")
        finished = [0]

        def step(row: Any) -> None:  # a point is done
            finished[0] += 1
            bar.update(job, completed=finished[0], description=f"{row.model} n={row.n} done",
                       points=f"{finished[0]}/{total} points")

        def within(point: Any, done: int, steps: int, stage: str) -> None:  # inside a point
            bar.update(job, completed=finished[0] + (done / steps if steps else 0),
                       description=f"{point.family} n={point.n}: {stage}")

        return run_sweep(task, families, ns, progress=step, point_progress=within, **options)


@click.command("sweep")
@click.option("--task", "task", required=True, help="Task name (see `commlb list tasks`).")
@click.option("--models", "models", default="rnn,transformer", show_default=True,
              help="Comma list of model families: rnn, transformer, ffn.")
@click.option("--n", "n_spec", default="8..128x2", show_default=True,
              help="Values of n: 8,16,32 or ranges 16..1024x2 (geometric) and 10..50+10 (arithmetic).")
@click.option("--trials", default=20, show_default=True, type=NON_NEGATIVE,
              help="Random instances per point on which the error rate is measured.")
@click.option("--trial-distribution", "trial_distribution", default="balanced", show_default=True,
              type=click.Choice(["balanced", "uniform", "singleton", "razborov"]),
              help="What the trials draw (x, y) from, as in simulate: the problem's balanced sampler, uniform "
                   "pairs, or for DISJ 'singleton' (y = {i}: the one-way bound applies) or 'razborov'.")
@click.option("--verify", "verify", type=click.Choice(["forward", "replay", "all", "messages"]), default="forward",
              show_default=True,
              help="How each protocol run's output is checked, as in simulate: against the forward pass, by "
                   "replaying every segment (RNNs only), or both, or (RNNs) only the messages' decoding.")
@click.option("--instances", default=3, show_default=True, type=POSITIVE,
              help="Random instances per point run as a protocol (bits = the largest count).")
@click.option("--max-seconds", "max_seconds", default=4.0, show_default=True, type=FiniteFloat(0.0),
              help="Time limit per point (0 = none): a point whose model and first protocol run do not "
                   "fit is cut and shown as 'over time'; further protocol runs and trials stop when it "
                   "is spent (the rows say how many ran). Kernel compilation is not counted.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the instances and weights.")
@click.option("--task-option", "task_opts", multiple=True, metavar="KEY=VALUE",
              help="Extra task parameter, e.g. k=3 for khop (repeatable).")
@click.option("--k", "k", type=POSITIVE, default=None, help="khop: number of hops; the same as --task-option k=K.")
@click.option("--q", "q", type=POSITIVE, default=None,
              help="qsa / qstr: q; the same as --task-option q=Q.")
@click.option("--model-option", "model_opts", multiple=True, metavar="KEY=VALUE",
              help="Extra construction option, e.g. precision=16 (repeatable).")
@click.option("--plot", "plot", default=None, callback=output_file("--plot", (".png", ".svg", ".pdf")),
              help="Write a log-log figure (.png or .svg): the models' size and the bits they send against n.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--csv", "csv_path", default=None, metavar="FILE", callback=output_file("--csv"),
              help="Write the rows as CSV to FILE ('-' for standard output).")
@click.option("--title", default=None, help="Title of the plot.")
@click.option("--metric", "metric", default=None, type=click.Choice(["width", "params", "state-bits", "bits"]),
              help="What the plot shows next to the bits sent: the models' width, parameters or state bits "
                   "L·d·p (default state-bits, two panels); 'bits' draws the bits panel alone.")
@execution_options
@no_limit_option
def sweep(task: str, models: str, n_spec: str, trials: int, instances: int, max_seconds: float, seed: int,
          task_opts: tuple[str, ...], model_opts: tuple[str, ...], plot: str | None, as_json: bool,
          csv_path: str | None, title: str | None, metric: str | None, workers: int | None,
          scheduler: str | None, k: int | None = None, q: int | None = None,
          trial_distribution: str = "balanced", verify: str = "forward") -> None:
    """Sweep n and show how each model family's construction grows: its size, the bits its
    protocol sends (run for real), the lower bound at n, and its error rate.

    Example: commlb sweep --task index-lookup --models rnn,transformer --n 16..1024x2 --plot sep.png
    """
    from commlb.cli.render import console, emit_json
    from commlb.costs import check_repetitions, check_task_size, seconds_per_instance
    from commlb.sweep import estimate_points, parse_models, parse_n_values, plot_sweep

    try:
        families = parse_models(models)
    except CommlbError as exc:
        raise type(exc)(f"--models: {exc}") from None
    if not families:
        raise InvalidInputError("--models: give at least one of rnn, transformer, ffn")
    ns = parse_n_values(n_spec)
    total = estimate_points(families, ns)
    task_options = check_typed_options(parse_key_values(task_opts, "--task-option"), "--task-option")
    task_options = merge_task_options(task_options, k=k, q=q)  # --k 3 is --task-option k=3, as in simulate
    model_options = check_typed_options(parse_key_values(model_opts, "--model-option"), "--model-option")
    as_flags = {key: f"--{key}" for key, value in (("k", k), ("q", q)) if value is not None}
    check_task_option_names(task, task_options, typed=as_flags)
    length = check_task_size(task, max(ns), task_options, command="sweep")
    if max_seconds > 0:
        check_repetitions(total, max_seconds + seconds_per_instance(length) * 2, "--n", "points",
                          "sweep")
    else:
        check_repetitions(total * (trials + instances), seconds_per_instance(length),
                          "--trials", "protocol runs and trials", "sweep")
    quiet = as_json or csv_path == "-"
    err = console(stderr=True)

    from commlb.execution import make_executor
    from commlb.sweep import SweepInterrupted

    interrupted = False
    try:
        with make_executor(workers, scheduler) as executor:
            result = _run(task, families, ns, total, trials, instances, seed, task_options, model_options,
                          max_seconds, executor, None if quiet or not err.is_terminal else err, trial_distribution,
                          verify)
    except SweepInterrupted as stop:  # Ctrl-C: show and write the rows finished before it
        result, interrupted = stop.result, True

    if not any(row.ok for row in result.rows) and any(row.status == "failed" for row in result.rows):
        first = next(row for row in result.rows if row.status == "failed")
        raise InvalidInputError(f"every point of the sweep failed ({len(result.rows)} of {len(result.rows)}); "
                                f"{first.model} at n = {first.n}: {first.note or first.status}")
    if plot and (any(row.ok for row in result.rows) or not interrupted):
        from commlb.validate import write_file

        write_file(plot, lambda path: plot_sweep(result, path, title=title, metric=metric), "--plot")
    if csv_path:
        text = result.to_csv()
        if csv_path == "-":
            sys.stdout.write(text)
            sys.stdout.flush()  # a failed write is reported before the notes go to stderr
        else:
            from commlb.validate import write_text

            write_text(csv_path, text, "--csv")
    if as_json:
        emit_json(result.to_json())
        sys.stdout.flush()  # a failed write is reported before the notes go to stderr
    elif csv_path != "-":
        con = console()
        _render(result, con)
        if plot:
            con.print(f"plot written to [bold]{plot}[/bold]")
        if csv_path:
            con.print(f"CSV written to [bold]{csv_path}[/bold]")
    if as_json or csv_path == "-":
        from rich.text import Text

        for note in result.notes():  # wrapped to the terminal like every other note
            err.print(Text(f"note: {note}"))
    if interrupted:
        err.print(f"interrupted (Ctrl-C): {len(result.rows)} of {total} points finished; "
                  f"{'these are the rows shown and written' if result.rows else 'nothing to show'}")
        sys.exit(130)
