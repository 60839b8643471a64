"""Evaluation of frozen embeddings: weighted k-NN and a linear probe.

Both take embeddings as float32 [n, dim] arrays (any integer or float dtype
is converted) with labels in [0, num_classes) of an integer dtype or whole
floats (other dtypes raise TypeError, other values RangeError), and return
the top-1 accuracy on the query (test) rows as a float in [0, 1]. Settings
come from the config keys eval.knn_k, eval.knn_temperature,
eval.probe_epochs, eval.probe_lr, eval.probe_batch, eval.probe_weight_decay,
seed and threads; `config` is a Config, a preset name, a dict or None, and
keyword arguments add keys (dots as double underscores):

    acc = byol.eval.knn(None, bank, bank_labels, query, query_labels, eval__knn_k=20)
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import _arrays, errors
from ._lib import fn
from .config import ConfigLike, borrowed

__all__ = ["knn", "linear_probe"]


def _rows(x, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    a = _arrays.as_f32(x, name, 2)
    if a.shape[0] < 1:
        raise errors.ShapeError(f"{name}: no rows")
    return a, _arrays.as_labels(labels, f"{name}_labels", a.shape[0])


def _run(f, config, keys, train, train_labels, test, test_labels, names) -> float:
    a, la = _rows(train, train_labels, names[0])
    b, lb = _rows(test, test_labels, names[1])
    if a.shape[1] != b.shape[1]:
        raise errors.ShapeError(
            f"{names[0]} has {a.shape[1]} dimensions, {names[1]} {b.shape[1]}"
        )
    accuracy = ctypes.c_double()
    with borrowed(config, keys) as cfg:
        f(cfg._handle, _arrays.f32p(a), _arrays.i32p(la), a.shape[0], _arrays.f32p(b),
          _arrays.i32p(lb), b.shape[0], a.shape[1], ctypes.byref(accuracy))
    return accuracy.value


def knn(config: ConfigLike, bank, bank_labels, query, query_labels, **keys: Any) -> float:
    """Weighted k-NN accuracy (cosine similarity, the eval.knn_k nearest bank
    rows vote with weight exp(similarity / eval.knn_temperature))."""
    return _run(fn.byol_eval_knn, config, keys, bank, bank_labels, query, query_labels,
                ("bank", "query"))


def linear_probe(config: ConfigLike, train, train_labels, test, test_labels, **keys: Any) -> float:
    """Linear-probe accuracy: softmax regression on standardised embeddings
    trained with SGD (Nesterov momentum, cosine lr), measured on `test`."""
    return _run(fn.byol_eval_linear_probe, config, keys, train, train_labels, test, test_labels,
                ("train", "test"))
