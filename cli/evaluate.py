"""``commlb evaluate``: the error rate of a trained model on a task.

    commlb evaluate --task khop --task-option k=4 --weights model.pt --config config.yaml \\
        --adapter sht24-khop --n 98 --instances 1000
    commlb evaluate --weights gpt2_hf/ --adapter my-adapter.json --task-option k=0..4 --json

Thin: parse, call :mod:`commlb.imported.evaluate`, render.
"""

from __future__ import annotations

from typing import Any

import click

from .options import POSITIVE, SEED, execution_options, no_limit_option, output_file
from .render import console, emit_json
from .simulate_imported import DTYPE_OPTION


def model_file_options(func: Any) -> Any:
    """--weights, --config, --heads, --readout, --adapter (shared with simulate)."""
    options = [
        click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
                     help="YAML/JSON config with what the weights cannot tell (n_head/headcount/num_heads)."),
        click.option("--heads", "heads", type=POSITIVE, default=None, help="GPT-2 heads (if no config gives them)."),
        click.option("--readout", "readout", default=None, metavar="lm_head|hidden|linear:NAME",
                     help="How predictions are read (default: the adapter's, else the checkpoint's)."),
        click.option("--adapter", "adapter", default=None, metavar="NAME|FILE",
                     help="Task-to-model adapter: built-in name (sht24-khop) or a JSON/TOML file."),
        DTYPE_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("evaluate")
@click.option("--weights", "weights", required=True, metavar="FILE|FOLDER",
              help="Trained weights: .safetensors, .pt/.bin (torch.save), .npz or a Hugging Face folder.")
@model_file_options
@click.option("--task", "task", default=None, help="Task (default: the adapter's).")
@click.option("--task-option", "task_options", multiple=True, metavar="NAME=VALUE",
              help="Task option; NAME=a..b or NAME=v1,v2 gives one row per value (repeatable).")
@click.option("--n", "n", type=POSITIVE, required=True, help="Instance size (khop: number of characters).")
@click.option("--instances", type=POSITIVE, default=1000, show_default=True, help="Instances per row.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the instances.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", "plot", default=None, callback=output_file("--plot", (".png", ".svg", ".pdf")),
              help="Write error rate vs the varying task option (.png/.svg/.pdf).")
@execution_options
@no_limit_option
def evaluate(weights: str, config: str | None, heads: int | None, readout: str | None, adapter: str | None,
             dtype: str | None, task: str | None, task_options: tuple[str, ...], n: int, instances: int, seed: int,
             as_json: bool, plot: str | None, workers: int | None = None, scheduler: str | None = None) -> None:
    """Error rate of a trained model on seeded instances of a task, with a 95% interval."""
    from commlb.errors import InvalidInputError
    from commlb.imported import open_model
    from commlb.imported.adapter import load_adapter
    from commlb.imported.evaluate import EXACT_BOUNDS_NOTE, parse_task_options
    from commlb.imported.evaluate import evaluate as run

    if adapter is None:
        raise InvalidInputError("--adapter is required: a built-in name (sht24-khop) or a JSON/TOML file")
    ad = load_adapter(adapter)
    rows = parse_task_options(task_options)
    total = instances * len(rows)
    from commlb.costs import check_repetitions, seconds_per_instance

    check_repetitions(total, seconds_per_instance(n), "--instances", "instances (over all rows)", "evaluate")
    model = open_model(weights, config, heads, readout, ad, dtype)
    out = console(stderr=True)
    from commlb.execution import make_executor

    with make_executor(workers, scheduler) as executor:
        spread = executor if executor.distributed else None
        if not as_json and out.is_terminal and total >= 200:
            from rich.progress import Progress

            with Progress(console=out, transient=True) as bar:
                job = bar.add_task("evaluating", total=total)
                result = run(model, ad, task, rows, n, instances, seed, progress=lambda c: bar.advance(job, c),
                             executor=spread)
        else:
            result = run(model, ad, task, rows, n, instances, seed, executor=spread)
    if plot:
        from commlb.imported.evaluate import plot_rows
        from commlb.validate import write_file

        write_file(plot, lambda path: plot_rows(result, path), "--plot")
    assessments = _error_bounds(result)
    note = EXACT_BOUNDS_NOTE.split(" (")[0] + "; the bound for protocols that err, at eps+, is stated per row"
    if as_json:
        data = result.to_json()
        for row, a in zip(data["rows"], assessments):
            row["error_bound"] = a.to_json()
        data["note"] = note
        emit_json(data)
        return
    _render(result, note, plot, assessments)


def _error_bounds(result: Any) -> list[Any]:
    """Per row: the bound at eps+ (the per-instance error's one-sided 95% upper bound) for
    the task's problem, or why none applies (:func:`commlb.bounds.erring.assess_trained`)."""
    from commlb.bounds.erring import assess_trained

    return [assess_trained(result.task, r.task_options, result.n, int(r.wrong_instances or 0), r.instances,
                           result.model) for r in result.rows]


def _render(result: Any, note: str, plot: str | None, assessments: list[Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    m = result.model
    heads = f", {m['heads']} heads" if m["heads"] else ""
    out.print(escape(f"model: {m['family']}, {m['layers']} layers, width {m['width']}{heads}, "
                     f"{m['parameters']:,} parameters ({m['format']}, {m['arithmetic']})"))
    out.print(escape(f"read-out: {m['readout']}; adapter {result.adapter.name}; task {result.task}, "
                     f"n = {result.n}, seed {result.seed}"))
    varying = [k for k in result.rows[0].task_options
               if len({str(r.task_options.get(k)) for r in result.rows}) > 1]
    fixed = {k: v for k, v in result.rows[0].task_options.items() if k not in varying}
    if fixed:
        out.print(escape("task options: " + ", ".join(f"{k}={v}" for k, v in fixed.items())))
    t = Table(expand=False)
    for k in varying:
        t.add_column(k, justify="right")
    t.add_column("error rate", justify="right")
    t.add_column("95% interval", justify="right")
    t.add_column("errors / scored", justify="right")
    t.add_column("instances", justify="right")
    t.add_column("time", justify="right")
    for r in result.rows:
        t.add_row(*[str(r.task_options[k]) for k in varying], f"{r.error_rate:.4f}",
                  f"[{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]", f"{r.errors:,} / {r.scored:,}", f"{r.instances:,}",
                  f"{r.seconds:.2f} s")
    out.print(t)
    out.print(escape(f"interval: {result.interval}"))
    out.print(escape(f"note: {note}"))
    _render_bounds(out, result, varying, assessments)
    if plot:
        out.print(f"plot written to [bold]{escape(plot)}[/bold]")


def _render_bounds(out: Any, result: Any, varying: list[str], assessments: list[Any]) -> None:
    """One line per row: the bound at eps+, or why none applies (rows with the same
    reason share one line)."""
    from rich.markup import escape

    seen: dict[str, list[str]] = {}
    for r, a in zip(result.rows, assessments):
        label = ", ".join(f"{k}={r.task_options[k]}" for k in varying)
        head = (f"{a.errors}/{a.trials} instances wrong, eps+ = {a.error_upper:.4f}: ")
        if a.applies:
            text = f"{a.reason}; {a.implication}"
        else:
            text = f"no bound applies: {a.reason}"
        seen.setdefault(text, []).append(f"{label + ': ' if label else ''}{head}")
    for text, heads in seen.items():
        for h in heads:
            out.print(escape(f"error-tolerant bound ({h.rstrip(': ')})"))
        out.print(escape(f"  {text}"))
