"""Pixels of a patch as rows: aerial values, Sentinel-2 on the aerial grid, labels.

This is where patches become tables: one row per pixel, in row-major order, optionally on a
stride (the study's training sample takes every 10th pixel along each axis, 1 %). A patch's
files are each read once, whatever the feature sets asked of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.distinct import first_appearances
from flair_hdbscan.errors import DataError
from flair_hdbscan.features import pack_aerial
from flair_hdbscan.nomenclature import IGNORE
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.sentinel import grid_window, median_composite, to_aerial_grid

__all__ = [
    "PatchPixels",
    "PixelSample",
    "SentinelOptions",
    "cap_quota",
    "cap_rows",
    "read_patch_pixels",
    "sentinel_grid",
    "stack_samples",
    "unique_rows",
]


@dataclass(frozen=True)
class SentinelOptions:
    """How a patch's Sentinel-2 time series becomes one value per band and aerial pixel.

    The super patch (``size`` pixels around the centroid) is reduced to the per-band median
    over its clear dates (a date is dropped when snow or cloud cover, at probability
    ``proba_threshold`` or more, reaches ``area_threshold`` of the crop), then resampled onto
    the aerial grid. Values are checked where they are declared, in
    :class:`~flair_hdbscan.options.StudyOptions`.

    Attributes:
        size: super-patch side in Sentinel-2 pixels.
        area_threshold: cover fraction from which a date is dropped.
        proba_threshold: snow/cloud probability (0–100) counted as cover.
        resampling: ``"nearest"`` or ``"bilinear"``.
    """

    size: int = 40
    area_threshold: float = 0.5
    proba_threshold: int = 60
    resampling: str = "nearest"

    @classmethod
    def of(cls, options: StudyOptions) -> SentinelOptions:
        """The Sentinel-2 part of the study options."""
        return cls(
            size=options.sat_patch_size,
            area_threshold=options.cloud_area_threshold,
            proba_threshold=options.cloud_proba_threshold,
            resampling=options.s2_resampling,
        )


def sentinel_grid(
    ds: FlairDataset, i: int, opts: SentinelOptions, shape: int = 512, stride: int = 1
) -> np.ndarray:
    """Sentinel-2 median composite of patch ``i`` on its aerial grid.

    The composite is computed only where the grid reads it (:func:`grid_window`), and with a
    stride only the kept pixels are resampled: the values are those of the full grid.

    Args:
        ds: the dataset.
        i: patch index.
        opts: Sentinel-2 options.
        shape: side of the aerial grid.
        stride: keep every ``stride``-th aerial pixel along each axis, starting at 0.

    Returns:
        ``(10, n, n) float32`` reflectances (stored units, 0–10000), ``n = ceil(shape /
        stride)``.
    """
    sp = ds.read_sentinel(i, size=opts.size)
    composite = median_composite(
        sp.data,
        sp.masks,
        valid=sp.valid,
        area_threshold=opts.area_threshold,
        proba_threshold=opts.proba_threshold,
        window=grid_window(opts.size, method=opts.resampling, aerial_pixels=shape),
    )
    return to_aerial_grid(
        composite, opts.size, method=opts.resampling, aerial_pixels=shape, stride=stride
    )


def _cells(opts: SentinelOptions, shape: int, stride: int) -> np.ndarray:
    """Sentinel-2 pixel each kept aerial pixel takes under nearest resampling, ``(n, n)``."""
    ids = np.arange(opts.size * opts.size, dtype=np.float32).reshape(1, opts.size, opts.size)
    grid = to_aerial_grid(ids, opts.size, method="nearest", aerial_pixels=shape, stride=stride)
    return grid[0].astype(np.int64)


@dataclass
class PatchPixels:
    """The pixels of one patch as rows (row-major; with a stride, only the kept pixels).

    Attributes:
        index: patch index in its dataset.
        patch_id: patch id (``"077413"``).
        aerial: ``(n, 5) uint8`` red, green, blue, NIR, stored elevation.
        s2: ``(n, 10) float32`` Sentinel-2 reflectances, or None.
        s2_cell: ``(n,) int64`` Sentinel-2 pixel of each row under nearest resampling, or
            None (no fusion, or bilinear resampling where every pixel differs).
        labels: ``(n,) uint8`` reduced labels (255 = no data), or None.
        shape: ``(H, W)`` of the rows' grid.
        profile: georeferencing of the aerial file (``crs``, ``transform``, ``width``,
            ``height``).
        n_labels_read: labels read to produce the rows, when rows were drawn from more
            (see :func:`cap_rows`); None means one per row.
    """

    index: int
    patch_id: str
    aerial: np.ndarray
    s2: np.ndarray | None
    s2_cell: np.ndarray | None
    labels: np.ndarray | None
    shape: tuple[int, int]
    profile: dict[str, Any]
    n_labels_read: int | None = None

    def labels_read(self) -> int:
        """Ground-truth values read for these rows (more than the rows after a cap)."""
        if self.n_labels_read is not None:
            return self.n_labels_read
        return 0 if self.labels is None else int(self.labels.size)


def read_patch_pixels(
    ds: FlairDataset,
    i: int,
    *,
    sentinel: SentinelOptions | None = None,
    stride: int = 1,
    labels: bool = True,
) -> PatchPixels:
    """Read patch ``i`` as rows, each of its files once.

    Args:
        ds: the dataset.
        i: patch index.
        sentinel: Sentinel-2 fusion options, or None for aerial only.
        stride: keep every ``stride``-th pixel along each axis, starting at 0.
        labels: also read the reduced labels.

    Raises:
        DataError: if a file is unreadable, or a patch fused with Sentinel-2 is not square.
    """
    patch = ds.read_patch(i, labels=labels)
    image = patch.image
    side = image.shape[1]
    sl = (slice(None, None, stride), slice(None, None, stride))
    aerial = np.ascontiguousarray(image[(slice(None), *sl)].reshape(5, -1).T)
    grid_shape = image[(0, *sl)].shape
    s2 = cell = None
    if sentinel is not None:
        if image.shape[1] != image.shape[2]:
            ref = ds.patches[patch.index]
            raise DataError(
                f"{ref.aerial} is {image.shape[1]}×{image.shape[2]} pixels; Sentinel-2 fusion "
                "puts the super patch on a square aerial grid (FLAIR #2 patches are 512×512): "
                "fix or remove the file, or run experiments without Sentinel-2"
            )
        grid = sentinel_grid(ds, i, sentinel, shape=side, stride=stride)
        s2 = np.ascontiguousarray(grid.reshape(grid.shape[0], -1).T)
        if sentinel.resampling == "nearest":
            cell = _cells(sentinel, side, stride).ravel()
    lab = None if patch.labels is None else patch.labels[sl].ravel()
    return PatchPixels(
        patch.index, patch.patch_id, aerial, s2, cell, lab, grid_shape, patch.profile
    )


def cap_quota(max_pixels: int, n_patches: int, index: int) -> int:
    """Rows patch ``index`` of ``n_patches`` keeps under a cap of ``max_pixels`` in all.

    An equal share ``max_pixels // n_patches`` each, one more for the first
    ``max_pixels % n_patches`` patches, so the shares add up to the cap.
    """
    share, extra = divmod(int(max_pixels), int(n_patches))
    return share + (1 if index < extra else 0)


def cap_rows(px: PatchPixels, quota: int, seed: int) -> PatchPixels:
    """At most ``quota`` of the patch's labelled rows, drawn without replacement.

    Rows without data (label 255) are never drawn. The rows keep their order, and the
    labels read to draw them — every row's — stay counted.

    Args:
        px: strided pixels of one patch, with labels.
        quota: rows to keep at most.
        seed: seed of the draw (the study derives it from its seed and the patch id).
    """
    if px.labels is None:
        raise ValueError("capping the training sample needs the labels")
    labelled = np.flatnonzero(px.labels != IGNORE)
    if labelled.size > quota:
        rng = np.random.default_rng(seed)
        labelled = np.sort(rng.choice(labelled, size=quota, replace=False))
    return PatchPixels(
        px.index,
        px.patch_id,
        px.aerial[labelled],
        None if px.s2 is None else px.s2[labelled],
        None if px.s2_cell is None else px.s2_cell[labelled],
        px.labels[labelled],
        px.shape,
        px.profile,
        px.labels_read(),
    )


def unique_rows(px: PatchPixels, *, use_satellite: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose features are equal, found without building the features.

    Features are a function of the five aerial values, and with Sentinel-2 fusion of the
    Sentinel-2 pixel too (nearest resampling). With bilinear fusion every row is kept.

    Returns:
        ``first`` ``(u,) int64``: the first row of each distinct row, by increasing values
        (red first); ``inverse`` ``(n,) int64``: for each row, its position in ``first``.
    """
    n = px.aerial.shape[0]
    if use_satellite and px.s2_cell is None:
        return np.arange(n), np.arange(n)
    key = pack_aerial(px.aerial)
    if use_satellite:
        key = key | (px.s2_cell << 40)
    # a hash table, then a sort of the distinct keys only: 5x faster than sorting every row
    codes, _ = pd.factorize(key)
    first = first_appearances(codes)
    # distinct rows in key order: neighbouring queries share the tree's nodes (faster kNN)
    order = np.argsort(key[first])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order], rank[codes]


@dataclass
class PixelSample:
    """The training sample: every pixel on a stride, over every patch of a split.

    Attributes:
        aerial: ``(n, 5) uint8``.
        s2: ``(n, 10) float32`` or None.
        labels: ``(n,) uint8`` reduced labels 0..12, 255 where the mask has no data.
        patch: ``(n,) int32`` index of each row's patch.
        labels_read: ground-truth values read to draw the rows, when they were drawn from
            more (``--max-train-pixels``, see :func:`cap_rows`); None means one per row.
    """

    aerial: np.ndarray
    s2: np.ndarray | None
    labels: np.ndarray
    patch: np.ndarray
    labels_read: int | None = None

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def n_labels_read(self) -> int:
        """Ground-truth values read: every row's, or after a cap every label read to draw them."""
        return len(self) if self.labels_read is None else self.labels_read

    def subset(self, keep: np.ndarray) -> PixelSample:
        """The rows where ``keep`` ((n,) bool) is true (one label read per row)."""
        return PixelSample(
            self.aerial[keep],
            None if self.s2 is None else self.s2[keep],
            self.labels[keep],
            self.patch[keep],
        )

    def labelled(self) -> PixelSample:
        """The rows with a label (no-data pixels left out — which reads every label)."""
        return self.subset(self.labels != IGNORE)


def stack_samples(parts: list[PatchPixels], with_s2: bool) -> PixelSample:
    """The training sample from each patch's strided pixels (with labels), in patch order.

    Args:
        parts: :func:`read_patch_pixels` of every patch with a stride and labels.
        with_s2: keep the Sentinel-2 values.

    Returns:
        Every sampled pixel, no-data pixels included (label 255): what to leave out is the
        user's choice, and reading labels to decide it is counted where it happens. Parts
        capped by :func:`cap_rows` hold labelled rows only, and count every label read to
        draw them.
    """
    parts = sorted(parts, key=lambda p: p.index)
    capped = any(p.n_labels_read is not None for p in parts)
    return PixelSample(
        np.concatenate([p.aerial for p in parts]),
        np.concatenate([p.s2 for p in parts]) if with_s2 else None,
        np.concatenate([p.labels for p in parts]),
        np.concatenate([np.full(p.labels.size, p.index, dtype=np.int32) for p in parts]),
        sum(p.labels_read() for p in parts) if capped else None,
    )
