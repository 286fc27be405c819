"""``flair-hdbscan sample-data``: write a synthetic dataset in the FLAIR #2 layout."""

from __future__ import annotations

from pathlib import Path

import click

from flair_hdbscan.cli.options import PathType
from flair_hdbscan.errors import OptionError
from flair_hdbscan.geotiff import native_messages_silenced
from flair_hdbscan.layout import RELEASE_DIRS
from flair_hdbscan.outdir import check_writable
from flair_hdbscan.sample_data import DEFAULT_SEED, generate_sample
from flair_hdbscan.sample_data.plan import check_args, plan_zones

#: Upper bound of one patch's files: 5-band aerial and mask, uncompressed.
_PATCH_BYTES = 6 * 512 * 512


def sample_bytes(n_patches: int, n_test_patches: int, seed: int) -> int:
    """Upper bound of the size of a sample: its Sentinel-2 areas and its patches, uncompressed.

    The plan (areas, dates) is drawn before any pixel, so the bound is known in a second.
    """
    # data.npy: (T, 10, H, W) uint16; masks.npy: (T, 2, H, W) uint8
    areas = sum(
        p.n_dates * p.height * p.width * (10 * 2 + 2)
        for p in plan_zones(n_patches, n_test_patches, seed)
    )
    return areas + (n_patches + n_test_patches) * _PATCH_BYTES


@click.command("sample-data")
@click.argument("out", type=PathType(path_type=Path))
@click.option(
    "--patches", "n_patches", type=int, default=16, show_default=True, help="Train patches."
)
@click.option(
    "--test-patches",
    "n_test_patches",
    type=int,
    default=None,
    help="Test patches [default: max(2, patches // 4)].",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help=f"Random seed ({DEFAULT_SEED} gives the embedded default sample).",
)
@click.option(
    "--layout",
    "layout_name",
    type=click.Choice(["full", "toy"]),
    default="full",
    show_default=True,
    help="Folder names of the full release, or of the toy release (under OUT/flair_2_toy_dataset).",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists and is not empty.")
def sample_data(
    out: Path,
    n_patches: int,
    n_test_patches: int | None,
    seed: int,
    layout_name: str,
    overwrite: bool,
) -> None:
    """Write a synthetic FLAIR #2-format dataset (aerial, labels, Sentinel-2) to OUT."""
    n_test = max(2, n_patches // 4) if n_test_patches is None else n_test_patches
    check_args(n_patches, n_test, seed, layout_name)
    if out.exists() and not out.is_dir():
        raise OptionError(f"OUT {out} is a file: give a folder")
    if out.exists() and not overwrite and any(out.iterdir()):
        raise OptionError(
            f"output folder {out} exists and is not empty: choose another OUT or add "
            f"--overwrite to replace it"
        )
    need = sample_bytes(n_patches, n_test, seed)
    check_writable(out if out.exists() else out.parent, need_bytes=need, what="sample dataset")
    with native_messages_silenced():  # a failed write is raised and reported in one line
        root = generate_sample(
            out,
            n_patches=n_patches,
            n_test_patches=n_test_patches,
            seed=seed,
            layout=layout_name,
            progress=True,
        )
    domains = {
        split: sorted(p.name for p in (root / d).iterdir())
        for split, d in (
            ("train", _aerial_dir(layout_name, "train")),
            ("test", _aerial_dir(layout_name, "test")),
        )
    }
    click.echo(f"wrote a FLAIR #2-format sample dataset to {root}")
    click.echo(
        f"train: {n_patches} patches in {', '.join(domains['train'])}; "
        f"test: {n_test} patches in {', '.join(domains['test'])}"
    )


def _aerial_dir(layout_name: str, split: str) -> str:
    """Name of a split's aerial folder in the chosen release layout."""
    return RELEASE_DIRS[layout_name][split]["aerial"]
