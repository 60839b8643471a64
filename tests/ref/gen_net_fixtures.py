#!/usr/bin/python3
"""Generates libbyol's network reference fixtures from PyTorch.

What: for each fixture network (resnet18_cifar at width 0.25 with input
[4,3,32,32], cnn_small with input [4,1,28,28]) it writes

  tests/fixtures/<net>.weights.safetensors
      the full state_dict (F32; num_batches_tracked I64) with every tensor
      made non-trivial: convs from the network's init, BN weight ~ U(0.5,1.5),
      bias ~ N(0,0.1), running_mean ~ N(0,0.1), running_var ~ U(0.5,1.5),
      num_batches_tracked = 3;
  tests/fixtures/<net>.io.safetensors
      input            NCHW input (randn)
      dy               upstream gradient (randn, output shape)
      eval_output      model.eval() forward with the saved weights
      output           model.train() forward (batch statistics)
      dx               d sum(output * dy) / d input
      grad.<param>     d sum(output * dy) / d param, for every parameter
      state.<buffer>   every BN buffer after that one training forward
                       (running stats F32, num_batches_tracked I64)

Why: libbyol must match PyTorch numerically; its C tests load these files
(PyTorch is never needed to run them). Everything is computed twice, in
float32 and in float64 (model.double()); the float32-vs-float64 relative
difference max|a-b|/max|b| is printed per tensor to show each reference is
well-conditioned, and the committed values are the float64 results rounded
to float32 (a more accurate reference than a float32 run).

Usage (from the repository root; needs python3-torch, python3-torchvision):
    /usr/bin/python3 tests/ref/gen_net_fixtures.py [--out-dir tests/fixtures]
        [--nets resnet18_cifar,cnn_small] [--seed 20240601] [--check]
Output is deterministic for a given torch build (one intra-op thread).
--check writes nothing: it regenerates in memory and compares with the
committed files (exit status 1 if any tensor differs by more than
--check-rtol, default 1e-6, relative to its max magnitude, or if a tensor's
float32-vs-float64 difference is above 1e-5).
See tests/ref/README.md for the committed files and their figures.
"""

import argparse
import copy
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nets  # noqa: E402
import st  # noqa: E402

SCRIPT = "tests/ref/gen_net_fixtures.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BATCH = 4
# name -> width multiplier (None: the network has no width parameter).
FIXTURE_NETS = {"resnet18_cifar": 0.25, "cnn_small": None}
CONDITION_LIMIT = 1e-5


def perturb_batchnorm(model, gen):
    """Makes every BN tensor non-trivial, in module order, from `gen`."""
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
                m.num_batches_tracked.fill_(3)


def make_case(name, width, seed):
    """Builds the seeded, perturbed float32 model and its input and dy."""
    torch.manual_seed(seed)
    model, chw = nets.build(name, width if width is not None else 1.0)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_batchnorm(model, gen)
    x = torch.randn((BATCH,) + chw, generator=gen)
    dy = torch.randn((BATCH, model.out_features), generator=gen)
    return model, x, dy


def run(model, x, dy, dtype):
    """Eval forward, then one train forward+backward, on a copy in `dtype`.

    Returns an ordered dict of every io-fixture tensor (torch, in `dtype`,
    except num_batches_tracked which stays int64)."""
    m = copy.deepcopy(model).to(dtype)
    x = x.to(dtype)
    dy = dy.to(dtype)
    out = {"input": x, "dy": dy}
    m.eval()
    with torch.no_grad():
        out["eval_output"] = m(x).clone()
    m.train()
    xg = x.clone().requires_grad_(True)
    y = m(xg)
    (y * dy).sum().backward()
    out["output"] = y.detach()
    out["dx"] = xg.grad.detach()
    for pname, p in m.named_parameters():
        out["grad." + pname] = p.grad.detach()
    for bname, b in m.named_buffers():
        out["state." + bname] = b.detach().clone()
    return out


def rel_diff(a, b):
    """max|a-b| / max|b| in float64 (0 when both are all zero)."""
    a = a.double()
    b = b.double()
    scale = b.abs().max().item()
    err = (a - b).abs().max().item()
    if scale == 0.0:
        return 0.0 if err == 0.0 else float("inf")
    return err / scale


def report_conditioning(name, r32, r64):
    """Prints the float32-vs-float64 difference per tensor; returns the worst."""
    print(f"== {name}: float32 vs float64, max|a-b|/max|b|")
    worst = 0.0
    for key, b in r64.items():
        a = r32[key]
        if not b.is_floating_point():
            ok = torch.equal(a, b)
            print(f"  {key:48s} {'equal' if ok else 'DIFFERENT'}")
            worst = worst if ok else float("inf")
            continue
        d = rel_diff(a, b)
        flag = "" if d < CONDITION_LIMIT else "   <-- above 1e-5"
        print(f"  {key:48s} {d:.3e}{flag}")
        worst = max(worst, d)
    print(f"  worst: {worst:.3e} ({'OK' if worst < CONDITION_LIMIT else 'ABOVE 1e-5'})")
    return worst


def to_fixture(tensors):
    """Float tensors -> float32 numpy, integer ones -> int64 numpy."""
    res = {}
    for k, v in tensors.items():
        v = v.detach()
        res[k] = (v.float() if v.is_floating_point() else v.long()).numpy()
    return res


def metadata(name, width, seed, kind):
    """The __metadata__ strings stored in both fixture files."""
    return {
        "torch": torch.__version__,
        "script": SCRIPT,
        "net": name,
        "width": "none" if width is None else repr(width),
        "seed": str(seed),
        "batch": str(BATCH),
        "kind": kind,
        "reference": "computed in float64 (model.double()), stored as float32",
        "bn_eps": "1e-05",
        "bn_momentum": "0.1",
    }


def generate(name, width, seed):
    """Returns (weights dict, io dict, worst conditioning) for one network."""
    model, x, dy = make_case(name, width, seed)
    weights = to_fixture(model.state_dict())
    r32 = run(model, x, dy, torch.float32)
    r64 = run(model, x, dy, torch.float64)
    worst = report_conditioning(name, r32, r64)
    return weights, to_fixture(r64), worst


def check_against(path, fresh, rtol):
    """Compares freshly generated tensors with a committed file; True if same."""
    old, _ = st.read(path)
    ok = set(old) == set(fresh)
    if not ok:
        print(f"  {path}: tensor names differ")
    for k in sorted(set(old) & set(fresh)):
        a, b = old[k], fresh[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            print(f"  {path}: {k}: shape/dtype differ")
            ok = False
            continue
        scale = float(np.abs(b).max()) if b.size else 0.0
        err = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if b.size else 0.0
        if err > rtol * max(scale, 1e-30):
            print(f"  {path}: {k}: rel diff {err / max(scale, 1e-30):.3e}")
            ok = False
    print(f"  {path}: {'matches' if ok else 'DIFFERS'}")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("--nets", default=",".join(FIXTURE_NETS))
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--check", action="store_true",
                    help="compare with the files in --out-dir instead of writing")
    ap.add_argument("--check-rtol", type=float, default=1e-6)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    all_ok = True
    for name in args.nets.split(","):
        width = FIXTURE_NETS[name]
        weights, io, worst = generate(name, width, args.seed)
        all_ok &= worst < CONDITION_LIMIT
        wpath = os.path.join(args.out_dir, f"{name}.weights.safetensors")
        ipath = os.path.join(args.out_dir, f"{name}.io.safetensors")
        if args.check:
            all_ok &= check_against(wpath, weights, args.check_rtol)
            all_ok &= check_against(ipath, io, args.check_rtol)
            continue
        os.makedirs(args.out_dir, exist_ok=True)
        st.write(wpath, weights, metadata(name, width, args.seed, "weights"))
        st.write(ipath, io, metadata(name, width, args.seed, "io"))
        for p in (wpath, ipath):
            print(f"  wrote {os.path.relpath(p)} ({os.path.getsize(p)} bytes)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
