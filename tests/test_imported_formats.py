"""bfloat16 and float16: rounding to the format, checkpoints detected by their stored
dtype, forward passes against what torch computed in those formats on the CPU
(tests/data/models/outputs_reduced.npz, tools/make_fixtures.py), and protocols whose
messages carry 16-bit values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commlb.cli.main import main
from commlb.imported import open_model
from commlb.imported.adapter import load_adapter
from commlb.imported.load import load_checkpoint
from commlb.imported.numformat import FORMATS, get_format, round_bfloat16, round_float16, round_float16_reference
from commlb.imported.protocol import format_values, make_split, simulate_imported
from commlb.registry import get_task

DATA = Path(__file__).parent / "data" / "models"
REF = np.load(DATA / "outputs.npz")
RED = np.load(DATA / "outputs_reduced.npz")
YAML = str(DATA / "gpt2_backbone.yaml")
BF16, F16 = FORMATS["bfloat16"], FORMATS["float16"]


def _bf16_reference(x: np.float32) -> np.float32:
    """Nearest bfloat16 by comparing the two neighbours exactly in float64 (ties to the
    even pattern; the pattern past the largest finite value stands for 2^128)."""
    bits = int(np.float32(x).view(np.uint32))
    sign, mag = bits & 0x80000000, bits & 0x7FFFFFFF
    if mag > 0x7F800000:
        return np.float32(np.nan)
    lo = mag & 0xFFFF0000
    hi = lo + 0x10000
    if lo == mag:
        return np.float32(x)

    def value(m: int) -> float:
        return 2.0 ** 128 if m == 0x7F800000 else float(np.uint32(m).view(np.float32))

    d_lo, d_hi = abs(float(np.uint32(mag).view(np.float32)) - value(lo)), abs(value(hi) - float(
        np.uint32(mag).view(np.float32)))
    pick = lo if d_lo < d_hi or (d_lo == d_hi and not (lo >> 16) & 1) else hi
    return np.uint32(sign | pick).view(np.float32)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_round_bfloat16_matches_reference(bits):
    x = np.uint32(bits).view(np.float32)
    got = round_bfloat16(np.array([x]))[0]
    want = _bf16_reference(x)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got.view(np.uint32) == want.view(np.uint32), (hex(bits), got, want)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=64),
       st.sampled_from([1.0, 2.0 ** -14, 2.0 ** -20, 65504.0, 65520.0]))
def test_round_float16_matches_numpy_conversion(words, scale):
    bits = np.array(words, dtype=np.uint64).astype(np.uint32).view(np.float32)
    near = (np.array(words, dtype=np.float64) / 2 ** 32 * 2 * scale).astype(np.float32)  # around the edges
    for x in (bits, near, -near):
        got, want = round_float16(x), round_float16_reference(x)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)) or np.array_equal(
            np.isnan(got), np.isnan(want)) and np.array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


def test_round_float16_edges():
    edges = np.float32([2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -24, 2.0 ** -14 - 2.0 ** -25, 65519.99, 65520.0,
                        -65520.0, np.inf, -np.inf, 0.0, -0.0, 1e-45])
    np.testing.assert_array_equal(round_float16(edges).view(np.uint32), round_float16_reference(edges).view(np.uint32))


@pytest.mark.parametrize("fmt", [BF16, F16, FORMATS["float32"]])
def test_encode_decode_round_trip_and_refusal(fmt):
    rng = np.random.default_rng(0)
    x = fmt.round(rng.standard_normal(200).astype(np.float32) * 100)
    codes = fmt.encode(x)
    assert codes.max() < 2 ** fmt.bits
    np.testing.assert_array_equal(fmt.decode(codes), x)
    if not fmt.exact32:
        with pytest.raises(ValueError):  # a value of no 16-bit format is not sent silently rounded
            fmt.encode(np.array([1 + 2.0 ** -20], dtype=np.float32))


def test_known_roundings():
    assert round_bfloat16(np.float32([1 + 2 ** -8]))[0] == 1.0  # tie to even
    assert round_bfloat16(np.float32([1 + 3 * 2 ** -8]))[0] == 1 + 2 ** -6
    assert np.isinf(round_bfloat16(np.float32([3.4e38]))[0])
    assert F16.round(np.float32([65520.0]))[0] == np.inf and F16.round(np.float32([65519.0]))[0] == 65504
    assert get_format("bf16") is BF16 and get_format("half") is F16


@pytest.mark.parametrize("name,fmt", [("gpt2_bf16.pt", "bfloat16"), ("gpt2_f16.safetensors", "float16"),
                                      ("lstm_bf16.safetensors", "bfloat16"), ("gru_f16.pt", "float16"),
                                      ("gpt2_backbone.pt", "float32"), ("rnn.pt", "float32")])
def test_stored_format_is_detected(name, fmt):
    ckpt = load_checkpoint(DATA / name)
    assert ckpt.float_format() == fmt
    model = open_model(str(DATA / name), YAML if "gpt2" in name else None)
    assert model.number.name == fmt and model.summary()["dtype"] == fmt
    for v in model.params.values():  # every weight is a number of the format
        np.testing.assert_array_equal(model.number.round(v), v)


def _agreement(got: np.ndarray, want: np.ndarray, fmt, min_identical: float) -> float:
    """Share of bit-identical entries (at least ``min_identical``), largest difference at
    most 2 units of roundoff of the largest magnitude, same argmax everywhere."""
    scale = float(np.abs(want).max())
    identical = float(np.mean(got == want))
    assert identical >= min_identical, identical
    assert float(np.abs(got - want).max()) <= 2 * fmt.unit_roundoff * scale
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    return float(np.abs(got - want).mean())


@pytest.mark.parametrize("name,tag,fmt,min_identical", [("gpt2_bf16.pt", "bf16", BF16, 0.99),
                                                        ("gpt2_f16.safetensors", "f16", F16, 0.8)])
def test_gpt2_reduced_forward_matches_torch(name, tag, fmt, min_identical):
    tokens = REF["gpt2_tokens"]
    for readout, key, f32 in (("hidden", "hidden", "gpt2_hidden"), ("lm_head", "logits", "gpt2_logits")):
        model = open_model(str(DATA / name), YAML, readout=readout)
        want = RED[f"gpt2_{tag}_{key}"]
        mean = _agreement(model.predict(tokens), want, fmt, min_identical)
        # float32 arithmetic on the same weights is further off: the rounding is what matches
        plain = REF[f32]
        assert np.mean(plain == want) < 0.01 and mean < 0.2 * float(np.abs(plain - want).mean())


@pytest.mark.parametrize("name,key,dtype", [("lstm_bf16.safetensors", "lstm_bf16_out", None),
                                            ("gru_f16.pt", "gru_f16_out", None),
                                            ("rnn.pt", "rnn_bf16_out", "bfloat16")])
def test_recurrent_reduced_forward_matches_torch(name, key, dtype):
    model = open_model(str(DATA / name), dtype=dtype)
    _agreement(model.predict(REF["rnn_tokens"]), RED[key], model.number, 0.99)


def test_dtype_option_rounds_a_float32_checkpoint_like_model_to():
    a = open_model(str(DATA / "gpt2_backbone.pt"), YAML, readout="hidden", dtype="bfloat16")
    b = open_model(str(DATA / "gpt2_bf16.pt"), YAML, readout="hidden")
    np.testing.assert_array_equal(a.forward(REF["gpt2_tokens"]), b.forward(REF["gpt2_tokens"]))
    c = open_model(str(DATA / "gpt2_bf16.pt"), YAML, readout="hidden", dtype="float32")
    assert c.number.exact32 and not np.array_equal(c.forward(REF["gpt2_tokens"]), b.forward(REF["gpt2_tokens"]))


AD = load_adapter("sht24-khop")


def _khop(seed: int, n: int = 20, k: int = 2):
    task = get_task("khop", k=k, alphabet=4)
    x = task.generate(np.random.default_rng(seed), n)
    _, scored = AD.targets_and_scored(task.solve(x)[None], n)
    return AD.encode(x[None], {"k": k})[0], scored[0]


def _sixteen_bit_accounting(run) -> None:
    tr = run.transcript
    fmt = FORMATS[run.value_format]
    assert fmt.bits == 16 and tr.messages
    for m in tr.messages:
        assert all(f.width == 16 and f.name.endswith(":" + fmt.suffix) for f in m.fields)
        assert m.bits == 16 * format_values(m) == len(m.payload)
    js = run.to_json()
    assert js["total_bits"] == 16 * js["values"] and js["bits_per_value"] == 16 and js["float32_values"] == 0


@pytest.mark.parametrize("split", ["prefix:10", "interleave"])
def test_gpt2_bf16_protocol(split):
    model = open_model(str(DATA / "gpt2_bf16.pt"), YAML, adapter=AD)
    f32 = open_model(str(DATA / "gpt2_backbone.pt"), YAML, adapter=AD)
    for seed in range(2):
        ids, scored = _khop(seed)
        sp = make_split(split, 1, 20)
        kv = simulate_imported(model, ids, sp, scored, "kv")
        # keys/values exchanges only: the forward pass's own arithmetic, bit for bit
        np.testing.assert_array_equal(kv.values, model.predict(ids[None])[0][scored])
        assert kv.check["largest_difference"] == 0
        partial = simulate_imported(model, ids, sp, scored, "partial")
        assert partial.check["protocol_matches_forward"]
        assert partial.check["largest_relative_difference"] <= partial.check["relative_tolerance"]
        for run in (kv, partial):
            _sixteen_bit_accounting(run)
        # the same exchanges in float32 cost twice the bits
        same = simulate_imported(f32, ids, sp, scored, "partial")
        assert same.transcript.total_bits == 2 * partial.transcript.total_bits


def test_lstm_bf16_state_handover_is_two_width_values_per_layer():
    model = open_model(str(DATA / "lstm_bf16.safetensors"))
    ids = REF["rnn_tokens"][0]
    run = simulate_imported(model, ids, make_split("interleave", 0, ids.size), np.ones(ids.size, bool))
    np.testing.assert_array_equal(run.values, model.predict(ids[None])[0])
    _sixteen_bit_accounting(run)
    per_handover = model.layers * 2 * model.width * 16
    assert run.transcript.total_bits == (ids.size - 1) * per_handover


def test_cli_dtype(capsys):
    base = ["--config", YAML, "--adapter", "sht24-khop", "--task-option", "k=2", "--n", "12", "--json"]
    main(["evaluate", "--weights", str(DATA / "gpt2_backbone.pt"), *base, "--instances", "20",
          "--dtype", "bfloat16"])
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["dtype"] == "bfloat16" and "bfloat16" in data["model"]["arithmetic"]
    main(["simulate", "--weights", str(DATA / "gpt2_f16.safetensors"), *base, "--split", "interleave"])
    tr = json.loads(capsys.readouterr().out)["transcript"]
    assert tr["value_format"] == "float16" and tr["total_bits"] == 16 * tr["values"] > 0
    assert tr["verification"]["protocol_matches_forward"]


# ---------------------------------------------------------------- sharded checkpoints
@pytest.mark.parametrize("folder,tag,fmt", [("gpt2_sharded", "f16", "float16"),
                                            ("gpt2_sharded_bin", "bf16", "bfloat16")])
def test_sharded_folder_matches_torch(folder, tag, fmt):
    path = DATA / folder
    index = next(path.glob("*.index.json"))
    shards = [p for p in path.iterdir() if p.suffix in (".safetensors", ".bin")]
    assert len(shards) >= 3
    for weights in (path, index):  # the folder, or the index file itself
        ckpt = load_checkpoint(weights)
        assert ckpt.float_format() == fmt and f"{len(shards)}" in ckpt.format
        model = open_model(str(weights), readout="lm_head")
        _agreement(model.predict(REF["gpt2_tokens"]), RED[f"gpt2_{tag}_logits"], model.number,
                   0.99 if tag == "bf16" else 0.8)


def _damaged(tmp_path, folder="gpt2_sharded"):
    import shutil

    dst = tmp_path / folder
    shutil.copytree(DATA / folder, dst)
    index = next(dst.glob("*.index.json"))
    return dst, index, json.loads(index.read_text())


@pytest.mark.parametrize("damage,message", [
    ("missing-shard", "is missing"),
    ("key-elsewhere", "lacks|does not place there"),
    ("unlisted-key", "does not place there"),
    ("traversal", "not a file name"),
    ("empty-map", "weight_map"),
    ("not-json", "not valid JSON"),
])
def test_damaged_shard_index_is_refused(tmp_path, damage, message):
    from commlb.imported.errors import ModelFileError

    folder, index, data = _damaged(tmp_path)
    wm = data["weight_map"]
    first_key, first_file = next(iter(wm.items()))
    other = next(f for f in sorted(set(wm.values())) if f != first_file)
    if damage == "missing-shard":
        (folder / first_file).unlink()
    elif damage == "key-elsewhere":
        wm[first_key] = other
    elif damage == "unlisted-key":
        del wm[first_key]
    elif damage == "traversal":
        wm[first_key] = "../" + first_file
    elif damage == "empty-map":
        data["weight_map"] = {}
    if damage == "not-json":
        index.write_text("{ weight_map: ")
    else:
        index.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=message):
        load_checkpoint(folder)


# ---------------------------------------------------------------- LSTM with proj_size
PROJ = np.load(DATA / "outputs_proj.npz")


def test_lstm_proj_size_matches_torch():
    model = open_model(str(DATA / "lstm_proj.pt"))
    assert (model.width, model.cell_width, model.layers) == (3, 8, 2)
    assert model.summary()["proj_size"] == 3 and model.summary()["hidden_size"] == 8
    got, want = model.predict(REF["rnn_tokens"]), PROJ["lstm_proj_out"]
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    bf = open_model(str(DATA / "lstm_proj.pt"), dtype="bfloat16")
    _agreement(bf.predict(REF["rnn_tokens"]), PROJ["lstm_proj_bf16_out"], BF16, 0.99)


@pytest.mark.parametrize("dtype,bits", [(None, 32), ("bfloat16", 16)])
def test_lstm_proj_protocol_hands_over_h_and_c(dtype, bits):
    model = open_model(str(DATA / "lstm_proj.pt"), dtype=dtype)
    ids = REF["rnn_tokens"][1]
    run = simulate_imported(model, ids, make_split("interleave", 0, ids.size), np.ones(ids.size, bool))
    ref = model.predict(ids[None])[0]
    assert run.check["protocol_matches_forward"] and run.check["same_readout_positions"] == ids.size
    # one position at a time against the whole sequence at once: float32 products in
    # another order differ in the last bit; in bfloat16 the rounding absorbs that here
    assert float(np.abs(run.values - ref).max()) <= (1e-6 if dtype is None else 0.0) * float(np.abs(ref).max())
    # per hand-over and layer: h (proj_size 3 values) and c (hidden size 8 values)
    assert run.transcript.total_bits == (ids.size - 1) * model.layers * (3 + 8) * bits
    shapes = {f.name.split(":")[0]: f.shape for f in run.transcript.messages[0].fields}
    assert shapes == {"h": (3,), "c": (8,)}


def test_inconsistent_projection_is_refused(tmp_path):
    from safetensors.numpy import save_file

    from commlb.imported.errors import ModelFileError

    t = dict(load_checkpoint(DATA / "lstm_proj.pt").tensors)
    t["rnn.weight_hr_l1"] = t["rnn.weight_hr_l1"][:, :5].copy()
    save_file(t, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ModelFileError, match="inconsistent shapes"):
        open_model(str(tmp_path / "bad.safetensors"))


# ---------------------------------------------------------------- bidirectional
BI = np.load(DATA / "outputs_bi.npz")


@pytest.mark.parametrize("name,key", [("lstm_bi.pt", "lstm_bi"), ("gru_bi.safetensors", "gru_bi")])
def test_bidirectional_matches_torch(name, key):
    model = open_model(str(DATA / name))
    assert model.bidirectional and model.out_width == 2 * model.width and model.summary()["bidirectional"]
    got, want = model.predict(REF["rnn_tokens"]), BI[f"{key}_out"]
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    bf = open_model(str(DATA / name), dtype="bfloat16")
    _agreement(bf.predict(REF["rnn_tokens"]), BI[f"{key}_bf16_out"], BF16, 0.99)


@pytest.mark.parametrize("name", ["lstm_bi.pt", "gru_bi.safetensors"])
@pytest.mark.parametrize("split", ["prefix:7", "interleave", "PPAAAAABBBBBBBBAAAAA"])
def test_bidirectional_protocol(name, split):
    model = open_model(str(DATA / name))
    ids = REF["rnn_tokens"][2]
    sp = make_split(split, 0, ids.size)
    run = simulate_imported(model, ids, sp, np.ones(ids.size, bool))
    ref = model.predict(ids[None])[0]
    assert run.check["protocol_matches_forward"] and run.check["same_readout_positions"] == ids.size
    assert float(np.abs(run.values - ref).max()) <= 1e-6 * float(np.abs(ref).max())
    # one hand-over per direction, layer and change of home along the sequence
    from commlb.imported.protocol import bidirectional_homes

    changes = int(np.sum(np.diff(bidirectional_homes(sp.owner)) != 0))
    per = (2 if model.cell == "lstm" else 1) * model.width * 32
    assert run.transcript.total_bits == 2 * model.layers * changes * per
    labels = [m.label for m in run.transcript.messages]
    assert sum("reverse" in lab for lab in labels) == sum("forward" in lab for lab in labels) == model.layers * changes


def test_half_bidirectional_checkpoint_is_refused(tmp_path):
    from safetensors.numpy import save_file

    from commlb.imported.errors import ModelFileError

    t = {k: v for k, v in load_checkpoint(DATA / "gru_bi.safetensors").tensors.items()
         if not k.endswith("l1_reverse")}
    save_file(t, str(tmp_path / "half.safetensors"))
    with pytest.raises(ModelFileError, match="reverse layers"):
        open_model(str(tmp_path / "half.safetensors"))
