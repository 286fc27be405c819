"""Rows, summary and saved draws of a budget study.

One :class:`BudgetRow` per (method, setting, budget, seed); :func:`summarize` reduces them to
mean ± std over seeds per (method, setting, budget). The draws — the training-pool indices
each row's annotator revealed — are kept as plain integer arrays, so that anyone can recount
the labels from a saved file and check them against ``labels_used``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.budget_settings import ALL

__all__ = [
    "ALL",
    "METHODS",
    "BudgetResult",
    "BudgetRow",
    "budget_sort_key",
    "draw_key",
    "load_draws",
    "parse_draw_key",
    "recount_labels",
    "summarize",
]

#: Methods in reporting order.
METHODS: tuple[str, ...] = ("knn", "hdbscan", "kmeans", "oracle")

Budget = int | str
RowKey = tuple[str, str, Budget, int]


def budget_sort_key(budget: Budget) -> tuple[int, int]:
    """Sort integer budgets by value, ``"all"`` last."""
    return (1, 0) if budget == ALL else (0, int(budget))


def _method_rank(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def row_sort_key(key: RowKey) -> tuple:
    """Canonical order of rows: method, setting, budget, seed."""
    method, setting, budget, seed = key
    return (_method_rank(method), method, setting, budget_sort_key(budget), seed)


@dataclass(frozen=True)
class BudgetRow:
    """One run: a method spending a budget with one seed, scored on the scoring split.

    Attributes:
        method: ``"knn"``, ``"hdbscan"``, ``"kmeans"`` or ``"oracle"``.
        setting: the method's setting (HDBSCAN: ``"eom-10-10"`` …; kNN: ``"k5"``; k-means:
            its initialisation).
        budget: labels allowed, or ``"all"``.
        seed: seed index (0, 1, …).
        labels_used: distinct training pixels whose truth was read.
        miou: FLAIR mIoU on the scoring split.
        overall_accuracy: pixel accuracy on the scoring split.
        n_clusters: clusters (HDBSCAN, oracle, k-means non-empty), None for kNN.
        noise_fraction: HDBSCAN noise share of the pool (k-means: 0), None for kNN.
        largest_cluster_fraction: share of the clustered pixels in the largest cluster.
    """

    method: str
    setting: str
    budget: Budget
    seed: int
    labels_used: int
    miou: float
    overall_accuracy: float
    n_clusters: int | None = None
    noise_fraction: float | None = None
    largest_cluster_fraction: float | None = None

    @property
    def key(self) -> RowKey:
        """``(method, setting, budget, seed)``."""
        return (self.method, self.setting, self.budget, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN written as None)."""
        return {k: _clean(v) for k, v in asdict(self).items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return float("nan"), float("nan")
    std = float(a.std(ddof=1)) if a.size > 1 else float("nan")
    return float(a.mean()), std


def summarize(rows: Iterable[BudgetRow]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (method, setting, budget).

    The std is the sample standard deviation (``ddof=1``), NaN with a single seed.

    Returns:
        Dicts in canonical order with ``method, setting, budget, n_seeds, miou_mean,
        miou_std, overall_accuracy_mean, overall_accuracy_std, labels_used_mean,
        labels_used_min, labels_used_max, n_clusters_mean, noise_fraction_mean,
        largest_cluster_fraction_mean`` (None where they do not apply).
    """
    groups: dict[tuple[str, str, Budget], list[BudgetRow]] = {}
    for r in rows:
        groups.setdefault((r.method, r.setting, r.budget), []).append(r)
    out = []
    for key in sorted(groups, key=lambda k: row_sort_key((*k, 0))):
        rs = groups[key]
        miou_mean, miou_std = _mean_std([r.miou for r in rs])
        oa_mean, oa_std = _mean_std([r.overall_accuracy for r in rs])
        used = [r.labels_used for r in rs]
        entry: dict[str, Any] = {
            "method": key[0],
            "setting": key[1],
            "budget": key[2],
            "n_seeds": len(rs),
            "miou_mean": miou_mean,
            "miou_std": miou_std,
            "overall_accuracy_mean": oa_mean,
            "overall_accuracy_std": oa_std,
            "labels_used_mean": float(np.mean(used)),
            "labels_used_min": int(min(used)),
            "labels_used_max": int(max(used)),
        }
        for name in ("n_clusters", "noise_fraction", "largest_cluster_fraction"):
            vals = [getattr(r, name) for r in rs]
            entry[f"{name}_mean"] = None if vals[0] is None else _mean_std(vals)[0]
        out.append({k: _clean(v) for k, v in entry.items()})
    return out


def draw_key(key: RowKey) -> str:
    """Name of a row's draw in a saved file: ``method/setting/budget/seed``."""
    method, setting, budget, seed = key
    for part in (method, setting):
        if "/" in part:
            raise ValueError(f"method and setting names may not contain '/': {part!r}")
    return f"{method}/{setting}/{budget}/{seed}"


def parse_draw_key(name: str) -> RowKey:
    """Inverse of :func:`draw_key`."""
    method, setting, budget, seed = name.split("/")
    return (method, setting, budget if budget == ALL else int(budget), int(seed))


def load_draws(path: Path) -> dict[RowKey, np.ndarray]:
    """Draws saved by :meth:`BudgetResult.save_draws`: row key → ``(m,) int64`` indices."""
    with np.load(Path(path), allow_pickle=False) as data:
        return {parse_draw_key(name): np.asarray(data[name], dtype=np.int64) for name in data.files}


def recount_labels(draws: Mapping[Any, np.ndarray]) -> dict[Any, int]:
    """Labels of each draw, counted afresh: the number of distinct indices revealed."""
    return {key: int(np.unique(np.asarray(idx)).size) for key, idx in draws.items()}


@dataclass
class BudgetResult:
    """Everything a budget study measured.

    Attributes:
        rows: one :class:`BudgetRow` per (method, setting, budget, seed), canonical order.
        draws: row key → ``(labels_used,) int64`` training-pool indices revealed, in order.
        train_split: name of the split the pool was sampled from (given by the caller).
        score_split: name of the scoring split (given by the caller).
        seed: the study seed.
        n_seeds: seeds per budget.
        n_pool: training-pool pixels.
        n_score_pixels: scored pixels.
        n_score_rows: distinct scoring rows.
        chance_miou: expected mIoU of a prevalence-matched random prediction.
        seconds: wall time per stage.
    """

    rows: list[BudgetRow]
    draws: dict[RowKey, np.ndarray]
    train_split: str
    score_split: str
    seed: int
    n_seeds: int
    n_pool: int
    n_score_pixels: int
    n_score_rows: int
    chance_miou: float
    seconds: dict[str, float] = field(default_factory=dict)

    def row(self, method: str, setting: str, budget: Budget, seed: int) -> BudgetRow:
        """The row of one run (KeyError if absent)."""
        for r in self.rows:
            if r.key == (method, setting, budget, seed):
                return r
        raise KeyError((method, setting, budget, seed))

    def summary(self) -> list[dict[str, Any]]:
        """:func:`summarize` of the rows."""
        return summarize(self.rows)

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts."""
        return [r.to_dict() for r in self.rows]

    def to_frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.records())

    def draw_arrays(self) -> dict[str, np.ndarray]:
        """The draws as plain arrays named by :func:`draw_key`."""
        return {draw_key(k): np.asarray(v, dtype=np.int64) for k, v in self.draws.items()}

    def save_draws(self, path: Path) -> Path:
        """Write the draws to an ``.npz`` file (read back with :func:`load_draws`)."""
        path = Path(path)
        np.savez_compressed(path, **self.draw_arrays())
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the study (rows and summary; draws are saved apart)."""
        return {
            "train_split": self.train_split,
            "score_split": self.score_split,
            "seed": self.seed,
            "n_seeds": self.n_seeds,
            "n_pool": self.n_pool,
            "n_score_pixels": self.n_score_pixels,
            "n_score_rows": self.n_score_rows,
            "chance_miou": _clean(self.chance_miou),
            "seconds": dict(self.seconds),
            "rows": self.records(),
            "summary": self.summary(),
        }
