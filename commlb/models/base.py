"""The model interface shared by every family (RNN, transformer, FFN).

A model is a forward pass over token sequences in a stated :class:`~commlb.bits.Precision`
with its parameters as named numpy arrays.  Parameters are stored *already rounded* to
the model's precision: for fixed point as raw int64 integers (value = raw / 2^f), for
float as float64 values exactly representable in the format.  ``forward`` is the plain,
whole-input computation that every protocol is checked against, bit for bit.

Models know nothing of problems or reductions (docs/design.md §1).  A model reads its answer
at ``output_positions`` and turns it into a decision according to ``output_kind``:
``"binary"`` (1 iff the read-out value is > 0), ``"class"`` (argmax over read-out
entries) or ``"vector"`` (the read-out values themselves).
"""

from __future__ import annotations

import json
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..bits import Precision
from ..errors import InvalidInputError

__all__ = ["ModelOutput", "Model", "save_model", "load_model", "MODEL_FAMILIES"]



class _Families(Mapping[str, type["Model"]]):
    """Family name -> model class, in the order the CLI lists them.  Membership and
    iteration need no import; looking a class up imports its module (lazily, so that
    checking a family name stays cheap)."""

    _where = {"rnn": ("rnn", "RNNModel"), "transformer": ("transformer", "TransformerModel"),
              "ffn": ("ffn", "FFNModel")}

    def __getitem__(self, family: str) -> type[Model]:
        import importlib

        if family not in self._where:
            return _plugin_families()[family].model_class
        module, cls = self._where[family]
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)

    def __contains__(self, family: object) -> bool:
        return family in self._where or (isinstance(family, str) and family in _plugin_families())

    def __iter__(self) -> Iterator[str]:
        return iter([*self._where, *(k for k in _plugin_families() if k not in self._where)])

    def __len__(self) -> int:
        return len(list(iter(self)))


def _plugin_families() -> dict[str, Any]:
    """Model families from installed plugins and ``--model FILE.py:ATTR`` (loaded so far)."""
    from ..plugins import PLUGIN_FAMILIES, load_entry_points

    load_entry_points()
    return PLUGIN_FAMILIES


#: the model families: name -> class (the one list every command checks names against)
MODEL_FAMILIES: Mapping[str, type[Model]] = _Families()


@dataclass(frozen=True, eq=False)
class ModelOutput:
    """What a forward pass (or a protocol) produces.

    ``values``: the read-out in the model's number format (raw int64 for fixed point,
    float64 for float), shape (num_output_positions, out_dim).  ``decision``: the task
    answer derived from it (int, or int array for per-position outputs, or the real
    vectors for ``"vector"`` outputs).  ``saturations``: how many roundings saturated.
    """

    values: np.ndarray
    decision: Any
    saturations: int = 0

    def same_bits(self, other: ModelOutput) -> bool:
        return bool(
            self.values.shape == other.values.shape and np.array_equal(self.values, other.values)
        )


class Model(ABC):
    """Base class.  Subclasses set ``family`` and implement :meth:`forward`."""

    family: ClassVar[str] = ""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        precision: Precision,
        config: dict[str, Any],
    ) -> None:
        self.params = {k: np.asarray(v) for k, v in params.items()}
        self.precision = precision
        self.config = dict(config)

    @abstractmethod
    def forward(self, tokens: np.ndarray) -> ModelOutput: ...

    def decide(self, values: np.ndarray) -> Any:
        """The decision from read-out values of shape (num_outputs, out_dim), by
        ``config["output_kind"]``: ``"binary"`` 1 iff the value is > 0, ``"class"`` the
        argmax (the first on ties), ``"vector"`` the real values.  One output gives a
        scalar, several an int array."""
        kind = self.config["output_kind"]
        if kind == "binary":
            dec = (values[:, 0] > 0).astype(np.int64)
        elif kind == "class":
            dec = np.argmax(values, axis=1).astype(np.int64)
        else:
            return self.precision.to_real(values)
        return int(dec[0]) if dec.size == 1 else dec

    # -- description -----------------------------------------------------------------
    def num_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def describe(self) -> str:
        cfg = ", ".join(f"{k}={v}" for k, v in self.config.items() if not isinstance(v, (list, dict)))
        return f"{self.family}({cfg}; {self.precision.describe()})"

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "config": self.config,
            "precision": self.precision.to_json(),
            "num_params": self.num_params(),
        }

    # -- persistence (npz, no pickle) ---------------------------------------------------
    def save(self, path: str | Path) -> None:
        save_model(self, path)


def save_model(model: Model, path: str | Path) -> None:
    meta = {
        "family": model.family,
        "config": model.config,
        "precision": {"kind": model.precision.kind, "bits": model.precision.bits,
                      "frac": model.precision.frac},
    }
    arrays = {f"param:{k}": v for k, v in model.params.items()}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(Path(path), **arrays)  # type: ignore[arg-type]  # mypy matches **arrays to allow_pickle


def load_model(path: str | Path) -> Model:
    """Load a model saved by :func:`save_model` (``allow_pickle=False``).  Every way a
    file can fail to be one (not a zip, truncated, a header claiming more data than the
    file holds, object arrays, missing or mistyped metadata, non-numeric or non-finite
    parameters) is refused with one line (InvalidInputError)."""
    from ..validate import check_npy_members, short_text

    path = Path(path)
    label = f"weights file {str(path)!r}"
    members = check_npy_members(path, "--weights")  # headers only: nothing large is read
    if "__meta__" not in members:
        raise InvalidInputError(f"{label} is not a commlb weights file (no __meta__ entry; "
                                f"it holds {short_text(', '.join(sorted(members)) or 'nothing')})")
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = data["__meta__"]
            params = {k[len("param:"):]: data[k] for k in data.files if k.startswith("param:")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(f"{label} cannot be read: {short_text(str(exc), 120)}") from None
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise InvalidInputError(f"{label}: __meta__ must be the UTF-8 bytes of a JSON object")
    try:
        meta = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError(f"{label}: __meta__ is not UTF-8 JSON") from None
    if not isinstance(meta, dict):
        raise InvalidInputError(f"{label}: __meta__ must be a JSON object, got {type(meta).__name__}")
    family = meta.get("family")
    if family not in MODEL_FAMILIES:
        raise InvalidInputError(f"{label}: unknown model family {short_text(repr(family))}"
                                f" (known: {', '.join(sorted(MODEL_FAMILIES))})")
    p, config = meta.get("precision"), meta.get("config")
    if not isinstance(config, dict):
        raise InvalidInputError(f"{label}: \"config\" must be a JSON object")
    if not isinstance(p, dict) or not isinstance(p.get("kind"), str) or not _is_int(p.get("bits")) \
            or not _is_int(p.get("frac", 0)):
        raise InvalidInputError(f"{label}: \"precision\" must be {{\"kind\": str, \"bits\": int, \"frac\": int}}")
    if not params:
        raise InvalidInputError(f"{label} holds no parameters")
    for name, arr in params.items():
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"{label}: parameter {name!r} is not numeric (dtype {arr.dtype})")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{label}: parameter {name!r} holds NaN or infinite values")
    precision = Precision(p["kind"], int(p["bits"]), int(p.get("frac", 0)))
    _check_config(label, str(family), config)
    for name, arr in params.items():
        if arr.ndim == 0:
            raise InvalidInputError(f"{label}: parameter {name!r} is a scalar; every parameter is an array")
    # the constructor checks names and shapes with one-line errors; anything else it
    # raises is a bug and propagates
    return MODEL_FAMILIES[str(family)](params, precision, config)


#: the config keys each family reads, with the JSON type each must have (others are kept
#: as they are: constructions record their own keys)
_CONFIG_KEYS: dict[str, dict[str, str]] = {
    "rnn": {"vocab_size": "int", "hidden": "int", "layers": "int", "activation": "str",
            "output_kind": "str", "output_positions": "int list"},
    "ffn": {"length": "int", "vocab_size": "int", "hidden_sizes": "int list", "input": "str",
            "activation": "str", "output_kind": "str", "embed_dim": "int"},
    "transformer": {"layers": "int", "heads": "int", "width": "int", "key_dim": "int", "value_dim": "int",
                    "vocab_size": "int", "max_length": "int", "mlp_dim": "int", "causal": "bool",
                    "attention": "str", "output_kind": "str", "output_positions": "int list",
                    "embed_fields": "int list or null"},
}


def _check_config(label: str, family: str, config: dict[str, Any]) -> None:
    """Refuse, with one line, a config value of the wrong JSON type (a string for a size,
    a number for a list, …) before the family's constructor reads it."""
    from ..validate import short_text

    for key, kind in _CONFIG_KEYS.get(family, {}).items():
        if key not in config:
            continue  # the constructor names a missing required key itself
        v = config[key]
        if kind == "int list or null" and v is None:
            continue
        if kind.startswith("int list"):
            ok = isinstance(v, list) and all(_is_int(x) for x in v)
        elif kind == "int":
            ok = _is_int(v)
        elif kind == "bool":
            ok = isinstance(v, bool)
        else:
            ok = isinstance(v, str)
        if not ok:
            raise InvalidInputError(f"{label}: config {key!r} must be {'an' if kind[0] == 'i' else 'a'} {kind}, "
                                    f"got {short_text(repr(v), 60)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
