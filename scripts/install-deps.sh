#!/usr/bin/env bash
# Installs the Debian packages libbyol needs, and only those missing.
#   bash scripts/install-deps.sh        what `make check` needs (build + unit tests)
#   bash scripts/install-deps.sh --ci   also what only CI runs: second BLAS
#                                       providers, MPICH, ABI and C++ header checks, docs,
#                                       demo data
#   bash scripts/install-deps.sh --docs only what `make docs` needs (doxygen)
#   bash scripts/install-deps.sh --bench also the PyTorch peers of `make bench`
# Open MPI (libbyol-mpi and its tests, docs/cluster.md) is optional for
# `make check`: installed when run as root, else only named (the MPI tests
# then say SKIPPED); --ci requires it.
# Idempotent: when all is there it touches nothing and needs no root.
set -euo pipefail

# Build and unit tests. build-essential is satisfied by gcc+make+libc6-dev too
# (checked below), so minimal images with a toolchain but no meta package pass.
base=(build-essential pkg-config libblis-dev libstb-dev libcmocka-dev zlib1g-dev dataset-fashion-mnist)
# libblas-dev: reference CBLAS (BLAS=netlib); libopenblas-dev: BLAS=openblas;
# abigail-tools: abidw/abidiff; g++: C++ header check; gfortran: openblas.pc's
# static libs name -lgfortran (tests/install links with pkg-config --static).
# python3-*: make python-test (bindings/python: a venv seeing Debian's numpy
# and pytest; pip builds the package offline with setuptools and wheel).
# libmpich-dev mpich: the MPI tests again against MPICH (mpirun.mpich); Open
# MPI stays the default mpicc and mpirun (alternatives priority 50 to 40).
ci=(libblas-dev libopenblas-dev abigail-tools g++ gfortran doxygen
    python3-numpy python3-pytest python3-venv python3-setuptools python3-wheel
    libmpich-dev mpich)

# libbyol-mpi, the MPI adapter, and mpirun for its tests (tests/mpi).
mpi=(libopenmpi-dev openmpi-bin)
mpi+=(python3-mpi4py) # tests/mpi/test_mpi_python.py: the Python binding under mpirun

# doxygen: make docs (the API reference from include/byol/*.h, docs/Doxyfile).
docs=(doxygen)

# make bench: Debian's PyTorch and torchvision for /usr/bin/python3 (the
# peers bench/torch_peer.py and bench/torch_loader_peer.py).
bench=(python3-torch python3-torchvision)

want=("${base[@]}") optional=("${mpi[@]}")
case "${1:-}" in
  --ci) want+=("${ci[@]}" "${mpi[@]}") optional=() ;;
  --docs) want=("${docs[@]}") optional=() ;;
  --bench) want+=("${bench[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--ci | --docs | --bench]" >&2; exit 2 ;;
esac

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${want[@]}"; do
  installed "$p" && continue
  if [ "$p" = build-essential ] && installed gcc && installed make && installed libc6-dev; then
    continue
  fi
  missing+=("$p")
done

missing_optional=()
for p in "${optional[@]}"; do
  installed "$p" || missing_optional+=("$p")
done
if [ "$(id -u)" -ne 0 ] && [ ${#missing_optional[@]} -gt 0 ]; then
  echo "install-deps: optional ${missing_optional[*]} missing (the MPI tests will say SKIPPED)"
elif [ ${#missing_optional[@]} -gt 0 ]; then
  missing+=("${missing_optional[@]}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

cmd=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; as root run:" >&2
  echo "  apt-get update && ${cmd[*]}" >&2
  exit 1
fi

# apt is chatty; keep its log and show it only when something fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && "${cmd[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: FAILED to install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installed ${missing[*]}"
