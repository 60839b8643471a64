"""byol.TensorFile: what a safetensors file holds, read and checked by the
library (byol_file.h); write_safetensors() and write_atomic(), the
library's atomic writers.

A TensorFile is read whole and checked by the reader that Net.load() and
Trainer.load() use, so a file refused here (FormatError, ByolIOError) is
refused there with the same message, without needing a net of the right
architecture:

    with byol.TensorFile("run/checkpoint.safetensors") as f:
        print(f.kind, f.metadata["step"], len(f))       # checkpoint 800 62
        w = f["online.encoder.conv1.weight"]             # numpy copy

Arrays returned are copies owned by Python; the file's bytes are released
on close().
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import errors
from ._handle import Handle
from ._lib import FileTensor as _CFileTensor
from ._lib import fn, text

__all__ = ["TensorFile", "FileTensorInfo", "write_safetensors", "write_atomic"]

# byol_file_kind()
_KINDS = {1: "tensors", 2: "checkpoint", 3: "checkpoint-other"}
# BYOL_DTYPE_* <-> numpy (little-endian, as the files are)
_DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i8"), 4: np.dtype("<i4"),
           5: np.dtype("u1")}
_CODES = {dt.str: code for code, dt in _DTYPES.items()}


@dataclass(frozen=True)
class FileTensorInfo:
    """One tensor of a file: its name, numpy dtype, shape and size in bytes."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int


def _info(t: _CFileTensor) -> FileTensorInfo:
    return FileTensorInfo(
        name=t.name.decode("utf-8"),
        dtype=_DTYPES[t.dtype],
        shape=tuple(t.shape[: t.ndim]),
        nbytes=t.nbytes,
    )


class TensorFile(Handle):
    """A safetensors file (weights, a checkpoint, embeddings), read whole
    and checked by the library.

    TensorFile(path): raises FormatError for a malformed or truncated file,
    ByolIOError when it cannot be read.
    """

    def __init__(self, path: str | os.PathLike):
        out = ctypes.c_void_p()
        fn.byol_file_open(text(path), ctypes.byref(out))
        self._own(out.value, fn.byol_file_close)

    @property
    def kind(self) -> str:
        """"checkpoint" (a trainer checkpoint this library reads),
        "checkpoint-other" (a libbyol checkpoint of another layout) or
        "tensors" (weights, a state_dict, embeddings)."""
        return _KINDS[fn.byol_file_kind(self._handle)]

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return fn.byol_file_size(self._handle)

    def __len__(self) -> int:
        return fn.byol_file_tensor_count(self._handle)

    def _raw(self, key: str | int) -> _CFileTensor:
        t = _CFileTensor()
        if isinstance(key, str):
            fn.byol_file_tensor_find(self._handle, text(key), ctypes.byref(t))
        else:
            fn.byol_file_tensor_info(self._handle, int(key), ctypes.byref(t))
        return t

    def info(self, key: str | int) -> FileTensorInfo:
        """The tensor called `key`, or tensor number `key` in header order
        (ByolKeyError or RangeError when there is none)."""
        return _info(self._raw(key))

    def tensors(self) -> list[FileTensorInfo]:
        """Every tensor, in the order of the file's header."""
        return [self.info(i) for i in range(len(self))]

    def keys(self) -> list[str]:
        """The tensor names, in header order."""
        return [t.name for t in self.tensors()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.keys()

    def __getitem__(self, name: str) -> np.ndarray:
        """A copy of the tensor's values as a numpy array of its dtype and shape."""
        t = self._raw(name)
        raw = ctypes.string_at(t.data, t.nbytes) if t.nbytes else b""
        return np.frombuffer(raw, dtype=_DTYPES[t.dtype]).reshape(t.shape[: t.ndim]).copy()

    @property
    def metadata(self) -> dict[str, str]:
        """The "__metadata__" strings (a checkpoint's step, total_steps,
        libbyol_version, config)."""
        out = {}
        for i in range(fn.byol_file_metadata_count(self._handle)):
            k, v = ctypes.c_char_p(), ctypes.c_char_p()
            fn.byol_file_metadata_entry(self._handle, i, ctypes.byref(k), ctypes.byref(v))
            out[k.value.decode("utf-8")] = v.value.decode("utf-8")
        return out

    def __repr__(self) -> str:
        if self.closed:
            return "TensorFile(closed)"
        return f"TensorFile(kind={self.kind!r}, tensors={len(self)}, size={self.size})"


def write_safetensors(
    path: str | os.PathLike,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes arrays (float32, float64, int64, int32 or uint8; at most 8
    dimensions) and string metadata as a safetensors file, atomically: a
    failure keeps any previous file. Arrays are read during the call."""
    arrays, raw = [], (_CFileTensor * max(len(tensors), 1))()
    for i, (name, value) in enumerate(tensors.items()):
        a = np.asarray(value)
        # The file is little-endian: a big-endian array is converted (copied).
        dt = a.dtype if a.dtype.byteorder == "|" else a.dtype.newbyteorder("<")
        if dt.str not in _CODES:
            raise errors.InvalidArgumentError(
                f"tensor {name!r}: dtype {a.dtype} is not float32, float64, int64, int32 or uint8"
            )
        if a.ndim > 8:
            raise errors.InvalidArgumentError(f"tensor {name!r}: {a.ndim} dimensions, at most 8")
        a = np.asarray(a, dtype=dt, order="C")  # ascontiguousarray would make scalars 1-d
        arrays.append((text(name), a))
        t = raw[i]  # array elements skip _Sized.__init__: set the size here
        t.struct_size = ctypes.sizeof(_CFileTensor)
        t.dtype, t.name, t.ndim = _CODES[dt.str], arrays[-1][0], a.ndim
        t.shape[: a.ndim] = a.shape
        t.nbytes, t.data = a.nbytes, a.ctypes.data if a.nbytes else None
    meta = [text(s) for kv in (metadata or {}).items() for s in kv]
    c_meta = (ctypes.c_char_p * max(len(meta), 1))(*meta)
    fn.byol_file_write_safetensors(text(path), raw, len(tensors), c_meta, len(meta) // 2)


def write_atomic(path: str | os.PathLike, data: bytes | Sequence[bytes]) -> None:
    """Writes bytes (or the concatenation of several bytes-like parts) as
    the file at `path`, atomically: a temporary file beside it, synced and
    renamed over it, then the folder synced; a failure keeps any previous
    file."""
    parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
    # Byte views of the parts, without copies (they stay alive until the call ends).
    views = [np.frombuffer(p, dtype=np.uint8) for p in parts]
    ptrs = (ctypes.c_void_p * max(len(views), 1))(*[v.ctypes.data if v.size else None for v in views])
    sizes = (ctypes.c_size_t * max(len(views), 1))(*[v.size for v in views])
    fn.byol_file_write_atomic(text(path), ptrs, sizes, len(views))
