"""Write tests/data/bounds_reference.json: ranks, one-way and (tiny) deterministic
complexities of EQ, DISJ, IP, GT (n = 1..4) and INDEX (n = 2..8), computed slowly and
independently of commlb (no numba, no import of commlb; the ranks are the plain ones of
tests/reference.py).

* matrices from the definitions, rows indexed by x and columns by y where input index i
  has bit j = (i >> j) & 1 (entry 0 is the lowest digit, as commlb.core.InputSpace);
  GT compares the integers x > y; INDEX: Alice x in {0,1}^n, Bob i in [n], f = x_i;
* rank over Q by exact Fraction elimination (reference.exact_rank);
* rank over GF(2) by textbook elimination on Python integers (reference.rank_gf2);
* one-way: ceil(log2 #distinct rows) and columns;
* D(f) by exhaustive search over protocol trees (memoised on (row set, column set),
  every split of the rows or the columns into two nonempty parts) for n <= 3.

Run:  python tests/data/make_bounds_reference.py   (a few seconds to a minute)
"""

from __future__ import annotations

import json
import math
import sys
import time
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference import exact_rank as rank_q  # noqa: E402
from reference import rank_gf2  # noqa: E402


def bits_of(i: int, n: int) -> list[int]:
    return [(i >> j) & 1 for j in range(n)]


def matrix(name: str, n: int) -> list[list[int]]:
    if name == "index":
        return [[bits_of(x, n)[i] for i in range(n)] for x in range(2**n)]
    size = 2**n
    out = []
    for x in range(size):
        row = []
        for y in range(size):
            bx, by = bits_of(x, n), bits_of(y, n)
            if name == "eq":
                v = int(bx == by)
            elif name == "disj":
                v = int(all(not (a and b) for a, b in zip(bx, by)))
            elif name == "ip":
                v = sum(a * b for a, b in zip(bx, by)) % 2
            elif name == "gt":
                v = int(x > y)
            else:
                raise ValueError(name)
            row.append(v)
        out.append(row)
    return out


def complement(mat: list[list[int]]) -> list[list[int]]:
    return [[1 - v for v in row] for row in mat]


def one_way(mat: list[list[int]]) -> tuple[int, int]:
    rows = {tuple(r) for r in mat}
    cols = {tuple(c) for c in zip(*mat)}

    def bits(k: int) -> int:
        return 0 if k <= 1 else math.ceil(math.log2(k))

    return bits(len(rows)), bits(len(cols))


def deterministic(mat: list[list[int]]) -> int:
    """Exhaustive protocol-tree search: D(R x C) = 0 if monochromatic, else
    1 + min over nontrivial splits of R (Alice speaks) or C (Bob speaks) of the max."""
    nrows, ncols = len(mat), len(mat[0])

    def splits(mask: int):
        members = [b for b in range(mask.bit_length()) if mask >> b & 1]
        first, rest = members[0], members[1:]
        for sub in range(1 << len(rest)):  # parts containing `first`, excluding the full set
            part = 1 << first
            for k, b in enumerate(rest):
                if sub >> k & 1:
                    part |= 1 << b
            if part != mask:
                yield part, mask ^ part

    @cache
    def solve(rmask: int, cmask: int) -> int:
        vals = {mat[i][j] for i in range(nrows) if rmask >> i & 1 for j in range(ncols) if cmask >> j & 1}
        if len(vals) <= 1:
            return 0
        best = 10**9
        for a, b in splits(rmask):
            best = min(best, 1 + max(solve(a, cmask), solve(b, cmask)))
        for a, b in splits(cmask):
            best = min(best, 1 + max(solve(rmask, a), solve(rmask, b)))
        return best

    return solve((1 << nrows) - 1, (1 << ncols) - 1)


def entry(name: str, n: int, with_d: bool) -> dict:
    mat = matrix(name, n)
    comp = complement(mat)
    ab, ba = one_way(mat)
    out = {
        "problem": name,
        "n": n,
        "rows": len(mat),
        "cols": len(mat[0]),
        "rank_q": rank_q(mat),
        "rank_q_complement": rank_q(comp),
        "rank_gf2": rank_gf2(mat),
        "rank_gf2_complement": rank_gf2(comp),
        "one_way_alice_to_bob": ab,
        "one_way_bob_to_alice": ba,
        "distinct_rows": len({tuple(r) for r in mat}),
        "distinct_cols": len({tuple(c) for c in zip(*mat)}),
        "deterministic": deterministic(mat) if with_d else None,
    }
    return out


def main() -> None:
    t0 = time.time()
    entries = []
    for name in ("eq", "disj", "ip", "gt"):
        for n in range(1, 5):
            entries.append(entry(name, n, with_d=n <= 3))
    for n in range(2, 9):
        entries.append(entry("index", n, with_d=n <= 3))
    out = {
        "generator": "tests/data/make_bounds_reference.py (Fraction rank, plain GF(2) elimination, "
                     "exhaustive protocol search; no commlb code)",
        "convention": "row x, column y; input index i has bit j = (i >> j) & 1; GT: x > y as integers; "
                      "INDEX: Alice x in {0,1}^n, Bob i in [n], f = x_i",
        "entries": entries,
    }
    path = Path(__file__).with_name("bounds_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(entries)} entries) in {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
