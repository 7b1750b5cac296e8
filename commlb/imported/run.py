"""One imported-model protocol run on a seeded task instance (the library side of
``commlb simulate --weights FILE --adapter …``).

:func:`simulate_weights` draws an instance of the adapter's task, writes it in the
model's ids, runs :func:`commlb.imported.protocol.simulate_imported` under the split, and
scores the protocol's read-out against the task's answer at the scored positions.  No
lower bound is applied: the model may err (docs/theory.md §11.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .adapter import Adapter
from .evaluate import EXACT_BOUNDS_NOTE, check_fit, prepare_task
from .protocol import ProtocolRun, make_split, simulate_imported

__all__ = ["ImportedRun", "is_imported_weights", "simulate_weights"]

#: refuse protocol runs over more tokens than this (every value is encoded bit by bit)
MAX_TOKENS = 4096


def is_imported_weights(weights: str | None) -> bool:
    """True for a path that names a trained checkpoint rather than commlb's own weights
    (``construction``, ``random``, a commlb ``.npz``)."""
    from pathlib import Path

    if weights is None or weights in ("construction", "random"):
        return False
    p = Path(weights)
    if p.is_dir():
        return True
    return p.suffix.lower() in (".safetensors", ".pt", ".pth", ".bin", ".ckpt") or p.name.endswith(".index.json")


@dataclass
class ImportedRun:
    task: str
    options: dict[str, Any]
    n: int
    seed: int
    adapter: Adapter
    model: dict[str, Any]
    tokens: np.ndarray
    ids: np.ndarray
    target: np.ndarray
    run: ProtocolRun
    split_name: str

    @property
    def wrong(self) -> int:
        return int(np.sum(self.run.predictions != self.target[self.run.scored]))

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "task_options": self.options, "n": self.n, "seed": self.seed,
                "adapter": self.adapter.to_json(), "model": self.model, "split": {
                    "name": self.split_name, "owner": self.run.transcript.meta.get("owner", [])},
                "tokens": self.tokens.tolist(), "model_ids": self.ids.tolist(),
                "targets": self.target.tolist(), "scored": int(self.run.scored.sum()), "wrong": self.wrong,
                "transcript": self.run.to_json(), "note": EXACT_BOUNDS_NOTE}


def simulate_weights(model: Any, adapter: Adapter, task_name: str | None, options: dict[str, Any],
                     n: int | None, split: str | None, seed: int = 0, mode: str = "cheaper") -> ImportedRun:
    if n is None:
        raise InvalidInputError("--n is required with imported weights (the instance size)")
    name, task, opts = prepare_task(adapter, task_name, options)
    length = int(task.length(n))
    if length + len(adapter.prefix) > MAX_TOKENS:
        raise InvalidInputError(f"{length + len(adapter.prefix)} tokens is above the protocol limit {MAX_TOKENS}; "
                                "use a smaller --n")
    rng = np.random.default_rng(seed)
    tokens = np.asarray(task.generate(rng, n))
    answers = np.asarray(task.solve(tokens))
    ids = adapter.encode(tokens[None], opts)[0]
    target, scored = adapter.targets_and_scored(answers[None], tokens.size)
    check_fit(model, ids[None], target, scored, adapter)
    sp = make_split(split, len(adapter.prefix), tokens.size)
    run = simulate_imported(model, ids, sp, scored[0], mode)
    run.transcript.meta["owner"] = sp.owner.tolist()
    return ImportedRun(name, opts, n, seed, adapter, model.summary(), tokens, ids, target[0], run, sp.name)
