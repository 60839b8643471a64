#!/usr/bin/env bash
# Checks that #include lines follow the module dependencies of
# docs/ARCHITECTURE.md, so the architecture cannot erode unnoticed:
#   - a file in src/<module>/ includes public headers ("byol/..."), headers of
#     its own module, and headers of the modules its row below allows;
#   - the headers listed in HIDDEN stay inside their module;
#   - nothing outside src/nn includes nn/graph.h, tests included;
#   - tools/, examples/, bench/ and bindings/ include no library internals
#     (they use the public API only).
# Usage: scripts/check-includes.sh [ROOT]   (ROOT defaults to the checkout).
# Prints one line per violation (file:line: what and why) and exits 1 if
# there is any; make check runs it, tests/arch/test_check_includes.sh shows
# that it catches planted violations.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}

# module: the modules it may include (its own is always allowed)
declare -A ALLOWED=(
  [core]=""
  [io]="core"
  [linalg]="core"
  [nn]="core io linalg"
  [optim]="core"
  [train]="core io nn optim"
  [augment]="core"
  [data]="core io"
  [eval]="core linalg nn optim"
)
# Headers private to their module: other modules go through its interface
# (nn/nn.h for the network module).
HIDDEN="nn/graph.h nn/kernels.h"
# Private even to white-box tests.
HIDDEN_FROM_TESTS="nn/graph.h"

fail=0
report() { echo "$*"; fail=1; }

# Prints "line:header" for each #include of a file: quoted ones, and those
# in angle brackets that name a module (<nn/graph.h> reaches the same header
# through -Isrc; <sys/stat.h> is the system's).
includes() {
  grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$1" |
    sed -E 's/^([0-9]+):[^"<]*(["<])([^">]*)[">].*/\1:\2:\3/' |
    while IFS=: read -r line bracket inc; do
      if [ "$bracket" = '"' ] || [[ -v ALLOWED[${inc%%/*}] && $inc == */* ]]; then
        echo "$line:$inc"
      fi
    done || true
}

contains() { [[ " $1 " == *" $2 "* ]]; }

check_src_file() {
  local path=$1 mod=$2 f=${1#"$root"/} line inc dep
  while IFS=: read -r line inc; do
    [ -n "$inc" ] || continue
    dep=${inc%%/*}
    [[ $inc == */* ]] || continue                  # same folder
    [ "$dep" != byol ] || continue                 # public header
    if [ "$dep" = "$mod" ]; then continue; fi
    if [[ ! -v ALLOWED[$dep] ]]; then
      report "$f:$line: includes \"$inc\": no module '$dep' in scripts/check-includes.sh"
    elif ! contains "${ALLOWED[$mod]}" "$dep"; then
      report "$f:$line: includes \"$inc\": module $mod may not depend on $dep" \
             "(allowed: ${ALLOWED[$mod]:-none}; docs/ARCHITECTURE.md)"
    elif contains "$HIDDEN" "$inc"; then
      report "$f:$line: includes \"$inc\", private to src/$dep (use its interface header)"
    fi
  done < <(includes "$path")
}

for dir in "$root"/src/*/; do
  mod=$(basename "$dir")
  if [[ ! -v ALLOWED[$mod] ]]; then
    report "src/$mod: a module without a row in scripts/check-includes.sh"
    continue
  fi
  for f in "$dir"*.c "$dir"*.h "$dir"*.def; do
    if [ -e "$f" ]; then check_src_file "$f" "$mod"; fi
  done
done

# White-box tests may include internals, but not the hidden-from-tests ones.
while IFS= read -r f; do
  while IFS=: read -r line inc; do
    if contains "$HIDDEN_FROM_TESTS" "$inc"; then
      report "${f#"$root"/}:$line: includes \"$inc\", private to src/${inc%%/*}"
    fi
  done < <(includes "$f")
done < <(find "$root/tests" -name '*.[ch]' 2> /dev/null)

# Programs on the public API only.
while IFS= read -r f; do
  while IFS=: read -r line inc; do
    dep=${inc%%/*}
    if [[ $inc == */* && $dep != byol && -v ALLOWED[$dep] ]]; then
      report "${f#"$root"/}:$line: includes \"$inc\": tools, examples, bench and bindings" \
             "use the public API only (include/byol)"
    fi
  done < <(includes "$f")
done < <(find "$root/tools" "$root/examples" "$root/bench" "$root/bindings" \
           \( -name target -prune \) -o \( -name '*.[ch]' -o -name '*.cpp' -o -name '*.hpp' \) \
           -print 2> /dev/null)

if [ $fail -ne 0 ]; then
  echo "check-includes: FAILED (module dependencies: docs/ARCHITECTURE.md)"
  exit 1
fi
echo "check-includes: every #include follows the module dependencies"
