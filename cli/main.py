"""Entry point: a click group whose sub-commands are imported only when used, so that
``commlb --help`` does not pay for numba, matplotlib or networkx."""

from __future__ import annotations

import importlib
import sys

import click

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
    from commlb.errors import CommlbError

    try:
        cli.main(args=argv, prog_name="commlb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code not in (0, 1) else exc.exit_code)
    except CommlbError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
