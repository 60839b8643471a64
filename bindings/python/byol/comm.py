"""Communicators for data-parallel training (:meth:`byol.Trainer.set_comm`).

Several processes (ranks) each hold a full Trainer, each steps on its slice
of the global batch, and the trainer sums gradients, BatchNorm statistics
and the loss over the ranks through a communicator: any object with

- ``rank`` and ``size``: this process (0 .. size-1) and the rank count;
- ``allreduce(array)``: replaces a 1-D float32 or float64 numpy array, in
  place, by its sum over all ranks, leaving **the same bits on every rank**,
  and returns None. An exception makes the step fail with
  :class:`byol.CommError` (chained to the exception) and change nothing.

:class:`Comm` is that protocol as a base class; :class:`MPIComm` implements it
with mpi4py. docs/distributed.md states what the trainer does with it.

    from mpi4py import MPI
    comm = byol.MPIComm(MPI.COMM_WORLD)                 # on every rank
    with byol.Trainer(cfg) as t:                        # train.batch_size: the GLOBAL batch
        t.set_comm(comm)
        loader.set_shard(comm.rank, comm.size)          # this rank's slice of each batch
        for v1, v2, _ in loader:
            t.step(v1, v2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["Comm", "MPIComm"]


class Comm:
    """The communicator protocol of :meth:`byol.Trainer.set_comm` (a base
    class for convenience: any object with these members will do)."""

    rank: int = 0
    size: int = 1

    def allreduce(self, array: np.ndarray) -> None:
        """Sums `array` (1-D, float32 or float64, writable) over all ranks in
        place; every rank calls it with the same sizes in the same order,
        and every rank must end with the same bits. Called on the thread
        that called the step."""
        raise NotImplementedError


class MPIComm(Comm):
    """A :class:`Comm` over an mpi4py intracommunicator (default
    ``MPI.COMM_WORLD``). mpi4py is imported here, when one is made: the
    byol package does not depend on it. Every rank makes its MPIComm
    together; the trainer's sums are collective calls on `comm`, so all
    ranks must step together."""

    chunk = 2**31 - 1  # elements per MPI call: MPI counts are C ints

    def __init__(self, comm=None):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        if self.comm.Is_inter():  # a reduction there would go between the groups
            raise ValueError("MPIComm needs an intracommunicator")
        self.rank: int = self.comm.Get_rank()
        self.size: int = self.comm.Get_size()

    def allreduce(self, array: np.ndarray) -> None:
        # Not MPI_Allreduce: the MPI standard lets an implementation add in a
        # different order on each rank, and float sums depend on the order,
        # while the trainer needs identical bits everywhere (the optimizer and
        # the moving average then keep every rank's weights equal). Rank 0's
        # sum, broadcast, is the same bits on every rank whatever MPI's
        # algorithm (libbyol-mpi does the same in C).
        mpi, root = self._mpi, self.rank == 0
        for start in range(0, array.size, self.chunk):
            part = array[start:start + self.chunk]
            self.comm.Reduce(mpi.IN_PLACE if root else part, part if root else None,
                             op=mpi.SUM, root=0)
            self.comm.Bcast(part, root=0)

    def __repr__(self) -> str:
        return f"<byol.MPIComm rank={self.rank} size={self.size}>"
