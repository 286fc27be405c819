"""``flair-hdbscan evaluate``: FLAIR-convention scores of a folder of predicted maps."""

from __future__ import annotations

from pathlib import Path

import click

from flair_hdbscan.atomic import write_json
from flair_hdbscan.cli.options import PathType
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.metrics import scores
from flair_hdbscan.outdir import check_writable
from flair_hdbscan.progress import Progress
from flair_hdbscan.tables import make_console, scores_table


@click.command()
@click.option(
    "--truth",
    required=True,
    type=PathType(path_type=Path, file_okay=False),
    help="Folder of MSK_<id>.tif label masks (searched recursively).",
)
@click.option(
    "--pred",
    required=True,
    type=PathType(path_type=Path, file_okay=False),
    help="Folder of PRED_<id>.tif predicted maps, uint8 classes 0..12 (searched recursively).",
)
@click.option(
    "--json",
    "json_path",
    type=PathType(path_type=Path, dir_okay=False),
    default=None,
    help="Also write miou, iou, overall_accuracy and confusion_matrix to this JSON file.",
)
def evaluate(truth: Path, pred: Path, json_path: Path | None) -> None:
    """Score PRED_<id>.tif against MSK_<id>.tif, paired by id, in FLAIR's mIoU convention.

    The mIoU is the mean IoU of the 12 scored classes that are present in truth or
    prediction ("other" excluded), from one confusion matrix summed over patches.
    """
    if json_path is not None:
        check_writable(json_path, what="scores file")
    with Progress() as progress:
        cm = evaluate_folders(truth, pred, advance=progress.stage("scoring patches"))
    result = scores(cm)
    console = make_console()
    console.print(scores_table(result, title=f"{pred} against {truth}"))
    miou = result["miou"]
    console.print(
        f"mIoU {miou:.4f}" if miou is not None else "mIoU undefined (no scored class present)",
        f"  overall accuracy {result['overall_accuracy']:.4f}"
        if result["overall_accuracy"] is not None
        else "",
    )
    if json_path is not None:
        write_json(json_path, result)
        console.print(f"wrote {json_path}")
