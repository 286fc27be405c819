"""The experiments of the study, as data, and the options they take.

Each experiment of the original notebook is a method (naive baseline, kNN, HDBSCAN) and a
feature set; :data:`EXPERIMENTS` lists them in the notebook's order and :func:`build_model`
turns one into a scikit-learn estimator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

from flair_hdbscan.clustering import BACKENDS, METHODS
from flair_hdbscan.errors import OptionError
from flair_hdbscan.features import FeatureSpec
from flair_hdbscan.models import (
    ClusterThenLabel,
    NaivePrevalenceClassifier,
    NaiveUniformClassifier,
    make_knn,
)
from flair_hdbscan.pixels import SentinelOptions

__all__ = [
    "EXPERIMENTS",
    "EXPERIMENT_NAMES",
    "Experiment",
    "StudyOptions",
    "build_model",
    "experiment_seed",
    "select_experiments",
]


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study.

    Attributes:
        name: canonical name (``knn-satellite-robust``).
        part: part of the original notebook that ran it.
        method: ``naive-uniform``, ``naive-prevalence``, ``knn`` or ``hdbscan``.
        features: the feature set.
    """

    name: str
    part: int
    method: str
    features: FeatureSpec = field(default_factory=FeatureSpec)

    @property
    def is_naive(self) -> bool:
        """Whether the experiment is a random baseline."""
        return self.method.startswith("naive")


_RAW = FeatureSpec()
_NORM = FeatureSpec(scale_by_intensity=True, append_intensity=True)
_NORM_NO_I = FeatureSpec(scale_by_intensity=True)
_ROBUST = FeatureSpec(robust_scale=True)
_ROBUST_NORM = FeatureSpec(robust_scale=True, scale_by_intensity=True, append_intensity=True)
_SAT = FeatureSpec(use_satellite=True)
_SAT_NORM = FeatureSpec(use_satellite=True, scale_by_intensity=True, append_intensity=True)
_SAT_ROBUST = FeatureSpec(use_satellite=True, robust_scale=True)

#: Every experiment, in the order ``--experiments all`` runs them.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("naive-uniform", 2, "naive-uniform"),
    Experiment("naive-prevalence", 2, "naive-prevalence"),
    Experiment("knn", 4, "knn", _RAW),
    Experiment("knn-normalized", 6, "knn", _NORM),
    Experiment("knn-normalized-no-intensity", 6, "knn", _NORM_NO_I),
    Experiment("hdbscan", 7, "hdbscan", _RAW),
    Experiment("hdbscan-normalized", 8, "hdbscan", _NORM),
    Experiment("knn-robust", 9, "knn", _ROBUST),
    Experiment("hdbscan-robust", 9, "hdbscan", _ROBUST),
    Experiment("knn-robust-normalized", 10, "knn", _ROBUST_NORM),
    Experiment("hdbscan-robust-normalized", 10, "hdbscan", _ROBUST_NORM),
    Experiment("knn-satellite", 11, "knn", _SAT),
    Experiment("hdbscan-satellite", 11, "hdbscan", _SAT),
    Experiment("knn-satellite-normalized", 12, "knn", _SAT_NORM),
    Experiment("hdbscan-satellite-normalized", 12, "hdbscan", _SAT_NORM),
    Experiment("knn-satellite-robust", 13, "knn", _SAT_ROBUST),
    Experiment("hdbscan-satellite-robust", 13, "hdbscan", _SAT_ROBUST),
)
EXPERIMENT_NAMES: tuple[str, ...] = tuple(e.name for e in EXPERIMENTS)


def select_experiments(names: str | Sequence[str] | None) -> list[Experiment]:
    """Experiments by name, in the canonical order.

    Args:
        names: ``"all"``/None, a comma-separated string, or a sequence of names.

    Raises:
        OptionError: naming any unknown experiment and listing the valid names.
    """
    if names is None or names == "all" or (not isinstance(names, str) and list(names) == ["all"]):
        return list(EXPERIMENTS)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    wanted = set(names)
    unknown = sorted(wanted - set(EXPERIMENT_NAMES))
    if unknown:
        raise OptionError(
            f"unknown experiment(s) {', '.join(unknown)}: choose from all, "
            + ", ".join(EXPERIMENT_NAMES)
        )
    if not wanted:
        raise OptionError("no experiment named: give --experiments all or a list of names")
    return [e for e in EXPERIMENTS if e.name in wanted]


@dataclass(frozen=True)
class StudyOptions:
    """Every option of the study; defaults are the original notebook's values.

    Attributes:
        stride: training sample takes every ``stride``-th pixel along each axis (10: 1 %).
        no_other: leave pixels of class "other" out of training (the study's ``no_other``).
        n_neighbors: k of every kNN (training on truth, and propagating clusters).
        min_cluster_size: HDBSCAN's smallest cluster.
        min_samples: HDBSCAN's core-distance neighbours, counted without the point itself
            (as hdbscan and fast_hdbscan count); None means ``min_cluster_size``.
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        backend: ``"fast_hdbscan"``, ``"hdbscan"`` or ``"sklearn"``.
        dedup: cluster unique rows weighted by their counts (fast_hdbscan only).
        label_budget: None for the study's oracle mapping, else labels read per cluster.
        s2_resampling: ``"nearest"`` or ``"bilinear"``.
        cloud_area_threshold: Sentinel-2 date filter, cover fraction (reference: 0.5).
        cloud_proba_threshold: Sentinel-2 date filter, probability (reference: 60).
        sat_patch_size: Sentinel-2 super patch side, pixels.
        seed: seed of every random draw.
        n_jobs: threads of kNN queries (-1: all cores).
        map_patches: how many patches keep their predicted maps for figures.
    """

    stride: int = 10
    no_other: bool = True
    n_neighbors: int = 5
    min_cluster_size: int = 10
    min_samples: int | None = None
    cluster_selection_method: str = "eom"
    backend: str = "fast_hdbscan"
    dedup: bool = False
    label_budget: int | None = None
    s2_resampling: str = "nearest"
    cloud_area_threshold: float = 0.5
    cloud_proba_threshold: int = 60
    sat_patch_size: int = 40
    seed: int = 0
    n_jobs: int = -1
    map_patches: int = 2

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise OptionError(f"--stride must be at least 1, got {self.stride}")
        if self.n_neighbors < 1:
            raise OptionError(f"--n-neighbors must be at least 1, got {self.n_neighbors}")
        if self.min_cluster_size < 2:
            raise OptionError(f"--min-cluster-size must be at least 2, got {self.min_cluster_size}")
        if self.min_samples is not None and self.min_samples < 1:
            raise OptionError(f"--min-samples must be at least 1, got {self.min_samples}")
        if self.backend not in BACKENDS:
            raise OptionError(f"unknown --backend {self.backend!r}: use {', '.join(BACKENDS)}")
        if self.cluster_selection_method not in METHODS:
            raise OptionError(
                f"unknown --cluster-selection-method {self.cluster_selection_method!r}: "
                f"use {', '.join(METHODS)}"
            )
        if self.dedup and self.backend != "fast_hdbscan":
            raise OptionError(
                f"--dedup needs sample weights, which the {self.backend} backend does not "
                "take: use --backend fast_hdbscan"
            )
        if self.label_budget is not None and self.label_budget < 1:
            raise OptionError(f"--label-budget must be at least 1, got {self.label_budget}")
        if self.map_patches < 0:
            raise OptionError(f"--map-patches must be 0 or more, got {self.map_patches}")
        self.sentinel  # validates the Sentinel-2 options  # noqa: B018

    @property
    def sentinel(self) -> SentinelOptions:
        """The Sentinel-2 fusion options."""
        return SentinelOptions(
            size=self.sat_patch_size,
            area_threshold=self.cloud_area_threshold,
            proba_threshold=self.cloud_proba_threshold,
            resampling=self.s2_resampling,
        )

    @property
    def effective_min_samples(self) -> int:
        """``min_samples`` as used (``min_cluster_size`` when unset)."""
        return self.min_cluster_size if self.min_samples is None else self.min_samples

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


def build_model(exp: Experiment, options: StudyOptions, seed: int) -> Any:
    """The scikit-learn estimator of one experiment (unfitted).

    kNN and HDBSCAN experiments with robust scaling are a pipeline whose first step, a
    :class:`~sklearn.preprocessing.RobustScaler` (median, inter-quartile range), is fitted
    on the training sample only.
    """
    if exp.method == "naive-uniform":
        return NaiveUniformClassifier(random_state=seed)
    if exp.method == "naive-prevalence":
        return NaivePrevalenceClassifier(random_state=seed)
    if exp.method == "knn":
        estimator = make_knn(options.n_neighbors, options.n_jobs)
    else:
        estimator = ClusterThenLabel(
            min_cluster_size=options.min_cluster_size,
            min_samples=options.min_samples,
            cluster_selection_method=options.cluster_selection_method,
            backend=options.backend,
            dedup=options.dedup,
            n_neighbors=options.n_neighbors,
            label_budget=options.label_budget,
            random_state=seed,
            n_jobs=options.n_jobs,
        )
    steps: list[tuple[str, Any]] = []
    if exp.features.robust_scale:
        steps.append(("robust", RobustScaler(quantile_range=(25.0, 75.0))))
    steps.append(("model", estimator))
    return Pipeline(steps)


def experiment_seed(seed: int, k: int, patch: int | None = None) -> int:
    """Seed of experiment ``k``'s random draws (and of one patch's, given ``patch``)."""
    words = [seed, k] if patch is None else [seed, k, patch]
    return int(np.random.SeedSequence(words).generate_state(1)[0])
