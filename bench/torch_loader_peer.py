#!/usr/bin/env python3
"""PyTorch peer of bench_loader: torchvision's ImageFolder + DataLoader producing
the same two BYOL views (solo-learn's CIFAR recipe, the cifar10 preset's
settings) from the CIFAR-10 JPEG training folder.

  torch_loader_peer.py --workers N --min-seconds S --cifar-dir DIR

prints one JSON line: {"case": "loader_cifar10_wN", "img_s": ..., "threads": N, ...}

Measured like bench_loader: batch 256, shuffled, drop_last; two untimed batches,
then batches until min-seconds have passed (at least 3). Each DataLoader worker
is a process; torch.set_num_threads(1) in each, as the loader's work is per image.
"""

import argparse
import json
import time

import torch
import torchvision
from torchvision import transforms as T


def view(solarize_p):
    """One view of the cifar10 preset: crop 32 bicubic, jitter 0.8, gray 0.2,
    solarise, flip, normalise with CIFAR-10's mean and std."""
    return T.Compose([
        T.RandomResizedCrop(32, scale=(0.08, 1.0), interpolation=T.InterpolationMode.BICUBIC),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomSolarize(128, p=solarize_p),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ])


class TwoViews:
    def __init__(self):
        self.v1, self.v2 = view(0.0), view(0.2)

    def __call__(self, img):
        return self.v1(img), self.v2(img)


def one_thread(_):
    torch.set_num_threads(1)


def make_loader(cifar_dir, workers, batch=256):
    """The DataLoader this benchmark measures, also what torch_peer.py's
    pipeline case trains from: shuffled, drop_last, `workers` processes of
    one thread each, two batches prefetched per worker."""
    ds = torchvision.datasets.ImageFolder(cifar_dir, transform=TwoViews())
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True,
                                       num_workers=workers, worker_init_fn=one_thread,
                                       prefetch_factor=2, persistent_workers=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--min-seconds", type=float, default=5.0)
    ap.add_argument("--cifar-dir", required=True)
    args = ap.parse_args()
    dl = make_loader(args.cifar_dir, args.workers)
    images = batches = 0
    t0 = None
    for k, ((v1, v2), _) in enumerate(dl):
        if k == 2:
            t0 = time.perf_counter()
        elif k > 2:
            images += v1.shape[0]
            batches += 1
            if batches >= 3 and time.perf_counter() - t0 >= args.min_seconds:
                break
    secs = time.perf_counter() - t0
    print(json.dumps({"case": f"loader_cifar10_w{args.workers}", "img_s": round(images / secs, 2),
                      "threads": args.workers, "batches": batches, "seconds": round(secs, 3),
                      "torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main()
