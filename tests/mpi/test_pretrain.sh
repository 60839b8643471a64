#!/usr/bin/env bash
# byol pretrain under mpirun (issue 14), against the same command run as
# one process. Checked:
#   - 2 ranks train the same losses as 1 process (metrics.jsonl, each step
#     within 1e-5 relative), on cnn-small and resnet18-cifar at width 1/8
#     with LARS; rank 0 alone reports; mpirun -np 1 is a plain run;
#   - a checkpoint of 2 ranks resumed by 1 process, and the reverse,
#     continues the straight run's losses within 1e-5;
#   - a rank killed with SIGKILL mid-run ends the others within 30 s with a
#     non-zero status and a message, and the last checkpoint loads;
#   - a rank's error (a bad image in its slice) ends every rank with a
#     non-zero status and prints the message once; so does a batch that
#     does not split over the ranks;
#   - SIGTERM to one rank stops every rank at the same step with a checkpoint;
#   - a rank that cannot open its data leaves --force's old run untouched;
#   - each rank's share of threads is not stored in config.txt;
#   - the command built without MPI refuses to run as one of several ranks.
# Every run is under a timeout, so a rank that hangs fails the test.
#
#   BYOL=build/blis/tools/byol BYOL_NOMPI=build/blis/tests/byol_nompi \
#     bash tests/mpi/test_pretrain.sh
# No BYOL_NOMPI: that case is not run. MPIRUN as in run.sh.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
BYOL=${BYOL:-$root/build/blis/tools/byol}
NOMPI=${BYOL_NOMPI:-}
# shellcheck source=tests/mpi/launcher.sh
source "$root/tests/mpi/launcher.sh"
if ! command -v "$mpirun" > /dev/null; then
  [ "${BYOL_REQUIRE_MPI:-}" = 1 ] && { echo "tests/mpi/test_pretrain.sh: FAIL: no $mpirun"; exit 1; }
  echo "SKIPPED: no $mpirun on PATH (install openmpi-bin)"; exit 0
fi
MPI=("$mpirun" "${mpirun_args[@]}")

T=$(mktemp -d)
trap 'pkill -9 -f "$T/" 2> /dev/null; rm -rf "$T"' EXIT
failed=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# 64 random 28x28 images, as one IDX file and as a folder of PGMs (one
# class folder; pretraining needs no labels).
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
  $(($1 >> 8 & 255)) $(($1 & 255)); }
{ printf '%b' "\x00\x00\x08\x03$(be32 64)$(be32 28)$(be32 28)"; head -c $((64 * 784)) /dev/urandom; } \
  > "$T/images-idx3-ubyte"
mkdir -p "$T/folder/a"
for i in $(seq -w 0 63); do
  { printf 'P5\n28 28\n255\n'; head -c 784 /dev/urandom; } > "$T/folder/a/img$i.pgm"
done
printf 'P5\n28 28\n255\n' > "$T/folder/a/img40.pgm" # truncated: no pixels

CNN=(--preset fashion-mnist --set net.width=0.25 --set optim.name=lars)
RESNET=(--preset fashion-mnist --set net.arch=resnet18-cifar --set net.width=0.125
        --set net.in_channels=1 --set optim.name=lars)
EACH=(--data "$T/images-idx3-ubyte" --batch-size 64 --workers 1 --threads 1)

# step loss lines of a metrics.jsonl
losses() { sed -n 's/^{"type":"step","step":\([0-9]*\),.*"loss":\([-+0-9.e]*\),.*/\1 \2/p' "$1"; }
# the losses of steps >= $3 in two metrics files agree within 1e-5 relative
same_losses() {  # A B [FIRST_STEP]
  join <(losses "$1") <(losses "$2") | awk -v first="${3:-1}" '
    $1 >= first { n++; d = $2 - $3; d = d < 0 ? -d : d; m = $2 < 0 ? -$2 : $2
                  if (m < 1e-2) m = 1e-2
                  if (d > 1e-5 * m) { printf "#   step %d: %s vs %s\n", $1, $2, $3; bad = 1 } }
    END { if (n == 0) print "#   no steps to compare"; exit bad || n == 0 }'
}
# runs with a timeout, stdout+stderr to $T/NAME.log; returns the exit status
run() {  # NAME SECONDS COMMAND...
  local name=$1 secs=$2; shift 2
  timeout -k 5 "$secs" "$@" > "$T/$name.log" 2>&1
}
show_log() { sed 's/^/#   /' "$T/$1.log" | tail -n 20; }

# ---- equivalence ----------------------------------------------------------------------
for arch in CNN RESNET; do
  declare -n recipe=$arch
  run "$arch-1" 120 "$BYOL" pretrain "${EACH[@]}" "${recipe[@]}" --steps 5 --out "$T/$arch-1" ||
    { not_ok "$arch: one process"; show_log "$arch-1"; continue; }
  if run "$arch-2" 120 "${MPI[@]}" -np 2 "$BYOL" pretrain "${EACH[@]}" "${recipe[@]}" --steps 5 \
       --out "$T/$arch-2"; then
    check "$arch: 2 ranks x 32 train the losses of 1 process x 64 (5 LARS steps)" \
      same_losses "$T/$arch-1/metrics.jsonl" "$T/$arch-2/metrics.jsonl"
    check "$arch: rank 0 alone reports, naming the ranks" \
      test "$(grep -c 'on 2 ranks of 1 thread' "$T/$arch-2.log")$(grep -c '^trained steps' \
        "$T/$arch-2.log")" = 11
  else
    not_ok "$arch: 2 ranks"; show_log "$arch-2"
  fi
done
if run np1 60 "${MPI[@]}" -np 1 "$BYOL" pretrain "${EACH[@]}" "${CNN[@]}" --steps 5 --out "$T/np1"; then
  check "mpirun -np 1 trains as one process" \
    cmp -s <(losses "$T/np1/metrics.jsonl") <(losses "$T/CNN-1/metrics.jsonl")
else
  not_ok "mpirun -np 1"; show_log np1
fi

# ---- resume across rank counts --------------------------------------------------------
resume() {  # NAME FIRST_LAUNCH SECOND_LAUNCH (each "one" or "two")
  local name=$1 out=$T/$1 i=0 how
  for how in "$2" "$3"; do
    local launch=("$BYOL") extra=(--stop-at 3 --out "$out")
    [ "$how" = two ] && launch=("${MPI[@]}" -np 2 "$BYOL")
    [ $i = 1 ] && extra=(--resume "$out/checkpoint.safetensors" --out "$out")
    run "$name-$i" 120 "${launch[@]}" pretrain "${EACH[@]}" "${CNN[@]}" --steps 5 "${extra[@]}" ||
      { not_ok "$name: run $i"; show_log "$name-$i"; return; }
    i=1
  done
  check "$name: the resumed steps 4-5 continue the straight run's losses" \
    same_losses "$T/CNN-1/metrics.jsonl" "$out/metrics.jsonl" 4
}
resume "2 ranks then 1" two one
resume "1 rank then 2" one two

# ---- a rank killed ----------------------------------------------------------------------
rank_pid() {  # RANK DIR: the pid of that rank of the run writing into DIR
  local p
  for p in $(pgrep -f -- "--out $2"); do
    tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null |
      grep -qx -e "OMPI_COMM_WORLD_RANK=$1" -e "PMI_RANK=$1" && { echo "$p"; return; }
  done
}
# waits up to 30 s for the background mpirun $launcher; its status in rc.
# Still running: killed with everything it started, and a failure.
wait_launcher() {
  rc=0
  for _ in $(seq 300); do kill -0 "$launcher" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$launcher" 2> /dev/null; then
    pkill -9 -f -- "$T/" ; wait "$launcher"; rc=124; return 1
  fi
  wait "$launcher" || rc=$?
}
K=$T/killed
"${MPI[@]}" -np 2 "$BYOL" pretrain "${EACH[@]}" "${CNN[@]}" --steps 1000000 --checkpoint-every 2 \
  --out "$K" > "$T/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 200); do [ -f "$K/checkpoint.safetensors" ] && break; sleep 0.1; done
victim=$(rank_pid 1 "$K")
if [ -z "$victim" ]; then
  not_ok "a rank killed: rank 1 not found"; kill -9 $launcher
else
  kill -9 "$victim"
  t0=$(date +%s)
  wait_launcher || not_ok "a rank killed: the run still runs after 30 s"
  secs=$(($(date +%s) - t0))
  check "a rank killed: the others end within 30 s (${secs} s), with a non-zero status ($rc)" \
    test "$secs" -le 30 -a $rc -ne 0
  check "a rank killed: a message says so" grep -qi 'signal 9\|killed' "$T/killed.log"
  check "a rank killed: no rank is left running" test -z "$(pgrep -f -- "--out $K")"
  check "a rank killed: the last checkpoint loads" \
    run killed-info 30 "$BYOL" info "$K/checkpoint.safetensors"
fi

# ---- a rank's error ---------------------------------------------------------------------
rc=0
run bad 60 "${MPI[@]}" -np 2 "$BYOL" pretrain --data "$T/folder" "${CNN[@]}" --batch-size 32 \
  --workers 1 --threads 1 --set loader.on_error=stop --steps 6 --out "$T/bad" || rc=$?
check "a bad image in one rank's slice ends every rank, none hung (status $rc)" \
  test $rc -ne 0 -a $rc -ne 124 -a $rc -ne 137
# (the preview, a convenience, also warns of it)
n=$(grep -c 'BYOL_E_DECODE: .*img40.pgm' "$T/bad.log")
check "a bad image: its error is printed once ($n)" test "$n" = 1
[ $rc -ne 0 ] && [ "$n" = 1 ] || show_log bad
rc=0
run split 60 "${MPI[@]}" -np 2 "$BYOL" pretrain "${EACH[@]}" "${CNN[@]}" --batch-size 33 --steps 2 \
  --out "$T/split" || rc=$?
check "a batch of 33 over 2 ranks is refused on every rank (status $rc), once" \
  test $rc -ne 0 -a $rc -ne 124 -a "$(grep -c 'train.batch_size' "$T/split.log")" = 1
[ "$(grep -c 'train.batch_size' "$T/split.log")" = 1 ] || show_log split

# ---- nothing written before every rank opened its run --------------------------------
# (MPMD: rank 1 is given data that does not exist)
F=$T/forced
cp -r "$T/CNN-2" "$F"
rm -f "$F/byol.lock"
rc=0
run forced 60 "${MPI[@]}" -np 1 "$BYOL" pretrain "${EACH[@]}" "${CNN[@]}" --steps 2 --force \
  --out "$F" : -np 1 "$BYOL" pretrain --data "$T/nowhere" "${EACH[@]:2}" "${CNN[@]}" --steps 2 \
  --force --out "$F" || rc=$?
check "a rank without its data: every rank fails (status $rc), naming it once" \
  test $rc -ne 0 -a $rc -ne 124 -a "$(grep -c "$T/nowhere" "$T/forced.log")" = 1
check "a rank without its data: --force left the old run as it was" \
  cmp -s "$F/checkpoint.safetensors" "$T/CNN-2/checkpoint.safetensors"

# ---- threads per rank ----------------------------------------------------------------------
if run share 60 "${MPI[@]}" -np 2 "$BYOL" pretrain --data "$T/images-idx3-ubyte" \
     --batch-size 64 --workers 1 "${CNN[@]}" --steps 1 --out "$T/share"; then
  check "without --threads each rank takes its share, not stored in config.txt" \
    test "$(grep -c 'on 2 ranks of [0-9]* thread' "$T/share.log")" = 1 \
      -a "$(grep -c '^threads' "$T/share/config.txt")" = 0
else
  not_ok "threads per rank: the run failed"; show_log share
fi

# ---- a signal to one rank ---------------------------------------------------------------
# As a scheduler's SIGTERM to one process, or Ctrl-C to a group: the ranks
# agree to stop at the same step, rank 0 saves it, every rank exits 130.
S=$T/signal
"${MPI[@]}" -np 2 "$BYOL" pretrain "${EACH[@]}" "${CNN[@]}" --steps 1000000 --checkpoint-every 0 \
  --out "$S" > "$T/signal.log" 2>&1 &
launcher=$!
for _ in $(seq 200); do [ -s "$S/metrics.jsonl" ] && break; sleep 0.1; done
kill -TERM "$(rank_pid 1 "$S")"
if ! wait_launcher; then
  not_ok "SIGTERM to rank 1: the run still runs after 30 s"
else
  saved=$(run signal-info 30 "$BYOL" info "$S/checkpoint.safetensors" &&
          sed -n 's/^step *\([0-9]*\) of.*/\1/p' "$T/signal-info.log")
  last=$(losses "$S/metrics.jsonl" | tail -n 1 | cut -d' ' -f1)
  check "SIGTERM to rank 1: every rank stops at step $last, saved ($saved), status $rc" \
    test -n "$saved" -a "$saved" = "$last" -a $rc -ne 0
  check "SIGTERM to rank 1: rank 0 says where it stopped" grep -q 'interrupted at step' \
    "$T/signal.log"
fi

# ---- without MPI ---------------------------------------------------------------------------
check "byol --version says it trains under mpirun" grep -q '^MPI: yes' <("$BYOL" --version)
if [ -n "$NOMPI" ]; then
  check "built without MPI: --version says so" grep -q '^MPI: no' <("$NOMPI" --version)
  rc=0
  OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=2 run nompi 30 "$NOMPI" pretrain "${EACH[@]}" \
    "${CNN[@]}" --steps 2 --out "$T/nompi" || rc=$?
  check "built without MPI: a launch of 2 ranks is refused (status $rc)" \
    test $rc = 1 -a ! -e "$T/nompi" -a "$(grep -c 'built without MPI' "$T/nompi.log")" = 1
  check "built without MPI: one process runs" \
    run nompi1 60 "$NOMPI" pretrain "${EACH[@]}" "${CNN[@]}" --steps 2 --out "$T/nompi1"
fi

[ $failed -eq 0 ] && echo "tests/mpi/test_pretrain.sh: all passed" ||
  echo "tests/mpi/test_pretrain.sh: $failed failed"
exit $((failed > 0))
