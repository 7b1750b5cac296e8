"""Regenerate the imported-model fixtures in tests/data/models/ with the real libraries.

Needs torch and transformers (not part of CI, not a dependency of commlb):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch transformers safetensors numpy pyyaml
    /tmp/torchvenv/bin/python tools/make_fixtures.py

Writes, all from one seed:

* ``gpt2_backbone.pt`` — ``torch.save(state_dict)`` of a wrapper holding a Hugging Face
  ``GPT2Model`` as ``backbone`` (keys ``backbone.wte.weight``, ...), the layout of SHT24's
  published k-hop models, with ``gpt2_backbone.yaml`` beside it
  (``model: {depth, dim_embedding, headcount, vocab_size}``);
* ``gpt2_hf/`` — the same GPT-2 as a ``GPT2LMHeadModel`` folder (``config.json`` +
  ``model.safetensors``, LM head tied to ``wte``);
* ``lstm.pt``, ``gru.safetensors``, ``rnn.pt`` — two-layer ``nn.LSTM`` / ``nn.GRU`` /
  ``nn.RNN`` (tanh) with an ``nn.Embedding`` in front and an ``nn.Linear`` head;
* ``outputs.npz`` — the inputs and what torch computed on them: GPT-2 final hidden states
  (after ``ln_f``) and tied-head logits, each recurrent model's head outputs;
* the same models in bfloat16 and float16 (:func:`reduced`): ``gpt2_bf16.pt`` (the
  ``backbone.`` state dict in bfloat16), ``gpt2_f16.safetensors`` (float16),
  ``lstm_bf16.safetensors``, ``gru_f16.pt``, and ``outputs_reduced.npz`` with what torch
  computed in those formats on the CPU: GPT-2 with ``attn_implementation="eager"``
  (final hidden states, and tied-head logits in bfloat16; the default ``sdpa`` attention
  rounds differently and is stored too, as ``gpt2_bf16_sdpa_hidden``), the LSTM with
  oneDNN switched off (``torch.backends.mkldnn``: on a CPU with bfloat16 instructions
  torch otherwise runs a bfloat16 LSTM through oneDNN, which rounds differently), and
  ``rnn.pt`` converted to bfloat16 by ``model.to(torch.bfloat16)``.

Every parameter (LayerNorm gains and biases included) is perturbed away from its
initial value so that no term of the forward pass is trivially zero or one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import save_file
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

OUT = Path(os.environ.get("COMMLB_FIXTURES_OUT", Path(__file__).resolve().parent.parent / "tests" / "data" / "models"))

VOCAB, WIDTH, LAYERS, HEADS, POSITIONS = 24, 24, 2, 2, 32
RNN_VOCAB, RNN_IN, RNN_HIDDEN, RNN_LAYERS, RNN_OUT = 6, 5, 8, 2, 4
BATCH, LENGTH = 3, 20


class Wrapper(nn.Module):
    """What SHT24's training code saves: the GPT-2 body as ``backbone``."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.backbone = GPT2Model(config)


class Recurrent(nn.Module):
    def __init__(self, cell: type[nn.Module], **kw: object) -> None:
        super().__init__()
        self.embed = nn.Embedding(RNN_VOCAB, RNN_IN)
        self.rnn = cell(RNN_IN, RNN_HIDDEN, num_layers=RNN_LAYERS, batch_first=True, **kw)
        out = int(kw.get("proj_size", 0)) or RNN_HIDDEN  # type: ignore[call-overload]
        self.head = nn.Linear(out * (2 if kw.get("bidirectional") else 1), RNN_OUT)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)


def perturb(module: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    OUT.mkdir(parents=True, exist_ok=True)
    config = GPT2Config(vocab_size=VOCAB, n_positions=POSITIONS, n_embd=WIDTH, n_layer=LAYERS,
                        n_head=HEADS, activation_function="gelu_new", resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                        tie_word_embeddings=True)
    wrapper = Wrapper(config).eval()
    perturb(wrapper, gen)
    sd = {k: v.contiguous() for k, v in wrapper.state_dict().items() if not k.endswith(".attn.bias")
          and not k.endswith(".attn.masked_bias")}
    torch.save(sd, OUT / "gpt2_backbone.pt")
    (OUT / "gpt2_backbone.yaml").write_text(yaml.safe_dump(
        {"model": {"depth": LAYERS, "dim_embedding": WIDTH, "headcount": HEADS, "vocab_size": VOCAB}}))

    lm = GPT2LMHeadModel(config).eval()
    lm.transformer.load_state_dict(wrapper.backbone.state_dict())
    lm.tie_weights()
    hf = OUT / "gpt2_hf"
    hf.mkdir(exist_ok=True)
    # only what from_pretrained needs; transformers writes the tied lm_head once (as wte)
    state = {k: v.contiguous() for k, v in lm.state_dict().items()
             if k != "lm_head.weight" and not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
    save_file(state, str(hf / "model.safetensors"), metadata={"format": "pt"})
    cfg = config.to_dict()
    keep = ("model_type", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner",
            "activation_function", "layer_norm_epsilon", "tie_word_embeddings", "architectures")
    cfg["architectures"] = ["GPT2LMHeadModel"]
    (hf / "config.json").write_text(json.dumps({k: cfg.get(k) for k in keep}, indent=2) + "\n")

    rng = np.random.default_rng(2)
    tokens = rng.integers(0, VOCAB, size=(BATCH, LENGTH))
    out: dict[str, np.ndarray] = {"gpt2_tokens": tokens}
    with torch.no_grad():
        t = torch.as_tensor(tokens)
        hidden = wrapper.backbone(input_ids=t).last_hidden_state
        logits = lm(input_ids=t).logits
        # the folder reloads to the same model
        again = GPT2LMHeadModel.from_pretrained(hf).eval()(input_ids=t).logits
        assert torch.equal(again, logits)
    out["gpt2_hidden"] = hidden.numpy()
    out["gpt2_logits"] = logits.numpy()

    rnn_tokens = rng.integers(0, RNN_VOCAB, size=(BATCH, LENGTH))
    out["rnn_tokens"] = rnn_tokens
    for name, cell, kw, fmt in (("lstm", nn.LSTM, {}, "pt"), ("gru", nn.GRU, {}, "safetensors"),
                                ("rnn", nn.RNN, {"nonlinearity": "tanh"}, "pt")):
        model = Recurrent(cell, **kw).eval()
        perturb(model, gen)
        with torch.no_grad():
            out[f"{name}_out"] = model(torch.as_tensor(rnn_tokens)).numpy()
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        if fmt == "pt":
            torch.save(sd, OUT / f"{name}.pt")
        else:
            save_file(sd, str(OUT / f"{name}.safetensors"))
    np.savez_compressed(OUT / "outputs.npz", **out)
    reduced(config, wrapper, tokens, rnn_tokens)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1024:.1f} KiB); torch {torch.__version__}")


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in module.state_dict().items() if not k.endswith(".attn.bias")
            and not k.endswith(".attn.masked_bias")}


def reduced(config: GPT2Config, wrapper: nn.Module, tokens: np.ndarray, rnn_tokens: np.ndarray) -> None:
    """The bfloat16/float16 fixtures (module docstring), from the float32 models saved above."""
    out: dict[str, np.ndarray] = {}
    t = torch.as_tensor(tokens)
    eager = GPT2Config(**{**config.to_dict(), "attn_implementation": "eager"})
    for dtype, tag in ((torch.bfloat16, "bf16"), (torch.float16, "f16")):
        body = Wrapper(eager).eval()
        body.load_state_dict(wrapper.state_dict())
        body = body.to(dtype)
        lm = GPT2LMHeadModel(eager).eval()
        lm.transformer.load_state_dict(wrapper.backbone.state_dict())
        lm.tie_weights()
        lm = lm.to(dtype)
        with torch.no_grad():
            out[f"gpt2_{tag}_hidden"] = body.backbone(input_ids=t).last_hidden_state.float().numpy()
            out[f"gpt2_{tag}_logits"] = lm(input_ids=t).logits.float().numpy()
        sd = _state(body)
        if tag == "bf16":
            torch.save(sd, OUT / "gpt2_bf16.pt")
        else:
            save_file(sd, str(OUT / "gpt2_f16.safetensors"))
    sdpa = Wrapper(config).eval()
    sdpa.load_state_dict(wrapper.state_dict())
    with torch.no_grad():
        out["gpt2_bf16_sdpa_hidden"] = sdpa.to(torch.bfloat16).backbone(input_ids=t).last_hidden_state.float().numpy()

    r = torch.as_tensor(rnn_tokens)
    for name, cell, kw, dtype, file in (("lstm", nn.LSTM, {}, torch.bfloat16, "lstm_bf16.safetensors"),
                                        ("gru", nn.GRU, {}, torch.float16, "gru_f16.pt"),
                                        ("rnn", nn.RNN, {"nonlinearity": "tanh"}, torch.bfloat16, None)):
        model = Recurrent(cell, **kw).eval()
        src = OUT / {"lstm": "lstm.pt", "gru": "gru.safetensors", "rnn": "rnn.pt"}[name]
        if src.suffix == ".pt":
            model.load_state_dict(torch.load(src, weights_only=True))
        else:
            from safetensors.torch import load_file
            model.load_state_dict(load_file(str(src)))
        model = model.to(dtype)
        tag = "bf16" if dtype == torch.bfloat16 else "f16"
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
            out[f"{name}_{tag}_out"] = model(r).float().numpy()
        if file is not None:
            sd = {k: v.contiguous() for k, v in model.state_dict().items()}
            if file.endswith(".pt"):
                torch.save(sd, OUT / file)
            else:
                save_file(sd, str(OUT / file))
    np.savez_compressed(OUT / "outputs_reduced.npz", **out)
    sharded(config, wrapper)
    projected(rnn_tokens)
    bidirectional(rnn_tokens)


def bidirectional(rnn_tokens: np.ndarray) -> None:
    """``lstm_bi.pt`` and ``gru_bi.safetensors``: two-layer bidirectional modules with
    their heads (on [h_forward; h_reverse]), and ``outputs_bi.npz``: their outputs in
    float32 and, after ``model.to(torch.bfloat16)``, in bfloat16 (oneDNN off)."""
    gen = torch.Generator().manual_seed(4)
    r = torch.as_tensor(rnn_tokens)
    out = {}
    for name, cell, file in (("lstm_bi", nn.LSTM, "lstm_bi.pt"), ("gru_bi", nn.GRU, "gru_bi.safetensors")):
        model = Recurrent(cell, bidirectional=True).eval()
        perturb(model, gen)
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        if file.endswith(".pt"):
            torch.save(sd, OUT / file)
        else:
            save_file(sd, str(OUT / file))
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
            out[f"{name}_out"] = model(r).numpy()
            out[f"{name}_bf16_out"] = model.to(torch.bfloat16)(r).float().numpy()
    np.savez_compressed(OUT / "outputs_bi.npz", **out)


def projected(rnn_tokens: np.ndarray) -> None:
    """``lstm_proj.pt``: a two-layer ``nn.LSTM(proj_size=3)`` (h of size 3, c of size 8)
    with its head, and ``outputs_proj.npz``: its outputs in float32 and, converted by
    ``model.to(torch.bfloat16)``, in bfloat16 (oneDNN off)."""
    gen = torch.Generator().manual_seed(3)
    model = Recurrent(nn.LSTM, proj_size=3).eval()
    perturb(model, gen)
    r = torch.as_tensor(rnn_tokens)
    out = {}
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        out["lstm_proj_out"] = model(r).numpy()
        torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, OUT / "lstm_proj.pt")
        out["lstm_proj_bf16_out"] = model.to(torch.bfloat16)(r).float().numpy()
    np.savez_compressed(OUT / "outputs_proj.npz", **out)


def sharded(config: GPT2Config, wrapper: nn.Module) -> None:
    """The tied-head GPT-2 in shards: ``gpt2_sharded/`` in float16 as ``save_pretrained``
    writes it with shards of at most 12 kB (safetensors files and
    ``model.safetensors.index.json``), and ``gpt2_sharded_bin/`` in bfloat16 as older
    transformers wrote it (three ``torch.save`` shards and ``pytorch_model.bin.index.json``;
    transformers 5 writes safetensors only, so the index is written here in its format).
    Their outputs are ``gpt2_f16_logits`` and ``gpt2_bf16_logits`` of ``outputs_reduced.npz``."""
    import shutil

    for dtype, folder in ((torch.float16, "gpt2_sharded"), (torch.bfloat16, "gpt2_sharded_bin")):
        lm = GPT2LMHeadModel(GPT2Config(**config.to_dict())).eval()
        lm.transformer.load_state_dict(wrapper.backbone.state_dict())
        lm.tie_weights()
        lm = lm.to(dtype)
        lm.config.dtype = dtype
        path = OUT / folder
        if path.exists():
            shutil.rmtree(path)
        if dtype == torch.float16:
            lm.save_pretrained(path, max_shard_size="12kB")
            again = GPT2LMHeadModel.from_pretrained(path, dtype=dtype).eval()
            t = torch.as_tensor(np.arange(12)[None] % VOCAB)
            with torch.no_grad():
                assert torch.equal(again(input_ids=t).logits, lm(input_ids=t).logits)
        else:
            path.mkdir()
            lm.config.save_pretrained(path)
            state = {k: v.contiguous() for k, v in lm.state_dict().items() if k != "lm_head.weight"}
            keys = sorted(state)
            parts = [keys[i::3] for i in range(3)]
            weight_map = {}
            for i, part in enumerate(parts, 1):
                name = f"pytorch_model-{i:05d}-of-{len(parts):05d}.bin"
                torch.save({k: state[k] for k in part}, path / name)
                weight_map.update({k: name for k in part})
            total = sum(v.numel() * v.element_size() for v in state.values())
            (path / "pytorch_model.bin.index.json").write_text(json.dumps(
                {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
        files = sorted(p.name for p in path.iterdir())
        assert sum(f.endswith((".safetensors", ".bin")) for f in files) > 1, files


if __name__ == "__main__":
    main()
