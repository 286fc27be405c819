"""Predicting a patch's pixels with a fitted experiment, shared by ``run`` and ``predict``.

Features are a function of a pixel's aerial values (and Sentinel-2 pixel), so pixels with
equal values are featurised and predicted once, and the answers spread back to every pixel.
``run`` (scoring) and ``predict`` (maps) both go through here, which is why a prediction
folder scores exactly as the study does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.models import ClusterThenLabel
from flair_hdbscan.pixels import PatchPixels, unique_rows

__all__ = ["predict_table", "unique_features"]


def unique_features(
    px: PatchPixels,
    spec: FeatureSpec,
    rows: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The feature table of a patch's distinct pixels.

    Args:
        px: the patch's pixels (with Sentinel-2 values if ``spec`` fuses them).
        spec: the features.
        rows: ``(first, inverse)`` of :func:`~flair_hdbscan.pixels.unique_rows`, when the
            caller already has them.

    Returns:
        ``X`` ``(u, f) float32`` features of the distinct pixels, and ``inverse`` ``(n,)
        int64`` giving each pixel's row of ``X``.
    """
    first, inverse = rows or unique_rows(px, use_satellite=spec.use_satellite)
    s2 = None if px.s2 is None else px.s2[first]
    return feature_table(px.aerial[first], s2, spec), inverse


def predict_table(
    model: Any, X: np.ndarray, inverse: np.ndarray, *, clusters: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Classes (and clusters) of every pixel from the features of the distinct ones.

    Args:
        model: a fitted pipeline of the study (optional robust scaler, then a kNN or a
            :class:`~flair_hdbscan.models.ClusterThenLabel`).
        X: ``(u, f) float32`` features of the distinct pixels.
        inverse: ``(n,) int64`` row of ``X`` of each pixel.
        clusters: also give each pixel's cluster (HDBSCAN experiments).

    Returns:
        ``(n,) uint8`` classes, and ``(n,) int32`` clusters of the nearest clustered training
        pixel, or None when not asked or the model has no clusters.
    """
    pred = np.asarray(model.predict(X), dtype=np.uint8)[inverse]
    final = model[-1]
    if not (clusters and isinstance(final, ClusterThenLabel)):
        return pred, None
    Xs = model[:-1].transform(X) if len(model) > 1 else X
    return pred, np.asarray(final.predict_clusters(Xs), dtype=np.int32)[inverse]
