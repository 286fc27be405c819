"""Grids shared by every stage of the generator: the aerial patch and the Sentinel-2 pixel.

Land cover is defined in continuous metric coordinates; these constants say how the aerial
patches ``(5, 512, 512) uint8`` and the Sentinel-2 super areas ``(T, 10, H, W) uint16``
sample it.
"""

from __future__ import annotations

PATCH = 512  # aerial patch side, pixels
RES = 0.2  # aerial pixel, metres
SEN_RES = 10.0  # Sentinel-2 pixel, metres
HALF = PATCH * RES / 2  # 51.2 m: half side of the aerial footprint
N_BANDS = 10  # B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12
