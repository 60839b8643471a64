#!/bin/sh
# Called by `make install` after the library is in place (and by uninstall):
#   scripts/install-ldconfig.sh DESTDIR LIBDIR
# Runs ldconfig when LIBDIR is a directory the dynamic loader searches
# (/usr/local/lib, /usr/lib, ... as ldconfig itself lists them), so that
# programs linked with plain `pkg-config --libs libbyol` find libbyol.so.1
# at once; without it the loader's cache does not know the new library and
# they exit 127. Skipped quietly when staging (DESTDIR: the package's own
# hooks run ldconfig on the target machine), when not root (the cache is
# root's), and for any other prefix (programs there need a run path:
# docs/quickstart.md). LDCONFIG names the program (tests/install/run.sh
# puts a stand-in there).
set -eu
destdir=$1 libdir=$2
ldconfig=${LDCONFIG:-ldconfig}

[ -z "$destdir" ] || exit 0
[ "$(id -u)" = 0 ] || exit 0
command -v "$ldconfig" > /dev/null 2>&1 || exit 0

# Compared as physical paths: with merged /usr, ldconfig lists /lib for /usr/lib.
want=$(cd "$libdir" && pwd -P)
# -v lists each directory it scans as "DIR: (from ...)"; -N -X change nothing.
IFS='
'
for dir in $("$ldconfig" -v -N -X 2> /dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p'); do
  if [ "$(cd "$dir" 2> /dev/null && pwd -P)" = "$want" ]; then
    echo "$ldconfig"
    exec "$ldconfig"
  fi
done
