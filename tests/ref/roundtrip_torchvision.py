#!/usr/bin/python3
"""Round trip of resnet18 weights between libbyol and torchvision.

What: checks that libbyol's `resnet18` is torchvision.models.resnet18 with
the same state_dict names, shapes and numerics, in both directions:

  1. `net_tool save resnet18 a.safetensors net.num_classes=1000`
     (libbyol's own random init);
  2. a.safetensors is read (tests/ref/st.py) and loaded into
     torchvision.models.resnet18() with load_state_dict(strict=True); an
     eval-mode forward on a fixed random input [2,3,224,224] gives out_torch;
  3. torchvision's state_dict is written back to b.safetensors;
  4. `net_tool forward b.safetensors resnet18 input.safetensors out_b.safetensors
     net.num_classes=1000`, and the same with a.safetensors -> out_a;
  5. out_b and out_a are compared with out_torch (max|a-b|/max|b| < --rtol,
     default 1e-4), and b's tensors with a's (must be bit-identical).

Why: a model trained with libbyol must load into PyTorch and vice versa.
PyTorch is only needed to run this script, never to build or test libbyol.

Usage (from the repository root, after building net_tool):
    /usr/bin/python3 tests/ref/roundtrip_torchvision.py
        [--tool build/blis/tests/net_tool] [--workdir DIR] [--rtol 1e-4]
Prints one line per check and a PASS/FAIL summary; exit status 0 on PASS,
1 on a failed check, 2 if net_tool is missing or fails to run.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nets  # noqa: E402
import st  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS_RESNET18 = ["net.num_classes=1000"]


class ToolError(Exception):
    """net_tool is missing or exited with an error."""


def run_tool(tool, *args):
    """Runs net_tool with args; raises ToolError with its output on failure."""
    cmd = [tool] + [str(a) for a in args]
    print("$ " + " ".join(cmd), flush=True)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise ToolError(f"cannot run {tool}: {e}") from e
    if res.returncode != 0:
        raise ToolError(f"{' '.join(cmd)} exited {res.returncode}\n{res.stdout}{res.stderr}")


def rel_err(a, b):
    """max|a-b| / max|b| in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())


class Checks:
    """Collects named pass/fail results and prints them as they come."""

    def __init__(self):
        self.results = []

    def add(self, name, ok, detail=""):
        self.results.append((name, bool(ok)))
        print(f"[{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    def passed(self):
        return all(ok for _, ok in self.results)


def check_names(checks, loaded, model):
    """Compares a file's tensors with torchvision's state_dict entries."""
    ref = model.state_dict()
    missing = sorted(set(ref) - set(loaded))
    unexpected = sorted(set(loaded) - set(ref))
    checks.add("same tensor names as torchvision", not missing and not unexpected,
               f"{len(loaded)} tensors; missing {missing[:5]}, unexpected {unexpected[:5]}")
    bad = [k for k in set(ref) & set(loaded)
           if tuple(loaded[k].shape) != tuple(ref[k].shape) or loaded[k].dtype != ref[k].dtype]
    checks.add("same shapes and dtypes as torchvision", not bad,
               "all match" if not bad else "differ: " + ", ".join(sorted(bad)[:5]))
    return not missing and not unexpected and not bad


def compare_outputs(checks, label, path, ref, rtol):
    """Reads net_tool's "output" tensor and compares it with `ref`."""
    tensors, _ = st.read(path)
    out = tensors.get("output")
    if out is None or out.shape != ref.shape:
        shape = None if out is None else out.shape
        return checks.add(label, False, f"output shape {shape}, expected {ref.shape}")
    err = rel_err(out, ref)
    return checks.add(label, err < rtol, f"max rel err {err:.3e} (limit {rtol:g})")


def roundtrip(tool, work, rtol, seed):
    """Runs steps 1-5 in folder `work`; returns the Checks."""
    checks = Checks()
    a = os.path.join(work, "a.safetensors")
    b = os.path.join(work, "b.safetensors")
    inp = os.path.join(work, "input.safetensors")
    out_a = os.path.join(work, "out_a.safetensors")
    out_b = os.path.join(work, "out_b.safetensors")

    run_tool(tool, "save", "resnet18", a, *ARGS_RESNET18)
    loaded, _ = st.read_torch(a)
    model = nets.resnet18(num_classes=1000)
    if not check_names(checks, loaded, model):
        return checks
    model.load_state_dict(loaded, strict=True)
    checks.add("load_state_dict(strict=True)", True)
    model.eval()

    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(seed))
    st.write(inp, {"input": x}, {"script": "tests/ref/roundtrip_torchvision.py"})
    with torch.no_grad():
        out_torch = model(x).numpy()
        out_torch64 = model.double()(x.double()).numpy()
    model.float()
    print(f"torchvision float32 vs float64 on this input: {rel_err(out_torch, out_torch64):.3e}"
          f" (max|out| {np.abs(out_torch64).max():.3e})")

    st.write(b, model.state_dict(), {"torch": torch.__version__,
                                     "script": "tests/ref/roundtrip_torchvision.py"})
    back, _ = st.read(b)
    orig, _ = st.read(a)
    same = set(back) == set(orig) and all(
        back[k].dtype == orig[k].dtype and np.array_equal(back[k], orig[k]) for k in orig)
    checks.add("b.safetensors (torchvision) bit-identical to a.safetensors (libbyol)", same)

    run_tool(tool, "forward", b, "resnet18", inp, out_b, *ARGS_RESNET18)
    compare_outputs(checks, "libbyol forward(b) vs torchvision", out_b, out_torch, rtol)
    run_tool(tool, "forward", a, "resnet18", inp, out_a, *ARGS_RESNET18)
    compare_outputs(checks, "libbyol forward(a) vs torchvision", out_a, out_torch, rtol)
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", default=os.path.join(REPO, "build", "blis", "tests", "net_tool"))
    ap.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    if not (os.path.isfile(args.tool) and os.access(args.tool, os.X_OK)):
        print(f"FAIL: net_tool not found or not executable: {args.tool} (build it first)")
        return 2
    try:
        if args.workdir:
            os.makedirs(args.workdir, exist_ok=True)
            checks = roundtrip(args.tool, args.workdir, args.rtol, args.seed)
        else:
            with tempfile.TemporaryDirectory(prefix="byol-roundtrip-") as work:
                checks = roundtrip(args.tool, work, args.rtol, args.seed)
    except ToolError as e:
        print(f"FAIL: {e}")
        return 2
    n_ok = sum(ok for _, ok in checks.results)
    n_bad = len(checks.results) - n_ok
    verdict = "PASS" if checks.passed() else "FAIL"
    print(f"{verdict}: roundtrip libbyol <-> torchvision resnet18")
    print(f"roundtrip: {n_ok} passed, {n_bad} failed")
    return 0 if checks.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
