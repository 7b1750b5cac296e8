"""``commlb precompile``: compile the numba kernels once, before the first real command.

    commlb precompile                 # every group
    commlb precompile --only witness  # one group (witness, rnn, bounds)

Thin: parse, call :func:`commlb.precompile.precompile`, print a line per group.
"""

from __future__ import annotations

import time

import click

from .render import console, emit_json


@click.command("precompile")
@click.option("--only", "only", default=None, metavar="GROUP[,GROUP...]",
              help="Compile only these groups: witness, rnn, bounds (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the groups and their seconds as JSON.")
def precompile(only: str | None, as_json: bool) -> None:
    """Compile the numba kernels commands use (witness search, RNN cell, bounds) into numba's
    cache, once per install: later commands load them in milliseconds instead of compiling
    them on first use (tens of seconds of CPU).  Short commands never need them."""
    from commlb.errors import InvalidInputError
    from commlb.precompile import GROUPS, cache_location
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
    total = time.perf_counter() - started
    if as_json:
        emit_json({"groups": [{"group": g, "seconds": round(s, 3)} for g, s in done], "seconds": round(total, 3),
                   "cache": cache_location()})
        return
    out = console()
    for g, s in done:
        out.print(f"{g:<8} {s:7.1f} s", highlight=False)
    out.print(f"done in {total:.1f} s; compiled kernels are in {cache_location()}", highlight=False)
