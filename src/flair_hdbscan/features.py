"""Pixel feature tables: named columns, spectral normalisation, Sentinel-2 fusion, sampling.

Scales follow the original study, whose loader divided every aerial band by 255
(``img_as_float``): the five aerial bands share one scale, value / 255, elevation included as
stored (metres × 5), so that Euclidean distances (and so kNN and HDBSCAN) equal the study's.
Converting elevation to metres would silently weight it 5× more; metres are for display only.
Sentinel-2 reflectances (0–10000) are put on the same scale as the aerial bands: a
reflectance of 10000 weighs as an aerial value of 255 (value × 255 / 10000, then / 255).

Column order: ``red, green, blue, nir, elevation``, then with fusion
``s2_b02 … s2_b12``, then ``intensity`` when appended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from flair_hdbscan.errors import OptionError
from flair_hdbscan.sentinel import S2_BANDS

__all__ = [
    "AERIAL_COLUMNS",
    "AERIAL_SCALE",
    "ELEVATION",
    "S2_COLUMNS",
    "S2_SCALE",
    "FeatureSpec",
    "feature_table",
    "normalize_spectra",
    "pack_aerial",
]

AERIAL_COLUMNS: tuple[str, ...] = ("red", "green", "blue", "nir", "elevation")
S2_COLUMNS: tuple[str, ...] = tuple(f"s2_{band.lower()}" for band in S2_BANDS)
ELEVATION = "elevation"
INTENSITY = "intensity"
#: Aerial value → feature: divide by 255, as the study's loader did.
AERIAL_SCALE = 1.0 / 255.0
#: Sentinel-2 reflectance → feature: × 255 / 10000 puts it on the aerial scale, then / 255.
S2_SCALE = 1.0 / 10000.0


@dataclass(frozen=True)
class FeatureSpec:
    """Which features an experiment uses.

    Attributes:
        use_satellite: append the Sentinel-2 median composite (10 bands), resampled onto the
            aerial grid.
        scale_by_intensity: divide the spectral columns (all but elevation) by their
            Euclidean norm, the pixel's intensity.
        append_intensity: append that norm as a column named ``intensity``.
        robust_scale: centre each column on its median and divide by its inter-quartile
            range, both fitted on the training sample only (applied by the model).
    """

    use_satellite: bool = False
    scale_by_intensity: bool = False
    append_intensity: bool = False
    robust_scale: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the feature columns, in order."""
        cols = AERIAL_COLUMNS + (S2_COLUMNS if self.use_satellite else ())
        return cols + ((INTENSITY,) if self.append_intensity else ())

    @property
    def shared_columns(self) -> int:
        """Trailing columns whose values all pixels of one Sentinel-2 pixel share.

        The 10 Sentinel-2 columns when fused without intensity normalisation (dividing by
        the intensity mixes aerial values into them), else 0.
        """
        mixed = self.scale_by_intensity or self.append_intensity
        return len(S2_COLUMNS) if self.use_satellite and not mixed else 0

    @property
    def table_key(self) -> tuple[bool, bool, bool]:
        """What the unscaled table depends on (robust scaling is fitted later, per model)."""
        return (self.use_satellite, self.scale_by_intensity, self.append_intensity)

    @property
    def option_name(self) -> str:
        """The study's name of this feature option (``raw``, ``satellite-robust``, …)."""
        parts = []
        if self.use_satellite:
            parts.append("satellite")
        if self.robust_scale:
            parts.append("robust")
        if self.scale_by_intensity:
            parts.append("normalized" if self.append_intensity else "normalized-no-intensity")
        return "-".join(parts) or "raw"

    def to_dict(self) -> dict[str, bool]:
        """JSON-ready form."""
        return asdict(self)


def feature_table(aerial: np.ndarray, s2: np.ndarray | None, spec: FeatureSpec) -> np.ndarray:
    """Build the feature table of a set of pixels.

    Args:
        aerial: ``(n, 5) uint8`` pixel values (red, green, blue, NIR, stored elevation).
        s2: ``(n, 10) float32`` Sentinel-2 reflectances (B02 … B12) on the aerial grid, or
            None when ``spec.use_satellite`` is false.
        spec: the features to build.

    Returns:
        ``(n, len(spec.columns)) float32``, C-contiguous, unscaled by robust scaling.

    Raises:
        OptionError: if Sentinel-2 values are needed but missing, or shapes disagree.
    """
    aerial = np.asarray(aerial)
    if aerial.ndim != 2 or aerial.shape[1] != 5:
        raise OptionError(f"aerial pixels must be (n, 5), got {aerial.shape}")
    parts = [aerial.astype(np.float32) * np.float32(AERIAL_SCALE)]
    if spec.use_satellite:
        if s2 is None or s2.shape != (aerial.shape[0], len(S2_COLUMNS)):
            shape = None if s2 is None else s2.shape
            raise OptionError(f"Sentinel-2 fusion needs (n, 10) reflectances, got {shape}")
        parts.append(np.asarray(s2, dtype=np.float32) * np.float32(S2_SCALE))
    table = np.concatenate(parts, axis=1)
    if spec.scale_by_intensity or spec.append_intensity:
        spectral = np.ones(table.shape[1], dtype=bool)
        spectral[AERIAL_COLUMNS.index(ELEVATION)] = False
        scaled, intensity = normalize_spectra(table, spectral)
        if spec.scale_by_intensity:
            table = scaled
        if spec.append_intensity:
            table = np.concatenate([table, intensity[:, None]], axis=1)
    return np.ascontiguousarray(table, dtype=np.float32)


def normalize_spectra(table: np.ndarray, spectral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectral normalisation (the study's ``scale_by_intensity``).

    Args:
        table: ``(n, f)`` float features.
        spectral: ``(f,)`` bool, the columns that form the spectrum (all but elevation).

    Returns:
        ``(scaled, intensity)``: a copy of ``table`` whose spectral columns are divided by
        their Euclidean norm (0 where the norm is 0), ``(n, f)``, and that norm, ``(n,)``.
    """
    table = np.array(table, dtype=np.float32)
    intensity = np.sqrt(np.einsum("ij,ij->i", table[:, spectral], table[:, spectral]))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = table[:, spectral] / intensity[:, None]
    table[:, spectral] = np.where(intensity[:, None] > 0, scaled, 0.0)
    return table, intensity


def pack_aerial(aerial: np.ndarray) -> np.ndarray:
    """Pack each pixel's five uint8 values into one integer key.

    Args:
        aerial: ``(n, 5) uint8``.

    Returns:
        ``(n,) int64`` keys ``a0·2³² + a1·2²⁴ + a2·2¹⁶ + a3·2⁸ + a4``, equal exactly when
        the five values are equal.
    """
    a = np.asarray(aerial, dtype=np.uint8)
    # the five bytes as the low bytes of a big-endian 8-byte word: one copy, no arithmetic
    word = np.zeros((a.shape[0], 8), dtype=np.uint8)
    word[:, 3:] = a
    return word.view(">u8").ravel().astype(np.int64)
