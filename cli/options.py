"""Click options shared by the commands that build a model (simulate, witness), so the
model is described the same way everywhere."""

from __future__ import annotations

from typing import Any, Callable

import click

__all__ = ["model_size_options"]


def model_size_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--hidden, --layers, --heads, --width, --precision and --arith."""
    options = [
        click.option("--hidden", type=int, default=None, help="RNN/FFN hidden size d."),
        click.option("--layers", type=int, default=None, help="Number of layers L."),
        click.option("--heads", type=int, default=None, help="Transformer heads H."),
        click.option("--width", type=int, default=None, help="Transformer width m."),
        click.option("--precision", type=int, default=None,
                     help="Bits per number p (default: what the construction needs; 16 for random weights)."),
        click.option("--arith", type=click.Choice(["fixed", "float"]), default="fixed", show_default=True,
                     help="Exact fixed point or p-bit floats."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
