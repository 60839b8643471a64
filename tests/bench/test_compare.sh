#!/usr/bin/env bash
# bench/compare.py without a usable PyTorch peer: libbyol's figures, the
# machine named, one note saying why the peer is missing, and no traceback.
# Two stand-in Pythons (BYOL_BENCH_PYTHON): one with torch but without
# torchvision (Debian's python3-torch alone), one whose peer run fails.
# BENCH_NET: the bench_net program (make builds it for `make test`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench_net=${BENCH_NET:?set BENCH_NET to the bench_net program}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_compare: FAIL: $*" >&2; exit 1; }

cat > "$tmp/no-torchvision" <<'PY'
#!/bin/sh
case "$1 $2" in
  "-c "*torchvision*) ;;
  "-c "*) echo 1.13.0; exit 0 ;;
esac
echo "Traceback (most recent call last):" >&2
echo "ModuleNotFoundError: No module named 'torchvision'" >&2
exit 1
PY
cat > "$tmp/peer-fails" <<'PY'
#!/bin/sh
if [ "$1" = -c ]; then echo 1.13.0; exit 0; fi
echo "Traceback (most recent call last):" >&2
echo "RuntimeError: the peer broke" >&2
exit 1
PY
chmod +x "$tmp/no-torchvision" "$tmp/peer-fails"

run() {  # stand-in python -> stdout in $tmp/out, stderr in $tmp/err
  BYOL_BENCH_PYTHON=$tmp/$1 python3 "$root/bench/compare.py" --bench-net "$bench_net" \
    --case fwdbwd_cnn_small_b256 --min-seconds 0.1 --threads 1 --blas testblas \
    > "$tmp/out" 2> "$tmp/err" || fail "$1: compare.py exited $? ($(tail -n1 "$tmp/err"))"
  ! grep -q Traceback "$tmp/out" "$tmp/err" || fail "$1: a traceback was printed"
  grep -q "^machine: .*BLAS provider: testblas" "$tmp/out" || fail "$1: no machine line"
  grep -q "^BENCH name=fwdbwd_cnn_small_b256 libbyol=[0-9.]* threads=1 " "$tmp/out" ||
    fail "$1: no BENCH line with libbyol's figure alone"
}

run no-torchvision
grep -q "^note: no PyTorch peer: .*No module named 'torchvision'.*install-deps.sh --bench" \
  "$tmp/out" || fail "no-torchvision: no note naming the missing module"
[ "$(grep -c '^note:' "$tmp/out")" -eq 1 ] || fail "no-torchvision: want exactly one note"

run peer-fails
grep -q "^peer: PyTorch 1.13.0" "$tmp/out" || fail "peer-fails: the peer's version is not named"
grep -q "^note: the PyTorch peer failed (exit 1: RuntimeError: the peer broke)" "$tmp/out" ||
  fail "peer-fails: no note saying the peer failed"
echo "test_compare: OK"
