"""``flair-hdbscan run``: every experiment of the study, with results, figures and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan.cli.options import data_options, make_study_options, study_options


@click.command()
@data_options
@click.option(
    "--experiments",
    default="all",
    show_default=True,
    help="Comma-separated experiment names, or 'all' (naive-uniform, naive-prevalence, knn, "
    "knn-normalized, knn-normalized-no-intensity, hdbscan, hdbscan-normalized, knn-robust, "
    "hdbscan-robust, knn-robust-normalized, hdbscan-robust-normalized, knn-satellite, "
    "hdbscan-satellite, knn-satellite-normalized, hdbscan-satellite-normalized, "
    "knn-satellite-robust, hdbscan-satellite-robust).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("flair-hdbscan-results"),
    show_default=True,
    help="Folder for results.json, results.csv, confusion/, figures/ and report.html.",
)
@study_options
@click.option(
    "--map-patches",
    type=int,
    default=2,
    show_default=True,
    help="Patches whose predicted maps are drawn in the report.",
)
@click.option(
    "--resume/--restart",
    default=True,
    show_default=True,
    help="Continue an interrupted run of the same data, experiments and options.",
)
@click.option(
    "--report/--no-report", default=True, show_default=True, help="Write figures/ and report.html."
)
def run(
    data: Path | None,
    config: Path | None,
    split: str,
    experiments: str,
    out: Path,
    map_patches: int,
    resume: bool,
    report: bool,
    **kwargs: Any,
) -> None:
    """Run the study: naive baselines, kNN and HDBSCAN, each with every feature option.

    Trains on a 1 % pixel sample (every 10th pixel along each axis) of the split and scores
    every labelled pixel of it in FLAIR's mIoU convention. HDBSCAN experiments name their
    clusters with the study's ORACLE mapping (each cluster takes the majority true class of
    its members) unless --label-budget is given. Without --data or --config it runs on the
    embedded sample dataset.
    """
    from flair_hdbscan.cli.options import open_dataset
    from flair_hdbscan.progress import progress_bar
    from flair_hdbscan.results import write_results
    from flair_hdbscan.study import run_study, select_experiments
    from flair_hdbscan.tables import make_console, study_table

    options = make_study_options(kwargs, map_patches=map_patches)
    select_experiments(experiments)  # fail on a bad name before reading data
    ds = open_dataset(data, config, split)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / ".checkpoint.npz"
    if not resume:
        checkpoint.unlink(missing_ok=True)
    console = make_console()
    console.print(f"{len(ds)} patches of the {split} split from {ds.paths.aerial.parent}")
    with progress_bar() as bar:

        def stage(description: str, total: int | None):
            task = bar.add_task(description, total=total)
            return lambda: bar.advance(task)

        result = run_study(ds, experiments, options, progress=stage, checkpoint=checkpoint)
    results = result.to_dict()
    write_results(results, out)
    if report:
        from flair_hdbscan.report import write_figures, write_report

        figures = write_figures(result, ds, out / "figures")
        write_report(result, ds, figures, out / "report.html")
    console.print(f"results in {out}  (total {results['run']['seconds']['total']:.0f} s)")
    for e in results["experiments"]:
        largest = e.get("largest_cluster_fraction")
        if largest is not None and largest > 0.5:
            console.print(
                f"{e['name']}: the largest cluster holds {100 * largest:.0f} % of the clustered "
                "pixels — HDBSCAN's excess-of-mass selection merged most of the sample; see "
                "--min-samples and --cluster-selection-method leaf."
            )
    table = study_table(results, title=f"flair-hdbscan run — {split} split, seed {options.seed}")
    if any(e["method"] == "hdbscan" and e["mapping"] == "oracle" for e in results["experiments"]):
        table.caption = (
            "mapping 'oracle': each HDBSCAN cluster takes the majority TRUE class of its "
            "members (ground truth is read to name clusters), so those scores are optimistic."
        )
    console.print(table)
