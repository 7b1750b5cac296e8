"""Exact deterministic communication complexity D(f), with certificates on both sides.

D(f) is the least depth of a protocol tree computing f: each internal node is owned by a
speaker who sends one bit depending only on their own input (Alice splits the current rows,
Bob the current columns), each leaf is a monochromatic rectangle and announces its value
(Kushilevitz–Nisan 1997, Def. 1.1).  For a rectangle R,

    D(R) = 0 if R is monochromatic, else 1 + min over splits of R by Alice or by Bob
           of max(D(left), D(right)).

Search (:func:`deterministic_complexity`, kernel :mod:`commlb.kernels.exact`):

* equal rows and equal columns are merged first (D is invariant under duplication; the tree
  is mapped back to the original indices at the end); every sub-rectangle is merged again
  and memoised by its canonical bitmasks (at most 64 distinct rows and columns);
* iterative deepening on the depth d from the best lower bound proved at the root;
* every sub-rectangle is cut when its leaf bound exceeds 2^d: a protocol partitions R into
  monochromatic rectangles, so #leaves >= sum over colours z of rank_F(1[R = z]) for every
  field F (Mehlhorn–Schmidt 1982; GF(2) and GF(2^31 - 1) are used), and while the parts of a
  split are being formed, a part whose GF(2) rank sum already exceeds 2^(d-1) is abandoned
  with all its supersets (rank is monotone);
* a part and its complement are the same split (the first element stays left);
* a forward check cuts a partial split that leaves an element fitting neither part, and the
  "natural" splits (by one entry of the other party) are tried first (docs/theory.md
  §5.4.1);
* the compiled search runs in a worker thread without the GIL: progress twice a second,
  Ctrl-C and the time limit end it with the interval proved so far (docs/design.md §9.4).

Not used as a bound, on purpose: ceil(log2 #distinct rows) is the *one-way* complexity and
is not a lower bound on the two-way D (Alice can send less when Bob speaks too).

Upper bound before any search: the trivial protocol (Alice names her row class in
ceil(log2 #rows) bits, then Bob names the value inside that row in ceil(log2 #values in the
row) bits), or the same with Bob first.  When the time limit stops the search, the result
is the interval [lower, upper] with ``exact=False``.

Lower-bound certificates (``lower_certificate``): at the root, for each output value z, a
rank of 1[M = z] over GF(p) with its pivot minor and over GF(2), and a z-fooling set
(:mod:`commlb.bounds.fooling`); leaves >= sum_z max(rank_z, |F_z|).  When that bound already
equals D it is the certificate; otherwise the certificate is the completed exhaustive
search ("no protocol of depth D - 1 exists", with the number of search calls), which only a
rerun can check.

Slow, obvious twin: :func:`deterministic_complexity_reference` (memoised recursion over
*all* sub-rectangles, no merging, no pruning; about 6 x 6 at most in tests, 8 x 8 in
benchmarks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InvalidInputError, TooLargeError
from .fooling import _as_matrix, max_fooling_set

__all__ = [
    "ProtocolTree",
    "DeterministicResult",
    "deterministic_complexity",
    "deterministic_complexity_reference",
    "verify_tree",
    "trivial_protocol",
    "MAX_SEARCH_CLASSES",
    "MAX_EXACT_ENTRIES",
]

MAX_SEARCH_CLASSES = 64  # the search keeps rows and columns in one uint64 mask each
MAX_EXACT_ENTRIES = 1 << 18  # distinct rows x distinct columns handled at all (root bounds, trivial tree)
#: the root's splits are enumerated in this many passes of growing duplication
#: (docs/theory.md §5.4.2): a split that duplicates less rank leaves its halves more room,
#: so protocols that exist are found early (noisy low-rank 32 x 32: 0.11 s CPU instead of 98 s)
ROOT_DUP_PASSES = 9
#: a node whose slack 2^d - L(R) is at most this enumerates its elements least rank first
#: (near-copies early, so the duplication cut acts near the top; docs/theory.md §5.4.2)
LEAST_RANK_ORDER_SLACK = 8
#: local-search starts per party whose splits the root tries after its natural ones
#: (docs/theory.md §5.4.3): one search costs little there beside the search below it
LOCAL_ROOT_RESTARTS = 64
#: ... and at inner nodes of depth >= 3: off (the same calls, three times the CPU on the
#: block 24 x 24 instance of rank 5, seed 1)
LOCAL_RESTARTS = 0


#: CPU seconds that compiling the search kernels takes on a cold numba cache (27 s measured
#: on a 2-core machine); a search with less time left than this is not started then
SEARCH_COMPILE_SECONDS = 30.0


def search_kernels_compiled() -> bool | None:
    """Whether the search kernels are compiled in this process or in numba's cache for the
    current source (None when numba's cache cannot be read: then the search runs)."""
    try:
        from ..kernels import exact as kernel

        funcs = (kernel.solve, kernel._new_memo, kernel.canon, kernel.memo_entry)
        return all(bool(f.signatures) or bool(f._cache._cache_file._load_index()) for f in funcs)
    except Exception:  # numba's cache layout is internal: unknown means "try"
        return None


def _bits(count: int) -> int:
    return 0 if count <= 1 else math.ceil(math.log2(count))


def _abbrev(idx: tuple[int, ...], limit: int = 8) -> str:
    if len(idx) <= limit:
        return "{" + ", ".join(str(i) for i in idx) + "}"
    head = ", ".join(str(i) for i in idx[: limit - 2])
    return "{" + f"{head}, …, {idx[-1]}" + "}" + f" ({len(idx)})"


@dataclass(frozen=True)
class ProtocolTree:
    """A node of a deterministic protocol tree over the rectangle ``rows`` x ``cols``
    (indices of the original matrix).

    Internal node: ``speaker`` is "alice" (``left.rows`` and ``right.rows`` split ``rows``;
    both children keep ``cols``) or "bob" (the same with columns); the speaker sends 0 for
    left, 1 for right.  Leaf: ``speaker`` is None and ``output`` is the value announced."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    speaker: str | None = None
    left: ProtocolTree | None = None
    right: ProtocolTree | None = None
    output: int | None = None

    @property
    def is_leaf(self) -> bool:
        return self.speaker is None

    @property
    def depth(self) -> int:
        if self.is_leaf:
            return 0
        return 1 + max(self.left.depth if self.left else 0, self.right.depth if self.right else 0)

    def leaves(self) -> list[ProtocolTree]:
        if self.is_leaf:
            return [self]
        out: list[ProtocolTree] = []
        for child in (self.left, self.right):
            if child is not None:
                out.extend(child.leaves())
        return out

    def to_json(self) -> dict[str, Any]:
        node: dict[str, Any] = {"rows": [int(i) for i in self.rows], "cols": [int(j) for j in self.cols]}
        if self.is_leaf:
            node["output"] = None if self.output is None else int(self.output)
        else:
            node["speaker"] = self.speaker
            node["left"] = None if self.left is None else self.left.to_json()
            node["right"] = None if self.right is None else self.right.to_json()
        return node

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProtocolTree:
        try:
            rows = tuple(int(i) for i in data["rows"])
            cols = tuple(int(j) for j in data["cols"])
            if data.get("speaker") is None:
                out = data.get("output")
                return cls(rows, cols, None, None, None, None if out is None else int(out))
            left = None if data.get("left") is None else cls.from_json(data["left"])
            right = None if data.get("right") is None else cls.from_json(data["right"])
            return cls(rows, cols, str(data["speaker"]), left, right, None)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed protocol tree JSON: {exc}") from None

    def render(self, limit: int = 8) -> Any:
        """The tree as a ``rich.tree.Tree``: who speaks, which rows/columns go to 0 and to 1,
        and each leaf's output; index lists longer than ``limit`` are abbreviated."""
        from rich.tree import Tree

        def label(node: ProtocolTree, bit: str) -> str:
            prefix = f"[dim]{bit}[/] " if bit else ""
            if node.is_leaf:
                return (f"{prefix}[bold green]output {node.output}[/]  rows {_abbrev(node.rows, limit)}"
                        f" x cols {_abbrev(node.cols, limit)}")
            assert node.left is not None and node.right is not None
            if node.speaker == "alice":
                what = f"rows {_abbrev(node.left.rows, limit)} -> 0, rows {_abbrev(node.right.rows, limit)} -> 1"
            else:
                what = f"cols {_abbrev(node.left.cols, limit)} -> 0, cols {_abbrev(node.right.cols, limit)} -> 1"
            return f"{prefix}[bold]{node.speaker}[/] sends a bit: {what}"

        def add(parent: Tree, node: ProtocolTree, bit: str) -> None:
            branch = parent.add(label(node, bit))
            if not node.is_leaf:
                for b, child in (("0", node.left), ("1", node.right)):
                    if child is not None:
                        add(branch, child, b)

        root = Tree(f"protocol tree, depth {self.depth}: " + label(self, ""))
        if not self.is_leaf:
            for b, child in (("0", self.left), ("1", self.right)):
                if child is not None:
                    add(root, child, b)
        return root


def verify_tree(M: ArrayLike, tree: ProtocolTree) -> int:
    """Check that ``tree`` is a deterministic protocol computing M and return its depth.

    Checks: the root is all rows x all columns; at an Alice node the children's rows are a
    partition of the node's rows into two non-empty parts and both keep the node's columns
    (Bob: the same with columns); every leaf rectangle is monochromatic with value
    ``output``.  The leaves then partition the matrix.  Raises ``ValueError`` with the reason
    otherwise.  Plain Python and numpy, independent of the search."""
    arr = _as_matrix(M)
    n_rows, n_cols = arr.shape

    def check(node: ProtocolTree, path: str) -> int:
        rows, cols = list(node.rows), list(node.cols)
        if len(set(rows)) != len(rows) or len(set(cols)) != len(cols):
            raise ValueError(f"node {path or 'root'}: repeated row or column index")
        if any(not 0 <= i < n_rows for i in rows) or any(not 0 <= j < n_cols for j in cols):
            raise ValueError(f"node {path or 'root'}: index out of range")
        if node.speaker is None:
            if node.left is not None or node.right is not None:
                raise ValueError(f"node {path or 'root'}: a leaf has children")
            if not rows or not cols:
                raise ValueError(f"leaf {path or 'root'}: empty rectangle")
            block = arr[np.ix_(rows, cols)]
            if node.output is None or not np.all(block == node.output):
                found = sorted(int(v) for v in np.unique(block))
                raise ValueError(f"leaf {path or 'root'}: not monochromatic with output {node.output} "
                                 f"(values {found})")
            return 0
        if node.speaker not in ("alice", "bob"):
            raise ValueError(f"node {path or 'root'}: unknown speaker {node.speaker!r}")
        if node.left is None or node.right is None:
            raise ValueError(f"node {path or 'root'}: an internal node needs two children")
        left, right = node.left, node.right
        if node.speaker == "alice":
            own, l_own, r_own = set(rows), list(left.rows), list(right.rows)
            if set(left.cols) != set(cols) or set(right.cols) != set(cols):
                raise ValueError(f"node {path or 'root'}: Alice's split changed the columns")
        else:
            own, l_own, r_own = set(cols), list(left.cols), list(right.cols)
            if set(left.rows) != set(rows) or set(right.rows) != set(rows):
                raise ValueError(f"node {path or 'root'}: Bob's split changed the rows")
        if not l_own or not r_own:
            raise ValueError(f"node {path or 'root'}: a split part is empty")
        if set(l_own) & set(r_own) or set(l_own) | set(r_own) != own or len(l_own) + len(r_own) != len(own):
            side = "rows" if node.speaker == "alice" else "columns"
            raise ValueError(f"node {path or 'root'}: the children's {side} do not partition the node's")
        return 1 + max(check(left, path + "0"), check(right, path + "1"))

    if sorted(tree.rows) != list(range(n_rows)) or sorted(tree.cols) != list(range(n_cols)):
        raise ValueError("root: the tree must start from all rows and all columns")
    return check(tree, "")


@dataclass(frozen=True)
class DeterministicResult:
    """D(f) in [lower, upper]; ``exact`` when lower == upper was proved.  ``tree`` is a
    protocol of depth ``upper`` (check it with :func:`verify_tree`); ``lower_certificate``
    says what proves ``lower``; ``nodes`` counts search calls."""

    lower: int
    upper: int
    exact: bool
    tree: ProtocolTree
    lower_certificate: dict[str, Any]
    elapsed: float
    nodes: int
    #: "time limit" or "interrupt" when the search did not finish, "not compiled" when it was
    #: not started because compiling its kernels would overrun the time limit
    stopped_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lower": int(self.lower),
            "upper": int(self.upper),
            "exact": bool(self.exact),
            "tree": self.tree.to_json(),
            "lower_certificate": self.lower_certificate,
            "elapsed": float(self.elapsed),
            "nodes": int(self.nodes),
            "stopped_by": self.stopped_by,
        }


# ---------------------------------------------------------------------------------------
# helpers on the merged ("base") matrix: rows and columns are class indices


def _merge(arr: np.ndarray) -> tuple[np.ndarray, list[list[int]], list[list[int]]]:
    """Merged matrix and, for each kept row / column class, its original members."""
    _, row_first, row_inv = np.unique(arr, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(row_first)  # class ids in order of first occurrence
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    row_class = rank_of[np.asarray(row_inv).reshape(-1)]
    sub = arr[row_first[order]]
    _, col_first, col_inv = np.unique(sub, axis=1, return_index=True, return_inverse=True)
    corder = np.argsort(col_first)
    crank = np.empty_like(corder)
    crank[corder] = np.arange(len(corder))
    col_class = crank[np.asarray(col_inv).reshape(-1)]
    base = sub[:, col_first[corder]]
    row_members: list[list[int]] = [[] for _ in range(base.shape[0])]
    for x, k in enumerate(row_class):
        row_members[int(k)].append(x)
    col_members: list[list[int]] = [[] for _ in range(base.shape[1])]
    for y, k in enumerate(col_class):
        col_members[int(k)].append(y)
    return base, row_members, col_members


def _to_original(tree: ProtocolTree, row_members: list[list[int]], col_members: list[list[int]]) -> ProtocolTree:
    rows = tuple(sorted(x for k in tree.rows for x in row_members[k]))
    cols = tuple(sorted(y for k in tree.cols for y in col_members[k]))
    if tree.is_leaf:
        return ProtocolTree(rows, cols, None, None, None, tree.output)
    assert tree.left is not None and tree.right is not None
    return ProtocolTree(rows, cols, tree.speaker, _to_original(tree.left, row_members, col_members),
                        _to_original(tree.right, row_members, col_members), None)


def _halves(items: list[Any]) -> tuple[list[Any], list[Any]]:
    mid = (len(items) + 1) // 2
    return items[:mid], items[mid:]


def trivial_protocol(base: np.ndarray, alice_first: bool = True) -> ProtocolTree:
    """The trivial protocol on a (merged) matrix: the first speaker names their row (column)
    by halving, then the other names the value by halving the set of values present.  Depth
    ceil(log2 #rows) + max over rows of ceil(log2 #values in the row).  Indices are those of
    ``base``."""
    arr = base if alice_first else base.T

    def by_value(x: int, cols: list[int]) -> ProtocolTree:
        vals = sorted({int(arr[x, y]) for y in cols})
        return split_values(x, cols, vals)

    def split_values(x: int, cols: list[int], vals: list[int]) -> ProtocolTree:
        if len(vals) == 1:
            return ProtocolTree((x,), tuple(cols), None, None, None, vals[0])
        lv, rv = _halves(vals)
        lc = [y for y in cols if int(arr[x, y]) in lv]
        rc = [y for y in cols if int(arr[x, y]) in rv]
        return ProtocolTree((x,), tuple(cols), "bob", split_values(x, lc, lv), split_values(x, rc, rv), None)

    all_cols = list(range(arr.shape[1]))

    def name_row(rows: list[int]) -> ProtocolTree:
        if len(rows) == 1:
            return by_value(rows[0], all_cols)
        lr, rr = _halves(rows)
        return ProtocolTree(tuple(rows), tuple(all_cols), "alice", name_row(lr), name_row(rr), None)

    tree = name_row(list(range(arr.shape[0])))
    return tree if alice_first else _transpose(tree)


def _transpose(tree: ProtocolTree) -> ProtocolTree:
    if tree.is_leaf:
        return ProtocolTree(tree.cols, tree.rows, None, None, None, tree.output)
    assert tree.left is not None and tree.right is not None
    speaker = "bob" if tree.speaker == "alice" else "alice"
    return ProtocolTree(tree.cols, tree.rows, speaker, _transpose(tree.left), _transpose(tree.right), None)


def _bitplanes(base: np.ndarray, values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    r, c = base.shape
    V = len(values)
    RB = np.zeros((V, r), dtype=np.uint64)
    CB = np.zeros((V, c), dtype=np.uint64)
    weights_c = np.array([1 << j for j in range(c)], dtype=object)
    weights_r = np.array([1 << i for i in range(r)], dtype=object)
    for z, val in enumerate(values):
        Z = base == val
        RB[z] = np.array([int((weights_c * Z[i]).sum()) for i in range(r)], dtype=np.uint64)
        CB[z] = np.array([int((weights_r * Z[:, j]).sum()) for j in range(c)], dtype=np.uint64)
    return RB, CB


def _root_bounds(base: np.ndarray, values: list[int], row_members: list[list[int]],
                 col_members: list[list[int]], fooling_time: float | None) -> tuple[int, dict[str, Any]]:
    """Leaves lower bound at the root with its per-value certificate."""
    from ..kernels.elim import GFP_PRIME, rank_gf2_any, rank_gfp_any

    per_value: dict[str, Any] = {}
    leaves = 0
    for val in values:
        Z = (base == val).astype(np.int64)
        rank_p, prow, pcol = rank_gfp_any(Z, GFP_PRIME)
        rank_2 = int(rank_gf2_any(Z.astype(np.uint8), threads=1)[0])
        entry: dict[str, Any] = {
            "rank_gfp": rank_p, "prime": GFP_PRIME,
            "pivot_rows": [row_members[i][0] for i in prow],
            "pivot_cols": [col_members[j][0] for j in pcol],
            "rank_gf2": rank_2,
        }
        best = max(rank_p, rank_2)
        fres = None
        if fooling_time is not None:
            try:
                fres = max_fooling_set(base, val, time_limit=fooling_time)
            except TooLargeError:
                entry["fooling"] = "skipped: too many entries"
        if fres is not None:
            entry["fooling_pairs"] = [[row_members[x][0], col_members[y][0]] for x, y in fres.pairs]
            entry["fooling_exact"] = bool(fres.exact)
            best = max(best, fres.size)
        entry["leaves_at_least"] = best
        per_value[str(val)] = entry
        leaves += best
    return leaves, per_value


def _is_mono(base: np.ndarray, rows: list[int], cols: list[int]) -> bool:
    block = base[np.ix_(rows, cols)]
    return bool(np.all(block == block.flat[0]))


def deterministic_complexity(M: ArrayLike, time_limit: float = 10.0, lower_hint: int = 0,
                             root_bounds: bool = True,
                             progress: Callable[[dict[str, Any]], None] | None = None,
                             skip_uncompiled: bool = False) -> DeterministicResult:
    """D(f) of the matrix M (rows: Alice's inputs, columns: Bob's) with a protocol tree and a
    lower-bound certificate; see the module docstring.  Stops after about ``time_limit``
    seconds with the proved interval.  ``lower_hint`` is a lower bound the caller already
    proved (e.g. from a rank certificate): it raises the reported lower bound and is named
    as the certificate when it is the one that meets the upper bound.  ``root_bounds=False``
    skips the rank and fooling-set bounds at the root, so the search starts at depth 0 and
    proves everything itself (for tests and teaching; slower).

    The search runs in a worker thread (the compiled kernel releases the GIL): about twice a
    second ``progress`` (if given) receives ``{"nodes", "depth", "elapsed", "lower",
    "upper"}`` (the depth being tried and the interval proved so far), and Ctrl-C
    (KeyboardInterrupt) stops the search and returns the interval proved so far, with
    ``stopped_by="interrupt"``.  ``skip_uncompiled``: when the search kernels are not
    compiled (nor in numba's cache) and less than ``SEARCH_COMPILE_SECONDS`` of the limit
    is left, do not start the search (compiling alone would overrun the limit): the
    interval of the root bounds, ``stopped_by="not compiled"`` (``commlb bounds`` sets it;
    other callers compile on first use, outside the limit)."""
    if time_limit <= 0:
        raise InvalidInputError("time_limit must be positive")
    start = time.perf_counter()
    arr = _as_matrix(M)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"the matrix is empty (shape {arr.shape})")
    base, row_members, col_members = _merge(arr)
    values = sorted(int(v) for v in np.unique(base))
    r, c = base.shape
    if r * c > MAX_EXACT_ENTRIES:
        raise TooLargeError(
            f"exact D: {r} distinct rows x {c} distinct columns is more than {MAX_EXACT_ENTRIES} entries "
            f"(root ranks alone cost ~{min(r, c) ** 2 * max(r, c) * len(values) / 1e9:.1f} G operations, the "
            f"search is exponential); use a smaller n")
    if len(values) == 1:
        tree = ProtocolTree(tuple(range(arr.shape[0])), tuple(range(arr.shape[1])), None, None, None, values[0])
        cert = {"method": "monochromatic", "bits": 0, "statement": "M is constant: D = 0"}
        return DeterministicResult(0, 0, True, tree, cert, time.perf_counter() - start, 0)

    # upper bound: the better trivial protocol
    trees = [trivial_protocol(base, True), trivial_protocol(base, False)]
    best_tree = min(trees, key=lambda t: t.depth)
    upper = best_tree.depth

    # lower bound at the root: ranks first, fooling sets only if they could help
    leaves, per_value = _root_bounds(base, values, row_members, col_members, None)
    own = _bits(leaves)
    fooling_done = False
    if not root_bounds:
        leaves, per_value, own, fooling_done = len(values), {}, _bits(len(values)), True

    def root_certificate() -> dict[str, Any]:
        return {
            "method": ("number of values" if not root_bounds
                       else "rank and fooling sets" if fooling_done else "rank"),
            "bits": own,
            "leaves_at_least": leaves,
            "per_value": per_value,
            "statement": ("#leaves >= sum over values z of max(rank of 1[M=z] over GF(p) or GF(2), "
                          "|z-fooling set|) (Mehlhorn-Schmidt 1982; Kushilevitz-Nisan 1997 Ch. 1); "
                          "D >= ceil(log2 #leaves)") if root_bounds else "each output value needs its own leaf",
        }

    def add_fooling(budget: float) -> None:
        # fooling sets can lift the root bound above the ranks; computed only when needed
        nonlocal leaves, per_value, own, fooling_done
        fooling_done = True
        f_time = max(0.05, min(1.0, budget / (4 * len(values))))
        leaves, per_value = _root_bounds(base, values, row_members, col_members, f_time)
        own = _bits(leaves)

    V = len(values)
    nodes = 0
    proved_infeasible = -1
    found = None
    stopped_by: str | None = None
    if max(own, lower_hint) < upper and (r > MAX_SEARCH_CLASSES or c > MAX_SEARCH_CLASSES):
        try:
            add_fooling(time_limit)
        except KeyboardInterrupt:
            stopped_by = "interrupt"
    elif (max(own, lower_hint) < upper and skip_uncompiled and search_kernels_compiled() is False
          and start + time_limit - time.perf_counter() < SEARCH_COMPILE_SECONDS):
        # compiling the kernels alone would overrun the limit (the search starts only after)
        stopped_by = "not compiled"
    elif max(own, lower_hint) < upper:
        from ..kernels.exact import new_memo

        RB, CB = _bitplanes(base, values)
        memo = new_memo()
        stats = np.zeros(4, dtype=np.int64)
        # [deadline, forward checks on, element ordering on, duplication cut on, passes
        # by duplication at the root, the root's depth, slack up to which a node orders its
        # elements least rank first, local-search starts per party, the same at the root];
        # the driver lowers the deadline on Ctrl-C
        control = np.array([start + time_limit, 1.0, 1.0, 1.0, float(ROOT_DUP_PASSES), 0.0,
                            float(LEAST_RANK_ORDER_SLACK), float(LOCAL_RESTARTS),
                            float(LOCAL_ROOT_RESTARTS)], dtype=np.float64)
        all_rows = np.uint64((1 << r) - 1) if r < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        all_cols = np.uint64((1 << c) - 1) if c < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        d = max(own, int(lower_hint))

        def tell() -> None:
            if progress is not None:
                progress({"nodes": int(stats[0]), "depth": d, "elapsed": time.perf_counter() - start,
                          "lower": max(own, int(lower_hint), proved_infeasible + 1), "upper": upper})

        try:
            while d < upper:
                control[5] = d  # the passes by duplication apply to the root call only
                ok, interrupted = _solve_watched(RB, CB, V, all_rows, all_cols, d, memo, stats, control, tell)
                if interrupted:
                    stopped_by = "interrupt"
                if stats[1] or interrupted:
                    break
                if ok:
                    found = d
                    break
                proved_infeasible = d
                d += 1
                if not fooling_done:
                    add_fooling(start + time_limit - time.perf_counter())
                    d = max(d, own)
        except KeyboardInterrupt:  # during the root fooling sets: what is proved so far stands
            stopped_by = "interrupt"
        if stats[1] and stopped_by is None:
            stopped_by = "time limit"
        nodes = int(stats[0])
        if found is not None:
            upper = found
            best_tree = _rebuild(RB, CB, V, base, memo, all_rows, all_cols, found)

    lower = max(own, int(lower_hint), proved_infeasible + 1)
    if own >= lower:
        lower_cert = root_certificate()
    elif proved_infeasible + 1 >= lower:
        lower_cert = {
            "method": "exhaustive search",
            "bits": lower,
            "search_nodes": nodes,
            "statement": (f"the complete search found no protocol of depth {proved_infeasible} "
                          f"(every split by either party; sub-rectangles cut only by sound rank bounds)"),
            "root_bounds": root_certificate(),
        }
    else:
        lower_cert = {"method": "lower_hint", "bits": int(lower_hint),
                      "statement": "lower bound supplied by the caller (lower_hint)",
                      "root_bounds": root_certificate()}
    if lower < upper and (r > MAX_SEARCH_CLASSES or c > MAX_SEARCH_CLASSES):
        lower_cert["search"] = (f"not run: {r} distinct rows x {c} distinct columns, the search handles at "
                                f"most {MAX_SEARCH_CLASSES} of each")
    if stopped_by == "not compiled":
        lower_cert["search"] = (
            f"not run: its kernels are not compiled yet (numba's cache is empty), and compiling them takes "
            f"about {SEARCH_COMPILE_SECONDS:.0f} s of CPU, more than the time limit leaves; run `commlb "
            f"precompile --only bounds` once, or allow a time limit of at least {SEARCH_COMPILE_SECONDS:.0f} s")
    exact = lower >= upper
    tree = _to_original(best_tree, row_members, col_members)
    if exact:
        stopped_by = None
    return DeterministicResult(min(lower, upper), upper, exact, tree, lower_cert, time.perf_counter() - start,
                               nodes, stopped_by)


def _solve_watched(RB: np.ndarray, CB: np.ndarray, V: int, rows: np.uint64, cols: np.uint64, d: int,
                   memo: Any, stats: np.ndarray, control: np.ndarray,
                   tell: Callable[[], None]) -> tuple[bool, bool]:
    """``solve`` in a worker thread while this thread reports progress every ~0.5 s and
    turns Ctrl-C into a stop request (``control[0] = -inf``; the kernel sees it at its
    next clock check).  Returns (feasible, interrupted)."""
    from ..deadline import run_watched
    from ..kernels.exact import solve

    def stop() -> None:
        control[0] = -math.inf

    tell()  # the depth being tried starts now
    ok, interrupted = run_watched(lambda: bool(solve(RB, CB, V, rows, cols, d, memo, stats, control)), tell, stop,
                                  name="commlb-exact-search")
    return bool(ok), interrupted


def _members(mask: int) -> list[int]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


def _rebuild(RB: np.ndarray, CB: np.ndarray, V: int, base: np.ndarray, memo: Any,
             rows: np.uint64, cols: np.uint64, d: int) -> ProtocolTree:
    """The protocol tree of depth <= d for rows x cols (base indices) from the memo's splits."""
    from ..kernels.exact import canon, memo_entry, solve

    row_list, col_list = _members(int(rows)), _members(int(cols))
    if _is_mono(base, row_list, col_list):
        return ProtocolTree(tuple(row_list), tuple(col_list), None, None, None, int(base[row_list[0], col_list[0]]))
    key = canon(RB, CB, V, np.uint64(rows), np.uint64(cols))
    key = (np.uint64(key[0]), np.uint64(key[1]))
    found, _, ub, party, left = memo_entry(memo, key[0], key[1])
    if not found or ub > d:
        stats = np.zeros(4, dtype=np.int64)
        if not solve(RB, CB, V, np.uint64(rows), np.uint64(cols), d, memo, stats, np.array([math.inf, 1.0, 1.0])):
            raise AssertionError("search inconsistency: a rectangle solved before is now infeasible")
        found, _, ub, party, left = memo_entry(memo, key[0], key[1])
    entry = (None, None, party, left)
    party, left_mask = int(entry[2]), int(entry[3])
    canon_rows, canon_cols = _members(int(key[0])), _members(int(key[1]))
    if party == 0:
        # each row joins the side of the kept row equal to it on these columns
        def side(i: int) -> bool:
            for k in canon_rows:
                if np.array_equal(base[i, col_list], base[k, col_list]):
                    return bool(left_mask >> k & 1)
            raise AssertionError("row without a representative")

        lr = [i for i in row_list if side(i)]
        rr = [i for i in row_list if not side(i)]
        lm, rm = sum(1 << i for i in lr), sum(1 << i for i in rr)
        left = _rebuild(RB, CB, V, base, memo, np.uint64(lm), cols, d - 1)
        right = _rebuild(RB, CB, V, base, memo, np.uint64(rm), cols, d - 1)
        return ProtocolTree(tuple(row_list), tuple(col_list), "alice", left, right, None)

    def cside(j: int) -> bool:
        for k in canon_cols:
            if np.array_equal(base[row_list, j], base[row_list, k]):
                return bool(left_mask >> k & 1)
        raise AssertionError("column without a representative")

    lc = [j for j in col_list if cside(j)]
    rc = [j for j in col_list if not cside(j)]
    lm, rm = sum(1 << j for j in lc), sum(1 << j for j in rc)
    left = _rebuild(RB, CB, V, base, memo, rows, np.uint64(lm), d - 1)
    right = _rebuild(RB, CB, V, base, memo, rows, np.uint64(rm), d - 1)
    return ProtocolTree(tuple(row_list), tuple(col_list), "bob", left, right, None)


def deterministic_complexity_reference(M: ArrayLike) -> int:
    """Slow reference D(f): memoised recursion over every sub-rectangle (row subset x column
    subset as bitmasks) of M itself, trying every split by either party, no merging and no
    bounds.  Exponential (about 3^r 2^c + 2^r 3^c steps); up to about 6 x 6 in tests."""
    arr = _as_matrix(M)
    n_rows, n_cols = arr.shape
    if n_rows == 0 or n_cols == 0:
        raise InvalidInputError(f"the matrix is empty (shape {arr.shape})")
    table = arr.tolist()

    @cache
    def D(rows: int, cols: int) -> int:
        rs = [i for i in range(n_rows) if rows >> i & 1]
        cs = [j for j in range(n_cols) if cols >> j & 1]
        first = table[rs[0]][cs[0]]
        if all(table[i][j] == first for i in rs for j in cs):
            return 0
        best = math.inf
        for party, mask, members in ((0, rows, rs), (1, cols, cs)):
            # every non-empty proper subset containing the first member (a split and its mirror)
            rest = members[1:]
            for pick in range(1 << len(rest)):
                left = 1 << members[0]
                for t, e in enumerate(rest):
                    if pick >> t & 1:
                        left |= 1 << e
                right = mask & ~left
                if right == 0:
                    continue
                if party == 0:
                    cost = 1 + max(D(left, cols), D(right, cols))
                else:
                    cost = 1 + max(D(rows, left), D(rows, right))
                best = min(best, cost)
        return int(best)

    return D((1 << n_rows) - 1, (1 << n_cols) - 1)
