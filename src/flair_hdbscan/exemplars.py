"""Which pixel an annotator labels next: exemplars first, then round-robin over clusters.

The policy of cluster-then-label under a label budget, kept apart so that a labelling page can
show pixels in the same order as the budget study spends its labels:

1. the **exemplar** of every cluster, largest cluster first (ties: the smaller cluster id).
   The exemplar is the member nearest the cluster's mean (Euclidean, in feature space; ties:
   the smallest row index) — the most central member for the compact spectral clusters found
   in aerial pixels, computable in one pass, and the same rule k-means uses ("the member
   nearest each centre");
2. then **rounds**: in each round every cluster that still has unlabelled members gives one
   more, largest cluster first, drawn at random within the cluster (seeded).

Every function is pure: arrays in, arrays out; no ground truth is read here.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "annotation_order",
    "central_members",
    "cluster_means",
    "cluster_priority",
    "cluster_sizes",
]


def _n_clusters(labels: np.ndarray, n_clusters: int | None) -> int:
    if n_clusters is not None:
        return int(n_clusters)
    return int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0


def _check(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    labels = np.asarray(labels)
    if X.ndim != 2:
        raise ValueError(f"features must be (n, f), got shape {X.shape}")
    if labels.shape != (X.shape[0],):
        raise ValueError(f"labels must be ({X.shape[0]},) like the features, got {labels.shape}")
    return X, labels.astype(np.int64, copy=False)


def cluster_sizes(labels: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """Members per cluster.

    Args:
        labels: ``(n,) int`` cluster id per row, −1 = noise.
        n_clusters: number of cluster ids (default: ``labels.max() + 1``).

    Returns:
        ``(n_clusters,) int64`` member counts.
    """
    labels = np.asarray(labels, dtype=np.int64)
    c = _n_clusters(labels, n_clusters)
    return np.bincount(labels[labels >= 0], minlength=c).astype(np.int64)


def cluster_priority(labels: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """Cluster ids from the largest to the smallest (equal sizes: smaller id first).

    Args:
        labels: ``(n,) int`` cluster id per row, −1 = noise.
        n_clusters: number of cluster ids (default: ``labels.max() + 1``).

    Returns:
        ``(n_clusters,) int64`` cluster ids in labelling priority.
    """
    sizes = cluster_sizes(labels, n_clusters)
    return np.lexsort((np.arange(sizes.size), -sizes)).astype(np.int64)


def cluster_means(X: np.ndarray, labels: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """Mean feature row of every cluster.

    Args:
        X: ``(n, f)`` float features.
        labels: ``(n,) int`` cluster id per row, −1 = noise (left out).
        n_clusters: number of cluster ids (default: ``labels.max() + 1``).

    Returns:
        ``(n_clusters, f) float64``; NaN rows for ids without members.
    """
    X, labels = _check(X, labels)
    c = _n_clusters(labels, n_clusters)
    keep = labels >= 0
    sums = np.zeros((c, X.shape[1]), dtype=np.float64)
    np.add.at(sums, labels[keep], X[keep].astype(np.float64))
    sizes = np.bincount(labels[keep], minlength=c).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / sizes[:, None]


def central_members(X: np.ndarray, labels: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """The exemplar of every cluster: its member nearest the cluster's mean.

    Args:
        X: ``(n, f)`` float features.
        labels: ``(n,) int`` cluster id per row, −1 = noise.
        n_clusters: number of cluster ids (default: ``labels.max() + 1``).

    Returns:
        ``(n_clusters,) int64`` row index of each cluster's exemplar (ties: the smallest
        index), −1 for an id without members.
    """
    X, labels = _check(X, labels)
    c = _n_clusters(labels, n_clusters)
    means = cluster_means(X, labels, c)
    rows = np.flatnonzero(labels >= 0)
    out = np.full(c, -1, dtype=np.int64)
    if rows.size == 0:
        return out
    lab = labels[rows]
    d2 = np.sum((X[rows].astype(np.float64) - means[lab]) ** 2, axis=1)
    order = np.lexsort((rows, d2, lab))  # by cluster, then distance, then index
    first = np.ones(order.size, dtype=bool)
    first[1:] = lab[order][1:] != lab[order][:-1]
    out[lab[order][first]] = rows[order][first]
    return out


def annotation_order(
    X: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    n_clusters: int | None = None,
) -> np.ndarray:
    """Order in which an annotator labels the clustered rows (see the module docstring).

    Labelling the first ``b`` rows of the order spends a budget of ``b`` labels: exemplars
    of the ``b`` largest clusters when ``b`` is at most the number of clusters, else every
    exemplar and then members round-robin.

    Args:
        X: ``(n, f)`` float features.
        labels: ``(n,) int`` cluster id per row, −1 = noise (never ordered).
        rng: draws the random members within clusters (exemplars are fixed).
        n_clusters: number of cluster ids (default: ``labels.max() + 1``).

    Returns:
        ``(n_clustered,) int64`` every clustered row index exactly once.
    """
    X, labels = _check(X, labels)
    c = _n_clusters(labels, n_clusters)
    rows = np.flatnonzero(labels >= 0)
    if rows.size == 0:
        return rows.astype(np.int64)
    lab = labels[rows]
    keys = rng.random(rows.size)
    exemplars = central_members(X, labels, c)
    keys[np.searchsorted(rows, exemplars[exemplars >= 0])] = -1.0  # exemplar first
    # rank of each member within its cluster
    by_cluster = np.lexsort((keys, lab))
    lab_sorted = lab[by_cluster]
    starts = np.searchsorted(lab_sorted, np.arange(c))
    rank = np.empty(rows.size, dtype=np.int64)
    rank[by_cluster] = np.arange(rows.size) - starts[lab_sorted]
    # position of each cluster in the priority order
    position = np.empty(c, dtype=np.int64)
    position[cluster_priority(labels, c)] = np.arange(c)
    return rows[np.lexsort((position[lab], rank))].astype(np.int64)
