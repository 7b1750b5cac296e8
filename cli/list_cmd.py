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
            "description": problem.description,
            "params": problem.params(),
            "promise": bool(problem.is_promise),
            "num_outputs": int(problem.num_outputs),
            "x_space": _space_json(problem.x_space),
            "y_space": _space_json(problem.y_space),
            "inputs": f"Alice: {_space_text(problem.x_space)}; Bob: {_space_text(problem.y_space)}",
            "bounds": bounds,
        })
    return out


def _bound_type(b: dict[str, Any]) -> str:
    if b["exact"]:
        return "exact"
    side = "lower bound" if b["lower"] else "upper bound"
    return f"asymptotic {side}" if b["asymptotic"] else side


def _render_problems(entries: list[dict[str, Any]], n: int) -> None:
    from rich.table import Table

    from .render import console

    table = Table(title=f"Communication problems (bound values at n = {n})", expand=True)
    table.add_column("problem", ratio=3)
    table.add_column("inputs", ratio=2)
    table.add_column("bound", ratio=3)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("type", ratio=2)
    table.add_column("citation / status", ratio=6)
    for entry in entries:
        if "error" in entry:
            table.add_row(entry["name"], "", f"[red]unavailable: {entry['error']}[/red]",
                          "", "", "", end_section=True)
            continue
        head = f"[bold]{entry['name']}[/bold]\n[dim]{entry['description']}[/dim]"
        bounds = entry["bounds"]
        if not bounds:
            table.add_row(head, entry["inputs"], "(no bounds listed)", "", "", "", end_section=True)
            continue
        for i, b in enumerate(bounds):
            kind = b["kind"]
            if b.get("epsilon") is not None:
                kind += f", eps={b['epsilon']:.3g}"
            if b.get("rounds") is not None:
                kind += f", {b['rounds']} rounds"
            value = "" if b["value"] is None else (
                str(b["value"]) if isinstance(b["value"], int) else f"{b['value']:.2f}")
            table.add_row(
                head if i == 0 else "",
                entry["inputs"] if i == 0 else "",
                f"[cyan]{kind}[/cyan]\n{b['formula']}",
                value,
                _bound_type(b),
                f"{b['citation']}\n[dim]{b['status']}[/dim]",
                end_section=i == len(bounds) - 1,
            )
    console().print(table)


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
            "description": getattr(task, "description", ""),
            "built_with": used,
            "output_kind": getattr(task, "output_kind", ""),
        }
        for key, getter in (("params", lambda t=task: t.params()),
                            ("vocab_size", lambda t=task: int(t.vocab_size)),
                            ("length", lambda t=task: int(t.length(n)))):
            try:
                entry[key] = getter()
            except Exception as exc:  # a task that cannot report this at size n
                entry[key] = None
                entry.setdefault("notes", []).append(f"{key}: {type(exc).__name__}: {exc}")
        out.append(entry)
    return out


def _render_tasks(entries: list[dict[str, Any]], n: int) -> None:
    from rich.table import Table

    from .render import console

    table = Table(title=f"Sequence tasks (length at n = {n})")
    table.add_column("task", style="bold", no_wrap=True)
    table.add_column("description")
    table.add_column("params")
    table.add_column("vocab", justify="right")
    table.add_column(f"length(n={n})", justify="right")
    table.add_column("output")
    for entry in entries:
        if "error" in entry:
            table.add_row(entry["name"], f"[red]unavailable: {entry['error']}[/red]", "", "", "", "")
            continue
        params = ", ".join(f"{k}={v}" for k, v in (entry.get("params") or {}).items())
        table.add_row(
            entry["name"], entry["description"], params,
            "?" if entry.get("vocab_size") is None else str(entry["vocab_size"]),
            "?" if entry.get("length") is None else str(entry["length"]),
            entry.get("output_kind", ""),
        )
    console().print(table)


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
        except Exception as exc:  # listing must not fail on one reduction
            entry["notes"] = [f"encode: {type(exc).__name__}: {exc}"]
        if skipped:
            entry.setdefault("notes", []).append(skipped)
        out.append(entry)
    return out


def _render_reductions(entries: list[dict[str, Any]], n: int) -> None:
    from rich.table import Table

    from .render import console

    table = Table(title=f"Reductions (built at n = {n} where possible)", show_lines=True)
    table.add_column("reduction", style="bold", no_wrap=True)
    table.add_column("problem → task", no_wrap=True)
    table.add_column("params")
    table.add_column("tokens (Alice/Bob/public)")
    table.add_column("theorem")
    for entry in entries:
        if "error" in entry:
            table.add_row(entry["name"], "", "", "", f"[red]unavailable: {entry['error']}[/red]")
            continue
        params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        counts = entry.get("tokens")
        tokens = (f"{entry['length']} ({counts['alice']}/{counts['bob']}/{counts['public']})"
                  if counts else "?")
        table.add_row(entry["name"], f"{entry['problem']} → {entry['task']}", params, tokens,
                      entry["theorem"])
    console().print(table)


# ------------------------------------------------------------------ command


@click.command("list")
@click.argument("what", type=click.Choice(_KINDS))
@click.option("--n", "n", type=click.IntRange(min=1), default=8, show_default=True,
              help="Instance size at which bound values, lengths and reductions are shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def list_cmd(what: str, n: int, as_json: bool) -> None:
    """List problems (with their literature bounds), tasks or reductions."""
    from commlb.errors import InvalidInputError

    from .render import emit_json

    if n < 1:
        raise InvalidInputError(f"--n must be >= 1, got {n}")
    builders = {"problems": (problem_entries, _render_problems),
                "tasks": (task_entries, _render_tasks),
                "reductions": (reduction_entries, _render_reductions)}
    build, render = builders[what]
    entries = build(n)
    if as_json:
        emit_json({"n": n, what: entries})
        return
    render(entries, n)
