"""``flair-hdbscan plot``: draw one figure of the study to a PNG or SVG file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan import plots
from flair_hdbscan.cli.options import (
    PathType,
    data_argument,
    data_options,
    merge_data,
    open_dataset,
)
from flair_hdbscan.errors import OptionError
from flair_hdbscan.options import MAX_SEED
from flair_hdbscan.outdir import check_writable
from flair_hdbscan.progress import Progress
from flair_hdbscan.results import load_results
from flair_hdbscan.summary import class_distribution
from flair_hdbscan.training import sample_table

#: Figures drawn from the dataset.
DATA_KINDS: tuple[str, ...] = (
    "samples",
    "time-series",
    "class-patches",
    "all-patches",
    "class-distribution",
    "channel-by-class",
    "normalization-scatter",
)
#: Figures drawn from a results.json.
RESULT_KINDS: tuple[str, ...] = ("confusion", "results")
#: Every kind of figure, in the order of the study.
KINDS: tuple[str, ...] = ("nomenclature", *DATA_KINDS, *RESULT_KINDS)


def _experiment(results: dict[str, Any], name: str | None, path: Path) -> dict[str, Any]:

    names = [str(e.get("name")) for e in results["experiments"]]
    for exp in results["experiments"]:
        if exp.get("name") == name:
            return exp
    what = "--experiment is required" if name is None else f"no experiment {name!r} in {path}"
    raise OptionError(f"{what}: use one of {', '.join(names)}")


@click.command()
@click.argument("kind", metavar="KIND")
@data_argument
@data_options()
@click.option(
    "--out",
    "out",
    required=True,
    type=PathType(path_type=Path, dir_okay=False),
    help="Figure file to write; the suffix (.png or .svg) chooses the format.",
)
@click.option(
    "--results",
    "results_path",
    type=PathType(path_type=Path, dir_okay=False),
    default=None,
    help="results.json of `run` (kinds confusion and results).",
)
@click.option("--experiment", default=None, help="Experiment name (kind confusion).")
@click.option(
    "--class",
    "semantic_class",
    type=int,
    default=1,
    show_default=True,
    help="Full-nomenclature class 1..19 (kind class-patches).",
)
@click.option(
    "--channel",
    default="nir",
    show_default=True,
    help="Channel name or seed number: Blue=1, Green=2, Red=3, NIR=4, Sentinel-2 B02..B12=5..14, "
    "Elevation=15 (kind channel-by-class).",
)
@click.option("--channel1", default="green", show_default=True, help="x channel (scatter).")
@click.option("--channel2", default="red", show_default=True, help="y channel (scatter).")
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=1),
    default=None,
    help="Patches (samples, default 2) or super areas (time-series, default 3) to draw.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of random choices.",
)
@click.option(
    "--max-patches",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many patches (class-patches, all-patches).",
)
@click.option("--dpi", type=click.IntRange(min=10), default=100, show_default=True)
def plot(
    kind: str,
    data_arg: Path | None,
    data: Path | None,
    config: Path | None,
    split: str,
    out: Path,
    results_path: Path | None,
    experiment: str | None,
    semantic_class: int,
    channel: str,
    channel1: str,
    channel2: str,
    n: int | None,
    seed: int,
    max_patches: int | None,
    dpi: int,
) -> None:
    """Draw the figure KIND into --out (.png or .svg).

    KIND is one of: nomenclature, samples, time-series, class-patches, all-patches,
    class-distribution, channel-by-class, normalization-scatter, confusion, results.
    Data figures read the dataset DATA (or --data / --config; default: the embedded
    sample); confusion and results read --results.
    """
    if kind not in KINDS:
        raise OptionError(f"unknown figure kind {kind!r}: use one of {', '.join(KINDS)}")
    if out.suffix.lower() not in (".png", ".svg"):
        raise OptionError(f"cannot write a figure to {out}: the file name must end in .png or .svg")
    data = merge_data(data_arg, data)

    # Check option values before reading any data.
    if kind == "channel-by-class":
        plots.resolve_channel(channel, plots.PIXEL_COLUMNS)
    elif kind == "normalization-scatter":
        plots.resolve_channel(channel1, plots.PIXEL_COLUMNS)
        plots.resolve_channel(channel2, plots.PIXEL_COLUMNS)
    elif kind == "class-patches" and not 1 <= semantic_class <= 19:
        raise OptionError(f"--class {semantic_class}: use a full-nomenclature value 1..19")
    check_writable(out, what="figure")

    if kind == "nomenclature":
        fig = plots.plot_nomenclature()
    elif kind in RESULT_KINDS:
        if results_path is None:
            raise OptionError(f"plot {kind} needs --results results.json (written by `run`)")

        results = load_results(results_path)
        if kind == "results":
            fig = plots.plot_results(results)
        else:
            exp = _experiment(results, experiment, results_path)
            fig = plots.plot_confusion(exp["confusion_matrix"], exp["name"], miou=exp.get("miou"))
    else:
        ds = open_dataset(data, config, split)
        with Progress() as progress:
            # long on a whole release: reading patches is shown as it goes
            if kind in ("class-distribution", "channel-by-class", "normalization-scatter"):
                advance = progress.stage(f"reading the {split} split", len(ds))
            else:
                advance = progress.stage(f"drawing {kind}", 1)
            if kind == "samples":
                fig = plots.plot_samples(ds, n=n or 2, seed=seed)
            elif kind == "time-series":
                fig = plots.plot_time_series(ds, n_areas=n or 3, seed=seed)
            elif kind == "class-patches":
                fig = plots.plot_class_patches(ds, semantic_class, max_patches=max_patches)
            elif kind == "all-patches":
                fig = plots.plot_all_patches(ds, max_patches=max_patches)
            elif kind == "class-distribution":
                counts = class_distribution(ds, reduced=True, on_patch=lambda _i: advance())
                fig = plots.plot_class_distribution(counts)
            elif kind == "channel-by-class":
                table = sample_table(ds, satellite=plots.needs_sentinel(channel), advance=advance)
                fig = plots.plot_channel_by_class(table, channel)
            else:
                table = sample_table(
                    ds, satellite=plots.needs_sentinel(channel1, channel2), advance=advance
                )
                fig = plots.plot_normalization_scatter(table, channel1, channel2, seed=seed)
            if kind in ("samples", "time-series", "class-patches", "all-patches"):
                advance()
    plots.save_figure(fig, out, dpi=dpi)
    click.echo(f"wrote {out}")
