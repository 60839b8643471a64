"""Trainer.set_comm without MPI: communicators written in Python.

Two trainers on two threads joined by an in-process hub train 2 ranks x 32
images as one trainer trains the 64 (tests/unit/test_trainer_comm.c does the
same in C); tests/mpi/test_mpi_python.py runs byol.MPIComm under mpirun."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import byol

# As tests/unit/test_trainer_comm.c: LARS, the global batch of 64, 1 thread a rank.
SETTINGS = ("net.arch=cnn-small net.width=0.25 optim.name=lars optim.lr=0.2 "
            "train.batch_size=64 train.total_steps=10 train.warmup_steps=2 "
            "byol.proj_hidden=32 byol.proj_out=16 byol.pred_hidden=32 seed=11 threads=1")
GLOBAL = 64


def trainer(settings: str = SETTINGS) -> byol.Trainer:
    with byol.Config("fashion-mnist") as cfg:
        cfg.parse(settings)
        return byol.Trainer(cfg)


def global_views(seed: int, n: int = GLOBAL):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 1, 28, 28), dtype=np.float32),
            rng.random((n, 1, 28, 28), dtype=np.float32))


class Counting(byol.Comm):
    """A comm of one rank that counts its calls."""

    def __init__(self, rank=0, size=1):
        self.rank, self.size, self.calls = rank, size, 0

    def allreduce(self, array):
        self.calls += 1


class Failing(Counting):
    """Fails its call number `at` (1-based)."""

    def __init__(self, at, size=2):
        super().__init__(0, size)
        self.at = at

    def allreduce(self, array):
        self.calls += 1
        if self.calls == self.at:
            raise ZeroDivisionError(f"comm call {self.calls} failed")


class Hub:
    """Ranks on threads of one process: each rank's allreduce sums every
    rank's buffer in rank order, so all get the same bits. A rank that does
    not come breaks the barrier after `timeout` seconds (the others' calls
    raise, their steps fail with CommError) instead of hanging the test."""

    def __init__(self, size: int, timeout: float = 120):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=timeout)
        self.bufs: list = [None] * size

    def comm(self, rank: int) -> byol.Comm:
        hub = self

        class HubComm(byol.Comm):
            def allreduce(self, array):
                hub.bufs[rank] = array
                hub.barrier.wait()  # every operand posted
                total = hub.bufs[0].copy()
                for other in hub.bufs[1:]:
                    total += other
                hub.barrier.wait()  # every operand read
                array[:] = total

        c = HubComm()
        c.rank, c.size = rank, hub.size
        return c

    def run(self, work):
        """work(rank, comm) on `size` threads; each rank's result or exception."""
        out: list = [None] * self.size

        def go(r):
            try:
                out[r] = work(r, self.comm(r))
            except BaseException as e:  # noqa: BLE001 - the test inspects it
                out[r] = e

        threads = [threading.Thread(target=go, args=(r,)) for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|, as tests/test_util.h's tu_rel_err."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ref = float(np.abs(b).max()) if b.size else 0.0
    diff = float(np.abs(a - b).max()) if b.size else 0.0
    return diff / ref if ref > 0 else diff


def test_a_comm_of_one_rank_is_a_trainer_alone():
    v1, v2 = global_views(1)
    comm = Counting()
    with trainer() as alone, trainer() as one:
        one.set_comm(comm)
        for _ in range(2):
            assert one.step(v1, v2) == alone.step(v1, v2)
        np.testing.assert_array_equal(one.params, alone.params)
        assert comm.calls == 0  # one rank: nothing to sum


def test_allreduce_gets_plain_writable_arrays():
    seen = []

    class Recording(Counting):
        def allreduce(self, array):
            # "f"/"d", not "<f": mpi4py 3 refuses a buffer format with a byte order
            seen.append((memoryview(array).format, array.ndim, array.flags.writeable,
                         array.size))

    with trainer() as t:
        t.set_comm(Recording(0, 2))
        t.step(*global_views(8, GLOBAL // 2))
        floats = [s for s in seen if s[0] == "f"]
        assert floats == [("f", 1, True, t.params.size)]  # the gradients, once
        assert {s[:3] for s in seen} == {("f", 1, True), ("d", 1, True)}


@pytest.mark.parametrize("at", [1, 2, 5])  # the agreement, a BatchNorm sum, later
def test_a_raising_allreduce_fails_the_step_with_comm_error_and_changes_nothing(at):
    v1, v2 = global_views(2, GLOBAL // 2)
    with trainer() as t:
        t.step(*global_views(3))  # some optimizer state to keep
        comm = Failing(at)
        t.set_comm(comm)
        before, index = t.params.copy(), t.step_index
        with pytest.raises(byol.CommError, match="all-reduce of .* failed on rank 0") as info:
            t.step(v1, v2)
        assert isinstance(info.value.__cause__, ZeroDivisionError)
        assert str(info.value.__cause__) == f"comm call {at} failed"
        np.testing.assert_array_equal(t.params, before)
        assert t.step_index == index
        t.step(v1, v2)  # the comm works again: the trainer is usable
        assert t.step_index == index + 1


def test_a_raising_allreduce_fails_accumulate_too():
    with trainer() as t:
        t.set_comm(Failing(1))
        with pytest.raises(byol.CommError) as info:
            t.accumulate(*global_views(4, 8))
        assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_an_interrupt_in_allreduce_stays_an_interrupt():
    class Interrupted(Counting):
        def allreduce(self, array):
            raise KeyboardInterrupt

    with trainer() as t:
        t.set_comm(Interrupted(0, 2))
        with pytest.raises(KeyboardInterrupt) as info:
            t.step(*global_views(5, GLOBAL // 2))
        assert isinstance(info.value.__cause__, byol.CommError)


@pytest.mark.parametrize("rank, size, error, message", [
    (2, 2, byol.InvalidArgumentError, r"rank 2 is not in \[0, size 2\)"),
    (-1, 2, byol.InvalidArgumentError, r"rank -1 is not in \[0, size 2\)"),
    (0, 0, byol.InvalidArgumentError, r"rank 0 is not in \[0, size 0\)"),
    (0, 3, byol.ShapeError, "train.batch_size 64 .* is not a multiple of the 3 ranks"),
    (0, 2**32 + 2, byol.InvalidArgumentError, "comm.size 4294967298 is not a 32-bit integer"),
])
def test_bad_rank_or_size_is_refused_and_the_previous_comm_kept(rank, size, error, message):
    with trainer() as t:
        kept = Counting(0, 2)
        t.set_comm(kept)
        with pytest.raises(error, match=message):
            t.set_comm(Counting(rank, size))
        with pytest.raises(byol.ShapeError, match=r"over 2 ranks \(expected 32\)"):
            t.step(*global_views(6))
        kept.calls = 0
        t.step(*global_views(6, GLOBAL // 2))  # the sums do nothing: rank 1 adds 0
        assert kept.calls > 0


def test_set_comm_none_makes_a_trainer_alone_again():
    with trainer() as t:
        comm = Counting(1, 2)
        t.set_comm(comm)
        t.set_comm(None)
        t.step(*global_views(7))
        assert comm.calls == 0 and t.step_index == 1


def test_two_ranks_of_32_train_as_one_trainer_of_64(tmp_path):
    """Each step from the same state (docs/distributed.md: along chained steps
    the runs drift apart by more than rounding): step 1 from the start, its
    checkpoints compared tensor by tensor; step 2 from step 1's state."""
    steps = [global_views(10 + k) for k in range(2)]
    local = GLOBAL // 2

    def rank(r, comm):
        with trainer() as t:
            t.set_comm(comm)
            losses = []
            for k, (v1, v2) in enumerate(steps):
                losses.append(t.step(v1[r * local:(r + 1) * local],
                                     v2[r * local:(r + 1) * local])["loss"])
                if k == 0:
                    t.save(tmp_path / f"rank{r}.ckpt")
            return losses, t.params.copy(), t.encoder().state.copy()

    out = Hub(2).run(rank)
    for r in out:
        if isinstance(r, BaseException):
            raise r
    with trainer() as one:
        ref = [one.step(*steps[0])["loss"]]
        one.save(tmp_path / "one.ckpt")
        ref.append(one.step(*steps[1])["loss"])
    for r in range(2):
        np.testing.assert_allclose(out[r][0], ref, rtol=1e-5)
    # the ranks hold the same bits
    np.testing.assert_array_equal(out[0][1], out[1][1])
    np.testing.assert_array_equal(out[0][2], out[1][2])
    with byol.TensorFile(tmp_path / "rank0.ckpt") as a, \
         byol.TensorFile(tmp_path / "one.ckpt") as b:
        assert a.keys() == b.keys()
        for name in a.keys():
            if a[name].dtype.kind == "f":
                # LARS momentum holds raw gradient sums: 1e-4 (test_mpi_train.c)
                tol = 1e-4 if name.startswith("optim.") else 1e-5
                assert rel_err(a[name], b[name]) <= tol, name


def test_views_refused_on_one_rank_fail_every_rank_without_waiting():
    """Python's own checks refuse rank 1's views before the library sees
    them; rank 1 still joins the ranks' agreement, so rank 0 fails with
    CommError at once instead of waiting in its first BatchNorm sum."""
    v1, v2 = global_views(20, GLOBAL // 2)

    def rank(r, comm):
        with trainer() as t:
            t.set_comm(comm)
            before = t.params.copy()
            try:
                t.step(v1 if r == 0 else v1[:, :, :27], v2 if r == 0 else v2[:, :, :27])
            finally:
                np.testing.assert_array_equal(t.params, before)
                assert t.step_index == 0

    out = Hub(2, timeout=30).run(rank)
    assert isinstance(out[1], byol.ShapeError) and "differ" not in str(out[1])
    assert isinstance(out[0], byol.CommError), out[0]
    assert "1 other rank(s) refused" in str(out[0]) and out[0].__cause__ is None
