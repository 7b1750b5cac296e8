"""Matrices on which exact D(f) needs search: the hard benchmark set.

Random matrices are full rank, so the rank bound alone settles D in milliseconds.  These
families have low rank and structure, so rank, fooling-set and one-way bounds leave a gap
that only the protocol-tree search (:mod:`commlb.bounds.exact`) can close:

* ``noisy-lowrank`` — rows copied from ``rank`` random rows, then a fraction ``noise``
  of the entries flipped;
* ``blocks`` — a ``blocks x blocks`` grid of constant blocks of random values and random
  sizes (rows and columns shuffled), plus sparse noise;
* ``boolean-product`` — the Boolean product of a random n x r and r x n 0/1 matrix (a
  union of r rectangles: Boolean rank <= r), plus sparse noise.

:func:`hard_matrix` is deterministic in its seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FAMILIES", "hard_matrix"]

FAMILIES = ("noisy-lowrank", "blocks", "boolean-product")


def hard_matrix(family: str, n: int, seed: int, rank: int = 3, noise: float = 0.03,
                values: int = 2) -> np.ndarray:
    """An n x n matrix of the family (see the module docstring) with entries in
    [0, values) before the noise (a flip XORs the lowest bit)."""
    g = np.random.default_rng([n, seed, FAMILIES.index(family)])
    flips = (g.random((n, n)) < noise).astype(np.int64)
    if family == "noisy-lowrank":
        base = g.integers(0, values, (rank, n))
        M = base[g.integers(0, rank, n)]
    elif family == "blocks":
        cuts_r = np.sort(g.choice(np.arange(1, n), rank, replace=False))
        cuts_c = np.sort(g.choice(np.arange(1, n), rank, replace=False))
        vals = g.integers(0, values, (rank + 1, rank + 1))
        rlab = np.searchsorted(cuts_r, np.arange(n), side="right")
        clab = np.searchsorted(cuts_c, np.arange(n), side="right")
        M = vals[rlab[g.permutation(n)][:, None], clab[g.permutation(n)][None, :]]
    elif family == "boolean-product":
        U = g.random((n, rank)) < 0.4
        V = g.random((rank, n)) < 0.4
        M = (U.astype(np.int64) @ V.astype(np.int64) > 0).astype(np.int64)
    else:
        raise ValueError(f"unknown family {family!r}")
    return (M ^ flips).astype(np.int64)
