#!/bin/bash
# make demo: BYOL pretraining of a small CNN on Fashion-MNIST's 60,000
# training images, then frozen-feature evaluation on its 10,000 test images:
# linear probe and k-NN (cosine, k=200, t=0.1) of the raw pixels, of the
# encoder at its random initialisation, and of the same encoder after BYOL.
#
#   scripts/demo.sh BYOL_TOOL [OUT_DIR]
#
# Environment: BYOL_FASHION_MNIST (the folder of the four IDX .gz files,
# default Debian's /usr/share/datasets/fashion-mnist), DEMO_EPOCHS (10),
# DEMO_THREADS (2), DEMO_SEED (0: the seed of the initialisation, the
# shuffling and the views; the README's table is seeds 0, 1 and 2).
# Everything lands in OUT_DIR (default out/demo): checkpoint, metrics,
# plot, preview, config and the three evaluations.
set -euo pipefail

BYOL=${1:?usage: scripts/demo.sh BYOL_TOOL [OUT_DIR]}
OUT=${2:-out/demo}
DATA=${BYOL_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
EPOCHS=${DEMO_EPOCHS:-10}
THREADS=${DEMO_THREADS:-2}
SEED=${DEMO_SEED:-0}
COMMON=(--preset fashion-mnist --threads "$THREADS" --set "seed=$SEED")

if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    echo "demo: Fashion-MNIST not found in $DATA (apt-get install dataset-fashion-mnist," \
         "or set BYOL_FASHION_MNIST)" >&2
    exit 1
fi
mkdir -p "$OUT"

# A field of a flat JSON object on one line: json FILE KEY
json() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" "$1"; }

echo "== BYOL pretraining: cnn-small, fashion-mnist preset, seed $SEED, $EPOCHS epochs of 60,000 images"
start=$(date +%s)
"$BYOL" pretrain --data "$DATA" "${COMMON[@]}" --epochs "$EPOCHS" --force \
    --checkpoint-every 0 --log-every 10 --json --out "$OUT" > "$OUT/pretrain.json"
train_end=$(date +%s)

evaluate() { # name, encoder flags...
    local name=$1
    shift
    echo "== evaluating $name"
    "$BYOL" eval --data "$DATA" --test-data "$DATA" "${COMMON[@]}" "$@" --json \
        > "$OUT/eval_$name.json"
}
evaluate pixels --pixels
evaluate random --random-init
evaluate byol --checkpoint "$OUT/checkpoint.safetensors"
end=$(date +%s)

pct() { awk -v x="$1" 'BEGIN { printf "%5.1f %%", 100 * x }'; }
row() { # label, file: the label gets the embedding's width
    printf "| %-36s | %13s | %13s |\n" "$1 ($(json "$2" dim))" "$(pct "$(json "$2" probe_top1)")" \
        "$(pct "$(json "$2" knn_top1)")"
}
{
    echo
    echo "Fashion-MNIST test set (10,000 images), frozen features (for cnn-small its last"
    echo "feature map pooled on a 2x2 grid, eval.grid=2), top-1 accuracy, seed $SEED"
    echo
    printf "| %-36s | %13s | %13s |\n" "features" "linear probe" "k-NN (k=200)"
    printf "|%s|%s|%s|\n" "--------------------------------------" "---------------" \
        "---------------"
    row "raw pixels" "$OUT/eval_pixels.json"
    row "cnn-small, random init" "$OUT/eval_random.json"
    row "cnn-small, BYOL $EPOCHS epochs" "$OUT/eval_byol.json"
    echo
    printf "BYOL pretraining: %s steps in %s s (%s img/s, %s threads); whole demo %s s\n" \
        "$(json "$OUT/pretrain.json" steps)" "$((train_end - start))" \
        "$(json "$OUT/pretrain.json" img_s)" "$THREADS" "$((end - start))"
    echo "Output folder: $OUT (checkpoint.safetensors, metrics.jsonl, plot.svg, preview.png, config.txt)"
} | tee "$OUT/results.md"
