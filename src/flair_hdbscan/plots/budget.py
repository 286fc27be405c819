"""The budget figure: mIoU on the scoring split against the number of labels used.

One line per method and setting (mean over seeds, a ±1 std band), the oracle mapping as
points labelled "oracle" at the number of labels it read, and the chance level if given.
Matplotlib is imported lazily; nothing calls ``plt.show()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan.plots._figure import _panel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["budget_curves", "plot_budget"]


def _label(method: str, setting: str) -> str:
    if method == "knn":
        return f"kNN, random labels ({setting})"
    if method == "hdbscan":
        return f"HDBSCAN {setting} then label"
    if method == "kmeans":
        return f"k-means ({setting}) then label"
    return f"{method} {setting}"


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def budget_curves(summary: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict]:
    """What the figure draws, without drawing: one curve per (method, setting).

    Args:
        summary: :func:`flair_hdbscan.budget.summarize` output.

    Returns:
        ``{(method, setting): {"label", "x", "y", "std"}}`` with ``(m,) float64`` arrays
        sorted by ``x`` (mean labels used); the oracle keeps its own entries.
    """
    curves: dict[tuple[str, str], dict] = {}
    for e in summary:
        if e.get("miou_mean") is None:
            continue
        key = (e["method"], e["setting"])
        c = curves.setdefault(key, {"label": _label(*key), "x": [], "y": [], "std": []})
        c["x"].append(_num(e["labels_used_mean"]))
        c["y"].append(_num(e["miou_mean"]))
        c["std"].append(_num(e.get("miou_std")))
    for c in curves.values():
        order = np.argsort(c["x"], kind="stable")
        for k in ("x", "y", "std"):
            c[k] = np.asarray(c[k], dtype=np.float64)[order]
    return curves


def plot_budget(
    summary: Sequence[Mapping[str, Any]],
    *,
    chance: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw mIoU against labels used (log scale).

    Args:
        summary: :func:`flair_hdbscan.budget.summarize` output (or ``BudgetResult.summary()``).
        chance: naive chance mIoU (e.g. ``BudgetResult.chance_miou``), drawn as a dashed line.
        ax: axes to draw into (default: a new figure).
        title: axes title.

    Returns:
        The figure.
    """
    fig, ax = _panel(ax, (7.0, 4.5))
    curves = budget_curves(summary)
    for (method, _setting), c in curves.items():
        if method == "oracle":
            continue
        (line,) = ax.plot(c["x"], c["y"], marker="o", markersize=3, label=c["label"])
        std = np.where(np.isnan(c["std"]), 0.0, c["std"])
        ax.fill_between(c["x"], c["y"] - std, c["y"] + std, color=line.get_color(), alpha=0.2)
    oracle = [(s, c) for (m, s), c in curves.items() if m == "oracle"]
    for i, (setting, c) in enumerate(oracle):
        ax.scatter(
            c["x"],
            c["y"],
            marker="*",
            s=90,
            color="black",
            zorder=3,
            label="oracle" if i == 0 else None,
        )
        for x, y in zip(c["x"], c["y"], strict=True):
            ax.annotate(
                f"oracle ({setting})",
                (x, y),
                textcoords="offset points",
                xytext=(-6, 6),
                ha="right",
                fontsize=8,
            )
    if chance is not None and not math.isnan(chance):
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance (prevalence)")
    ax.set_xscale("log")
    ax.set_xlabel("labels used (log scale)")
    ax.set_ylabel("mIoU (scoring split)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
