#!/usr/bin/env bash
# scripts/check-includes.sh must pass on the tree and fail, naming the file,
# the line and the rule, on each wrong include planted in a copy of it.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
check=$here/scripts/check-includes.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

# A fresh copy of the folders the script reads.
copy() {
  rm -rf "$tmp/root"
  mkdir -p "$tmp/root"
  cp -r "$here/src" "$here/tests" "$here/tools" "$here/examples" "$here/bench" "$tmp/root/"
}

# plant FILE LINE-TEXT EXPECTED: the include goes after line 1 of FILE (made
# if missing); the script must exit 1 with EXPECTED in its output
# ("FILE:2: " is put before EXPECTED when it starts with "includes").
plant() {
  local file=$1 text=$2 want=$3 out rc=0
  [[ $want != includes* ]] || want="$file:2: $want"
  copy
  mkdir -p "$(dirname "$tmp/root/$file")"
  [ -f "$tmp/root/$file" ] || echo "/* planted */" > "$tmp/root/$file"
  sed -i "1a $text" "$tmp/root/$file"
  out=$(bash "$check" "$tmp/root" 2>&1) || rc=$?
  if [ $rc -eq 1 ] && grep -qF "$want" <<<"$out"; then
    ok "$text in $file is refused: $want"
  else
    not_ok "$text in $file: exit $rc, output: $out"
  fi
}

copy
if bash "$check" "$tmp/root" > /dev/null; then ok "the tree as it is passes"; else not_ok "the tree fails"; fi

plant src/train/step.c '#include "nn/graph.h"' 'includes "nn/graph.h", private to src/nn'
plant src/eval/knn.c '#include "nn/kernels.h"' 'includes "nn/kernels.h", private to src/nn'
plant src/io/file.c '#include "nn/nn.h"' 'includes "nn/nn.h": module io may not depend on nn'
plant src/io/json.c '#include "data/dataset.h"' 'includes "data/dataset.h": module io may not depend on data'
plant src/io/safetensors.c '#include "train/trainer.h"' 'includes "train/trainer.h": module io may not depend on train'
plant src/nn/run.c '#include "train/trainer.h"' 'includes "train/trainer.h": module nn may not depend on train'
plant src/train/loss.c '#include <nn/graph.h>' 'includes "nn/graph.h", private to src/nn'
plant src/core/log.c '#include "io/file.h"' 'includes "io/file.h": module core may not depend on io'
plant tests/unit/test_layers_conv.c '#include "nn/graph.h"' 'includes "nn/graph.h", private to src/nn'
plant tools/byol/main.c '#include "core/internal.h"' 'includes "core/internal.h": tools, examples, bench and bindings use the public API only'
plant src/widgets/widget.c '#include "core/internal.h"' \
  'src/widgets: a module without a row in scripts/check-includes.sh'

echo "check-includes self-test: $pass passed, $fail failed"
[ $fail -eq 0 ]
