"""Equal label budgets: can cluster-then-label replace random annotation, label for label?

The honest comparison behind "can HDBSCAN stand in for manual annotation?": mIoU on a held-out
split as a function of the number ``n`` of labelled pixels, mean ± std over seeds, for

- ``knn``: kNN (k = 5) trained on ``n`` pixels drawn at random from the training sample;
- ``hdbscan``: HDBSCAN on the sample (no truth read), ``n`` labels spent on clusters —
  exemplars first, then members round-robin (:mod:`flair_hdbscan.exemplars`) — each cluster
  named by its labelled members, propagated by kNN;
- ``kmeans``: k-means with k = ``n``, the member nearest each centre labelled;
- ``oracle``: the original study's mapping, every clustered pixel's class read.

Ground truth is reachable only through an :class:`Annotator`, which counts every pixel it
reveals; ``labels_used`` is that count.

Modules: ``annotator`` (counted truth), ``scoring``
(compact scoring split), ``methods`` (pure labelling functions), ``runner`` (the study),
``results`` (rows, summary, draws), ``verdict`` (findings and sentences from the numbers).
"""

from flair_hdbscan.budget.annotator import NO_DATA, Annotator
from flair_hdbscan.budget.methods import FALLBACK_CLASS, KMEANS_INITS
from flair_hdbscan.budget.results import (
    ALL,
    METHODS,
    BudgetResult,
    BudgetRow,
    load_draws,
    recount_labels,
    summarize,
)
from flair_hdbscan.budget.runner import (
    DEFAULT_BUDGETS,
    DEFAULT_HDBSCAN_SETTINGS,
    DEFAULT_KMEANS_INIT,
    HdbscanSetting,
    check_budgets,
    parse_hdbscan_setting,
    run_budget_study,
)
from flair_hdbscan.budget.scoring import ScoringTable, chance_miou, scoring_table

__all__ = [
    "ALL",
    "DEFAULT_BUDGETS",
    "DEFAULT_HDBSCAN_SETTINGS",
    "DEFAULT_KMEANS_INIT",
    "FALLBACK_CLASS",
    "KMEANS_INITS",
    "METHODS",
    "NO_DATA",
    "Annotator",
    "BudgetResult",
    "BudgetRow",
    "HdbscanSetting",
    "ScoringTable",
    "chance_miou",
    "check_budgets",
    "load_draws",
    "parse_hdbscan_setting",
    "recount_labels",
    "run_budget_study",
    "scoring_table",
    "summarize",
]
