#!/usr/bin/env python3
"""`make quality`: libbyol's BYOL next to a PyTorch peer built from
tests/ref/, on CIFAR-10, at an equal wall-clock budget (or at equal steps).

Both sides train RECIPE below: libbyol as `byol pretrain --preset ... --set
...`, the peer as bench/quality/torch_byol.py with the same two arguments,
which it resolves through libbyol's own configuration (network, heads,
batch, optimizer, schedules, views). Every encoder is scored by `byol eval`
with the same settings: weighted k-NN and a linear probe, the 50,000
training images as the bank and the probe's training set, the 10,000 test
images scored. Accuracies are printed in percent.

Budget mode (`make quality`, --budget MINUTES): each side first runs
--calibrate steps (not counted) to measure its own steady seconds per step
(the first --calibrate-skip steps left out) and the time to the end of
its first step (start-up included), plans the steps that fill the budget
(the lr and tau schedules need the length up front), then trains
with a deadline at the budget: no step starts after it (byol pretrain gets
SIGINT, which ends the step in progress and saves a checkpoint;
torch_byol.py has --max-seconds). The sides run one after the other, each
one process with --threads threads and --workers loader workers. Prints the
table and the QUALITY line; appends one JSON line per row to
<out>/budget.jsonl.

Steps mode (`make quality-steps`, --arm ... --steps N): one arm trains N
steps and is scored before training (its initialisation) and after; one
JSON line per run in <out>/results.jsonl, --table prints them:

  libbyol       `byol pretrain` with the recipe (+ --set ...)
  torch         bench/quality/torch_byol.py, torchvision views
  torch-views   bench/quality/torch_byol.py fed by libbyol's loader: the same
                views as libbyol, so only the step differs

    python3 bench/quality/quality.py --budget 30
    python3 bench/quality/quality.py --arm libbyol --steps 780
    python3 bench/quality/quality.py --arm libbyol --name crop-tv --set augment.crop=torchvision
    python3 bench/quality/quality.py --table

Standard library only; the PyTorch side runs under /usr/bin/python3.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TORCH_PY = "/usr/bin/python3"
# The recipe, the one place both sides take it from: a libbyol preset and the
# settings on top of it. cifar10-short: resnet18-cifar at width 0.25, heads
# 1024 -> 256, SGD lr 0.05 at batch 256, tau 0.99, 39 warmup steps, the
# cifar10 views, evaluation on the last map pooled 2x2 (eval.grid=2).
# torch_byol.py resolves the same preset and settings.
RECIPE = {"preset": "cifar10-short", "set": []}
# Length of the calibration runs' schedules (they stop long before its end).
CALIBRATION_SCHEDULE = 1000


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, metavar="MINUTES",
                    help="budget mode: train each side for this many minutes")
    ap.add_argument("--calibrate", type=int, default=20, metavar="N",
                    help="budget mode: steps of each side's calibration run (default 20)")
    ap.add_argument("--calibrate-skip", type=int, default=5, metavar="N",
                    help="budget mode: first calibration steps left out (default 5)")
    ap.add_argument("--arm", choices=("libbyol", "torch", "torch-views"), default="libbyol")
    ap.add_argument("--name", help="row label (default: the arm)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="setting on top of the recipe, for both sides (repeatable)")
    ap.add_argument("--torch-arg", action="append", default=[], metavar="ARG",
                    help="steps mode: extra argument for torch_byol.py (torch arms)")
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


def note(text):
    """Progress, on stderr (the table and the QUALITY line go to stdout)."""
    print(f"quality: {text}", file=sys.stderr, flush=True)


def settings_args(settings):
    return [a for s in settings for a in ("--set", s)]


def recipe_args(args, extra=()):
    """The recipe as byol's and torch_byol.py's --preset and --set."""
    return (["--preset", RECIPE["preset"]] +
            settings_args(RECIPE["set"] + [f"seed={args.seed}"] + list(extra)))


def check_inputs(args, torch_side):
    """Stops, before any training, when the data or PyTorch is missing."""
    missing = [d for d in (args.data, args.test_data) if not os.path.isdir(d)]
    if missing:
        sys.exit(f"quality: no CIFAR-10 JPEG folder {' or '.join(missing)}. `make data` unpacks "
                 "them from $(BYOL_DATA)/cifar10-jpg/cifar10-jpg.tar.gz (BYOL_DATA defaults "
                 "to ../shared/data; e.g. `make data BYOL_DATA=$BYOL_DATA_DIR`).")
    if not torch_side:
        return
    try:
        ok = subprocess.run([TORCH_PY, "-c", "import torch, torchvision"],
                            stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        ok = False
    if not ok:
        sys.exit(f"quality: {TORCH_PY} cannot import torch and torchvision, which the PyTorch "
                 "side needs (Debian: apt-get install python3-torch python3-torchvision); "
                 "stopped before training.")


def evaluate(args, encoder_args):
    """byol eval's k-NN and linear probe top-1 (fractions) and the number of
    training images, for an encoder given as byol eval arguments. Every
    encoder gets the recipe's settings, so the eval.* keys and the
    evaluation transform are the same for all."""
    cmd = [args.byol, "eval", "--data", args.data, "--test-data", args.test_data, "--json",
           "--threads", str(args.threads), "--workers", str(args.workers)]
    out = subprocess.run(cmd + recipe_args(args, args.set) + encoder_args, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    rec = json.loads(out.strip().splitlines()[-1])
    return {"knn": rec["knn_top1"], "linear": rec["probe_top1"], "n_train": rec["n_train"]}


def series(path, key="loss"):
    """A field of every step record of a metrics.jsonl, by step."""
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


# ---- the two sides ------------------------------------------------------------

def libbyol_cmd(args, out, steps, extra=()):
    return ([args.byol, "pretrain", "--data", args.data, "--out", out, "--force", "-q",
             "--steps", str(steps), "--threads", str(args.threads), "--workers",
             str(args.workers), "--checkpoint-every", "0"] + recipe_args(args, args.set) +
            list(extra))


def torch_cmd(args, out, steps, extra=()):
    return ([TORCH_PY, os.path.join(HERE, "torch_byol.py"), "--data", args.data, "--out", out,
             "--steps", str(steps), "--threads", str(args.threads), "--workers",
             str(args.workers), "--seed", str(args.seed)] + recipe_args(args, args.set) +
            list(extra))


# Per side: the command, the metrics field holding the seconds since the
# training loop began, the trained encoder as byol eval arguments.
SIDES = {
    "libbyol": (libbyol_cmd, "elapsed",
                lambda out: ["--checkpoint", os.path.join(out, "checkpoint.safetensors")]),
    "PyTorch": (torch_cmd, "seconds",
                lambda out: ["--weights", os.path.join(out, "encoder.safetensors")]),
}


def run_with_deadline(cmd, metrics, clock, budget):
    """Runs byol pretrain and sends it SIGINT once its training clock (the
    metrics field `clock`, seconds since its loop began) reaches `budget`:
    the step in progress ends and a checkpoint is saved."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    start, pos, sent = None, 0, False
    while proc.poll() is None:
        time.sleep(0.2)
        now = time.time()
        if os.path.exists(metrics):
            with open(metrics, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            lines = chunk.split(b"\n")[:-1]  # complete lines only
            pos += sum(len(line) + 1 for line in lines)
            for line in lines:
                rec = json.loads(line)
                if rec.get("type") == "step":  # seen late, so the earliest start is best
                    t = now - rec[clock]
                    start = t if start is None else min(start, t)
        if start is not None and not sent and now >= start + budget:
            proc.send_signal(signal.SIGINT)
            sent = True
    if proc.returncode != 0 and not (sent and proc.returncode == 130):
        raise subprocess.CalledProcessError(proc.returncode, cmd)


def calibrate(args, side):
    """Steady seconds per step of one side (--calibrate steps of a long
    schedule, timed from the end of step --calibrate-skip to the last) and
    the seconds to the end of its first step (start-up included)."""
    make_cmd, clock, _ = SIDES[side]
    out = os.path.join(args.out, "budget", side + "-calibration")
    shutil.rmtree(out, ignore_errors=True)
    cmd = make_cmd(args, out, CALIBRATION_SCHEDULE, ["--stop-at", str(args.calibrate)])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t = series(os.path.join(out, "metrics.jsonl"), clock)
    last, skip = max(t), args.calibrate_skip
    return (t[last] - t[skip]) / (last - skip), t[1]


def train_for_budget(args, side, budget):
    """Calibrates, plans the steps and trains one side; returns its row."""
    step_s, first_s = calibrate(args, side)
    # the first step, with the loader's start-up, then steady steps
    planned = 1 + max(0, int((budget - first_s) / step_s))
    note(f"{side}: {step_s:.3f} s per step calibrated; training {planned} steps")
    make_cmd, clock, encoder = SIDES[side]
    out = os.path.join(args.out, "budget", side)
    shutil.rmtree(out, ignore_errors=True)
    metrics = os.path.join(out, "metrics.jsonl")
    if side == "libbyol":
        run_with_deadline(make_cmd(args, out, planned), metrics, clock, budget)
    else:
        subprocess.run(make_cmd(args, out, planned, ["--max-seconds", str(budget)]), check=True,
                       stdout=subprocess.DEVNULL)
    t = series(metrics, clock)
    steps = max(t)
    note(f"{side}: {steps} of {planned} steps in {t[steps]:.1f} s; evaluating")
    row = {"row": side, "calibrated_step_s": round(step_s, 4),
           "calibrated_first_s": round(first_s, 2), "planned_steps": planned,
           "steps": steps, "train_s": round(t[steps], 1)}
    row.update(evaluate(args, encoder(out)))
    return row


def describe_recipe(args):
    """The recipe as libbyol resolves it (torch_byol.py --describe, which
    also refuses settings the PyTorch side cannot reproduce)."""
    cmd = ([TORCH_PY, os.path.join(HERE, "torch_byol.py"), "--describe"] +
           recipe_args(args, args.set))
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def pct(v):
    return f"{100 * v:.2f}"


def budget_report(name, rows):
    """The Markdown table and the QUALITY line."""
    print("| row | k-NN (%) | linear probe (%) | epochs | steps | img/s | train minutes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "steps" in r:
            train = (f"{r['epochs']:.2f} | {r['steps']} | {r['img_s']:.1f} | "
                     f"{r['train_s'] / 60:.1f}")
        else:
            train = "– | – | – | –"
        print(f"| {r['row']} | {pct(r['knn'])} | {pct(r['linear'])} | {train} |")
    lib, ref = rows[1], rows[2]
    print(f"QUALITY name={name} libbyol_knn={pct(lib['knn'])} torch_knn={pct(ref['knn'])} "
          f"libbyol_linear={pct(lib['linear'])} torch_linear={pct(ref['linear'])} "
          f"libbyol_epochs={lib['epochs']:.2f} torch_epochs={ref['epochs']:.2f}")


def run_budget(args):
    if not 1 <= args.calibrate_skip < args.calibrate:
        sys.exit("quality: --calibrate-skip must be at least 1 and below --calibrate")
    check_inputs(args, torch_side=True)
    cfg = describe_recipe(args)
    budget = 60 * args.budget
    name = f"cifar10_{args.budget:g}min"
    rows = [dict(row="random init", **evaluate(args, ["--random-init"]))]
    rows += [train_for_budget(args, side, budget) for side in SIDES]
    batch = cfg["train.batch_size"]
    per_epoch = rows[0]["n_train"] // batch  # both sides drop the last partial batch
    date = time.strftime("%Y-%m-%d %H:%M")
    with open(os.path.join(args.out, "budget.jsonl"), "a") as f:
        for r in rows:
            if "steps" in r:
                r["epochs"] = r["steps"] / per_epoch
                r["img_s"] = round(r["steps"] * batch / r["train_s"], 1)
            f.write(json.dumps(dict(r, name=name, budget_s=budget, seed=args.seed,
                                    threads=args.threads, workers=args.workers,
                                    recipe=recipe_args(args, args.set), date=date)) + "\n")
    budget_report(name, rows)
    return 0


# ---- steps mode -----------------------------------------------------------------

def cached_eval(args, key, encoder_args):
    """evaluate() of an initialisation, remembered in <out>/init_eval.json
    by arm, seed and settings."""
    path = os.path.join(args.out, "init_eval.json")
    cache = json.load(open(path)) if os.path.exists(path) else {}
    key = " ".join([key, f"seed={args.seed}"] + args.set)
    if key not in cache:
        cache[key] = evaluate(args, encoder_args)
        with open(path, "w") as f:
            json.dump(cache, f, indent=1)
    return cache[key]


def run_steps(args, out):
    if args.arm == "libbyol":
        subprocess.run(libbyol_cmd(args, out, args.steps), check=True,
                       stdout=subprocess.DEVNULL)
        init = cached_eval(args, "libbyol", ["--random-init"])
    else:
        views = "torchvision" if args.arm == "torch" else "libbyol"
        subprocess.run(torch_cmd(args, out, args.steps, ["--views", views] + args.torch_arg),
                       check=True, stdout=subprocess.DEVNULL)
        init = cached_eval(args, "torch",
                           ["--weights", os.path.join(out, "encoder_init.safetensors")])
    final = evaluate(args, SIDES["libbyol" if args.arm == "libbyol" else "PyTorch"][2](out))
    return init, final


def print_table(path):
    rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    print("| run | steps | settings | loss @250 | loss @end | k-NN init | k-NN | gain | "
          "linear | minutes |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        fmt = (lambda v, p=3: "–" if v is None else f"{v:.{p}f}")
        linear = r.get("linear")  # rows from before the linear probe have none
        print(f"| {r['name']} | {r['steps']} | {' '.join(r['settings']) or '–'} | "
              f"{fmt(r['loss_250'])} | {fmt(r['loss_end'])} | {100 * r['knn_init']:.1f} | "
              f"{100 * r['knn']:.1f} | {100 * (r['knn'] - r['knn_init']):+.1f} | "
              f"{'–' if linear is None else f'{100 * linear:.1f}'} | "
              f"{r['seconds'] / 60:.1f} |")


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.table:
        print_table(os.path.join(args.out, "results.jsonl"))
        return 0
    if args.budget is not None:
        return run_budget(args)
    check_inputs(args, torch_side=args.arm != "libbyol")
    name = args.name or args.arm
    out = os.path.join(args.out, name)
    t0 = time.time()
    init, final = run_steps(args, out)
    curve = series(os.path.join(out, "metrics.jsonl"))
    row = {"name": name, "arm": args.arm, "steps": args.steps, "seed": args.seed,
           "settings": args.set + args.torch_arg, "knn_init": init["knn"],
           "knn": final["knn"], "linear_init": init["linear"], "linear": final["linear"],
           "loss_250": mean_loss(curve, 250), "loss_end": mean_loss(curve, args.steps),
           "seconds": round(time.time() - t0, 1), "date": time.strftime("%Y-%m-%d %H:%M")}
    with open(os.path.join(args.out, "results.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
