"""The label-budget study on a FLAIR split: the training pool, the scoring table, the run.

:func:`run_budget` takes the training sample of one split (every sampled pixel; nothing is
filtered by truth), builds the features of the chosen option (robust scaling, when asked, is
fitted on the pool: no label is read), reads the scoring split once into a compact
:class:`~flair_hdbscan.budget.scoring.ScoringTable` (one task per patch, on the same
executors as the study) and runs :func:`~flair_hdbscan.budget.runner.run_budget_study`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import RobustScaler

from flair_hdbscan.budget.results import BudgetResult
from flair_hdbscan.budget.runner import run_budget_study
from flair_hdbscan.budget.scoring import ScoringTable, TableBuilder, patch_rows
from flair_hdbscan.budget.verdict import verdict
from flair_hdbscan.budget_settings import parse_hdbscan_setting
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.executors import Executor, LocalExecutor
from flair_hdbscan.experiments import EXPERIMENTS
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.options import BudgetOptions, StudyOptions
from flair_hdbscan.pixels import PixelSample, SentinelOptions, read_patch_pixels
from flair_hdbscan.progress import Progress, quiet

__all__ = ["budget_record", "feature_spec", "read_scoring_table", "run_budget"]


def feature_spec(option: str) -> FeatureSpec:
    """The feature set of a feature option of the study (``raw``, ``satellite-robust``, …).

    Raises:
        OptionError: for an unknown option.
    """
    for e in EXPERIMENTS:
        if not e.is_naive and e.option == option:
            return e.features
    known = sorted({e.option for e in EXPERIMENTS if not e.is_naive})
    raise OptionError(f"unknown feature option {option!r}: use one of {', '.join(known)}")


def _rows_task(shared: tuple[FlairDataset, FeatureSpec, SentinelOptions | None], i: int) -> Any:
    ds, spec, sentinel = shared
    px = read_patch_pixels(ds, i, sentinel=sentinel)
    return patch_rows(px.aerial, px.labels, spec, px.s2)


def read_scoring_table(
    ds: FlairDataset,
    spec: FeatureSpec,
    sentinel: SentinelOptions | None,
    *,
    executor: Executor,
    advance: Callable[[], None] = lambda: None,
) -> ScoringTable:
    """The scoring split as distinct feature rows (before robust scaling) with class counts.

    Raises:
        OptionError: if the split has no labels.
        DataError: naming the patches that could not be read.
    """
    if not ds.has_labels:
        raise OptionError(f"the {ds.split} split has no labels folder: scoring needs them")
    builder = TableBuilder(spec)
    failed: list[str] = []

    def on_result(i: int, result: Any, error: str | None) -> None:
        if error is not None:
            failed.append(f"{ds.patches[i].patch_id}: {error}")
        else:
            builder.add(*result)
        advance()

    executor.run(_rows_task, (ds, spec, sentinel), range(len(ds)), on_result)
    if failed:
        raise DataError(f"{len(failed)} patch(es) could not be read: {'; '.join(failed[:3])}")
    return builder.table()


def run_budget(
    sample: PixelSample,
    score_ds: FlairDataset,
    options: StudyOptions,
    budget: BudgetOptions,
    *,
    train_split: str,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BudgetResult:
    """The label-budget study on a split.

    Each method spends counted labels on the training sample and is scored on every labelled
    pixel of ``score_ds``.

    Args:
        sample: the training sample (every sampled pixel, no-data included; with Sentinel-2
            values when ``budget.features`` fuses them).
        score_ds: the scoring split (held-out test, or the training split: in-sample).
        options: study options (seed, kNN neighbours, threads, Sentinel-2 options).
        budget: the budget study's options.
        train_split: the sample's split name, recorded with every row.
        executor: where the scoring split is read (default: this process).
        progress: stage display.

    Raises:
        OptionError: if the features need Sentinel-2 values the sample lacks.
    """
    progress = progress or quiet()
    spec = feature_spec(budget.features)
    if spec.use_satellite and sample.s2 is None:
        raise OptionError("the budget features fuse Sentinel-2 but the sample has none")
    start = time.perf_counter()
    sentinel = SentinelOptions.of(options) if spec.use_satellite else None
    table = read_scoring_table(
        score_ds,
        spec,
        sentinel,
        executor=executor or LocalExecutor(),
        advance=progress.stage(f"reading {score_ds.split} for the budget study", len(score_ds)),
    )
    pool = feature_table(sample.aerial, sample.s2, spec)
    if spec.robust_scale:  # fitted on the pool's features only: no label is read
        scaler = RobustScaler(quantile_range=(25.0, 75.0)).fit(pool)
        pool = scaler.transform(pool).astype(np.float32)
        table = ScoringTable(scaler.transform(table.X).astype(np.float32), table.counts)
    read_seconds = time.perf_counter() - start
    step = progress.stage("label-budget study", 1)
    result = run_budget_study(
        pool,
        sample.labels,
        table,
        budgets=budget.budgets,
        n_seeds=budget.seeds,
        seed=options.seed,
        hdbscan_settings=[parse_hdbscan_setting(t) for t in budget.hdbscan],
        kmeans_init=budget.kmeans_init,
        n_neighbors=options.n_neighbors,
        n_jobs=options.n_jobs,
        train_split=train_split,
        score_split=score_ds.split,
    )
    step()
    result.seconds["read"] = round(read_seconds, 3)
    return result


def budget_record(result: BudgetResult, options: BudgetOptions | None = None) -> dict[str, Any]:
    """The budget study as ``results.json`` holds it.

    Rows, summary, the verdict derived from the summary, the protocol and the options.

    Args:
        result: the study.
        options: its options (recorded when given).
    """
    record = result.to_dict()
    found = verdict(record["summary"])
    record["verdict"] = {"findings": found.findings, "sentences": list(found.sentences)}
    record["protocol"] = "in-sample" if result.train_split == result.score_split else "held-out"
    if options is not None:
        record["options"] = options.to_dict()
    return record
