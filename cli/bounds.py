"""``commlb bounds``: certified lower bounds for an explicit function (thin: parse, call
:func:`commlb.bounds.report.compute_bounds`, render)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from commlb.errors import InvalidInputError

from .options import FiniteFloat, execution_options, figure_file, output_file

#: the files of a --matrix directory that are read (in name order)
MATRIX_SUFFIXES = (".npy", ".txt", ".csv")


def _load_fooling(path: str) -> dict[int, list[tuple[int, int]]]:
    """--fooling FILE: ``{"value": v, "pairs": [[r, c], ...]}``, a list of such objects,
    or ``{"0": [[r, c], ...], "1": [...]}``.  Rows, columns and values must be JSON
    integers (a fraction is refused, never truncated)."""
    from commlb.validate import read_text, short_text

    text = read_text(path, "--fooling")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--fooling {path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    except ValueError:  # e.g. an integer above Python's 4300-digit conversion limit
        raise InvalidInputError(f"--fooling {path}: a number in the file has more than 4300 digits") from None

    def integer(v: Any, what: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidInputError(f"--fooling {path}: {what} must be integers, got {short_text(repr(v), 30)}")
        if not -1 <= v < 2**62:
            raise InvalidInputError(f"--fooling {path}: {what} {short_text(str(v), 30)} is out of range")
        return v

    def pairs_of(obj: Any) -> list[tuple[int, int]]:
        if not isinstance(obj, list) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in obj):
            raise InvalidInputError(f"--fooling {path}: pairs must be a list of [row, col]")
        return [(integer(a, "rows and columns"), integer(b, "rows and columns")) for a, b in obj]

    out: dict[int, list[tuple[int, int]]] = {}
    items = data if isinstance(data, list) and data and isinstance(data[0], dict) else [data]
    for item in items:
        if isinstance(item, dict) and "pairs" in item:
            if "value" not in item:
                raise InvalidInputError(f"--fooling {path}: missing \"value\"")
            out[integer(item["value"], "values")] = pairs_of(item["pairs"])
        elif isinstance(item, dict):
            for key, val in item.items():
                try:
                    value = int(key)
                except ValueError:
                    raise InvalidInputError(f"--fooling {path}: keys must be output values") from None
                out[integer(value, "values")] = pairs_of(val)
        else:
            raise InvalidInputError(f"--fooling {path}: expected {{\"value\": v, \"pairs\": [[r, c], ...]}}")
    if not out or not any(out.values()):
        raise InvalidInputError(f"--fooling {path}: no pairs in the file")
    return out


def _build_matrix(problem: str | None, n: int | None, function: str | None, matrix: str | None):
    from commlb.bounds import matrix as mx

    given = [name for name, v in (("--problem", problem), ("--function", function), ("--matrix", matrix)) if v]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of --problem, --function, --matrix")
    if problem:
        return mx.matrix_from_problem(problem, n)
    if function:
        if n is None:
            raise InvalidInputError("--function needs --n (x and y range over [0, 2^n))")
        return mx.matrix_from_function(function, n)
    return mx.load_matrix(matrix)  # type: ignore[arg-type]


def _render(report: Any, M: Any, show_tree: bool) -> None:
    from rich.table import Table

    from commlb.cli.render import console

    con = console()
    values = ", ".join(str(v) for v in report.output_values)
    con.print(f"[bold]{M.source}[/bold]: {M.rows} x {M.cols} matrix, values {{{values}}}")
    table = Table(show_lines=False)
    # long words (a prime of the GF(p) rank) fold instead of losing digits to an ellipsis
    for col, kw in (("method", {"no_wrap": True}), ("quantity", {"overflow": "fold"}),
                    ("bits", {"justify": "right"}), ("status", {"overflow": "fold"}),
                    ("certificate", {"overflow": "fold"}), ("time", {"justify": "right"})):
        table.add_column(col, **kw)
    for row in report.table:
        table.add_row(row.method, row.quantity, "" if row.bits is None else str(row.bits),
                      row.status, row.certificate, f"{row.elapsed:.3f}s")
    notes = [f"{row.method}: {row.note}" for row in report.table if row.note]
    con.print(table)
    best = report.best_lower_bound
    if best:
        con.print(f"best lower bound: [bold]D >= {best[0]}[/bold] bits ({best[1]})")
    up = report.best_upper_bound
    if up:
        con.print(f"best upper bound: D <= {up[0]} bits ({up[1]})")
    if report.deterministic and report.deterministic.get("exact"):
        con.print(f"[bold green]D = {report.deterministic['lower']} (certified by the protocol tree)[/bold green]")
    for note in notes + report.notes:
        con.print(f"[yellow]note:[/yellow] {note}")
    if show_tree and report.tree is not None and hasattr(report.tree, "render"):
        con.print(report.tree.render())


def _check_figures(M: Any, methods: list[str] | None, figure: str | None, tree_figure: str | None) -> None:
    """Refuse, before any bound is computed, a picture that cannot be drawn: a matrix too
    large to draw cell by cell, or a tree figure without the exact method."""
    from commlb.figures import check_matrix_size

    check_matrix_size(M.rows, M.cols, "--figure" if figure else "--tree-figure")
    if tree_figure:
        from commlb.bounds.report import default_methods

        chosen = methods if methods is not None else default_methods(M)[0]
        if "exact" not in chosen:
            why = "add exact to --methods" if methods is not None else "the exact method is skipped at this size"
            raise InvalidInputError(f"--tree-figure needs the protocol tree of the exact method: {why}")


def _write_figures(M: Any, report: Any, figure: str | None, tree_figure: str | None, seconds: float) -> None:
    from commlb.figures import matrix_figure, save_figure
    from commlb.figures import tree_figure as draw_tree

    if figure:
        save_figure(matrix_figure(M, report, search_seconds=seconds), figure, "--figure")
    if tree_figure:
        if report.tree is None:
            raise InvalidInputError("--tree-figure: no verified protocol tree to draw (see the notes)")
        save_figure(draw_tree(report.tree, n=M.n, shape=M.shape), tree_figure, "--tree-figure")


class _ProblemOption(click.Option):
    """``--problem``, whose help lists the registered problems (read from the registry
    when help is shown, so that a new problem module appears without an edit here)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from commlb.registry import list_problems

        self.help = f"Built-in problem: {', '.join(list_problems())}."
        return super().get_help_record(ctx)


def _render_error(report: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from commlb.cli.render import console

    con = console()
    eps = report.error
    con.print(f"[bold]{escape(report.source)}[/bold]: {report.rows} x {report.cols} matrix; protocols "
              f"that err with probability <= eps = {eps} ({float(eps):.4g})")
    if report.bounds:
        table = Table()
        for col, kw in (("method", {"no_wrap": True}), ("bits", {"justify": "right", "no_wrap": True}),
                        ("kind and distribution mu", {}), ("status", {})):
            table.add_column(col, **kw)
        for b in report.bounds:
            check = "verified" if b.verified else "NOT verified"
            table.add_row(b.method, f">= {b.bits}\n({b.real:.3f})", escape(f"{b.kind}\nmu: {b.distribution}"),
                          escape(f"{b.status}; certificate {check}"))
        con.print(table)
        for b in report.bounds:
            con.print(escape(f"- {b.method}: {b.quantity}; {b.source}; {b.theory}"
                             + (f"; {b.note}" if b.note else "")))
        best = report.best_two_way
        if best is not None:
            con.print(f"best two-way bound at eps = {eps}: [bold]{best.bits}[/bold] bits "
                      f"({best.method}, {best.kind})")
        one = report.best_one_way()
        if one is not None:
            con.print(f"best one-way Alice->Bob bound: [bold]{one.bits}[/bold] bits ({one.method})")
    if report.catalogue:
        con.print("[bold]catalogue[/bold] (docs/theory.md §6):")
        for e in report.catalogue:
            value = f" -> {e['bits']} bits ({e['real']:.3f})" if e["bits"] is not None else ""
            con.print(escape(f"- [{e['status']}] {e['statement']}{value}"))
            con.print(escape(f"  {e['kind']}; {e['conditions']}; {e['source']}"))
    for note in report.notes:
        con.print(f"[yellow]note:[/yellow] {escape(note)}")


def _error_bounds(problem: str | None, n: int | None, M: Any, error: str, distribution: str | None,
                  methods: str | None, time_limit: float, certificate_file: str | None, as_json: bool) -> None:
    from commlb.bounds.distribution import load_distribution
    from commlb.bounds.randomized import compute_error_bounds, parse_error_methods
    from commlb.bounds.rational import parse_error
    from commlb.cli.render import emit_json, to_jsonable

    eps = parse_error(error)
    dist = None
    if distribution is not None and distribution != "uniform":
        dist = load_distribution(distribution, M.shape)
    from commlb.cli.progress import working

    with working(f"computing the bounds for protocols that err (at most about {time_limit:g} s per method)",
                 enabled=not as_json):
        report = compute_error_bounds(M, eps, methods=parse_error_methods(methods), distribution=dist,
                                      problem=problem, n=n, time_limit=time_limit)
    if certificate_file:
        from commlb.validate import write_text

        write_text(certificate_file, json.dumps(to_jsonable(report.to_json()), indent=1) + "\n", "--certificate")
    if as_json:
        emit_json(report.to_json())
        return
    _render_error(report)


@click.command("bounds")
@click.option("--problem", "problem", cls=_ProblemOption, default=None, help="Built-in problem.")
@click.option("--n", "n", type=click.IntRange(min=1), default=None, help="Input size (bits per party).")
@click.option("--function", "function", default=None,
              help="An expression over integers x, y in [0, 2^n) (helpers popcount, bit, parity, "
                   "min, max, abs, where), or path.py:callable (vectorised).")
@click.option("--matrix", "matrix", multiple=True, type=click.Path(),
              help=".npy file, or text: one row per line of small integers (comma/space separated). "
                   "Repeat it, or give a directory (its .npy, .txt and .csv files), for bounds of "
                   "several matrices (on Dask with --workers or --scheduler).")
@click.option("--methods", default=None,
              help="Comma list of rank-real, rank-gf2, rank-gfp, one-way, fooling, exact (default: "
                   "all feasible at this size).")
@click.option("--prime", default=None, type=click.IntRange(2, 2**31 - 1),
              help="Prime for rank-gfp (default 8388593 = largest prime < 2^23).")
@click.option("--time-limit", default=10.0, show_default=True, type=FiniteFloat(0.0, open_min=True),
              help="Seconds per search (fooling set per value); the exact D search ends this many "
                   "seconds after the command started.")
@click.option("--fooling", "fooling_file", default=None, type=click.Path(dir_okay=False),
              help='Verify and use a fooling set: JSON {"value": v, "pairs": [[row, col], ...]}.')
@click.option("--certificate", "certificate_file", default=None, callback=output_file("--certificate"),
              help="Write all certificates (pivots, representatives, fooling sets, tree) as JSON.")
@click.option("--error", "error", default=None,
              help="Bounds for protocols that err with probability <= EPS (e.g. 0.1 or 1/3): "
                   "discrepancy, one-way VC, gamma2^alpha, partition and rectangle bounds, with "
                   "certificates, and the catalogue for --problem.")
@click.option("--distribution", "distribution", default=None,
              help="With --error: the input distribution for the discrepancy bounds: uniform "
                   "(default) or a FILE of weights (text rows or .npy, same shape as the matrix).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--tree/--no-tree", "tree", default=None,
              help="Print the protocol tree (default: only for matrices up to 8 x 8).")
@click.option("--figure", "figure", default=None, callback=figure_file("--figure"),
              help="Draw the matrix to FILE (.png, .svg or .pdf): a fooling set marked and the protocol "
                   "tree's monochromatic rectangles (matrices up to 64 x 64).")
@click.option("--tree-figure", "tree_figure", default=None, callback=figure_file("--tree-figure"),
              help="Draw the protocol tree to FILE (.png, .svg or .pdf); needs the exact method.")
@execution_options
def bounds(problem: str | None, n: int | None, function: str | None, matrix: tuple[str, ...],
           methods: str | None, prime: int | None, time_limit: float, fooling_file: str | None,
           certificate_file: str | None, error: str | None, distribution: str | None,
           as_json: bool, tree: bool | None, figure: str | None = None, tree_figure: str | None = None,
           workers: int | None = None, scheduler: str | None = None) -> None:
    """Certified lower bounds for an explicit function: ranks over R, GF(2), GF(p),
    one-way complexity, fooling sets and exact deterministic complexity; with --error,
    the bounds for protocols that err (randomized and distributional).  Several --matrix
    (or a directory of them): the bounds of each, one task per matrix on Dask with
    --workers or --scheduler (the same output)."""
    paths = _matrix_paths(matrix)
    if len(paths) > 1 or (paths and os.path.isdir(matrix[0])):
        _batch(paths, problem, function, methods, prime, time_limit, fooling_file, certificate_file, error,
               distribution, as_json, tree, figure, tree_figure, workers, scheduler)
        return
    if workers is not None or scheduler is not None:
        raise InvalidInputError("--workers and --scheduler spread several matrices over Dask: give several "
                                "--matrix or a directory of them")
    matrix_path = paths[0] if paths else None
    if methods is not None and not [m for m in methods.split(",") if m.strip()]:
        raise InvalidInputError(f"--methods {methods!r}: name at least one method (or leave it out for all "
                                "that are feasible)")
    if error is not None:
        if fooling_file or prime is not None:
            raise InvalidInputError("--fooling and --prime belong to the deterministic bounds; drop them with --error")
        if tree_figure:
            raise InvalidInputError("--tree-figure draws the deterministic protocol tree; drop it with --error")
        M = _build_matrix(problem, n, function, matrix_path)
        if figure:
            _check_figures(M, None, figure, None)
        _error_bounds(problem, n, M, error, distribution, methods, time_limit if time_limit != 10.0 else 60.0,
                      certificate_file, as_json)
        if figure:
            from commlb.figures import matrix_figure, save_figure

            save_figure(matrix_figure(M, highlight="none"), figure, "--figure")
        return
    if distribution is not None:
        raise InvalidInputError("--distribution needs --error (it sets the distribution of distributional bounds)")
    from commlb.bounds.rank import DEFAULT_PRIME
    from commlb.bounds.report import compute_bounds, parse_methods
    from commlb.cli.render import emit_json, to_jsonable

    if methods is not None:
        try:
            parse_methods(methods)
        except InvalidInputError as exc:
            raise InvalidInputError(f"--methods: {exc}") from None
    M = _build_matrix(problem, n, function, matrix_path)
    if figure or tree_figure:
        _check_figures(M, parse_methods(methods), figure, tree_figure)
    fooling = _load_fooling(fooling_file) if fooling_file else None
    from commlb.cli.progress import working

    with working(f"computing the bounds of the {M.rows} x {M.cols} matrix (the exact search stops after "
                 f"{time_limit:g} s)", enabled=not as_json) as shown:

        def exact_progress(p: dict[str, Any]) -> None:
            if p.get("method") == "fooling":
                shown.update(f"{p['value']}-fooling set: largest so far {p['best']}, {p['nodes']:,} nodes; "
                             "Ctrl-C keeps it")
                return
            shown.update(f"exact D in [{p['lower']}, {p['upper']}], depth {p['depth']}: "
                         f"{p['nodes']:,} nodes; Ctrl-C keeps the interval")

        from commlb.cli.main import STARTED

        # the exact search ends by the limit counted from the command's start, leaving
        # ~0.3 s to check its tree and print (the limit + 1 s, always, for the command)
        report = compute_bounds(M, methods=parse_methods(methods), time_limit=time_limit,
                                prime=DEFAULT_PRIME if prime is None else prime, fooling=fooling,
                                progress=exact_progress, exact_deadline=STARTED + time_limit - 0.3)
    if figure or tree_figure:
        _write_figures(M, report, figure, tree_figure, min(time_limit, 10.0))
    if certificate_file:
        from commlb.validate import write_text

        write_text(certificate_file, json.dumps(to_jsonable(report.certificates()), indent=1) + "\n",
                   "--certificate")
    if as_json:
        emit_json(report.to_json())
        from rich.text import Text

        from commlb.cli.render import console

        err = console(stderr=True)
        for note in report.notes:  # wrapped to the terminal like every other note
            err.print(Text(f"note: {note}"))
        _exit_if_interrupted(report)
        return
    show_tree = tree if tree is not None else report.rows * report.cols <= 64
    _render(report, M, show_tree)
    for path in (figure, tree_figure):
        if path:
            from commlb.cli.render import console

            console().print(f"figure: {path}")
    _exit_if_interrupted(report)


def _exit_if_interrupted(report: Any) -> None:
    """Exit 130 (as any command stopped by Ctrl-C) once the bounds proved before the
    interrupt are printed, so that a script can tell them from a finished run."""
    if report.interrupted:
        import sys

        from commlb.cli.render import console

        console(stderr=True).print("interrupted (Ctrl-C): the bounds shown are those proved before it")
        sys.exit(130)


def _matrix_paths(matrix: tuple[str, ...]) -> list[str]:
    """The --matrix files: each given file, and a directory's .npy, .txt and .csv files in
    name order (an empty directory refused)."""
    out: list[str] = []
    for path in matrix:
        if os.path.isdir(path):
            try:
                names = sorted(name for name in os.listdir(path) if name.endswith(MATRIX_SUFFIXES)
                               and os.path.isfile(os.path.join(path, name)))
            except OSError as exc:
                raise InvalidInputError(f"--matrix {path}: cannot list the directory ({exc.strerror})") from None
            if not names:
                raise InvalidInputError(f"--matrix {path}: no {', '.join(MATRIX_SUFFIXES)} files in the directory")
            out.extend(os.path.join(path, name) for name in names)
        else:
            out.append(path)
    return out


def _batch(paths: list[str], problem: str | None, function: str | None, methods: str | None, prime: int | None,
           time_limit: float, fooling_file: str | None, certificate_file: str | None, error: str | None,
           distribution: str | None, as_json: bool, tree: bool | None, figure: str | None,
           tree_figure: str | None, workers: int | None, scheduler: str | None) -> None:
    """Bounds of several matrices, one task each on the executor; printed in the order given."""
    from commlb.bounds import matrix as mx

    if problem or function:
        raise InvalidInputError("give --problem, --function or --matrix, not several (several --matrix are fine)")
    for name, value in (("--figure", figure), ("--tree-figure", tree_figure), ("--fooling", fooling_file),
                        ("--distribution", distribution)):
        if value:
            raise InvalidInputError(f"{name} belongs to one matrix: give a single --matrix with it")
    if error is not None and prime is not None:
        raise InvalidInputError("--prime belongs to the deterministic bounds; drop it with --error")
    options: dict[str, Any]
    if error is None:
        from commlb.bounds.rank import DEFAULT_PRIME
        from commlb.bounds.report import parse_methods

        try:
            chosen = parse_methods(methods)
        except InvalidInputError as exc:
            raise InvalidInputError(f"--methods: {exc}") from None
        options = {"methods": chosen, "time_limit": time_limit, "prime": DEFAULT_PRIME if prime is None else prime}
    else:
        from commlb.bounds.randomized import parse_error_methods
        from commlb.bounds.rational import parse_error

        options = {"methods": parse_error_methods(methods), "time_limit": time_limit if time_limit != 10.0 else 60.0,
                   "error": parse_error(error)}
    matrices = [mx.load_matrix(p) for p in paths]  # every file read (and refused) before any work
    from commlb.bounds.report import compute_bounds_batch
    from commlb.cli.progress import working
    from commlb.cli.render import console, emit_json, to_jsonable
    from commlb.execution import make_executor

    with make_executor(workers, scheduler) as executor:
        runner = executor if executor.distributed else None
        with working(f"computing the bounds of {len(matrices)} matrices", enabled=not as_json) as shown:
            done = [0]

            def tick(_: Any) -> None:
                done[0] += 1
                shown.update(f"computing the bounds of {len(matrices)} matrices ({done[0]} done)")

            reports = compute_bounds_batch(matrices, executor=runner, progress=tick, **options)
    if certificate_file:
        from commlb.validate import write_text

        certs = [{"file": p, **(r.certificates() if error is None else r.to_json())}
                 for p, r in zip(paths, reports, strict=True)]
        write_text(certificate_file, json.dumps(to_jsonable(certs), indent=1) + "\n", "--certificate")
    if as_json:
        emit_json({"matrices": [{"file": p, **r.to_json()} for p, r in zip(paths, reports, strict=True)]})
        if error is None:
            from rich.text import Text

            err = console(stderr=True)
            for p, r in zip(paths, reports, strict=True):
                for note in r.notes:
                    err.print(Text(f"note: {p}: {note}"))
        return
    for i, (M, report) in enumerate(zip(matrices, reports, strict=True)):
        if i:
            console().print()
        if error is None:
            _render(report, M, tree if tree is not None else report.rows * report.cols <= 64)
        else:
            _render_error(report)
