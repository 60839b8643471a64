"""numpy <-> C conversions shared by the modules.

Inputs are converted only where no value changes meaning (pixels, labels,
float32 tensors each have their rule below): numpy's own casts wrap 300 to
44 in uint8, truncate 1.5 to 1 in int32, parse strings and overflow to
infinity in float32, all without an error."""

from __future__ import annotations

import ctypes

import numpy as np

from . import _lib, errors

_INT32_MAX = np.iinfo(np.int32).max


def _shaped(a: np.ndarray, name: str, ndim: int | tuple[int, ...] | None) -> np.ndarray:
    """`a`, checked for its number of dimensions when `ndim` is given."""
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise errors.ShapeError(f"{name}: expected {want} dimensions, got shape {a.shape}")
    return a


def _numbers(x, name: str, what: str, expected: str) -> np.ndarray:
    """np.asarray(x), refused with a TypeError naming its dtype unless it
    holds integers or floats (bool, complex, strings and objects are not
    numbers here)."""
    try:
        a = np.asarray(x)
    except ValueError as e:  # a ragged list
        raise TypeError(f"{name}: cannot be read as an array: {e}") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name}: dtype {a.dtype} is not {what}: expected {expected}")
    return a


def _value_range(a: np.ndarray) -> str:
    """The values found in `a`, for a message: "[lo, hi]", or the first
    non-finite value."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = a[~np.isfinite(a)].flat[0]
        return "NaN" if np.isnan(bad) else str(bad)
    return f"[{a.min()}, {a.max()}]"


def as_pixels(x, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`x` as C-contiguous uint8 pixels, converted only where no value
    changes meaning: uint8 as is; other integers when every value is in
    0..255; floats when every value is in [0, 1], scaled by 255 and rounded.
    Anything else is refused (TypeError for the dtype, RangeError naming the
    values found) rather than cast to uint8, which wraps 300 to 44 and
    truncates 0.5 to 0."""
    a = _numbers(x, name, "pixels", "uint8 (0..255), another integer dtype with values "
                 "in 0..255, or floats in [0, 1]")
    kind, limit = a.dtype.kind, 1 if a.dtype.kind == "f" else 255
    if a.dtype != np.uint8 and a.size and not (
        np.isfinite(a).all() and a.min() >= 0 and a.max() <= limit
    ):
        want = "0..255" if kind in "ui" else "[0, 1] (scaled to 0..255)"
        raise errors.RangeError(
            f"{name}: {a.dtype} values must be in {want}; found {_value_range(a)}"
        )
    if kind == "f":
        a = np.rint(a * 255)
    return np.ascontiguousarray(_shaped(a, name, ndim), dtype=np.uint8)


def as_f32(x, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`x` as C-contiguous float32: integers and floats are converted
    (rounded to the nearest float32); other dtypes raise TypeError and
    finite values beyond float32's range RangeError, rather than being
    parsed (strings), cut to their real part (complex) or made infinite."""
    a = _numbers(x, name, "numbers", "float32, or another integer or float dtype")
    with np.errstate(over="ignore"):
        f = np.ascontiguousarray(_shaped(a, name, ndim), dtype=np.float32)
    if a.dtype.itemsize > 4 and a.dtype.kind == "f":
        overflow = np.isinf(f) & np.isfinite(a)
        if overflow.any():
            big = a[overflow].flat[0]
            raise errors.RangeError(
                f"{name}: {a.dtype} value {big} is beyond float32's range "
                f"(magnitudes up to {np.finfo(np.float32).max})"
            )
    return f


def as_labels(y, name: str, count: int) -> np.ndarray:
    """`y` as C-contiguous int32 labels [count], converted only where no
    value changes meaning: integer dtypes, and floats holding whole numbers,
    when every value is in 0..2**31-1. Anything else is refused (TypeError
    for the dtype, RangeError naming the first value at fault) rather than
    truncated (1.5 to 1) or wrapped (2**32 + 1 to 1) by the cast."""
    a = _numbers(y, name, "labels", "an integer dtype, or floats holding whole numbers")
    a = _shaped(a, name, 1)
    if a.shape[0] != count:
        raise errors.ShapeError(f"{name}: {a.shape[0]} labels for {count} rows")
    with np.errstate(invalid="ignore"):
        bad = (a < 0) | (a > _INT32_MAX)
        if a.dtype.kind == "f":
            bad |= ~np.isfinite(a) | (a != np.floor(a))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise errors.RangeError(
            f"{name}: {a.dtype} labels must be whole numbers in 0..{_INT32_MAX}; "
            f"found {a[i]} (label {i})"
        )
    return np.ascontiguousarray(a, dtype=np.int32)


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
