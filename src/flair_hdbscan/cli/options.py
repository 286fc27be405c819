"""Options shared by several commands, and the resolution of the dataset they name.

The study options are not written here: :func:`study_options` builds them from the one
declaration in :class:`flair_hdbscan.options.StudyOptions` (help, range, choices), so
``--help`` shows every range and a bad value is refused before any data is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import FaultError, OptionError
from flair_hdbscan.options import BudgetOptions, Spec, StudyOptions, option_specs
from flair_hdbscan.outdir import check_writable
from flair_hdbscan.sample_data import (
    DEFAULT_PATCHES,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    cache_dir,
    default_sample_root,
)

__all__ = [
    "PathType",
    "budget_options",
    "data_argument",
    "data_options",
    "eval_split_option",
    "execution_options",
    "make_budget_options",
    "make_study_options",
    "merge_data",
    "open_dataset",
    "study_options",
]

F = Callable[..., Any]


class PathType(click.Path):
    """``click.Path`` that expands ``~`` and refuses an unknown ``~user`` in one line."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Expand ``~`` then check as :class:`click.Path` does."""
        if isinstance(value, str | os.PathLike):
            try:
                value = os.fspath(Path(value).expanduser())
            except RuntimeError:
                self.fail(f"{value}: no such user home folder", param, ctx)
        return super().convert(value, param, ctx)


class SpecType(click.ParamType):
    """A study option's value, converted to its type and checked against its :class:`Spec`."""

    def __init__(self, spec: Spec, kind: type, name: str) -> None:
        self.spec = spec
        self.kind = kind
        self.name = spec.range_text() or kind.__name__
        self.option = name

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """The allowed values, as ``--help`` shows them (``1..512``)."""
        return self.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Convert and check; a bad value fails with the allowed range."""
        if value is None or (isinstance(value, self.kind) and not isinstance(value, bool)):
            converted = value
        else:
            try:
                converted = self.kind(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a {self.kind.__name__}", param, ctx)
        try:
            self.spec.check(self.option, converted)
        except OptionError as exc:
            self.fail(str(exc), param, ctx)
        return converted


def data_argument(func: F) -> F:
    """Add an optional positional ``[DATA]``, the release root, as a shorthand of ``--data``."""
    return click.argument(
        "data_arg",
        metavar="[DATA]",
        required=False,
        type=PathType(path_type=Path, file_okay=False),
    )(func)


def merge_data(data_arg: Path | None, data: Path | None) -> Path | None:
    """The dataset root named by ``[DATA]`` or ``--data``.

    Raises:
        OptionError: when both are given and differ.
    """
    if data_arg is not None and data is not None and data_arg != data:
        raise OptionError(f"DATA {data_arg} and --data {data} differ: give the dataset once")
    return data_arg if data_arg is not None else data


def data_options(*, split: bool = True) -> Callable[[F], F]:
    """Add ``--data``, ``--config`` (and ``--split``) to a command."""

    def decorate(func: F) -> F:
        if split:
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
            type=PathType(path_type=Path, dir_okay=False),
            default=None,
            help="YAML config with the reference implementation's `data:` keys "
            "(path_aerial_train, path_sen_train, ...). Relative paths are read from the "
            "config's folder.",
        )(func)
        return click.option(
            "--data",
            "data",
            type=PathType(path_type=Path, file_okay=False),
            default=None,
            help="Root folder of a FLAIR #2 release (full or toy naming). Without --data or "
            "--config, the embedded sample dataset is used (generated once into the cache).",
        )(func)

    return decorate


def open_dataset(data: Path | None, config: Path | None, split: str) -> FlairDataset:
    """Open the dataset named by ``--data``/``--config``, or the embedded sample.

    Raises:
        OptionError: when both ``--data`` and ``--config`` are given.
    """
    if data is not None and config is not None:
        raise OptionError("--data and --config both given: name the dataset with only one")
    if config is not None:
        return FlairDataset.from_config(config, split=split)
    if data is None:
        data = _default_sample()
    return FlairDataset.from_root(data, split=split)


def _default_sample() -> Path:
    """The embedded sample's root, generated into the cache first if it is not there.

    Raises:
        FaultError: if the cache cannot hold it (checked before generating), with the fix.
    """
    from flair_hdbscan.cli.sample_data import sample_bytes
    from flair_hdbscan.geotiff import native_messages_silenced

    cached = cache_dir() / f"sample-v{GENERATOR_VERSION}-p{DEFAULT_PATCHES}-s{DEFAULT_SEED}"
    try:
        if not cached.is_dir():  # a read-only cache that holds the sample is fine
            need = sample_bytes(DEFAULT_PATCHES, max(2, DEFAULT_PATCHES // 4), DEFAULT_SEED)
            check_writable(cache_dir(), need_bytes=need, what="sample dataset cache")
        with native_messages_silenced():
            return default_sample_root(progress=True)
    except FaultError as exc:
        raise FaultError(
            f"{exc} — the embedded sample dataset is generated there: set "
            "FLAIR_HDBSCAN_CACHE to a writable folder with room, or name a dataset with "
            "--data or --config"
        ) from None


#: ``--eval-split`` of every command that trains and scores
eval_split_option = click.option(
    "--eval-split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split to score. Models always train on the training split; 'test' scores held-out "
    "patches, 'train' the training patches themselves (the notebook's in-sample protocol).",
)


def study_options(func: F) -> F:
    """Add every option of :class:`~flair_hdbscan.options.StudyOptions` to a command.

    The command receives them as keyword arguments; :func:`make_study_options` builds the
    options object from them.
    """
    for name, default, spec in reversed(option_specs()):
        flag = "--" + (spec.flag or name.replace("_", "-"))
        if isinstance(default, bool):
            decl = f"{flag}/--{spec.secondary}" if spec.secondary else flag
            func = click.option(decl, name, default=default, show_default=True, help=spec.help)(
                func
            )
            continue
        kind = type(default) if default is not None else int
        if spec.choices is not None:
            func = click.option(
                flag, name, type=click.Choice(spec.choices), default=default, show_default=True,
                help=spec.help,
            )(func)  # fmt: skip
            continue
        func = click.option(
            flag,
            name,
            type=SpecType(spec, kind, name),
            default=default,
            show_default=default is not None,
            help=spec.help,
        )(func)
    return func


def budget_options(func: F) -> F:
    """Add every option of :class:`~flair_hdbscan.options.BudgetOptions` to a command."""
    for name, default, spec in reversed(option_specs(BudgetOptions)):
        flag = "--" + (spec.flag or name.replace("_", "-"))
        if name == "budgets":
            func = click.option(
                flag, name, default=",".join(map(str, default)), show_default=True,
                help=spec.help, metavar="N,N,…,all",
            )(func)  # fmt: skip
        elif name == "hdbscan":
            func = click.option(
                flag, name, multiple=True, default=default, show_default=True, help=spec.help,
                metavar="METHOD:MCS:MS",
            )(func)  # fmt: skip
        elif spec.choices is not None:
            func = click.option(
                flag, name, type=click.Choice(spec.choices), default=default, show_default=True,
                help=spec.help,
            )(func)  # fmt: skip
        else:
            func = click.option(
                flag, name, type=SpecType(spec, type(default), name), default=default,
                show_default=True, help=spec.help,
            )(func)  # fmt: skip
    return func


def make_budget_options(kwargs: dict[str, Any]) -> BudgetOptions:
    """Build :class:`BudgetOptions` from :func:`budget_options` values (removed from ``kwargs``).

    Raises:
        OptionError: on a malformed budget list or HDBSCAN setting.
    """
    values = {name: kwargs.pop(name) for name, _, _ in option_specs(BudgetOptions)}
    values["budgets"] = tuple(b.strip() for b in str(values["budgets"]).split(",") if b.strip())
    return BudgetOptions(**values)


def make_study_options(kwargs: dict[str, Any]) -> StudyOptions:
    """Build :class:`StudyOptions` from :func:`study_options` values (removed from ``kwargs``)."""
    names = [name for name, _, _ in option_specs()]
    return StudyOptions(**{name: kwargs.pop(name) for name in names})


def study_option_names() -> list[str]:
    """Parameter names of the study options (to tell which were given on the command line)."""
    return [name for name, _, _ in option_specs()]


def execution_options(*, default_workers: int | None) -> Callable[[F], F]:
    """Add ``--workers``, ``--scheduler`` and ``--verify-content`` to a command."""

    def decorate(func: F) -> F:
        func = click.option(
            "--verify-content",
            is_flag=True,
            help="Identify the data by the content of its files (hashing every byte) rather "
            "than their names, sizes and times, for resuming and provenance.",
        )(func)
        func = click.option(
            "--scheduler",
            default=None,
            metavar="ADDRESS",
            help="Address of a running Dask scheduler (tcp://host:port); its workers do the "
            "per-patch work.",
        )(func)
        return click.option(
            "--workers",
            type=click.IntRange(min=1, max=1024),
            default=default_workers,
            show_default="this machine's cores" if default_workers is None else True,
            help="Processes of a local Dask cluster for per-patch work (1: in this process).",
        )(func)

    return decorate
