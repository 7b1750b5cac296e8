"""``commlb explain``: a step-by-step walk-through of one lower-bound argument, one panel
per step (thin: parse, call :func:`commlb.explain.explain`, render)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .options import (
    POSITIVE,
    SEED,
    check_task_option_names,
    check_typed_options,
    model_size_options,
    no_limit_option,
    output_file,
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


def _pause(number: int, total: int, title: str) -> bool:
    """Wait for Enter before panel ``number`` (prompt on stderr); False when the reader
    typed q or standard input ended (show no more panels)."""
    import sys

    sys.stderr.write(f"-- Enter: panel {number} of {total} ({title}); q and Enter: stop -- ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    sys.stderr.write("\n")
    sys.stderr.flush()
    return bool(line) and line.strip().lower() not in ("q", "quit")


def _render(explanation: Any, step: bool = False) -> None:
    """The panels on the terminal; with ``step`` a pause (Enter) before each panel after
    the first."""
    from rich.text import Text

    from commlb.cli.render import console

    con = console()
    if explanation.task:
        con.print(Text(f"{page_title(explanation)} ({explanation.problem} → {explanation.task} via "
                       f"{explanation.reduction}, n = {explanation.n})", style="bold"))
    else:
        con.print(Text(page_title(explanation), style="bold"))
    for number, step_ in enumerate(explanation.steps, 1):
        if step and number > 1 and not _pause(number, len(explanation.steps), step_.title.partition(". ")[2]):
            return
        _panel(con, explanation, step_)


def page_title(explanation: Any) -> str:
    from commlb.explain.page import title

    return title(explanation)


def _panel(con: Any, explanation: Any, step: Any) -> None:
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

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
@click.option("--step", "step", is_flag=True,
              help="Pause before each panel until Enter is pressed (q and Enter stops), for a live lecture. "
                   "When standard input is not a terminal the panels follow each other without pausing.")
@click.option("--format", "page_format", default=None, type=click.Choice(["text", "markdown", "html"]),
              help="text (default: panels on the terminal), or the walk-through as a page with its figures: "
                   "markdown or html (one self-contained file, figures embedded).")
@click.option("--output", "output", default=None, metavar="FILE",
              callback=output_file("--output", (".html", ".htm", ".md", ".markdown")),
              help="Write the page to FILE (.html or .md; the format follows the suffix unless --format is "
                   "given). Markdown figures are written beside it as FILE-NAME.svg.")
@no_limit_option
def explain(task: str | None, problem: str | None, error: str | None, model: str, n: int | None, seed: int,
            k: int | None, task_opts: tuple[str, ...], hidden: int | None, layers: int | None, heads: int | None,
            width: int | None, precision: int | None, arith: str, weights: str | None, as_json: bool,
            step: bool, page_format: str | None, output: str | None) -> None:
    """A classroom walk-through of one lower bound on a small instance: the communication
    problem and its bound, the reduction, the protocol run for real, the inequality, and
    what the run shows.

    With a construction for the task and model the walk-through runs it; without one the
    model has random weights and the text says what that does and does not show. Tasks
    without a reduction, and models that cannot read a task's tokens, are refused.

    Examples: commlb explain --task disjointness --model rnn;
    commlb explain --task index-lookup --model rnn --n 16 --error 0.01;
    commlb explain --problem ip --n 8 --error 0.01;
    commlb explain --task disjointness --model rnn --step (a pause before each panel);
    commlb explain --task disjointness --model transformer --output disj.html (a page for a course site)
    """
    from commlb.cli.render import emit_json
    from commlb.costs import check_model_size, check_task_size
    from commlb.errors import InvalidInputError
    from commlb.explain import explain as run_explain
    from commlb.explain import explain_error

    page_format = _page_format(page_format, output, as_json, step)
    output = None if output == "-" else output
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
        from commlb.cli.progress import working

        with working("running the walk-through: building the model, running it as a protocol",
                     enabled=not as_json):
            explanation = run_explain(str(task), model, n, seed=seed, task_options=options, error=error,
                                      model_options=model_options)
    if as_json:
        emit_json(explanation.to_json())
        return
    if page_format != "text":
        command = _command(task, problem, error, model, explanation.n, seed, k, task_opts,
                           {"hidden": hidden, "layers": layers, "heads": heads, "width": width,
                            "precision": precision, "weights": weights,
                            "arith": None if arith == "fixed" else arith})
        _write_page(explanation, page_format, output, command)
        return
    if step and not sys.stdin.isatty():
        print("explain --step: standard input is not a terminal, so the panels follow each other "
              "without pausing", file=sys.stderr, flush=True)
        step = False
    _render(explanation, step=step)


def _page_format(page_format: str | None, output: str | None, as_json: bool, step: bool) -> str:
    """The format asked for (text, markdown, html), refusing combinations that make no
    sense, before anything runs."""
    from commlb.errors import InvalidInputError

    if page_format is None:
        page_format = "text"
        if output is not None:
            suffix = output.lower().rpartition(".")[2] if "." in output else ""
            page_format = {"html": "html", "htm": "html", "md": "markdown", "markdown": "markdown"}.get(suffix, "")
            if not page_format:
                raise InvalidInputError(f"--output {output!r}: give --format markdown or html, or a file ending "
                                        ".html or .md")
    if as_json and (page_format != "text" or output is not None):
        raise InvalidInputError("--json prints the walk-through as JSON; it does not go with --format or --output")
    if step and page_format != "text":
        raise InvalidInputError("--step pauses between panels on the terminal; "
                                f"{'an HTML' if page_format == 'html' else 'a Markdown'} page has no pauses "
                                "(drop --step or --format)")
    if step and as_json:
        raise InvalidInputError("--step pauses between panels on the terminal; it does not go with --json")
    if page_format == "text" and output is not None:
        raise InvalidInputError("--output writes a page: give --format markdown or html (text goes to the terminal)")
    return page_format


def _command(task: str | None, problem: str | None, error: str | None, model: str, n: int, seed: int,
             k: int | None, task_opts: tuple[str, ...], sizes: dict[str, Any]) -> str:
    """The command line that runs this walk-through in a terminal (for the page's footer)."""
    import shlex

    words = ["commlb", "explain"]
    words += ["--task", str(task), "--model", model] if task else ["--problem", str(problem)]
    words += ["--n", str(n)]
    if seed:
        words += ["--seed", str(seed)]
    if k is not None:
        words += ["--k", str(k)]
    for pair in task_opts:
        words += ["--task-option", pair]
    for name, value in sizes.items():
        if value is not None:
            words += [f"--{name}", str(value)]
    if error is not None:
        words += ["--error", str(error)]
    return " ".join(shlex.quote(w) for w in words)


def _write_page(explanation: Any, page_format: str, output: str | None, command: str) -> None:
    """The page on standard output, or in ``output`` (Markdown's figures beside it)."""
    from pathlib import Path

    from commlb.cli.render import console
    from commlb.explain.page import to_html, to_markdown
    from commlb.validate import write_text

    files: dict[str, str] = {}
    if page_format == "html":
        text = to_html(explanation, command=command)
    else:
        text, files = to_markdown(explanation, None if output is None else Path(output).stem, command=command)
    if output is None:
        sys.stdout.write(text)
        return
    folder = Path(output).parent
    for name, svg in files.items():
        write_text(folder / name, svg, "--output")
    write_text(output, text, "--output")
    extra = f" and {len(files)} figure{'s' if len(files) != 1 else ''} beside it" if files else ""
    console().print(f"{page_format} page written to [bold]{output}[/bold]{extra}")
