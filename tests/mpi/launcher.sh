# Sourced by the MPI test scripts: $mpirun (MPIRUN, default mpirun) and the
# arguments it needs here in mpirun_args. Open MPI refuses root without the
# two variables (CI runs as root) and more ranks than cores without
# --oversubscribe (CI has 2 cores); MPICH needs neither.
# shellcheck shell=bash
mpirun=${MPIRUN:-mpirun}
mpirun_args=()
if command -v "$mpirun" > /dev/null && "$mpirun" --version 2>&1 | grep -q 'Open MPI'; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpirun_args+=(--oversubscribe)
fi
# The sanitizers' leak check would report what MPI keeps until exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
