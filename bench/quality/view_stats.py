#!/usr/bin/env python3
"""How far apart are the two views of an image? Statistics of one batch of
view pairs per augmentation source (docs/QUALITY.md):

  pixel cosine   mean cosine similarity of the two normalised views
  brightness r   correlation, over the batch, of the two views' mean
                 brightness (in [0, 1], before normalisation)

for torchvision's views (bench/quality/torch_byol.py's pipeline) and
libbyol's (its loader; each further argument is one set of libbyol augment
settings, "" for the cifar10 preset as it is).

    /usr/bin/python3 bench/quality/view_stats.py "" augment.jitter=tf
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_byol  # noqa: E402

BATCH = 2048
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # the cifar10 preset's augment.mean and std
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def stats(v1, v2):
    cos = torch.nn.functional.cosine_similarity(v1.flatten(1), v2.flatten(1)).mean().item()
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    b1, b2 = ((v * std + mean).mean((1, 2, 3)) for v in (v1, v2))
    r = torch.corrcoef(torch.stack([b1, b2]))[0, 1].item()
    return cos, r


def main(argv):
    data = os.path.join(torch_byol.ROOT, "build", "data", "cifar10-jpg", "train")
    base = ["--data", data, "--out", "unused", "--set", f"train.batch_size={BATCH}"]
    sources = [("torchvision", ["--views", "torchvision"])]
    for s in argv or [""]:
        sources.append((f"libbyol {s or '(cifar10 preset)'}",
                        ["--views", "libbyol"] + [a for kv in s.split() for a in ("--set", kv)]))
    print(f"| views ({BATCH} pairs) | pixel cosine | brightness r |\n|---|---:|---:|")
    for name, extra in sources:
        args = torch_byol.parse_args(base + extra)
        gen = (torch_byol.torchvision_batches if args.views == "torchvision"
               else torch_byol.libbyol_batches)(args, torch_byol.recipe_config(args))
        print("| {} | {:.3f} | {:.3f} |".format(name, *stats(*next(gen))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
