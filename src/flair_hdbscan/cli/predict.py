"""``flair-hdbscan predict``: every patch of a split on Dask, written as PRED_<id>.tif."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from flair_hdbscan.cli.fit import describe, experiment_option
from flair_hdbscan.cli.options import (
    STUDY_OPTION_NAMES,
    data_options,
    make_study_options,
    study_options,
)


@click.command(
    epilog="Exit status: 0 when every patch was predicted (or already was), 1 when some "
    "patch failed (listed by id; run again to retry them), 2 on a usage error."
)
@data_options
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Model file written by `flair-hdbscan fit`.",
)
@experiment_option
@study_options
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder; maps go to OUT/<domain>/<zone>/PRED_<id>.tif.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Address of a running Dask scheduler (tcp://host:port). Without it a local cluster "
    "of single-threaded worker processes is started and stopped.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes of the local cluster [default: this machine's cores].",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Predict patches whose outputs exist too (by default they are skipped, so an "
    "interrupted run resumes).",
)
@click.option(
    "--clusters",
    is_flag=True,
    help="Also write CLUSTER_<id>.tif, int32 cluster of each pixel's nearest clustered "
    "training pixel (HDBSCAN experiments).",
)
@click.pass_context
def predict(
    ctx: click.Context,
    data: Path | None,
    config: Path | None,
    split: str,
    model_path: Path | None,
    experiment: str | None,
    out: Path,
    scheduler: str | None,
    workers: int | None,
    overwrite: bool,
    clusters: bool,
    **kwargs: Any,
) -> None:
    """Predict every patch of a split and write FLAIR-named GeoTIFF class maps.

    Give a model file (--model) or an experiment to fit first on the training split
    exactly as `run` does (--experiment, with the study options, --seed included). One
    Dask task per patch; the model is sent to each worker once. Maps are uint8 classes
    0..12 on the aerial patch's grid, LZW-compressed, each written under a temporary name
    and renamed when complete: a re-run skips finished patches. Score them with
    `flair-hdbscan evaluate --truth <labels> --pred OUT`.
    """
    from flair_hdbscan.cli.options import open_dataset
    from flair_hdbscan.errors import OptionError
    from flair_hdbscan.modelfile import check_predictable, load_model
    from flair_hdbscan.predict import fit_model, predict_split
    from flair_hdbscan.progress import progress_bar
    from flair_hdbscan.study import select_experiments
    from flair_hdbscan.tables import make_console

    if (model_path is None) == (experiment is None):
        raise OptionError("give either --model FILE or --experiment NAME (exactly one)")
    if logging.getLogger().level > logging.DEBUG:
        # Dask logs every worker start and stop at INFO (it sets that level on import):
        # keep those messages for -vv
        import distributed  # noqa: F401

        logging.getLogger("distributed").setLevel(logging.WARNING)
    console = make_console()
    if model_path is not None:
        given = [
            "--" + name.replace("_", "-")
            for name in STUDY_OPTION_NAMES
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise OptionError(
                f"{', '.join(given)} only {verb} with --experiment: the model file fixes the "
                f"options it was fitted with"
            )
        model = load_model(model_path)
        ds = open_dataset(data, config, split)
    else:
        options = make_study_options(kwargs)
        [exp] = select_experiments([experiment])
        check_predictable(exp)
        train = open_dataset(data, config, "train")
        console.print(f"fitting {experiment} on the train split ({len(train)} patches)")
        with progress_bar() as bar:
            task = bar.add_task("reading training sample", total=len(train))
            model = fit_model(train, experiment, options, on_patch=lambda _i: bar.advance(task))
        ds = train if split == "train" else open_dataset(data, config, split)
    console.print(describe(model))
    console.print(f"predicting {len(ds)} patches of the {split} split into {out}")
    summary = predict_split(
        ds,
        model,
        out,
        scheduler=scheduler,
        workers=workers,
        overwrite=overwrite,
        clusters=clusters,
    )
    console.print(
        f"done {summary.done}, skipped {summary.skipped} (already predicted), "
        f"failed {len(summary.failed)}"
    )
    for pid, message in summary.failed:
        console.print(f"  failed {pid}: {message}", markup=False, highlight=False)
    if summary.failed:
        console.print("run the same command again to retry the failed patches")
        ctx.exit(1)
