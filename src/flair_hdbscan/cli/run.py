"""``flair-hdbscan run``: every experiment of the study, with results, figures and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flair_hdbscan.atomic import atomic_dir
from flair_hdbscan.budget.pipeline import feature_spec
from flair_hdbscan.cli.options import (
    PathType,
    budget_options,
    data_options,
    execution_options,
    make_budget_options,
    make_study_options,
    open_dataset,
    study_options,
)
from flair_hdbscan.errors import DataError
from flair_hdbscan.executors import make_executor
from flair_hdbscan.experiments import EXPERIMENT_NAMES, select_experiments
from flair_hdbscan.outdir import claim
from flair_hdbscan.progress import Progress
from flair_hdbscan.report import write_figures, write_report
from flair_hdbscan.results import write_budget, write_results
from flair_hdbscan.study import check_against_data, data_identity, run_study, study_provenance
from flair_hdbscan.summary import generated_sample, split_summary
from flair_hdbscan.tables import budget_table, make_console, study_table

LEDGER_NAME = ".flair-hdbscan-ledger.json"


def print_answer(console: Any, budget: dict[str, Any], generated: str | None) -> None:
    """Print the budget table and the verdict (the last lines of ``run`` and ``budget``)."""
    what = "sample data, not FLAIR #2" if generated else "the dataset"
    console.print(
        budget_table(
            budget,
            title=f"mIoU on {budget['score_split']} ({budget['protocol']}) against labels spent "
            f"on {budget['train_split']} — mean ± std over {budget['n_seeds']} seeds ({what})",
        )
    )
    console.print("[bold]The answer[/bold]" + (f" (on {what})" if generated else ""))
    for sentence in budget["verdict"]["sentences"]:
        console.print(sentence, soft_wrap=True)


def open_splits(data: Path | None, config: Path | None, eval_split: str) -> tuple[Any, Any]:
    """The training split, and the split to score.

    The split scored is the test split unless ``eval_split`` is ``train``.

    Raises:
        DataError: if the scoring split is missing or has no labels, with the fix.
    """
    train = open_dataset(data, config, "train")
    if eval_split == "train":
        return train, train
    try:
        test = open_dataset(data, config, "test")
    except DataError as exc:
        raise DataError(
            f"{exc} — to score the training patches themselves (the notebook's in-sample "
            "protocol), add --eval-split train"
        ) from None
    if not test.has_labels:
        raise DataError(
            f"the test split under {test.paths.aerial} has no labels to score against: add "
            "the test labels, or --eval-split train for the notebook's in-sample protocol"
        )
    return train, test


@click.command()
@data_options(split=False)
@click.option(
    "--eval-split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split to score. Models always train on the training split; 'test' scores held-out "
    "patches, 'train' the training patches themselves (the notebook's in-sample protocol).",
)
@click.option(
    "--experiments",
    default="all",
    show_default=True,
    help=f"Comma-separated experiment names, or 'all' ({', '.join(EXPERIMENT_NAMES)}).",
)
@click.option(
    "--out",
    type=PathType(path_type=Path, file_okay=False),
    default=Path("flair-hdbscan-results"),
    show_default=True,
    help="Folder for results.json, results.csv, confusion/, figures/ and report.html.",
)
@study_options
@click.option(
    "--budget/--no-budget",
    "with_budget",
    default=True,
    show_default=True,
    help="Also run the label-budget study (mIoU against labels spent, the answer).",
)
@budget_options
@click.option(
    "--map-patches",
    type=click.IntRange(min=0, max=100),
    default=2,
    show_default=True,
    help="Patches whose predicted maps are drawn in the report.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the outputs of another run in --out (by default refused).",
)
@click.option(
    "--report/--no-report", default=True, show_default=True, help="Write figures/ and report.html."
)
@execution_options(default_workers=None)
def run(
    data: Path | None,
    config: Path | None,
    eval_split: str,
    experiments: str,
    out: Path,
    map_patches: int,
    overwrite: bool,
    report: bool,
    workers: int | None,
    scheduler: str | None,
    verify_content: bool,
    with_budget: bool,
    **kwargs: Any,
) -> None:
    """Run the study: fit on the training split, score every pixel of the held-out split.

    First the answer: the label-budget study (mIoU on the held-out split against the number
    of labelled pixels, kNN on random labels against cluster-then-label with HDBSCAN and
    k-means, mean ± std over seeds; --no-budget skips it). Then the original notebook's 17
    experiments — the naive baselines, kNN and HDBSCAN with every feature option — trained on
    a 1 % pixel sample (every 10th pixel along each axis) of the training split and scored on
    every labelled pixel of the test split in FLAIR's mIoU convention; their HDBSCAN
    experiments name clusters with the ORACLE mapping (each cluster's majority true class).
    Ends with the verdict. An interrupted run resumes when run again with the same data,
    options and code. Without --data or --config it runs on the embedded sample dataset.
    """
    options = make_study_options(kwargs)
    budget = make_budget_options(kwargs) if with_budget else None
    chosen = select_experiments(experiments)
    train, score = open_splits(data, config, eval_split)
    satellite = any(e.features.use_satellite for e in chosen) or (
        budget is not None and feature_spec(budget.features).use_satellite
    )
    for ds in {id(train): train, id(score): score}.values():
        check_against_data(ds, options, satellite=satellite)  # before --out is claimed
    console = make_console()
    train_id = data_identity(train, content=verify_content)
    score_id = train_id if score is train else data_identity(score, content=verify_content)
    extra = {"budget": None if budget is None else budget.to_dict()}
    provenance = study_provenance(train_id, score_id, chosen, options, extra)
    with (
        claim(out, kind="run", provenance=provenance, overwrite=overwrite, need_bytes=50_000_000),
        make_executor(scheduler, workers) as executor,
        Progress() as progress,
    ):
        console.print(
            f"training on {len(train)} patches of {train.split}, scoring {len(score)} patches "
            f"of {score.split} from {train.paths.aerial.parent}"
        )
        result = run_study(
            train,
            score,
            chosen,
            options,
            map_patches=map_patches,
            executor=executor,
            progress=progress,
            ledger_path=out / LEDGER_NAME,
            verify_content=verify_content,
            budget=budget,
        )
        results = result.to_dict()
        write_results(results, out)
        if result.budget is not None:
            write_budget(results["budget"], result.budget.draw_arrays(), out)
        if report:
            step = progress.stage("drawing figures and the report", 1)
            # a new figures/ replaces the old one whole: no figure of an earlier run stays
            with atomic_dir(out / "figures") as figures_dir:
                figures = write_figures(result, None, score, figures_dir)
                write_report(
                    result, split_summary(score), figures, out / "report.html",
                    generated=generated_sample(score),
                )  # fmt: skip
            step()
    console.print(f"results in {out}  (total {results['run']['seconds']['total']:.0f} s)")
    for e in results["experiments"]:
        largest = e.get("largest_cluster_fraction")
        if largest is not None and largest > 0.5:
            console.print(
                f"{e['name']}: the largest cluster holds {100 * largest:.0f} % of the clustered "
                "pixels — HDBSCAN's excess-of-mass selection merged most of the sample; see "
                "--min-samples and --cluster-selection-method leaf."
            )
    protocol = results["run"]["protocol"]
    table = study_table(
        results,
        title=f"flair-hdbscan run — trained on {train.split}, scored on {score.split} "
        f"({protocol}), seed {options.seed}",
    )
    if any(e["mapping"] == "oracle" for e in results["experiments"]):
        table.caption = (
            "mapping 'oracle': each HDBSCAN cluster takes the majority TRUE class of its "
            "members (ground truth is read to name clusters), so those scores are optimistic."
        )
    console.print(table)
    if "budget" in results:
        print_answer(console, results["budget"], generated_sample(score))
