"""The study: every experiment of the original notebook, run once over a split.

The runner does shared work once: one pass reads the training sample (every 10th pixel along
each axis) for every feature set at the same time, each experiment's model is fitted on it,
and one more pass streams the split patch by patch, predicting every pixel for every
experiment and summing one confusion matrix per experiment. Memory does not grow with the
number of patches. Pixels whose features are equal are predicted once per patch.

Evaluation covers every labelled pixel of the split, 99 % of which the models never saw.
HDBSCAN experiments name their clusters with the ORACLE mapping of the study (each cluster
takes the majority true class of its members) unless a label budget is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.experiments import (
    EXPERIMENT_NAMES,
    EXPERIMENTS,
    Experiment,
    StudyOptions,
    build_model,
    experiment_seed,
    select_experiments,
)
from flair_hdbscan.features import feature_table
from flair_hdbscan.inference import predict_table, unique_features
from flair_hdbscan.metrics import ConfusionAccumulator, scores
from flair_hdbscan.models import ClusterThenLabel
from flair_hdbscan.nomenclature import N_CLASSES, OTHER
from flair_hdbscan.pixels import (
    PatchPixels,
    PixelSample,
    read_patch_pixels,
    training_sample,
    unique_rows,
)

__all__ = [
    "EXPERIMENTS",
    "EXPERIMENT_NAMES",
    "Experiment",
    "StudyOptions",
    "StudyResult",
    "fit_experiment",
    "run_study",
    "select_experiments",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int | None], Callable[[], None]]


@dataclass
class FittedExperiment:
    """A fitted experiment and what its fit consumed.

    Attributes:
        experiment: the experiment.
        model: the fitted estimator (a pipeline for kNN and HDBSCAN).
        n_train_pixels: rows of the training sample it was fitted on.
        n_labels_used: ground-truth labels it read (all training rows for kNN; for HDBSCAN
            the labels its cluster-to-class mapping consumed).
        diagnostics: clustering figures (n_clusters, noise_fraction, cluster_purity, ...).
        fit_seconds: wall time of the fit.
    """

    experiment: Experiment
    model: Any
    n_train_pixels: int
    n_labels_used: int
    diagnostics: dict[str, Any]
    fit_seconds: float


def fit_experiment(
    exp: Experiment, sample: PixelSample, options: StudyOptions, k: int = 0
) -> FittedExperiment:
    """Fit one experiment on the training sample.

    Args:
        exp: the experiment.
        sample: the training sample (Sentinel-2 values present if ``exp`` uses them).
        options: study options.
        k: the experiment's index in :data:`EXPERIMENTS`, which seeds its random draws.
    """
    start = time.perf_counter()
    seed = experiment_seed(options.seed, k)
    model = build_model(exp, options, seed)
    if exp.is_naive:
        # prevalence of the whole 1 % sample, "other" included, as permuting the labels would
        model.fit(np.zeros((len(sample), 1), dtype=np.float32), sample.labels)
        n_used = len(sample) if exp.method == "naive-prevalence" else 0
        return FittedExperiment(exp, model, len(sample), n_used, {}, time.perf_counter() - start)
    train = sample.subset(sample.labels != OTHER) if options.no_other else sample
    if len(train) == 0:
        raise OptionError(
            "the training sample holds no labelled pixel: use a smaller --stride or more patches"
        )
    X = feature_table(train.aerial, train.s2, exp.features)
    model.fit(X, train.labels)
    diagnostics: dict[str, Any] = {}
    n_used = len(train)
    final = model[-1]
    if isinstance(final, ClusterThenLabel):
        n_used = final.n_labels_used_
        diagnostics = {
            "n_clusters": final.n_clusters_,
            "noise_fraction": final.noise_fraction_,
            "cluster_purity": None
            if np.isnan(final.cluster_purity_)
            else float(final.cluster_purity_),
            "largest_cluster_fraction": None
            if np.isnan(final.largest_cluster_fraction_)
            else float(final.largest_cluster_fraction_),
            "fallback": final.fallback_,
        }
    return FittedExperiment(
        exp, model, len(train), n_used, diagnostics, time.perf_counter() - start
    )


@dataclass
class StudyResult:
    """What :func:`run_study` returns.

    Attributes:
        run: run metadata (seed, options, dataset, versions, timings).
        experiments: one JSON-ready dictionary per experiment (see ``results.json``).
        maps: predicted maps of the first ``map_patches`` patches:
            ``{patch_id: {"rgb": (H, W, 3) uint8, "truth": (H, W) uint8,
            "pred": {name: (H, W) uint8}, "clusters": {name: (H, W) int32}}}``.
        models: the fitted experiments, by name.
    """

    run: dict[str, Any]
    experiments: list[dict[str, Any]]
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, FittedExperiment] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"run": ..., "experiments": [...]}``, as written to ``results.json``."""
        return {"run": self.run, "experiments": self.experiments}

    def experiment(self, name: str) -> dict[str, Any]:
        """The result of one experiment by name."""
        for e in self.experiments:
            if e["name"] == name:
                return e
        raise KeyError(name)


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in (
        "flair-hdbscan",
        "numpy",
        "scipy",
        "scikit-learn",
        "fast_hdbscan",
        "hdbscan",
        "numba",
        "rasterio",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _signature(ds: FlairDataset, names: list[str], options: StudyOptions) -> str:
    payload = json.dumps(
        {"data": ds.fingerprint(), "split": ds.split, "names": names, "options": options.to_dict()},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class _Checkpoint:
    """Confusion matrices so far, saved after each patch so that a run can resume."""

    def __init__(self, path: Path | None, signature: str, n_exp: int) -> None:
        self.path = path
        self.signature = signature
        self.next_patch = 0
        self.matrices = np.zeros((n_exp, N_CLASSES, N_CLASSES), dtype=np.int64)
        self.seconds = np.zeros(n_exp, dtype=np.float64)
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    if str(z["signature"]) == signature:
                        self.next_patch = int(z["next_patch"])
                        self.matrices = z["matrices"].astype(np.int64)
                        self.seconds = z["seconds"].astype(np.float64)
                        log.info("resuming at patch %d from %s", self.next_patch, path)
            except (OSError, KeyError, ValueError):
                log.warning("ignoring unreadable checkpoint %s", path)

    def save(self) -> None:
        if self.path is None:
            return
        from flair_hdbscan.atomic import atomic_path

        with atomic_path(self.path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    signature=np.array(self.signature),
                    next_patch=np.array(self.next_patch),
                    matrices=self.matrices,
                    seconds=self.seconds,
                )


def _noop_progress(_description: str, _total: int | None) -> Callable[[], None]:
    return lambda: None


def _predict_patch(
    fitted: list[FittedExperiment],
    px_aerial: PatchPixels,
    px_sat: PatchPixels | None,
    options: StudyOptions,
    patch_index: int,
    ks: list[int],
    keep_clusters: bool,
) -> tuple[list[np.ndarray], dict[str, np.ndarray], list[float]]:
    """Predictions ``(n,) uint8`` of every experiment on one patch's pixels."""
    tables: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    uniques: dict[bool, tuple[np.ndarray, np.ndarray]] = {}  # shared by feature sets
    preds: list[np.ndarray] = []
    clusters: dict[str, np.ndarray] = {}
    seconds: list[float] = []
    n = px_aerial.aerial.shape[0]
    for f, k in zip(fitted, ks, strict=True):
        start = time.perf_counter()
        exp = f.experiment
        if exp.is_naive:
            f.model.set_params(random_state=experiment_seed(options.seed, k, patch_index))
            pred = f.model.predict(np.zeros((n, 1), dtype=np.float32))
        else:
            sat = exp.features.use_satellite
            px = px_sat if sat else px_aerial
            if sat not in uniques:
                uniques[sat] = unique_rows(px, use_satellite=sat)
            first, inverse = uniques[sat]
            key = exp.features.table_key
            if key not in tables:
                tables[key] = unique_features(px, exp.features, (first, inverse))
            X, inverse = tables[key]
            pred, cluster_ids = predict_table(f.model, X, inverse, clusters=keep_clusters)
            if cluster_ids is not None:
                clusters[exp.name] = cluster_ids
        preds.append(np.asarray(pred, dtype=np.uint8))
        seconds.append(time.perf_counter() - start)
    return preds, clusters, seconds


def run_study(
    ds: FlairDataset,
    experiments: str | Sequence[str] | None = None,
    options: StudyOptions | None = None,
    *,
    progress: Progress | None = None,
    checkpoint: Path | None = None,
) -> StudyResult:
    """Run experiments of the study on one split.

    Args:
        ds: the split to train on and evaluate (it needs labels).
        experiments: names, ``"all"`` or None (all), see :data:`EXPERIMENTS`.
        options: study options (defaults: the original notebook's).
        progress: ``progress(description, total)`` returns a callable advancing one step;
            called once per stage (reading the sample, fitting each experiment, predicting).
        checkpoint: file where the evaluation pass saves its state after every patch; a run
            with the same data, experiments and options resumes from it.

    Returns:
        A :class:`StudyResult`; confusion matrices are identical run after run for the same
        data, options and seed.
    """
    options = options or StudyOptions()
    progress = progress or _noop_progress
    chosen = select_experiments(experiments)
    if not ds.has_labels:
        raise OptionError(
            f"the {ds.split} split has no labels folder: the study needs ground truth"
        )
    t0 = time.perf_counter()
    need_sat = any(e.features.use_satellite for e in chosen)
    sentinel = options.sentinel if need_sat else None

    advance = progress("reading training sample", len(ds))
    sample = training_sample(
        ds, stride=options.stride, sentinel=sentinel, on_patch=lambda _i: advance()
    )
    t_sample = time.perf_counter() - t0
    log.info("training sample: %d pixels from %d patches", len(sample), len(ds))

    ks = [EXPERIMENT_NAMES.index(e.name) for e in chosen]
    fitted: list[FittedExperiment] = []
    for exp, k in zip(chosen, ks, strict=True):
        verb = "clustering" if exp.method == "hdbscan" else "fitting"
        step = progress(f"{verb} {exp.name}", 1)
        fitted.append(fit_experiment(exp, sample, options, k))
        step()
    t_fit = time.perf_counter() - t0 - t_sample

    names = [e.name for e in chosen]
    state = _Checkpoint(checkpoint, _signature(ds, names, options), len(chosen))
    maps: dict[str, dict[str, Any]] = {}
    n_maps = min(options.map_patches, len(ds))
    advance = progress("predicting every pixel", len(ds))
    for i in range(len(ds)):
        accumulate = i >= state.next_patch
        keep_map = i < n_maps
        if not (accumulate or keep_map):
            advance()
            continue
        px_aerial = read_patch_pixels(ds, i)
        px_sat = read_patch_pixels(ds, i, sentinel=sentinel) if need_sat else None
        preds, clusters, seconds = _predict_patch(
            fitted, px_aerial, px_sat, options, i, ks, keep_clusters=keep_map
        )
        if accumulate:
            for e, pred in enumerate(preds):
                acc = ConfusionAccumulator()
                acc.update(px_aerial.labels, pred)
                state.matrices[e] += acc.matrix
                state.seconds[e] += seconds[e]
            state.next_patch = i + 1
            state.save()
        if keep_map:
            shape = px_aerial.shape
            rgb = px_aerial.aerial[:, :3].reshape(*shape, 3)
            maps[px_aerial.patch_id] = {
                "rgb": rgb,
                "truth": px_aerial.labels.reshape(shape),
                "pred": {n: p.reshape(shape) for n, p in zip(names, preds, strict=True)},
                "clusters": {n: c.reshape(shape).astype(np.int32) for n, c in clusters.items()},
            }
        advance()
    t_predict = time.perf_counter() - t0 - t_sample - t_fit

    results = []
    for e, f in enumerate(fitted):
        exp = f.experiment
        s = scores(state.matrices[e])
        results.append(
            {
                "name": exp.name,
                "part": exp.part,
                "method": exp.method,
                "features": exp.features.to_dict(),
                "columns": list(exp.features.columns) if not exp.is_naive else [],
                "options": _experiment_options(exp, options),
                "miou": s["miou"],
                "iou": s["iou"],
                "overall_accuracy": s["overall_accuracy"],
                "producers_accuracy": s["producers_accuracy"],
                "users_accuracy": s["users_accuracy"],
                "confusion_matrix": s["confusion_matrix"],
                "n_train_pixels": f.n_train_pixels,
                "n_eval_pixels": int(state.matrices[e].sum()),
                "n_labels_used": f.n_labels_used,
                "n_clusters": f.diagnostics.get("n_clusters"),
                "noise_fraction": f.diagnostics.get("noise_fraction"),
                "cluster_purity": f.diagnostics.get("cluster_purity"),
                "largest_cluster_fraction": f.diagnostics.get("largest_cluster_fraction"),
                "fallback": f.diagnostics.get("fallback"),
                "mapping": (f.model[-1].mapping if exp.method == "hdbscan" else None),
                "seconds": round(f.fit_seconds + float(state.seconds[e]), 3),
                "fit_seconds": round(f.fit_seconds, 3),
            }
        )
    run = {
        "seed": options.seed,
        "options": options.to_dict(),
        "experiments": names,
        "dataset": {
            "root": str(ds.paths.aerial.parent),
            "split": ds.split,
            "n_patches": len(ds),
            "fingerprint": ds.fingerprint(),
        },
        "versions": package_versions(),
        "n_train_sample": len(sample),
        "seconds": {
            "sample": round(t_sample, 3),
            "fit": round(t_fit, 3),
            "predict": round(t_predict, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return StudyResult(run, results, maps, {f.experiment.name: f for f in fitted})


def _experiment_options(exp: Experiment, options: StudyOptions) -> dict[str, Any]:
    """The options that shaped one experiment."""
    out: dict[str, Any] = {"seed": options.seed}
    if exp.is_naive:
        return out
    out.update(stride=options.stride, no_other=options.no_other, n_neighbors=options.n_neighbors)
    if exp.features.use_satellite:
        out.update(
            s2_resampling=options.s2_resampling,
            cloud_area_threshold=options.cloud_area_threshold,
            cloud_proba_threshold=options.cloud_proba_threshold,
            sat_patch_size=options.sat_patch_size,
        )
    if exp.method == "hdbscan":
        out.update(
            min_cluster_size=options.min_cluster_size,
            min_samples=options.effective_min_samples,
            cluster_selection_method=options.cluster_selection_method,
            backend=options.backend,
            dedup=options.dedup,
            label_budget=options.label_budget,
        )
    return out
