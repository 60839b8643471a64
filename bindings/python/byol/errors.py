"""Exceptions raised for libbyol status codes.

Every libbyol call that fails returns a negative ``BYOL_E_*`` code and
records a message naming what was wrong (a file, a config key, a shape).
The bindings turn that into an exception of the class whose ``c_name`` the
library gives that code (byol_error_name), all derived from
:class:`byol.Error`:

    try:
        cfg["optim.lr"] = -1.0
    except byol.RangeError as e:
        print(e.code, e.code_name, e.message)   # -15 BYOL_E_RANGE key 'optim.lr': ...

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
    "CommError",
    "error_class",
]

# The status codes: their C names are the bindings' vocabulary, their values
# come from the loaded library (byol_error_name(), see bind_codes), so no
# table here mirrors byol_common.h. After import, E_RANGE etc. hold the
# values of "BYOL_E_RANGE" etc., and OK and DONE those of BYOL_OK, BYOL_DONE.
CODES: dict[str, int] = {}


class Error(Exception):
    """A libbyol failure.

    Attributes:
        code: the negative ``BYOL_E_*`` status code.
        code_name: its C name, ``"BYOL_E_RANGE"`` (``byol_error_name``).
        name: the library's text for the code (``byol_strerror``).
        message: the library's message for this failure (``byol_last_error``,
            read on the failing thread right after the call), or the bindings'
            own message for a check made in Python.
    """

    c_name = "BYOL_E_GENERIC"
    code: int | None = None  # the value of c_name, set by bind_codes() at import

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

    @property
    def code_name(self) -> str:
        """The C name of the code, e.g. ``"BYOL_E_RANGE"``, from the library."""
        from . import _lib

        return _lib.error_name(self.code)

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"

    def __reduce__(self):
        return (self.__class__, (self.message, self.code, self._name))


class GenericError(Error):
    """BYOL_E_GENERIC: an unclassified failure."""

    c_name = "BYOL_E_GENERIC"


class OutOfMemoryError(Error, MemoryError):
    """BYOL_E_NOMEM: the allocator returned NULL."""

    c_name = "BYOL_E_NOMEM"


class InvalidArgumentError(Error, ValueError):
    """BYOL_E_INVALID_ARG: a NULL handle or a malformed argument."""

    c_name = "BYOL_E_INVALID_ARG"


class BadStateError(Error, RuntimeError):
    """BYOL_E_BAD_STATE: a call out of order, or a closed handle."""

    c_name = "BYOL_E_BAD_STATE"


class ShapeError(Error, ValueError):
    """BYOL_E_SHAPE: a tensor shape or batch size that does not fit."""

    c_name = "BYOL_E_SHAPE"


class UnsupportedError(Error):
    """BYOL_E_UNSUPPORTED: a valid request this build cannot do (also raised
    when the loaded library predates a function)."""

    c_name = "BYOL_E_UNSUPPORTED"


class ByolIOError(Error, OSError):
    """BYOL_E_IO: a file could not be opened, read or written."""

    c_name = "BYOL_E_IO"


class DecodeError(Error, ValueError):
    """BYOL_E_DECODE: an image could not be decoded."""

    c_name = "BYOL_E_DECODE"


class FormatError(Error, ValueError):
    """BYOL_E_FORMAT: a file is malformed, truncated or of the wrong layout."""

    c_name = "BYOL_E_FORMAT"


class NonFiniteError(Error, ArithmeticError):
    """BYOL_E_NONFINITE: a NaN or infinity in inputs, loss or gradients."""

    c_name = "BYOL_E_NONFINITE"


class CancelledError(Error):
    """BYOL_E_CANCELLED: a cancel callback or gradient hook asked to stop."""

    c_name = "BYOL_E_CANCELLED"


class AbiError(Error):
    """BYOL_E_ABI: a struct_size the library does not accept."""

    c_name = "BYOL_E_ABI"


class BlasError(Error):
    """BYOL_E_BLAS: the BLAS provider failed."""

    c_name = "BYOL_E_BLAS"


class ByolKeyError(Error, KeyError):
    """BYOL_E_KEY: an unknown configuration key or preset name."""

    c_name = "BYOL_E_KEY"


class RangeError(Error, ValueError):
    """BYOL_E_RANGE: a configuration value out of bounds or of the wrong type
    (also an index outside a dataset, and array values the bindings will not
    convert: pixels, labels or float32 inputs out of range)."""

    c_name = "BYOL_E_RANGE"


class CommError(Error):
    """BYOL_E_COMM: a communicator's collective call failed (data-parallel
    training: the step changed nothing)."""

    c_name = "BYOL_E_COMM"


_CLASSES = (
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
    CommError,
)
_BY_CODE: dict[int, type[Error]] = {}


def bind_codes(error_name) -> None:
    """Learns every status code from the library: error_name(code) is
    byol_error_name. Codes are dense and append-only (0, -1, -2, ...; and
    BYOL_DONE = 1), so the scan stops at the first unknown negative code.
    Then each class's ``code`` is the value of its ``c_name``, and
    ``E_<NAME>``, ``OK`` and ``DONE`` are module attributes."""
    CODES.clear()
    for code in [1, *range(0, -1000, -1)]:
        name = error_name(code)
        if name == "BYOL_E_UNKNOWN":
            if code < 0:
                break
            continue
        CODES[name] = code
        globals()[name[len("BYOL_"):]] = code
    _BY_CODE.clear()
    for cls in (Error, *_CLASSES):
        cls.code = CODES.get(cls.c_name)
        if cls is not Error and cls.code is not None:
            _BY_CODE[cls.code] = cls


def error_class(code: int) -> type[Error]:
    """The exception class for a status code (:class:`Error` for codes this
    version of the bindings has no class for)."""
    return _BY_CODE.get(code, Error)
