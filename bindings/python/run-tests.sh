#!/usr/bin/env bash
# make python-test: installs the byol package with pip into a fresh venv
# (build/python-venv, which sees Debian's numpy and pytest; pip-install.sh),
# then runs its tests with that installed package against the in-tree
# library ($BYOL_LIBRARY, default lib/libbyol.so.1). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# Debian's interpreter, whose site-packages hold python3-numpy and python3-pytest
# (a python3 earlier on PATH, e.g. pyenv's, may lack them).
export PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
  echo "python-test: $PYTHON lacks pytest;" \
       "install python3-pytest (bash scripts/install-deps.sh --ci)" >&2
  exit 1
fi
lib=${BYOL_LIBRARY:-$root/lib/libbyol.so.1}
[ -e "$lib" ] || { echo "python-test: $lib is missing: run make first" >&2; exit 1; }

venv=$root/build/python-venv
bash bindings/python/pip-install.sh "$venv"

export BYOL_LIBRARY=$lib
# The tests must exercise the installed package, not the source tree.
where=$(cd / && "$venv/bin/python" -c 'import byol; print(byol.__file__, byol.library_path, byol.library_version)')
echo "python-test: byol installed at ${where% * *}; library ${where#* }"
case $where in "$venv"/*) ;; *) echo "python-test: byol was not imported from $venv" >&2; exit 1 ;; esac

"$venv/bin/python" -m pytest -p no:cacheprovider -ra bindings/python/tests "$@"
