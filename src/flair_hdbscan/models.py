"""scikit-learn estimators of the study: an exact kNN, and cluster-then-label.

Estimators store their keyword-only arguments in ``__init__`` and validate them in ``fit``;
fitted state lives in attributes ending in ``_``. They pass scikit-learn's estimator checks.
The naive baselines are scikit-learn's own :class:`~sklearn.dummy.DummyClassifier`.

A fitted estimator holds each distinct training point once, and pickles it once: the k-d
tree is built from the points at the first query (on a Dask worker, say), never sent beside
them.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from flair_hdbscan.clustering import (
    DEFAULT_BACKEND,
    cluster_pixels,
    cluster_purity,
    largest_cluster_fraction,
    oracle_mapping,
)
from flair_hdbscan.cores import default_threads
from flair_hdbscan.distinct import distinct_rows
from flair_hdbscan.interrupts import native_section
from flair_hdbscan.neighbors import ExactNeighbors, check_range, spatial_order

__all__ = ["ClusterThenLabel", "KDTreeClassifier", "make_knn"]

log = logging.getLogger(__name__)


def _compact(X: np.ndarray) -> np.ndarray:
    """``X`` as float32 when that keeps every value exactly, else as it is."""
    X32 = X.astype(np.float32)
    return X32 if np.array_equal(X32.astype(X.dtype), X) else X


def _smallest_uint(n: int) -> type:
    """The smallest unsigned integer type holding ``0..n-1``."""
    for t in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(t).max + 1:
            return t
    return np.uint64


class KDTreeClassifier(ClassifierMixin, BaseEstimator):
    """Exact Euclidean k-nearest-neighbour vote with one canonical answer.

    The neighbours of a query are the first ``n_neighbors`` training rows in the order of
    (exact Euclidean distance, row index): rows at exactly equal distance are taken by
    smallest index. The prediction is their majority class, ties to the smallest class —
    scikit-learn's ``KNeighborsClassifier(weights="uniform")`` with distance ties broken by
    that stated rule. Brute force over every row gives the same answer (tested); the
    queries run on a k-d tree of the distinct training points (see
    :mod:`flair_hdbscan.neighbors`), float32 when the training values are exactly float32.

    A fitted classifier holds each distinct training point once, with each row's point and
    class; pickling keeps those (``(m, f)`` points, ``(n,)`` point of each row, ``(n,)``
    class index) and the tree is built again at the first query.

    Args:
        n_neighbors: neighbours that vote.
        n_jobs: query threads (-1: all cores; None: 1).
    """

    def __init__(self, *, n_neighbors: int = 5, n_jobs: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Store the training rows ``X`` ((n, f) float) and classes ``y`` ((n,))."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        check_range(X)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        table = _compact(X)
        first, inverse = distinct_rows(table)
        points = table[first]
        order = spatial_order(points)  # near points near in memory: faster queries
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        self.points_ = np.ascontiguousarray(points[order])
        self.n_train_ = int(X.shape[0])
        self._build(rank[inverse.ravel()], y_idx.ravel())
        return self

    def _build(self, inverse: np.ndarray, y_idx: np.ndarray) -> None:
        self.index_ = ExactNeighbors(
            self.points_, inverse, y_idx, self.classes_.size, threads=self._workers()
        )

    @property
    def y_(self) -> np.ndarray:
        """Class index of each training row, ``(n,)`` (in training order)."""
        check_is_fitted(self)
        return self.index_.row_classes()

    @property
    def fit_X_(self) -> np.ndarray:  # noqa: N802 - scikit-learn's name for the training rows
        """The training rows, ``(n, f)`` (a copy built from the distinct points)."""
        check_is_fitted(self)
        return self.points_[self.index_.row_points()]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        index = state.pop("index_", None)
        if index is not None:
            state["inverse_"] = index.row_points().astype(_smallest_uint(self.points_.shape[0]))
            state["y_idx_"] = index.row_classes().astype(_smallest_uint(self.classes_.size))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        inverse = state.pop("inverse_", None)
        y_idx = state.pop("y_idx_", None)
        super().__setstate__(state)
        if inverse is not None:
            self._build(np.asarray(inverse, dtype=np.int64), np.asarray(y_idx, dtype=np.int64))

    def _workers(self) -> int:
        if self.n_jobs is None:
            return 1
        return default_threads() if int(self.n_jobs) < 0 else int(self.n_jobs)

    def _queries(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        check_range(X)
        self.index_.threads = self._workers()
        return X

    def kneighbors(self, X, n_neighbors: int | None = None) -> np.ndarray:
        """Indices ``(n, k) int64`` of the nearest training rows, by (distance, index)."""
        X = self._queries(X)
        k = min(int(n_neighbors or self.n_neighbors), self.n_train_)
        _, rows = self.index_.query(X, k, want_rows=True)
        return rows

    def predict(self, X) -> np.ndarray:
        """Majority class of the nearest training rows, ``(n,)``; ties to the smallest class."""
        X = self._queries(X)
        k = min(int(self.n_neighbors), self.n_train_)
        cls, _ = self.index_.query(X, k)
        return self.classes_[cls]


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
        backend: str = DEFAULT_BACKEND,
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
