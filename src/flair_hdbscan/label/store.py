"""Files of a labelling folder: ``clustering.npz`` (the fixed clustering) and ``mapping.json``.

``clustering.npz`` holds what the session's clusters were made from and are shown with —
the pool's pixel values and places, its unscaled features, every row's cluster, the centres
and the order — so that resuming, and ``predict --mapping``, use the very same clustering
without fitting it again. ``mapping.json`` holds the answers and the mapping, and names the
clustering file by its SHA-256. Both are written atomically (:mod:`flair_hdbscan.atomic`).

``mapping.json`` (format ``flair-hdbscan-label-mapping``, version 1)::

    {
      "format": "flair-hdbscan-label-mapping", "version": 1,
      "identity": "<sha256 of provenance.request>",
      "provenance": {"request": {"data": {"split", "n_patches", "digest"},
                                 "clustering": {...}, "features": "raw", "stride": 10,
                                 "n_neighbors": 5, "sentinel": null},
                     "versions": {...package versions when clustered...}},
      "clustering": {"file": "clustering.npz", "sha256": "...", "n_pool": n,
                     "n_clusters": c, "noise_fraction": f, "fallback": null},
      "classes": ["building", ..., "other"],
      "progress": {"labels_spent": n, "answers": ..., "skipped": ..., "renames": ...,
                   "clusters_named": ..., "pixel_share_named": ..., ...},
      "labels_spent": n,
      "mapping": {"<cluster>": {"class": k | null, "name": "..." | null,
                                "source": "answers" | "rename" | "mixed"}},   (named ones)
      "cluster_classes": [k, ...],   (every cluster, unnamed ones from the nearest named)
      "answers": [log entries, in order: see flair_hdbscan.label.session],
      "updated": "<UTC time>"
    }
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.atomic import write_bytes, write_json
from flair_hdbscan.errors import DataError
from flair_hdbscan.label.clusterer import Clusters
from flair_hdbscan.label.pool import Pool
from flair_hdbscan.label.session import Session
from flair_hdbscan.nomenclature import REDUCED_NAMES

__all__ = [
    "CLUSTERING_NAME",
    "FORMAT",
    "MAPPING_NAME",
    "load_clustering",
    "mapping_document",
    "read_mapping",
    "save_clustering",
]

FORMAT = "flair-hdbscan-label-mapping"
VERSION = 1
MAPPING_NAME = "mapping.json"
CLUSTERING_NAME = "clustering.npz"

_ARRAYS = ("aerial", "patch", "pixel", "width", "features", "labels", "centres", "order")


def save_clustering(path: Path, pool: Pool, features: np.ndarray, clusters: Clusters) -> str:
    """Write ``clustering.npz`` atomically.

    Args:
        path: the file.
        pool: the pool (its Sentinel-2 values are not kept: ``features`` has them).
        features: ``(n, f) float32`` unscaled pool features.
        clusters: the fitted clustering.

    Returns:
        The file's SHA-256 (hexadecimal).
    """
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        aerial=pool.aerial,
        patch=pool.patch,
        pixel=pool.pixel,
        width=pool.width,
        features=np.ascontiguousarray(features, dtype=np.float32),
        labels=clusters.labels,
        centres=clusters.centres,
        order=clusters.order,
        meta=np.array(
            json.dumps({"noise_fraction": clusters.noise_fraction, "fallback": clusters.fallback})
        ),
    )
    data = buf.getvalue()
    write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def load_clustering(path: Path, sha256: str | None = None) -> tuple[Pool, np.ndarray, Clusters]:
    """Read ``clustering.npz``: the pool, its unscaled features and the clustering.

    Args:
        path: the file.
        sha256: the digest ``mapping.json`` recorded; the file must match it.

    Raises:
        DataError: if the file is missing, altered or malformed.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror or exc}: is the label folder whole?"
        ) from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(f"{path} is not the clustering mapping.json was made with: label again")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in (*_ARRAYS, "meta")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a clustering file ({exc}): label again") from None
    meta = json.loads(str(arrays["meta"]))
    labels = arrays["labels"].astype(np.int64)
    c = arrays["centres"].shape[0]
    n = labels.size
    if any(arrays[k].shape[0] != n for k in ("aerial", "patch", "pixel", "features")) or (
        labels.size and labels.max() >= c
    ):
        raise DataError(f"{path}: arrays of different lengths: label again")
    pool = Pool(arrays["aerial"], None, arrays["patch"], arrays["pixel"], arrays["width"])
    clusters = Clusters(
        labels,
        arrays["centres"].astype(np.float64),
        arrays["order"].astype(np.int64),
        c,
        float(meta["noise_fraction"]),
        meta.get("fallback"),
    )
    return pool, arrays["features"], clusters


def mapping_document(
    session: Session, provenance: dict[str, Any], identity: str, clustering: dict[str, Any]
) -> dict[str, Any]:
    """The ``mapping.json`` document of a session (see the module docstring)."""
    named, source = session.named()
    classes = session.classes()
    mapping = {
        str(k): {
            "class": None if named[k] < 0 else int(named[k]),
            "name": None if named[k] < 0 else REDUCED_NAMES[int(named[k])],
            "source": source[k],
        }
        for k in range(named.size)
        if source[k] is not None
    }
    progress = session.progress()
    return {
        "format": FORMAT,
        "version": VERSION,
        "identity": identity,
        "provenance": provenance,
        "clustering": clustering,
        "classes": list(REDUCED_NAMES),
        "progress": progress,
        "labels_spent": progress["labels_spent"],
        "mapping": mapping,
        "cluster_classes": [int(v) for v in classes],
        "answers": session.log,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_mapping(path: Path, document: dict[str, Any]) -> None:
    """Write ``mapping.json`` atomically."""
    write_json(path, document)


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read and check a ``mapping.json``.

    Raises:
        DataError: if it is missing, not JSON, or not a labelling page's mapping.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}: check --mapping") from None
    except ValueError:
        raise DataError(f"{path} is not JSON: give the mapping.json a label folder holds") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(f"{path} is not a mapping written by `flair-hdbscan label`")
    if doc.get("version") != VERSION:
        raise DataError(
            f"{path} has mapping version {doc.get('version')}, this code reads {VERSION}"
        )
    for key in ("identity", "provenance", "clustering", "answers"):
        if key not in doc:
            raise DataError(f"{path} lacks {key!r}: is it complete?")
    return doc
