#!/usr/bin/env python3
"""Trains a BYOL encoder for a few steps on a CIFAR-10 JPEG folder (one
sub-folder per class) and prints the shape of the embeddings of a few
images.

    python3 train_cifar_folder.py build/data/cifar10-jpg/train --steps 5
    python3 train_cifar_folder.py DIR --arch cnn-small --batch 16   # faster

The recipe is libbyol's "cifar10" preset (ResNet-18 for CIFAR, LARS, the
BYOL augmentations); --arch cnn-small swaps in the small CNN for a quick
look. Any other setting can be given as key=value (e.g. optim.lr=0.5).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import byol
except ImportError:  # not installed: the package in this source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import byol

DEFAULT_FOLDER = Path(__file__).resolve().parents[3] / "build" / "data" / "cifar10-jpg" / "train"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                   help="image folder with one sub-folder per class (default: %(default)s)")
    p.add_argument("settings", nargs="*", metavar="key=value", help="further config settings")
    p.add_argument("--steps", type=int, default=5, help="training steps (default: %(default)s)")
    p.add_argument("--batch", type=int, default=32, help="images per view (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="cores to use (default: %(default)s)")
    p.add_argument("--arch", default="resnet18-cifar", choices=("resnet18-cifar", "cnn-small"),
                   help="encoder (default: %(default)s)")
    p.add_argument("--embed", type=int, default=64, help="images to embed at the end")
    p.add_argument("--out", type=Path, help="folder for a checkpoint and the encoder weights")
    args = p.parse_intermixed_args(argv)  # key=value settings may follow the options

    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder (make data unpacks CIFAR-10 JPEGs "
              "into build/data/cifar10-jpg)", file=sys.stderr)
        return 2

    with byol.Config("cifar10", train__batch_size=args.batch, train__total_steps=max(args.steps, 1),
                     train__warmup_steps=0, threads=args.threads, net__arch=args.arch) as cfg:
        if args.arch == "cnn-small":  # the small CNN takes 1x28x28 by default
            cfg.update({"net.in_channels": 3, "net.image_size": 32})
        cfg.parse(" ".join(args.settings))

        with byol.Dataset.open(cfg, args.folder) as ds, \
             byol.Loader(cfg, ds, mode="train") as loader, \
             byol.Trainer(cfg) as trainer:
            print(f"{args.folder}: {len(ds)} images, {ds.num_classes} classes; "
                  f"{args.arch}, batch {args.batch}, {args.threads} threads")
            t0 = time.perf_counter()
            for _, (view1, view2, _labels) in zip(range(args.steps), loader):
                s = trainer.step(view1, view2)
                print(f"step {s['step']:3d}  loss {s['loss']:.4f}  lr {s['lr']:.4f}  "
                      f"tau {s['tau']:.4f}  collapse_std {s['collapse_std']:.4f}")
            dt = time.perf_counter() - t0
            rate = 2 * args.steps * args.batch / dt
            print(f"{args.steps} steps in {dt:.1f} s ({rate:.0f} img/s)")

            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                trainer.save(args.out / "checkpoint.safetensors")
                trainer.encoder().save(args.out / "encoder.safetensors")
                print(f"wrote {args.out}/checkpoint.safetensors and encoder.safetensors")

            # Embeddings: the evaluation transform, in dataset order, through the online encoder.
            encoder = trainer.encoder()
            chunks, count = [], 0
            with byol.Loader(cfg, ds, mode="eval") as evaluation:
                for batch in evaluation:
                    chunks.append(encoder.embed(batch.view1))
                    count += batch.count
                    if count >= args.embed:
                        break
            embeddings = np.concatenate(chunks)[: args.embed]
            print(f"embeddings shape: {embeddings.shape}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except byol.Error as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
