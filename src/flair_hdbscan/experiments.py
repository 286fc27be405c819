"""The experiments of the study, as data, and the estimator each one fits.

Each experiment of the original notebook is a method (naive baseline, kNN, HDBSCAN) and a
feature set; :data:`EXPERIMENTS` lists them in the notebook's order and
:func:`build_estimator` turns one into an unfitted scikit-learn estimator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

from flair_hdbscan.errors import OptionError
from flair_hdbscan.features import FeatureSpec
from flair_hdbscan.models import ClusterThenLabel, make_knn
from flair_hdbscan.options import StudyOptions

__all__ = [
    "EXPERIMENTS",
    "EXPERIMENT_NAMES",
    "MODEL_EXPERIMENT_NAMES",
    "Experiment",
    "build_estimator",
    "experiment",
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
        """Whether the experiment is a random baseline (no model of the imagery)."""
        return self.method.startswith("naive")

    @property
    def option(self) -> str:
        """The feature option, as the results chart groups it (``raw``, ``robust``, …)."""
        return self.features.option_name


_RAW = FeatureSpec()
_NORM = FeatureSpec(scale_by_intensity=True, append_intensity=True)
_NORM_NO_I = FeatureSpec(scale_by_intensity=True)
_ROBUST = FeatureSpec(robust_scale=True)
_ROBUST_NORM = FeatureSpec(robust_scale=True, scale_by_intensity=True, append_intensity=True)
_SAT = FeatureSpec(use_satellite=True)
_SAT_NORM = FeatureSpec(use_satellite=True, scale_by_intensity=True, append_intensity=True)
_SAT_ROBUST = FeatureSpec(use_satellite=True, robust_scale=True)

#: Every experiment, in the order of the notebook (and of ``--experiments all``).
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
#: Experiments with a model of the imagery (what ``fit`` saves and ``predict`` loads).
MODEL_EXPERIMENT_NAMES: tuple[str, ...] = tuple(e.name for e in EXPERIMENTS if not e.is_naive)
_BY_NAME = {e.name: e for e in EXPERIMENTS}


def experiment(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        OptionError: naming the valid names.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise OptionError(
            f"unknown experiment {name!r}: choose from {', '.join(EXPERIMENT_NAMES)}"
        ) from None


def select_experiments(names: str | Sequence[str | Experiment] | None) -> list[Experiment]:
    """Experiments by name, in the canonical order.

    Args:
        names: ``"all"``/None, a comma-separated string, or a sequence of names (or of
            experiments).

    Raises:
        OptionError: naming any unknown experiment and listing the valid names.
    """
    if names is None or names == "all" or (not isinstance(names, str) and list(names) == ["all"]):
        return list(EXPERIMENTS)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    wanted = {n.name if isinstance(n, Experiment) else n for n in names}
    unknown = sorted(wanted - set(EXPERIMENT_NAMES))
    if unknown:
        raise OptionError(
            f"unknown experiment(s) {', '.join(unknown)}: choose from all, "
            + ", ".join(EXPERIMENT_NAMES)
        )
    if not wanted:
        raise OptionError("no experiment named: give --experiments all or a list of names")
    return [e for e in EXPERIMENTS if e.name in wanted]


def build_estimator(exp: Experiment, options: StudyOptions, seed: int) -> Any:
    """The unfitted estimator of one experiment.

    * naive baselines: scikit-learn's :class:`~sklearn.dummy.DummyClassifier`, ``uniform``
      (every class of the reduced nomenclature equally likely) or ``stratified`` (the
      training sample's prevalence);
    * kNN and HDBSCAN: a pipeline of an optional :class:`~sklearn.preprocessing.RobustScaler`
      (median, inter-quartile range, fitted on the training sample only) and a
      :class:`~flair_hdbscan.models.KDTreeClassifier` or
      :class:`~flair_hdbscan.models.ClusterThenLabel`.

    Args:
        exp: the experiment.
        options: study options.
        seed: seed of the experiment's draws (see :func:`flair_hdbscan.seeds.derive_seed`).
    """
    if exp.method == "naive-uniform":
        return DummyClassifier(strategy="uniform", random_state=seed)
    if exp.method == "naive-prevalence":
        return DummyClassifier(strategy="stratified", random_state=seed)
    if exp.method == "knn":
        estimator: Any = make_knn(options.n_neighbors, options.n_jobs)
    elif exp.method == "hdbscan":
        estimator = ClusterThenLabel(
            min_cluster_size=options.min_cluster_size,
            min_samples=options.min_samples,
            cluster_selection_method=options.cluster_selection_method,
            backend=options.backend,
            n_neighbors=options.n_neighbors,
            n_jobs=options.n_jobs,
        )
    else:  # pragma: no cover - the table holds only the four methods
        raise OptionError(f"unknown method {exp.method!r}")
    steps: list[tuple[str, Any]] = []
    if exp.features.robust_scale:
        steps.append(("robust", RobustScaler(quantile_range=(25.0, 75.0))))
    steps.append(("model", estimator))
    return Pipeline(steps)
