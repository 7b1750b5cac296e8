"""The distributions a run's trials can be drawn from (``simulate --trial-distribution``,
docs/theory.md §6.11).

A distributional bound holds for the distribution it is proved for, so the trials that
measure a model's error must be drawn from it.  The default, ``balanced``, is the
problem's own trial sampler (DISJ: independent biased bits, disjoint half of the time;
EQ: a copy of x half of the time), chosen so that the answers are not lopsided.  The
others:

* ``uniform`` — x and y uniform and independent (INDEX and IP: the distribution of their
  bounds);
* ``singleton`` (DISJ) — x uniform in {0,1}^n, y = {i} with i uniform: DISJ(x, {i}) =
  1 − x_i is INDEX_n in disguise, so the one-way bound (1 − H2(ε))·n applies to a
  one-way Alice → Bob transcript (docs/theory.md §6.2, §6.5);
* ``razborov`` (DISJ) — Razborov's distribution: n ≥ 3, ℓ = ⌊(n + 1)/4⌋, a random
  partition of 4ℓ − 1 of the elements into T_x, T_y (2ℓ − 1 each) and {i}; x is an
  ℓ-subset of T_x ∪ {i}, y one of T_y ∪ {i}; with probability 3/4 not both contain i
  (disjoint: (i ∈ x, i ∈ y) uniform on (0,0), (1,0), (0,1)), with probability 1/4 both do
  (they meet in exactly i).  The two-way DISJ bound is proved for it, but only as Ω(n):
  a run drawn from it is named as such, and no number is claimed (asymptotic only).

Each sampler returns (x, y) as int64 0/1 vectors, like :meth:`commlb.core.Problem.sample`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

__all__ = ["TrialDistribution", "TRIAL_DISTRIBUTIONS", "trial_sampler", "razborov_sample", "singleton_sample"]

Sampler = Callable[[object, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class TrialDistribution:
    name: str
    description: str
    problems: tuple[str, ...] | None  # None: every problem
    sampler: Sampler


def _balanced(problem: object, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return problem.sample_balanced(rng)  # type: ignore[attr-defined]


def _uniform(problem: object, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return problem.x_space.sample(rng), problem.y_space.sample(rng)  # type: ignore[attr-defined]


def singleton_sample(problem: object, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in {0,1}^n, y the indicator of one uniform element."""
    n = int(problem.n)  # type: ignore[attr-defined]
    x = rng.integers(0, 2, size=n, dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    y[int(rng.integers(0, n))] = 1
    return x, y


def razborov_sample(problem: object, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One pair from Razborov's distribution (module docstring)."""
    n = int(problem.n)  # type: ignore[attr-defined]
    if n < 3:
        raise InvalidInputError(f"Razborov's distribution needs n >= 3 (DISJ_{n} is too small)")
    ell = (n + 1) // 4
    perm = rng.permutation(n)
    i, tx, ty = int(perm[0]), perm[1:2 * ell], perm[2 * ell:4 * ell - 1]
    if rng.random() < 0.25:
        in_x = in_y = True
    else:
        in_x, in_y = [(False, False), (True, False), (False, True)][int(rng.integers(0, 3))]
    x = np.zeros(n, dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    for vec, side, has_i in ((x, tx, in_x), (y, ty, in_y)):
        take = ell - 1 if has_i else ell
        vec[rng.choice(side, size=take, replace=False)] = 1
        if has_i:
            vec[i] = 1
    return x, y


TRIAL_DISTRIBUTIONS: dict[str, TrialDistribution] = {
    "balanced": TrialDistribution("balanced", "the problem's trial sampler (answers about evenly split)", None,
                                  _balanced),
    "uniform": TrialDistribution("uniform", "uniform (x and y uniform and independent)", None, _uniform),
    "singleton": TrialDistribution(
        "singleton", "x uniform, y a uniform singleton {i} (DISJ(x, {i}) = 1 - x_i: INDEX in disguise)",
        ("disj",), singleton_sample),
    "razborov": TrialDistribution(
        "razborov", "Razborov's distribution (l-subsets meeting in at most one element, 1/4 of pairs meet)",
        ("disj",), razborov_sample),
}


def trial_sampler(name: str, problem: object, task: str | None = None) -> TrialDistribution:
    """The distribution ``name`` for ``problem`` (InvalidInputError when it does not
    apply to that problem, or the problem is too small for it).  ``problem`` None is a
    task without a reduction (named ``task`` in the message): its trials come from the
    task's own generator, so only ``balanced`` applies."""
    dist = TRIAL_DISTRIBUTIONS.get(name)
    if dist is None:
        raise InvalidInputError(f"--trial-distribution {name!r}: use one of {', '.join(TRIAL_DISTRIBUTIONS)}")
    if problem is None and name != "balanced":
        raise InvalidInputError(f"--trial-distribution: task {task or '(unnamed)'} has no reduction, so its trials "
                                "come from the task's own generator")
    pname = getattr(problem, "name", None)
    if dist.problems is not None and pname not in dist.problems:
        raise InvalidInputError(f"--trial-distribution {name} is defined for {', '.join(dist.problems)} only, "
                                f"not {pname or 'a task without a reduction'}")
    if name == "uniform" and getattr(problem, "is_promise", False):
        raise InvalidInputError(f"--trial-distribution uniform: {pname} is a promise problem (uniform pairs "
                                "fall outside the promise); use balanced")
    if name == "razborov" and int(getattr(problem, "n", 0)) < 3:
        raise InvalidInputError(f"--trial-distribution razborov needs n >= 3, got n = {getattr(problem, 'n', 0)}")
    return dist
