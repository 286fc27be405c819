"""FLAIR-format sample generator and the cache of the default sample.

:func:`generate_sample` writes a synthetic dataset in the layout of the FLAIR #2 release
(aerial GeoTIFFs, label masks, Sentinel-2 super areas, centroids, aerial metadata and the
reference implementation's YAML config). Its content is built so that the study means
something: every zone has one land cover, defined in continuous metric coordinates, from
which both the 0.2 m aerial patches and the 10 m Sentinel-2 super area are drawn.

The land cover of a zone is made of

* districts (urban, agricultural, forest, natural): a coarse Voronoi tessellation;
* parcels: a fine Voronoi tessellation with wiggly borders, each parcel taking a class
  drawn from its district's table (urban lots hold lawns, yards or courtyards);
* roads (impervious strips) and, in urban districts, a street grid;
* objects: buildings (with heights and shadows), swimming pools, greenhouses and small
  "other" structures, as rotated rectangles.

Aerial spectra follow per-class means with per-parcel offsets, spatially correlated texture
(tree crowns, vine rows, furrows) and modest pixel noise; elevation follows per-class
heights. Sentinel-2 reflectances mix per-class spectra with seasonal phenology by the area of
each class in the pixel, with clouds on about a quarter of the dates and snow on some winter
dates. Everything is seeded: the same arguments give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from flair_hdbscan import layout as flair_layout
from flair_hdbscan.atomic import atomic_dir
from flair_hdbscan.errors import OptionError

__all__ = [
    "DEFAULT_PATCHES",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "cache_dir",
    "default_sample_root",
    "generate_sample",
]

log = logging.getLogger(__name__)

#: Version of the generator; part of the default sample's cache folder name.
GENERATOR_VERSION: int = 1
#: Train patches of the embedded default sample.
DEFAULT_PATCHES: int = 16
#: Seed of the embedded default sample.
DEFAULT_SEED: int = 0

#: Largest number of patches per split (ids must stay 6-digit and unique).
MAX_PATCHES = 100_000

PATCH = 512  # aerial patch side, pixels
RES = 0.2  # aerial pixel, metres
SEN_RES = 10.0  # Sentinel-2 pixel, metres
HALF = PATCH * RES / 2  # 51.2 m: half side of the aerial footprint
N_BANDS = 10  # B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12

# ----------------------------------------------------------------------------------------
# Domains, as (name, Lambert-93 x, Lambert-93 y, Sentinel-2 tile, ground altitude in m).
# Test domains differ from train domains, as in FLAIR #2.
_TRAIN_DOMAINS: tuple[tuple[str, int, int, str, int], ...] = (
    ("D004_2021", 955_000, 6_330_000, "T31TGJ", 620),
    ("D014_2020", 450_000, 6_900_000, "T30UXV", 80),
    ("D067_2021", 1_045_000, 6_840_000, "T32ULU", 180),
    ("D013_2020", 870_000, 6_270_000, "T31TFJ", 120),
    ("D033_2021", 420_000, 6_420_000, "T30TXQ", 40),
    ("D035_2020", 350_000, 6_790_000, "T30UWU", 70),
    ("D038_2021", 900_000, 6_470_000, "T31TGL", 420),
    ("D044_2020", 340_000, 6_700_000, "T30TWT", 30),
    ("D060_2021", 660_000, 6_920_000, "T31UDQ", 90),
    ("D074_2020", 960_000, 6_550_000, "T32TLR", 780),
    ("D080_2021", 640_000, 6_980_000, "T31UDR", 60),
    ("D083_2020", 960_000, 6_260_000, "T32TLP", 250),
)
_TEST_DOMAINS: tuple[tuple[str, int, int, str, int], ...] = (
    ("D015_2019", 660_000, 6_440_000, "T31TDL", 700),
    ("D022_2021", 260_000, 6_840_000, "T30UVU", 120),
    ("D026_2020", 860_000, 6_410_000, "T31TFK", 300),
    ("D036_2020", 600_000, 6_630_000, "T31TCM", 150),
    ("D061_2020", 480_000, 6_840_000, "T30UYU", 200),
    ("D064_2021", 390_000, 6_250_000, "T30TXN", 250),
    ("D068_2021", 1_020_000, 6_760_000, "T32ULU", 300),
    ("D069_2020", 840_000, 6_530_000, "T31TFL", 250),
    ("D071_2020", 800_000, 6_600_000, "T31TFM", 280),
    ("D084_2021", 870_000, 6_330_000, "T31TFJ", 100),
)
_MOUNTAIN = frozenset({"D004", "D038", "D074", "D015", "D064"})
_CAMERAS = ("UCE-M3-f120-s06", "UCE-M3-f100-s06", "UCE-M3-f100-s07", "UCE-M5-f120-s07")
_ORBITS = (8, 22, 51, 65, 94, 108, 137)
_BASELINE = {2018: "N0206", 2019: "N0213", 2020: "N0214", 2021: "N0300", 2022: "N0400"}

# District types and the zone codes (two letters: dominant, secondary district type).
_URBAN, _AGRI, _FOREST, _NATURAL = 0, 1, 2, 3
_TYPE_LETTERS = "UAFN"
_ZONE_CODES = ("UA", "AN", "FU", "NA", "UF", "AU", "NF", "UN", "AF", "FA", "NU", "UU", "AA")

# Parcel classes per district type: (class value, probability). Value 0 marks an urban lot:
# a parcel whose ground is lawn, yard or courtyard and which receives buildings and pools.
_LOT = 0
_PARCEL_TABLE: dict[int, tuple[tuple[int, float], ...]] = {
    _URBAN: ((_LOT, 0.80), (3, 0.10), (2, 0.04), (7, 0.04), (10, 0.01), (4, 0.01)),
    _AGRI: (
        (11, 0.33), (12, 0.14), (10, 0.16), (9, 0.12), (4, 0.05), (2, 0.03), (7, 0.07),
        (8, 0.04), (_LOT, 0.06),
    ),
    _FOREST: (
        (7, 0.52), (6, 0.13), (8, 0.12), (10, 0.07), (5, 0.07), (16, 0.015), (15, 0.015),
        (17, 0.005), (4, 0.02),
    ),
    _NATURAL: (
        (10, 0.27), (8, 0.14), (5, 0.17), (7, 0.14), (2, 0.07), (4, 0.06), (6, 0.03), (_LOT, 0.05),
        (17, 0.005), (19, 0.005), (14, 0.003), (11, 0.03),
    ),
}
# Ground of urban lots: (class value, probability).
_LOT_GROUND: tuple[tuple[int, float], ...] = ((10, 0.35), (2, 0.35), (3, 0.30))

# ----------------------------------------------------------------------------------------
# Aerial appearance: mean (R, G, B, NIR) of 8-bit orthophotos, indexed by class value.
_RGBN = np.array(
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
_AGRI_VARIANTS = np.array(
    [(112, 140, 84, 184), (172, 160, 112, 150), (132, 130, 92, 156)], dtype=np.float32
)
_ROOFS = np.array(
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
_GREENNESS_AXIS = np.array([-34, -14, -26, 50], dtype=np.float32)
_BRIGHTNESS_SD = np.array(
    [0, 14, 12, 14, 12, 8, 6, 9, 9, 8, 10, 12, 10, 8, 4, 10, 8, 9, 6, 14], dtype=np.float32
)
_GREENNESS_SD = np.array(
    [0, 0, 0.5, 0.1, 0.35, 0.3, 0.2, 0.3, 0.45, 0.3, 0.45, 0.5, 0.3, 0, 0, 0.4, 0.3, 0.4, 0,
     0.3],
    dtype=np.float32,
)
# Relative amplitude of the smooth texture, per class value.
_TEXTURE = np.array(
    [0, 0.03, 0.07, 0.04, 0.06, 0.03, 0.05, 0.05, 0.07, 0.04, 0.07, 0.05, 0.05, 0.02, 0.02,
     0.08, 0.05, 0.07, 0.02, 0.06],
    dtype=np.float32,
)
# Tree-like classes: (crown radius factor, height in m, lit/shaded contrast).
_CROWNS: dict[int, tuple[float, float, float]] = {
    6: (0.75, 17.0, 0.65),
    7: (1.0, 14.0, 0.55),
    8: (0.6, 2.0, 0.35),
    15: (0.45, 0.8, 0.25),
    16: (0.9, 15.0, 0.6),
    17: (0.6, 2.6, 0.4),
}
_GROUND_HEIGHT = 0.03  # m, for flat classes
_TEXTURE_GAIN = 2.5  # scale of the brightness texture
_VIGOUR = 0.8  # scale of the greenness texture
_TEXTURE_STEP = 0.6  # quantisation step of the texture fields (in SD units)
_CROWN_LEVELS = 4  # lit / shaded levels of a tree crown
_PIXEL_NOISE = 0.3  # SD of the per-pixel noise of R, G, B, NIR (8-bit levels)
_ELEV_NOISE = 0.15  # SD of the per-pixel noise of the stored elevation (m × 5)

# ----------------------------------------------------------------------------------------
# Sentinel-2 spectra (B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12), reflectance × 10⁴.
_VEG = np.array([260, 560, 300, 920, 2600, 3300, 3650, 3800, 1900, 950], dtype=np.float32)
_CONIF = _VEG * np.array([0.8, 0.75, 0.8, 0.8, 0.72, 0.7, 0.68, 0.68, 0.7, 0.7], np.float32)
_SOIL = np.array([950, 1250, 1550, 1850, 2100, 2300, 2450, 2600, 3300, 2900], np.float32)
_DARK = np.array([650, 900, 1150, 1400, 1650, 1800, 1950, 2050, 2700, 2350], np.float32)
_DRY = np.array([600, 900, 1100, 1500, 2000, 2300, 2500, 2650, 3100, 2400], np.float32)
_IMPERV = np.array([1050, 1200, 1300, 1450, 1600, 1700, 1800, 1850, 2250, 2050], np.float32)
_BUILT = np.array([1250, 1400, 1550, 1700, 1850, 1950, 2050, 2100, 2750, 2550], np.float32)
_WATER = np.array([550, 650, 450, 350, 250, 200, 150, 140, 70, 50], np.float32)
_POOL = np.array([1100, 1150, 650, 450, 300, 250, 220, 200, 90, 60], np.float32)
_SNOW = np.array([9200, 9100, 8900, 8700, 8500, 8300, 8100, 7900, 1400, 1100], np.float32)
_GLASS = np.array([2300, 2400, 2500, 2600, 2700, 2800, 2900, 2950, 2700, 2400], np.float32)
_CLOUD = np.array([7200, 7000, 6900, 6900, 7000, 7000, 7100, 7100, 4800, 3600], np.float32)

# Phenology per class value: background, vegetation, greenness min and max, day of year of
# green-up and of senescence / harvest. Greenness g mixes (1 - g)·background + g·vegetation.
_PHENO: dict[int, tuple[np.ndarray, np.ndarray, float, float, float, float]] = {
    1: (_BUILT, _VEG, 0.0, 0.0, 0, 0),
    2: (_SOIL, _VEG, 0.22, 0.45, 95, 285),
    3: (_IMPERV, _VEG, 0.0, 0.0, 0, 0),
    4: (_SOIL, _VEG, 0.03, 0.10, 110, 250),
    5: (_WATER, _VEG, 0.0, 0.04, 140, 260),
    6: (_DARK, _CONIF, 0.78, 0.9, 100, 300),
    7: (_DRY, _VEG, 0.2, 0.95, 110, 295),
    8: (_DRY, _VEG, 0.3, 0.75, 100, 280),
    9: (_SOIL, _VEG, 0.08, 0.5, 130, 275),
    10: (_DRY, _VEG, 0.45, 0.85, 75, 195),
    11: (_SOIL, _VEG, 0.1, 0.92, 85, 195),
    12: (_DARK, _VEG, 0.02, 0.2, 125, 165),
    13: (_POOL, _VEG, 0.0, 0.0, 0, 0),
    14: (_SNOW, _VEG, 0.0, 0.0, 0, 0),
    15: (_DRY, _VEG, 0.2, 0.5, 110, 270),
    16: (_DARK, (_CONIF + _VEG) / 2, 0.5, 0.9, 105, 295),
    17: (_DRY, _VEG, 0.3, 0.7, 100, 280),
    18: (_GLASS, _VEG, 0.0, 0.08, 100, 280),
    19: ((_IMPERV * 0.9 + _SOIL * 0.1), _VEG, 0.0, 0.0, 0, 0),
}
# Per-variant shift (days) of green-up and senescence for the classes that vary by parcel
# (agricultural land: winter cereal, maize, rapeseed-like).
_VARIANT_SHIFT: dict[int, tuple[tuple[int, int], ...]] = {
    11: ((0, 0), (65, 75), (-15, -25)),
    10: ((0, 0), (15, 30), (-10, 60)),
    2: ((0, 0), (20, 10), (-10, -20)),
    9: ((0, 0), (10, 5), (-10, -5)),
}
_N_VARIANTS = 3
_N_EXT = 20 * _N_VARIANTS  # (class value, variant) pairs, class values 0..19


# ========================================================================================
# Public API


def cache_dir() -> Path:
    """Folder of cached data: ``$FLAIR_HDBSCAN_CACHE``, else ``$XDG_CACHE_HOME/flair-hdbscan``,
    else ``~/.cache/flair-hdbscan``.
    """  # noqa: D205
    env = os.environ.get("FLAIR_HDBSCAN_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "flair-hdbscan"
    return Path.home() / ".cache" / "flair-hdbscan"


def default_sample_root(*, progress: bool = False) -> Path:
    """Root of the embedded default sample, generated into the cache on first use.

    Args:
        progress: show a progress bar while generating.

    Returns:
        ``cache_dir() / "sample-v{GENERATOR_VERSION}-p{DEFAULT_PATCHES}-s{DEFAULT_SEED}"``,
        a full-layout FLAIR #2 tree.
    """
    root = cache_dir() / f"sample-v{GENERATOR_VERSION}-p{DEFAULT_PATCHES}-s{DEFAULT_SEED}"
    if not root.is_dir():
        generate_sample(root, n_patches=DEFAULT_PATCHES, seed=DEFAULT_SEED, progress=progress)
        log.info("generated the default sample dataset in %s", root)
    return root


def generate_sample(
    out: Path,
    *,
    n_patches: int = DEFAULT_PATCHES,
    n_test_patches: int | None = None,
    seed: int = DEFAULT_SEED,
    layout: str = "full",
    progress: bool = False,
) -> Path:
    """Write a synthetic dataset in the FLAIR #2 release layout.

    The tree is written into a temporary folder beside ``out`` and moved onto ``out`` when
    complete (an existing ``out`` is replaced). Per split it holds ``IMG_<id>.tif``
    ``(5, 512, 512) uint8`` (R, G, B, NIR, elevation × 5), ``MSK_<id>.tif`` ``(512, 512)
    uint8`` values 1..19, and per zone ``SEN2_sp_*_data.npy`` ``(T, 10, H, W) uint16``,
    ``SEN2_sp_*_masks.npy`` ``(T, 2, H, W) uint8`` and ``SEN2_sp_*_products.txt``; beside
    them the centroids JSON, the aerial metadata JSON and ``flair-2-config.yml``.

    Args:
        out: destination folder.
        n_patches: train patches (at least 1).
        n_test_patches: test patches; defaults to ``max(2, n_patches // 4)``.
        seed: seed of the random generator; the same arguments give byte-identical files.
        layout: ``"full"`` (release folder names directly under ``out``) or ``"toy"``
            (toy-release names under ``out/flair_2_toy_dataset``).
        progress: show a progress bar.

    Returns:
        The dataset root: ``out``, or ``out/flair_2_toy_dataset`` for the toy layout.

    Raises:
        OptionError: when a count is out of range or the layout is unknown.
    """
    if n_test_patches is None:
        n_test_patches = max(2, n_patches // 4)
    _check_args(n_patches, n_test_patches, seed, layout)
    out = Path(out).expanduser()
    plans = _plan(n_patches, n_test_patches, seed)
    from flair_hdbscan.progress import progress_bar

    with atomic_dir(out) as tmp:
        root = tmp / _root_name(layout)
        root.mkdir(parents=True, exist_ok=True)
        centroids: dict[str, list[int]] = {}
        metadata: dict[str, dict[str, object]] = {}
        with progress_bar(enabled=progress) as bar:
            task = bar.add_task("sample dataset", total=n_patches + n_test_patches)
            for s_index, split in enumerate(flair_layout.SPLITS):
                split_plans = [p for p in plans if p.split == split]
                worlds = [_build_world(p, seed) for p in split_plans]
                _ensure_coverage(worlds, np.random.default_rng([seed, 7, s_index]))
                for world in worlds:
                    _place_objects(world)
                _ensure_building(worlds)
                for world in worlds:
                    _write_zone(root, layout, world, centroids, metadata,
                                lambda: bar.advance(task))
        (root / flair_layout.CENTROIDS_FILE).write_text(
            json.dumps(dict(sorted(centroids.items()))) + "\n", encoding="utf-8"
        )
        (root / flair_layout.METADATA_FILE).write_text(
            json.dumps(dict(sorted(metadata.items())), indent=2) + "\n", encoding="utf-8"
        )
        (root / "flair-2-config.yml").write_text(_config_text(layout), encoding="utf-8")
    final = out / _root_name(layout)
    log.info(
        "wrote a %s-layout sample (%d train, %d test patches, seed %d) to %s",
        layout, n_patches, n_test_patches, seed, final,
    )
    return final


def _root_name(layout_name: str) -> str:
    """Sub-folder of ``out`` holding the release: ``""`` (full) or ``flair_2_toy_dataset``."""
    return flair_layout.TOY_ROOT if layout_name == "toy" else ""


# ========================================================================================
# Planning: domains, zones, ids, centroids


@dataclasses.dataclass(frozen=True)
class _ZonePlan:
    """Everything decided about one zone before its land cover is built."""

    split: str
    index: int  # zone index within the split
    domain: str
    zone: str
    year: int
    tile: str
    altitude: float  # ground altitude, m
    camera: str
    orbit: int
    height: int  # H, Sentinel pixels (rows)
    width: int  # W, Sentinel pixels (columns)
    x0: float  # Lambert-93 x of the super area's top-left corner
    y0: float  # Lambert-93 y of the super area's top-left corner
    n_dates: int
    code: str  # two district-type letters
    snowy: bool
    patch_ids: tuple[str, ...]
    centroids: tuple[tuple[int, int], ...]  # (row, col) in Sentinel pixels


def _check_args(n_patches: int, n_test: int, seed: int, layout_name: str) -> None:
    """Raise :class:`OptionError` for arguments :func:`generate_sample` cannot honour."""
    if not isinstance(n_patches, int | np.integer) or not 1 <= n_patches <= MAX_PATCHES:
        raise OptionError(
            f"n_patches={n_patches!r} is out of range: give an integer from 1 to {MAX_PATCHES}"
        )
    if not isinstance(n_test, int | np.integer) or not 1 <= n_test <= MAX_PATCHES:
        raise OptionError(
            f"n_test_patches={n_test!r} is out of range: give an integer from 1 to "
            f"{MAX_PATCHES}"
        )
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise OptionError(f"seed={seed!r} is invalid: give a non-negative integer")
    if layout_name not in flair_layout.RELEASE_DIRS:
        raise OptionError(
            f"layout={layout_name!r} is unknown: use one of {sorted(flair_layout.RELEASE_DIRS)}"
        )


def _n_zones(n: int) -> int:
    """Zones for a split of ``n`` patches: at least 3 once there are 3 patches."""
    return min(n, max(3, -(-n // 3)))


def _plan(n_train: int, n_test: int, seed: int) -> list[_ZonePlan]:
    """Decide domains, zones, patch ids and centroids of both splits."""
    rng = np.random.default_rng([seed, 1])
    total = n_train + n_test
    max_gap = int(max(2, min(40, 800_000 // total)))
    start = int(rng.integers(1_000, 60_000))
    ids = start + np.cumsum(rng.integers(1, max_gap + 1, size=total))
    id_iter = iter(f"{int(i):06d}" for i in ids)
    codes = list(_ZONE_CODES)
    rng.shuffle(codes)

    plans: list[_ZonePlan] = []
    zone_counter = 0
    for split, n, domains in (("train", n_train, _TRAIN_DOMAINS), ("test", n_test, _TEST_DOMAINS)):
        n_z = _n_zones(n)
        per_zone = np.full(n_z, n // n_z)
        per_zone[: n % n_z] += 1
        # 1 or 2 zones per domain while domains last, then more zones per domain.
        order = rng.permutation(len(domains))
        assignment: list[int] = []
        for d in order:
            assignment.extend([int(d)] * int(rng.integers(1, 3)))
        while len(assignment) < n_z:
            assignment.extend(int(d) for d in order)
        assignment = sorted(assignment[:n_z], key=lambda d: domains[d][0])
        used: dict[int, set[int]] = {}
        for z in range(n_z):
            name, dx, dy, tile, alt = domains[assignment[z]]
            taken = used.setdefault(assignment[z], set())
            number = int(rng.integers(1, 30))
            while number in taken:
                number += 1
            taken.add(number)
            code = codes[zone_counter % len(codes)]
            zone_counter += 1
            height, width = (int(v) for v in rng.integers(48, 111, size=2))
            n_dates = int(rng.integers(15, 61))
            k = int(per_zone[z])
            centroids = _centroids(rng, k, height, width, border=(z == 0))
            dept = name.split("_")[0]
            plans.append(
                _ZonePlan(
                    split=split,
                    index=z,
                    domain=name,
                    zone=f"Z{number}_{code}",
                    year=int(name.split("_")[1]),
                    tile=tile,
                    altitude=float(alt + rng.integers(-60, 60)),
                    camera=_CAMERAS[assignment[z] % len(_CAMERAS)],
                    orbit=_ORBITS[assignment[z] % len(_ORBITS)],
                    height=height,
                    width=width,
                    x0=float(dx + 10 * rng.integers(-1500, 1500)),
                    y0=float(dy + 10 * rng.integers(-1500, 1500)),
                    n_dates=n_dates,
                    code=code,
                    snowy=dept in _MOUNTAIN or bool(rng.random() < 0.15),
                    patch_ids=tuple(next(id_iter) for _ in range(k)),
                    centroids=centroids,
                )
            )
    return plans


def _centroids(
    rng: np.random.Generator, k: int, height: int, width: int, *, border: bool
) -> tuple[tuple[int, int], ...]:
    """Pick ``k`` distinct, spread-out centroids whose aerial footprint lies inside H × W.

    With ``border``, the first centroid lies within 20 pixels of the top edge, so that a
    40-pixel super patch around it runs outside the super area.
    """
    lo = int(np.ceil(HALF / SEN_RES))  # 6: keeps the 10.24-pixel footprint inside
    chosen: list[tuple[int, int]] = []
    if border:
        chosen.append((int(rng.integers(lo, 20)), int(rng.integers(lo, width - lo + 1))))
    while len(chosen) < k:
        cand = np.column_stack([
            rng.integers(lo, height - lo + 1, size=24), rng.integers(lo, width - lo + 1, size=24)
        ])
        if chosen:
            dist = np.abs(cand[:, None, :] - np.array(chosen)[None, :, :]).max(-1).min(1)
        else:
            dist = np.zeros(len(cand))
        best = cand[int(np.argmax(dist))]
        if tuple(best) in chosen:  # all candidates already taken: the area is saturated
            continue
        chosen.append((int(best[0]), int(best[1])))
    return tuple(chosen)


# ========================================================================================
# Land cover of a zone


class _Lattice:
    """Smooth value noise: a random lattice, interpolated with smoothstep weights."""

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


@dataclasses.dataclass
class _World:
    """Land cover of one zone in local metres (u east, v south of the top-left corner)."""

    plan: _ZonePlan
    rng: np.random.Generator
    extent: tuple[float, float]  # (height, width) in metres
    parcel_tree: cKDTree
    parcel_class: np.ndarray  # (n_parcels,) uint8, ground class value
    parcel_lot: np.ndarray  # (n_parcels,) bool, urban lot
    parcel_urban: np.ndarray  # (n_parcels,) bool, in an urban district
    parcel_variant: np.ndarray  # (n_parcels,) int8, phenology / crop variant
    parcel_offset: np.ndarray  # (n_parcels, 4) float32, colour offset
    parcel_angle: np.ndarray  # (n_parcels,) float32, row direction, radians
    warp: tuple[_Lattice, _Lattice]
    texture: tuple[_Lattice, _Lattice, _Lattice]  # 7 m, 1.6 m, 3.2 m cells
    roads: np.ndarray  # (n_roads, 4) float: nx, ny, c, half width
    streets: tuple[float, float, float, float, float]  # angle, spacing, phase a, b, half width
    crown_tree: cKDTree
    crown_radius: np.ndarray  # (n_crowns,) float32, m
    crown_scale: np.ndarray  # (n_crowns,) float32, height factor
    shadow_dir: np.ndarray  # (2,) unit vector (u, v) away from the sun
    objects: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    object_tree: cKDTree | None = None


def _build_world(plan: _ZonePlan, seed: int) -> _World:
    """Districts, parcels, roads and crowns of one zone (objects come later)."""
    rng = np.random.default_rng([seed, 2, 0 if plan.split == "train" else 1, plan.index])
    hm, wm = plan.height * SEN_RES, plan.width * SEN_RES
    margin = 60.0

    def seeds(spacing: float) -> np.ndarray:
        n = int((hm + 2 * margin) * (wm + 2 * margin) / spacing**2) + 3
        return np.column_stack([
            rng.uniform(-margin, wm + margin, n), rng.uniform(-margin, hm + margin, n)
        ])

    # Districts: weights from the zone code (dominant, secondary, the rest).
    weights = np.full(4, 0.25 / 2)
    weights[_TYPE_LETTERS.index(plan.code[0])] += 0.45
    weights[_TYPE_LETTERS.index(plan.code[1])] += 0.3
    weights /= weights.sum()
    district_xy = seeds(230.0)
    district_type = rng.choice(4, size=len(district_xy), p=weights)

    parcel_xy = seeds(36.0)
    _, parcel_district = cKDTree(district_xy).query(parcel_xy)
    ptype = district_type[parcel_district]
    n_p = len(parcel_xy)
    parcel_class = np.zeros(n_p, dtype=np.uint8)
    for t, table in _PARCEL_TABLE.items():
        sel = np.flatnonzero(ptype == t)
        values, probs = zip(*table, strict=True)
        p = np.array(probs) / sum(probs)
        parcel_class[sel] = np.array(values, dtype=np.uint8)[rng.choice(len(values), len(sel), p=p)]
    parcel_lot = parcel_class == _LOT
    lot_values, lot_probs = zip(*_LOT_GROUND, strict=True)
    parcel_class[parcel_lot] = np.array(lot_values, dtype=np.uint8)[
        rng.choice(len(lot_values), int(parcel_lot.sum()), p=np.array(lot_probs))
    ]
    # Colour offset per parcel: brightness, greenness (along dry → green) and per channel.
    cls = parcel_class.astype(np.intp)
    offset = (
        rng.normal(0, 1, (n_p, 1)) * _BRIGHTNESS_SD[cls][:, None]
        + rng.normal(0, 1, (n_p, 1)) * _GREENNESS_SD[cls][:, None] * _GREENNESS_AXIS
        + rng.normal(0, 5.0, (n_p, 4))
    )
    # Radiometry of the zone's flight: gain per channel.
    offset += (rng.normal(0, 0.06, 4) * _RGBN[cls]).astype(np.float32)

    # Major roads cross the zone anywhere; streets form a grid in urban districts.
    n_roads = int(rng.integers(1, 4))
    phi = rng.uniform(0, np.pi, n_roads)
    through = np.column_stack([rng.uniform(0, wm, n_roads), rng.uniform(0, hm, n_roads)])
    nx, ny = np.cos(phi), np.sin(phi)
    roads = np.column_stack([
        nx, ny, nx * through[:, 0] + ny * through[:, 1], rng.uniform(2.5, 4.5, n_roads)
    ])
    streets = (
        float(rng.uniform(0, np.pi / 2)), float(rng.uniform(55, 80)),
        float(rng.uniform(0, 80)), float(rng.uniform(0, 80)), float(rng.uniform(2.5, 3.5)),
    )

    # Tree crowns on a jittered grid.
    spacing = 4.4
    gu, gv = np.meshgrid(np.arange(-10, wm + 10, spacing), np.arange(-10, hm + 10, spacing))
    crowns = np.column_stack([gu.ravel(), gv.ravel()])
    crowns += rng.uniform(-1.3, 1.3, crowns.shape)
    sun = rng.uniform(np.deg2rad(100), np.deg2rad(200))  # azimuth from north, clockwise
    shadow = np.array([-np.sin(sun), np.cos(sun)])  # away from the sun; v points south

    return _World(
        plan=plan,
        rng=rng,
        extent=(hm, wm),
        parcel_tree=cKDTree(parcel_xy),
        parcel_class=parcel_class,
        parcel_lot=parcel_lot,
        parcel_urban=ptype == _URBAN,
        parcel_variant=rng.integers(0, _N_VARIANTS, n_p).astype(np.int8),
        parcel_offset=offset.astype(np.float32),
        parcel_angle=rng.uniform(0, np.pi, n_p).astype(np.float32),
        warp=(_Lattice(rng, (hm, wm), 14.0), _Lattice(rng, (hm, wm), 14.0)),
        texture=(
            _Lattice(rng, (hm, wm), 7.0), _Lattice(rng, (hm, wm), 1.6),
            _Lattice(rng, (hm, wm), 3.2),
        ),
        roads=roads,
        streets=streets,
        crown_tree=cKDTree(crowns),
        crown_radius=rng.uniform(1.9, 3.2, len(crowns)).astype(np.float32),
        crown_scale=rng.uniform(0.72, 1.3, len(crowns)).astype(np.float32),
        shadow_dir=shadow,
    )


def _footprint_parcels(world: _World) -> list[np.ndarray]:
    """Indices of the parcels whose seed lies in each patch footprint of the zone."""
    centres = [(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids]
    found = world.parcel_tree.query_ball_point(centres, r=HALF, p=np.inf)
    return [np.asarray(sorted(f), dtype=np.intp) for f in found]


def _ensure_coverage(worlds: list[_World], rng: np.random.Generator) -> None:
    """Reassign a few parcels inside patch footprints so that the split's patches hold
    every ground class 2..12 and at least one urban lot (which will receive buildings).
    """  # noqa: D205
    pool: list[tuple[int, int]] = []
    for w, world in enumerate(worlds):
        for found in _footprint_parcels(world):
            pool.extend((w, int(p)) for p in found)
    pool = sorted(set(pool))
    if len(pool) < 14:
        return
    order = rng.permutation(len(pool))

    def key(item: tuple[int, int]) -> int:
        w, p = item
        return -1 if worlds[w].parcel_lot[p] else int(worlds[w].parcel_class[p])

    for need in (-1, *range(2, 13)):
        counts: dict[int, int] = {}
        for item in pool:
            counts[key(item)] = counts.get(key(item), 0) + 1
        if counts.get(need, 0):
            continue
        common = max(counts, key=lambda c: (counts[c], c))
        for i in order:
            w, p = pool[int(i)]
            if key(pool[int(i)]) == common:
                if need == -1:
                    worlds[w].parcel_lot[p] = True
                    worlds[w].parcel_urban[p] = True
                    worlds[w].parcel_class[p] = 2
                else:
                    worlds[w].parcel_lot[p] = False
                    worlds[w].parcel_class[p] = need
                break


def _classify_parcels(world: _World, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Parcel index at points ``(u, v)``, ``(N,)`` metres → ``(N,)`` intp (wiggly borders)."""
    wu = u + 3.5 * world.warp[0](u, v)
    wv = v + 3.5 * world.warp[1](u, v)
    _, parcel = world.parcel_tree.query(np.column_stack([wu, wv]))
    return parcel


def _on_road(world: _World, u: np.ndarray, v: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """Road mask at points ``(u, v)``: major roads anywhere, streets in urban districts."""
    r = world.roads
    dist = np.abs(u[:, None] * r[:, 0] + v[:, None] * r[:, 1] - r[:, 2])
    road = (dist < r[:, 3]).any(axis=1)
    angle, spacing, pa, pb, half = world.streets
    a = u * np.cos(angle) + v * np.sin(angle) - pa
    b = -u * np.sin(angle) + v * np.cos(angle) - pb
    da = np.abs((a + spacing / 2) % spacing - spacing / 2)
    db = np.abs((b + spacing / 2) % spacing - spacing / 2)
    return road | (urban & ((da < half) | (db < half)))


def _add_rects(
    objs: list[dict[str, np.ndarray]], centre: np.ndarray, half: np.ndarray, angle: np.ndarray,
    value: int, height: np.ndarray, colour: np.ndarray,
) -> None:
    """Append rectangles ``(n, 2)`` centres and half sizes to the object list."""
    objs.append({
        "centre": centre.reshape(-1, 2).astype(np.float64),
        "half": half.reshape(-1, 2).astype(np.float64),
        "angle": np.broadcast_to(angle, (len(centre),)).astype(np.float64),
        "value": np.full(len(centre), value, dtype=np.uint8),
        "height": np.broadcast_to(height, (len(centre),)).astype(np.float32),
        "colour": colour.reshape(-1, 4).astype(np.float32),
    })


def _place_objects(world: _World) -> None:
    """Buildings and pools in urban lots, greenhouses and small "other" structures."""
    rng = world.rng
    hm, wm = world.extent
    angle, spacing, pa, pb, half_street = world.streets
    objs: list[dict[str, np.ndarray]] = []

    # Buildings on a 20 m grid aligned with the streets, kept inside lots, off the streets.
    cell = 19.0
    span = np.hypot(hm, wm) + 40
    ga, gb = np.meshgrid(np.arange(-span, span, cell), np.arange(-span, span, cell))
    ga = ga.ravel() + rng.uniform(-1, 1, ga.size)
    gb = gb.ravel() + rng.uniform(-1, 1, gb.size)
    ca, sa = np.cos(angle), np.sin(angle)
    u = ga * ca - gb * sa
    v = ga * sa + gb * ca
    inside = (u > -15) & (u < wm + 15) & (v > -15) & (v < hm + 15)
    u, v = u[inside], v[inside]
    half = rng.uniform(4.5, 9.5, (len(u), 2))
    a = u * ca + v * sa - pa
    b = -u * sa + v * ca - pb
    da = np.abs((a + spacing / 2) % spacing - spacing / 2)
    db = np.abs((b + spacing / 2) % spacing - spacing / 2)
    # Shrink buildings that would reach a street; drop those left too small.
    half = np.minimum(half, np.column_stack([da, db]) - half_street - 1.0)
    clear = (half >= 2.5).all(axis=1)
    parcel = _classify_parcels(world, u, v)
    keep = clear & world.parcel_lot[parcel] & (rng.random(len(u)) < 0.95)
    n_b = int(keep.sum())
    roofs = _ROOFS[rng.integers(0, len(_ROOFS), n_b)] + rng.normal(0, 6, (n_b, 1))
    _add_rects(objs, np.column_stack([u[keep], v[keep]]), half[keep], np.full(n_b, angle), 1,
               rng.uniform(3, 15, n_b), roofs)

    # Pools in the gaps between buildings, at the grid's cell corners.
    cu = u + (cell / 2) * (ca - sa)
    cv = v + (cell / 2) * (sa + ca)
    cparcel = _classify_parcels(world, cu, cv)
    pool = world.parcel_lot[cparcel] & (rng.random(len(cu)) < 0.06)
    n_pool = int(pool.sum())
    _add_rects(objs, np.column_stack([cu[pool], cv[pool]]),
               np.column_stack([rng.uniform(1.5, 2.5, n_pool), rng.uniform(2.5, 4.5, n_pool)]),
               np.full(n_pool, angle), 13, np.zeros(n_pool),
               _RGBN[13] + rng.normal(0, 5, (n_pool, 4)))

    # Greenhouses in about half the zones (always the first zone of a split), in a patch.
    centres = np.array([(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids])
    if world.plan.index == 0 or rng.random() < 0.25:
        base = centres[rng.integers(len(centres))] + rng.uniform(-30, 30, 2)
        n_g = int(rng.integers(1, 3))
        theta = rng.uniform(0, np.pi)
        hx, hy = rng.uniform(3, 4), rng.uniform(7, 12)
        step = np.array([np.cos(theta), np.sin(theta)]) * (2 * hx + 1.5)
        _add_rects(objs, base + np.arange(n_g)[:, None] * step, np.tile([hx, hy], (n_g, 1)),
                   np.full(n_g, theta), 18, np.full(n_g, 3.0),
                   _RGBN[18] + rng.normal(0, 4, (n_g, 4)))

    # Small "other" structures (tanks, containers) in some patches.
    for centre in centres:
        if rng.random() < 0.3:
            n_o = int(rng.integers(1, 4))
            _add_rects(objs, centre + rng.uniform(-45, 45, (n_o, 2)),
                       rng.uniform(1.2, 2.5, (n_o, 2)), rng.uniform(0, np.pi, n_o), 19,
                       rng.uniform(1, 4, n_o), _RGBN[19] + rng.normal(0, 10, (n_o, 4)))

    world.objects = {k: np.concatenate([o[k] for o in objs]) for k in objs[0]}
    world.object_tree = cKDTree(world.objects["centre"]) if len(world.objects["value"]) else None


def _ensure_building(worlds: list[_World]) -> None:
    """Add a building in a patch footprint if none of the split's patches holds one."""
    for world in worlds:
        centres = np.array([(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids])
        o = world.objects
        is_b = o["value"] == 1
        near = np.abs(o["centre"][is_b][:, None, :] - centres[None]).max(-1) < HALF - 9
        if near.any():
            return
    world = worlds[0]
    extra: list[dict[str, np.ndarray]] = [dict(world.objects)]
    centre = np.array([[world.plan.centroids[0][1] * SEN_RES + 12,
                        world.plan.centroids[0][0] * SEN_RES - 14]])
    _add_rects(extra, centre, np.array([[7.0, 5.5]]), np.array([0.3]), 1, np.array([8.0]),
               _ROOFS[:1])
    world.objects = {k: np.concatenate([e[k] for e in extra]) for k in extra[0]}
    world.object_tree = cKDTree(world.objects["centre"])


_SHADOW_STEPS = (0.2, 0.45, 0.7, 1.0)
_SUN_TAN = 0.7  # shadow length / height (sun about 55° above the horizon)


def _classify(world: _World, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Land cover at points ``(u, v)`` (metres, ``(N,)`` float64).

    Returns:
        ``value`` ``(N,)`` uint8 class 1..19; ``parcel`` ``(N,)`` intp; ``object`` ``(N,)``
        intp (-1 outside objects); ``road`` and ``shadow`` ``(N,)`` bool; ``roof`` ``(N,)``
        float32, position across the roof (-1..1) for object pixels.
    """
    parcel = _classify_parcels(world, u, v)
    value = world.parcel_class[parcel].copy()
    road = _on_road(world, u, v, world.parcel_urban[parcel])
    value[road] = 3
    n = len(u)
    obj = np.full(n, -1, dtype=np.intp)
    shadow = np.zeros(n, dtype=bool)
    roof = np.zeros(n, dtype=np.float32)
    if world.object_tree is not None:
        o = world.objects
        n_obj = len(o["value"])
        k = min(4, n_obj)
        _, idx = world.object_tree.query(np.column_stack([u, v]), k=k, distance_upper_bound=30)
        idx = idx.reshape(n, k)
        near = np.flatnonzero((idx < n_obj).any(axis=1))
        idx = idx[near]
        valid = idx < n_obj
        idx = np.where(valid, idx, 0)
        du = (u[near, None] - o["centre"][idx, 0]).astype(np.float32)
        dv = (v[near, None] - o["centre"][idx, 1]).astype(np.float32)
        ang = o["angle"][idx]
        cos, sin = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
        hx, hy = o["half"][idx, 0].astype(np.float32), o["half"][idx, 1].astype(np.float32)
        lx = du * cos + dv * sin
        ly = dv * cos - du * sin
        inside = valid & (np.abs(lx) <= hx) & (np.abs(ly) <= hy)
        hit = inside.any(axis=1)
        first = np.argmax(inside, axis=1)[hit]
        at = near[hit]
        obj[at] = idx[hit, first]
        roof[at] = ly[hit, first] / hy[hit, first]
        value[at] = o["value"][obj[at]]
        # Shadow: the point seen from the sun side, shifted towards the object, is inside.
        length = o["height"][idx] * _SUN_TAN
        su = world.shadow_dir[0] * length
        sv = world.shadow_dir[1] * length
        sx = su * cos + sv * sin
        sy = sv * cos - su * sin
        cast = valid & (length > 0)
        dark = np.zeros(len(near), dtype=bool)
        for f in _SHADOW_STEPS:
            dark |= (cast & (np.abs(lx - f * sx) <= hx) & (np.abs(ly - f * sy) <= hy)).any(axis=1)
        shadow[near] = dark & ~hit
    return {"value": value, "parcel": parcel, "object": obj, "road": road, "shadow": shadow,
            "roof": roof}


# ========================================================================================
# Aerial patch


def _render_patch(
    world: _World, row: int, col: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Aerial image and mask of the patch centred on Sentinel pixel corner ``(row, col)``.

    Returns:
        ``(image, mask)``: ``(5, 512, 512) uint8`` (R, G, B, NIR, elevation × 5) and
        ``(512, 512) uint8`` class values 1..19.
    """
    offs = (np.arange(PATCH) + 0.5) * RES - HALF
    vv, uu = np.meshgrid(row * SEN_RES + offs, col * SEN_RES + offs, indexing="ij")
    u, v = uu.ravel(), vv.ravel()
    lc = _classify(world, u, v)
    value, parcel, obj = lc["value"], lc["parcel"], lc["object"]

    colour = _RGBN[value] + world.parcel_offset[parcel]
    agri = value == 11
    colour[agri] = _AGRI_VARIANTS[world.parcel_variant[parcel[agri]]] + world.parcel_offset[
        parcel[agri]]
    road = lc["road"] & (obj < 0)
    colour[road] = _RGBN[3] + world.parcel_offset[parcel[road]] * 0.3
    has_obj = obj >= 0
    colour[has_obj] = world.objects["colour"][obj[has_obj]]

    # Textures in a few discrete steps: real 8-bit imagery repeats its values a lot.
    t_large, t_small, t_mid = (
        np.rint(t(u, v) / _TEXTURE_STEP) * _TEXTURE_STEP for t in world.texture
    )
    gain = 1 + _TEXTURE_GAIN * _TEXTURE[value] * (0.7 * t_large + 0.6 * t_small)
    # Patchy vigour: a smooth shift along the dry → green axis inside each parcel.
    vigour = _GREENNESS_SD[value] * _VIGOUR * t_mid
    colour += vigour[:, None] * _GREENNESS_AXIS
    height = _GROUND_HEIGHT + 0.15 * np.maximum(t_small, 0)

    # Tree crowns: lit tops, shaded gaps, crown heights.
    treelike = np.isin(value, list(_CROWNS)) & ~has_obj
    if treelike.any():
        sel = np.flatnonzero(treelike)
        dist, crown = world.crown_tree.query(np.column_stack([u[sel], v[sel]]))
        factor = np.zeros(20, np.float32)
        tall = np.zeros(20, np.float32)
        contrast = np.zeros(20, np.float32)
        for c, (f, h, k) in _CROWNS.items():
            factor[c], tall[c], contrast[c] = f, h, k
        vs = value[sel]
        shade = np.clip(1 - (dist / (world.crown_radius[crown] * 1.25 * factor[vs])) ** 2, 0, 1)
        shade = np.rint(shade * _CROWN_LEVELS) / _CROWN_LEVELS
        gain[sel] *= 1 - contrast[vs] + contrast[vs] * 1.35 * shade
        height[sel] = tall[vs] * world.crown_scale[crown] * (0.3 + 0.7 * np.sqrt(shade))

    # Vine rows and furrows along each parcel's direction.
    rows = np.isin(value, (9, 12)) & ~has_obj & ~road
    if rows.any():
        sel = np.flatnonzero(rows)
        ang = world.parcel_angle[parcel[sel]]
        s = u[sel] * np.cos(ang) + v[sel] * np.sin(ang)
        vine = value[sel] == 9
        wave = np.cos(2 * np.pi * s / np.where(vine, 2.2, 0.9))
        in_row = vine & (wave > -0.1)
        soil = vine & ~in_row
        colour[sel[soil]] = _RGBN[4] + world.parcel_offset[parcel[sel[soil]]]
        height[sel[in_row]] = 1.5 + 0.3 * wave[in_row]
        gain[sel[~vine]] *= 1 + 0.07 * wave[~vine]

    # Roofs: two slopes lit differently, ridge height; flat structures for the rest.
    if has_obj.any():
        sel = np.flatnonzero(has_obj)
        kind = world.objects["value"][obj[sel]]
        h = world.objects["height"][obj[sel]]
        r = lc["roof"][sel]
        building = kind == 1
        gain[sel[building]] = np.where(r[building] > 0, 1.0, 0.8)
        height[sel] = np.where(building, h + 1.8 * (1 - np.abs(r)), h)
        gain[sel[~building]] = 1.0

    colour *= gain[:, None]
    shade = lc["shadow"]
    colour[shade] *= np.array([0.42, 0.44, 0.5, 0.45], np.float32)
    colour += rng.normal(0, _PIXEL_NOISE, colour.shape).astype(np.float32)
    elev = height * 5 + rng.normal(0, _ELEV_NOISE, len(u)).astype(np.float32)

    image = np.empty((5, PATCH * PATCH), np.uint8)
    image[:4] = np.clip(np.rint(colour.T), 0, 255)
    image[4] = np.clip(np.rint(elev), 0, 255)
    return image.reshape(5, PATCH, PATCH), value.reshape(PATCH, PATCH)


# ========================================================================================
# Sentinel-2 super area


def _dates(plan: _ZonePlan, rng: np.random.Generator) -> tuple[list[dt.date], list[str]]:
    """Acquisition dates (sorted, one year) and Sentinel-2 L2A product names."""
    first = dt.date(plan.year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5)))
    calendar = [first + dt.timedelta(days=5 * i) for i in range(73)]
    calendar = [d for d in calendar if d.year == plan.year]
    picks = np.sort(rng.choice(len(calendar), plan.n_dates, replace=False))
    dates = [calendar[i] for i in picks]
    baseline = _BASELINE.get(plan.year, "N0400")
    minute = 10 + plan.orbit % 40
    names = []
    for i, d in zip(picks, dates, strict=True):
        sat = "S2A" if i % 2 == 0 else "S2B"
        sensing = f"{d:%Y%m%d}T10{minute:02d}{int(rng.integers(10, 60)):02d}"
        processed = f"{d:%Y%m%d}T{int(rng.integers(12, 17)):02d}{int(rng.integers(0, 60)):02d}" \
            f"{int(rng.integers(0, 60)):02d}"
        names.append(f"{sat}_MSIL2A_{sensing}_{baseline}_R{plan.orbit:03d}_{plan.tile}_{processed}")
    return dates, names


def _class_spectra(doy: np.ndarray) -> np.ndarray:
    """Reflectance of every (class value, variant) pair on each day of year.

    Args:
        doy: ``(T,)`` days of year.

    Returns:
        ``(60, T, 10)`` float32, indexed by ``value * 3 + variant``.
    """
    out = np.zeros((_N_EXT, len(doy), N_BANDS), np.float32)
    d = doy.astype(np.float32)[:, None]
    for value, (background, veg, g0, g1, up, down) in _PHENO.items():
        for variant in range(_N_VARIANTS):
            s_up, s_down = _VARIANT_SHIFT.get(value, ((0, 0),) * 3)[variant]
            rise = 1 / (1 + np.exp(-(d - up - s_up) / 12))
            fall = 1 / (1 + np.exp(-(down + s_down - d) / 12))
            g = g0 + (g1 - g0) * rise * fall
            out[value * _N_VARIANTS + variant] = (1 - g) * background + g * veg
    return out


def _blob(rng: np.random.Generator, shape: tuple[int, int], cover: float) -> np.ndarray:
    """Smooth blobs covering about ``cover`` of the area: ``(H, W)`` float32, 0 at the edge,
    positive inside (in units of the field's standard deviation).
    """  # noqa: D205
    field = gaussian_filter(rng.standard_normal(shape), sigma=rng.uniform(3, 8), mode="wrap")
    field = (field - field.mean()) / (field.std() + 1e-9)
    return (field - np.quantile(field, 1 - cover)).astype(np.float32)


def _render_sentinel(world: _World) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Sentinel-2 super area of the zone.

    Returns:
        ``(data, masks, products)``: ``(T, 10, H, W) uint16`` reflectance × 10⁴,
        ``(T, 2, H, W) uint8`` snow and cloud probabilities (0..100), and T product names.
    """
    plan = world.plan
    rng = np.random.default_rng([plan.index, 3, plan.height, plan.width, plan.n_dates,
                                 int(world.rng.integers(2**31))])
    dates, products = _dates(plan, rng)
    doy = np.array([d.timetuple().tm_yday for d in dates])
    H, W, T = plan.height, plan.width, len(dates)

    sub = 4  # sub-samples per pixel side: area-weighted class fractions
    offs = (np.arange(sub) + 0.5) * SEN_RES / sub
    rows = (np.arange(H)[:, None] * SEN_RES + offs).ravel()
    cols = (np.arange(W)[:, None] * SEN_RES + offs).ravel()
    vv, uu = np.meshgrid(rows, cols, indexing="ij")
    lc = _classify(world, uu.ravel(), vv.ravel())
    value = lc["value"].astype(np.intp)
    variant = np.where(np.isin(value, list(_VARIANT_SHIFT)) & (lc["object"] < 0) & ~lc["road"],
                       world.parcel_variant[lc["parcel"]], 0)
    pixel = (np.arange(H * sub)[:, None] // sub * W + np.arange(W * sub)[None, :] // sub).ravel()
    frac = np.bincount(pixel * _N_EXT + value * _N_VARIANTS + variant,
                       minlength=H * W * _N_EXT).reshape(H * W, _N_EXT) / sub**2
    spectra = _class_spectra(doy).reshape(_N_EXT, T * N_BANDS)
    refl = (frac.astype(np.float32) @ spectra).reshape(H, W, T, N_BANDS).transpose(2, 3, 0, 1)
    gain = 1 + 0.04 * gaussian_filter(rng.standard_normal((H, W)), 2) / 0.14
    refl = refl * gain.astype(np.float32)
    refl += rng.normal(0, 1, refl.shape).astype(np.float32) * (0.015 * refl + 20)

    masks = np.zeros((T, 2, H, W), np.uint8)
    months = np.array([d.month for d in dates])
    cloudy = rng.random(T) < 0.25
    snowy = plan.snowy & np.isin(months, (12, 1, 2)) & (rng.random(T) < 0.6)
    for t in range(T):
        if snowy[t]:
            z = _blob(rng, (H, W), rng.uniform(0.3, 1.0))
            prob = np.clip(60 + 80 * z, 0, 100)
            weight = (prob / 100) ** 1.5 * 0.9
            refl[t] = refl[t] * (1 - weight) + _SNOW[:, None, None] * weight
            masks[t, 0] = np.rint(prob)
        if cloudy[t]:
            z = _blob(rng, (H, W), rng.uniform(0.05, 0.95))
            prob = np.clip(60 + 80 * z, 0, 100)
            weight = (prob / 100) ** 1.5 * 0.9
            refl[t] = refl[t] * (1 - weight) + _CLOUD[:, None, None] * weight
            masks[t, 1] = np.rint(prob)
    data = np.clip(np.rint(refl), 1, 65535).astype(np.uint16)
    return data, masks, products


# ========================================================================================
# Writing


def _write_zone(
    root: Path,
    layout_name: str,
    world: _World,
    centroids: dict[str, list[int]],
    metadata: dict[str, dict[str, object]],
    advance: Callable[[], None],
) -> None:
    """Write the Sentinel-2 files and every patch of one zone; fill centroids and metadata."""
    import rasterio
    from affine import Affine

    plan = world.plan
    dirs = flair_layout.RELEASE_DIRS[layout_name][plan.split]
    data, masks, products = _render_sentinel(world)
    sen_dir = root / dirs["sen"] / plan.domain / plan.zone / flair_layout.SEN_SUBDIR
    sen_dir.mkdir(parents=True, exist_ok=True)
    names = flair_layout.sentinel_names(plan.domain, plan.zone)
    np.save(sen_dir / names["data"], data)
    np.save(sen_dir / names["masks"], masks)
    (sen_dir / names["products"]).write_text("\n".join(products) + "\n", encoding="utf-8")

    img_dir = root / dirs["aerial"] / plan.domain / plan.zone / flair_layout.AERIAL_SUBDIR
    msk_dir = root / dirs["labels"] / plan.domain / plan.zone / flair_layout.LABELS_SUBDIR
    img_dir.mkdir(parents=True, exist_ok=True)
    msk_dir.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff", "height": PATCH, "width": PATCH, "dtype": "uint8",
        "crs": "EPSG:2154", "compress": "lzw", "tiled": True,
        "blockxsize": 256, "blockysize": 256,
    }
    rng = np.random.default_rng([plan.index, 4, int(world.rng.integers(2**31))])
    day = dt.date(plan.year, 4, 15) + dt.timedelta(days=int(rng.integers(0, 150)))
    for patch_id, (row, col) in zip(plan.patch_ids, plan.centroids, strict=True):
        image, mask = _render_patch(world, row, col, rng)
        x_c = plan.x0 + col * SEN_RES
        y_c = plan.y0 - row * SEN_RES
        transform = Affine(RES, 0.0, x_c - HALF, 0.0, -RES, y_c + HALF)  # from_origin
        with rasterio.open(img_dir / flair_layout.aerial_name(patch_id), "w", count=5,
                           transform=transform, **profile) as dst:
            dst.write(image)
        with rasterio.open(msk_dir / flair_layout.mask_name(patch_id), "w", count=1,
                           transform=transform, **profile) as dst:
            dst.write(mask, 1)
        centroids[flair_layout.aerial_name(patch_id)] = [int(row), int(col)]
        ground = plan.altitude + float(rng.normal(0, 15))
        metadata[f"IMG_{patch_id}"] = {
            "domain": plan.domain,
            "zone": plan.zone,
            "x": round(x_c + float(rng.uniform(-400, 400)), 2),
            "y": round(y_c + float(rng.uniform(-400, 400)), 2),
            "z": round(ground + float(rng.uniform(2800, 5200)), 2),
            "camera": plan.camera,
            "date": day.isoformat(),
            "time": f"{int(rng.integers(9, 15))}h{int(rng.integers(0, 60)):02d}",
            "patch_centroid_x": round(x_c, 2),
            "patch_centroid_y": round(y_c, 2),
            "patch_centroid_z": round(ground, 2),
        }
        advance()


def _config_text(layout_name: str) -> str:
    """The reference implementation's YAML config, with paths relative to its folder."""
    dirs = flair_layout.RELEASE_DIRS[layout_name]
    train, test = dirs["train"], dirs["test"]
    return f"""\
# FLAIR #2 configuration in the shape of the reference implementation's flair-2-config.yml.
# Paths are relative to this file's folder.
data:
    path_aerial_train: "{train["aerial"]}/"
    path_sen_train: "{train["sen"]}/"
    path_labels_train: "{train["labels"]}/"

    path_aerial_test: "{test["aerial"]}/"
    path_sen_test: "{test["sen"]}/"
    path_labels_test: "{test["labels"]}/"

    path_sp_centroids: "{flair_layout.CENTROIDS_FILE}"
    path_metadata_aerial: "{flair_layout.METADATA_FILE}"

outputs:
    out_folder: "out/"
    out_model_name: "flair-2-baseline"

# Fusion
sat_patch_size: 40 # in [8,112] and multiple of 8
w_unet_utae: [1, 0.0]
drop_utae_modality: 0.0

# Sentinel-2 time series
filter_clouds: True
average_month: True

# Inputs
aerial_metadata: False
num_classes: 13

# Training
num_epochs: 100
batch_size: 4
lr: 0.001
seed: 2022
num_workers: 4
"""
