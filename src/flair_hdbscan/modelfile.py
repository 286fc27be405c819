"""Pickle-free model files: a fitted experiment as plain arrays plus JSON metadata.

A model file is one ``.npz`` archive written with :func:`numpy.savez` and read with
``numpy.load(allow_pickle=False)``, so loading one can never run code. It holds

* ``metadata``: a 0-d unicode array, the JSON of the format version, the flair-hdbscan
  version, the experiment, its feature spec and columns, the study options, the estimator
  parameters, the fit's diagnostics (clusters, noise, purity, labels used, mapping), the
  training data's fingerprint and the package versions;
* ``fit_X`` ``(n, f)`` float32 (float64 when float32 would lose digits): the kNN's training
  points (for HDBSCAN experiments, the clustered training pixels);
* ``classes`` ``(c,)`` the classes the model predicts;
* kNN experiments: ``fit_classes`` ``(n,)`` the class of each training point;
* HDBSCAN experiments: ``train_clusters`` ``(n,)`` the cluster of each training point,
  ``cluster_table`` ``(n_clusters,)`` int64 the class index of each cluster, and
  ``sample_clusters`` ``(m,)`` the cluster of every training-sample row (−1: noise);
* robust scaling: ``scaler_center`` and ``scaler_scale`` ``(f,)``.

:func:`load_model` rebuilds an estimator that predicts exactly (byte for byte) as the one that
was saved, without clustering again: the kNN is rebuilt from its points and classes.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

from flair_hdbscan import __version__
from flair_hdbscan.atomic import atomic_path
from flair_hdbscan.errors import ModelFileError, OptionError
from flair_hdbscan.features import FeatureSpec
from flair_hdbscan.models import ClusterThenLabel, KDTreeClassifier, make_knn
from flair_hdbscan.study import (
    EXPERIMENT_NAMES,
    EXPERIMENTS,
    Experiment,
    FittedExperiment,
    StudyOptions,
    package_versions,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ExperimentModel",
    "check_predictable",
    "load_model",
    "save_model",
]

log = logging.getLogger(__name__)

#: Name written in every model file's metadata.
FORMAT = "flair-hdbscan-model"
#: Version of the layout of arrays and metadata; files of another version are refused.
FORMAT_VERSION = 1

_REFIT = "refit it with `flair-hdbscan fit`"


def check_predictable(exp: Experiment) -> None:
    """Refuse experiments that have no model of the imagery to save or predict with.

    Raises:
        OptionError: for the naive baselines, which draw classes at random.
    """
    if exp.is_naive:
        choices = ", ".join(e.name for e in EXPERIMENTS if not e.is_naive)
        raise OptionError(
            f"{exp.name} is a random baseline, not a model of the imagery: fit and predict "
            f"take a kNN or HDBSCAN experiment ({choices})"
        )


@dataclass
class ExperimentModel:
    """A fitted kNN or HDBSCAN experiment, ready to predict whole patches.

    Attributes:
        experiment: the experiment (its feature spec says how to build features).
        options: the study options it was fitted with (Sentinel-2 options included).
        model: the fitted estimator: a :class:`~sklearn.pipeline.Pipeline` of an optional
            ``("robust", RobustScaler)`` then ``("model", KDTreeClassifier |
            ClusterThenLabel)``.
        metadata: what a model file records (see the module docstring).
    """

    experiment: Experiment
    options: StudyOptions
    model: Pipeline
    metadata: dict[str, Any]

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the feature columns the model takes, in order."""
        return self.experiment.features.columns

    @property
    def is_hdbscan(self) -> bool:
        """Whether the final estimator is a :class:`ClusterThenLabel` (it has clusters)."""
        return isinstance(self.model[-1], ClusterThenLabel)

    @classmethod
    def from_fitted(
        cls,
        fitted: FittedExperiment,
        options: StudyOptions,
        *,
        dataset_fingerprint: str | None = None,
        dataset_split: str = "train",
    ) -> ExperimentModel:
        """Wrap a fitted experiment of :func:`flair_hdbscan.study.fit_experiment`.

        Args:
            fitted: the fitted experiment (kNN or HDBSCAN).
            options: the options it was fitted with.
            dataset_fingerprint: :meth:`FlairDataset.fingerprint` of the training split.
            dataset_split: the split it was fitted on.

        Raises:
            OptionError: for a naive experiment.
        """
        exp = fitted.experiment
        check_predictable(exp)
        final = fitted.model[-1]
        scaler = fitted.model[0] if len(fitted.model) > 1 else None
        metadata: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "flair_hdbscan_version": __version__,
            "experiment": exp.name,
            "method": exp.method,
            "features": exp.features.to_dict(),
            "columns": list(exp.features.columns),
            "options": options.to_dict(),
            "n_neighbors": options.n_neighbors,
            "estimator": {
                "scaler": None if scaler is None else _json_params(scaler),
                "class": type(final).__name__,
                "params": _json_params(final),
            },
            "mapping": final.mapping if isinstance(final, ClusterThenLabel) else None,
            "n_clusters": fitted.diagnostics.get("n_clusters"),
            "noise_fraction": fitted.diagnostics.get("noise_fraction"),
            "cluster_purity": fitted.diagnostics.get("cluster_purity"),
            "largest_cluster_fraction": fitted.diagnostics.get("largest_cluster_fraction"),
            "fallback": fitted.diagnostics.get("fallback"),
            "n_train_pixels": fitted.n_train_pixels,
            "n_labels_used": fitted.n_labels_used,
            "fit_seconds": round(fitted.fit_seconds, 3),
            "dataset": {"split": dataset_split, "fingerprint": dataset_fingerprint},
            "versions": package_versions(),
        }
        return cls(exp, options, fitted.model, metadata)


def _json_params(estimator: Any) -> dict[str, Any]:
    """``get_params()`` of an estimator in JSON form (tuples become lists)."""
    return json.loads(json.dumps(estimator.get_params(deep=False)))


def _compact(X: np.ndarray) -> np.ndarray:
    """``X`` as float32 when that keeps every value, else as float64."""
    X32 = X.astype(np.float32)
    return X32 if np.array_equal(X32.astype(X.dtype), X) else X


def save_model(path: str | Path, model: ExperimentModel) -> Path:
    """Write a model file atomically (temporary name, renamed when complete).

    Args:
        path: destination, conventionally ``<name>.model``; written as given (no suffix is
            added).
        model: the fitted experiment.

    Returns:
        The path written.
    """
    path = Path(path)
    final = model.model[-1]
    arrays: dict[str, np.ndarray] = {}
    if isinstance(final, ClusterThenLabel):
        table = np.searchsorted(final.classes_, final.cluster_classes_).astype(np.int64)
        arrays["fit_X"] = _compact(np.asarray(final.train_X_))
        arrays["classes"] = np.asarray(final.classes_)
        arrays["train_clusters"] = np.asarray(final.train_clusters_)
        arrays["cluster_table"] = table
        arrays["sample_clusters"] = np.asarray(final.labels_)
    elif isinstance(final, KDTreeClassifier):
        arrays["fit_X"] = _compact(np.asarray(final.fit_X_))
        arrays["classes"] = np.asarray(final.classes_)
        arrays["fit_classes"] = final.classes_[final.y_]
    else:
        raise OptionError(
            f"cannot save a {type(final).__name__}: model files hold kNN and HDBSCAN models"
        )
    if len(model.model) > 1:
        scaler = model.model[0]
        arrays["scaler_center"] = np.asarray(scaler.center_)
        arrays["scaler_scale"] = np.asarray(scaler.scale_)
    metadata = dict(model.metadata, n_features=int(arrays["fit_X"].shape[1]))
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True, allow_nan=False))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    log.info("wrote model %s (%d training points)", path, arrays["fit_X"].shape[0])
    return path


def _refuse(path: Path, problem: str, fix: str = _REFIT) -> ModelFileError:
    return ModelFileError(f"model file {path} {problem}: {fix}")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every member of the archive, read without unpickling anything."""
    if not path.is_file():
        raise _refuse(
            path, "does not exist", "check --model, or write one with `flair-hdbscan fit`"
        )
    if not zipfile.is_zipfile(path):
        raise _refuse(path, "is not a model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _refuse(
                path,
                "holds a pickled (object) array, which is never loaded: model files hold "
                "only plain arrays",
                "use a file written by `flair-hdbscan fit`",
            ) from None
        reason = " ".join(str(exc).split())
        raise _refuse(path, f"is not a readable model file ({reason})") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split())
        raise _refuse(path, f"is not a readable model file ({reason})") from None


def _read_metadata(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays.get("metadata")
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise _refuse(path, "has no metadata: it is not a flair-hdbscan model file")
    try:
        metadata = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise _refuse(path, f"has unreadable metadata JSON ({exc.msg})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _refuse(path, "is not a flair-hdbscan model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise _refuse(
            path,
            f"has format version {version!r}; flair-hdbscan {__version__} reads version "
            f"{FORMAT_VERSION}",
        )
    return metadata


def _experiment(path: Path, metadata: dict[str, Any]) -> Experiment:
    name = metadata.get("experiment")
    if name not in EXPERIMENT_NAMES:
        raise _refuse(path, f"names an unknown experiment {name!r}")
    exp = EXPERIMENTS[EXPERIMENT_NAMES.index(name)]
    if exp.is_naive:
        raise _refuse(path, f"holds the random baseline {name}, which is not predictable")
    estimator = metadata.get("estimator")
    expected = "KDTreeClassifier" if exp.method == "knn" else "ClusterThenLabel"
    found = estimator.get("class") if isinstance(estimator, dict) else None
    if metadata.get("method") != exp.method or found != expected:
        raise _refuse(
            path,
            f"records method {metadata.get('method')!r} and estimator {found!r} but "
            f"experiment {name} is a {exp.method} experiment ({expected})",
        )
    try:
        spec = FeatureSpec(**metadata["features"])
    except (KeyError, TypeError) as exc:
        raise _refuse(path, f"has an unreadable feature spec ({exc})") from None
    if spec != exp.features:
        raise _refuse(
            path,
            f"records features {spec.to_dict()} but experiment {name} uses "
            f"{exp.features.to_dict()}",
        )
    columns = metadata.get("columns")
    if columns != list(spec.columns):
        raise _refuse(
            path,
            f"lists feature columns {columns} but experiment {name} builds {list(spec.columns)}",
        )
    return exp


def _array(path: Path, arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise _refuse(path, f"lacks the array {name!r}")
    array = arrays[name]
    if array.dtype.kind not in "biuf":
        raise _refuse(path, f"holds {name!r} as {array.dtype}, not numbers")
    return array


def _check_shapes(path: Path, checks: list[tuple[bool, str]]) -> None:
    for ok, problem in checks:
        if not ok:
            raise _refuse(path, problem)


def load_model(path: str | Path) -> ExperimentModel:
    """Read a model file and rebuild its estimator without fitting anything again.

    Args:
        path: a file written by :func:`save_model`.

    Returns:
        The fitted experiment; its ``model`` predicts exactly as the saved one did.

    Raises:
        ModelFileError: if the file is missing, unreadable, not a model file (an archive
            with pickled members included: nothing is unpickled), of another format version,
            or inconsistent (feature count of the arrays ≠ the metadata's columns, columns
            not those of the experiment's feature spec, arrays of disagreeing lengths).
    """
    path = Path(path)
    arrays = _read_arrays(path)
    metadata = _read_metadata(path, arrays)
    exp = _experiment(path, metadata)
    try:
        options = StudyOptions(**metadata["options"])
        estimator = metadata["estimator"]
        params = dict(estimator["params"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(path, f"has unreadable options ({exc})") from None
    n_features = len(exp.features.columns)
    fit_X = _array(path, arrays, "fit_X")
    classes = _array(path, arrays, "classes")
    _check_shapes(
        path,
        [
            (
                fit_X.ndim == 2 and fit_X.shape[1] == n_features,
                f"holds training points of shape {fit_X.shape} but its metadata lists "
                f"{n_features} feature columns",
            ),
            (
                metadata.get("n_features") == n_features,
                f"records n_features={metadata.get('n_features')} for {n_features} columns",
            ),
            (fit_X.shape[0] >= 1, "holds no training point"),
            (classes.ndim == 1 and classes.size >= 1, "holds no class"),
        ],
    )
    steps: list[tuple[str, Any]] = []
    if exp.features.robust_scale:
        steps.append(("robust", _scaler(path, arrays, estimator.get("scaler"), n_features)))
    if exp.method == "knn":
        fit_classes = _array(path, arrays, "fit_classes")
        _check_shapes(
            path,
            [
                (
                    fit_classes.shape == (fit_X.shape[0],),
                    f"holds {fit_classes.shape} classes for {fit_X.shape[0]} training points",
                ),
                (bool(np.isin(fit_classes, classes).all()), "holds classes outside `classes`"),
            ],
        )
        try:
            final: Any = KDTreeClassifier(**params).fit(fit_X, fit_classes)
        except (TypeError, ValueError) as exc:
            raise _refuse(path, f"has invalid kNN parameters ({exc})") from None
    else:
        final = _cluster_then_label(path, arrays, params, fit_X, classes, metadata)
    steps.append(("model", final))
    log.info("loaded model %s (%s, %d training points)", path, exp.name, fit_X.shape[0])
    return ExperimentModel(exp, options, Pipeline(steps), metadata)


def _scaler(
    path: Path, arrays: dict[str, np.ndarray], params: dict[str, Any] | None, n_features: int
) -> RobustScaler:
    center = _array(path, arrays, "scaler_center")
    scale = _array(path, arrays, "scaler_scale")
    _check_shapes(
        path,
        [
            (
                center.shape == (n_features,) and scale.shape == (n_features,),
                f"holds scaler parameters of shapes {center.shape} and {scale.shape} for "
                f"{n_features} feature columns",
            )
        ],
    )
    params = dict(params or {})
    if "quantile_range" in params:
        params["quantile_range"] = tuple(params["quantile_range"])
    try:
        scaler = RobustScaler(**params)
    except TypeError as exc:
        raise _refuse(path, f"has invalid scaler parameters ({exc})") from None
    scaler.center_ = center
    scaler.scale_ = scale
    scaler.n_features_in_ = n_features
    return scaler


def _cluster_then_label(
    path: Path,
    arrays: dict[str, np.ndarray],
    params: dict[str, Any],
    fit_X: np.ndarray,
    classes: np.ndarray,
    metadata: dict[str, Any],
) -> ClusterThenLabel:
    """A fitted :class:`ClusterThenLabel` from its saved state (no clustering is run)."""
    train_clusters = _array(path, arrays, "train_clusters")
    table = _array(path, arrays, "cluster_table")
    sample_clusters = _array(path, arrays, "sample_clusters")
    n = fit_X.shape[0]
    _check_shapes(
        path,
        [
            (
                train_clusters.shape == (n,),
                f"holds {train_clusters.shape} cluster ids for {n} training points",
            ),
            (table.ndim == 1 and table.size >= 1, "holds an empty cluster-to-class table"),
            (sample_clusters.ndim == 1, "holds sample cluster ids that are not a vector"),
        ],
    )
    _check_shapes(
        path,
        [
            (
                int(train_clusters.min()) >= 0 and int(train_clusters.max()) < table.size,
                "holds cluster ids outside its cluster-to-class table",
            ),
            (
                int(table.min()) >= 0 and int(table.max()) < classes.size,
                "maps clusters to classes outside `classes`",
            ),
        ],
    )
    try:
        model = ClusterThenLabel(**params)
    except TypeError as exc:
        raise _refuse(path, f"has invalid HDBSCAN parameters ({exc})") from None
    model.classes_ = classes
    model.n_features_in_ = fit_X.shape[1]
    model.labels_ = sample_clusters
    model.n_clusters_ = int(metadata.get("n_clusters") or 0)
    model.noise_fraction_ = float(metadata.get("noise_fraction") or 0.0)
    purity = metadata.get("cluster_purity")
    model.cluster_purity_ = float("nan") if purity is None else float(purity)
    largest = metadata.get("largest_cluster_fraction")
    model.largest_cluster_fraction_ = float("nan") if largest is None else float(largest)
    model.fallback_ = metadata.get("fallback")
    model.n_labels_used_ = int(metadata.get("n_labels_used") or 0)
    model.cluster_classes_ = classes[table]
    model.train_X_ = fit_X
    model.train_clusters_ = train_clusters
    model.knn_ = make_knn(min(int(model.n_neighbors), n), model.n_jobs)
    model.knn_.fit(fit_X, table[train_clusters])
    return model
