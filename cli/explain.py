"""``commlb explain``: a step-by-step walk-through of one lower-bound argument, one panel
per step (thin: parse, call :func:`commlb.explain.explain`, render)."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    POSITIVE,
    SEED,
    check_task_option_names,
    check_typed_options,
    model_size_options,
    parse_key_values,
)

_STYLE = {"problem": "cyan", "reduction": "magenta", "protocol": "green", "inequality": "yellow",
          "conclusion": "bold blue", "error": "red"}


def _strip(explanation: Any, max_tokens: int = 48, width: int = 72):
    """The instance's tokens coloured by owner, with the owner of each written under it
    (A, B, ·), shortened in the middle when long."""
    from rich.text import Text

    from commlb.cli.render import OWNER_NAME, OWNER_STYLE
    from commlb.explain import token_labels

    labels = token_labels(explanation.tokens, explanation.vocab_names)
    owner = [int(o) for o in explanation.owner]
    structured = getattr(explanation.tokens, "dtype", None) is not None and explanation.tokens.dtype.names
    if not structured:  # one line of tokens, one of A/B/· marks under them
        from commlb.cli.render import owned_rows

        return owned_rows(labels, owner, width=width, max_tokens=max_tokens)
    n = len(labels)
    half = max_tokens // 2
    idx = list(range(n)) if n <= max_tokens else list(range(half)) + [-1] + list(range(n - half, n))
    text = Text()
    for i in idx:
        if i == -1:
            text.append(f" …({n - 2 * (max_tokens // 2)} more)… ", style="italic")
            continue
        text.append(f"[{i}] {OWNER_NAME[owner[i]]}: {labels[i]}", style=OWNER_STYLE[owner[i]])
        text.append("\n")
    text.rstrip()
    return text


def _legend():
    from rich.text import Text

    from commlb.cli.render import owner_legend

    return Text("tokens, and under each its owner: ") + owner_legend()


def _render(explanation: Any) -> None:
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    from commlb.cli.render import console

    con = console()
    from commlb.explain import FAMILY_NAMES

    if explanation.task:
        name = FAMILY_NAMES.get(explanation.model, explanation.model)
        article = "an" if name[0].lower() in "aeiou" or name.startswith("RNN") else "a"
        con.print(Text(f"The lower-bound argument for {article} {name} on {explanation.task}, step by step "
                       f"({explanation.problem} → {explanation.task} via {explanation.reduction}, "
                       f"n = {explanation.n})", style="bold"))
    else:
        con.print(Text(f"The bound for protocols that may err, for {explanation.problem} at n = {explanation.n}",
                       style="bold"))
    for step in explanation.steps:
        parts: list[Any] = []
        for i, para in enumerate(step.paragraphs):
            last = i == len(step.paragraphs) - 1
            if i and step.paragraphs[i - 1].startswith("Message ") and not para.startswith("Message "):
                parts.append(Text(""))
            if para.startswith("Message "):
                head, _, rest = para.partition(":")
                line = Text("• ")
                line.append(head + ":", style="bold")
                line.append(rest)
                parts.append(line)
            else:
                parts.append(Text(para + ("" if last else "\n")))
        if step.key == "reduction" and explanation.tokens is not None:
            parts.insert(1, _legend())
            parts.insert(2, _strip(explanation, width=con.size.width - 8))
            parts.insert(3, Text(""))
        con.print(Panel(Group(*parts), title=step.title, title_align="left",
                        border_style=_STYLE.get(step.key, "white"), padding=(1, 2)))


@click.command("explain")
@click.option("--task", "task", default=None, help="Task name (see `commlb list tasks`).")
@click.option("--problem", "problem", default=None, metavar="index|ip",
              help="Instead of a task: the bound for protocols that err on a problem alone (needs --error).")
@click.option("--error", "error", default=None, metavar="EPS",
              help="Add the bound that still holds for a model right on a 1 - EPS share of uniform inputs "
                   "(e.g. 0.01 or 1/100; problems INDEX and IP).")
@click.option("--model", "model", default="rnn", show_default=True, help="Model family: rnn, transformer, ffn.")
@click.option("--n", "n", type=POSITIVE, default=None,
              help="Problem size (default: the reduction's small example size).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the instance (and random weights).")
@click.option("--k", "k", type=POSITIVE, default=None, help="Hops, for --task khop.")
@click.option("--task-option", "task_opts", multiple=True, metavar="KEY=VALUE",
              help="Extra task parameter, e.g. M=11 for match3 or reduction=index-to-qsa (repeatable).")
@model_size_options
@click.option("--weights", default=None, type=click.Choice(["construction", "random"]),
              help="Default: the construction when there is one in these sizes, else random weights.")
@click.option("--json", "as_json", is_flag=True, help="Print the steps and the simulation as JSON.")
def explain(task: str | None, problem: str | None, error: str | None, model: str, n: int | None, seed: int,
            k: int | None, task_opts: tuple[str, ...], hidden: int | None, layers: int | None, heads: int | None,
            width: int | None, precision: int | None, arith: str, weights: str | None, as_json: bool) -> None:
    """A classroom walk-through of one lower bound on a small instance: the communication
    problem and its bound, the reduction, the protocol run for real, the inequality, and
    what the run shows.

    With a construction for the task and model the walk-through runs it; without one the
    model has random weights and the text says what that does and does not show. Tasks
    without a reduction, and models that cannot read a task's tokens, are refused.

    Examples: commlb explain --task disjointness --model rnn;
    commlb explain --task index-lookup --model rnn --n 16 --error 0.01;
    commlb explain --problem ip --n 8 --error 0.01
    """
    from commlb.cli.render import emit_json
    from commlb.costs import check_model_size, check_task_size
    from commlb.errors import InvalidInputError
    from commlb.explain import explain as run_explain
    from commlb.explain import explain_error

    if (task is None) == (problem is None):
        raise InvalidInputError("explain needs --task T (a walk-through with a model) or --problem P --error EPS "
                                "(the bound for protocols that err), not both")
    if problem is not None:
        if error is None:
            raise InvalidInputError("explain --problem needs --error EPS (e.g. --error 0.01)")
        sizes = {"--hidden": hidden, "--layers": layers, "--heads": heads, "--width": width,
                 "--precision": precision, "--weights": weights}
        given = [name for name, value in sizes.items() if value is not None]
        if task_opts or k is not None or given:
            names = ", ".join(given) or "--task-option and --k"
            verb = "applies" if len(given) == 1 else "apply"
            raise InvalidInputError(f"{names} {verb} to --task, not to --problem")
        explanation = explain_error(problem, 16 if n is None else n, error)
    else:
        options = check_typed_options(parse_key_values(task_opts, "--task-option"), "--task-option")
        check_task_option_names(str(task), options)
        if k is not None:
            options["k"] = k
        red = options.get("reduction")
        length = check_task_size(str(task), n, {key: v for key, v in options.items() if key != "reduction"},
                                 red if isinstance(red, str) else None, command="explain")
        check_model_size(model, length, hidden=hidden, layers=layers, heads=heads, width=width, command="explain")
        model_options = {key: value for key, value in (("hidden", hidden), ("layers", layers), ("heads", heads),
                                                       ("width", width), ("precision", precision),
                                                       ("weights", weights)) if value is not None}
        if arith != "fixed":
            model_options["arith"] = arith
        explanation = run_explain(str(task), model, n, seed=seed, task_options=options, error=error,
                                  model_options=model_options)
    if as_json:
        emit_json(explanation.to_json())
        return
    _render(explanation)
