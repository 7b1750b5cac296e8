"""Core value types shared by every layer of commlb.

The data flow (docs/design.md §1): a :class:`Problem` f(x, y) is split between Alice (x) and
Bob (y); a :class:`Reduction` writes (x, y) as the token sequence of a :class:`Task`
and says who owns each token (:class:`Owner`); models and protocols run on the
resulting :class:`Instance`.  Nothing here imports numba, matplotlib or networkx.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "Owner",
    "ALICE",
    "BOB",
    "PUBLIC",
    "Instance",
    "BoundKind",
    "KnownBound",
    "InputSpace",
    "Problem",
    "Task",
    "TaskDefaults",
    "Reduction",
    "ReductionSource",
    "ProblemMap",
    "sorted_unique",
]


class Owner(enum.IntEnum):
    """Who knows a token.  PUBLIC tokens are the same for every input (x, y)."""

    ALICE = 0
    BOB = 1
    PUBLIC = 2

    @property
    def other(self) -> Owner:
        if self is Owner.PUBLIC:
            raise ValueError("PUBLIC has no other party")
        return Owner.BOB if self is Owner.ALICE else Owner.ALICE


ALICE = Owner.ALICE
BOB = Owner.BOB
PUBLIC = Owner.PUBLIC


@dataclass(frozen=True, eq=False)
class Instance:
    """A task input written by a reduction: tokens plus one owner per token.

    ``tokens`` is a 1-D integer array, or a 1-D structured array when a token carries
    several fields (qSA).  ``owner`` is an int8 array of :class:`Owner` values of the
    same length.
    """

    tokens: np.ndarray
    owner: np.ndarray

    def __post_init__(self) -> None:
        owner = np.asarray(self.owner, dtype=np.int8)
        object.__setattr__(self, "owner", owner)
        if len(owner) != len(self.tokens):
            raise ValueError(
                f"owner has length {len(owner)} but tokens has length {len(self.tokens)}"
            )
        if owner.size and (owner.min() < 0 or owner.max() > 2):
            raise ValueError("owner entries must be ALICE (0), BOB (1) or PUBLIC (2)")

    def __len__(self) -> int:
        return len(self.tokens)

    def counts(self) -> dict[str, int]:
        """Number of tokens per owner, keyed by ``"alice"``, ``"bob"``, ``"public"``."""
        return {o.name.lower(): int(np.sum(self.owner == o)) for o in Owner}

    def positions(self, who: Owner) -> np.ndarray:
        return np.flatnonzero(self.owner == who)


class BoundKind(str, enum.Enum):
    """Kinds of communication bounds a problem can carry (docs/design.md §3)."""

    DETERMINISTIC = "deterministic"
    RANDOMIZED = "randomized"
    ONE_WAY_AB = "one-way A->B"
    ONE_WAY_BA = "one-way B->A"
    K_ROUND = "k-round"
    RANDOMIZED_ONE_WAY_AB = "randomized one-way A->B"


@dataclass(frozen=True)
class KnownBound:
    """A bound from the literature, as data.

    ``value`` is the exact number of bits where one is known for this n (``exact=True``
    then means it is a theorem with no hidden constant); ``formula`` states it in words
    or symbols (``"n + 1"``, ``"Omega(n)"``).  ``lower`` says whether it is a lower bound
    (most are); ``asymptotic`` marks statements with hidden constants, which commlb never
    compares a bit count against.  ``epsilon`` is the error for randomized bounds,
    ``rounds`` the round limit for k-round bounds.
    """

    kind: BoundKind
    formula: str
    citation: str
    value: float | None = None
    exact: bool = False
    asymptotic: bool = False
    lower: bool = True
    epsilon: float | None = None
    rounds: int | None = None
    status: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "formula": self.formula,
            "value": self.value,
            "exact": self.exact,
            "asymptotic": self.asymptotic,
            "lower": self.lower,
            "epsilon": self.epsilon,
            "rounds": self.rounds,
            "citation": self.citation,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class InputSpace:
    """One party's input space.

    kind ``"bits"``: 0/1 vectors of length ``length`` (size 2^length);
    ``"index"``: one integer in [0, ``base``) (``length`` = 1);
    ``"function"``: integer vectors of length ``length`` with entries in [0, ``base``)
    (size base^length), e.g. a map [n] -> [n] in pointer chasing.
    Index ``i`` of the space is the input whose mixed-radix digits (least significant
    first: entry 0 is the lowest digit) spell ``i``.
    """

    kind: str
    length: int
    base: int = 2

    @property
    def size(self) -> int:
        if self.kind == "index":
            return self.base
        return self.base**self.length

    @property
    def bits(self) -> float:
        """log2 of the number of inputs."""
        return float(np.log2(self.base)) * (1 if self.kind == "index" else self.length)

    def from_index(self, idx: np.ndarray | int) -> np.ndarray:
        """Inputs for the given indices: shape (len(idx), length) (or (length,) for a scalar)."""
        scalar = np.ndim(idx) == 0
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        if self.kind == "index":
            out = idx.reshape(-1, 1).copy()
        else:
            digits = np.empty((idx.size, self.length), dtype=np.int64)
            rest = idx.copy()
            for j in range(self.length):
                digits[:, j] = rest % self.base
                rest //= self.base
            out = digits
        return out[0] if scalar else out

    def to_index(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.atleast_2d(np.asarray(inputs, dtype=np.int64))
        if self.kind == "index":
            return inputs[:, 0].copy()
        weights = self.base ** np.arange(self.length, dtype=np.int64)
        return inputs @ weights

    def enumerate(self) -> np.ndarray:
        return self.from_index(np.arange(self.size, dtype=np.int64))

    def sample(self, rng: np.random.Generator, count: int | None = None) -> np.ndarray:
        shape = (1 if count is None else count, self.length)
        out = rng.integers(0, self.base, size=shape, dtype=np.int64)
        return out[0] if count is None else out


def space_format(space: InputSpace, n: int | None = None) -> str:
    """An input space as the array a party holds, in words (a size equal to ``n`` is
    written ``n``)."""
    def size(v: int) -> str:
        return "n" if n is not None and v == n else str(v)

    length, base = size(space.length), size(space.base)
    if space.kind == "bits":
        return f"{length} bits: an int64 array of {length} entries in {{0, 1}}"
    if space.kind == "index":
        return f"[i]: an int64 array of length 1 holding an index i in [0, {base})"
    return f"a map [{length}] -> [{base}]: an int64 array of {length} entries in [0, {base}), entry j the value at j"


class Problem(ABC):
    """A two-party communication problem f(x, y).

    Subclasses set ``name``, ``n``, ``x_space``, ``y_space`` and implement
    :meth:`evaluate` (vectorised: ``x`` of shape (..., len_x) and ``y`` of shape
    (..., len_y) broadcast against each other; returns an integer array of the
    broadcast batch shape) and :meth:`bounds`.
    """

    name: str = ""
    description: str = ""
    #: the short symbol printed in labels (``DISJ`` in ``DISJ_32``); default: the name in
    #: capitals
    symbol: str = ""
    n: int
    x_space: InputSpace
    y_space: InputSpace
    #: number of distinct output values (2 for Boolean functions)
    num_outputs: int = 2
    #: what Alice's input x, Bob's input y and the output are, as commlb passes them
    #: (``commlb list problems --verbose``); empty: read off the input spaces
    x_format: str = ""
    y_format: str = ""
    output_format: str = ""

    @abstractmethod
    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def bounds(self) -> list[KnownBound]: ...

    def in_promise(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether (x, y) satisfies the promise (always true for total functions)."""
        x = np.asarray(x)
        y = np.asarray(y)
        shape = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        return np.ones(shape, dtype=bool)

    @property
    def is_promise(self) -> bool:
        return False

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random (x, y) pair (inside the promise for promise problems)."""
        return self.x_space.sample(rng), self.y_space.sample(rng)

    def sample_balanced(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random (x, y) for a trial run: drawn so that the answers are not lopsided
        where uniform pairs would be (DISJ and EQ override it: uniform pairs are almost
        never disjoint or equal); by default :meth:`sample`."""
        return self.sample(rng)

    def separating_y(self, x: np.ndarray, x2: np.ndarray) -> np.ndarray | None:
        """A Bob input y with f(x, y) ≠ f(x2, y) read off directly (INDEX: a position where
        x and x2 differ), or None to let the caller search Bob's inputs."""
        return None

    def num_pairs(self) -> int:
        return self.x_space.size * self.y_space.size

    def input_format(self) -> dict[str, str]:
        """``{"x": ..., "y": ..., "output": ...}``: each input as the int64 array commlb
        passes to :meth:`evaluate` and to a reduction's ``encode``, in words (the class's
        ``x_format``/``y_format``/``output_format``, else read off the input spaces)."""
        out = self.output_format or ("1 or 0" if self.num_outputs == 2 else
                                     f"an integer in [0, {self.num_outputs})")
        n = getattr(self, "n", None)
        return {"x": self.x_format or space_format(self.x_space, n),
                "y": self.y_format or space_format(self.y_space, n), "output": out}

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def label(self) -> str:
        """``DISJ_32``, ``INDEX_1024``, ``PC(n=4, k=2, ...)``: the symbol with the size as a
        subscript, or with every parameter when there are others than n."""
        base = self.symbol or self.name.upper() or type(self).__name__
        params = self.params()
        if set(params) == {"n"}:
            return f"{base}_{self.n}"
        return f"{base}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


@dataclass(frozen=True)
class TaskDefaults:
    """How ``commlb simulate --task NAME`` sets a task up when nothing else is asked for:
    the reduction that feeds it a communication problem (None: a generated instance, cut
    in the middle), the default problem size ``n``, the task options it takes (with
    defaults), why this reduction, and ``size_option``, a task option that *is* the
    problem size (qSA's ``q``: DISJ_q)."""

    reduction: str | None
    n: int
    options: tuple[str, ...] = ()
    option_defaults: tuple[tuple[str, Any], ...] = ()
    why: str = ""
    size_option: str | None = None


class Task(ABC):
    """A sequence task from the literature.

    ``solve(tokens)`` is the exact answer.  ``output_positions(length)`` says where a
    model's answer is read: the default is the last position.  ``output_kind`` is
    ``"binary"`` (0/1), ``"class"`` (an integer in [0, num_classes) or -1 for "none"),
    ``"vector"`` (real vectors, e.g. qSA) or ``"per-position"`` (one class per position).
    ``defaults`` (a :class:`TaskDefaults`) makes the task simulable by name.
    """

    name: str = ""
    description: str = ""
    output_kind: str = "binary"
    defaults: ClassVar[TaskDefaults | None] = None

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def length(self, n: int) -> int: ...

    @abstractmethod
    def generate(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    @abstractmethod
    def solve(self, tokens: np.ndarray) -> Any: ...

    def output_positions(self, length: int) -> np.ndarray:
        return np.array([length - 1], dtype=np.int64)

    def vocab_names(self) -> list[str] | None:
        """Printable names of the token ids, when the vocabulary is small."""
        return None

    def readout(self) -> tuple[str, int]:
        """(output_kind, num_classes) a generic (random-weight) model uses to answer at
        its last position, which is what a reduction's ``decode`` reads: binary, real
        vectors, or one of ``num_classes`` classes (by default one per token id)."""
        if self.output_kind == "binary":
            return "binary", 2
        if self.output_kind == "vector":
            return "vector", 0
        return "class", int(self.vocab_size)

    def params(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ReductionSource:
    """The published result a reduction serves: the paper (abbreviation, e.g.
    ``"SHT23"``), its result in words, the status of the inequality commlb checks
    through the reduction (``"proved in the cited paper"``, ``"derived here"`` or
    ``"conjectured"``), the section of docs/theory.md that derives it, and a note."""

    paper: str
    result: str
    status: str
    section: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"paper": self.paper, "result": self.result, "status": self.status, "section": self.section,
                "note": self.note}


class Reduction(ABC):
    """Problem -> task: ``encode(x, y)`` gives an :class:`Instance`, ``decode`` maps the
    task's output back to f(x, y).  ``theorem`` names the result the reduction serves,
    ``source`` (a :class:`ReductionSource`) the paper it reproduces, when it does."""

    name: str = ""
    description: str = ""
    theorem: str = ""
    source: ClassVar[ReductionSource | None] = None
    problem: Problem
    task: Task

    @abstractmethod
    def encode(self, x: np.ndarray, y: np.ndarray) -> Instance: ...

    @abstractmethod
    def decode(self, output: Any) -> int:
        """f(x, y) from the task's output; raises
        :class:`~commlb.errors.InvalidInputError` when the output is no answer (commlb
        then counts the model wrong); any other exception is a bug."""

    def params(self) -> dict[str, Any]:
        return self.problem.params()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.problem!r} -> {self.task.name})"


class ProblemMap(ABC):
    """Problem -> problem, by local maps: Q(x, y) = ``decode``(P(``map_x``(x), ``map_y``(y))).

    Alice computes ``map_x`` from x alone, Bob ``map_y`` from y alone, and whoever outputs
    P's answer applies ``decode`` to it, so a protocol for ``target`` (P) is one for
    ``source`` (Q) with ``cost_bits`` more bits (0 when ``decode`` reads the answer only,
    as here; a map whose decode needs a party's input would state what it sends).  The
    source's size m becomes the target's (``target.n``, the size blowup).  Maps compose
    with each other and end in a :class:`Reduction` (:mod:`commlb.chain`;
    docs/theory.md §13.1)."""

    name: str = ""
    description: str = ""
    source: Problem
    target: Problem
    cost_bits: int = 0

    @abstractmethod
    def map_x(self, x: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def map_y(self, y: np.ndarray) -> np.ndarray: ...

    def decode(self, answer: int) -> int:
        """Q's answer from P's (the identity by default)."""
        return int(answer)

    def params(self) -> dict[str, Any]:
        return self.source.params()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r} -> {self.target!r})"


def as_int_array(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def sorted_unique(values: Sequence[int] | np.ndarray) -> np.ndarray:
    """The distinct entries of an integer array, ascending, as int64 (``np.unique`` by a
    sort: NumPy 2.4's hash-based ``np.unique`` takes milliseconds even on a few entries)."""
    m = np.sort(np.asarray(values, dtype=np.int64).reshape(-1))
    return m[np.concatenate([[True], m[1:] != m[:-1]])] if m.size else m
