"""The cost model: what a command line will cost, estimated before anything large is
built, and a refusal (:class:`commlb.errors.TooLargeError`) that states the estimate and
the option value that makes the work feasible.

Every command consults it first:

- :func:`check_task_size` — the length of the instances a task gets at problem size n
  (and its options such as k for k-hop), from the reduction built at two small sizes and
  extrapolated as a power law (reductions are polynomial in each parameter), or from the
  task's own ``length(n)`` for tasks without a reduction.  Above :data:`MAX_TOKENS` it
  refuses with the largest n that fits.
- :func:`check_model_size` — parameters and activations of a model of the sizes given
  (--hidden/--layers/--heads/--width) on instances of that length; above
  :data:`MAX_BYTES` or :data:`MAX_SECONDS` of arithmetic it refuses.
- :func:`check_repetitions` — ``count`` repetitions (--trials, --budget, --samples,
  --instances) of a unit of work; above :data:`MAX_SECONDS` it refuses with the count
  that fits.
- :func:`check_input_space` — an input space measured in bits (``InputSpace.bits``,
  never ``2**n`` as an integer).

The estimates are deliberately rough (within a small factor); they exist to tell a
billion from a thousand before a machine runs out of memory, not to predict run times.

Every refusal names the option value that fits and :data:`OVERRIDE_FLAG` (``--no-limit``),
which runs the command anyway: under :func:`limits_lifted` the checks report what they
would have refused (the command prints it on stderr) and return their estimates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from .errors import CommlbError, TooLargeError

__all__ = [
    "MAX_BYTES",
    "MAX_SECONDS",
    "MAX_TOKENS",
    "OVERRIDE_FLAG",
    "check_input_space",
    "check_model_size",
    "check_reduction_size",
    "check_repetitions",
    "check_task_size",
    "estimate_instance",
    "estimate_length",
    "fmt_bytes",
    "fmt_seconds",
    "limits_are_lifted",
    "limits_lifted",
    "machine_bytes",
    "seconds_per_instance",
]

#: Longest instance (tokens) any command builds: sequences, ownership arrays and
#: construction tables all grow with it.
MAX_TOKENS = 1 << 16
#: Largest memory estimate a command may start with.
MAX_BYTES = 2 << 30
#: Longest run a command starts without a time budget of its own.
MAX_SECONDS = 3600.0
#: Longest single forward pass of a model (a command runs many).
MAX_FORWARD_SECONDS = 60.0
# rough throughputs for the estimates
_FLOPS = 2e8              # exact int64 multiply-adds per second in numpy
_TOKENS_PER_SECOND = 2e5  # tokens encoded, run and checked per second by the protocol engine


#: the command-line option that runs a command past the limits above, knowingly
OVERRIDE_FLAG = "--no-limit"
_LIFTED: ContextVar[Callable[[str], None] | None] = ContextVar("commlb_limits_lifted", default=None)


@contextmanager
def limits_lifted(report: Callable[[str], None] | None = None) -> Iterator[None]:
    """Within this block the checks below do not refuse: each estimate past a limit is
    passed to ``report`` (a one-line description) and the work goes ahead."""
    token = _LIFTED.set(report if report is not None else (lambda message: None))
    try:
        yield
    finally:
        _LIFTED.reset(token)


def limits_are_lifted() -> bool:
    """True inside :func:`limits_lifted` (for checks of a command's own that follow the
    same rule)."""
    return _LIFTED.get() is not None


def machine_bytes() -> float:
    """Memory this process can have: the physical memory, or the address-space limit
    (``RLIMIT_AS``) when that is smaller; infinity when neither can be read."""
    import os

    mem = math.inf
    try:
        mem = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # not a POSIX system: no figure
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            mem = min(mem, float(soft))
    except ImportError:  # no resource module (Windows)
        pass
    return mem


def _refuse(what: str, fix: str, need_bytes: float | None = None) -> None:
    """Refuse ``what`` (the estimate against the limit) naming ``fix`` (the option value
    that fits) and the override.  Under :func:`limits_lifted` report it and return, unless
    ``need_bytes`` is more memory than the machine has: that is refused even then."""
    report = _LIFTED.get()
    if report is None:
        raise TooLargeError(f"{what}: {fix}, or {OVERRIDE_FLAG} to run it anyway")
    mem = machine_bytes()
    if need_bytes is not None and need_bytes > mem:
        raise TooLargeError(f"{what}; that is more than the {fmt_bytes(mem)} of memory this process can have, "
                            f"even with {OVERRIDE_FLAG}: {fix}")
    report(what)


def fmt_bytes(b: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            v = b / size
            return f"{v:.3g} {unit}" if v < 1e6 else f"{v:.2e} {unit}"
    return f"{b:.0f} B"


def fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    if s < 3.2e9:
        return f"{s / 86400:.3g} days"
    return f"{s / 3.15e7:.2e} years"


def _num(v: float) -> str:
    return f"{v:,.0f}" if v < 1e7 else f"{v:.3g}"


# ------------------------------------------------------------------ instance length


def _task_defaults() -> Mapping[str, Any]:
    from .setup import TASK_DEFAULTS

    return TASK_DEFAULTS


class _Unmeasurable(Exception):
    """The reduction refused to build at a small size because it would be too large:
    it grows faster than a power law in some parameter."""

    def __init__(self, key: str, value: int, message: str):
        super().__init__(message)
        self.key, self.value, self.message = key, value, message


@lru_cache(maxsize=512)
def _measured(reduction: str, params: tuple[tuple[str, Any], ...]) -> tuple[int, int] | None:
    """(tokens, bytes) of one encoded instance of ``reduction`` at these (small)
    parameters; None when it cannot be built there.  A TooLargeError from the
    reduction's own check propagates (the parameters are already too large)."""
    import numpy as np

    from .registry import get_reduction

    try:
        red = get_reduction(reduction, **dict(params))
        x, y = red.problem.sample(np.random.default_rng(0))
        inst = red.encode(x, y)
        tokens = np.asarray(inst.tokens)
        return len(inst), int(tokens.nbytes)
    except TooLargeError:
        raise
    except CommlbError:  # the reduction refuses these parameters: no estimate; any other error is a bug
        return None


_SMALL = 64  # parameters above this are extrapolated rather than built
#: Largest instance (its token array, in bytes) any command builds.
MAX_INSTANCE_BYTES = 64 << 20


def _base_params(reduction: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """(params with every large integer replaced by a small base value, the large ones)."""
    from .registry import is_known, reduction_factory

    if not is_known("reduction", reduction):
        raise CommlbError(f"unknown reduction {reduction!r}")  # the command's own lookup names the choices
    example = dict(getattr(reduction_factory(reduction), "example_params", {}) or {})
    big = {k: int(v) for k, v in params.items()
           if isinstance(v, int) and not isinstance(v, bool) and v > _SMALL}
    base = dict(params)
    for key in big:
        base[key] = 16 if key == "n" else max(2, min(int(example.get(key, 4)), 8))
    return base, big


def _measure(reduction: str, params: Mapping[str, Any]) -> tuple[int, int] | None:
    return _measured(reduction, tuple(sorted(params.items())))


def _length(reduction: str, params: Mapping[str, Any]) -> int | None:
    m = _measure(reduction, params)
    return None if m is None else m[0]


def _exponents(reduction: str, base: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    """Local power-law exponents of (tokens, bytes) in ``key`` around ``base`` (from
    base·2 to base·4, where lower-order terms matter less)."""
    p2, p4 = dict(base), dict(base)
    p2[key] = 2 * base[key]
    p4[key] = 4 * base[key]
    try:
        m2, m4 = _measure(reduction, p2), _measure(reduction, p4)
    except TooLargeError as exc:
        raise _Unmeasurable(key, 4 * int(base[key]), str(exc)) from None
    if m2 is None or m4 is None:
        return None
    return (max(math.log2(max(m4[0], 1) / max(m2[0], 1)), 0.0),
            max(math.log2(max(m4[1], 1) / max(m2[1], 1)), 0.0))


def estimate_instance(reduction: str, params: Mapping[str, Any]) -> tuple[float, float] | None:
    """Estimated (tokens, bytes) of an instance of ``reduction`` at ``params``,
    extrapolated from small sizes as a power law in each large parameter; None when
    every parameter is small (building it is the cheapest estimate) or it cannot be
    estimated.  Raises :class:`_Unmeasurable` for growth faster than a power law (the
    reduction already refuses at a small value)."""
    try:
        base, big = _base_params(reduction, params)
    except CommlbError:
        return None
    if not big:
        return None
    try:
        measured = _measure(reduction, base)
    except TooLargeError as exc:
        key = next(iter(big))
        raise _Unmeasurable(key, int(base[key]), str(exc)) from None
    if measured is None:
        return None
    tokens, nbytes = float(measured[0]), float(measured[1])
    for key, value in big.items():
        e = _exponents(reduction, base, key)
        if e is None:
            return None
        tokens *= (value / base[key]) ** e[0]
        nbytes *= (value / base[key]) ** e[1]
    return tokens, nbytes


def estimate_length(reduction: str, params: Mapping[str, Any]) -> float | None:
    """Estimated tokens of an instance (see :func:`estimate_instance`)."""
    est = estimate_instance(reduction, params)
    return None if est is None else est[0]


def _fits(est: tuple[float, float] | None) -> bool:
    return est is not None and est[0] <= MAX_TOKENS and est[1] <= MAX_INSTANCE_BYTES


def _largest_value(reduction: str, params: Mapping[str, Any], key: str, exponential: bool = False) -> int:
    """The largest value of ``key`` (the others as in ``params``) whose instances stay
    within the limits.  For a power law, bisection over the estimate; for faster growth,
    a scan upwards that never builds an instance predicted to be over the limit."""

    def estimate(v: int) -> tuple[float, float] | None:
        trial = dict(params)
        trial[key] = v
        try:
            est = estimate_instance(reduction, trial)
            if est is None:
                m = _measure(reduction, trial)
                est = None if m is None else (float(m[0]), float(m[1]))
        except (_Unmeasurable, TooLargeError):
            return None
        return est

    if exponential:
        best, prev = 0, None
        for v in range(1, 65):
            est = estimate(v)
            if not _fits(est):
                break
            assert est is not None
            best = v
            if prev and est[0] * est[0] / prev > 4 * MAX_TOKENS:
                break  # the next one would be far over: do not build it
            prev = est[0]
        return best

    lo, hi = 1, int(params[key])
    if not _fits(estimate(lo)):
        return 0
    step = 1
    while lo + step < hi and _fits(estimate(lo + step)):
        lo += step
        step *= 2
    hi = min(hi, lo + step)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits(estimate(mid)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_task_size(task: str, n: int | None, options: Mapping[str, Any] | None = None,
                    reduction: str | None = None, command: str = "") -> float | None:
    """Refuse a task whose instances at size ``n`` (with ``options`` such as k) would be
    longer than :data:`MAX_TOKENS`, with the largest value that fits.  Returns the length
    estimate (None when it is small or cannot be estimated)."""
    defaults = _task_defaults()
    spec = defaults.get(task) if isinstance(task, str) else None
    if spec is None:
        if isinstance(reduction, str) and n is not None:  # a user's task or reduction: measure the reduction
            try:
                return check_reduction_size(reduction, {"n": int(n), **{k: v for k, v in (options or {}).items()
                                                                        if v is not None}}, command=command)
            except CommlbError as exc:
                if isinstance(exc, TooLargeError):
                    raise
                return None  # the command's own look-up refuses a bad name or parameter
        return None  # an unknown task: the command's own lookup says so
    options = {k: v for k, v in (options or {}).items() if v is not None}
    for key, value in getattr(spec, "option_defaults", ()):
        options.setdefault(key, value)
    size = n if n is not None else spec.n
    if task == "qsa" and "q" in options:
        size = options.pop("q")
    red_name = reduction or spec.reduction
    who = f"{command}: " if command else ""

    def flag_for(key: str) -> tuple[str, str]:
        if key == "n":
            return ("--q" if task == "qsa" and command != "check-reduction" else "--n"), " "
        if command in ("sweep", "explain"):
            return f"--task-option {key}", "="
        if command == "check-reduction":
            return f"-p {key}", "="
        return f"--{key}", " "

    if red_name is None:
        try:
            from .registry import get_task

            small = {k: v for k, v in options.items() if not (isinstance(v, int) and v > _SMALL)}
            length = float(get_task(task, **small).length(int(size)))
        except CommlbError:  # the task refuses these options: the command's own build says why
            return None
        if length > MAX_TOKENS:
            flag, sep = flag_for("n")
            feasible = max(1, int(size * MAX_TOKENS / length))
            _refuse(f"{who}{flag}{sep}{_num(size)} gives {task} instances of {_num(length)} tokens; commlb "
                    f"builds instances of up to {MAX_TOKENS:,} tokens", f"use {flag}{sep}{_num(feasible)} or smaller",
                    need_bytes=8.0 * length)
        return length
    params = {"n": int(size), **options}
    return check_reduction_size(red_name, params, command=command, flag_for=flag_for, label=task)


def check_reduction_size(reduction: str, params: Mapping[str, Any], command: str = "",
                         flag_for: Callable[[str], tuple[str, str]] | None = None,
                         label: str | None = None) -> float | None:
    """Refuse ``reduction`` at ``params`` when its instances would be longer than
    :data:`MAX_TOKENS` (the message names the option through ``flag_for(key)`` ->
    (flag, separator)).  Returns the estimate, or None when small or not estimable."""
    who = f"{command}: " if command else ""
    label = label or reduction
    params = dict(params)
    if flag_for is None:
        def flag_for(key: str) -> tuple[str, str]:
            return (f"--{key}", " ") if key == "n" else (f"-p {key}", "=")
    try:
        est = estimate_instance(reduction, params)
    except _Unmeasurable as exc:
        flag, sep = flag_for(exc.key)
        feasible = _largest_value(reduction, params, exc.key, exponential=True)
        # the reduction's own limit refuses far below this value: no override can help
        raise TooLargeError(
            f"{who}{flag}{sep}{_num(params[exc.key])}: {label} instances grow faster than any power of "
            f"{exc.key} ({reduction} at {exc.key} = {exc.value} already: {exc.message}); use "
            f"{flag}{sep}{_num(max(feasible, 1))} or smaller") from None
    if est is None:
        try:  # small parameters: build it, it is cheap, and the length is then exact
            _base, big = _base_params(reduction, params)
            m = None if big else _measure(reduction, params)
        except (CommlbError, TooLargeError):
            m = None
        return None if m is None else float(m[0])
    if _fits(est):
        return est[0]
    length, nbytes = est
    _base, big = _base_params(reduction, params)
    # the parameter to shrink: n when it is large, else the first large one
    key = "n" if "n" in big else next(iter(big))
    feasible = _largest_value(reduction, params, key)
    flag, sep = flag_for(key)
    _refuse(f"{who}{flag}{sep}{_num(params[key])} gives {label} instances of about {_num(length)} tokens "
            f"taking {fmt_bytes(nbytes)} ({reduction}); commlb builds instances of up to {MAX_TOKENS:,} "
            f"tokens and {fmt_bytes(MAX_INSTANCE_BYTES)} (a model's activations are many times that)",
            f"use {flag}{sep}{_num(max(feasible, 1))} or smaller", need_bytes=max(nbytes, 8.0 * length))
    return length


# ------------------------------------------------------------------ models


def check_model_size(family: str, length: float | None, *, hidden: int | None = None,
                     layers: int | None = None, heads: int | None = None, width: int | None = None,
                     command: str = "") -> None:
    """Refuse model sizes whose parameters or activations on instances of ``length``
    tokens exceed :data:`MAX_BYTES`, or whose forward pass would take longer than
    :data:`MAX_SECONDS`.  Sizes left as None (the construction's choice) count as small."""
    who = f"{command}: " if command else ""
    if family not in ("transformer", "rnn", "ffn"):
        return  # a plugin's family (its own sizes) or an unknown name, which the command refuses
    L = max(1.0, float(length or 64))
    layers_ = float(layers or 1)
    if family == "transformer":
        m = float(width or 16)
        h = float(heads or 1)
        params = layers_ * (4.0 * m * m + 2.0 * h * m)
        activations = L * m * layers_ + h * L * L
        flops = layers_ * (L * 4.0 * m * m + h * L * L * m)
        knobs = [("--width", width, 2.0), ("--heads", heads, 1.0), ("--layers", layers, 1.0)]
    elif family == "rnn":
        d = float(hidden or 16)
        params = layers_ * (d * d + 4.0 * d)
        activations = L * d * layers_
        flops = L * params
        knobs = [("--hidden", hidden, 2.0), ("--layers", layers, 1.0)]
    else:  # ffn: one hidden layer over the whole flattened input
        d = float(hidden or 16)
        params = layers_ * d * (L + d)
        activations = d * layers_
        flops = params
        knobs = [("--hidden", hidden, 1.0), ("--layers", layers, 1.0)]
    need = 8.0 * max(params, activations)
    # arithmetic, plus a fixed cost per layer and token of the exact (int64) engine
    seconds = flops / _FLOPS + layers_ * (1e-3 + L * 2e-5)
    if need <= MAX_BYTES and seconds <= MAX_FORWARD_SECONDS:
        return
    given = [(flag, v, e) for flag, v, e in knobs if v is not None and v > 1]
    if not given:
        return  # the construction chose these sizes; it has its own checks
    flag, value, e = max(given, key=lambda t: t[1] ** t[2])
    factor = max(need / MAX_BYTES, seconds / MAX_FORWARD_SECONDS)
    feasible = max(1, int(value / factor ** (1.0 / e)))
    _refuse(f"{who}a {family} with {flag} {_num(value)} on {_num(L)}-token instances needs about "
            f"{_num(params)} parameters, {fmt_bytes(need)} of memory and ~{fmt_seconds(seconds)} per "
            "forward pass", f"use {flag} {_num(feasible)} or smaller", need_bytes=need)


# ------------------------------------------------------------------ repetitions


def check_repetitions(count: float, seconds_each: float, flag: str, what: str, command: str = "",
                      limit: float = MAX_SECONDS) -> None:
    """Refuse ``count`` repetitions of work taking ``seconds_each`` when together they
    would take longer than ``limit`` seconds."""
    total = float(count) * seconds_each
    if total <= limit:
        return
    who = f"{command}: " if command else ""
    feasible = max(1, int(limit / max(seconds_each, 1e-12)))
    _refuse(f"{who}{flag} {_num(count)} means {_num(count)} {what} at about "
            f"{seconds_each * 1e3:.2g} ms each, ~{fmt_seconds(total)}", f"use {flag} {_num(feasible)} or fewer")


def seconds_per_instance(length: float | None) -> float:
    """Rough seconds to encode, run and check one instance of ``length`` tokens."""
    return 2e-4 + float(length or 64) / _TOKENS_PER_SECOND


def check_input_space(bits: float, limit_bits: float, what: str, hint: str, command: str = "") -> None:
    """Refuse enumerating an input space of 2^bits elements above 2^limit_bits."""
    if bits <= limit_bits:
        return
    who = f"{command}: " if command else ""
    _refuse(f"{who}{what} has 2^{bits:.4g} elements (the limit is 2^{limit_bits:g})", hint)
