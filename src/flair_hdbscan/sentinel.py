"""Sentinel-2 super areas: dates, super-patch crop, clouds, composites, aerial grid.

Product dates, the super-patch crop, the cloud filter, the median composite, the aerial footprint
and resampling onto the aerial grid, as pure functions over arrays;
:mod:`flair_hdbscan.dataset` does the file reading.

Geometry (see ``docs/architecture.md``): a super patch of ``size`` Sentinel pixels takes rows
``row - size//2 … row - size//2 + size`` (exclusive end) of the super area, and the same for
columns. In the crop's continuous coordinates (pixel ``k`` spans ``[k, k + 1)``, its centre is
``k + 0.5``) the aerial patch is centred on ``(size // 2, size // 2)``, the top-left corner of
the centroid's pixel (which the crop puts at index ``size // 2``, whatever the parity of
``size``), and spans ``512 × 0.2 m / 10 m = 10.24`` Sentinel pixels.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import numpy as np

from flair_hdbscan.errors import DataError, OptionError

__all__ = [
    "REFERENCE_NOTEBOOK_THRESHOLDS",
    "REFERENCE_TRAINING_THRESHOLDS",
    "S2_BANDS",
    "clear_dates",
    "crop",
    "footprint",
    "grid_window",
    "median_composite",
    "product_date",
    "read_products",
    "to_aerial_grid",
]

logger = logging.getLogger(__name__)

#: Bands of ``data.npy``, in storage order (blue first).
S2_BANDS: tuple[str, ...] = (
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B11",
    "B12",
)

#: ``(area_threshold, proba_threshold)`` of the FLAIR #2 reference training code.
REFERENCE_TRAINING_THRESHOLDS: tuple[float, int] = (0.5, 60)
#: ``(area_threshold, proba_threshold)`` of the FLAIR #2 reference notebook.
REFERENCE_NOTEBOOK_THRESHOLDS: tuple[float, int] = (0.2, 20)

_DATE_SLICE = slice(11, 19)


def product_date(name: str) -> datetime.date:
    """Acquisition date of a Sentinel-2 product name.

    Args:
        name: product name such as ``S2A_MSIL2A_20210415T105021_N0300_...``; characters
            11..18 (0-based) hold the date as ``YYYYMMDD``.

    Returns:
        The acquisition date.

    Raises:
        DataError: if those characters are not a valid ``YYYYMMDD`` date.
    """
    text = name[_DATE_SLICE]
    if len(text) != 8 or not text.isdigit():
        raise DataError(
            f"cannot read a date from Sentinel-2 product name {name!r}: characters 12-19 "
            f"should be YYYYMMDD as in S2A_MSIL2A_20210415T105021_..."
        )
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise DataError(
            f"invalid date {text!r} in Sentinel-2 product name {name!r}: characters 12-19 "
            f"should be a real YYYYMMDD date"
        ) from None


def read_products(path: Path) -> list[datetime.date]:
    """Read the acquisition dates of a ``*_products.txt`` file.

    Args:
        path: text file with one product name a line; blank lines are skipped.

    Returns:
        One date per product line, in file order (the order of ``data.npy``'s time axis).

    Raises:
        DataError: if the file cannot be read or a line holds no date; the message names the
            file and the line number.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read Sentinel-2 products file {path}: {exc}") from None
    dates = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            dates.append(product_date(line))
        except DataError as exc:
            raise DataError(f"{path}, line {number}: {exc}") from None
    return dates


def crop(area: np.ndarray, centroid: tuple[int, int], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a super patch of ``size × size`` Sentinel pixels around a centroid.

    Only the needed window of ``area`` is read, so a memory map stays cheap.

    Args:
        area: super area ``(T, C, H, W)``, any dtype (``numpy.memmap`` welcome).
        centroid: ``(row, col)`` of the patch centre in the super area.
        size: side of the super patch in Sentinel pixels.

    Returns:
        ``(patch, valid)``: ``patch`` is a new ``(T, C, size, size)`` array of ``area``'s dtype
        holding rows ``row - size//2 … row - size//2 + size`` (same for columns), with parts
        outside the super area filled by repeating the nearest edge pixel
        (``numpy.pad(mode="edge")``); ``valid`` is ``(size, size)`` bool, True where the
        pixel lies inside the super area.

    Raises:
        ValueError: if ``area`` is not 4-D, is empty, or ``size`` < 1.
    """
    if area.ndim != 4:
        raise ValueError(f"area must be (T, C, H, W), got shape {area.shape}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    height, width = area.shape[-2:]
    if height == 0 or width == 0:
        raise ValueError(f"area has no pixels: shape {area.shape}")
    row, col = int(centroid[0]), int(centroid[1])
    rows = np.arange(row - size // 2, row - size // 2 + size)
    cols = np.arange(col - size // 2, col - size // 2 + size)
    rows_in = (rows >= 0) & (rows < height)
    cols_in = (cols >= 0) & (cols < width)
    rows_c = np.clip(rows, 0, height - 1)
    cols_c = np.clip(cols, 0, width - 1)
    r0, r1 = int(rows_c[0]), int(rows_c[-1]) + 1
    c0, c1 = int(cols_c[0]), int(cols_c[-1]) + 1
    window = np.asarray(area[:, :, r0:r1, c0:c1])
    patch = window[:, :, rows_c - r0][:, :, :, cols_c - c0]
    valid = rows_in[:, None] & cols_in[None, :]
    return np.ascontiguousarray(patch), valid


def clear_dates(
    masks: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    area_threshold: float = 0.5,
    proba_threshold: int = 60,
) -> np.ndarray:
    """Which dates of a super patch are clear of snow and cloud.

    As the FLAIR #2 reference ``filter_dates``: a date's cover is the number of pixels whose
    snow probability is at least ``proba_threshold`` plus the number whose cloud
    probability is, divided by the number of pixels (so a pixel both snowy and cloudy
    counts twice). The date is kept when ``cover < area_threshold``.

    Only the pixels of the super area count: with ``valid`` (the mask :func:`crop` returns),
    the edge-padded copies of a crop that runs outside the super area are left out of both
    counts. The reference crops with a plain slice, which keeps exactly those pixels, so its
    kept dates equal these wherever its slice is not empty.

    Both thresholds are options because the reference sources disagree: the reference
    training code uses ``area_threshold=0.5, proba_threshold=60`` (the defaults here,
    :data:`REFERENCE_TRAINING_THRESHOLDS`), the reference notebook ``0.2, 20``
    (:data:`REFERENCE_NOTEBOOK_THRESHOLDS`).

    Args:
        masks: ``(T, 2, H, W)`` uint8 probabilities 0..100, channels (snow, cloud).
        valid: ``(H, W)`` bool, True for the pixels inside the super area; None counts every
            pixel.
        area_threshold: fraction of the pixels above which a date is dropped.
        proba_threshold: probability (0..100) from which a pixel counts as snow/cloud.

    Returns:
        ``(T,)`` bool, True for the dates to keep; all False when no pixel counts.

    Raises:
        ValueError: if ``masks`` is not ``(T, 2, H, W)`` or ``valid`` is not ``(H, W)``.
    """
    masks = np.asarray(masks)
    if masks.ndim != 4 or masks.shape[1] != 2:
        raise ValueError(f"masks must be (T, 2, H, W), got shape {masks.shape}")
    covered = masks >= proba_threshold
    if valid is None:
        n_pixels = masks.shape[2] * masks.shape[3]
    else:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != masks.shape[2:]:
            raise ValueError(f"valid must be {masks.shape[2:]}, got shape {valid.shape}")
        n_pixels = int(valid.sum())
        covered = covered & valid
    if n_pixels == 0:
        return np.zeros(masks.shape[0], dtype=bool)
    counts = np.count_nonzero(covered, axis=(1, 2, 3))
    return counts / n_pixels < area_threshold


def footprint(
    size: int,
    *,
    aerial_pixels: int = 512,
    aerial_resolution: float = 0.2,
    sentinel_resolution: float = 10.0,
) -> tuple[float, float, float, float]:
    """Footprint of the aerial patch in a super patch, in continuous crop coordinates.

    Args:
        size: side of the super patch in Sentinel pixels.
        aerial_pixels: side of the aerial patch in aerial pixels.
        aerial_resolution: aerial pixel size in metres.
        sentinel_resolution: Sentinel-2 pixel size in metres.

    Returns:
        ``(row0, col0, row1, col1)``: the aerial patch spans ``[row0, row1) × [col0, col1)``,
        centred on ``(size // 2, size // 2)``, the top-left corner of the centroid's pixel in
        a :func:`crop` of side ``size`` (odd sizes included); ``row1 - row0`` is 10.24 for
        FLAIR.
    """
    half = aerial_pixels * aerial_resolution / sentinel_resolution / 2
    centre = float(size // 2)
    return (centre - half, centre - half, centre + half, centre + half)


def _sample_positions(
    size: int, aerial_pixels: int, aerial_resolution: float, sentinel_resolution: float
) -> np.ndarray:
    """Continuous crop coordinate of the centre of each aerial pixel row, ``(n,)`` float64."""
    row0 = footprint(
        size,
        aerial_pixels=aerial_pixels,
        aerial_resolution=aerial_resolution,
        sentinel_resolution=sentinel_resolution,
    )[0]
    step = aerial_resolution / sentinel_resolution
    return row0 + (np.arange(aerial_pixels) + 0.5) * step


def _read_indices(
    size: int, pos: np.ndarray, method: str
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The Sentinel pixels (along one axis) each position reads, and bilinear weights.

    Returns:
        ``[idx]`` and None for ``"nearest"``; ``[i0, i1]`` and ``w`` (float32, the weight of
        ``i1``) for ``"bilinear"``.
    """
    if method not in ("nearest", "bilinear"):
        raise OptionError(f"unknown resampling method {method!r}: use 'nearest' or 'bilinear'")
    if method == "nearest":
        return [np.clip(np.floor(pos).astype(np.intp), 0, size - 1)], None
    t = pos - 0.5
    k0 = np.floor(t).astype(np.intp)
    w = (t - k0).astype(np.float32)
    return [np.clip(k0, 0, size - 1), np.clip(k0 + 1, 0, size - 1)], w


def grid_window(
    size: int,
    *,
    method: str = "nearest",
    aerial_pixels: int = 512,
    aerial_resolution: float = 0.2,
    sentinel_resolution: float = 10.0,
) -> slice:
    """The Sentinel rows of a super patch that :func:`to_aerial_grid` reads (its columns too).

    11 to 13 of the 40 rows of a default super patch: the composite is needed there only
    (:func:`median_composite`'s ``window``). Arguments as :func:`to_aerial_grid`'s.
    """
    pos = _sample_positions(size, aerial_pixels, aerial_resolution, sentinel_resolution)
    read, _ = _read_indices(size, pos, method)
    return slice(int(min(r.min() for r in read)), int(max(r.max() for r in read)) + 1)


def to_aerial_grid(
    image: np.ndarray,
    size: int,
    *,
    method: str = "nearest",
    aerial_pixels: int = 512,
    aerial_resolution: float = 0.2,
    sentinel_resolution: float = 10.0,
    stride: int = 1,
) -> np.ndarray:
    """Resample a super patch onto the aerial patch's pixel grid.

    Aerial pixel ``i`` has its centre at ``size // 2 - 5.12 + (i + 0.5) * 0.02`` in the crop's
    continuous coordinates (FLAIR values), along rows and along columns.

    Args:
        image: ``(C, size, size)`` values of a super patch (e.g. a composite).
        size: side of the super patch; must match ``image``.
        method: ``"nearest"`` takes the Sentinel pixel containing the aerial pixel centre
            (``floor``); ``"bilinear"`` interpolates linearly between Sentinel pixel centres
            (at ``k + 0.5``), separably along rows then columns, clamping at the edges.
        aerial_pixels: side of the aerial patch in aerial pixels.
        aerial_resolution: aerial pixel size in metres.
        sentinel_resolution: Sentinel-2 pixel size in metres.
        stride: keep every ``stride``-th aerial pixel along each axis, starting at 0: the full
            grid's values at those pixels (each output pixel depends on its position only).

    Returns:
        ``(C, n, n)`` float32, ``n = ceil(aerial_pixels / stride)``.

    Raises:
        OptionError: if ``method`` is unknown.
        ValueError: if ``image`` is not ``(C, size, size)``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[1:] != (size, size):
        raise ValueError(f"image must be (C, {size}, {size}), got shape {image.shape}")
    pos = _sample_positions(size, aerial_pixels, aerial_resolution, sentinel_resolution)
    image = image.astype(np.float32, copy=False)
    read, w = _read_indices(size, pos[::stride], method)
    if w is None:
        (idx,) = read
        return np.ascontiguousarray(image[:, idx][:, :, idx], dtype=np.float32)
    i0, i1 = read
    rows = image[:, i0, :] * (1 - w)[None, :, None] + image[:, i1, :] * w[None, :, None]
    out = rows[:, :, i0] * (1 - w)[None, None, :] + rows[:, :, i1] * w[None, None, :]
    return np.ascontiguousarray(out, dtype=np.float32)


def median_composite(
    data: np.ndarray,
    masks: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    area_threshold: float = 0.5,
    proba_threshold: int = 60,
    window: slice | None = None,
) -> np.ndarray:
    """Per-band median over the clear dates of a super patch.

    Args:
        data: ``(T, 10, s, s)`` uint16 reflectance (stored L2A values).
        masks: ``(T, 2, s, s)`` uint8 snow and cloud probabilities.
        valid: ``(s, s)`` bool, the pixels inside the super area (see :func:`clear_dates`);
            None counts every pixel.
        area_threshold: see :func:`clear_dates`.
        proba_threshold: see :func:`clear_dates`.
        window: compute the median only in these rows and columns (:func:`grid_window`);
            the dates are still chosen over the whole super patch. None: everywhere.

    Returns:
        ``(10, s, s)`` float32 median, in the units of ``data`` (NaN outside ``window``).
        When no date is clear, every date is used and a warning is logged.

    Raises:
        ValueError: if ``data`` and ``masks`` disagree on ``(T, s, s)`` or ``T`` is 0.
    """
    if (
        data.ndim != 4
        or masks.ndim != 4
        or ((data.shape[0], *data.shape[2:]) != (masks.shape[0], *masks.shape[2:]))
    ):
        raise ValueError(
            f"data {data.shape} and masks {masks.shape} must be (T, C, s, s) with equal T, s"
        )
    if data.shape[0] == 0:
        raise ValueError("no dates to composite")
    keep = clear_dates(
        masks, valid=valid, area_threshold=area_threshold, proba_threshold=proba_threshold
    )
    if not keep.any():
        logger.warning(
            "no clear date among %d (area_threshold=%s, proba_threshold=%s): "
            "using the median of all dates",
            keep.size,
            area_threshold,
            proba_threshold,
        )
        keep = np.ones_like(keep)
    data = np.asarray(data)
    if window is None:
        return np.median(data[keep].astype(np.float32), axis=0).astype(np.float32)
    out = np.full(data.shape[1:], np.nan, dtype=np.float32)  # each cell's median is its own
    part = data[:, :, window, window][keep].astype(np.float32)
    out[:, window, window] = np.median(part, axis=0)
    return out
