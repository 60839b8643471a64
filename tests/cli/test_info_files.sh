#!/usr/bin/env bash
# `byol info` refuses exactly the files the library refuses, with the
# library's message, and describes the files the library reads.
#
#   BYOL=build/blis/tools/byol PROBE=build/blis/tests/file_probe bash tests/cli/test_info_files.sh
#
# The files: every file of the safetensors fuzz corpus, two real files
# (a weight file and a trainer checkpoint from tests/fixtures), and those
# two damaged systematically: cut at many lengths, one byte of the length
# field or of the JSON header changed, bytes appended. For each file the
# probe (tests/cli/file_probe.c, public API only) says what byol_net_load()
# makes of it; then
#   - a file the library refuses at the file level: `byol info` must exit 1
#     and print exactly "byol: info: <BYOL_E_NAME>: <the library's message>";
#   - a file the library reads: `byol info` must exit 0 and describe it
#     (its "file", "kind" and "tensors <n>" lines, n as the library counts).
# Prints one "not ok" line per disagreement, then the count of each class;
# exits 1 on any disagreement.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
BYOL=${BYOL:-$root/build/blis/tools/byol}
PROBE=${PROBE:-$root/build/blis/tests/file_probe}
for x in "$BYOL" "$PROBE"; do [ -x "$x" ] || { echo "not ok - $x is not built"; exit 1; }; done

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
corpus=$root/tests/fuzz/corpus/safetensors
weights=$root/tests/fixtures/cnn_small.weights.safetensors
checkpoint=$root/tests/fixtures/pin/lars.safetensors
files=("$corpus"/*)

# damage SRC TAG: variants of SRC in $T, appended to files.
header_len() { od -An -t u8 -N 8 "$1" | tr -d ' '; }
damage() {
  local src=$1 tag=$2 len hlen n at byte
  len=$(stat -c %s "$src")
  hlen=$(header_len "$src")
  for n in 0 1 4 7 8 9 10 16 64 $((8 + hlen / 2)) $((8 + hlen - 2)) $((8 + hlen - 1)) \
           $((8 + hlen)) $((8 + hlen + 1)) $((8 + hlen + 5)) $((len / 2)) $((len - 8)) \
           $((len - 1)); do
    head -c "$n" "$src" > "$T/$tag.cut$n"
    files+=("$T/$tag.cut$n")
  done
  # One byte replaced: in the length field, the opening brace, and spread
  # over the header (quotes, digits, colons and names alike).
  for at in 0 1 2 6 7 8 9 10 $((8 + hlen / 7)) $((8 + hlen / 5)) $((8 + hlen / 3)) \
            $((8 + hlen / 2)) $((8 + 2 * hlen / 3)) $((8 + hlen - 2)) $((8 + hlen - 1)); do
    for byte in 00 22 7d 5b 39 2c ff; do
      cp "$src" "$T/$tag.b$at.$byte"
      printf "\\x$byte" | dd of="$T/$tag.b$at.$byte" bs=1 seek="$at" conv=notrunc status=none
      files+=("$T/$tag.b$at.$byte")
    done
  done
  { cat "$src"; printf 'x'; } > "$T/$tag.plus1"
  { cat "$src"; head -c 8 /dev/zero; } > "$T/$tag.plus8"
  files+=("$T/$tag.plus1" "$T/$tag.plus8" "$src")
}
damage "$weights" weights
damage "$checkpoint" checkpoint

# Nine tensors of 2^60 - 2^30 bytes over one data section: they overlap, and
# their element counts add up past INT64_MAX (a reader of the tool's own
# once accepted this and printed a negative parameter count). The data is a
# hole where the file system allows so large a sparse file (tmpfs does);
# elsewhere it is missing, and the file is refused for that instead.
huge_file() {  # FILE
  local n=$(((1 << 60) - (1 << 30))) h='{' i
  for i in 1 2 3 4 5 6 7 8 9; do
    h+="\"t$i\":{\"dtype\":\"U8\",\"shape\":[1073741824,1073741823],\"data_offsets\":[0,$n]},"
  done
  h="${h%,}}"
  { printf "$(printf '\\x%02x' $((${#h} & 255)) $((${#h} >> 8)) 0 0 0 0 0 0)"; printf '%s' "$h"
  } > "$1"
  truncate -s $((8 + ${#h} + n)) "$1" 2> /dev/null
}
huge=$T/huge.safetensors
huge_file "$huge" || { [ -d /dev/shm ] && huge=$(mktemp -p /dev/shm) && huge_file "$huge"; } ||
  echo "# note: no file system here holds a sparse file of 2^60 bytes; $huge has no data"
trap 'rm -rf "$T"; case $huge in /dev/shm/*) rm -f "$huge" ;; esac' EXIT
# A directory: refused with the library's message, which names it as one.
files+=("$huge" "$T")

refused=0 described=0 bad=0
not_ok() { echo "not ok - ${1#"$root"/}: $2"; bad=$((bad + 1)); }
for f in "${files[@]}"; do
  probe=$("$PROBE" "$f") || { not_ok "$f" "the library disagrees with itself: $probe"; continue; }
  rc=0
  "$BYOL" info "$f" > "$T/out" 2> "$T/err" || rc=$?
  case $probe in
    refused*)
      rest=${probe#refused$'\t'}
      name=${rest%%$'\t'*}
      msg=${rest#*$'\t'}
      want="byol: info: $name: $msg"
      got=$(cat "$T/err")
      if [ "$rc" -ne 1 ]; then not_ok "$f" "the library refuses it ($name: $msg), byol info exits $rc"
      elif [ "$got" != "$want" ]; then not_ok "$f" "byol info says '$got', the library '$want'"
      else refused=$((refused + 1)); fi ;;
    read*)
      n=${probe#read$'\t'}
      if [ "$rc" -ne 0 ]; then not_ok "$f" "the library reads it, byol info exits $rc: $(head -c 300 "$T/err")"
      elif ! grep -q "^file  " "$T/out" || ! grep -q "^kind  " "$T/out" ||
           ! grep -qx "tensors  *$n" "$T/out"; then
        not_ok "$f" "byol info does not describe it as the library reads it ($n tensors)"
      else described=$((described + 1)); fi ;;
  esac
done
echo "# byol info vs the library: ${#files[@]} files: $refused refused by both with the" \
     "library's message, $described read and described, $bad disagreements"
[ "$bad" -eq 0 ]
