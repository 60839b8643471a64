"""numpy <-> C conversions shared by the modules."""

from __future__ import annotations

import ctypes

import numpy as np

from . import _lib, errors


def as_array(x, dtype, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`x` as a C-contiguous array of `dtype` (a copy only when needed),
    checked for its number of dimensions."""
    try:
        a = np.ascontiguousarray(x, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: cannot be read as {np.dtype(dtype).name}: {e}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise errors.ShapeError(f"{name}: expected {want} dimensions, got shape {a.shape}")
    return a


def as_f32(x, name: str, ndim=None) -> np.ndarray:
    return as_array(x, np.float32, name, ndim)


def as_labels(y, name: str, count: int) -> np.ndarray:
    a = as_array(y, np.int32, name, 1)
    if a.shape[0] != count:
        raise errors.ShapeError(f"{name}: {a.shape[0]} labels for {count} rows")
    return a


def tensor(a: np.ndarray) -> _lib.Tensor:
    """A byol_tensor viewing float32 C-contiguous `a` (keep `a` alive during the call)."""
    if a.ndim > 4 or a.ndim < 1:
        raise errors.ShapeError(f"a tensor has 1 to 4 dimensions, got shape {a.shape}")
    t = _lib.Tensor()
    t.ndim = a.ndim
    for i, n in enumerate(a.shape):
        t.shape[i] = n
    t.data = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    return t


def f32p(a: np.ndarray):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def i32p(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def copy_from(ptr, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A numpy copy of C memory at `ptr` (a ctypes pointer or address)."""
    dt = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    out = np.empty(shape, dtype=dt)
    if count:
        address = ctypes.cast(ptr, ctypes.c_void_p).value
        ctypes.memmove(out.ctypes.data, address, count * dt.itemsize)
    return out
