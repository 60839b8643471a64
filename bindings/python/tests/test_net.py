"""byol.Net and byol.Builder on cnn-small: shapes, passes, weight files, buffers."""

from __future__ import annotations

import numpy as np
import pytest

import byol


@pytest.fixture
def net():
    with byol.Net(arch="cnn-small", threads=2, seed=1) as n:
        yield n


def test_dims(net):
    assert net.input_dims == (1, 28, 28)
    assert net.output_dims == (128,)
    assert not net.borrowed


def test_forward_and_embed_shapes(net, rng):
    net.plan(8)
    x = rng.random((8, 1, 28, 28), dtype=np.float32)
    y = net.forward(x)
    assert y.shape == (8, 128) and y.dtype == np.float32 and np.isfinite(y).all()
    e = net.embed(rng.random((21, 1, 28, 28)))  # float64 in: converted; 21 > the plan: chunks
    assert e.shape == (21, 128) and e.dtype == np.float32


def test_forward_plans_an_unplanned_net(rng):
    with byol.Net("fashion-mnist", threads=2) as net:
        assert net.forward(rng.random((3, 1, 28, 28), dtype=np.float32)).shape == (3, 128)


def test_eval_embed_is_deterministic_and_batch_independent(net, rng):
    net.plan(4)
    x = rng.random((10, 1, 28, 28), dtype=np.float32)
    a = net.embed(x)
    b = np.concatenate([net.embed(x[:5]), net.embed(x[5:])])
    np.testing.assert_array_equal(a, b)


def test_python_side_shape_check(net):
    with pytest.raises(byol.ShapeError, match=r"\(N, 1, 28, 28\)"):
        net.forward(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(byol.ShapeError, match="dimensions"):
        net.forward(np.zeros((28, 28), np.float32).reshape(1, 28, 28))


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((1, 1, 28, 28), np.complex64), TypeError, "dtype complex64 is not numbers"),
    (np.zeros((1, 1, 28, 28)).astype(str), TypeError, "dtype <U32 is not numbers"),
    (np.zeros((1, 1, 28, 28), object), TypeError, "dtype object is not numbers"),
    (np.full((1, 1, 28, 28), -1e39), byol.RangeError, "float64 value -1e[+]39 is beyond"),
])
def test_inputs_are_numbers_float32_can_hold(net, x, error, message):
    # numpy's cast parses strings, drops the imaginary part and makes -1e39 -inf.
    with pytest.raises(error, match=f"x: {message}"):
        net.forward(x)
    with pytest.raises(error, match=f"x: {message}"):
        net.embed(x)
    with pytest.raises(error, match=f"dy: {message}"):
        net.backward(x.reshape(1, -1)[:, :128])


def test_library_error_arrives_with_its_message(net):
    net.plan(2)
    with pytest.raises(byol.ShapeError) as info:
        net.forward(np.zeros((4, 1, 28, 28), np.float32))  # more than planned
    assert info.value.code == -5
    assert info.value.message  # the library's message, not ours
    assert "plan" in info.value.message.lower() or "4" in info.value.message
    x = np.zeros((2, 1, 28, 28), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(byol.NonFiniteError):
        net.forward(x)


def test_backward_accumulates_gradients(net, rng):
    net.plan(4)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    y = net.forward(x)
    net.zero_grad()
    dx = net.backward(np.ones_like(y), want_dx=True)
    assert dx.shape == x.shape and np.abs(dx).sum() > 0
    g1 = net.grads.copy()
    assert np.abs(g1).sum() > 0
    net.forward(x)
    net.backward(np.ones_like(y))
    np.testing.assert_allclose(net.grads, 2 * g1, rtol=1e-4, atol=1e-6)
    net.zero_grad()
    assert not net.grads.any()


def test_backward_without_forward_is_bad_state(net):
    net.plan(2)
    with pytest.raises(byol.BadStateError):
        net.backward(np.zeros((2, 128), np.float32))


def test_save_load_round_trip(net, rng, tmp_path):
    net.plan(4)
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    path = tmp_path / "w.safetensors"
    net.save(path)
    before = net.embed(x)
    with byol.Net(arch="cnn-small", threads=2, seed=99) as other:
        assert not np.array_equal(other.embed(x), before)
        other.load(path)
        np.testing.assert_array_equal(other.embed(x), before)
        other.load_bytes(path.read_bytes())
        np.testing.assert_array_equal(other.state_dict()["conv1.weight"],
                                      net.state_dict()["conv1.weight"])


def test_load_errors_name_the_file(net, tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(byol.ByolIOError, match="missing.safetensors"):
        net.load(missing)
    with pytest.raises(OSError):  # ByolIOError is an OSError
        net.load(missing)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(byol.FormatError, match="bad.safetensors"):
        net.load(bad)


def test_buffers_are_views_of_the_net(net, rng):
    net.plan(2)
    x = rng.random((2, 1, 28, 28), dtype=np.float32)
    p = net.params
    assert p.dtype == np.float32 and p.size == sum(
        t.numel for t in net.tensors() if t.buffer == byol.net.PARAMS)
    before = net.embed(x)
    p *= 0.5  # writes reach the net
    assert not np.array_equal(net.embed(x), before)
    sd = net.state_dict()
    assert sd["conv1.weight"].ndim == 4 and "bn1.running_mean" in sd
    with pytest.raises(byol.InvalidArgumentError):
        net.buffer("weights")


def torchvision_resnet18_keys() -> list[str]:
    """torchvision.models.resnet18().state_dict().keys() with fc replaced by
    nn.Identity() (an encoder), from torchvision's naming scheme: modules in
    registration order, each BatchNorm with weight, bias, running_mean,
    running_var, num_batches_tracked."""
    def bn(prefix):
        return [f"{prefix}.{k}" for k in
                ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]

    keys = ["conv1.weight", *bn("bn1")]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}"
            keys += [f"{p}.conv1.weight", *bn(f"{p}.bn1"), f"{p}.conv2.weight", *bn(f"{p}.bn2")]
            if layer > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight", *bn(f"{p}.downsample.1")]
    return keys


def test_state_dict_has_torchvisions_keys_with_num_batches_tracked(rng):
    with byol.Net(arch="resnet18", net__width=0.25, net__image_size=32, threads=2) as net:
        sd = net.state_dict()
        assert list(sd) == torchvision_resnet18_keys()
        counter = sd["layer2.0.downsample.1.num_batches_tracked"]
        assert counter.dtype == np.int64 and counter.shape == () and counter == 0
        net.set_training(True)
        for _ in range(3):
            net.forward(rng.random((2, 3, 32, 32), dtype=np.float32))
        net.set_training(False)
        net.embed(rng.random((2, 3, 32, 32), dtype=np.float32))  # eval: not counted
        counts = {k: int(v) for k, v in net.state_dict().items() if "num_batches" in k}
        assert set(counts.values()) == {3}


def test_a_state_dict_written_to_a_file_loads_strictly(net, rng, tmp_path):
    net.set_training(True)
    net.forward(rng.random((2, 1, 28, 28), dtype=np.float32))
    path = tmp_path / "sd.safetensors"
    byol.write_safetensors(path, net.state_dict())
    with byol.Net(arch="cnn-small", threads=2, seed=9) as other:
        other.load(path)  # strict: num_batches_tracked is expected, as in torchvision files
        loaded, saved = other.state_dict(), net.state_dict()
        assert list(loaded) == list(saved) and loaded["bn1.num_batches_tracked"] == 1
        for name, value in saved.items():
            np.testing.assert_array_equal(loaded[name], value, err_msg=name)


def test_builder_small_net(rng):
    with byol.Builder(1, 8, 8, config={"seed": 2}) as b:
        c = b.conv2d(b.INPUT, 4, kernel=3, padding=1, name="conv")
        r = b.relu(b.batchnorm(c, name="bn"))
        out = b.linear(b.avgpool(r), 5, name="fc")
        with pytest.raises(byol.Error):
            b.add(c, out)  # shapes differ
        net = b.finish(out)
    with net:
        assert net.input_dims == (1, 8, 8) and net.output_dims == (5,)
        assert [t.name for t in net.tensors()][:2] == ["conv.weight", "bn.weight"]
        assert net.forward(rng.random((2, 1, 8, 8), dtype=np.float32)).shape == (2, 5)


def test_cancel_callback(net, rng):
    net.plan(2)
    x = rng.random((2, 1, 28, 28), dtype=np.float32)
    net.set_cancel(lambda: True)
    with pytest.raises(byol.CancelledError):
        net.forward(x)

    def boom():
        raise RuntimeError("stop here")

    net.set_cancel(boom)
    with pytest.raises(RuntimeError, match="stop here"):
        net.forward(x)
    net.set_cancel(None)
    assert net.forward(x).shape == (2, 128)


def _weights_file(path, net, metadata):
    """A weight file of net's tensors (and zero BatchNorm counters) with metadata."""
    tensors = dict(net.state_dict())
    for name in [n for n in tensors if n.endswith(".running_var")]:
        tensors[name.replace(".running_var", ".num_batches_tracked")] = np.zeros((), np.int64)
    byol.write_safetensors(path, tensors, metadata)


def test_from_file_needs_no_repeated_settings(tmp_path, rng):
    with byol.Net(arch="cnn-small", net__width=0.25, net__image_size=20, seed=4) as src:
        recorded = {"net.arch": "cnn-small", "net.width": "0.25", "net.in_channels": "1",
                    "net.image_size": "20"}
        _weights_file(tmp_path / "w.safetensors", src, {"format": "pt", **recorded})
        x = rng.random((3, 1, 20, 20), dtype=np.float32)
        with byol.Net.from_file(tmp_path / "w.safetensors", threads=2) as net:
            assert net.input_dims == (1, 20, 20)
            np.testing.assert_array_equal(net.embed(x), src.embed(x))
        with byol.Net.from_file(tmp_path / "w.safetensors", net__width=0.25) as net:
            assert net.params.size == src.params.size  # a repeated setting is fine
        with pytest.raises(byol.RangeError, match=r"net\.width=0\.25.*net\.width=0\.5"):
            byol.Net.from_file(tmp_path / "w.safetensors", net__width=0.5)


def test_from_file_torchvision_classifier_needs_arch(tmp_path):
    with byol.Net(arch="cnn-small", net__width=0.25, net__num_classes=10, seed=2) as clf:
        _weights_file(tmp_path / "tv.safetensors", clf, {"format": "pt"})  # records nothing
    with pytest.raises(byol.FormatError, match=r"fc\.weight"):
        byol.Net.from_file(tmp_path / "tv.safetensors", net__arch="cnn-small",
                           net__width=0.25)
    with byol.Net.from_file(tmp_path / "tv.safetensors", arch="cnn-small",
                            net__width=0.25) as enc:
        assert enc.output_dims == (32,)
        assert "fc.weight" not in enc.state_dict()
