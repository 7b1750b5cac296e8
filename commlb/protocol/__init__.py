"""Models run as two-party protocols (docs/design.md §5, docs/theory.md §3).

:func:`simulate` is the one entry point: it looks at ``model.family`` and hands the run
to that family's simulator (``commlb.protocol.<family>.simulate_<family>``), imported
only when first used.  Every simulator returns ``(Transcript, ModelOutput)`` and, with
``verify=True`` (the default), checks the protocol's output against ``model.forward``
and raises :class:`~commlb.errors.EngineError` on a mismatch.

The primitives (splits, party views, the channel, transcripts) live in :mod:`.core`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from ..models.base import Model, ModelOutput
    from .core import Split, Transcript

__all__ = ["simulate", "SIMULATORS", "simulator_for"]

#: model family -> (module inside commlb.protocol, simulator function)
SIMULATORS: dict[str, tuple[str, str]] = {
    "rnn": ("rnn", "simulate_rnn"),
    "transformer": ("transformer", "simulate_transformer"),
    "ffn": ("ffn", "simulate_ffn"),
}


def simulator_for(family: str) -> Any:
    """The simulator function of a model family (imported on first use)."""
    if family not in SIMULATORS:
        from ..plugins import PLUGIN_FAMILIES

        if family in PLUGIN_FAMILIES:
            return PLUGIN_FAMILIES[family].simulate
        known = ", ".join(sorted(SIMULATORS))
        raise InvalidInputError(f"no protocol simulator for model family {family!r}; known: {known}")
    module_name, func = SIMULATORS[family]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module_name}":
            raise
        raise InvalidInputError(
            f"the {family} protocol simulator is not available in this installation"
        ) from None
    return getattr(module, func)


def simulate(model: Model, tokens: Any, split: Split, *,
             verify: bool | str = True) -> tuple[Transcript, ModelOutput]:
    """Run ``model`` on ``tokens`` as a protocol between the owners of ``split``.

    Dispatches on ``model.family`` (``"rnn"``, ``"transformer"``, ``"ffn"``).  Returns the
    transcript (every message encoded, counted and decoded) and the protocol's output;
    ``verify`` checks that output against ``model.forward(tokens)``.  An RNN also takes
    ``verify="replay"`` or ``"all"`` (:func:`commlb.protocol.rnn.simulate_rnn`,
    docs/theory.md §3.9); the other families take ``True``/``"forward"`` or
    ``False``/``"none"``."""
    family = getattr(model, "family", None)
    if not isinstance(family, str) or not family:
        raise InvalidInputError(f"{type(model).__name__} is not a commlb model (it has no family)")
    if family != "rnn" and isinstance(verify, str):
        modes = {"forward": True, "none": False}
        if verify not in modes:
            raise InvalidInputError(f"verify={verify!r} is for RNNs; the {family} simulator takes "
                                    "'forward' or 'none'")
        verify = modes[verify]
    return simulator_for(family)(model, tokens, split, verify=verify)
