"""Exceptions raised for libbyol status codes.

Every libbyol call that fails returns a negative ``BYOL_E_*`` code and
records a message naming what was wrong (a file, a config key, a shape).
The bindings turn that into an exception of the class registered for the
code below, all derived from :class:`byol.Error`:

    try:
        cfg["optim.lr"] = -1.0
    except byol.RangeError as e:
        print(e.code, e.name, e.message)

Where a Python built-in exception has the same meaning the class derives
from it too (``ShapeError`` is a ``ValueError``, ``ByolIOError`` an
``OSError``, ...), so generic ``except ValueError`` handlers keep working.
Checks made in Python before a call (a wrong dtype or shape) raise the same
classes, with a message of the bindings' own.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "GenericError",
    "OutOfMemoryError",
    "InvalidArgumentError",
    "BadStateError",
    "ShapeError",
    "UnsupportedError",
    "ByolIOError",
    "DecodeError",
    "FormatError",
    "NonFiniteError",
    "CancelledError",
    "AbiError",
    "BlasError",
    "ByolKeyError",
    "RangeError",
    "error_class",
]

# The status codes of byol_common.h; their values never change.
OK = 0
DONE = 1
E_GENERIC = -1
E_NOMEM = -2
E_INVALID_ARG = -3
E_BAD_STATE = -4
E_SHAPE = -5
E_UNSUPPORTED = -6
E_IO = -7
E_DECODE = -8
E_FORMAT = -9
E_NONFINITE = -10
E_CANCELLED = -11
E_ABI = -12
E_BLAS = -13
E_KEY = -14
E_RANGE = -15


class Error(Exception):
    """A libbyol failure.

    Attributes:
        code: the negative ``BYOL_E_*`` status code.
        name: the library's text for the code (``byol_strerror``).
        message: the library's message for this failure (``byol_last_error``,
            read on the failing thread right after the call), or the bindings'
            own message for a check made in Python.
    """

    code: int = E_GENERIC

    def __init__(self, message: str = "", code: int | None = None, name: str | None = None):
        # One argument to the base classes: OSError would read more as errno.
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self._name = name

    @property
    def name(self) -> str:
        if self._name is None:
            from . import _lib  # late: _lib imports this module

            self._name = _lib.strerror(self.code)
        return self._name

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"

    def __reduce__(self):
        return (self.__class__, (self.message, self.code, self._name))


class GenericError(Error):
    """BYOL_E_GENERIC: an unclassified failure."""

    code = E_GENERIC


class OutOfMemoryError(Error, MemoryError):
    """BYOL_E_NOMEM: the allocator returned NULL."""

    code = E_NOMEM


class InvalidArgumentError(Error, ValueError):
    """BYOL_E_INVALID_ARG: a NULL handle or a malformed argument."""

    code = E_INVALID_ARG


class BadStateError(Error, RuntimeError):
    """BYOL_E_BAD_STATE: a call out of order, or a closed handle."""

    code = E_BAD_STATE


class ShapeError(Error, ValueError):
    """BYOL_E_SHAPE: a tensor shape or batch size that does not fit."""

    code = E_SHAPE


class UnsupportedError(Error):
    """BYOL_E_UNSUPPORTED: a valid request this build cannot do (also raised
    when the loaded library predates a function)."""

    code = E_UNSUPPORTED


class ByolIOError(Error, OSError):
    """BYOL_E_IO: a file could not be opened, read or written."""

    code = E_IO


class DecodeError(Error, ValueError):
    """BYOL_E_DECODE: an image could not be decoded."""

    code = E_DECODE


class FormatError(Error, ValueError):
    """BYOL_E_FORMAT: a file is malformed, truncated or of the wrong layout."""

    code = E_FORMAT


class NonFiniteError(Error, ArithmeticError):
    """BYOL_E_NONFINITE: a NaN or infinity in inputs, loss or gradients."""

    code = E_NONFINITE


class CancelledError(Error):
    """BYOL_E_CANCELLED: a cancel callback or gradient hook asked to stop."""

    code = E_CANCELLED


class AbiError(Error):
    """BYOL_E_ABI: a struct_size the library does not accept."""

    code = E_ABI


class BlasError(Error):
    """BYOL_E_BLAS: the BLAS provider failed."""

    code = E_BLAS


class ByolKeyError(Error, KeyError):
    """BYOL_E_KEY: an unknown configuration key or preset name."""

    code = E_KEY


class RangeError(Error, ValueError):
    """BYOL_E_RANGE: a configuration value out of bounds or of the wrong type
    (also an index outside a dataset)."""

    code = E_RANGE


_BY_CODE = {
    cls.code: cls
    for cls in (
        GenericError,
        OutOfMemoryError,
        InvalidArgumentError,
        BadStateError,
        ShapeError,
        UnsupportedError,
        ByolIOError,
        DecodeError,
        FormatError,
        NonFiniteError,
        CancelledError,
        AbiError,
        BlasError,
        ByolKeyError,
        RangeError,
    )
}


def error_class(code: int) -> type[Error]:
    """The exception class for a status code (:class:`Error` for codes this
    version of the bindings does not know)."""
    return _BY_CODE.get(code, Error)
