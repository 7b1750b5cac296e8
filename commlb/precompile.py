"""Compile the numba kernels that commands use first, once per install (``commlb precompile``).

Every kernel is compiled with ``cache=True``: the first call in a fresh install compiles it
(seconds to tens of seconds of CPU each; ``commlb witness --n 24`` on an RNN compiles about
23 s of CPU) and writes the machine code to numba's cache, which later processes load in
milliseconds.  :func:`precompile` pays that cost up front by running each group's usual
work on small inputs through the compiled backend, so the exact signatures the commands
use land in the cache:

* ``witness`` — the exhaustive witness search: the RNN prefix-tree enumeration, the
  grouping of message keys into runs, the per-input rows and keys of hashed messages, and
  the additive tables of FFNs and one-layer transformers (:mod:`commlb.witness`);
* ``rnn`` — the RNN cell over long sequences and the protocol replay of an interleaved
  split (:mod:`commlb.kernels.rnn`);
* ``bounds`` — the bounds of ``commlb bounds`` on a 128 x 128 matrix (rank over GF(2) and
  GF(p), fooling sets, the one-way count), each search stopped after a fraction of a
  second, and the exact-D search on a 24 x 24 matrix (run to the end: a search started
  with less time than its compilation takes is not started, so the kernels would
  otherwise stay uncompiled).

With ``bytecode=True`` (``commlb precompile --bytecode``) it also writes the compiled
bytecode of every module the groups and the commands' output loaded, from commlb and the
installed packages (numba, NumPy, SciPy, rich, ...), where it is missing or out of date
(:func:`compile_bytecode`): what ``pip install`` does at install time and Python on first
import, except where an installer skips it (``uv pip install`` without
``--compile-bytecode``) and ``PYTHONDONTWRITEBYTECODE`` is set; then every command
compiles those modules from source as it starts (about 1.5 s of CPU for ``commlb witness``
on a numba kernel, against 0.5 s to read their bytecode).

Short commands need none of this: below their size thresholds they run the plain twins
and never load numba (e.g. ``commlb bounds --problem ip --n 4`` or ``commlb witness ...
--n 12``).  Where numba writes its cache: ``NUMBA_CACHE_DIR`` when set, else a
``__pycache__`` folder beside each kernel's source (or a per-user folder when that is not
writable).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["GROUPS", "Group", "precompile", "cache_location", "compile_bytecode", "Bytecode"]


@dataclass(frozen=True)
class Group:
    name: str
    what: str
    run: Callable[[], None]


def _witness() -> None:
    from .witness import find_witness

    # 2^13 inputs: above the size where the search switches to its compiled kernels
    find_witness("disjointness", "rnn", 13, hidden=16, precision=16)  # hashed messages, no collision
    find_witness("disjointness", "rnn", 13, hidden=8, precision=10)  # hashed, colliding: per-input rows
    find_witness("index-lookup", "rnn", 13, hidden=2, precision=4)  # packed messages, colliding
    find_witness("index-lookup", "ffn", 13, hidden=4, precision=20, weights="random")
    find_witness("disjointness", "transformer", 13, layers=1, heads=1, width=1, precision=3)


def _rnn() -> None:
    import numpy as np

    from .models.rnn import RNNModel
    from .protocol import simulate
    from .protocol.core import Split
    from .protocol.rnn import replay_segments
    from .setup import resolve_task
    from .witness.find import witness_model

    setup = resolve_task("disjointness", 160)
    model = witness_model(setup, "rnn", hidden=16, precision=16)[0].model
    inst = setup.example_instance()
    tokens = np.asarray(inst.tokens)
    dense = RNNModel.random(4, np.random.default_rng(0), hidden=8)  # random weights: the dense cell
    dense.run(dense.initial_state(), tokens[:64] % 4, backend="numba")
    for spec in ("reduction", "interleave"):
        split = Split.parse(spec, inst)
        tr, out = simulate(model, tokens, split, verify="all")  # both checks: the replay's step check too
        replay_segments(model, tokens, split, tr, out)  # the replay's chain pass (runs too long to keep)
    model.run(model.initial_state(), tokens, backend="numba")


def _bounds() -> None:
    from .bounds.matrix import matrix_from_problem
    from .bounds.report import compute_bounds

    compute_bounds(matrix_from_problem("ip", 7), time_limit=0.3)
    compute_bounds(matrix_from_problem("disj", 7), time_limit=0.3)
    # the exact-D search (the 128 x 128 matrices above have too many distinct rows for it):
    # a 24 x 24 noisy low-rank matrix whose D the search proves and rebuilds a tree for
    from .bounds.exact import deterministic_complexity
    from .testing.hard_matrices import hard_matrix

    deterministic_complexity(hard_matrix("noisy-lowrank", 24, 0, rank=3, noise=0.05, values=4), time_limit=600.0)


GROUPS: dict[str, Group] = {
    "witness": Group("witness", "witness search (RNN prefix tree, key grouping, message rows, additive tables)",
                     _witness),
    "rnn": Group("rnn", "RNN cell over long sequences and interleaved protocol replay", _rnn),
    "bounds": Group("bounds", "bounds kernels (ranks over GF(2) and GF(p), fooling sets, exact search)", _bounds),
}


def cache_location() -> str:
    """Where numba writes the compiled kernels (for the user)."""
    import os

    env = os.environ.get("NUMBA_CACHE_DIR")
    return env if env else "a __pycache__ folder beside each kernel's source (numba's default)"


def precompile(groups: list[str] | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> list[tuple[str, float]]:
    """Run the chosen groups (all by default) through the compiled kernels; returns
    (group, seconds) for each.  ``progress(i, total, what)`` is called before group i."""
    names = list(GROUPS) if groups is None else list(groups)
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        from .errors import InvalidInputError

        raise InvalidInputError(f"unknown precompile group {unknown[0]!r}; choose from {', '.join(GROUPS)}")
    out = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), GROUPS[name].what)
        t = time.perf_counter()
        GROUPS[name].run()
        out.append((name, time.perf_counter() - t))
    return out


@dataclass(frozen=True)
class Bytecode:
    """Modules of commlb and the installed packages loaded in this process, by the state of
    their compiled bytecode: ``compiled`` now, already ``current``, ``missing`` (not written:
    :func:`compile_bytecode` was asked only to count) or ``unwritable``."""

    compiled: int = 0
    current: int = 0
    missing: int = 0
    unwritable: int = 0


def _package_roots() -> list[str]:
    import sysconfig

    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    roots.add(os.path.dirname(os.path.abspath(__file__)))  # commlb (an editable install too)
    return sorted(os.path.join(os.path.realpath(r), "") for r in roots)


def _is_current(source: str, cached: str) -> bool:
    """Whether ``cached`` is bytecode Python would accept for ``source`` (its header's
    source modification time and size match, or it is checked by hash)."""
    from importlib.util import MAGIC_NUMBER

    try:
        with open(cached, "rb") as fh:
            head = fh.read(16)
        st = os.stat(source)
    except OSError:
        return False
    if len(head) < 16 or head[:4] != MAGIC_NUMBER:
        return False
    if int.from_bytes(head[4:8], "little") != 0:
        return True  # hash-based: checked (or trusted) by Python at import
    return (int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF)


def compile_bytecode(write: bool = True) -> Bytecode:
    """Compile the bytecode of every module loaded in this process from commlb or from the
    installed packages (site-packages) whose bytecode is missing or out of date, where
    Python looks for it (``__pycache__`` beside the source, or under
    ``PYTHONPYCACHEPREFIX``).  ``write=False`` only counts.  The standard library is left
    as installed."""
    import importlib.util
    import py_compile

    roots = _package_roots()
    compiled = current = missing = unwritable = 0
    seen: set[str] = set()
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if not isinstance(source, str) or not source.endswith(".py"):
            continue
        real = os.path.realpath(source)
        if real in seen or not any(real.startswith(root) for root in roots):
            continue
        seen.add(real)
        try:
            cached = importlib.util.cache_from_source(source)
        except (NotImplementedError, ValueError):
            continue
        if _is_current(source, cached):
            current += 1
        elif not write:
            missing += 1
        else:
            try:
                py_compile.compile(source, cfile=cached, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
                compiled += 1
            except (OSError, py_compile.PyCompileError):
                unwritable += 1
    return Bytecode(compiled, current, missing, unwritable)

