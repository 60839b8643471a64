"""byol.Trainer: a few steps on cnn-small, the step in parts, checkpoints,
hooks and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import byol


def views(rng, n=8):
    return (rng.random((n, 1, 28, 28), dtype=np.float32),
            rng.random((n, 1, 28, 28), dtype=np.float32))


def test_a_few_steps(small_cfg, rng):
    with byol.Trainer(small_cfg) as t:
        assert t.batch_size == 8 and t.input_dims == (1, 28, 28) and t.step_index == 0
        losses = []
        for k in range(4):
            s = t.step(*views(rng))
            assert s["step"] == k
            assert set(s) == {"step", "loss", "loss_12", "loss_21", "lr", "tau", "grad_norm",
                              "collapse_std"}
            assert math.isfinite(s["loss"]) and 0 <= s["loss"] <= 8
            assert s["loss"] == pytest.approx(s["loss_12"] + s["loss_21"])
            assert s["grad_norm"] > 0 and 0 < s["tau"] <= 1
            losses.append(s["loss"])
        assert t.step_index == 4


def test_keyword_arguments_and_an_encoder_to_copy(rng):
    with byol.Net(arch="cnn-small", seed=5) as enc, \
         byol.Trainer("fashion-mnist", encoder=enc, train__batch_size=4, threads=2,
                      byol__proj_hidden=32, byol__pred_hidden=32) as t:
        x = rng.random((3, 1, 28, 28), dtype=np.float32)
        np.testing.assert_array_equal(t.encoder().embed(x), enc.embed(x))  # a copy of enc
        t.step(*views(rng, 4))
        assert not np.array_equal(t.encoder().embed(x), enc.embed(x))  # enc itself unchanged


def test_views_are_checked_before_the_call(small_cfg, rng):
    with byol.Trainer(small_cfg) as t:
        v1, v2 = views(rng)
        with pytest.raises(byol.ShapeError, match="train.batch_size is 8"):
            t.step(v1[:4], v2[:4])
        with pytest.raises(byol.ShapeError, match="differ"):
            t.step(v1, v2[:, :, :27])
        with pytest.raises(byol.ShapeError, match="encoder takes"):
            t.step(np.zeros((8, 3, 28, 28)), np.zeros((8, 3, 28, 28)))
        with pytest.raises(TypeError, match=r"view2: dtype complex\d+ is not numbers"):
            t.step(v1, v2 + 1j)  # was cut to its real part with a ComplexWarning
        with pytest.raises(byol.RangeError, match="view1: float64 value 1e[+]39 is beyond"):
            t.accumulate(np.where(v1 > 0.5, 1e39, 0.0), v2)
        assert t.step_index == 0


def test_non_finite_view_raises_with_the_library_message_and_changes_nothing(small_cfg, rng):
    with byol.Trainer(small_cfg) as t:
        v1, v2 = views(rng)
        before = t.params.copy()
        v1[3, 0, 5, 5] = np.inf
        with pytest.raises(byol.NonFiniteError) as info:
            t.step(v1, v2)
        assert info.value.code == -10 and info.value.message
        assert t.step_index == 0
        np.testing.assert_array_equal(t.params, before)


def test_step_in_parts_equals_the_step(small_cfg, rng):
    v1, v2 = views(rng)
    with byol.Trainer(small_cfg) as whole, byol.Trainer(small_cfg) as parts:
        np.testing.assert_array_equal(whole.params, parts.params)
        s = whole.step(v1, v2)
        parts.zero_grad()
        a = parts.accumulate(v1, v2)  # one micro-batch: BatchNorm sees the same batch
        assert a["loss"] == s["loss"]
        k = parts.step_index
        u = parts.apply_update()
        parts.update_target(byol.schedule_tau(k, small_cfg["train.total_steps"],
                                              small_cfg["ema.tau_base"]))
        assert parts.step_index == 1
        assert u["lr"] == s["lr"]
        np.testing.assert_array_equal(parts.params, whole.params)


def test_micro_batches(small_cfg, rng):
    v1, v2 = views(rng)
    with byol.Trainer(small_cfg) as t:
        t.zero_grad()
        a = t.accumulate(v1[:4], v2[:4])
        b = t.accumulate(v1[4:], v2[4:])
        assert math.isfinite(a["loss"]) and math.isfinite(b["loss"])
        assert np.abs(t.grads).sum() > 0
        with pytest.raises(byol.ShapeError, match="1 to 8"):
            t.accumulate(np.zeros((9, 1, 28, 28)), np.zeros((9, 1, 28, 28)))
        t.apply_update()
        assert t.step_index == 1
        with pytest.raises(byol.RangeError):
            t.update_target(1.5)


def test_schedules():
    assert byol.schedule_lr(0, 100, 10, 1.0) == 0.0
    assert byol.schedule_lr(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert byol.schedule_lr(100, 100, 10, 1.0) == 0.0
    assert byol.schedule_tau(0, 100, 0.99) == pytest.approx(0.99)
    assert byol.schedule_tau(100, 100, 0.99) == pytest.approx(1.0)


def test_checkpoint_round_trip(small_cfg, rng, tmp_path):
    batches = [views(rng) for _ in range(3)]
    path = tmp_path / "run.ckpt"
    with byol.Trainer(small_cfg) as t:
        t.step(*batches[0])
        t.save(path)
        expect = t.step(*batches[1])
        expect_params = t.params.copy()
    with byol.Trainer(small_cfg, seed=77) as resumed:
        resumed.load(path)
        assert resumed.step_index == 1
        got = resumed.step(*batches[1])
        assert got == expect  # resuming gives the same bits
        np.testing.assert_array_equal(resumed.params, expect_params)


def test_checkpoint_errors(small_cfg, tmp_path):
    with byol.Trainer(small_cfg) as t:
        with pytest.raises(byol.ByolIOError, match="nothing.ckpt"):
            t.load(tmp_path / "nothing.ckpt")
        weights = tmp_path / "weights.safetensors"
        t.encoder().save(weights)  # a weight file, not a checkpoint
        with pytest.raises(byol.FormatError, match="weights.safetensors"):
            t.load(weights)
        with pytest.raises(byol.ByolIOError):
            t.save(tmp_path / "no" / "such" / "dir" / "x.ckpt")


def test_grad_hook_sees_cancels_and_reraises(small_cfg, rng):
    seen = []
    with byol.Trainer(small_cfg) as t:
        t.set_grad_hook(lambda g: seen.append((g.shape, float(np.abs(g).sum()))))
        t.step(*views(rng))
        assert seen and seen[0][0] == t.grads.shape and seen[0][1] > 0
        t.set_grad_hook(lambda g: True)
        with pytest.raises(byol.CancelledError):
            t.step(*views(rng))
        assert t.step_index == 1

        def fail(_g):
            raise ZeroDivisionError("in the hook")

        formats = []
        t.set_grad_hook(lambda g: formats.append(memoryview(g).format))
        t.step(*views(rng))
        assert formats == ["f"]  # mpi4py 3 refuses "<f" (an MPI sum in the hook)

        t.set_grad_hook(fail)
        with pytest.raises(ZeroDivisionError, match="in the hook"):
            t.step(*views(rng))
        t.set_grad_hook(None)
        t.step(*views(rng))
        assert t.step_index == 3


def test_encoder_is_a_borrowed_view(small_cfg, rng):
    with byol.Trainer(small_cfg) as t:
        enc = t.encoder()
        assert enc.borrowed and enc is t.encoder()
        x = rng.random((5, 1, 28, 28), dtype=np.float32)
        before = enc.embed(x)
        t.step(*views(rng))
        assert not np.array_equal(enc.embed(x), before)  # it is the live online encoder
        with pytest.raises(byol.BadStateError, match="borrowed"):
            enc.plan(64)  # the trainer shares its activation memory
        with pytest.raises(byol.BadStateError, match="borrowed"):
            enc.set_cancel(lambda: False)
        enc.close()  # a view: the trainer goes on
        t.step(*views(rng))
        assert t.encoder() is not enc and t.encoder().embed(x).shape == (5, 128)
