"""Budgets and HDBSCAN settings of the label-budget study: their values, parsing and checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flair_hdbscan.clustering import (
    BACKENDS,
    DEFAULT_BACKEND,
    METHODS,
    Clustering,
    cluster_pixels,
)
from flair_hdbscan.errors import OptionError

__all__ = [
    "ALL",
    "DEFAULT_BUDGETS",
    "DEFAULT_BUDGET_HDBSCAN",
    "Budget",
    "HdbscanSetting",
    "check_budgets",
    "parse_hdbscan_setting",
]

#: Budgets of the label-budget study: labelled pixels, then every pixel of the sample.
#: The budget of every pixel labelled.
ALL = "all"
DEFAULT_BUDGETS: tuple[int | str, ...] = (13, 25, 50, 100, 250, 500, 1000, 5000, ALL)
Budget = int | str
#: HDBSCAN settings of the budget study: the notebook's (eom, 10, 10) and leaf with 5.
DEFAULT_BUDGET_HDBSCAN: tuple[str, ...] = ("eom:10:10", "leaf:10:5")


@dataclass(frozen=True)
class HdbscanSetting:
    """One HDBSCAN configuration of the budget study.

    Attributes:
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        min_cluster_size: smallest cluster.
        min_samples: core-distance neighbours (hdbscan's count; None: ``min_cluster_size``).
        backend: an HDBSCAN implementation of :data:`flair_hdbscan.clustering.BACKENDS`.
    """

    cluster_selection_method: str = "eom"
    min_cluster_size: int = 10
    min_samples: int | None = 10
    backend: str = DEFAULT_BACKEND

    @property
    def name(self) -> str:
        """``method-min_cluster_size-min_samples`` (+ ``-backend`` if not the default)."""
        ms = self.min_cluster_size if self.min_samples is None else self.min_samples
        name = f"{self.cluster_selection_method}-{self.min_cluster_size}-{ms}"
        if self.backend != DEFAULT_BACKEND:
            name += f"-{self.backend}"
        return name

    def cluster(self, X: np.ndarray) -> Clustering:
        """Cluster ``X`` (``(n, f)`` float features) with this setting."""
        return cluster_pixels(
            X,
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
            backend=self.backend,
        )


def parse_hdbscan_setting(text: str) -> HdbscanSetting:
    """Parse ``method:min_cluster_size:min_samples[:backend]``, e.g. ``leaf:10:5``.

    Raises:
        OptionError: on a malformed text or an unknown method.
    """
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) < 3 or len(parts) > 4:
        raise OptionError(
            f"HDBSCAN setting {text!r}: write method:min_cluster_size:min_samples"
            "[:backend], e.g. leaf:10:5"
        )
    method, mcs, ms, *rest = parts
    if method not in METHODS:
        raise OptionError(f"HDBSCAN setting {text!r}: method must be one of {METHODS}")
    try:
        mcs_i, ms_i = int(mcs), int(ms)
    except ValueError:
        raise OptionError(f"HDBSCAN setting {text!r}: sizes must be integers") from None
    backend = rest[0] if rest else DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise OptionError(f"HDBSCAN setting {text!r}: backend must be one of {BACKENDS}")
    return HdbscanSetting(method, mcs_i, ms_i, backend)


def check_budgets(budgets: Sequence[Budget]) -> tuple[Budget, ...]:
    """Validate budgets: integers ≥ 1 or ``"all"``; duplicates dropped; canonical order.

    Raises:
        OptionError: on another value or an empty list.
    """
    out: list[Budget] = []
    for b in budgets:
        if isinstance(b, str) and b.strip().lower() == ALL:
            value: Budget = ALL
        else:
            try:
                value = int(b)
            except (TypeError, ValueError):
                raise OptionError(f"budget {b!r}: use a number of labels or 'all'") from None
            if value < 1 or (not isinstance(b, str) and value != b):
                raise OptionError(f"budget {b!r}: a budget is a whole number of labels ≥ 1")
        if value not in out:
            out.append(value)
    if not out:
        raise OptionError("no budget given")
    return tuple(sorted(out, key=lambda v: (v == ALL, 0 if v == ALL else v)))
