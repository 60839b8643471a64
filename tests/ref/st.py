"""Minimal safetensors reader and writer (struct + json + numpy only).

Why: the reference scripts under tests/ref/ must write fixture files that
libbyol's own C reader accepts, and read files that libbyol writes, without
depending on the `safetensors` package. Keeping our own small implementation
also documents exactly which subset of the format the fixtures use.

Format (https://huggingface.co/docs/safetensors):
  * 8 bytes: little-endian u64 N, the length of the JSON header;
  * N bytes: UTF-8 JSON object mapping each tensor name to
    {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
    plus an optional "__metadata__" object whose values are strings.
    The header is padded with spaces so that the data section starts at an
    8-byte-aligned file offset;
  * the data section: raw little-endian tensor bytes; offsets are relative
    to its start, tensors are contiguous, non-overlapping and cover it.

Usage:
    import st
    st.write("x.safetensors", {"w": np.zeros((2, 3), np.float32)},
             metadata={"made_by": "me"})
    tensors, metadata = st.read("x.safetensors")

Tensors may be numpy arrays or anything with .detach().cpu().numpy()
(torch tensors); the writer never imports torch.
"""

import json
import os
import struct
import tempfile

import numpy as np

# safetensors dtype name <-> little-endian numpy dtype.
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_ALIGN = 8


def dtype_name(np_dtype):
    """Returns the safetensors dtype name of a numpy dtype (ValueError if none)."""
    want = np.dtype(np_dtype).newbyteorder("<")
    for name, dt in _DTYPES.items():
        if dt == want:
            return name
    raise ValueError(f"no safetensors dtype for numpy dtype {np_dtype}")


def _as_array(value):
    """Converts a numpy array or a torch tensor to a C-contiguous LE array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    name = dtype_name(arr.dtype)
    # Not np.ascontiguousarray: it would turn a 0-d tensor into shape [1].
    return np.require(arr.astype(_DTYPES[name], copy=False), requirements="C")


def encode(tensors, metadata=None):
    """Returns the bytes of a safetensors file.

    tensors: dict (or iterable of (name, value) pairs) in the order to write.
    metadata: optional dict of str -> str, stored as "__metadata__".
    """
    items = list(tensors.items() if hasattr(tensors, "items") else tensors)
    header = {}
    blobs = []
    offset = 0
    for name, value in items:
        if name == "__metadata__" or name in header:
            raise ValueError(f"bad or duplicate tensor name {name!r}")
        arr = _as_array(value)
        raw = arr.tobytes(order="C")
        header[name] = {
            "dtype": dtype_name(arr.dtype),
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"metadata must be str -> str, got {k!r}: {v!r}")
        header = {"__metadata__": dict(metadata), **header}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % _ALIGN)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(path, tensors, metadata=None):
    """Writes a safetensors file atomically (temporary file + rename)."""
    data = encode(tensors, metadata)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".st-", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would stick otherwise
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def decode(buf, label="<buffer>"):
    """Parses safetensors bytes; returns (dict name -> numpy array, metadata).

    The arrays are copies (writable, native-aligned). Validates the header
    length, dtypes, shapes against offsets, bounds and overlaps.
    """
    if len(buf) < 8:
        raise ValueError(f"{label}: shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", buf, 0)
    if n > len(buf) - 8:
        raise ValueError(f"{label}: header length {n} exceeds the file")
    header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{label}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    tensors = {}
    spans = []
    for name, info in header.items():
        dt = _DTYPES.get(info.get("dtype"))
        if dt is None:
            raise ValueError(f"{label}: tensor {name!r}: unknown dtype {info.get('dtype')!r}")
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dt.itemsize:
            raise ValueError(f"{label}: tensor {name!r}: bad data_offsets {[begin, end]}")
        spans.append((begin, end, name))
        arr = np.frombuffer(data[begin:end], dtype=dt, count=count).reshape(shape)
        tensors[name] = arr.astype(dt.newbyteorder("="), copy=True)
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{label}: tensors {n0!r} and {n1!r} overlap")
    return tensors, metadata


def read(path):
    """Reads a safetensors file; returns (dict name -> numpy array, metadata)."""
    with open(path, "rb") as f:
        return decode(f.read(), label=path)


def read_torch(path):
    """Like read() but returns torch tensors (imports torch lazily)."""
    import torch
    arrays, metadata = read(path)
    return {k: torch.from_numpy(v) for k, v in arrays.items()}, metadata
