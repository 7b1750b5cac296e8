"""Read a trained checkpoint into named numpy arrays, without torch.

Formats (:func:`load_checkpoint`):

* ``.safetensors`` — with the ``safetensors`` package's numpy API (its header is checked
  first: length, JSON, every tensor's byte range inside the file);
* ``.pt`` / ``.bin`` / ``.pth`` — the zip archive ``torch.save`` writes (PyTorch >= 1.6),
  read by the restricted unpickler of :mod:`commlb.imported.torchzip`; nested dicts
  (``{"model": state_dict, "epoch": 3}``) are flattened with dotted keys;
* a Hugging Face model folder — ``config.json`` with ``model.safetensors`` or
  ``pytorch_model.bin``, or with shards listed by ``model.safetensors.index.json`` /
  ``pytorch_model.bin.index.json`` (the index file may also be given itself);
* ``.npz`` — arrays by name (``np.load(allow_pickle=False)``).

Configs (:func:`read_config`): JSON, or YAML when ``pyyaml`` is installed.  Keys are
looked up by any of their common names anywhere in the nesting (:func:`config_value`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError

__all__ = ["HEAD_KEYS", "Checkpoint", "config_value", "flatten_state", "load_checkpoint", "read_config"]

#: names under which configs give GPT-2's number of heads
HEAD_KEYS = ("n_head", "headcount", "num_heads", "num_attention_heads", "n_heads", "heads")

_SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
                       "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
                       "BOOL": "bool"}


@dataclass
class Checkpoint:
    """Named arrays read from ``path``, the format they came in, and the
    ``config.json`` found with them (empty when there is none)."""

    tensors: dict[str, np.ndarray]
    format: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    #: the stored dtype of each tensor ("float32", "bfloat16", ...) where it differs
    #: from the array's (bfloat16 is widened to float32 on load)
    stored: dict[str, str] = field(default_factory=dict)

    def dtype_of(self, key: str) -> str:
        return self.stored.get(key, self.tensors[key].dtype.name)

    def float_format(self) -> str:
        """The floating format holding most of the checkpoint's parameters: ``float32``,
        ``bfloat16`` or ``float16`` (float64 counts as float32, which it is run in)."""
        count: dict[str, int] = {}
        for key, arr in self.tensors.items():
            name = self.dtype_of(key)
            if name in ("float32", "float64", "bfloat16", "float16"):
                name = "float32" if name == "float64" else name
                count[name] = count.get(name, 0) + int(arr.size)
        return max(sorted(count), key=lambda n: count[n]) if count else "float32"


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"weights {str(path)!r} do not exist")
    if path.is_dir():
        return _load_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        tensors, stored = _load_safetensors(path)
        return Checkpoint(tensors, "safetensors", path, _sibling_config(path), stored)
    if suffix == ".npz":
        return Checkpoint(_load_npz(path), "npz", path, _sibling_config(path))
    if path.name.endswith(".index.json"):
        tensors, stored, kind = _load_sharded(path)
        return Checkpoint(tensors, kind, path, _sibling_config(path), stored)
    if suffix in (".pt", ".pth", ".bin", ".ckpt"):
        tensors, stored = _load_torch(path)
        return Checkpoint(tensors, "torch.save", path, _sibling_config(path), stored)
    raise ModelFileError(f"{path}: unknown weights format {suffix or '(no suffix)'!r}: use .safetensors, "
                         ".pt/.bin (torch.save), .npz, a shard index (*.index.json) or a Hugging Face folder")


def _sibling_config(path: Path) -> dict[str, Any]:
    """A ``config.json`` in the same folder (Hugging Face style) or nothing."""
    cfg = path.parent / "config.json"
    return read_config(cfg) if cfg.is_file() else {}


def _load_folder(path: Path) -> Checkpoint:
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelFileError(f"{path}: a Hugging Face model folder needs config.json")
    config = read_config(cfg_path)
    st = sorted(path.glob("*.safetensors"))
    if (path / "model.safetensors").is_file():
        st = [path / "model.safetensors"]
    if len(st) == 1:
        tensors, stored = _load_safetensors(st[0])
        return Checkpoint(tensors, "Hugging Face folder (safetensors)", path, config, stored)
    for index in (path / "model.safetensors.index.json", path / "pytorch_model.bin.index.json"):
        if index.is_file():
            tensors, stored, kind = _load_sharded(index)
            return Checkpoint(tensors, f"Hugging Face folder ({kind})", path, config, stored)
    if len(st) > 1:
        raise ModelFileError(f"{path}: {len(st)} .safetensors files and no model.safetensors.index.json naming "
                             "the shards")
    if (path / "pytorch_model.bin").is_file():
        tensors, stored = _load_torch(path / "pytorch_model.bin")
        return Checkpoint(tensors, "Hugging Face folder (pytorch_model.bin)", path, config, stored)
    raise ModelFileError(f"{path}: no model.safetensors or pytorch_model.bin in the folder")


#: at most this many shards in one index
MAX_SHARDS = 10_000


def _load_sharded(index: Path) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """A sharded checkpoint: ``*.index.json`` maps every tensor name to the shard file
    (beside the index) that holds it.  Every named tensor must be in its shard, no shard
    may hold a tensor the index places elsewhere or does not list, and shard names are
    plain file names (no folders)."""
    if index.stat().st_size > 64 << 20:
        raise ModelFileError(f"{index}: a shard index of {index.stat().st_size >> 20} MiB (at most 64 MiB)")
    data = read_structured(index, "shard index", ())
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelFileError(f"{index}: a shard index has a non-empty \"weight_map\" of tensor name -> file")
    shards: dict[str, list[str]] = {}
    for name, file in weight_map.items():
        if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
            raise ModelFileError(f"{index}: tensor {name!r} maps to {file!r}, not a file name beside the index")
        shards.setdefault(file, []).append(name)
    if len(shards) > MAX_SHARDS:
        raise ModelFileError(f"{index}: {len(shards)} shards (at most {MAX_SHARDS})")
    safetensors = index.name.startswith("model.safetensors")
    tensors: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    for file in sorted(shards):
        shard = index.parent / file
        if not shard.is_file():
            raise ModelFileError(f"{index}: shard {file} is missing")
        got, got_stored = _load_safetensors(shard) if safetensors else _load_torch(shard)
        expected = set(shards[file])
        if set(got) != expected:
            missing = sorted(expected - set(got))
            extra = sorted(set(got) - expected)
            what = f"lacks {missing[0]!r}" if missing else f"holds {extra[0]!r}, which the index does not place there"
            raise ModelFileError(f"{index}: shard {file} {what}")
        tensors.update(got)
        stored.update(got_stored)
    kind = f"{len(shards)} safetensors shards" if safetensors else f"{len(shards)} pytorch_model.bin shards"
    return tensors, stored, kind


def _load_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, stored dtypes of the widened bfloat16 tensors)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path}: truncated safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, 100 << 20):
            raise ModelFileError(f"{path}: safetensors header of {n} bytes does not fit the file ({size} bytes)")
        raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: safetensors header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: safetensors header is not a JSON object")
    data_len = size - 8 - n
    has_bf16 = False
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            start, stop = (int(v) for v in info["data_offsets"])
            shape = [int(s) for s in info["shape"]]
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: tensor {name!r} has a malformed or unsupported header entry") from None
        item = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        if not 0 <= start <= stop <= data_len or stop - start != item * int(np.prod(shape, dtype=np.int64)):
            raise ModelFileError(f"{path}: tensor {name!r} lies outside the file or has the wrong size "
                                 "(truncated or corrupted)")
        has_bf16 |= dtype == "bfloat16"
    if has_bf16:  # numpy has no bfloat16: widen to float32 from the raw bytes
        stored = {k: "bfloat16" for k, v in header.items() if k != "__metadata__" and v["dtype"] == "BF16"}
        return _read_safetensors_raw(path, header, 8 + n), stored
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(path))), {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot read the safetensors file ({exc})") from None


def _read_safetensors_raw(path: Path, header: dict[str, Any], base: int) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        start, stop = (int(v) for v in info["data_offsets"])
        buf = data[base + start: base + stop]
        if dtype == "bfloat16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << np.uint32(16)).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
        out[name] = arr.reshape([int(s) for s in info["shape"]]).copy()
    return out


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__meta__" in data.files:
                raise ModelFileError(f"{path} is a commlb model file: run it with `commlb simulate --model ... "
                                     "--weights FILE.npz`")
            return {k: np.asarray(data[k]) for k in data.files}
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz file ({str(exc)[:80]})") from None
    except Exception as exc:  # zipfile.BadZipFile and zlib.error on damaged archives
        if type(exc).__module__ in ("zipfile", "zlib"):
            raise ModelFileError(f"{path}: not a readable .npz file ({exc})") from None
        raise


def _load_torch(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, stored dtypes of the widened bfloat16 tensors)."""
    from .torchzip import BFloat16Widened, is_torch_zip, load_torch_zip

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x80\x02" or (magic[:1] == b"\x80" and not is_torch_zip(path)):
        raise ModelFileError(f"{path}: legacy (pre-1.6) torch.save format; re-save it with a current torch "
                             "or as .safetensors")
    obj = load_torch_zip(path)
    tensors = flatten_state(obj)
    if not tensors:
        raise ModelFileError(f"{path}: the checkpoint holds no tensors")
    stored = {k: "bfloat16" for k, v in tensors.items() if isinstance(v, BFloat16Widened)}
    return {k: np.asarray(v) for k, v in tensors.items()}, stored


def flatten_state(obj: Any, prefix: str = "", _depth: int = 0) -> dict[str, np.ndarray]:
    """Every array inside nested dicts, under dotted keys (``model.wte.weight``); at most
    8 levels deep (a pickle can make a dict that contains itself)."""
    out: dict[str, np.ndarray] = {}
    if isinstance(obj, np.ndarray):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, dict):
        if _depth >= 8:
            raise ModelFileError("the checkpoint nests dicts more than 8 levels deep")
        for k, v in obj.items():
            out.update(flatten_state(v, f"{prefix}{k}.", _depth + 1))
    return out


# ------------------------------------------------------------------------- configs
def read_structured(path: Path, what: str, formats: Iterable[str]) -> Any:
    """The file at ``path`` parsed by its suffix: ``.toml`` (tomllib) or ``.yaml``/``.yml``
    (``yaml.safe_load``) when that format is in ``formats``, JSON otherwise.  ``what``
    names the file in the one-line errors ("config", "adapter")."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read the {what} ({exc})") from None
    suffix = path.suffix.lower()
    if suffix == ".toml" and "toml" in formats:
        try:
            import tomllib  # type: ignore[import-not-found]
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[import-not-found]
            except ModuleNotFoundError:
                raise ModelFileError(f"{path}: TOML {what}s need Python >= 3.11 or tomli; use JSON") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelFileError(f"{path}: not valid TOML ({exc})") from None
    if suffix in (".yaml", ".yml") and "yaml" in formats:
        try:
            import yaml  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            raise ModelFileError(f"{path}: reading YAML needs pyyaml (pip install pyyaml), or give a JSON "
                                 f"{what}") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ModelFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None


def read_config(path: str | Path) -> dict[str, Any]:
    """A JSON or YAML config as a dict (YAML needs pyyaml; ``yaml.safe_load`` only)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"config {str(path)!r} does not exist")
    data = read_structured(path, "config", ("yaml",))
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: a config is a mapping of keys to values")
    return data


def config_value(config: dict[str, Any], names: Iterable[str]) -> Any:
    """The value of the first of ``names`` found at any depth of ``config`` (breadth
    first, so a top-level ``n_head`` wins over a nested one), or None."""
    names = tuple(names)
    level: list[Any] = [config]
    while level:
        for d in level:
            for n in names:
                if n in d:
                    return d[n]
        level = [v for d in level for v in d.values() if isinstance(v, dict)]
    return None
