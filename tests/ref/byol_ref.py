"""PyTorch reference of libbyol's BYOL training step (DeepMind semantics).

What: a small, explicit PyTorch implementation of one BYOL optimisation step
as DeepMind's reference code does it (see the BYOL reference specification,
sections 1-4 and 8), used by gen_byol_fixtures.py to make the fixtures the C
trainer must reproduce. It works in float32 and float64 (build the modules,
then `.to(dtype)` / `.double()` everything before constructing Byol).

  * online = encoder -> projector -> predictor; target = encoder -> projector,
    initialised as an exact copy of the online encoder and projector.
  * Heads (mlp_head): Linear(in, hidden, bias=True) -> BatchNorm1d(hidden)
    -> ReLU -> Linear(hidden, out, bias=False), as nn.Sequential, so the
    state_dict names are 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean,
    1.running_var, 1.num_batches_tracked, 3.weight.
  * Each view is a separate forward (BatchNorm batch statistics per view);
    per network the forwards run view1 then view2, so the BN running stats
    (PyTorch convention: momentum 0.1, unbiased running_var) are updated with
    view1's batch statistics first, then view2's. The target runs in train
    mode under no_grad; its running stats evolve from its own forwards only.
  * l2_normalize(x) = x * rsqrt(max(sum(x^2), 1e-12)) (DM's epsilon on the
    squared norm); l(p, z) = sum_d (p_hat - z_hat)^2 = 2 - 2 cos(p, z);
    loss = mean_i [ l(p1_i, z2_i) + l(p2_i, z1_i) ] (directions summed,
    batch averaged); p = online prediction, z = target projection.
  * LARS (DM): per parameter tensor, u = g + wd*p unless excluded; if not
    excluded, u *= eta*||p||/||u|| when both norms are > 0 (else ratio 1);
    mu = m*mu + u (mu starts at 0); p -= lr*mu. Excluded from BOTH weight
    decay and the trust ratio: every bias and every BatchNorm weight/bias.
    Hyper.clip_lr (solo-learn, libbyol's optim.clip_lr) turns the ratio r
    into min(r/lr, 1).
  * SGD (Hyper.optimizer="sgd", libbyol's optim.name=sgd): torch.optim.SGD's
    momentum; biases and norms get no weight decay (libbyol's
    optim.wd_exclude=bias_norm) unless decay_bias_norm (libbyol's none, and
    auto for sgd).
  * lr(k) = base_lr*B/256 * k/W for k < W, else
    base_lr*B/256 * 0.5*(1 + cos(pi*min(k-W, K-W)/(K-W)));
    tau(k) = 1 - (1 - tau_base)*(cos(pi*min(k, K)/K) + 1)/2; k is the 0-based
    index of the step being taken.
  * Step k: zero grads; forwards; loss; backward (online only); LARS with
    lr(k); then target = tau(k)*target + (1 - tau(k))*online_new for every
    target PARAMETER (encoder and projector, BN weight/bias included), never
    for BN buffers (running_mean, running_var, num_batches_tracked).

Why: libbyol's C trainer must match the reference numerically; this file is
the readable statement of exactly what "the reference" computes.

Usage:
    import byol_ref, nets
    hp = byol_ref.Hyper(base_lr=2.0, batch=8, total_steps=6, warmup_steps=2)
    enc = nets.cnn_small()
    model = byol_ref.Byol(enc, byol_ref.mlp_head(128, 128, 64),
                          byol_ref.mlp_head(64, 128, 64), hp)
    stats = model.step(0, view1, view2)   # dict: loss, loss_12, loss_21, lr, tau
"""

import copy
import dataclasses
import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

ONLINE_PARTS = ("encoder", "projector", "predictor")
TARGET_PARTS = ("encoder", "projector")
L2_EPS = 1e-12


@dataclasses.dataclass
class Hyper:
    """BYOL hyperparameters (DM names in comments)."""

    base_lr: float = 0.2         # learning_rate.base_learning_rate
    batch: int = 256             # per-view batch size B (lr is scaled by B/256)
    total_steps: int = 1000      # K = max_steps (lr and tau schedules)
    warmup_steps: int = 10       # W = lr warmup steps
    tau_base: float = 0.99       # base_target_ema
    eta: float = 1e-3            # LARS trust coefficient
    clip_lr: bool = False        # LARS: r becomes min(r/lr, 1) (solo-learn; off in DM)
    momentum: float = 0.9        # LARS momentum
    weight_decay: float = 1.5e-6  # coupled L2, added to the gradient
    optimizer: str = "lars"      # "lars" (DM) or "sgd" (torch.optim.SGD semantics)
    decay_bias_norm: bool = False  # sgd only: also decay biases and norms (torch's default)


def mlp_head(in_dim, hidden_dim, out_dim):
    """DM-style head: Linear(bias) -> BatchNorm1d -> ReLU -> Linear(no bias)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim, bias=True),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, out_dim, bias=False),
    )


def l2_normalize(x, eps=L2_EPS):
    """x * rsqrt(max(sum(x^2), eps)) along the last axis (DM helpers.py)."""
    return x * torch.rsqrt(torch.clamp((x * x).sum(dim=-1, keepdim=True), min=eps))


def regression_loss(p, z):
    """Per-sample sum_d (p_hat - z_hat)^2 = 2 - 2 cos(p, z); shape [N]."""
    d = l2_normalize(p) - l2_normalize(z)
    return (d * d).sum(dim=-1)


def learning_rate(k, hp):
    """lr(k): linear warmup from 0 over W steps, then cosine to 0 at K."""
    scaled = hp.base_lr * hp.batch / 256.0
    if k < hp.warmup_steps:
        return scaled * k / hp.warmup_steps
    span = hp.total_steps - hp.warmup_steps
    t = min(k - hp.warmup_steps, span)
    return scaled * 0.5 * (1.0 + math.cos(math.pi * t / span))


def target_tau(k, hp):
    """tau(k) = 1 - (1 - tau_base) * (cos(pi*min(k,K)/K) + 1) / 2."""
    kk = min(k, hp.total_steps)
    return 1.0 - (1.0 - hp.tau_base) * (math.cos(math.pi * kk / hp.total_steps) + 1.0) / 2.0


def lars_excluded(module, param_name):
    """True if the parameter gets neither weight decay nor the trust ratio:
    any bias, and every BatchNorm weight/bias (DM exclude_bias_and_norm)."""
    return param_name == "bias" or isinstance(module, _BatchNorm)


def named_params_with_modules(module):
    """(full name, module, short name, param) for every parameter, in
    named_parameters() order."""
    res = []
    for mname, m in module.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            res.append((full, m, pname, p))
    order = [n for n, _ in module.named_parameters()]
    assert order == [r[0] for r in res], "unexpected parameter order"
    return res


class Lars:
    """DM's LARS chain: add_weight_decay -> scale_by_lars -> scale(-lr)."""

    def __init__(self, parts, hp):
        """parts: dict part name -> nn.Module (the online network)."""
        self.hp = hp
        self.entries = []   # (part, name, param, excluded)
        self.mu = {}        # "part.name" -> momentum buffer
        for part, mod in parts.items():
            for full, m, pname, p in named_params_with_modules(mod):
                excluded = lars_excluded(m, pname)
                self.entries.append((part, full, p, excluded))
                self.mu[f"{part}.{full}"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, lr):
        hp = self.hp
        for part, name, p, excluded in self.entries:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if excluded:
                u = g.clone()
            else:
                u = g + hp.weight_decay * p
                pn = torch.linalg.vector_norm(p)
                un = torch.linalg.vector_norm(u)
                if pn.item() > 0.0 and un.item() > 0.0:
                    r = hp.eta * pn / un
                    if hp.clip_lr:
                        r = r / lr if 0.0 < lr and r.item() < lr else 1.0
                    u = r * u
            mu = self.mu[f"{part}.{name}"]
            mu.mul_(hp.momentum).add_(u)
            p.sub_(lr * mu)


class Sgd:
    """torch.optim.SGD with momentum (no dampening, no Nesterov): d = g + wd*p
    (wd 0 for biases and norms unless hp.decay_bias_norm); the momentum
    buffer starts as d on the first step, then mu = m*mu + d; p -= lr*mu.
    This is libbyol's optim.name=sgd with optim.wd_exclude=bias_norm, or
    with none (auto) when hp.decay_bias_norm."""

    def __init__(self, parts, hp):
        self.hp = hp
        self.entries = []   # (part, name, param, decay)
        self.mu = {}
        for part, mod in parts.items():
            for full, m, pname, p in named_params_with_modules(mod):
                decay = hp.decay_bias_norm or not lars_excluded(m, pname)
                self.entries.append((part, full, p, decay))
                self.mu[f"{part}.{full}"] = None

    @torch.no_grad()
    def step(self, lr):
        hp = self.hp
        for part, name, p, decay in self.entries:
            d = p.grad if p.grad is not None else torch.zeros_like(p)
            if decay:
                d = d + hp.weight_decay * p
            key = f"{part}.{name}"
            mu = self.mu[key]
            if mu is None:
                mu = self.mu[key] = d.clone()
            else:
                mu.mul_(hp.momentum).add_(d)
            p.sub_(lr * mu)


OPTIMIZERS = {"lars": Lars, "sgd": Sgd}


class Byol(nn.Module):
    """Online (encoder, projector, predictor) + target (encoder, projector)."""

    def __init__(self, encoder, projector, predictor, hp):
        super().__init__()
        self.hp = hp
        self.online = nn.ModuleDict(
            {"encoder": encoder, "projector": projector, "predictor": predictor})
        self.target = nn.ModuleDict({
            "encoder": copy.deepcopy(encoder),
            "projector": copy.deepcopy(projector),
        })
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.opt = OPTIMIZERS[hp.optimizer](dict(self.online.items()), hp)

    def online_forward(self, x):
        """Returns the online prediction q(g(f(x)))."""
        o = self.online
        return o["predictor"](o["projector"](o["encoder"](x)))

    @torch.no_grad()
    def target_forward(self, x):
        """Returns the target projection g'(f'(x)) (train mode, no grad)."""
        t = self.target
        return t["projector"](t["encoder"](x))

    @torch.no_grad()
    def ema_update(self, tau):
        """target = tau*target + (1 - tau)*online for every target parameter."""
        for part in TARGET_PARTS:
            tparams = dict(self.target[part].named_parameters())
            for name, op in self.online[part].named_parameters():
                tp = tparams[name]
                tp.copy_(tau * tp + (1.0 - tau) * op)

    def step(self, k, view1, view2):
        """One BYOL step with 0-based index k; returns a dict of float64
        Python floats and 0-d tensors: loss, loss_12, loss_21, lr, tau."""
        self.online.train()
        self.target.train()
        for p in self.online.parameters():
            p.grad = None
        p1 = self.online_forward(view1)
        p2 = self.online_forward(view2)
        z1 = self.target_forward(view1)
        z2 = self.target_forward(view2)
        l12 = regression_loss(p1, z2)
        l21 = regression_loss(p2, z1)
        loss = (l12 + l21).mean()
        loss.backward()
        lr = learning_rate(k, self.hp)
        tau = target_tau(k, self.hp)
        self.opt.step(lr)
        self.ema_update(tau)
        return {
            "loss": loss.detach(),
            "loss_12": l12.detach().mean(),
            "loss_21": l21.detach().mean(),
            "lr": lr,
            "tau": tau,
        }

    def state_tensors(self, prefix):
        """Ordered dict of every state tensor: <prefix>online.<part>.<name>,
        <prefix>target.<part>.<name>, <prefix>momentum.online.<part>.<name>."""
        out = {}
        for part in ONLINE_PARTS:
            for n, t in self.online[part].state_dict().items():
                out[f"{prefix}online.{part}.{n}"] = t.detach().clone()
        for part in TARGET_PARTS:
            for n, t in self.target[part].state_dict().items():
                out[f"{prefix}target.{part}.{n}"] = t.detach().clone()
        for key, mu in self.opt.mu.items():
            if mu is not None:  # SGD makes its buffers on the first step
                out[f"{prefix}momentum.online.{key}"] = mu.detach().clone()
        return out
