"""byol.Net: networks with exact forward and backward passes; byol.Builder.

A Net either owns its ``byol_net`` (created here, destroyed by close()) or
borrows one (the online encoder of a Trainer, from ``Trainer.encoder()``):
a borrowed Net never destroys it, and keeps its Trainer's C object alive
until the Net is closed too.

Tensors are float32 numpy arrays, images NCHW. Inputs of other integer or
float dtypes or of other layouts are converted (copied) first; other dtypes
raise TypeError and values beyond float32's range RangeError. Outputs are
new arrays owned by Python.

    with byol.Net(arch="cnn-small", threads=2) as net:
        net.plan(32)
        y = net.forward(np.zeros((32, 1, 28, 28), np.float32))   # (32, 128)
"""

from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import _arrays, errors
from ._handle import Handle, Resource, array_over
from ._lib import CANCEL_FN, fn, raise_last, text
from ._lib import TensorInfo as _CTensorInfo
from .config import ConfigLike, borrowed
from .config import keys as _config_keys
from .file import TensorFile

__all__ = ["Net", "Builder", "TensorInfo", "PARAMS", "GRADS", "STATE"]

PARAMS = 0  # BYOL_BUFFER_PARAMS: trainable parameters
GRADS = 1  # BYOL_BUFFER_GRADS: their gradients, same layout
STATE = 2  # BYOL_BUFFER_STATE: BatchNorm running statistics
_BUFFERS = {"params": PARAMS, "grads": GRADS, "state": STATE}

LOAD_STRICT = 0
LOAD_IGNORE_UNEXPECTED = 1
LOAD_IGNORE_CLASSIFIER = 2  # a torchvision classifier's fc.* left out of an encoder


@dataclass(frozen=True)
class TensorInfo:
    """Where one named tensor (a PyTorch state_dict name) lives in a net's buffers."""

    name: str
    buffer: int  # PARAMS (gradient at the same offset) or STATE
    shape: tuple[int, ...]
    offset: int  # in floats from the start of the buffer
    numel: int
    is_bias: bool
    is_norm: bool


def _buffer_index(which: int | str) -> int:
    if isinstance(which, str):
        try:
            return _BUFFERS[which]
        except KeyError:
            raise errors.InvalidArgumentError(
                f"buffer {which!r}: expected one of {', '.join(_BUFFERS)}"
            ) from None
    return int(which)


class Net(Handle):
    """A network.

    Net(config=None, *, arch=None, **keys) creates the network named by the
    config's "net.arch" (`arch` overrides it): "resnet18", "resnet34",
    "resnet50", "resnet18-cifar", "resnet50-cifar", "cnn-small" or "mlp".
    `config` is a Config, a preset name, a dict or None; keyword arguments
    are further keys, dots written as double underscores (net__width=0.5).
    The config is only read during the call.

    A new Net is in training mode and must be planned (plan(max_batch))
    before its first forward; forward() and embed() plan an owned Net that
    was never planned for the batch they get.
    """

    def __init__(self, config: ConfigLike = None, *, arch: str | None = None, **keys: Any):
        if arch is not None:
            keys["net.arch"] = arch
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            fn.byol_net_create(cfg._handle, ctypes.byref(out))
        self._init_owned(out.value)

    @classmethod
    def from_file(cls, path: str | os.PathLike, config: ConfigLike = None, *,
                  arch: str | None = None, **keys: Any) -> Net:
        """The encoder of a weight file, with no settings repeated: a file
        written by ``byol export`` (byol_net_export) records its net.arch,
        net.width, net.in_channels and net.image_size, which build the Net
        before its weights are loaded (strictly). `config` and keyword
        arguments may add other keys or repeat a recorded one; giving a
        recorded key another value raises RangeError naming both values.
        A file that records nothing (a torchvision model's state_dict) needs
        `arch` (e.g. "resnet18"); a classifier's fc.* is then left out."""
        with TensorFile(path) as f:
            known = set(_config_keys())
            recorded = {k: v for k, v in f.metadata.items() if k in known}
        if arch is not None:
            keys["net.arch"] = arch
        with borrowed(config, keys) as given, given.copy() as cfg:
            chosen = set(cfg.changed()) | {k.replace("__", ".") for k in keys}
            for key, value in recorded.items():
                mine = cfg.format(key)
                cfg.parse(f'{key}="{value}"')
                if key in chosen and cfg.format(key) != mine:
                    raise errors.RangeError(
                        f"{os.fspath(path)} was exported with {key}={cfg.format(key)}, "
                        f"but the settings give {key}={mine}")
            net = cls(cfg)
        try:
            net.load(path, flags=LOAD_IGNORE_CLASSIFIER if arch is not None else LOAD_STRICT)
        except BaseException:
            net.close()
            raise
        return net

    def _init_owned(self, ptr: int) -> None:
        self._own(ptr, fn.byol_net_destroy)
        self._planned = 0
        self._borrowed = False
        self._cancel_error = [None]  # set by the cancel callback (no reference to self)

    @classmethod
    def _view(cls, ptr: int, owner: Resource) -> Net:
        """A borrowed Net over a C net owned by `owner` (never destroyed here)."""
        net = cls.__new__(cls)
        net._borrow(ptr, owner)
        net._planned = -1  # planned by its owner
        net._borrowed = True
        net._cancel_error = [None]
        return net

    @property
    def borrowed(self) -> bool:
        """True for a view of another object's net (Trainer.encoder())."""
        return self._borrowed

    # ---- shapes and modes ----

    @property
    def input_dims(self) -> tuple[int, int, int]:
        """Per-sample input shape (C, H, W); (D, 1, 1) for a vector input."""
        dims = (ctypes.c_int64 * 3)()
        fn.byol_net_input_dims(self._handle, dims)
        return tuple(dims)

    @property
    def output_dims(self) -> tuple[int, ...]:
        """Per-sample output shape: (D,) for a vector, (C, H, W) for a map."""
        nd, dims = ctypes.c_int32(), (ctypes.c_int64 * 3)()
        fn.byol_net_output_dims(self._handle, ctypes.byref(nd), dims)
        return tuple(dims[: nd.value])

    def plan(self, max_batch: int) -> None:
        """Sizes the activation arena for batches of up to max_batch samples
        (again to resize; weights are kept). A borrowed encoder cannot be
        re-planned (BadStateError): its trainer planned it and shares its
        activation memory; embed() takes any number of samples anyway."""
        handle = self._handle
        if self._borrowed:
            raise errors.BadStateError("plan on a borrowed net: its trainer planned it")
        fn.byol_net_plan(handle, int(max_batch))
        self._planned = int(max_batch)

    def set_training(self, training: bool) -> None:
        """Training mode (BatchNorm uses and updates batch statistics) or
        evaluation mode (running statistics)."""
        fn.byol_net_set_training(self._handle, 1 if training else 0)

    # ---- passes ----

    def _input(self, x, name: str = "x") -> np.ndarray:
        a = _arrays.as_f32(x, name, (2, 4))
        dims = self.input_dims
        if a.ndim == 4 and a.shape[1:] != dims:
            raise errors.ShapeError(
                f"{name}: shape {a.shape} does not match the net's input (N, {dims[0]}, "
                f"{dims[1]}, {dims[2]})"
            )
        if a.ndim == 2 and a.shape[1] != math.prod(dims):
            raise errors.ShapeError(
                f"{name}: shape {a.shape} does not match the net's input (N, {math.prod(dims)})"
            )
        return a

    def _autoplan(self, n: int) -> None:
        if self._planned == 0:
            self.plan(max(1, n))

    def forward(self, x) -> np.ndarray:
        """Forward pass of x [N, C, H, W] (or [N, D] for an MLP); returns
        [N, *output_dims]. In training mode the activations are kept for
        backward() and BatchNorm running statistics are updated."""
        a = self._input(x)
        handle = self._handle
        self._autoplan(a.shape[0])
        y = np.empty((a.shape[0],) + self.output_dims, dtype=np.float32)
        self._run(fn.byol_net_forward, handle, _arrays.tensor(a), _arrays.tensor(y))
        return y

    __call__ = forward

    def backward(self, dy, want_dx: bool = False) -> np.ndarray | None:
        """Backward pass for the last training-mode forward: ADDS dLoss/dparams
        to the gradients; returns dLoss/dx when want_dx."""
        d = _arrays.as_f32(dy, "dy")
        handle = self._handle
        dx = None
        if want_dx:
            dx = np.empty((d.shape[0],) + self.input_dims, dtype=np.float32)
        self._run(fn.byol_net_backward, handle, _arrays.tensor(d),
                  _arrays.tensor(dx) if dx is not None else None)
        return dx

    def _run(self, f, handle, x, y) -> None:
        """Calls a pass; an exception raised by the cancel callback is
        re-raised in place of the CancelledError it caused."""
        box = self._cancel_error
        box[0] = None
        try:
            f(handle, ctypes.byref(x), ctypes.byref(y) if y is not None else None)
        except errors.CancelledError as e:
            pending, box[0] = box[0], None
            if pending is not None:
                raise pending from e
            raise

    def zero_grad(self) -> None:
        """Sets every gradient to zero."""
        fn.byol_net_zero_grad(self._handle)

    def embed(self, x) -> np.ndarray:
        """Inference (evaluation-mode forward, mode unchanged) of any number of
        samples in chunks of the planned batch; returns [N, D] with D the
        product of output_dims."""
        a = self._input(x)
        handle = self._handle
        self._autoplan(min(a.shape[0], 256))
        y = np.empty((a.shape[0], math.prod(self.output_dims)), dtype=np.float32)
        if a.shape[0] == 0:
            return y
        self._run(fn.byol_net_embed, handle, _arrays.tensor(a), _arrays.tensor(y))
        return y

    # ---- buffers and named tensors ----

    def buffer(self, which: int | str) -> np.ndarray:
        """The flat float32 buffer "params", "grads" or "state" as a numpy array
        over the net's own memory (no copy; writes change the net). The array
        keeps the C net alive, even past close()."""
        handle, count = self._handle, ctypes.c_int64()
        ptr = fn.byol_net_buffer(handle, _buffer_index(which), ctypes.byref(count))
        if not ptr:
            raise_last(errors.E_INVALID_ARG)
        return array_over(ptr, count.value, self._res)

    @property
    def params(self) -> np.ndarray:
        """buffer("params")"""
        return self.buffer(PARAMS)

    @property
    def grads(self) -> np.ndarray:
        """buffer("grads")"""
        return self.buffer(GRADS)

    @property
    def state(self) -> np.ndarray:
        """buffer("state")"""
        return self.buffer(STATE)

    def tensors(self) -> list[TensorInfo]:
        """Every named tensor (parameters and running statistics), in
        state_dict order."""
        handle = self._handle
        result = []
        for i in range(fn.byol_net_tensor_count(handle)):
            info = _CTensorInfo()
            fn.byol_net_tensor_info(handle, i, ctypes.byref(info))
            result.append(
                TensorInfo(
                    name=info.name.decode(),
                    buffer=info.buffer,
                    shape=tuple(info.shape[: info.ndim]),
                    offset=info.offset,
                    numel=info.numel,
                    is_bias=bool(info.flags & 1),
                    is_norm=bool(info.flags & 2),
                )
            )
        return result

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every named tensor in PyTorch's names, layouts and order,
        as torch's state_dict() has them: float32 tensors, and after each
        BatchNorm's running_var its num_batches_tracked, an int64 scalar
        counting the layer's training-mode forward passes."""
        buffers = {PARAMS: self.params, STATE: self.state}
        result = {}
        for t in self.tensors():
            flat = buffers[t.buffer][t.offset : t.offset + t.numel]
            result[t.name] = flat.reshape(t.shape).copy()
            if t.buffer == STATE and t.name.endswith(".running_var"):
                counter = t.name[: -len("running_var")] + "num_batches_tracked"
                result[counter] = np.array(self._counter(counter), dtype=np.int64)
        return result

    def _counter(self, name: str) -> int:
        """BatchNorm counter `name` ("bn1.num_batches_tracked")."""
        value = ctypes.c_int64()
        fn.byol_net_counter(self._handle, text(name), ctypes.byref(value))
        return value.value

    # ---- weight files ----

    def save(self, path: str | os.PathLike) -> None:
        """Saves the weights as a safetensors file with PyTorch state_dict
        names, atomically."""
        fn.byol_net_save(self._handle, text(path))

    def load(self, path: str | os.PathLike, strict: bool = True,
             flags: int | None = None) -> None:
        """Loads weights from a safetensors file; everything is checked before
        anything is copied (on failure the net is unchanged). strict=False
        skips tensors the net does not have; `flags` (LOAD_* bits) overrides
        `strict`: LOAD_IGNORE_CLASSIFIER skips only a classifier's fc.*."""
        if flags is None:
            flags = LOAD_STRICT if strict else LOAD_IGNORE_UNEXPECTED
        fn.byol_net_load(self._handle, text(path), flags)

    def load_bytes(self, data: bytes, strict: bool = True) -> None:
        """As load(), from the bytes of a safetensors file."""
        buf = bytes(data)
        flags = LOAD_STRICT if strict else LOAD_IGNORE_UNEXPECTED
        fn.byol_net_load_buffer(self._handle, buf, len(buf), flags)

    def set_cancel(self, callback: Callable[[], bool] | None) -> None:
        """Installs a callable polled between layers of forward and backward: a
        true result stops the pass with CancelledError (the net stays usable;
        after a cancelled backward, zero the gradients). An exception raised
        by the callable stops the pass too and is re-raised by the call.
        None removes it. Not for borrowed nets: their trainer owns them."""
        handle = self._handle
        if self._borrowed:
            raise errors.BadStateError("set_cancel on a borrowed net: its trainer owns it")
        if callback is None:
            fn.byol_net_set_cancel(handle, CANCEL_FN(), None)
            return

        box = self._cancel_error

        def poll(_user) -> int:
            try:
                return 1 if callback() else 0
            except BaseException as e:  # noqa: BLE001 - re-raised by _run
                box[0] = e
                return 1

        c_poll = CANCEL_FN(poll)
        fn.byol_net_set_cancel(handle, c_poll, None)
        self._res.keep.append(c_poll)  # the C net may outlive this wrapper

    def __repr__(self) -> str:
        if self.closed:
            return "<byol.Net closed>"
        kind = "borrowed " if self._borrowed else ""
        return f"<byol.Net {kind}input={self.input_dims} output={self.output_dims}>"


class Builder(Handle):
    """Assembles a custom network from layers (byol_builder); owns the builder.

    Node 0 is the input ([channels, height, width] per sample; height = width
    = 1 for a vector). Each layer call adds a node fed by earlier nodes and
    returns its id; finish(node) creates an independent Net computing it.
    Layers with parameters take a name that prefixes their state_dict
    entries. A failed call leaves the builder as it was.
    """

    INPUT = 0

    def __init__(self, channels: int, height: int = 1, width: int = 1, config: ConfigLike = None):
        out = ctypes.c_void_p()
        with borrowed(config) as cfg:
            fn.byol_builder_create(cfg._handle, channels, height, width, ctypes.byref(out))
        self._own(out.value, fn.byol_builder_destroy)

    @staticmethod
    def _name(name: str | None):
        return None if name is None else text(name)

    def _add(self, f, *args) -> int:
        node = ctypes.c_int32()
        f(self._handle, *args, ctypes.byref(node))
        return node.value

    def conv2d(self, src: int, out_channels: int, kernel: int, stride: int = 1,
               padding: int = 0, bias: bool = False, name: str | None = None) -> int:
        """2-D convolution, square kernel, symmetric zero padding."""
        return self._add(fn.byol_builder_conv2d, self._name(name), src, out_channels, kernel,
                         stride, padding, int(bias))

    def batchnorm(self, src: int, name: str | None = None) -> int:
        """BatchNorm over channels (2-D for maps, 1-D for vectors)."""
        return self._add(fn.byol_builder_batchnorm, self._name(name), src)

    def relu(self, src: int) -> int:
        return self._add(fn.byol_builder_relu, src)

    def maxpool(self, src: int, kernel: int, stride: int, padding: int = 0) -> int:
        return self._add(fn.byol_builder_maxpool, src, kernel, stride, padding)

    def avgpool(self, src: int) -> int:
        """Global average pool of a map [C, H, W] to a vector [C]."""
        return self._add(fn.byol_builder_avgpool, src)

    def linear(self, src: int, out_features: int, bias: bool = True,
               name: str | None = None) -> int:
        return self._add(fn.byol_builder_linear, self._name(name), src, out_features, int(bias))

    def add(self, a: int, b: int) -> int:
        """Element-wise sum of two nodes of the same shape."""
        return self._add(fn.byol_builder_add, a, b)

    def flatten(self, src: int) -> int:
        return self._add(fn.byol_builder_flatten, src)

    def finish(self, output: int) -> Net:
        """A new Net (owned by the caller, independent of the builder)
        computing node `output`."""
        out = ctypes.c_void_p()
        fn.byol_builder_finish(self._handle, output, ctypes.byref(out))
        net = Net.__new__(Net)
        net._init_owned(out.value)
        return net
