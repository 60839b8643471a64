#!/usr/bin/env bash
# Checks the exported ABI surface of the shared library:
#   - it exports only byol_* symbols (plus linker-defined ones),
#   - the exported functions/variables are exactly those declared with
#     BYOL_API in include/byol/*.h, each bound to a version node of the map,
#   - SONAME is libbyol.so.<MAJOR>, and the stack is not executable.
# Usage: check-symbols.sh <lib.so> <map>
#        check-symbols.sh --list-api [header...]
#          prints "F name" / "V name" per BYOL_API declaration (default: all headers)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
inc=$root/include/byol

# Declarations from the headers. A declaration begins with BYOL_API and ends
# at ';' (or '{' for an inline body); the function name is the identifier
# before the first '(' once attributes and ALL-CAPS macro calls are dropped.
list_api() {
  [ $# -gt 0 ] || set -- "$inc"/*.h
  perl -0777 -ne '
    s{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g;                 # comments
    s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;              # directives, with continuations
    for (split /[;{}]/) {
      next unless s/.*?\bBYOL_API\b//s;
      s{__attribute__\s*\(\(.*?\)\)}{}gs;
      s{\b[A-Z][A-Z0-9_]*\s*\([^()]*\)}{}g;            # e.g. BYOL_DEPRECATED("...")
      if (/(\w+)\s*\(/) { print "F $1\n" }
      elsif (/(\w+)\s*(?:\[[^\]]*\]\s*)*(?:=.*)?$/s) { print "V $1\n" }
    }' "$@" | sort -u
}

if [ "${1:-}" = --list-api ]; then shift; list_api "$@"; exit 0; fi
[ $# -eq 2 ] || { echo "usage: $0 <lib.so> <map> | --list-api" >&2; exit 2; }
lib=$1 map=$2
[ -f "$lib" ] || { echo "check-symbols: no such library: $lib" >&2; exit 1; }
[ -f "$map" ] || { echo "check-symbols: no such map: $map" >&2; exit 1; }

fail=0
bad() { echo "check-symbols: FAIL: $*" >&2; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nodes=$(sed -n 's/^[[:space:]]*\(LIBBYOL_[0-9.]*\)[[:space:]]*{.*/\1/p' "$map")

# nm -D prints "addr type name[@@version]" (addr is blank for none).
nm -D --defined-only "$lib" | awk '{print $(NF-1), $NF}' > "$tmp/nm"
while read -r type sym; do
  name=${sym%%@*} ver=${sym#"$name"}; ver=${ver##*@}
  case $name in
    _init|_fini|_edata|_end|__bss_start) continue ;;
    byol_*)
      { [ -n "$ver" ] && grep -qxF -- "$ver" <<<"$nodes"; } || bad "$name is not bound to a version node of $map (version: ${ver:-none})"
      case $type in
        T|W|i) echo "$name" >> "$tmp/exp_f" ;;
        *) echo "$name" >> "$tmp/exp_v" ;;
      esac ;;
    *)
      if [ "$type" = A ] && grep -qxF -- "$name" <<<"$nodes"; then continue; fi
      bad "exports non-byol symbol '$name' (type $type)" ;;
  esac
done < "$tmp/nm"

list_api > "$tmp/api"
sed -n 's/^F //p' "$tmp/api" > "$tmp/decl_f"
sed -n 's/^V //p' "$tmp/api" > "$tmp/decl_v"
for k in f v; do
  touch "$tmp/exp_$k"
  sort -u -o "$tmp/exp_$k" "$tmp/exp_$k"
  what=$([ $k = f ] && echo function || echo variable)
  for s in $(comm -23 "$tmp/exp_$k" "$tmp/decl_$k"); do
    bad "exported $what $s has no BYOL_API declaration in include/byol/*.h"
  done
  for s in $(comm -13 "$tmp/exp_$k" "$tmp/decl_$k"); do
    bad "BYOL_API $what $s is not exported by $lib"
  done
done

major=$(sed -n 's/^#define BYOL_VERSION_MAJOR \([0-9]*\).*/\1/p' "$inc/byol_version.h")
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libbyol.so.$major" ] || bad "SONAME is '$soname', want libbyol.so.$major"

# Flags sit between MemSiz and Align; "R E" has a space, so join the fields.
stack=$(readelf -lW "$lib" | awk '$1=="GNU_STACK" {f=""; for (i=7; i<NF; i++) f=f $i; print f}')
if [ -z "$stack" ]; then bad "no GNU_STACK header (the stack would be executable)"
elif [[ $stack == *E* ]]; then bad "GNU_STACK is $stack: executable stack"; fi

[ $fail -eq 0 ] || exit 1
echo "check-symbols: OK: $(wc -l < "$tmp/exp_f") functions, $(wc -l < "$tmp/exp_v") variables" \
     "exported = declared BYOL_API; versions ${nodes//$'\n'/,}; SONAME $soname; stack $stack"
