"""Trained architectures in numpy float32: Hugging Face GPT-2 and PyTorch RNN/GRU/LSTM.

Detection (:func:`build_imported`) reads the key layout of a state dict:

* **GPT-2** — ``{prefix}wte.weight``, ``{prefix}wpe.weight``, ``{prefix}h.{i}.ln_1``,
  ``attn.c_attn`` (Conv1D: weight ``[in, 3·out]``), ``attn.c_proj``, ``ln_2``,
  ``mlp.c_fc``, ``mlp.c_proj``, ``{prefix}ln_f``, optional ``lm_head.weight``; the prefix
  (``transformer.``, ``backbone.``, none, ...) is whatever stands before ``wte.weight``.
  Shapes give depth, width, MLP width, vocabulary and context length; the number of heads
  comes from the config (``n_head``/``headcount``/``num_heads``/...) or ``heads=``, else
  the model is refused.  LayerNorm epsilon: the config's ``layer_norm_epsilon`` (default
  1e-5, Hugging Face's); activation: the config's ``activation_function`` (default
  ``gelu_new``).
* **RNN / GRU / LSTM** — ``{prefix}weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``; the gate count (rows / hidden) tells the cell: 4 LSTM, 3 GRU, 1 RNN
  (tanh unless the config says ``nonlinearity: relu``); an LSTM with ``weight_hr_l{k}``
  has ``proj_size``: h = W_hr·(o ⊙ tanh c), of the projection size.  In front, an embedding (a 2-D
  ``*.weight`` with ``input_size`` columns whose name contains ``emb``, or ``wte``/
  ``encoder``), else one-hot inputs; behind, a linear head (a ``*.weight`` of shape
  ``[out, hidden]``, with its bias if present).

Arithmetic: the format the checkpoint holds (float32, bfloat16 or float16; detected, or
``dtype=``), as PyTorch computes on the CPU (:mod:`commlb.imported.numformat`): values
are float32 arrays, every op computes in float32 and rounds its result to the format
(identity for float32); every product is a float32 BLAS call (``numpy.matmul``), batched
over sequences, rounded once (a linear layer's bias is added before that rounding, as
``torch.addmm`` does).  In bfloat16/float16 ``gelu_new`` rounds after each of its eight
ops, the attention scores after the product and after the scaling, the softmax once.

GPT-2 as Hugging Face computes it (``modeling_gpt2.GPT2Block``)::

    x = wte[t] + wpe[i]
    for each block:  a = LN_1(x);  q, k, v = a·W_attn + b_attn  (split in heads)
                     x = x + (softmax(q·kᵀ/√d_head + causal mask)·v)·W_proj + b_proj
                     x = x + gelu_new(LN_2(x)·W_fc + b_fc)·W_mproj + b_mproj
    h = LN_f(x)

LSTM (PyTorch gate order i, f, g, o)::  c' = σ(f)⊙c + σ(i)⊙tanh(g);  h' = σ(o)⊙tanh(c')
GRU (r, z, n)::  n = tanh(W_in x + b_in + σ(r)⊙(W_hn h + b_hn));  h' = (1 − σ(z))⊙n + σ(z)⊙h
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelFileError
from .load import HEAD_KEYS, Checkpoint, config_value
from .numformat import FORMATS, NumberFormat, get_format

__all__ = ["GPT2", "Readout", "Recurrent", "build_imported", "gelu_new", "layer_norm"]

F32 = np.float32
_F32_FORMAT = FORMATS["float32"]


def gelu_new(x: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hugging Face ``gelu_new``), op by op in
    the order of ``NewGELUActivation`` with each result rounded to ``fmt``; ``pow(x, 3)``
    rounds x·x before the last product in bfloat16 and computes x³ in float32 in float16,
    as PyTorch's CPU kernel does (measured with torch 2.13)."""
    if fmt.exact32:  # in place, one temporary: the same float32 results (0.5·(x·y) = (0.5·x)·y exactly)
        t = x * x
        t *= x
        t *= F32(0.044715)
        t += x
        t *= F32(math.sqrt(2.0 / math.pi))
        np.tanh(t, out=t)
        t += F32(1.0)
        t *= x
        t *= F32(0.5)
        return t
    r = fmt.round
    half = r(F32(0.5) * x)
    cube = r(r(x * x) * x) if fmt.name == "bfloat16" else r(x * x * x)
    t = r(x + r(F32(0.044715) * cube))
    t = r(np.tanh(r(F32(math.sqrt(2.0 / math.pi)) * t)))
    return r(half * r(F32(1.0) + t))


def _gelu_tanh(x: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    """``F.gelu(x, approximate="tanh")``: computed in float32, rounded once."""
    return fmt.round(gelu_new(x))


def _gelu_fast(x: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    """Hugging Face ``gelu_fast``: 0.5·x·(1 + tanh(x·0.7978845608·(1 + 0.044715·x·x))), op by op."""
    r = fmt.round
    inner = r(F32(1.0) + r(r(F32(0.044715) * x) * x))
    t = r(np.tanh(r(r(x * F32(0.7978845608)) * inner)))
    return r(r(F32(0.5) * x) * r(F32(1.0) + t))


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_erf(x: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    """0.5·x·(1 + erf(x/√2)), erf in float64 (no scipy needed), rounded to float32 and
    then to ``fmt`` (``F.gelu`` computes in float32 and rounds once)."""
    return fmt.round((F32(0.5) * x * (F32(1.0) + _ERF(x / F32(math.sqrt(2.0))).astype(F32))).astype(F32))


def _relu(x: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    return np.maximum(x, F32(0))


_ACTIVATIONS = {"gelu_new": gelu_new, "gelu_pytorch_tanh": _gelu_tanh, "gelu_fast": _gelu_fast,
                "gelu": _gelu_erf, "relu": _relu}


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True, dtype=F32)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True, dtype=F32)
    return xc / np.sqrt(var + F32(eps)) * g + b


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
    """x·w (+ b) over the last axis as one 2-D BLAS call (a stacked matmul would make one
    small, separately threaded call per leading index), rounded once to ``fmt``."""
    lead = x.shape[:-1]
    out = np.ascontiguousarray(x).reshape(-1, x.shape[-1]) @ w
    if b is not None:
        out += b
    return fmt.round(out.reshape(lead + (w.shape[1],)))


_CONTROLLER: Any = None


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread (threadpoolctl; its scan of the loaded
    libraries, ~3 ms, is done once per process)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def parallel_chunks(run: Callable[[int], None], starts: range, workers: int | None = None) -> None:
    """``run(s)`` for every chunk start, on ``workers`` threads (default: one per CPU, at
    most 4), each BLAS call on one thread.  numpy releases the GIL in its products and
    ufuncs, so the threads run in parallel; OpenBLAS's own threads on these
    (b·99 × 128)·(128 × 512) products spin while they wait, which on a busy machine cost
    half again the CPU time (measured: 1.55 s against 0.98 s for 200 sequences of the
    bench GPT-2)."""
    n = len(starts)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    workers = max(1, min(workers, n))
    with one_blas_thread():
        if workers == 1:
            for s in starts:
                run(s)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            for f in [pool.submit(run, s) for s in starts]:
                f.result()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return F32(1.0) / (F32(1.0) + np.exp(-x))


@dataclass(frozen=True)
class Readout:
    """How a prediction is read from the final hidden state: ``lm_head`` (logits over
    the vocabulary, the checkpoint's ``lm_head.weight`` or the tied ``wte``), ``hidden``
    (argmax of the final hidden state itself) or ``linear`` (a named linear head,
    ``name.weight`` ``[out, hidden]`` and ``name.bias``)."""

    kind: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    name: str = ""
    #: round the product before adding the bias (``nn.Linear`` on a transposed view,
    #: such as the output of a ``batch_first`` recurrent module, is matmul then add)
    bias_after: bool = False

    def apply(self, hidden: np.ndarray, fmt: NumberFormat = _F32_FORMAT) -> np.ndarray:
        if self.kind == "hidden" or self.weight is None:
            return hidden
        if self.bias_after and self.bias is not None and not fmt.exact32:
            return fmt.round(linear(hidden, self.weight.T, None, fmt) + self.bias)
        return linear(hidden, self.weight.T, self.bias, fmt)

    @property
    def classes(self) -> int | None:
        return None if self.weight is None else int(self.weight.shape[0])

    def describe(self) -> str:
        if self.kind == "hidden" or self.weight is None:
            return "argmax of the final hidden state"
        what = "LM head" if self.kind == "lm_head" else "linear head"
        return f"{what} {self.name} ({self.weight.shape[0]} outputs)"


def _f32(a: np.ndarray, key: str) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.floating):
        raise ModelFileError(f"tensor {key!r} has dtype {a.dtype}, expected floating point")
    out = np.ascontiguousarray(a, dtype=F32)
    if not np.all(np.isfinite(out)):
        raise ModelFileError(f"tensor {key!r} holds NaN or infinite values")
    return out


class _Imported:
    family: str = ""
    format: str = ""
    layers: int = 0
    width: int = 0
    heads: int | None = None
    vocab_size: int = 0
    readout: Readout
    params: dict[str, np.ndarray]
    number: NumberFormat = _F32_FORMAT

    @property
    def out_width(self) -> int:
        """Size of the final hidden state the read-out sees."""
        return self.width

    def num_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def summary(self) -> dict[str, Any]:
        return {"family": self.family, "layers": self.layers, "width": self.width, "heads": self.heads,
                "parameters": self.num_params(), "format": self.format, "vocab_size": self.vocab_size,
                "readout": self.readout.describe(), "dtype": self.number.name, "arithmetic": self.arithmetic}

    @property
    def arithmetic(self) -> str:
        if self.number.exact32:
            return "IEEE float32"
        return f"{self.number.name}, each op rounded (PyTorch CPU)"

    def set_format(self, fmt: NumberFormat) -> None:
        """Run in ``fmt``: every weight rounded to it (as ``model.to(dtype)`` does) and
        every op's result rounded after it."""
        self.number = fmt
        for key, value in self.params.items():
            self.params[key] = fmt.round(value)
        ro = self.readout
        if ro.weight is not None:
            self.readout = Readout(ro.kind, fmt.round(ro.weight), None if ro.bias is None else fmt.round(ro.bias),
                                   ro.name, ro.bias_after or getattr(self, "batch_first", False))

    def read(self, hidden: np.ndarray) -> np.ndarray:
        """Read-out values of final hidden states (the read-out rounded to the format)."""
        return self.readout.apply(hidden, self.number)

    def predict(self, tokens: np.ndarray) -> np.ndarray:
        """Read-out values [B, T, C] for int tokens [B, T]."""
        return self.read(self.forward(tokens))

    def forward(self, tokens: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# ------------------------------------------------------------------------------ GPT-2
class GPT2(_Imported):
    """A Hugging Face GPT-2 body in float32 numpy (module docstring)."""

    family = "gpt2"

    def __init__(self, params: dict[str, np.ndarray], heads: int, eps: float = 1e-5,
                 activation: str = "gelu_new", fmt: str = "") -> None:
        self.params = params
        self.layers = sum(1 for k in params if k.endswith(".c_attn.w"))
        self.vocab_size, self.width = params["wte"].shape
        self.positions = int(params["wpe"].shape[0])
        if heads < 1 or self.width % heads:
            raise ModelFileError(f"GPT-2: {heads} heads do not divide the width {self.width}")
        self.heads = int(heads)
        self.head_dim = self.width // self.heads
        self.eps = float(eps)
        if activation not in _ACTIVATIONS:
            raise ModelFileError(f"GPT-2: activation {activation!r} is not supported (use one of "
                                 f"{', '.join(sorted(_ACTIVATIONS))})")
        self.activation = activation
        self._act = _ACTIVATIONS[activation]
        self.format = fmt
        self.readout = Readout("hidden")

    # pieces (any leading shape), used by the forward pass and by the protocol
    def embed(self, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.number.round(self.params["wte"][tokens] + self.params["wpe"][positions])

    def qkv(self, layer: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Queries, keys and values [..., H, d_head] of residual rows x [..., d]."""
        p, fmt = self.params, self.number
        a = fmt.round(layer_norm(x, p[f"{layer}.ln_1.g"], p[f"{layer}.ln_1.b"], self.eps))
        qkv = linear(a, p[f"{layer}.c_attn.w"], p[f"{layer}.c_attn.b"], fmt)
        shape = x.shape[:-1] + (self.heads, self.head_dim)
        d = self.width
        return qkv[..., :d].reshape(shape), qkv[..., d:2 * d].reshape(shape), qkv[..., 2 * d:].reshape(shape)

    def after_attention(self, layer: int, x: np.ndarray, attn: np.ndarray) -> np.ndarray:
        """The residual after the block, given the attention output [..., H, d_head]."""
        p, fmt = self.params, self.number
        r = fmt.round
        x = r(x + linear(attn.reshape(x.shape), p[f"{layer}.attn_proj.w"], p[f"{layer}.attn_proj.b"], fmt))
        a = r(layer_norm(x, p[f"{layer}.ln_2.g"], p[f"{layer}.ln_2.b"], self.eps))
        h = self._act(linear(a, p[f"{layer}.c_fc.w"], p[f"{layer}.c_fc.b"], fmt), fmt)
        return r(x + linear(h, p[f"{layer}.mlp_proj.w"], p[f"{layer}.mlp_proj.b"], fmt))

    def final(self, x: np.ndarray) -> np.ndarray:
        return self.number.round(layer_norm(x, self.params["ln_f.g"], self.params["ln_f.b"], self.eps))

    @property
    def scale(self) -> np.float32:
        """``head_dim ** -0.5`` as Hugging Face's eager attention multiplies by it (a
        Python float, applied in float32)."""
        return F32(self.head_dim ** -0.5)

    def scores(self, q: np.ndarray, kt: np.ndarray) -> np.ndarray:
        """(q·kᵀ)·scale, both results rounded to the format (a new float32 array)."""
        r = self.number.round
        s = r(np.matmul(q, kt))
        s *= self.scale
        return r(s)

    def check_length(self, length: int) -> None:
        if length > self.positions:
            raise ModelFileError(f"sequences of {length} tokens do not fit GPT-2's {self.positions} learned "
                                 "positions")

    def forward(self, tokens: np.ndarray, chunk: int = 64, workers: int | None = None) -> np.ndarray:
        """Final hidden states [B, T, d] (after ln_f) of int tokens [B, T], in chunks of
        ``chunk`` sequences spread over ``workers`` threads (default: one per CPU, at
        most 4) with one BLAS thread each (:func:`parallel_chunks`)."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 1:
            return self.forward(tokens[None], chunk, workers)[0]
        B, T = tokens.shape
        self.check_length(T)
        out = np.empty((B, T, self.width), dtype=F32)
        causal = np.where(np.triu(np.ones((T, T), dtype=bool), 1), F32(-np.inf), F32(0))

        def run(s: int) -> None:
            out[s:s + chunk] = self._forward_chunk(tokens[s:s + chunk], causal)

        parallel_chunks(run, range(0, B, chunk), workers)
        return out

    def _forward_chunk(self, tokens: np.ndarray, causal: np.ndarray) -> np.ndarray:
        T = tokens.shape[1]
        x = self.embed(tokens, np.arange(T))
        for layer in range(self.layers):
            q, k, v = self.qkv(layer, x)
            b = q.shape[0]
            # [b·H, T, dh], contiguous: one batched product per layer
            q, k, v = (np.ascontiguousarray(t.transpose(0, 2, 1, 3)).reshape(b * self.heads, T, self.head_dim)
                       for t in (q, k, v))
            scores = self.scores(q, k.transpose(0, 2, 1))
            scores += causal
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            scores = self.number.round(scores)
            attn = self.number.round(np.matmul(scores, v))
            attn = attn.reshape(b, -1, T, self.head_dim).transpose(0, 2, 1, 3)
            x = self.after_attention(layer, x, attn)
        return self.final(x)


def _gpt2_prefix(tensors: dict[str, np.ndarray]) -> str | None:
    prefixes = sorted(k[: -len("wte.weight")] for k in tensors if k.endswith("wte.weight")
                      and f"{k[: -len('wte.weight')]}h.0.attn.c_attn.weight" in tensors)
    if len(prefixes) > 1:
        raise ModelFileError(f"several GPT-2 bodies in one checkpoint (prefixes {', '.join(map(repr, prefixes))})")
    return prefixes[0] if prefixes else None


def _gpt2(ckpt: Checkpoint, prefix: str, config: dict[str, Any], heads: int | None) -> GPT2:
    t = ckpt.tensors

    def get(name: str) -> np.ndarray:
        key = prefix + name
        if key not in t:
            raise ModelFileError(f"GPT-2 checkpoint lacks {key!r}")
        return _f32(t[key], key)

    layers = 0
    while f"{prefix}h.{layers}.attn.c_attn.weight" in t:
        layers += 1
    params: dict[str, np.ndarray] = {"wte": get("wte.weight"), "wpe": get("wpe.weight"),
                                     "ln_f.g": get("ln_f.weight"), "ln_f.b": get("ln_f.bias")}
    V, d = params["wte"].shape
    names = {"ln_1.g": "ln_1.weight", "ln_1.b": "ln_1.bias", "c_attn.w": "attn.c_attn.weight",
             "c_attn.b": "attn.c_attn.bias", "attn_proj.w": "attn.c_proj.weight", "attn_proj.b": "attn.c_proj.bias",
             "ln_2.g": "ln_2.weight", "ln_2.b": "ln_2.bias", "c_fc.w": "mlp.c_fc.weight", "c_fc.b": "mlp.c_fc.bias",
             "mlp_proj.w": "mlp.c_proj.weight", "mlp_proj.b": "mlp.c_proj.bias"}
    for i in range(layers):
        for short, long in names.items():
            params[f"{i}.{short}"] = get(f"h.{i}.{long}")
        inner = params[f"{i}.c_fc.w"].shape[1]
        expect = {"ln_1.g": (d,), "ln_1.b": (d,), "c_attn.w": (d, 3 * d), "c_attn.b": (3 * d,),
                  "attn_proj.w": (d, d), "attn_proj.b": (d,), "ln_2.g": (d,), "ln_2.b": (d,),
                  "c_fc.w": (d, inner), "c_fc.b": (inner,), "mlp_proj.w": (inner, d), "mlp_proj.b": (d,)}
        for short, shape in expect.items():
            if params[f"{i}.{short}"].shape != shape:
                raise ModelFileError(f"GPT-2 {prefix}h.{i}.{names[short]} has shape "
                                     f"{params[f'{i}.{short}'].shape}, expected {shape} (Conv1D layout [in, out])")
    if params["wpe"].shape[1] != d or params["ln_f.g"].shape != (d,) or params["ln_f.b"].shape != (d,):
        raise ModelFileError("GPT-2 wpe / ln_f shapes do not match the width of wte")
    if heads is None:
        found = config_value(config, HEAD_KEYS)
        if found is None:
            raise ModelFileError("GPT-2: the number of heads is not in the weights; give --config FILE "
                                 "(n_head/headcount/num_heads) or --heads H")
        heads = found
    try:
        heads = int(heads)
    except (TypeError, ValueError):
        raise ModelFileError(f"GPT-2: the config's number of heads {heads!r} is not an integer") from None
    _check_config(config, {"n_layer": layers, "depth": layers, "num_layers": layers, "n_embd": d,
                           "dim_embedding": d, "hidden_size": d, "vocab_size": V})
    eps = config_value(config, ("layer_norm_epsilon", "layer_norm_eps", "eps"))
    act = config_value(config, ("activation_function",))
    model = GPT2(params, heads, 1e-5 if eps is None else float(eps), "gelu_new" if act is None else str(act),
                 fmt=ckpt.format)
    if "lm_head.weight" in t or f"{prefix}lm_head.weight" in t:
        key = "lm_head.weight" if "lm_head.weight" in t else f"{prefix}lm_head.weight"
        params["lm_head"] = _f32(t[key], key)
        if params["lm_head"].shape[1] != d:
            raise ModelFileError(f"{key} has shape {params['lm_head'].shape}, expected [vocab, {d}]")
    return model


def _check_config(config: dict[str, Any], expected: dict[str, int]) -> None:
    for key, value in expected.items():
        got = config_value(config, (key,))
        if got is not None and got != value:
            raise ModelFileError(f"config says {key} = {got!r} but the weights have {value}")


# --------------------------------------------------------------------- RNN/GRU/LSTM
_GATES = {4: "lstm", 3: "gru", 1: "rnn"}


class Recurrent(_Imported):
    """A PyTorch ``nn.RNN``/``nn.GRU``/``nn.LSTM`` stack (batch-first) with an embedding
    (or one-hot inputs) in front; the read-out is a linear head on the top layer."""

    def __init__(self, cell: str, layers: list[dict[str, np.ndarray]], embedding: np.ndarray | None,
                 input_size: int, fmt: str = "", nonlinearity: str = "tanh",
                 reverse: list[dict[str, np.ndarray]] | None = None) -> None:
        self.cell = cell
        self.family = cell if cell != "rnn" else f"rnn-{nonlinearity}"
        self.nonlinearity = nonlinearity
        self.weights = layers
        #: the reverse direction's weights of a bidirectional module (``*_reverse``), else None
        self.weights_rev = reverse
        self.layers = len(layers)
        #: size of h (the projection size of an LSTM with ``proj_size``) and of c
        self.width = int(layers[0]["w_hh"].shape[1])
        self.cell_width = int(layers[0]["w_hr"].shape[1]) if "w_hr" in layers[0] else self.width
        self.embedding = embedding
        self.input_size = input_size
        self.vocab_size = int(embedding.shape[0]) if embedding is not None else input_size
        self.format = fmt
        self.params = {f"{i}.{k}": v for i, lw in enumerate(layers) for k, v in lw.items()}
        if reverse is not None:
            self.params.update({f"{i}r.{k}": v for i, lw in enumerate(reverse) for k, v in lw.items()})
        if embedding is not None:
            self.params["embedding"] = embedding
        self.readout = Readout("hidden")
        self.batch_first = True

    @property
    def state_values(self) -> int:
        """Values of the state one layer hands on: h, and c for an LSTM (c has the
        hidden size, h the projection size when the LSTM has ``proj_size``)."""
        return self.width + self.cell_width if self.cell == "lstm" else self.width

    @property
    def bidirectional(self) -> bool:
        return self.weights_rev is not None

    @property
    def out_width(self) -> int:
        """Size of a layer's output: h, or [h_forward; h_reverse] when bidirectional."""
        return 2 * self.width if self.bidirectional else self.width

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        if self.bidirectional:
            out["bidirectional"] = True
        if self.cell_width != self.width:
            out["hidden_size"] = self.cell_width
            out["proj_size"] = self.width
        return out

    def inputs(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ModelFileError(f"token ids must lie in [0, {self.vocab_size}) for this model")
        if self.embedding is not None:
            return self.embedding[tokens]
        return np.eye(self.input_size, dtype=F32)[tokens]

    def zero_state(self, batch: tuple[int, ...] = ()) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.zeros(batch + (self.width,), dtype=F32), np.zeros(batch + (self.cell_width,), dtype=F32))
                for _ in range(self.layers)]

    def step_layer(self, layer: int, xw: np.ndarray, h: np.ndarray, c: np.ndarray,
                   rev: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """One time step of one layer; ``xw`` = W_ih·x + b_ih already computed.  The op
        order and the rounding after each op are those of PyTorch's CPU cells
        (``aten/src/ATen/native/RNN.cpp``: gates = (W_hh·h + b_hh) + xw; GRU
        h' = (h − n)·z + n; an LSTM with ``proj_size`` multiplies h by W_hr after).
        ``rev``: the reverse direction's weights (bidirectional)."""
        w = self._layer_weights(layer, rev)
        fmt = self.number
        r = fmt.round
        hw = linear(h, w["w_hh"].T, w["b_hh"], fmt)
        d = self.cell_width
        if self.cell == "lstm":
            g = r(hw + xw)
            i, f, gg, o = (g[..., j * d:(j + 1) * d] for j in range(4))
            c = r(r(r(_sigmoid(f)) * c) + r(r(_sigmoid(i)) * r(np.tanh(gg))))
            h = r(r(_sigmoid(o)) * r(np.tanh(c)))
            return (linear(h, w["w_hr"].T, None, fmt) if "w_hr" in w else h), c
        if self.cell == "gru":
            rg = r(_sigmoid(r(hw[..., :d] + xw[..., :d])))
            z = r(_sigmoid(r(hw[..., d:2 * d] + xw[..., d:2 * d])))
            n = r(np.tanh(r(xw[..., 2 * d:] + r(hw[..., 2 * d:] * rg))))
            return r(r(r(h - n) * z) + n), c
        pre = r(hw + xw)
        return r(np.tanh(pre) if self.nonlinearity == "tanh" else np.maximum(pre, F32(0))), c

    def _layer_weights(self, layer: int, rev: bool) -> dict[str, np.ndarray]:
        if rev:
            if self.weights_rev is None:
                raise ValueError("a unidirectional model has no reverse direction")
            return self.weights_rev[layer]
        return self.weights[layer]

    def input_proj(self, layer: int, x: np.ndarray, rev: bool = False) -> np.ndarray:
        """W_ih·x + b_ih.  PyTorch projects the whole sequence at once; for the first
        layer of a ``batch_first`` module that input is a transposed (non-contiguous)
        view, which ``torch.nn.functional.linear`` multiplies and then adds the bias
        to, rounding twice; otherwise it is one ``addmm``, rounded once."""
        w = self._layer_weights(layer, rev)
        if layer == 0 and self.batch_first and not self.number.exact32:
            return self.number.round(linear(x, w["w_ih"].T, None, self.number) + w["b_ih"])
        return linear(x, w["w_ih"].T, w["b_ih"], self.number)

    def set_format(self, fmt: NumberFormat) -> None:
        super().set_format(fmt)
        self.weights = [{k: self.params[f"{i}.{k}"] for k in lw} for i, lw in enumerate(self.weights)]
        if self.weights_rev is not None:
            self.weights_rev = [{k: self.params[f"{i}r.{k}"] for k in lw} for i, lw in enumerate(self.weights_rev)]
        if self.embedding is not None:
            self.embedding = self.params["embedding"]

    def step(self, x: np.ndarray, state: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list]:
        """One position through every layer (unidirectional): top hidden state and the
        new state."""
        new = []
        for layer in range(self.layers):
            h, c = self.step_layer(layer, self.input_proj(layer, x), *state[layer])
            new.append((h, c))
            x = h
        return x, new

    def forward(self, tokens: np.ndarray) -> np.ndarray:
        """Top-layer hidden states [B, T, d] (layer by layer, one BLAS call for the
        input projection of all positions); bidirectional: [h_forward; h_reverse] [B, T, 2d],
        the reverse direction run from the last position to the first."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 1:
            return self.forward(tokens[None])[0]
        x = self.inputs(tokens)
        B, T = tokens.shape
        for layer in range(self.layers):
            outs = []
            for rev in (False, True) if self.bidirectional else (False,):
                xw = self.input_proj(layer, x, rev)
                h = np.zeros((B, self.width), dtype=F32)
                c = np.zeros((B, self.cell_width), dtype=F32)
                out = np.empty((B, T, self.width), dtype=F32)
                for t in (range(T - 1, -1, -1) if rev else range(T)):
                    h, c = self.step_layer(layer, xw[:, t], h, c, rev)
                    out[:, t] = h
                outs.append(out)
            x = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)
        return x


def _read_layers(t: dict[str, np.ndarray], prefix: str, suffix: str) -> list[dict[str, np.ndarray]]:
    """The layers ``{prefix}weight_ih_l{i}{suffix}``, ... (suffix ``""`` or ``"_reverse"``)."""
    layers: list[dict[str, np.ndarray]] = []
    while f"{prefix}weight_ih_l{len(layers)}{suffix}" in t:
        i = len(layers)
        lw = {}
        for short, key in (("w_ih", f"weight_ih_l{i}{suffix}"), ("w_hh", f"weight_hh_l{i}{suffix}")):
            if prefix + key not in t:
                raise ModelFileError(f"recurrent checkpoint lacks {prefix + key!r}")
            lw[short] = _f32(t[prefix + key], prefix + key)
        rows = lw["w_hh"].shape[0]
        for short, key in (("b_ih", f"bias_ih_l{i}{suffix}"), ("b_hh", f"bias_hh_l{i}{suffix}")):
            lw[short] = _f32(t[prefix + key], prefix + key) if prefix + key in t else np.zeros(rows, F32)
        hr = f"{prefix}weight_hr_l{i}{suffix}"
        if hr in t:  # LSTM with proj_size: h = W_hr·(o ⊙ tanh c)
            lw["w_hr"] = _f32(t[hr], hr)
        layers.append(lw)
    return layers


def _recurrent(ckpt: Checkpoint, prefix: str, config: dict[str, Any], head: str | None) -> Recurrent:
    t = ckpt.tensors
    layers = _read_layers(t, prefix, "")
    reverse = _read_layers(t, prefix, "_reverse") or None
    if reverse is None and any(k.startswith(prefix) and k.endswith("_reverse") for k in t):
        raise ModelFileError(f"{prefix}weight_ih_l0_reverse is missing but other *_reverse tensors are there")
    if reverse is not None and len(reverse) != len(layers):
        raise ModelFileError(f"a bidirectional module with {len(layers)} forward and {len(reverse)} reverse layers")
    dirs = 2 if reverse is not None else 1
    first = layers[0]
    rows, hid = first["w_hh"].shape  # hid: the size of h (the projection size with proj_size)
    projected = "w_hr" in first
    cell_size = int(first["w_hr"].shape[1]) if projected and first["w_hr"].ndim == 2 else hid
    if projected:
        if first["w_hr"].ndim != 2 or first["w_hr"].shape[0] != hid or rows != 4 * cell_size or hid >= cell_size:
            raise ModelFileError(f"{prefix}weight_hr_l0 has shape {first['w_hr'].shape}: not the projection of an "
                                 f"LSTM with {prefix}weight_hh_l0 of shape {first['w_hh'].shape}")
        cell = "lstm"
    elif hid == 0 or rows % hid or rows // hid not in _GATES:
        raise ModelFileError(f"{prefix}weight_hh_l0 has shape {first['w_hh'].shape}: not an RNN, GRU or LSTM")
    else:
        cell = _GATES[rows // hid]
    for i, lw in enumerate(layers + (reverse or [])):
        in_size = first["w_ih"].shape[1] if i % len(layers) == 0 else dirs * hid
        if lw["w_ih"].shape != (rows, in_size) or lw["w_hh"].shape != (rows, hid) or lw["b_ih"].shape != (rows,) \
                or lw["b_hh"].shape != (rows,) or ("w_hr" in lw) != projected \
                or (projected and lw["w_hr"].shape != (hid, cell_size)):
            raise ModelFileError(f"layer {i} of the {cell.upper()} has inconsistent shapes")
    input_size = int(first["w_ih"].shape[1])
    rnn_keys = {k for k in t if k.startswith(prefix)
                and re.fullmatch(r"(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?", k[len(prefix):])}
    others = {k: v for k, v in t.items() if k not in rnn_keys}
    emb = [k for k, v in others.items() if k.endswith(".weight") and v.ndim == 2 and v.shape[1] == input_size
           and re.search(r"emb|wte|encoder", k)]
    if len(emb) > 1:
        raise ModelFileError(f"several embeddings ({', '.join(emb)}); keep one in the checkpoint")
    embedding = _f32(others[emb[0]], emb[0]) if emb else None
    nonlin = config_value(config, ("nonlinearity",)) or "tanh"
    if nonlin not in ("tanh", "relu"):
        raise ModelFileError(f"nn.RNN nonlinearity must be tanh or relu, got {nonlin!r}")
    model = Recurrent(cell, layers, embedding, input_size, fmt=ckpt.format, nonlinearity=str(nonlin),
                      reverse=reverse)
    hid = model.out_width  # what the head reads
    batch_first = config_value(config, ("batch_first",))
    model.batch_first = True if batch_first is None else bool(batch_first)
    heads = [k[: -len(".weight")] for k, v in others.items() if k.endswith(".weight") and k not in emb
             and v.ndim == 2 and v.shape[1] == hid]
    if head is None:
        if len(heads) > 1:
            raise ModelFileError(f"several linear heads ({', '.join(heads)}): choose one with --readout linear:NAME")
        if heads:
            model.readout = linear_readout(t, heads[0], hid)
    else:
        model.readout = linear_readout(t, head, hid)
    return model


def linear_readout(t: dict[str, np.ndarray], name: str, width: int) -> Readout:
    w = t.get(f"{name}.weight")
    if w is None or w.ndim != 2 or w.shape[1] != width:
        raise ModelFileError(f"no linear head {name!r} ({name}.weight of shape [out, {width}]) in the checkpoint")
    b = t.get(f"{name}.bias")
    return Readout("linear", _f32(w, f"{name}.weight"), None if b is None else _f32(b, f"{name}.bias"), name)


# ------------------------------------------------------------------------- entry point
def build_imported(ckpt: Checkpoint, config: dict[str, Any] | None = None, heads: int | None = None,
                   readout: str | None = None, dtype: str | None = None) -> GPT2 | Recurrent:
    """The model a checkpoint holds, with ``readout`` = ``lm_head`` | ``hidden`` |
    ``linear:NAME`` (default: GPT-2 ``lm_head`` when the checkpoint has one or its
    config ties it, else ``hidden``; recurrent models their linear head), run in
    ``dtype`` (``float32``/``bfloat16``/``float16``; default: the format holding most of
    the checkpoint's parameters, :meth:`Checkpoint.float_format`)."""
    fmt = get_format(dtype if dtype is not None else ckpt.float_format())
    model = _build(ckpt, config, heads, readout)
    if not fmt.exact32:
        model.set_format(fmt)
    return model


def _build(ckpt: Checkpoint, config: dict[str, Any] | None, heads: int | None,
           readout: str | None) -> GPT2 | Recurrent:
    cfg = dict(ckpt.config)
    if config:
        cfg = {**cfg, **config}
    prefix = _gpt2_prefix(ckpt.tensors)
    head_name = readout[len("linear:"):] if readout and readout.startswith("linear:") else None
    if readout not in (None, "lm_head", "hidden") and head_name is None:
        raise ModelFileError(f"read-out must be lm_head, hidden or linear:NAME, got {readout!r}")
    if prefix is not None:
        model: GPT2 | Recurrent = _gpt2(ckpt, prefix, cfg, heads)
        tied = bool(config_value(cfg, ("tie_word_embeddings",)))
        if readout == "lm_head" or (readout is None and ("lm_head" in model.params or tied)):
            w = model.params.get("lm_head", model.params["wte"])
            name = "lm_head.weight" if "lm_head" in model.params else "tied to wte"
            model.readout = Readout("lm_head", w, None, name)
        elif head_name is not None:
            model.readout = linear_readout(ckpt.tensors, head_name, model.width)
        return model
    rnn = sorted(k[: -len("weight_ih_l0")] for k in ckpt.tensors if k.endswith("weight_ih_l0"))
    if len(rnn) > 1:
        raise ModelFileError(f"several recurrent stacks in one checkpoint ({', '.join(rnn)})")
    if rnn:
        if heads is not None:
            raise ModelFileError("--heads applies to GPT-2 only")
        model = _recurrent(ckpt, rnn[0], cfg, head_name)
        if readout == "lm_head":
            raise ModelFileError("a recurrent model has no LM head: use linear:NAME or hidden")
        if readout == "hidden":
            model.readout = Readout("hidden")
        return model
    sample = ", ".join(sorted(ckpt.tensors)[:4])
    raise ModelFileError(f"{ckpt.path}: unknown key layout (neither Hugging Face GPT-2 nor nn.RNN/GRU/LSTM; "
                         f"keys start {sample}{', …' if len(ckpt.tensors) > 4 else ''})")
