"""Terminal tables of scores (rich), built from the JSON-ready score dictionaries."""

from __future__ import annotations

from rich.table import Table

from flair_hdbscan.nomenclature import N_SCORED, REDUCED_NAMES

__all__ = ["scores_table"]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def scores_table(result: dict, *, title: str | None = None) -> Table:
    """Per-class IoU, producer's and user's accuracy, and pixel counts.

    Args:
        result: a dictionary from :func:`flair_hdbscan.metrics.scores`.
        title: table title.
    """
    table = Table(title=title)
    table.add_column("class")
    table.add_column("IoU %", justify="right")
    table.add_column("producer's %", justify="right")
    table.add_column("user's %", justify="right")
    table.add_column("truth pixels", justify="right")
    cm = result["confusion_matrix"]
    for k, name in enumerate(REDUCED_NAMES):
        label = name if k < N_SCORED else f"{name} (not in mIoU)"
        table.add_row(
            label,
            _pct(result["iou"][k]),
            _pct(result["producers_accuracy"][k]),
            _pct(result["users_accuracy"][k]),
            f"{sum(cm[k]):,}",
        )
    return table
