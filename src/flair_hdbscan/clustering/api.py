"""``cluster_pixels``: HDBSCAN on pixel features, order-independent, with four backends."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from flair_hdbscan.clustering.engine import TIES, hdbscan_labels
from flair_hdbscan.clustering.libraries import library_labels
from flair_hdbscan.errors import OptionError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "METHODS",
    "TIES",
    "Clustering",
    "canonical_rows",
    "cluster_pixels",
]

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("flair", "fast_hdbscan", "hdbscan", "sklearn")
#: The package's own exact HDBSCAN* (distinct rows weighted by their counts, ties taken
#: together): the fastest on pixel data, and never compiled unless used (the libraries' numba
#: code takes about a minute to compile on a fresh install).
DEFAULT_BACKEND = "flair"
METHODS: tuple[str, ...] = ("eom", "leaf")


@dataclass(frozen=True)
class Clustering:
    """Outcome of :func:`cluster_pixels`.

    Attributes:
        labels: ``(n,) int64`` cluster id per row, 0..n_clusters-1, −1 for noise.
        n_clusters: number of clusters.
        noise_fraction: fraction of rows labelled noise.
        n_rows_clustered: rows handed to the backend (the distinct rows for ``"flair"``).
    """

    labels: np.ndarray
    n_clusters: int
    noise_fraction: float
    n_rows_clustered: int


def _check(
    min_cluster_size: int, min_samples: int | None, method: str, backend: str, ties: str | None
) -> None:
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
    if ties is not None and ties not in TIES:
        raise OptionError(f"unknown ties {ties!r}: use one of {', '.join(TIES)}")
    if ties is not None and backend != "flair":
        raise OptionError(
            f"ties={ties!r} is an option of the flair backend: {backend} merges tied edges "
            "one at a time in the order of its rows"
        )


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


def canonical_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows in canonical (lexicographic, first column first) order, and their distinct values.

    Args:
        X: ``(n, f)`` finite rows.

    Returns:
        ``order`` ``(n,) int64`` (canonical position → row; identical rows keep their
        input order), ``unique`` ``(m, f)`` distinct rows in canonical order, ``counts``
        ``(m,) int64`` copies of each, ``inverse`` ``(n,) int64`` distinct row of each row.
        Values compare as numbers (−0.0 equals 0.0).
    """
    n = X.shape[0]
    order = np.lexsort(X.T[::-1]) if X.shape[1] else np.arange(n)
    srt = X[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    return order.astype(np.int64), np.ascontiguousarray(srt[starts]), counts, inverse


def cluster_pixels(
    X: np.ndarray,
    *,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    backend: str = "flair",
    ties: str | None = None,
) -> Clustering:
    """Cluster pixel features with HDBSCAN.

    Rows are put in canonical (lexicographic) order first, so the result never depends on
    the order of ``X``; cluster ids are numbered by first appearance in that order.
    Non-finite rows are noise.

    Args:
        X: ``(n, f)`` features, any float dtype or layout (converted to C-contiguous
            float32, the precision every backend sees).
        min_cluster_size: smallest cluster (the study: 10).
        min_samples: neighbours defining core distances, counted as hdbscan and
            fast_hdbscan count them (without the point itself); None means
            ``min_cluster_size``, the libraries' default.
        cluster_selection_method: ``"eom"`` (excess of mass) or ``"leaf"``.
        backend: ``"flair"`` (the package's exact HDBSCAN*: distinct rows weighted by
            their counts, equal to clustering every row; ties as ``ties`` says),
            ``"fast_hdbscan"``, ``"hdbscan"`` (exact minimum spanning tree) or ``"sklearn"``.
        ties: ``"flair"`` only; None means ``"simultaneous"``: touching merges of equal
            height at once — HDBSCAN*'s level-set definition, which no order of rows,
            columns or tied edges can change. ``"sequential"``: merges of equal height one
            at a time in canonical (lexicographic) order — the libraries' convention, with
            a fixed order instead of row order; it changes when the columns are permuted.
            They differ at ties only: with ``"simultaneous"`` a point where clusters meet
            at one height stays with the cluster above them instead of joining one.

    Returns:
        A :class:`Clustering` whose labels follow the rows of ``X``.

    Raises:
        OptionError: on an unknown backend, method or ``ties``, an out-of-range size,
            or ``ties`` with a library backend.
    """
    _check(min_cluster_size, min_samples, cluster_selection_method, backend, ties)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise OptionError(f"features must be a (rows, columns) table, got shape {X.shape}")
    n = X.shape[0]
    mcs = int(min_cluster_size)
    ms = int(min_cluster_size if min_samples is None else min_samples)
    labels = np.full(n, -1, dtype=np.int64)
    finite = np.isfinite(X).all(axis=1)
    rows = np.flatnonzero(finite)
    if rows.size == 0:
        return Clustering(labels, 0, 1.0 if n else 0.0, 0)
    order, unique, counts, inverse = canonical_rows(X[rows])
    if backend == "flair":
        target = unique
        out = hdbscan_labels(
            unique,
            counts,
            min_cluster_size=mcs,
            min_samples=ms,
            cluster_selection_method=cluster_selection_method,
            ties="simultaneous" if ties is None else ties,
        )
        labels[rows] = _renumber(out)[inverse]
    else:
        target = np.ascontiguousarray(X[rows][order])
        if target.shape[0] <= max(ms, 1):
            out = np.full(target.shape[0], -1, dtype=np.int64)
        else:
            out = library_labels(
                target,
                min_cluster_size=mcs,
                min_samples=min(ms, target.shape[0] - 1),
                method=cluster_selection_method,
                backend=backend,
            )
        sub = np.empty(rows.size, dtype=np.int64)
        sub[order] = _renumber(out)
        labels[rows] = sub
    n_clusters = int(labels.max()) + 1 if n else 0
    noise = float(np.mean(labels < 0)) if n else 0.0
    log.info(
        "%s: %d rows (%d distinct) → %d clusters, %.1f %% noise",
        backend,
        n,
        unique.shape[0],
        n_clusters,
        100 * noise,
    )
    return Clustering(labels, max(n_clusters, 0), noise, int(target.shape[0]))
