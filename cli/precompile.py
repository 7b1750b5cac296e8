"""``commlb precompile``: compile the numba kernels once, before the first real command.

    commlb precompile                 # every group
    commlb precompile --only witness  # one group (witness, rnn, bounds)
    commlb precompile --bytecode      # and the compiled bytecode of the modules they load

Thin: parse, call :func:`commlb.precompile.precompile`, print a line per group.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import click

from .render import console, emit_json


@click.command("precompile")
@click.option("--only", "only", default=None, metavar="GROUP[,GROUP...]",
              help="Compile only these groups: witness, rnn, bounds (default: all).")
@click.option("--bytecode", "bytecode", is_flag=True,
              help="Also write the compiled bytecode of the modules the groups and the commands' output load "
                   "(commlb, numba, NumPy, ...) where it is missing, even under PYTHONDONTWRITEBYTECODE.")
@click.option("--json", "as_json", is_flag=True, help="Print the groups and their seconds as JSON.")
def precompile(only: str | None, as_json: bool, bytecode: bool = False) -> None:
    """Compile the numba kernels commands use (witness search, RNN cell, bounds) into numba's
    cache, once per install: later commands load them in milliseconds instead of compiling
    them on first use (tens of seconds of CPU).  Short commands never need them."""
    from commlb.errors import InvalidInputError
    from commlb.precompile import GROUPS, cache_location, compile_bytecode
    from commlb.precompile import precompile as run

    groups = None
    if only is not None:
        groups = [g.strip() for g in only.split(",") if g.strip()]
        bad = [g for g in groups if g not in GROUPS]
        if bad or not groups:
            raise InvalidInputError(f"--only: unknown group {bad[0] if bad else only!r}; "
                                    f"choose from {', '.join(GROUPS)}")
    err = console(stderr=True)
    started = time.perf_counter()

    def line(i: int, total: int, what: str) -> None:
        if not as_json:
            err.print(f"[{i + 1}/{total}] compiling: {what} ...", highlight=False)

    done = run(groups, progress=line)
    if bytecode:
        _load_output_modules()
    state = compile_bytecode(write=bytecode)
    total = time.perf_counter() - started
    if as_json:
        emit_json({"groups": [{"group": g, "seconds": round(s, 3)} for g, s in done], "seconds": round(total, 3),
                   "cache": cache_location(), "bytecode": dataclasses.asdict(state)})
        return
    out = console()
    for g, s in done:
        out.print(f"{g:<8} {s:7.1f} s", highlight=False)
    out.print(f"done in {total:.1f} s; compiled kernels are in {cache_location()}", highlight=False)
    if bytecode:
        out.print(f"bytecode: {state.compiled} modules compiled, {state.current} already current"
                  + (f", {state.unwritable} not writable" if state.unwritable else ""), highlight=False)
    elif state.missing:
        why = " (PYTHONDONTWRITEBYTECODE is set)" if sys.flags.dont_write_bytecode else ""
        out.print(f"note: {state.missing} modules these groups load have no compiled bytecode{why}: every "
                  "command compiles them from source as it starts (about a second); "
                  "`commlb precompile --bytecode` writes it", highlight=False)


def _load_output_modules() -> None:
    """Import what the commands' output and progress use (the command modules, rich's
    tables and progress bars), so that the bytecode written covers them too."""
    import importlib

    from .main import COMMANDS

    for name in ("rich.console", "rich.markup", "rich.progress", "rich.table", "rich.text"):
        importlib.import_module(name)
    for module_name, _, _ in COMMANDS.values():
        try:
            importlib.import_module(f"commlb.cli.{module_name}")
        except ModuleNotFoundError as exc:  # a command left out of this install
            if exc.name != f"commlb.cli.{module_name}":
                raise
