"""Read a ``torch.save`` file without torch, and without running its pickle's code.

A ``torch.save`` file (PyTorch >= 1.6) is a zip archive: ``<name>/data.pkl`` is a pickle
of the saved object whose tensors point, through pickle *persistent ids*, at raw storages
``<name>/data/<key>``.  ``torch.load`` unpickles with the full pickle machinery, so a file
from the internet can make it call any importable function (``os.system``, ...).

:func:`load_torch_zip` uses :class:`RestrictedUnpickler`, which resolves only the globals a
plain state dict needs —

* ``collections.OrderedDict`` (the state dict itself and the empty backward-hook dict),
* ``torch._utils._rebuild_tensor_v2`` (replaced by a numpy function that views the
  storage with the tensor's offset, size and stride, checked against the storage length),
* the typed storage classes ``torch.FloatStorage``, ``torch.HalfStorage``, ... and
  ``torch.UntypedStorage`` (replaced by numpy dtypes) —

and refuses every other global with one line naming it, before anything is called.  Plain
containers (dict, list, tuple, str, numbers) need no global.  Persistent ids other than
``('storage', <storage type>, key, location, numel)`` are refused too.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError

__all__ = ["STORAGE_DTYPES", "BFloat16Widened", "RestrictedUnpickler", "is_torch_zip", "load_torch_zip"]

#: torch storage class name -> numpy dtype ("bfloat16" is widened to float32 on load)
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}

#: refuse archives whose storages would unpack to more than this many bytes
MAX_TOTAL_BYTES = 8 << 30


class BFloat16Widened(np.ndarray):
    """A float32 array widened from a bfloat16 tensor (the type tells the loader the
    checkpoint's stored format; the values are exact)."""


class _StorageType:
    """Stands for a torch storage class inside the pickle; only its name is kept."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Storage:
    """A storage read from the archive: a flat numpy array of its dtype."""

    def __init__(self, array: np.ndarray, bfloat16: bool = False) -> None:
        self.array = array
        self.bfloat16 = bfloat16


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       hooks: Any = None, metadata: Any = None) -> np.ndarray:
    """numpy stand-in for ``torch._utils._rebuild_tensor_v2``: the tensor as a copy of its
    strided view of the storage, every index checked to lie inside the storage."""
    if not isinstance(storage, _Storage):
        raise ModelFileError("a tensor in the pickle does not point at a storage of the archive")
    try:
        size_t = tuple(int(s) for s in size)
        stride_t = tuple(int(s) for s in stride)
        off = int(offset)
    except (TypeError, ValueError):
        raise ModelFileError("a tensor in the pickle has a malformed size or stride") from None
    flat = storage.array
    if len(size_t) != len(stride_t) or off < 0 or any(s < 0 for s in size_t) or any(s < 0 for s in stride_t):
        raise ModelFileError("a tensor in the pickle has a malformed size, stride or offset")
    if 0 in size_t:
        out = np.zeros(size_t, dtype=flat.dtype)
        return out.view(BFloat16Widened) if storage.bfloat16 else out
    if int(np.prod(size_t, dtype=object)) > flat.size:  # only a broadcast (stride 0) can do that
        raise ModelFileError(f"a tensor of shape {size_t} has more elements than its storage ({flat.size})")
    last = off + sum((n - 1) * s for n, s in zip(size_t, stride_t, strict=True))
    if last >= flat.size:
        raise ModelFileError(f"a tensor reads past the end of its storage ({last + 1} > {flat.size} elements)")
    view = np.lib.stride_tricks.as_strided(flat[off:], shape=size_t,
                                           strides=tuple(s * flat.itemsize for s in stride_t), writeable=False)
    out = np.array(view, copy=True)
    return out.view(BFloat16Widened) if storage.bfloat16 else out


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of a plain state dict (module doc)."""

    def __init__(self, data: bytes, load_storage: Any) -> None:
        super().__init__(io.BytesIO(data))
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise ModelFileError(f"refused: the checkpoint's pickle asks for the global {module}.{name}, "
                             "which a plain state dict does not need (nothing was run)")

    def persistent_load(self, pid: Any) -> Any:
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str)):
            raise ModelFileError(f"refused: the checkpoint's pickle has an unknown persistent id {str(pid)[:60]!r}")
        return self._load_storage(pid[1].name, pid[2], pid[4])


def is_torch_zip(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("data.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)


def load_torch_zip(path: str | Path) -> Any:
    """The object a ``torch.save`` zip file holds, tensors as numpy arrays (bfloat16
    widened to float32).  Any defect — not a zip, truncated, a missing storage, a global
    or persistent id a state dict does not use — raises :class:`ModelFileError`."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable torch.save zip archive ({exc})") from None
    with zf:
        names = zf.namelist()
        pkls = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkls) != 1:
            raise ModelFileError(f"{path}: a torch.save archive has one data.pkl, found {len(pkls)}")
        root = pkls[0][: -len("data.pkl")]
        total = sum(i.file_size for i in zf.infolist())
        if total > MAX_TOTAL_BYTES:
            raise ModelFileError(f"{path}: the archive unpacks to {total / 2**30:.1f} GiB, more than the "
                                 f"{MAX_TOTAL_BYTES / 2**30:.0f} GiB this reader accepts")
        order = "little"
        if f"{root}byteorder" in names:
            order = _read(zf, path, f"{root}byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ModelFileError(f"{path}: unknown byte order {order!r}")
        cache: dict[str, _Storage] = {}

        def load_storage(type_name: str, key: str, numel: Any) -> _Storage:
            if key in cache:
                return cache[key]
            member = f"{root}data/{key}"
            if member not in names:
                raise ModelFileError(f"{path}: storage {key!r} is missing from the archive")
            raw = _read(zf, path, member)
            kind = STORAGE_DTYPES[type_name]
            item = 2 if kind == "bfloat16" else np.dtype(kind).itemsize
            if len(raw) % item:
                raise ModelFileError(f"{path}: storage {key!r} has {len(raw)} bytes, not a multiple of {item}")
            if kind == "bfloat16":
                arr = _bf16_to_f32(np.frombuffer(raw, dtype=("<" if order == "little" else ">") + "u2"))
            else:
                dt = np.dtype(kind).newbyteorder("<" if order == "little" else ">")
                arr = np.frombuffer(raw, dtype=dt).astype(np.dtype(kind).newbyteorder("="), copy=False)
            if type_name != "UntypedStorage" and isinstance(numel, int) and arr.size < numel:
                raise ModelFileError(f"{path}: storage {key!r} is truncated ({arr.size} of {numel} elements)")
            cache[key] = _Storage(arr, kind == "bfloat16")
            return cache[key]

        data = _read(zf, path, pkls[0])
        try:
            obj = RestrictedUnpickler(data, load_storage).load()
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError, OverflowError, MemoryError, RecursionError) as exc:
            raise ModelFileError(f"{path}: the checkpoint's pickle is corrupted ({type(exc).__name__}: "
                                 f"{str(exc)[:80]})") from None
    return obj


def _read(zf: zipfile.ZipFile, path: Path, member: str) -> bytes:
    try:
        return zf.read(member)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(f"{path}: cannot read {member} from the archive ({exc})") from None
    except Exception as exc:  # zlib.error on a damaged compressed member
        if type(exc).__module__ == "zlib":
            raise ModelFileError(f"{path}: cannot read {member} from the archive ({exc})") from None
        raise
