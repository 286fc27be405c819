"""``flair-hdbscan budget``: the label-budget study alone — the answer to the question."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from flair_hdbscan.atomic import write_json
from flair_hdbscan.budget.pipeline import budget_record, feature_spec, run_budget
from flair_hdbscan.cli.options import (
    PathType,
    budget_options,
    data_options,
    execution_options,
    make_budget_options,
    make_study_options,
    study_options,
)
from flair_hdbscan.cli.run import open_splits, print_answer
from flair_hdbscan.executors import make_executor
from flair_hdbscan.outdir import claim
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.pixels import SentinelOptions
from flair_hdbscan.plots import save_figure
from flair_hdbscan.plots.budget import plot_budget
from flair_hdbscan.progress import Progress
from flair_hdbscan.provenance import package_versions
from flair_hdbscan.results import write_budget
from flair_hdbscan.study import check_against_data, data_identity, study_provenance
from flair_hdbscan.summary import generated_sample
from flair_hdbscan.tables import make_console


@click.command()
@data_options(split=False)
@click.option(
    "--eval-split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split to score: 'test' (held-out patches) or 'train' (in-sample).",
)
@click.option(
    "--out",
    type=PathType(path_type=Path, file_okay=False),
    default=Path("flair-hdbscan-budget"),
    show_default=True,
    help="Folder for budget.json, budget.csv, budget_draws.npz and budget.png.",
)
@study_options
@budget_options
@click.option("--overwrite", is_flag=True, help="Replace the outputs of other work in --out.")
@execution_options(default_workers=1)
def budget(
    data: Path | None,
    config: Path | None,
    eval_split: str,
    out: Path,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    verify_content: bool,
    **kwargs: Any,
) -> None:
    """How good a map gets for how many labels: clustering vs annotation, label for label.

    Every method spends n labelled pixels of the training split's 1 % sample and is scored on
    every labelled pixel of the held-out split, mean ± std over seeds: kNN on n random
    labels; HDBSCAN then label (exemplars of the largest clusters first, then members);
    k-means with k = n then label; and the ORACLE mapping (every clustered pixel's truth)
    as a reference point at the labels it read. Ends with the verdict derived from the
    numbers.
    """
    options = make_study_options(kwargs)
    budget_opts = make_budget_options(kwargs)
    train, score = open_splits(data, config, eval_split)
    spec = feature_spec(budget_opts.features)
    train_id = data_identity(train, content=verify_content)
    score_id = train_id if score is train else data_identity(score, content=verify_content)
    provenance = study_provenance(train_id, score_id, [], options, budget_opts.to_dict())
    console = make_console()
    start = time.perf_counter()
    with (
        claim(out, kind="budget", provenance=provenance, overwrite=overwrite,
              need_bytes=20_000_000),
        make_executor(scheduler, workers) as executor,
        Progress() as progress,
    ):  # fmt: skip
        check_against_data(train, options, satellite=spec.use_satellite)
        check_against_data(score, options, satellite=spec.use_satellite)
        sample = read_training_sample(
            train,
            stride=options.stride,
            sentinel=SentinelOptions.of(options) if spec.use_satellite else None,
            executor=executor,
            advance=progress.stage(f"reading the training sample of {train.split}", len(train)),
        )
        result = run_budget(
            sample, score, options, budget_opts, train_split=train.split, executor=executor,
            progress=progress,
        )  # fmt: skip
        record = budget_record(result, budget_opts)
        generated = generated_sample(score)
        write_json(
            out / "budget.json",
            {
                "run": {
                    "seed": options.seed,
                    "options": options.to_dict(),
                    "budget_options": budget_opts.to_dict(),
                    "provenance": provenance,
                    "versions": package_versions(),
                    "generated_sample": generated,
                    "seconds": round(time.perf_counter() - start, 3),
                },
                "budget": record,
            },
        )
        write_budget(record, result.draw_arrays(), out)
        fig = plot_budget(record["summary"], chance=record.get("chance_miou"))
        save_figure(fig, out / "budget.png", dpi=100)
    console.print(f"budget study in {out}  ({time.perf_counter() - start:.0f} s)")
    print_answer(console, record, generated)
