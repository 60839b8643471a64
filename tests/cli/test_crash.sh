#!/usr/bin/env bash
# Crash consistency of byol pretrain (issue 13): a tiny run that saves a
# checkpoint every step is killed with SIGKILL at random moments and
# resumed with --resume each time, until it finishes. It must end exactly
# where a straight run of the same settings ends, bit for bit, with no
# temporary file left behind:
#   - after every kill, the checkpoint there loads (byol info reads it) and
#     no output has more than one temporary file ("<name>.tmp.<pid>.<n>":
#     the save the kill interrupted);
#   - the final checkpoint is byte-identical to the straight run's (the
#     same weights, optimizer state, step and settings);
#   - no "*.tmp.*" file is left in the run folder.
# A few seconds on 2 cores (the fsync of each save dominates); every command
# is killed or runs under a timeout, so a hang fails the test instead of
# stalling make check.
#
#   BYOL=build/blis/tools/byol bash tests/cli/test_crash.sh
#
# KILLS (default 8) and STEPS (default 200) size it; CRASH_SEED repeats a
# run's kill delays (it prints the seed it used).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
BYOL=${BYOL:-$root/build/blis/tools/byol}
case $BYOL in /*) ;; *) BYOL=$root/$BYOL ;; esac
[ -x "$BYOL" ] || { echo "not ok - $BYOL is not built"; exit 1; }
KILLS=${KILLS:-8}
STEPS=${STEPS:-200}
CRASH_SEED=${CRASH_SEED:-$$}
RANDOM=$CRASH_SEED

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

# 64 random 28x28 images as one IDX file (unlabelled: pretraining needs no labels).
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
  $(($1 >> 8 & 255)) $(($1 & 255)); }
{ printf '%b' "\x00\x00\x08\x03$(be32 64)$(be32 28)$(be32 28)"; head -c $((64 * 784)) /dev/urandom; } \
  > "$T/images-idx3-ubyte"

# cnn-small at 1/8 width with narrow heads: the fsync of each checkpoint
# costs more than the step.
TINY=(--preset fashion-mnist --set net.width=0.125
      --set "byol.proj_hidden=32 byol.pred_hidden=32 byol.proj_out=16" --batch-size 8)
EACH=(--data "$T/images-idx3-ubyte" --checkpoint-every 1 --threads 2 --workers 1 --quiet)
RUN=$T/crashed
CKPT=$RUN/checkpoint.safetensors

t0=$(date +%s%N)
if timeout 60 "$BYOL" pretrain "${EACH[@]}" "${TINY[@]}" --steps "$STEPS" --out "$T/straight" \
     > "$T/out" 2>&1; then
  ok "a straight run of $STEPS steps"
else
  not_ok "a straight run of $STEPS steps"; sed 's/^/#   /' "$T/out"; exit 1
fi
# Kills come 20 ms to twice the straight run's time / (KILLS + 2) after a
# start: in the start-up (config.txt, preview.png) and in the steps and
# their saves, with about half the run done when the kills are.
max_ms=$((20 + 2 * ($(date +%s%N) - t0) / 1000000 / (KILLS + 2)))

# The step of the checkpoint at $CKPT (byol info must read it), or "none".
checkpoint_step() {
  [ -e "$CKPT" ] || { echo none; return 0; }
  timeout 20 "$BYOL" info "$CKPT" > "$T/info" 2>&1 || return 1
  sed -n 's/^step  *\([0-9]*\) of .*/\1/p' "$T/info"
}

# The most temporary files any one output has.
most_temps_per_output() {
  find "$RUN" -maxdepth 1 -name '*.tmp.*' -printf '%f\n' 2>/dev/null |
    sed 's/\.tmp\..*//' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 } END { if (!NR) print 0 }'
}

# Replaces the shell with the training, run by "$@" (timeout 60, or
# nothing): it resumes from the checkpoint, or starts afresh when a kill
# came before the first one. Call it in a subshell or in the background.
train() {
  if [ -e "$CKPT" ]; then
    exec "$@" "$BYOL" pretrain "${EACH[@]}" --resume "$CKPT" --out "$RUN"
  fi
  rm -rf "$RUN"
  exec "$@" "$BYOL" pretrain "${EACH[@]}" "${TINY[@]}" --steps "$STEPS" --out "$RUN"
}

kills=0 finished=0 at=()
while [ "$kills" -lt "$KILLS" ]; do
  train > "$T/out" 2>&1 &  # (no timeout: it is killed at once)
  pid=$!
  delay=$((20 + RANDOM % (max_ms - 19)))
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  if [ "$rc" -eq 0 ]; then finished=1; break; fi
  if [ "$rc" -ne 137 ]; then not_ok "a run failed: exit $rc"; sed 's/^/#   /' "$T/out"; break; fi
  kills=$((kills + 1))
  if ! step=$(checkpoint_step); then
    not_ok "after kill $kills the checkpoint does not load"; sed 's/^/#   /' "$T/info"; break
  fi
  at+=("$step")
  temps=$(most_temps_per_output)
  [ "$temps" -le 1 ] || not_ok "after kill $kills an output has $temps temporary files"
done
echo "# seed $CRASH_SEED: $kills kills (SIGKILL), after which the checkpoint was at step: ${at[*]:-}"
[ "$finished" -eq 0 ] || echo "# (the run finished before kill $((kills + 1)))"

if [ "$finished" -eq 0 ]; then
  (train timeout 60) > "$T/out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then ok "the last resume ran to step $STEPS"
  else not_ok "the last resume: exit $rc"; sed 's/^/#   /' "$T/out"; fi
fi

step=$(checkpoint_step) || step=unreadable
if [ "$step" = "$STEPS" ]; then ok "the final checkpoint loads, at step $STEPS"
else not_ok "the final checkpoint: step '$step', want $STEPS"; fi
if cmp -s "$CKPT" "$T/straight/checkpoint.safetensors"; then
  ok "the final checkpoint is byte-identical to the straight run's"
else
  not_ok "the final checkpoint differs from the straight run's"
fi
left=$(find "$RUN" "$T/straight" -name '*.tmp.*' | wc -l)
if [ "$left" -eq 0 ]; then ok "no temporary file is left"
else not_ok "$left temporary files are left:"; find "$RUN" -name '*.tmp.*' | sed 's/^/#   /'; fi

echo "# crash test: $failed failed"
[ "$failed" -eq 0 ]
