"""Status-code names from the library (byol_error_name) and byol.TensorFile,
write_safetensors, write_atomic (byol_file.h)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO

import byol
from byol import errors


def header_codes() -> dict[str, int]:
    """Every BYOL_E_* macro of byol_common.h with its value, read from the
    header text: a source independent of the library and of the bindings."""
    text = (REPO / "include" / "byol" / "byol_common.h").read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"#define (BYOL_E_\w+) \((-\d+)\)", text)}


def test_every_header_code_has_its_class_and_name():
    codes = header_codes()
    assert len(codes) >= 15
    by_name = {cls.c_name: cls for cls in errors._CLASSES}
    for name, value in codes.items():
        assert byol.error_name(value) == name
        assert by_name[name].code == value, name
        assert errors.error_class(value) is by_name[name]
        assert getattr(errors, name[len("BYOL_"):]) == value
    assert byol.error_name(0) == "BYOL_OK" and errors.OK == 0
    assert byol.error_name(1) == "BYOL_DONE" and errors.DONE == 1
    assert byol.error_name(-999) == "BYOL_E_UNKNOWN"
    assert errors.error_class(-999) is byol.Error


def test_classes_keep_their_bases():
    bases = {
        byol.OutOfMemoryError: MemoryError,
        byol.InvalidArgumentError: ValueError,
        byol.BadStateError: RuntimeError,
        byol.ShapeError: ValueError,
        byol.ByolIOError: OSError,
        byol.DecodeError: ValueError,
        byol.FormatError: ValueError,
        byol.NonFiniteError: ArithmeticError,
        byol.ByolKeyError: KeyError,
        byol.RangeError: ValueError,
    }
    for cls, base in bases.items():
        assert issubclass(cls, byol.Error) and issubclass(cls, base)


def test_a_library_error_carries_its_code_name():
    with pytest.raises(byol.RangeError) as e:
        byol.Config(settings={"optim.lr": -1.0})
    assert e.value.code == byol.RangeError.code == -15
    assert e.value.code_name == "BYOL_E_RANGE"
    assert "optim.lr" in e.value.message


def test_weight_file(tmp_path):
    path = tmp_path / "w.safetensors"
    with byol.Net(arch="cnn-small", net__width=0.25, threads=2) as net:
        net.save(path)
        state = net.state_dict()
    with byol.TensorFile(path) as f:
        assert f.kind == "tensors"
        assert f.size == path.stat().st_size
        assert len(f) == len(state)  # with one num_batches_tracked per BatchNorm
        for name, value in state.items():
            np.testing.assert_array_equal(f[name], value)
        assert f.info("bn1.num_batches_tracked") == byol.FileTensorInfo(
            "bn1.num_batches_tracked", np.dtype("int64"), (), 8
        )
        assert f.keys()[0] == "conv1.weight"
        assert f.metadata == {"format": "pt", "producer": f"libbyol {byol.library_version}"}
        with pytest.raises(byol.ByolKeyError, match="no.such"):
            f["no.such"]
    assert f.closed


def test_checkpoint(tmp_path):
    path = tmp_path / "ck.safetensors"
    cfg = byol.Config("fashion-mnist", net__width=0.25, train__batch_size=4, threads=2)
    with byol.Trainer(cfg) as t:
        t.save(path)
    with byol.TensorFile(path) as f:
        assert f.kind == "checkpoint"
        assert f.metadata["format"] == "libbyol-checkpoint-1"
        assert f.metadata["step"] == "0"
        assert "online.encoder.conv1.weight" in f


def test_malformed_files_fail_as_net_load_fails(tmp_path):
    good = tmp_path / "good.safetensors"
    with byol.Net(arch="cnn-small", net__width=0.25) as net:
        net.save(good)
        data = good.read_bytes()
        for cut in (0, 5, 8, 100, len(data) - 1):
            bad = tmp_path / f"cut{cut}"
            bad.write_bytes(data[:cut])
            with pytest.raises(byol.FormatError) as from_file:
                byol.TensorFile(bad)
            with pytest.raises(byol.FormatError) as from_load:
                net.load(bad)
            assert from_file.value.message == from_load.value.message
    with pytest.raises(byol.ByolIOError):
        byol.TensorFile(tmp_path / "missing")


def test_write_safetensors_round_trip(tmp_path):
    path = tmp_path / "emb.safetensors"
    emb = np.arange(6, dtype=np.float32).reshape(3, 2)
    tensors = {
        "embeddings": emb,
        "labels": np.array([0, 1, -1], dtype=np.int32),
        "big_endian": np.arange(3, dtype=">f8"),
        "scalar": np.int64(7),
        "empty": np.zeros((0, 4), np.uint8),
        "strided": np.arange(12.0, dtype=np.float32).reshape(3, 4)[:, ::2],
    }
    byol.write_safetensors(path, tensors, {"format": "pt", "producer": "test"})
    with byol.TensorFile(path) as f:
        assert f.keys() == list(tensors)
        for name, value in tensors.items():
            got = f[name]
            np.testing.assert_array_equal(got, value)
            assert got.shape == np.shape(value)
        assert f.metadata == {"format": "pt", "producer": "test"}
    before = path.read_bytes()
    with pytest.raises(byol.InvalidArgumentError, match="bool"):
        byol.write_safetensors(path, {"b": np.ones(2, bool)})
    with pytest.raises(byol.InvalidArgumentError, match="__metadata__"):
        byol.write_safetensors(path, {"__metadata__": emb})
    assert path.read_bytes() == before  # refused before the file was touched


def test_write_atomic(tmp_path):
    path = tmp_path / "x.bin"
    byol.write_atomic(path, [b"head", bytearray(b"body"), b"", memoryview(b"!")])
    assert path.read_bytes() == b"headbody!"
    byol.write_atomic(path, b"")
    assert path.read_bytes() == b""
    with pytest.raises(byol.ByolIOError, match="no/such/x.bin"):
        byol.write_atomic(tmp_path / "no" / "such" / "x.bin", b"x")
