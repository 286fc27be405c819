"""Options shared by several commands, and the resolution of the dataset they name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flair_hdbscan.dataset import FlairDataset

F = Callable[..., Any]


def data_argument(func: F) -> F:
    """Add an optional positional ``[DATA]``, the release root, as a shorthand of ``--data``.

    The command receives it as ``data_arg``; :func:`merge_data` reconciles the two.
    """
    return click.argument(
        "data_arg",
        metavar="[DATA]",
        required=False,
        type=click.Path(path_type=Path, file_okay=False),
    )(func)


def merge_data(data_arg: Path | None, data: Path | None) -> Path | None:
    """The dataset root named by ``[DATA]`` or ``--data``.

    Raises:
        OptionError: when both are given and differ.
    """
    from flair_hdbscan.errors import OptionError

    if data_arg is not None and data is not None and data_arg != data:
        raise OptionError(f"DATA {data_arg} and --data {data} differ: give the dataset once")
    return data_arg if data_arg is not None else data


def data_options(func: F) -> F:
    """Add ``--data``, ``--config`` and ``--split`` to a command."""
    func = click.option(
        "--split",
        type=click.Choice(["train", "test"]),
        default="train",
        show_default=True,
        help="Which split of the dataset to use.",
    )(func)
    func = click.option(
        "--config",
        "config",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="YAML config with the reference implementation's `data:` keys "
        "(path_aerial_train, path_sen_train, ...). Relative paths are read from the "
        "config's folder.",
    )(func)
    func = click.option(
        "--data",
        "data",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Root folder of a FLAIR #2 release (full or toy naming). Without --data or "
        "--config, the embedded sample dataset is used (generated once into the cache).",
    )(func)
    return func


def open_dataset(data: Path | None, config: Path | None, split: str) -> FlairDataset:
    """Open the dataset named by ``--data``/``--config``, or the embedded sample.

    Raises:
        OptionError: when both ``--data`` and ``--config`` are given.
    """
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.errors import OptionError

    if data is not None and config is not None:
        raise OptionError("--data and --config both given: name the dataset with only one")
    if config is not None:
        return FlairDataset.from_config(config, split=split)
    if data is None:
        from flair_hdbscan.sample_data import default_sample_root

        data = default_sample_root(progress=True)
    return FlairDataset.from_root(data, split=split)


def study_options(func: F) -> F:
    """Add every option of :class:`flair_hdbscan.experiments.StudyOptions` to a command.

    The command receives them as keyword arguments; :func:`make_study_options` builds the
    options object from them.
    """
    opts = [
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed of every random draw (naive baselines, label budget).",
        ),
        click.option(
            "--stride",
            type=int,
            default=10,
            show_default=True,
            help="Training sample: every N-th pixel along each axis (10 = 1 %).",
        ),
        click.option(
            "--keep-other/--no-other",
            "keep_other",
            default=False,
            show_default=True,
            help="Train on pixels of class 'other' too (the study leaves them out).",
        ),
        click.option(
            "--n-neighbors",
            type=int,
            default=5,
            show_default=True,
            help="k of every kNN (on truth, and propagating clusters).",
        ),
        click.option(
            "--min-cluster-size",
            type=int,
            default=10,
            show_default=True,
            help="HDBSCAN's smallest cluster.",
        ),
        click.option(
            "--min-samples",
            type=int,
            default=None,
            help="HDBSCAN's core-distance neighbours, not counting the point itself "
            "[default: --min-cluster-size, as hdbscan and fast_hdbscan].",
        ),
        click.option(
            "--cluster-selection-method",
            type=click.Choice(["eom", "leaf"]),
            default="eom",
            show_default=True,
            help="HDBSCAN cluster selection.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["fast_hdbscan", "hdbscan", "sklearn"]),
            default="fast_hdbscan",
            show_default=True,
            help="HDBSCAN implementation.",
        ),
        click.option(
            "--dedup/--no-dedup",
            default=False,
            show_default=True,
            help="Cluster unique rows weighted by their counts (fast_hdbscan only).",
        ),
        click.option(
            "--label-budget",
            type=int,
            default=None,
            help="Name clusters from at most N labelled members each, instead of the "
            "study's oracle mapping (majority of every member's true class).",
        ),
        click.option(
            "--s2-resampling",
            type=click.Choice(["nearest", "bilinear"]),
            default="nearest",
            show_default=True,
            help="Sentinel-2 composite onto the aerial 0.2 m grid.",
        ),
        click.option(
            "--cloud-area-threshold",
            type=float,
            default=0.5,
            show_default=True,
            help="Drop a Sentinel-2 date when snow+cloud cover reaches this fraction.",
        ),
        click.option(
            "--cloud-proba-threshold",
            type=int,
            default=60,
            show_default=True,
            help="Snow/cloud probability (0-100) counted as cover.",
        ),
        click.option(
            "--sat-patch-size",
            type=int,
            default=40,
            show_default=True,
            help="Sentinel-2 super patch side, pixels.",
        ),
        click.option(
            "--jobs",
            "n_jobs",
            type=int,
            default=-1,
            show_default=True,
            help="Threads of kNN queries (-1: all cores).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


STUDY_OPTION_NAMES = (
    "seed",
    "stride",
    "keep_other",
    "n_neighbors",
    "min_cluster_size",
    "min_samples",
    "cluster_selection_method",
    "backend",
    "dedup",
    "label_budget",
    "s2_resampling",
    "cloud_area_threshold",
    "cloud_proba_threshold",
    "sat_patch_size",
    "n_jobs",
)


def make_study_options(kwargs: dict[str, Any], **extra: Any):
    """Build :class:`~flair_hdbscan.experiments.StudyOptions` from :func:`study_options` values.

    The study options are removed from ``kwargs``; ``extra`` adds fields set elsewhere.
    """
    from flair_hdbscan.experiments import StudyOptions

    values = {name: kwargs.pop(name) for name in STUDY_OPTION_NAMES}
    values["no_other"] = not values.pop("keep_other")
    return StudyOptions(**values, **extra)
