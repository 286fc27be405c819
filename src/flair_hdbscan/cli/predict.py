"""``flair-hdbscan predict``: every patch of a split, written as PRED_<id>.tif maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan.cli.fit import describe, experiment_option, fit_one
from flair_hdbscan.cli.options import (
    PathType,
    data_options,
    execution_options,
    open_dataset,
    study_option_names,
    study_options,
)
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import make_executor
from flair_hdbscan.modelfile import load_model
from flair_hdbscan.outdir import preflight
from flair_hdbscan.predict import maps_bytes, predict_folder
from flair_hdbscan.progress import Progress
from flair_hdbscan.study import check_against_data
from flair_hdbscan.tables import make_console


@click.command(
    epilog="Exit status: 0 when every patch was predicted (or already was), 1 when some "
    "patch failed (listed by id; run again to retry them) or the environment failed, 2 on "
    "a usage error."
)
@data_options()
@click.option(
    "--model",
    "model_path",
    type=PathType(path_type=Path, dir_okay=False, exists=False),
    default=None,
    help="Model file written by `flair-hdbscan fit`.",
)
@experiment_option
@click.option(
    "--mapping",
    "mapping_path",
    type=PathType(path_type=Path, dir_okay=False),
    default=None,
    help="mapping.json written by `flair-hdbscan label`: clusters named on the labelling "
    "page (unnamed clusters take the nearest named cluster's class).",
)
@study_options
@click.option(
    "--out",
    required=True,
    type=PathType(path_type=Path, file_okay=False),
    help="Output folder; maps go to OUT/<domain>/<zone>/PRED_<id>.tif.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the maps of another model or split in --out (by default refused).",
)
@click.option(
    "--clusters",
    is_flag=True,
    help="Also write CLUSTER_<id>.tif, int32 cluster of each pixel's nearest clustered "
    "training pixel (HDBSCAN experiments).",
)
@execution_options(default_workers=None)
@click.pass_context
def predict(
    ctx: click.Context,
    data: Path | None,
    config: Path | None,
    split: str,
    model_path: Path | None,
    experiment: str | None,
    mapping_path: Path | None,
    out: Path,
    overwrite: bool,
    clusters: bool,
    workers: int | None,
    scheduler: str | None,
    verify_content: bool,
    **kwargs: Any,
) -> None:
    """Predict every patch of a split and write FLAIR-named GeoTIFF class maps.

    Give a model file (--model), a labelling page's mapping (--mapping), or an experiment to
    fit first on the training split
    exactly as `run` does (--experiment, with the study options, --seed included). One
    task per patch, on a local Dask cluster of --workers processes or on --scheduler; the
    model is sent to each worker once. Maps are uint8 classes 0..12 on the aerial patch's
    grid, LZW-compressed, each verified and written under a temporary name before it takes
    its final name: a re-run resumes. Score them with
    `flair-hdbscan evaluate --truth <labels> --pred OUT`.
    """
    if sum(x is not None for x in (model_path, experiment, mapping_path)) != 1:
        raise OptionError("give exactly one of --model FILE, --mapping FILE or --experiment NAME")
    console = make_console()
    if model_path is not None or mapping_path is not None:
        given = [
            "--" + name.replace("_", "-")
            for name in study_option_names()
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise OptionError(
                f"{', '.join(given)} only {verb} with --experiment: the model file or "
                f"mapping fixes the options it was fitted with"
            )

    ds = open_dataset(data, config, split)
    model = load_model(model_path) if model_path is not None else None
    summary_line = None
    if mapping_path is not None:  # a labelling page's mapping (flair-hdbscan label)
        from flair_hdbscan.label.predictor import describe_mapping, load_mapping_model

        model = load_mapping_model(mapping_path)
        summary_line = describe_mapping(model)
    if model is not None:
        check_against_data(ds, model.options, satellite=model.experiment.features.use_satellite)
    with make_executor(scheduler, workers) as executor, Progress() as progress:
        preflight(out, need_bytes=maps_bytes(len(ds), clusters))  # before minutes of fitting
        if model is None:
            model = fit_one(data, config, experiment, kwargs, executor, progress, verify_content)
        console.print(summary_line or describe(model))
        console.print(f"predicting {len(ds)} patches of the {split} split into {out}")
        summary = predict_folder(
            ds,
            model,
            out,
            clusters=clusters,
            overwrite=overwrite,
            executor=executor,
            progress=progress,
            verify_content=verify_content,
        )
    if mapping_path is not None:
        console.print(
            f"{model.record.n_labels_used} labels spent on the labelling page (recorded in "
            f"{out}/flair-hdbscan.json)"
        )
    console.print(
        f"done {summary.done}, skipped {summary.skipped} (finished earlier), "
        f"failed {len(summary.failed)}"
    )
    for pid, message in summary.failed:
        console.print(f"  failed {pid}: {message}", markup=False, highlight=False, soft_wrap=True)
    if summary.failed:
        ids = ", ".join(pid for pid, _ in summary.failed[:5])
        more = f" and {len(summary.failed) - 5} more" if len(summary.failed) > 5 else ""
        click.echo(
            f"Error: {len(summary.failed)} of {len(ds)} patches failed ({ids}{more}; listed "
            "above): run the same command again to retry them; once their files are "
            "replaced, add --overwrite (the data changed)",
            err=True,
        )
        ctx.exit(1)
