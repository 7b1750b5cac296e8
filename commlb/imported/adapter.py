"""Adapters: from a task instance to a trained model's tokens, and from its outputs back.

A trained model has its own vocabulary and prompt layout.  An adapter is a small JSON or
TOML file (``--adapter FILE``) or a built-in name (``--adapter sht24-khop``)::

    {
      "name": "sht24-khop",
      "task": "khop",                        # the commlb task it reads (optional)
      "task_options": {"alphabet": 4},       # defaults; --task-option overrides
      "prefix": ["{k}"],                     # ids before the instance; "{opt}" / "{opt}+c"
      "tokens": {"offset": 17},              # task token t -> model id 17 + t
      "targets": {"offset": 17, "none": 21, "prefix": 22},
      "score": "answers",                    # which positions are scored
      "readout": "hidden"                    # lm_head | hidden | linear:NAME
    }

* ``prefix`` — model ids placed before the instance (they are PUBLIC in a split): integers,
  or strings ``"{k}"`` / ``"{k}+3"`` filled in from the task options.
* ``tokens`` — ``{"offset": c}`` (id = c + t) or ``{"map": [id of token 0, id of token 1, ...]}``.
* ``targets`` — how the task's answer for the token at a position is written there:
  ``offset`` or ``map`` as for tokens, ``none`` the id written where the task has no
  answer (the task says −1, e.g. hop_k = ⊥), ``prefix`` the id expected at prefix
  positions (or omitted: prefix positions are never scored).  A per-position task's
  answer for task position j sits at model position len(prefix) + j; a task with one
  answer has it at the last position.
* ``score`` — ``answers`` (positions whose target is a task answer, neither ``none`` nor
  the prefix id), ``all`` (every task position, ``none`` targets included) or ``last``.
* ``readout`` — how the model's prediction is read: ``lm_head`` (argmax of the logits),
  ``hidden`` (argmax of the final hidden state), ``linear:NAME`` (a named linear head).

Error rate = wrong scored positions / scored positions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError

__all__ = ["BUILTIN_ADAPTERS", "Adapter", "list_adapters", "load_adapter"]

#: SHT24's published k-hop models (github.com/chsanford/hop-induction-heads): input
#: [k] + characters as ids 17 + c (4 characters, ids 17-20); the target at position
#: i >= 1 is hop_k of the characters at position i - 1 (17 + c, or 21 when it does not
#: exist), at position 0 the blank id 22; error over positions whose target is a character;
#: prediction = argmax of the final hidden state.
BUILTIN_ADAPTERS: dict[str, dict[str, Any]] = {
    "sht24-khop": {
        "name": "sht24-khop",
        "description": "SHT24's k-hop GPT-2 models: [k] + chars as 17+c; target hop_k (17+c, none 21, blank 22)",
        "task": "khop",
        "task_options": {"alphabet": 4, "k": 1},
        "prefix": ["{k}"],
        "tokens": {"offset": 17},
        "targets": {"offset": 17, "none": 21, "prefix": 22},
        "score": "answers",
        "readout": "hidden",
    },
}

_KEYS = {"name", "description", "task", "task_options", "prefix", "tokens", "targets", "score", "readout"}
_TEMPLATE = re.compile(r"^\{(\w+)\}(?:\s*([+-])\s*(\d+))?$")


@dataclass(frozen=True)
class Adapter:
    name: str
    prefix: tuple[Any, ...] = ()
    tokens: Mapping[str, Any] = field(default_factory=lambda: {"offset": 0})
    targets: Mapping[str, Any] = field(default_factory=lambda: {"offset": 0})
    score: str = "answers"
    readout: str | None = None
    task: str | None = None
    task_options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Adapter:
        if not isinstance(data, Mapping):
            raise ModelFileError(f"{where}: an adapter is a table of keys")
        unknown = set(data) - _KEYS
        if unknown:
            raise ModelFileError(f"{where}: unknown adapter key(s) {', '.join(sorted(unknown))} (known: "
                                 f"{', '.join(sorted(_KEYS))})")
        prefix = data.get("prefix", [])
        if not isinstance(prefix, list) or not all(isinstance(p, (int, str)) and not isinstance(p, bool)
                                                   for p in prefix):
            raise ModelFileError(f"{where}: prefix is a list of ids or \"{{option}}\" strings")
        for p in prefix:
            if isinstance(p, str) and not _TEMPLATE.match(p.strip()):
                raise ModelFileError(f"{where}: prefix entry {p!r} is not \"{{option}}\" or \"{{option}}+c\"")
        for key in ("tokens", "targets"):
            spec = data.get(key, {"offset": 0})
            if not isinstance(spec, Mapping) or ("offset" in spec) == ("map" in spec):
                raise ModelFileError(f"{where}: {key} needs exactly one of offset or map")
            allowed = {"offset", "map"} | ({"none", "prefix"} if key == "targets" else set())
            extra = set(spec) - allowed
            if extra:
                raise ModelFileError(f"{where}: unknown {key} key(s) {', '.join(sorted(extra))}")
            for k in ("offset", "none", "prefix"):
                if k in spec and (not isinstance(spec[k], int) or isinstance(spec[k], bool)):
                    raise ModelFileError(f"{where}: {key}.{k} must be an integer id")
            if "map" in spec and (not isinstance(spec["map"], list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in spec["map"])):
                raise ModelFileError(f"{where}: {key}.map is a list of integer ids")
        score = data.get("score", "answers")
        if score not in ("answers", "all", "last"):
            raise ModelFileError(f"{where}: score must be answers, all or last, got {score!r}")
        readout = data.get("readout")
        if readout is not None and readout not in ("lm_head", "hidden") and not str(readout).startswith("linear:"):
            raise ModelFileError(f"{where}: readout must be lm_head, hidden or linear:NAME, got {readout!r}")
        opts = data.get("task_options", {})
        if not isinstance(opts, Mapping):
            raise ModelFileError(f"{where}: task_options is a table")
        return cls(name=str(data.get("name", where)), prefix=tuple(prefix),
                   tokens=dict(data.get("tokens", {"offset": 0})),
                   targets=dict(data.get("targets", {"offset": 0})), score=score, readout=readout,
                   task=data.get("task"), task_options=dict(opts), description=str(data.get("description", "")))

    # -------------------------------------------------------------- instance -> model
    def prefix_ids(self, options: Mapping[str, Any]) -> np.ndarray:
        out = []
        for p in self.prefix:
            if isinstance(p, int):
                out.append(p)
                continue
            m = _TEMPLATE.match(p.strip())
            assert m is not None  # checked in from_dict
            name, sign, num = m.group(1), m.group(2), m.group(3)
            if name not in options:
                raise ModelFileError(f"adapter {self.name}: prefix needs the task option {name!r}")
            try:
                v = int(options[name])
            except (TypeError, ValueError):
                raise ModelFileError(f"adapter {self.name}: task option {name} = {options[name]!r} is not an "
                                     "integer") from None
            out.append(v + (int(num) if sign == "+" else -int(num) if sign == "-" else 0))
        return np.asarray(out, dtype=np.int64)

    @staticmethod
    def _apply(spec: Mapping[str, Any], values: np.ndarray, what: str, name: str) -> np.ndarray:
        if "offset" in spec:
            return values + int(spec["offset"])
        table = np.asarray(spec["map"], dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() >= table.size):
            raise ModelFileError(f"adapter {name}: {what} map has {table.size} entries, the task uses "
                                 f"0..{int(values.max())}")
        return table[values]

    def encode(self, tokens: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
        """Model ids [B, P + N] of task tokens [B, N]."""
        tokens = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
        pre = self.prefix_ids(options)
        ids = self._apply(self.tokens, tokens, "token", self.name)
        return np.concatenate([np.broadcast_to(pre, (tokens.shape[0], pre.size)), ids], axis=1)

    def targets_and_scored(self, answers: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Target ids [B, P + N] (−1 where nothing is expected) and the scored mask, from
        the task's answers: [B, N] per position (−1 = no answer) or [B] (one answer, at
        the last position)."""
        answers = np.asarray(answers, dtype=np.int64)
        B = answers.shape[0]
        P = len(self.prefix)
        T = P + length
        target = np.full((B, T), -1, dtype=np.int64)
        answered = np.zeros((B, T), dtype=bool)
        if answers.ndim == 1:
            answered[:, -1] = True
            target[:, -1] = self._write(answers)
        else:
            target[:, P:] = self._write(answers)
            answered[:, P:] = answers >= 0
        if "prefix" in self.targets and P:
            target[:, :P] = int(self.targets["prefix"])
        if self.score == "answers":
            scored = answered
        elif self.score == "all":
            scored = np.zeros((B, T), dtype=bool)
            scored[:, P:] = True
        else:
            scored = np.zeros((B, T), dtype=bool)
            scored[:, -1] = True
        scored &= target >= 0
        return target, scored

    def _write(self, answers: np.ndarray) -> np.ndarray:
        none = self.targets.get("none")
        has = answers >= 0
        ids = self._apply(self.targets, np.where(has, answers, 0), "target", self.name)
        return np.where(has, ids, -1 if none is None else int(none))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "task_options": dict(self.task_options),
                "prefix": list(self.prefix), "tokens": dict(self.tokens), "targets": dict(self.targets),
                "score": self.score, "readout": self.readout}


def list_adapters() -> list[str]:
    return sorted(BUILTIN_ADAPTERS)


def load_adapter(spec: str) -> Adapter:
    """A built-in adapter by name, or a JSON / TOML adapter file."""
    if spec in BUILTIN_ADAPTERS:
        return Adapter.from_dict(BUILTIN_ADAPTERS[spec], spec)
    path = Path(spec)
    if not path.is_file():
        raise ModelFileError(f"adapter {spec!r} is neither a built-in ({', '.join(list_adapters())}) nor a file")
    from .load import read_structured

    data = read_structured(path, "adapter", ("toml",))
    return Adapter.from_dict(data, str(path))
