"""Figures exploring the pixels: class distribution, a channel by class, normalisation.

Plotting functions take a pixel count per class or a pixel feature table (``DataFrame``, one
row per pixel, feature columns and ``label`` 0..12, as
:func:`~flair_hdbscan.training.sample_table` reads it) and
return the matplotlib :class:`~matplotlib.figure.Figure`. The numbers behind them
(:func:`class_shares`, :func:`resolve_channel`, :func:`normalize_spectra`,
:func:`display_values`) are helpers kept apart from the drawing.

Table columns hold the study's features (:mod:`flair_hdbscan.features`): aerial values / 255,
elevation included as stored, Sentinel-2 reflectance / 10000. Figures show elevation in
metres (stored value / 5); the other columns keep their feature scale, named on the axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from flair_hdbscan import features
from flair_hdbscan.errors import OptionError
from flair_hdbscan.features import AERIAL_COLUMNS, S2_COLUMNS
from flair_hdbscan.nomenclature import N_CLASSES, REDUCED_COLOURS, REDUCED_NAMES
from flair_hdbscan.plots._figure import _panel, _pyplot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = [
    "PIXEL_COLUMNS",
    "SEED_CHANNELS",
    "class_shares",
    "display_values",
    "needs_sentinel",
    "normalize_spectra",
    "plot_channel_by_class",
    "plot_class_distribution",
    "plot_normalization_scatter",
    "resolve_channel",
]

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

#: Every channel a pixel table can hold, in table order: the aerial bands (red, green, blue,
#: nir, elevation), then Sentinel-2 B02 … B12.
PIXEL_COLUMNS: tuple[str, ...] = AERIAL_COLUMNS + S2_COLUMNS

#: Columns of a pixel table that are spectra (Sentinel-2 columns, ``s2_*``, also count).
_AERIAL_SPECTRAL = ("red", "green", "blue", "nir")

# --------------------------------------------------------------------------------------------
# What to draw: pure helpers
# --------------------------------------------------------------------------------------------


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


def needs_sentinel(*channels: int | str) -> bool:
    """Whether any of ``channels`` is a Sentinel-2 band.

    Args:
        *channels: channel names or seed numbers, as :func:`resolve_channel` takes them.

    Returns:
        True when one of them resolves to an ``s2_*`` column.

    Raises:
        OptionError: if a channel is not one of :data:`PIXEL_COLUMNS` (by name or number).
    """
    return any(resolve_channel(c, PIXEL_COLUMNS).startswith("s2_") for c in channels)


def display_values(column: str, values: np.ndarray) -> tuple[np.ndarray, str]:
    """A pixel-table column in the units a figure shows, and its axis label.

    Args:
        column: column name of a :func:`~flair_hdbscan.training.sample_table`.
        values: ``(n,)`` values of that column (feature scale).

    Returns:
        ``(shown, label)``: elevation in metres (feature × 255 / 5, i.e. stored value / 5),
        labelled ``"elevation (m)"``; aerial bands unchanged, labelled as value / 255;
        Sentinel-2 bands unchanged, labelled as reflectance; other columns unchanged.
    """
    from flair_hdbscan.features import AERIAL_SCALE

    values = np.asarray(values)
    if column == "elevation":
        return values / AERIAL_SCALE / 5.0, "elevation (m)"
    if column in _AERIAL_SPECTRAL:
        return values, f"{column} (value / 255)"
    if column.startswith("s2_"):
        return values, f"{column} (reflectance)"
    return values, column


def _spectral_columns(columns: Sequence[str]) -> list[str]:
    """The spectral columns among ``columns`` (aerial bands and ``s2_*``), in their order."""
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
    values = table[spectral].to_numpy(dtype=np.float32)
    scaled, _ = features.normalize_spectra(values, np.ones(len(spectral), dtype=bool))
    out = table.copy()
    out[spectral] = scaled
    return out


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


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
    Values are shown as :func:`display_values` gives them (elevation in metres).

    Args:
        table: pixel table with feature columns (``red``, ``green``, ``blue``, ``nir``,
            ``elevation``, ``s2_b02`` … ``s2_b12``, ``intensity``) and ``label`` (0..12),
            as :func:`~flair_hdbscan.training.sample_table` reads it.
        channel: column name, or the seed's channel number (:data:`SEED_CHANNELS`).
        ax: axes to draw into (default: a new figure).

    Returns:
        The figure, one box per class present in ``table`` in its FLAIR colour, the y axis
        labelled with the unit.

    Raises:
        OptionError: on an unknown channel (the message lists the choices), or when the
            table has no ``label`` column or no row.
    """
    column = resolve_channel(channel, list(table.columns))
    if "label" not in table.columns or table.empty:
        raise OptionError("the pixel table needs rows and a 'label' column (classes 0..12)")
    labels = table["label"].to_numpy()
    present = [k for k in range(N_CLASSES) if np.any(labels == k)]
    values, unit = display_values(column, table[column].to_numpy())
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
    ax.set_ylabel(unit)
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
    Axes show :func:`display_values` (elevation in metres) and name their unit.

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
    spectral = _spectral_columns(columns)
    for ax, frame, title in (
        (axes[0], table, "raw"),
        (axes[1], normalised, "normalised (spectrum / its Euclidean norm)"),
    ):
        xs, x_label = display_values(x_col, frame[x_col].to_numpy())
        ys, y_label = display_values(y_col, frame[y_col].to_numpy())
        if frame is normalised:
            x_label = f"{x_col} (normalised)" if x_col in spectral else x_label
            y_label = f"{y_col} (normalised)" if y_col in spectral else y_label
        for k in present:
            sel = labels == k
            ax.scatter(
                xs[sel],
                ys[sel],
                s=3,
                alpha=0.5,
                color=REDUCED_COLOURS[k],
                label=REDUCED_NAMES[k],
                rasterized=True,
            )
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(title)
    handles, names = axes[0].get_legend_handles_labels()
    legend = fig.legend(handles, names, loc="outside right center", markerscale=4, frameon=False)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    fig.suptitle(f"{y_col} against {x_col}, {len(table):,} pixels")
    return fig
