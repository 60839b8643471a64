#!/usr/bin/env python3
"""`make bench`: libbyol next to PyTorch on the same machine and thread count.

With --peak it first measures the machine's multiply-add peak on the same
thread count (bench/peak.c: register-only fp32 FMAs, and bf16 dot products
on AMX tiles or with AVX512_BF16, where the CPU has them), printed as

  PEAK threads=<n> fp32_gflops=<x> fp32_isa=<isa> bf16_gflops=<y> bf16_isa=<isa>

Then it runs build/<blas>/bench/bench_net for each case (by default all six:
fwdbwd_resnet18_cifar_b64, fwdbwd_cnn_small_b256, byol_step_resnet18_cifar_b64,
byol_step_cnn_small_b256, byol_step_resnet18_cifar_w025_b256,
byol_step_resnet50_b32) at the default settings, the ResNet cases again in
the exact mode (EXACT_SETTINGS, named <case>_exact) and, where the CPU has
AVX512_BF16, again in bf16 (BF16_SETTINGS, <case>_bf16), then
bench/torch_peer.py (with /usr/bin/python3, when torch is importable there)
for the same cases, prints a table and one machine-readable line per case:

  BENCH name=<case> libbyol=<img/s> torch=<img/s> ratio=<libbyol/torch> threads=<n> peak_mb=<MiB> torch_peak_mb=<MiB> gflops=<x> pct_peak=<y> torch_gflops=<x> torch_pct_peak=<y>

torch=, ratio= and the torch_* fields are omitted when no PyTorch peer can
run. gflops is img/s times the FLOPs of an image counted as a direct
convolution computes them (torch_peer.py's gflop_per_img, so it needs the
peer), whatever algorithm ran: Winograd, which does fewer multiplies, can
show above 100 % of the peak. pct_peak is against the fp32 peak (the bf16
peak for the _bf16 rows), torch_pct_peak against the fp32 peak.

Then the pipeline case, pipeline_cifar10_w025_b256 (also by default; left
out with a note when --cifar-dir is missing): the loader with 1 worker
decoding and augmenting the CIFAR-10 JPEG training folder, feeding the
byol_step_resnet18_cifar_w025_b256 step on 2 compute threads (bench_net),
against torchvision's DataLoader with 1 worker process feeding the same
torch step (torch_peer.py), as

  BENCH name=<case> libbyol=<img/s> torch=<img/s> ratio=<x> threads=<n> workers=1 peak_mb=<MiB> torch_peak_mb=<MiB>

(torch_peak_mb counts the training process, not its worker process.)

With --bench-loader it then measures byol_loader (build/<blas>/bench/bench_loader):
the cifar10 preset on the CIFAR-10 JPEG training folder with 1 and 2 worker
threads, and the imagenet preset on the photos folder with 2, each as

  BENCH name=loader_<preset>_w<workers> libbyol=<img/s> [torch=<img/s> ratio=<x>] threads=<workers> [step_ratio=<x>]

where torch= is torchvision's ImageFolder + DataLoader making the same two views
with as many worker processes (bench/torch_loader_peer.py, CIFAR-10 cases), and step_ratio is the loader's img/s over the resnet18-cifar BYOL step's img/s
of the same run (the data must come at least 3x faster than training uses it).
A missing data folder is reported and its cases are left out.

With --byol (the byol command) the pipeline case's training also runs as
`byol pretrain` on the same folder with the same settings (--rounds runs of
each, alternating; medians), timed from its metrics.jsonl after the same 3
steps, as

  BENCH name=<case>_vs_command libbyol=<img/s> command=<img/s> ratio=<x> threads=<n> workers=1

so a program calling the library gets the command's speed (ratio near 1).

The first lines name the machine: the CPU model, the BLAS provider
(--blas) and the peer (PyTorch's version, or why it cannot run: then only
libbyol's figures are printed). `make bench` installs the peer first
(scripts/install-deps.sh --bench: Debian's python3-torch and
python3-torchvision).

With --baseline-bench-net (make bench BENCH_BASELINE=<git revision>) the
bench_net of another revision runs too, alternating with this one
(--rounds times each, medians reported), and each BENCH line gains
before=<img/s> vs_before=<libbyol/before>: whether a change made the step
faster or slower, measured in the same run.

With --bench-mpi (build/<blas>/bench/bench_mpi, built when libbyol-mpi is:
make finds MPI) the data-parallel BYOL step runs under mpirun (--mpirun):
MPI_CASES, each on 1 rank x 1 thread, 2 ranks x 1 thread and 1 rank x 2
threads (--rounds alternating runs of each; medians), train.batch_size the
global batch, each rank stepping on its slice. Ranks of 1 thread are bound to
a core (Open MPI's and MPICH's --bind-to core), the 2-thread rank to none so
that its threads spread over both cores. Printed as a few lines and

  BENCH name=<case> libbyol=<img/s, 2 ranks x 1> ratio=<against 1 rank x 2 threads> ranks=2 threads=1 r1t1=<img/s> r1t1_ratio=<x> r1t2=<img/s> step_ms=<ms> grad_allreduce_ms=<ms> grad_allreduce_max_ms=<ms> other_allreduce_ms=<ms> other_allreduce_max_ms=<ms> grad_alone_ms=<ms> other_alone_ms=<ms> grad_share=<x>

where grad_allreduce_ms is the gradient sum per step (one call), the least
over the ranks (the rank that arrives last waits least: its time is the sum
itself), _max the most (with the wait for the slower rank), other_* the
other sums (synchronized BatchNorm, the input verdicts, the loss), *_alone_ms
the same sums replayed after a barrier (their cost without the wait), and
grad_share grad_allreduce_ms / step_ms: the most that overlapping the
gradient sum with the backward pass (as PyTorch's DDP does) could save.
The 2 ranks share the 2 cores of the 1 rank x 2 threads run, so on one
machine this measures overhead, not speed-up; the output says so. Without
--bench-mpi, or without mpirun, the MPI cases are skipped with a note.
`make bench-mpi` runs them alone. Standard library only.
"""

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# fwdbwd_*: one network's forward + backward; byol_step_*: the whole BYOL
# step (byol_trainer_step) of a config preset. img/s = batch * iterations /
# seconds for both (a BYOL step consumes `batch` images, seen as two views).
CASES = ["fwdbwd_resnet18_cifar_b64", "fwdbwd_cnn_small_b256",
         "byol_step_resnet18_cifar_b64", "byol_step_cnn_small_b256",
         "byol_step_resnet18_cifar_w025_b256", "byol_step_resnet50_b32"]
# The ResNet cases run again with these settings: libbyol's exact mode (the
# im2col GEMM path the fixture tests hold to PyTorch at 1e-4).
EXACT_SETTINGS = ["nn.conv_algo=im2col"]
EXACT_CASES = ["fwdbwd_resnet18_cifar_b64", "byol_step_resnet18_cifar_b64",
               "byol_step_resnet50_b32"]
# And the ResNet cases with bf16 products, where the CPU has AVX512_BF16
# (named <case>_bf16; their % of peak is against the bf16 peak).
BF16_SETTINGS = ["nn.precision=bf16"]
BF16_CASES = ["fwdbwd_resnet18_cifar_b64", "byol_step_resnet18_cifar_b64",
              "byol_step_resnet50_b32"]
# pipeline_*: the loader (1 worker) feeding a byol_step case's step; img/s
# as above, the time spent waiting for a batch included.
PIPELINE_CASES = ["pipeline_cifar10_w025_b256"]
# The data-parallel step over MPI (bench_mpi.c): the byol_step cases' recipes,
# train.batch_size the global batch. Run as (ranks, threads per rank).
MPI_CASES = ["mpi_byol_step_cnn_small_b256", "mpi_byol_step_resnet18_cifar_b64"]
MPI_RUNS = [(1, 1), (2, 1), (1, 2)]
# The peer's Python: Debian's, unless BYOL_BENCH_PYTHON names another (a venv
# with pip's torch, say).
TORCH_PY = os.environ.get("BYOL_BENCH_PYTHON", "/usr/bin/python3")


def run_json(cmd):
    """Runs cmd and returns the JSON object of each stdout line."""
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@functools.lru_cache(maxsize=None)
def peer_check():
    """Whether the PyTorch peer can run: (torch version, None) or (None, why).
    Asked once per run."""
    try:
        r = subprocess.run([TORCH_PY, "-c", "import torch, torchvision; print(torch.__version__)"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        return None, f"{TORCH_PY} cannot run ({e.strerror})"
    if r.returncode == 0:
        return r.stdout.strip(), None
    last = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
    return None, f"{TORCH_PY} cannot import torch and torchvision ({last})"


def torch_version():
    return peer_check()[0]


def peer_json(cmd):
    """The peer's JSON lines, or None (with one note saying why) if it fails:
    libbyol's figures are printed either way."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"note: the PyTorch peer failed (exit {r.returncode}: {last}); "
              f"libbyol's figures only")
        return None
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def cpu_model():
    """The CPU's model name, family and model, from /proc/cpuinfo (Linux)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown CPU"
    name = fields.get("model name", "unknown CPU")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def print_machine(args):
    version, why = peer_check()
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; BLAS provider: {args.blas}; "
          f"threads={args.threads}")
    if version:
        print(f"peer: PyTorch {version} ({TORCH_PY})")
    else:
        print(f"note: no PyTorch peer: {why}; run scripts/install-deps.sh --bench "
              f"(Debian's python3-torch and python3-torchvision). libbyol's figures only.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench-net", help="path of the bench_net program")
    ap.add_argument("--peak", help="path of the peak program (bench/peak.c)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=5.0)
    ap.add_argument("--case", action="append", choices=CASES + PIPELINE_CASES + MPI_CASES)
    ap.add_argument("--bench-loader", help="path of the bench_loader program")
    ap.add_argument("--cifar-dir", help="CIFAR-10 JPEG training folder (class sub-folders)")
    ap.add_argument("--photos-dir", help="folder of photos for the imagenet preset")
    ap.add_argument("--baseline-bench-net", help="bench_net of another revision, to compare with")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating runs of each bench_net with --baseline-bench-net")
    ap.add_argument("--byol", help="the byol command, timed on the pipeline case")
    ap.add_argument("--blas", default="unknown", help="the CBLAS provider bench_net links")
    ap.add_argument("--bench-mpi", help="path of the bench_mpi program (libbyol-mpi built)")
    ap.add_argument("--mpirun", default="mpirun", help="the MPI launcher for --bench-mpi")
    args = ap.parse_args()
    cases = args.case or CASES + PIPELINE_CASES + MPI_CASES
    need_net = [c for c in cases if c in CASES + PIPELINE_CASES]
    if need_net and not args.bench_net:
        ap.error(f"--bench-net is needed for {', '.join(need_net)}")
    print_machine(args)
    net_cases = [c for c in cases if c in CASES]
    peak = measure_peak(args) if args.peak else None
    ours = bench_nets(args, net_cases, peak) if net_cases else {}
    pipelines = [c for c in cases if c in PIPELINE_CASES]
    if pipelines:
        bench_pipelines(args, pipelines)
    if args.bench_loader:
        step = ours.get("byol_step_resnet18_cifar_b64")
        bench_loaders(args, step["img_s"] if step else None)
    mpi_cases = [c for c in cases if c in MPI_CASES]
    if mpi_cases:
        bench_mpi(args, mpi_cases)
    return 0


def measure_peak(args):
    """The PEAK line, and its figures as a dict."""
    p = run_json([args.peak, str(args.threads)])[0]
    print(f"PEAK threads={p['threads']} fp32_gflops={p['fp32_gflops']:.1f} "
          f"fp32_isa={p['fp32_isa']} bf16_gflops={p['bf16_gflops']:.1f} bf16_isa={p['bf16_isa']}")
    return p


def bench_nets(args, cases, peak):
    """The bench_net cases with their PyTorch peers: a table and BENCH lines;
    returns libbyol's result per case."""
    ours, before = {}, {}
    baseline_cases = known_cases(args.baseline_bench_net) if args.baseline_bench_net else []
    for case in cases:
        if case in baseline_cases:
            ours[case], before[case] = alternate(args, case)
        else:
            if args.baseline_bench_net:
                print(f"note: the baseline bench_net has no case {case}; measured once, "
                      f"without before=")
            ours[case] = run_case(args.bench_net, case, args)
    rows = [(case, case) for case in cases]   # (row name, the peer's case)
    variants = [("_exact", EXACT_CASES, EXACT_SETTINGS)]
    if peak and peak["bf16_isa"] != "none":
        variants.append(("_bf16", BF16_CASES, BF16_SETTINGS))
    for suffix, which, settings in variants:
        for case in cases:
            if case in which:
                rows.append((case + suffix, case))
                ours[case + suffix] = run_case(args.bench_net, case, args, settings)
    tv = torch_version()
    theirs = {}
    if tv:
        cmd = [TORCH_PY, os.path.join(HERE, "torch_peer.py"), "--threads", str(args.threads),
               "--min-seconds", str(args.min_seconds)]
        for case in cases:
            cmd += ["--case", case]
        for r in peer_json(cmd) or []:
            theirs[r["case"]] = r

    print(f"libbyol {next(iter(ours.values()))['libbyol']} vs "
          f"{'PyTorch ' + tv if tv else 'no PyTorch peer'}, "
          f"threads={args.threads}; *_exact: libbyol with {' '.join(EXACT_SETTINGS)}; "
          f"*_bf16: with {' '.join(BF16_SETTINGS)} (% of the bf16 peak)")
    print(f"{'case':36} {'libbyol img/s':>14} {'torch img/s':>12} {'ratio':>7} "
          f"{'peak MiB':>9} {'torch MiB':>10} {'GFLOP/s':>8} {'% peak':>7} "
          f"{'torch GFLOP/s':>14} {'% peak':>7}")
    nan = float("nan")
    rates = {row: flop_rates(ours[row], theirs.get(peer), peak, row.endswith("_bf16"))
             for row, peer in rows}
    for row, peer in rows:
        o, t, f = ours[row], theirs.get(peer), rates[row]
        print(f"{row:36} {o['img_s']:14.1f} {t['img_s'] if t else nan:12.1f} "
              f"{o['img_s'] / t['img_s'] if t else nan:7.2f} {o['peak_mb']:9.1f} "
              f"{t['peak_mb'] if t else nan:10.1f} {f.get('gflops', nan):8.1f} "
              f"{f.get('pct_peak', nan):7.1f} {f.get('torch_gflops', nan):14.1f} "
              f"{f.get('torch_pct_peak', nan):7.1f}")
    for row, peer in rows:
        o, t = ours[row], theirs.get(peer)
        line = bench_line(row, o, t, f"threads={args.threads}")
        line += "".join(f" {k}={v:.1f}" for k, v in rates[row].items())
        if row in before:
            b = before[row]
            line += f" before={b['img_s']:.2f} vs_before={o['img_s'] / b['img_s']:.3f}"
            line += f" before_peak_mb={b['peak_mb']:.1f}"
        print(line)
    return ours


def flop_rates(o, t, peak, bf16=False):
    """GFLOP/s of libbyol's result o and the peer's t at the peer's FLOP
    count of an image, and their % of the fp32 peak (libbyol's against the
    bf16 peak for a bf16 run; a dict of what can be computed: nothing
    without the peer)."""
    if not t or "gflop_per_img" not in t:
        return {}
    rates = {"gflops": o["img_s"] * t["gflop_per_img"],
             "torch_gflops": t["img_s"] * t["gflop_per_img"]}
    if peak and peak["fp32_gflops"] > 0:
        ours = peak["bf16_gflops"] if bf16 else peak["fp32_gflops"]
        rates["pct_peak"] = 100 * rates["gflops"] / ours
        rates["torch_pct_peak"] = 100 * rates["torch_gflops"] / peak["fp32_gflops"]
    return {k: rates[k] for k in ("gflops", "pct_peak", "torch_gflops", "torch_pct_peak")
            if k in rates}


def run_case(bench_net, case, args, settings=()):
    return run_json([bench_net, case, str(args.threads), str(args.min_seconds), *settings])[0]


def bench_pipelines(args, cases):
    """The pipeline cases: libbyol's loader feeding its step, and the torch
    peer's DataLoader feeding its step, same threads, one loader worker."""
    if not args.cifar_dir or not os.path.isdir(args.cifar_dir):
        why = f"CIFAR-10 folder {args.cifar_dir} not found" if args.cifar_dir else \
            "no --cifar-dir"
        print(f"note: {', '.join(cases)} left out: {why}")
        return
    tv = torch_version()
    for case in cases:
        o = run_json([args.bench_net, case, str(args.threads), str(args.min_seconds),
                      args.cifar_dir])[0]
        t = None
        if tv:
            t = (peer_json([TORCH_PY, os.path.join(HERE, "torch_peer.py"), "--case", case,
                            "--threads", str(args.threads), "--min-seconds",
                            str(args.min_seconds), "--cifar-dir", args.cifar_dir]) or [None])[0]
        print_pipeline(case, args.threads, o, t, tv)
        if args.byol:
            vs_command(args, case, o)


def command_rate(args, o):
    """img/s of `byol pretrain` training what pipeline result o trained: its
    preset and settings, the same threads and workers, timed from its
    metrics.jsonl over the steps after the first 3 (as bench_net times)."""
    steps = 3 + max(o["steps"] - 3, 5)
    settings = [a for kv in o["case_settings"].split() for a in ("--set", kv)]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([args.byol, "pretrain", "--data", args.cifar_dir, "--out", out,
                        "--preset", o["preset"], *settings, "--threads", str(args.threads),
                        "--workers", str(o["workers"]), "--steps", "100000",
                        "--stop-at", str(steps), "--checkpoint-every", "0", "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            recs = [json.loads(line) for line in f if '"img_s"' in line]
    first, last = recs[2], recs[-1]   # the end of step 3, the end of the last step
    return o["batch"] * (last["step"] - first["step"]) / (last["elapsed"] - first["elapsed"])


def vs_command(args, case, o):
    """The pipeline through the library (bench_net) against the byol command,
    alternating --rounds times; medians."""
    ours, cmd = [], []
    for k in range(args.rounds):
        if k:
            ours.append(run_json([args.bench_net, case, str(args.threads),
                                  str(args.min_seconds), args.cifar_dir])[0]["img_s"])
        else:
            ours.append(o["img_s"])
        cmd.append(command_rate(args, o))
    a, b = statistics.median(ours), statistics.median(cmd)
    print(f"{case} through the library {a:.1f} img/s, `byol pretrain` {b:.1f} img/s "
          f"(medians of {args.rounds} alternating runs)")
    print(f"BENCH name={case}_vs_command libbyol={a:.2f} command={b:.2f} ratio={a / b:.3f} "
          f"threads={args.threads} workers={o['workers']}")


def print_pipeline(case, threads, o, t, tv):
    """A sentence saying what ran, then the BENCH line."""
    peer = (f"PyTorch {tv} {t['img_s']:.1f} img/s (DataLoader with {t['workers']} worker "
            f"process, torch.set_num_threads({t['threads']}))" if t else "no PyTorch peer")
    print(f"{case}: the loader with {o['workers']} worker thread feeding the BYOL step on "
          f"{threads} compute threads, batch {o['batch']}, {o['iters']} steps timed after 3: "
          f"libbyol {o['img_s']:.1f} img/s, {peer}")
    print(bench_line(case, o, t, f"threads={threads} workers={o['workers']}"))


def bench_line(case, o, t, counts):
    """The BENCH line of a case: libbyol's result o, the peer's t (or None)
    and the thread counts ("threads=2 ...")."""
    line = f"BENCH name={case} libbyol={o['img_s']:.2f}"
    if t:
        line += f" torch={t['img_s']:.2f} ratio={o['img_s'] / t['img_s']:.3f}"
    line += f" {counts} peak_mb={o['peak_mb']:.1f}"
    if t:
        line += f" torch_peak_mb={t['peak_mb']:.1f}"
    return line


def known_cases(bench_net):
    """The cases a bench_net program has: its usage message lists them
    (a baseline revision may predate a case)."""
    r = subprocess.run([bench_net], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in r.stderr.splitlines():
        if line.startswith("cases:"):
            return line.split()[1:]
    return []


def alternate(args, case):
    """(this revision, the baseline) for one case: --rounds runs of each,
    alternating so that drift of the machine hits both alike; the median
    img/s of each, with its peak memory."""
    runs = {args.bench_net: [], args.baseline_bench_net: []}
    for _ in range(args.rounds):
        for prog in runs:
            runs[prog].append(run_case(prog, case, args))
    medians = []
    for rs in runs.values():
        mid = statistics.median(r["img_s"] for r in rs)
        medians.append(dict(min(rs, key=lambda r: abs(r["img_s"] - mid)), img_s=mid))
    return medians[0], medians[1]


def torch_loader(args, workers):
    """img/s of the torchvision peer, or None without torch."""
    if not torch_version():
        return None
    cmd = [TORCH_PY, os.path.join(HERE, "torch_loader_peer.py"), "--workers", str(workers),
           "--min-seconds", str(args.min_seconds), "--cifar-dir", args.cifar_dir]
    r = peer_json(cmd)
    return r[0]["img_s"] if r else None


def bench_loaders(args, step_img_s):
    """The loader cases; step_img_s is the trainer's resnet18-cifar img/s, if measured."""
    runs = [("loader_cifar10", 1, args.cifar_dir), ("loader_cifar10", 2, args.cifar_dir),
            ("loader_imagenet", 2, args.photos_dir)]
    for name, workers, path in runs:
        if not path or not os.path.isdir(path):
            print(f"note: {name} with {workers} worker(s) left out: data folder {path} not found")
            continue
        for r in run_json([args.bench_loader, name, str(workers), str(args.min_seconds), path]):
            line = f"BENCH name={r['case']} libbyol={r['img_s']:.2f}"
            peer = torch_loader(args, workers) if name == "loader_cifar10" else None
            if peer:
                line += f" torch={peer:.2f} ratio={r['img_s'] / peer:.3f}"
            line += f" threads={workers}"
            if step_img_s and name == "loader_cifar10":
                line += f" step_ratio={r['img_s'] / step_img_s:.2f}"
            print(f"{r['case']}: {r['img_s']:.1f} img/s, {r['batches']} batches of "
                  f"{r['batch']} from {r['images_in_dataset']} images "
                  f"({r['skipped']} bad files skipped)")
            print(line)


def mpi_launcher(args, cases):
    """(mpirun's argument list up to -np, binding flags for 1-thread ranks,
    for the 2-thread rank, the launcher's name) or None after a note."""
    try:
        r = subprocess.run([args.mpirun, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        print(f"note: {', '.join(cases)} skipped: {args.mpirun} cannot run ({e.strerror})")
        return None
    first = (r.stdout.strip().splitlines() or [args.mpirun])[0]
    if "Open MPI" in r.stdout:
        # As root (CI) Open MPI wants these; --oversubscribe lets ranks share cores
        # that other programs use (tests/mpi/run.sh does the same).
        os.environ.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        return [args.mpirun, "--oversubscribe"], ["--bind-to", "core"], \
            ["--bind-to", "none"], first
    if "HYDRA" in r.stdout:   # MPICH's launcher
        return [args.mpirun], ["-bind-to", "core"], ["-bind-to", "none"], first
    return [args.mpirun], [], [], first + " (its default binding)"


def mpi_run(args, launcher, case, ranks, threads):
    """bench_mpi's JSON result of one run, or None after a note."""
    launch, bind_core, bind_none, _ = launcher
    cmd = launch + (bind_core if threads == 1 else bind_none) + \
        ["-np", str(ranks), args.bench_mpi, case, str(threads), str(args.min_seconds)]
    what = f"note: {case} on {ranks} rank(s) x {threads} thread(s)"
    try:   # a rank stuck in a sum would otherwise hang make bench
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=1800)
    except subprocess.TimeoutExpired:
        print(f"{what} did not end within 30 minutes")
        return None
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not out:
        # The program's own message, else mpirun's last line that is not a rule.
        lines = [x for x in r.stderr.splitlines() if x.strip("- ")] or ["no message"]
        last = next((x for x in lines if x.startswith("bench_mpi:")), lines[-1])
        print(f"{what} failed (exit {r.returncode}: {last})")
        return None
    return out[0]


def bench_mpi(args, cases):
    """The data-parallel step over MPI: each case on MPI_RUNS, --rounds
    alternating runs of each; medians of every figure."""
    if not args.bench_mpi:
        print(f"note: {', '.join(cases)} skipped: libbyol-mpi was not built (no MPI found, "
              f"or MPI=0); install libopenmpi-dev and openmpi-bin "
              f"(scripts/install-deps.sh as root)")
        return
    launcher = mpi_launcher(args, cases)
    if not launcher:
        return
    for case in cases:
        runs = mpi_rounds(args, launcher, case)
        if runs:
            med = {rt: {k: statistics.median(r[k] for r in rs) for k, v in rs[0].items()
                        if isinstance(v, (int, float))} for rt, rs in runs.items()}
            print_mpi(case, launcher, args.rounds, med)


def mpi_rounds(args, launcher, case):
    """--rounds alternating runs of each of MPI_RUNS, {(ranks, threads):
    [result, ...]}; None at the first failed run (its note says why)."""
    runs = {rt: [] for rt in MPI_RUNS}
    for _ in range(args.rounds):
        for rt in MPI_RUNS:
            r = mpi_run(args, launcher, case, *rt)
            if r is None:
                return None
            runs[rt].append(r)
    return runs


def print_mpi(case, launcher, rounds, med):
    """What ran, a line per run, the note that this is overhead, the BENCH line."""
    one, two, wide = med[(1, 1)], med[(2, 1)], med[(1, 2)]
    share = two["grad_ms"] / two["step_ms"]
    print(f"{case}: the BYOL step data-parallel over MPI, global batch {int(two['batch'])}, "
          f"medians of {rounds} alternating runs ({launcher[3]}; 1-thread ranks "
          f"{' '.join(launcher[1]) or 'unbound'}, the 2-thread rank "
          f"{' '.join(launcher[2]) or 'unbound'})")
    print(f"  1 rank  x 1 thread : {one['img_s']:8.1f} img/s  "
          f"{one['img_s'] / wide['img_s']:.2f}x of 1 rank x 2 threads")
    print(f"  2 ranks x 1 thread : {two['img_s']:8.1f} img/s  "
          f"{two['img_s'] / wide['img_s']:.2f}x; step {two['step_ms']:.1f} ms, of which")
    print(f"    gradient sum {two['grad_ms']:.2f} ms ({100 * share:.1f} %; "
          f"{two['grad_calls']:.0f} call of {two['grad_mb']:.1f} MB; "
          f"{two['grad_max_ms']:.2f} ms on the rank that waits for the other; "
          f"{two['grad_alone_ms']:.2f} ms alone after a barrier)")
    print(f"    other sums {two['other_ms']:.2f}-{two['other_max_ms']:.2f} ms over the ranks "
          f"({two['other_calls']:.0f} calls: synchronized BatchNorm, input verdicts, loss; "
          f"{two['other_alone_ms']:.2f} ms alone after a barrier: the rest is waiting for "
          f"the slower rank)")
    print(f"  1 rank  x 2 threads: {wide['img_s']:8.1f} img/s  1.00x")
    print("note: on one machine this measures overhead, not speed-up: the 2 ranks share the "
          "2 cores of the 1 rank x 2 threads run, so the ratio is the cost of data "
          "parallelism (the sums, half the batch per rank), not what more machines gain. "
          f"Overlapping the gradient sum with the backward pass could hide at most its "
          f"{100 * share:.1f} % of the step (docs/cluster.md).")
    print(f"BENCH name={case} libbyol={two['img_s']:.2f} "
          f"ratio={two['img_s'] / wide['img_s']:.3f} ranks=2 threads=1 "
          f"r1t1={one['img_s']:.2f} r1t1_ratio={one['img_s'] / wide['img_s']:.3f} "
          f"r1t2={wide['img_s']:.2f} step_ms={two['step_ms']:.2f} "
          f"grad_allreduce_ms={two['grad_ms']:.3f} grad_allreduce_max_ms={two['grad_max_ms']:.3f} "
          f"other_allreduce_ms={two['other_ms']:.3f} "
          f"other_allreduce_max_ms={two['other_max_ms']:.3f} "
          f"grad_alone_ms={two['grad_alone_ms']:.3f} other_alone_ms={two['other_alone_ms']:.3f} "
          f"grad_share={share:.4f}")


if __name__ == "__main__":
    sys.exit(main())
