"""What the report says, as plain data (the template lays it out).

Every number comes from the run's results (:func:`~flair_hdbscan.results.experiment_rows`)
and the dataset summary; nothing here formats HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from flair_hdbscan.budget.results import budget_sort_key
from flair_hdbscan.results import experiment_rows

__all__ = [
    "PUBLISHED_REFERENCES",
    "QUESTION",
    "budget_section",
    "class_counts",
    "dataset_facts",
    "headline",
    "oracle_experiments",
]

#: Published supervised references on the FLAIR #2 test set (Garioud et al., NeurIPS 2023
#: Datasets and Benchmarks, arXiv:2310.13336): ``(model, inputs, mIoU)``.
PUBLISHED_REFERENCES: tuple[tuple[str, str, float], ...] = (
    ("U-Net (ResNet34 encoder)", "aerial imagery", 0.547),
    ("U-T&T (U-Net + U-TAE)", "aerial imagery + Sentinel-2 time series", 0.576),
)

QUESTION = (
    "Can density-based clustering (HDBSCAN) stand in for manual annotation when mapping "
    "land cover from very-high-resolution aerial imagery, optionally fused with Sentinel-2 "
    "time series?"
)


def oracle_experiments(results: Mapping[str, Any]) -> list[str]:
    """Names of the experiments whose clusters were named with the oracle mapping."""
    return [r["name"] for r in experiment_rows(results) if r["mapping"] == "oracle"]


def class_counts(results: Mapping[str, Any]) -> np.ndarray:
    """Labelled pixels of each reduced class over the scoring split, ``(13,) int64``.

    Every experiment scores every labelled pixel of the split, so the row sums of any of its
    confusion matrices are the split's class counts.

    Raises:
        ValueError: if the results hold no experiment.
    """
    experiments = results["experiments"]
    if not experiments:
        raise ValueError("the results hold no experiment: nothing was scored")
    return np.asarray(experiments[0]["confusion_matrix"], dtype=np.int64).sum(axis=1)


def headline(results: Mapping[str, Any]) -> dict[str, tuple[str, float] | None]:
    """Best experiment of each method by mIoU.

    Returns:
        ``{"knn", "hdbscan", "naive"}`` → ``(name, miou)`` or None (``naive`` is the better
        of the two random baselines).
    """
    best: dict[str, tuple[str, float] | None] = {"knn": None, "hdbscan": None, "naive": None}
    for row in experiment_rows(results):
        if row["miou"] is None:
            continue
        group = "naive" if str(row["method"]).startswith("naive") else row["method"]
        current = best.get(group)
        if group in best and (current is None or row["miou"] > current[1]):
            best[group] = (row["name"], row["miou"])
    return best


def dataset_facts(summary: Mapping[str, Any], run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The scoring split's facts as ``(label, text)`` pairs.

    Args:
        summary: :func:`~flair_hdbscan.summary.split_summary` of the scoring split.
        run: the run's metadata (``results.json["run"]``).
    """
    per_domain = summary.get("patches_per_domain", {})
    domains = ", ".join(f"{d} ({n})" for d, n in per_domain.items())
    dataset = run.get("dataset", {})
    n_train = dataset.get("train", {}).get("n_patches", "?")
    n_score = int(summary.get("n_patches", 0))
    return [
        ("trained on", f"{run.get('train_split')} split, {n_train} patches"),
        ("scored on", f"{run.get('score_split')} split ({run.get('protocol')}), {n_score:,} "
         "patches"),
        ("domains", f"{len(per_domain)}: {domains}"),
        (
            "Sentinel-2 super areas",
            f"{summary.get('n_areas', 0)} ({', '.join(summary.get('areas', []))}); "
            f"{summary.get('t_min')}–{summary.get('t_max')} dates per area",
        ),
        ("training sample", f"{int(run.get('n_train_sample', 0)):,} pixels "
         f"({int(run.get('n_labels_read', 0)):,} labels read to build it)"),
        ("folder", str(dataset.get("root", ""))),
        ("training data digest", str(dataset.get("train", {}).get("digest", ""))[:16]),
        ("scoring data digest", str(dataset.get("score", {}).get("digest", ""))[:16]),
    ]  # fmt: skip


def budget_section(budget: Mapping[str, Any]) -> dict[str, Any]:
    """What the report's opening section says about the label-budget study.

    Args:
        budget: ``results.json["budget"]``.

    Returns:
        ``{"verdict": [sentences], "budgets": [column headers], "table": [{"method",
        "setting", "cells"}], "train_split", "score_split", "protocol", "n_seeds", "note"}``;
        each cell reads ``mean ± std (labels read)``.
    """
    summary = budget["summary"]
    budgets = sorted({e["budget"] for e in summary}, key=budget_sort_key)
    lines: dict[tuple[str, str], dict[Any, Mapping[str, Any]]] = {}
    for e in summary:
        lines.setdefault((e["method"], e["setting"]), {})[e["budget"]] = e
    table = []
    for (method, setting), cells in lines.items():
        row = []
        for b in budgets:
            e = cells.get(b)
            if e is None or e["miou_mean"] is None:
                row.append("")
                continue
            spread = "" if e["miou_std"] is None else f" ± {e['miou_std']:.3f}"
            row.append(f"{e['miou_mean']:.3f}{spread} ({e['labels_used_mean']:,.0f})")
        table.append({"method": "ORACLE" if method == "oracle" else method, "setting": setting,
                      "cells": row})  # fmt: skip
    chance = budget.get("chance_miou")
    note = "" if chance is None else f"A prevalence-matched random map scores {chance:.3f}."
    return {
        "verdict": list(budget["verdict"]["sentences"]),
        "budgets": [str(b) for b in budgets],
        "table": table,
        "train_split": budget["train_split"],
        "score_split": budget["score_split"],
        "protocol": budget.get("protocol", ""),
        "n_seeds": budget["n_seeds"],
        "note": note,
    }
