#!/usr/bin/env python3
"""The PyTorch side of `make quality`: BYOL pretraining built from the
project's own reference (tests/ref/byol_ref.py: the step, the schedules, the
optimizers; tests/ref/nets.py: resnet18-cifar), on a CIFAR-10 JPEG folder.

The recipe is given as `byol pretrain` takes it, --preset NAME and --set
KEY=VALUE, and resolved by libbyol's own configuration (the Python
package): the network (resnet18-cifar at net.width), the heads, the batch,
the optimizer (sgd or lars: lr, momentum, weight decay and which tensors it
skips, eta, clipping), the EMA base, the warmup and the views' parameters
are read from it, so both sides train the same recipe. Settings this script
cannot reproduce (another network, adamw, Nesterov, blur, TF jitter) are
refused with the key named.

Views come from one of two sources:
  --views torchvision   torchvision transforms, per image, in DataLoader worker
                        processes: RandomResizedCrop -> ColorJitter ->
                        RandomGrayscale -> RandomSolarize -> flip -> Normalize,
                        as solo-learn's CIFAR recipe does it, each view with
                        the recipe's augment.view1.* / view2.* parameters;
  --views libbyol       libbyol's own loader through the Python package (the
                        same resolved recipe), so that only the step differs
                        from `byol pretrain`.

Writes to --out: encoder_init.safetensors and encoder.safetensors (the online
encoder before and after, with libbyol's names, so `byol eval --weights`
evaluates both with the same k-NN as libbyol's own runs) and metrics.jsonl
(one line per step: step, loss, lr, tau, seconds since the loop started).
--max-seconds is a deadline: no step starts after it, and the encoder is
saved as it is (the schedules stay those of --steps).

    /usr/bin/python3 bench/quality/torch_byol.py --data build/data/cifar10-jpg/train \\
        --out out/quality/torch --steps 780 --preset cifar10 --set net.width=0.25
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


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="CIFAR-10 JPEG training folder")
    ap.add_argument("--out")
    ap.add_argument("--steps", type=int, default=780)
    ap.add_argument("--views", choices=("torchvision", "libbyol"), default="torchvision")
    ap.add_argument("--preset", default="cifar10", help="libbyol preset of the recipe")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="libbyol setting on top of the preset (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-from", metavar="CKPT",
                    help="start from the weights of a libbyol checkpoint (online and target)")
    ap.add_argument("--stop-at", type=int, help="stop after this step (schedules of --steps)")
    ap.add_argument("--max-seconds", type=float,
                    help="deadline from the start of the loop: no step starts after it")
    ap.add_argument("--describe", action="store_true",
                    help="check the recipe, print it resolved as JSON and exit")
    args = ap.parse_args(argv)
    if not args.describe and not (args.data and args.out):
        ap.error("--data and --out are required")
    return args


def libbyol_package():
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    os.environ.setdefault("BYOL_LIBRARY", os.path.join(ROOT, "lib", "libbyol.so"))
    import byol
    return byol


def recipe_config(args):
    """The recipe as libbyol resolves it (preset, then the settings)."""
    byol = libbyol_package()
    cfg = byol.Config(args.preset, seed=args.seed, loader__workers=args.workers)
    cfg.parse(" ".join(args.set))
    return cfg


# What this script cannot reproduce: key -> the one value it trains with.
FIXED = {"net.arch": "resnet18-cifar", "net.init": "torchvision", "net.zero_init_residual": False,
         "net.bn_eps": 1e-5, "net.bn_momentum": 0.1, "optim.nesterov": False,
         "byol.head_batchnorm": True, "byol.mode": "byol", "byol.target_init": "copy",
         "augment.jitter": "torchvision", "augment.view1.blur_p": 0.0,
         "augment.view2.blur_p": 0.0}


def decays_bias_norm(cfg):
    """optim.wd_exclude: auto is bias_norm for lars, none for sgd."""
    wd_exclude = cfg["optim.wd_exclude"]
    return wd_exclude == "none" or (wd_exclude == "auto" and cfg["optim.name"] == "sgd")


def check_recipe(cfg):
    bad = [f"{k}={cfg[k]} (this script trains {v})" for k, v in FIXED.items() if cfg[k] != v]
    if cfg["optim.name"] not in byol_ref.OPTIMIZERS:
        bad.append(f"optim.name={cfg['optim.name']} (this script has sgd and lars)")
    elif cfg["optim.name"] == "lars" and decays_bias_norm(cfg):
        bad.append("optim.wd_exclude=none with lars (the reference's LARS skips biases and "
                   "norms)")
    if bad:
        sys.exit("torch_byol.py: the recipe has settings this script cannot reproduce: " +
                 "; ".join(bad))


def floats(text):
    return tuple(float(x) for x in text.split(","))


def two_view_transform(cfg):
    """The two torchvision pipelines, from the recipe's augment.* settings."""
    from torchvision import transforms as T
    mode = getattr(T.InterpolationMode, cfg["augment.interpolation"].upper())
    size = cfg["augment.size"]

    def view(v):
        g = lambda key: cfg[f"augment.{v}.{key}"]  # noqa: E731
        return T.Compose([
            T.RandomResizedCrop(size, scale=(g("crop_area_min"), g("crop_area_max")),
                                ratio=(g("crop_ratio_min"), g("crop_ratio_max")),
                                interpolation=mode),
            T.RandomApply([T.ColorJitter(g("brightness"), g("contrast"), g("saturation"),
                                         g("hue"))], p=g("jitter_p")),
            T.RandomGrayscale(p=g("gray_p")),
            # on 8-bit pixels: libbyol's threshold 0.5 is torchvision's 128
            T.RandomSolarize(round(256 * g("solarize_threshold")), p=g("solarize_p")),
            T.RandomHorizontalFlip(p=g("flip_p")),
            T.ToTensor(),
            T.Normalize(floats(cfg["augment.mean"]), floats(cfg["augment.std"])),
        ])

    v1, v2 = view("view1"), view("view2")
    return lambda img: (v1(img), v2(img))


def torchvision_batches(args, cfg):
    """Endless (view1, view2) batches from an ImageFolder."""
    from torchvision import datasets
    ds = datasets.ImageFolder(args.data, transform=two_view_transform(cfg))
    gen = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg["train.batch_size"], shuffle=True,
                                         drop_last=True,
                                         num_workers=args.workers, generator=gen,
                                         persistent_workers=args.workers > 0)
    while True:
        for (v1, v2), _ in loader:
            yield v1, v2


def libbyol_batches(args, cfg):
    """Endless (view1, view2) batches from libbyol's loader (Python package)."""
    byol = libbyol_package()
    ds = byol.Dataset.open(cfg, args.data)
    with byol.Loader(cfg, ds, mode="train") as loader:
        for v1, v2, _ in loader:
            yield torch.from_numpy(v1), torch.from_numpy(v2)


def build_model(args, cfg):
    enc = nets.resnet18_cifar(cfg["net.width"])
    hidden, pred_hidden, out = (cfg["byol.proj_hidden"], cfg["byol.pred_hidden"],
                                cfg["byol.proj_out"])
    # libbyol cuts a warmup that does not end before the last step to K-1
    warmup = min(cfg["train.warmup_steps"], max(args.steps - 1, 0))
    hp = byol_ref.Hyper(base_lr=cfg["optim.lr"], batch=cfg["train.batch_size"],
                        total_steps=args.steps, warmup_steps=warmup,
                        tau_base=cfg["ema.tau_base"], eta=cfg["optim.eta"],
                        clip_lr=cfg["optim.clip_lr"],
                        momentum=cfg["optim.momentum"], weight_decay=cfg["optim.weight_decay"],
                        optimizer=cfg["optim.name"],
                        decay_bias_norm=decays_bias_norm(cfg))
    return byol_ref.Byol(enc, byol_ref.mlp_head(enc.out_features, hidden, out),
                         byol_ref.mlp_head(out, pred_hidden, out), hp)


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


def save_encoder(model, path, args, cfg):
    sd = {k: v.detach().contiguous() for k, v in model.online["encoder"].state_dict().items()}
    st.write(path, sd, {"script": "bench/quality/torch_byol.py", "net": "resnet18-cifar",
                        "width": repr(cfg["net.width"]), "views": args.views})


def main(argv=None):
    args = parse_args(argv)
    cfg = recipe_config(args)
    check_recipe(cfg)
    if args.describe:
        print(json.dumps(cfg.to_dict()))
        return 0
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = build_model(args, cfg)
    if args.init_from:
        load_checkpoint(model, args.init_from)
    save_encoder(model, os.path.join(args.out, "encoder_init.safetensors"), args, cfg)
    batches = (torchvision_batches if args.views == "torchvision" else libbyol_batches)(args, cfg)
    batch = cfg["train.batch_size"]
    t0 = time.perf_counter()
    with open(os.path.join(args.out, "metrics.jsonl"), "w") as log:
        for k in range(args.stop_at or args.steps):
            if args.max_seconds is not None and time.perf_counter() - t0 >= args.max_seconds:
                print(f"deadline of {args.max_seconds:.1f} s: stopped at step {k} of "
                      f"{args.steps}", flush=True)
                break
            v1, v2 = next(batches)
            r = model.step(k, v1, v2)
            rec = {"step": k + 1, "loss": float(r["loss"]), "lr": r["lr"], "tau": r["tau"],
                   "seconds": round(time.perf_counter() - t0, 3)}
            log.write(json.dumps(rec) + "\n")
            if (k + 1) % 20 == 0:
                log.flush()
                print(f"step {k + 1}/{args.steps} loss {rec['loss']:.4f} "
                      f"{(k + 1) * batch / rec['seconds']:.1f} img/s", flush=True)
    save_encoder(model, os.path.join(args.out, "encoder.safetensors"), args, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
