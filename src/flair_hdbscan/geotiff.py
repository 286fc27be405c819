"""Single-band class maps as GeoTIFFs on their source patch's grid, written atomically."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.atomic import atomic_path

__all__ = ["stale_temporaries", "write_class_map"]

_DTYPES = ("uint8", "int32")


def write_class_map(
    path: str | Path,
    array: np.ndarray,
    profile: dict[str, Any],
    *,
    nodata: float | None = None,
) -> Path:
    """Write a class map as a one-band, LZW-compressed GeoTIFF, atomically.

    The file is written under a temporary name in the target's folder and renamed onto
    ``path`` once complete, so ``path`` is either absent or whole. The same inputs give the
    same bytes (no timestamp or software tag is written).

    Args:
        path: destination ``.tif``.
        array: ``(H, W)`` uint8 (classes) or int32 (cluster ids).
        profile: georeferencing of the source patch: ``{"crs", "transform", "width",
            "height"}`` as :meth:`FlairDataset.read_profile` returns it.
        nodata: value recorded as "no data", or None.

    Returns:
        The path written.

    Raises:
        ValueError: if the array is not 2-D uint8/int32 or its shape differs from the
            profile's ``(height, width)``.
    """
    import rasterio

    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.name not in _DTYPES:
        raise ValueError(f"class maps are (H, W) uint8 or int32, got {array.dtype} {array.shape}")
    shape = (int(profile["height"]), int(profile["width"]))
    if array.shape != shape:
        raise ValueError(f"map of shape {array.shape} for a {shape[0]}×{shape[1]} patch")
    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=shape[1],
            height=shape[0],
            count=1,
            dtype=array.dtype.name,
            crs=profile["crs"],
            transform=profile["transform"],
            compress="lzw",
            nodata=nodata,
        ) as dst:
            dst.write(array, 1)
    return path


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporary files left beside ``path`` by interrupted writes of it.

    :func:`flair_hdbscan.atomic.atomic_path` names them ``.<name>.<random><suffix>``.
    """
    path = Path(path)
    pattern = glob.escape(str(path.parent / f".{path.name}.")) + "*"
    return [Path(p) for p in glob.glob(pattern)]
