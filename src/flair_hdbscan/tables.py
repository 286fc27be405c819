"""Terminal tables of scores (rich), built from the JSON-ready score dictionaries."""

from __future__ import annotations

from rich.table import Table

from flair_hdbscan.nomenclature import N_SCORED, REDUCED_NAMES

__all__ = ["make_console", "scores_table", "study_table"]


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


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def study_table(results: dict, *, title: str | None = None) -> Table:
    """The study's results, one row per experiment.

    Args:
        results: ``{"run": ..., "experiments": [...]}`` as in ``results.json``.
        title: table title.
    """
    table = Table(title=title)
    for col, justify in (
        ("experiment", "left"),
        ("mIoU", "right"),
        ("OA", "right"),
        ("train px", "right"),
        ("labels used", "right"),
        ("clusters", "right"),
        ("noise %", "right"),
        ("purity %", "right"),
        ("largest %", "right"),
        ("mapping", "left"),
        ("s", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for e in results["experiments"]:
        table.add_row(
            e["name"],
            _fmt(e["miou"]),
            _fmt(e["overall_accuracy"], 3),
            f"{e['n_train_pixels']:,}",
            f"{e['n_labels_used']:,}",
            "–" if e.get("n_clusters") is None else str(e["n_clusters"]),
            _pct(e.get("noise_fraction")),
            _pct(e.get("cluster_purity")),
            _pct(e.get("largest_cluster_fraction")),
            e.get("mapping") or "–",
            f"{e['seconds']:.1f}",
        )
    return table


def make_console():
    """A rich console for command output; 160 columns wide when not on a terminal.

    Piped or captured output (logs, CI) would otherwise be cut to 80 columns and the
    results tables would lose their figures.
    """
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    return console
