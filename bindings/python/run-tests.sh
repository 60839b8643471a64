#!/usr/bin/env bash
# make python-test: installs the byol package with pip into a fresh venv
# (build/python-venv, which sees Debian's numpy and pytest) from a copy of
# bindings/python, then runs its tests with that installed package against
# the in-tree library ($BYOL_LIBRARY, default lib/libbyol.so.1). Offline: pip neither
# downloads nor builds in isolation. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# Debian's interpreter, whose site-packages hold python3-numpy and python3-pytest
# (a python3 earlier on PATH, e.g. pyenv's, may lack them).
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if ! "$PYTHON" -c 'import numpy, pytest, venv' 2>/dev/null; then
  echo "python-test: $PYTHON lacks numpy, pytest or venv;" \
       "install python3-numpy python3-pytest python3-venv (bash scripts/install-deps.sh --ci)" >&2
  exit 1
fi
lib=${BYOL_LIBRARY:-$root/lib/libbyol.so.1}
[ -e "$lib" ] || { echo "python-test: $lib is missing: run make first" >&2; exit 1; }

venv=$root/build/python-venv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$venv"
"$PYTHON" -m venv --system-site-packages "$venv"
# Built from a copy: setuptools writes build/ and *.egg-info beside its sources.
cp -r bindings/python "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
"$venv/bin/python" -m pip install --quiet --no-index --no-build-isolation --no-deps \
  --disable-pip-version-check "$tmp/src"

export BYOL_LIBRARY=$lib
# The tests must exercise the installed package, not the source tree.
where=$(cd "$tmp" && "$venv/bin/python" -c 'import byol; print(byol.__file__, byol.library_path, byol.library_version)')
echo "python-test: byol installed at ${where% * *}; library ${where#* }"
case $where in "$venv"/*) ;; *) echo "python-test: byol was not imported from $venv" >&2; exit 1 ;; esac

"$venv/bin/python" -m pytest -p no:cacheprovider -ra bindings/python/tests "$@"
