#!/usr/bin/env bash
# Smoke test of the examples, run by `make test`:
#   examples/test.sh BIN_DIR [FASHION_MNIST_DIR]
# - cpp_raii trains 2 steps on random images and embeds a batch;
# - custom_loop runs 4 steps straight, then the same run stopped after 2
#   (--stop-at) and continued with --resume: the resumed steps must print
#   the straight run's losses and end with the same checkpoint, bit for bit.
#   Without Fashion-MNIST it is skipped, saying so.
set -euo pipefail
bin=$1 fmnist=${2:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "examples: FAIL: $*" >&2; exit 1; }

echo "== examples/cpp_raii"
"$bin/cpp_raii" 2 || fail "cpp_raii exited $?"

echo "== examples/custom_loop (4 steps, then stopped at 2 and --resume'd)"
if [ ! -d "$fmnist" ]; then
  echo "skipped: no Fashion-MNIST at $fmnist (apt-get install dataset-fashion-mnist, or FMNIST_DIR=...)"
  exit 0
fi
loop() { "$bin/custom_loop" --steps 4 --save-every 2 "$@" "$fmnist"; }
loop --checkpoint "$tmp/straight.safetensors" > "$tmp/straight.log" ||
  { rc=$?; cat "$tmp/straight.log"; fail "custom_loop (straight) exited $rc"; }
loop --checkpoint "$tmp/resumed.safetensors" --stop-at 2 > "$tmp/resumed.log" ||
  { rc=$?; cat "$tmp/resumed.log"; fail "custom_loop --stop-at 2 exited $rc"; }
loop --checkpoint "$tmp/resumed.safetensors" --resume | tee -a "$tmp/resumed.log" ||
  fail "custom_loop --resume exited $?"
grep -q '^resumed .* at step 2 ' "$tmp/resumed.log" || fail "custom_loop --resume did not start at step 2"
diff <(grep '^step' "$tmp/straight.log") <(grep '^step' "$tmp/resumed.log") ||
  fail "the stopped and resumed run printed other losses than the straight one (above)"
cmp -s "$tmp/straight.safetensors" "$tmp/resumed.safetensors" ||
  fail "the resumed run's checkpoint differs from the straight run's"
echo "ok: the resumed run printed the straight run's losses and saved the same checkpoint"
