"""scikit-learn estimators of the study: an exact kNN, and cluster-then-label.

Estimators store their keyword-only arguments in ``__init__`` and validate them in ``fit``;
fitted state lives in attributes ending in ``_``. They pass scikit-learn's estimator checks.
The naive baselines are scikit-learn's own :class:`~sklearn.dummy.DummyClassifier`.

A fitted estimator holds each training point once, and pickles it once: the k-d tree is
rebuilt from the points when unpickled (on a Dask worker, say), never sent beside them.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from flair_hdbscan.clustering import (
    cluster_pixels,
    cluster_purity,
    largest_cluster_fraction,
    oracle_mapping,
)
from flair_hdbscan.interrupts import native_section

__all__ = ["ClusterThenLabel", "KDTreeClassifier", "make_knn"]

log = logging.getLogger(__name__)


def _compact(X: np.ndarray) -> np.ndarray:
    """``X`` as float32 when that keeps every value exactly, else as it is."""
    X32 = X.astype(np.float32)
    return X32 if np.array_equal(X32.astype(X.dtype), X) else X


class KDTreeClassifier(ClassifierMixin, BaseEstimator):
    """Exact Euclidean k-nearest-neighbour vote on a k-d tree (scipy's ``cKDTree``).

    The same classifier as scikit-learn's ``KNeighborsClassifier(weights="uniform")`` —
    majority of the ``n_neighbors`` nearest training rows, ties to the smallest class —
    with faster, multi-threaded queries. Among training rows at exactly equal distance the
    neighbours kept may differ from scikit-learn's, which breaks such ties another way.

    The training points live only in the tree (``tree_.data``); pickling keeps them as
    float32 when that is exact, and the tree is rebuilt on unpickling.

    Args:
        n_neighbors: neighbours that vote.
        n_jobs: query threads (-1: all cores; None: 1).
    """

    def __init__(self, *, n_neighbors: int = 5, n_jobs: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Store the training rows ``X`` ((n, f) float) and classes ``y`` ((n,))."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.y_ = y_idx.astype(np.int32)
        self.tree_ = cKDTree(X)
        return self

    @property
    def fit_X_(self) -> np.ndarray:  # noqa: N802 - scikit-learn's name for the training rows
        """The training rows, ``(n, f) float64`` (the tree's own array, not a copy)."""
        check_is_fitted(self)
        return self.tree_.data

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        tree = state.pop("tree_", None)
        if tree is not None:
            state["points_"] = _compact(tree.data)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        points = state.pop("points_", None)
        super().__setstate__(state)
        if points is not None:
            self.tree_ = cKDTree(np.asarray(points, dtype=np.float64))

    def _workers(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    def kneighbors(self, X, n_neighbors: int | None = None) -> np.ndarray:
        """Indices ``(n, k) int64`` of the nearest training rows, nearest first."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        k = min(int(n_neighbors or self.n_neighbors), self.tree_.n)
        _, idx = self.tree_.query(X, k=k, workers=self._workers())
        return np.asarray(idx, dtype=np.int64).reshape(X.shape[0], k)

    def predict(self, X) -> np.ndarray:
        """Majority class of the nearest training rows, ``(n,)``; ties to the smallest class."""
        idx = self.kneighbors(X)
        n = idx.shape[0]
        n_classes = self.classes_.size
        votes = np.bincount(
            (np.arange(n)[:, None] * n_classes + self.y_[idx]).ravel(),
            minlength=n * n_classes,
        ).reshape(n, n_classes)
        return self.classes_[votes.argmax(axis=1)]


def make_knn(n_neighbors: int = 5, n_jobs: int | None = None) -> KDTreeClassifier:
    """The study's kNN: exact, Euclidean, uniform vote (ties to the smallest class)."""
    return KDTreeClassifier(n_neighbors=n_neighbors, n_jobs=n_jobs)


class ClusterThenLabel(ClassifierMixin, BaseEstimator):
    """HDBSCAN clusters named by the ORACLE mapping, propagated to every pixel by kNN.

    ``fit`` clusters the training rows, gives each cluster the majority true class of its
    members — the study's ORACLE mapping, which reads the label of every clustered row — and
    trains a kNN on the clustered rows with their cluster's class (noise rows are left out).
    ``predict`` is that kNN. (The label-budget study, :mod:`flair_hdbscan.budget`, names
    clusters from a counted number of labels instead.)

    If HDBSCAN labels every row noise, no cluster exists: the documented fallback treats the
    whole sample as one cluster (so every pixel gets the sample's majority class), sets
    ``fallback_ = "all-noise"`` and warns.

    Args:
        min_cluster_size: HDBSCAN's smallest cluster.
        min_samples: HDBSCAN's core-distance neighbours (None: ``min_cluster_size``).
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        backend: HDBSCAN implementation (see :data:`flair_hdbscan.clustering.BACKENDS`).
        n_neighbors: neighbours of the propagating kNN.
        n_jobs: threads of the kNN queries.
    """

    def __init__(
        self,
        *,
        min_cluster_size: int = 10,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
        backend: str = "fast_hdbscan",
        n_neighbors: int = 5,
        n_jobs: int | None = None,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.backend = backend
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Cluster ``X`` ((n, f) float), name clusters from ``y`` ((n,)), fit the kNN."""
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        with native_section():  # numba: Ctrl-C must not be raised inside it
            clustering = cluster_pixels(
                X,
                min_cluster_size=self.min_cluster_size,
                min_samples=self.min_samples,
                cluster_selection_method=self.cluster_selection_method,
                backend=self.backend,
            )
        labels = clustering.labels
        self.fallback_ = None
        if clustering.n_clusters == 0:
            warnings.warn(
                "HDBSCAN labelled every row noise: falling back to one cluster of all rows "
                "(every pixel gets the majority class); lower min_cluster_size or min_samples",
                RuntimeWarning,
                stacklevel=2,
            )
            self.fallback_ = "all-noise"
            labels = np.zeros_like(labels)
        table = oracle_mapping(labels, y_idx, n_classes)
        self.n_clusters_ = int(clustering.n_clusters)
        self.noise_fraction_ = float(clustering.noise_fraction)
        self.cluster_purity_ = cluster_purity(labels, y_idx, n_classes)
        self.largest_cluster_fraction_ = largest_cluster_fraction(clustering.labels)
        self.cluster_table_ = table
        clustered = labels >= 0
        self.train_clusters_ = labels[clustered].astype(np.int32)
        self.knn_ = make_knn(min(self.n_neighbors, int(clustered.sum())), self.n_jobs)
        self.knn_.fit(X[clustered], table[self.train_clusters_])
        return self

    @property
    def cluster_classes_(self) -> np.ndarray:
        """Class of each cluster, ``(n_clusters,)``."""
        check_is_fitted(self)
        return self.classes_[self.cluster_table_]

    def predict(self, X) -> np.ndarray:
        """Class of each row ``(n,)``: the kNN vote among the clustered training rows."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return self.classes_[self.knn_.predict(X)]

    def predict_clusters(self, X) -> np.ndarray:
        """Cluster id of the nearest clustered training row, ``(n,) int32``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        nearest = self.knn_.kneighbors(X, n_neighbors=1)[:, 0]
        return self.train_clusters_[nearest]
