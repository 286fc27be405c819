"""``flair-hdbscan fit``: fit one experiment on the training split and save it as a model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan.cli.options import data_options, make_study_options, study_options


def experiment_option(func: Any) -> Any:
    """Add ``--experiment NAME`` (a kNN or HDBSCAN experiment of the study)."""
    return click.option(
        "--experiment",
        "experiment",
        default=None,
        metavar="NAME",
        help="A kNN or HDBSCAN experiment of the study: knn, knn-normalized, "
        "knn-normalized-no-intensity, hdbscan, hdbscan-normalized, knn-robust, hdbscan-robust, "
        "knn-robust-normalized, hdbscan-robust-normalized, knn-satellite, hdbscan-satellite, "
        "knn-satellite-normalized, hdbscan-satellite-normalized, knn-satellite-robust, "
        "hdbscan-satellite-robust. (The naive baselines draw classes at random and have no "
        "model to save.)",
    )(func)


def describe(model: Any) -> str:
    """One-paragraph summary of a fitted experiment: pixels, clusters, noise, mapping."""
    meta = model.metadata
    text = f"{meta['experiment']}: trained on {meta['n_train_pixels']:,} pixels"
    if meta.get("mapping") is None:
        return text + f", {meta['n_labels_used']:,} labels read"
    text += f"; {meta['n_clusters']} clusters, noise {100 * meta['noise_fraction']:.1f} %"
    if meta.get("cluster_purity") is not None:
        text += f", purity {meta['cluster_purity']:.3f}"
    if meta.get("fallback"):
        text += f" (fallback: {meta['fallback']})"
    if meta["mapping"] == "oracle":
        text += (
            f"; ORACLE mapping: each cluster takes the majority true class of its members "
            f"({meta['n_labels_used']:,} labels read)"
        )
    else:
        text += f"; mapping {meta['mapping']} ({meta['n_labels_used']:,} labels read)"
    return text


@click.command()
@data_options
@experiment_option
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Model file to write (e.g. knn.model): plain arrays and JSON metadata, no pickle.",
)
@study_options
def fit(
    data: Path | None,
    config: Path | None,
    experiment: str | None,
    model_path: Path,
    **kwargs: Any,
) -> None:
    """Fit one experiment on the TRAINING split exactly as `run` does, and save it.

    The training sample, seed and options are those of `run` with the same options, so
    `predict` with the saved model reproduces `run`'s predictions. Without --data or
    --config the embedded sample dataset is used.
    """
    from flair_hdbscan.cli.options import open_dataset
    from flair_hdbscan.errors import OptionError
    from flair_hdbscan.modelfile import check_predictable, save_model
    from flair_hdbscan.predict import fit_model
    from flair_hdbscan.progress import progress_bar
    from flair_hdbscan.study import select_experiments
    from flair_hdbscan.tables import make_console

    if experiment is None:
        raise OptionError("no --experiment given: name the experiment to fit, e.g. knn")
    options = make_study_options(kwargs)
    [exp] = select_experiments([experiment])
    check_predictable(exp)
    ds = open_dataset(data, config, "train")
    console = make_console()
    console.print(f"fitting {exp.name} on the train split ({len(ds)} patches)")
    with progress_bar() as bar:
        task = bar.add_task("reading training sample", total=len(ds))
        model = fit_model(ds, exp.name, options, on_patch=lambda _i: bar.advance(task))
    save_model(model_path, model)
    console.print(describe(model))
    console.print(f"wrote {model_path}")


# `fit` always trains on the training split: drop the --split that data_options adds.
fit.params = [p for p in fit.params if p.name != "split"]
