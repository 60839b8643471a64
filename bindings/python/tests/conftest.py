"""Shared helpers of the byol binding tests.

The tests import the installed `byol` package when there is one (make
python-test installs it into a venv) and otherwise the one in the source
tree beside them. The library comes from $BYOL_LIBRARY or the in-tree build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
BINDINGS = HERE.parent
REPO = BINDINGS.parent.parent

try:
    import byol  # noqa: F401
except ImportError:  # not installed: the package beside the tests
    sys.path.insert(0, str(BINDINGS))
    import byol  # noqa: F401


def requires(*names: str):
    """Skips a test when the loaded library lacks one of the C functions."""
    missing = [n for n in names if not byol.has_function(n)]
    return pytest.mark.skipif(
        bool(missing),
        reason=f"{byol.library_path} (libbyol {byol.library_version}) does not export "
        f"{', '.join(missing)} yet",
    )


DATA_API = ("byol_dataset_from_memory", "byol_loader_create", "byol_loader_next")


def run_python(code: str, env: dict | None = None, timeout: int = 300):
    """Runs Python code in a fresh interpreter that imports the same byol
    package as these tests (so that a crash fails a test, not the run)."""
    full_env = dict(os.environ)
    pkg_parent = str(Path(byol.__file__).resolve().parent.parent)
    full_env["PYTHONPATH"] = pkg_parent + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small_cfg():
    """cnn-small on 1x28x28 inputs, batch 8, 2 threads, small heads."""
    with byol.Config("fashion-mnist", train__batch_size=8, threads=2, seed=3,
                     byol__proj_hidden=64, byol__pred_hidden=64, byol__proj_out=32,
                     train__total_steps=100) as cfg:
        yield cfg
