"""Open a labelling folder: fit the clustering (or resume the stored one) and the session.

:func:`open_label_folder` claims ``--out`` for one clustering (:func:`flair_hdbscan.outdir.claim`:
a lock, and a manifest whose identity is the clustering's request — data digest, clustering,
features, stride, seed, neighbours). The same request resumes: the stored
``clustering.npz`` and the answers of ``mapping.json`` are read back, nothing is fitted
again (so an upgrade of the clustering code cannot reshuffle a person's answers). Another
request is refused in one line unless ``overwrite``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.preprocessing import RobustScaler

from flair_hdbscan.budget.pipeline import feature_spec
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import Executor
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.label.clusterer import Clusterer, Clusters, fit_clusters
from flair_hdbscan.label.pool import Pool, read_pool
from flair_hdbscan.label.session import Session
from flair_hdbscan.label.store import (
    CLUSTERING_NAME,
    MAPPING_NAME,
    load_clustering,
    mapping_document,
    read_mapping,
    save_clustering,
    write_mapping,
)
from flair_hdbscan.outdir import claim
from flair_hdbscan.pixels import SentinelOptions
from flair_hdbscan.progress import Progress, quiet
from flair_hdbscan.provenance import digest, package_versions
from flair_hdbscan.study import data_identity

__all__ = ["LabelData", "open_label_folder", "pool_features", "request_provenance"]


@dataclass
class LabelData:
    """Everything a labelling session shows and saves.

    Attributes:
        pool: the sampled pixels and their places.
        features: ``(n, f) float32`` unscaled pool features.
        X: ``(n, f) float32`` the features as clustered (robust-scaled when asked).
        scaler: the fitted robust scaler, or None.
        clusters: the clustering and order.
        spec: the feature set.
        provenance: ``{"request": …, "versions": …}`` (see :mod:`~flair_hdbscan.label.store`).
        identity: digest of the request.
        clustering: ``mapping.json``'s ``"clustering"`` record (file, SHA-256, counts).
        folder: the label folder.
    """

    pool: Pool
    features: np.ndarray
    X: np.ndarray
    scaler: RobustScaler | None
    clusters: Clusters
    spec: FeatureSpec
    provenance: dict[str, Any]
    identity: str
    clustering: dict[str, Any]
    folder: Path

    @property
    def mapping_path(self) -> Path:
        """``folder/mapping.json``."""
        return self.folder / MAPPING_NAME

    def save(self, session: Session) -> None:
        """Write ``mapping.json`` for the session's present log (atomically)."""
        doc = mapping_document(session, self.provenance, self.identity, self.clustering)
        write_mapping(self.mapping_path, doc)


def request_provenance(
    ds: FlairDataset,
    clusterer: Clusterer,
    features: str,
    *,
    stride: int,
    n_neighbors: int,
    sentinel: SentinelOptions | None,
    verify_content: bool = False,
) -> dict[str, Any]:
    """What the clustering is made from: data digest, clustering, features, stride, kNN's k."""
    return {
        "data": data_identity(ds, content=verify_content),
        "clustering": clusterer.to_dict(),
        "features": features,
        "stride": int(stride),
        "n_neighbors": int(n_neighbors),
        "sentinel": None if sentinel is None else dataclasses.asdict(sentinel),
    }


def pool_features(
    features: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, RobustScaler | None]:
    """The features as clustered: robust scaling fitted on the pool (no label read).

    Args:
        features: ``(n, f) float32`` unscaled pool features.
        spec: the feature set.

    Returns:
        ``X`` ``(n, f) float32`` and the fitted scaler (None without robust scaling), as
        :func:`flair_hdbscan.budget.pipeline.run_budget` computes them.
    """
    if not spec.robust_scale:
        return features, None
    scaler = RobustScaler(quantile_range=(25.0, 75.0)).fit(features)
    return scaler.transform(features).astype(np.float32), scaler


def load_label_data(mapping_path: Path, document: dict[str, Any] | None = None) -> LabelData:
    """The stored clustering of a ``mapping.json`` (checked against its SHA-256).

    Raises:
        DataError: if the mapping or its clustering file is missing, altered or malformed.
    """
    mapping_path = Path(mapping_path)
    doc = document or read_mapping(mapping_path)
    folder = mapping_path.parent
    info = doc["clustering"]
    pool, features, clusters = load_clustering(folder / info["file"], info["sha256"])
    spec = feature_spec(doc["provenance"]["request"]["features"])
    X, scaler = pool_features(features, spec)
    return LabelData(
        pool, features, X, scaler, clusters, spec, doc["provenance"], doc["identity"], info, folder
    )


def _fit(ds, clusterer, request, spec, sentinel, folder, executor, progress) -> LabelData:
    start = time.perf_counter()
    pool = read_pool(
        ds,
        stride=request["stride"],
        sentinel=sentinel,
        executor=executor,
        advance=progress.stage(f"reading the {ds.split} sample (no labels)", len(ds)),
    )
    features = feature_table(pool.aerial, pool.s2, spec)
    X, scaler = pool_features(features, spec)
    step = progress.stage(f"clustering {len(pool):,} pixels ({clusterer.name})", 1)
    clusters = fit_clusters(X, clusterer)
    step()
    sha = save_clustering(folder / CLUSTERING_NAME, pool, features, clusters)
    info = {
        "file": CLUSTERING_NAME,
        "sha256": sha,
        "n_pool": len(pool),
        "n_clusters": int(np.count_nonzero(clusters.sizes)),
        "noise_fraction": clusters.noise_fraction,
        "fallback": clusters.fallback,
        "seconds": round(time.perf_counter() - start, 3),
    }
    provenance = {"request": request, "versions": package_versions()}
    return LabelData(
        pool, features, X, scaler, clusters, spec, provenance, digest(request), info, folder
    )


@contextlib.contextmanager
def open_label_folder(
    out: str | Path,
    ds: FlairDataset,
    clusterer: Clusterer,
    *,
    features: str = "raw",
    stride: int = 10,
    n_neighbors: int = 5,
    sentinel: SentinelOptions | None = None,
    overwrite: bool = False,
    verify_content: bool = False,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[LabelData, Session]]:
    """Claim ``out``, then fit or resume the clustering and the session.

    Args:
        out: the label folder.
        ds: the split to label (its labels, if any, are never read).
        clusterer: the clustering (:func:`~flair_hdbscan.label.clusterer.parse_clusterer`).
        features: a feature option of the study (``raw``, ``robust``, ``satellite`` …).
        stride: the sample's stride (10: the study's 1 %).
        n_neighbors: k of the kNN that propagates the clusters' classes (``predict``).
        sentinel: Sentinel-2 options, required when ``features`` fuses Sentinel-2.
        overwrite: start afresh in a folder holding another clustering's answers.
        verify_content: identify the data by content rather than sizes and times.
        executor: where the sample is read.
        progress: stage display.

    Yields:
        ``(data, session)``; the folder stays locked until the block ends.

    Raises:
        OptionError: features that need Sentinel-2 without ``sentinel``.
        OutputError: ``out`` holds another clustering's answers (without ``overwrite``),
            or another command is writing there.
    """
    spec = feature_spec(features)
    if spec.use_satellite and sentinel is None:
        raise OptionError(f"--features {features} fuses Sentinel-2: give its options")
    sentinel = sentinel if spec.use_satellite else None
    progress = progress or quiet()
    out = Path(out).expanduser().resolve()
    request = request_provenance(
        ds,
        clusterer,
        features,
        stride=stride,
        n_neighbors=n_neighbors,
        sentinel=sentinel,
        verify_content=verify_content,
    )
    need = 64 * len(ds) * (512 // stride + 1) ** 2
    with claim(out, kind="label", provenance=request, overwrite=overwrite, need_bytes=need) as c:
        mapping = out / MAPPING_NAME
        if c.resumed and mapping.exists():
            doc = read_mapping(mapping)
            data = load_label_data(mapping, doc)
            session = Session(data.clusters, doc["answers"])
            progress.note(f"resuming {mapping}: {session.labels_spent} labels spent so far")
        else:
            data = _fit(ds, clusterer, request, spec, sentinel, out, executor, progress)
            session = Session(data.clusters)
            data.save(session)
        yield data, session
