"""Finding and loading libbyol, and the declaration of every C function.

The library is looked for, in this order:

1. the path in the environment variable ``BYOL_LIBRARY`` (nothing else is
   tried when it is set: a wrong path is an error, not a fallback);
2. the in-tree build, ``lib/libbyol.so.1`` of the libbyol source tree this
   package sits in (``bindings/python/byol`` -> ``../../../lib``);
3. the library the package was installed against: ``libbyol.so.1`` in the
   libdir that ``pkg-config --variable=libdir libbyol`` gave when pip built
   the package (setup.py records it in ``byol/_installed.py``; pkg-config
   honours ``PKG_CONFIG_PATH``, so ``make install PREFIX=/some/prefix`` is
   found with ``PKG_CONFIG_PATH=/some/prefix/lib/pkgconfig`` set for pip);
4. an installed library: ``ctypes.util.find_library("byol")``, then
   ``libbyol.so.1`` through the dynamic loader's search path.

It must be of major version 1 and at least 1.3, whose byol_error_name()
gives the status codes their names (the exception classes are bound to the
codes the library names: errors.bind_codes). Functions that the loaded
library does not export (an older minor release) are declared as missing:
calling them raises :class:`byol.UnsupportedError` naming the function, and
:func:`has` tells in advance.

Every function that returns a status gets an ``errcheck`` that turns a
negative status into the matching :class:`byol.Error`, carrying the
library's message read on the calling thread right after the call.
Positive statuses (``BYOL_DONE``) are returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

from . import errors

try:
    from ._installed import LIBDIR as _installed_libdir
except ImportError:  # imported from the source tree: never built by pip
    _installed_libdir = ""

REQUIRED_MAJOR = 1
REQUIRED_FUNCTION = "byol_error_name"  # libbyol 1.3: the names of the status codes
ENV_VAR = "BYOL_LIBRARY"
SONAME = "libbyol.so.1"


# ---- structures (byol_*.h); each begins with struct_size ------------------------


class _Sized(Structure):
    """A struct whose first field is struct_size, preset to its ctypes size."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.struct_size = ctypes.sizeof(self)


class Tensor(_Sized):
    """byol_tensor: a borrowed view of a float32 tensor."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("ndim", c_int32),
        ("shape", c_int64 * 4),
        ("data", POINTER(c_float)),
    ]


class StepStats(_Sized):
    """byol_step_stats."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("step", c_int64),
        ("loss", c_double),
        ("loss_12", c_double),
        ("loss_21", c_double),
        ("lr", c_double),
        ("tau", c_double),
        ("grad_norm", c_double),
        ("collapse_std", c_double),
    ]


class Image(_Sized):
    """byol_image: HWC uint8 pixels."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("height", c_int32),
        ("width", c_int32),
        ("channels", c_int32),
        ("data", POINTER(c_uint8)),
    ]


class Batch(_Sized):
    """byol_batch: one loader batch, its arrays owned by the loader."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("epoch", c_int64),
        ("index", c_int64),
        ("count", c_int64),
        ("view1", Tensor),
        ("view2", Tensor),
        ("labels", POINTER(c_int32)),
        ("samples", POINTER(c_int64)),
    ]

    def __init__(self):
        super().__init__()
        self.view1.struct_size = ctypes.sizeof(Tensor)
        self.view2.struct_size = ctypes.sizeof(Tensor)


class KeyInfo(_Sized):
    """byol_key_info: one configuration key; its strings are static."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("type", c_int32),
        ("name", c_char_p),
        ("help", c_char_p),
        ("default_value", c_char_p),
        ("choices", c_char_p),
        ("min", c_double),
        ("max", c_double),
    ]


class TensorInfo(_Sized):
    """byol_tensor_info: where one named tensor of a net lives."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("buffer", c_int32),
        ("name", c_char_p),
        ("ndim", c_int32),
        ("flags", c_uint32),
        ("shape", c_int64 * 4),
        ("offset", c_int64),
        ("numel", c_int64),
    ]


class FileTensor(_Sized):
    """byol_file_tensor: one tensor of a safetensors file."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("dtype", c_int32),
        ("name", c_char_p),
        ("ndim", c_int32),
        ("reserved", c_int32),
        ("shape", c_int64 * 8),
        ("numel", c_int64),
        ("nbytes", c_uint64),
        ("data", c_void_p),
    ]


# Callback types (byol_common.h, byol_trainer.h).
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
CANCEL_FN = CFUNCTYPE(c_int, c_void_p)
GRAD_HOOK = CFUNCTYPE(c_int, POINTER(c_float), c_int64, c_void_p)
ALLREDUCE_F32 = CFUNCTYPE(c_int, POINTER(c_float), c_int64, c_void_p)
ALLREDUCE_F64 = CFUNCTYPE(c_int, POINTER(c_double), c_int64, c_void_p)


class CommStruct(_Sized):
    """byol_comm: a communicator's rank, size and sums over the ranks."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("rank", c_int32),
        ("size", c_int32),
        ("allreduce_f32", ALLREDUCE_F32),
        ("allreduce_f64", ALLREDUCE_F64),
        ("user", c_void_p),
    ]


STRUCTS = {
    "byol_tensor": Tensor,
    "byol_step_stats": StepStats,
    "byol_image": Image,
    "byol_batch": Batch,
    "byol_key_info": KeyInfo,
    "byol_tensor_info": TensorInfo,
    "byol_file_tensor": FileTensor,
    "byol_comm": CommStruct,
}

# ---- the function table ------------------------------------------------------------

_P = c_void_p  # every opaque handle
_PP = POINTER(c_void_p)
_STATUS = "status"  # marker: returns int status, checked
_I64P = POINTER(c_int64)
_I32P = POINTER(c_int32)
_F32P = POINTER(c_float)

# name: (restype, argtypes)
_FUNCTIONS = {
    # byol_common.h
    "byol_strerror": (c_char_p, [c_int]),
    "byol_error_name": (c_char_p, [c_int]),
    "byol_last_error": (c_char_p, []),
    "byol_last_error_copy": (c_size_t, [c_char_p, c_size_t]),
    "byol_version_number": (c_int, []),
    "byol_version_string": (c_char_p, []),
    "byol_free": (None, [c_void_p]),
    "byol_set_log_callback": (None, [LOG_FN, c_void_p, c_int]),
    # byol_config.h
    "byol_config_create": (_STATUS, [_PP]),
    "byol_config_copy": (_STATUS, [_P, _PP]),
    "byol_config_destroy": (None, [_P]),
    "byol_config_set_int": (_STATUS, [_P, c_char_p, c_int64]),
    "byol_config_set_float": (_STATUS, [_P, c_char_p, c_double]),
    "byol_config_set_string": (_STATUS, [_P, c_char_p, c_char_p]),
    "byol_config_get_int": (_STATUS, [_P, c_char_p, _I64P]),
    "byol_config_get_float": (_STATUS, [_P, c_char_p, POINTER(c_double)]),
    "byol_config_get_string": (_STATUS, [_P, c_char_p, POINTER(c_char_p)]),
    "byol_config_parse": (_STATUS, [_P, c_char_p]),
    "byol_config_apply_preset": (_STATUS, [_P, c_char_p]),
    "byol_config_preset_name": (c_char_p, [c_int32]),
    "byol_config_format": (c_int64, [_P, c_char_p, c_char_p, c_size_t]),
    "byol_config_serialize": (_STATUS, [_P, _PP]),
    "byol_config_key_count": (c_int32, []),
    "byol_config_key_info": (_STATUS, [c_int32, POINTER(KeyInfo)]),
    "byol_config_key_find": (_STATUS, [c_char_p, _I32P]),
    # byol_net.h
    "byol_net_create": (_STATUS, [_P, _PP]),
    "byol_net_destroy": (None, [_P]),
    "byol_net_plan": (_STATUS, [_P, c_int64]),
    "byol_net_set_training": (_STATUS, [_P, c_int32]),
    "byol_net_input_dims": (_STATUS, [_P, _I64P]),
    "byol_net_output_dims": (_STATUS, [_P, _I32P, _I64P]),
    "byol_net_forward": (_STATUS, [_P, POINTER(Tensor), POINTER(Tensor)]),
    "byol_net_backward": (_STATUS, [_P, POINTER(Tensor), POINTER(Tensor)]),
    "byol_net_zero_grad": (_STATUS, [_P]),
    "byol_net_embed": (_STATUS, [_P, POINTER(Tensor), POINTER(Tensor)]),
    "byol_net_buffer": (c_void_p, [_P, c_int32, _I64P]),
    "byol_net_tensor_count": (c_int64, [_P]),
    "byol_net_tensor_info": (_STATUS, [_P, c_int64, POINTER(TensorInfo)]),
    "byol_net_set_cancel": (_STATUS, [_P, CANCEL_FN, c_void_p]),
    "byol_net_counter": (_STATUS, [_P, c_char_p, _I64P]),
    "byol_net_save": (_STATUS, [_P, c_char_p]),
    "byol_net_load": (_STATUS, [_P, c_char_p, c_uint32]),
    "byol_net_load_buffer": (_STATUS, [_P, c_void_p, c_size_t, c_uint32]),
    "byol_builder_create": (_STATUS, [_P, c_int64, c_int64, c_int64, _PP]),
    "byol_builder_destroy": (None, [_P]),
    "byol_builder_conv2d": (
        _STATUS,
        [_P, c_char_p, c_int32, c_int64, c_int32, c_int32, c_int32, c_int32, _I32P],
    ),
    "byol_builder_batchnorm": (_STATUS, [_P, c_char_p, c_int32, _I32P]),
    "byol_builder_relu": (_STATUS, [_P, c_int32, _I32P]),
    "byol_builder_maxpool": (_STATUS, [_P, c_int32, c_int32, c_int32, c_int32, _I32P]),
    "byol_builder_avgpool": (_STATUS, [_P, c_int32, _I32P]),
    "byol_builder_linear": (_STATUS, [_P, c_char_p, c_int32, c_int64, c_int32, _I32P]),
    "byol_builder_add": (_STATUS, [_P, c_int32, c_int32, _I32P]),
    "byol_builder_flatten": (_STATUS, [_P, c_int32, _I32P]),
    "byol_builder_finish": (_STATUS, [_P, c_int32, _PP]),
    # byol_trainer.h
    "byol_trainer_create": (_STATUS, [_P, _P, _PP]),
    "byol_trainer_destroy": (None, [_P]),
    "byol_trainer_step": (_STATUS, [_P, POINTER(Tensor), POINTER(Tensor), POINTER(StepStats)]),
    "byol_trainer_zero_grad": (_STATUS, [_P]),
    "byol_trainer_accumulate": (
        _STATUS,
        [_P, POINTER(Tensor), POINTER(Tensor), POINTER(StepStats)],
    ),
    "byol_trainer_step_index": (c_int64, [_P]),
    "byol_trainer_apply_update": (_STATUS, [_P, POINTER(StepStats)]),
    "byol_trainer_update_target": (_STATUS, [_P, c_double]),
    "byol_trainer_set_grad_hook": (_STATUS, [_P, GRAD_HOOK, c_void_p]),
    "byol_trainer_set_comm": (_STATUS, [_P, POINTER(CommStruct)]),
    "byol_trainer_buffer": (c_void_p, [_P, c_int32, _I64P]),
    "byol_trainer_encoder": (c_void_p, [_P]),
    "byol_schedule_lr": (c_double, [c_int64, c_int64, c_int64, c_double]),
    "byol_schedule_tau": (c_double, [c_int64, c_int64, c_double]),
    "byol_trainer_save": (_STATUS, [_P, c_char_p]),
    "byol_trainer_load": (_STATUS, [_P, c_char_p]),
    # byol_data.h
    "byol_image_decode": (_STATUS, [_P, c_char_p, POINTER(Image)]),
    "byol_image_decode_memory": (_STATUS, [_P, c_void_p, c_size_t, c_char_p, POINTER(Image)]),
    "byol_image_release": (None, [POINTER(Image)]),
    "byol_image_write_png": (_STATUS, [c_char_p, POINTER(Image)]),
    "byol_dataset_open": (_STATUS, [_P, c_char_p, _PP]),
    "byol_dataset_from_memory": (
        _STATUS,
        [_P, c_void_p, c_int64, c_int32, c_int32, c_int32, _I32P, _PP],
    ),
    "byol_dataset_destroy": (None, [_P]),
    "byol_dataset_size": (c_int64, [_P]),
    "byol_dataset_num_classes": (c_int32, [_P]),
    "byol_dataset_class_name": (c_char_p, [_P, c_int32]),
    "byol_dataset_label": (_STATUS, [_P, c_int64, _I32P]),
    "byol_dataset_get": (_STATUS, [_P, c_int64, POINTER(Image)]),
    "byol_dataset_source": (c_char_p, [_P, c_int64]),
    "byol_augmenter_create": (_STATUS, [_P, _PP]),
    "byol_augmenter_destroy": (None, [_P]),
    "byol_augmenter_dims": (_STATUS, [_P, _I64P]),
    "byol_augmenter_view": (_STATUS, [_P, POINTER(Image), c_int64, c_int64, c_int32, _F32P]),
    "byol_augmenter_eval": (_STATUS, [_P, POINTER(Image), _F32P]),
    "byol_loader_create": (_STATUS, [_P, _P, c_int32, _PP]),
    "byol_loader_next": (_STATUS, [_P, POINTER(Batch)]),
    "byol_loader_seek": (_STATUS, [_P, c_int64, c_int64]),
    "byol_loader_batches_per_epoch": (c_int64, [_P]),
    "byol_loader_skipped": (c_int64, [_P]),
    "byol_loader_set_shard": (_STATUS, [_P, c_int32, c_int32]),
    "byol_loader_destroy": (None, [_P]),
    "byol_preview_write": (_STATUS, [_P, _P, c_int64, c_int32, c_char_p]),
    "byol_preview_write_sample": (_STATUS, [_P, _P, c_int32, c_char_p]),
    # byol_eval.h
    "byol_eval_knn": (
        _STATUS,
        [_P, _F32P, _I32P, c_int64, _F32P, _I32P, c_int64, c_int64, POINTER(c_double)],
    ),
    "byol_eval_linear_probe": (
        _STATUS,
        [_P, _F32P, _I32P, c_int64, _F32P, _I32P, c_int64, c_int64, POINTER(c_double)],
    ),
    "byol_embed_dataset": (
        _STATUS,
        [_P, _P, _P, POINTER(_F32P), POINTER(_I32P), _I64P, _I64P],
    ),
    # byol_file.h
    "byol_file_open": (_STATUS, [c_char_p, _PP]),
    "byol_file_close": (None, [_P]),
    "byol_file_kind": (c_int32, [_P]),
    "byol_file_size": (c_int64, [_P]),
    "byol_file_tensor_count": (c_int64, [_P]),
    "byol_file_tensor_info": (_STATUS, [_P, c_int64, POINTER(FileTensor)]),
    "byol_file_tensor_find": (_STATUS, [_P, c_char_p, POINTER(FileTensor)]),
    "byol_file_metadata_count": (c_int64, [_P]),
    "byol_file_metadata_entry": (_STATUS, [_P, c_int64, POINTER(c_char_p), POINTER(c_char_p)]),
    "byol_file_metadata_find": (_STATUS, [_P, c_char_p, POINTER(c_char_p)]),
    "byol_file_write_safetensors": (
        _STATUS,
        [c_char_p, POINTER(FileTensor), c_int64, POINTER(c_char_p), c_int64],
    ),
    "byol_file_write_atomic": (_STATUS, [c_char_p, POINTER(c_void_p), POINTER(c_size_t), c_int64]),
}


# ---- loading -------------------------------------------------------------------------


def _candidates() -> list[tuple[str, str]]:
    """(what to dlopen, where the name came from), in the order tried."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [(env, f"${ENV_VAR}")]
    found = []
    in_tree = Path(__file__).resolve().parent.parent.parent.parent / "lib" / SONAME
    if in_tree.exists():
        found.append((str(in_tree), "the in-tree build"))
    if _installed_libdir:
        found.append((os.path.join(_installed_libdir, SONAME),
                      "pkg-config's libdir when the package was installed"))
    name = ctypes.util.find_library("byol")
    if name:
        found.append((name, 'ctypes.util.find_library("byol")'))
    found.append((SONAME, "the dynamic loader's search path"))
    return found


def _load() -> tuple[ctypes.CDLL, str]:
    tried = []
    for name, origin in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"  {name} ({origin}): {e}")
            continue
        try:
            number = lib.byol_version_number
        except AttributeError:
            raise ImportError(
                f"{name} ({origin}) is not libbyol: it has no byol_version_number"
            ) from None
        number.restype, number.argtypes = c_int, []
        version = number()
        if version // 10000 != REQUIRED_MAJOR:
            raise ImportError(
                f"{name} ({origin}) is libbyol {version // 10000}.{version // 100 % 100}."
                f"{version % 100}; these bindings need major version {REQUIRED_MAJOR}"
            )
        if not hasattr(lib, REQUIRED_FUNCTION):
            raise ImportError(
                f"{name} ({origin}) is libbyol {version // 10000}.{version // 100 % 100}."
                f"{version % 100}; these bindings need libbyol 1.3 or later "
                f"({REQUIRED_FUNCTION}, which names the status codes)"
            )
        return lib, name
    raise ImportError(
        "libbyol not found; build it (make) or install it (make install), or set "
        f"{ENV_VAR} to the path of libbyol.so.1. For a prefix outside the loader's "
        "path, install this package with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig set, "
        "so that it records where libbyol is. Tried:\n" + "\n".join(tried)
    )


def _missing(name: str):
    def call(*_args, **_kwargs):
        raise errors.UnsupportedError(
            f"{name} is not exported by {path} (libbyol {version_string}); "
            "it needs a newer libbyol",
            errors.E_UNSUPPORTED,
        )

    call.__name__ = name
    call.missing = True
    return call


def _last_message() -> str:
    msg = _lib.byol_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def raise_last(code: int) -> None:
    """Raises the exception for status `code` with the thread's last message."""
    raise errors.error_class(code)(_last_message(), code, strerror(code))


def _check_status(result, func, _args):
    if result < 0:
        raise errors.error_class(result)(_last_message(), result, strerror(result))
    return result


_lib, path = _load()


class _Functions:
    """Attribute access to the declared functions of the loaded library."""


fn = _Functions()
_present = set()
for _name, (_restype, _argtypes) in _FUNCTIONS.items():
    try:
        _f = getattr(_lib, _name)
    except AttributeError:
        setattr(fn, _name, _missing(_name))
        continue
    _f.argtypes = _argtypes
    if _restype is _STATUS:
        _f.restype = c_int
        _f.errcheck = _check_status
    else:
        _f.restype = _restype
    setattr(fn, _name, _f)
    _present.add(_name)

version_number: int = _lib.byol_version_number()


def error_name(code: int) -> str:
    """The C name of a status code ("BYOL_E_RANGE"), from the library;
    "BYOL_E_UNKNOWN" for a value that is no status code."""
    return fn.byol_error_name(code).decode("ascii")


errors.bind_codes(error_name)
version_string: str = fn.byol_version_string().decode()


def has(name: str) -> bool:
    """True if the loaded library exports the C function `name`."""
    return name in _present


def strerror(code: int) -> str:
    """The library's static text for a status code."""
    return fn.byol_strerror(code).decode("utf-8", "replace")


def check_pointer(ptr):
    """Raises the thread's last error if a pointer-returning call gave NULL."""
    if not ptr:
        raise errors.error_class(errors.E_INVALID_ARG)(
            _last_message(), errors.E_INVALID_ARG, strerror(errors.E_INVALID_ARG)
        )
    return ptr


def text(value: str | os.PathLike | bytes) -> bytes:
    """A str, path or bytes as the NUL-terminated bytes C expects."""
    data = value if isinstance(value, bytes) else os.fsencode(value)
    if b"\0" in data:
        raise errors.InvalidArgumentError(f"{value!r} contains a NUL character")
    return data
