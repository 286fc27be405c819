"""Figures of whole patches: every patch beside its mask, the patches holding one class."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from flair_hdbscan.errors import OptionError
from flair_hdbscan.nomenclature import FULL_CLASSES
from flair_hdbscan.plots._colour import _highlight, aerial_rgb, colourize
from flair_hdbscan.plots._figure import _grid, _mask_legend, _patch_grid, _require_patches

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.nomenclature import ClassInfo

__all__ = ["plot_all_patches", "plot_class_patches", "share_label"]

logger = logging.getLogger(__name__)


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
