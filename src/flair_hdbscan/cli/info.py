"""``flair-hdbscan info``: what a FLAIR #2 split holds, and its pixel class distribution."""

from __future__ import annotations

from pathlib import Path

import click

from flair_hdbscan import sentinel
from flair_hdbscan.cli.options import data_argument, data_options, merge_data, open_dataset
from flair_hdbscan.nomenclature import FULL_CLASSES, REDUCED_NAMES, TRAIN_PREVALENCE
from flair_hdbscan.progress import Progress
from flair_hdbscan.provenance import data_digest
from flair_hdbscan.summary import class_distribution, reduce_counts, split_summary
from flair_hdbscan.tables import make_console


@click.command()
@data_argument
@data_options()
def info(data_arg: Path | None, data: Path | None, config: Path | None, split: str) -> None:
    """Describe a FLAIR #2 split: patches, domains, Sentinel-2 dates, class distribution.

    DATA is the release root (same as --data). Every label mask is read once to count
    pixels per class, so a corrupt patch is reported here.
    """
    import numpy as np
    from rich.table import Table

    ds = open_dataset(merge_data(data_arg, data), config, split)
    summary = split_summary(ds)
    console = make_console()

    console.print(f"[bold]FLAIR #2 {summary['split']} split[/bold]")
    for key in ("aerial", "sen", "labels", "centroids", "metadata"):
        console.print(f"  {key:<10} {summary['paths'][key] or '-'}", soft_wrap=True)
    console.print(
        f"  patches {summary['n_patches']:,}   domains {len(summary['domains'])}   "
        f"areas {summary['n_areas']}   T {summary['t_min']}–{summary['t_max']} dates"
    )
    console.print(f"  data digest {data_digest(ds)[:16]} (names, sizes, times)")

    train_a, train_p = sentinel.REFERENCE_TRAINING_THRESHOLDS
    note_a, note_p = sentinel.REFERENCE_NOTEBOOK_THRESHOLDS
    areas = Table(title="Sentinel-2 super areas (clear dates over the whole area)")
    areas.add_column("area")
    areas.add_column("patches", justify="right")
    areas.add_column("H×W", justify="right")
    areas.add_column("T", justify="right")
    areas.add_column(f"clear {train_a:g}/{train_p}", justify="right")
    areas.add_column(f"clear {note_a:g}/{note_p}", justify="right")
    for name, d in summary["areas_detail"].items():
        areas.add_row(
            name,
            str(d["n_patches"]),
            f"{d['height']}×{d['width']}",
            str(d["T"]),
            str(d["clear_training"]),
            str(d["clear_notebook"]),
        )
    console.print(areas)

    if not ds.has_labels:
        console.print("No labels in this split: no class distribution.")
        return
    with Progress() as progress:
        advance = progress.stage("counting classes", len(ds))
        full = class_distribution(ds, reduced=False, on_patch=lambda _i: advance())
    counts = reduce_counts(full)
    total = int(counts.sum())
    table = Table(title="Pixel class distribution (reduced nomenclature)")
    table.add_column("class")
    table.add_column("pixels", justify="right")
    table.add_column("%", justify="right")
    table.add_column("FLAIR train %", justify="right")
    for k, name in enumerate(REDUCED_NAMES):
        share = 100 * counts[k] / total if total else float("nan")
        # "other" (13..19) is the remainder of FLAIR's published prevalence
        reference = TRAIN_PREVALENCE.get(name, 100 - sum(TRAIN_PREVALENCE.values()))
        table.add_row(name, f"{int(counts[k]):,}", f"{share:.2f}", f"{reference:.2f}")
    table.add_row("total", f"{total:,}", "100.00" if total else "-", "100.00")
    console.print(table)

    high = full[14:20]
    n_high = int(high.sum())
    parts = ", ".join(
        f"{FULL_CLASSES[v - 1].name} {int(full[v]):,}" for v in range(14, 20) if full[v]
    )
    share = 100 * n_high / total if total else 0.0
    console.print(
        f"Pixels with full values 14..19 (folded into 'other'): {n_high:,} "
        f"({share:.2f} %){': ' + parts if parts else ''}",
        soft_wrap=True,
    )
    if full[0]:
        console.print(f"Pixels without data (mask value 0, ignored): {int(full[0]):,}")
    console.print(f"Largest class: {REDUCED_NAMES[int(np.argmax(counts))]}")
