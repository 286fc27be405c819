"""``flair-hdbscan fit``: fit one experiment on the training split and save it as a model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan.cli.options import (
    PathType,
    data_options,
    execution_options,
    make_study_options,
    open_dataset,
    study_options,
)
from flair_hdbscan.errors import OptionError, OutputError
from flair_hdbscan.executors import make_executor
from flair_hdbscan.experiments import MODEL_EXPERIMENT_NAMES
from flair_hdbscan.experiments import experiment as lookup
from flair_hdbscan.modelfile import save_model
from flair_hdbscan.outdir import check_writable
from flair_hdbscan.progress import Progress
from flair_hdbscan.study import check_against_data, data_identity
from flair_hdbscan.tables import make_console
from flair_hdbscan.training import fit_models


def experiment_option(func: Any) -> Any:
    """Add ``--experiment NAME`` (a kNN or HDBSCAN experiment of the study)."""
    return click.option(
        "--experiment",
        "experiment",
        type=click.Choice(MODEL_EXPERIMENT_NAMES),
        default=None,
        help="A kNN or HDBSCAN experiment of the study. (The naive baselines draw classes at "
        "random and have no model to save.)",
    )(func)


def describe(model: Any) -> str:
    """One-paragraph summary of a fitted experiment: pixels, clusters, noise, mapping."""
    record = model.record
    text = (
        f"{model.name}: trained on {record.n_train_pixels:,} pixels of the "
        f"{record.train_split} split, {record.n_labels_used:,} labels read"
    )
    d = record.diagnostics
    if not model.is_hdbscan:
        return text
    text += f"; {d['n_clusters']} clusters, noise {100 * d['noise_fraction']:.1f} %"
    if d.get("cluster_purity") is not None:
        text += f", purity {d['cluster_purity']:.3f}"
    if d.get("fallback"):
        text += f" (fallback: {d['fallback']})"
    return text + "; ORACLE mapping: each cluster takes the majority true class of its members"


def fit_one(
    data: Path | None, config: Path | None, experiment: str, kwargs: dict[str, Any], executor: Any,
    progress: Any, verify_content: bool,
) -> Any:  # fmt: skip
    """Fit ``experiment`` on the training split exactly as ``run`` does."""
    options = make_study_options(kwargs)
    exp = lookup(experiment)
    ds = open_dataset(data, config, "train")
    check_against_data(ds, options, satellite=exp.features.use_satellite)
    _, [model] = fit_models(
        ds,
        [exp],
        options,
        data=data_identity(ds, content=verify_content),
        executor=executor,
        progress=progress,
    )
    return model


@click.command()
@data_options(split=False)
@experiment_option
@click.option(
    "--model",
    "model_path",
    required=True,
    type=PathType(path_type=Path, dir_okay=False),
    help="Model file to write (e.g. knn.model): plain arrays and JSON metadata, no pickle.",
)
@click.option("--overwrite", is_flag=True, help="Replace --model if it exists.")
@study_options
@execution_options(default_workers=1)
def fit(
    data: Path | None,
    config: Path | None,
    experiment: str | None,
    model_path: Path,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    verify_content: bool,
    **kwargs: Any,
) -> None:
    """Fit one experiment on the TRAINING split exactly as `run` does, and save it.

    The training sample, seed and options are those of `run` with the same options, so
    `predict` with the saved model reproduces `run`'s predictions. Without --data or
    --config the embedded sample dataset is used.
    """
    if experiment is None:
        raise OptionError("no --experiment given: name the experiment to fit, e.g. knn")
    if model_path.exists() and not overwrite:
        raise OutputError(f"{model_path} exists: add --overwrite to replace it")
    check_writable(model_path, need_bytes=10_000_000, what="model file")
    console = make_console()
    with make_executor(scheduler, workers) as executor, Progress() as progress:
        model = fit_one(data, config, experiment, kwargs, executor, progress, verify_content)
    save_model(model_path, model)
    console.print(describe(model))
    console.print(f"wrote {model_path}")
