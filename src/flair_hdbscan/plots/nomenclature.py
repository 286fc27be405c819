"""Figure of the class nomenclatures: full (19 classes) and reduced (13 classes) legends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flair_hdbscan.plots._figure import _legend_handles, _pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_nomenclature"]


def plot_nomenclature() -> Figure:
    """Legends of the full (19 classes) and reduced (13 classes) nomenclatures side by side.

    Returns:
        Figure with two axes titled "Full nomenclature (19 classes)" and "Reduced
        nomenclature (13 classes)", each holding a legend of one coloured patch per class
        labelled with the stored value and the class name.
    """
    plt = _pyplot()
    fig, (full_ax, reduced_ax) = plt.subplots(1, 2, figsize=(9, 5.5), layout="constrained")
    for ax, reduced, title in (
        (full_ax, False, "Full nomenclature (19 classes)"),
        (reduced_ax, True, "Reduced nomenclature (13 classes)"),
    ):
        ax.set_axis_off()
        ax.set_title(title)
        ax.legend(
            handles=_legend_handles(reduced),
            loc="upper left",
            frameon=False,
            handlelength=2.5,
            handleheight=1.4,
        )
    return fig
