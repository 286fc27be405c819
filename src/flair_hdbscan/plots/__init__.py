"""Every figure of the study: nomenclature, samples, time series, data exploration, scores.

Each public ``plot_*`` function takes data (a :class:`~flair_hdbscan.dataset.FlairDataset`, a
pixel table, a confusion matrix or the results dictionary), draws it and returns the matplotlib
:class:`~matplotlib.figure.Figure`. Functions that draw a single panel accept ``ax=None`` and
draw into ``ax`` when given. None calls ``plt.show()``: save with :func:`save_figure`, or let a
notebook display the returned figure. Matplotlib is imported inside the functions, so that
importing this package stays cheap.

What to draw is computed by small pure helpers (:func:`colourize`, :func:`stretch`,
:func:`row_normalize`, :func:`normalize_spectra`, :func:`results_table`, ...) kept apart from
the drawing, so they can be used and tested without a figure.

One module per concern, every import pointing down to the two shared ones:

- ``_colour``: label maps in class colours, contrast stretches (pure, no figure);
- ``_figure``: lazy pyplot, panel and grid scaffolding, class legends, :func:`save_figure`;
- ``nomenclature``: the legends of the full and reduced nomenclatures;
- ``imagery``: the dataset's images (samples, Sentinel-2 time series, class patches, all
  patches);
- ``exploration``: the pixels (class distribution, a channel by class, normalisation scatter);
- ``results``: the scores (confusion matrix, prediction maps, results chart).
"""

from flair_hdbscan.plots._colour import (
    aerial_rgb,
    colourize,
    sentinel_rgb,
    stretch,
    stretch_limits,
)
from flair_hdbscan.plots._figure import save_figure
from flair_hdbscan.plots.exploration import (
    PIXEL_COLUMNS,
    SEED_CHANNELS,
    class_shares,
    display_values,
    needs_sentinel,
    normalize_spectra,
    plot_channel_by_class,
    plot_class_distribution,
    plot_normalization_scatter,
    resolve_channel,
)
from flair_hdbscan.plots.imagery import (
    cloud_cover,
    plot_all_patches,
    plot_class_patches,
    plot_samples,
    plot_time_series,
    share_label,
)
from flair_hdbscan.plots.nomenclature import plot_nomenclature
from flair_hdbscan.plots.results import (
    FEATURE_OPTIONS,
    plot_confusion,
    plot_prediction_maps,
    plot_results,
    results_table,
    row_normalize,
)

__all__ = [
    "FEATURE_OPTIONS",
    "PIXEL_COLUMNS",
    "SEED_CHANNELS",
    "aerial_rgb",
    "class_shares",
    "cloud_cover",
    "colourize",
    "display_values",
    "needs_sentinel",
    "normalize_spectra",
    "plot_all_patches",
    "plot_channel_by_class",
    "plot_class_distribution",
    "plot_class_patches",
    "plot_confusion",
    "plot_nomenclature",
    "plot_normalization_scatter",
    "plot_prediction_maps",
    "plot_results",
    "plot_samples",
    "plot_time_series",
    "resolve_channel",
    "results_table",
    "row_normalize",
    "save_figure",
    "sentinel_rgb",
    "share_label",
    "stretch",
    "stretch_limits",
]
