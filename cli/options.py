"""Click options and parameter types shared by the commands, so that every command
describes a model, a seed, a size or a time budget the same way and refuses the same
mistake with the same one-line message.

- :data:`SEED`: an integer in [0, 2^63).
- :data:`POSITIVE` / :data:`NON_NEGATIVE`: integers >= 1 / >= 0.
- :class:`FiniteFloat`: a float that is neither NaN nor infinite, with a minimum.
- :func:`output_file`: an output path checked before any work (see
  :func:`commlb.validate.check_output_path`).
- :func:`model_size_options`: --hidden, --layers, --heads, --width, --precision, --arith.
- :func:`execution_options`: --workers, --scheduler (in process, local or existing Dask cluster).
- :func:`no_limit_option`: --no-limit (run past the cost model's limits, knowingly).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import click

__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "SEED",
    "Budget",
    "check_task_option_names",
    "check_typed_options",
    "merge_task_options",
    "execution_options",
    "FiniteFloat",
    "model_size_options",
    "no_limit_option",
    "output_file",
    "parse_key_values",
]

SEED = click.IntRange(0, 2**63 - 1)
POSITIVE = click.IntRange(min=1)
NON_NEGATIVE = click.IntRange(min=0)


class FiniteFloat(click.ParamType):
    """A finite float >= ``minimum`` (> ``minimum`` when ``open_min``)."""

    name = "number"

    def __init__(self, minimum: float = 0.0, open_min: bool = False):
        self.minimum = minimum
        self.open_min = open_min

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError, OverflowError):
                self.fail(f"{str(value)[:40]!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if v < self.minimum or (self.open_min and v == self.minimum):
            self.fail(f"{value} must be {'>' if self.open_min else '>='} {self.minimum:g}", param, ctx)
        return v


class Budget(click.ParamType):
    """--budget: a number of inputs (``1000000``, ``1e6``) or seconds (``30s``); returned
    as an int or as ``"<seconds>s"``."""

    name = "N|SECONDSs"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value) if value.bit_length() < 200 else "9" * 61
        else:
            text = str(value).strip().lower()
        seconds = text.endswith("s")
        body = text[:-1] if seconds else text
        if len(body) > 40:
            self.fail(f"{body[:12]}... is not a usable budget ({len(body)} characters)", param, ctx)
        try:
            v = float(body)
        except ValueError:
            self.fail(f"{str(value)[:40]!r} is neither a number of inputs (e.g. 1000000) nor seconds "
                      "(e.g. 30s)", param, ctx)
        if not math.isfinite(v) or v <= 0:
            self.fail(f"{str(value)[:40]!r} must be a positive finite number", param, ctx)
        if seconds:
            return f"{v!r}s"
        if v != int(v):
            self.fail(f"{value!r}: a number of inputs must be a whole number", param, ctx)
        return int(v)


def output_file(option: str, suffixes: tuple[str, ...] = ()) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that checks an output path before the command runs ('-' means
    standard output and passes)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or value == "-":
            return value
        from commlb.validate import check_output_path

        check_output_path(value, option, suffixes)
        return value

    return check


def parse_key_values(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (--task-option, --model-option, --param): values that read
    as integers become ints, other numbers finite floats, anything else stays a string.
    A key without '=' or an empty key or value is refused."""
    from commlb.errors import InvalidInputError
    from commlb.validate import short_text

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        value = value.strip()
        if not sep or not key or not value:
            raise InvalidInputError(f"{flag} {short_text(pair)!r}: use KEY=VALUE")
        if len(value) > 40 and value.lstrip("+-").isdigit():
            raise InvalidInputError(f"{flag} {key}: the number has {len(value.lstrip('+-'))} digits")
        try:
            out[key] = int(value)
            continue
        except ValueError:
            pass
        try:
            f = float(value)
        except ValueError:
            out[key] = value
            continue
        if not math.isfinite(f):
            raise InvalidInputError(f"{flag} {key}={short_text(value)}: not a finite number")
        out[key] = f
    return out


#: integer task / reduction / construction options and their smallest value
INTEGER_OPTIONS: dict[str, int] = {
    "n": 1, "k": 1, "q": 1, "d": 1, "d_out": 1, "M": 1, "alphabet": 1, "kinds": 1, "depth": 1, "labels": 1,
    "start": 0, "seed": 0, "precision": 1, "hidden": 1, "layers": 1, "heads": 1, "width": 1,
}


def check_typed_options(options: dict[str, Any], flag: str) -> dict[str, Any]:
    """Refuse KEY=VALUE options of the wrong type before they reach a constructor:
    the integer options above must be integers at least their minimum, and
    ``reduction`` must name a registered reduction."""
    from commlb.errors import InvalidInputError, UnknownNameError
    from commlb.validate import short_text

    for key, value in options.items():
        if key in INTEGER_OPTIONS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"{flag} {key}={short_text(str(value), 30)}: {key} must be an integer")
            if value < INTEGER_OPTIONS[key]:
                raise InvalidInputError(f"{flag} {key}={value}: {key} must be >= {INTEGER_OPTIONS[key]}")
        elif key == "reduction":
            from commlb.registry import is_known, list_reductions

            # a FILE.py:ATTR value is loaded here, so that a bad file is refused before any work
            if not isinstance(value, str) or not is_known("reduction", value):
                raise UnknownNameError(f"{flag} reduction={short_text(str(value), 40)}: unknown reduction; "
                                       f"known: {', '.join(list_reductions())} (or path/to/file.py:ATTR)")
    return options


def merge_task_options(options: dict[str, Any], **flags: Any) -> dict[str, Any]:
    """``--task-option KEY=VALUE`` merged with the dedicated flags of the same names
    (``--k 3`` is ``--task-option k=3``): both spellings work in simulate and sweep.  The
    same key given both ways with different values is refused."""
    from commlb.errors import InvalidInputError

    merged = dict(options)
    for key, value in flags.items():
        if value is None:
            continue
        if key in merged and merged[key] != value:
            raise InvalidInputError(f"--{key} {value} and --task-option {key}={merged[key]} disagree; give one")
        merged[key] = value
    return merged


def check_task_option_names(task: str, options: dict[str, Any], flag: str = "--task-option",
                            ignore: tuple[str, ...] = ("reduction",), typed: dict[str, str] | None = None) -> None:
    """Refuse a task option the task does not take, naming it the way the user typed it
    (``--task-option k=3``, or ``--k`` when ``typed`` says it came from that flag; not an
    option of another command)."""
    from commlb.errors import InvalidInputError
    from commlb.setup import TASK_DEFAULTS

    spec = TASK_DEFAULTS.get(task)
    if spec is None:
        return  # an unknown task: the command's own lookup names the known ones
    for key in options:
        if key in ignore or key in spec.options:
            continue
        takes = ", ".join(f"{o}=..." for o in spec.options) or "none"
        given = (typed or {}).get(key, f"{flag} {key}=...")
        raise InvalidInputError(f"{given}: task {task} takes no option {key!r} (its options: {takes})")


def model_size_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--hidden, --layers, --heads, --width, --precision and --arith."""
    options = [
        click.option("--hidden", type=POSITIVE, default=None, help="RNN/FFN hidden size d."),
        click.option("--layers", type=POSITIVE, default=None, help="Number of layers L."),
        click.option("--heads", type=POSITIVE, default=None, help="Transformer heads H."),
        click.option("--width", type=POSITIVE, default=None, help="Transformer width m."),
        click.option("--precision", type=POSITIVE, default=None,
                     help="Bits per number p (default: what the construction needs; 16 for random weights)."),
        click.option("--arith", type=click.Choice(["fixed", "float"]), default="fixed", show_default=True,
                     help="Exact fixed point or p-bit floats."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def execution_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--workers and --scheduler: where the command's independent pieces of work run
    (see :func:`commlb.execution.make_executor`)."""
    options = [
        click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
                     help="Run the work on a local Dask cluster of N worker processes (needs commlb[dask])."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run the work on an existing Dask cluster (default: $DASK_SCHEDULER_ADDRESS; "
                          "needs commlb[dask])."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def no_limit_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--no-limit: run the command even where the cost model (:mod:`commlb.costs`) would
    refuse it; each estimate past a limit is printed on stderr as a warning.  Put it
    right above the command's function (below ``@click.command``)."""

    @functools.wraps(func)
    def run(*args: Any, no_limit: bool = False, **kwargs: Any) -> Any:
        if not no_limit:
            return func(*args, **kwargs)
        from commlb.costs import OVERRIDE_FLAG, limits_lifted

        def warn(message: str) -> None:
            click.echo(f"warning: {OVERRIDE_FLAG}: going past commlb's limits: {message}", err=True)

        from commlb.errors import TooLargeError

        try:
            with limits_lifted(warn):
                return func(*args, **kwargs)
        except MemoryError:  # past the limits on purpose, and the machine said no
            raise TooLargeError(f"ran out of memory: the estimate was past commlb's limits and {OVERRIDE_FLAG} "
                                "went ahead anyway; use a smaller size") from None

    return click.option(
        "--no-limit", "no_limit", is_flag=True, default=False,
        help="Run even when the estimate is past commlb's limits (65,536 tokens and 64 MB per instance, "
             "2 GB or 60 s per forward pass, 1 h of repeated work); the estimate is printed on stderr.")(run)


def figure_file(option: str = "--figure") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that checks a picture's path before the command runs: a .png,
    .svg or .pdf file that can be written (a picture is never written to standard
    output, so '-' is refused too)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return value
        from commlb.figures import check_figure_path

        check_figure_path(value, option)
        return value

    return check
