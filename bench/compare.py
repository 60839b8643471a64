#!/usr/bin/env python3
"""`make bench`: libbyol next to PyTorch on the same machine and thread count.

Runs build/<blas>/bench/bench_net for each case (by default all four:
fwdbwd_resnet18_cifar_b64, fwdbwd_cnn_small_b256, byol_step_resnet18_cifar_b64,
byol_step_cnn_small_b256), then bench/torch_peer.py (with /usr/bin/python3,
when torch is importable there) for the same cases, prints a table and one
machine-readable line per case:

  BENCH name=<case> libbyol=<img/s> torch=<img/s> ratio=<libbyol/torch> threads=<n> peak_mb=<MiB> torch_peak_mb=<MiB>

torch= and ratio= are omitted when no PyTorch peer can run. Standard library only.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# fwdbwd_*: one network's forward + backward; byol_step_*: the whole BYOL
# step (byol_trainer_step) of a config preset. img/s = batch * iterations /
# seconds for both (a BYOL step consumes `batch` images, seen as two views).
CASES = ["fwdbwd_resnet18_cifar_b64", "fwdbwd_cnn_small_b256",
         "byol_step_resnet18_cifar_b64", "byol_step_cnn_small_b256"]
TORCH_PY = "/usr/bin/python3"


def run_json(cmd):
    """Runs cmd and returns the JSON object of each stdout line."""
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def torch_version():
    try:
        r = subprocess.run([TORCH_PY, "-c", "import torch; print(torch.__version__)"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench-net", required=True, help="path of the bench_net program")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=5.0)
    ap.add_argument("--case", action="append", choices=CASES)
    args = ap.parse_args()
    cases = args.case or CASES

    ours = {}
    for case in cases:
        for r in run_json([args.bench_net, case, str(args.threads), str(args.min_seconds)]):
            ours[r["case"]] = r
    tv = torch_version()
    theirs = {}
    if tv:
        cmd = [TORCH_PY, os.path.join(HERE, "torch_peer.py"), "--threads", str(args.threads),
               "--min-seconds", str(args.min_seconds)]
        for case in cases:
            cmd += ["--case", case]
        for r in run_json(cmd):
            theirs[r["case"]] = r

    print(f"libbyol {next(iter(ours.values()))['libbyol']} vs "
          f"{'PyTorch ' + tv if tv else 'no PyTorch peer (torch not installed)'}, "
          f"threads={args.threads}")
    print(f"{'case':32} {'libbyol img/s':>14} {'torch img/s':>12} {'ratio':>7} "
          f"{'peak MiB':>9} {'torch MiB':>10}")
    for case in cases:
        o, t = ours[case], theirs.get(case)
        ratio = o["img_s"] / t["img_s"] if t else None
        print(f"{case:32} {o['img_s']:14.1f} {t['img_s'] if t else float('nan'):12.1f} "
              f"{ratio if ratio else float('nan'):7.2f} {o['peak_mb']:9.1f} "
              f"{t['peak_mb'] if t else float('nan'):10.1f}")
    for case in cases:
        o, t = ours[case], theirs.get(case)
        line = f"BENCH name={case} libbyol={o['img_s']:.2f}"
        if t:
            line += f" torch={t['img_s']:.2f} ratio={o['img_s'] / t['img_s']:.3f}"
        line += f" threads={args.threads} peak_mb={o['peak_mb']:.1f}"
        if t:
            line += f" torch_peak_mb={t['peak_mb']:.1f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
