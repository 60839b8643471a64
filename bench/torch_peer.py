#!/usr/bin/python3
"""PyTorch peer figures for libbyol's benchmarks (run by `make bench`).

What: measures PyTorch CPU forward+backward throughput (images/s) and peak
memory for the networks libbyol implements, so the C benchmark driver can
print libbyol's figures next to PyTorch's on the same machine:

  fwdbwd_resnet18_cifar_b64  resnet18-cifar, width 1.0, input [64,3,32,32]
  fwdbwd_cnn_small_b256      cnn-small, input [256,1,28,28]

Each iteration, in train mode (BatchNorm uses batch statistics and updates
its running stats): parameter grads set to None, out = model(x),
sum(out * dy).backward() into every parameter (the input needs no grad).
--warmup iterations are run untimed, then timed iterations until at least
--min-seconds have passed and at least --min-iters were run;
img_s = batch * timed iterations / timed seconds.

Memory: every case runs in a fresh child process (this script with
--child). After importing torch, setting the thread count and building the
model, x and dy, the child reads its resident set size (VmRSS) as the
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
        [--warmup 3] [--min-seconds 5] [--min-iters 3]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "ref"))

# case name -> (network name for tests/ref/nets.py, width, batch)
CASES = {
    "fwdbwd_resnet18_cifar_b64": ("resnet18_cifar", 1.0, 64),
    "fwdbwd_cnn_small_b256": ("cnn_small", 1.0, 256),
}


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


def run_case(case, threads, warmup, min_seconds, min_iters):
    """Measures one case in this process; returns its result dict."""
    import torch
    import nets

    torch.set_num_threads(threads)
    name, width, batch = CASES[case]
    torch.manual_seed(0)
    model, chw = nets.build(name, width)
    model.train()
    x = torch.randn((batch,) + chw)
    dy = torch.randn(batch, model.out_features)

    base_kib = proc_status_kib("VmRSS")
    hwm_reset = reset_peak_rss()
    for _ in range(warmup):
        train_step(model, x, dy)
    iters = 0
    start = time.perf_counter()
    while True:
        train_step(model, x, dy)
        iters += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and iters >= min_iters:
            break
    if hwm_reset:
        peak_kib, method = proc_status_kib("VmHWM"), "VmHWM after clear_refs minus VmRSS"
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss minus VmRSS"
    return {
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
    }


def spawn_case(case, args):
    """Runs one case in a fresh child process; returns its JSON line or None."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case,
           "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--min-seconds", str(args.min_seconds), "--min-iters", str(args.min_iters)]
    print(f"torch_peer: running {case} ...", file=sys.stderr, flush=True)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or len(lines) != 1:
        print(f"torch_peer: {case} failed (exit {res.returncode})", file=sys.stderr)
        return None
    return lines[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--case", action="append", choices=sorted(CASES),
                    help="run only this case (repeatable; default: all)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations (default 3)")
    ap.add_argument("--min-seconds", type=float, default=5.0,
                    help="time at least this long per case (default 5)")
    ap.add_argument("--min-iters", type=int, default=3,
                    help="and at least this many timed iterations (default 3)")
    ap.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        result = run_case(args.child, args.threads, args.warmup, args.min_seconds, args.min_iters)
        print(json.dumps(result), flush=True)
        return 0
    failed = 0
    for case in args.case or list(CASES):
        line = spawn_case(case, args)
        if line is None:
            failed += 1
        else:
            print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
