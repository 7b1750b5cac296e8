"""Nearest neighbour (BHBK24; docs/theory.md §7.4): ``p_1 c_1 p_2 c_2 … p_k c_k ? p_q``.

k labelled points followed by a query point; the answer, read at the last position, is
the label of the point nearest to the query.

Format (commlb's; BHBK24's exact input format is not known here, docs/theory.md §7.4, §12.3):

* a point is one token naming a vertex of the cube {0,1}^d, id v ∈ [0, 2^d) (bit r of v
  is coordinate r).  Seen as the unit vector (2v − 1)/√d ∈ {±1/√d}^d — the nearly
  orthogonal codes of docs/theory.md §9.1 — the squared ℓ2 distance is 4/d times the Hamming
  distance and the inner product is 1 − 2·Hamming/d, so "nearest in ℓ2", "largest inner
  product" (the two-layer construction's attention score) and "smallest Hamming
  distance" name the same point;
* a label c ∈ [0, labels) is the token 2^d + c;
* "?" is the token 2^d + labels, right before the query point.

Length 2k + 2.  Ties: when several points are nearest and their labels differ, the answer
is undefined and ``solve`` returns −1 (BHBK24 presumably assume a margin);
when they all carry the same label, that label.  ``generate`` only draws instances with a
defined answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Task, TaskDefaults
from ..errors import InvalidInputError
from ..registry import register_task
from ._common import check_range, int_tokens, positive_int

__all__ = ["NearestNeighborTask", "hamming", "nearest_label_reference"]


def hamming(u: np.ndarray, v: np.ndarray | int) -> np.ndarray:
    """Hamming distance between cube vertices given as integers (bitwise popcount)."""
    diff = np.bitwise_xor(np.asarray(u, dtype=np.uint64), np.uint64(v))
    count = np.zeros(diff.shape, dtype=np.int64)
    while np.any(diff):
        count += (diff & np.uint64(1)).astype(np.int64)
        diff = diff >> np.uint64(1)
    return count


def nearest_label_reference(points: list[int], labels: list[int], query: int, d: int) -> int:
    """Slow, obvious version (for tests): Euclidean distances between the ±1 vectors,
    computed coordinate by coordinate; −1 when the nearest points disagree."""

    def vector(v: int) -> list[int]:
        return [1 if (v >> r) & 1 else -1 for r in range(d)]

    q = vector(query)
    dist = [sum((a - b) ** 2 for a, b in zip(vector(p), q)) for p in points]
    best = min(dist)
    winners = {lab for lab, dd in zip(labels, dist) if dd == best}
    return winners.pop() if len(winners) == 1 else -1


@register_task("nearest-neighbor")
class NearestNeighborTask(Task):
    """Nearest neighbour among k labelled points of {0,1}^d (BHBK24, docs/theory.md §7.4).

    ``solve`` returns the label of the nearest point (−1 when nearest points disagree).
    A two-layer log-size transformer solves it; an RNN needs a linear state (INDEX embeds
    into it, ``commlb.reductions.nearest``).
    """

    name = "nearest-neighbor"
    defaults = TaskDefaults("index-to-nearest-neighbor", 16,
                            why="INDEX_n as nearest neighbour with public points (BHBK24)")
    description = "p1 c1 ... pk ck ? q : label of the point nearest to q (BHBK24)"
    output_kind = "class"

    def __init__(self, d: int = 4, labels: int = 2) -> None:
        self.d = positive_int(d, "d", self.name)
        if self.d > 62:
            raise InvalidInputError(f"{self.name}: d must be at most 62, got {self.d}")
        self.labels = positive_int(labels, "labels", self.name)

    @property
    def num_points(self) -> int:
        return 1 << self.d

    def label_token(self, c: int | np.ndarray) -> Any:
        return self.num_points + c

    @property
    def question(self) -> int:
        """Token id of "?"."""
        return self.num_points + self.labels

    @property
    def vocab_size(self) -> int:
        return self.num_points + self.labels + 1

    def readout(self) -> tuple[str, int]:
        """A reduction reads the nearest point's label: one class per label."""
        return "class", int(self.labels)

    def vocab_names(self) -> list[str] | None:
        if self.num_points > 1024:
            return None
        pts = [format(v, f"0{self.d}b")[::-1] for v in range(self.num_points)]
        return pts + [f"L{c}" for c in range(self.labels)] + ["?"]

    def length(self, n: int) -> int:
        return 2 * positive_int(n, "n", self.name) + 2

    def params(self) -> dict[str, Any]:
        return {"d": self.d, "labels": self.labels}

    def assemble(self, points: Any, labels: Any, query: int) -> np.ndarray:
        points = np.asarray(points, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        body = np.empty(2 * len(points), dtype=np.int64)
        body[0::2] = points
        body[1::2] = self.label_token(labels)
        return np.concatenate([body, [self.question, int(query)]])

    def split(self, tokens: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """(points, labels, query) of a well-formed sequence."""
        arr = int_tokens(tokens, self.name)
        if len(arr) < 4 or len(arr) % 2:
            raise InvalidInputError(f"{self.name}: length {len(arr)} is not 2k + 2 with k >= 1")
        points, labels = arr[0:-2:2], arr[1:-2:2] - self.num_points
        check_range(points, 0, self.num_points, self.name, "points")
        check_range(labels, 0, self.labels, self.name, "labels (after the offset 2^d)")
        if arr[-2] != self.question:
            raise InvalidInputError(f"{self.name}: expected '?' at position {len(arr) - 2}")
        query = int(arr[-1])
        if not 0 <= query < self.num_points:
            raise InvalidInputError(f"{self.name}: the last token must be a point")
        return points, labels, query

    def solve(self, tokens: Any) -> int:
        points, labels, query = self.split(tokens)
        dist = hamming(points, query)
        winners = np.unique(labels[dist == dist.min()])
        return int(winners[0]) if len(winners) == 1 else -1

    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """k = n random points with random labels and a query with a defined answer (the
        query is a stored point half of the time; a draw whose nearest points disagree is
        redrawn, and after 64 failures equal points get equal labels and the query is a
        stored point, which always has a defined answer)."""
        k = positive_int(n, "n", self.name)
        for _ in range(64):
            points = rng.integers(0, self.num_points, size=k, dtype=np.int64)
            labels = rng.integers(0, self.labels, size=k, dtype=np.int64)
            if rng.random() < 0.5:
                query = int(points[rng.integers(0, k)])
            else:
                query = int(rng.integers(0, self.num_points))
            tokens = self.assemble(points, labels, query)
            if self.solve(tokens) >= 0:
                return tokens
        label_of = rng.integers(0, self.labels, size=self.num_points, dtype=np.int64)
        return self.assemble(points, label_of[points], int(points[rng.integers(0, k)]))
