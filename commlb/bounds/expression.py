"""Exact evaluation of ``commlb bounds --function`` expressions over integers x, y.

An expression over x, y in [0, 2^n) (with the helpers popcount, bit, parity, min, max, abs,
where, each taking exactly its documented arguments) is parsed with :mod:`ast` and
evaluated by a small interpreter of its own, never by ``eval``.  Values are exact: no
result is ever wrapped modulo 2^64 (see the comment below for how).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidInputError, TooLargeError
from .matrix import DONT_CARE, MAX_VALUE

# Expressions are evaluated exactly.  First over int64 with every operation checked
# against 2^62 (a conservative test: near the edge it may report an overflow that would
# not happen); at the first possible overflow the block is evaluated again over Python
# integers (numpy object arrays), with the size of every intermediate bounded so that
# ``9**9**9`` is refused rather than computed.  A value is never wrapped modulo 2^64.

_SAFE = float(2**62)
#: Largest number of matrix entries evaluated with Python integers.
EXACT_MAX_ENTRIES = 1 << 20
#: Bits of all Python-integer intermediates of one block together.
_EXACT_TOTAL_BITS = 1 << 31
_EXACT_MAX_BITS = 1 << 20


class _Overflow(Exception):
    """An int64 operation might overflow: evaluate again with Python integers."""


def _fabs(v: Any) -> np.ndarray:
    return np.abs(np.asarray(v, dtype=np.float64))


def _bitlen(v: Any) -> np.ndarray:
    return np.asarray(np.frompyfunc(lambda t: abs(int(t)).bit_length(), 1, 1)(v), dtype=np.int64)


class _Arith:
    """Integer arithmetic with the documented semantics (floor division, modulo with the
    sign of the divisor, shifts of non-negative amounts), checked in int64 or exact."""

    def __init__(self, exact: bool, entries: int):
        self.exact = exact
        self.max_bits = max(64, min(_EXACT_MAX_BITS, _EXACT_TOTAL_BITS // max(1, entries)))

    def const(self, value: int) -> Any:
        if self.exact:
            return np.array(value, dtype=object)
        if abs(value) >= _SAFE:
            raise _Overflow
        return np.int64(value)

    def var(self, arr: np.ndarray) -> Any:
        return arr.astype(object) if self.exact else arr.astype(np.int64)

    def _fit(self, r: Any) -> Any:
        if self.exact:
            r = np.asarray(r, dtype=object)
            if r.size and int(np.max(_bitlen(r))) > self.max_bits:
                raise TooLargeError(f"expression: an intermediate value has more than {self.max_bits} bits; "
                                    "use a smaller expression or --n")
        return r

    def binop(self, op: type, a: Any, b: Any) -> Any:
        a, b = np.asarray(a), np.asarray(b)
        if op in (ast.FloorDiv, ast.Mod) and np.any(b == 0):
            raise InvalidInputError("expression: division or modulo by zero")
        if op in (ast.Pow, ast.LShift, ast.RShift) and np.any(b < 0):
            raise InvalidInputError("expression: negative exponent or shift")
        if self.exact:
            return self._exact(op, a, b)
        fa, fb = _fabs(a), _fabs(b)
        if op in (ast.Add, ast.Sub):
            bad = np.any(fa + fb >= _SAFE)
        elif op is ast.Mult:
            bad = np.any(fa * fb >= _SAFE)
        elif op is ast.Pow:
            with np.errstate(over="ignore"):
                bad = np.any((fa >= 2) & ((fb >= 63) | (np.power(fa, np.minimum(fb, 63)) >= _SAFE)))
        elif op is ast.LShift:
            with np.errstate(over="ignore"):
                bad = np.any((fa > 0) & ((fb >= 62) | (fa * np.exp2(np.minimum(fb, 62)) >= _SAFE)))
        elif op is ast.RShift:
            bad = np.any(fb >= 63)
        elif op in (ast.FloorDiv, ast.Mod):
            bad = np.any(fa >= _SAFE)
        else:  # bitwise and, or, xor: no overflow
            bad = np.False_
        if bad:
            raise _Overflow
        return _INT64_OPS[op](a, b)

    def _exact(self, op: type, a: Any, b: Any) -> Any:
        if op is ast.Pow:
            big = np.asarray(np.frompyfunc(lambda u, v: abs(int(u)) > 1 and int(v) * abs(int(u)).bit_length()
                                           > self.max_bits, 2, 1)(a, b), dtype=bool)
            if np.any(big):
                raise TooLargeError(f"expression: a power has more than {self.max_bits} bits; use a smaller "
                                    "expression or --n")
        if op is ast.LShift:
            big = np.asarray(np.frompyfunc(lambda u, v: int(u) != 0 and int(v) > self.max_bits, 2, 1)(a, b),
                             dtype=bool)
            if np.any(big):
                raise TooLargeError(f"expression: a shift by more than {self.max_bits} bits; use a smaller "
                                    "expression or --n")
        fn = _PY_OPS[op]
        return self._fit(np.frompyfunc(lambda u, v: fn(int(u), int(v)), 2, 1)(a, b))

    def neg(self, a: Any) -> Any:
        if not self.exact and np.any(_fabs(a) >= _SAFE):
            raise _Overflow
        return self._fit(-np.asarray(a))

    def absolute(self, a: Any) -> Any:
        if not self.exact and np.any(_fabs(a) >= _SAFE):
            raise _Overflow
        return self._fit(np.frompyfunc(lambda u: abs(int(u)), 1, 1)(a)) if self.exact else np.abs(a)

    def invert(self, a: Any) -> Any:
        if self.exact:
            return np.frompyfunc(lambda u: ~int(u), 1, 1)(a)
        return np.invert(np.asarray(a, dtype=np.int64))

    def popcount(self, a: Any) -> Any:
        a = np.asarray(a)
        if np.any(a < 0):
            raise InvalidInputError("expression: popcount of a negative number")
        if self.exact:
            return np.frompyfunc(lambda u: int(u).bit_count(), 1, 1)(a)
        return np.bitwise_count(a.astype(np.int64)).astype(np.int64)


_INT64_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod, ast.Pow: np.power, ast.BitAnd: np.bitwise_and, ast.BitOr: np.bitwise_or,
    ast.BitXor: np.bitwise_xor, ast.LShift: np.left_shift, ast.RShift: np.right_shift,
}
_PY_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
#: helper -> (smallest, largest) number of arguments (None: no limit)
_HELPER_ARITY: dict[str, tuple[int, int | None]] = {
    "popcount": (1, 1), "bit": (2, 2), "parity": (1, 1), "min": (2, None), "max": (2, None),
    "abs": (1, 1), "where": (3, 3),
}
_HELPERS = _HELPER_ARITY  # the names an expression may call


def _as_int(v: Any, arith: _Arith) -> Any:
    a = np.asarray(v)
    if a.dtype == bool:
        return a.astype(object if arith.exact else np.int64)
    return a


class _Evaluator:
    def __init__(self, names: dict[str, Any], arith: _Arith | None = None):
        self.arith = arith or _Arith(exact=False, entries=1)
        self.names = {k: self.arith.var(np.asarray(v)) for k, v in names.items()}

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise InvalidInputError(f"expression: {type(node).__name__} is not allowed")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise InvalidInputError(f"expression: only integer constants are allowed, not {node.value!r}"[:200])
        return self.arith.const(node.value)

    def _Name(self, node: ast.Name) -> Any:
        if node.id not in self.names:
            known = ", ".join(sorted(self.names))
            raise InvalidInputError(f"expression: unknown name {node.id!r} (known: {known})")
        return self.names[node.id]

    def _BinOp(self, node: ast.BinOp) -> Any:
        if type(node.op) not in _INT64_OPS:
            raise InvalidInputError(f"expression: operator {type(node.op).__name__} is not allowed")
        left = _as_int(self.eval(node.left), self.arith)
        right = _as_int(self.eval(node.right), self.arith)
        return self.arith.binop(type(node.op), left, right)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.eval(node.operand)
        if isinstance(node.op, ast.USub):
            return self.arith.neg(_as_int(v, self.arith))
        if isinstance(node.op, ast.UAdd):
            return _as_int(v, self.arith)
        if isinstance(node.op, ast.Invert):
            return self.arith.invert(_as_int(v, self.arith))
        if isinstance(node.op, ast.Not):
            return np.logical_not(np.asarray(v).astype(bool))
        raise InvalidInputError(f"expression: unary {type(node.op).__name__} is not allowed")

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result: Any = None
        for op, comp in zip(node.ops, node.comparators):
            fn = _CMPOPS.get(type(op))
            if fn is None:
                raise InvalidInputError(f"expression: comparison {type(op).__name__} is not allowed")
            right = self.eval(comp)
            part = np.asarray(fn(np.asarray(left), np.asarray(right))).astype(bool)
            result = part if result is None else np.logical_and(result, part)
            left = right
        return result

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        vals = [np.asarray(self.eval(v)).astype(bool) for v in node.values]
        fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = vals[0]
        for v in vals[1:]:
            out = fn(out, v)
        return out

    def _IfExp(self, node: ast.IfExp) -> Any:
        return np.where(np.asarray(self.eval(node.test)).astype(bool),
                        _as_int(self.eval(node.body), self.arith), _as_int(self.eval(node.orelse), self.arith))

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in _HELPER_ARITY:
            allowed = ", ".join(sorted(_HELPER_ARITY))
            raise InvalidInputError(f"expression: only the helpers {allowed} may be called")
        if node.keywords:
            raise InvalidInputError("expression: keyword arguments are not allowed")
        name = node.func.id
        lo, hi = _HELPER_ARITY[name]
        count = len(node.args)
        if count < lo or (hi is not None and count > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise InvalidInputError(f"expression: {name}() takes {want} argument{'s' if want != '1' else ''}, "
                                    f"got {count}")
        args = [_as_int(self.eval(a), self.arith) for a in node.args]
        if name == "popcount":
            return self.arith.popcount(args[0])
        if name == "parity":
            return self.arith.binop(ast.BitAnd, self.arith.popcount(args[0]), self.arith.const(1))
        if name == "bit":
            return self.arith.binop(ast.BitAnd, self.arith.binop(ast.RShift, args[0], args[1]), self.arith.const(1))
        if name == "abs":
            return self.arith.absolute(args[0])
        if name == "where":
            return np.where(np.asarray(args[0]).astype(bool), args[1], args[2])
        out = args[0]
        pick = np.minimum if name == "min" else np.maximum
        for a in args[1:]:
            out = pick(np.asarray(out), np.asarray(a))
        return out


def _parse_expression(expr: str) -> ast.Expression:
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidInputError(f"expression {_short(expr)!r}: {exc.msg}") from None
    except ValueError:  # e.g. an integer literal above the 4300-digit conversion limit
        raise InvalidInputError(f"expression {_short(expr)!r}: an integer literal has more than 4300 digits; "
                                "write it as a power, e.g. 10**5000") from None


def _short(expr: str) -> str:
    expr = " ".join(expr.split())
    return expr if len(expr) <= 60 else f"{expr[:40]}...({len(expr)} characters)"


def evaluate_expression(expr: str, x: Any, y: Any, n: int) -> np.ndarray:
    """Evaluate ``expr`` exactly on integer arrays ``x`` and ``y`` (broadcast against
    each other) with the names ``x``, ``y``, ``n`` bound.  Returns an int64 array when
    every value fits in int64; values outside it are refused (InvalidInputError), and
    work too large for exact evaluation is refused (TooLargeError)."""
    tree = _parse_expression(expr)
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    entries = int(np.prod(np.broadcast_shapes(x.shape, y.shape)))
    names = {"x": x, "y": y, "n": np.int64(n)}
    try:
        out = np.asarray(_Evaluator(names, _Arith(exact=False, entries=entries)).eval(tree))
    except _Overflow:
        if entries > EXACT_MAX_ENTRIES:
            raise TooLargeError(
                f"expression {_short(expr)!r}: values leave the 64-bit range, and exact evaluation is limited to "
                f"{EXACT_MAX_ENTRIES:,} entries; use --n {int(math.log2(EXACT_MAX_ENTRIES)) // 2} or smaller"
            ) from None
        out = np.asarray(_Evaluator(names, _Arith(exact=True, entries=entries)).eval(tree))
    if out.dtype == bool:
        return out.astype(np.int64)
    if out.dtype == object:
        if out.size and not all(isinstance(v, (int, np.integer)) for v in out.reshape(-1)[:1]):
            raise InvalidInputError(f"expression {_short(expr)!r} must give integers")
        lo, hi = (int(out.min()), int(out.max())) if out.size else (0, 0)
        if lo < DONT_CARE or hi > MAX_VALUE:
            raise InvalidInputError(f"expression {_short(expr)!r}: values must lie in [0, {MAX_VALUE}] (or "
                                    f"{DONT_CARE} for don't care); found [{_short_int(lo)}, {_short_int(hi)}]")
        return out.astype(np.int64)
    if not np.issubdtype(out.dtype, np.integer):
        raise InvalidInputError(f"expression {_short(expr)!r} must give integers, got {out.dtype}")
    return out.astype(np.int64)


def _short_int(v: int) -> str:
    from ..validate import short_number

    return short_number(v)
