"""Terminal tables of scores (rich), built from the JSON-ready score dictionaries."""

from __future__ import annotations

from rich.table import Table

from flair_hdbscan.budget.results import budget_sort_key
from flair_hdbscan.nomenclature import N_SCORED, REDUCED_NAMES
from flair_hdbscan.results import experiment_rows

__all__ = ["budget_table", "make_console", "scores_table", "study_table"]


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

    Rows come from :func:`~flair_hdbscan.results.experiment_rows`.

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
        ("labels read", "right"),
        ("clusters", "right"),
        ("noise %", "right"),
        ("purity %", "right"),
        ("largest %", "right"),
        ("mapping", "left"),
        ("scored on", "left"),
        ("s", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in experiment_rows(results):
        table.add_row(
            r["name"],
            _fmt(r["miou"]),
            _fmt(r["overall_accuracy"], 3),
            f"{r['n_train_pixels']:,}",
            f"{r['n_labels_used']:,}",
            "–" if r["n_clusters"] is None else str(r["n_clusters"]),
            _pct(r["noise_fraction"]),
            _pct(r["cluster_purity"]),
            _pct(r["largest_cluster_fraction"]),
            r["mapping"] or "–",
            f"{r['score_split']} ({r['protocol']})",
            f"{r['seconds']:.1f}",
        )
    return table


def _cell(entry: dict) -> str:
    mean, std = entry["miou_mean"], entry["miou_std"]
    if mean is None:
        return "–"
    spread = "" if std is None else f" ± {std:.3f}"
    return f"{mean:.3f}{spread}"


def budget_table(budget: dict, *, title: str | None = None) -> Table:
    """The label-budget curves as a table: a row per method and setting, a column per budget.

    Each cell is the mean mIoU ± std over seeds; the oracle's cell is at the budget "all"
    with the labels it read in its row name.

    Args:
        budget: ``results.json["budget"]``.
        title: table title.
    """
    summary = budget["summary"]
    budgets = sorted({e["budget"] for e in summary}, key=budget_sort_key)
    table = Table(title=title)
    table.add_column("method")
    for b in budgets:
        table.add_column(str(b), justify="right")
    lines: dict[tuple[str, str], dict] = {}
    for e in summary:
        lines.setdefault((e["method"], e["setting"]), {})[e["budget"]] = e
    for (method, setting), cells in lines.items():
        name = f"{method} {setting}"
        if method == "oracle":
            used = next(iter(cells.values()))["labels_used_mean"]
            name = f"ORACLE {setting} ({used:,.0f} labels read)"
        table.add_row(name, *(_cell(cells[b]) if b in cells else "" for b in budgets))
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
