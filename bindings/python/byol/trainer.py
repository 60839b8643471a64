"""byol.Trainer: the whole BYOL step, and the same step in parts.

A Trainer owns a ``byol_trainer``: the online network (encoder, projector,
predictor), the target network, the optimizer state and the schedules.

    with byol.Trainer("fashion-mnist", train__batch_size=64, threads=2) as t:
        stats = t.step(view1, view2)        # float32 [64, 1, 28, 28] each
        print(stats["loss"], stats["lr"])
        t.save("run.ckpt")
        embeddings = t.encoder().embed(images)

Data-parallel training: ``set_comm(byol.MPIComm())`` on every rank, then
each rank steps on its slice of the global batch (byol.comm).

``encoder()`` returns a borrowed :class:`byol.Net` over the online encoder:
Python never destroys it, and it keeps the C trainer alive until it is
closed too, so the two may be closed in either order.
"""

from __future__ import annotations

import ctypes
import operator
import os
from typing import Any, Callable

import numpy as np

from . import _arrays, errors
from ._handle import Handle, array_over
from ._lib import (
    ALLREDUCE_F32,
    ALLREDUCE_F64,
    GRAD_HOOK,
    CommStruct,
    StepStats,
    fn,
    raise_last,
    text,
)
from .comm import Comm
from .config import ConfigLike, borrowed
from .net import GRADS, PARAMS, Net

__all__ = ["Trainer", "schedule_lr", "schedule_tau"]

_STAT_FIELDS = ("step", "loss", "loss_12", "loss_21", "lr", "tau", "grad_norm", "collapse_std")


def _int32(value, what: str) -> int:
    """An integer for a C int32 field (ctypes would wrap a larger one)."""
    number = operator.index(value)
    if not -2**31 <= number < 2**31:
        raise errors.InvalidArgumentError(f"comm.{what} {number} is not a 32-bit integer")
    return number


def _c_array(ptr, count: int, dtype) -> np.ndarray:
    """A callback's C buffer as a writable 1-D array over it. view(dtype):
    as_array's buffer format is "<f", which mpi4py 3 does not take (an
    MPI all-reduce in a gradient hook or a comm); the plain dtype's is "f"."""
    return np.ctypeslib.as_array(ptr, shape=(count,)).view(dtype) if count else np.empty(0, dtype)


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
        # the exception of a gradient hook or communicator callback that
        # failed the call in progress (the callbacks hold no reference to self)
        self._callback_error: list[BaseException | None] = [None]
        self._ranks = 1  # the communicator's size (set_comm)
        # what the C trainer's communicator calls: kept while it may call it
        self._comm_refs: list = []
        self._res.keep.append(self._comm_refs)
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
        n, local = v1.shape[0], self.batch_size // self._ranks
        if (exact and n != local) or not 1 <= n <= local:
            want = f"{local}" if exact else f"1 to {local}"
            ranks = f" over {self._ranks} ranks" if self._ranks > 1 else ""
            raise errors.ShapeError(f"views of {n} samples: train.batch_size is "
                                    f"{self.batch_size}{ranks} (expected {want})")
        return v1, v2

    def _checked_views(self, view1, view2, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        """_views; with other ranks, views refused here still take part in
        the ranks' agreement on their input (the library's first collective
        of a step), so that the others fail with CommError instead of
        waiting for this rank."""
        try:
            return self._views(view1, view2, exact)
        except Exception:
            if self._ranks > 1:
                try:  # no views: the library refuses them after the agreement
                    fn.byol_trainer_accumulate(self._handle, None, None, None)
                except errors.Error:
                    pass
            raise

    def _run(self, f, *args) -> None:
        box = self._callback_error
        box[0] = None
        try:
            f(*args)
        except (errors.CancelledError, errors.CommError) as e:
            pending, box[0] = box[0], None
            if pending is None:
                raise
            if isinstance(e, errors.CommError) and isinstance(pending, Exception):
                raise e from pending  # the library's message, caused by the comm's error
            raise pending from e

    def step(self, view1, view2) -> dict[str, float]:
        """One whole BYOL step on two views [train.batch_size, C, H, W]
        ([train.batch_size / size, C, H, W] with a communicator of `size`
        ranks: this rank's slice of the global batch).

        Returns the step's figures: step (its index), loss, loss_12, loss_21,
        lr, tau, grad_norm, collapse_std (of the global batch with a
        communicator). A non-finite view, loss or gradient raises
        NonFiniteError and changes nothing; a failed communicator call raises
        CommError (chained to the communicator's exception, if it raised
        one) and changes nothing."""
        v1, v2 = self._checked_views(view1, view2, exact=True)
        stats = StepStats()
        self._run(fn.byol_trainer_step, self._handle, ctypes.byref(_arrays.tensor(v1)),
                  ctypes.byref(_arrays.tensor(v2)), ctypes.byref(stats))
        return _stats_dict(stats)

    def zero_grad(self) -> None:
        """Sets the online gradients to zero (the step in parts)."""
        fn.byol_trainer_zero_grad(self._handle)

    def accumulate(self, view1, view2) -> dict[str, float]:
        """Forward and backward of a micro-batch of n <= train.batch_size
        samples per view (train.batch_size / size with a communicator), adding its share of the batch gradient; returns its
        loss figures. With a communicator it is collective (synchronized
        BatchNorm, figures of all ranks), but the gradients stay this rank's
        share: sum ``grads`` over the ranks before apply_update()."""
        v1, v2 = self._checked_views(view1, view2, exact=False)
        stats = StepStats()
        self._run(fn.byol_trainer_accumulate, self._handle, ctypes.byref(_arrays.tensor(v1)),
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
        box = self._callback_error

        def call(grads, count, _user) -> int:
            try:
                return 1 if hook(_c_array(grads, count, np.float32)) else 0
            except BaseException as e:  # noqa: BLE001 - re-raised by step()
                box[0] = e
                return 1

        c_hook = GRAD_HOOK(call)
        fn.byol_trainer_set_grad_hook(handle, c_hook, None)
        self._res.keep.append(c_hook)

    def set_comm(self, comm: Comm | None) -> None:
        """Makes this trainer one rank of a data-parallel run: `comm` has
        ``rank``, ``size`` and ``allreduce(array)`` (:class:`byol.Comm`;
        :class:`byol.MPIComm` over mpi4py). Call it on every rank after
        creating or loading the trainer, before the first step; None (or a
        comm of size 1) makes it a trainer alone again.

        train.batch_size stays the global batch: step() then takes views of
        train.batch_size / size samples, this rank's slice (a Loader's
        set_shard makes it). BatchNorm is synchronized over the ranks
        (byol.sync_bn), the gradients are summed, and every rank holds the
        same weights as long as allreduce leaves the same bits everywhere.
        step() and accumulate() call comm.allreduce on the calling thread;
        an exception there fails the step with CommError, chained to it, and
        changes nothing on this rank (docs/distributed.md: end the run).

        Raises InvalidArgumentError (rank outside [0, size), size < 1) or
        ShapeError (size does not divide train.batch_size); the trainer then
        keeps its previous communicator."""
        if comm is None:
            fn.byol_trainer_set_comm(self._handle, None)
            self._ranks, self._comm_refs[:] = 1, []
            return
        rank, size = _int32(comm.rank, "rank"), _int32(comm.size, "size")
        box, allreduce = self._callback_error, comm.allreduce

        def callback(c_type, dtype):
            def call(data, count, _user) -> int:
                try:
                    allreduce(_c_array(data, count, dtype))
                    return 0
                except BaseException as e:  # noqa: BLE001 - re-raised by step()
                    box[0] = e
                    return 1

            return c_type(call)

        c_comm = CommStruct(rank=rank, size=size,
                            allreduce_f32=callback(ALLREDUCE_F32, np.float32),
                            allreduce_f64=callback(ALLREDUCE_F64, np.float64))
        fn.byol_trainer_set_comm(self._handle, ctypes.byref(c_comm))
        self._ranks, self._comm_refs[:] = size, [comm, c_comm]  # c_comm holds the callbacks

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
