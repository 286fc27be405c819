"""Figures of the study's scores: confusion matrix, prediction maps, the results chart.

Plotting functions take what the study computed (a confusion matrix, label maps, the results
dictionary of ``results.json``) and return the matplotlib :class:`~matplotlib.figure.Figure`.
The numbers behind them (:func:`row_normalize`, :func:`results_table`) are pure helpers kept
apart from the drawing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan.nomenclature import IGNORE, N_CLASSES, REDUCED_NAMES
from flair_hdbscan.plots._colour import _cluster_colours, colourize
from flair_hdbscan.plots._figure import _grid, _legend_handles, _panel

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FEATURE_OPTIONS",
    "plot_confusion",
    "plot_prediction_maps",
    "plot_results",
    "results_table",
    "row_normalize",
]

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

_METHOD_LABELS = {"knn": "kNN", "hdbscan": "HDBSCAN"}
_METHOD_COLOURS = {"knn": "#4c72b0", "hdbscan": "#dd8452"}


# --------------------------------------------------------------------------------------------
# What to draw: pure helpers
# --------------------------------------------------------------------------------------------


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


def results_table(results: dict[str, Any]) -> pd.DataFrame:
    """The experiments of a results dictionary as one row each, for the results chart.

    Args:
        results: the study's results (``results.json`` read by
            :func:`~flair_hdbscan.results.load_results`).

    Returns:
        DataFrame with columns ``name``, ``method``, ``option`` (feature option, see
        :data:`FEATURE_OPTIONS`; empty for naive baselines), ``miou`` (float, NaN when
        undefined), ``mapping`` and ``protocol``.
    """
    import pandas as pd

    from flair_hdbscan.results import experiment_rows

    rows = [
        {
            "name": r["name"],
            "method": r["method"],
            "option": "" if str(r["method"]).startswith("naive") else r["option"],
            "miou": float("nan") if r["miou"] is None else r["miou"],
            "mapping": r["mapping"],
            "protocol": r["protocol"],
        }
        for r in experiment_rows(results)
    ]
    return pd.DataFrame(rows, columns=["name", "method", "option", "miou", "mapping", "protocol"])


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


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


def plot_prediction_maps(
    rgb: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    clusters: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """A patch, its ground truth, a predicted map and optionally the cluster map.

    Args:
        rgb: ``(H, W, 3)`` uint8 aerial RGB (see :func:`~flair_hdbscan.plots.aerial_rgb`).
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
        The figure. Its title gives the protocol (held-out or in-sample) and says when
        HDBSCAN clusters were named with the oracle mapping (the ground truth of the
        clustered pixels).
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
    protocols = sorted({p for p in table["protocol"] if p})
    title = f"mIoU by feature option: kNN vs HDBSCAN ({', '.join(protocols) or 'unknown'})"
    if "oracle" in mappings:
        title += "\nHDBSCAN clusters named by the oracle mapping (ground truth of clustered pixels)"
    ax.set_title(title, fontsize=11)
    return fig
