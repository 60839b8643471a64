#!/usr/bin/env bash
# Runs the MPI test programs given as arguments under mpirun, on 2 ranks
# and then 3 (with 3, a float sum depends on the order of the additions, so
# "the same bits on every rank" is a real claim), each under a timeout so
# that a rank stuck in a collective cannot hang make check.
# No arguments: libbyol-mpi was not built (no MPI found, or MPI=0); that is
# SKIPPED, or a failure with BYOL_REQUIRE_MPI=1 (.ci/run sets it).
#   MPIRUN (default mpirun), MPI_TIMEOUT (seconds per run, default 300).
set -euo pipefail

skip() {
  if [ "${BYOL_REQUIRE_MPI:-}" = 1 ]; then
    echo "tests/mpi: FAIL: $* (BYOL_REQUIRE_MPI=1: the MPI tests are mandatory)" >&2
    exit 1
  fi
  echo "SKIPPED: $*"
  exit 0
}
how="install libopenmpi-dev and openmpi-bin (bash scripts/install-deps.sh as root)"
[ $# -gt 0 ] || skip "libbyol-mpi was not built (no MPI found, or MPI=0); $how"
# shellcheck source=tests/mpi/launcher.sh
source "$(dirname "$0")/launcher.sh"
command -v "$mpirun" > /dev/null || skip "no $mpirun on PATH; $how"

# test_mpi_train leaves its one-process runs here for test_mpi_python.py
# (the Python binding through mpi4py, given after it) to compare with.
BYOL_MPI_REFERENCE=$(mktemp -d)
export BYOL_MPI_REFERENCE
trap 'rm -rf "$BYOL_MPI_REFERENCE"' EXIT

fail=0
for t in "$@"; do
  for np in 2 3; do
    echo "== $mpirun -np $np $t"
    rc=0
    timeout -k 10 "${MPI_TIMEOUT:-300}" "$mpirun" "${mpirun_args[@]}" -np "$np" "$t" || rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
      echo "tests/mpi: FAIL: $t on $np ranks timed out (a rank hung?)" >&2; fail=1
    elif [ $rc -ne 0 ]; then
      echo "tests/mpi: FAIL: $t on $np ranks exited $rc" >&2; fail=1
    fi
  done
done
exit $fail
