#!/usr/bin/env bash
# The numerics modes tested by training: the same BYOL run on Fashion-MNIST
# (fashion-mnist preset, cnn-small, same seed) under each value of
# nn.conv_algo / nn.precision, then the k-NN accuracy (k=200) and linear
# probe of its encoder on the 10,000 test images. A mode passes when its
# k-NN is within TOL points (default 0.5) of the exact im2col run's.
#
#   bash bench/quality/modes.sh BYOL_TOOL [OUT_DIR]
#
# MODES_EPOCHS (default 1) sets the length of each run; BYOL_FASHION_MNIST
# the data folder (default /usr/share/datasets/fashion-mnist). Prints a
# table and one line per mode:
#   MODE name=<settings> knn=<fraction> linear=<fraction> diff_knn=<points vs im2col> modes=<as recorded>
# Exit status 1 if a mode is off by more than TOL.
set -euo pipefail

BYOL=${1:?usage: bench/quality/modes.sh BYOL_TOOL [OUT_DIR]}
OUT=${2:-out/modes}
DATA=${BYOL_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
EPOCHS=${MODES_EPOCHS:-1}
TOL=${TOL:-0.5}
COMMON=(--preset fashion-mnist --threads 2)
MODES=("nn.conv_algo=im2col" "nn.conv_algo=winograd" "nn.conv_algo=winograd2"
       "nn.precision=bf16" "nn.conv_algo=im2col nn.precision=bf16")

if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    echo "modes: Fashion-MNIST not found in $DATA (apt-get install dataset-fashion-mnist," \
         "or set BYOL_FASHION_MNIST)" >&2
    exit 1
fi
mkdir -p "$OUT"
json() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" "$1"; }

base="" status=0
for mode in "${MODES[@]}"; do
    dir=$OUT/${mode//[=. ]/_}
    "$BYOL" pretrain --data "$DATA" "${COMMON[@]}" --set "$mode" --epochs "$EPOCHS" --force \
        --checkpoint-every 0 --quiet --out "$dir"
    "$BYOL" eval --data "$DATA" --test-data "$DATA" "${COMMON[@]}" \
        --checkpoint "$dir/checkpoint.safetensors" --json > "$dir/eval.json"
    knn=$(json "$dir/eval.json" knn_top1) linear=$(json "$dir/eval.json" probe_top1)
    recorded=$("$BYOL" info "$dir/checkpoint.safetensors" | sed -n 's/^modes *//p')
    base=${base:-$knn}
    diff=$(awk -v a="$knn" -v b="$base" 'BEGIN { printf "%.2f", 100 * (a - b) }')
    echo "MODE name=$mode knn=$knn linear=$linear diff_knn=$diff modes=\"$recorded\""
    if awk -v d="$diff" -v t="$TOL" 'BEGIN { exit !(d > t || d < -t) }'; then
        echo "modes: $mode is $diff k-NN points from im2col (more than $TOL)" >&2
        status=1
    fi
done
exit $status
