#!/usr/bin/env bash
# bash bindings/python/pip-install.sh VENV: makes VENV afresh, a venv that
# sees the site-packages of Debian's interpreter (python3-numpy), and pip
# installs the byol package into it from a copy of bindings/python, offline:
# pip neither downloads nor builds in isolation. The environment reaches the
# build, so PKG_CONFIG_PATH chooses the libbyol it records (setup.py).
# Used by run-tests.sh (make python-test) and tests/install/run.sh.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 VENV" >&2; exit 2; }
venv=$1
src=$(cd "$(dirname "$0")" && pwd)

# Debian's interpreter, whose site-packages hold python3-numpy
# (a python3 earlier on PATH, e.g. pyenv's, may lack it).
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if ! "$PYTHON" -c 'import numpy, venv' 2>/dev/null; then
  echo "pip-install: $PYTHON lacks numpy or venv;" \
       "install python3-numpy python3-venv (bash scripts/install-deps.sh --ci)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$venv"
"$PYTHON" -m venv --system-site-packages "$venv"
# Built from a copy: setuptools writes build/ and *.egg-info beside its sources.
cp -r "$src" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
"$venv/bin/python" -m pip install --quiet --no-index --no-build-isolation --no-deps \
  --disable-pip-version-check "$tmp/src"
