"""The scoring split as a compact table: distinct feature rows with per-class pixel counts.

A prediction that is a function of a pixel's feature row (every method of the budget study)
gives the same class to all pixels sharing that row. So the scoring split is held as its
distinct rows ``X (u, f) float32`` and, per row, how many of its pixels have each true class,
``counts (u, 13) int64``: the confusion matrix of a prediction over the ``u`` rows equals,
exactly, the one computed pixel by pixel. Pixels with no data (255) are left out, as every
FLAIR metric leaves them out (this is scoring, not training).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from flair_hdbscan.features import FeatureSpec, feature_table, pack_aerial
from flair_hdbscan.metrics import mean_iou, overall_accuracy
from flair_hdbscan.nomenclature import IGNORE, N_CLASSES, N_SCORED

__all__ = [
    "ScoringTable",
    "TableBuilder",
    "chance_miou",
    "patch_rows",
    "scoring_table",
    "unpack_aerial",
]

#: Pending rows from which :func:`scoring_table` merges the patches read so far.
MERGE_ROWS = 1_000_000


@dataclass(frozen=True)
class ScoringTable:
    """Distinct feature rows of a scoring split and their pixels' true classes.

    Attributes:
        X: ``(u, f) float32`` distinct feature rows, C-contiguous.
        counts: ``(u, 13) int64`` pixels of each row per true class.
    """

    X: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.counts.shape != (self.X.shape[0], N_CLASSES):
            raise ValueError(
                f"a scoring table needs X (u, f) and counts (u, {N_CLASSES}), "
                f"got {self.X.shape} and {self.counts.shape}"
            )

    @property
    def n_rows(self) -> int:
        """Number of distinct rows ``u``."""
        return int(self.X.shape[0])

    @property
    def n_pixels(self) -> int:
        """Number of scored pixels."""
        return int(self.counts.sum())

    @property
    def class_counts(self) -> np.ndarray:
        """``(13,) int64`` scored pixels per true class."""
        return self.counts.sum(axis=0)

    def confusion(self, pred: np.ndarray) -> np.ndarray:
        """Confusion matrix of a prediction over the rows.

        Args:
            pred: ``(u,)`` integer class per row, 0..12.

        Returns:
            ``(13, 13) int64``, rows = truth, columns = prediction; equal to
            :func:`flair_hdbscan.metrics.confusion_matrix` over every pixel.

        Raises:
            ValueError: on a wrong length or a class out of range.
        """
        pred = np.asarray(pred)
        if pred.shape != (self.n_rows,):
            raise ValueError(f"prediction must be ({self.n_rows},), got {pred.shape}")
        pred = pred.astype(np.int64)
        cm = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        if pred.size == 0:
            return cm
        if pred.min() < 0 or pred.max() >= N_CLASSES:
            raise ValueError(
                f"predicted classes must lie in 0..{N_CLASSES - 1}, got {pred.min()}..{pred.max()}"
            )
        order = np.argsort(pred, kind="stable")
        classes, starts = np.unique(pred[order], return_index=True)
        cm[:, classes] = np.add.reduceat(self.counts[order], starts, axis=0).T
        return cm

    def score(self, pred: np.ndarray) -> tuple[float, float]:
        """FLAIR mIoU (classes 0..11) and overall accuracy of a prediction ``(u,)``."""
        cm = self.confusion(pred)
        return mean_iou(cm), overall_accuracy(cm)


def unpack_aerial(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`flair_hdbscan.features.pack_aerial`: ``(n,) int64`` → ``(n, 5) uint8``."""
    keys = np.asarray(keys, dtype=np.int64)
    shifts = np.array([32, 24, 16, 8, 0], dtype=np.int64)
    return ((keys[:, None] >> shifts) & 0xFF).astype(np.uint8)


def _class_counts(inverse: np.ndarray, labels: np.ndarray, n_rows: int) -> np.ndarray:
    flat = inverse.astype(np.int64) * N_CLASSES + labels.astype(np.int64)
    return np.bincount(flat, minlength=n_rows * N_CLASSES).reshape(n_rows, N_CLASSES)


def _merge(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal rows (``rows`` (m,) keys or (m, f) features)."""
    axis = None if rows.ndim == 1 else 0
    uniq, inverse = np.unique(rows, axis=axis, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(uniq.shape[0]))
    return uniq, np.add.reduceat(counts[order], starts, axis=0)


def _check_labels(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).ravel()
    if labels.size != n:
        raise ValueError(f"{n} pixels but {labels.size} labels")
    valid = labels != IGNORE
    if labels[valid].size and (labels[valid].min() < 0 or labels[valid].max() >= N_CLASSES):
        raise ValueError(f"labels must be 0..{N_CLASSES - 1} or {IGNORE} (no data)")
    return labels, valid


def patch_rows(
    aerial: np.ndarray, labels: np.ndarray, spec: FeatureSpec, s2: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One patch's distinct rows and the true classes of their pixels.

    Args:
        aerial: ``(n, 5) uint8`` pixel values (red, green, blue, NIR, stored elevation).
        labels: ``(n,)`` reduced labels 0..12, or 255 for no data (left out).
        spec: the features; without Sentinel-2 the rows are packed aerial values
            (:func:`~flair_hdbscan.features.pack_aerial`), with it the feature rows.
        s2: ``(n, 10) float32`` Sentinel-2 values, when ``spec`` fuses them.

    Returns:
        ``rows`` (``(u,) int64`` keys or ``(u, f) float32`` features) and ``counts``
        ``(u, 13) int64``.

    Raises:
        ValueError: if shapes disagree or a label is out of range.
    """
    a = np.asarray(aerial)
    lab, valid = _check_labels(labels, a.shape[0])
    if spec.use_satellite:
        keys = feature_table(a[valid], None if s2 is None else np.asarray(s2)[valid], spec)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    else:
        uniq, inverse = np.unique(pack_aerial(a[valid]), return_inverse=True)
    return uniq, _class_counts(inverse.ravel(), lab[valid], uniq.shape[0])


class TableBuilder:
    """Merge patches' :func:`patch_rows` into a :class:`ScoringTable` as they come.

    Memory follows the table (``u × (f × 4 + 13 × 8)`` bytes), not the pixel count.

    Args:
        spec: the features the rows were made with.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._rows: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._pending = self._merged = 0

    def add(self, rows: np.ndarray, counts: np.ndarray) -> None:
        """Add one patch's rows."""
        self._rows.append(rows)
        self._counts.append(counts)
        self._pending += rows.shape[0]
        if self._pending > max(MERGE_ROWS, 2 * self._merged):
            merged = _merge(np.concatenate(self._rows), np.concatenate(self._counts))
            self._rows, self._counts = [merged[0]], [merged[1]]
            self._pending = self._merged = merged[0].shape[0]

    def table(self) -> ScoringTable:
        """The scoring table of every patch added.

        Rows are in lexicographic order of their source (packed aerial values, or the
        feature rows with Sentinel-2).
        """
        n_f = len(self.spec.columns)
        if not self._rows:
            return ScoringTable(np.empty((0, n_f), np.float32), np.empty((0, N_CLASSES), np.int64))
        rows, counts = _merge(np.concatenate(self._rows), np.concatenate(self._counts))
        X = rows if self.spec.use_satellite else feature_table(unpack_aerial(rows), None, self.spec)
        return ScoringTable(np.ascontiguousarray(X, dtype=np.float32), counts.astype(np.int64))


def scoring_table(
    aerial: Iterable[np.ndarray],
    labels: Iterable[np.ndarray],
    spec: FeatureSpec | None = None,
    s2: Iterable[np.ndarray] | None = None,
) -> ScoringTable:
    """Build the scoring table of a split from its pixels, patch by patch.

    Args:
        aerial: per patch, ``(n_i, 5) uint8`` pixel values.
        labels: per patch, ``(n_i,)`` reduced labels 0..12, or 255 for no data (left out).
        spec: the features (default: raw aerial, :class:`FeatureSpec` ``()``), unscaled.
        s2: per patch, ``(n_i, 10) float32`` Sentinel-2 values, when ``spec`` fuses them.

    Returns:
        The :class:`ScoringTable` (see :class:`TableBuilder`).

    Raises:
        ValueError: if shapes disagree or a label is out of range.
        OptionError: if Sentinel-2 values are needed but missing.
    """
    spec = spec or FeatureSpec()
    s2_parts = iter(s2) if s2 is not None else None
    builder = TableBuilder(spec)
    for a, lab in zip(aerial, labels, strict=True):
        s = next(s2_parts) if (spec.use_satellite and s2_parts is not None) else None
        builder.add(*patch_rows(a, lab, spec, s))
    return builder.table()


def chance_miou(class_counts: np.ndarray) -> float:
    """Expected FLAIR mIoU of a prediction drawn at random with the truth's own prevalence.

    The study's "naive prevalence" baseline: with class shares ``p`` for both truth and
    prediction, independent, the expected IoU of class ``c`` is ``p² / (2p − p²)`` (large
    numbers of pixels); classes absent from the truth are undefined and left out.

    Args:
        class_counts: ``(13,)`` pixels per true class.

    Returns:
        The mean over the defined classes 0..11, NaN if none is.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[:N_SCORED] / total
    p = p[p > 0]
    if p.size == 0:
        return float("nan")
    return float(np.mean(p * p / (2 * p - p * p)))
