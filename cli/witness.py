"""``commlb witness``: the exact input an undersized model gets wrong.

    commlb witness --task index-lookup --model rnn --n 16 --hidden 2 --precision 4
    commlb witness --task disjointness --model transformer --n 16 --layers 1 --heads 1 --width 1 --precision 3
    commlb witness --task index-lookup --model rnn --n 40 --budget 1000000
    commlb witness --task index-lookup --model rnn --n 16 --precision 16 --effective-bits

Thin: parse, call :mod:`commlb.witness`, render.  A witness (or its absence) exits 0; a
search too large to run exhaustively without ``--budget`` exits 2 with the estimate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from .options import POSITIVE, SEED, Budget, execution_options, figure_file, model_size_options, no_limit_option
from .render import OWNER_STYLE, console, emit_json, owner_legend, token_strip


def _fmt_bits(v: float | None) -> str:
    if v is None:
        return "—"
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}"


def _input_text(values: list[int], base_two: bool) -> str:
    if base_two:
        return "".join(str(int(v)) for v in values)
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _progress_runner(enabled: bool):
    """A rich progress bar on stderr (a no-op callback when disabled, or when stderr is not
    a terminal: the bar is transient, so it would show nothing there)."""
    if not enabled:
        return None, None
    err = console(stderr=True)
    if not err.is_terminal:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err, transient=True)
    state: dict[str, Any] = {}

    def update(done: int, total: int, phase: str) -> None:
        if not state:
            bar.start()
        tid = state.get(phase)
        if tid is None:
            tid = bar.add_task(phase, total=total or None)
            state[phase] = tid
        bar.update(tid, completed=done, total=total or None)

    return update, bar


def _render(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    out = console()
    base_two = bool(result.owners is not None)
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    head.add_row("task", f"{result.task}, n = {result.n}: {result.problem} via {result.reduction}")
    head.add_row("model", escape(result.model + (f" — {result.model_note}" if result.model_note else "")))
    mode = (f"exhaustive: all {result.inputs_enumerated:,} of Alice's inputs" if result.exhaustive else
            f"sampled: {result.inputs_enumerated:,} distinct random inputs of Alice's {result.total_inputs:.3g}")
    head.add_row("search", f"{mode} ({result.seconds:.2f} s, {escape(result.source)})")
    out.print(head)

    if result.found:
        x, x2 = result.alice_inputs
        base_two = all(v in (0, 1) for v in list(x) + list(x2))
        names = result.vocab_names
        inputs = Table(show_header=False, box=None, pad_edge=False)
        inputs.add_column(style="bold", no_wrap=True)
        inputs.add_column(overflow="fold")
        strip_width = out.size.width - 10
        inputs.add_row("x (Alice)", Text(_input_text(x, base_two), style=OWNER_STYLE[0]))
        inputs.add_row("x' (Alice)", Text(_input_text(x2, base_two), style=OWNER_STYLE[0]))
        diff = [j for j, (a, b) in enumerate(zip(x, x2)) if a != b]
        inputs.add_row("", Text(f"differ at position(s) {diff[:16]}{' …' if len(diff) > 16 else ''}", style="italic"))
        y = list(result.bob_input)
        y_text = _input_text(y, len(y) > 1 and all(v in (0, 1) for v in y))
        inputs.add_row("y (Bob)", Text(y_text, style=OWNER_STYLE[1]))
        inputs.add_row("(x, y)", token_strip(_arr(result.sequences[0]), _arr(result.owners), names, width=strip_width))
        inputs.add_row("(x', y)", token_strip(_arr(result.sequences[1]), _arr(result.owners), names, width=strip_width))
        inputs.add_row("", owner_legend())
        msg = result.message
        unit = "bit" if msg["bits"] == 1 else "bits"
        inputs.add_row("message", f"{' + '.join(msg['labels'])}: {msg['bits']} {unit}, payload {msg['payload_hex']} — "
                                  f"bit-identical for x and x' (checked on the protocol engine's transcripts)")
        out.print(inputs)

        table = Table(title="the model on both inputs (plain forward pass)", title_justify="left")
        table.add_column("input")
        table.add_column("model's answer", justify="right")
        table.add_column("true answer", justify="right")
        table.add_column("verdict")
        for label, got, want in zip(("(x, y)", "(x', y)"), result.outputs, result.expected):
            ok = got == want
            mark = Text("right" if ok else "WRONG", style="green" if ok else "bold red")
            table.add_row(label, str(got), str(want), mark)
        out.print(table)
        wrong = " and ".join(f"({w}, y)" for w in result.wrong_on)
        out.print(f"The answers are equal (read-out values {result.output_values[0]} on both) while the truths differ: "
                  f"the model is wrong on {wrong}.")
    else:
        out.print(Text(result.note, style="bold"))

    bits = Table(title="message size", title_justify="left")
    bits.add_column("quantity")
    bits.add_column("bits", justify="right")
    bits.add_column("meaning", overflow="fold")
    bits.add_row("nominal", _fmt_bits(result.message_bits), "length of Alice's one-way message (what the engine sends)")
    if result.effective_bits is not None:
        bits.add_row("effective", _fmt_bits(result.effective_bits),
                     f"log2 of {result.distinct_messages:,} distinct messages over all her inputs")
    else:
        bits.add_row("distinct (sampled)", f"{result.distinct_messages:,}",
                     "distinct messages among the sampled inputs")
    bits.add_row("one-way bound", _fmt_bits(result.one_way_bound),
                 f"D→({result.problem}), Alice to Bob: every correct one-way protocol needs this many")
    out.print(bits)
    if result.one_way_bound is not None:
        size = result.effective_bits if result.effective_bits is not None else result.message_bits
        short = size < result.one_way_bound
        word = "effective" if result.effective_bits is not None else "nominal"
        verdict = ("falls short of" if short else "reaches")
        unit = "bit" if size == 1 else "bits"
        out.print(f"The {word} message size {_fmt_bits(size)} {unit} {verdict} the one-way bound "
                  f"{_fmt_bits(result.one_way_bound)}" + (": by pigeonhole some pair must collide." if short and
                                                          result.exhaustive else "."))
    if result.found:
        out.print(Text(result.note, style="italic"))


def _render_effective(eb: Any, task: str, model: str, note: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    out.print(f"[bold]model[/bold] {escape(model)} — {escape(note)}")
    table = Table(title=f"effective bits — {task}, {model}", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("Alice's inputs", f"{eb.inputs:,}")
    table.add_row("distinct messages", f"{eb.distinct_messages:,}")
    table.add_row("effective bits (log2 distinct)", _fmt_bits(eb.effective_bits))
    table.add_row("nominal message bits", _fmt_bits(eb.nominal_bits))
    table.add_row("one-way bound", _fmt_bits(eb.one_way_bound))
    out.print(table)
    if eb.meets_bound is not None:
        if eb.meets_bound:
            out.print("effective bits ≥ the one-way bound: the message can tell every row of the matrix apart")
        else:
            out.print("effective bits < the one-way bound: the model errs on some input "
                      "(run without --effective-bits to see where)")
    if eb.note:
        out.print(eb.note)


@contextlib.contextmanager
def _executor(workers: int | None, scheduler: str | None, spill_dir: str | None = None) -> Iterator[Any]:
    """The Dask executor the options ask for, or None to run in process as before (with
    --spill-dir: the in-process executor, so the count is spilled there)."""
    from commlb.execution import make_executor

    with make_executor(workers, scheduler) as executor:
        yield executor if executor.distributed or spill_dir is not None else None


def _arr(values: list[int]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.int64)


@click.command("witness")
@click.option("--task", "task", default=None,
              help="Task with a reduction: index-lookup, disjointness, equality, …, a plugin's or FILE.py:ATTR "
              "(required unless --reduction names the reduction, whose task it is).")
@click.option("--model", "model", required=True, metavar="rnn|transformer|ffn|FILE.py:ATTR",
              help="Model family: rnn, transformer, ffn, a plugin's, or a commlb.plugins.ModelFamily in FILE.py.")
@click.option("--n", "n", type=POSITIVE, default=None, help="Problem size (default per task).")
@click.option("--reduction", "reduction", default=None,
              help="Use this reduction instead of the task's default: a name, a plugin's, or FILE.py:ATTR "
              "(loading a file runs it).")
@model_size_options
@click.option("--split", "split", default=None, help="Who owns each position (default: the reduction's owners).")
@click.option("--weights", default=None, metavar="construction|random|FILE.npz",
              help="Default: the construction when it can be built at these sizes, else random.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of random weights and sampling.")
@click.option("--budget", default=None, type=Budget(), metavar="N|SECONDSs",
              help="Sample this many random inputs of Alice (e.g. 1000000) or for this long (e.g. 30s) "
                   "instead of enumerating all of them.")
@click.option("--effective-bits", "effective", is_flag=True,
              help="Only count the distinct messages over all of Alice's inputs (log2 = effective bits).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--figure", "figure", default=None, callback=figure_file("--figure"),
              help="Draw the witness to FILE (.png, .svg or .pdf): the two inputs as rows of tokens that "
                   "send the same message, and the answers.")
@execution_options
@click.option("--spill-dir", "spill_dir", default=None, metavar="DIR",
              help="Count Alice's messages partitioned and spilled to disk under DIR, an existing "
                   "writable directory every worker sees (default with --workers/--scheduler: the "
                   "temporary directory, TMPDIR; given alone: spilled in this process).")
@no_limit_option
def witness(task: str, model: str, n: int | None, reduction: str | None, hidden: int | None, layers: int | None,
            heads: int | None, width: int | None, precision: int | None, arith: str, split: str | None,
            weights: str | None, seed: int, budget: str | None, effective: bool, as_json: bool,
            figure: str | None = None, workers: int | None = None, scheduler: str | None = None,
            spill_dir: str | None = None) -> None:
    """Find two inputs of Alice whose one-way messages collide and a Bob input that tells
    them apart: the model gives the same answer on both full inputs, so it is wrong on
    one (the pigeonhole argument behind the one-way lower bound, made concrete).

    With --workers or --scheduler an exhaustive enumeration runs on Dask: the messages are
    partitioned by hash, spilled to disk and counted on the workers (the same result)."""
    from commlb.costs import MAX_SECONDS, check_model_size, check_repetitions, check_task_size, seconds_per_instance
    from commlb.errors import InvalidInputError

    if task is None and reduction is None:
        raise click.UsageError("--task (or --reduction) is required")
    if spill_dir is not None:
        from commlb.witness.spill import check_spill_dir

        if budget is not None:
            raise InvalidInputError("--spill-dir is where an exhaustive count spills; --budget samples "
                                    "(nothing is spilled): drop one")
        spill_dir = check_spill_dir(spill_dir)
    length = check_task_size(task, n, {}, reduction, command="witness")
    if weights in (None, "random", "construction"):
        check_model_size(model, length, hidden=hidden, layers=layers, heads=heads, width=width,
                         command="witness")
    if length is not None:
        from commlb.costs import fmt_seconds
        from commlb.errors import TooLargeError

        # Alice's layout is found by encoding one instance per input position
        size = n if n is not None else 64
        layout = size * seconds_per_instance(length)
        if layout > MAX_SECONDS / 6:
            fit = max(1, int(size * (MAX_SECONDS / 6 / layout) ** 0.5))
            raise TooLargeError(f"witness: --n {size:,} means {size:,} encodings of {length:,.0f}-token instances "
                                f"to lay out Alice's input (~{fmt_seconds(layout)}): use --n {fit:,} or smaller")
    if isinstance(budget, int):
        check_repetitions(budget, seconds_per_instance(length), "--budget", "inputs of Alice", "witness")
    elif isinstance(budget, str):
        check_repetitions(float(budget[:-1]), 1.0, "--budget", "seconds", "witness", limit=24 * MAX_SECONDS)
    if effective and figure:
        raise InvalidInputError("--figure draws a witness; --effective-bits only counts messages (drop one)")
    if effective:
        from commlb.protocol.core import Split
        from commlb.simulate import resolve_task
        from commlb.witness import effective_bits, witness_model

        if budget is not None:
            raise InvalidInputError("--effective-bits counts every input of Alice; it takes no --budget")
        setup = resolve_task(task, n, reduction=reduction)
        if setup.reduction is None:
            raise InvalidInputError(f"task {task} has no reduction, so Alice has no input space")
        built, note = witness_model(setup, model, hidden=hidden, layers=layers, heads=heads, width=width,
                                    precision=precision, arith=arith, weights=weights, seed=seed)
        sp = None if split in (None, "", "reduction") else Split.parse(split, setup.example_instance())
        with _executor(workers, scheduler, spill_dir) as executor:
            update, bar = _progress_runner(not as_json and executor is not None)
            try:
                eb = effective_bits(setup.reduction, built.model, sp, executor=executor, progress=update,
                                    spill_dir=spill_dir)
            finally:
                if bar is not None:
                    bar.stop()
        if not eb.applicable:
            raise InvalidInputError(f"effective bits: {eb.note}")
        if as_json:
            emit_json({"task": task, "model": model, "n": setup.n, "model_note": note, **eb.to_json()})
        else:
            _render_effective(eb, task, model, note)
        return

    from commlb.cli.progress import working
    from commlb.witness import find_witness

    with _executor(workers, scheduler, spill_dir) as executor:
        update, bar = _progress_runner(not as_json)
        try:
            with working("preparing the search: building the model, compiling its kernels",
                         enabled=not as_json) as prep:

                def first(done: int, total: int, phase: str) -> None:  # the search's own bar takes over
                    prep.stop()
                    if update is not None:
                        update(done, total, phase)

                result = find_witness(task, model, n, hidden=hidden, layers=layers, heads=heads, width=width,
                                      precision=precision, arith=arith, weights=weights, seed=seed,
                                      budget=budget, split=split, reduction=reduction, progress=first,
                                      executor=executor, spill_dir=spill_dir)
        finally:
            if bar is not None:
                bar.stop()
    if figure:
        from commlb.figures import save_figure, witness_figure

        save_figure(witness_figure(result), figure, "--figure")
    if as_json:
        emit_json(result.to_json())
        return
    _render(result)
    if figure:
        console().print(f"figure: {figure}")
