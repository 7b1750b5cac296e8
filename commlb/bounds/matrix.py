"""Communication matrices: ``M[x, y] = f(x, y)`` for every input pair.

Rows are indexed by Alice's inputs, columns by Bob's.  For a built-in problem the row of
input ``x`` is ``problem.x_space.to_index(x)`` (the mixed-radix index of
:class:`commlb.core.InputSpace`) and likewise for columns.  Entries are small non-negative
integers; :data:`DONT_CARE` (-1) marks pairs outside the promise of a promise problem.

Sources: a registered problem (:func:`matrix_from_problem`), an expression over integers
``x`` and ``y`` (:func:`matrix_from_expression`, evaluated vectorised over int64 grids by a
small AST interpreter that allows arithmetic, comparisons and the helpers ``popcount``,
``bit``, ``parity``, ``min``, ``max``, ``abs`` and ``where`` and nothing else), a Python
callable (:func:`matrix_from_callable`, ``"path.py:name"``), or a file
(:func:`load_matrix`: ``.npy``, or text with one row per line).

Cost: building is O(rows * cols); sizes above ``max_entries`` are refused up front with a
:class:`commlb.errors.TooLargeError` that carries a memory/time estimate.
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..core import Problem
from ..costs import fmt_seconds
from ..errors import InvalidInputError, TooLargeError

__all__ = [
    "DONT_CARE",
    "DEFAULT_MAX_ENTRIES",
    "CommMatrix",
    "matrix_from_array",
    "matrix_from_problem",
    "matrix_from_expression",
    "matrix_from_callable",
    "matrix_from_function",
    "load_matrix",
    "check_size",
]

#: Entry value for input pairs outside the promise of a promise problem ("don't care").
DONT_CARE = -1
#: Largest matrix built by default (8192 x 8192; 64 MiB as int8).
DEFAULT_MAX_ENTRIES = 1 << 26
#: Largest value an entry may take (entries are stored as int16 at most).
MAX_VALUE = 32767
# rough throughput of vectorised evaluation, for the estimate in the refusal message
_ENTRIES_PER_SECOND = 5e7


@dataclass(frozen=True, eq=False)
class CommMatrix:
    """A communication matrix with a description of where it came from.

    ``values`` is a 2-D integer array (int8 or int16) with entries >= 0 or
    :data:`DONT_CARE`.  ``n`` is the input length when the matrix came from a problem or
    an expression (None for files).
    """

    values: np.ndarray
    source: str
    n: int | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise InvalidInputError("a communication matrix must be 2-dimensional")
        if self.values.shape[0] == 0 or self.values.shape[1] == 0:
            raise InvalidInputError("a communication matrix needs at least one row and one column")

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def cols(self) -> int:
        return int(self.values.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def has_dont_care(self) -> bool:
        return bool(np.any(self.values == DONT_CARE))

    def output_values(self) -> list[int]:
        """The distinct output values present (don't-care excluded), sorted."""
        vals = np.unique(self.values)
        return [int(v) for v in vals if v != DONT_CARE]

    @property
    def is_boolean(self) -> bool:
        return set(self.output_values()) <= {0, 1}

    def transpose(self) -> CommMatrix:
        """The matrix with Alice and Bob swapped."""
        return CommMatrix(np.ascontiguousarray(self.values.T), f"transpose of {self.source}", self.n)


def _compact(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.int8)
    if not np.issubdtype(values.dtype, np.integer):
        # only a float array can hold integers otherwise (strings, complex: refused)
        floating = np.issubdtype(values.dtype, np.floating)
        if floating and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        else:
            raise InvalidInputError("matrix entries must be integers")
    if values.size:
        lo = int(values.min())
        hi = int(values.max())
        if lo < DONT_CARE:
            raise InvalidInputError(
                f"matrix entries must be >= 0 (or {DONT_CARE} for don't care); found {lo}"
            )
        if hi > MAX_VALUE:
            raise InvalidInputError(f"matrix entries must be <= {MAX_VALUE}; found {hi}")
        dtype = np.int8 if hi <= 127 else np.int16
    else:
        dtype = np.int8
    return np.ascontiguousarray(values, dtype=dtype)


def matrix_from_array(values: ArrayLike, source: str = "array", n: int | None = None) -> CommMatrix:
    """Wrap an integer array (validated and stored compactly)."""
    return CommMatrix(_compact(np.asarray(values)), source, n)


def check_size(rows: int, cols: int, what: str, max_entries: int = DEFAULT_MAX_ENTRIES,
               per_entry_bytes: int = 1, hint: str = "a smaller --n") -> None:
    """Refuse matrices larger than ``max_entries`` with a memory and time estimate."""
    entries = rows * cols
    if entries <= max_entries:
        return
    gib = entries * per_entry_bytes / 2**30
    seconds = entries / _ENTRIES_PER_SECOND
    raise TooLargeError(
        f"{what} is a {rows} x {cols} matrix ({entries:.3g} entries): about {gib:.3g} GiB "
        f"to store and ~{fmt_seconds(seconds)} to build, before any bound is computed; "
        f"the limit is {max_entries} entries ({int(math.isqrt(max_entries))}^2): use {hint}"
    )


def _row_block(cols: int, width: int) -> int:
    # rows per evaluation block: keep temporaries near 2^24 elements
    return max(1, (1 << 24) // max(1, cols * max(1, width)))


def matrix_from_problem(problem: str | Problem, n: int | None = None,
                        max_entries: int = DEFAULT_MAX_ENTRIES) -> CommMatrix:
    """The communication matrix of a registered problem (a name, with ``n``) or of a
    :class:`commlb.core.Problem` instance.  Pairs outside the promise become
    :data:`DONT_CARE`.  Refuses (TooLargeError) above ``max_entries``."""
    if isinstance(problem, str):
        from ..registry import get_problem

        name = problem
        if n is None:
            raise InvalidInputError("--problem needs --n")
        if n < 0:
            raise InvalidInputError("--n must be >= 0")
        prob = get_problem(name, n=n)
    else:
        prob = problem
        name = getattr(prob, "name", type(prob).__name__)
    # sizes in bits first: 2^n as an integer is itself too large to build for huge n
    bits = float(prob.x_space.bits) + float(prob.y_space.bits)
    if bits > math.log2(max_entries) + 1e-9:
        hint = "a smaller --n"
        if isinstance(problem, str):
            from ..registry import get_problem

            def fits(m: int) -> bool:
                p = get_problem(name, n=m)
                return float(p.x_space.bits) + float(p.y_space.bits) <= math.log2(max_entries) + 1e-9

            lo, hi = 0, min(int(n or 1), 4096)  # bisection: the sizes grow with n
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
            hint = f"--n {lo} or smaller"
        if prob.x_space.bits <= 62 and prob.y_space.bits <= 62:
            check_size(int(prob.x_space.size), int(prob.y_space.size), f"{name} with n = {getattr(prob, 'n', n)}",
                       max_entries, hint=hint)
        raise TooLargeError(
            f"{name} with n = {getattr(prob, 'n', n)} is a 2^{prob.x_space.bits:.4g} x 2^{prob.y_space.bits:.4g} "
            f"matrix (2^{bits:.4g} entries, as many bytes to store); the limit is {max_entries} "
            f"entries ({int(math.isqrt(max_entries))}^2): use {hint}")
    rows = int(prob.x_space.size)
    cols = int(prob.y_space.size)
    check_size(rows, cols, f"{name} with n = {getattr(prob, 'n', n)}", max_entries, hint="a smaller --n")
    xs = prob.x_space.enumerate()
    ys = prob.y_space.enumerate()
    out = np.empty((rows, cols), dtype=np.int16)
    block = _row_block(cols, max(xs.shape[1], ys.shape[1]))
    promise = bool(getattr(prob, "is_promise", False))
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        xb = xs[start:stop, None, :]
        yb = ys[None, :, :]
        vals = np.asarray(prob.evaluate(xb, yb))
        vals = np.broadcast_to(vals, (stop - start, cols)).astype(np.int64)
        if promise:
            inside = np.broadcast_to(np.asarray(prob.in_promise(xb, yb), dtype=bool), vals.shape)
            vals = np.where(inside, vals, DONT_CARE)
        if vals.size and (vals.min() < DONT_CARE or vals.max() > MAX_VALUE):
            raise InvalidInputError(f"problem {name} produced values outside [0, {MAX_VALUE}]")
        out[start:stop] = vals
    label = f"{name} n={getattr(prob, 'n', n)}"
    return CommMatrix(_compact(out), label, getattr(prob, "n", n))


# ---------------------------------------------------------------- expressions
# (evaluated exactly by :mod:`commlb.bounds.expression`, which imports this module)



def _grid_matrix(fn: Callable[[np.ndarray, np.ndarray], Any], n: int, label: str,
                 max_entries: int, n_y: int | None = None) -> CommMatrix:
    if n < 0 or (n_y is not None and n_y < 0):
        raise InvalidInputError("--n must be >= 0")
    if n > 62 or (n_y or 0) > 62:
        raise TooLargeError(f"{label}: n = {n} gives 2^{n} rows; use a smaller --n")
    ny = n if n_y is None else n_y
    rows, cols = 1 << n, 1 << ny
    feasible = n
    while feasible > 0 and (1 << feasible) * (1 << (feasible if n_y is None else ny)) > max_entries:
        feasible -= 1
    check_size(rows, cols, label, max_entries, hint=f"--n {feasible} or smaller")
    out = np.empty((rows, cols), dtype=np.int16)
    block = _row_block(cols, 1)
    ys = np.arange(cols, dtype=np.int64)[None, :]
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        xs = np.arange(start, stop, dtype=np.int64)[:, None]
        vals = np.asarray(fn(xs, ys))
        if vals.dtype == bool:
            vals = vals.astype(np.int64)
        try:
            vals = np.broadcast_to(vals, (stop - start, cols))
        except ValueError:
            raise InvalidInputError(f"{label}: result of shape {vals.shape} does not broadcast "
                                    f"to the ({stop - start}, {cols}) grid") from None
        if not np.issubdtype(vals.dtype, np.integer):
            if np.issubdtype(vals.dtype, np.floating) and np.all(vals == np.round(vals)):
                vals = vals.astype(np.int64)
            else:
                raise InvalidInputError(f"{label}: values must be integers, got {vals.dtype}")
        if vals.size and (vals.min() < DONT_CARE or vals.max() > MAX_VALUE):
            raise InvalidInputError(f"{label}: values must lie in [0, {MAX_VALUE}] "
                                    f"(or {DONT_CARE} for don't care); found "
                                    f"[{int(vals.min())}, {int(vals.max())}]")
        out[start:stop] = vals
    return CommMatrix(_compact(out), label, n)


def matrix_from_expression(expr: str, n: int, max_entries: int = DEFAULT_MAX_ENTRIES,
                           n_y: int | None = None) -> CommMatrix:
    """M[x, y] = expr for x in [0, 2^n), y in [0, 2^n_y) (n_y defaults to n).

    The expression is parsed with :mod:`ast` and interpreted over numpy int64 grids; only
    integer constants, the names x, y, n, arithmetic/bitwise/comparison/boolean operators,
    ``a if c else b`` and the helpers popcount(v), bit(v, i), parity(v), min, max, abs,
    where(c, a, b) are allowed, so no user code runs.
    """
    from .expression import evaluate_expression

    evaluate_expression(expr, np.zeros(1, np.int64), np.zeros(1, np.int64), n)  # refuse bad syntax early
    return _grid_matrix(lambda x, y: evaluate_expression(expr, x, y, n), n,
                        f"f(x, y) = {expr}, n={n}", max_entries, n_y)


def matrix_from_callable(spec: str, n: int, max_entries: int = DEFAULT_MAX_ENTRIES,
                         n_y: int | None = None) -> CommMatrix:
    """M[x, y] = fn(x, y) with ``spec = "path.py:fn"``.  ``fn`` receives int64 arrays x of
    shape (B, 1) and y of shape (1, C) and must return an integer array that broadcasts to
    (B, C) (a vectorised function).  This runs the user's own code."""
    path_str, _, attr = spec.rpartition(":")
    if not path_str or not attr:
        raise InvalidInputError(f"--function {spec!r}: expected path.py:callable")
    path = Path(path_str)
    if not path.is_file():
        raise InvalidInputError(f"--function: no such file {path_str!r}")
    mod_spec = importlib.util.spec_from_file_location(f"_commlb_user_{path.stem}", path)
    if mod_spec is None or mod_spec.loader is None:
        raise InvalidInputError(f"--function: cannot load {path_str!r}")
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failed to import: say why, in one line
        raise InvalidInputError(f"--function: importing {path_str} failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InvalidInputError(f"--function: {path_str} has no callable {attr!r}")

    def call(x: np.ndarray, y: np.ndarray) -> Any:
        import warnings

        # the user's function runs as written; its failures and numpy warnings are its
        # own and are reported as one line, not as a traceback of commlb
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                out = fn(x, y)
            except Exception as exc:
                raise InvalidInputError(f"--function {path.name}:{attr} raised {type(exc).__name__}: {exc}") from None
        if out is None or not isinstance(out, (np.ndarray, np.generic, int, bool)):
            raise InvalidInputError(f"--function {path.name}:{attr} must return an integer array, "
                                    f"got {type(out).__name__}")
        return out

    return _grid_matrix(call, n, f"{path.name}:{attr}, n={n}", max_entries, n_y)


_CALLABLE_SPEC = re.compile(r"^[^\s:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")


def matrix_from_function(function: str, n: int, max_entries: int = DEFAULT_MAX_ENTRIES,
                         n_y: int | None = None) -> CommMatrix:
    """``--function``: ``path.py:callable`` or an expression."""
    if _CALLABLE_SPEC.match(function.strip()):
        return matrix_from_callable(function.strip(), n, max_entries, n_y)
    return matrix_from_expression(function, n, max_entries, n_y)


# ---------------------------------------------------------------- files


def load_matrix(path: str | Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> CommMatrix:
    """Read a matrix from ``.npy`` or from text: one row per line, integers separated by
    commas and/or spaces; ``*`` or ``-1`` marks a don't-care entry; blank lines and lines
    starting with ``#`` are skipped.  Rows must have equal length (non-square is fine)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"--matrix: no such file {str(path)!r}")
    if path.suffix == ".npy":
        from ..validate import check_npy_members

        check_npy_members(path, "--matrix", max_bytes=8 * max_entries)  # headers first: no huge allocation
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InvalidInputError(f"--matrix {path}: {exc}") from None
        if arr.ndim != 2:
            raise InvalidInputError(f"--matrix {path}: expected a 2-D array, got shape {arr.shape}")
        check_size(arr.shape[0], arr.shape[1], str(path), max_entries, hint="a smaller matrix")
        return CommMatrix(_compact(arr), path.name)
    from ..validate import read_text, short_text

    rows: list[list[int]] = []
    for lineno, line in enumerate(read_text(path, "--matrix").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = [f for f in re.split(r"[,\s]+", text) if f]
        try:
            row = [DONT_CARE if f == "*" else int(f) if len(f) <= 12 else _too_long(f) for f in fields]
        except ValueError:
            raise InvalidInputError(f"--matrix {path}, line {lineno}: not an integer row: "
                                    f"{short_text(text)!r}") from None
        bad = [v for v in row if v < DONT_CARE or v > MAX_VALUE]
        if bad:
            raise InvalidInputError(f"--matrix {path}, line {lineno}: entries must lie in [0, {MAX_VALUE}] "
                                    f"(or * / {DONT_CARE} for don't care); found {bad[0]}")
        if rows and len(row) != len(rows[0]):
            raise InvalidInputError(f"--matrix {path}, line {lineno}: {len(row)} entries, "
                                    f"expected {len(rows[0])} like the first row")
        rows.append(row)
        if len(rows) * len(rows[0]) > max_entries:
            check_size(len(rows), len(rows[0]), str(path), max_entries, hint="a smaller matrix")
    if not rows:
        raise InvalidInputError(f"--matrix {path}: no rows")
    return CommMatrix(_compact(np.array(rows, dtype=np.int64)), path.name)


def _too_long(field: str) -> int:
    digits = field.lstrip("+-")
    if digits.isdigit():
        raise InvalidInputError(f"matrix entry of {len(digits)} digits; entries must lie in [0, {MAX_VALUE}]")
    raise ValueError(field)


def build_time(fn: Callable[[], CommMatrix]) -> tuple[CommMatrix, float]:
    t0 = time.perf_counter()
    m = fn()
    return m, time.perf_counter() - t0
