"""What a figure's pixels look like: label maps painted in class colours, contrast stretches.

Pure functions over arrays, no figure: they return the ``uint8`` / ``float32`` RGB images that
the drawing modules hand to ``imshow``, and can be used and tested without matplotlib's
pyplot.
"""

from __future__ import annotations

import numpy as np

from flair_hdbscan.nomenclature import FULL_CLASSES, REDUCED_COLOURS

__all__ = [
    "aerial_rgb",
    "colourize",
    "sentinel_rgb",
    "stretch",
    "stretch_limits",
]

#: Colour of "no data" (mask value 0 / reduced ``IGNORE``) in label maps.
_NO_DATA_COLOUR = "#808080"


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``(red, green, blue)`` 0..255 of a ``"#rrggbb"`` colour."""
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _lookup_table(reduced: bool) -> np.ndarray:
    """``(256, 3) uint8`` colour of every stored label value (grey where undefined)."""
    lut = np.tile(np.array(_hex_to_rgb(_NO_DATA_COLOUR), dtype=np.uint8), (256, 1))
    if reduced:
        for k, colour in enumerate(REDUCED_COLOURS):
            lut[k] = _hex_to_rgb(colour)
    else:
        for info in FULL_CLASSES:
            lut[info.value] = _hex_to_rgb(info.colour)
    return lut


def colourize(labels: np.ndarray, *, reduced: bool = False) -> np.ndarray:
    """Paint a label map with FLAIR's class colours.

    Args:
        labels: ``(H, W)`` uint8 labels: full nomenclature 1..19 (0 = no data) when
            ``reduced`` is False, reduced classes 0..12 (255 = no data) when True.
        reduced: which nomenclature ``labels`` holds.

    Returns:
        ``(H, W, 3)`` uint8 RGB image; pixels without data, or with a value outside the
        nomenclature, are grey.
    """
    labels = np.asarray(labels)
    if labels.dtype != np.uint8:
        labels = np.clip(labels, 0, 255).astype(np.uint8)
    return _lookup_table(reduced)[labels]


def aerial_rgb(image: np.ndarray) -> np.ndarray:
    """True-colour view of an aerial patch.

    Args:
        image: ``(5, H, W)`` uint8 aerial patch (red, green, blue, NIR, elevation).

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    return np.ascontiguousarray(np.moveaxis(np.asarray(image)[:3], 0, -1))


def stretch(
    rgb: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray] | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> np.ndarray:
    """Linear contrast stretch of a multi-band image to ``[0, 1]``.

    Args:
        rgb: ``(H, W, C)`` values of any numeric dtype (e.g. Sentinel-2 uint16 reflectance).
        limits: ``(low, high)``, each ``(C,)``, to apply; by default the ``percentiles`` of
            each band of ``rgb`` (so several crops can share the limits of one image).
        percentiles: lower and upper percentiles used when ``limits`` is None.

    Returns:
        ``(H, W, C)`` float32 in ``[0, 1]``.
    """
    values = np.asarray(rgb, dtype=np.float32)
    if limits is None:
        limits = stretch_limits(values, percentiles)
    low, high = (np.asarray(v, dtype=np.float32) for v in limits)
    span = np.where(high > low, high - low, 1.0).astype(np.float32)
    return np.clip((values - low) / span, 0.0, 1.0)


def stretch_limits(
    rgb: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band percentiles of an image, for :func:`stretch`.

    Args:
        rgb: ``(H, W, C)`` values of any numeric dtype.
        percentiles: lower and upper percentiles.

    Returns:
        ``(low, high)``, each ``(C,)`` float32.
    """
    flat = np.asarray(rgb, dtype=np.float32).reshape(-1, np.shape(rgb)[-1])
    low, high = np.percentile(flat, percentiles, axis=0)
    return low.astype(np.float32), high.astype(np.float32)


def sentinel_rgb(data: np.ndarray) -> np.ndarray:
    """Natural-colour bands of one Sentinel-2 date.

    Args:
        data: ``(10, H, W)`` uint16 bands B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12.

    Returns:
        ``(H, W, 3)`` uint16 image of B04, B03, B02 (red, green, blue).
    """
    return np.ascontiguousarray(np.moveaxis(np.asarray(data)[[2, 1, 0]], 0, -1))


def _highlight(rgb: np.ndarray, where: np.ndarray, colour: str, alpha: float = 0.6) -> np.ndarray:
    """Blend some pixels of an image towards a colour.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB image.
        where: ``(H, W)`` bool, the pixels to tint.
        colour: ``"#rrggbb"`` tint.
        alpha: weight of the tint.

    Returns:
        ``(H, W, 3)`` uint8 RGB with ``where`` blended towards ``colour``.
    """
    out = rgb.astype(np.float32)
    tint = np.array(_hex_to_rgb(colour), dtype=np.float32)
    out[where] = (1 - alpha) * out[where] + alpha * tint
    return out.astype(np.uint8)


def _cluster_colours(clusters: np.ndarray) -> np.ndarray:
    """Paint a cluster map with matplotlib's ``tab20`` palette.

    Args:
        clusters: ``(H, W)`` int32 cluster ids, −1 where a pixel has no cluster.

    Returns:
        ``(H, W, 3)`` float32: a tab20 colour per cluster id, black for −1 (no cluster).
    """
    import matplotlib as mpl

    palette = np.asarray(mpl.colormaps["tab20"].colors, dtype=np.float32)
    clusters = np.asarray(clusters)
    out = palette[np.mod(clusters, len(palette))]
    out[clusters < 0] = 0.0
    return out
