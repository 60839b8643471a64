#!/usr/bin/env bash
# Tests of the byol command: every subcommand's success path and its error
# paths, with exact exit codes (0 success, 1 runtime error, 2 usage error,
# 130 interrupted). One line per case, "ok - ..." or "not ok - ...", then a
# summary; exit 1 if any case failed.
#
#   BYOL=build/blis/tools/byol bash tests/cli/test_cli.sh
#
# The data is made here: two tiny folders of 28x28 PGM images in two classes
# (vertical and horizontal stripes), so the suite takes seconds. When the
# CIFAR-10 JPEG folders are unpacked (make data; BYOL_CIFAR10_JPG, default
# build/data/cifar10-jpg) a last group pretrains, resumes and evaluates on
# them with the cifar10 preset at a small width.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
BYOL=${BYOL:-$root/build/blis/tools/byol}
CIFAR=${BYOL_CIFAR10_JPG:-$root/build/data/cifar10-jpg}
case $BYOL in /*) ;; *) BYOL=$root/$BYOL ;; esac
case $CIFAR in /*) ;; *) CIFAR=$root/$CIFAR ;; esac
[ -x "$BYOL" ] || { echo "not ok - $BYOL is not built"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 failed=0

ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
show() { sed 's/^/#   /' "$1" | head -n "${2:-6}"; }

# run CODE DESC CMD...: CMD must exit with CODE; its output is in $T/out, $T/err.
run() {
  local want=$1 desc=$2 rc=0
  shift 2
  "$@" > "$T/out" 2> "$T/err" < /dev/null || rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$desc (exit $rc)"; return 0; fi
  not_ok "$desc: exit $rc, want $want"
  show "$T/err"
  return 1
}

# check DESC CONDITION...: a test of what the last command left.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; show "$T/err" 3; fi
}

# both PATTERN1 PATTERN2 FILE: FILE matches both.
both() { grep -qE -- "$1" "$3" && grep -qE -- "$2" "$3"; }

# run_err CODE PATTERN DESC CMD...: as run, and stderr must match PATTERN
# (an error names the file, key or flag at fault).
run_err() {
  local want=$1 pattern=$2 desc=$3
  shift 3
  run "$want" "$desc" "$@" || return 0
  if grep -qE -- "$pattern" "$T/err"; then ok "$desc: message names '$pattern'"
  else not_ok "$desc: stderr lacks '$pattern'"; show "$T/err"; fi
}

# ---- data ------------------------------------------------------------------------
# A 28x28 8-bit PGM with stripes 4 pixels wide: vertical (class "v") or
# horizontal ("h"), shifted by `phase` so no two images are alike.
pgm() {  # pgm FILE v|h PHASE
  local file=$1 kind=$2 phase=$3 x y row dark='\040' light='\340'
  {
    printf 'P5\n28 28\n255\n'
    for ((y = 0; y < 28; y++)); do
      row=
      for ((x = 0; x < 28; x++)); do
        local t=$(( kind == v ? x : y ))
        if (( ((t + phase) / 4) % 2 )); then row+=$light; else row+=$dark; fi
      done
      printf '%b' "$row"
    done
  } > "$file"
}
# kind as a number for the arithmetic above
v=0 h=1
make_split() {  # DIR COUNT_PER_CLASS
  local c i
  for c in v h; do
    mkdir -p "$1/$c"
    for ((i = 0; i < $2; i++)); do pgm "$1/$c/$c$i.pgm" "${!c}" "$i"; done
  done
}
make_split "$T/train" 12
make_split "$T/test" 4
# The same images as IDX files (the MNIST layout): a directory holding the
# train-* and t10k-* pairs, so data.split picks the files.
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
make_idx() {  # SRC_DIR PREFIX
  local files=("$1"/v/*.pgm "$1"/h/*.pgm) f n
  n=${#files[@]}
  { printf '%b' "\x00\x00\x08\x03$(be32 "$n")$(be32 28)$(be32 28)"
    for f in "${files[@]}"; do tail -c 784 "$f"; done; } > "$T/idx/$2-images-idx3-ubyte"
  { printf '%b' "\x00\x00\x08\x01$(be32 "$n")"
    for f in "${files[@]}"; do case $f in */v/*) printf '\x00' ;; *) printf '\x01' ;; esac; done
  } > "$T/idx/$2-labels-idx1-ubyte"
}
mkdir -p "$T/idx"
make_idx "$T/train" train
make_idx "$T/test" t10k
mkdir -p "$T/unlabeled"
for i in 0 1 2 3; do pgm "$T/unlabeled/u$i.pgm" 0 "$i"; done
head -c 1000 /dev/urandom > "$T/garbage.safetensors"

# cnn-small (1x28x28 inputs) at 1/8 width with narrow heads: milliseconds a step.
# eval.grid=1: the cases below count the encoder's 16 output floats, not the
# preset's 2x2 grid of its last map (the eval.grid cases set it themselves).
TINY=(--preset fashion-mnist --set net.width=0.125 --set eval.grid=1
      --set "byol.proj_hidden=32 byol.pred_hidden=32 byol.proj_out=16"
      --batch-size 8 --threads 2 --workers 1)
RUN=$T/run
CKPT=$RUN/checkpoint.safetensors

npy_header() { head -c 128 "$1" | tr -d '\000' | LC_ALL=C tr -c '[:print:]' ' '; }
steps_logged() { grep -c '"type":"step"' "$RUN/metrics.jsonl"; }

# ---- the command -------------------------------------------------------------------
run 0 "byol --help" "$BYOL" --help
check "byol --help lists the subcommands" grep -q "pretrain" "$T/out"
run 0 "byol --version" "$BYOL" --version
run 2 "byol with no command" "$BYOL"
run 2 "byol with an unknown command" "$BYOL" frobnicate
for c in pretrain eval embed preview export info; do
  run 0 "byol $c --help" "$BYOL" "$c" --help
  check "byol $c --help shows usage and exit codes" \
    both "Usage: byol $c" "Exit status" "$T/out"
done

# ---- pretrain ----------------------------------------------------------------------
run 0 "pretrain 3 steps" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 3 --out "$RUN" \
  --checkpoint-every 2 --monitor-data "$T/test" --monitor-every 2 --monitor-bank 16 --monitor-queries 8
for f in checkpoint.safetensors metrics.jsonl plot.svg config.txt preview.png; do
  check "pretrain wrote $f" test -s "$RUN/$f"
done
check "metrics.jsonl has 3 step records" test "$(steps_logged)" -eq 3
check "metrics.jsonl has monitor records" grep -q '"type":"monitor","step":2,.*"knn_top1":' "$RUN/metrics.jsonl"
check "metrics records carry loss, lr, tau, img_s" grep -q '"loss":.*"lr":.*"tau":.*"img_s":' "$RUN/metrics.jsonl"
check "plot.svg is an SVG with axis labels" grep -q '<svg.*>step</text>' <(tr -d '\n' < "$RUN/plot.svg")
check "preview.png is a PNG" test "$(head -c 8 "$RUN/preview.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a
check "config.txt holds the --set values" grep -qx 'net.width=0.125' "$RUN/config.txt"
run_err 2 "exists" "pretrain refuses to overwrite a run" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 3 --out "$RUN"
run 0 "pretrain --resume to step 5" "$BYOL" pretrain --data "$T/train" --resume "$CKPT" --steps 5 --out "$RUN"
check "the resumed run logged steps 4 and 5 after 1-3" test "$(steps_logged)" -eq 5
check "the last record is step 5" grep -q '"step":5,' <(tail -n 1 "$RUN/metrics.jsonl")
run 0 "info on the resumed checkpoint" "$BYOL" info "$CKPT"
check "the checkpoint is at step 5 of 5" grep -q "step  *5 of 5" "$T/out"
run 0 "pretrain --resume at the last step does nothing" \
  "$BYOL" pretrain --data "$T/train" --resume "$CKPT" --out "$RUN"
# Resuming continues the same run: a run stopped at step 4, mid-epoch (--stop-at keeps
# the 6-step schedules) and resumed logs the losses of an uninterrupted run.
run 0 "pretrain 6 steps straight" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 6 \
  --out "$T/straight" --quiet
run 0 "pretrain 6 steps, --stop-at 4" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 6 \
  --stop-at 4 --out "$T/split"
check "--stop-at says how to continue" grep -q "stopped at step 4 of 6" "$T/err"
run 0 "pretrain --resume the stopped run" "$BYOL" pretrain --data "$T/train" \
  --resume "$T/split/checkpoint.safetensors" --out "$T/split"
losses() { grep -o '"step":[0-9]*,"epoch":[0-9]*,"loss":[^,]*,"loss_12":[^,]*,"loss_21":[^,]*,"lr":[^,]*,"tau":[^,]*' "$1"; }
check "stopped + resumed logs the same steps, losses, lr and tau as straight" \
  cmp -s <(losses "$T/straight/metrics.jsonl") <(losses "$T/split/metrics.jsonl")
check "both end at step 6" grep -q '"step":6,' <(tail -n 1 "$T/split/metrics.jsonl")
# A stored setting holding a quote (issue 13: the checkpoint became unusable):
# labels in a file whose name has one. config.txt and the checkpoint quote the
# value with the quote doubled; --resume, export and info read it back.
QL="$T/idx/la\"bels"
cp "$T/idx/train-labels-idx1-ubyte" "$QL"
run 0 "pretrain with data.labels holding a quote" "$BYOL" pretrain \
  --data "$T/idx/train-images-idx3-ubyte" "${TINY[@]}" --set "data.labels=$QL" --steps 2 \
  --out "$T/quote" --quiet
check "config.txt doubles the quote inside quotes" \
  grep -qxF "data.labels=\"${QL//\"/\"\"}\"" "$T/quote/config.txt"
run 0 "pretrain --resume of that run" "$BYOL" pretrain --data "$T/idx/train-images-idx3-ubyte" \
  --resume "$T/quote/checkpoint.safetensors" --steps 3 --out "$T/quote" --quiet
run 0 "export of that run" "$BYOL" export --checkpoint "$T/quote/checkpoint.safetensors" \
  --out "$T/quote.safetensors" --quiet
run 0 "info on that checkpoint" "$BYOL" info "$T/quote/checkpoint.safetensors"
check "... whose settings this version reads" both "^step +3 of 3" "^settings +\(those" "$T/out"
rm -f "$QL"
run_err 1 "la\"bels" "a resume opens the stored labels path (now gone), as stored" \
  "$BYOL" pretrain --data "$T/idx/train-images-idx3-ubyte" \
  --resume "$T/quote/checkpoint.safetensors" --steps 4 --out "$T/quote" --quiet
run 0 "pretrain --epochs 2 (24 images, batch 8)" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" \
  --epochs 2 --out "$T/epochs" --quiet
check "--epochs 2 made 6 steps" grep -q '"step":6,' <(tail -n 1 "$T/epochs/metrics.jsonl")
# The preset trains with AdamW: a resume under another optimizer is refused
# (its state would be dropped without a word), and goes on with --new-optimizer.
run_err 1 "optim.exp_avg.*adamw.*--new-optimizer" "--resume with another optimizer is refused" \
  "$BYOL" pretrain --data "$T/train" --resume "$T/epochs/checkpoint.safetensors" \
  --set "optim.name=sgd optim.momentum=0" --steps 8 --out "$T/epochs"
check "... and leaves the checkpoint at step 6" \
  grep -q "step  *6 of 6" <("$BYOL" info "$T/epochs/checkpoint.safetensors")
run 0 "--resume --new-optimizer switches to SGD" "$BYOL" pretrain --data "$T/train" \
  --resume "$T/epochs/checkpoint.safetensors" --set "optim.name=sgd optim.momentum=0" \
  --new-optimizer --steps 8 --out "$T/epochs"
check "... with a warning that the optimizer state is dropped" \
  grep -q "optimizer state.*is dropped" "$T/err"
"$BYOL" info "$T/epochs/checkpoint.safetensors" > "$T/out" 2>&1
check "... and a checkpoint of step 8 trained with SGD, without the permission" \
  both "step +8 of 8" "optim.name=sgd" "$T/out"
check "... so the next resume is checked again" test "$(grep -c "allow_optim_change" "$T/out")" -eq 0
run_err 2 "--new-optimizer needs --resume" "--new-optimizer without --resume" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --new-optimizer --out "$T/x"
check "pretrain --help names --new-optimizer" grep -q -- "--new-optimizer" <("$BYOL" pretrain --help)

# nn.precision=bf16 (at half width cnn-small's 3x3 layers have 16k channels,
# so they run Winograd) on this CPU (AMX tiles where it has them), and forced
# down to each fallback by BYOL_CPU_DISABLE: every run completes and records
# the modes it ran.
BF16=("${TINY[@]}" --set "net.width=0.5 nn.precision=bf16" --steps 2 --quiet)
run 0 "pretrain with nn.precision=bf16" "$BYOL" pretrain --data "$T/train" "${BF16[@]}" --out "$T/bf16"
"$BYOL" info "$T/bf16/checkpoint.safetensors" > "$T/out" 2>&1
check "the checkpoint records its modes" grep -qE "^modes +nn.conv_algo=\S+ nn.precision=(bf16|fp32)$" "$T/out"
bf16_here=$(grep -c "^modes.*nn.precision=bf16" "$T/out")
# (added to what the caller's BYOL_CPU_DISABLE already turns off, as CI's
# OpenBLAS step turns off avx512)
run 0 "pretrain with nn.precision=bf16, BYOL_CPU_DISABLE=amx" \
  env BYOL_CPU_DISABLE="${BYOL_CPU_DISABLE:+$BYOL_CPU_DISABLE,}amx" \
  "$BYOL" pretrain --data "$T/train" "${BF16[@]}" --out "$T/noamx"
"$BYOL" info "$T/noamx/checkpoint.safetensors" > "$T/out" 2>&1
check "without AMX it ran the same modes (bf16 on vdpbf16ps where the CPU has it)" \
  test "$(grep -c "^modes.*nn.precision=bf16" "$T/out")" -eq "$bf16_here"
run 0 "pretrain with nn.precision=bf16, BYOL_CPU_DISABLE=avx512bf16" env BYOL_CPU_DISABLE=avx512bf16 \
  "$BYOL" pretrain --data "$T/train" "${BF16[@]}" --out "$T/nobf16"
"$BYOL" info "$T/nobf16/checkpoint.safetensors" > "$T/out" 2>&1
check "without AVX512_BF16 it ran fp32 (Winograd where AVX-512 is)" \
  grep -qE "^modes +nn.conv_algo=(winograd|im2col) nn.precision=fp32$" "$T/out"
run 0 "pretrain with nn.precision=bf16, BYOL_CPU_DISABLE=avx512" env BYOL_CPU_DISABLE=avx512 \
  "$BYOL" pretrain --data "$T/train" "${BF16[@]}" --out "$T/noavx"
"$BYOL" info "$T/noavx/checkpoint.safetensors" > "$T/out" 2>&1
check "without AVX-512 it ran fp32 im2col" grep -qE "^modes +nn.conv_algo=im2col nn.precision=fp32$" "$T/out"
if [ "$bf16_here" -eq 1 ]; then
  run 0 "export of the bf16 run without AVX512_BF16 (reading weights needs no same modes)" \
    env BYOL_CPU_DISABLE=avx512bf16 "$BYOL" export --checkpoint "$T/bf16/checkpoint.safetensors" \
    --out "$T/bf16_encoder.safetensors" --quiet
  run_err 1 "allow_mode_change" "--resume of the bf16 run without AVX512_BF16 is refused" \
    env BYOL_CPU_DISABLE=avx512bf16 "$BYOL" pretrain --data "$T/train" \
    --resume "$T/bf16/checkpoint.safetensors" --steps 3 --out "$T/bf16"
  run 0 "... and goes on with --set train.allow_mode_change=1" env BYOL_CPU_DISABLE=avx512bf16 \
    "$BYOL" pretrain --data "$T/train" --resume "$T/bf16/checkpoint.safetensors" \
    --set train.allow_mode_change=1 --steps 3 --out "$T/bf16" --quiet
  "$BYOL" info "$T/bf16/checkpoint.safetensors" > "$T/out" 2>&1
  check "the resumed checkpoint records the new modes and not the permission" \
    both "^modes +nn.conv_algo=winograd nn.precision=fp32$" "^settings" "$T/out"
  check "... so the next resume is checked again" \
    test "$(grep -c "allow_mode_change" "$T/out")" -eq 0
else
  echo "# SKIPPED: the resume refusal under other modes (this CPU has no AVX512_BF16)"
fi

run_err 2 "required" "pretrain without --data" "$BYOL" pretrain --out "$T/x"
run_err 1 "$T/missing" "pretrain on a missing folder" \
  "$BYOL" pretrain --data "$T/missing" "${TINY[@]}" --steps 1 --out "$T/x"
run_err 2 "no\.such" "pretrain --set no.such=1 (bad key)" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --set no.such=1 --steps 1 --out "$T/x"
run_err 2 "net\.width" "pretrain --set net.width=abc (bad value)" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --set net.width=abc --steps 1 --out "$T/x"
run_err 2 "net\.width" "pretrain --set net.width=-1 (out of range)" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --set net.width=-1 --steps 1 --out "$T/x"
run_err 2 "nope" "pretrain --preset nope" "$BYOL" pretrain --data "$T/train" --preset nope --out "$T/x"
run_err 2 "--steps" "pretrain --steps 0" "$BYOL" pretrain --data "$T/train" --steps 0 --out "$T/x"
run_err 2 "--steps" "pretrain --steps abc" "$BYOL" pretrain --data "$T/train" --steps abc --out "$T/x"
run_err 2 "--epochs" "pretrain --epochs with --steps" \
  "$BYOL" pretrain --data "$T/train" --epochs 1 --steps 1 --out "$T/x"
run_err 2 "--bogus" "pretrain --bogus" "$BYOL" pretrain --bogus
run_err 2 "--monitor-data" "pretrain --monitor-every without --monitor-data" \
  "$BYOL" pretrain --data "$T/train" --monitor-every 5 --out "$T/x"
run_err 1 "garbage.safetensors" "pretrain --resume a garbage file" \
  "$BYOL" pretrain --data "$T/train" --resume "$T/garbage.safetensors" --out "$T/x"
head -c 3000 "$CKPT" > "$T/truncated.safetensors"
run_err 1 "truncated.safetensors" "pretrain --resume a truncated checkpoint" \
  "$BYOL" pretrain --data "$T/train" --resume "$T/truncated.safetensors" --out "$T/x"
run_err 1 "$T/nothere" "pretrain --resume a missing file" \
  "$BYOL" pretrain --data "$T/train" --resume "$T/nothere" --out "$T/x"
run_err 1 "labels" "pretrain --monitor-data on unlabelled images" \
  "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 1 --monitor-data "$T/unlabeled" --out "$T/x"

# A file that is not an image: the loader stops on it (exit 1, naming it),
# or with loader.on_error=skip steps over it (the preview only warns).
cp -r "$T/train" "$T/bad"
echo "not an image" > "$T/bad/h/h0.pgm"
run_err 1 "h0\.pgm" "pretrain on a folder with a bad image" \
  "$BYOL" pretrain --data "$T/bad" "${TINY[@]}" --steps 3 --out "$T/x"
run 0 "pretrain with loader.on_error=skip over a bad image" \
  "$BYOL" pretrain --data "$T/bad" "${TINY[@]}" --set loader.on_error=skip --steps 3 --out "$T/x" --force
check "the skipped image is counted" grep -q "warning: 1 image could not be decoded" "$T/err"
# The preview draws across classes: with class h all bad, one of its images fails it.
cp -r "$T/train" "$T/badh"
for f in "$T"/badh/h/*.pgm; do echo "not an image" > "$f"; done
run 0 "pretrain with loader.on_error=skip over a class of bad images" \
  "$BYOL" pretrain --data "$T/badh" "${TINY[@]}" --set loader.on_error=skip --steps 3 \
  --out "$T/x" --force
check "the preview's failure is only a warning" \
  grep -q "warning: no preview.png: .*/h/h[0-9]*\.pgm" "$T/err"

# Ctrl-C: the loop saves a checkpoint and exits 130.
"$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 100000 --checkpoint-every 0 \
  --out "$T/int" > "$T/out" 2> "$T/err" &
pid=$!
for _ in $(seq 100); do
  [ -s "$T/int/metrics.jsonl" ] && break
  sleep 0.1
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
if [ $rc -eq 130 ]; then ok "SIGINT stops pretrain with exit 130"
else not_ok "SIGINT: exit $rc, want 130"; show "$T/err"; fi
check "SIGINT: the message says where the checkpoint is" grep -q "checkpoint saved to $T/int/checkpoint.safetensors" "$T/err"
"$BYOL" info "$T/int/checkpoint.safetensors" > "$T/out" 2>&1
check "SIGINT: the checkpoint holds the steps done" grep -qE "step +[1-9][0-9]* of 100000" "$T/out"

# ---- the run directory: one writer, --force, files that are not files ---------------
# wait_for FILE PATTERN: up to 20 s for FILE to hold a line matching PATTERN.
wait_for() {
  for _ in $(seq 200); do grep -qE -- "$2" "$1" 2> /dev/null && return 0; sleep 0.1; done
  return 1
}
# whole_records FILE: every line is one whole record (a cut one would run into the next).
whole_records() { ! grep -qvE '^\{"type":"(step|monitor)","step":[0-9]+,[^{}]*\}$' "$1"; }
# A second pretrain on a directory in use fails at once (under timeout: a wait
# for the lock would hang), naming the directory and the process holding it.
"$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 100000 --checkpoint-every 0 \
  --out "$T/busy" > /dev/null 2>&1 &
pid=$!
wait_for "$T/busy/metrics.jsonl" '"type":"step"'
run_err 1 "$T/busy is in use by byol pretrain, pid $pid on host [^ ]+" \
  "a second pretrain on a directory in use is refused" \
  timeout 20 "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 2 --out "$T/busy" --force
check "... and the first run goes on" kill -0 "$pid"
check "... its metrics.jsonl whole records" whole_records "$T/busy/metrics.jsonl"
kill -9 "$pid"
wait "$pid" 2> /dev/null
# The lock goes with its process: after kill -9 the directory is free.
run 0 "after kill -9 of the holder, a new run takes the directory" \
  timeout 60 "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 2 --out "$T/busy" --force

# --force, then kill -9 before the new run's first checkpoint: no file of the
# old run is left beside the new run's (the old checkpoint is removed first).
run 0 "pretrain a run to replace" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 3 \
  --out "$T/re"
"$BYOL" pretrain --data "$T/train" "${TINY[@]}" --set seed=7 --steps 100000 \
  --checkpoint-every 0 --out "$T/re" --force > /dev/null 2>&1 &
pid=$!
wait_for "$T/re/config.txt" '^seed=7$' && wait_for "$T/re/metrics.jsonl" '"type":"step"'
kill -9 "$pid"
wait "$pid" 2> /dev/null
check "--force killed before its first checkpoint: the old checkpoint is gone" \
  test ! -e "$T/re/checkpoint.safetensors"
check "... and the old plot" test ! -e "$T/re/plot.svg"
check "... the new run's settings are there" grep -qx seed=7 "$T/re/config.txt"
check "... and its metrics, whole records" whole_records "$T/re/metrics.jsonl"
run_err 1 "$T/re/checkpoint.safetensors" "--resume of it is refused: no checkpoint" \
  "$BYOL" pretrain --data "$T/train" --resume "$T/re/checkpoint.safetensors" --out "$T/re"
run 0 "a new run there needs no --force" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" \
  --steps 2 --out "$T/re"

# metrics.jsonl is an append log: a record cut short by a crash is dropped on --resume.
run 0 "pretrain 2 steps" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 2 --out "$T/cut"
printf '{"type":"step","step":2,"epo' >> "$T/cut/metrics.jsonl"
run 0 "--resume after a record cut short" "$BYOL" pretrain --data "$T/train" \
  --resume "$T/cut/checkpoint.safetensors" --steps 3 --out "$T/cut"
check "the cut record is dropped, the others whole" whole_records "$T/cut/metrics.jsonl"
check "... steps 1, 2 and 3, one record each" test "$(grep -c . "$T/cut/metrics.jsonl")" -eq 3

# A FIFO, or a link to a device, where the command writes metrics.jsonl: refused
# at once (under timeout: opening a FIFO blocks), naming it, and left as it is.
run 0 "pretrain 2 steps" "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 2 --out "$T/fiforun"
rm "$T/fiforun/metrics.jsonl"
mkfifo "$T/fiforun/metrics.jsonl"
run_err 1 "$T/fiforun/metrics.jsonl: is a FIFO" "--resume with metrics.jsonl a FIFO is refused" \
  timeout 20 "$BYOL" pretrain --data "$T/train" --resume "$T/fiforun/checkpoint.safetensors" \
  --steps 3 --out "$T/fiforun"
run_err 1 "$T/fiforun/metrics.jsonl: is a FIFO" "--force with metrics.jsonl a FIFO is refused" \
  timeout 20 "$BYOL" pretrain --data "$T/train" "${TINY[@]}" --steps 2 --out "$T/fiforun" --force
check "... and changes nothing: the FIFO stays" test -p "$T/fiforun/metrics.jsonl"
check "... and so does the checkpoint" test -s "$T/fiforun/checkpoint.safetensors"
rm "$T/fiforun/metrics.jsonl"
ln -s /dev/null "$T/fiforun/metrics.jsonl"
run_err 1 "$T/fiforun/metrics.jsonl: is a character device" \
  "--resume with metrics.jsonl a link to /dev/null is refused" \
  timeout 20 "$BYOL" pretrain --data "$T/train" --resume "$T/fiforun/checkpoint.safetensors" \
  --steps 3 --out "$T/fiforun"
check "... and the link stays" test -L "$T/fiforun/metrics.jsonl"

# ---- eval ------------------------------------------------------------------------------
EV=(--data "$T/train" --test-data "$T/test" --threads 2 --workers 1)
run 0 "eval --checkpoint" "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}"
check "eval prints k-NN and probe top-1" both "k-NN top-1 .*%" "probe top-1 .*%" "$T/out"
run 0 "eval --json --knn-only" "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" --json --knn-only
check "eval --json prints one JSON object" grep -qE '^\{"encoder":.*"knn_top1":[0-9.]+,"probe_top1":null' "$T/out"
run 0 "eval --pixels --limit 10" "$BYOL" eval --pixels --preset fashion-mnist "${EV[@]}" --limit 10 --json
check "eval --limit 10 used 10 images per split" grep -q '"n_train":10,"n_test":8,"dim":784' "$T/out"
run 0 "eval --pixels on an IDX directory (train and t10k files)" "$BYOL" eval --pixels \
  --preset fashion-mnist --data "$T/idx" --test-data "$T/idx" --json
check "the IDX test split is the t10k files" grep -q '"n_train":24,"n_test":8,' "$T/out"
run 0 "eval --random-init" "$BYOL" eval --random-init "${TINY[@]}" "${EV[@]}" --probe-only
run_err 1 "garbage.safetensors" "eval a garbage checkpoint" \
  "$BYOL" eval --checkpoint "$T/garbage.safetensors" "${EV[@]}"
run_err 1 "truncated.safetensors" "eval a truncated checkpoint" \
  "$BYOL" eval --checkpoint "$T/truncated.safetensors" "${EV[@]}"
run_err 1 "$T/nothere" "eval a missing checkpoint" "$BYOL" eval --checkpoint "$T/nothere" "${EV[@]}"
run_err 1 "$T/missing" "eval on a missing test folder" \
  "$BYOL" eval --checkpoint "$CKPT" --data "$T/train" --test-data "$T/missing"
run_err 2 "--test-data" "eval without --test-data" "$BYOL" eval --checkpoint "$CKPT" --data "$T/train"
run_err 2 "--checkpoint" "eval without an encoder" "$BYOL" eval "${EV[@]}"
run_err 2 "only one" "eval with two encoders" "$BYOL" eval --pixels --random-init "${EV[@]}"
run_err 2 "eval\.knn_k" "eval --set eval.knn_k=0 (bad value)" \
  "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" --set eval.knn_k=0
run_err 1 "labels" "eval on unlabelled images" \
  "$BYOL" eval --checkpoint "$CKPT" --data "$T/unlabeled" --test-data "$T/test"
# eval.grid=2: cnn-small's 16x7x7 map (net.width=0.125) on a 2x2 grid, 64 floats a row,
# for the whole dataset and for an evenly spaced subset (--limit) alike.
run 0 "eval --set eval.grid=2" "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" --set eval.grid=2 --json
check "eval.grid=2 embeds 16*2*2 floats a row" grep -q '"n_train":24,"n_test":8,"dim":64,' "$T/out"
run 0 "eval --set eval.grid=2 --limit 10" "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" \
  --set eval.grid=2 --limit 10 --json
check "... and on a subset too" grep -q '"n_train":10,"n_test":8,"dim":64,' "$T/out"
run_err 2 "eval\.grid" "eval --set eval.grid=17 (bad value)" \
  "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" --set eval.grid=17
run_err 1 "eval\.grid=8.*\[16,7,7\]" "eval --set eval.grid=8 (larger than the 7x7 map)" \
  "$BYOL" eval --checkpoint "$CKPT" "${EV[@]}" --set eval.grid=8

# ---- embed -------------------------------------------------------------------------------
run 0 "embed to .npy" "$BYOL" embed --checkpoint "$CKPT" --data "$T/train" --out "$T/emb.npy"
check "the .npy header says float32 (24, 16)" \
  grep -q "NUMPY.*{'descr': '<f4', 'fortran_order': False, 'shape': (24, 16), }" <(npy_header "$T/emb.npy")
check "the .npy is 128 + 24*16*4 bytes" test "$(stat -c %s "$T/emb.npy")" -eq $((128 + 24 * 16 * 4))
check "the labels .npy says int32 (24,)" \
  grep -q "{'descr': '<i4', 'fortran_order': False, 'shape': (24,), }" <(npy_header "$T/emb.labels.npy")
check "emb.sources.csv: a header and 24 rows" test "$(wc -l < "$T/emb.sources.csv")" -eq 25
check "emb.sources.csv: its header, row 0 is h/h0.pgm" \
  both '^index,source$' '^0,h/h0\.pgm$' "$T/emb.sources.csv"
check "emb.sources.csv ends with 23,v/v9.pgm" \
  test "$(tail -n 1 "$T/emb.sources.csv")" = "23,v/v9.pgm"
run 0 "embed --limit 6 to .safetensors" "$BYOL" embed --checkpoint "$CKPT" --data "$T/train" \
  --limit 6 --out "$T/emb.safetensors"
run 0 "info reads the embeddings file" "$BYOL" info "$T/emb.safetensors"
check "the safetensors file holds 2 tensors" grep -q "tensors  *2" "$T/out"
check "the safetensors header names embeddings [6,16]" \
  grep -q '"embeddings":{"dtype":"F32","shape":\[6,16\]' <(head -c 400 "$T/emb.safetensors" | tr -d '\000')
check "the safetensors file has its emb.sources.csv too" \
  test "$(wc -l < "$T/emb.sources.csv")" -eq 7
check "the --limit 6 rows name their images (evenly spaced)" \
  test "$(tail -n +2 "$T/emb.sources.csv" | cut -d, -f1 | tr '\n' ' ')" = "0 4 8 12 16 20 "
check "... and their files" test "$(sed -n 3p "$T/emb.sources.csv")" = "4,h/h2.pgm"
# floats of a .npy past its 128-byte header: rows FIRST.. (every STEP-th) of DIM floats.
npy_rows() { od -A n -t f4 -v -j 128 "$1" | tr -s ' ' '\n' | sed '/^$/d' |
  awk -v d="$2" -v s="$3" 'int((NR - 1) / d) % s == 0'; }
run 0 "embed --set eval.grid=2" "$BYOL" embed --checkpoint "$CKPT" --data "$T/train" \
  --set eval.grid=2 --out "$T/grid.npy"
check "the grid .npy is (24, 64)" grep -q "'shape': (24, 64)" <(npy_header "$T/grid.npy")
run 0 "embed --set eval.grid=2 --limit 6" "$BYOL" embed --checkpoint "$CKPT" --data "$T/train" \
  --set eval.grid=2 --limit 6 --out "$T/grid6.npy"
check "the --limit 6 grid rows are rows 0, 4, .. 20 of the whole" \
  awk 'NR == FNR { a[NR] = $1; next } { n++; d = $1 - a[FNR]; if (d * d > 1e-10 * (1 + $1 * $1)) bad = 1 }
       END { exit bad || n != 6 * 64 }' <(npy_rows "$T/grid.npy" 64 4) <(npy_rows "$T/grid6.npy" 64 1)
mkdir -p "$T/mixed"
cp "$T/train/v/v0.pgm" "$T/train/v/v1.pgm" "$T/mixed/"
{ printf 'P5\n30 30\n255\n'; head -c 900 /dev/zero; } > "$T/mixed/a.pgm"
run_err 1 "eval\.grid.*one size.*30x30" "embed --set eval.grid=2 --limit 2 over images of two sizes" \
  "$BYOL" embed --checkpoint "$CKPT" --data "$T/mixed" --set eval.grid=2 --limit 2 --out "$T/m.npy"
run 0 "embed IDX records" "$BYOL" embed --pixels --preset fashion-mnist --data "$T/idx" \
  --out "$T/idx_emb.npy"
check "IDX rows: their record index, no file" \
  test "$(sed -n '2p;25p' "$T/idx_emb.sources.csv" | tr '\n' ' ')" = "0, 23, "
# Nested folders count (as torchvision's ImageFolder); an empty class is warned about.
mkdir -p "$T/nested/a/sub/deeper" "$T/nested/b" "$T/nested/empty"
pgm "$T/nested/a/top.pgm" 0 1
pgm "$T/nested/a/sub/deeper/low.pgm" 0 2
pgm "$T/nested/b/x,y.pgm" 1 3
run 0 "embed a folder with nested images" "$BYOL" embed --pixels --preset fashion-mnist \
  --data "$T/nested" --out "$T/nested.npy"
check "the nested image is row 1, a comma is quoted" \
  test "$(tail -n +2 "$T/nested.sources.csv" | tr '\n' ' ')" = \
  '0,a/top.pgm 1,a/sub/deeper/low.pgm 2,"b/x,y.pgm" '
check "an empty class folder is a warning on stderr" \
  grep -q 'byol: embed: warning: .*class folder "empty" holds no image files' "$T/err"
run_err 2 "\.npy or \.safetensors" "embed --out with another extension" \
  "$BYOL" embed --checkpoint "$CKPT" --data "$T/train" --out "$T/emb.txt"
run_err 1 "$T/missing" "embed a missing folder" \
  "$BYOL" embed --checkpoint "$CKPT" --data "$T/missing" --out "$T/e.npy"
run_err 1 "$T/nodir/e.npy" "embed into a missing directory" \
  "$BYOL" embed --pixels --preset fashion-mnist --data "$T/train" --out "$T/nodir/e.npy"

# ---- preview -----------------------------------------------------------------------------
run 0 "preview" "$BYOL" preview --data "$T/train" --preset fashion-mnist --count 4 --out "$T/p.png"
check "preview wrote a PNG" test "$(head -c 8 "$T/p.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a
check "preview says it drew across the classes" grep -q "4 images drawn across the classes" "$T/out"
# PNG width and height: big-endian at bytes 16..23. 4-pixel gaps, a label
# column of one character ("h", "v"), cells of 28 x 4 = 112 pixels.
png_size() {
  od -An -tu1 -j16 -N8 "$1" |
    awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
check "preview cells are upscaled to 112 pixels, under a label row" \
  test "$(png_size "$T/p.png")" = "$((4 + 12 + 4 + 3 * 116)) $((4 + 14 + 4 + 4 * 116))"
cp "$T/p.png" "$T/p0.png"
run 0 "preview again" "$BYOL" preview --data "$T/train" --preset fashion-mnist --count 4 \
  --out "$T/p.png"
check "the same seed draws the same preview" cmp -s "$T/p.png" "$T/p0.png"
run 0 "preview --set seed=5" "$BYOL" preview --data "$T/train" --preset fashion-mnist --count 4 \
  --set seed=5 --out "$T/p.png"
check "another seed draws another sample" test "$(cmp -s "$T/p.png" "$T/p0.png"; echo $?)" = 1
run 0 "preview --first 2" "$BYOL" preview --data "$T/train" --preset fashion-mnist --count 3 \
  --first 2 --out "$T/p.png"
check "preview --first says which images" grep -q "images 2 to 4 of" "$T/out"
run_err 2 "--count" "preview --count 0" "$BYOL" preview --data "$T/train" --count 0 --out "$T/p.png"
run_err 1 "$T/missing" "preview of a missing folder" "$BYOL" preview --data "$T/missing" --out "$T/p.png"
run 1 "preview --first past the end" "$BYOL" preview --data "$T/train" --first 500 --out "$T/p.png"

# ---- export and info ------------------------------------------------------------------------
run 0 "export" "$BYOL" export --checkpoint "$CKPT" --out "$T/encoder.safetensors"
run 0 "info on the exported encoder" "$BYOL" info "$T/encoder.safetensors"
check "info calls it a weight file" grep -q "weight file" "$T/out"
check "info counts its parameters" grep -qE "parameters +[1-9][0-9]*" "$T/out"
run 0 "eval --weights of the exported encoder" "$BYOL" eval --weights "$T/encoder.safetensors" \
  "${TINY[@]}" "${EV[@]}" --knn-only
run 0 "eval --weights with a preset that leaves the width to the file" "$BYOL" eval \
  --weights "$T/encoder.safetensors" --preset fashion-mnist "${EV[@]}" --knn-only
# A weight file holding NaN (the first float of its first tensor) is refused
# at load, not evaluated into a meaningless accuracy.
cp "$T/encoder.safetensors" "$T/nan.safetensors"
nan_at=$((8 + $(od -An -tu8 -N8 "$T/nan.safetensors")))
printf '\x00\x00\xc0\x7f' | dd of="$T/nan.safetensors" bs=1 seek="$nan_at" conv=notrunc 2>/dev/null
run_err 1 "nan.safetensors: tensor 'conv1.weight' holds NaN at index 0" \
  "eval --weights of a file holding NaN" "$BYOL" eval --weights "$T/nan.safetensors" "${EV[@]}" --knn-only
run_err 1 "encoder.safetensors" "export of a weight file (not a checkpoint)" \
  "$BYOL" export --checkpoint "$T/encoder.safetensors" --out "$T/e2.safetensors"
run_err 1 "truncated.safetensors" "export of a truncated checkpoint" \
  "$BYOL" export --checkpoint "$T/truncated.safetensors" --out "$T/e2.safetensors"
run_err 2 "required" "export without --out" "$BYOL" export --checkpoint "$CKPT"
run 0 "info on a checkpoint" "$BYOL" info "$CKPT"
check "info shows the version and the settings" \
  both "written by libbyol" "net.width=0.125" "$T/out"
check "info counts the online encoder's tensors" grep -qE "online.encoder +[0-9]+ tensors" "$T/out"
run_err 1 "garbage.safetensors" "info on a garbage file" "$BYOL" info "$T/garbage.safetensors"
run_err 1 "truncated.safetensors" "info on a truncated file" "$BYOL" info "$T/truncated.safetensors"
run_err 1 "$T/nothere" "info on a missing file" "$BYOL" info "$T/nothere"
run_err 1 "$T/train: is a directory" "info on a directory says it is one" \
  "$BYOL" info "$T/train"
: > "$T/empty"
run_err 1 "empty" "info on an empty file" "$BYOL" info "$T/empty"
run_err 2 "FILE" "info without a file" "$BYOL" info
run 0 "info --keys" "$BYOL" info --keys
check "info --keys lists net.arch" grep -q "^net.arch" "$T/out"
run 0 "info --presets" "$BYOL" info --presets
check "info --presets lists cifar10" grep -qx "cifar10" "$T/out"

# ---- paths that are not regular files ------------------------------------------------
# A FIFO given to read is refused at once, never waited on (each case runs
# under timeout 20: a hang shows as exit 124); a save never replaces a FIFO,
# a device node or a link (it writes the file a link names).
mkfifo "$T/fifo"
run_err 1 "fifo: is a FIFO" "info on a FIFO" timeout 20 "$BYOL" info "$T/fifo"
run_err 1 "fifo: is a FIFO" "export --checkpoint of a FIFO" \
  timeout 20 "$BYOL" export --checkpoint "$T/fifo" --out "$T/e3.safetensors"
run_err 1 "fifo: is a FIFO" "eval --weights of a FIFO" \
  timeout 20 "$BYOL" eval --weights "$T/fifo" "${EV[@]}" --knn-only
run_err 1 "fifo: is a FIFO" "export --out a FIFO" \
  timeout 20 "$BYOL" export --checkpoint "$CKPT" --out "$T/fifo"
check "... which stays a FIFO" test -p "$T/fifo"
# /dev/null itself is not risked: a device node like it, made here (as root)
if mknod "$T/null" c 1 3 2> /dev/null; then
  run_err 1 "null: is a character device" "export --out a character device" \
    "$BYOL" export --checkpoint "$CKPT" --out "$T/null"
  check "... which stays a character device" test -c "$T/null"
else
  echo "# SKIPPED: export --out a device node (making one needs root and CAP_MKNOD)"
fi
mkdir -p "$T/real"
ln -s real/enc.safetensors "$T/link.safetensors"
run_err 1 "link.safetensors: is a symbolic link to 'real/enc.safetensors', which does not exist" \
  "export --out a dangling link" "$BYOL" export --checkpoint "$CKPT" --out "$T/link.safetensors"
check "... which creates nothing" test ! -e "$T/real/enc.safetensors"
: > "$T/real/enc.safetensors"
run 0 "export --out a link to a file" "$BYOL" export --checkpoint "$CKPT" --out "$T/link.safetensors"
check "... leaves the link a link" test -L "$T/link.safetensors"
check "... and writes the weights to the file it names" \
  cmp -s "$T/real/enc.safetensors" "$T/encoder.safetensors"

# ---- what the command settles for the user -----------------------------------------
# A warmup longer than the run is cut, with a warning (the preset's 50 steps in 3).
run 0 "pretrain 3 steps under the preset's 50 warmup steps" "$BYOL" pretrain --data "$T/train" \
  "${TINY[@]}" --steps 3 --out "$T/warm"
check "the warmup cut to the run is a warning naming both keys" \
  grep -q "warning: train.warmup_steps 50 >= train.total_steps 3: the warmup is cut to 2" "$T/err"
# Floats as written and read back: shortest form in config.txt and info --keys.
check "config.txt writes ema.tau_base=0.99, optim.weight_decay=0.0001" \
  both "^ema.tau_base=0.99$" "^optim.weight_decay=0.0001$" "$T/warm/config.txt"
run 0 "info --keys (bounds)" "$BYOL" info --keys
check "info --keys bounds read back exactly" grep -q "^seed .*\[0, 9007199254740991\]$" "$T/out"
# Fewer images than a batch: an error naming both numbers and the flag.
SMALLB=(--preset fashion-mnist --set net.width=0.125 --threads 2 --workers 1 --steps 1)
run_err 1 "holds 24 images, fewer than one batch of 32 .*--batch-size 24 or less" \
  "pretrain on fewer images than a batch" "$BYOL" pretrain --data "$T/train" "${SMALLB[@]}" \
  --batch-size 32 --out "$T/small"
run 0 "pretrain 24 images in batches of 10" "$BYOL" pretrain --data "$T/train" "${SMALLB[@]}" \
  --batch-size 10 --out "$T/b10"
check "the 4 images each epoch leaves out are a warning" \
  grep -q "24 images make 2 batches of 10 per epoch; the other 4 (17 %)" "$T/err"
# The image size comes from the data when no option sets it (28 px here).
run 0 "eval --pixels without a preset" "$BYOL" eval --pixels "${EV[@]}" --knn-only --json
check "--pixels features are the data's 3x28x28, not 3x224x224" grep -q '"dim":2352,' "$T/out"
run 0 "eval --random-init of resnet18-cifar without a preset" "$BYOL" eval --random-init \
  --set "net.arch=resnet18-cifar net.width=0.125" "${EV[@]}" --knn-only
run_err 2 "net.image_size 32 and augment.size 28 differ" "net.image_size against augment.size" \
  "$BYOL" eval --random-init --set "net.arch=resnet18-cifar net.width=0.125 net.image_size=32" \
  --set augment.size=28 "${EV[@]}" --knn-only
run 0 "eval --pixels with augment.size=56" "$BYOL" eval --pixels --set augment.size=56 "${EV[@]}" \
  --knn-only
check "views larger than the images are a warning" grep -q "are 28 px .*upsampled 2.0x" "$T/err"
# Exported weights record their settings: eval --weights needs no flags, and
# an option that contradicts the file is an error naming both values.
run 0 "export (records the settings)" "$BYOL" export --checkpoint "$CKPT" --out "$T/self.safetensors"
run 0 "info lists the recorded settings" "$BYOL" info "$T/self.safetensors"
check "... arch and width among them" both "net.arch=cnn-small" "net.width=0.125" "$T/out"
run 0 "eval --weights with no flags" "$BYOL" eval --weights "$T/self.safetensors" "${EV[@]}" \
  --knn-only
run_err 2 "net.width=0.125, but the options give net.width=0.25" \
  "eval --weights with a width the file contradicts" "$BYOL" eval \
  --weights "$T/self.safetensors" --set net.width=0.25 "${EV[@]}" --knn-only
# strip_metadata SRC DST [JSON]: SRC with its metadata replaced by JSON
# (default {"format":"pt"}; shorter than SRC's), the header padded to its length.
strip_metadata() {
  local n header cut meta=${3:-'{"format":"pt"}'}
  n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
  header=$(tail -c +9 "$1" | head -c "$n")
  meta=${meta//\\/\\\\}  # (a sed replacement: \ and & escaped)
  meta=${meta//&/\\&}
  cut=$(printf '%s' "$header" | sed -E "s/\"__metadata__\":\\{[^}]*\\}/\"__metadata__\":$meta/")
  { head -c 8 "$1"; printf '%s%*s' "$cut" $((n - ${#cut})) ''; tail -c +$((9 + n)) "$1"; } > "$2"
}
# A recorded value is one value: a quote in it cannot smuggle in another
# setting (here the width, which the file then would not need the flag for).
strip_metadata "$T/self.safetensors" "$T/smuggle.safetensors" \
  '{"format":"pt","net.arch":"cnn-small\" net.width=\"0.125"}'
run_err 1 "net.arch" "eval --weights whose recorded net.arch holds a quoted setting" \
  "$BYOL" eval --weights "$T/smuggle.safetensors" --preset fashion-mnist "${EV[@]}" --knn-only
# A torchvision-style classifier: fc.* after the encoder, no recorded settings
# (the exported file with its metadata cut to {"format":"pt"}): --arch reads it.
run 0 "pretrain an encoder with a classifier (net.num_classes=4)" "$BYOL" pretrain \
  --data "$T/train" "${TINY[@]}" --set net.num_classes=4 --steps 1 --out "$T/clf" --quiet
run 0 "export it" "$BYOL" export --checkpoint "$T/clf/checkpoint.safetensors" \
  --out "$T/clf.safetensors" --quiet
strip_metadata "$T/clf.safetensors" "$T/tv.safetensors"
TVSET=(--preset fashion-mnist --set net.width=0.125 --set eval.grid=1)
run_err 1 "fc\.weight.*--arch" "eval --weights of a classifier without --arch" "$BYOL" eval \
  --weights "$T/tv.safetensors" "${TVSET[@]}" "${EV[@]}" --knn-only
run 0 "eval --weights of a classifier with --arch cnn-small" "$BYOL" eval \
  --weights "$T/tv.safetensors" --arch cnn-small "${TVSET[@]}" "${EV[@]}" --knn-only --json
check "the encoder's features, not the classifier's 4 logits" grep -q '"dim":16,' "$T/out"

# ---- CIFAR-10 JPEG folders (real data) ---------------------------------------------------------
if [ -d "$CIFAR/train" ] && [ -d "$CIFAR/test" ]; then
  C=(--preset cifar10 --set "net.width=0.125 byol.proj_hidden=64 byol.pred_hidden=64 byol.proj_out=32"
     --batch-size 32 --threads 2 --workers 2)
  CR=$T/cifar
  run 0 "cifar10: pretrain 3 steps" "$BYOL" pretrain --data "$CIFAR/train" "${C[@]}" --steps 3 --out "$CR"
  grep -h "img/s" "$T/out" | sed 's/^/# /'
  run 0 "cifar10: resume to step 5" "$BYOL" pretrain --data "$CIFAR/train" \
    --resume "$CR/checkpoint.safetensors" --steps 5 --out "$CR"
  grep -h "img/s" "$T/out" | sed 's/^/# /'
  "$BYOL" info "$CR/checkpoint.safetensors" > "$T/out" 2>&1
  check "cifar10: the checkpoint is at step 5 of 5" grep -q "step  *5 of 5" "$T/out"
  run 0 "cifar10: eval --limit 1000 (1000 train + 1000 test images)" "$BYOL" eval --checkpoint "$CR/checkpoint.safetensors" \
    --data "$CIFAR/train" --test-data "$CIFAR/test" --limit 1000 --threads 2
  sed 's/^/# /' "$T/out"
  check "cifar10: eval reports both accuracies" grep -q "probe top-1" "$T/out"
elif [ "${BYOL_REQUIRE_DATA:-}" = 1 ]; then
  not_ok "the CIFAR-10 cases: $CIFAR/train and /test not found (make data unpacks them);" \
         "BYOL_REQUIRE_DATA=1 makes real data mandatory"
else
  echo "# SKIPPED: the CIFAR-10 cases: $CIFAR/train and /test not found (make data unpacks them)"
fi

echo "# byol CLI: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
