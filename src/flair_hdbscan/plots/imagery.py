"""Figures of the dataset's images: samples, Sentinel-2 time series, class patches, all patches.

Each ``plot_*`` function takes a :class:`~flair_hdbscan.dataset.FlairDataset`, draws some of
its aerial patches, masks or Sentinel-2 super areas and returns the matplotlib
:class:`~matplotlib.figure.Figure`. Which patches, dates and areas to draw is chosen by the
pure helpers at the top of this module (:func:`cloud_cover`, ...), kept apart from the
drawing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan.errors import OptionError
from flair_hdbscan.nomenclature import FULL_CLASSES
from flair_hdbscan.plots._colour import (
    _highlight,
    aerial_rgb,
    colourize,
    sentinel_rgb,
    stretch,
    stretch_limits,
)
from flair_hdbscan.plots._figure import _grid, _legend_handles, _patch_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.nomenclature import ClassInfo

__all__ = [
    "cloud_cover",
    "plot_all_patches",
    "plot_class_patches",
    "plot_samples",
    "plot_time_series",
    "share_label",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# What to draw: pure helpers
# --------------------------------------------------------------------------------------------


def cloud_cover(masks: np.ndarray, proba_threshold: int = 20) -> np.ndarray:
    """Fraction of each date's pixels flagged as snow or cloud, as the reference filter counts.

    Args:
        masks: ``(T, 2, H, W)`` uint8 snow and cloud probabilities 0..100.
        proba_threshold: probability from which a pixel counts as snow/cloud.

    Returns:
        ``(T,)`` float64; a pixel both snowy and cloudy counts twice (as in
        :func:`flair_hdbscan.sentinel.clear_dates`).
    """
    masks = np.asarray(masks)
    n_pixels = max(masks.shape[2] * masks.shape[3], 1)
    return np.count_nonzero(masks >= proba_threshold, axis=(1, 2, 3)) / n_pixels


def _clearest_date(masks: np.ndarray, proba_threshold: int = 20) -> int:
    """Index of the date with the least snow/cloud cover in ``(T, 2, H, W)`` masks."""
    return int(np.argmin(cloud_cover(masks, proba_threshold)))


def _pick_indices(n_total: int, indices: Sequence[int] | None, n: int, seed: int) -> list[int]:
    """The patches to draw: ``indices`` checked, or ``n`` distinct ones drawn at random.

    Args:
        n_total: number of patches of the dataset.
        indices: patches asked for, in the order given (checked against ``n_total``).
        n: number of random patches when ``indices`` is None.
        seed: seed of the random choice.

    Returns:
        Patch indices; the random ones sorted.

    Raises:
        OptionError: if an index is out of range, or ``n`` < 1 when drawing at random.
    """
    if indices is not None:
        chosen = [int(i) for i in indices]
        bad = [i for i in chosen if not 0 <= i < n_total]
        if bad:
            raise OptionError(f"patch indices {bad} out of range: the dataset has {n_total}")
        return chosen
    if n < 1:
        raise OptionError(f"number of samples must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n_total, size=min(n, n_total), replace=False).tolist())


def _require_patches(ds: FlairDataset) -> None:
    """Raise :class:`OptionError` when ``ds`` holds no patch."""
    if len(ds) == 0:
        raise OptionError("the dataset holds no patch: nothing to draw")


def _class_info(semantic_class: int) -> ClassInfo:
    """The full-nomenclature class stored as ``semantic_class`` (1..19).

    Raises:
        OptionError: if no class has that value.
    """
    for info in FULL_CLASSES:
        if info.value == semantic_class:
            return info
    raise OptionError(
        f"unknown class {semantic_class}: use a full-nomenclature value 1..19 "
        f"(1 building, 5 water, ...; see `flair-hdbscan plot nomenclature`)"
    )


def share_label(n_pixels: int, total: int) -> str:
    """A class's share of a patch, never rounded to zero when present.

    Args:
        n_pixels: pixels of the class.
        total: pixels of the patch.

    Returns:
        ``"37 %"``, ``"2.4 %"``, ``"0.05 %"`` or ``"<0.01 %"``: two significant digits below
        10 %, whole percents above; ``"0 %"`` only when ``n_pixels`` is 0.

    Raises:
        ValueError: if ``total`` < 1 or ``n_pixels`` is not in ``0..total``.
    """
    if total < 1 or not 0 <= n_pixels <= total:
        raise ValueError(f"cannot share {n_pixels} pixels of {total}")
    percent = 100.0 * n_pixels / total
    if n_pixels == 0:
        return "0 %"
    if percent < 0.01:
        return "<0.01 %"
    if percent >= 10:
        return f"{percent:.0f} %"
    return f"{percent:.2g} %"


def _mask_legend(fig: Figure, values: set[int], title: str = "mask classes") -> None:
    """A figure legend with one entry per full-nomenclature class in ``values``, right side."""
    handles = _legend_handles(False, sorted(values))
    if handles:
        fig.legend(
            handles=handles,
            loc="outside right upper",
            title=title,
            fontsize=8,
            title_fontsize=9,
            frameon=False,
        )


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _footprint_rectangle(size: int, **kwargs: Any) -> Rectangle:
    """Outline of the aerial footprint in a ``size × size`` super patch's pixel coordinates.

    Args:
        size: side of the super patch in Sentinel pixels.
        **kwargs: styling passed on to :class:`~matplotlib.patches.Rectangle`.

    Returns:
        An unfilled rectangle (see :func:`flair_hdbscan.sentinel.footprint`).
    """
    from matplotlib.patches import Rectangle

    from flair_hdbscan.sentinel import footprint

    row0, col0, row1, col1 = footprint(size)
    return Rectangle((col0, row0), col1 - col0, row1 - row0, fill=False, **kwargs)


def plot_samples(
    ds: FlairDataset,
    indices: Sequence[int] | None = None,
    n: int = 2,
    seed: int = 0,
    size: int = 40,
) -> Figure:
    """Random patches with their mask and their place in the Sentinel-2 super area.

    One row per patch, six panels: aerial RGB; mask in the full nomenclature's colours;
    mask over RGB; the Sentinel-2 super area (B04, B03, B02, contrast-stretched) of the
    clearest date of the super patch, with the super patch as a rectangle; the super patch
    with the aerial footprint as a rectangle (10.24 Sentinel pixels wide, centred on
    ``size // 2``, see :func:`flair_hdbscan.sentinel.footprint`), pixels padded outside the
    super area washed out; the Sentinel-2 pixels under the footprint. Sentinel panels are
    drawn in the crop's continuous coordinates (pixel ``k`` spans ``[k, k + 1)``). A legend
    names the classes of the drawn masks.

    Args:
        ds: the dataset.
        indices: patches to draw; by default ``n`` distinct patches drawn at random.
        n: number of random patches when ``indices`` is None.
        seed: seed of the random choice.
        size: side of the super patch in Sentinel pixels.

    Returns:
        Figure with ``6 × len(indices)`` axes and a legend of the classes in their masks.

    Raises:
        OptionError: if the dataset is empty, an index is out of range or ``size`` < 1.
    """
    from matplotlib.patches import Rectangle

    from flair_hdbscan.sentinel import footprint

    _require_patches(ds)
    if size < 1:
        raise OptionError(f"super patch size must be at least 1 Sentinel pixel, got {size}")
    chosen = _pick_indices(len(ds), indices, n, seed)
    fig, axes = _grid(len(chosen), 6, cell=2.8)
    row0, col0, row1, col1 = footprint(size)
    in_masks: set[int] = set()
    for r, index in enumerate(chosen):
        patch = ds.patches[index]
        rgb = aerial_rgb(ds.read_image(index))
        mask = ds.read_mask(index)
        in_masks.update(int(v) for v in np.unique(mask))
        mask_rgb = colourize(mask)
        super_patch = ds.read_sentinel(index, size=size)
        t = _clearest_date(super_patch.masks)
        area_rgb = sentinel_rgb(np.load(patch.sen_data, mmap_mode="r")[t])
        limits = stretch_limits(area_rgb)
        sp_rgb = sentinel_rgb(super_patch.data[t])
        sp_image = stretch(sp_rgb, limits)
        # pixels outside the super area are edge-padded copies: wash them out
        sp_image[~super_patch.valid] = 0.35 * sp_image[~super_patch.valid] + 0.65
        height, width = area_rgb.shape[:2]
        date = super_patch.dates[t].isoformat()

        ax = axes[r, 0]
        ax.imshow(rgb)
        ax.set_title(f"IMG_{patch.patch_id} RGB")
        ax.set_ylabel(f"{patch.domain}\n{patch.zone}", fontsize=8)
        axes[r, 1].imshow(mask_rgb, interpolation="nearest")
        axes[r, 1].set_title("mask (19 classes)")
        axes[r, 2].imshow(rgb)
        axes[r, 2].imshow(mask_rgb, alpha=0.45, interpolation="nearest")
        axes[r, 2].set_title("mask over RGB")

        ax = axes[r, 3]
        ax.imshow(stretch(area_rgb, limits), extent=(0, width, height, 0))
        c_row, c_col = patch.centroid
        ax.add_patch(
            Rectangle(
                (c_col - size // 2, c_row - size // 2),
                size,
                size,
                fill=False,
                edgecolor="red",
                linewidth=1.2,
            )
        )
        ax.set_title(f"S2 super area {date}", fontsize=9)

        ax = axes[r, 4]
        ax.imshow(sp_image, extent=(0, size, size, 0), interpolation="nearest")
        ax.add_patch(_footprint_rectangle(size, edgecolor="red", linewidth=1.2))
        ax.set_title(f"super patch {size}×{size}", fontsize=9)

        ax = axes[r, 5]
        r_lo, r_hi = max(0, math.floor(row0)), min(size, math.ceil(row1))
        c_lo, c_hi = max(0, math.floor(col0)), min(size, math.ceil(col1))
        cut = sp_image[r_lo:r_hi, c_lo:c_hi]
        ax.imshow(cut, extent=(c_lo, c_hi, r_hi, r_lo), interpolation="nearest")
        ax.set_xlim(col0, col1)
        ax.set_ylim(row1, row0)
        ax.set_title(f"patch ({col1 - col0:.2f} px)", fontsize=9)
    _mask_legend(fig, in_masks)
    return fig


def plot_time_series(
    ds: FlairDataset,
    n_areas: int = 3,
    n_dates: int = 6,
    seed: int = 0,
    area_threshold: float = 0.2,
    proba_threshold: int = 20,
) -> Figure:
    """Clear dates of Sentinel-2 super areas (B04, B03, B02), the date as title.

    Dates are filtered as the reference notebook does (thresholds are options, see
    :func:`flair_hdbscan.sentinel.clear_dates`) over the whole super area, and ``n_dates`` of
    the clear ones are drawn, evenly spread over the year. When an area keeps fewer clear
    dates, the remaining axes of its row are left off and a note says how many remained.

    Args:
        ds: the dataset.
        n_areas: number of distinct super areas (domain/zone), drawn at random.
        n_dates: number of dates per area.
        seed: seed of the random choice of areas.
        area_threshold: fraction of the area above which a date is dropped.
        proba_threshold: probability (0..100) from which a pixel counts as snow/cloud.

    Returns:
        Figure with ``n_areas × n_dates`` axes (fewer rows if the dataset has fewer areas).

    Raises:
        OptionError: if the dataset is empty or ``n_areas`` / ``n_dates`` < 1.
    """
    from flair_hdbscan.sentinel import clear_dates, read_products

    _require_patches(ds)
    if n_areas < 1 or n_dates < 1:
        raise OptionError(f"n_areas and n_dates must be at least 1, got {n_areas} and {n_dates}")
    first_patch: dict[str, int] = {}
    for index, patch in enumerate(ds.patches):
        first_patch.setdefault(str(patch.sen_data), index)
    areas = list(first_patch.values())
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(areas), size=min(n_areas, len(areas)), replace=False))
    fig, axes = _grid(len(chosen), n_dates, cell=2.5)
    for r, k in enumerate(chosen):
        patch = ds.patches[areas[int(k)]]
        data = np.load(patch.sen_data, mmap_mode="r")
        masks = np.load(patch.sen_masks, mmap_mode="r")
        dates = read_products(patch.sen_products)
        keep = np.flatnonzero(
            clear_dates(masks, area_threshold=area_threshold, proba_threshold=proba_threshold)
        )
        if keep.size > n_dates:
            keep = keep[np.round(np.linspace(0, keep.size - 1, n_dates)).astype(np.intp)]
        axes[r, 0].set_ylabel(f"{patch.domain}\n{patch.zone}", fontsize=8)
        for c, t in enumerate(keep):
            ax = axes[r, c]
            ax.imshow(stretch(sentinel_rgb(data[t])), interpolation="nearest")
            ax.set_title(dates[t].isoformat() if t < len(dates) else f"date {t}", fontsize=9)
        for c in range(keep.size, n_dates):
            axes[r, c].set_axis_off()
        if keep.size < n_dates:
            note_ax = axes[r, keep.size]
            note_ax.text(
                0.5,
                0.5,
                f"{keep.size} clear date{'s' if keep.size != 1 else ''} of {len(masks)}\n"
                f"(cover < {area_threshold:g} at p ≥ {proba_threshold})",
                ha="center",
                va="center",
                transform=note_ax.transAxes,
                fontsize=9,
            )
    fig.suptitle(
        f"Sentinel-2 clear dates (snow/cloud cover < {area_threshold:g}, "
        f"probability ≥ {proba_threshold})"
    )
    return fig


def plot_class_patches(
    ds: FlairDataset,
    semantic_class: int = 1,
    max_patches: int | None = None,
    min_pixels: int = 1,
) -> Figure:
    """Every patch holding a class of the full nomenclature, the class highlighted over RGB.

    A patch is listed when its mask holds at least ``min_pixels`` pixels of the class (one,
    as the reference notebook's ``display_all_with_semantic_class``), and titled with the
    class's share (:func:`share_label`, never "0 %") and pixel count.

    Args:
        ds: the dataset.
        semantic_class: full-nomenclature value 1..19 (1 building, 5 water, ...).
        max_patches: stop after this many matching patches (default: all).
        min_pixels: least number of pixels of the class for a patch to be listed.

    Returns:
        Figure with one panel per matching patch and a legend entry for the class, or a
        single panel with a note when no patch holds the class.

    Raises:
        OptionError: if ``semantic_class`` is not 1..19, ``max_patches`` < 1 or
            ``min_pixels`` < 1.
    """
    info = _class_info(int(semantic_class))
    if max_patches is not None and max_patches < 1:
        raise OptionError(f"max_patches must be at least 1, got {max_patches}")
    if min_pixels < 1:
        raise OptionError(f"min_pixels must be at least 1, got {min_pixels}")
    found: list[tuple[int, int, int]] = []
    for index in range(len(ds)):
        mask = ds.read_mask(index)
        count = int(np.count_nonzero(mask == info.value))
        if count >= min_pixels:
            found.append((index, count, mask.size))
            if max_patches is not None and len(found) >= max_patches:
                break
    logger.info("%d patches hold class %d (%s)", len(found), info.value, info.name)
    fig, axes = _patch_grid(max(len(found), 1), 5, cell=3.0)
    if not found:
        ax = axes[0, 0]
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"no patch holds class {info.value} ({info.name})",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    for ax, (index, count, total) in zip(axes.flat, found, strict=False):
        rgb = aerial_rgb(ds.read_image(index))
        where = ds.read_mask(index) == info.value
        ax.imshow(_highlight(rgb, where, info.colour))
        ax.set_title(
            f"IMG_{ds.patches[index].patch_id}: {share_label(count, total)} ({count:,} px)",
            fontsize=9,
        )
    if found:
        _mask_legend(fig, {info.value}, title="highlighted")
    fig.suptitle(f"Patches with class {info.value} ({info.name})\nhighlighted in its colour")
    return fig


def plot_all_patches(ds: FlairDataset, max_patches: int | None = None) -> Figure:
    """Every patch beside its mask (full nomenclature colours).

    Args:
        ds: the dataset.
        max_patches: draw only the first ``max_patches`` patches (default: all).

    Returns:
        Figure with two panels per patch: RGB titled with the patch id, then its mask; a
        legend names the classes of the drawn masks.

    Raises:
        OptionError: if the dataset is empty or ``max_patches`` < 1.
    """
    _require_patches(ds)
    if max_patches is not None and max_patches < 1:
        raise OptionError(f"max_patches must be at least 1, got {max_patches}")
    count = len(ds) if max_patches is None else min(len(ds), max_patches)
    pairs_per_row = 4
    n_rows = math.ceil(count / pairs_per_row)
    fig, axes = _grid(n_rows, 2 * min(pairs_per_row, count), cell=2.2)
    flat = axes.reshape(-1, 2)
    in_masks: set[int] = set()
    for (ax_img, ax_msk), index in zip(flat, range(count), strict=False):
        ax_img.imshow(aerial_rgb(ds.read_image(index)))
        ax_img.set_title(f"IMG_{ds.patches[index].patch_id}", fontsize=8)
        mask = ds.read_mask(index)
        in_masks.update(int(v) for v in np.unique(mask))
        ax_msk.imshow(colourize(mask), interpolation="nearest")
        ax_msk.set_title(f"MSK_{ds.patches[index].patch_id}", fontsize=8)
    for ax_img, ax_msk in flat[count:]:
        ax_img.set_axis_off()
        ax_msk.set_axis_off()
    _mask_legend(fig, in_masks)
    return fig
