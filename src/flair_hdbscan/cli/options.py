"""Options shared by several commands, and the resolution of the dataset they name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flair_hdbscan.dataset import FlairDataset

F = Callable[..., Any]


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
