"""byol.eval: k-NN on a hand example, a linear probe on separable blobs, errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires

import byol

pytestmark = requires("byol_eval_knn", "byol_eval_linear_probe")

BANK = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], np.float32)
BANK_LABELS = np.array([0, 0, 1, 1])
QUERY = np.array([[1.0, 0.05], [0.05, 1.0], [0.6, 0.4]], np.float32)


def test_knn_hand_example():
    # With k=2 each query's two most cosine-similar bank rows share a label.
    assert byol.eval.knn(None, BANK, BANK_LABELS, QUERY, [0, 1, 0], eval__knn_k=2) == 1.0
    assert byol.eval.knn(None, BANK, BANK_LABELS, QUERY, [1, 0, 0],
                         eval__knn_k=2) == pytest.approx(1 / 3)
    # k covering the whole bank: the similarity weights still decide.
    with byol.Config(eval__knn_k=4, eval__knn_temperature=0.1) as cfg:
        assert byol.eval.knn(cfg, BANK, BANK_LABELS, QUERY, [0, 1, 0]) == 1.0


def test_knn_is_scale_invariant_and_takes_any_dtype():
    acc = byol.eval.knn({"eval.knn_k": 2}, BANK.astype(np.float64) * 10, [0, 0, 1, 1],
                        QUERY[:, ::-1] * 3, [1, 0, 1])  # a non-contiguous view, float64
    assert acc == 1.0


def test_linear_probe_separates_blobs(rng):
    centers = np.array([[4, 0, 0], [0, 4, 0], [0, 0, 4]], np.float32)
    y_train = rng.integers(0, 3, 300)
    y_test = rng.integers(0, 3, 90)
    x_train = centers[y_train] + rng.normal(size=(300, 3)).astype(np.float32)
    x_test = centers[y_test] + rng.normal(size=(90, 3)).astype(np.float32)
    acc = byol.eval.linear_probe(None, x_train, y_train, x_test, y_test, eval__probe_epochs=20,
                                 threads=2)
    assert acc > 0.9
    assert byol.eval.knn(None, x_train, y_train, x_test, y_test, eval__knn_k=20) > 0.9


def test_eval_errors():
    with pytest.raises(byol.ShapeError, match="labels"):
        byol.eval.knn(None, BANK, [0, 1], QUERY, [0, 1, 0])
    with pytest.raises(byol.ShapeError, match="dimensions"):
        byol.eval.knn(None, BANK, BANK_LABELS, np.ones((2, 3)), [0, 1])
    with pytest.raises(byol.RangeError, match=r"bank_labels: int64 .* found -1 \(label 3\)"):
        byol.eval.knn(None, BANK, [0, 0, 1, -1], QUERY, [0, 1, 0])
    with pytest.raises(byol.RangeError, match="eval.knn_k"):
        byol.eval.knn(None, BANK, BANK_LABELS, QUERY, [0, 1, 0], eval__knn_k=0)


@pytest.mark.parametrize("labels, found", [
    ([0, 1.5, 0], r"float64 labels .* found 1.5 \(label 1\)"),  # was truncated to 1
    (np.array([0, 2**32 + 1, 0]), r"int64 labels .* found 4294967297"),  # was wrapped to 1
])
def test_labels_a_cast_would_change_are_refused(labels, found):
    with pytest.raises(byol.RangeError, match=f"query_labels: {found}"):
        byol.eval.knn(None, BANK, BANK_LABELS, QUERY, labels)
    with pytest.raises(byol.RangeError, match=f"test_labels: {found}"):
        byol.eval.linear_probe(None, BANK, BANK_LABELS, QUERY, labels)


def test_embeddings_are_numbers_float32_can_hold():
    assert byol.eval.knn(None, BANK, BANK_LABELS, QUERY, [0., 1., 0.], eval__knn_k=2) == 1.0
    with pytest.raises(TypeError, match="bank: dtype <U.* is not numbers"):
        byol.eval.knn(None, BANK.astype(str), BANK_LABELS, QUERY, [0, 1, 0])  # was parsed
    with pytest.raises(byol.RangeError, match="train: float64 value 1e[+]39 is beyond"):
        byol.eval.linear_probe(None, BANK * 1e39, BANK_LABELS, QUERY, [0, 1, 0])
