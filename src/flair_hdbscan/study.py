"""The study: every experiment of the original notebook, as fit → predict → score.

:func:`run_study` fits each experiment on the 1 % sample of the training split
(:func:`~flair_hdbscan.training.fit_models`: one read of the sample for every feature set),
then predicts every pixel of the scoring split with every model in one pass
(:func:`~flair_hdbscan.passes.predict_split`: each patch's files read once, one confusion
matrix per model, resumable) and scores the matrices in FLAIR's convention.

By default the scoring split is the held-out test split: the models never saw its patches.
Scoring the training split itself (the notebook's protocol) is available and is labelled
"in-sample" wherever it is reported. HDBSCAN experiments name their clusters with the
study's ORACLE mapping (each cluster takes the majority true class of its members).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flair_hdbscan.budget.pipeline import budget_record, feature_spec, run_budget
from flair_hdbscan.budget.results import BudgetResult
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.executors import Executor, LocalExecutor
from flair_hdbscan.experiments import Experiment, select_experiments
from flair_hdbscan.ledger import Ledger
from flair_hdbscan.metrics import scores
from flair_hdbscan.model import ExperimentModel
from flair_hdbscan.options import BudgetOptions, StudyOptions
from flair_hdbscan.passes import PredictPlan, predict_split
from flair_hdbscan.progress import Progress, quiet
from flair_hdbscan.provenance import data_digest, package_versions
from flair_hdbscan.training import fit_models

__all__ = [
    "StudyResult",
    "check_against_data",
    "data_identity",
    "protocol_of",
    "run_study",
    "study_provenance",
]

log = logging.getLogger(__name__)


def protocol_of(train_split: str, score_split: str) -> str:
    """``"held-out"`` when the scoring split is not the training split, else ``"in-sample"``."""
    return "in-sample" if train_split == score_split else "held-out"


def data_identity(ds: FlairDataset, *, content: bool = False) -> dict[str, Any]:
    """A split's identity for provenance records: ``{"split", "n_patches", "digest"}``."""
    return {"split": ds.split, "n_patches": len(ds), "digest": data_digest(ds, content=content)}


def study_provenance(
    train: dict[str, Any],
    score: dict[str, Any],
    experiments: Sequence[Experiment],
    options: StudyOptions,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a study run is made from (its identity is the digest of this).

    Args:
        train: the training split's :func:`data_identity`.
        score: the scoring split's :func:`data_identity`.
        experiments: the experiments run.
        options: study options (threads left out: they change no result).
        extra: other settings that shape the results (the budget study's).
    """
    opts = options.to_dict()
    opts.pop("n_jobs")
    return {
        "train": train,
        "score": score,
        "experiments": [e.name for e in experiments],
        "options": opts,
        "extra": extra or {},
        "versions": package_versions(),
    }


def check_against_data(ds: FlairDataset, options: StudyOptions, *, satellite: bool) -> None:
    """Check the options that depend on the data, before any pixel is read.

    With Sentinel-2 fusion, the super patch must fit in every super area of the split (the
    real release keeps every centroid far enough from the border for sizes up to 112).

    Raises:
        OptionError: naming the option, the area and the largest size that fits.
    """
    if not satellite:
        return
    seen: set[str] = set()
    for i, ref in enumerate(ds.patches):
        if ref.area in seen:
            continue
        seen.add(ref.area)
        _, height, width = ds.area_shape(i)
        if options.sat_patch_size > min(height, width):
            raise OptionError(
                f"--sat-patch-size {options.sat_patch_size} exceeds the {height}×{width} "
                f"Sentinel-2 super area {ref.area}: use at most {min(height, width)}"
            )


@dataclass
class StudyResult:
    """What :func:`run_study` returns.

    Attributes:
        run: run metadata (seed, options, splits, protocol, provenance, versions, timings).
        experiments: one JSON-ready dictionary per experiment (see ``results.json``).
        maps: predicted arrays of the first ``map_patches`` patches of the scoring split:
            ``{patch_id: {"rgb", "truth", "pred": {name: ...}, "clusters": {name: ...}}}``.
        models: the fitted models, by experiment name.
        budget: the label-budget study, or None when it was not run.
    """

    run: dict[str, Any]
    experiments: list[dict[str, Any]]
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, ExperimentModel] = field(default_factory=dict)
    budget: BudgetResult | None = None
    budget_options: BudgetOptions | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"run", "experiments"[, "budget"]}``, as written to ``results.json``."""
        out = {"run": self.run, "experiments": self.experiments}
        if self.budget is not None:
            out["budget"] = budget_record(self.budget, self.budget_options)
        return out

    def experiment(self, name: str) -> dict[str, Any]:
        """The result of one experiment by name."""
        for e in self.experiments:
            if e["name"] == name:
                return e
        raise KeyError(name)


def _experiment_row(
    model: ExperimentModel, matrix: Any, seconds: float, score_split: str
) -> dict[str, Any]:
    exp = model.experiment
    s = scores(matrix)
    record = model.record
    d = record.diagnostics
    return {
        "name": exp.name,
        "part": exp.part,
        "method": exp.method,
        "option": exp.option,
        "features": exp.features.to_dict(),
        "columns": [] if exp.is_naive else list(exp.features.columns),
        "options": model.options.relevant(exp.method, exp.features.use_satellite),
        "train_split": record.train_split,
        "score_split": score_split,
        "protocol": protocol_of(record.train_split, score_split),
        "mapping": model.mapping,
        "miou": s["miou"],
        "iou": s["iou"],
        "overall_accuracy": s["overall_accuracy"],
        "producers_accuracy": s["producers_accuracy"],
        "users_accuracy": s["users_accuracy"],
        "confusion_matrix": s["confusion_matrix"],
        "n_train_pixels": record.n_train_pixels,
        "n_eval_pixels": int(sum(map(sum, s["confusion_matrix"]))),
        "n_labels_used": record.n_labels_used,
        "n_clusters": d.get("n_clusters"),
        "noise_fraction": d.get("noise_fraction"),
        "cluster_purity": d.get("cluster_purity"),
        "largest_cluster_fraction": d.get("largest_cluster_fraction"),
        "fallback": d.get("fallback"),
        "seconds": round(record.seconds + seconds, 3),
        "fit_seconds": round(record.seconds, 3),
    }


def run_study(
    train_ds: FlairDataset,
    score_ds: FlairDataset,
    experiments: str | Sequence[str] | None = None,
    options: StudyOptions | None = None,
    *,
    map_patches: int = 2,
    executor: Executor | None = None,
    progress: Progress | None = None,
    ledger_path: Path | None = None,
    verify_content: bool = False,
    budget: BudgetOptions | None = None,
) -> StudyResult:
    """Run experiments of the study: fit on ``train_ds``, score every pixel of ``score_ds``.

    Args:
        train_ds: the split to train on (it needs labels).
        score_ds: the split to score (it needs labels): the held-out test split, or
            ``train_ds`` itself for the notebook's in-sample protocol.
        experiments: names, ``"all"`` or None (all), see
            :data:`~flair_hdbscan.experiments.EXPERIMENTS`.
        options: study options (defaults: the original notebook's).
        map_patches: first patches of the scoring split whose predicted maps are kept.
        executor: where per-patch work runs (default: this process).
        progress: stage display.
        ledger_path: where the scoring pass records its progress; a run of the same data,
            experiments, options and code resumes from it.
        verify_content: identify the data by the content of its files, not their sizes
            and times.
        budget: also run the label-budget study (:mod:`flair_hdbscan.budget`) with these
            options, on the same training sample and scoring split.

    Returns:
        A :class:`StudyResult`; confusion matrices are identical run after run for the same
        data, options and seed, whatever the order of the experiments.

    Raises:
        OptionError: on an unknown experiment, options that do not fit the data, or a split
            without labels.
        DataError: naming the patches that could not be read.
    """
    options = options or StudyOptions()
    progress = progress or quiet()
    executor = executor or LocalExecutor()
    chosen = select_experiments(experiments)
    for ds in (train_ds, score_ds):
        if not ds.has_labels:
            raise OptionError(
                f"the {ds.split} split has no labels folder: the study needs ground truth"
            )
    if map_patches < 0:
        raise OptionError(f"--map-patches must be 0 or more, got {map_patches}")
    budget_sat = budget is not None and feature_spec(budget.features).use_satellite
    satellite = budget_sat or any(e.features.use_satellite for e in chosen)
    check_against_data(train_ds, options, satellite=satellite)
    check_against_data(score_ds, options, satellite=satellite)
    t0 = time.perf_counter()
    train_id = data_identity(train_ds, content=verify_content)
    score_id = train_id if score_ds is train_ds else data_identity(score_ds, content=verify_content)
    provenance = study_provenance(
        train_id,
        score_id,
        chosen,
        options,
        {"budget": None if budget is None else budget.to_dict()},
    )
    sample, models = fit_models(
        train_ds, chosen, options, data=train_id, executor=executor, progress=progress,
        with_s2=budget_sat,
    )  # fmt: skip
    t_fit = time.perf_counter() - t0

    ledger, note = Ledger.open(ledger_path, provenance, len(models))
    if note:
        progress.note(f"starting the scoring pass afresh: {note}")
    keep = frozenset(ref.patch_id for ref in score_ds.patches[:map_patches])
    plan = PredictPlan(score_ds, tuple(models), score=True, keep=keep)
    summary = predict_split(
        plan,
        ledger,
        executor,
        advance=progress.stage(f"predicting every pixel of {score_ds.split}", len(score_ds)),
    )
    if summary.failed:
        shown = "; ".join(f"{pid}: {msg}" for pid, msg in summary.failed[:3])
        raise DataError(
            f"{len(summary.failed)} patch(es) of {score_ds.split} could not be scored ({shown}); "
            "fix or remove them and run again: finished patches are kept"
        )
    t_predict = time.perf_counter() - t0 - t_fit
    budget_result = None
    if budget is not None:
        budget_result = run_budget(
            sample, score_ds, options, budget, train_split=train_ds.split, executor=executor,
            progress=progress,
        )  # fmt: skip
    t_budget = time.perf_counter() - t0 - t_fit - t_predict

    rows = [
        _experiment_row(m, ledger.matrices[k], float(ledger.seconds[k]), score_ds.split)
        for k, m in enumerate(models)
    ]
    run = {
        "seed": options.seed,
        "options": options.to_dict(),
        "experiments": [e.name for e in chosen],
        "train_split": train_ds.split,
        "score_split": score_ds.split,
        "protocol": protocol_of(train_ds.split, score_ds.split),
        "dataset": {
            "root": str(train_ds.paths.aerial.parent),
            "train": train_id,
            "score": score_id,
        },
        "provenance": provenance,
        "versions": package_versions(),
        "n_train_sample": len(sample),
        "n_labels_read": sample.n_labels_read,
        "seconds": {
            "fit": round(t_fit, 3),
            "predict": round(t_predict, 3),
            "budget": round(t_budget, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }
    maps = {pid: summary.arrays[pid] for pid in sorted(keep) if pid in summary.arrays}
    return StudyResult(run, rows, maps, {m.name: m for m in models}, budget_result, budget)
