"""Ownership of C handles: reference-counted resources and the base class of
every wrapper object.

A :class:`Resource` owns one C object and its destroy function. The Python
object that created it holds one reference; every object that borrows the C
object (a Loader reading a Dataset, a Net viewing a Trainer's encoder, a
numpy array over a net's parameter buffer) holds another. The C object is
destroyed when the last reference is released, so objects may be closed or
collected in any order: closing a Dataset while a Loader still reads it only
closes the Python Dataset; the C dataset goes when the Loader goes.

:class:`Handle` is the base of the public classes: ``close()`` (idempotent)
releases the object's reference at once, ``with`` closes on exit, and
``__del__`` closes what the program forgot.
"""

from __future__ import annotations

import threading

import numpy as np

from . import errors


class Resource:
    """One C object, destroyed when its last reference is released."""

    __slots__ = ("ptr", "_destroy", "_refs", "_deps", "_lock", "keep", "__weakref__")

    def __init__(self, ptr: int, destroy, deps: tuple[Resource, ...] = ()):
        for dep in deps:
            dep.acquire()
        self.ptr = ptr
        self._destroy = destroy  # held here so that it outlives module teardown
        self._refs = 1
        self._deps = deps
        self._lock = threading.Lock()
        self.keep: list = []  # callbacks and the like that must live as long as ptr

    def acquire(self) -> Resource:
        with self._lock:
            if self._refs <= 0:
                raise errors.BadStateError("the C object was already destroyed")
            self._refs += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if not last:
            return
        ptr, self.ptr = self.ptr, None
        if ptr and self._destroy is not None:
            self._destroy(ptr)
        self.keep.clear()
        for dep in self._deps:
            dep.release()
        self._deps = ()


class Handle:
    """Base class of the wrapper objects: close(), context manager, __del__.

    An object is used by one thread at a time (as its C handle); distinct
    objects may be used from distinct threads.
    """

    _res: Resource | None = None
    _ptr: int | None = None

    def _own(self, ptr: int, destroy, deps: tuple[Resource, ...] = ()) -> None:
        """Takes ownership of a C object created by this wrapper."""
        self._res = Resource(ptr, destroy, deps)
        self._ptr = ptr

    def _borrow(self, ptr: int, owner: Resource) -> None:
        """Views a C object owned by another (`owner` stays alive meanwhile)."""
        self._res = owner.acquire()
        self._ptr = ptr

    @property
    def _handle(self) -> int:
        ptr = self._ptr
        if ptr is None:
            raise errors.BadStateError(f"this {type(self).__name__} is closed")
        return ptr

    @property
    def closed(self) -> bool:
        """True once close() was called (or creation failed)."""
        return self._ptr is None

    def close(self) -> None:
        """Releases this object's C handle. Idempotent. Objects that borrow it
        (loaders, encoder views, buffer arrays) keep it alive until they go."""
        res, self._res, self._ptr = self._res, None, None
        if res is not None:
            res.release()

    def __enter__(self):
        self._handle  # noqa: B018 - a closed object cannot be entered
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing to report to at collection time
            pass


class _BufferOwner:
    """Exposes C memory to numpy and keeps its C owner alive while any array
    over it exists (numpy makes this object the base of every such array)."""

    def __init__(self, address: int, shape: tuple[int, ...], typestr: str, owner: Resource):
        self._owner = owner.acquire()
        self.__array_interface__ = {
            "version": 3,
            "shape": shape,
            "typestr": typestr,
            "data": (address, False),
        }

    def __del__(self):
        owner, self._owner = self._owner, None
        if owner is not None:
            try:
                owner.release()
            except Exception:  # noqa: BLE001
                pass


def array_over(address: int, count: int, owner: Resource, dtype=np.float32) -> np.ndarray:
    """A writable numpy array over `count` elements of C memory at `address`,
    keeping `owner` alive as long as the array (or any view of it) lives."""
    dt = np.dtype(dtype)
    if count == 0:
        return np.empty(0, dtype=dt)
    return np.asarray(_BufferOwner(address, (count,), dt.str, owner))
