#!/usr/bin/python3
"""PyTorch peer figures for libbyol's benchmarks (run by `make bench`).

What: measures PyTorch CPU training throughput (images/s) and peak memory
for the networks and the BYOL step libbyol implements, so the C benchmark
driver can print libbyol's figures next to PyTorch's on the same machine:

  fwdbwd_resnet18_cifar_b64     resnet18-cifar, width 1.0, input [64,3,32,32]
  fwdbwd_cnn_small_b256         cnn-small, input [256,1,28,28]
  byol_step_resnet18_cifar_b64  BYOL step as libbyol's "cifar10" preset at batch
                                64: resnet18-cifar, projector 512->4096->256,
                                predictor 256->4096->256, LARS (eta 0.02,
                                wd 1e-5, clipped), two views [64,3,32,32]
  byol_step_cnn_small_b256      BYOL step as the "fashion-mnist" preset:
                                cnn-small, heads 128->512->128 and
                                128->512->128, LARS, two views [256,1,28,28]
  byol_step_resnet18_cifar_w025_b256
                                BYOL step of the "cifar10" preset with
                                net.width=0.25, heads 128->1024->256 and
                                256->1024->256, SGD (lr 0.05, momentum 0.9,
                                wd 1e-3, biases and BatchNorm not decayed),
                                warmup 39 steps, two views [256,3,32,32]
  byol_step_resnet50_b32        BYOL step as the "imagenet" preset at batch 32:
                                torchvision's resnet50 without fc, heads
                                2048->4096->256 and 256->4096->256, LARS
                                (lr 0.2, eta 0.001, wd 1.5e-6, not clipped),
                                two views [32,3,224,224]
  pipeline_cifar10_w025_b256    the step above fed by torchvision's
                                ImageFolder + DataLoader over --cifar-dir
                                (bench/torch_loader_peer.py's two views,
                                1 worker process, batch 256); an iteration
                                is taking the next batch and the step, so
                                waiting for data counts; run with
                                OMP_WAIT_POLICY=passive (unless it or
                                GOMP_SPINCOUNT is set), PyTorch's faster
                                policy here

fwdbwd iteration, in train mode (BatchNorm uses batch statistics and
updates its running stats): parameter grads set to None, out = model(x),
sum(out * dy).backward() into every parameter (the input needs no grad).

byol_step iteration (tests/ref/byol_ref.py semantics, written with fused
torch._foreach ops instead of byol_ref's per-tensor Python loop): grads
zeroed in place; target projections z1, z2 of each view as separate
forwards in train mode under no_grad; online predictions p1, p2 as
separate forwards; loss = mean(l(p1, z2) + l(p2, z1)); one backward; LARS
with DM's trust ratio eta*|p|/|g + wd*p| (biases and BatchNorm excluded),
plus the preset's clip_lr (solo-learn's min(r/lr, 1), a per-tensor scalar),
or SGD as torch.optim.SGD (momentum, no dampening, weight decay added to the
gradient except for biases and BatchNorm, as libbyol's optim.name=sgd with
optim.wd_exclude=bias_norm);
then the target EMA with the new online parameters. Views are
torch.randn with a fixed seed. One step consumes `batch` images (two views
of each), so img_s = batch * steps / seconds. Gradients and momentum
are allocated when the model is built (like libbyol's, which are allocated
when the trainer is created), so they are in the memory baseline.
`--self-check` compares this step against byol_ref.Byol.step in float64
(with LARS, and with torch.optim.SGD in place of byol_ref's LARS).

FLOPs: gflop_per_img in the output counts what a direct convolution
computes, whatever algorithm runs: 2 FLOPs per multiply-add of every
Conv2d and Linear in one forward pass of one image (counted by forward
hooks), times 3 for forward + backward (the two backward products cost a
forward each). A fwdbwd iteration is 3 forward passes of the network per
image; a BYOL step is, per image, two views of 3 online passes (encoder,
projector, predictor) and 1 target pass (encoder, projector).

Both kinds: --warmup iterations are run untimed, then timed iterations
until at least --min-seconds have passed and at least --min-iters were run;
img_s = batch * timed iterations / timed seconds.

Memory: every case runs in a fresh child process (this script with
--child). After importing torch, setting the thread count and building the
model(s) and the inputs, the child reads its resident set size (VmRSS) as the
baseline and resets the kernel's peak-RSS mark by writing "5" to
/proc/self/clear_refs. After the warmup and timed iterations it reads the
peak (VmHWM). peak_mb = (peak - baseline) / 2^20 bytes: the memory the
training step itself needs (activations, grads, workspaces, allocator
slack), without the interpreter, torch's libraries, weights and data.
If the peak mark cannot be reset, getrusage(RUSAGE_SELF).ru_maxrss is
used instead (it also covers import-time peaks, so it can only over-state);
"mem_method" in the output says which was used.

Output: one JSON line per case on stdout, e.g.
  {"case": "fwdbwd_resnet18_cifar_b64", "img_s": 123.4, "peak_mb": 456.7,
   "threads": 2, "torch": "1.13.0a0", "batch": 64, "iters": 7, ...}
progress and errors go to stderr. Exit status is non-zero if a case failed.

Usage:
    /usr/bin/python3 bench/torch_peer.py [--threads 2] [--case NAME]...
        [--warmup 3] [--min-seconds 5] [--min-iters 3] [--cifar-dir DIR]
    /usr/bin/python3 bench/torch_peer.py --self-check
"""

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "ref"))

# case name -> (network name for tests/ref/nets.py, width, batch)
FWDBWD_CASES = {
    "fwdbwd_resnet18_cifar_b64": ("resnet18_cifar", 1.0, 64),
    "fwdbwd_cnn_small_b256": ("cnn_small", 1.0, 256),
}

# case name -> the BYOL step of a libbyol preset (src/core/config_keys.c):
# encoder, head sizes and optimizer settings as the preset sets them (or as
# the case in bench/bench_net.c overrides them), with the library defaults
# train.total_steps=1000, train.warmup_steps=0, optim.momentum=0.9 where the
# case sets nothing else.
BYOL_CASES = {
    "byol_step_resnet18_cifar_b64": dict(
        preset="cifar10", net="resnet18_cifar", width=1.0, batch=64,
        proj_hidden=4096, proj_out=256, pred_hidden=4096, optim="lars",
        base_lr=1.0, weight_decay=1e-5, eta=0.02, clip_lr=True, momentum=0.9,
        tau_base=0.99, total_steps=1000, warmup_steps=0),
    "byol_step_cnn_small_b256": dict(
        preset="fashion-mnist", net="cnn_small", width=1.0, batch=256,
        proj_hidden=512, proj_out=128, pred_hidden=512, optim="lars",
        base_lr=2.0, weight_decay=1e-5, eta=0.02, clip_lr=True, momentum=0.9,
        tau_base=0.99, total_steps=1000, warmup_steps=0),
    # bench_net.c's W025_RECIPE: lr 0.05 * 256/256, warmup 39 of 1000 steps.
    "byol_step_resnet18_cifar_w025_b256": dict(
        preset="cifar10", net="resnet18_cifar", width=0.25, batch=256,
        proj_hidden=1024, proj_out=256, pred_hidden=1024, optim="sgd",
        base_lr=0.05, weight_decay=1e-3, momentum=0.9,
        tau_base=0.99, total_steps=1000, warmup_steps=39),
    "byol_step_resnet50_b32": dict(
        preset="imagenet", net="resnet50", width=1.0, batch=32,
        proj_hidden=4096, proj_out=256, pred_hidden=4096, optim="lars",
        base_lr=0.2, weight_decay=1.5e-6, eta=0.001, clip_lr=False, momentum=0.9,
        tau_base=0.996, total_steps=1000, warmup_steps=0),
}

# case name -> (the BYOL_CASES step it runs, DataLoader worker processes):
# the step fed by torch_loader_peer.py's loader over --cifar-dir.
PIPELINE_CASES = {
    "pipeline_cifar10_w025_b256": ("byol_step_resnet18_cifar_w025_b256", 1),
}

CASES = list(FWDBWD_CASES) + list(BYOL_CASES) + list(PIPELINE_CASES)


def proc_status_kib(field):
    """Value in KiB of a field (VmRSS, VmHWM) of /proc/self/status, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = proc_status_kib("VmHWM"), proc_status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024


def train_step(model, x, dy):
    """One forward+backward of sum(model(x) * dy) into every parameter."""
    for p in model.parameters():
        p.grad = None
    out = model(x)
    (out * dy).sum().backward()


class ByolPeer:
    """The BYOL step of tests/ref/byol_ref.py, with fused multi-tensor ops.

    online = encoder -> projector -> predictor, target = a copy of the
    online encoder and projector (train mode, no grad). Heads are
    byol_ref.mlp_head (Linear(bias) -> BatchNorm1d -> ReLU -> Linear(no
    bias)). The LARS exclusion rule, the loss, lr(k) and tau(k) are
    byol_ref's own functions; only the update loops are rewritten with
    torch._foreach_* so the optimizer and the EMA cost a few fused passes
    over the parameters instead of a Python loop with .item() syncs.
    spec["optim"] is "lars" or "sgd"; SGD leaves out of weight decay the
    parameters LARS excludes, as libbyol's SGD does with
    optim.wd_exclude=bias_norm (the recipe's setting).
    """

    def __init__(self, encoder, feat, spec, dtype=None):
        import torch
        from torch import nn
        import byol_ref

        self.torch, self.ref = torch, byol_ref
        self.hp = byol_ref.Hyper(
            base_lr=spec["base_lr"], batch=spec["batch"], total_steps=spec["total_steps"],
            warmup_steps=spec["warmup_steps"], tau_base=spec["tau_base"],
            eta=spec.get("eta", 0.0), momentum=spec["momentum"],
            weight_decay=spec["weight_decay"])
        self.clip_lr = spec.get("clip_lr", False)
        self.update = {"lars": self.lars, "sgd": self.sgd}[spec["optim"]]
        self.online = nn.ModuleDict({
            "encoder": encoder,
            "projector": byol_ref.mlp_head(feat, spec["proj_hidden"], spec["proj_out"]),
            "predictor": byol_ref.mlp_head(spec["proj_out"], spec["pred_hidden"],
                                           spec["proj_out"]),
        })
        if dtype is not None:
            self.online.to(dtype)
        self.target = nn.ModuleDict({
            part: copy.deepcopy(self.online[part]) for part in byol_ref.TARGET_PARTS})
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.online.train()
        self.target.train()
        # LARS groups: trust ratio + weight decay, or neither (bias, BatchNorm).
        self.inc, self.exc = [], []
        for part in byol_ref.ONLINE_PARTS:
            for _, m, pname, p in byol_ref.named_params_with_modules(self.online[part]):
                (self.exc if byol_ref.lars_excluded(m, pname) else self.inc).append(p)
        self.params = self.inc + self.exc
        # Persistent gradients (zeroed in place each step, torch 1.13's
        # zero_grad default) and momentum, allocated now as libbyol does.
        # A zero momentum buffer gives torch.optim.SGD's first step (buffer
        # = gradient) exactly, since there is no dampening.
        for p in self.params:
            p.grad = torch.zeros_like(p)
        self.mu_inc = [torch.zeros_like(p) for p in self.inc]
        self.mu_exc = [torch.zeros_like(p) for p in self.exc]
        # EMA pairs (target parameter, online parameter), by name.
        self.ema_t, self.ema_o = [], []
        for part in byol_ref.TARGET_PARTS:
            tparams = dict(self.target[part].named_parameters())
            for name, op in self.online[part].named_parameters():
                self.ema_t.append(tparams[name])
                self.ema_o.append(op)
        self.k = 0

    def online_forward(self, x):
        o = self.online
        return o["predictor"](o["projector"](o["encoder"](x)))

    def target_forward(self, x):
        t = self.target
        with self.torch.no_grad():
            return t["projector"](t["encoder"](x))

    def lars(self, lr):
        """DM LARS (byol_ref.Lars) over all online parameters at once."""
        torch, hp = self.torch, self.hp
        with torch.no_grad():
            u = torch._foreach_add([p.grad for p in self.inc], self.inc, alpha=hp.weight_decay)
            pn = torch.stack(torch._foreach_norm(self.inc))
            un = torch.stack(torch._foreach_norm(u))
            ok = (pn > 0) & (un > 0)
            r = torch.where(ok, hp.eta * pn / un, torch.ones_like(pn))
            if self.clip_lr:  # solo-learn: min(r/lr, 1), as libbyol's optim.clip_lr
                r = torch.where(ok & (r < lr), r / lr, torch.ones_like(r)) if lr > 0 \
                    else torch.ones_like(r)
            torch._foreach_mul_(u, r.tolist())
            self.momentum_step(u, lr)

    def sgd(self, lr):
        """torch.optim.SGD (momentum, dampening 0, weight decay added to the
        gradient) with the excluded parameters in a group without decay."""
        torch, hp = self.torch, self.hp
        with torch.no_grad():
            u = torch._foreach_add([p.grad for p in self.inc], self.inc, alpha=hp.weight_decay)
            self.momentum_step(u, lr)

    def momentum_step(self, u_inc, lr):
        """mu = momentum*mu + u (u_inc for the decayed parameters, the bare
        gradient for the excluded ones), then p -= lr*mu: the tail LARS and
        SGD share."""
        torch, hp = self.torch, self.hp
        torch._foreach_mul_(self.mu_inc, hp.momentum)
        torch._foreach_add_(self.mu_inc, u_inc)
        torch._foreach_mul_(self.mu_exc, hp.momentum)
        torch._foreach_add_(self.mu_exc, [p.grad for p in self.exc])
        torch._foreach_add_(self.params, self.mu_inc + self.mu_exc, alpha=-lr)

    def ema(self, tau):
        """target = tau*target + (1 - tau)*online, parameters only."""
        torch = self.torch
        with torch.no_grad():
            torch._foreach_mul_(self.ema_t, tau)
            torch._foreach_add_(self.ema_t, self.ema_o, alpha=1.0 - tau)

    def step(self, view1, view2):
        """One BYOL step; returns the loss (0-d tensor)."""
        torch, ref = self.torch, self.ref
        torch._foreach_zero_([p.grad for p in self.params])
        z1 = self.target_forward(view1)
        z2 = self.target_forward(view2)
        p1 = self.online_forward(view1)
        p2 = self.online_forward(view2)
        loss = (ref.regression_loss(p1, z2) + ref.regression_loss(p2, z1)).mean()
        loss.backward()
        self.update(ref.learning_rate(self.k, self.hp))
        self.ema(ref.target_tau(self.k, self.hp))
        self.k += 1
        return loss.detach()


def build_peer(case):
    """The ByolPeer of a BYOL_CASES case; returns (peer, batch, view shape)."""
    import nets

    spec = BYOL_CASES[case]
    encoder, chw = nets.build(spec["net"], spec["width"])
    return ByolPeer(encoder, encoder.out_features, spec), spec["batch"], chw


def endless(loader):
    """(view1, view2) batches of a DataLoader, epoch after epoch."""
    while True:
        for (v1, v2), _ in loader:
            yield v1, v2


def build_pipeline(case, cifar_dir):
    """A PIPELINE_CASES case: the step of its BYOL case fed by
    torch_loader_peer.py's loader; returns (batch, iteration fn)."""
    import torch_loader_peer

    step_case, workers = PIPELINE_CASES[case]
    peer, batch, _ = build_peer(step_case)
    batches = endless(torch_loader_peer.make_loader(cifar_dir, workers, batch))
    return batch, lambda: peer.step(*next(batches))


def build_workload(case, cifar_dir=None, batch_seed=0):
    """Builds a case's model(s) and inputs; returns (batch, iteration fn)."""
    import torch
    import nets

    torch.manual_seed(batch_seed)
    if case in FWDBWD_CASES:
        name, width, batch = FWDBWD_CASES[case]
        model, chw = nets.build(name, width)
        model.train()
        x = torch.randn((batch,) + chw)
        dy = torch.randn(batch, model.out_features)
        return batch, lambda: train_step(model, x, dy)
    if case in PIPELINE_CASES:
        return build_pipeline(case, cifar_dir)
    peer, batch, chw = build_peer(case)
    view1 = torch.randn((batch,) + chw)
    view2 = torch.randn((batch,) + chw)
    return batch, lambda: peer.step(view1, view2)


def forward_flops(*modules, chw):
    """FLOPs of one image through the modules in turn (2 per multiply-add
    of Conv2d and Linear)."""
    import torch
    from torch import nn

    total = [0]

    def count(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            total[0] += 2 * out.numel() * k
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features

    hooks = [m.register_forward_hook(count) for mod in modules for m in mod.modules()]
    x = torch.zeros((2,) + chw)  # 2 images: BatchNorm needs more than one
    with torch.no_grad():
        for mod in modules:
            mod.eval()
            x = mod(x)
    for h in hooks:
        h.remove()
    return total[0] / 2


def gflop_per_image(case):
    """GFLOPs of one image of a case's iteration (see FLOPs above)."""
    case = PIPELINE_CASES[case][0] if case in PIPELINE_CASES else case
    if case in FWDBWD_CASES:
        import nets
        name, width, _ = FWDBWD_CASES[case]
        model, chw = nets.build(name, width)
        return 3 * forward_flops(model, chw=chw) / 1e9
    peer, _, chw = build_peer(case)
    o = peer.online
    online = forward_flops(o["encoder"], o["projector"], o["predictor"], chw=chw)
    target = forward_flops(o["encoder"], o["projector"], chw=chw)
    return 2 * (3 * online + target) / 1e9


def run_case(case, threads, warmup, min_seconds, min_iters, cifar_dir=None):
    """Measures one case in this process; returns its result dict."""
    import torch

    torch.set_num_threads(threads)
    batch, iteration = build_workload(case, cifar_dir)

    base_kib = proc_status_kib("VmRSS")
    hwm_reset = reset_peak_rss()
    for _ in range(warmup):
        out = iteration()
    iters = 0
    start = time.perf_counter()
    while True:
        out = iteration()
        iters += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and iters >= min_iters:
            break
    if hwm_reset:
        peak_kib, method = proc_status_kib("VmHWM"), "VmHWM after clear_refs minus VmRSS"
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss minus VmRSS"
    res = {
        "case": case,
        "img_s": round(batch * iters / elapsed, 2),
        "peak_mb": round((peak_kib - base_kib) / 1024.0, 1),
        "threads": threads,
        "torch": torch.__version__,
        "batch": batch,
        "iters": iters,
        "seconds": round(elapsed, 3),
        "warmup": warmup,
        "rss_base_mb": round(base_kib / 1024.0, 1),
        "mem_method": method,
        "gflop_per_img": round(gflop_per_image(case), 4),
    }
    if case in PIPELINE_CASES:
        res["workers"] = PIPELINE_CASES[case][1]
        res["mem_note"] = "this process only, not its DataLoader worker processes"
        case = PIPELINE_CASES[case][0]
    if case in BYOL_CASES:
        res["preset"] = BYOL_CASES[case]["preset"]
        res["last_loss"] = round(float(out), 6)
    return res


class TorchSgd:
    """torch.optim.SGD behind byol_ref's optimizer interface (step(lr)),
    biases and BatchNorm in a group without weight decay: the reference
    the peer's SGD is checked against."""

    def __init__(self, online, hp):
        import torch
        import byol_ref

        groups = ([], [])
        for part in byol_ref.ONLINE_PARTS:
            for _, m, pname, p in byol_ref.named_params_with_modules(online[part]):
                groups[byol_ref.lars_excluded(m, pname)].append(p)
        self.opt = torch.optim.SGD([{"params": groups[0], "weight_decay": hp.weight_decay},
                                    {"params": groups[1], "weight_decay": 0.0}],
                                   lr=0.0, momentum=hp.momentum)

    def step(self, lr):
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.step()


def check_against_ref(optim):
    """Largest difference between ByolPeer.step and byol_ref.Byol.step with
    `optim` ("lars": byol_ref's own LARS; "sgd": torch.optim.SGD) over 3
    steps in float64, small nets, clip_lr off since byol_ref has no clip."""
    import torch
    import byol_ref
    import nets

    torch.manual_seed(0)
    spec = dict(BYOL_CASES["byol_step_cnn_small_b256"], batch=8, proj_hidden=32, proj_out=16,
                pred_hidden=32, clip_lr=False, total_steps=6, warmup_steps=2, eta=1e-3,
                optim=optim, weight_decay=1e-2 if optim == "sgd" else 1e-5)
    enc = nets.cnn_small()
    peer = ByolPeer(enc, enc.out_features, spec, dtype=torch.float64)
    hp = peer.hp
    ref = byol_ref.Byol(copy.deepcopy(peer.online["encoder"]),
                        copy.deepcopy(peer.online["projector"]),
                        copy.deepcopy(peer.online["predictor"]), hp)
    if optim == "sgd":
        ref.opt = TorchSgd(ref.online, hp)
    # byol_ref deep-copies its target from the online net it is given, as the peer did.
    worst = 0.0
    for k in range(3):
        v1 = torch.randn(8, 1, 28, 28, dtype=torch.float64)
        v2 = torch.randn(8, 1, 28, 28, dtype=torch.float64)
        lp = peer.step(v1, v2)
        lr = ref.step(k, v1, v2)["loss"]
        worst = max(worst, abs(float(lp) - float(lr)))
        for net_a, net_b in ((peer.online, ref.online), (peer.target, ref.target)):
            sa, sb = net_a.state_dict(), net_b.state_dict()
            for name in sb:
                worst = max(worst, float((sa[name].double() - sb[name].double()).abs().max()))
    return worst


def self_check():
    """ByolPeer.step against byol_ref.Byol.step, with LARS and with SGD;
    returns 0 if both agree."""
    status = 0
    for optim in ("lars", "sgd"):
        worst = check_against_ref(optim)
        print(f"self-check ({optim}): max abs difference after 3 steps {worst:.3g}",
              file=sys.stderr)
        status |= worst >= 1e-9
    return int(status)


def spawn_case(case, args):
    """Runs one case in a fresh child process; returns its JSON line or None."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case,
           "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--min-seconds", str(args.min_seconds), "--min-iters", str(args.min_iters)]
    if args.cifar_dir:
        cmd += ["--cifar-dir", args.cifar_dir]
    env = dict(os.environ)
    if case in PIPELINE_CASES:
        # GNU OpenMP threads spinning at barriers would take the core the
        # loader worker needs. libbyol's own threads spin briefly, then
        # sleep (docs/threading.md); PyTorch ran this case faster
        # passive (141.5 img/s, against 133.8 with the short spin and 131.8
        # with libgomp's default; Zen 4, 2 threads, 2026-12-03), so it gets
        # passive. libgomp reads this as it loads, hence the child.
        if "GOMP_SPINCOUNT" not in env:
            env.setdefault("OMP_WAIT_POLICY", "passive")
    print(f"torch_peer: running {case} ...", file=sys.stderr, flush=True)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or len(lines) != 1:
        print(f"torch_peer: {case} failed (exit {res.returncode})", file=sys.stderr)
        return None
    return lines[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--case", action="append", choices=CASES,
                    help="run only this case (repeatable; default: all, the "
                         "pipeline_* ones only with --cifar-dir)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations (default 3)")
    ap.add_argument("--min-seconds", type=float, default=5.0,
                    help="time at least this long per case (default 5)")
    ap.add_argument("--min-iters", type=int, default=3,
                    help="and at least this many timed iterations (default 3)")
    ap.add_argument("--cifar-dir",
                    help="CIFAR-10 JPEG training folder, for the pipeline_* cases")
    ap.add_argument("--self-check", action="store_true",
                    help="compare the BYOL step with tests/ref/byol_ref.py and exit")
    ap.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.self_check:
        return self_check()
    if args.child:
        result = run_case(args.child, args.threads, args.warmup, args.min_seconds,
                          args.min_iters, args.cifar_dir)
        print(json.dumps(result), flush=True)
        return 0
    cases = args.case or [c for c in CASES if args.cifar_dir or c not in PIPELINE_CASES]
    if any(c in PIPELINE_CASES for c in cases) and not args.cifar_dir:
        ap.error("the pipeline_* cases need --cifar-dir")
    failed = 0
    for case in cases:
        line = spawn_case(case, args)
        if line is None:
            failed += 1
        else:
            print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
