#!/usr/bin/env python3
"""The PyTorch side of `make quality`: BYOL pretraining built from the
project's own reference (tests/ref/byol_ref.py: the step, the schedules, the
optimizers; tests/ref/nets.py: resnet18-cifar), on a CIFAR-10 JPEG folder.

Views come from one of two sources:
  --views torchvision   torchvision transforms, per image, in DataLoader worker
                        processes: RandomResizedCrop(scale 0.08-1) ->
                        ColorJitter (p 0.8) -> RandomGrayscale -> RandomSolarize
                        (view 2 only by default) -> flip -> Normalize, as
                        solo-learn's CIFAR recipe does it;
  --views libbyol       libbyol's own loader through the Python package (the
                        `cifar10` preset plus --aug settings), so that only the
                        step differs from `byol pretrain`.

Writes to --out: encoder_init.safetensors and encoder.safetensors (the online
encoder before and after, with libbyol's names, so `byol eval --weights`
evaluates both with the same k-NN as libbyol's own runs) and metrics.jsonl
(one line per step: step, loss, lr, tau, seconds).

    /usr/bin/python3 bench/quality/torch_byol.py --data build/data/cifar10-jpg/train \\
        --out out/quality/torch --steps 780
"""

import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import byol_ref  # noqa: E402
import nets  # noqa: E402
import st  # noqa: E402

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="CIFAR-10 JPEG training folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=780)
    ap.add_argument("--views", choices=("torchvision", "libbyol"), default="torchvision")
    ap.add_argument("--aug", action="append", default=[], metavar="KEY=VALUE",
                    help="libbyol augment settings for --views libbyol (repeatable)")
    ap.add_argument("--interpolation", choices=("bilinear", "bicubic"), default="bicubic",
                    help="torchvision crop resize (default bicubic, as the cifar10 preset)")
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--optimizer", choices=("sgd", "lars"), default="sgd")
    ap.add_argument("--lr", type=float, default=0.05, help="base lr at batch 256")
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--decay-bias-norm", action="store_true",
                    help="SGD also decays biases and norms (torch.optim.SGD's default)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--tau", type=float, default=0.99)
    ap.add_argument("--warmup", type=int, default=39)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--proj-out", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-from", metavar="CKPT",
                    help="start from the weights of a libbyol checkpoint (online and target)")
    ap.add_argument("--stop-at", type=int, help="stop after this step (schedules of --steps)")
    return ap.parse_args(argv)


def two_view_transform(interpolation):
    """The two torchvision pipelines (view 2 is the one that solarises)."""
    from torchvision import transforms as T
    mode = getattr(T.InterpolationMode, interpolation.upper())

    def view(solarize_p):
        return T.Compose([
            T.RandomResizedCrop(32, scale=(0.08, 1.0), interpolation=mode),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
            T.RandomSolarize(128, p=solarize_p),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(CIFAR_MEAN, CIFAR_STD),
        ])

    v1, v2 = view(0.0), view(0.2)
    return lambda img: (v1(img), v2(img))


def torchvision_batches(args):
    """Endless (view1, view2) batches from an ImageFolder."""
    from torchvision import datasets
    ds = datasets.ImageFolder(args.data, transform=two_view_transform(args.interpolation))
    gen = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True,
                                         num_workers=args.workers, generator=gen,
                                         persistent_workers=args.workers > 0)
    while True:
        for (v1, v2), _ in loader:
            yield v1, v2


def libbyol_batches(args):
    """Endless (view1, view2) batches from libbyol's loader (Python package)."""
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    os.environ.setdefault("BYOL_LIBRARY", os.path.join(ROOT, "lib", "libbyol.so"))
    import byol
    cfg = byol.Config("cifar10", train__batch_size=args.batch, loader__workers=args.workers,
                      seed=args.seed)
    cfg.parse(" ".join(args.aug))
    ds = byol.Dataset.open(cfg, args.data)
    with byol.Loader(cfg, ds, mode="train") as loader:
        for v1, v2, _ in loader:
            yield torch.from_numpy(v1), torch.from_numpy(v2)


def build_model(args):
    enc = nets.resnet18_cifar(args.width)
    feat = enc.out_features
    hp = byol_ref.Hyper(base_lr=args.lr, batch=args.batch, total_steps=args.steps,
                        warmup_steps=args.warmup, tau_base=args.tau, momentum=args.momentum,
                        weight_decay=args.weight_decay, optimizer=args.optimizer,
                        decay_bias_norm=args.decay_bias_norm)
    return byol_ref.Byol(enc, byol_ref.mlp_head(feat, args.hidden, args.proj_out),
                         byol_ref.mlp_head(args.proj_out, args.hidden, args.proj_out), hp)


def load_checkpoint(model, path):
    """Copies a libbyol checkpoint's online.<part>.* and target.<part>.*
    tensors into the model (the names are the reference's, tests/ref)."""
    tensors = st.read(path)[0]
    for side in ("online", "target"):
        for part, module in getattr(model, side).items():
            prefix = f"{side}.{part}."
            sd = {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in tensors.items()
                  if k.startswith(prefix)}
            module.load_state_dict(sd, strict=True)


def save_encoder(model, path, args):
    sd = {k: v.detach().contiguous() for k, v in model.online["encoder"].state_dict().items()}
    st.write(path, sd, {"script": "bench/quality/torch_byol.py", "net": "resnet18-cifar",
                        "width": repr(args.width), "views": args.views})


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = build_model(args)
    if args.init_from:
        load_checkpoint(model, args.init_from)
    save_encoder(model, os.path.join(args.out, "encoder_init.safetensors"), args)
    batches = torchvision_batches(args) if args.views == "torchvision" else libbyol_batches(args)
    t0 = time.perf_counter()
    with open(os.path.join(args.out, "metrics.jsonl"), "w") as log:
        for k in range(args.stop_at or args.steps):
            v1, v2 = next(batches)
            r = model.step(k, v1, v2)
            rec = {"step": k + 1, "loss": float(r["loss"]), "lr": r["lr"], "tau": r["tau"],
                   "seconds": round(time.perf_counter() - t0, 3)}
            log.write(json.dumps(rec) + "\n")
            if (k + 1) % 20 == 0:
                log.flush()
                print(f"step {k + 1}/{args.steps} loss {rec['loss']:.4f} "
                      f"{(k + 1) * args.batch / rec['seconds']:.1f} img/s", flush=True)
    save_encoder(model, os.path.join(args.out, "encoder.safetensors"), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
