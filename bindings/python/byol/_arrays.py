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


def _value_range(a: np.ndarray) -> str:
    """The values found in `a`, for a message: "[lo, hi]", or the first
    non-finite value."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = a[~np.isfinite(a)].flat[0]
        return "NaN" if np.isnan(bad) else str(bad)
    return f"[{a.min()}, {a.max()}]"


def as_pixels(x, name: str) -> np.ndarray:
    """`x` as C-contiguous uint8 pixels, converted only where no value
    changes meaning: uint8 as is; other integers when every value is in
    0..255; floats when every value is in [0, 1], scaled by 255 and rounded.
    Anything else is refused (TypeError for the dtype, RangeError naming the
    values found) rather than cast to uint8, which wraps 300 to 44 and
    truncates 0.5 to 0."""
    a = np.asarray(x)
    kind, limit = a.dtype.kind, {"u": 255, "i": 255, "f": 1}.get(a.dtype.kind)
    if limit is None:
        raise TypeError(
            f"{name}: dtype {a.dtype} is not pixels: expected uint8 (0..255), another "
            "integer dtype with values in 0..255, or floats in [0, 1]"
        )
    if a.dtype != np.uint8 and a.size and not (
        np.isfinite(a).all() and a.min() >= 0 and a.max() <= limit
    ):
        want = "0..255" if kind in "ui" else "[0, 1] (scaled to 0..255)"
        raise errors.RangeError(
            f"{name}: {a.dtype} values must be in {want}; found {_value_range(a)}"
        )
    if kind == "f":
        a = np.rint(a * 255)
    return np.ascontiguousarray(a, dtype=np.uint8)


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
