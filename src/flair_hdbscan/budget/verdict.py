"""The answer, derived from the numbers: structured findings first, sentences built from them.

Nothing here is hand-written about results: every number in a sentence is a field of the
findings, and every finding is computed from the summary (mean ± std over seeds per method,
setting and budget, :func:`~flair_hdbscan.budget.results.summarize`).

Definitions:

- **cluster-then-label** at a budget is its best clustering there (the HDBSCAN setting or
  k-means with the highest mean mIoU), compared with kNN on random labels at the same budget;
- a difference **exceeds the spread over seeds** when it is larger than the sum of the two
  standard deviations (the ±1 std bands do not overlap);
- the curves **cross** between two consecutive tested budgets where the difference changes
  sign; the crossing is interpolated linearly in log budget;
- only integer budgets are compared; ``"all"`` enters through the oracle and kNN sentences.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flair_hdbscan.budget.results import ALL

__all__ = ["CLUSTERING_METHODS", "Verdict", "method_label", "verdict"]

#: Methods that count as cluster-then-label.
CLUSTERING_METHODS: tuple[str, ...] = ("hdbscan", "kmeans")


@dataclass(frozen=True)
class Verdict:
    """Findings of a budget study and the sentences that say them.

    Attributes:
        findings: JSON-ready dict (see :func:`verdict`).
        sentences: one sentence per finding, every number taken from ``findings``.
    """

    findings: dict[str, Any]
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        """The sentences as one paragraph."""
        return " ".join(self.sentences)


def method_label(method: str, setting: str) -> str:
    """Display name of a curve: ``"HDBSCAN leaf-10-5"``, ``"k-means (random)"``, ``"kNN"``."""
    if method == "hdbscan":
        return f"HDBSCAN {setting}"
    if method == "kmeans":
        return f"k-means ({setting})"
    if method == "knn":
        return "kNN"
    return f"{method} {setting}"


def _n(x: float) -> str:
    return f"{round(x):,}"


def _ranges(budgets: Sequence[int], tested: Sequence[int]) -> list[list[int]]:
    """Runs of consecutive tested budgets, as ``[first, last]``."""
    pos = {b: i for i, b in enumerate(tested)}
    runs: list[list[int]] = []
    for b in budgets:
        if runs and pos[b] == pos[runs[-1][1]] + 1:
            runs[-1][1] = b
        else:
            runs.append([b, b])
    return runs


def _ranges_text(runs: Sequence[Sequence[int]]) -> str:
    parts = [_n(lo) if lo == hi else f"{_n(lo)}–{_n(hi)}" for lo, hi in runs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _std(entry: Mapping[str, Any]) -> float:
    s = entry.get("miou_std")
    return 0.0 if s is None or (isinstance(s, float) and math.isnan(s)) else float(s)


def _wins(per_budget: list[dict], tested: list[int], sign: int) -> dict[str, Any] | None:
    chosen = [p for p in per_budget if sign * p["difference"] > 0]
    if not chosen:
        return None
    diffs = [sign * p["difference"] for p in chosen]
    top = max(range(len(chosen)), key=lambda i: diffs[i])
    return {
        "budgets": [p["budget"] for p in chosen],
        "ranges": _ranges([p["budget"] for p in chosen], tested),
        "mean_difference": sum(diffs) / len(diffs),
        "max_difference": diffs[top],
        "max_at": chosen[top]["budget"],
        "n_beyond_spread": sum(1 for p in chosen if p["beyond_spread"]),
        "n_budgets": len(chosen),
    }


def _findings(summary: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    entries = [e for e in summary if e.get("miou_mean") is not None]
    knn = {e["budget"]: e for e in entries if e["method"] == "knn"}
    clus: dict[int, list[Mapping[str, Any]]] = {}
    for e in entries:
        if e["method"] in CLUSTERING_METHODS and e["budget"] != ALL:
            clus.setdefault(e["budget"], []).append(e)
    tested = sorted(b for b in knn if b != ALL and b in clus)
    per_budget = []
    for b in tested:
        best = max(clus[b], key=lambda e: e["miou_mean"])  # first of equal means
        diff = best["miou_mean"] - knn[b]["miou_mean"]
        per_budget.append(
            {
                "budget": b,
                "knn_mean": knn[b]["miou_mean"],
                "knn_std": _std(knn[b]),
                "best_method": best["method"],
                "best_setting": best["setting"],
                "best_mean": best["miou_mean"],
                "best_std": _std(best),
                "difference": diff,
                "beyond_spread": abs(diff) > _std(best) + _std(knn[b]),
            }
        )
    crossings = []
    for p, q in itertools.pairwise(per_budget):
        if (p["difference"] > 0) != (q["difference"] > 0):
            lo, hi = math.log(p["budget"]), math.log(q["budget"])
            t = p["difference"] / (p["difference"] - q["difference"])
            crossings.append(
                {
                    "budget": math.exp(lo + t * (hi - lo)),
                    "between": [p["budget"], q["budget"]],
                    "above": "clustering" if q["difference"] > 0 else "knn",
                }
            )
    winners: list[dict[str, Any]] = []
    for p in per_budget:
        key = (p["best_method"], p["best_setting"])
        match = next((w for w in winners if (w["method"], w["setting"]) == key), None)
        if match is None:
            match = {"method": key[0], "setting": key[1], "budgets": []}
            winners.append(match)
        match["budgets"].append(p["budget"])
    for w in winners:
        w["ranges"] = _ranges(w["budgets"], tested)
    oracle = [
        {"setting": e["setting"], "miou": e["miou_mean"], "labels_used": e["labels_used_mean"]}
        for e in entries
        if e["method"] == "oracle"
    ]
    knn_all = knn.get(ALL)
    return {
        "budgets": tested,
        "per_budget": per_budget,
        "clustering_wins": _wins(per_budget, tested, +1),
        "knn_wins": _wins(per_budget, tested, -1),
        "crossings": crossings,
        "best_clustering": winners,
        "oracle": oracle,
        "knn_all": None
        if knn_all is None
        else {"miou": knn_all["miou_mean"], "labels_used": knn_all["labels_used_mean"]},
    }


def _sentences(f: dict[str, Any]) -> list[str]:
    out: list[str] = []
    tested = f["budgets"]
    if tested:
        cw, kw = f["clustering_wins"], f["knn_wins"]
        if cw is not None:
            out.append(
                f"Cluster-then-label (best clustering per budget) beats kNN on random labels "
                f"at {_ranges_text(cw['ranges'])} labels, by {cw['mean_difference']:.3f} mIoU "
                f"on average (largest {cw['max_difference']:.3f} at {_n(cw['max_at'])} labels); "
                f"the difference exceeds the spread over seeds at {cw['n_beyond_spread']} of "
                f"{cw['n_budgets']} of these budgets."
            )
        else:
            out.append(
                f"kNN on random labels matches or beats cluster-then-label at every tested "
                f"budget ({_ranges_text([[tested[0], tested[-1]]])} labels)."
            )
        if kw is not None:
            out.append(
                f"kNN beats cluster-then-label at {_ranges_text(kw['ranges'])} labels, by "
                f"{kw['mean_difference']:.3f} mIoU on average (largest "
                f"{kw['max_difference']:.3f} at {_n(kw['max_at'])} labels); the difference "
                f"exceeds the spread over seeds at {kw['n_beyond_spread']} of "
                f"{kw['n_budgets']} of these budgets."
            )
        for c in f["crossings"]:
            winner = "cluster-then-label" if c["above"] == "clustering" else "kNN"
            out.append(
                f"The curves cross near {_n(c['budget'])} labels (between "
                f"{_n(c['between'][0])} and {_n(c['between'][1])}, interpolated on log "
                f"budget); {winner} is ahead above."
            )
        parts = [
            f"{method_label(w['method'], w['setting'])} at {_ranges_text(w['ranges'])} labels"
            for w in f["best_clustering"]
        ]
        out.append("Best clustering: " + "; ".join(parts) + ".")
    for o in f["oracle"]:
        out.append(
            f"The oracle mapping (HDBSCAN {o['setting']}, every clustered pixel's class read: "
            f"{_n(o['labels_used'])} labels) scores {o['miou']:.3f} mIoU."
        )
    if f["knn_all"] is not None:
        out.append(
            f"kNN with every pixel of the sample labelled ({_n(f['knn_all']['labels_used'])} "
            f"labels) scores {f['knn_all']['miou']:.3f} mIoU."
        )
    return out


def verdict(summary: Sequence[Mapping[str, Any]]) -> Verdict:
    """Findings and sentences from a budget study's summary.

    Args:
        summary: :func:`~flair_hdbscan.budget.results.summarize` output (or
            :meth:`BudgetResult.summary`), one dict per (method, setting, budget).

    Returns:
        A :class:`Verdict` whose ``findings`` hold ``budgets`` (compared integer budgets),
        ``per_budget`` (kNN and best clustering mean/std, difference, beyond_spread),
        ``clustering_wins`` / ``knn_wins`` (budgets, ranges, mean and largest difference,
        where, how many beyond the spread; None if never), ``crossings`` (interpolated
        budget, the tested budgets around it, who is ahead above), ``best_clustering``
        (which clustering is best over which budgets), ``oracle`` and ``knn_all``.
    """
    findings = _findings(summary)
    return Verdict(findings, tuple(_sentences(findings)))
