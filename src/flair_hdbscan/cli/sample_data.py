"""``flair-hdbscan sample-data``: write a synthetic dataset in the FLAIR #2 layout."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sample-data")
@click.argument("out", type=click.Path(path_type=Path))
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
    default=6,
    show_default=True,
    help="Random seed (6 gives the embedded default sample).",
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
    from flair_hdbscan.errors import OptionError
    from flair_hdbscan.sample_data import generate_sample

    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise OptionError(
            f"output folder {out} exists and is not empty: choose another OUT or add "
            f"--overwrite to replace it"
        )
    root = generate_sample(
        out,
        n_patches=n_patches,
        n_test_patches=n_test_patches,
        seed=seed,
        layout=layout_name,
        progress=True,
    )
    n_test = max(2, n_patches // 4) if n_test_patches is None else n_test_patches
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
    from flair_hdbscan.layout import RELEASE_DIRS

    return RELEASE_DIRS[layout_name][split]["aerial"]
