"""The reduction checker: is ``decode(task.solve(encode(x, y))) == f(x, y)``, and does
every token depend only on what its owner knows?  (docs/design.md §4, invariant 4.)

Two properties are checked:

(a) *soundness*: ``decode(task.solve(encode(x, y).tokens)) == problem.evaluate(x, y)``
    for every pair (x, y) in the promise; an exception raised by ``encode``, ``solve`` or
    ``decode`` on such a pair also counts as a soundness failure;
(b) *locality*: the owners do not depend on the input, every ALICE token is unchanged
    when only y changes, every BOB token when only x changes, and every PUBLIC token is
    the same for all inputs.  Tokens are compared bit for bit (their raw bytes).

Exhaustive mode (when |X|·|Y| ≤ ``exhaustive_limit``) encodes every pair once, in the
order (x index, y index), and compares it with three references: the first pair of its
row (same x: ALICE positions), the first pair of its column (same y: BOB positions), and
the first pair overall (PUBLIC positions and owners).  This decides locality exactly:
an ALICE token equal to its row's first value in every pair is a function of x alone.
The extra cost over soundness is a byte comparison per pair.  The counterexample reported
is the first failing pair in (x index, y index) order, i.e. the smallest one (when one
pair fails both checks, the locality failure is reported); for locality, ``other`` is
the reference pair it was compared with.

Sampled mode draws ``samples`` pairs with ``problem.sample`` and, for each, also encodes
(x, y') and (x', y) with fresh random x', y' (when inside the promise) to compare the
tokens each party owns; the smallest failing pair found (by (x index, y index), the
primary pair of a locality failure being the smaller of the two compared) is reported.
The pairs come in chunks of :data:`SAMPLE_CHUNK`, chunk i drawn from the generator of
``SeedSequence(seed).spawn`` child i, so a run gives the same report in process and on
any number of Dask workers; each chunk compares PUBLIC tokens and owners with its own
first pair, and the chunks' first pairs are compared with the first chunk's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import Owner, Reduction
from ..display import shown
from ..errors import InvalidInputError

__all__ = ["check_reduction", "ReductionReport", "Counterexample"]

_CHUNK = 4096
_CHUNK_BYTES = 1 << 24
_OWNER_NAMES = {int(o): o.name for o in Owner}


@dataclass(frozen=True)
class Counterexample:
    """One failing input of a reduction.

    ``kind`` is ``"soundness"`` or ``"locality"``; ``x``, ``y`` the failing pair (as
    lists) and ``x_index``, ``y_index`` their indices in the input spaces; ``other``
    the pair (x', y') it was compared with (locality only); ``position`` the token
    position concerned (locality), ``expected``/``got`` the values of f and of the
    decoded task output (soundness), ``details`` one human-readable sentence.
    """

    kind: str
    x: list[int]
    y: list[int]
    x_index: int
    y_index: int
    details: str
    other: tuple[list[int], list[int]] | None = None
    position: int | None = None
    expected: int | None = None
    got: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "x": self.x,
            "y": self.y,
            "x_index": self.x_index,
            "y_index": self.y_index,
            "other": None if self.other is None else {"x": self.other[0], "y": self.other[1]},
            "position": self.position,
            "expected": self.expected,
            "got": _jsonable(self.got),
            "details": self.details,
        }


@shown("reduction-check")
@dataclass(frozen=True)
class ReductionReport:
    """Result of :func:`check_reduction`.

    ``tokens_per_owner`` counts the positions of each owner (keys ``alice``, ``bob``,
    ``public``) and ``length`` is the sequence length, both from the first pair encoded.
    ``pairs_checked`` is the number of (x, y) pairs encoded and checked (in sampled mode
    the extra pairs encoded for the locality comparison are not counted);
    ``total_pairs`` is |X|·|Y|.
    """

    reduction: str
    params: dict[str, Any]
    theorem: str
    ok: bool
    exhaustive: bool
    pairs_checked: int
    total_pairs: int
    tokens_per_owner: dict[str, int]
    length: int
    counterexample: Counterexample | None = None
    seconds: float = 0.0
    problem: str = ""
    task: str = ""
    samples: int | None = None
    seed: int | None = None
    owners: list[int] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["counterexample"] = None if self.counterexample is None else self.counterexample.to_json()
        out["params"] = _jsonable(self.params)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _space_index(space: Any, value: np.ndarray) -> int:
    """Index of an input in its space as a Python int (no int64 overflow)."""
    digits = [int(d) for d in np.asarray(value).reshape(-1)]
    if space.kind == "index":
        return digits[0]
    index = 0
    for d in reversed(digits):
        index = index * space.base + d
    return index


def _equal(got: Any, expected: Any) -> bool:
    """Whether a decoded value equals f(x, y): a scalar with the same integer value."""
    try:
        return bool(np.ndim(got) == 0 and got == int(expected))
    except Exception:
        return False


def _token_bytes(tokens: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(tokens)
    return arr.view(np.uint8).reshape(len(arr), -1)


class _Checker:
    """Shared state of one check: references and the reduction's pieces."""

    def __init__(self, reduction: Reduction) -> None:
        self.reduction = reduction
        self.problem = reduction.problem
        self.task = reduction.task
        self.ref_owner: np.ndarray | None = None
        self.ref_owner_bytes = b""
        self.ref_nbytes = 0
        self.ref_dtype: np.dtype | None = None
        self.ref_counts: dict[str, int] = {}
        self.ref_public: np.ndarray | None = None
        self.ref_pair: tuple[np.ndarray, np.ndarray] | None = None
        self.alice = self.bob = self.public = np.zeros(0, dtype=np.int64)

    # -- one pair ---------------------------------------------------------------------

    def encode(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, str | None]:
        try:
            return self.reduction.encode(x, y), None
        except Exception as exc:  # a failing encode is a failure of the reduction
            return None, f"encode raised {type(exc).__name__}: {exc}"

    def decoded(self, instance: Any) -> tuple[Any, str | None]:
        try:
            output = self.task.solve(instance.tokens)
        except Exception as exc:
            return None, f"task.solve raised {type(exc).__name__}: {exc}"
        try:
            return self.reduction.decode(output), None
        except Exception as exc:
            return None, f"decode raised {type(exc).__name__}: {exc}"

    def set_reference(self, x: np.ndarray, y: np.ndarray, instance: Any) -> None:
        self.ref_owner = np.asarray(instance.owner, dtype=np.int8).copy()
        self.ref_owner_bytes = self.ref_owner.tobytes()
        self.ref_nbytes = int(np.asarray(instance.tokens).nbytes)
        self.ref_dtype = np.asarray(instance.tokens).dtype
        self.ref_counts = instance.counts()
        self.ref_pair = (x, y)
        self.alice = np.flatnonzero(self.ref_owner == Owner.ALICE)
        self.bob = np.flatnonzero(self.ref_owner == Owner.BOB)
        self.public = np.flatnonzero(self.ref_owner == Owner.PUBLIC)
        self.ref_public = _token_bytes(instance.tokens)[self.public]

    def owner_problem(self, instance: Any) -> tuple[int | None, str] | None:
        """Why this instance's owners/format differ from the reference, or None."""
        owner = np.asarray(instance.owner)
        tokens = np.asarray(instance.tokens)
        assert self.ref_owner is not None
        if tokens.dtype == self.ref_dtype and owner.tobytes() == self.ref_owner_bytes:
            return None  # fast path: identical layout
        if len(owner) != len(self.ref_owner):
            return None, (
                f"sequence length {len(owner)} differs from {len(self.ref_owner)} "
                "at the first pair: the layout must not depend on the input"
            )
        if tokens.dtype != self.ref_dtype:
            return None, f"token dtype {tokens.dtype} differs from {self.ref_dtype} at the first pair"
        diff = np.flatnonzero(owner != self.ref_owner)
        if diff.size:
            p = int(diff[0])
            return p, (
                f"owner of position {p} is {_OWNER_NAMES[int(owner[p])]} here but "
                f"{_OWNER_NAMES[int(self.ref_owner[p])]} at the first pair: owners must not "
                "depend on the input"
            )
        return None

    # -- counterexamples ----------------------------------------------------------------

    def pair_lists(self, x: np.ndarray, y: np.ndarray) -> tuple[list[int], list[int]]:
        return np.asarray(x).reshape(-1).tolist(), np.asarray(y).reshape(-1).tolist()

    def soundness(self, x: np.ndarray, y: np.ndarray, expected: int, got: Any,
                  error: str | None) -> Counterexample:
        xs, ys = self.pair_lists(x, y)
        if error is None:
            details = f"decode(task.solve(encode(x, y))) = {got!r} but f(x, y) = {expected}"
        else:
            details = f"{error} (f(x, y) = {expected})"
        return Counterexample(
            kind="soundness", x=xs, y=ys,
            x_index=_space_index(self.problem.x_space, x),
            y_index=_space_index(self.problem.y_space, y),
            details=details, expected=int(expected), got=_jsonable(got),
        )

    def locality(self, x: np.ndarray, y: np.ndarray, other: tuple[np.ndarray, np.ndarray] | None,
                 position: int | None, details: str) -> Counterexample:
        xs, ys = self.pair_lists(x, y)
        return Counterexample(
            kind="locality", x=xs, y=ys,
            x_index=_space_index(self.problem.x_space, x),
            y_index=_space_index(self.problem.y_space, y),
            details=details, position=position,
            other=None if other is None else self.pair_lists(*other),
        )


def _changed(what: str, position: int, because: str) -> str:
    return f"{what} token at position {position} changed when only {because} changed"


def check_reduction(
    reduction: Reduction,
    samples: int = 10_000,
    rng: np.random.Generator | int | None = None,
    exhaustive_limit: int = 2**20,
    progress: Callable[[int, int], None] | None = None,
    max_seconds: float | None = None,
    executor: Any = None,
) -> ReductionReport:
    """Check ``reduction`` for soundness and locality (see the module docstring).

    Exhaustive over all pairs when |X|·|Y| ≤ ``exhaustive_limit``, else ``samples``
    random pairs drawn with ``rng`` (a Generator or a seed; default seed 0).
    ``progress(done, total)`` is called now and then with the number of pairs checked.
    With ``max_seconds``, the run is first timed on a few pairs and refused
    (:class:`~commlb.errors.TooLargeError`, with the estimate) when it would take longer.
    Returns a :class:`ReductionReport`; ``report.ok`` is False and
    ``report.counterexample`` holds the smallest failing pair when a check fails.
    ``executor`` (a :class:`commlb.execution.Executor`): an exhaustive check runs on it in
    chunks of whole rows, a sampled one in chunks of :data:`SAMPLE_CHUNK` pairs seeded by
    chunk index (the same report in process and on any number of workers; the time
    estimate divided by its workers).
    """
    if not isinstance(reduction, Reduction):
        raise InvalidInputError(
            f"expected a commlb Reduction, got {type(reduction).__name__}"
        )
    problem = reduction.problem
    total = int(problem.x_space.size) * int(problem.y_space.size)
    seed = None
    if rng is None or isinstance(rng, (int, np.integer)):
        seed = 0 if rng is None else int(rng)
    if samples < 1:
        raise InvalidInputError("samples must be at least 1")
    checker = _Checker(reduction)
    exhaustive = total <= exhaustive_limit
    if max_seconds is not None:
        spread = max(1, executor.workers) if executor is not None else 1
        _refuse_if_too_slow(reduction, total if exhaustive else 3 * samples, exhaustive,
                            max_seconds, spread)
    start = time.perf_counter()
    if exhaustive and executor is not None:
        checked, cex = _exhaustive_on(executor, checker, total, progress)
    elif exhaustive:
        checked, cex = _exhaustive(checker, total, progress)
    else:
        checked, cex = _sampled_chunks(executor, checker, samples, _sample_entropy(rng), progress)
    seconds = time.perf_counter() - start
    owners = [] if checker.ref_owner is None else checker.ref_owner.tolist()
    return ReductionReport(
        reduction=getattr(reduction, "name", "") or type(reduction).__name__,
        params=_jsonable(reduction.params()),
        theorem=getattr(reduction, "theorem", "") or "",
        ok=cex is None,
        exhaustive=exhaustive,
        pairs_checked=checked,
        total_pairs=total,
        tokens_per_owner=dict(checker.ref_counts),
        length=len(owners),
        counterexample=cex,
        seconds=seconds,
        problem=repr(problem),
        task=getattr(reduction.task, "name", "") or type(reduction.task).__name__,
        samples=None if exhaustive else samples,
        seed=None if exhaustive else seed,
        owners=owners,
    )


def _refuse_if_too_slow(reduction: Reduction, encodings: int, exhaustive: bool,
                        max_seconds: float, workers: int = 1) -> None:
    """Time encode + solve + decode on a few random pairs; raise TooLargeError when
    ``encodings`` of them, shared by ``workers``, would exceed ``max_seconds``."""
    from ..errors import TooLargeError

    rng = np.random.default_rng(12345)
    trials, spent = 0, 0.0
    while trials < 8 and spent < 0.5:
        x, y = reduction.problem.sample(rng)
        t0 = time.perf_counter()
        try:
            reduction.decode(reduction.task.solve(reduction.encode(x, y).tokens))
        except Exception:
            pass  # the check itself reports failures; only the time matters here
        spent += time.perf_counter() - t0
        trials += 1
    estimate = spent / trials * encodings / workers
    if estimate > max_seconds:
        what = f"all {encodings:,} pairs" if exhaustive else f"{encodings // 3:,} sampled pairs"
        what += f" on {workers} workers" if workers > 1 else ""
        hint = ("lower --exhaustive-limit to sample instead, use a smaller --n, or raise --max-seconds"
                if exhaustive else "use fewer --samples or a smaller --n, or raise --max-seconds")
        raise TooLargeError(
            f"checking {what} would take about {estimate:,.0f} s (limit {max_seconds:,.0f} s); {hint}"
        )


def _exhaustive(checker: _Checker, total: int, progress: Callable[[int, int], None] | None,
                x_rows: range | None = None, refs: dict[str, Any] | None = None
                ) -> tuple[int, Counterexample | None]:
    """Every pair, row by row (``x_rows``: these rows of x only; ``refs`` receives the
    column references it ends with)."""
    problem = checker.problem
    xs_all = problem.x_space.enumerate()
    ys_all = problem.y_space.enumerate()
    n_y = len(ys_all)
    bob_ref: np.ndarray | None = None  # (|Y|, |B|, itemsize): first pair of each column
    bob_ref_x: np.ndarray = np.full(n_y, -1, dtype=np.int64)
    checked = 0
    for xi in x_rows if x_rows is not None else range(len(xs_all)):
        x = xs_all[xi]
        in_row = np.flatnonzero(np.asarray(problem.in_promise(x[None, :], ys_all)).reshape(-1))
        row_ref: np.ndarray | None = None  # ALICE tokens of the row's first pair
        row_ref_y = -1
        lo = 0
        while lo < len(in_row):
            # chunks hold at most _CHUNK pairs and about _CHUNK_BYTES of tokens; one pair
            # until the first encoding tells the size of a token sequence
            size = 1 if checker.ref_owner is None else max(
                1, min(_CHUNK, _CHUNK_BYTES // max(1, checker.ref_nbytes)))
            ys_idx = in_row[lo : lo + size]
            lo += size
            ys = ys_all[ys_idx]
            expected = np.asarray(problem.evaluate(x[None, :], ys)).reshape(-1)
            chunk_rows: list[np.ndarray] = []
            sound_fail: Counterexample | None = None
            fail_at = len(ys_idx)  # first index in the chunk with a failure
            for j, y in enumerate(ys):
                got = None
                instance, err = checker.encode(x, y)
                if err is None and checker.ref_owner is None:
                    checker.set_reference(x, y, instance)
                    bob_ref = np.zeros((n_y, len(checker.bob), _token_bytes(instance.tokens).shape[1]),
                                       dtype=np.uint8)
                if err is None:
                    bad = checker.owner_problem(instance)
                    if bad is not None:
                        sound_fail = checker.locality(x, y, checker.ref_pair, bad[0], bad[1])
                        fail_at = j
                        break
                    got, err = checker.decoded(instance)
                if instance is not None:
                    chunk_rows.append(_token_bytes(instance.tokens))
                if err is not None or not _equal(got, expected[j]):
                    sound_fail = checker.soundness(x, y, int(expected[j]), None if err else got, err)
                    fail_at = j
                    break
            # locality up to the first soundness/owner failure; at the same pair a
            # locality failure is reported first
            loc = _row_locality(checker, x, xi, ys_all, ys_idx[: len(chunk_rows)], chunk_rows, row_ref, row_ref_y,
                                bob_ref, bob_ref_x, xs_all)
            if loc is not None:
                j, cex = loc
                checked += j + 1
                return checked, cex
            if sound_fail is not None:
                checked += fail_at + 1
                return checked, sound_fail
            if chunk_rows and row_ref is None:
                row_ref = chunk_rows[0][checker.alice]
                row_ref_y = int(ys_idx[0])
            checked += len(ys_idx)
            if progress is not None:
                progress(checked, total)
    if refs is not None:
        refs["bob_ref"], refs["bob_ref_x"] = bob_ref, bob_ref_x
    return checked, None


#: pairs per chunk of an exhaustive check on an executor (whole rows of x; fixed by the sizes)
CHECK_CHUNK_PAIRS = 1 << 18


def _check_rows(rows: tuple[int, int], reduction: Reduction) -> dict[str, Any]:
    """One chunk of an exhaustive check on an executor: rows [lo, hi) of x, checked with
    references of their own; returns whether they pass and those references."""
    checker = _Checker(reduction)
    refs: dict[str, Any] = {}
    total = int(reduction.problem.x_space.size) * int(reduction.problem.y_space.size)
    checked, cex = _exhaustive(checker, total, None, range(*rows), refs)
    return {"ok": cex is None, "checked": checked, "owner": checker.ref_owner_bytes,
            "dtype": None if checker.ref_dtype is None else str(checker.ref_dtype),
            "public": None if checker.ref_public is None else checker.ref_public.tobytes(),
            "bob_ref": refs.get("bob_ref"), "bob_ref_x": refs.get("bob_ref_x"), "pair": checker.ref_pair}


def _exhaustive_on(executor: Any, checker: _Checker, total: int,
                   progress: Callable[[int, int], None] | None) -> tuple[int, Counterexample | None]:
    """The exhaustive check cut into chunks of whole rows run on ``executor``.  Each chunk
    checks its pairs against references of its own; the run passes when every chunk
    passes and the chunks' references agree (public tokens, owners, each column's BOB
    tokens): together that is exactly the condition the row-by-row check tests.  When
    anything fails the row-by-row check runs here, so the counterexample reported is the
    same smallest one."""
    problem = checker.problem
    nx, ny = int(problem.x_space.size), int(problem.y_space.size)
    per = max(1, CHECK_CHUNK_PAIRS // max(1, ny))
    chunks = [(lo, min(nx, lo + per)) for lo in range(0, nx, per)]
    done = [0]

    def tick(part: dict[str, Any]) -> None:
        done[0] += int(part["checked"])
        if progress is not None:
            progress(min(done[0], total), total)

    parts = executor.map_chunks(_check_rows, chunks, progress=tick, shared=(checker.reduction,))
    agree = all(p["ok"] for p in parts)
    parts = [p for p in parts if p["pair"] is not None]  # chunks with a pair inside the promise
    first = parts[0] if parts else None
    bob_ref: np.ndarray | None = None
    bob_seen: np.ndarray | None = None
    for p in parts if agree else ():
        assert first is not None
        if (p["owner"], p["dtype"], p["public"]) != (first["owner"], first["dtype"], first["public"]):
            agree = False
            break
        if p["bob_ref"] is None:
            continue
        have = p["bob_ref_x"] >= 0
        if bob_ref is None:
            bob_ref, bob_seen = p["bob_ref"].copy(), have.copy()
            continue
        assert bob_seen is not None
        both = have & bob_seen
        if np.any(p["bob_ref"][both] != bob_ref[both]):
            agree = False
            break
        new = have & ~bob_seen
        bob_ref[new], bob_seen[new] = p["bob_ref"][new], True
    if agree:
        # the references of a passing run: those of its first pair, as the row-by-row check sets them
        if first is not None:
            x, y = first["pair"]
            checker.set_reference(x, y, checker.reduction.encode(x, y))
        return done[0], None
    return _exhaustive(checker, total, progress)


def _row_locality(checker: _Checker, x: np.ndarray, xi: int, ys_all: np.ndarray,
                  ys_idx: np.ndarray, rows: list[np.ndarray], row_ref: np.ndarray | None,
                  row_ref_y: int, bob_ref: np.ndarray | None, bob_ref_x: np.ndarray,
                  xs_all: np.ndarray) -> tuple[int, Counterexample] | None:
    """First locality failure among ``rows`` (pairs (x, ys_all[ys_idx[j]])), updating the
    column references; None if there is none."""
    if not rows:
        return None
    block = np.stack(rows)  # (m, L, w)
    m = len(rows)
    first_bad = m
    found: Counterexample | None = None

    def consider(j: int, make: Callable[[], Counterexample]) -> None:
        nonlocal first_bad, found
        if j < first_bad:
            first_bad, found = j, make()

    # PUBLIC positions against the first pair overall
    if len(checker.public):
        assert checker.ref_public is not None
        diff = (block[:, checker.public] != checker.ref_public[None]).any(axis=2)  # (m, |P|)
        bad = np.flatnonzero(diff.any(axis=1))
        if bad.size:
            j = int(bad[0])
            p = int(checker.public[np.flatnonzero(diff[j])[0]])
            assert checker.ref_pair is not None
            rx, ry = checker.ref_pair
            because = "x" if np.array_equal(ry, ys_all[ys_idx[j]]) else (
                "y" if np.array_equal(rx, x) else "x and y")
            consider(j, lambda: checker.locality(
                x, ys_all[ys_idx[j]], checker.ref_pair, p, _changed("PUBLIC", p, because)))
    # ALICE positions against the first pair of this row (same x)
    if len(checker.alice):
        ref = row_ref if row_ref is not None else block[0, checker.alice]
        ref_y = row_ref_y if row_ref is not None else int(ys_idx[0])
        diff = (block[:, checker.alice] != ref[None]).any(axis=2)
        bad = np.flatnonzero(diff.any(axis=1))
        if bad.size:
            j = int(bad[0])
            p = int(checker.alice[np.flatnonzero(diff[j])[0]])
            consider(j, lambda: checker.locality(
                x, ys_all[ys_idx[j]], (x, ys_all[ref_y]), p, _changed("ALICE", p, "y")))
    # BOB positions against the first pair of each column (same y)
    if len(checker.bob) and bob_ref is not None:
        have = bob_ref_x[ys_idx] >= 0
        cols = np.flatnonzero(have)
        if cols.size:
            sub = block[cols][:, checker.bob]
            diff = (sub != bob_ref[ys_idx[cols]]).any(axis=2)
            bad = np.flatnonzero(diff.any(axis=1))
            if bad.size:
                jj = int(bad[0])
                j = int(cols[jj])
                p = int(checker.bob[np.flatnonzero(diff[jj])[0]])
                other = (xs_all[bob_ref_x[ys_idx[j]]], ys_all[ys_idx[j]])
                consider(j, lambda: checker.locality(
                    x, ys_all[ys_idx[j]], other, p, _changed("BOB", p, "x")))
        new = np.flatnonzero(~have)
        if new.size and found is None:
            bob_ref[ys_idx[new]] = block[new][:, checker.bob]
            bob_ref_x[ys_idx[new]] = xi
    elif bob_ref is not None and found is None:
        bob_ref_x[ys_idx] = np.where(bob_ref_x[ys_idx] >= 0, bob_ref_x[ys_idx], xi)
    if found is None:
        return None
    return first_bad, found


#: pairs per chunk of a sampled check (fixed: the chunks never depend on the workers)
SAMPLE_CHUNK = 1024


def _sample_entropy(rng: np.random.Generator | int | None) -> int:
    """The root of the sampled check's seeds: the seed itself, or 128 bits drawn once from
    a Generator."""
    if rng is None or isinstance(rng, (int, np.integer)):
        return 0 if rng is None else int(rng)
    hi, lo = (int(v) for v in rng.integers(0, 2**64, size=2, dtype=np.uint64))
    return (hi << 64) | lo


def _sample_rows(part: tuple[int, int], reduction: Reduction, entropy: int,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """One chunk of a sampled check: ``part`` = (chunk index, pairs); its pairs drawn from
    the generator seeded by ``SeedSequence(entropy, spawn_key=(index,))`` (the index-th
    child of ``SeedSequence(entropy).spawn``) and checked against references of its own;
    returns the smallest counterexample it found and those references."""
    index, count = part
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(index),)))
    checker = _Checker(reduction)
    _, best = _sampled(checker, count, rng, progress)
    return {"best": best, "owner": checker.ref_owner_bytes,
            "dtype": None if checker.ref_dtype is None else str(checker.ref_dtype),
            "public": None if checker.ref_public is None else checker.ref_public.tobytes(),
            "pair": checker.ref_pair, "checked": count}


def _sampled_chunks(executor: Any, checker: _Checker, samples: int, entropy: int,
                    progress: Callable[[int, int], None] | None) -> tuple[int, Counterexample | None]:
    """The sampled check cut into chunks of :data:`SAMPLE_CHUNK` pairs (in process, or on
    ``executor``): each chunk checks its pairs against references of its own (its first
    pair encoded); the references of later chunks are then checked against the first
    chunk's (owners, token dtype, PUBLIC tokens), which, with every chunk passing, is the
    condition one stream of pairs tests against its first pair.  The counterexample is the
    smallest (by x index, then y index) of all found, ties to the earliest chunk."""
    problem = checker.problem
    parts_in = [(i, min(SAMPLE_CHUNK, samples - lo)) for i, lo in enumerate(range(0, samples, SAMPLE_CHUNK))]
    done = [0]

    def tick(part: dict[str, Any]) -> None:
        done[0] += int(part["checked"])
        if progress is not None:
            progress(done[0], samples)

    if executor is None:  # one chunk after another, with progress inside each
        parts = []
        for index, count in parts_in:
            lo = index * SAMPLE_CHUNK
            inner = None if progress is None else (lambda d, _t, lo=lo: progress(lo + d, samples))
            parts.append(_sample_rows((index, count), checker.reduction, entropy, inner))
    else:
        parts = executor.map_chunks(_sample_rows, parts_in, progress=tick, shared=(checker.reduction, entropy))
    best: Counterexample | None = None

    def keep(cex: Counterexample | None) -> None:
        nonlocal best
        if cex is not None and (best is None or (cex.x_index, cex.y_index) < (best.x_index, best.y_index)):
            best = cex

    for p in parts:
        keep(p["best"])
    with_ref = [p for p in parts if p["pair"] is not None]
    if with_ref:
        x0, y0 = with_ref[0]["pair"]
        checker.set_reference(x0, y0, checker.reduction.encode(x0, y0))
        ref_key = (_space_index(problem.x_space, x0), _space_index(problem.y_space, y0))
        for p in with_ref[1:]:
            x, y = p["pair"]
            if p["owner"] != checker.ref_owner_bytes or p["dtype"] != str(checker.ref_dtype):
                bad = checker.owner_problem(checker.reduction.encode(x, y))
                if bad is not None:
                    keep(checker.locality(x, y, checker.ref_pair, bad[0], bad[1]))
                continue
            pub = np.frombuffer(p["public"], dtype=np.uint8).reshape(checker.ref_public.shape) \
                if checker.ref_public is not None else None
            if pub is None or pub.size == 0:
                continue
            diff = np.flatnonzero((pub != checker.ref_public).any(axis=1))
            if diff.size:
                pos = int(checker.public[diff[0]])
                key = (_space_index(problem.x_space, x), _space_index(problem.y_space, y))
                first, second = ((x, y), (x0, y0)) if key <= ref_key else ((x0, y0), (x, y))
                keep(checker.locality(first[0], first[1], second, pos, _changed("PUBLIC", pos, "the input")))
    return samples, best


def _sampled(checker: _Checker, samples: int, rng: np.random.Generator,
             progress: Callable[[int, int], None] | None) -> tuple[int, Counterexample | None]:
    problem = checker.problem
    best: Counterexample | None = None

    def keep(cex: Counterexample) -> None:
        nonlocal best
        if best is None or (cex.x_index, cex.y_index) < (best.x_index, best.y_index):
            best = cex

    def smaller_first(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
        ka = (_space_index(problem.x_space, a[0]), _space_index(problem.y_space, a[1]))
        kb = (_space_index(problem.x_space, b[0]), _space_index(problem.y_space, b[1]))
        return (a, b) if ka <= kb else (b, a)

    def in_promise(x: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.asarray(problem.in_promise(x[None, :], y[None, :])).reshape(-1)[0])

    def compare(pair: tuple[np.ndarray, np.ndarray], inst: Any, other: tuple[np.ndarray, np.ndarray],
                inst2: Any, positions: np.ndarray, what: str, because: str) -> None:
        a = _token_bytes(inst.tokens)[positions]
        b = _token_bytes(inst2.tokens)[positions]
        diff = np.flatnonzero((a != b).any(axis=1))
        if diff.size:
            p = int(positions[diff[0]])
            first, second = smaller_first(pair, other)
            keep(checker.locality(first[0], first[1], second, p, _changed(what, p, because)))

    def extra_ok(x: np.ndarray, y: np.ndarray) -> Any:
        """Encode an extra pair for a locality comparison; a failing encode or a changed
        layout is itself recorded as a counterexample (and None returned)."""
        inst, err = checker.encode(x, y)
        result = None
        if err is not None:
            expected = int(np.asarray(problem.evaluate(x[None, :], y[None, :])).reshape(-1)[0])
            keep(checker.soundness(x, y, expected, None, err))
        else:
            bad = checker.owner_problem(inst)
            if bad is not None:
                keep(checker.locality(x, y, checker.ref_pair, bad[0], bad[1]))
            else:
                result = inst
        return result

    step = max(1, samples // 100)
    for s in range(samples):
        x, y = problem.sample(rng)
        x = np.asarray(x, dtype=np.int64).reshape(-1)
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        expected = int(np.asarray(problem.evaluate(x[None, :], y[None, :])).reshape(-1)[0])
        instance, err = checker.encode(x, y)
        got = None
        if err is None:
            if checker.ref_owner is None:
                checker.set_reference(x, y, instance)
            bad = checker.owner_problem(instance)
            if bad is not None:
                keep(checker.locality(x, y, checker.ref_pair, bad[0], bad[1]))
                continue
            got, err = checker.decoded(instance)
        if err is not None or not _equal(got, expected):
            keep(checker.soundness(x, y, expected, None if err else got, err))
            continue
        assert checker.ref_owner is not None
        assert checker.ref_public is not None and checker.ref_pair is not None
        # PUBLIC tokens against the first sample
        pub = _token_bytes(instance.tokens)[checker.public]
        diff = np.flatnonzero((pub != checker.ref_public).any(axis=1))
        if diff.size:
            p = int(checker.public[diff[0]])
            first, second = smaller_first((x, y), checker.ref_pair)
            keep(checker.locality(first[0], first[1], second, p, _changed("PUBLIC", p, "the input")))
        # same x, another y: ALICE and PUBLIC tokens must not move
        y2 = np.asarray(problem.y_space.sample(rng), dtype=np.int64).reshape(-1)
        inst2 = extra_ok(x, y2) if in_promise(x, y2) else None
        if inst2 is not None:
            compare((x, y), instance, (x, y2), inst2, checker.alice, "ALICE", "y")
            compare((x, y), instance, (x, y2), inst2, checker.public, "PUBLIC", "y")
        # another x, same y: BOB and PUBLIC tokens must not move
        x2 = np.asarray(problem.x_space.sample(rng), dtype=np.int64).reshape(-1)
        inst3 = extra_ok(x2, y) if in_promise(x2, y) else None
        if inst3 is not None:
            compare((x, y), instance, (x2, y), inst3, checker.bob, "BOB", "x")
            compare((x, y), instance, (x2, y), inst3, checker.public, "PUBLIC", "x")
        if progress is not None and (s + 1) % step == 0:
            progress(s + 1, samples)
    if progress is not None:
        progress(samples, samples)
    return samples, best
