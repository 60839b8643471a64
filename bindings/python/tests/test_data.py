"""The data pipeline: images, datasets from numpy and folders, the augmenter,
the loader, the preview. Each test is skipped while the loaded library does
not export what it needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_API, REPO, requires

import byol

AUG_API = ("byol_augmenter_create", "byol_augmenter_view", "byol_augmenter_eval")
CIFAR_JPG = os.environ.get("BYOL_CIFAR10_JPG", REPO / "build" / "data" / "cifar10-jpg")
CIFAR_TRAIN = Path(CIFAR_JPG) / "train"


@pytest.fixture
def gray_cfg():
    with byol.Config("fashion-mnist", train__batch_size=4, threads=2, loader__workers=2,
                     seed=11) as cfg:
        yield cfg


@pytest.fixture
def images(rng):
    return (rng.random((10, 28, 28)) * 255).astype(np.uint8)


@requires(*AUG_API)
def test_augmenter_views(rng):
    with byol.Augmenter("cifar10") as aug:
        assert aug.dims == (3, 32, 32)
        img = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
        v1 = aug.view(img, epoch=0, index=5, view=1)
        assert v1.shape == (3, 32, 32) and v1.dtype == np.float32 and np.isfinite(v1).all()
        np.testing.assert_array_equal(v1, aug.view(img, 0, 5, 1))  # a function of its inputs
        assert not np.array_equal(v1, aug.view(img, 1, 5, 1))
        assert aug.eval(img).shape == (3, 32, 32)
        with pytest.raises(byol.ShapeError):
            aug.view(img[:, :, :1], 0, 0, 1)  # one channel for a 3-channel augmenter
        with pytest.raises(byol.InvalidArgumentError):
            aug.view(img, 0, 0, 3)  # view 3
        with pytest.raises(byol.ShapeError, match="channels"):
            aug.view(np.zeros((4, 4, 2), np.uint8), 0, 0, 1)


@requires(*AUG_API)
def test_augmenter_bad_setting_names_the_key():
    with pytest.raises(byol.RangeError, match="augment.std"):
        byol.Augmenter("cifar10", augment__std="1,2")


@requires("byol_image_write_png", "byol_image_decode", "byol_image_decode_memory")
def test_png_round_trip(rng, tmp_path):
    img = (rng.random((7, 9, 3)) * 255).astype(np.uint8)
    path = tmp_path / "x.png"
    byol.write_png(path, img)
    np.testing.assert_array_equal(byol.decode(path, {"data.channels": 3}), img)
    np.testing.assert_array_equal(byol.decode_bytes(path.read_bytes(), {"data.channels": 3}), img)
    assert byol.decode(path, {"data.channels": 1}).shape == (7, 9, 1)
    with pytest.raises(byol.DecodeError, match="junk"):
        byol.decode_bytes(b"not an image", name="junk")
    with pytest.raises(byol.ByolIOError, match="missing.png"):
        byol.decode(tmp_path / "missing.png")


@requires("byol_image_write_png", "byol_image_decode")
def test_write_png_checks_pixels_as_from_numpy_does(tmp_path):
    path = tmp_path / "x.png"
    byol.write_png(path, np.array([[0.0, 0.5], [1 / 255, 1.0]]))  # floats in [0, 1]: scaled
    np.testing.assert_array_equal(byol.decode(path, {"data.channels": 1})[:, :, 0],
                                  [[0, 128], [1, 255]])
    with pytest.raises(byol.RangeError, match=r"pixels: int32.*0..255.*\[0, 300\]"):
        byol.write_png(path, np.array([[0, 300]], np.int32))  # was written as 44
    with pytest.raises(TypeError, match="pixels: dtype bool.*uint8"):
        byol.write_png(path, np.ones((2, 2), bool))
    with pytest.raises(byol.ShapeError, match="dimensions"):
        byol.write_png(path, np.zeros(4, np.uint8))


@requires(*AUG_API)
def test_augmenter_checks_pixels_as_from_numpy_does(rng):
    img = rng.random((40, 50, 3))
    as_uint8 = np.rint(img * 255).astype(np.uint8)
    with byol.Augmenter("cifar10") as aug:
        # Floats in [0, 1] are scaled as from_numpy scales them (they were truncated to 0).
        np.testing.assert_array_equal(aug.view(img, 0, 5, 1), aug.view(as_uint8, 0, 5, 1))
        np.testing.assert_array_equal(aug.eval(img), aug.eval(as_uint8))
        with pytest.raises(byol.RangeError, match=r"image: int64.*\[128, 384\]"):
            aug.view(np.resize([128, 384], (8, 8, 3)), 0, 0, 1)  # 384 was taken as 128
        with pytest.raises(byol.RangeError, match=r"image: float64.*\[0, 1\].*2.0"):
            aug.eval(np.full((8, 8, 3), 2.0))
        with pytest.raises(TypeError, match="image: dtype <U1.*uint8"):
            aug.eval(np.zeros((8, 8, 3), "U1"))


@requires("byol_dataset_from_memory", "byol_dataset_get", "byol_dataset_label")
def test_dataset_from_numpy(gray_cfg, images):
    labels = np.arange(10) % 3
    with byol.Dataset.from_numpy(gray_cfg, images, labels) as ds:
        assert len(ds) == 10
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.label(4) == 1
        np.testing.assert_array_equal(ds.get(3), images[3][:, :, None])
        np.testing.assert_array_equal(ds[-1], images[9][:, :, None])
        with pytest.raises(byol.RangeError):
            ds.get(10)
    with byol.Dataset.from_numpy(gray_cfg, images) as unlabeled:
        assert unlabeled.num_classes == 0 and (unlabeled.labels == -1).all()
    with pytest.raises(byol.ShapeError, match="labels"):
        byol.Dataset.from_numpy(gray_cfg, images, labels[:3])
    with pytest.raises(TypeError, match="Dataset.open"):
        byol.Dataset()


@requires("byol_dataset_from_memory", "byol_dataset_get")
def test_from_numpy_scales_floats_in_0_1(gray_cfg):
    pixels = np.array([[0.0, 0.5], [1 / 255, 1.0]], np.float32)
    with byol.Dataset.from_numpy(gray_cfg, np.stack([pixels, 1 - pixels])) as ds:
        np.testing.assert_array_equal(ds.get(0)[:, :, 0], [[0, 128], [1, 255]])
        np.testing.assert_array_equal(ds.get(1)[:, :, 0], [[255, 128], [254, 0]])


@requires("byol_dataset_from_memory", "byol_dataset_get")
def test_from_numpy_takes_integers_in_0_255(gray_cfg, images):
    with byol.Dataset.from_numpy(gray_cfg, images.astype(np.int32)) as ds:
        np.testing.assert_array_equal(ds.get(3)[:, :, 0], images[3])
    with byol.Dataset.from_numpy(gray_cfg, [[[0, 255]]]) as ds:  # a list: int64
        np.testing.assert_array_equal(ds.get(0)[:, :, 0], [[0, 255]])


@pytest.mark.parametrize("values, found", [
    (np.array([0.0, 1.5], np.float32), r"\[0.0, 1.5\]"),
    (np.array([-0.25, 0.5]), r"\[-0.25, 0.5\]"),
    (np.array([0.5, np.nan], np.float32), "NaN"),
    (np.array([0.5, np.inf]), "inf"),
    (np.array([0, 300], np.int32), r"\[0, 300\]"),
    (np.array([-1, 3], np.int16), r"\[-1, 3\]"),
])
def test_from_numpy_refuses_values_out_of_range(gray_cfg, values, found):
    images = np.resize(values, (2, 4, 4))
    with pytest.raises(byol.RangeError, match=f"{images.dtype}.*{found}"):
        byol.Dataset.from_numpy(gray_cfg, images)


@pytest.mark.parametrize("dtype", [bool, np.complex64, object, "U1"])
def test_from_numpy_refuses_other_dtypes(gray_cfg, dtype):
    images = np.zeros((2, 4, 4), dtype)
    with pytest.raises(TypeError, match=f"{images.dtype}.*uint8"):
        byol.Dataset.from_numpy(gray_cfg, images)


def test_from_numpy_names_the_layout_for_channels_first(gray_cfg):
    with pytest.raises(byol.ShapeError, match=r"\(2, 3, 32, 32\).*N, H, W\[, C\].*NHWC"):
        byol.Dataset.from_numpy(gray_cfg, np.zeros((2, 3, 32, 32), np.uint8))


@requires("byol_dataset_from_memory", "byol_dataset_label")
def test_from_numpy_takes_whole_labels_of_any_number_dtype(gray_cfg, images):
    for labels in (np.arange(10.0) % 3, np.arange(10, dtype=np.uint64) % 3, list(range(10))):
        with byol.Dataset.from_numpy(gray_cfg, images, labels) as ds:
            np.testing.assert_array_equal(ds.labels, np.asarray(labels, np.int64))


BAD_LABELS = [
    (np.array([0, 1.5]), r"float64 labels.*found 1.5 \(label 1\)"),  # was truncated to 1
    (np.array([0, np.nan], np.float32), r"float32 labels.*found nan \(label 1\)"),
    (np.array([0, 2**32 + 1]), r"int64 labels.*found 4294967297 \(label 1\)"),  # was 1
    (np.array([0, -2]), r"int64 labels.*0..2147483647.*found -2 \(label 1\)"),
]


@pytest.mark.parametrize("values, message", BAD_LABELS)
def test_from_numpy_refuses_labels_a_cast_would_change(gray_cfg, values, message):
    with pytest.raises(byol.RangeError, match=f"labels: {message}"):
        byol.Dataset.from_numpy(gray_cfg, np.zeros((2, 4, 4), np.uint8), values)


@pytest.mark.parametrize("labels", [["0", "3"], [True, False], np.zeros(2, np.complex64)])
def test_from_numpy_refuses_labels_of_other_dtypes(gray_cfg, labels):
    dtype = np.asarray(labels).dtype
    with pytest.raises(TypeError, match=f"labels: dtype {dtype} is not labels"):
        byol.Dataset.from_numpy(gray_cfg, np.zeros((2, 4, 4), np.uint8), labels)


@requires(*DATA_API)
def test_loader_train_and_eval(gray_cfg, images):
    with byol.Dataset.from_numpy(gray_cfg, images, np.arange(10) % 2) as ds:
        with byol.Loader(gray_cfg, ds) as ld:
            assert ld.batches_per_epoch == 2 and len(ld) == 2  # drop_last
            seen = []
            for k, batch in zip(range(5), ld):
                v1, v2, y = batch
                assert v1.shape == v2.shape == (4, 1, 28, 28) and v1.dtype == np.float32
                assert y.dtype == np.int32 and y.shape == (4,)
                np.testing.assert_array_equal(y, batch.samples % 2)
                assert (batch.epoch, batch.index) == (k // 2, k % 2)
                seen.append(batch)
            assert not np.array_equal(seen[0].view1, seen[0].view2)
            assert seen[0].view1.base is None or seen[0].view1.flags.owndata  # copies
            ld.seek(1, 0)  # replay batch 0 of epoch 1
            again = ld.next()
            np.testing.assert_array_equal(again.view1, seen[2].view1)
            np.testing.assert_array_equal(again.samples, seen[2].samples)
        with byol.Loader(gray_cfg, ds, mode="eval") as ev:
            batches = list(ev)
            assert [b.count for b in batches] == [4, 4, 2]
            assert all(b.view2 is None for b in batches)
            np.testing.assert_array_equal(np.concatenate([b.samples for b in batches]),
                                          np.arange(10))
        with pytest.raises(byol.InvalidArgumentError, match="mode"):
            byol.Loader(gray_cfg, ds, mode="test")


@requires(*DATA_API, "byol_loader_set_shard")
def test_loader_shards_make_the_global_batch(gray_cfg, images):
    with byol.Dataset.from_numpy(gray_cfg, images, np.arange(10) % 2) as ds:
        with byol.Loader(gray_cfg, ds) as whole:
            want = [whole.next() for _ in range(3)]  # across an epoch boundary
        for n in (2, 4):
            loaders = [byol.Loader(gray_cfg, ds) for _ in range(n)]
            for r, ld in enumerate(loaders):
                ld.set_shard(r, n)
            for w in want:
                got = [ld.next() for ld in loaders]
                assert all(g.count == 4 // n and (g.epoch, g.index) == (w.epoch, w.index)
                           for g in got)
                for field in ("view1", "view2", "labels", "samples"):
                    np.testing.assert_array_equal(
                        np.concatenate([getattr(g, field) for g in got]), getattr(w, field))
            for ld in loaders:
                ld.close()
        with byol.Loader(gray_cfg, ds) as ld:
            with pytest.raises(byol.RangeError, match="3 ranks do not divide"):
                ld.set_shard(0, 3)
            with pytest.raises(byol.RangeError, match="rank 2 of 2 ranks"):
                ld.set_shard(2, 2)


@requires(*DATA_API)
def test_loader_needs_a_full_batch(gray_cfg, images):
    with byol.Dataset.from_numpy(gray_cfg, images[:3]) as ds:
        with pytest.raises(byol.ShapeError):
            byol.Loader(gray_cfg, ds)


@requires(*DATA_API, "byol_preview_write")
def test_preview(gray_cfg, images, tmp_path):
    path = tmp_path / "grid.png"
    with byol.Dataset.from_numpy(gray_cfg, images) as ds:
        byol.preview(gray_cfg, ds, 0, 3, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(byol.RangeError):
            byol.preview(gray_cfg, ds, 8, 5, tmp_path / "no.png")


@requires(*DATA_API, "byol_preview_write_sample", "byol_image_decode")
def test_preview_sample_is_seeded(gray_cfg, images, tmp_path):
    with byol.Dataset.from_numpy(gray_cfg, images, np.arange(10) % 2) as ds:
        byol.preview(gray_cfg, ds, None, 4, tmp_path / "a.png")
        byol.preview(gray_cfg, ds, None, 4, tmp_path / "b.png")
        assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
        grid = byol.decode(tmp_path / "a.png", gray_cfg)
        assert grid.shape[0] == 4 + 14 + 4 + 4 * (112 + 4)  # 28-pixel views upscaled 4x


@requires(*DATA_API, "byol_embed_dataset")
def test_embed_dataset(gray_cfg, images):
    with byol.Dataset.from_numpy(gray_cfg, images, np.arange(10) % 2) as ds, \
         byol.Net(gray_cfg) as net:
        emb, labels = byol.embed_dataset(net, gray_cfg, ds)
        # the preset's eval.grid=2: cnn-small's 128-channel map pooled 2x2
        assert emb.shape == (10, 128 * 2 * 2) and emb.dtype == np.float32
        np.testing.assert_array_equal(labels, np.arange(10) % 2)


@requires("byol_dataset_open", "byol_dataset_get")
def test_dataset_open_folder():
    if not CIFAR_TRAIN.is_dir():
        pytest.skip(f"{CIFAR_TRAIN} not found: run `make data` (needs ../shared/data/cifar10-jpg)")
    with byol.Dataset.open("cifar10", CIFAR_TRAIN) as ds:
        assert len(ds) == 50000 and ds.num_classes == 10
        assert ds.class_names[0] == "airplane"
        assert ds.get(0).shape == (32, 32, 3)


@requires("byol_dataset_open")
def test_dataset_open_missing_path_names_it(tmp_path):
    with pytest.raises(byol.ByolIOError, match="nowhere"):
        byol.Dataset.open(None, tmp_path / "nowhere")


@requires("byol_dataset_open", "byol_dataset_source", "byol_image_write_png")
def test_dataset_sources(tmp_path, images):
    for name in ("cat/b.png", "cat/a.png", "cat/sub/c.png", "dog/x,y.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        byol.write_png(tmp_path / name, images[0])
    with byol.Dataset.open(None, tmp_path) as ds:
        assert ds.sources == ["cat/a.png", "cat/b.png", "cat/sub/c.png", "dog/x,y.png"]
        assert ds.source(2) == "cat/sub/c.png" and ds.source(-1) == "dog/x,y.png"
        assert ds.label(2) == 0  # a nested image belongs to its class folder
        np.testing.assert_array_equal(ds.get(2)[:, :, 0], images[0])
        with pytest.raises(IndexError, match="index 4"):
            ds.source(4)
    with byol.Dataset.from_numpy(None, images) as ds:
        assert ds.source(0) is None and ds.sources == [None] * 10
