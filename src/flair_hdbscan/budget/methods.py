"""The labelling methods of the budget study, as pure functions that read truth only by asking.

None of these functions takes ground truth: they get an
:class:`~flair_hdbscan.budget.annotator.Annotator` and spend labels through it. Each returns a
class per training-pool row (or per cluster); predicting the scoring rows is a kNN vote over
neighbour indices computed once by the caller (:func:`query_neighbours`, :func:`vote`).

Shared rules:

- votes (kNN, cluster majority) go to the most frequent class, ties to the smallest class
  index — as :class:`flair_hdbscan.models.KDTreeClassifier`;
- a ``NO_DATA`` answer names no class (left out of votes); "other" is a class;
- a cluster without a usable answer takes the class of the **nearest labelled cluster**: the
  labelled cluster whose mean (for k-means: centre) is nearest its own mean, Euclidean; ties
  to the smaller cluster id;
- with no usable answer at all, everything is predicted ``FALLBACK_CLASS`` ("other"): the
  method learnt nothing, and "other" is the one prediction that claims no land-cover class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flair_hdbscan.budget.annotator import NO_DATA, OTHER, Annotator
from flair_hdbscan.exemplars import annotation_order, cluster_means
from flair_hdbscan.models import make_knn
from flair_hdbscan.nomenclature import N_CLASSES

__all__ = [
    "FALLBACK_CLASS",
    "KMEANS_INITS",
    "DistinctRows",
    "KMeansFit",
    "KMeansLabelling",
    "cluster_then_label",
    "distinct_rows",
    "fill_from_nearest",
    "fit_kmeans",
    "kmeans_then_label",
    "knn_random_labels",
    "label_all",
    "majority_classes",
    "oracle_classes",
    "query_neighbours",
    "vote",
]

#: Prediction when a method obtained no usable answer.
FALLBACK_CLASS = OTHER
#: k-means initialisations: scikit-learn's greedy k-means++ or rows drawn by weight.
KMEANS_INITS: tuple[str, ...] = ("k-means++", "random")


def query_neighbours(
    train_X: np.ndarray, query_X: np.ndarray, k: int = 5, workers: int = 1
) -> np.ndarray:
    """Indices of the ``k`` nearest training rows of every query row (exact, Euclidean).

    The neighbours of :class:`flair_hdbscan.models.KDTreeClassifier`: the first ``k`` rows
    by (exact distance, row index), so rows at exactly equal distance go by smallest index.

    Args:
        train_X: ``(n, f)`` float training rows (n ≥ 1).
        query_X: ``(u, f)`` float query rows.
        k: neighbours; fewer when ``n < k``.
        workers: query threads (−1: all cores).

    Returns:
        ``(u, min(k, n)) int64``, by (distance, row index).
    """
    train_X = np.asarray(train_X)
    query_X = np.asarray(query_X)
    if train_X.shape[0] == 0:
        raise ValueError("no training row to take neighbours from")
    kk = min(int(k), train_X.shape[0])
    if query_X.shape[0] == 0:
        return np.empty((0, kk), dtype=np.int64)
    knn = make_knn(kk, workers).fit(train_X, np.zeros(train_X.shape[0], dtype=np.int64))
    return knn.kneighbors(query_X).reshape(-1, kk)


def vote(neighbour_classes: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Majority class of each row's neighbours, ties to the smallest class.

    Args:
        neighbour_classes: ``(u, k)`` integer classes 0..n_classes-1.
        n_classes: number of classes.

    Returns:
        ``(u,) int64``.
    """
    cls = np.asarray(neighbour_classes, dtype=np.int64)
    u = cls.shape[0]
    flat = (np.arange(u, dtype=np.int64)[:, None] * n_classes + cls).ravel()
    votes = np.bincount(flat, minlength=u * n_classes).reshape(u, n_classes)
    return votes.argmax(axis=1).astype(np.int64)


def majority_classes(groups: np.ndarray, answers: np.ndarray, n_groups: int) -> np.ndarray:
    """Majority answer per group, ``NO_DATA`` answers left out.

    Args:
        groups: ``(m,) int`` group (cluster) of each answered row, 0..n_groups-1.
        answers: ``(m,) uint8`` annotator answers.
        n_groups: number of groups.

    Returns:
        ``(n_groups,) int64`` class per group (ties: smallest), −1 without a usable answer.
    """
    groups = np.asarray(groups, dtype=np.int64)
    answers = np.asarray(answers)
    ok = answers != NO_DATA
    flat = groups[ok] * N_CLASSES + answers[ok].astype(np.int64)
    counts = np.bincount(flat, minlength=n_groups * N_CLASSES).reshape(n_groups, N_CLASSES)
    out = counts.argmax(axis=1).astype(np.int64)
    out[counts.sum(axis=1) == 0] = -1
    return out


def fill_from_nearest(classes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Give every unlabelled cluster (−1) the class of the nearest labelled cluster.

    Args:
        classes: ``(c,) int`` class per cluster, −1 = unlabelled.
        centres: ``(c, f)`` float cluster means (or k-means centres).

    Returns:
        ``(c,) int64`` with no −1 left; all ``FALLBACK_CLASS`` if no cluster is labelled.
    """
    out = np.asarray(classes, dtype=np.int64).copy()
    labelled = np.flatnonzero(out >= 0)
    missing = np.flatnonzero(out < 0)
    if missing.size == 0:
        return out
    if labelled.size == 0:
        out[:] = FALLBACK_CLASS
        return out
    centres = np.asarray(centres, dtype=np.float64)
    known = centres[labelled]
    # exact brute force in chunks; argmin keeps the first minimum: the smaller cluster id
    step = max(1, 4_000_000 // max(1, known.size))
    for lo in range(0, missing.size, step):
        rows = missing[lo : lo + step]
        d2 = np.sum((centres[rows][:, None, :] - known[None, :, :]) ** 2, axis=2)
        out[rows] = out[labelled[np.argmin(d2, axis=1)]]
    return out


def knn_random_labels(
    n_pool: int, annotator: Annotator, budget: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Label ``budget`` pool pixels drawn uniformly at random (without replacement).

    Args:
        n_pool: pool size.
        annotator: answers the drawn pixels.
        budget: labels to spend (all pixels when at least ``n_pool``).
        rng: draws the pixels.

    Returns:
        ``(m,) int64`` pool indices with a usable answer and ``(m,) int64`` their classes —
        the kNN's training set (``NO_DATA`` answers dropped, their labels still spent).
    """
    if budget < 1:
        raise ValueError(f"a budget is at least 1 label, got {budget}")
    drawn = np.sort(rng.choice(n_pool, size=min(int(budget), n_pool), replace=False))
    answers = annotator.label(drawn)
    ok = answers != NO_DATA
    return drawn[ok], answers[ok].astype(np.int64)


def label_all(n_pool: int, annotator: Annotator) -> np.ndarray:
    """Every pool pixel labelled: ``(n_pool,) int64`` classes, −1 for ``NO_DATA`` answers."""
    answers = annotator.label(np.arange(n_pool, dtype=np.int64)).astype(np.int64)
    answers[answers == NO_DATA] = -1
    return answers


def cluster_then_label(
    X: np.ndarray,
    cluster_labels: np.ndarray,
    annotator: Annotator,
    budget: int | None,
    rng: np.random.Generator,
    means: np.ndarray | None = None,
) -> np.ndarray:
    """Spend a budget on clusters and name every cluster.

    Labels follow :func:`flair_hdbscan.exemplars.annotation_order` (exemplars largest
    cluster first, then members round-robin); a cluster takes the majority of its usable
    answers; the others take the class of the nearest labelled cluster (by mean).

    Args:
        X: ``(n, f)`` float pool features.
        cluster_labels: ``(n,) int`` cluster id per pool row, −1 = noise (never labelled).
        annotator: answers the chosen pixels.
        budget: labels to spend, or None to label every clustered pixel.
        rng: draws the round-robin members.
        means: ``(c, f)`` cluster means if already computed.

    Returns:
        ``(c,) int64`` class per cluster.
    """
    labels = np.asarray(cluster_labels, dtype=np.int64)
    c = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    if c == 0:
        return np.empty(0, dtype=np.int64)
    if budget is not None and budget < 1:
        raise ValueError(f"a budget is at least 1 label, got {budget}")
    order = annotation_order(X, labels, rng, c)
    chosen = order if budget is None else order[: int(budget)]
    answers = annotator.label(chosen)
    classes = majority_classes(labels[chosen], answers, c)
    return fill_from_nearest(classes, cluster_means(X, labels, c) if means is None else means)


def oracle_classes(
    cluster_labels: np.ndarray, annotator: Annotator, means: np.ndarray
) -> np.ndarray:
    """The study's ORACLE mapping: each cluster takes the majority class of ALL its members.

    Reads the class of every clustered pixel (all counted). A cluster whose members are all
    ``NO_DATA`` takes the nearest labelled cluster's class.

    Args:
        cluster_labels: ``(n,) int`` cluster id per pool row, −1 = noise.
        annotator: answers every clustered pixel.
        means: ``(c, f)`` cluster means.

    Returns:
        ``(c,) int64`` class per cluster.
    """
    labels = np.asarray(cluster_labels, dtype=np.int64)
    members = np.flatnonzero(labels >= 0)
    answers = annotator.label(members)
    classes = majority_classes(labels[members], answers, means.shape[0])
    return fill_from_nearest(classes, means)


@dataclass(frozen=True)
class DistinctRows:
    """The pool's distinct feature rows, for k-means on rows with counts.

    Attributes:
        rows: ``(d, f) float32`` distinct rows, lexicographic order.
        first: ``(d,) int64`` pool index of each row's first occurrence.
        inverse: ``(n,) int64`` distinct row of each pool row.
        counts: ``(d,) int64`` pool rows per distinct row.
    """

    rows: np.ndarray
    first: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray


def distinct_rows(X: np.ndarray) -> DistinctRows:
    """Collapse equal pool rows (no truth read): ``X`` ``(n, f)`` float → :class:`DistinctRows`."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    rows, first, inverse, counts = np.unique(
        X, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    return DistinctRows(rows, first.astype(np.int64), inverse.ravel().astype(np.int64), counts)


@dataclass(frozen=True)
class KMeansFit:
    """k-means of the distinct pool rows, weighted by their counts, and each cluster's exemplar.

    Attributes:
        labels: ``(d,) int64`` cluster of each distinct row.
        centres: ``(k, f) float64`` cluster centres.
        clusters: ``(c,) int64`` the non-empty clusters, in increasing order.
        exemplars: ``(c,) int64`` pool row labelled for each: the first occurrence of the
            distinct member nearest the centre (ties: smallest pool index).
    """

    labels: np.ndarray
    centres: np.ndarray
    clusters: np.ndarray
    exemplars: np.ndarray


def fit_kmeans(distinct: DistinctRows, k: int, init: str, random_state: int) -> KMeansFit:
    """Lloyd's k-means (one initialisation) of the distinct rows, and the clusters' exemplars."""
    from sklearn.cluster import KMeans

    model = KMeans(
        n_clusters=k, init=init, n_init=1, random_state=int(random_state), algorithm="lloyd"
    )
    model.fit(distinct.rows, sample_weight=distinct.counts.astype(np.float64))
    lab = np.asarray(model.labels_, dtype=np.int64)
    centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    d2 = np.sum((distinct.rows.astype(np.float64) - centres[lab]) ** 2, axis=1)
    order = np.lexsort((distinct.first, d2, lab))
    head = np.ones(order.size, dtype=bool)
    head[1:] = lab[order][1:] != lab[order][:-1]
    return KMeansFit(lab, centres, lab[order][head], distinct.first[order][head])


@dataclass(frozen=True)
class KMeansLabelling:
    """Outcome of :func:`kmeans_then_label`.

    Attributes:
        row_classes: ``(n,) int64`` class of every pool row (its cluster's).
        n_clusters: non-empty clusters.
        largest_cluster_fraction: share of the pool in the largest cluster.
    """

    row_classes: np.ndarray
    n_clusters: int
    largest_cluster_fraction: float


def kmeans_then_label(
    distinct: DistinctRows,
    k: int,
    annotator: Annotator,
    random_state: int,
    init: str = "k-means++",
) -> KMeansLabelling:
    """k-means with ``k`` clusters, label the member nearest each centre, name the clusters.

    k-means (scikit-learn ``KMeans``, Lloyd, one initialisation) runs on the distinct rows
    with their counts as ``sample_weight``: for Lloyd's iterations this is exactly k-means on
    the repeated rows (weighted means and assignments are the same), and k-means++ draws
    with weight × distance², the same distribution as over the repeated rows.

    Args:
        distinct: the pool's distinct rows (:func:`distinct_rows`).
        k: clusters = labels to spend; at most the number of distinct rows.
        annotator: answers one pixel per non-empty cluster.
        random_state: seed of the initialisation.
        init: ``"k-means++"`` or ``"random"`` (see :data:`KMEANS_INITS`).

    Returns:
        A :class:`KMeansLabelling`; the pixel labelled for a cluster is the first pool
        occurrence of its distinct member nearest the centre (ties: smallest pool index).
    """
    if init not in KMEANS_INITS:
        raise ValueError(f"unknown k-means init {init!r}: use one of {', '.join(KMEANS_INITS)}")
    d = distinct.rows.shape[0]
    k = min(int(k), d)
    if k < 1:
        raise ValueError(f"k-means needs at least 1 cluster and 1 row, got k={k}, {d} rows")
    fit = fit_kmeans(distinct, k, init, random_state)
    lab, centres, clusters = fit.labels, fit.centres, fit.clusters
    answers = annotator.label(fit.exemplars)
    ok = answers != NO_DATA
    named = np.where(ok, answers.astype(np.int64), -1)
    classes = np.full(k, FALLBACK_CLASS, dtype=np.int64)  # empty clusters predict nothing
    classes[clusters] = fill_from_nearest(named, centres[clusters])
    sizes = np.bincount(lab, weights=distinct.counts, minlength=k)
    return KMeansLabelling(
        row_classes=classes[lab][distinct.inverse],
        n_clusters=int(clusters.size),
        largest_cluster_fraction=float(sizes.max() / sizes.sum()),
    )
