"""FLAIR #2 land-cover nomenclature: classes, colours, prevalence and the 19 → 13 remap.

The full nomenclature has 19 classes, stored in masks as values 1..19 (0 means no data).
The reduced ("baseline") nomenclature of the FLAIR #2 challenge keeps the first 12 classes
and folds 13..19 into "other": values > 13 become 13, then 1 is subtracted, giving 0..12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FULL_CLASSES",
    "IGNORE",
    "N_CLASSES",
    "N_SCORED",
    "OTHER",
    "REDUCED_COLOURS",
    "REDUCED_NAMES",
    "TRAIN_PREVALENCE",
    "ClassInfo",
    "to_reduced",
]


@dataclass(frozen=True)
class ClassInfo:
    """One class of the full nomenclature.

    Attributes:
        value: value stored in ``MSK_*.tif`` (1..19).
        name: class name as FLAIR spells it.
        colour: hexadecimal colour of FLAIR's legend.
    """

    value: int
    name: str
    colour: str


FULL_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo(1, "building", "#db0e9a"),
    ClassInfo(2, "pervious surface", "#938e7b"),
    ClassInfo(3, "impervious surface", "#f80c00"),
    ClassInfo(4, "bare soil", "#a97101"),
    ClassInfo(5, "water", "#1553ae"),
    ClassInfo(6, "coniferous", "#194a26"),
    ClassInfo(7, "deciduous", "#46e483"),
    ClassInfo(8, "brushwood", "#f3a60d"),
    ClassInfo(9, "vineyard", "#660082"),
    ClassInfo(10, "herbaceous vegetation", "#55ff00"),
    ClassInfo(11, "agricultural land", "#fff30d"),
    ClassInfo(12, "plowed land", "#e4df7c"),
    ClassInfo(13, "swimming pool", "#3de6eb"),
    ClassInfo(14, "snow", "#ffffff"),
    ClassInfo(15, "clear cut", "#8ab3a0"),
    ClassInfo(16, "mixed", "#6b714f"),
    ClassInfo(17, "ligneous", "#c5dc42"),
    ClassInfo(18, "greenhouse", "#9999ff"),
    ClassInfo(19, "other", "#000000"),
)

#: Number of classes of the reduced nomenclature (0..12).
N_CLASSES = 13
#: Reduced class index of "other" (full values 13..19); excluded from mIoU.
OTHER = 12
#: Number of classes that enter FLAIR's mIoU (0..11).
N_SCORED = 12
#: Reduced label of a pixel without ground truth (mask value 0); ignored by every metric.
IGNORE = 255

REDUCED_NAMES: tuple[str, ...] = (*(c.name for c in FULL_CLASSES[:12]), "other")
REDUCED_COLOURS: tuple[str, ...] = (*(c.colour for c in FULL_CLASSES[:12]), "#000000")

#: Pixel prevalence (%) of the 12 scored classes in FLAIR #2's training split; the seven
#: classes folded into "other" make up the remainder (under 1 %).
TRAIN_PREVALENCE: dict[str, float] = {
    "building": 8.14,
    "pervious surface": 8.25,
    "impervious surface": 13.72,
    "bare soil": 3.47,
    "water": 4.88,
    "coniferous": 2.74,
    "deciduous": 15.38,
    "brushwood": 6.95,
    "vineyard": 3.13,
    "herbaceous vegetation": 17.84,
    "agricultural land": 10.98,
    "plowed land": 3.88,
}

# Lookup table of the 19 → 13 remap, indexed by the stored value 0..255.
_REMAP = np.full(256, IGNORE, dtype=np.uint8)
_REMAP[1:14] = np.arange(0, 13, dtype=np.uint8)
_REMAP[14:20] = OTHER


def to_reduced(mask: np.ndarray) -> np.ndarray:
    """Map a full-nomenclature mask to the reduced nomenclature.

    Args:
        mask: labels of any shape, dtype uint8, values 0..19 (0 = no data).

    Returns:
        Array of the same shape, dtype uint8: classes 0..12, and ``IGNORE`` (255) where
        the mask holds 0 (no data) or a value above 19.
    """
    mask = np.asarray(mask)
    if mask.dtype != np.uint8:
        mask = np.clip(mask, 0, 255).astype(np.uint8)
    return _REMAP[mask]
