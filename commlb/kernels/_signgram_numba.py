"""The compiled kernel of :mod:`commlb.kernels.signgram` (imported on first use)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .bitops import popcount64


@njit(cache=True)
def gram_packed(words, m):
    d = words.shape[0]
    w = words.shape[1]
    G = np.empty((d, d), dtype=np.int64)
    for i in range(d):
        for j in range(i, d):
            s = 0
            for k in range(w):
                s += popcount64(words[i, k] ^ words[j, k])
            v = m - 2 * s
            G[i, j] = v
            G[j, i] = v
    return G
