"""byol: Python bindings of libbyol (BYOL self-supervised training of image
encoders on the CPU) over ctypes.

The library is found through $BYOL_LIBRARY, the in-tree build, or the
installed libbyol.so.1 (see byol._lib). Objects wrap the library's handles:

- :class:`Config`: every setting by name, presets, key listing;
- :class:`Net`, :class:`Builder`: networks, forward/backward, weight files;
- :class:`Trainer`: the BYOL step, its parts, checkpoints;
- :class:`Comm`, :class:`MPIComm`: data-parallel training over ranks (mpi4py);
- :class:`Dataset`, :class:`Augmenter`, :class:`Loader`, :func:`preview`:
  the data pipeline;
- :mod:`byol.eval`: k-NN and linear-probe accuracy of embeddings;
- :class:`TensorFile`, :func:`write_safetensors`, :func:`write_atomic`:
  what a weight file or checkpoint holds, and the library's atomic writers.

Ownership: each object owns its C handle and releases it on close(), at the
end of a ``with`` block, or when collected. Objects that borrow another's
handle (a Loader its Dataset, the Net from Trainer.encoder(), numpy arrays
over parameter buffers) keep it alive, so any release order is safe.
Arrays passed in are read during the call only; arrays returned are owned
by Python (copies), except the documented buffer views.

Errors: a failing call raises a :class:`byol.Error` subclass chosen by the
status code, carrying .code, .code_name ("BYOL_E_RANGE", from the library),
.name and the library's message.

Threads: an object is used by one thread at a time; distinct objects may be
used from distinct threads (ctypes releases the GIL during library calls).
"""

from __future__ import annotations

from typing import Callable

from . import _lib, eval  # noqa: A004 - byol.eval is the evaluation module
from ._lib import has as has_function
from .comm import Comm, MPIComm
from .config import Config, KeyInfo, key_info, keys, presets
from .data import (
    Augmenter,
    Batch,
    Dataset,
    Loader,
    decode,
    decode_bytes,
    embed_dataset,
    preview,
    write_png,
)
from .errors import (
    AbiError,
    BadStateError,
    BlasError,
    ByolIOError,
    ByolKeyError,
    CancelledError,
    DecodeError,
    Error,
    FormatError,
    GenericError,
    InvalidArgumentError,
    NonFiniteError,
    OutOfMemoryError,
    RangeError,
    CommError,
    ShapeError,
    UnsupportedError,
)
from .file import FileTensorInfo, TensorFile, write_atomic, write_safetensors
from .net import Builder, Net, TensorInfo
from .trainer import Trainer, schedule_lr, schedule_tau

__version__ = "1.3.0"  # follows the libbyol release it was written against

library_path: str = _lib.path
"""The file the library was loaded from."""

library_version: str = _lib.version_string
"""The loaded library's version, "MAJOR.MINOR.PATCH"."""

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3

_log_callback = None  # the installed C callback, kept alive here


def set_log_callback(
    callback: Callable[[int, str], None] | None, max_level: int = LOG_WARN
) -> None:
    """Installs callback(level, message) for the library's messages up to
    max_level (process-wide; the library is silent by default). It may be
    called from the library's worker threads and must not call libbyol.
    None silences the library again."""
    global _log_callback
    if callback is None:
        _lib.fn.byol_set_log_callback(_lib.LOG_FN(), None, max_level)
        _log_callback = None
        return

    def deliver(level: int, message: bytes, _user) -> None:
        try:
            callback(level, message.decode("utf-8", "replace") if message else "")
        except Exception:  # noqa: BLE001 - nowhere to raise it
            pass

    c_callback = _lib.LOG_FN(deliver)
    _lib.fn.byol_set_log_callback(c_callback, None, max_level)
    _log_callback = c_callback


def strerror(code: int) -> str:
    """The library's text for a status code."""
    return _lib.strerror(code)


def error_name(code: int) -> str:
    """The C name of a status code as the library spells it ("BYOL_E_RANGE";
    "BYOL_E_UNKNOWN" for a value that is no status code)."""
    return _lib.error_name(code)


__all__ = [
    "AbiError",
    "Augmenter",
    "BadStateError",
    "Batch",
    "BlasError",
    "Builder",
    "ByolIOError",
    "ByolKeyError",
    "CancelledError",
    "Comm",
    "Config",
    "Dataset",
    "DecodeError",
    "Error",
    "FileTensorInfo",
    "FormatError",
    "GenericError",
    "InvalidArgumentError",
    "KeyInfo",
    "LOG_DEBUG",
    "LOG_ERROR",
    "LOG_INFO",
    "LOG_WARN",
    "Loader",
    "MPIComm",
    "Net",
    "NonFiniteError",
    "OutOfMemoryError",
    "RangeError",
    "CommError",
    "ShapeError",
    "TensorFile",
    "TensorInfo",
    "Trainer",
    "UnsupportedError",
    "decode",
    "decode_bytes",
    "embed_dataset",
    "error_name",
    "eval",
    "has_function",
    "key_info",
    "keys",
    "library_path",
    "library_version",
    "preview",
    "presets",
    "schedule_lr",
    "schedule_tau",
    "set_log_callback",
    "strerror",
    "write_atomic",
    "write_png",
    "write_safetensors",
]


def __dir__() -> list[str]:
    """The public API (PEP 562): __all__, without the names imported for
    this module's own use or the submodules whose contents it re-exports."""
    return sorted(__all__ + [name for name in globals() if name.startswith("__")])
