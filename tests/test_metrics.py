import math

import numpy as np
import pytest

from flair_hdbscan.metrics import (
    ConfusionAccumulator,
    confusion_matrix,
    iou_per_class,
    mean_iou,
    overall_accuracy,
    producers_accuracy,
    scores,
    users_accuracy,
)
from flair_hdbscan.nomenclature import IGNORE


def test_confusion_matrix_hand_counted():
    truth = np.array([0, 0, 1, 1, 2, IGNORE], dtype=np.uint8)
    pred = np.array([0, 1, 1, 1, 0, 2], dtype=np.uint8)
    cm = confusion_matrix(truth, pred, n_classes=3)
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_ignore_pixels_are_not_counted():
    truth = np.full((4, 4), IGNORE, dtype=np.uint8)
    pred = np.zeros((4, 4), dtype=np.uint8)
    assert confusion_matrix(truth, pred).sum() == 0


def test_iou_and_miou_hand_computed_with_absent_class():
    # 4 classes; class 2 absent from truth and prediction; class 3 plays "other".
    cm = np.array(
        [
            [3, 1, 0, 0],
            [1, 2, 0, 1],
            [0, 0, 0, 0],
            [0, 0, 0, 5],
        ]
    )
    ious = iou_per_class(cm)
    assert ious[0] == pytest.approx(3 / (3 + 1 + 1))
    assert ious[1] == pytest.approx(2 / (2 + 1 + 2))
    assert math.isnan(ious[2])
    assert ious[3] == pytest.approx(5 / 6)
    # scored classes 0..2 ("other" = 3 left out), NaN class 2 left out of the mean
    assert mean_iou(cm, n_scored=3) == pytest.approx((3 / 5 + 2 / 5) / 2)


def test_class_predicted_but_absent_from_truth_counts_as_zero():
    cm = np.zeros((13, 13), dtype=np.int64)
    cm[0, 0] = 10
    cm[0, 5] = 10  # class 5 predicted, never true
    ious = iou_per_class(cm)
    assert ious[5] == 0.0
    assert mean_iou(cm) == pytest.approx((0.5 + 0.0) / 2)


def test_other_class_excluded_from_miou():
    cm = np.zeros((13, 13), dtype=np.int64)
    cm[0, 0] = 5
    cm[12, 0] = 5  # "other" mistaken for class 0 lowers class 0's IoU only
    assert mean_iou(cm) == pytest.approx(0.5)
    assert not math.isnan(iou_per_class(cm)[12])


def test_accuracies():
    cm = np.array([[8, 2], [1, 9]])
    assert overall_accuracy(cm) == pytest.approx(17 / 20)
    np.testing.assert_allclose(producers_accuracy(cm), [0.8, 0.9])
    np.testing.assert_allclose(users_accuracy(cm), [8 / 9, 9 / 11])


def test_accumulator_equals_one_big_matrix():
    rng = np.random.default_rng(0)
    truths = [rng.integers(0, 13, (32, 32)).astype(np.uint8) for _ in range(4)]
    preds = [rng.integers(0, 13, (32, 32)).astype(np.uint8) for _ in range(4)]
    acc = ConfusionAccumulator()
    for t, p in zip(truths, preds, strict=True):
        acc.update(t, p)
    whole = confusion_matrix(np.stack(truths), np.stack(preds))
    np.testing.assert_array_equal(acc.matrix, whole)
    assert acc.matrix.sum() == 4 * 32 * 32


def test_scores_json_ready_and_nan_as_none():
    cm = np.zeros((13, 13), dtype=np.int64)
    cm[1, 1] = 4
    s = scores(cm)
    assert s["miou"] == 1.0
    assert s["iou"][0] is None and s["iou"][1] == 1.0
    assert len(s["confusion_matrix"]) == 13
    assert s["classes"][12] == "other"


def test_prediction_out_of_range_raises():
    with pytest.raises(ValueError, match=r"0\.\.12"):
        confusion_matrix(np.array([0]), np.array([13]))
