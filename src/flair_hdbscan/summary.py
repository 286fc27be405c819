"""What a split holds: patches, domains, Sentinel-2 areas and dates, pixel class counts.

Used by ``flair-hdbscan info`` and the report. Computation only: the command and the report
lay the numbers out.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from flair_hdbscan import layout, sentinel
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError
from flair_hdbscan.nomenclature import N_CLASSES

__all__ = [
    "N_FULL_VALUES",
    "class_distribution",
    "generated_sample",
    "reduce_counts",
    "split_summary",
]

#: Number of values of the full nomenclature counted by :func:`class_distribution` (0..19).
N_FULL_VALUES = 20


def split_summary(ds: FlairDataset) -> dict[str, Any]:
    """Facts about a split.

    Reads each area's products file and its whole ``masks.npy`` (memory-mapped) once.

    Returns:
        ``{"split", "n_patches", "has_labels", "domains", "patches_per_domain", "areas",
        "n_areas", "t_min", "t_max", "areas_detail", "paths"}``; ``areas_detail`` maps each
        area to ``{"n_patches", "T", "height", "width", "clear_training", "clear_notebook"}``,
        the numbers of dates clear over the whole super area with the reference training
        thresholds (0.5, 60) and the reference notebook's (0.2, 20).
    """
    per_domain: dict[str, int] = {}
    first_of_area: dict[str, int] = {}
    per_area: dict[str, int] = {}
    for i, ref in enumerate(ds.patches):
        per_domain[ref.domain] = per_domain.get(ref.domain, 0) + 1
        per_area[ref.area] = per_area.get(ref.area, 0) + 1
        first_of_area.setdefault(ref.area, i)
    detail = {}
    for name in sorted(first_of_area):
        data, masks = ds.read_area(first_of_area[name])
        train_a, train_p = sentinel.REFERENCE_TRAINING_THRESHOLDS
        note_a, note_p = sentinel.REFERENCE_NOTEBOOK_THRESHOLDS
        detail[name] = {
            "n_patches": per_area[name],
            "T": int(data.shape[0]),
            "height": int(data.shape[2]),
            "width": int(data.shape[3]),
            "clear_training": int(
                sentinel.clear_dates(masks, area_threshold=train_a, proba_threshold=train_p).sum()
            ),
            "clear_notebook": int(
                sentinel.clear_dates(masks, area_threshold=note_a, proba_threshold=note_p).sum()
            ),
        }
    ts = [d["T"] for d in detail.values()]
    return {
        "split": ds.split,
        "n_patches": len(ds),
        "has_labels": ds.has_labels,
        "domains": sorted(per_domain),
        "patches_per_domain": dict(sorted(per_domain.items())),
        "areas": sorted(detail),
        "n_areas": len(detail),
        "t_min": min(ts),
        "t_max": max(ts),
        "areas_detail": detail,
        "paths": {
            k: None if v is None else str(v) for k, v in vars(ds.paths).items() if k != "split"
        },
    }


def reduce_counts(full: np.ndarray) -> np.ndarray:
    """Fold per-value pixel counts of the full nomenclature into the reduced one.

    Args:
        full: ``(20,)`` counts of mask values 0..19 (0 = no data).

    Returns:
        ``(13,)`` int64 counts of reduced classes 0..12 (values 13..19 → "other"); pixels
        without data are dropped.
    """
    full = np.asarray(full, dtype=np.int64)
    if full.shape != (N_FULL_VALUES,):
        raise ValueError(f"expected {N_FULL_VALUES} counts (values 0..19), got {full.shape}")
    reduced = np.zeros(N_CLASSES, dtype=np.int64)
    reduced[:12] = full[1:13]
    reduced[12] = full[13:].sum()
    return reduced


def class_distribution(
    ds: FlairDataset, *, reduced: bool = True, on_patch: Any = None
) -> np.ndarray:
    """Pixel count of each class over a split, reading one mask at a time.

    Args:
        ds: a split with labels.
        reduced: count reduced classes 0..12 (pixels without data left out) instead of the
            full values 0..19.
        on_patch: called with each patch index once counted (progress).

    Returns:
        ``(13,)`` int64 when ``reduced``, else ``(20,)`` int64 indexed by mask value.

    Raises:
        DataError: if the split has no labels or a mask is unreadable or invalid.
    """
    if not ds.has_labels:
        raise DataError(
            f"the {ds.split} split under {ds.paths.aerial} has no labels to count: "
            f"set {layout.CONFIG_KEYS[ds.split]['labels']} or add the labels folder"
        )
    full = np.zeros(N_FULL_VALUES, dtype=np.int64)
    for i in range(len(ds)):
        full += np.bincount(ds.read_mask(i).ravel(), minlength=N_FULL_VALUES)
        if on_patch is not None:
            on_patch(i)
    return reduce_counts(full) if reduced else full


def generated_sample(ds: FlairDataset) -> str | None:
    """A description of the synthetic sample ``ds`` belongs to, or None for other data.

    ``flair-hdbscan sample-data`` writes :data:`~flair_hdbscan.layout.SAMPLE_MARKER` at the
    sample's root (beside the centroids file); its presence means the data is not FLAIR #2.
    """
    for folder in (ds.paths.centroids.parent, ds.paths.aerial.parent):
        path = folder / layout.SAMPLE_MARKER
        if path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return "a synthetic sample"
            if not isinstance(doc, dict):
                return "a synthetic sample"
            return (
                f"generator version {doc.get('generator_version')}, seed {doc.get('seed')}, "
                f"{doc.get('n_patches')} training and {doc.get('n_test_patches')} test patches"
            )
    return None
