"""Run the budget study: every method at every budget and seed, scored on a held-out split.

The expensive parts are done once and reused:

- one HDBSCAN clustering per setting (it reads no truth and draws nothing at random);
- per HDBSCAN setting, the ``k`` nearest clustered pool rows of every scoring row; each
  (budget, seed) then only re-votes with a new cluster → class table;
- the ``k`` nearest pool rows of every scoring row, shared by kNN on all labels and by
  k-means (whose every pool row carries its cluster's class);
- small k-d trees for kNN's random draws.

k-means is scikit-learn's ``KMeans`` (Lloyd, one initialisation) on the pool's distinct rows
with their counts as ``sample_weight`` — for Lloyd's iterations exactly k-means on the
repeated rows (a test proves it), and 20 % fewer rows on the embedded sample (34,794 distinct
of 43,264). ``MiniBatchKMeans`` was not faster where it matters (k = 5,000: 17.6 s against
9.7 s for ``KMeans`` with random initialisation) and fitted worse. The initialisation is
``"random"`` (distinct rows drawn by weight, without replacement) by default: scikit-learn's
greedy k-means++ seeding alone took 22.7 s at k = 5,000 and 4.5 s at k = 1,000 on the embedded
sample, which would triple the study's time, while the maps it led to scored the same (three
generated samples, 5 seeds, 13–1,000 labels: mean mIoU within 0.007 of random's pooled, 0.011
on any one sample; ``benchmarks/budget_check.py --kmeans-init k-means++``). ``"k-means++"`` stays an
option.

Runs that draw nothing at random — budget ``"all"`` (every pixel labelled) and the oracle —
have a single row, seed 0. k-means has no ``"all"`` row: labelling every pixel is not a
k-means labelling (with k = number of distinct rows it would still label one pixel per
distinct value), and kNN's ``"all"`` row is that comparison.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from flair_hdbscan.budget.annotator import Annotator
from flair_hdbscan.budget.methods import (
    FALLBACK_CLASS,
    KMEANS_INITS,
    cluster_then_label,
    distinct_rows,
    kmeans_then_label,
    knn_random_labels,
    label_all,
    oracle_classes,
    query_neighbours,
    vote,
)
from flair_hdbscan.budget.results import ALL, METHODS, BudgetResult, BudgetRow, row_sort_key
from flair_hdbscan.budget.scoring import ScoringTable, chance_miou
from flair_hdbscan.budget_settings import DEFAULT_BUDGETS as _DEFAULT_BUDGETS
from flair_hdbscan.budget_settings import HdbscanSetting, check_budgets, parse_hdbscan_setting
from flair_hdbscan.clustering import largest_cluster_fraction
from flair_hdbscan.errors import OptionError
from flair_hdbscan.exemplars import cluster_means
from flair_hdbscan.seeds import derive_seed, rng_for

__all__ = [
    "DEFAULT_BUDGETS",
    "DEFAULT_HDBSCAN_SETTINGS",
    "DEFAULT_KMEANS_INIT",
    "HdbscanSetting",
    "check_budgets",
    "parse_hdbscan_setting",
    "run_budget_study",
]

log = logging.getLogger(__name__)

Budget = int | str

DEFAULT_BUDGETS = _DEFAULT_BUDGETS


#: k-means initialisation of the study: weighted random rows. scikit-learn's greedy
#: k-means++ scored alike but cost several times more at k = 1,000-5,000 (module docstring).
DEFAULT_KMEANS_INIT = "random"

#: The notebook's setting (eom, 10, 10) and leaf selection with min_samples 5.
DEFAULT_HDBSCAN_SETTINGS: tuple[HdbscanSetting, ...] = (
    HdbscanSetting("eom", 10, 10),
    HdbscanSetting("leaf", 10, 5),
)


def _check_args(X, truth, score, methods, n_seeds, n_neighbors, kmeans_init, settings):
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise OptionError(f"the training pool must be (n, f) with n ≥ 1, got {X.shape}")
    if np.asarray(truth).shape != (X.shape[0],):
        raise OptionError(f"truth must be ({X.shape[0]},), got {np.asarray(truth).shape}")
    if score.X.shape[1] != X.shape[1]:
        raise OptionError(f"scoring rows have {score.X.shape[1]} features, the pool {X.shape[1]}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise OptionError(f"unknown budget methods {unknown}: use {', '.join(METHODS)}")
    if int(n_seeds) < 1:
        raise OptionError(f"n_seeds must be at least 1, got {n_seeds}")
    if int(n_neighbors) < 1:
        raise OptionError(f"n_neighbors must be at least 1, got {n_neighbors}")
    if kmeans_init not in KMEANS_INITS:
        raise OptionError(f"unknown k-means init {kmeans_init!r}: use {', '.join(KMEANS_INITS)}")
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise OptionError(f"HDBSCAN settings repeat: {names}")
    return X


def run_budget_study(
    X: np.ndarray,
    truth: np.ndarray,
    score: ScoringTable,
    *,
    budgets: Sequence[Budget] = DEFAULT_BUDGETS,
    n_seeds: int = 5,
    seed: int = 0,
    methods: Sequence[str] = METHODS,
    hdbscan_settings: Sequence[HdbscanSetting] = DEFAULT_HDBSCAN_SETTINGS,
    kmeans_init: str = DEFAULT_KMEANS_INIT,
    n_neighbors: int = 5,
    knn_neighbors: Sequence[int] | None = None,
    n_jobs: int = 1,
    train_split: str = "train",
    score_split: str = "test",
) -> BudgetResult:
    """Score every method on a scoring split as a function of the number of labelled pixels.

    ``truth`` is handed to a fresh :class:`~flair_hdbscan.budget.annotator.Annotator` per
    run and read nowhere else; each row's ``labels_used`` is what its annotator recorded.

    Args:
        X: ``(n, f) float32`` training-pool features (every sampled pixel, none filtered).
        truth: ``(n,)`` integer reduced labels of the pool, 0..12 or 255 (no data).
        score: the scoring split (:func:`~flair_hdbscan.budget.scoring.scoring_table`).
        budgets: label budgets, integers ≥ 1 and/or ``"all"``.
        n_seeds: seeds per budget.
        seed: the study seed; with the method, setting, budget and seed index it seeds every
            draw (:mod:`~flair_hdbscan.seeds`).
        methods: any of ``"knn"``, ``"hdbscan"``, ``"kmeans"``, ``"oracle"``.
        hdbscan_settings: HDBSCAN configurations (for ``"hdbscan"`` and ``"oracle"``).
        kmeans_init: ``"random"`` (default) or ``"k-means++"``.
        n_neighbors: neighbours of the propagating kNN of the clusterings, and of the
            kNN baseline unless ``knn_neighbors`` is given.
        knn_neighbors: neighbours of the kNN baseline, one setting (``"k5"``, ``"k1"`` …)
            each; default ``(n_neighbors,)``.
        n_jobs: k-d tree query threads.
        train_split: name of the pool's split, stored in the result.
        score_split: name of the scoring split, stored in the result.

    Returns:
        A :class:`~flair_hdbscan.budget.results.BudgetResult`, rows in canonical order
        whatever the order of ``budgets`` and ``methods``.

    Raises:
        OptionError: on a bad argument.
    """
    X = _check_args(X, truth, score, methods, n_seeds, n_neighbors, kmeans_init, hdbscan_settings)
    Annotator(truth)  # validates the truth once, before any work
    knn_k = tuple(dict.fromkeys(int(v) for v in (knn_neighbors or (n_neighbors,))))
    if min(knn_k) < 1:
        raise OptionError(f"knn_neighbors must be at least 1, got {knn_neighbors}")
    budgets = check_budgets(budgets)
    numeric = [b for b in budgets if b != ALL]
    n = X.shape[0]
    k = int(n_neighbors)
    rows: list[BudgetRow] = []
    draws: dict = {}
    seconds: dict[str, float] = {}
    cache: dict[int, np.ndarray] = {}

    def pool_neighbours(kk: int) -> np.ndarray:
        # the kk nearest pool rows of every scoring row; k-means and kNN-"all" share them
        # (queried per k, never sliced from a larger k: ties would then depend on the order)
        if kk not in cache:
            cache[kk] = query_neighbours(X, score.X, kk, n_jobs)
        return cache[kk]

    def record(method, setting, budget, s, ann, pred, **stats) -> None:
        miou, oa = score.score(pred)
        rows.append(BudgetRow(method, setting, budget, s, ann.labels_used, miou, oa, **stats))
        draws[(method, setting, budget, s)] = ann.revealed
        log.debug(
            "%s %s %s seed %d: %d labels, mIoU %.3f",
            method,
            setting,
            budget,
            s,
            ann.labels_used,
            miou,
        )

    if "knn" in methods:
        start = time.perf_counter()
        for kk in knn_k:
            setting = f"k{kk}"
            for b in numeric:
                for s in range(n_seeds):
                    ann = Annotator(truth)
                    rng = rng_for(seed, "knn", setting, b, index=s)
                    idx, cls = knn_random_labels(n, ann, b, rng)
                    if idx.size == 0:
                        pred = np.full(score.n_rows, FALLBACK_CLASS, dtype=np.int64)
                    else:
                        pred = vote(cls[query_neighbours(X[idx], score.X, kk, n_jobs)])
                    record("knn", setting, b, s, ann, pred)
            if ALL in budgets:
                ann = Annotator(truth)
                cls = label_all(n, ann)
                if (cls >= 0).all():
                    pred = vote(cls[pool_neighbours(kk)])
                elif (cls >= 0).any():
                    ok = np.flatnonzero(cls >= 0)
                    pred = vote(cls[ok][query_neighbours(X[ok], score.X, kk, n_jobs)])
                else:
                    pred = np.full(score.n_rows, FALLBACK_CLASS, dtype=np.int64)
                record("knn", setting, ALL, 0, ann, pred)
        seconds["knn"] = time.perf_counter() - start

    if "hdbscan" in methods or "oracle" in methods:
        for hs in hdbscan_settings:
            start = time.perf_counter()
            cl = hs.cluster(X)
            labels = cl.labels
            stats = {
                "n_clusters": cl.n_clusters,
                "noise_fraction": cl.noise_fraction,
                "largest_cluster_fraction": largest_cluster_fraction(labels),
            }
            if cl.n_clusters == 0:
                # as ClusterThenLabel: the whole sample is one cluster
                log.warning("HDBSCAN %s: every row is noise; one cluster of all rows", hs.name)
                labels = np.zeros_like(labels)
            seconds[f"cluster {hs.name}"] = time.perf_counter() - start
            start = time.perf_counter()
            means = cluster_means(X, labels)
            clustered = np.flatnonzero(labels >= 0)
            nbr_cluster = labels[clustered][query_neighbours(X[clustered], score.X, k, n_jobs)]
            if "hdbscan" in methods:
                for b in budgets:
                    for s in range(n_seeds if b != ALL else 1):
                        ann = Annotator(truth)
                        rng = rng_for(seed, "hdbscan", hs.name, b, index=s)
                        classes = cluster_then_label(
                            X, labels, ann, None if b == ALL else b, rng, means
                        )
                        record("hdbscan", hs.name, b, s, ann, vote(classes[nbr_cluster]), **stats)
            if "oracle" in methods:
                ann = Annotator(truth)
                classes = oracle_classes(labels, ann, means)
                record("oracle", hs.name, ALL, 0, ann, vote(classes[nbr_cluster]), **stats)
            seconds[f"label {hs.name}"] = time.perf_counter() - start

    if "kmeans" in methods and numeric:
        start = time.perf_counter()
        distinct = distinct_rows(X)
        nbr = pool_neighbours(k)
        for b in numeric:
            for s in range(n_seeds):
                ann = Annotator(truth)
                rs = derive_seed(seed, "kmeans", kmeans_init, b, index=s)
                km = kmeans_then_label(distinct, b, ann, rs, kmeans_init)
                sizes_stats = {
                    "n_clusters": km.n_clusters,
                    "noise_fraction": 0.0,
                    "largest_cluster_fraction": km.largest_cluster_fraction,
                }
                record("kmeans", kmeans_init, b, s, ann, vote(km.row_classes[nbr]), **sizes_stats)
        seconds["kmeans"] = time.perf_counter() - start

    rows.sort(key=lambda r: row_sort_key(r.key))
    return BudgetResult(
        rows=rows,
        draws={r.key: draws[r.key] for r in rows},
        train_split=train_split,
        score_split=score_split,
        seed=int(seed),
        n_seeds=int(n_seeds),
        n_pool=n,
        n_score_pixels=score.n_pixels,
        n_score_rows=score.n_rows,
        chance_miou=chance_miou(score.class_counts),
        seconds=seconds,
    )
