"""Entry point: a click group whose sub-commands are imported only when used, so that
``commlb --help`` does not pay for numba, matplotlib or networkx."""

from __future__ import annotations

import importlib
import sys
import time

import click

#: when the command started (limits that bound the whole command count from here)
STARTED = time.perf_counter()

# command name -> (module inside commlb.cli, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "list": ("list_cmd", "list_cmd", "List problems, tasks or reductions with their bounds."),
    "check-reduction": ("check", "check_reduction", "Check a reduction for soundness and locality."),
    "simulate": ("simulate", "simulate", "Run a model as a two-party protocol and count the bits."),
    "bounds": ("bounds", "bounds", "Certified lower bounds for an explicit function."),
    "witness": ("witness", "witness", "Find an input an undersized model gets wrong."),
    "sweep": ("sweep", "sweep", "Sweep n and show the separation between model families."),
    "explain": ("explain", "explain", "A step-by-step walk-through of one lower-bound argument."),
    "evaluate": ("evaluate", "evaluate", "Error rate of a trained model (GPT-2, RNN, GRU, LSTM) on a task."),
    "reduce": ("reduce", "reduce_cmd", "Chains of reductions from a problem to a task, and what they transfer."),
    "precompile": ("precompile", "precompile", "Compile the numba kernels once, before the first command."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr, _ = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(f"commlb.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"commlb.cli.{module_name}":
                return None
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table above so that --help imports nothing.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    import importlib.util

    module_name = COMMANDS[name][0]
    return importlib.util.find_spec(f"commlb.cli.{module_name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="commlb")
def cli() -> None:
    """commlb: run communication-complexity lower-bound arguments for sequence models.

    Split an input between Alice and Bob, run the model as a protocol, count the bits
    that cross, and compare with the known complexity of the problem.
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.  Every mistake of the user ends here as one line on stderr and exit
    code 2: click's usage errors, :class:`commlb.errors.CommlbError`, and standard output
    that cannot be written (a full disk).  Anything else is a bug and raises."""
    from commlb.errors import CommlbError

    _terminal_encoding_fallback()
    try:
        try:
            cli.main(args=argv, prog_name="commlb", standalone_mode=False)
        finally:
            _flush_stdout()
            if argv is None:
                # the interpreter's last garbage collection would walk every object numba
                # made (1-2 s after a search); frozen objects are left to the exit
                import gc

                gc.freeze()
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        _fail(f"error: {_one_line(exc.format_message())}{_help_hint(exc.ctx)}", 2)
    except click.ClickException as exc:
        _fail(f"error: {_one_line(exc.format_message())}", 2 if exc.exit_code not in (0, 1) else exc.exit_code)
    except CommlbError as exc:
        _fail(f"error: {_one_line(str(exc))}", exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        _discard_stdout()
        sys.exit(0)
    except OSError as exc:
        if not _stdout_failed(exc):
            raise
        _discard_stdout()
        _fail(f"error: cannot write to standard output: {exc.strerror or exc}", 2)


_STDOUT_ERROR: list[OSError] = []


def _flush_stdout() -> None:
    """Flush standard output now, so that a full disk is reported here rather than by
    the interpreter at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _STDOUT_ERROR.append(exc)
        raise


def _stdout_failed(exc: OSError) -> bool:
    """Whether ``exc`` came from writing standard output: it was raised by our final
    flush, or it is a write error without a file name (files commlb opens itself carry
    their name and are reported by the command) and stdout fails again on a flush or
    is not a regular file or terminal that could still take output."""
    import errno

    if _STDOUT_ERROR and _STDOUT_ERROR[-1] is exc:
        return True
    if getattr(exc, "filename", None) is not None:
        return False
    try:
        sys.stdout.flush()
    except OSError:
        return True
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _discard_stdout() -> None:
    """Point standard output at /dev/null so that the interpreter's final flush of what
    is still buffered cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _one_line(text: str) -> str:
    """A message on one line, with integers of more than 40 digits shortened."""
    import re

    text = " ".join(str(text).split())
    return re.sub(r"\d{41,}", lambda m: f"{m.group(0)[:6]}...({len(m.group(0))} digits)", text)


def _help_hint(ctx: click.Context | None) -> str:
    if ctx is None:
        return " (see: commlb --help)"
    return f" (see: {ctx.command_path} --help)"


def _fail(line: str, code: int) -> None:
    click.echo(line, err=True)
    sys.exit(code)


# Characters commlb prints, spelled in ASCII for a terminal that cannot show them.
_ASCII = {"→": "->", "←": "<-", "↔": "<->", "…": "...", "—": "--", "–": "-", "≥": ">=", "≤": "<=",
          "≠": "!=", "≈": "~", "·": "*", "×": "x", "⌈": "ceil(", "⌉": ")", "⌊": "floor(", "⌋": ")",
          "ε": "eps", "δ": "delta", "Ω": "Omega", "Θ": "Theta", "∑": "sum", "√": "sqrt", "∈": " in ",
          "∪": "u", "∩": "n", "∧": "and", "∨": "or", "¬": "not ", "⊕": "xor", "‖": "||", "“": '"', "”": '"',
          "‘": "'", "’": "'", "•": "*", "✓": "ok", "✗": "x", "²": "^2", "³": "^3", "ⁿ": "^n", "₂": "2",
          "₁": "1", "₀": "0", "∞": "inf", "±": "+-", "÷": "/", "∘": "o", "⋯": "..."}


def _ascii_replace(exc: UnicodeError) -> tuple[str, int]:
    import unicodedata

    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        if ch in _ASCII:
            out.append(_ASCII[ch])
            continue
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(plain or "?")
    return "".join(out), exc.end


def _terminal_encoding_fallback() -> None:
    """On a terminal whose encoding cannot show commlb's arrows and dashes (ASCII,
    LANG=C), write them in ASCII instead of failing."""
    import codecs

    try:
        codecs.lookup_error("commlb-ascii")
    except LookupError:
        codecs.register_error("commlb-ascii", _ascii_replace)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "→…—≥ε".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                try:
                    reconfigure(errors="commlb-ascii")
                except (ValueError, OSError):
                    pass


if __name__ == "__main__":  # pragma: no cover
    main()
