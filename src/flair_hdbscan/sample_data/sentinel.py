"""Sentinel-2 super area rendering: land cover → ``(T, 10, H, W) uint16`` time series.

Reflectances mix per-class spectra with seasonal phenology by the area of each class in the
pixel, with clouds on about a quarter of the dates and snow on some winter dates; product
names follow the Sentinel-2 L2A convention.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy.ndimage import gaussian_filter

from flair_hdbscan.sample_data.geometry import N_BANDS, SEN_RES
from flair_hdbscan.sample_data.landcover import N_VARIANTS, World, classify
from flair_hdbscan.sample_data.noise import blob
from flair_hdbscan.sample_data.plan import ZonePlan

# Processing baseline of the L2A products, per year.
_BASELINE = {2018: "N0206", 2019: "N0213", 2020: "N0214", 2021: "N0300", 2022: "N0400"}

# Spectra (B02, B03, B04, B05, B06, B07, B08, B8A, B11, B12), reflectance × 10⁴.
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
_N_EXT = 20 * N_VARIANTS  # (class value, variant) pairs, class values 0..19


def _dates(plan: ZonePlan, rng: np.random.Generator) -> tuple[list[dt.date], list[str]]:
    """Acquisition dates (sorted, one year) and Sentinel-2 L2A product names.

    Dates follow a 5-day revisit within the domain's year, never on 29 February: the
    reference implementation rebuilds every date as month/day in its reference year (2021),
    where that day does not exist. (The project's reader accepts it; its tests write one.)
    """
    first = dt.date(plan.year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5)))
    calendar = [first + dt.timedelta(days=5 * i) for i in range(73)]
    calendar = [d for d in calendar if d.year == plan.year and (d.month, d.day) != (2, 29)]
    picks = np.sort(rng.choice(len(calendar), plan.n_dates, replace=False))
    dates = [calendar[i] for i in picks]
    baseline = _BASELINE.get(plan.year, "N0400")
    minute = 10 + plan.orbit % 40
    names = []
    for i, d in zip(picks, dates, strict=True):
        sat = "S2A" if i % 2 == 0 else "S2B"
        sensing = f"{d:%Y%m%d}T10{minute:02d}{int(rng.integers(10, 60)):02d}"
        processed = (
            f"{d:%Y%m%d}T{int(rng.integers(12, 17)):02d}{int(rng.integers(0, 60)):02d}"
            f"{int(rng.integers(0, 60)):02d}"
        )
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
        for variant in range(N_VARIANTS):
            s_up, s_down = _VARIANT_SHIFT.get(value, ((0, 0),) * 3)[variant]
            rise = 1 / (1 + np.exp(-(d - up - s_up) / 12))
            fall = 1 / (1 + np.exp(-(down + s_down - d) / 12))
            g = g0 + (g1 - g0) * rise * fall
            out[value * N_VARIANTS + variant] = (1 - g) * background + g * veg
    return out


def render_sentinel(world: World) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Sentinel-2 super area of the zone.

    Args:
        world: the zone, with its objects placed; one draw of ``world.rng`` seeds the series.

    Returns:
        ``(data, masks, products)``: ``(T, 10, H, W) uint16`` reflectance × 10⁴,
        ``(T, 2, H, W) uint8`` snow and cloud probabilities (0..100), and T product names.
    """
    plan = world.plan
    rng = np.random.default_rng(
        [plan.index, 3, plan.height, plan.width, plan.n_dates, int(world.rng.integers(2**31))]
    )
    dates, products = _dates(plan, rng)
    doy = np.array([d.timetuple().tm_yday for d in dates])
    H, W, T = plan.height, plan.width, len(dates)

    sub = 4  # sub-samples per pixel side: area-weighted class fractions
    offs = (np.arange(sub) + 0.5) * SEN_RES / sub
    rows = (np.arange(H)[:, None] * SEN_RES + offs).ravel()
    cols = (np.arange(W)[:, None] * SEN_RES + offs).ravel()
    vv, uu = np.meshgrid(rows, cols, indexing="ij")
    lc = classify(world, uu.ravel(), vv.ravel())
    value = lc["value"].astype(np.intp)
    variant = np.where(
        np.isin(value, list(_VARIANT_SHIFT)) & (lc["object"] < 0) & ~lc["road"],
        world.parcel_variant[lc["parcel"]],
        0,
    )
    pixel = (np.arange(H * sub)[:, None] // sub * W + np.arange(W * sub)[None, :] // sub).ravel()
    frac = (
        np.bincount(
            pixel * _N_EXT + value * N_VARIANTS + variant, minlength=H * W * _N_EXT
        ).reshape(H * W, _N_EXT)
        / sub**2
    )
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
            z = blob(rng, (H, W), rng.uniform(0.3, 1.0))
            prob = np.clip(60 + 80 * z, 0, 100)
            weight = (prob / 100) ** 1.5 * 0.9
            refl[t] = refl[t] * (1 - weight) + _SNOW[:, None, None] * weight
            masks[t, 0] = np.rint(prob)
        if cloudy[t]:
            z = blob(rng, (H, W), rng.uniform(0.05, 0.95))
            prob = np.clip(60 + 80 * z, 0, 100)
            weight = (prob / 100) ** 1.5 * 0.9
            refl[t] = refl[t] * (1 - weight) + _CLOUD[:, None, None] * weight
            masks[t, 1] = np.rint(prob)
    data = np.clip(np.rint(refl), 1, 65535).astype(np.uint16)
    return data, masks, products
