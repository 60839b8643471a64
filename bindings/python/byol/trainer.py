"""byol.Trainer: the whole BYOL step, and the same step in parts.

A Trainer owns a ``byol_trainer``: the online network (encoder, projector,
predictor), the target network, the optimizer state and the schedules.

    with byol.Trainer("fashion-mnist", train__batch_size=64, threads=2) as t:
        stats = t.step(view1, view2)        # float32 [64, 1, 28, 28] each
        print(stats["loss"], stats["lr"])
        t.save("run.ckpt")
        embeddings = t.encoder().embed(images)

``encoder()`` returns a borrowed :class:`byol.Net` over the online encoder:
Python never destroys it, and it keeps the C trainer alive until it is
closed too, so the two may be closed in either order.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any, Callable

import numpy as np

from . import _arrays, errors
from ._handle import Handle, array_over
from ._lib import GRAD_HOOK, StepStats, fn, raise_last, text
from .config import ConfigLike, borrowed
from .net import GRADS, PARAMS, Net

__all__ = ["Trainer", "schedule_lr", "schedule_tau"]

_STAT_FIELDS = ("step", "loss", "loss_12", "loss_21", "lr", "tau", "grad_norm", "collapse_std")


def _stats_dict(s: StepStats) -> dict[str, float]:
    return {f: getattr(s, f) for f in _STAT_FIELDS}


def schedule_lr(step: int, total_steps: int, warmup_steps: int, peak_lr: float) -> float:
    """The learning rate at `step`: linear warmup to peak_lr, then a cosine to 0."""
    return fn.byol_schedule_lr(step, total_steps, warmup_steps, peak_lr)


def schedule_tau(step: int, total_steps: int, tau_base: float) -> float:
    """The target EMA decay at `step`: from tau_base up to 1 along a cosine."""
    return fn.byol_schedule_tau(step, total_steps, tau_base)


class Trainer(Handle):
    """A BYOL trainer.

    Trainer(config=None, encoder=None, **keys): settings from `config` (a
    Config, a preset name, a dict or None) plus keyword arguments (dots as
    double underscores), read during the call. The online encoder is a copy
    of `encoder` (a Net, borrowed for the call) or, when None, the
    architecture named by net.arch. Batches hold train.batch_size samples
    per view.
    """

    def __init__(self, config: ConfigLike = None, encoder: Net | None = None, **keys: Any):
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            batch = cfg["train.batch_size"]
            enc = encoder._handle if encoder is not None else None
            fn.byol_trainer_create(cfg._handle, enc, ctypes.byref(out))
        self._own(out.value, fn.byol_trainer_destroy)
        self.batch_size: int = batch
        self._encoder: Net | None = None
        self._hook_error = [None]  # set by the gradient hook (no reference to self)
        with Net._view(self._encoder_ptr(), self._res) as enc:
            self.input_dims: tuple[int, int, int] = enc.input_dims

    def _encoder_ptr(self) -> int:
        ptr = fn.byol_trainer_encoder(self._handle)
        if not ptr:
            raise_last(errors.E_INVALID_ARG)
        return ptr

    def close(self) -> None:
        """Releases the trainer. An encoder() view still open keeps the C
        trainer alive until it is closed (or collected) too. Idempotent."""
        self._encoder = None
        super().close()

    def encoder(self) -> Net:
        """The online encoder as a borrowed Net (the same object on each call
        while it is open): embed with it, save it (torchvision names), or
        read its buffers. It is valid after the Trainer is closed, until it
        is closed itself. Do not re-plan it."""
        enc = self._encoder
        if enc is None or enc.closed:
            enc = self._encoder = Net._view(self._encoder_ptr(), self._res)
        return enc

    # ---- the step ----

    def _views(self, view1, view2, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        v1 = _arrays.as_f32(view1, "view1", 4)
        v2 = _arrays.as_f32(view2, "view2", 4)
        if v1.shape != v2.shape:
            raise errors.ShapeError(f"view1 {v1.shape} and view2 {v2.shape} differ")
        if v1.shape[1:] != self.input_dims:
            c, h, w = self.input_dims
            raise errors.ShapeError(
                f"views of shape {v1.shape}: the encoder takes (N, {c}, {h}, {w})"
            )
        n = v1.shape[0]
        if (exact and n != self.batch_size) or not 1 <= n <= self.batch_size:
            want = f"{self.batch_size}" if exact else f"1 to {self.batch_size}"
            raise errors.ShapeError(
                f"views of {n} samples: train.batch_size is {self.batch_size} (expected {want})"
            )
        return v1, v2

    def _run(self, f, *args) -> None:
        box = self._hook_error
        box[0] = None
        try:
            f(*args)
        except errors.CancelledError as e:
            pending, box[0] = box[0], None
            if pending is not None:
                raise pending from e
            raise

    def step(self, view1, view2) -> dict[str, float]:
        """One whole BYOL step on two views [train.batch_size, C, H, W].

        Returns the step's figures: step (its index), loss, loss_12, loss_21,
        lr, tau, grad_norm, collapse_std. A non-finite view, loss or gradient
        raises NonFiniteError and changes nothing."""
        v1, v2 = self._views(view1, view2, exact=True)
        stats = StepStats()
        self._run(fn.byol_trainer_step, self._handle, ctypes.byref(_arrays.tensor(v1)),
                  ctypes.byref(_arrays.tensor(v2)), ctypes.byref(stats))
        return _stats_dict(stats)

    def zero_grad(self) -> None:
        """Sets the online gradients to zero (the step in parts)."""
        fn.byol_trainer_zero_grad(self._handle)

    def accumulate(self, view1, view2) -> dict[str, float]:
        """Forward and backward of a micro-batch of n <= train.batch_size
        samples per view, adding its share of the batch gradient; returns its
        loss figures."""
        v1, v2 = self._views(view1, view2, exact=False)
        stats = StepStats()
        fn.byol_trainer_accumulate(self._handle, ctypes.byref(_arrays.tensor(v1)),
                                   ctypes.byref(_arrays.tensor(v2)), ctypes.byref(stats))
        return _stats_dict(stats)

    @property
    def step_index(self) -> int:
        """Index k of the next optimizer step (0 for a new trainer)."""
        return fn.byol_trainer_step_index(self._handle)

    def apply_update(self) -> dict[str, float]:
        """Optimizer update at lr(k), then k -> k + 1; returns lr and grad_norm."""
        stats = StepStats()
        fn.byol_trainer_apply_update(self._handle, ctypes.byref(stats))
        return {"lr": stats.lr, "grad_norm": stats.grad_norm}

    def update_target(self, tau: float) -> None:
        """target <- tau * target + (1 - tau) * online (parameters only)."""
        fn.byol_trainer_update_target(self._handle, float(tau))

    def set_grad_hook(self, hook: Callable[[np.ndarray], Any] | None) -> None:
        """Installs hook(grads) called by step() between the backward passes
        and the update with the online gradients as a writable float32 array
        (e.g. to all-reduce them). A true result cancels the step
        (CancelledError, nothing changed); an exception cancels it too and is
        re-raised by step(). None removes the hook."""
        handle = self._handle
        if hook is None:
            fn.byol_trainer_set_grad_hook(handle, GRAD_HOOK(), None)
            return
        box = self._hook_error

        def call(grads, count, _user) -> int:
            try:
                if count:
                    array = np.ctypeslib.as_array(grads, shape=(count,))
                else:
                    array = np.empty(0, np.float32)
                return 1 if hook(array) else 0
            except BaseException as e:  # noqa: BLE001 - re-raised by step()
                box[0] = e
                return 1

        c_hook = GRAD_HOOK(call)
        fn.byol_trainer_set_grad_hook(handle, c_hook, None)
        self._res.keep.append(c_hook)

    # ---- buffers ----

    def _buffer(self, which: int) -> np.ndarray:
        handle, count = self._handle, ctypes.c_int64()
        ptr = fn.byol_trainer_buffer(handle, which, ctypes.byref(count))
        if not ptr:
            raise_last(errors.E_INVALID_ARG)
        return array_over(ptr, count.value, self._res)

    @property
    def params(self) -> np.ndarray:
        """The online parameters (encoder, projector, predictor) as one flat
        float32 array over the trainer's memory (no copy); it keeps the C
        trainer alive."""
        return self._buffer(PARAMS)

    @property
    def grads(self) -> np.ndarray:
        """The online gradients, same layout as params, over the trainer's memory."""
        return self._buffer(GRADS)

    # ---- checkpoints ----

    def save(self, path: str | os.PathLike) -> None:
        """Saves the whole training state (a safetensors checkpoint), atomically."""
        fn.byol_trainer_save(self._handle, text(path))

    def load(self, path: str | os.PathLike) -> None:
        """Restores a checkpoint saved by a trainer of the same architecture,
        byol.mode and optimizer; anything else in the file is refused
        (FormatError) and the trainer is unchanged. A trainer made with
        train__allow_optim_change=1 takes another optimizer's checkpoint:
        its networks and step, with a fresh optimizer."""
        fn.byol_trainer_load(self._handle, text(path))

    def __repr__(self) -> str:
        if self.closed:
            return "<byol.Trainer closed>"
        return (f"<byol.Trainer step={self.step_index} batch={self.batch_size} "
                f"input={self.input_dims}>")
