"""Scores in FLAIR #2's convention: one confusion matrix summed over patches, IoU, mIoU.

The reference ``metrics.py`` of FLAIR #2 sums per-patch 13 × 13 confusion matrices (rows =
truth, columns = prediction), computes ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` per class, and
takes the mIoU as the mean of the IoUs of classes 0..11 that are defined (not NaN): class 12
("other") is left out, and so is a class absent from both truth and prediction. One deliberate
difference: a truth pixel of value 0 (no data) is ignored here, where the reference would fold
it into "other" (FLAIR's released masks hold no such pixel, so scores agree on them).
"""

from __future__ import annotations

import numpy as np

from flair_hdbscan.nomenclature import IGNORE, N_CLASSES, N_SCORED, REDUCED_NAMES

__all__ = [
    "ConfusionAccumulator",
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "overall_accuracy",
    "producers_accuracy",
    "scores",
    "users_accuracy",
]


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Count (truth, prediction) pairs.

    Args:
        truth: reduced labels of any shape, integer dtype, 0..n_classes-1; any other value
            (``IGNORE`` = 255 for no data) is left out.
        pred: predicted classes, same shape as ``truth``, 0..n_classes-1.
        n_classes: number of classes (13 in the reduced nomenclature).

    Returns:
        ``(n_classes, n_classes) int64`` counts, rows = truth, columns = prediction.

    Raises:
        ValueError: if the shapes differ or a prediction of a counted pixel is out of range.
    """
    truth = np.asarray(truth).ravel()
    pred = np.asarray(pred).ravel()
    if truth.shape != pred.shape:
        raise ValueError(f"truth has {truth.size} pixels but prediction has {pred.size}")
    keep = (truth >= 0) & (truth < n_classes) & (truth != IGNORE)
    t = truth[keep].astype(np.int64)
    p = pred[keep].astype(np.int64)
    if p.size and (p.min() < 0 or p.max() >= n_classes):
        raise ValueError(
            f"predicted classes must lie in 0..{n_classes - 1}, got {p.min()}..{p.max()}"
        )
    counts = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


class ConfusionAccumulator:
    """Sum confusion matrices patch by patch, in constant memory.

    Attributes:
        matrix: ``(n_classes, n_classes) int64`` running counts, rows = truth.
    """

    def __init__(self, n_classes: int = N_CLASSES) -> None:
        self.n_classes = n_classes
        self.matrix = np.zeros((n_classes, n_classes), dtype=np.int64)

    def update(self, truth: np.ndarray, pred: np.ndarray) -> None:
        """Add one patch: ``truth`` and ``pred`` as in :func:`confusion_matrix`."""
        self.matrix += confusion_matrix(truth, pred, self.n_classes)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """IoU of each class: ``TP / (TP + FP + FN)``.

    Args:
        cm: ``(K, K)`` confusion matrix, rows = truth.

    Returns:
        ``(K,) float64``; NaN for a class absent from both truth and prediction.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(cm: np.ndarray, n_scored: int = N_SCORED) -> float:
    """FLAIR's mIoU: mean of the defined IoUs of classes ``0..n_scored-1`` ("other" excluded).

    Returns:
        The mIoU, or NaN if no scored class is defined.
    """
    ious = iou_per_class(cm)[:n_scored]
    defined = ~np.isnan(ious)
    if not defined.any():
        return float("nan")
    return float(ious[defined].mean())


def overall_accuracy(cm: np.ndarray) -> float:
    """Fraction of counted pixels predicted right (NaN when nothing was counted)."""
    cm = np.asarray(cm)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def producers_accuracy(cm: np.ndarray) -> np.ndarray:
    """Producer's accuracy (recall) per class: ``TP / truth count``.

    Returns:
        ``(K,) float64``; NaN for a class absent from the truth.
    """
    cm = np.asarray(cm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(cm) / cm.sum(axis=1)


def users_accuracy(cm: np.ndarray) -> np.ndarray:
    """User's accuracy (precision) per class: ``TP / predicted count``.

    Returns:
        ``(K,) float64``; NaN for a class never predicted.
    """
    cm = np.asarray(cm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(cm) / cm.sum(axis=0)


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def scores(cm: np.ndarray) -> dict:
    """Every score of a confusion matrix, JSON-ready (NaN written as ``None``).

    Returns:
        ``{"miou", "iou", "overall_accuracy", "producers_accuracy", "users_accuracy",
        "confusion_matrix", "classes"}``; per-class lists have one value per class.
    """
    cm = np.asarray(cm, dtype=np.int64)
    miou = mean_iou(cm)
    oa = overall_accuracy(cm)
    return {
        "miou": None if np.isnan(miou) else miou,
        "iou": _nan_to_none(iou_per_class(cm)),
        "overall_accuracy": None if np.isnan(oa) else oa,
        "producers_accuracy": _nan_to_none(producers_accuracy(cm)),
        "users_accuracy": _nan_to_none(users_accuracy(cm)),
        "confusion_matrix": cm.tolist(),
        "classes": list(REDUCED_NAMES[: cm.shape[0]]),
    }
