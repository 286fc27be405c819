"""scikit-learn estimators of the study: naive baselines, kNN, and cluster-then-label.

Estimators store their keyword-only arguments in ``__init__`` and validate them in ``fit``;
fitted state lives in attributes ending in ``_``. They pass scikit-learn's estimator checks.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from flair_hdbscan.clustering import (
    budget_mapping,
    cluster_pixels,
    cluster_purity,
    largest_cluster_fraction,
    oracle_mapping,
)

__all__ = [
    "ClusterThenLabel",
    "KDTreeClassifier",
    "NaivePrevalenceClassifier",
    "NaiveUniformClassifier",
    "make_knn",
]

log = logging.getLogger(__name__)


class KDTreeClassifier(ClassifierMixin, BaseEstimator):
    """Exact Euclidean k-nearest-neighbour vote on a k-d tree (scipy's ``cKDTree``).

    The same classifier as scikit-learn's ``KNeighborsClassifier(weights="uniform")`` —
    majority of the ``n_neighbors`` nearest training rows, ties to the smallest class —
    with faster, multi-threaded queries. Among training rows at exactly equal distance the
    neighbours kept may differ from scikit-learn's, which breaks such ties another way.

    Args:
        n_neighbors: neighbours that vote.
        n_jobs: query threads (-1: all cores; None: 1).
    """

    def __init__(self, *, n_neighbors: int = 5, n_jobs: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Store the training rows ``X`` ((n, f) float) and classes ``y`` ((n,))."""
        from scipy.spatial import cKDTree

        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        self.classes_, self.y_ = np.unique(y, return_inverse=True)
        self.fit_X_ = X
        self.tree_ = cKDTree(X)
        return self

    def _workers(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    def kneighbors(self, X, n_neighbors: int | None = None) -> np.ndarray:
        """Indices ``(n, k) int64`` of the nearest training rows, nearest first."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        k = min(int(n_neighbors or self.n_neighbors), self.fit_X_.shape[0])
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


class _NaiveBase(ClassifierMixin, BaseEstimator):
    """Shared fit of the naive classifiers: classes and their training frequencies."""

    def fit(self, X, y):
        """Record the classes of ``y`` ((n,) integers) and their frequencies."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        return self

    def _draw(self, n: int, p: np.ndarray | None) -> np.ndarray:
        # each call starts from random_state: the same rows get the same draws, call after call
        rng = np.random.default_rng(self.random_state)
        idx = rng.choice(self.classes_.size, size=n, p=p)
        return self.classes_[idx]

    def _check_predict(self, X) -> int:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return X.shape[0]


class NaiveUniformClassifier(_NaiveBase):
    """Predict a class drawn uniformly at random, ignoring the features.

    Args:
        random_state: seed of the draws. Every ``predict`` call starts from it, so equal
            inputs give equal outputs; give each batch its own seed for independent draws.
    """

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def predict(self, X) -> np.ndarray:
        """Random classes, ``(n,)``, uniform over ``classes_``."""
        return self._draw(self._check_predict(X), None)


class NaivePrevalenceClassifier(_NaiveBase):
    """Predict classes drawn at random with the training frequencies (prevalence matched).

    The original study permuted the true labels; drawing with the training sample's
    prevalence gives the same expected confusion matrix without reading the evaluated truth.

    Args:
        random_state: seed of the draws, as for :class:`NaiveUniformClassifier`.
    """

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def predict(self, X) -> np.ndarray:
        """Random classes, ``(n,)``, with probabilities ``class_prior_``."""
        return self._draw(self._check_predict(X), self.class_prior_)


class ClusterThenLabel(ClassifierMixin, BaseEstimator):
    """HDBSCAN clusters turned into classes, propagated to every pixel by kNN.

    ``fit`` clusters the training rows, gives each cluster a class — by default the ORACLE
    mapping of the study (the majority true class of its members, reading the label of every
    clustered row), or with ``label_budget`` the majority of at most that many randomly
    chosen labelled members — and trains a kNN on the clustered rows with their cluster's
    class (noise rows are left out). ``predict`` is that kNN.

    If HDBSCAN labels every row noise, no cluster exists: the documented fallback treats the
    whole sample as one cluster (so every pixel gets the sample's majority class), sets
    ``fallback_ = "all-noise"`` and warns.

    Args:
        min_cluster_size: HDBSCAN's smallest cluster.
        min_samples: HDBSCAN's core-distance neighbours (None: ``min_cluster_size``).
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        backend: ``"fast_hdbscan"``, ``"hdbscan"`` or ``"sklearn"``.
        dedup: cluster unique rows weighted by counts (fast_hdbscan only).
        n_neighbors: neighbours of the propagating kNN.
        label_budget: None for the oracle mapping, else labels read per cluster.
        random_state: seed of the label-budget draws.
        n_jobs: threads of the kNN queries.
    """

    def __init__(
        self,
        *,
        min_cluster_size: int = 10,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
        backend: str = "fast_hdbscan",
        dedup: bool = False,
        n_neighbors: int = 5,
        label_budget: int | None = None,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.backend = backend
        self.dedup = dedup
        self.n_neighbors = n_neighbors
        self.label_budget = label_budget
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def mapping(self) -> str:
        """``"oracle"`` or ``"budget-N"``: how clusters got their classes."""
        return "oracle" if self.label_budget is None else f"budget-{self.label_budget}"

    def fit(self, X, y):
        """Cluster ``X`` ((n, f) float), map clusters to classes of ``y`` ((n,)), fit the kNN."""
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        clustering = cluster_pixels(
            X,
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
            backend=self.backend,
            dedup=self.dedup,
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
        if self.label_budget is None:
            table = oracle_mapping(labels, y_idx, n_classes)
            self.n_labels_used_ = int(np.count_nonzero(labels >= 0))
        else:
            table, self.n_labels_used_ = budget_mapping(
                labels, y_idx, n_classes, int(self.label_budget), seed=self.random_state or 0
            )
        self.labels_ = clustering.labels
        self.n_clusters_ = int(clustering.n_clusters)
        self.noise_fraction_ = float(clustering.noise_fraction)
        self.cluster_purity_ = cluster_purity(labels, y_idx, n_classes)
        self.largest_cluster_fraction_ = largest_cluster_fraction(clustering.labels)
        self.cluster_classes_ = self.classes_[table]
        clustered = labels >= 0
        self.train_X_ = np.ascontiguousarray(X[clustered])
        self.train_clusters_ = labels[clustered]
        self.knn_ = make_knn(min(self.n_neighbors, int(clustered.sum())), self.n_jobs)
        self.knn_.fit(self.train_X_, table[self.train_clusters_])
        return self

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
        return self.train_clusters_[nearest].astype(np.int32)
