"""HDBSCAN on pixel features: three backends, order-independent, optional deduplication.

Quantised pixels repeat. Where more than ``min_samples`` rows are identical, HDBSCAN forms
clusters of identical points and spends its time on them. ``dedup=True`` clusters the unique
rows with their counts as sample weights (fast_hdbscan only) and gives every copy its row's
label; the default is the original study's plain behaviour, clustering every row.

fast_hdbscan (0.3.x) labels noise almost every unique row whose weight alone reaches
``min_samples`` (its core distance is then 0): measured on 20,000 quantised blob points,
97 % of such rows came out noise although they are the densest. Weights are therefore
capped at ``min_samples - 1``, so that no row is dense on its own account; with the cap the
same rows are all clustered (0 % noise) and the clusters follow the blobs.

Results never depend on the order of the rows: rows are put in a canonical (lexicographic)
order before clustering and cluster ids are numbered by first appearance in that order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from flair_hdbscan.errors import OptionError

__all__ = [
    "BACKENDS",
    "METHODS",
    "Clustering",
    "budget_mapping",
    "cluster_pixels",
    "cluster_purity",
    "largest_cluster_fraction",
    "oracle_mapping",
]

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("fast_hdbscan", "hdbscan", "sklearn")
METHODS: tuple[str, ...] = ("eom", "leaf")


@dataclass(frozen=True)
class Clustering:
    """Outcome of :func:`cluster_pixels`.

    Attributes:
        labels: ``(n,) int64`` cluster id per row, 0..n_clusters-1, −1 for noise.
        n_clusters: number of clusters.
        noise_fraction: fraction of rows labelled noise.
        n_rows_clustered: rows handed to the backend (the unique rows with ``dedup``).
    """

    labels: np.ndarray
    n_clusters: int
    noise_fraction: float
    n_rows_clustered: int


def _check(min_cluster_size: int, min_samples: int | None, method: str, backend: str) -> None:
    if backend not in BACKENDS:
        raise OptionError(f"unknown HDBSCAN backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if method not in METHODS:
        raise OptionError(
            f"unknown cluster selection method {method!r}: use one of {', '.join(METHODS)}"
        )
    if int(min_cluster_size) < 2:
        raise OptionError(f"min_cluster_size must be at least 2, got {min_cluster_size}")
    if min_samples is not None and int(min_samples) < 1:
        raise OptionError(f"min_samples must be at least 1, got {min_samples}")


def _run_backend(
    X: np.ndarray,
    weights: np.ndarray | None,
    *,
    min_cluster_size: int,
    min_samples: int,
    method: str,
    backend: str,
) -> np.ndarray:
    """Cluster ``X`` ((n, f) float32, C-contiguous) with one backend; labels (n,) int64."""
    if backend == "fast_hdbscan":
        from fast_hdbscan import HDBSCAN

        model = HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            cluster_selection_method=method,
        )
        model.fit(X, sample_weight=weights)
    elif backend == "hdbscan":
        from hdbscan import HDBSCAN

        model = HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            cluster_selection_method=method,
            approx_min_span_tree=False,
            core_dist_n_jobs=1,
        )
        model.fit(X.astype(np.float64))
    else:
        from sklearn.cluster import HDBSCAN

        # sklearn's min_samples counts the point itself: +1 gives the same core distances
        model = HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples + 1,
            cluster_selection_method=method,
            copy=True,
        )
        model.fit(X)
    return np.asarray(model.labels_, dtype=np.int64)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster ids 0.. by first appearance; noise (−1) stays −1."""
    clustered = labels >= 0
    if not clustered.any():
        return labels
    ids, first = np.unique(labels[clustered], return_index=True)
    order = np.argsort(first, kind="stable")
    mapping = np.empty(ids.max() + 1, dtype=np.int64)
    mapping[ids[order]] = np.arange(ids.size)
    out = labels.copy()
    out[clustered] = mapping[labels[clustered]]
    return out


def cluster_pixels(
    X: np.ndarray,
    *,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    backend: str = "fast_hdbscan",
    dedup: bool = False,
) -> Clustering:
    """Cluster pixel features with HDBSCAN.

    Args:
        X: ``(n, f)`` features, any float dtype or layout (converted to C-contiguous float32,
            which fast_hdbscan needs).
        min_cluster_size: smallest cluster (the study: 10).
        min_samples: neighbours defining core distances, counted as hdbscan and
            fast_hdbscan count them (without the point itself); None means
            ``min_cluster_size``, the libraries' default.
        cluster_selection_method: ``"eom"`` (excess of mass) or ``"leaf"``.
        backend: ``"fast_hdbscan"``, ``"hdbscan"`` (with an exact minimum spanning tree) or
            ``"sklearn"``.
        dedup: cluster unique rows weighted by their counts, capped at
            ``min_samples - 1`` (fast_hdbscan only).

    Returns:
        A :class:`Clustering` whose labels follow the rows of ``X``.

    Raises:
        OptionError: on an unknown backend or method, an out-of-range size, or ``dedup``
            with a backend that takes no sample weights.
    """
    _check(min_cluster_size, min_samples, cluster_selection_method, backend)
    if dedup and backend != "fast_hdbscan":
        raise OptionError(
            f"--dedup needs sample weights, which the {backend} backend does not take: "
            "use --backend fast_hdbscan"
        )
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    ms = int(min_cluster_size if min_samples is None else min_samples)
    if n == 0:
        return Clustering(np.empty(0, dtype=np.int64), 0, 0.0, 0)
    # canonical order: lexicographic rows; np.unique sorts the same way
    rows, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if dedup:
        cap = max(ms - 1, 1)  # see the module docstring: no row dense on its own
        target = np.ascontiguousarray(rows)
        weights = np.minimum(counts, cap).astype(np.float32)
    else:
        order = np.argsort(inverse, kind="stable")
        target, weights = X[order], None
    if target.shape[0] <= max(ms, 1):
        labels_target = np.full(target.shape[0], -1, dtype=np.int64)
    else:
        labels_target = _run_backend(
            target,
            weights,
            min_cluster_size=int(min_cluster_size),
            min_samples=min(ms, target.shape[0] - 1),
            method=cluster_selection_method,
            backend=backend,
        )
    labels_target = _renumber(labels_target)
    if dedup:
        labels = labels_target[inverse]
    else:
        labels = np.empty(n, dtype=np.int64)
        labels[order] = labels_target
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    noise = float(np.mean(labels < 0))
    log.info("%d rows → %d clusters, %.1f %% noise", n, n_clusters, 100 * noise)
    return Clustering(labels, max(n_clusters, 0), noise, int(target.shape[0]))


def oracle_mapping(labels: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """The study's ORACLE cluster → class table: each cluster takes its members' majority class.

    It reads the true class of every clustered pixel, so scores built on it are optimistic.

    Args:
        labels: ``(n,) int64`` cluster ids, −1 = noise.
        y: ``(n,)`` integer true classes 0..n_classes-1.
        n_classes: number of classes.

    Returns:
        ``(n_clusters,) int64`` class per cluster; ties go to the smallest class index.
    """
    clustered = labels >= 0
    n_clusters = int(labels.max()) + 1 if clustered.any() else 0
    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (labels[clustered], np.asarray(y)[clustered].astype(np.int64)), 1)
    return counts.argmax(axis=1).astype(np.int64)


def budget_mapping(
    labels: np.ndarray, y: np.ndarray, n_classes: int, budget: int, seed: int
) -> tuple[np.ndarray, int]:
    """Cluster → class table from at most ``budget`` labelled members per cluster.

    Members to label are drawn at random (seeded); each cluster takes the majority class of
    its labelled members, ties to the smallest class index.

    Returns:
        ``(n_clusters,) int64`` class per cluster, and the number of labels consumed.
    """
    if budget < 1:
        raise OptionError(f"label budget must be at least 1 per cluster, got {budget}")
    rng = np.random.default_rng(seed)
    clustered = np.flatnonzero(labels >= 0)
    n_clusters = int(labels.max()) + 1 if clustered.size else 0
    # a random key per member; keep the `budget` smallest keys of each cluster
    keys = rng.random(clustered.size)
    order = np.lexsort((keys, labels[clustered]))
    members = clustered[order]
    cl = labels[members]
    starts = np.searchsorted(cl, np.arange(n_clusters))
    rank = np.arange(members.size) - starts[cl]
    chosen = members[rank < budget]
    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (labels[chosen], np.asarray(y)[chosen].astype(np.int64)), 1)
    return counts.argmax(axis=1).astype(np.int64), int(chosen.size)


def largest_cluster_fraction(labels: np.ndarray) -> float:
    """Share of the clustered rows that the largest cluster holds.

    Near 1, HDBSCAN merged almost everything into one cluster (excess-of-mass selection
    can do so when density has no deep valley), and every pixel gets one class.

    Args:
        labels: ``(n,) int64`` cluster ids, −1 = noise.

    Returns:
        The share in 0..1, NaN when every row is noise.
    """
    clustered = labels[labels >= 0]
    if clustered.size == 0:
        return float("nan")
    return float(np.bincount(clustered).max() / clustered.size)


def cluster_purity(labels: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """Fraction of clustered pixels whose true class is their cluster's majority class.

    Returns:
        The purity in 0..1, NaN when every pixel is noise.
    """
    clustered = labels >= 0
    if not clustered.any():
        return float("nan")
    n_clusters = int(labels.max()) + 1
    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (labels[clustered], np.asarray(y)[clustered].astype(np.int64)), 1)
    return float(counts.max(axis=1).sum() / clustered.sum())
