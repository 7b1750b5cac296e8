"""``commlb simulate --weights FILE --adapter …``: a trained checkpoint run as a protocol.

Called by :mod:`commlb.cli.simulate` when the weights are a trained checkpoint (a
``.safetensors``/``.pt``/``.bin`` file or a Hugging Face folder) or an adapter is given.
"""

from __future__ import annotations

from typing import Any

from .render import OWNER_NAME, OWNER_STYLE, console, emit_json


def run_imported(weights: str, config: str | None, heads: int | None, readout: str | None, adapter: str | None,
                 task: str | None, task_options: tuple[str, ...], n: int | None, split: str | None, seed: int,
                 exchange: str, as_json: bool, show_transcript: bool) -> None:
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
    model = open_model(weights, config, heads, readout, ad)
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
    from commlb.imported.protocol import float32_values

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
    strip = Text(f"split {result.split_name}: ")
    ids = result.ids.tolist()
    shown = ids if len(ids) <= 48 else ids[:24] + [None] + ids[-24:]
    for i, tok in enumerate(shown):
        if tok is None:
            strip.append(f"…({len(ids) - 48} more)… ", style="italic")
            continue
        pos = i if len(ids) <= 48 or i < 24 else len(ids) - 24 + (i - 25)
        strip.append(f"{tok} ", style=OWNER_STYLE[int(owner[pos])] if owner.size else "")
    out.print(strip)
    t = Table(title=f"messages ({len(tr.messages)})", title_justify="left", expand=False)
    for col in ("round", "direction", "label", "float32 values", "bits"):
        t.add_column(col, justify="right" if col in ("round", "float32 values", "bits") else "left")
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
        t.add_row(str(msg.round), direction, escape(msg.label), f"{float32_values(msg):,}", f"{msg.bits:,}")
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
    out.print(f"total [bold]{tr.total_bits:,}[/bold] bits = 32 × {sum(float32_values(x) for x in tr.messages):,} "
              f"float32 values: Alice → Bob {tr.bits_alice_to_bob:,}, Bob → Alice {tr.bits_bob_to_alice:,}, "
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
