"""``commlb simulate --weights FILE --adapter …``: a trained checkpoint run as a protocol.

Called by :mod:`commlb.cli.simulate` when the weights are a trained checkpoint (a
``.safetensors``/``.pt``/``.bin`` file or a Hugging Face folder) or an adapter is given.
"""

from __future__ import annotations

from typing import Any

from .render import OWNER_NAME, OWNER_STYLE, console, emit_json, owned_rows, owner_legend


def run_imported(weights: str, config: str | None, heads: int | None, readout: str | None, adapter: str | None,
                 task: str | None, task_options: tuple[str, ...], n: int | None, split: str | None, seed: int,
                 exchange: str, as_json: bool, show_transcript: bool, dtype: str | None = None) -> None:
    from commlb.errors import InvalidInputError
    from commlb.imported import open_model
    from commlb.imported.adapter import load_adapter
    from commlb.imported.evaluate import parse_task_options
    from commlb.imported.run import simulate_weights

    if adapter is None:
        raise InvalidInputError("imported weights need --adapter (a built-in name such as sht24-khop, or a "
                                "JSON/TOML file)")
    ad = load_adapter(adapter)
    rows = parse_task_options(task_options)
    if len(rows) > 1:
        raise InvalidInputError("simulate runs one instance: give each --task-option one value")
    model = open_model(weights, config, heads, readout, ad, dtype)
    result = simulate_weights(model, ad, task, rows[0] if rows else {}, n, split, seed, exchange)
    if as_json:
        emit_json(result.to_json())
        return
    _render(result, show_transcript)


def _render(result: Any, show_transcript: bool) -> None:
    import numpy as np
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from commlb.imported.evaluate import EXACT_BOUNDS_NOTE
    from commlb.imported.numformat import FORMATS
    from commlb.imported.protocol import format_values

    out = console()
    m = result.model
    run = result.run
    tr = run.transcript
    heads = f", {m['heads']} heads" if m["heads"] else ""
    out.print(escape(f"model: {m['family']}, {m['layers']} layers, width {m['width']}{heads}, "
                     f"{m['parameters']:,} parameters ({m['format']}, {m['arithmetic']})"))
    opts = ", ".join(f"{k}={v}" for k, v in result.options.items())
    out.print(escape(f"task: {result.task} ({opts}), n = {result.n}, seed {result.seed}; adapter "
                     f"{result.adapter.name}; read-out: {m['readout']}"))
    owner = np.asarray(tr.meta.get("owner", []))
    ids = [str(t) for t in result.ids.tolist()]
    out.print(Text(f"split {result.split_name}, tokens and under each its owner (") + owner_legend() + Text("):"))
    if owner.size == len(ids):
        out.print(owned_rows(ids, owner, width=out.size.width, max_tokens=48))
    else:
        out.print(" ".join(ids if len(ids) <= 48 else ids[:24] + ["…"] + ids[-24:]))
    t = Table(title=f"messages ({len(tr.messages)})", title_justify="left", expand=False)
    fmt = FORMATS[run.value_format]
    values_col = f"{fmt.name} values"
    for col in ("round", "direction", "label", values_col, "bits"):
        t.add_column(col, justify="right" if col in ("round", values_col, "bits") else "left")
    msgs = list(range(len(tr.messages)))
    if not show_transcript and len(msgs) > 12:
        msgs = msgs[:5] + [-1] + msgs[-5:]
    for i in msgs:
        if i == -1:
            t.add_row("…", "", f"{len(tr.messages) - 10} more (--transcript shows all)", "", "")
            continue
        msg = tr.messages[i]
        direction = Text()
        direction.append(OWNER_NAME[int(msg.sender)], style=OWNER_STYLE[int(msg.sender)])
        direction.append(" → ")
        direction.append(OWNER_NAME[int(msg.receiver)], style=OWNER_STYLE[int(msg.receiver)])
        label = escape(msg.label)
        if show_transcript:
            label += "\n" + escape(_first_values(msg))
        t.add_row(str(msg.round), direction, label, f"{format_values(msg):,}", f"{msg.bits:,}")
    if tr.messages:
        out.print(t)
    else:
        out.print("[bold]no message crosses the cut[/bold] on this split")
    lt = Table(title="per layer", title_justify="left", expand=False)
    for col in ("layer", "bits", "messages", "rounds", "exchange"):
        lt.add_column(col, justify="left" if col == "exchange" else "right")
    for row in run.layers:
        ex = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in row.get("exchange", {}).items())
        lt.add_row(str(row["layer"]), f"{row['bits']:,}", str(row["messages"]), str(row["rounds"]),
                   ex or ("state hand-over" if "exchange" not in row else "—"))
    out.print(lt)
    out.print(f"total [bold]{tr.total_bits:,}[/bold] bits = {fmt.bits} × "
              f"{sum(format_values(x) for x in tr.messages):,} {fmt.name} values: "
              f"Alice → Bob {tr.bits_alice_to_bob:,}, Bob → Alice {tr.bits_bob_to_alice:,}, "
              f"{tr.rounds} round{'s' if tr.rounds != 1 else ''}")
    c = run.check
    out.print(f"[green]verified:[/green] same read-out as the forward pass at {c['same_readout_positions']} of "
              f"{c['scored_positions']} scored positions; largest difference {c['largest_difference']:.3g} "
              f"(relative {c['largest_relative_difference']:.2g})"
              + (f"; {c['near_ties']} near ties" if c["near_ties"] else ""))
    wrong = result.wrong
    style = "green" if wrong == 0 else "red"
    out.print(f"answers: [{style}]{wrong} wrong[/{style}] of {int(run.scored.sum())} scored positions")
    out.print(escape(f"note: {EXACT_BOUNDS_NOTE}"))


def _first_values(message: Any, limit: int = 4) -> str:
    """The first few values of each field, decoded from the payload by the format its
    name ends in (``:f32``, ``:bf16``, ``:f16``)."""
    import numpy as np

    from commlb.imported.numformat import FORMATS

    by_suffix = {f.suffix: f for f in FORMATS.values()}
    parts = []
    for name, codes in message.values().items():
        base, _, suffix = name.rpartition(":")
        vals = by_suffix[suffix].decode(np.asarray(codes)).ravel()
        shown = ", ".join(f"{v:.4g}" for v in vals[:limit].tolist())
        parts.append(f"{base} = [{shown}{', …' if vals.size > limit else ''}]")
    return "; ".join(parts)


def _dtype_option() -> Any:
    import click

    return click.option("--dtype", "dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default=None,
                        help="Trained weights: number format to run in (default: the checkpoint's).")


DTYPE_OPTION = _dtype_option()


def imported_options(func: Any) -> Any:
    """The options ``commlb simulate`` takes for a trained checkpoint: --adapter, --config,
    --readout, --dtype, --task-option and --exchange."""
    import click

    options = [
        click.option("--adapter", "adapter", default=None, metavar="NAME|FILE",
                     help="Trained weights: task-to-model adapter (built-in sht24-khop or a JSON/TOML file)."),
        click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
                     help="Trained weights: YAML/JSON config (n_head/headcount/num_heads)."),
        click.option("--readout", "readout", default=None, metavar="lm_head|hidden|linear:NAME",
                     help="Trained weights: how predictions are read (default: the adapter's)."),
        DTYPE_OPTION,
        click.option("--task-option", "task_options", multiple=True, metavar="NAME=VALUE",
                     help="Trained weights: a task option, e.g. k=4 (repeatable)."),
        click.option("--exchange", "exchange", type=click.Choice(["cheaper", "partial", "kv"]), default="cheaper",
                     show_default=True, help="Trained GPT-2: attention across the cut by partial sums, "
                     "keys/values, or the cheaper per block."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: simulate options that describe commlb's own models and do not apply to trained weights
_NOT_FOR_IMPORTED = ("model", "reduction", "hidden", "layers", "width", "precision", "q", "save_weights")


def imported_requested(weights: str | None, adapter: str | None) -> bool:
    from commlb.imported.run import is_imported_weights

    return adapter is not None or is_imported_weights(weights)


def run_from_simulate(params: dict[str, Any]) -> None:
    """``commlb simulate`` with trained weights: refuse the options that only describe
    commlb's own models, then :func:`run_imported`."""
    from commlb.errors import InvalidInputError

    given = [name for name in _NOT_FOR_IMPORTED if params.get(name) not in (None, False)]
    if given:
        flags = ", ".join("--" + g.replace("_", "-") for g in given)
        raise InvalidInputError(f"{flags}: not used with trained weights (the checkpoint fixes the model)")
    if params.get("arith", "fixed") != "fixed":
        raise InvalidInputError("--arith: trained weights run in the format they were trained in (--dtype "
                                "float32|bfloat16|float16)")
    if params.get("trials"):
        raise InvalidInputError("--trials: use `commlb evaluate` for the error rate of trained weights")
    if params.get("weights") is None:
        raise InvalidInputError("--adapter needs --weights FILE (a trained checkpoint)")
    options = tuple(params.get("task_options") or ())
    if params.get("k") is not None:
        options += (f"k={params['k']}",)
    run_imported(params["weights"], params.get("config"), params.get("heads"), params.get("readout"),
                 params.get("adapter"), params.get("task"), options, params.get("n"), params.get("split"),
                 params.get("seed", 0), params.get("exchange", "cheaper"), bool(params.get("as_json")),
                 bool(params.get("show_transcript")), params.get("dtype"))
