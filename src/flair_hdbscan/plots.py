"""Every figure of the study: nomenclature, samples, time series, data exploration, scores.

Each public ``plot_*`` function takes data (a :class:`~flair_hdbscan.dataset.FlairDataset`, a
pixel table, a confusion matrix or the results dictionary), draws it and returns the matplotlib
:class:`~matplotlib.figure.Figure`. Functions that draw a single panel accept ``ax=None`` and
draw into ``ax`` when given. None calls ``plt.show()``: save with :func:`save_figure`, or let a
notebook display the returned figure. Matplotlib is imported inside the functions, so that
importing this module stays cheap.

What to draw is computed by small pure helpers (:func:`colourize`, :func:`stretch`,
:func:`row_normalize`, :func:`normalize_spectra`, :func:`results_table`, ...) kept apart from
the drawing, so they can be used and tested without a figure.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan.errors import OptionError
from flair_hdbscan.nomenclature import (
    FULL_CLASSES,
    IGNORE,
    N_CLASSES,
    REDUCED_COLOURS,
    REDUCED_NAMES,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from flair_hdbscan.dataset import FlairDataset

__all__ = [
    "FEATURE_OPTIONS",
    "SEED_CHANNELS",
    "class_shares",
    "colourize",
    "normalize_spectra",
    "plot_all_patches",
    "plot_channel_by_class",
    "plot_class_distribution",
    "plot_class_patches",
    "plot_confusion",
    "plot_nomenclature",
    "plot_normalization_scatter",
    "plot_prediction_maps",
    "plot_results",
    "plot_samples",
    "plot_time_series",
    "resolve_channel",
    "results_table",
    "row_normalize",
    "save_figure",
    "stretch",
]

logger = logging.getLogger(__name__)

#: Channel numbers of the seed notebook (``box_whisker_by_class(dataframe, config, 4)``,
#: ``display_normalization_scatter(..., channel1=2, channel2=3)``), mapped to the column names
#: of a pixel feature table: Blue=1, Green=2, Red=3, NIR=4, the ten Sentinel-2 bands B02 … B12
#: as 5..14, Elevation=15.
SEED_CHANNELS: dict[int, str] = {
    1: "blue",
    2: "green",
    3: "red",
    4: "nir",
    5: "s2_b02",
    6: "s2_b03",
    7: "s2_b04",
    8: "s2_b05",
    9: "s2_b06",
    10: "s2_b07",
    11: "s2_b08",
    12: "s2_b8a",
    13: "s2_b11",
    14: "s2_b12",
    15: "elevation",
}

#: Feature options of the study, in the order of the results chart (x axis). An experiment's
#: option is its name without the method prefix (``knn-robust`` → ``robust``), ``raw`` when
#: nothing is left.
FEATURE_OPTIONS: tuple[str, ...] = (
    "raw",
    "normalized",
    "normalized-no-intensity",
    "robust",
    "robust-normalized",
    "satellite",
    "satellite-normalized",
    "satellite-robust",
)

#: Columns of a pixel table that are spectra (Sentinel-2 columns, ``s2_*``, also count).
_AERIAL_SPECTRAL = ("red", "green", "blue", "nir")
#: Colour of "no data" (mask value 0 / reduced ``IGNORE``) in label maps.
_NO_DATA_COLOUR = "#808080"
_FIGURE_SUFFIXES = (".png", ".svg")
_METHOD_LABELS = {"knn": "kNN", "hdbscan": "HDBSCAN"}
_METHOD_COLOURS = {"knn": "#4c72b0", "hdbscan": "#dd8452"}


# --------------------------------------------------------------------------------------------
# What to draw: pure helpers
# --------------------------------------------------------------------------------------------


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _lookup_table(reduced: bool) -> np.ndarray:
    """``(256, 3) uint8`` colour of every stored label value (grey where undefined)."""
    lut = np.tile(np.array(_hex_to_rgb(_NO_DATA_COLOUR), dtype=np.uint8), (256, 1))
    if reduced:
        for k, colour in enumerate(REDUCED_COLOURS):
            lut[k] = _hex_to_rgb(colour)
    else:
        for info in FULL_CLASSES:
            lut[info.value] = _hex_to_rgb(info.colour)
    return lut


def colourize(labels: np.ndarray, *, reduced: bool = False) -> np.ndarray:
    """Paint a label map with FLAIR's class colours.

    Args:
        labels: ``(H, W)`` uint8 labels: full nomenclature 1..19 (0 = no data) when
            ``reduced`` is False, reduced classes 0..12 (255 = no data) when True.
        reduced: which nomenclature ``labels`` holds.

    Returns:
        ``(H, W, 3)`` uint8 RGB image; pixels without data, or with a value outside the
        nomenclature, are grey.
    """
    labels = np.asarray(labels)
    if labels.dtype != np.uint8:
        labels = np.clip(labels, 0, 255).astype(np.uint8)
    return _lookup_table(reduced)[labels]


def aerial_rgb(image: np.ndarray) -> np.ndarray:
    """True-colour view of an aerial patch.

    Args:
        image: ``(5, H, W)`` uint8 aerial patch (red, green, blue, NIR, elevation).

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    return np.ascontiguousarray(np.moveaxis(np.asarray(image)[:3], 0, -1))


def stretch(
    rgb: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray] | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> np.ndarray:
    """Linear contrast stretch of a multi-band image to ``[0, 1]``.

    Args:
        rgb: ``(H, W, C)`` values of any numeric dtype (e.g. Sentinel-2 uint16 reflectance).
        limits: ``(low, high)``, each ``(C,)``, to apply; by default the ``percentiles`` of
            each band of ``rgb`` (so several crops can share the limits of one image).
        percentiles: lower and upper percentiles used when ``limits`` is None.

    Returns:
        ``(H, W, C)`` float32 in ``[0, 1]``.
    """
    values = np.asarray(rgb, dtype=np.float32)
    if limits is None:
        limits = stretch_limits(values, percentiles)
    low, high = (np.asarray(v, dtype=np.float32) for v in limits)
    span = np.where(high > low, high - low, 1.0).astype(np.float32)
    return np.clip((values - low) / span, 0.0, 1.0)


def stretch_limits(
    rgb: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band percentiles of an image, for :func:`stretch`.

    Args:
        rgb: ``(H, W, C)`` values of any numeric dtype.
        percentiles: lower and upper percentiles.

    Returns:
        ``(low, high)``, each ``(C,)`` float32.
    """
    flat = np.asarray(rgb, dtype=np.float32).reshape(-1, np.shape(rgb)[-1])
    low, high = np.percentile(flat, percentiles, axis=0)
    return low.astype(np.float32), high.astype(np.float32)


def sentinel_rgb(data: np.ndarray) -> np.ndarray:
    """Natural-colour bands of one Sentinel-2 date.

    Args:
        data: ``(10, H, W)`` uint16 bands B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12.

    Returns:
        ``(H, W, 3)`` uint16 image of B04, B03, B02 (red, green, blue).
    """
    return np.ascontiguousarray(np.moveaxis(np.asarray(data)[[2, 1, 0]], 0, -1))


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


def class_shares(counts: np.ndarray) -> np.ndarray:
    """Share of each class in a pixel count.

    Args:
        counts: ``(K,)`` int64 pixel counts.

    Returns:
        ``(K,)`` float64 fractions summing to 1 (all zeros when ``counts`` sums to 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def row_normalize(cm: np.ndarray) -> np.ndarray:
    """Normalise a confusion matrix by its rows (producer's view).

    Args:
        cm: ``(K, K)`` counts, rows = truth.

    Returns:
        ``(K, K)`` float64; each row with pixels sums to 1, rows without pixels are NaN
        (computed without division warnings).
    """
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    out = np.full_like(cm, np.nan)
    np.divide(cm, totals, out=out, where=np.broadcast_to(totals > 0, cm.shape))
    return out


def resolve_channel(channel: int | str, columns: Sequence[str]) -> str:
    """Name of the table column a user means by ``channel``.

    Args:
        channel: a column name (case-insensitive, e.g. ``"nir"``, ``"s2_b08"``) or a channel
            number of the seed notebook (:data:`SEED_CHANNELS`), as int or digit string.
        columns: columns of the pixel table.

    Returns:
        The column name.

    Raises:
        OptionError: if ``channel`` is neither a known number nor a column of the table (the
            message lists the valid choices), or names a column the table lacks.
    """
    available = [c for c in columns if c != "label"]
    if isinstance(channel, (int, np.integer)) or (
        isinstance(channel, str) and channel.strip().isdigit()
    ):
        number = int(channel)
        if number not in SEED_CHANNELS:
            raise OptionError(
                f"unknown channel number {number}: use 1..15 (Blue=1, Green=2, Red=3, NIR=4, "
                f"Sentinel-2 B02..B12=5..14, Elevation=15) or a column name among "
                f"{', '.join(available)}"
            )
        name = SEED_CHANNELS[number]
    else:
        name = str(channel).strip().lower()
    if name not in available:
        numbers = [str(k) for k, v in SEED_CHANNELS.items() if v in available]
        shown = f"{channel!r}" if str(channel).lower() == name else f"{channel!r} ({name})"
        raise OptionError(
            f"channel {shown} is not in the pixel table: use one of "
            f"{', '.join(available)} (or seed numbers {', '.join(numbers)})"
        )
    return name


def _spectral_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in _AERIAL_SPECTRAL or c.startswith("s2_")]


def normalize_spectra(table: pd.DataFrame) -> pd.DataFrame:
    """Spectral normalisation of the study (Part 5): each spectrum divided by its norm.

    Args:
        table: pixel table with spectral columns (``red``, ``green``, ``blue``, ``nir``,
            ``s2_*``), optionally ``elevation``, ``intensity`` and ``label``.

    Returns:
        A copy whose spectral columns are divided, row by row, by the Euclidean norm of the
        spectral columns present (rows of norm 0 stay 0); every other column is unchanged.

    Raises:
        OptionError: if the table holds no spectral column.
    """
    spectral = _spectral_columns(list(table.columns))
    if not spectral:
        raise OptionError(
            f"no spectral column in the pixel table (columns: {', '.join(table.columns)})"
        )
    values = table[spectral].to_numpy(dtype=np.float64)
    norm = np.linalg.norm(values, axis=1, keepdims=True)
    scaled = np.zeros_like(values)
    np.divide(values, norm, out=scaled, where=norm > 0)
    out = table.copy()
    out[spectral] = scaled
    return out


def _option_of(name: str, method: str) -> str:
    prefix = f"{method}-"
    if name == method:
        return "raw"
    return name[len(prefix) :] if name.startswith(prefix) else name


def results_table(results: dict[str, Any]) -> pd.DataFrame:
    """The experiments of a results dictionary as one row each.

    Args:
        results: the study's results (``results.json`` read as a dict) with an
            ``"experiments"`` list of dicts holding ``name``, ``method``, ``miou`` and
            optionally ``mapping``.

    Returns:
        DataFrame with columns ``name``, ``method``, ``option`` (feature option, see
        :data:`FEATURE_OPTIONS`; empty for naive baselines), ``miou`` (float, NaN when
        undefined) and ``mapping``.

    Raises:
        OptionError: if ``results`` holds no ``"experiments"`` list.
    """
    import pandas as pd

    experiments = results.get("experiments") if isinstance(results, dict) else None
    if not isinstance(experiments, list):
        raise OptionError('results hold no "experiments" list: is it a results.json of `run`?')
    rows = []
    for exp in experiments:
        method = str(exp.get("method", ""))
        name = str(exp.get("name", method))
        miou = exp.get("miou")
        rows.append(
            {
                "name": name,
                "method": method,
                "option": "" if method.startswith("naive") else _option_of(name, method),
                "miou": float("nan") if miou is None else float(miou),
                "mapping": exp.get("mapping"),
            }
        )
    return pd.DataFrame(rows, columns=["name", "method", "option", "miou", "mapping"])


def _pick_indices(n_total: int, indices: Sequence[int] | None, n: int, seed: int) -> list[int]:
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
    if len(ds) == 0:
        raise OptionError("the dataset holds no patch: nothing to draw")


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _panel(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure of ``ax``, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig, new_ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, new_ax


def _grid(n_rows: int, n_cols: int, cell: float = 3.0) -> tuple[Figure, np.ndarray]:
    fig, axes = _pyplot().subplots(
        n_rows,
        n_cols,
        figsize=(cell * n_cols, cell * n_rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def _legend_handles(reduced: bool, values: Sequence[int] | None = None) -> list:
    from matplotlib.patches import Patch

    if reduced:
        entries = list(enumerate(zip(REDUCED_NAMES, REDUCED_COLOURS, strict=True)))
    else:
        entries = [(c.value, (c.name, c.colour)) for c in FULL_CLASSES]
    if values is not None:
        keep = set(int(v) for v in values)
        entries = [e for e in entries if e[0] in keep]
    return [
        Patch(facecolor=colour, edgecolor="0.3", label=f"{value} {name}")
        for value, (name, colour) in entries
    ]


def plot_nomenclature() -> Figure:
    """Legends of the full (19 classes) and reduced (13 classes) nomenclatures side by side.

    Returns:
        Figure with two axes titled "Full nomenclature (19 classes)" and "Reduced
        nomenclature (13 classes)", each holding a legend of one coloured patch per class
        labelled with the stored value and the class name.
    """
    plt = _pyplot()
    fig, (full_ax, reduced_ax) = plt.subplots(1, 2, figsize=(9, 5.5), layout="constrained")
    for ax, reduced, title in (
        (full_ax, False, "Full nomenclature (19 classes)"),
        (reduced_ax, True, "Reduced nomenclature (13 classes)"),
    ):
        ax.set_axis_off()
        ax.set_title(title)
        ax.legend(
            handles=_legend_handles(reduced),
            loc="upper left",
            frameon=False,
            handlelength=2.5,
            handleheight=1.4,
        )
    return fig


def _footprint_rectangle(size: int, **kwargs: Any):
    from matplotlib.patches import Rectangle

    from flair_hdbscan.sentinel import footprint

    row0, col0, row1, col1 = footprint(size)
    return Rectangle((col0, row0), col1 - col0, row1 - row0, fill=False, **kwargs)


def _clearest_date(masks: np.ndarray, proba_threshold: int = 20) -> int:
    """Index of the date with the least snow/cloud cover in ``(T, 2, H, W)`` masks."""
    return int(np.argmin(cloud_cover(masks, proba_threshold)))


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
    ``size/2``), pixels padded outside the super area washed out; the Sentinel-2 pixels
    under the footprint. Sentinel panels are drawn in the
    crop's continuous coordinates (pixel ``k`` spans ``[k, k + 1)``).

    Args:
        ds: the dataset.
        indices: patches to draw; by default ``n`` distinct patches drawn at random.
        n: number of random patches when ``indices`` is None.
        seed: seed of the random choice.
        size: side of the super patch in Sentinel pixels.

    Returns:
        Figure with ``6 × len(indices)`` axes.

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
    for r, index in enumerate(chosen):
        patch = ds.patches[index]
        rgb = aerial_rgb(ds.read_image(index))
        mask_rgb = colourize(ds.read_mask(index))
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


def _highlight(rgb: np.ndarray, where: np.ndarray, colour: str, alpha: float = 0.6) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB with ``where`` blended towards ``colour``."""
    out = rgb.astype(np.float32)
    tint = np.array(_hex_to_rgb(colour), dtype=np.float32)
    out[where] = (1 - alpha) * out[where] + alpha * tint
    return out.astype(np.uint8)


def _class_info(semantic_class: int):
    for info in FULL_CLASSES:
        if info.value == semantic_class:
            return info
    raise OptionError(
        f"unknown class {semantic_class}: use a full-nomenclature value 1..19 "
        f"(1 building, 5 water, ...; see `flair-hdbscan plot nomenclature`)"
    )


def _patch_grid(n_panels: int, max_cols: int, cell: float) -> tuple[Figure, np.ndarray]:
    n_cols = max(1, min(max_cols, n_panels))
    n_rows = max(1, math.ceil(n_panels / n_cols))
    fig, axes = _grid(n_rows, n_cols, cell=cell)
    for ax in axes.flat[n_panels:]:
        ax.set_axis_off()
    return fig, axes


def plot_class_patches(
    ds: FlairDataset, semantic_class: int = 1, max_patches: int | None = None
) -> Figure:
    """Every patch holding a class of the full nomenclature, the class highlighted over RGB.

    Args:
        ds: the dataset.
        semantic_class: full-nomenclature value 1..19 (1 building, 5 water, ...).
        max_patches: stop after this many matching patches (default: all).

    Returns:
        Figure with one panel per matching patch (titled with the patch id and the class's
        share of it), or a single panel with a note when no patch holds the class.

    Raises:
        OptionError: if ``semantic_class`` is not 1..19 or ``max_patches`` < 1.
    """
    info = _class_info(int(semantic_class))
    if max_patches is not None and max_patches < 1:
        raise OptionError(f"max_patches must be at least 1, got {max_patches}")
    found: list[tuple[int, float]] = []
    for index in range(len(ds)):
        share = float(np.mean(ds.read_mask(index) == info.value))
        if share > 0:
            found.append((index, share))
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
    for ax, (index, share) in zip(axes.flat, found, strict=False):
        rgb = aerial_rgb(ds.read_image(index))
        where = ds.read_mask(index) == info.value
        ax.imshow(_highlight(rgb, where, info.colour))
        ax.set_title(f"IMG_{ds.patches[index].patch_id} ({share:.0%})", fontsize=9)
    fig.suptitle(f"Patches with class {info.value} ({info.name})\nhighlighted in its colour")
    return fig


def plot_all_patches(ds: FlairDataset, max_patches: int | None = None) -> Figure:
    """Every patch beside its mask (full nomenclature colours).

    Args:
        ds: the dataset.
        max_patches: draw only the first ``max_patches`` patches (default: all).

    Returns:
        Figure with two panels per patch: RGB titled with the patch id, then its mask.

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
    for (ax_img, ax_msk), index in zip(flat, range(count), strict=False):
        ax_img.imshow(aerial_rgb(ds.read_image(index)))
        ax_img.set_title(f"IMG_{ds.patches[index].patch_id}", fontsize=8)
        ax_msk.imshow(colourize(ds.read_mask(index)), interpolation="nearest")
        ax_msk.set_title(f"MSK_{ds.patches[index].patch_id}", fontsize=8)
    for ax_img, ax_msk in flat[count:]:
        ax_img.set_axis_off()
        ax_msk.set_axis_off()
    return fig


def plot_class_distribution(counts: np.ndarray, ax: Axes | None = None) -> Figure:
    """Bar chart of the pixel count of each reduced class, labelled with its share.

    Args:
        counts: ``(13,)`` int64 pixel counts of the reduced classes 0..12.
        ax: axes to draw into (default: a new figure).

    Returns:
        The figure; one bar per class in its FLAIR colour, a percentage above each.

    Raises:
        ValueError: if ``counts`` does not have 13 values.
    """
    counts = np.asarray(counts)
    if counts.shape != (N_CLASSES,):
        raise ValueError(f"counts must be ({N_CLASSES},), got shape {counts.shape}")
    fig, ax = _panel(ax, (9, 4.5))
    shares = class_shares(counts)
    x = np.arange(N_CLASSES)
    bars = ax.bar(x, counts, color=REDUCED_COLOURS, edgecolor="0.3", linewidth=0.6)
    ax.bar_label(bars, labels=[f"{s:.1%}" for s in shares], fontsize=8, padding=2)
    ax.set_xticks(x, REDUCED_NAMES, rotation=45, ha="right")
    ax.set_ylabel("pixels")
    ax.set_title(f"Class distribution ({int(counts.sum()):,} labelled pixels)")
    ax.margins(y=0.12)
    return fig


def plot_channel_by_class(
    table: pd.DataFrame, channel: int | str, ax: Axes | None = None
) -> Figure:
    """Box-and-whisker plot of one channel's values by reduced class.

    Boxes span the first to third quartile with the median as a line; whiskers reach the
    farthest value within 1.5 × IQR; values beyond are drawn as fliers (the seed's Part 3).

    Args:
        table: pixel table with feature columns (``red``, ``green``, ``blue``, ``nir``,
            ``elevation``, ``s2_b02`` … ``s2_b12``, ``intensity``) and ``label`` (0..12).
        channel: column name, or the seed's channel number (:data:`SEED_CHANNELS`).
        ax: axes to draw into (default: a new figure).

    Returns:
        The figure, one box per class present in ``table`` in its FLAIR colour.

    Raises:
        OptionError: on an unknown channel (the message lists the choices), or when the
            table has no ``label`` column or no row.
    """
    column = resolve_channel(channel, list(table.columns))
    if "label" not in table.columns or table.empty:
        raise OptionError("the pixel table needs rows and a 'label' column (classes 0..12)")
    labels = table["label"].to_numpy()
    present = [k for k in range(N_CLASSES) if np.any(labels == k)]
    values = table[column].to_numpy()
    fig, ax = _panel(ax, (9, 4.5))
    boxes = ax.boxplot(
        [values[labels == k] for k in present],
        patch_artist=True,
        flierprops={"markersize": 2, "alpha": 0.4},
        medianprops={"color": "tab:orange"},
    )
    for box, k in zip(boxes["boxes"], present, strict=True):
        box.set_facecolor(REDUCED_COLOURS[k])
        box.set_alpha(0.7)
    ax.set_xticks(
        np.arange(1, len(present) + 1), [REDUCED_NAMES[k] for k in present], rotation=45, ha="right"
    )
    ax.set_ylabel(column)
    ax.set_title(f"{column} by class")
    return fig


def plot_normalization_scatter(
    table: pd.DataFrame,
    channel1: int | str,
    channel2: int | str,
    max_points: int = 20000,
    seed: int = 0,
) -> Figure:
    """Two channels against each other, raw and after spectral normalisation (seed Part 5).

    The normalised panel divides each spectral value by the Euclidean norm of the spectral
    columns present (:func:`normalize_spectra`; elevation is not spectral and stays as is).

    Args:
        table: pixel table as for :func:`plot_channel_by_class`.
        channel1: channel on the x axis (name or seed number).
        channel2: channel on the y axis (name or seed number).
        max_points: at most this many rows, drawn at random without replacement.
        seed: seed of the subsample.

    Returns:
        Figure with two axes ("raw", "normalised"), points coloured by class, and a legend
        with one entry per class present.

    Raises:
        OptionError: on an unknown channel, ``max_points`` < 1 or an empty table.
    """
    columns = list(table.columns)
    x_col = resolve_channel(channel1, columns)
    y_col = resolve_channel(channel2, columns)
    if max_points < 1:
        raise OptionError(f"max_points must be at least 1, got {max_points}")
    if "label" not in table.columns or table.empty:
        raise OptionError("the pixel table needs rows and a 'label' column (classes 0..12)")
    if len(table) > max_points:
        rows = np.random.default_rng(seed).choice(len(table), size=max_points, replace=False)
        table = table.iloc[np.sort(rows)]
    normalised = normalize_spectra(table)
    labels = table["label"].to_numpy()
    present = [k for k in range(N_CLASSES) if np.any(labels == k)]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for ax, frame, title in (
        (axes[0], table, "raw"),
        (axes[1], normalised, "normalised (spectrum / its Euclidean norm)"),
    ):
        for k in present:
            sel = labels == k
            ax.scatter(
                frame[x_col].to_numpy()[sel],
                frame[y_col].to_numpy()[sel],
                s=3,
                alpha=0.5,
                color=REDUCED_COLOURS[k],
                label=REDUCED_NAMES[k],
                rasterized=True,
            )
        ax.set_xlabel(x_col)
        ax.set_ylabel(y_col)
        ax.set_title(title)
    handles, names = axes[0].get_legend_handles_labels()
    legend = fig.legend(handles, names, loc="outside right center", markerscale=4, frameon=False)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    fig.suptitle(f"{y_col} against {x_col}, {len(table):,} pixels")
    return fig


def plot_confusion(
    cm: np.ndarray, name: str, miou: float | None = None, ax: Axes | None = None
) -> Figure:
    """Row-normalised confusion matrix as a heatmap.

    Args:
        cm: ``(13, 13)`` int64 counts, rows = truth, columns = prediction.
        name: experiment name, shown in the title.
        miou: the experiment's mIoU; computed from ``cm`` in FLAIR's convention when None.
        ax: axes to draw into (default: a new figure).

    Returns:
        The figure. Each truth row sums to 1; a class without truth pixels is an empty row.
        The title reads like ``"knn — mIoU 0.432"``.

    Raises:
        ValueError: if ``cm`` is not square.
    """
    from flair_hdbscan.metrics import mean_iou

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    k = cm.shape[0]
    names = list(REDUCED_NAMES) if k == N_CLASSES else [str(i) for i in range(k)]
    if miou is None and k == N_CLASSES:
        miou = mean_iou(cm)
    normalised = row_normalize(cm)
    fig, ax = _panel(ax, (8, 7))
    image = ax.imshow(
        np.ma.masked_invalid(normalised),
        cmap="Blues",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    for i, j in zip(*np.nonzero(np.nan_to_num(normalised) >= 0.005), strict=True):
        value = normalised[i, j]
        ax.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=6,
            color="white" if value > 0.5 else "black",
        )
    ax.set_xticks(np.arange(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(np.arange(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    score = "undefined" if miou is None or not np.isfinite(miou) else f"{miou:.3f}"
    ax.set_title(f"{name} — mIoU {score}")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def _cluster_colours(clusters: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32: a tab20 colour per cluster id, black for −1 (no cluster)."""
    import matplotlib as mpl

    palette = np.asarray(mpl.colormaps["tab20"].colors, dtype=np.float32)
    clusters = np.asarray(clusters)
    out = palette[np.mod(clusters, len(palette))]
    out[clusters < 0] = 0.0
    return out


def plot_prediction_maps(
    rgb: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    clusters: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """A patch, its ground truth, a predicted map and optionally the cluster map.

    Args:
        rgb: ``(H, W, 3)`` uint8 aerial RGB (see :func:`aerial_rgb`).
        truth: ``(H, W)`` uint8 reduced labels 0..12 (255 = no data, grey).
        prediction: ``(H, W)`` uint8 predicted classes 0..12.
        clusters: ``(H, W)`` int32 cluster ids, −1 where a pixel has no cluster (black).
        title: figure title.

    Returns:
        Figure with 3 panels ("RGB", "ground truth", "prediction"), 4 with "clusters",
        and a legend of the classes present in truth or prediction.

    Raises:
        ValueError: if the maps do not share the image's height and width.
    """
    rgb = np.asarray(rgb)
    shape = rgb.shape[:2]
    maps = [np.asarray(truth), np.asarray(prediction)]
    if clusters is not None:
        maps.append(np.asarray(clusters))
    if any(m.shape != shape for m in maps):
        raise ValueError(
            f"maps must all be {shape}, got {[m.shape for m in maps]} for an RGB of {rgb.shape}"
        )
    n_panels = 3 if clusters is None else 4
    fig, axes = _grid(1, n_panels, cell=3.5)
    panels = [
        (rgb, "RGB"),
        (colourize(truth, reduced=True), "ground truth"),
        (colourize(prediction, reduced=True), "prediction"),
    ]
    if clusters is not None:
        n_clusters = len(np.unique(clusters[clusters >= 0]))
        panels.append((_cluster_colours(clusters), f"clusters ({n_clusters})"))
    for ax, (image, panel_title) in zip(axes[0], panels, strict=True):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(panel_title)
    present = np.union1d(np.unique(truth), np.unique(prediction))
    present = present[(present < N_CLASSES) & (present != IGNORE)]
    fig.legend(
        handles=_legend_handles(True, present.tolist()),
        loc="outside lower center",
        ncols=min(len(present), 7) or 1,
        frameon=False,
        fontsize=8,
    )
    if title:
        fig.suptitle(title)
    return fig


def plot_results(results: dict[str, Any]) -> Figure:
    """Bar chart of every experiment's mIoU: kNN and HDBSCAN side by side per option.

    Bars are grouped by feature option (:data:`FEATURE_OPTIONS` order, unknown options
    after), two per group (kNN, HDBSCAN); an experiment without mIoU gets no bar. Naive
    baselines are labelled horizontal reference lines. Every bar and line carries the
    experiment name as its ``gid``.

    Args:
        results: the study's results dictionary (``results.json``).

    Returns:
        The figure. Its title says when HDBSCAN clusters were named with the oracle mapping
        (the ground truth of the clustered pixels), or with a label budget.

    Raises:
        OptionError: if ``results`` holds no experiments list.
    """
    table = results_table(results)
    learned = table[table["method"].isin(list(_METHOD_LABELS))]
    naive = table[table["method"].str.startswith("naive")]
    options = [o for o in FEATURE_OPTIONS if o in set(learned["option"])]
    options += [o for o in dict.fromkeys(learned["option"]) if o not in options]
    fig, ax = _panel(None, (max(7.0, 1.3 * len(options) + 2), 5))
    x = np.arange(len(options))
    width = 0.38
    for offset, method in ((-width / 2, "knn"), (width / 2, "hdbscan")):
        rows = learned[learned["method"] == method].set_index("option")
        heights = [float(rows.loc[o, "miou"]) if o in rows.index else float("nan") for o in options]
        bars = ax.bar(
            x + offset,
            np.nan_to_num(heights),
            width,
            color=_METHOD_COLOURS[method],
            label=_METHOD_LABELS[method],
        )
        for bar, option, height in zip(bars, options, heights, strict=True):
            if option in rows.index and np.isfinite(height):
                bar.set_gid(str(rows.loc[option, "name"]))
                ax.annotate(
                    f"{height:.3f}",
                    (bar.get_x() + bar.get_width() / 2, height),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
            else:
                bar.set_visible(False)
    for (_, row), style in zip(naive.iterrows(), ("--", ":", "-."), strict=False):
        if not np.isfinite(row["miou"]):
            continue
        ax.axhline(
            row["miou"],
            color="0.3",
            linestyle=style,
            linewidth=1.0,
            label=f"{row['name']} ({row['miou']:.3f})",
            gid=row["name"],
        )
    ax.set_xticks(x, options, rotation=30, ha="right")
    ax.set_xlabel("feature option")
    ax.set_ylabel("mIoU (12 classes, FLAIR convention)")
    finite = table["miou"][np.isfinite(table["miou"])]
    ax.set_ylim(0, max(0.1, float(finite.max()) * 1.3 if len(finite) else 1.0))
    ax.legend(loc="upper center", fontsize=8, ncol=4, frameon=False)
    mappings = {m for m in learned.loc[learned["method"] == "hdbscan", "mapping"] if m}
    title = "mIoU by feature option: kNN vs HDBSCAN"
    if "oracle" in mappings:
        title += "\nHDBSCAN clusters named by the oracle mapping (ground truth of clustered pixels)"
    elif mappings:
        title += f"\nHDBSCAN clusters named with {', '.join(sorted(mappings))} labels"
    ax.set_title(title, fontsize=11)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write a figure as PNG or SVG (by suffix) atomically, then close it.

    Args:
        fig: the figure.
        path: output file ending in ``.png`` or ``.svg``.
        dpi: resolution of a PNG (pixels per inch of the figure size).

    Returns:
        The written path.

    Raises:
        OptionError: if the suffix is neither ``.png`` nor ``.svg`` (the figure is closed).
    """
    from flair_hdbscan.atomic import atomic_path

    plt = _pyplot()
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix not in _FIGURE_SUFFIXES:
            raise OptionError(
                f"cannot write a figure to {path}: the file name must end in .png or .svg"
            )
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=dpi)
    finally:
        plt.close(fig)
    logger.info("wrote %s", path)
    return path
