"""Pickle-free model files: a fitted experiment as plain arrays plus JSON metadata.

A model file is one ``.npz`` archive written with :func:`numpy.savez` and read with
``numpy.load(allow_pickle=False)``, so loading one can never run code. What it may hold is
declared once, here, and checked before anything is rebuilt:

* ``metadata``: a 0-d unicode array, JSON matching :data:`METADATA_SCHEMA` (format version,
  experiment, feature columns, study options, what the fit consumed, provenance);
* the arrays of :data:`ARRAYS`: ``fit_X`` ``(n, f)`` float32 (float64 when float32 would
  lose digits), the training points; ``classes`` ``(c,)`` classes 0..12; for kNN
  ``fit_classes`` ``(n,)``; for HDBSCAN ``train_clusters`` ``(n,)`` and ``cluster_table``
  ``(n_clusters,)``; with robust scaling ``scaler_center`` and ``scaler_scale`` ``(f,)``.

Every member's header is read and its claimed shape checked against the bytes it holds
before its data is, so a malformed file cannot make the reader allocate more than the file.
:func:`load_model` rebuilds an estimator that predicts exactly as the saved one did, without
clustering again.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from flair_hdbscan.atomic import atomic_path
from flair_hdbscan.errors import FlairError, ModelFileError
from flair_hdbscan.experiments import MODEL_EXPERIMENT_NAMES, build_estimator, experiment
from flair_hdbscan.model import ExperimentModel, FitRecord
from flair_hdbscan.models import ClusterThenLabel, make_knn
from flair_hdbscan.nomenclature import N_CLASSES
from flair_hdbscan.options import StudyOptions

__all__ = ["ARRAYS", "FORMAT", "FORMAT_VERSION", "METADATA_SCHEMA", "load_model", "save_model"]

log = logging.getLogger(__name__)

#: Name written in every model file's metadata.
FORMAT = "flair-hdbscan-model"
#: Version of the layout of arrays and metadata; files of another version are refused.
FORMAT_VERSION = 2

_REFIT = "refit it with `flair-hdbscan fit`"
_COUNT = {"type": "integer", "minimum": 0}
_FRACTION = {"type": ["number", "null"], "minimum": 0, "maximum": 1}

#: JSON schema of the ``metadata`` member.
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "format",
        "format_version",
        "experiment",
        "method",
        "columns",
        "options",
        "record",
        "provenance",
        "n_features",
    ],
    "properties": {
        "format": {"const": FORMAT},
        "format_version": {"type": "integer"},
        "experiment": {"enum": list(MODEL_EXPERIMENT_NAMES)},
        "method": {"enum": ["knn", "hdbscan"]},
        "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "options": {"type": "object"},
        "n_features": {"type": "integer", "minimum": 1},
        "record": {
            "type": "object",
            "required": ["train_split", "n_train_pixels", "n_labels_used", "diagnostics"],
            "properties": {
                "train_split": {"type": "string"},
                "n_train_pixels": _COUNT,
                "n_labels_used": _COUNT,
                "seconds": {"type": "number", "minimum": 0},
                "diagnostics": {
                    "type": "object",
                    "properties": {
                        "n_clusters": _COUNT,
                        "noise_fraction": _FRACTION,
                        "cluster_purity": _FRACTION,
                        "largest_cluster_fraction": _FRACTION,
                        "fallback": {"type": ["string", "null"]},
                    },
                },
            },
        },
        "provenance": {"type": "object"},
    },
}

#: Arrays a model file may hold: name → (allowed dtype kinds, rank, for which method).
ARRAYS: dict[str, tuple[str, int, str]] = {
    "fit_X": ("f", 2, "any"),
    "classes": ("iu", 1, "any"),
    "fit_classes": ("iu", 1, "knn"),
    "train_clusters": ("iu", 1, "hdbscan"),
    "cluster_table": ("iu", 1, "hdbscan"),
    "scaler_center": ("f", 1, "robust"),
    "scaler_scale": ("f", 1, "robust"),
}


def _refuse(path: Path, problem: str, fix: str = _REFIT) -> ModelFileError:
    return ModelFileError(f"model file {path} {problem}: {fix}")


def _compact(X: np.ndarray) -> np.ndarray:
    X32 = X.astype(np.float32)
    return X32 if np.array_equal(X32.astype(X.dtype), X) else X


def save_model(path: str | Path, model: ExperimentModel) -> Path:
    """Write a model file atomically (temporary name, renamed when complete).

    Args:
        path: destination, conventionally ``<name>.model``; written as given.
        model: a fitted kNN or HDBSCAN experiment.

    Returns:
        The path written.

    Raises:
        ModelFileError: for a naive baseline, which has no model of the imagery.
    """
    path = Path(path)
    exp = model.experiment
    if exp.is_naive:
        raise ModelFileError(
            f"{exp.name} is a random baseline, not a model of the imagery: fit and predict "
            f"take one of {', '.join(MODEL_EXPERIMENT_NAMES)}"
        )
    final = model.estimator[-1]
    arrays: dict[str, np.ndarray] = {}
    if isinstance(final, ClusterThenLabel):
        arrays["fit_X"] = _compact(final.knn_.fit_X_)
        arrays["train_clusters"] = final.train_clusters_.astype(np.int32)
        arrays["cluster_table"] = final.cluster_table_.astype(np.int32)
    else:
        arrays["fit_X"] = _compact(final.fit_X_)
        arrays["fit_classes"] = final.classes_[final.y_].astype(np.uint8)
    arrays["classes"] = np.asarray(final.classes_, dtype=np.uint8)
    if len(model.estimator) > 1:
        scaler = model.estimator[0]
        arrays["scaler_center"] = np.asarray(scaler.center_)
        arrays["scaler_scale"] = np.asarray(scaler.scale_)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "experiment": exp.name,
        "method": exp.method,
        "columns": list(exp.features.columns),
        "options": model.options.to_dict(),
        "n_features": int(arrays["fit_X"].shape[1]),
        "record": model.record.to_dict(),
        "provenance": model.provenance,
    }
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True, allow_nan=False))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    log.info("wrote model %s (%d training points)", path, arrays["fit_X"].shape[0])
    return path


def _member_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple:
    """``(shape, dtype)`` of one ``.npy`` member, checked against the bytes it holds."""
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if reader is None:
            raise ValueError(f"npy version {version}")
        shape, _, dtype = reader(fh)
        header = fh.tell()
    if dtype.hasobject:
        raise _refuse(
            path,
            f"holds a pickled (object) member {info.filename!r}, which is never loaded",
            "use a file written by `flair-hdbscan fit`",
        )
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if any(s < 0 for s in shape) or count * dtype.itemsize != info.file_size - header:
        raise _refuse(path, f"has a member {info.filename!r} whose header does not fit its data")
    return shape, dtype


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every member of the archive, each header checked before its data is read."""
    if not path.is_file():
        raise _refuse(
            path, "does not exist", "check --model, or write one with `flair-hdbscan fit`"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _member_header(path, archive, info)
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except FlairError:
        raise
    except (OSError, EOFError, KeyError, ValueError, SyntaxError, TypeError, OverflowError,
            MemoryError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:  # fmt: skip
        reason = " ".join(str(exc).split())[:120]
        raise _refuse(
            path, f"is not a readable model file ({type(exc).__name__}: {reason})"
        ) from None


def _read_metadata(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays.get("metadata")
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise _refuse(path, "has no metadata: it is not a flair-hdbscan model file")
    try:
        metadata = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise _refuse(path, f"has unreadable metadata JSON ({type(exc).__name__})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _refuse(path, "is not a flair-hdbscan model file")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise _refuse(
            path,
            f"has format version {metadata.get('format_version')!r} "
            f"({type(metadata.get('format_version')).__name__}); this flair-hdbscan reads "
            f"version {FORMAT_VERSION} (integer)",
        )
    try:
        jsonschema.validate(metadata, METADATA_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "metadata"
        raise _refuse(path, f"has invalid metadata at {where} ({exc.message[:100]})") from None
    return metadata


def _check_arrays(
    path: Path, arrays: dict[str, np.ndarray], method: str, robust: bool, n_features: int
) -> None:
    wanted = {
        name
        for name, (_, _, who) in ARRAYS.items()
        if who in ("any", method) or (who == "robust" and robust)
    }
    missing = sorted(wanted - set(arrays))
    extra = sorted(set(arrays) - wanted - {"metadata"})
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"holds unexpected {', '.join(extra)}"
        raise _refuse(path, what)
    for name in wanted:
        kinds, rank, _ = ARRAYS[name]
        a = arrays[name]
        if a.dtype.kind not in kinds or a.ndim != rank:
            raise _refuse(path, f"holds {name!r} as {a.dtype} of rank {a.ndim}")
    fit_X = arrays["fit_X"]
    n = fit_X.shape[0]
    checks = [
        (fit_X.shape[1] == n_features, f"holds {fit_X.shape[1]} features for {n_features} columns"),
        (n >= 1, "holds no training point"),
        (bool(np.isfinite(fit_X).all()), "holds training points that are not finite"),
        (arrays["classes"].size >= 1, "holds no class"),
        (
            bool(np.isin(arrays["classes"], np.arange(N_CLASSES)).all()),
            f"holds classes outside 0..{N_CLASSES - 1}",
        ),
    ]
    if method == "knn":
        fc = arrays["fit_classes"]
        checks += [
            (fc.shape == (n,), f"holds {fc.shape} classes for {n} training points"),
            (bool(np.isin(fc, arrays["classes"]).all()), "holds classes outside `classes`"),
        ]
    else:
        tc, table = arrays["train_clusters"], arrays["cluster_table"]
        checks += [
            (tc.shape == (n,), f"holds {tc.shape} cluster ids for {n} training points"),
            (table.size >= 1, "holds an empty cluster-to-class table"),
            (
                tc.size > 0 and 0 <= int(tc.min()) and int(tc.max()) < table.size,
                "holds cluster ids outside its cluster-to-class table",
            ),
            (
                0 <= int(table.min()) and int(table.max()) < arrays["classes"].size,
                "maps clusters to classes outside `classes`",
            ),
        ]
    if robust:
        for name in ("scaler_center", "scaler_scale"):
            checks.append((arrays[name].shape == (n_features,), f"holds {name} for other features"))
    for ok, problem in checks:
        if not ok:
            raise _refuse(path, problem)


def load_model(path: str | Path) -> ExperimentModel:
    """Read a model file and rebuild its estimator without fitting anything again.

    Args:
        path: a file written by :func:`save_model`.

    Returns:
        The fitted experiment; it predicts exactly as the saved one did.

    Raises:
        ModelFileError: if the file is missing, unreadable, not a model file (an archive
            with pickled members included: nothing is unpickled), of another format
            version, or inconsistent with its own metadata or the experiment it names.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    metadata = _read_metadata(path, arrays)
    exp = experiment(metadata["experiment"])
    if metadata["method"] != exp.method or metadata["columns"] != list(exp.features.columns):
        raise _refuse(
            path,
            f"records method {metadata['method']!r} and columns {metadata['columns']} but "
            f"{exp.name} is a {exp.method} experiment on {list(exp.features.columns)}",
        )
    n_features = len(exp.features.columns)
    if metadata["n_features"] != n_features:
        raise _refuse(path, f"records {metadata['n_features']} features for {n_features} columns")
    try:
        options = StudyOptions.from_dict(metadata["options"])
        record = FitRecord(**metadata["record"])
    except (FlairError, TypeError) as exc:
        raise _refuse(path, f"has unreadable options ({exc})") from None
    _check_arrays(path, arrays, exp.method, exp.features.robust_scale, n_features)
    fit_X = arrays["fit_X"]
    # the experiment's own unfitted estimator, given the saved state: nothing is clustered
    estimator = build_estimator(exp, options, seed=0)
    if exp.features.robust_scale:
        scaler = estimator[0]
        scaler.center_ = arrays["scaler_center"].astype(np.float64)
        scaler.scale_ = arrays["scaler_scale"].astype(np.float64)
        scaler.n_features_in_ = n_features
    final = estimator[-1]
    if exp.method == "knn":
        final.fit(fit_X, arrays["fit_classes"].astype(np.int64))
    else:
        table = arrays["cluster_table"].astype(np.int64)
        clusters = arrays["train_clusters"].astype(np.int32)
        diagnostics = record.diagnostics
        final.classes_ = arrays["classes"].astype(np.int64)
        final.n_features_in_ = n_features
        final.cluster_table_ = table
        final.train_clusters_ = clusters
        final.n_clusters_ = int(diagnostics.get("n_clusters") or table.size)
        final.noise_fraction_ = float(diagnostics.get("noise_fraction") or 0.0)
        final.cluster_purity_ = float(diagnostics.get("cluster_purity") or np.nan)
        final.largest_cluster_fraction_ = float(
            diagnostics.get("largest_cluster_fraction") or np.nan
        )
        final.fallback_ = diagnostics.get("fallback")
        final.knn_ = make_knn(options.n_neighbors, options.n_jobs).fit(fit_X, table[clusters])
    log.info("loaded model %s (%s, %d training points)", path, exp.name, fit_X.shape[0])
    return ExperimentModel(exp, options, estimator, record, metadata["provenance"])
