"""The model to simulate, for a task set-up and a model family.

:func:`build_model` returns the paper construction for (task, family) when one exists
(:mod:`commlb.models.constructions`), else seeded random weights with a visible note, or
weights loaded from a ``.npz`` file saved by :func:`commlb.models.base.save_model`;
:func:`model_tokens` turns a task's tokens into the token ids the model reads (multi-field
tokens through the construction's ``token_ids``).  The set-up is anything shaped like
:class:`commlb.setup.TaskSetup` (:class:`TaskShape`); this module knows nothing of
problems or reductions beyond what that shape states.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..bits import Precision
from ..core import Instance, Task
from ..errors import EngineError, InvalidInputError, check_arguments
from .base import MODEL_FAMILIES

__all__ = ["BuiltModel", "TaskShape", "build_model", "model_tokens", "token_encoder", "FAMILY_OPTIONS"]


class TaskShape(Protocol):
    """What model building reads of a task set-up (:class:`commlb.setup.TaskSetup`)."""

    @property
    def task(self) -> Task: ...

    @property
    def n(self) -> int: ...

    @property
    def task_name(self) -> str: ...

    @property
    def reduction(self) -> Any: ...

    @property
    def length(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def structured_tokens(self) -> bool: ...

    @property
    def task_n(self) -> int: ...

    def readout(self) -> tuple[str, int]: ...

    def example_instance(self) -> Instance: ...


@dataclass(frozen=True, eq=False)
class BuiltModel:
    """A model with where its weights came from (``"construction"``, ``"random"`` or
    ``"file"``) and a note for the reader."""

    model: Any
    source: str
    note: str
    precision: Precision

    @property
    def family(self) -> str:
        return str(self.model.family)


def _precision(bits: int | None, arith: str, default: int | None) -> Precision | None:
    if arith not in ("fixed", "float"):
        raise InvalidInputError(f"--arith must be fixed or float, not {arith!r}")
    if bits is None:
        if default is None:
            return None
        bits = default
    return Precision.parse(int(bits), arith)


FAMILY_OPTIONS = {"rnn": ("hidden", "layers"), "transformer": ("layers", "heads", "width"),
                   "ffn": ("hidden", "layers")}


def build_model(setup: TaskShape, family: str, *, hidden: int | None = None, layers: int | None = None,
                heads: int | None = None, width: int | None = None, precision: int | None = None,
                arith: str = "fixed", weights: str | None = None, seed: int = 0) -> BuiltModel:
    """The model to simulate.  ``weights``: ``None`` (the construction for this task and
    family when one exists, else random with a note), ``"construction"``, ``"random"``, or
    a path to a ``.npz`` saved by :func:`commlb.models.base.save_model`.  ``precision`` is
    in bits (default: what the construction needs; 16 for random weights)."""
    from ..plugins import resolve_family
    from .constructions import get_construction, has_construction, list_constructions

    family = resolve_family(family)
    if family not in MODEL_FAMILIES:
        raise InvalidInputError(f"unknown model family {family!r}; choose one of {', '.join(MODEL_FAMILIES)}")
    sizes = {"hidden": hidden, "layers": layers, "heads": heads, "width": width}
    for key, value in sizes.items():
        if value is None:
            continue
        takes = _family_options(family)
        if key not in takes:
            raise InvalidInputError(f"--{key} does not apply to the {family} model "
                                    f"(its options: {', '.join('--' + o for o in takes) or 'none'})")
        if int(value) < 1:
            raise InvalidInputError(f"--{key} must be >= 1, got {value}")
    given = {k: int(v) for k, v in sizes.items() if v is not None}
    task_name = setup.task_name or setup.task.name

    if weights not in (None, "construction", "random"):
        return _load_weights(setup, family, str(weights), precision, given)
    use_construction = weights == "construction" or (weights is None and has_construction(task_name, family))
    if weights == "construction" and not has_construction(task_name, family):
        known = ", ".join(f"{t}/{f}" for t, f in list_constructions()) or "none"
        raise InvalidInputError(f"no construction for task {task_name} with the {family} model "
                                f"(available: {known}); use --weights random")
    if use_construction:
        builder = get_construction(task_name, family)
        prec = _precision(precision, arith, None if arith == "fixed" else 16)
        extra: dict[str, Any] = {}
        if setup.reduction is not None and "outputs" in _parameters(builder):
            extra["outputs"] = "last"  # the reduction reads the answer at the last position only
        check_arguments(builder, f"the {task_name}/{family} construction", setup.task, setup.task_n,
                        precision=prec, **given, **extra)
        model = builder(setup.task, setup.task_n, precision=prec, **given, **extra)
        _check_family(model, family, "the construction")
        return BuiltModel(model, "construction", _construction_note(model, builder), model.precision)

    prec = _precision(precision, arith, 16)
    assert prec is not None
    if setup.structured_tokens:
        available = ", ".join(f"{t}/{f}" for t, f in list_constructions() if t == task_name)
        raise InvalidInputError(
            f"task {task_name} has real-valued multi-field tokens; random {family} weights take token ids "
            f"(use a construction: {available or 'none available'})"
        )
    rng = np.random.default_rng([int(seed), 0x5EED])
    model = _random_model(setup, family, prec, rng, given)
    why = "" if weights == "random" else f"no construction for {task_name}/{family}: "
    note = (f"{why}random weights (seed {seed}); a random model is not a solver, so its wrong answers "
            "say nothing about the bound")
    return BuiltModel(model, "random", note, prec)


def _family_options(family: str) -> tuple[str, ...]:
    if family in FAMILY_OPTIONS:
        return FAMILY_OPTIONS[family]
    from ..plugins import PLUGIN_FAMILIES

    return tuple(PLUGIN_FAMILIES[family].options)


def _parameters(func: Any) -> set[str]:
    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


def _construction_note(model: Any, builder: Any) -> str:
    info = model.config.get("construction") if isinstance(getattr(model, "config", None), dict) else None
    if isinstance(info, dict) and info.get("name"):
        return f"construction: {info['name']}"
    import sys

    doc = " ".join((sys.modules.get(builder.__module__).__doc__ or "").split())
    if not doc:
        return "construction: " + builder.__module__
    # the first sentence, which may run over several docstring lines
    end = doc.find(". ")
    first = doc if end < 0 else doc[: end]
    return "construction: " + first.rstrip(".")


def _check_family(model: Any, family: str, where: str) -> None:
    if getattr(model, "family", None) != family:
        raise InvalidInputError(f"{where} holds a {getattr(model, 'family', '?')} model, not {family}")


def _random_model(setup: TaskShape, family: str, prec: Precision, rng: np.random.Generator,
                  given: dict[str, int]) -> Any:
    kind, classes = setup.readout()
    vocab, length = setup.vocab_size, setup.length
    if family not in FAMILY_OPTIONS:  # a plugin's family: its own random weights
        from ..plugins import PLUGIN_FAMILIES, PluginError

        try:
            model = PLUGIN_FAMILIES[family].random(vocab, length, rng, precision=prec, output_kind=kind,
                                                   num_classes=max(classes, 2), **given)
        except InvalidInputError:
            raise
        except Exception as exc:  # the plugin's own code failed: one line naming it
            raise PluginError(f"the {family} family's random(...) failed: {type(exc).__name__}: {exc}") from None
        _check_family(model, family, f"the {family} family's random(...)")
        return model
    if family == "transformer":
        from .transformer import TransformerModel

        return TransformerModel.random(vocab, length, rng, layers=given.get("layers", 1),
                                       heads=given.get("heads", 1), width=given.get("width", 16),
                                       precision=prec, output_kind=kind, num_classes=max(classes, 2),
                                       output_positions=(-1,))
    if family == "rnn":
        from .rnn import RNNModel

        return RNNModel.random(vocab, rng, given.get("hidden", 16), layers=given.get("layers", 1),
                               precision=prec, output_kind=kind, num_classes=max(classes, 2),
                               output_positions=(-1,))
    from .ffn import FFNModel

    return FFNModel.random(vocab, length, rng, hidden=given.get("hidden", 16), layers=given.get("layers", 1),
                           precision=prec, output_kind=kind, num_classes=max(classes, 2))


def _load_weights(setup: TaskShape, family: str, path: str, precision: int | None,
                  given: dict[str, int]) -> BuiltModel:
    from .base import load_model

    if not path.endswith(".npz") and not Path(path).exists():
        raise InvalidInputError(f"--weights must be construction, random or a FILE.npz, got {path!r}")
    if precision is not None or given:
        extra = ["--precision"] if precision is not None else []
        extra += [f"--{k}" for k in given]
        raise InvalidInputError(f"{', '.join(extra)} cannot change weights loaded from {path}")
    model = load_model(path)
    _check_family(model, family, path)
    task_name = setup.task_name or setup.task.name
    cfg = model.config
    if not setup.structured_tokens and "vocab_size" in cfg and int(cfg["vocab_size"]) < setup.vocab_size:
        raise InvalidInputError(f"{path}: vocabulary {cfg['vocab_size']} is smaller than {task_name}'s "
                                f"{setup.vocab_size} tokens at n = {setup.n}")
    if "max_length" in cfg and int(cfg["max_length"]) < setup.length:
        raise InvalidInputError(f"{path}: the model takes at most {cfg['max_length']} tokens; {task_name} at "
                                f"n = {setup.n} has {setup.length}")
    if "length" in cfg and int(cfg["length"]) != setup.length:
        raise InvalidInputError(f"{path}: the model takes {cfg['length']} tokens; {task_name} at "
                                f"n = {setup.n} has {setup.length}")
    try:
        model.forward(model_tokens(task_name, model, setup.example_instance().tokens))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path} does not fit {task_name} at n = {setup.n}: {exc}") from None
    return BuiltModel(model, "file", f"weights loaded from {path}", model.precision)


def token_encoder(task_name: str, family: str) -> Any:
    """The function that turns a task's multi-field tokens (qSA, qSTR: structured arrays
    of real and integer fields) into the integer token ids of the (task, family)
    construction — its module's ``token_ids(model, tokens)`` — or None."""
    import importlib

    from .constructions import CONSTRUCTIONS, has_construction

    if not has_construction(task_name, family):
        return None
    module = importlib.import_module(f"{__package__}.constructions."
                                     f"{CONSTRUCTIONS[(task_name, family)].split(':')[0]}")
    return getattr(module, "token_ids", None)


def model_tokens(task_name: str, model: Any, tokens: Any) -> np.ndarray:
    """The token ids ``model`` reads for ``tokens``: the tokens themselves, or for
    multi-field tokens their encoding by the construction's ``token_ids`` (the encoding
    is token-wise, so every position keeps its owner)."""
    arr = np.asarray(tokens)
    if arr.dtype.names is None:
        return arr
    encode = token_encoder(task_name, model.family)
    if encode is None:
        raise InvalidInputError(f"task {task_name} has multi-field tokens and the {model.family} model has no "
                                "token encoder (only constructions that define token_ids can read them)")
    ids = np.asarray(encode(model, arr))
    if ids.shape != (len(arr),):
        raise EngineError(f"{task_name} token encoder returned shape {ids.shape} for {len(arr)} tokens")
    return ids

