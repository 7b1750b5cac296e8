"""``commlb list problems|tasks|reductions``: what is built in, as rich tables or JSON.

    commlb list problems            # every problem with its literature bounds at n = 8
    commlb list problems --n 16 --json
    commlb list tasks
    commlb list reductions

Uses only the public API (``commlb.list_problems()``, ``get_problem``, ``list_tasks``,
``get_task``, ``list_reductions``, ``get_reduction``).  Tasks and reductions are built
with ``n=`` where their factory accepts it and with their defaults otherwise; an entry
that cannot be built at all is listed with the reason instead of stopping the listing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from commlb.errors import CommlbError

__all__ = ["list_cmd", "problem_entries", "task_entries", "reduction_entries"]

_KINDS = ("problems", "tasks", "reductions")


def _number(value: Any) -> Any:
    """Integral floats as ints (9 rather than 9.0); other values unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _space_json(space: Any) -> dict[str, Any]:
    return {"kind": space.kind, "length": int(space.length), "base": int(space.base),
            "bits": float(space.bits)}


def _space_text(space: Any) -> str:
    if space.kind == "bits":
        return f"{space.length} bits"
    if space.kind == "index":
        return f"index in [0, {space.base})"
    return f"map [{space.length}] -> [{space.base}]"


def _build(factory: Callable[..., Any], name: str, attempts: list[dict[str, Any]]
           ) -> tuple[Any, dict[str, Any], str | None]:
    """The first object ``factory(name, **params)`` builds over ``attempts``, the params it
    was built with, and the last error (None on success)."""
    from commlb.errors import CommlbError

    error = None
    for params in attempts:
        try:
            return factory(name, **params), params, None
        except CommlbError as exc:  # parameters this factory does not take; anything else is a bug
            error = f"{type(exc).__name__}: {exc}"
    return None, {}, error


def _origin(kind: str, name: str) -> str:
    """``built in``, or the plugin package that registered the name."""
    from commlb.plugins import plugin_origin

    return plugin_origin(kind, name) or "built in"


# ------------------------------------------------------------------ problems


def problem_entries(n: int) -> list[dict[str, Any]]:
    """Every registered problem at size n: description, input spaces and bounds."""
    import commlb

    out: list[dict[str, Any]] = []
    for name in commlb.list_problems():
        problem, used, error = _build(commlb.get_problem, name, [{"n": n}, {}])
        if problem is None:
            out.append({"name": name, "error": error})
            continue
        bounds = []
        for b in problem.bounds():
            entry = b.to_json()
            entry["value"] = _number(entry["value"])
            bounds.append(entry)
        out.append({
            "name": name,
            "origin": _origin("problem", name),
            "description": problem.description,
            "params": problem.params(),
            "promise": bool(problem.is_promise),
            "num_outputs": int(problem.num_outputs),
            "x_space": _space_json(problem.x_space),
            "y_space": _space_json(problem.y_space),
            "inputs": f"Alice: {_space_text(problem.x_space)}; Bob: {_space_text(problem.y_space)}",
            "input_format": problem.input_format(),
            "example": _example(problem),
            "bounds": bounds,
        })
    return out


def _example(problem: Any) -> dict[str, Any] | None:
    """One pair (x, y) as the arrays a reduction's ``encode`` receives, and f(x, y);
    None above 64 entries per input (an example is for reading)."""
    import numpy as np

    if max(problem.x_space.length, problem.y_space.length) > 64:
        return None
    x, y = problem.sample(np.random.default_rng(0))
    value = problem.evaluate(np.asarray(x), np.asarray(y))
    return {"x": np.asarray(x).tolist(), "y": np.asarray(y).tolist(), "f": int(np.asarray(value).reshape(-1)[0])}


def _bound_type(b: dict[str, Any]) -> str:
    if b["exact"]:
        return "exact"
    side = "lower bound" if b["lower"] else "upper bound"
    return f"asymptotic {side}" if b["asymptotic"] else side


def _render_problems(entries: list[dict[str, Any]], n: int, verbose: bool = False) -> None:
    """One block per problem: its name and description, its inputs, then each bound on
    a line of its own (kind, formula, value at n, exact / lower / asymptotic) with its
    citation and status wrapped under it: readable at 80 columns."""
    from rich.padding import Padding
    from rich.text import Text

    from .render import console

    out = console()
    out.print(Text(f"Communication problems, with their bounds at n = {n}: {len(entries)}", style="bold"))
    for entry in entries:
        out.print()
        head = Text(entry["name"], style="bold")
        if "error" in entry:
            out.print(head)
            out.print(Padding(Text(f"unavailable: {entry['error']}", style="red"), (0, 0, 0, 2)))
            continue
        head.append(f"   {entry['description']}")
        out.print(head)
        out.print(Padding(Text(f"inputs: {entry['inputs']}" + ("  (a promise problem)" if entry["promise"] else "")),
                          (0, 0, 0, 2)))
        if verbose:
            fmt, ex = entry["input_format"], entry["example"]
            for key, who in (("x", "Alice's x"), ("y", "Bob's y"), ("output", "output")):
                out.print(Padding(Text(f"{who}: {fmt[key]}"), (0, 0, 0, 4)))
            if ex is not None:
                out.print(Padding(Text(f"e.g. x = {ex['x']}, y = {ex['y']}: f = {ex['f']}", style="italic"),
                                  (0, 0, 0, 4)))
        bounds = entry["bounds"]
        if not bounds:
            out.print(Padding(Text("(no bounds listed)", style="italic"), (0, 0, 0, 2)))
        for b in bounds:
            kind = b["kind"]
            if b.get("epsilon") is not None:
                kind += f", eps={b['epsilon']:.3g}"
            if b.get("rounds") is not None:
                kind += f", {b['rounds']} rounds"
            value = "" if b["value"] is None else (
                str(b["value"]) if isinstance(b["value"], int) else f"{b['value']:.2f}")
            line = Text("• ")
            line.append(kind, style="cyan")
            line.append(f": {b['formula']}" + (f" = {value}" if value and value != b["formula"] else ""))
            line.append(f"  ({_bound_type(b)})", style="italic")
            out.print(Padding(line, (0, 0, 0, 2)))
            out.print(Padding(Text(b["citation"]), (0, 0, 0, 4)))
            if b.get("status"):
                out.print(Padding(Text(b["status"], style="dim"), (0, 0, 0, 4)))


# ------------------------------------------------------------------ tasks


def task_entries(n: int) -> list[dict[str, Any]]:
    """Every registered task (built with n= where accepted): vocabulary size and the
    sequence length for instance size n."""
    import commlb

    out = []
    for name in commlb.list_tasks():
        task, used, error = _build(commlb.get_task, name, [{"n": n}, {}])
        if task is None:
            out.append({"name": name, "error": error})
            continue
        entry: dict[str, Any] = {
            "name": name,
            "origin": _origin("task", name),
            "description": getattr(task, "description", ""),
            "built_with": used,
            "output_kind": getattr(task, "output_kind", ""),
        }
        for key, getter in (("params", lambda t=task: t.params()),
                            ("vocab_size", lambda t=task: int(t.vocab_size)),
                            ("length", lambda t=task: int(t.length(n)))):
            try:
                entry[key] = getter()
            except CommlbError as exc:  # a task that cannot report this at size n
                entry[key] = None
                entry.setdefault("notes", []).append(f"{key}: {type(exc).__name__}: {exc}")
        out.append(entry)
    return out


def _render_tasks(entries: list[dict[str, Any]], n: int) -> None:
    """One block per task: its name with output kind, vocabulary and length at n on one
    line, its description and parameters wrapped under it: readable at 80 columns."""
    from rich.padding import Padding
    from rich.text import Text

    from .render import console

    out = console()
    out.print(Text(f"Sequence tasks, with their input length at n = {n}: {len(entries)}", style="bold"))
    for entry in entries:
        out.print()
        head = Text(entry["name"], style="bold")
        if "error" in entry:
            out.print(head)
            out.print(Padding(Text(f"unavailable: {entry['error']}", style="red"), (0, 0, 0, 2)))
            continue
        vocab = "?" if entry.get("vocab_size") is None else str(entry["vocab_size"])
        length = "?" if entry.get("length") is None else str(entry["length"])
        head.append(f"   {entry.get('output_kind') or '?'} output, {vocab} token kinds, {length} tokens at n = {n}")
        out.print(head)
        if entry.get("description"):
            out.print(Padding(Text(entry["description"]), (0, 0, 0, 2)))
        params = ", ".join(f"{k}={v}" for k, v in (entry.get("params") or {}).items())
        if params:
            out.print(Padding(Text(f"params: {params}", style="dim"), (0, 0, 0, 2)))
        for note in entry.get("notes") or []:
            out.print(Padding(Text(f"note: {note}", style="dim"), (0, 0, 0, 2)))


# ------------------------------------------------------------------ reductions


def reduction_entries(n: int) -> list[dict[str, Any]]:
    """Every registered reduction (built with n= if possible, else its example
    parameters, else its defaults): problem -> task, the theorem it serves, and the
    token counts of one encoded instance."""
    import numpy as np

    import commlb
    from commlb.costs import MAX_TOKENS, check_reduction_size
    from commlb.errors import TooLargeError
    from commlb.registry import reduction_factory

    out = []
    for name in commlb.list_reductions():
        attempts: list[dict[str, Any]] = [{"n": n}]
        skipped = None
        try:  # the cost model first: never build an instance above the token limit
            check_reduction_size(name, {**(getattr(reduction_factory(name), "example_params", None) or {}),
                                        "n": n}, command="list")
        except TooLargeError as exc:
            attempts, skipped = [], f"not built at n = {n} (over {MAX_TOKENS:,} tokens): {exc}"
        example = getattr(reduction_factory(name), "example_params", None)
        if isinstance(example, dict):
            attempts.append(dict(example))
        attempts.append({})
        red, used, error = _build(commlb.get_reduction, name, attempts)
        if red is None:
            out.append({"name": name, "error": error})
            continue
        problem, task = red.problem, red.task
        entry: dict[str, Any] = {
            "name": name,
            "origin": _origin("reduction", name),
            "description": getattr(red, "description", ""),
            "problem": getattr(problem, "name", type(problem).__name__),
            "task": getattr(task, "name", type(task).__name__),
            "theorem": getattr(red, "theorem", ""),
            "built_with": used,
            "params": red.params(),
        }
        try:
            x, y = problem.sample(np.random.default_rng(0))
            instance = red.encode(x, y)
            entry["length"] = len(instance)
            entry["tokens"] = instance.counts()
        except CommlbError as exc:  # a reduction that cannot encode at this size
            entry["notes"] = [f"encode: {type(exc).__name__}: {exc}"]
        if skipped:
            entry.setdefault("notes", []).append(skipped)
        out.append(entry)
    return out


def map_entries() -> list[dict[str, Any]]:
    """Every registered problem map (problem -> problem by local maps), built at its
    example size: the edges between problems in the reduction graph."""
    from commlb.registry import get_map, list_maps, map_factory

    out = []
    for name in list_maps():
        params = dict(getattr(map_factory(name), "example_params", None) or {})
        m = get_map(name, **params)
        out.append({"name": name, "origin": _origin("map", name), "description": m.description,
                    "from": m.source.label(), "to": m.target.label(), "cost_bits": int(m.cost_bits)})
    return out


def _render_maps(entries: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.text import Text

    from .render import console

    out = console()
    out.print()
    out.print(Text(f"Problem maps (problem → problem; chain them with a reduction: "
                   f"commlb reduce --from P --to T): {len(entries)}", style="bold"))
    for e in entries:
        out.print()
        out.print(Text(e["name"], style="bold") + Text(f"   {e['from']} → {e['to']}, {e['cost_bits']} bits"))
        if e.get("description"):
            out.print(Text("  " + escape(e["description"])))


def _render_reductions(entries: list[dict[str, Any]], n: int) -> None:
    """One block per reduction (its name and problem → task on one line, then its
    parameters, tokens and theorem, each on its own wrapped line): readable at 80 columns,
    where a five-column table squeezes the long columns to a character."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from .render import console

    out = console()
    out.print(Text(f"Reductions (built at n = {n} where possible): {len(entries)}", style="bold"))
    out.print(Text("tokens: the length of one encoded instance (Alice's / Bob's / public tokens)", style="italic"))
    for entry in entries:
        out.print()
        head = Text(entry["name"], style="bold")
        if "error" in entry:
            out.print(head)
            out.print(Text(f"  unavailable: {entry['error']}", style="red"))
            continue
        head.append(f"   {entry['problem']} → {entry['task']}")
        out.print(head)
        block = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
        block.add_column(style="dim", no_wrap=True)
        block.add_column(overflow="fold")
        params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        counts = entry.get("tokens")
        tokens = (f"{entry['length']} ({counts['alice']} / {counts['bob']} / {counts['public']})"
                  if counts else "?")
        if entry.get("description"):
            block.add_row("writes", escape(entry["description"]))
        block.add_row("params", escape(params or "—"))
        block.add_row("tokens", tokens)
        if entry.get("theorem"):
            block.add_row("theorem", escape(entry["theorem"]))
        for note in entry.get("notes") or []:
            block.add_row("note", escape(note))
        out.print(Padding(block, (0, 0, 0, 2)))


# ------------------------------------------------------------------ command


def _graph_path(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    from .options import output_file

    return output_file("--graph", (".svg", ".png"))(ctx, param, value)


@click.command("list")
@click.argument("what", type=click.Choice(_KINDS))
@click.option("--n", "n", type=click.IntRange(min=1), default=8, show_default=True,
              help="Instance size at which bound values, lengths and reductions are shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.option("--graph", "graph_file", default=None, metavar="FILE.svg|FILE.png",
              callback=_graph_path, help="With reductions: draw the reduction graph (problems, tasks, "
              "reductions and problem maps) to FILE.svg or FILE.png.")
@click.option("--verbose", "-v", "verbose", is_flag=True,
              help="With problems: each one's input format (what x and y are, as arrays).")
def list_cmd(what: str, n: int, as_json: bool, graph_file: str | None = None, verbose: bool = False) -> None:
    """List problems (with their literature bounds), tasks or reductions."""
    from commlb.errors import InvalidInputError

    from .render import emit_json

    if n < 1:
        raise InvalidInputError(f"--n must be >= 1, got {n}")
    if graph_file is not None:
        if what != "reductions":
            raise InvalidInputError(f"--graph draws the reduction graph: use it with `list reductions`, not {what}")
        from commlb.reductions.graph import draw

        draw(graph_file)
    builders = {"problems": (problem_entries, _render_problems),
                "tasks": (task_entries, _render_tasks),
                "reductions": (reduction_entries, _render_reductions)}
    build, render = builders[what]
    entries = build(n)
    if as_json:
        payload = {"n": n, what: entries}
        if what == "reductions":
            payload["maps"] = map_entries()
        emit_json(payload)
        return
    if what == "problems":
        _render_problems(entries, n, verbose)
        return
    render(entries, n)
    if what == "reductions":
        _render_maps(map_entries())
