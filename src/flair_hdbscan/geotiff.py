"""GeoTIFF I/O: FLAIR's uint8 rasters read with clear errors, class maps written atomically."""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.atomic import atomic_path, fault_reason
from flair_hdbscan.errors import DataError, FaultError

__all__ = ["native_messages_silenced", "read_uint8_tif", "stale_temporaries", "write_class_map"]

_DTYPES = ("uint8", "int32")
#: Largest raster read (pixels per band): a header claiming more is refused, not allocated.
_MAX_PIXELS = 10_000 * 10_000


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
        FaultError: if the file cannot be written whole (disk full, read-only folder): it is
            verified by reading it back before it takes its final name.
    """
    import rasterio
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.name not in _DTYPES:
        raise ValueError(f"class maps are (H, W) uint8 or int32, got {array.dtype} {array.shape}")
    shape = (int(profile["height"]), int(profile["width"]))
    if array.shape != shape:
        raise ValueError(f"map of shape {array.shape} for a {shape[0]}×{shape[1]} patch")
    path = Path(path)
    with atomic_path(path) as tmp, _quiet_stderr():
        try:
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
        except (RasterioError, CPLE_BaseError) as exc:
            raise FaultError(
                f"cannot write {path}: {fault_reason(exc, ' (is the disk full?)')}; nothing "
                "was written under that name"
            ) from None
        # GDAL may report a failed write (disk full) without raising: read it back
        try:
            with rasterio.open(tmp) as src:
                back = src.read(1)
            whole = back.shape == array.shape and np.array_equal(back, array)
        except (RasterioError, CPLE_BaseError):
            whole = False
        if not whole:
            raise FaultError(
                f"cannot write {path}: the map written did not read back whole (is the disk "
                "full?); nothing was written under that name"
            )
    return path


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 while GDAL writes.

    GDAL's bundled libtiff prints write failures (``_tiffWriteProc: No space left on
    device``) straight to the process's standard error; the caller reports them as one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def native_messages_silenced() -> Iterator[None]:
    """Silence what native libraries print on file descriptor 2; Python's output stays.

    For long writes done through GDAL (a whole sample dataset): its bundled libtiff prints
    write failures straight to the process's standard error, while the failure itself is
    raised and reported as one line. Python's ``sys.stderr`` (progress lines, the error
    line) is moved to a copy of the original descriptor, so it still reaches the user. When
    ``sys.stderr`` is not the process's descriptor 2 (a test runner capturing it), only
    descriptor 2 is silenced.
    """
    try:
        is_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        is_fd2 = False
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    original = sys.stderr
    replacement = None
    try:
        if is_fd2:
            replacement = os.fdopen(
                os.dup(saved), "w", buffering=1, encoding=original.encoding,
                errors=original.errors,
            )  # fmt: skip
            sys.stderr = replacement
        os.dup2(devnull, 2)
        yield
    finally:
        if replacement is not None:
            replacement.flush()
            sys.stderr = original
            replacement.close()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporary files left beside ``path`` by interrupted writes of it.

    :func:`flair_hdbscan.atomic.atomic_path` names them ``.<name>.<random><suffix>``.
    """
    path = Path(path)
    pattern = glob.escape(str(path.parent / f".{path.name}.")) + "*"
    return [Path(p) for p in glob.glob(pattern)]


def read_uint8_tif(
    path: Path, *, what: str, count: int, indexes: int | list[int] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a uint8 GeoTIFF of ``count`` bands.

    Args:
        path: the file.
        what: its role, for messages.
        count: expected number of bands.
        indexes: bands to read as rasterio's ``read`` takes them (None: all; ``[]``:
            none, only the header is checked).

    Returns:
        ``(pixels, profile)``: pixels as rasterio returns them (an empty array for
        ``indexes=[]``); profile ``{"crs", "transform", "width", "height"}``.

    Raises:
        DataError: if the file is unreadable, truncated or corrupt, not ``count`` bands of
            uint8, or claims more than 10,000 × 10,000 pixels.
    """
    import rasterio
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as src:
            if src.count != count:
                raise DataError(
                    f"{path} has {src.count} bands, a FLAIR #2 {what} has {count}: "
                    f"is it a FLAIR #2 file?"
                )
            if any(dt != "uint8" for dt in src.dtypes):
                raise DataError(
                    f"{path} is {src.dtypes[0]}, a FLAIR #2 {what} is uint8: is it a FLAIR #2 file?"
                )
            if src.width * src.height > _MAX_PIXELS:
                raise DataError(
                    f"{path} claims {src.width}×{src.height} pixels; a FLAIR #2 {what} is "
                    "512×512: is it a FLAIR #2 file?"
                )
            if indexes == []:
                pixels = np.empty((0, src.height, src.width), dtype=np.uint8)
            else:
                pixels = src.read(indexes)
            profile = {
                "crs": src.crs,
                "transform": src.transform,
                "width": src.width,
                "height": src.height,
            }
    except (RasterioError, CPLE_BaseError) as exc:
        # rasterio's read errors say "see previous exception": GDAL's reason is the cause
        cause = exc.__cause__ if isinstance(exc.__cause__, CPLE_BaseError) else exc
        reason = " ".join(str(cause).split()).replace(f"'{path}'", "the file")
        raise DataError(
            f"cannot read {what} {path} ({reason}): is the file truncated or corrupt? "
            f"extract it again"
        ) from None
    return pixels, profile
