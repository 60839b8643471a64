"""Loading the library: where it is found, its version, missing functions."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import pytest
from conftest import REPO, run_python

import byol
from byol import _lib


def test_library_loads_with_major_1():
    assert Path(byol.library_path).exists() or "/" not in byol.library_path
    major, minor, _patch = (int(p) for p in byol.library_version.split("."))
    assert major == 1
    assert _lib.version_number == major * 10000 + minor * 100 + _patch
    assert byol.has_function("byol_net_create")


def test_strerror_names_codes():
    assert byol.strerror(0)
    assert byol.strerror(-14) != byol.strerror(-15)
    assert byol.RangeError("x").name == byol.strerror(-15)


def test_byol_library_env_wins_and_a_bad_path_is_an_import_error():
    r = run_python("import byol", env={"BYOL_LIBRARY": "/nonexistent/libbyol.so.1"})
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert "/nonexistent/libbyol.so.1" in r.stderr and "BYOL_LIBRARY" in r.stderr


def test_a_library_that_is_not_libbyol_is_refused():
    libz = ctypes.util.find_library("z")
    if not libz:
        pytest.skip("no libz to stand in for a foreign library")
    r = run_python("import byol", env={"BYOL_LIBRARY": libz})
    assert r.returncode != 0
    assert "is not libbyol" in r.stderr


def test_in_tree_library_is_found_without_the_env_variable():
    in_tree = REPO / "lib" / "libbyol.so.1"
    if not in_tree.exists():
        pytest.skip(f"{in_tree} not built (make)")
    code = (
        "import sys; sys.path.insert(0, %r); import byol; print(byol.library_path)"
        % str(REPO / "bindings" / "python")
    )
    r = run_python(code, env={"BYOL_LIBRARY": None, "PYTHONPATH": None})
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).resolve() == in_tree.resolve()


def test_a_missing_function_raises_unsupported_naming_it():
    call = _lib._missing("byol_future_thing")
    with pytest.raises(byol.UnsupportedError, match="byol_future_thing"):
        call()


def test_every_declared_struct_sets_its_size():
    for cls in _lib.STRUCTS.values():
        assert cls().struct_size == ctypes.sizeof(cls)


def test_log_callback_receives_library_messages():
    messages = []
    byol.set_log_callback(lambda level, text: messages.append((level, text)), byol.LOG_DEBUG)
    try:
        with pytest.raises(byol.ByolKeyError):
            byol.Config(settings={"no.such.key": 1})
    finally:
        byol.set_log_callback(None)
    assert any(level == byol.LOG_DEBUG and "no.such.key" in text for level, text in messages)
    count = len(messages)
    with pytest.raises(byol.ByolKeyError):
        byol.Config(settings={"no.such.key": 1})
    assert len(messages) == count  # silenced again


def test_the_libdir_recorded_at_install_comes_after_the_in_tree_build(monkeypatch):
    monkeypatch.delenv("BYOL_LIBRARY", raising=False)
    monkeypatch.setattr(_lib, "_installed_libdir", "/some/prefix/lib")
    names = [name for name, _origin in _lib._candidates()]
    recorded = names.index("/some/prefix/lib/libbyol.so.1")
    assert names[-1] == "libbyol.so.1" and recorded < len(names) - 1
    assert all("/some/prefix" not in n for n in names[:recorded])
