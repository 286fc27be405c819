"""Which clustering a labelling session uses, and the order in which its pixels are shown.

The clustering and the order are exactly the label-budget study's
(:mod:`flair_hdbscan.budget.runner`), so that ``n`` answers on the page spend the same
``n`` labels as the budget study at budget ``n`` (seed index 0):

- ``hdbscan`` is the notebook's setting (eom, min_cluster_size 10, min_samples 10),
  ``hdbscan-leaf`` leaf selection with (10, 5), ``hdbscan:METHOD:MCS:MS`` any setting
  (:func:`~flair_hdbscan.budget_settings.parse_hdbscan_setting`). Clusters come from
  :func:`~flair_hdbscan.clustering.cluster_pixels`; the order is
  :func:`~flair_hdbscan.exemplars.annotation_order` drawn with the budget study's generator
  ``rng_for(seed, "hdbscan", setting, budget, index=0)``. Exemplars (the first round) do not
  depend on the draw; the members after them do, so the page is drawn for one ``budget``.
- ``kmeans-N`` is k-means with k = N (scikit-learn, Lloyd, one initialisation, the budget
  study's ``"random"`` initialisation) on the pool's distinct rows with their counts as
  weights, seeded ``derive_seed(seed, "kmeans", init, N, index=0)``; each cluster's
  exemplar is the first pool occurrence of its distinct member nearest the centre, as
  :func:`~flair_hdbscan.budget.methods.kmeans_then_label` labels it. The budget study spends
  exactly these N labels; members shown after them follow the exemplar policy's rounds.

Everything here is computation on arrays: no file is read and no truth is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from flair_hdbscan.budget.methods import distinct_rows, fit_kmeans
from flair_hdbscan.budget.runner import DEFAULT_KMEANS_INIT
from flair_hdbscan.budget_settings import ALL, HdbscanSetting, check_budgets, parse_hdbscan_setting
from flair_hdbscan.errors import OptionError
from flair_hdbscan.exemplars import annotation_order, cluster_means, cluster_priority
from flair_hdbscan.seeds import derive_seed, rng_for

__all__ = ["CLUSTERER_HELP", "Clusterer", "Clusters", "fit_clusters", "parse_clusterer"]

#: Named HDBSCAN settings of the page.
NAMED: dict[str, str] = {"hdbscan": "eom:10:10", "hdbscan-leaf": "leaf:10:5"}
CLUSTERER_HELP = (
    "hdbscan (eom, 10, 10: the notebook's), hdbscan-leaf (leaf, 10, 5), "
    "hdbscan:METHOD:MCS:MS (any HDBSCAN setting) or kmeans-N (k-means with k = N)"
)
_KMEANS = re.compile(r"^kmeans-(\d+)$")


@dataclass(frozen=True)
class Clusterer:
    """A clustering of the labelling page.

    Attributes:
        name: as the user wrote it (``hdbscan-leaf``, ``kmeans-50``).
        kind: ``"hdbscan"`` or ``"kmeans"``.
        setting: the HDBSCAN setting (``kind == "hdbscan"``), else None.
        k: k-means clusters (``kind == "kmeans"``), else None.
        budget: the budget whose draw orders the members after the exemplars: an integer
            or ``"all"`` (k-means: always ``k``).
        seed: the study seed.
        kmeans_init: k-means initialisation (the budget study's default, ``"random"``).
    """

    name: str
    kind: str
    setting: HdbscanSetting | None
    k: int | None
    budget: int | str
    seed: int = 0
    kmeans_init: str = DEFAULT_KMEANS_INIT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the clustering's provenance records)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "seed": self.seed}
        if self.setting is not None:
            s = self.setting
            out["hdbscan"] = {
                "setting": s.name,
                "cluster_selection_method": s.cluster_selection_method,
                "min_cluster_size": s.min_cluster_size,
                "min_samples": s.min_samples,
                "backend": s.backend,
            }
        else:
            out["kmeans"] = {"k": self.k, "init": self.kmeans_init}
        out["budget"] = self.budget
        return out


def parse_clusterer(text: str, *, budget: int | str | None = None, seed: int = 0) -> Clusterer:
    """Parse ``--experiment`` of the labelling page.

    Args:
        text: ``hdbscan``, ``hdbscan-leaf``, ``hdbscan:METHOD:MCS:MS`` or ``kmeans-N``.
        budget: the budget the member order is drawn for (HDBSCAN; default ``"all"``).
            For k-means it must be None or N.
        seed: the study seed.

    Raises:
        OptionError: on an unknown name, a malformed setting or a budget that does not fit.
    """
    text = str(text).strip()
    if int(seed) < 0:
        raise OptionError(f"--seed {seed}: a seed is a non-negative integer")
    match = _KMEANS.match(text)
    if match:
        k = int(match[1])
        if k < 1:
            raise OptionError(f"--experiment {text}: k-means needs at least 1 cluster")
        if budget is not None and check_budgets([budget])[0] != k:
            raise OptionError(
                f"--budget {budget} with {text}: k-means spends one label per cluster, so its "
                f"budget is k = {k}; leave --budget out"
            )
        return Clusterer(text, "kmeans", None, k, k, int(seed))
    if text in NAMED:
        setting = parse_hdbscan_setting(NAMED[text])
    elif text.startswith("hdbscan:"):
        setting = parse_hdbscan_setting(text.split(":", 1)[1])
    else:
        raise OptionError(f"unknown --experiment {text!r}: use {CLUSTERER_HELP}")
    b = ALL if budget is None else check_budgets([budget])[0]
    return Clusterer(text, "hdbscan", setting, None, b, int(seed))


@dataclass
class Clusters:
    """A fitted clustering of the pool and the order its pixels are shown in.

    Attributes:
        labels: ``(n,) int64`` cluster of every pool row, −1 = noise (never shown).
        centres: ``(c, f) float64`` what unnamed clusters are matched by: cluster means
            (HDBSCAN) or k-means centres; NaN rows for empty k-means clusters.
        order: ``(m,) int64`` pool rows in the order the page shows them (clustered rows only,
            each once).
        n_clusters: cluster ids ``0..c-1`` (k-means ids may be empty).
        noise_fraction: share of the pool left unclustered.
        fallback: ``"all-noise"`` when HDBSCAN found no cluster and the pool is one
            cluster (as the budget study does), else None.
    """

    labels: np.ndarray
    centres: np.ndarray
    order: np.ndarray
    n_clusters: int
    noise_fraction: float
    fallback: str | None = None

    @property
    def sizes(self) -> np.ndarray:
        """``(c,) int64`` pool rows per cluster."""
        lab = self.labels
        return np.bincount(lab[lab >= 0], minlength=self.n_clusters).astype(np.int64)


def _fit_hdbscan(X: np.ndarray, clusterer: Clusterer) -> Clusters:
    hs = clusterer.setting
    if hs is None:
        raise OptionError(f"{clusterer.name} is not an HDBSCAN clustering")
    cl = hs.cluster(X)
    labels = np.asarray(cl.labels, dtype=np.int64)
    fallback = None
    if cl.n_clusters == 0:  # as the budget study: the whole pool is one cluster
        labels = np.zeros_like(labels)
        fallback = "all-noise"
    c = int(labels.max()) + 1 if labels.size else 0
    rng = rng_for(clusterer.seed, "hdbscan", hs.name, clusterer.budget, index=0)
    order = annotation_order(X, labels, rng, c)
    return Clusters(labels, cluster_means(X, labels, c), order, c, cl.noise_fraction, fallback)


def _fit_kmeans(X: np.ndarray, clusterer: Clusterer) -> Clusters:
    distinct = distinct_rows(X)
    k = min(int(clusterer.k or 1), distinct.rows.shape[0])
    if k < 1:
        raise OptionError("k-means needs at least one pool pixel")
    seed = derive_seed(clusterer.seed, "kmeans", clusterer.kmeans_init, clusterer.k, index=0)
    # the budget study's clustering and exemplars, the same call
    fit = fit_kmeans(distinct, k, clusterer.kmeans_init, seed)
    lab, centres = fit.labels, fit.centres
    exemplar = np.full(k, -1, dtype=np.int64)
    exemplar[fit.clusters] = fit.exemplars
    labels = lab[distinct.inverse]
    centres[np.bincount(lab, minlength=k) == 0] = np.nan
    first = [exemplar[c] for c in cluster_priority(labels, k) if exemplar[c] >= 0]
    # after the k labels of the budget study: the exemplar policy's rounds for the rest
    rng = rng_for(clusterer.seed, "kmeans", clusterer.kmeans_init, clusterer.k, "members")
    rest = annotation_order(X, labels, rng, k)
    rest = rest[~np.isin(rest, first)]
    order = np.concatenate([np.asarray(first, dtype=np.int64), rest]).astype(np.int64)
    return Clusters(labels, centres, order, k, 0.0)


def fit_clusters(X: np.ndarray, clusterer: Clusterer) -> Clusters:
    """Cluster the pool and order its pixels as the budget study does.

    Args:
        X: ``(n, f) float32`` pool features, as the budget study clusters them (robust
            scaling, if any, already applied).
        clusterer: the clustering.

    Returns:
        The :class:`Clusters`.

    Raises:
        OptionError: if the pool is empty.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise OptionError(f"nothing to cluster: the pool is {X.shape}")
    if clusterer.kind == "kmeans":
        return _fit_kmeans(X, clusterer)
    return _fit_hdbscan(X, clusterer)
