"""Progress display for long work (rich), quiet when standard error is not a terminal."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar"]


def progress_bar(*, enabled: bool | None = None) -> Progress:
    """A rich progress display on standard error.

    Args:
        enabled: show it (default: only when standard error is a terminal, so logs and
            CI output stay readable).

    Returns:
        A :class:`rich.progress.Progress` to use as a context manager.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
