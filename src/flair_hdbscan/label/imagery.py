"""What the page shows of a pixel: crops of its aerial patch, and a cluster's spectrum.

Pure functions over arrays (the crop window, the rendered crop with its marker, the
spectrum's quartiles), a PNG encoder (Pillow), and :class:`CropCache`, which reads patches
through the dataset and keeps recent patches and crops in memory. Colours come from the
project's imagery code (:mod:`flair_hdbscan.plots._colour`): true colour is
:func:`~flair_hdbscan.plots._colour.aerial_rgb`, NIR false colour puts NIR, red, green on
red, green, blue; both are stretched with the 2–98 % limits of the whole patch, so every
crop of a patch looks alike.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.plots._colour import aerial_rgb, stretch, stretch_limits

__all__ = [
    "MODES",
    "OUT_SIZES",
    "WINDOWS",
    "CropCache",
    "crop_window",
    "png_bytes",
    "render_crop",
    "spectrum",
]

#: Crop sides in patch pixels (0.2 m each): 4.8 m to 76.8 m; the page zooms through them.
WINDOWS: tuple[int, ...] = (24, 48, 96, 192, 384)
#: Rendered sides, screen pixels.
OUT_SIZES: tuple[int, ...] = (96, 192, 384)
#: ``rgb``: true colour; ``nir``: NIR false colour (NIR, red, green).
MODES: tuple[str, ...] = ("rgb", "nir")
#: Channel names of a spectrum (elevation in metres = stored value / 5).
CHANNELS: tuple[str, ...] = ("red", "green", "blue", "nir", "elevation")
_MARKER = np.array([255, 255, 0], dtype=np.uint8)


def crop_window(shape: tuple[int, int], row: int, col: int, size: int) -> tuple[int, int, int]:
    """Top-left corner and side of a square crop around a pixel, kept inside the patch.

    Args:
        shape: ``(H, W)`` of the patch.
        row: the pixel's row.
        col: the pixel's column.
        size: wanted side; at most ``min(H, W)``.

    Returns:
        ``(top, left, side)``; the pixel lies inside, centred unless near an edge.
    """
    h, w = shape
    side = int(min(size, h, w))
    top = int(np.clip(row - side // 2, 0, h - side))
    left = int(np.clip(col - side // 2, 0, w - side))
    return top, left, side


def render_crop(
    view: np.ndarray, row: int, col: int, size: int, out: int, *, marker: bool = True
) -> np.ndarray:
    """A crop of a view, enlarged (nearest neighbour), with the pixel framed.

    Args:
        view: ``(H, W, 3) uint8`` display image of the patch.
        row: the pixel's row.
        col: the pixel's column.
        size: crop side in patch pixels.
        out: rendered side in screen pixels.
        marker: frame the pixel (a yellow square with a black border).

    Returns:
        ``(out, out, 3) uint8``.
    """
    from PIL import Image

    top, left, side = crop_window(view.shape[:2], row, col, size)
    crop = np.ascontiguousarray(view[top : top + side, left : left + side])
    img = np.array(Image.fromarray(crop).resize((out, out), Image.Resampling.NEAREST))
    if marker:
        scale = out / side
        cy, cx = (row - top + 0.5) * scale, (col - left + 0.5) * scale
        half = max(5.0, scale * 1.5)
        y0, y1 = round(cy - half), round(cy + half)
        x0, x1 = round(cx - half), round(cx + half)
        for width, colour in ((3, np.zeros(3, np.uint8)), (1, _MARKER)):
            _frame(img, y0, y1, x0, x1, width, colour)
    return img


def _frame(img: np.ndarray, y0: int, y1: int, x0: int, x1: int, width: int, colour) -> None:
    """Draw a square outline (clipped to the image) of ``width`` pixels in place."""
    h, w = img.shape[:2]
    for t in range(-(width // 2), width // 2 + 1):
        ya, yb, xa, xb = y0 + t, y1 - t, x0 + t, x1 - t
        rows = slice(max(ya, 0), min(yb + 1, h))
        cols = slice(max(xa, 0), min(xb + 1, w))
        for y in (ya, yb):
            if 0 <= y < h:
                img[y, cols] = colour
        for x in (xa, xb):
            if 0 <= x < w:
                img[rows, x] = colour


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG of an ``(H, W, 3) uint8`` image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def patch_views(image: np.ndarray) -> dict[str, np.ndarray]:
    """True-colour and NIR false-colour display images of an aerial patch.

    Args:
        image: ``(5, H, W) uint8`` aerial patch (red, green, blue, NIR, elevation).

    Returns:
        ``{"rgb": (H, W, 3) uint8, "nir": (H, W, 3) uint8}``, each stretched to its own
        2–98 % limits.
    """
    rgb = aerial_rgb(image)
    nir = np.ascontiguousarray(np.moveaxis(np.asarray(image)[[3, 0, 1]], 0, -1))
    out = {}
    for name, view in (("rgb", rgb), ("nir", nir)):
        limits = stretch_limits(view[::4, ::4])
        out[name] = (stretch(view, limits) * 255.0 + 0.5).astype(np.uint8)
    return out


def spectrum(aerial: np.ndarray) -> dict[str, Any]:
    """Median and inter-quartile band of a cluster's members, per channel.

    Args:
        aerial: ``(m, 5) uint8`` member pixels (red, green, blue, NIR, stored elevation).

    Returns:
        ``{"channels": [...], "q1": [...], "median": [...], "q3": [...]}``, spectral
        channels in stored units 0–255, elevation in metres (stored / 5).
    """
    a = np.asarray(aerial, dtype=np.float64)
    if a.shape[0] == 0:
        q = np.full((3, len(CHANNELS)), np.nan)
    else:
        q = np.percentile(a, [25.0, 50.0, 75.0], axis=0)
    q[:, 4] /= 5.0
    return {
        "channels": list(CHANNELS),
        "q1": [round(float(v), 2) for v in q[0]],
        "median": [round(float(v), 2) for v in q[1]],
        "q3": [round(float(v), 2) for v in q[2]],
    }


class CropCache:
    """Crops of pool pixels as PNG, made on demand and kept.

    Args:
        ds: the dataset the pool was read from.
        max_patches: display images of this many patches are kept (≈ 1.6 MB each).
        max_crops: this many PNGs are kept.
    """

    def __init__(self, ds: FlairDataset, *, max_patches: int = 16, max_crops: int = 4096) -> None:
        self.ds = ds
        self.max_patches = max_patches
        self.max_crops = max_crops
        self._views: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._pngs: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def views(self, patch: int) -> dict[str, np.ndarray]:
        """Display images of a patch (read once, then kept while recently used)."""
        with self._lock:
            if patch in self._views:
                self._views.move_to_end(patch)
                return self._views[patch]
        views = patch_views(self.ds.read_image(patch))
        with self._lock:
            self._views[patch] = views
            while len(self._views) > self.max_patches:
                self._views.popitem(last=False)
        return views

    def png(self, patch: int, row: int, col: int, *, mode: str, size: int, out: int) -> bytes:
        """PNG of the crop around pixel ``(row, col)`` of ``patch``.

        Raises:
            OptionError: on an unknown mode, window or output size.
        """
        if mode not in MODES:
            raise OptionError(f"mode {mode!r}: use one of {', '.join(MODES)}")
        if size not in WINDOWS or out not in OUT_SIZES:
            raise OptionError(f"crop {size}→{out}: windows {WINDOWS}, sizes {OUT_SIZES}")
        key = (patch, row, col, mode, size, out)
        with self._lock:
            if key in self._pngs:
                self._pngs.move_to_end(key)
                return self._pngs[key]
        data = png_bytes(render_crop(self.views(patch)[mode], row, col, size, out))
        with self._lock:
            self._pngs[key] = data
            while len(self._pngs) > self.max_crops:
                self._pngs.popitem(last=False)
        return data
