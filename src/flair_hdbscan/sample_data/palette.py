"""Aerial appearance, as data: 8-bit colours, per-parcel spread, texture, crowns, noise.

Tables are indexed by class value 0..19 (0 unused) and give (R, G, B, NIR) levels of the
8-bit orthophotos. Land cover draws per-parcel colour offsets from them; the aerial renderer
turns them into pixels.
"""

from __future__ import annotations

import numpy as np

#: Mean (R, G, B, NIR), ``(20, 4) float32``, indexed by class value.
RGBN = np.array(
    [
        (0, 0, 0, 0),  # 0: unused
        (150, 140, 138, 128),  # 1 building (roofs vary per building)
        (128, 121, 106, 128),  # 2 pervious surface
        (98, 98, 103, 92),  # 3 impervious surface
        (150, 127, 99, 140),  # 4 bare soil
        (42, 62, 70, 22),  # 5 water
        (48, 66, 52, 118),  # 6 coniferous
        (62, 92, 60, 165),  # 7 deciduous
        (90, 106, 72, 150),  # 8 brushwood
        (74, 98, 62, 158),  # 9 vineyard (vine rows; soil between)
        (102, 128, 82, 164),  # 10 herbaceous vegetation
        (112, 140, 84, 184),  # 11 agricultural land (variant 0)
        (118, 96, 78, 100),  # 12 plowed land
        (72, 182, 196, 58),  # 13 swimming pool
        (236, 239, 244, 224),  # 14 snow
        (122, 112, 88, 128),  # 15 clear cut
        (56, 80, 56, 142),  # 16 mixed
        (88, 106, 68, 140),  # 17 ligneous
        (204, 209, 218, 176),  # 18 greenhouse
        (126, 112, 100, 110),  # 19 other
    ],
    dtype=np.float32,
)
#: (R, G, B, NIR) of the agricultural land variants, ``(3, 4) float32``.
AGRI_VARIANTS = np.array(
    [(112, 140, 84, 184), (172, 160, 112, 150), (132, 130, 92, 156)], dtype=np.float32
)
#: (R, G, B, NIR) of roof materials, ``(5, 4) float32``.
ROOFS = np.array(
    [
        (156, 92, 74, 112),  # terracotta tiles
        (138, 138, 142, 124),  # grey concrete
        (88, 88, 94, 82),  # dark slate
        (196, 192, 186, 180),  # light membrane
        (122, 102, 92, 104),  # brown tiles
    ],
    dtype=np.float32,
)
# Per-parcel colour spread: brightness SD, and SD along the dry → green axis (R, G, B, NIR
# units per unit), so that pervious / herbaceous / agricultural / bare soil overlap partly.
GREENNESS_AXIS = np.array([-34, -14, -26, 50], dtype=np.float32)
BRIGHTNESS_SD = np.array(
    [0, 14, 12, 14, 12, 8, 6, 9, 9, 8, 10, 12, 10, 8, 4, 10, 8, 9, 6, 14], dtype=np.float32
)
GREENNESS_SD = np.array(
    [0, 0, 0.5, 0.1, 0.35, 0.3, 0.2, 0.3, 0.45, 0.3, 0.45, 0.5, 0.3, 0, 0, 0.4, 0.3, 0.4, 0,
     0.3],
    dtype=np.float32,
)  # fmt: skip
#: Relative amplitude of the smooth texture, ``(20,) float32``, per class value.
TEXTURE = np.array(
    [0, 0.03, 0.07, 0.04, 0.06, 0.03, 0.05, 0.05, 0.07, 0.04, 0.07, 0.05, 0.05, 0.02, 0.02,
     0.08, 0.05, 0.07, 0.02, 0.06],
    dtype=np.float32,
)  # fmt: skip
#: Tree-like classes: (crown radius factor, height in m, lit/shaded contrast).
CROWNS: dict[int, tuple[float, float, float]] = {
    6: (0.75, 17.0, 0.65),
    7: (1.0, 14.0, 0.55),
    8: (0.6, 2.0, 0.35),
    15: (0.45, 0.8, 0.25),
    16: (0.9, 15.0, 0.6),
    17: (0.6, 2.6, 0.4),
}
GROUND_HEIGHT = 0.03  # m, for flat classes
TEXTURE_GAIN = 2.5  # scale of the brightness texture
VIGOUR = 0.8  # scale of the greenness texture
TEXTURE_STEP = 0.6  # quantisation step of the texture fields (in SD units)
CROWN_LEVELS = 4  # lit / shaded levels of a tree crown
# SD of the per-pixel noise of R, G, B, NIR (8-bit levels). Real orthophotos repeat their
# values: on 1 M real RGBN pixels only 18.5 % of rows are unique. 0.03 puts the default sample
# there (19.3 % of 1 M pixels unique; 0.3 gave 45 %, 0 gave 16.6 %).
PIXEL_NOISE = 0.03
ELEV_NOISE = 0.15  # SD of the per-pixel noise of the stored elevation (m × 5)
