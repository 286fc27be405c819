"""Smooth random fields: value noise over metric coordinates and blobs over a pixel grid."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


class Lattice:
    """Smooth value noise: a random lattice, interpolated with smoothstep weights.

    Args:
        rng: generator drawing the lattice values (one ``standard_normal`` call).
        extent: ``(height, width)`` of the covered area, metres.
        cell: lattice spacing, metres.
    """

    def __init__(self, rng: np.random.Generator, extent: tuple[float, float], cell: float):
        self.cell = cell
        self.margin = 80.0
        nv = int(np.ceil((extent[0] + 2 * self.margin) / cell)) + 2
        nu = int(np.ceil((extent[1] + 2 * self.margin) / cell)) + 2
        self.values = rng.standard_normal((nv, nu)).astype(np.float32) * 1.5

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Noise at points ``(u, v)`` in metres, ``(N,)`` float64 → ``(N,)`` float32."""
        nv, nu = self.values.shape
        fu = np.clip((u + self.margin) / self.cell, 0, nu - 1.001)
        fv = np.clip((v + self.margin) / self.cell, 0, nv - 1.001)
        iu = fu.astype(np.intp)
        iv = fv.astype(np.intp)
        tu = (fu - iu).astype(np.float32)
        tv = (fv - iv).astype(np.float32)
        tu = tu * tu * (3 - 2 * tu)
        tv = tv * tv * (3 - 2 * tv)
        a = self.values
        top = a[iv, iu] * (1 - tu) + a[iv, iu + 1] * tu
        bottom = a[iv + 1, iu] * (1 - tu) + a[iv + 1, iu + 1] * tu
        return top * (1 - tv) + bottom * tv


def blob(rng: np.random.Generator, shape: tuple[int, int], cover: float) -> np.ndarray:
    """Smooth blobs covering about ``cover`` of the area.

    Args:
        rng: generator of the field and its smoothing scale.
        shape: ``(H, W)`` of the grid.
        cover: fraction of the area where the result is positive.

    Returns:
        ``(H, W)`` float32, 0 at the edge of the blobs and positive inside (in units of the
        field's standard deviation).
    """
    field = gaussian_filter(rng.standard_normal(shape), sigma=rng.uniform(3, 8), mode="wrap")
    field = (field - field.mean()) / (field.std() + 1e-9)
    return (field - np.quantile(field, 1 - cover)).astype(np.float32)
