"""Training: the 1 % sample of a split, and each experiment fitted on it.

:func:`fit_models` reads the training sample once for every feature set asked (Sentinel-2
values only when an experiment fuses them) and fits each experiment on it with
:func:`fit_experiment`, giving :class:`~flair_hdbscan.model.ExperimentModel`s — the objects
``run`` scores, ``fit`` saves and ``predict`` loads. Each experiment's draws are seeded from
the study seed and its name, so no result depends on which experiments run or in what order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import Executor, LocalExecutor
from flair_hdbscan.experiments import Experiment, build_estimator
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.model import ExperimentModel, FitRecord
from flair_hdbscan.nomenclature import N_CLASSES, OTHER
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.pixels import PixelSample, SentinelOptions
from flair_hdbscan.progress import Progress, quiet
from flair_hdbscan.provenance import package_versions
from flair_hdbscan.seeds import derive_seed

__all__ = ["fit_experiment", "fit_models", "model_provenance", "sample_table"]

log = logging.getLogger(__name__)


def model_provenance(
    exp: Experiment, options: StudyOptions, data: dict[str, Any]
) -> dict[str, Any]:
    """What a model is made from: training data, experiment, the options that shape it, code.

    Args:
        exp: the experiment.
        options: the study options.
        data: the training split's identity, ``{"split", "digest"}``.
    """
    return {
        "data": data,
        "experiment": exp.name,
        "options": options.relevant(exp.method, exp.features.use_satellite),
        "versions": package_versions(),
    }


def _diagnostics(final: Any) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    return {
        "n_clusters": final.n_clusters_,
        "noise_fraction": final.noise_fraction_,
        "cluster_purity": number(final.cluster_purity_),
        "largest_cluster_fraction": number(final.largest_cluster_fraction_),
        "fallback": final.fallback_,
    }


def fit_experiment(
    exp: Experiment, sample: PixelSample, options: StudyOptions, *, data: dict[str, Any]
) -> ExperimentModel:
    """Fit one experiment on the training sample.

    * ``naive-uniform`` draws among the 13 classes, reading no label;
    * ``naive-prevalence`` draws with the prevalence of the whole sample ("other"
      included, as permuting the labels would), reading every label;
    * kNN and HDBSCAN train on the sample without "other" (unless ``keep_other``) — which
      reads every sampled label: that many labels are counted as used.

    Args:
        exp: the experiment.
        sample: the training sample (with Sentinel-2 values if ``exp`` fuses them).
        options: study options.
        data: the training split's identity, ``{"split", "digest"}``.

    Raises:
        OptionError: if no training pixel is left, or ``n_neighbors`` exceeds them.
    """
    start = time.perf_counter()
    estimator = build_estimator(exp, options, derive_seed(options.seed, exp.name))
    provenance = model_provenance(exp, options, data)
    split = str(data.get("split", ""))
    if exp.is_naive:
        if exp.method == "naive-uniform":
            estimator.fit(np.zeros((N_CLASSES, 1), np.float32), np.arange(N_CLASSES))
            n_used = 0
        else:
            labelled = sample.labelled()
            estimator.fit(np.zeros((len(labelled), 1), np.float32), labelled.labels)
            n_used = sample.n_labels_read
        record = FitRecord(split, len(sample), n_used, {}, time.perf_counter() - start)
        return ExperimentModel(exp, options, estimator, record, provenance)
    train = sample.labelled()
    if not options.keep_other:
        train = train.subset(train.labels != OTHER)
    if len(train) == 0:
        raise OptionError(
            "the training sample holds no labelled pixel: use a smaller --stride or more patches"
        )
    if options.n_neighbors > len(train):
        raise OptionError(
            f"--n-neighbors {options.n_neighbors} exceeds the {len(train):,} training pixels: "
            f"use at most {len(train):,}, or a smaller --stride"
        )
    if exp.method == "hdbscan" and options.min_cluster_size > len(train):
        raise OptionError(
            f"--min-cluster-size {options.min_cluster_size} exceeds the {len(train):,} "
            f"training pixels: use at most {len(train):,}"
        )
    X = feature_table(train.aerial, train.s2, exp.features)
    estimator.fit(X, train.labels)
    final = estimator[-1]
    diagnostics = _diagnostics(final) if exp.method == "hdbscan" else {}
    record = FitRecord(
        split, len(train), sample.n_labels_read, diagnostics, time.perf_counter() - start
    )
    log.info("fitted %s on %d pixels", exp.name, len(train))
    return ExperimentModel(exp, options, estimator, record, provenance)


def fit_models(
    ds: FlairDataset,
    experiments: Sequence[Experiment],
    options: StudyOptions,
    *,
    data: dict[str, Any],
    executor: Executor | None = None,
    progress: Progress | None = None,
    with_s2: bool = False,
) -> tuple[PixelSample, list[ExperimentModel]]:
    """Read the training sample of ``ds`` once and fit every experiment on it.

    Args:
        ds: the training split (it needs labels).
        experiments: what to fit.
        options: study options.
        data: ``ds``'s identity, ``{"split", "digest"}``.
        executor: where the sample is read (default: this process).
        progress: stage display.
        with_s2: read Sentinel-2 values even when no experiment fuses them (for the
            budget study).

    Returns:
        The sample and the fitted models, in the order of ``experiments``.
    """
    progress = progress or quiet()
    executor = executor or LocalExecutor()
    need_sat = with_s2 or any(e.features.use_satellite for e in experiments)
    sentinel = SentinelOptions.of(options) if need_sat else None
    sample = read_training_sample(
        ds,
        stride=options.stride,
        sentinel=sentinel,
        executor=executor,
        advance=progress.stage(f"reading the training sample of {ds.split}", len(ds)),
        max_pixels=options.max_train_pixels,
        seed=options.seed,
    )
    log.info("training sample: %d pixels from %d patches", len(sample), len(ds))
    models = []
    for exp in experiments:
        verb = "clustering" if exp.method == "hdbscan" else "fitting"
        step = progress.stage(f"{verb} {exp.name}", 1)
        models.append(fit_experiment(exp, sample, options, data=data))
        step()
    return sample, models


def sample_table(
    ds: FlairDataset,
    *,
    satellite: bool = False,
    options: StudyOptions | None = None,
    executor: Executor | None = None,
    advance: Callable[[], None] = lambda: None,
) -> pd.DataFrame:
    """The training sample as a labelled feature table, for exploring the pixels.

    The seed's ``extract_spectra``: the study's training sample (every ``options.stride``-th
    pixel along each axis), pixels of class "other" and without data left out.

    Args:
        ds: a split with labels.
        satellite: add the Sentinel-2 composite bands (``s2_b02`` … ``s2_b12``).
        options: study options (stride, Sentinel-2 options); defaults: the notebook's.
        executor: where the patches are read (default: this process).
        advance: called once per patch read (progress).

    Returns:
        DataFrame of float32 feature columns (``red`` … ``elevation`` as value / 255, with
        ``satellite`` also ``s2_*`` as reflectance / 10000) and uint8 ``label`` (0..11).
    """
    options = options or StudyOptions()
    sample = read_training_sample(
        ds,
        stride=options.stride,
        sentinel=SentinelOptions.of(options) if satellite else None,
        executor=executor or LocalExecutor(),
        advance=advance,
    )
    sample = sample.subset(sample.labels < OTHER)
    spec = FeatureSpec(use_satellite=satellite)
    table = pd.DataFrame(feature_table(sample.aerial, sample.s2, spec), columns=list(spec.columns))
    table["label"] = sample.labels
    return table
