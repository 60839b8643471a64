#!/usr/bin/python3
"""The Python binding through mpi4py against the C run, under mpirun -np 2
(tests/mpi/run.sh; the byol package of bindings/python, the libbyol.so.1 of
$BYOL_LIBRARY or the in-tree build).

test_mpi_train (run before this by run.sh) leaves in $BYOL_MPI_REFERENCE its
one-process runs of 64 images: the settings, the losses and the state after
the first step (refK.txt, refK.ckpt), and its ranks' state after the first
step (refK-ranks.ckpt). Here each rank trains its 32 of the
same 64 images (the same LCG as test_mpi_train.c's make_views, written
again in Python) with byol.MPIComm, 3 LARS steps. Checked:
- each step's loss within 1e-5 relative of the C run's, and the same bits
  on every rank;
- every tensor of the checkpoint after the first step within 1e-5 of the C
  checkpoint's largest value (the LARS momentum 1e-4), as test_mpi_train,
  and the whole checkpoint identical, byte for byte, to C's on the same
  ranks (mpi4py sums as libbyol-mpi does);
- the ranks' parameters and BatchNorm statistics after 3 steps identical
  bit for bit.
With 3 ranks the 64 images do not split: it says so and passes. Without
mpi4py (python3-mpi4py) it says SKIPPED, or fails with BYOL_REQUIRE_MPI=1;
it says SKIPPED too when mpi4py was built for another MPI than the mpirun
that started it (Debian's is Open MPI's).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

GLOBAL, STEPS = 64, 3
ME = "tests/mpi/test_mpi_python.py"
REPO = Path(__file__).resolve().parents[2]

# What the launcher says (Open MPI's variables, else those of MPICH's Hydra).
LAUNCHED_RANK = os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0"))
LAUNCHED_SIZE = int(os.environ.get("OMPI_COMM_WORLD_SIZE", os.environ.get("PMI_SIZE", "1")))


def skip(why: str, required: bool) -> None:
    if required and os.environ.get("BYOL_REQUIRE_MPI") == "1":
        sys.exit(f"{ME}: FAIL: {why} (BYOL_REQUIRE_MPI=1: the MPI tests are mandatory)")
    if LAUNCHED_RANK == "0":  # one line, not one per rank
        print(f"SKIPPED: {why}")
    sys.exit(0)


try:
    import numpy as np
    from mpi4py import MPI
except ImportError as e:
    skip(f"no mpi4py for {sys.executable} ({e}); install python3-mpi4py", required=True)

sys.path.insert(0, str(REPO / "bindings" / "python"))
import byol  # noqa: E402 - from the source tree, after the check above

world = MPI.COMM_WORLD
rank, size = world.Get_rank(), world.Get_size()
failures = 0


def check(ok: bool, message: str) -> None:
    global failures
    if not ok:
        failures += 1
        print(f"rank {rank}: FAIL: {message}", flush=True)


def make_views(count: int, which: int) -> np.ndarray:
    """test_mpi_train.c's make_views: count floats of a 64-bit LCG."""
    out = np.empty(count, np.float32)
    s, mask = (0x9E3779B97F4A7C15 * (which + 1)) & (2**64 - 1), 2**64 - 1
    for i in range(count):
        s = (s * 6364136223846793005 + 1442695040888963407) & mask
        out[i] = ((s >> 40) & 0xFFFF) / 65536.0 - 0.5  # exact in float32, as in C
    return out


def close_rel(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-2)


def compare_checkpoints(mine: Path, ref: Path, what: str) -> None:
    """Every float tensor within 1e-5 of the reference tensor's largest value
    (max|a-b| / max|b|), the LARS momentum within 1e-4; others identical."""
    with byol.TensorFile(mine) as a, byol.TensorFile(ref) as b:
        check(a.keys() == b.keys(), f"{what}: the checkpoints hold other tensors")
        for name in a.keys():
            x, y = a[name], (b[name] if name in b else None)
            if y is None or x.shape != y.shape:
                check(False, f"{what}: {name} missing or of another shape")
            elif x.dtype.kind != "f":
                check(np.array_equal(x, y), f"{what}: {name} differs")
            else:
                diff = float(np.abs(x.astype(np.float64) - y).max(initial=0))
                top = float(np.abs(y).max(initial=0))
                err, tol = diff / top if top else diff, 1e-4 if name.startswith("optim.") else 1e-5
                check(err <= tol, f"{what}: {name}: max|a-b|/max|b| = {err:.3g} > {tol}")


def same_everywhere(array: np.ndarray) -> bool:
    root = world.bcast(array.tobytes(), root=0)
    return bool(world.allreduce(int(root == array.tobytes()), op=MPI.MIN))


def equivalence(ref_txt: Path, work: Path) -> None:
    settings, extra, *lines = ref_txt.read_text().splitlines()
    ref = [float(x) for x in lines]
    with byol.Config() as cfg:
        cfg.parse(settings + " " + extra)
        t = byol.Trainer(cfg)
    with t:
        t.set_comm(byol.MPIComm(world))
        c, h, w = t.input_dims
        v1, v2 = (make_views(GLOBAL * c * h * w, k).reshape(GLOBAL, c, h, w) for k in (0, 1))
        mine = slice(rank * GLOBAL // size, (rank + 1) * GLOBAL // size)
        losses = []
        for s in range(STEPS):
            losses.append(t.step(v1[mine], v2[mine])["loss"])
            if s == 0 and rank == 0:
                t.save(work / "python.ckpt")
        for s in range(STEPS):
            check(close_rel(losses[s], ref[s]),
                  f"{settings}: step {s}: loss {losses[s]:.9g} on {size} ranks through "
                  f"mpi4py, {ref[s]:.9g} in C on 1")
        check(same_everywhere(np.array(losses)), f"{settings}: the ranks' losses differ")
        check(same_everywhere(t.params), f"{settings}: parameters differ between ranks")
        check(same_everywhere(t.encoder().state),
              f"{settings}: BatchNorm statistics differ between ranks")
        if rank == 0:
            compare_checkpoints(work / "python.ckpt", ref_txt.with_suffix(".ckpt"), settings)
            ranks = ref_txt.with_name(ref_txt.stem + "-ranks.ckpt")
            check(ranks.read_bytes() == (work / "python.ckpt").read_bytes(),
                  f"{settings}: the state after step 1 is not C's on {size} ranks bit for bit")


def main() -> int:
    if size == 1:
        mpi4py_mpi = MPI.Get_library_version().split(",")[0].strip()
        if LAUNCHED_SIZE > 1:  # e.g. Debian's mpi4py (Open MPI) under MPICH's mpirun
            skip(f"mpi4py uses {mpi4py_mpi}, not the MPI of this mpirun (each of its "
                 f"{LAUNCHED_SIZE} ranks is alone)", required=False)
        print(f"{ME}: FAIL: 1 rank; run it under mpirun -np 2 ({mpi4py_mpi})")
        return 1
    if GLOBAL % size:
        if rank == 0:
            print(f"{ME}: {GLOBAL} images do not split over {size} ranks: not run")
        return 0
    ref_dir = Path(os.environ.get("BYOL_MPI_REFERENCE", "/nonexistent"))
    refs = sorted(ref_dir.glob("ref*.txt"))
    check(bool(refs), f"no refK.txt in $BYOL_MPI_REFERENCE ({ref_dir}): tests/mpi/run.sh "
                      "runs test_mpi_train first, which writes them")
    with tempfile.TemporaryDirectory() as work:
        for ref_txt in refs:
            try:
                equivalence(ref_txt, Path(work))
            except Exception as e:  # noqa: BLE001 - the other ranks would wait
                cause = f" (from {e.__cause__!r})" if e.__cause__ else ""
                print(f"rank {rank}: FAIL: {ref_txt.name}: {e!r}{cause}", flush=True)
                world.Abort(1)
    total = world.allreduce(failures)
    if rank == 0:
        print(f"{ME} on {size} ranks ({byol.library_path}): {'FAILED' if total else 'OK'}")
    return int(total != 0)


if __name__ == "__main__":
    sys.exit(main())
