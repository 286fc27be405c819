"""Figure scaffolding shared by every figure: lazy pyplot, panels and grids, legends, saving.

Matplotlib is imported inside the functions, so that importing the ``plots`` package stays
cheap.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan.errors import OptionError
from flair_hdbscan.nomenclature import FULL_CLASSES, REDUCED_COLOURS, REDUCED_NAMES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from flair_hdbscan.dataset import FlairDataset

__all__ = ["save_figure"]

logger = logging.getLogger(__name__)

_FIGURE_SUFFIXES = (".png", ".svg")


def _pyplot() -> Any:
    """``matplotlib.pyplot``, imported on first use."""
    import matplotlib.pyplot as plt

    return plt


def _panel(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure of ``ax``, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig, new_ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, new_ax


def _grid(n_rows: int, n_cols: int, cell: float = 3.0) -> tuple[Figure, np.ndarray]:
    """A new figure of ``(n_rows, n_cols)`` axes without ticks.

    Args:
        n_rows: number of rows of axes.
        n_cols: number of columns of axes.
        cell: side of one axes in inches.

    Returns:
        The figure and its ``(n_rows, n_cols)`` object array of axes.
    """
    fig, axes = _pyplot().subplots(
        n_rows,
        n_cols,
        figsize=(cell * n_cols, cell * n_rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def _patch_grid(n_panels: int, max_cols: int, cell: float) -> tuple[Figure, np.ndarray]:
    """A :func:`_grid` holding ``n_panels`` panels, at most ``max_cols`` a row, spares hidden.

    Args:
        n_panels: number of panels to draw.
        max_cols: most panels in a row.
        cell: side of one axes in inches.

    Returns:
        The figure and its ``(n_rows, n_cols)`` object array of axes; the axes after the
        first ``n_panels`` are switched off.
    """
    n_cols = max(1, min(max_cols, n_panels))
    n_rows = max(1, math.ceil(n_panels / n_cols))
    fig, axes = _grid(n_rows, n_cols, cell=cell)
    for ax in axes.flat[n_panels:]:
        ax.set_axis_off()
    return fig, axes


def _legend_handles(reduced: bool, values: Sequence[int] | None = None) -> list[Patch]:
    """One coloured legend patch per class, labelled ``"<value> <name>"``.

    Args:
        reduced: reduced nomenclature (0..12) when True, full nomenclature (1..19) when False.
        values: keep only the classes with these stored values (default: all).

    Returns:
        The legend handles, in nomenclature order.
    """
    from matplotlib.patches import Patch

    if reduced:
        entries = list(enumerate(zip(REDUCED_NAMES, REDUCED_COLOURS, strict=True)))
    else:
        entries = [(c.value, (c.name, c.colour)) for c in FULL_CLASSES]
    if values is not None:
        keep = set(int(v) for v in values)
        entries = [e for e in entries if e[0] in keep]
    return [
        Patch(facecolor=colour, edgecolor="0.3", label=f"{value} {name}")
        for value, (name, colour) in entries
    ]


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write a figure as PNG or SVG (by suffix) atomically, then close it.

    Args:
        fig: the figure.
        path: output file ending in ``.png`` or ``.svg``.
        dpi: resolution of a PNG (pixels per inch of the figure size).

    Returns:
        The written path.

    Raises:
        OptionError: if the suffix is neither ``.png`` nor ``.svg`` (the figure is closed).
    """
    from flair_hdbscan.atomic import atomic_path

    plt = _pyplot()
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix not in _FIGURE_SUFFIXES:
            raise OptionError(
                f"cannot write a figure to {path}: the file name must end in .png or .svg"
            )
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=dpi)
    finally:
        plt.close(fig)
    logger.info("wrote %s", path)
    return path


def _require_patches(ds: FlairDataset) -> None:
    """Raise :class:`OptionError` when ``ds`` holds no patch."""
    if len(ds) == 0:
        raise OptionError("the dataset holds no patch: nothing to draw")


def _mask_legend(fig: Figure, values: set[int], title: str = "mask classes") -> None:
    """A figure legend with one entry per full-nomenclature class in ``values``, right side."""
    handles = _legend_handles(False, sorted(values))
    if handles:
        fig.legend(
            handles=handles,
            loc="outside right upper",
            title=title,
            fontsize=8,
            title_fontsize=9,
            frameon=False,
        )
