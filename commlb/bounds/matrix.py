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

import ast
import importlib.util
import math
import operator
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from ..core import Problem
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
    "evaluate_expression",
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

    def transpose(self) -> "CommMatrix":
        """The matrix with Alice and Bob swapped."""
        return CommMatrix(np.ascontiguousarray(self.values.T), f"transpose of {self.source}", self.n)


def _compact(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.int8)
    if not np.issubdtype(values.dtype, np.integer):
        integral = np.all(np.isfinite(values)) and np.all(values == np.round(values))
        if np.issubdtype(values.dtype, np.floating) and integral:
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
        f"to store and ~{_fmt_seconds(seconds)} to build, before any bound is computed; "
        f"the limit is {max_entries} entries ({int(math.isqrt(max_entries))}^2): use {hint}"
    )


def _fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _row_block(cols: int, width: int) -> int:
    # rows per evaluation block: keep temporaries near 2^24 elements
    return max(1, (1 << 24) // max(1, cols * max(1, width)))


def _largest_feasible_n(space_size: Callable[[int], int], max_entries: int, n: int) -> int:
    m = n
    while m > 1 and space_size(m) > max_entries:
        m -= 1
    return m


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
    rows = int(prob.x_space.size)
    cols = int(prob.y_space.size)
    hint = "a smaller --n"
    if isinstance(problem, str) and rows * cols > max_entries:
        from ..registry import get_problem

        def size_at(m: int) -> int:
            p = get_problem(name, n=m)
            return int(p.x_space.size) * int(p.y_space.size)

        assert n is not None  # checked above for a problem given by name
        hint = f"--n {_largest_feasible_n(size_at, max_entries, n)} or smaller"
    check_size(rows, cols, f"{name} with n = {getattr(prob, 'n', n)}", max_entries, hint=hint)
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


def _popcount(v: Any) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    if np.any(v < 0):
        raise InvalidInputError("popcount of a negative number")
    return np.bitwise_count(v).astype(np.int64)


def _bit(v: Any, i: Any) -> np.ndarray:
    return (np.asarray(v, dtype=np.int64) >> np.asarray(i, dtype=np.int64)) & 1


def _parity(v: Any) -> np.ndarray:
    return _popcount(v) & 1


def _where(c: Any, a: Any, b: Any) -> np.ndarray:
    return np.where(np.asarray(c, dtype=bool), a, b)


_HELPERS: dict[str, Callable[..., Any]] = {
    "popcount": _popcount,
    "bit": _bit,
    "parity": _parity,
    "min": np.minimum,
    "max": np.maximum,
    "abs": np.abs,
    "where": _where,
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
    ast.BitAnd: np.bitwise_and,
    ast.BitOr: np.bitwise_or,
    ast.BitXor: np.bitwise_xor,
    ast.LShift: np.left_shift,
    ast.RShift: np.right_shift,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}


def _as_int(v: Any) -> Any:
    a = np.asarray(v)
    return a.astype(np.int64) if a.dtype == bool else a


class _Evaluator:
    def __init__(self, names: dict[str, Any]):
        self.names = names

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise InvalidInputError(f"expression: {type(node).__name__} is not allowed")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise InvalidInputError(f"expression: only integer constants are allowed, not {node.value!r}")
        return np.int64(node.value)

    def _Name(self, node: ast.Name) -> Any:
        if node.id not in self.names:
            known = ", ".join(sorted(self.names))
            raise InvalidInputError(f"expression: unknown name {node.id!r} (known: {known})")
        return self.names[node.id]

    def _BinOp(self, node: ast.BinOp) -> Any:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise InvalidInputError(f"expression: operator {type(node.op).__name__} is not allowed")
        left = _as_int(self.eval(node.left))
        right = _as_int(self.eval(node.right))
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and np.any(np.asarray(right) == 0):
            raise InvalidInputError("expression: division or modulo by zero")
        if isinstance(node.op, (ast.Pow, ast.LShift, ast.RShift)) and np.any(np.asarray(right) < 0):
            raise InvalidInputError("expression: negative exponent or shift")
        return op(left, right)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.eval(node.operand)
        if isinstance(node.op, ast.USub):
            return -_as_int(v)
        if isinstance(node.op, ast.UAdd):
            return _as_int(v)
        if isinstance(node.op, ast.Invert):
            return np.invert(_as_int(v))
        if isinstance(node.op, ast.Not):
            return np.logical_not(v)
        raise InvalidInputError(f"expression: unary {type(node.op).__name__} is not allowed")

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result: Any = None
        for op, comp in zip(node.ops, node.comparators):
            fn = _CMPOPS.get(type(op))
            if fn is None:
                raise InvalidInputError(f"expression: comparison {type(op).__name__} is not allowed")
            right = self.eval(comp)
            part = fn(left, right)
            result = part if result is None else np.logical_and(result, part)
            left = right
        return result

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        vals = [np.asarray(self.eval(v), dtype=bool) for v in node.values]
        fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = vals[0]
        for v in vals[1:]:
            out = fn(out, v)
        return out

    def _IfExp(self, node: ast.IfExp) -> Any:
        return np.where(np.asarray(self.eval(node.test), dtype=bool),
                        self.eval(node.body), self.eval(node.orelse))

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in _HELPERS:
            allowed = ", ".join(sorted(_HELPERS))
            raise InvalidInputError(f"expression: only the helpers {allowed} may be called")
        if node.keywords:
            raise InvalidInputError("expression: keyword arguments are not allowed")
        args = [self.eval(a) for a in node.args]
        try:
            return _HELPERS[node.func.id](*args)
        except TypeError as exc:
            raise InvalidInputError(f"expression: {node.func.id}: {exc}") from None


def _parse_expression(expr: str) -> ast.Expression:
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidInputError(f"expression {expr!r}: {exc.msg}") from None


def evaluate_expression(expr: str, x: Any, y: Any, n: int) -> np.ndarray:
    """Evaluate ``expr`` on integer arrays ``x`` and ``y`` (broadcast against each other)
    with the names ``x``, ``y``, ``n`` bound; returns an int64 array."""
    tree = _parse_expression(expr)
    ev = _Evaluator({"x": np.asarray(x, dtype=np.int64), "y": np.asarray(y, dtype=np.int64),
                     "n": np.int64(n)})
    with np.errstate(over="raise"):
        try:
            out = ev.eval(tree)
        except FloatingPointError:
            raise InvalidInputError(f"expression {expr!r}: integer overflow") from None
    out = np.asarray(out)
    if out.dtype == bool:
        out = out.astype(np.int64)
    if not np.issubdtype(out.dtype, np.integer):
        raise InvalidInputError(f"expression {expr!r} must give integers, got {out.dtype}")
    return out.astype(np.int64)


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
    tree = _parse_expression(expr)
    _Evaluator({"x": np.zeros(1, np.int64), "y": np.zeros(1, np.int64), "n": np.int64(n)}).eval(tree)
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
    mod_spec.loader.exec_module(module)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InvalidInputError(f"--function: {path_str} has no callable {attr!r}")
    return _grid_matrix(fn, n, f"{path.name}:{attr}, n={n}", max_entries, n_y)


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
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InvalidInputError(f"--matrix {path}: {exc}") from None
        if arr.ndim != 2:
            raise InvalidInputError(f"--matrix {path}: expected a 2-D array, got shape {arr.shape}")
        check_size(arr.shape[0], arr.shape[1], str(path), max_entries, hint="a smaller matrix")
        return CommMatrix(_compact(arr), path.name)
    rows: list[list[int]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = [f for f in re.split(r"[,\s]+", text) if f]
            try:
                row = [DONT_CARE if f == "*" else int(f) for f in fields]
            except ValueError:
                raise InvalidInputError(f"--matrix {path}, line {lineno}: not an integer row: {text!r}") from None
            if rows and len(row) != len(rows[0]):
                raise InvalidInputError(f"--matrix {path}, line {lineno}: {len(row)} entries, "
                                        f"expected {len(rows[0])} like the first row")
            rows.append(row)
            if len(rows) * len(rows[0]) > max_entries:
                check_size(len(rows), len(rows[0]), str(path), max_entries, hint="a smaller matrix")
    if not rows:
        raise InvalidInputError(f"--matrix {path}: no rows")
    return CommMatrix(_compact(np.array(rows, dtype=np.int64)), path.name)


def build_time(fn: Callable[[], CommMatrix]) -> tuple[CommMatrix, float]:
    t0 = time.perf_counter()
    m = fn()
    return m, time.perf_counter() - t0
