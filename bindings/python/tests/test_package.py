"""The installed package as type checkers and interactive users see it:
PEP 561's py.typed marker, and a dir() that lists the public API only."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import byol


def test_dir_lists_the_public_api_and_nothing_else():
    public = {name for name in dir(byol) if not name.startswith("__")}
    assert public == set(byol.__all__)
    assert "__version__" in dir(byol)
    for name in byol.__all__:
        assert getattr(byol, name) is not None, name


def test_py_typed_is_installed_with_the_package():
    try:
        files = importlib.metadata.files("byol") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("byol is not installed (make python-test installs it)")
    installed = {str(f) for f in files}
    assert "byol/py.typed" in installed, sorted(installed)
    assert (Path(byol.__file__).parent / "py.typed").is_file()


def test_distribution_version_is_the_package_version():
    try:
        assert importlib.metadata.version("byol") == byol.__version__
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("byol is not installed (make python-test installs it)")
