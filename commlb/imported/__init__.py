"""Bring your own model: trained checkpoints read without torch (safetensors, torch.save
zip files through a restricted unpickler, Hugging Face folders, .npz), GPT-2 and
RNN/GRU/LSTM run exactly in float32, task adapters, evaluation and split protocols."""

from __future__ import annotations

from typing import Any

__all__ = ["open_model"]


def open_model(weights: str, config: str | None = None, heads: int | None = None, readout: str | None = None,
               adapter: Any = None, dtype: str | None = None) -> Any:
    """Load ``weights`` (any supported format) as a model run in ``dtype`` (float32,
    bfloat16 or float16; default: the checkpoint's).  The read-out is ``readout`` if
    given, else the adapter's, else the checkpoint's default."""
    from .load import load_checkpoint, read_config
    from .models import build_imported

    cfg = read_config(config) if config else None
    ckpt = load_checkpoint(weights)
    if readout is None and adapter is not None:
        readout = adapter.readout
    return build_imported(ckpt, cfg, heads=heads, readout=readout, dtype=dtype)
