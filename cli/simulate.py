"""``commlb simulate``: run a model on a task instance as a two-party protocol, count every
bit, check the protocol against the forward pass and state the bound that follows.

    commlb simulate --task disjointness --model rnn
    commlb simulate --task disjointness --model rnn --n 32 --hidden 8 --precision 16 --json
    commlb simulate --task index-lookup --model transformer --n 1024 --trials 200

Thin: parse, call :mod:`commlb.simulate`, render.  A wrong answer exits 0 and says so (a
model may be undersized); a protocol that disagrees with the forward pass is an engine
bug and raises :class:`~commlb.errors.EngineError`; bad input exits 2 with one line.
"""

from __future__ import annotations

from typing import Any

import click

from commlb.errors import InvalidInputError

from .options import (
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    check_task_option_names,
    check_typed_options,
    figure_file,
    merge_task_options,
    model_size_options,
    no_limit_option,
    output_file,
    parse_key_values,
)
from .render import OWNER_NAME, OWNER_STYLE, console, emit_json, owner_legend, token_strip
from .simulate_imported import imported_options, imported_requested, run_from_simulate

_SPLIT_HELP = ("Who owns each position: 'reduction' (default: the reduction's owners), 'prefix:K' "
               "(Alice the first K), 'interleave' (alternate over non-public positions), or one "
               "letter per position from A, B, P.")


def _fmt_bits(bits: float | None) -> str:
    if bits is None:
        return "—"
    return str(int(bits)) if float(bits).is_integer() else f"{bits:.3g}"


def _carries(message: Any) -> str:
    fields = ", ".join(f.describe() for f in message.fields)
    return fields


def _number_text(values: list[Any], limit: int) -> str:
    def one(v: Any) -> str:
        # k / 2^f is exact in binary: print it in full (0.16015625), integers without ".0"
        return (str(int(v)) if v.is_integer() else repr(v)) if isinstance(v, float) else str(v)

    shown = ", ".join(one(v) for v in values[:limit])
    more = f", … ({len(values) - limit} more)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def _print_transcript(out: Any, result: Any, raw_bits: bool, width: int) -> None:
    """Every message numbered: who sends it, what it is in plain words, its values as
    numbers (the raw integers with --raw-bits) and what each party has read so far."""
    from rich.padding import Padding
    from rich.text import Text

    from commlb.transcript_view import message_rows

    msgs = result.transcript.messages
    rows = message_rows(msgs, result.split.owner, raw=raw_bits)
    scale = ("values as sent: raw integers; a fixed-point number is its integer divided by 2^f, f its "
             "fractional bits" if raw_bits else
             "values as numbers: fixed-point integers divided by their scale (--raw-bits: the integers sent)")
    out.print(Text("the transcript, message by message", style="bold"))
    out.print(Text(f"({scale}; read so far: the token positions, from 0, whose content has reached each "
                   "party, directly or through the messages it received)", style="italic"))
    limit = 64 if width >= 100 else 16
    for m, row in zip(msgs, rows):
        head = Text(f"{row['number']:>3}. ")
        head.append_text(_direction(m))
        head.append(f", round {m.round}: {m.label}, {m.bits} bits")
        out.print(head)
        body = Text(row["what"] + "\n", style="italic")
        reads = row["read_so_far"]
        body.append(f"read so far: Alice {reads['alice']}; Bob {reads['bob']}", style="")
        for name, vals in row["numbers"].items():
            body.append(f"\n{name} = {_number_text(vals, limit)}", style="")
        if m.note:
            body.append(f"\n({m.note})", style="dim")
        out.print(Padding(body, (0, 0, 0, 5)))


def _direction(message: Any) -> Any:
    from rich.text import Text

    t = Text()
    t.append(OWNER_NAME[int(message.sender)], style=OWNER_STYLE[int(message.sender)])
    t.append(" → ")
    t.append(OWNER_NAME[int(message.receiver)], style=OWNER_STYLE[int(message.receiver)])
    return t


def _token_names(setup: Any) -> list[str] | None:
    return setup.task.vocab_names()  # None for a task without printable names: show ids


def verification_lines(verification: dict[str, bool | None], fixed: bool) -> list[str]:
    """One line per check that ran, named as in the JSON (docs/theory.md §3.9)."""
    what = {
        "messages_decode_to_handoff_states": "every message's bits decode to the state its receiver continued "
                                             "from",
        "segments_replayed": "every segment, replayed from the message before it through its holder's view, "
                             "gives the next message, and the last ones the output, bit for bit",
        "protocol_matches_forward": "the protocol's output equals the forward pass bit for bit "
                                    + ("(exact fixed point)" if fixed else
                                       "(float mode: exact p-bit states and exact accumulators across the cut)"),
    }
    lines = [f"[green]verified[/green] ({name}): {text}" for name, text in what.items() if verification.get(name)]
    if verification.get("messages_decode_to_handoff_states") and not (
            verification.get("segments_replayed") or verification.get("protocol_matches_forward")):
        lines.append("[yellow]not checked[/yellow]: the output (--verify messages checks only what crosses; "
                     "--verify forward or replay checks the output)")
    return lines


def _checked_by(checks: tuple[str, ...]) -> str:
    """How trials were verified, in words with each check's name."""
    words = {"protocol_matches_forward": "against the forward pass", "segments_replayed": "by the segment replay",
             "messages_decode_to_handoff_states": "only by the messages' decoding, the output unchecked"}
    return " and ".join(f"{words.get(name, name)} ({name})" for name in checks)


def _render(result: Any, show_transcript: bool, raw_bits: bool = False) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from commlb.simulate import problem_label

    out = console()
    setup, built, tr = result.setup, result.built, result.transcript
    width = out.size.width
    task_name = setup.task_name or setup.task.name

    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    if setup.reduction is not None:
        head.add_row("task", f"{task_name}, n = {setup.n}: {problem_label(setup.problem)} via {setup.reduction.name}")
    else:
        head.add_row("task", f"{task_name}, n = {setup.n} (no reduction: a generated instance)")
    head.add_row("model", escape(f"{built.family}: {_model_summary(built)}"))
    head.add_row("weights", escape(built.note))
    head.add_row("precision", escape(built.precision.describe()))
    counts = result.split.counts()
    split_text = Text(f"{result.split.name}: ")
    for code, key in ((0, "alice"), (1, "bob"), (2, "public")):
        split_text.append(f"{OWNER_NAME[code]} {counts.get(key, 0)}  ", style=OWNER_STYLE[code])
    head.add_row("split", split_text)
    # a token is about 2-4 characters wide: keep the strip to about two lines
    max_tokens = max(16, min(96, (2 * (width - 14)) // 4))
    head.add_row("instance", token_strip(result.instance.tokens, result.split.owner, _token_names(setup),
                                         max_tokens=max_tokens, width=width - 12))
    head.add_row("", owner_legend())
    if len(result.instance) > max_tokens:
        head.add_row("", Text(f"({len(result.instance)} tokens, shortened in the middle)", style="italic"))
    out.print(head)

    msgs = tr.messages
    table = Table(title=f"messages ({len(msgs)})", title_justify="left", expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("round", justify="right", no_wrap=True)
    table.add_column("direction", no_wrap=True)
    table.add_column("label", no_wrap=True)
    table.add_column("carries", overflow="fold")
    table.add_column("bits", justify="right", no_wrap=True)
    if show_transcript or len(msgs) <= 12:
        shown = list(range(len(msgs)))
    else:
        shown = list(range(5)) + [-1] + list(range(len(msgs) - 5, len(msgs)))
    for i in shown:
        if i == -1:
            table.add_row("", "…", "", f"{len(msgs) - 10} more", "…", "")
            continue
        m = msgs[i]
        table.add_row(str(i + 1), str(m.round), _direction(m), escape(m.label), Text(_carries(m)), str(m.bits))
    if msgs:
        out.print(table)
        if show_transcript:
            _print_transcript(out, result, raw_bits, width)
        else:
            shown_note = f"{len(shown) - 1} of {len(msgs)} messages shown; " if -1 in shown else ""
            out.print(Text(f"({shown_note}--transcript shows every message in words, with its values and what "
                           "each party has read so far)", style="italic"))
    else:
        out.print("[bold]no message crosses the cut[/bold] on this split")
    out.print(f"total [bold]{tr.total_bits}[/bold] bits: Alice → Bob {tr.bits_alice_to_bob}, "
              f"Bob → Alice {tr.bits_bob_to_alice}, {tr.rounds} round{'s' if tr.rounds != 1 else ''}"
              f"{' (one-way)' if tr.one_way and msgs else ''}")

    ans = Text("answer: ")
    ans.append(f"model {_show(result.output)}, truth {_show(result.expected)}  ")
    if result.correct:
        ans.append("correct", style="bold green")
    else:
        ans.append("WRONG", style="bold red")
        ans.append(" (the model answers this input wrongly; exit code stays 0)")
    out.print(ans)
    for line in verification_lines(result.verification, built.precision.is_fixed):
        out.print(line)

    if result.lower_bounds:
        bt = Table(title="lower bounds", title_justify="left", expand=False)
        bt.add_column("bound", overflow="fold")
        bt.add_column("value", justify="right", no_wrap=True)
        bt.add_column("compare", justify="right", no_wrap=True)
        bt.add_column("applies", no_wrap=True)
        bt.add_column("why", overflow="fold")
        chosen = result.lower_bound
        for e in result.lower_bounds:
            mark = "[bold green]yes ←[/bold green]" if e is chosen else ("yes" if e.applies else "[dim]no[/dim]")
            bt.add_row(escape(f"{e.problem} {e.kind}: {e.formula}"), _fmt_bits(e.bits), _fmt_bits(e.compare_bits),
                       mark, escape(e.why))
        out.print(bt)
        out.print(Text("value: the bound at this n. compare: the number the bits sent are held against: the value "
                       "itself for a one-way bound; for the two-way D, D − 1, since D counts the 1-bit announcement "
                       "of the answer, which this run never sends. ←: the bound the conclusion uses.",
                       style="italic"))
    if result.round_bounds is not None:
        _print_round_bounds(out, result.round_bounds)
    if result.trials is not None:
        t = result.trials
        style = "green" if t.errors == 0 else "red"
        bits = f"{t.bits_min}" if t.bits_min == t.bits_max else f"{t.bits_min}..{t.bits_max}"
        out.print(f"trials: {t.count} random instances ({t.distribution}), [{style}]{t.errors} errors "
                  f"({100 * t.error_rate:.1f}%)[/{style}], {t.verified} verified {_checked_by(t.checks)}, "
                  f"{bits} bits each")
        if t.first_error is not None:
            out.print(escape(f"  first error: trial {t.first_error['trial']}, model {t.first_error['output']}, "
                             f"truth {t.first_error['expected']}"))
    if result.error_bound is not None:
        out.print(Text("error-tolerant bound: ", style="bold") + Text(result.error_bound.sentence()))
    if result.effective_bits is not None:
        out.print(escape(_effective_line(result.effective_bits)))
    out.print(Text("conclusion: ", style="bold") + Text(result.conclusion))


def _print_round_bounds(out: Any, report: Any) -> None:
    """The round-aware bounds (commlb.bounds.rounds): the transcript's pattern, then one
    line per statement with whether it applies at these rounds and why."""
    from rich.markup import escape
    from rich.text import Text

    out.print(Text("rounds: ", style="bold") + Text(f"{report.pattern} ({report.bits} bits); {report.convention}"))
    for e in report.entries:
        mark = "applies" if e.applies else "does not apply"
        out.print(escape(f"  {mark}: {e.statement} [{e.kind}; {e.source}; {e.status}]"))
        out.print(Text(f"    {e.why}", style="italic"))


def _effective_line(eb: Any) -> str:
    """One line for the effective-bits count (``commlb.witness.effective_bits``)."""
    if not isinstance(eb, dict):
        return f"effective bits: {eb}"
    if not eb.get("applicable") or eb.get("effective_bits") is None:
        return f"effective bits: not counted ({eb.get('note') or 'not applicable'})"
    line = (f"effective bits: {eb['effective_bits']:.2f} = log2 of {eb['distinct_messages']:,} distinct messages "
            f"over all {eb.get('inputs') or '?':,} Alice inputs")
    if eb.get("nominal_bits") is not None:
        line += f" (nominal {eb['nominal_bits']} bits)"
    if eb.get("one_way_bound") is not None:
        met = eb.get("meets_one_way_bound")
        verdict = "" if met is None else (" met" if met else " NOT met")
        line += f"; one-way bound {_fmt_bits(eb['one_way_bound'])}{verdict}"
    return line


def _show(value: Any) -> str:
    import numpy as np

    arr = np.asarray(value) if value is not None else None
    if arr is None:
        return "(undecodable)"
    if arr.ndim == 0:
        v = arr.item()
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    flat = arr.reshape(-1)
    body = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in flat[:8].tolist())
    return f"[{body}{', …' if flat.size > 8 else ''}]"


def _model_summary(built: Any) -> str:
    cfg = built.model.config
    keys = ("layers", "hidden", "heads", "width", "key_dim", "value_dim", "activation", "attention")
    parts = [f"{k}={cfg[k]}" for k in keys if k in cfg]
    parts.append(f"{built.model.num_params():,} parameters")
    return ", ".join(parts)


@click.command("simulate")
@click.option("--task", "task", default=None, help="Task: disjointness, equality, index-lookup, qsa, khop, "
              "match2, match3, dyck22, nearest-neighbor, function-composition, qstr, a plugin's task or "
              "FILE.py:ATTR (required, except with --reduction, whose task it is, or with trained weights, whose "
              "adapter names it).")
@click.option("--model", "model", default=None, metavar="rnn|transformer|ffn|FILE.py:ATTR",
              help="Model family: rnn, transformer, ffn, a plugin's, or a commlb.plugins.ModelFamily in FILE.py "
              "(required, except with trained weights).")
@click.option("--n", "n", type=POSITIVE, default=None, help="Problem size (default per task).")
@click.option("--k", "k", type=POSITIVE, default=None,
              help="khop: number of hops (default 2); the same as --task-option k=K.")
@click.option("--q", "q", type=POSITIVE, default=None,
              help="qsa: sparsity q (= the DISJ_q size); qstr: q; the same as --task-option q=Q.")
@click.option("--reduction", "reduction", default=None,
              help="Use this reduction instead of the task's default: a name, a plugin's, or FILE.py:ATTR "
              "(loading a file runs it).")
@model_size_options
@click.option("--split", "split", default=None, help=_SPLIT_HELP)
@click.option("--weights", default=None, metavar="construction|random|FILE.npz|CHECKPOINT",
              help="Default: the construction for this task and model when one exists, else random.  A trained "
              "checkpoint (.safetensors, .pt/.bin, Hugging Face folder) runs with --adapter.")
@imported_options
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the instance and random weights.")
@click.option("--trials", type=NON_NEGATIVE, default=0, show_default=True,
              help="Also run K random instances; count errors.")
@click.option("--trial-distribution", "trial_distribution", default="balanced", show_default=True,
              type=click.Choice(["balanced", "uniform", "singleton", "razborov"]),
              help="What --trials draw (x, y) from: the problem's balanced sampler, uniform pairs, or for DISJ "
                   "a hard distribution: 'singleton' (y = {i}: the one-way bound applies), 'razborov'.")
@click.option("--transcript", "show_transcript", is_flag=True,
              help="Print every message: what it is, its values as numbers, what each party has read so far.")
@click.option("--raw-bits", "raw_bits", is_flag=True,
              help="With --transcript: show the raw integers sent instead of the numbers they encode.")
@click.option("--verify", "verify", type=click.Choice(["forward", "replay", "all", "messages"]), default="forward",
              show_default=True,
              help="How each run's output is checked: against an independent forward pass; by replaying every "
                   "segment from the message before it through its holder's view (RNNs, "
                   "docs/theory.md §3.9); or both; or (RNNs) only that every message decodes to the state "
                   "its receiver continued from, the output unchecked.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--effective-bits/--no-effective-bits", "effective", default=True, show_default=True,
              help="Count Alice's distinct messages over all her inputs (when she has at most 2^16).")
@click.option("--save-weights", "save_weights", default=None, callback=output_file("--save-weights", (".npz",)),
              help="Write the model's weights to FILE.npz (load them back with --weights FILE.npz).")
@click.option("--figure", "figure", default=None, callback=figure_file("--figure"),
              help="Draw the run to FILE (.png, .svg or .pdf): the tokens with their owners and the cut, "
                   "the messages as arrows between Alice and Bob.")
@no_limit_option
def simulate(task: str, model: str, n: int | None, k: int | None, q: int | None, reduction: str | None,
             hidden: int | None, layers: int | None, heads: int | None, width: int | None,
             precision: int | None, arith: str, split: str | None, weights: str | None, seed: int,
             trials: int, show_transcript: bool, as_json: bool, effective: bool, save_weights: str | None,
             adapter: str | None = None, config: str | None = None, readout: str | None = None,
             task_options: tuple[str, ...] = (), exchange: str = "cheaper", raw_bits: bool = False,
             figure: str | None = None, dtype: str | None = None,
             trial_distribution: str = "balanced", verify: str = "forward") -> None:
    """Run a model on an instance of TASK as a two-party protocol: every message encoded,
    counted and decoded, the output checked against the forward pass, and the
    communication lower bound that applies to the transcript.  With a trained checkpoint
    (--weights FILE --adapter ...) the model runs in its checkpoint's format (float32,
    bfloat16 or float16; --dtype) and no bound is applied."""
    if imported_requested(weights, adapter):
        if verify != "forward":
            raise InvalidInputError(f"--verify {verify}: that check is for the built-in RNNs; trained "
                                    "weights are checked against their forward pass (--verify forward)")
        if trial_distribution != "balanced":
            raise InvalidInputError("--trial-distribution applies to built-in models (trained weights draw "
                                    "their instances from the task's generator)")
        if figure:
            raise click.UsageError("--figure draws runs of the built-in model families; it does not take a "
                                   "trained checkpoint yet")
        run_from_simulate({
            "weights": weights, "config": config, "heads": heads, "readout": readout, "adapter": adapter,
            "task": task, "task_options": task_options, "k": k, "n": n, "split": split, "seed": seed,
            "exchange": exchange, "as_json": as_json, "show_transcript": show_transcript, "model": model,
            "reduction": reduction, "hidden": hidden, "layers": layers, "width": width, "precision": precision,
            "q": q, "save_weights": save_weights, "arith": arith, "trials": trials, "dtype": dtype})
        return
    if dtype is not None:
        raise click.UsageError("--dtype applies to trained weights (--weights CHECKPOINT --adapter ...)")
    if (task is None and reduction is None and not task_options) or model is None:
        raise click.UsageError("--task (or --reduction) and --model are required (or --weights CHECKPOINT "
                               "--adapter ... for trained weights)")
    from commlb.costs import check_model_size, check_repetitions, check_task_size, seconds_per_instance
    from commlb.simulate import (
        build_model,
        check_split,
        check_verify,
        conclusion,
        resolve_task,
        run_trials,
        simulate_instance,
    )

    # --task-option KEY=VALUE (as in sweep and explain) and --k / --q are two spellings
    typed = check_typed_options(parse_key_values(task_options, "--task-option"), "--task-option")
    if isinstance(task, str):
        check_task_option_names(task, typed)
    options = merge_task_options(typed, k=k, q=q, reduction=reduction)
    reduction = options.pop("reduction", None)
    if task is None and reduction is None:
        raise click.UsageError("--task (or --reduction) and --model are required")
    length = check_task_size(task, n, options, reduction, command="simulate")
    if weights in (None, "random", "construction"):
        check_model_size(model, length, hidden=hidden, layers=layers, heads=heads, width=width,
                         command="simulate")
    check_repetitions(trials, seconds_per_instance(length), "--trials", "random instances", "simulate")
    setup = resolve_task(task, n, reduction=reduction, **options)
    check_split(setup, split)
    if trial_distribution != "balanced":
        from commlb.bounds.trial_distributions import trial_sampler

        trial_sampler(trial_distribution, setup.problem, task)  # refuse one the problem lacks, up front
    built = build_model(setup, model, hidden=hidden, layers=layers, heads=heads, width=width,
                        precision=precision, arith=arith, weights=weights, seed=seed)
    check_verify(verify, built.model)  # a mode the model has, before any run
    if save_weights:
        from commlb.validate import write_file

        write_file(save_weights, built.model.save, "--save-weights")
    from commlb.cli.progress import working

    with working("running the model as a protocol", enabled=not as_json):
        result = simulate_instance(setup, built, seed=seed, split=split, effective=effective, verify=verify)
    if trials:
        if as_json:
            result.trials = run_trials(setup, built, trials, seed=seed, split=split, distribution=trial_distribution,
                                       verify=verify)
        else:
            result.trials = _trials_with_progress(setup, built, trials, seed, split, trial_distribution, verify)
        from commlb.bounds.erring import assess_run

        result.error_bound = assess_run(result)
        if result.round_bounds is not None and result.trials.errors:
            from commlb.bounds.rounds import round_bounds

            result.round_bounds = round_bounds(setup.problem, result.transcript, erred=True)
        result.conclusion = conclusion(result)
    if figure:
        from commlb.figures import save_figure, transcript_figure

        save_figure(transcript_figure(result), figure, "--figure")
    if as_json:
        emit_json(result.to_json())
        return
    _render(result, show_transcript, raw_bits)
    if figure:
        console().print(f"figure: {figure}")


def _trials_with_progress(setup: Any, built: Any, trials: int, seed: int, split: Any,
                          distribution: str = "balanced", verify: str = "forward") -> Any:
    from commlb.simulate import run_trials

    if trials < 500:
        return run_trials(setup, built, trials, seed=seed, split=split, distribution=distribution, verify=verify)
    with console(stderr=True).status(f"running {trials} trials…"):
        return run_trials(setup, built, trials, seed=seed, split=split, distribution=distribution, verify=verify)
