"""examples/train_cifar_folder.py runs a few steps on the CIFAR-10 JPEG folder
and prints the embeddings' shape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BINDINGS, DATA_API, REPO, requires

import byol

EXAMPLE = BINDINGS / "examples" / "train_cifar_folder.py"
CIFAR_JPG = os.environ.get("BYOL_CIFAR10_JPG", REPO / "build" / "data" / "cifar10-jpg")
CIFAR_TRAIN = Path(CIFAR_JPG) / "train"


def run_example(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(byol.__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, str(EXAMPLE), *args], env=env, capture_output=True,
                          text=True, timeout=600)


@requires(*DATA_API, "byol_dataset_open")
def test_example_trains_and_prints_embedding_shape(tmp_path):
    if not CIFAR_TRAIN.is_dir():
        pytest.skip(f"{CIFAR_TRAIN} not found: run `make data` (it unpacks "
                    "../shared/data/cifar10-jpg/cifar10-jpg.tar.gz)")
    r = run_example(str(CIFAR_TRAIN), "--steps", "3", "--batch", "16", "--arch", "cnn-small",
                    "--embed", "40", "--out", str(tmp_path), "seed=3")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert sum(line.startswith("step ") for line in lines) == 3
    assert "embeddings shape: (40, 128)" in lines
    assert (tmp_path / "checkpoint.safetensors").exists()
    assert (tmp_path / "encoder.safetensors").exists()


def test_example_reports_a_missing_folder(tmp_path):
    r = run_example(str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "is not a folder" in r.stderr
