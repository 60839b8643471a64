"""Images, datasets, the BYOL augmenter, the loader and a preview.

Images are numpy uint8 arrays [H, W, C] (C = 1 or 3, data.channels); an
image passed in may also hold other integers in 0..255 or floats in [0, 1]
(scaled by 255 and rounded), anything else is refused. Augmented views
are float32 [C, S, S], batches float32 [N, C, S, S].

    cfg = byol.Config("cifar10", train__batch_size=32)
    with byol.Dataset.open(cfg, "cifar10-jpg/train") as ds, \\
         byol.Loader(cfg, ds) as loader:
        for view1, view2, labels in loader:        # endless in "train" mode
            ...

Ownership: a Dataset, an Augmenter and a Loader each own their C object. A
Loader borrows its Dataset's C object and keeps it alive, so the two may be
closed in any order. Every array handed out is a copy owned by Python: a
batch stays valid after the next one is read.

Threads: the C dataset and augmenter are read-only after creation (their
reading calls may run from several threads); a Loader is used by one thread
at a time; its worker threads are the library's own.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from . import _arrays, errors
from ._handle import Handle
from ._lib import Batch as _CBatch
from ._lib import Image as _CImage
from ._lib import fn, text
from .config import ConfigLike, borrowed
from .net import Net

__all__ = [
    "decode",
    "decode_bytes",
    "write_png",
    "Dataset",
    "Augmenter",
    "Loader",
    "Batch",
    "preview",
    "embed_dataset",
]

DONE = errors.DONE
LOADER_TRAIN = 0
LOADER_EVAL = 1
_MODES = {"train": LOADER_TRAIN, "eval": LOADER_EVAL}


# ---- images ----------------------------------------------------------------------


def _take_image(img: _CImage) -> np.ndarray:
    """Copies a library-owned image into numpy and releases it."""
    try:
        shape = (img.height, img.width, img.channels)
        return _arrays.copy_from(img.data, shape, np.uint8)
    finally:
        fn.byol_image_release(ctypes.byref(img))


def _image_view(pixels, name: str = "image") -> tuple[_CImage, np.ndarray]:
    """A byol_image borrowing `pixels` [H, W, C] (or [H, W]) as uint8,
    converted as from_numpy converts pixels."""
    a = _arrays.as_pixels(pixels, name, (2, 3))
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] not in (1, 3):
        raise errors.ShapeError(f"{name}: {a.shape[2]} channels (expected 1 or 3), shape {a.shape}")
    img = _CImage()
    img.height, img.width, img.channels = a.shape
    img.data = a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    return img, a


def decode(path: str | os.PathLike, config: ConfigLike = None) -> np.ndarray:
    """Decodes an image file (PNG, JPEG, BMP, TGA, GIF, PNM) to uint8
    [H, W, data.channels]."""
    img = _CImage()
    with borrowed(config) as cfg:
        fn.byol_image_decode(cfg._handle, text(path), ctypes.byref(img))
    return _take_image(img)


def decode_bytes(data: bytes, config: ConfigLike = None, name: str | None = None) -> np.ndarray:
    """Decodes an encoded image held in memory; `name` is what error
    messages call it."""
    buf = bytes(data)
    img = _CImage()
    with borrowed(config) as cfg:
        fn.byol_image_decode_memory(
            cfg._handle, buf, len(buf), None if name is None else text(name), ctypes.byref(img)
        )
    return _take_image(img)


def write_png(path: str | os.PathLike, pixels) -> None:
    """Writes an image [H, W, C] (or [H, W]) as a PNG file, atomically.
    Pixels are uint8, integers in 0..255 or floats in [0, 1], as for
    Dataset.from_numpy."""
    img, keep = _image_view(pixels, "pixels")
    fn.byol_image_write_png(text(path), ctypes.byref(img))
    del keep


# ---- datasets ----------------------------------------------------------------------


class Dataset(Handle):
    """An indexed collection of images with optional labels; owns a
    byol_dataset. Create with Dataset.open() or Dataset.from_numpy()."""

    def __init__(self, *_args, **_kwargs):
        raise TypeError("use Dataset.open(config, path) or Dataset.from_numpy(config, images)")

    @classmethod
    def _wrap(cls, ptr: int) -> Dataset:
        ds = cls.__new__(cls)
        ds._own(ptr, fn.byol_dataset_destroy)
        ds._labels = None
        return ds

    @classmethod
    def open(cls, config: ConfigLike, path: str | os.PathLike, **keys: Any) -> Dataset:
        """Opens an image folder (one sub-folder per class), MNIST-family IDX
        files or CIFAR binary batches (data.format, "auto" by default)."""
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            fn.byol_dataset_open(cfg._handle, text(path), ctypes.byref(out))
        return cls._wrap(out.value)

    @classmethod
    def from_numpy(cls, config: ConfigLike, images, labels=None, **keys: Any) -> Dataset:
        """A dataset over images [N, H, W, C] (NHWC, C 1 or 3) or [N, H, W]
        (gray) with optional labels [N]. Pixels are uint8, integers in
        0..255, or floats in [0, 1] (scaled by 255 and rounded); labels are
        integers or whole floats in 0..2**31-1; other dtypes raise TypeError,
        values out of range RangeError. Pixels and labels are copied."""
        a = _arrays.as_pixels(images, "images", (3, 4))
        if a.ndim == 3:
            a = a[:, :, :, None]
        if a.shape[3] not in (1, 3):
            raise errors.ShapeError(
                f"images: shape {a.shape} has {a.shape[3]} channels last; expected "
                "N, H, W[, C] (NHWC) with C 1 or 3: for channels-first (N, C, H, W) "
                "arrays pass images.transpose(0, 2, 3, 1)"
            )
        n, h, w, c = a.shape
        lab = None if labels is None else _arrays.as_labels(labels, "labels", n)
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            fn.byol_dataset_from_memory(
                cfg._handle, a.ctypes.data, n, h, w, c, _arrays.i32p(lab), ctypes.byref(out)
            )
        return cls._wrap(out.value)

    def __len__(self) -> int:
        return fn.byol_dataset_size(self._handle)

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 for an unlabeled dataset."""
        return fn.byol_dataset_num_classes(self._handle)

    @property
    def class_names(self) -> list[str]:
        """The class names, by label."""
        handle = self._handle
        names = []
        for i in range(fn.byol_dataset_num_classes(handle)):
            name = fn.byol_dataset_class_name(handle, i)
            names.append(name.decode("utf-8", "replace") if name is not None else str(i))
        return names

    def label(self, index: int) -> int:
        """Label of image `index` (-1 when unlabeled)."""
        out = ctypes.c_int32()
        fn.byol_dataset_label(self._handle, int(index), ctypes.byref(out))
        return out.value

    @property
    def labels(self) -> np.ndarray:
        """Every label as int32 [N] (-1 when unlabeled); a read-only array."""
        if self._labels is None:
            handle, out = self._handle, ctypes.c_int32()
            labels = np.empty(len(self), dtype=np.int32)
            for i in range(labels.shape[0]):
                fn.byol_dataset_label(handle, i, ctypes.byref(out))
                labels[i] = out.value
            labels.flags.writeable = False
            self._labels = labels
        return self._labels

    def source(self, index: int) -> str | None:
        """Where image `index` comes from: for an image folder, the file's
        path relative to the folder opened (``"cat/0001.jpg"``); None for a
        dataset of records (IDX, CIFAR, from_numpy), whose index is the
        record's number. Negative indices count from the end."""
        n, i = len(self), int(index)
        if not -n <= i < n:
            raise IndexError(f"index {index} is outside the dataset's {n} images")
        path = fn.byol_dataset_source(self._handle, i + n if i < 0 else i)
        return None if path is None else os.fsdecode(path)

    @property
    def sources(self) -> list[str | None]:
        """Every image's source(), in index order."""
        return [self.source(i) for i in range(len(self))]

    def get(self, index: int) -> np.ndarray:
        """Image `index`, decoded: uint8 [H, W, data.channels] (a copy)."""
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        img = _CImage()
        fn.byol_dataset_get(self._handle, index, ctypes.byref(img))
        return _take_image(img)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.get(index)

    def __repr__(self) -> str:
        if self.closed:
            return "<byol.Dataset closed>"
        return f"<byol.Dataset {len(self)} images, {self.num_classes} classes>"


# ---- the augmenter ---------------------------------------------------------------------


class Augmenter(Handle):
    """The two BYOL view pipelines and the evaluation transform, built from
    the augment.* keys, data.channels and seed; owns a byol_augmenter."""

    def __init__(self, config: ConfigLike = None, **keys: Any):
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            fn.byol_augmenter_create(cfg._handle, ctypes.byref(out))
        self._own(out.value, fn.byol_augmenter_destroy)
        dims = (ctypes.c_int64 * 3)()
        fn.byol_augmenter_dims(self._handle, dims)
        self.dims: tuple[int, int, int] = tuple(dims)

    def view(self, image, epoch: int, index: int, view: int) -> np.ndarray:
        """One augmented, normalised view (1 or 2) of an image (pixels as for
        write_png) as float32 [C, S, S]; a function of (seed, epoch, index,
        view) and the image."""
        img, keep = _image_view(image)
        out = np.empty(self.dims, dtype=np.float32)
        fn.byol_augmenter_view(self._handle, ctypes.byref(img), int(epoch), int(index), int(view),
                               _arrays.f32p(out))
        del keep
        return out

    def eval(self, image) -> np.ndarray:
        """The evaluation transform (centre crop, resize, normalise): float32 [C, S, S]."""
        img, keep = _image_view(image)
        out = np.empty(self.dims, dtype=np.float32)
        fn.byol_augmenter_eval(self._handle, ctypes.byref(img), _arrays.f32p(out))
        del keep
        return out


# ---- the loader -------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One batch, every array a copy owned by Python. Unpacks as
    ``view1, view2, labels = batch``."""

    view1: np.ndarray  # float32 [N, C, S, S]
    view2: np.ndarray | None  # float32 [N, C, S, S]; None in "eval" mode
    labels: np.ndarray  # int32 [N], -1 when unlabeled
    samples: np.ndarray  # int64 [N], the dataset indices
    epoch: int
    index: int  # batch index within the epoch

    def __iter__(self):
        return iter((self.view1, self.view2, self.labels))

    @property
    def count(self) -> int:
        """Samples in this batch."""
        return self.labels.shape[0]

    def __repr__(self) -> str:
        shape = tuple(self.view1.shape)
        return f"Batch(epoch={self.epoch}, index={self.index}, view1={shape})"


class Loader(Handle):
    """Shuffles per epoch, cuts batches of train.batch_size and runs worker
    threads that decode and augment ahead; owns a byol_loader and borrows the
    Dataset's C object (kept alive until the loader is closed).

    mode "train": shuffled, drop_last, two views, endless (break out of the
    loop); mode "eval": in order, every sample once through the evaluation
    transform (view2 is None), then the iteration stops.
    """

    def __init__(
        self, config: ConfigLike, dataset: Dataset, mode: str | int = "train", **keys: Any
    ):
        m = _MODES.get(mode, mode) if isinstance(mode, str) else int(mode)
        if m not in (LOADER_TRAIN, LOADER_EVAL):
            raise errors.InvalidArgumentError(f"mode {mode!r}: expected 'train' or 'eval'")
        ds_handle = dataset._handle
        out = ctypes.c_void_p()
        with borrowed(config, keys) as cfg:
            fn.byol_loader_create(cfg._handle, ds_handle, m, ctypes.byref(out))
        # The loader is destroyed before the dataset it reads: it holds a reference.
        self._own(out.value, fn.byol_loader_destroy, deps=(dataset._res,))
        self.mode = "train" if m == LOADER_TRAIN else "eval"

    def next(self) -> Batch | None:
        """The next batch (copies), or None when an "eval" pass is over.
        A bad sample raises (loader.on_error=stop); the next call goes on."""
        b = _CBatch()
        rc = fn.byol_loader_next(self._handle, ctypes.byref(b))
        if rc == DONE:
            return None
        n = b.count

        def view(t):
            if not t.data:
                return None
            return _arrays.copy_from(t.data, tuple(t.shape[: t.ndim]), np.float32)

        return Batch(
            view(b.view1),
            view(b.view2),
            _arrays.copy_from(b.labels, (n,), np.int32),
            _arrays.copy_from(b.samples, (n,), np.int64),
            b.epoch,
            b.index,
        )

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        batch = self.next()
        if batch is None:
            raise StopIteration
        return batch

    def seek(self, epoch: int, index: int) -> None:
        """Makes the next batch batch `index` of epoch `epoch` (to resume)."""
        fn.byol_loader_seek(self._handle, int(epoch), int(index))

    def set_shard(self, rank: int, size: int) -> None:
        """Hands out only rank `rank`'s slice of every batch of `size` ranks
        (data parallel; train.batch_size is the global batch, which `size`
        must divide): positions [rank*c//size, (rank+1)*c//size) of a batch
        of c samples, the same samples and views whatever the rank count.
        The next batch is this rank's slice of the one that would have come
        next."""
        fn.byol_loader_set_shard(self._handle, int(rank), int(size))

    @property
    def batches_per_epoch(self) -> int:
        return fn.byol_loader_batches_per_epoch(self._handle)

    def __len__(self) -> int:
        """Batches in one epoch."""
        return self.batches_per_epoch

    @property
    def skipped(self) -> int:
        """Bad samples skipped so far (loader.on_error=skip; a sharded
        loader counts its own slices)."""
        return fn.byol_loader_skipped(self._handle)


# ---- preview and embeddings --------------------------------------------------------------


def preview(config: ConfigLike, dataset: Dataset, first: int | None, count: int,
            path: str | os.PathLike) -> None:
    """Writes a PNG grid, one labelled row per image: the evaluation crop,
    view 1 and view 2 of epoch 0, upscaled to at least 112 pixels. Images
    first .. first+count-1, or with first=None `count` images drawn across
    the classes by the config's seed."""
    with borrowed(config) as cfg:
        if first is None:
            fn.byol_preview_write_sample(cfg._handle, dataset._handle, int(count), text(path))
        else:
            fn.byol_preview_write(cfg._handle, dataset._handle, int(first), int(count),
                                  text(path))


def embed_dataset(
    encoder: Net, config: ConfigLike, dataset: Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """Embeds every image of a dataset with `encoder` through the evaluation
    transform: returns (embeddings float32 [N, D], labels int32 [N]). D is
    the encoder's output, or C*G*G with eval.grid = G > 1 (the map before
    its final average pool, pooled on a G x G grid)."""
    emb = ctypes.POINTER(ctypes.c_float)()
    lab = ctypes.POINTER(ctypes.c_int32)()
    count, dim = ctypes.c_int64(), ctypes.c_int64()
    with borrowed(config) as cfg:
        fn.byol_embed_dataset(encoder._handle, cfg._handle, dataset._handle, ctypes.byref(emb),
                              ctypes.byref(lab), ctypes.byref(count), ctypes.byref(dim))
    try:
        return (_arrays.copy_from(emb, (count.value, dim.value), np.float32),
                _arrays.copy_from(lab, (count.value,), np.int32))
    finally:
        fn.byol_free(ctypes.cast(emb, ctypes.c_void_p))
        fn.byol_free(ctypes.cast(lab, ctypes.c_void_p))
