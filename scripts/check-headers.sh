#!/usr/bin/env bash
# Public headers must stand alone for C99 and C++11 users:
#   - each include/byol/*.h compiles on its own, as C99 and as C++11, warning-free;
#   - byol.h survives being included twice (include guards);
#   - in C++ every BYOL_API function gets C linkage (extern "C"), otherwise a
#     C++ program would link against mangled names the library does not have;
#   - the umbrella byol.h reaches every public C header, since consumers
#     (tests/install/hello.c, the bindings) include only it;
#   - the C++ wrapper byol.hpp (C++17, not C: the loop over *.h skips it)
#     compiles on its own and included twice, warning-free under -pedantic.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
inc=$root/include
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CFLAGS=(-std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc")
CXXFLAGS=(-std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc")
fail=0 n=0 nfn=0
bad() { echo "check-headers: FAIL: $*" >&2; fail=1; }

# Compiles the TU on stdin; on failure shows the compiler's words.
compile() {  # label, compiler, flags...
  local label=$1; shift
  if ! "$@" -x "$([ "$1" = g++ ] && echo c++ || echo c)" - > "$tmp/log" 2>&1; then
    bad "$label"; sed 's/^/    /' "$tmp/log" >&2
  fi
}

for h in "$inc"/byol/*.h; do
  name=${h##*/}; n=$((n + 1))
  # The typedef keeps a macro-only header from being an empty TU (-pedantic).
  tu=$(printf '#include <byol/%s>\ntypedef int byol_check_tu_;\n' "$name")
  compile "$name is not self-contained as C99" gcc "${CFLAGS[@]}" <<<"$tu"
  compile "$name is not self-contained as C++11" g++ "${CXXFLAGS[@]}" <<<"$tu"

  # Take each function's address in C++ and look at the names referenced.
  fns=$(bash "$root/scripts/check-symbols.sh" --list-api "$h" | sed -n 's/^F //p')
  [ -n "$fns" ] || continue
  { echo "#include <byol/$name>"; echo "void *byol_check_refs_[] = {"
    for f in $fns; do echo "  reinterpret_cast<void *>(&$f),"; done; echo "};"; } > "$tmp/refs.cc"
  if ! g++ -std=c++11 -I"$inc" -c "$tmp/refs.cc" -o "$tmp/refs.o" 2> "$tmp/log"; then
    bad "$name: taking the address of its BYOL_API functions failed in C++"
    sed 's/^/    /' "$tmp/log" >&2; continue
  fi
  for f in $(nm -u "$tmp/refs.o" | awk '$2 ~ /^_Z/ {print $2}'); do
    bad "$name: $(echo "$f" | c++filt) has C++ linkage (missing BYOL_BEGIN_DECL/extern \"C\")"
  done
  nfn=$((nfn + $(wc -w <<<"$fns")))
done

twice=$(printf '#include <byol/byol.h>\n#include <byol/byol.h>\n')
compile "byol.h included twice fails as C99" gcc "${CFLAGS[@]}" <<<"$twice"
compile "byol.h included twice fails as C++11" g++ "${CXXFLAGS[@]}" <<<"$twice"

# gcc -M lists every header the umbrella pulls in (space/backslash separated).
# shellcheck disable=SC1003
reached=$(echo '#include <byol/byol.h>' | gcc -I"$inc" -M -x c - | tr -s ' \\' '\n')
for h in "$inc"/byol/*.h; do
  grep -qxF "$h" <<<"$reached" || bad "byol.h does not include ${h##*/}"
done

CXX17FLAGS=(-std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc")
nxx=0
for h in "$inc"/byol/*.hpp; do
  name=${h##*/}; nxx=$((nxx + 1))
  tu=$(printf '#include <byol/%s>\n#include <byol/%s>\n' "$name" "$name")
  compile "$name is not self-contained (or not includable twice) as C++17" \
    g++ "${CXX17FLAGS[@]}" <<<"$tu"
done

[ $fail -eq 0 ] || exit 1
echo "check-headers: OK: $n headers self-contained as C99 and C++11, byol.h includable twice," \
     "$nfn functions with C linkage, umbrella covers all; $nxx C++17 header(s) self-contained"
