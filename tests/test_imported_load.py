"""Imported checkpoints: the fixtures made by torch/transformers (tools/make_fixtures.py)
load without torch from .pt, .safetensors and a Hugging Face folder, and commlb's float32
forward pass matches what torch computed; damaged and hostile files are refused."""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from commlb.imported.errors import ModelFileError
from commlb.imported.load import load_checkpoint, read_config
from commlb.imported.models import GPT2, Recurrent, build_imported
from commlb.imported.torchzip import load_torch_zip

DATA = Path(__file__).parent / "data" / "models"
REF = np.load(DATA / "outputs.npz")


def assert_matches_torch(got: np.ndarray, want: np.ndarray) -> None:
    """float32 agreement: every entry within 1e-5 of the tensor's largest magnitude
    (relative error 1e-5), and the same argmax at every position."""
    assert got.dtype == np.float32 and got.shape == want.shape
    scale = float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    assert err <= 1e-5 * scale, f"relative error {err / scale:.2e}"
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))


def test_fixtures_are_small():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 450_000  # float32, bfloat16, float16, sharded, projected, bidirectional models + outputs


def test_gpt2_state_dict_under_backbone_prefix_matches_torch():
    ckpt = load_checkpoint(DATA / "gpt2_backbone.pt")
    assert ckpt.format == "torch.save" and "backbone.wte.weight" in ckpt.tensors
    model = build_imported(ckpt, read_config(DATA / "gpt2_backbone.yaml"))
    assert isinstance(model, GPT2)
    assert (model.layers, model.width, model.heads, model.vocab_size) == (2, 24, 2, 24)
    assert model.readout.kind == "hidden"  # no LM head in a bare backbone
    assert_matches_torch(model.forward(REF["gpt2_tokens"]), REF["gpt2_hidden"])


def test_gpt2_hf_folder_matches_torch_logits():
    model = build_imported(load_checkpoint(DATA / "gpt2_hf"))
    assert model.heads == 2 and model.readout.kind == "lm_head"  # heads and tying from config.json
    assert_matches_torch(model.predict(REF["gpt2_tokens"]), REF["gpt2_logits"])


def test_gpt2_single_safetensors_file_and_npz(tmp_path):
    shutil.copy(DATA / "gpt2_hf" / "model.safetensors", tmp_path / "m.safetensors")
    ckpt = load_checkpoint(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="number of heads"):
        build_imported(ckpt)
    model = build_imported(ckpt, heads=2, readout="lm_head")
    assert_matches_torch(model.predict(REF["gpt2_tokens"]), REF["gpt2_logits"])
    np.savez(tmp_path / "m.npz", **ckpt.tensors)
    model = build_imported(load_checkpoint(tmp_path / "m.npz"), {"num_heads": 2}, readout="lm_head")
    assert_matches_torch(model.predict(REF["gpt2_tokens"]), REF["gpt2_logits"])


def test_config_disagreeing_with_weights_is_refused():
    with pytest.raises(ModelFileError, match="depth = 3"):
        build_imported(load_checkpoint(DATA / "gpt2_backbone.pt"), {"model": {"depth": 3, "headcount": 2}})
    with pytest.raises(ModelFileError, match="do not divide"):
        build_imported(load_checkpoint(DATA / "gpt2_backbone.pt"), heads=5)


@pytest.mark.parametrize("name,file,family", [("lstm", "lstm.pt", "lstm"), ("gru", "gru.safetensors", "gru"),
                                              ("rnn", "rnn.pt", "rnn-tanh")])
def test_recurrent_models_match_torch(name, file, family):
    model = build_imported(load_checkpoint(DATA / file))
    assert isinstance(model, Recurrent) and model.family == family
    assert model.layers == 2 and model.width == 8 and model.readout.kind == "linear"
    assert model.embedding is not None
    assert_matches_torch(model.predict(REF["rnn_tokens"]), REF[f"{name}_out"])


def test_recurrent_step_by_step_equals_layer_by_layer():
    """The per-position step the protocol uses computes the same as the forward pass."""
    model = build_imported(load_checkpoint(DATA / "lstm.pt"))
    toks = REF["rnn_tokens"][0]
    state = model.zero_state()
    tops = []
    for t in toks:
        top, state = model.step(model.inputs(np.array(t)), state)
        tops.append(top)
    np.testing.assert_allclose(np.stack(tops), model.forward(toks), rtol=0, atol=1e-6)


# ------------------------------------------------------------------ damaged files
def _rewrite_zip(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item.filename, data)


@pytest.mark.parametrize("cut", [10, 1000, 4000])
def test_truncated_torch_file_is_refused(tmp_path, cut):
    data = (DATA / "lstm.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[:cut])
    with pytest.raises(ModelFileError):
        load_checkpoint(tmp_path / "t.pt")


def test_truncated_storage_is_refused(tmp_path):
    _rewrite_zip(DATA / "lstm.pt", tmp_path / "s.pt",
                 lambda name, data: data[: len(data) // 2] if name.endswith("data/3") else data)
    with pytest.raises(ModelFileError, match="truncated|past the end"):
        load_checkpoint(tmp_path / "s.pt")


def test_missing_storage_is_refused(tmp_path):
    _rewrite_zip(DATA / "lstm.pt", tmp_path / "m.pt", lambda name, data: None if name.endswith("data/0") else data)
    with pytest.raises(ModelFileError, match="missing"):
        load_checkpoint(tmp_path / "m.pt")


def test_garbage_pickle_is_refused(tmp_path):
    _rewrite_zip(DATA / "lstm.pt", tmp_path / "g.pt",
                 lambda name, data: b"\x80\x02garbage" if name.endswith("data.pkl") else data)
    with pytest.raises(ModelFileError, match="corrupted"):
        load_checkpoint(tmp_path / "g.pt")


@pytest.mark.parametrize("cut", [4, 50, 30000])
def test_truncated_safetensors_is_refused(tmp_path, cut):
    data = (DATA / "gpt2_hf" / "model.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[:cut])
    with pytest.raises(ModelFileError):
        load_checkpoint(tmp_path / "t.safetensors")


def test_safetensors_header_lying_about_length_is_refused(tmp_path):
    data = bytearray((DATA / "gru.safetensors").read_bytes())
    data[:8] = (10**12).to_bytes(8, "little")
    (tmp_path / "h.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not fit"):
        load_checkpoint(tmp_path / "h.safetensors")


def test_random_bytes_and_wrong_suffix_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("r.pt", "r.safetensors", "r.npz", "r.bin"):
        (tmp_path / name).write_bytes(rng.bytes(3000))
        with pytest.raises(ModelFileError):
            load_checkpoint(tmp_path / name)
    (tmp_path / "r.onnx").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="unknown weights format"):
        load_checkpoint(tmp_path / "r.onnx")


def test_unknown_layout_is_refused(tmp_path):
    np.savez(tmp_path / "u.npz", w=np.zeros((3, 3), np.float32))
    with pytest.raises(ModelFileError, match="unknown key layout"):
        build_imported(load_checkpoint(tmp_path / "u.npz"))


def test_nan_weights_are_refused(tmp_path):
    ckpt = load_checkpoint(DATA / "gru.safetensors")
    tensors = dict(ckpt.tensors)
    tensors["rnn.weight_hh_l1"] = tensors["rnn.weight_hh_l1"].copy()
    tensors["rnn.weight_hh_l1"][0, 0] = np.nan
    np.savez(tmp_path / "n.npz", **tensors)
    with pytest.raises(ModelFileError, match="NaN"):
        build_imported(load_checkpoint(tmp_path / "n.npz"))


# ------------------------------------------------------------------ hostile pickles
class _RunsCode:
    """Unpickling this with the full pickle machinery calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_like_zip(path: Path, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/byteorder", "little")


def test_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _RunsCode(marker)}, protocol=2)
    # the payload is live: the ordinary unpickler does run it
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()
    _torch_like_zip(tmp_path / "evil.pt", payload)
    with pytest.raises(ModelFileError, match=r"global (posix|os|nt)\.system") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["builtins.eval", "subprocess.Popen", "torch.load", "torch._utils.rebuild_evil"])
def test_any_other_global_is_refused_by_name(tmp_path, target):
    module, name = target.rsplit(".", 1)
    payload = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
    _torch_like_zip(tmp_path / "g.pt", payload)
    with pytest.raises(ModelFileError, match=f"global {target}"):
        load_checkpoint(tmp_path / "g.pt")


def test_plain_pickle_outside_a_zip_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(_RunsCode(marker), protocol=2))
    with pytest.raises(ModelFileError, match="legacy"):
        load_checkpoint(tmp_path / "legacy.pt")
    assert not marker.exists()


def test_restricted_unpickler_reads_nested_checkpoints(tmp_path):
    """{'model': state_dict, 'epoch': 3}: tensors found under dotted keys."""
    with zipfile.ZipFile(DATA / "rnn.pt") as zf:
        names = zf.namelist()
        root = next(n for n in names if n.endswith("data.pkl"))[: -len("data.pkl")]
        members = {n[len(root):]: zf.read(n) for n in names}
    inner = members["data.pkl"]
    # wrap the saved OrderedDict in a dict: EMPTY_DICT, 'model', <inner without PROTO and
    # STOP>, SETITEM, 'epoch', 3, SETITEM, STOP
    assert inner[:2] == b"\x80\x02" and inner[-1:] == b"."
    wrapped = b"\x80\x02}X\x05\x00\x00\x00model" + inner[2:-1] + b"sX\x05\x00\x00\x00epochK\x03s."
    out = tmp_path / "nested.pt"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr("nested/" + name, wrapped if name == "data.pkl" else data)
    obj = load_torch_zip(out)
    assert obj["epoch"] == 3
    ckpt = load_checkpoint(out)
    assert "model.rnn.weight_ih_l0" in ckpt.tensors
    model = build_imported(ckpt)
    np.testing.assert_array_equal(model.predict(REF["rnn_tokens"]),
                                  build_imported(load_checkpoint(DATA / "rnn.pt")).predict(REF["rnn_tokens"]))



def test_self_containing_dict_is_refused(tmp_path):
    # {} with d['d'] = d : EMPTY_DICT, MEMOIZE, 'd', GET 0, SETITEM
    payload = b"\x80\x04}\x94\x8c\x01d\x94h\x00s."
    assert pickle.loads(payload)["d"]["d"]["d"] is not None  # the payload really recurses
    _torch_like_zip(tmp_path / "loop.pt", payload)
    with pytest.raises(ModelFileError, match="nests dicts"):
        load_checkpoint(tmp_path / "loop.pt")


def test_broadcast_tensor_larger_than_its_storage_is_refused(tmp_path):
    """Rewrite one tensor's size in the real pickle to 10^9 elements: refused, not allocated."""
    with zipfile.ZipFile(DATA / "rnn.pt") as zf:
        pkl_name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        pkl = zf.read(pkl_name)
    # rnn.head.bias has size (4,): BININT1 4 wrapped as TUPLE1 -> (K\x04\x85)
    assert b"K\x04\x85" in pkl
    evil = pkl.replace(b"K\x04\x85q", b"J\x00\xca\x9a\x3b\x85q", 1) if b"K\x04\x85q" in pkl else \
        pkl.replace(b"K\x04\x85", b"J\x00\xca\x9a\x3b\x85", 1)
    _rewrite_zip(DATA / "rnn.pt", tmp_path / "big.pt", lambda name, data: evil if name.endswith("data.pkl") else data)
    with pytest.raises(ModelFileError, match="past the end|more elements"):
        load_checkpoint(tmp_path / "big.pt")


def test_rebuild_refuses_zero_stride_broadcasts():
    from commlb.imported.torchzip import _rebuild_tensor_v2, _Storage

    storage = _Storage(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(_rebuild_tensor_v2(storage, 1, (2, 2), (1, 1)), [[1, 2], [2, 3]])
    with pytest.raises(ModelFileError, match="more elements"):
        _rebuild_tensor_v2(storage, 0, (10**9,), (0,))
    with pytest.raises(ModelFileError, match="past the end"):
        _rebuild_tensor_v2(storage, 2, (3,), (1,))
    with pytest.raises(ModelFileError, match="does not point at a storage"):
        _rebuild_tensor_v2("not a storage", 0, (1,), (1,))


def test_hf_folder_with_pytorch_model_bin(tmp_path):
    shutil.copy(DATA / "gpt2_backbone.pt", tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "n_head": 2, "n_layer": 2}')
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.format == "Hugging Face folder (pytorch_model.bin)"
    model = build_imported(ckpt)
    assert model.heads == 2
    assert_matches_torch(model.forward(REF["gpt2_tokens"]), REF["gpt2_hidden"])
    (tmp_path / "config.json").write_text('{"n_head": 2, "n_layer": 3}')
    with pytest.raises(ModelFileError, match="n_layer = 3"):
        build_imported(load_checkpoint(tmp_path))
