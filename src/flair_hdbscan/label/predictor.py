"""A labelling page's mapping as a model: ``predict --mapping`` writes its maps.

The clusters' classes come from the answers (:meth:`~flair_hdbscan.label.session.Session.classes`:
majority of each cluster's answers, renames, unnamed clusters from the nearest named one) and
spread to every pixel exactly as the budget study spreads them: a kNN vote (k =
``n_neighbors``) over the clustered pool rows, in pool order, each carrying its cluster's
class, ties to the smallest class (:class:`flair_hdbscan.models.KDTreeClassifier`, which
votes like :func:`flair_hdbscan.budget.methods.vote`). Noise rows take no part. The model is
an :class:`~flair_hdbscan.model.ExperimentModel`, so the existing prediction path
(:func:`flair_hdbscan.predict.predict_folder`) writes ``PRED_<id>.tif`` and, with
``clusters``, ``CLUSTER_<id>.tif`` (the cluster of each pixel's nearest clustered pool row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from flair_hdbscan.errors import DataError
from flair_hdbscan.experiments import Experiment
from flair_hdbscan.label.prepare import load_label_data
from flair_hdbscan.label.session import Session
from flair_hdbscan.label.store import read_mapping
from flair_hdbscan.model import ExperimentModel, FitRecord
from flair_hdbscan.models import make_knn
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.provenance import digest

__all__ = ["LabelledModel", "MappedClusters", "describe_mapping", "load_mapping_model"]


class MappedClusters(ClassifierMixin, BaseEstimator):
    """kNN over clustered pool rows that carry their cluster's class.

    Args:
        n_neighbors: neighbours that vote (fewer when fewer rows).
        n_jobs: query threads (-1: all cores; None: 1).
    """

    def __init__(self, *, n_neighbors: int = 5, n_jobs: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X, y, clusters=None):
        """Store clustered rows ``X`` ``(n, f)``, their classes ``y`` ``(n,)`` and clusters.

        Args:
            X: ``(n, f)`` float clustered pool rows, in pool order.
            y: ``(n,)`` class of each row (its cluster's).
            clusters: ``(n,)`` int cluster of each row (default: ``y``).
        """
        y = np.asarray(y)
        self.knn_ = make_knn(min(int(self.n_neighbors), len(y)), self.n_jobs).fit(X, y)
        self.classes_ = self.knn_.classes_
        self.n_features_in_ = self.knn_.n_features_in_
        self.train_clusters_ = np.asarray(y if clusters is None else clusters, dtype=np.int32)
        return self

    def predict(self, X) -> np.ndarray:
        """Majority class of the nearest rows, ``(n,)``; ties to the smallest class."""
        check_is_fitted(self)
        self.knn_.n_jobs = self.n_jobs
        return self.knn_.predict(X)

    def predict_clusters(self, X) -> np.ndarray:
        """Cluster of the nearest clustered pool row, ``(n,) int32``."""
        check_is_fitted(self)
        self.knn_.n_jobs = self.n_jobs
        return self.train_clusters_[self.knn_.kneighbors(X, n_neighbors=1)[:, 0]]


@dataclass
class LabelledModel(ExperimentModel):
    """An :class:`ExperimentModel` whose clusters were named on the labelling page."""

    @property
    def is_hdbscan(self) -> bool:
        """It has clusters (HDBSCAN or k-means), so cluster maps can be written."""
        return True

    @property
    def mapping(self) -> str | None:
        """``"labelled"``: clusters named by a person (or the simulated annotator)."""
        return "labelled"

    def set_threads(self, n_jobs: int | None) -> None:
        """Set the kNN query threads."""
        self.estimator[-1].n_jobs = n_jobs


def load_mapping_model(path: str | Path, *, n_jobs: int | None = -1) -> LabelledModel:
    """The model of a ``mapping.json`` (and the ``clustering.npz`` beside it).

    Raises:
        DataError: if the mapping or its clustering is missing, altered or malformed.
    """
    path = Path(path).expanduser()
    doc = read_mapping(path)
    data = load_label_data(path, doc)
    try:
        session = Session(data.clusters, doc["answers"])
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    request = doc["provenance"]["request"]
    labels = data.clusters.labels
    clustered = np.flatnonzero(labels >= 0)
    classes = session.classes()
    final = MappedClusters(n_neighbors=int(request["n_neighbors"]), n_jobs=n_jobs)
    final.fit(data.X[clustered], classes[labels[clustered]], labels[clustered])
    steps: list[tuple[str, Any]] = []
    if data.scaler is not None:
        steps.append(("robust", data.scaler))
    steps.append(("model", final))
    sentinel = request.get("sentinel") or {}
    options = StudyOptions(
        seed=int(request["clustering"]["seed"]),
        stride=int(request["stride"]),
        n_neighbors=int(request["n_neighbors"]),
        n_jobs=-1 if n_jobs is None else int(n_jobs),
        **{
            k: v
            for k, v in {
                "sat_patch_size": sentinel.get("size"),
                "cloud_area_threshold": sentinel.get("area_threshold"),
                "cloud_proba_threshold": sentinel.get("proba_threshold"),
                "s2_resampling": sentinel.get("resampling"),
            }.items()
            if v is not None
        },
    )
    name = f"label-{request['clustering']['name']}"
    spent = session.labels_spent
    progress = session.progress()
    record = FitRecord(
        train_split=request["data"]["split"],
        n_train_pixels=int(labels.size),
        n_labels_used=spent,
        diagnostics={
            "n_clusters": int(np.count_nonzero(session.sizes)),
            "noise_fraction": data.clusters.noise_fraction,
            "clusters_named": progress["clusters_named"],
            "fallback": data.clusters.fallback,
        },
    )
    provenance = {
        "mapping": {
            "identity": doc["identity"],
            "answers": digest(doc["answers"]),
            "labels_spent": spent,
            "clustering_sha256": doc["clustering"]["sha256"],
        },
        "request": request,
        "versions": doc["provenance"].get("versions", {}),
    }
    experiment = Experiment(name, 0, "labelled", data.spec)
    return LabelledModel(experiment, options, Pipeline(steps), record, provenance)


def describe_mapping(model: LabelledModel) -> str:
    """One line about a mapping's model: clusters, named clusters, labels spent."""
    d = model.record.diagnostics
    return (
        f"{model.name}: {d['n_clusters']} clusters of {model.record.n_train_pixels:,} pixels of "
        f"the {model.record.train_split} split, {d['clusters_named']} named by hand, "
        f"{model.record.n_labels_used} labels spent; unnamed clusters take the nearest named "
        "cluster's class"
    )
