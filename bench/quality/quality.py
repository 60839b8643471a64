#!/usr/bin/env python3
"""`make quality`: how good an encoder libbyol's BYOL makes at equal steps,
next to the PyTorch reference built from tests/ref/, on CIFAR-10.

The recipe (issue 10): resnet18-cifar at width 0.25, projector and predictor
1024 -> 256, SGD lr 0.05 at batch 256, weight decay 1e-3, momentum 0.9,
tau base 0.99, 39 warmup steps; the cifar10 preset's augmentations (crop
scale 0.08-1, jitter 0.4/0.4/0.2/0.1 p 0.8, grey 0.2, solarise 0/0.2, no
blur). Each arm trains --steps steps and is scored by `byol eval` (weighted
k-NN, k=200, t=0.1, the full training set as the bank, the 10,000 test
images), before training (its initialisation) and after:

  libbyol       `byol pretrain --preset cifar10` with the recipe (+ --set ...)
  torch         bench/quality/torch_byol.py, torchvision views
  torch-views   bench/quality/torch_byol.py fed by libbyol's loader: the same
                views as libbyol, so only the step differs

Every run appends one JSON line to <out>/results.jsonl; --table prints
them as the Markdown table of docs/QUALITY.md. Standard library only.

    python3 bench/quality/quality.py --arm libbyol --steps 780
    python3 bench/quality/quality.py --arm libbyol --name crop-tv --set augment.crop=torchvision
    python3 bench/quality/quality.py --table
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TORCH_PY = "/usr/bin/python3"
RECIPE = ["net.width=0.25", "byol.proj_hidden=1024", "byol.proj_out=256",
          "byol.pred_hidden=1024", "optim.name=sgd", "optim.lr=0.05",
          "optim.weight_decay=1e-3", "optim.wd_exclude=bias_norm", "optim.momentum=0.9",
          "ema.tau_base=0.99", "train.warmup_steps=39"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arm", choices=("libbyol", "torch", "torch-views"), default="libbyol")
    ap.add_argument("--name", help="row label (default: the arm)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="libbyol setting on top of the recipe (libbyol and torch-views arms)")
    ap.add_argument("--torch-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for torch_byol.py (torch arms), e.g. --decay-bias-norm")
    ap.add_argument("--steps", type=int, default=780)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--byol", default=os.path.join(ROOT, "build", "blis", "tools", "byol"))
    ap.add_argument("--data", default=os.path.join(ROOT, "build", "data", "cifar10-jpg", "train"))
    ap.add_argument("--test-data",
                    default=os.path.join(ROOT, "build", "data", "cifar10-jpg", "test"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "quality"))
    ap.add_argument("--table", action="store_true", help="print the results and exit")
    return ap.parse_args(argv)


def settings_args(settings):
    return [a for s in settings for a in ("--set", s)]


def knn(args, encoder_args):
    """Top-1 of byol eval's k-NN (full bank) for an encoder given as byol
    eval arguments."""
    cmd = [args.byol, "eval", "--data", args.data, "--test-data", args.test_data,
           "--knn-only", "--json", "--threads", str(args.threads)] + encoder_args
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["knn_top1"]


def losses(path, key="loss"):
    """The loss of every step record of a metrics.jsonl, by step."""
    res = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("type", "step") == "step" and key in rec:
                res[rec["step"]] = rec[key]
    return res


def mean_loss(curve, last, span=20):
    vals = [curve[s] for s in range(last - span + 1, last + 1) if s in curve]
    return sum(vals) / len(vals) if vals else None


def cached_knn(args, key, encoder_args):
    """knn() of an initialisation, remembered in <out>/init_knn.json: it
    depends only on the arm's network and seed, not on the other settings."""
    path = os.path.join(args.out, "init_knn.json")
    cache = json.load(open(path)) if os.path.exists(path) else {}
    key = f"{key} seed={args.seed}"
    if key not in cache:
        cache[key] = knn(args, encoder_args)
        with open(path, "w") as f:
            json.dump(cache, f, indent=1)
    return cache[key]


def run_libbyol(args, out):
    rec = ["--preset", "cifar10"] + settings_args(RECIPE + [f"seed={args.seed}"] + args.set)
    cmd = [args.byol, "pretrain", "--data", args.data, "--out", out, "--force",
           "--steps", str(args.steps), "--threads", str(args.threads), "--workers",
           str(args.workers), "--checkpoint-every", "0"] + rec
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    init = cached_knn(args, "libbyol", ["--random-init"] + rec)
    final = knn(args, ["--checkpoint", os.path.join(out, "checkpoint.safetensors")])
    return init, final


def run_torch(args, out, views):
    cmd = [TORCH_PY, os.path.join(HERE, "torch_byol.py"), "--data", args.data, "--out", out,
           "--steps", str(args.steps), "--views", views, "--threads", str(args.threads),
           "--workers", str(args.workers), "--seed", str(args.seed)]
    cmd += [a for s in args.set for a in ("--aug", s)] + args.torch_arg
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    arch = ["--preset", "cifar10", "--set", "net.width=0.25"]
    init = cached_knn(args, "torch",
                      ["--weights", os.path.join(out, "encoder_init.safetensors")] + arch)
    final = knn(args, ["--weights", os.path.join(out, "encoder.safetensors")] + arch)
    return init, final


def print_table(path):
    rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    print("| run | steps | settings | loss @250 | loss @end | k-NN init | k-NN | gain | minutes |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        fmt = (lambda v, p=3: "–" if v is None else f"{v:.{p}f}")
        print(f"| {r['name']} | {r['steps']} | {' '.join(r['settings']) or '–'} | "
              f"{fmt(r['loss_250'])} | {fmt(r['loss_end'])} | {100 * r['knn_init']:.1f} | "
              f"{100 * r['knn']:.1f} | {100 * (r['knn'] - r['knn_init']):+.1f} | "
              f"{r['seconds'] / 60:.1f} |")


def main(argv=None):
    args = parse_args(argv)
    results = os.path.join(args.out, "results.jsonl")
    if args.table:
        print_table(results)
        return 0
    name = args.name or args.arm
    out = os.path.join(args.out, name)
    t0 = time.time()
    if args.arm == "libbyol":
        init, final = run_libbyol(args, out)
    else:
        init, final = run_torch(args, out, "torchvision" if args.arm == "torch" else "libbyol")
    curve = losses(os.path.join(out, "metrics.jsonl"))
    row = {"name": name, "arm": args.arm, "steps": args.steps, "seed": args.seed,
           "settings": args.set + args.torch_arg, "knn_init": init, "knn": final,
           "loss_250": mean_loss(curve, 250), "loss_end": mean_loss(curve, args.steps),
           "seconds": round(time.time() - t0, 1), "date": time.strftime("%Y-%m-%d %H:%M")}
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
