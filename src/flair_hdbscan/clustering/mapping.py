"""Cluster → class tables and cluster diagnostics, on label vectors (−1 = noise)."""

from __future__ import annotations

import numpy as np

from flair_hdbscan.errors import OptionError

__all__ = ["budget_mapping", "cluster_purity", "largest_cluster_fraction", "oracle_mapping"]


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
