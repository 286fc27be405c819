"""Pixels of a patch as rows: aerial values, Sentinel-2 on the aerial grid, labels.

This is where patches become tables: one row per pixel, in row-major order, optionally on a
stride (the study's training sample takes every 10th pixel along each axis, 1 %).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.features import pack_aerial
from flair_hdbscan.nomenclature import IGNORE
from flair_hdbscan.sentinel import median_composite, to_aerial_grid

__all__ = [
    "PatchPixels",
    "PixelSample",
    "SentinelOptions",
    "read_patch_pixels",
    "sentinel_grid",
    "training_sample",
    "unique_rows",
]


@dataclass(frozen=True)
class SentinelOptions:
    """How a patch's Sentinel-2 time series becomes one value per band and aerial pixel.

    The super patch (``size`` pixels around the centroid) is reduced to the per-band median
    over its clear dates (a date is dropped when snow or cloud cover, at probability
    ``proba_threshold`` or more, reaches ``area_threshold`` of the crop; the reference
    training code's 0.5 / 60 by default), then resampled onto the aerial grid.

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

    def __post_init__(self) -> None:
        if self.resampling not in ("nearest", "bilinear"):
            raise OptionError(
                f"unknown resampling {self.resampling!r}: use 'nearest' or 'bilinear'"
            )
        if not 0 < self.area_threshold <= 1:
            raise OptionError(f"cloud area threshold must lie in (0, 1], got {self.area_threshold}")
        if not 0 <= self.proba_threshold <= 100:
            raise OptionError(
                f"cloud probability threshold must lie in 0..100, got {self.proba_threshold}"
            )
        if self.size < 11:
            raise OptionError(f"super patch size must be at least 11 pixels, got {self.size}")


def sentinel_grid(ds: FlairDataset, i: int, opts: SentinelOptions, shape: int = 512) -> np.ndarray:
    """Sentinel-2 median composite of patch ``i`` on its aerial grid.

    Returns:
        ``(10, shape, shape) float32`` reflectances (stored units, 0–10000).
    """
    sp = ds.read_sentinel(i, size=opts.size)
    composite = median_composite(
        sp.data,
        sp.masks,
        valid=sp.valid,
        area_threshold=opts.area_threshold,
        proba_threshold=opts.proba_threshold,
    )
    return to_aerial_grid(composite, opts.size, method=opts.resampling, aerial_pixels=shape)


def _cells(opts: SentinelOptions, shape: int) -> np.ndarray:
    """Index of the Sentinel-2 pixel each aerial pixel takes under nearest resampling."""
    ids = np.arange(opts.size * opts.size, dtype=np.float32).reshape(1, opts.size, opts.size)
    grid = to_aerial_grid(ids, opts.size, method="nearest", aerial_pixels=shape)
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
    """

    index: int
    patch_id: str
    aerial: np.ndarray
    s2: np.ndarray | None
    s2_cell: np.ndarray | None
    labels: np.ndarray | None
    shape: tuple[int, int]


def read_patch_pixels(
    ds: FlairDataset,
    i: int,
    *,
    sentinel: SentinelOptions | None = None,
    stride: int = 1,
    labels: bool = True,
) -> PatchPixels:
    """Read patch ``i`` as rows.

    Args:
        ds: the dataset.
        i: patch index.
        sentinel: Sentinel-2 fusion options, or None for aerial only.
        stride: keep every ``stride``-th pixel along each axis, starting at 0.
        labels: also read the reduced labels.
    """
    image = ds.read_image(i)
    side = image.shape[1]
    sl = (slice(None, None, stride), slice(None, None, stride))
    aerial = np.ascontiguousarray(image[(slice(None), *sl)].reshape(5, -1).T)
    grid_shape = image[(0, *sl)].shape
    s2 = cell = None
    if sentinel is not None:
        grid = sentinel_grid(ds, i, sentinel, shape=side)
        s2 = np.ascontiguousarray(grid[(slice(None), *sl)].reshape(grid.shape[0], -1).T)
        if sentinel.resampling == "nearest":
            cell = _cells(sentinel, side)[sl].ravel()
    lab = ds.read_labels(i)[sl].ravel() if labels else None
    return PatchPixels(i, ds.patches[i].patch_id, aerial, s2, cell, lab, grid_shape)


def unique_rows(px: PatchPixels, *, use_satellite: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose features are equal, found without building the features.

    Features are a function of the five aerial values, and with Sentinel-2 fusion of the
    Sentinel-2 pixel too (nearest resampling). With bilinear fusion every row is kept.

    Returns:
        ``first`` ``(u,) int64``: one row index per distinct row; ``inverse`` ``(n,) int64``:
        for each row, its position in ``first``.
    """
    n = px.aerial.shape[0]
    if use_satellite and px.s2_cell is None:
        return np.arange(n), np.arange(n)
    key = pack_aerial(px.aerial)
    if use_satellite:
        key = key | (px.s2_cell << 40)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.ravel()


@dataclass
class PixelSample:
    """The training sample: labelled pixels on a stride, over every patch of a split.

    Attributes:
        aerial: ``(n, 5) uint8``.
        s2: ``(n, 10) float32`` or None.
        labels: ``(n,) uint8`` reduced labels 0..12 (no-data pixels left out).
        patch: ``(n,) int32`` index of each row's patch.
    """

    aerial: np.ndarray
    s2: np.ndarray | None
    labels: np.ndarray
    patch: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.size)

    def subset(self, keep: np.ndarray) -> PixelSample:
        """The rows where ``keep`` ((n,) bool) is true."""
        return PixelSample(
            self.aerial[keep],
            None if self.s2 is None else self.s2[keep],
            self.labels[keep],
            self.patch[keep],
        )


def training_sample(
    ds: FlairDataset,
    *,
    stride: int = 10,
    sentinel: SentinelOptions | None = None,
    on_patch: Callable[[int], None] | None = None,
) -> PixelSample:
    """Labelled pixels on a stride over every patch of ``ds``, in patch order.

    Args:
        ds: a dataset with labels.
        stride: keep every ``stride``-th pixel along each axis (10: 1 % of the pixels).
        sentinel: also sample Sentinel-2 values with these options.
        on_patch: called with each patch index once read.
    """
    if stride < 1:
        raise OptionError(f"stride must be at least 1, got {stride}")
    parts: list[PatchPixels] = []
    for i in range(len(ds)):
        px = read_patch_pixels(ds, i, sentinel=sentinel, stride=stride)
        keep = px.labels != IGNORE
        parts.append(
            PatchPixels(
                i,
                px.patch_id,
                px.aerial[keep],
                None if px.s2 is None else px.s2[keep],
                None,
                px.labels[keep],
                px.shape,
            )
        )
        if on_patch is not None:
            on_patch(i)
    if not parts:
        raise OptionError("the dataset has no patch to sample")
    return PixelSample(
        np.concatenate([p.aerial for p in parts]),
        None if sentinel is None else np.concatenate([p.s2 for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([np.full(p.labels.size, p.index, dtype=np.int32) for p in parts]),
    )
