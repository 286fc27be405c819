"""A fitted experiment: the model object that ``run`` scores, ``fit`` saves, ``predict`` loads.

:class:`ExperimentModel` holds the experiment, its options, the fitted estimator, what the fit
consumed (:class:`FitRecord`) and its provenance, and predicts the pixels of a patch
(:meth:`ExperimentModel.predict_pixels`). Features are a function of a pixel's aerial values
(and Sentinel-2 pixel), so pixels with equal values are featurised and predicted once per
patch (:class:`PatchFeatures`, shared by every model predicting that patch) and the answers
spread back to every pixel.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from flair_hdbscan.experiments import Experiment
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.models import ClusterThenLabel
from flair_hdbscan.neighbors import ExactNeighbors
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.pixels import PatchPixels, unique_rows
from flair_hdbscan.provenance import digest
from flair_hdbscan.seeds import derive_seed

__all__ = ["ExperimentModel", "FitRecord", "PatchFeatures", "prepare_pass"]


@dataclass(frozen=True)
class FitRecord:
    """What a fit consumed.

    Attributes:
        train_split: the split it was fitted on.
        n_train_pixels: rows of the training sample the estimator was fitted on.
        n_labels_used: ground-truth values read, all of them: those read to drop "other"
            and no-data pixels included (every sampled pixel for kNN and the oracle mapping;
            0 for the uniform baseline).
        diagnostics: clustering figures of HDBSCAN experiments (``n_clusters``,
            ``noise_fraction``, ``cluster_purity``, ``largest_cluster_fraction``,
            ``fallback``), empty otherwise.
        seconds: wall time of the fit.
    """

    train_split: str
    n_train_pixels: int
    n_labels_used: int
    diagnostics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class PatchFeatures:
    """Feature tables of one patch's distinct pixels, built once for every model.

    Args:
        px: the patch's pixels (with Sentinel-2 values if any model fuses them).
    """

    def __init__(self, px: PatchPixels) -> None:
        self.px = px
        self._rows: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
        self._tables: dict[tuple[bool, bool, bool], tuple[np.ndarray, np.ndarray]] = {}

    def table(self, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
        """Features of the patch's distinct pixels for ``spec``.

        Returns:
            ``X`` ``(u, f) float32`` features of the distinct pixels (before robust scaling)
            and ``inverse`` ``(n,) int64``, each pixel's row of ``X``.
        """
        key = spec.table_key
        if key not in self._tables:
            sat = spec.use_satellite
            if sat not in self._rows:
                self._rows[sat] = unique_rows(self.px, use_satellite=sat)
            first, inverse = self._rows[sat]
            s2 = None if self.px.s2 is None or not sat else self.px.s2[first]
            self._tables[key] = (feature_table(self.px.aerial[first], s2, spec), inverse)
        return self._tables[key]


@dataclass
class ExperimentModel:
    """A fitted experiment, ready to predict whole patches.

    Attributes:
        experiment: the experiment (its feature spec says how to build features).
        options: the study options it was fitted with (Sentinel-2 options included).
        estimator: the fitted estimator: a :class:`~sklearn.dummy.DummyClassifier` for the
            naive baselines, else a :class:`~sklearn.pipeline.Pipeline` of an optional
            ``("robust", RobustScaler)`` and ``("model", KDTreeClassifier |
            ClusterThenLabel)``.
        record: what the fit consumed.
        provenance: the training data's identity, the options that shaped the model and
            the package versions (see :mod:`flair_hdbscan.provenance`).
    """

    experiment: Experiment
    options: StudyOptions
    estimator: Any
    record: FitRecord
    provenance: dict[str, Any]

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment.name

    @property
    def is_hdbscan(self) -> bool:
        """Whether the model has clusters (an HDBSCAN experiment)."""
        return self.experiment.method == "hdbscan"

    @property
    def mapping(self) -> str | None:
        """``"oracle"`` for HDBSCAN experiments (clusters named by every member's truth)."""
        return "oracle" if self.is_hdbscan else None

    @property
    def identity(self) -> str:
        """Digest of the provenance: equal for models of the same data, options and code."""
        return digest(self.provenance)

    def set_threads(self, n_jobs: int | None) -> None:
        """Set the kNN query threads (1 on a Dask worker: the processes give parallelism)."""
        if self.experiment.is_naive:
            return
        final = self.estimator[-1]
        final.n_jobs = n_jobs
        if isinstance(final, ClusterThenLabel):
            final.knn_.n_jobs = n_jobs

    def predict_pixels(
        self, features: PatchFeatures, *, clusters: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Classes (and clusters) of every pixel of a patch.

        Args:
            features: the patch's feature tables (shared with the other models).
            clusters: also give each pixel's cluster (HDBSCAN experiments).

        Returns:
            ``(n,) uint8`` classes 0..12, and ``(n,) int32`` cluster of each pixel's nearest
            clustered training pixel, or None when not asked or the model has no clusters.
        """
        px = features.px
        if self.experiment.is_naive:
            n = px.aerial.shape[0]
            seed = derive_seed(self.options.seed, self.name, px.patch_id)
            # the patch's draw on a copy: threads of one worker share this model
            baseline = copy.copy(self.estimator).set_params(random_state=seed)
            pred = baseline.predict(np.zeros((n, 1), dtype=np.float32))
            return np.asarray(pred, dtype=np.uint8), None
        X, inverse = features.table(self.experiment.features)
        pred = np.asarray(self.estimator.predict(X), dtype=np.uint8)[inverse]
        if not (clusters and self.is_hdbscan):
            return pred, None
        Xs = self.estimator[:-1].transform(X) if len(self.estimator) > 1 else X
        ids = np.asarray(self.estimator[-1].predict_clusters(Xs), dtype=np.int32)
        return pred, ids[inverse]


def _index(model: ExperimentModel) -> ExactNeighbors | None:
    """The exact kNN index a model predicts with (a clustering's propagating kNN), or None."""
    final = model.estimator[-1]
    index = getattr(getattr(final, "knn_", final), "index_", None)
    return index if isinstance(index, ExactNeighbors) else None


def prepare_pass(models: Sequence[ExperimentModel]) -> list[tuple[str, str]]:
    """Let the models of one pass share their neighbour searches; predictions are unchanged.

    * Fused Sentinel-2 features are searched group of Sentinel-2 values by group
      (:meth:`~flair_hdbscan.neighbors.ExactNeighbors.search_groups`).
    * An HDBSCAN experiment propagates clusters by a kNN over its clustered pixels, a
      subset of the pixels of the kNN experiment with the same features; when nearly all
      of them are clustered, one search serves both
      (:meth:`~flair_hdbscan.neighbors.ExactNeighbors.borrow_candidates`). The kNN model
      must predict a patch first (the experiments' order).

    Args:
        models: the models of one pass.

    Returns:
        ``(hdbscan model, knn model)`` names of the pairs sharing a search.
    """
    indexes = {}
    for m in models:
        index = None if m.experiment.is_naive else _index(m)
        if index is not None:
            indexes[m.name] = index
            spec = m.experiment.features
            shared = spec.shared_columns
            index.search_groups(len(spec.columns) - shared if shared else 0)
    lenders: dict[Any, str] = {}
    for m in models:
        if m.experiment.method == "knn" and m.name in indexes:
            lenders.setdefault(m.experiment.features, m.name)
    pairs = []
    for m in models:
        lender = lenders.get(m.experiment.features) if m.is_hdbscan else None
        if lender and m.name in indexes and indexes[m.name].borrow_candidates(indexes[lender]):
            pairs.append((m.name, lender))
    return pairs
