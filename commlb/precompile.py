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

Short commands need none of this: below their size thresholds they run the plain twins
and never load numba (e.g. ``commlb bounds --problem ip --n 4`` or ``commlb witness ...
--n 12``).  Where numba writes its cache: ``NUMBA_CACHE_DIR`` when set, else a
``__pycache__`` folder beside each kernel's source (or a per-user folder when that is not
writable).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["GROUPS", "Group", "precompile", "cache_location"]


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

    from .protocol import simulate
    from .protocol.core import Split
    from .setup import resolve_task
    from .witness.find import witness_model

    setup = resolve_task("disjointness", 160)
    model = witness_model(setup, "rnn", hidden=16, precision=16)[0].model
    inst = setup.example_instance()
    tokens = np.asarray(inst.tokens)
    for spec in ("reduction", "interleave"):
        split = Split.parse(spec, inst)
        simulate(model, tokens, split, verify="all")  # both checks: the replay's compiled pass too
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
