#!/usr/bin/env python3
"""Is libbyol's step the reference's at the scale of the CIFAR-10 recipe?

Both sides start from the same weights (libbyol's initialisation, saved at
step 0 through the Python package) and see the same views (libbyol's
loader, seed 0): `byol pretrain --stop-at N` on one side, and on the other
bench/quality/torch_byol.py --views libbyol --init-from <step 0>. Prints the
two loss curves side by side. They agree to float32 rounding for the first
steps; then rounding differences grow (training is chaotic) and only the
level of the curves can be compared.

    /usr/bin/python3 bench/quality/same_start.py --stop-at 60
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import quality  # noqa: E402

ROOT = quality.ROOT


def step0_checkpoint(path, settings):
    """Saves the initial trainer of the recipe (online and target weights)."""
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    os.environ.setdefault("BYOL_LIBRARY", os.path.join(ROOT, "lib", "libbyol.so"))
    import byol
    with byol.Config(quality.RECIPE["preset"]) as cfg:
        cfg.parse(" ".join(settings))
        with byol.Trainer(cfg) as t:
            t.save(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=260, help="length of the schedules")
    ap.add_argument("--stop-at", type=int, default=60)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "quality", "same-start"))
    ap.add_argument("--byol", default=os.path.join(ROOT, "build", "blis", "tools", "byol"))
    ap.add_argument("--data", default=os.path.join(ROOT, "build", "data", "cifar10-jpg", "train"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    settings = quality.RECIPE["set"] + ["seed=0", f"train.total_steps={args.steps}"]
    recipe = ["--preset", quality.RECIPE["preset"]] + quality.settings_args(settings)
    ckpt = os.path.join(args.out, "step0.safetensors")
    step0_checkpoint(ckpt, settings)
    lib, ref = os.path.join(args.out, "libbyol"), os.path.join(args.out, "torch")
    subprocess.run([args.byol, "pretrain", "--data", args.data, "--out", lib, "--force",
                    "--steps", str(args.steps), "--stop-at", str(args.stop_at), "--threads",
                    "2", "--workers", "1", "--checkpoint-every", "0"] + recipe,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, os.path.join(HERE, "torch_byol.py"), "--data", args.data,
                    "--out", ref, "--steps", str(args.steps), "--stop-at", str(args.stop_at),
                    "--views", "libbyol", "--init-from", ckpt] + recipe, check=True,
                   stdout=subprocess.DEVNULL)
    a = quality.series(os.path.join(lib, "metrics.jsonl"))
    b = quality.series(os.path.join(ref, "metrics.jsonl"))
    print("| step | libbyol loss | PyTorch loss |\n|---:|---:|---:|")
    for s in sorted(set(a) & set(b)):
        if s <= 5 or s % 10 == 0:
            print(f"| {s} | {a[s]:.5f} | {b[s]:.5f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
