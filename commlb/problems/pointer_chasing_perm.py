"""Pointer chasing PC(n, k) under the promise that both maps are permutations.

SHT24's multi-layer bounds use the block layout of Proposition E.4, in which the maps are
perfect matchings (Def. E.2); the reduction ``pc-to-khop-blocks``
(:mod:`commlb.reductions.pointer_multi`) needs f_A and f_B injective.  Inputs outside the
promise are don't-cares of the communication matrix.
"""

from __future__ import annotations

import numpy as np

from ..registry import register_problem
from .pointer_chasing import PointerChasing

__all__ = ["PermutationPointerChasing"]


def _is_permutation(f: np.ndarray) -> np.ndarray:
    """Row-wise: does every vertex occur exactly once?  f of shape (..., n)."""
    n = f.shape[-1]
    return (np.sort(f, axis=-1) == np.arange(n)).all(axis=-1)


@register_problem("pc-perm")
class PermutationPointerChasing(PointerChasing):
    """PC(n, k) under the promise that f_A and f_B are permutations (SHT24's perfect
    matchings, Def. E.2).  The bounds listed are those of PC(n, k); the multi-party bound
    of Prop. E.3 is stated for matchings, and whether the two-party bounds hold unchanged
    under the promise is not checked here (docs/theory.md §4.8).  The source problem of
    ``pc-to-khop-blocks``."""

    name = "pc-perm"
    description = "pointer chasing PC(n, k) with f_A, f_B permutations of [n]"
    x_format = "f_A: an int64 array holding a permutation of [0, n), entry v = f_A(v)"
    y_format = "f_B: an int64 array holding a permutation of [0, n), entry v = f_B(v)"

    @property
    def is_promise(self) -> bool:
        return True

    def in_promise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        shape = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        return np.broadcast_to(_is_permutation(x), shape) & np.broadcast_to(_is_permutation(y), shape)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.permutation(self.n).astype(np.int64), rng.permutation(self.n).astype(np.int64)

    def sample_batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        count = self._check_count(count)
        xs = np.argsort(rng.random((count, self.n)), axis=1).astype(np.int64)
        ys = np.argsort(rng.random((count, self.n)), axis=1).astype(np.int64)
        return xs, ys
