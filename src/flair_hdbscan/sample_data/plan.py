"""Planning of a sample: domains, zones, patch ids and centroids, decided before any pixel.

:func:`plan_zones` turns the patch counts and the seed into one :class:`ZonePlan` per zone
of each split; every later stage (land cover, rendering, writing) reads its plan.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flair_hdbscan import layout as flair_layout
from flair_hdbscan.errors import OptionError

#: Largest number of patches per split (ids must stay 6-digit and unique).
MAX_PATCHES = 100_000
#: Largest super patch of the reference implementation (``sat_patch_size`` "in [8, 112]").
MAX_SAT_PATCH = 112
#: Least distance, in Sentinel pixels, from a centroid to every super-area border. The
#: reference crops ``row - s/2 … row + s/2`` with a plain slice (no padding), so the release
#: keeps every centroid this far inside for any ``sat_patch_size`` up to 112.
BORDER = MAX_SAT_PATCH // 2
#: Range of the extent (rows, columns) of the centroids of a zone, Sentinel pixels; a super
#: area is that extent plus ``BORDER`` on every side.
_SPAN = (20, 60)
#: Range of the number of dates of a super area. At least 21: the reference notebook's
#: ``display_samples`` draws date index 20 of every super area.
_DATES = (21, 60)

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
# Zone codes: two district-type letters (dominant, secondary), see ``landcover``.
_ZONE_CODES = ("UA", "AN", "FU", "NA", "UF", "AU", "NF", "UN", "AF", "FA", "NU", "UU", "AA")


@dataclasses.dataclass(frozen=True)
class ZonePlan:
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


def check_args(n_patches: int, n_test: int, seed: int, layout_name: str) -> None:
    """Raise :class:`OptionError` for arguments the generator cannot honour.

    Args:
        n_patches: train patches, 1..``MAX_PATCHES``.
        n_test: test patches, 1..``MAX_PATCHES``.
        seed: non-negative seed.
        layout_name: a key of ``flair_hdbscan.layout.RELEASE_DIRS``.

    Raises:
        OptionError: naming the argument out of range and the accepted values.
    """
    if not isinstance(n_patches, int | np.integer) or not 1 <= n_patches <= MAX_PATCHES:
        raise OptionError(
            f"n_patches={n_patches!r} is out of range: give an integer from 1 to {MAX_PATCHES}"
        )
    if not isinstance(n_test, int | np.integer) or not 1 <= n_test <= MAX_PATCHES:
        raise OptionError(
            f"n_test_patches={n_test!r} is out of range: give an integer from 1 to {MAX_PATCHES}"
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


def plan_zones(n_train: int, n_test: int, seed: int) -> list[ZonePlan]:
    """Decide domains, zones, patch ids and centroids of both splits.

    Args:
        n_train: train patches.
        n_test: test patches.
        seed: seed of the sample.

    Returns:
        The train zones, then the test zones; patch ids are 6-digit strings, increasing and
        unique across both splits.
    """
    rng = np.random.default_rng([seed, 1])
    total = n_train + n_test
    max_gap = int(max(2, min(40, 800_000 // total)))
    start = int(rng.integers(1_000, 60_000))
    ids = start + np.cumsum(rng.integers(1, max_gap + 1, size=total))
    id_iter = iter(f"{int(i):06d}" for i in ids)
    codes = list(_ZONE_CODES)
    rng.shuffle(codes)

    plans: list[ZonePlan] = []
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
            height, width = (
                int(v) + 2 * BORDER for v in rng.integers(_SPAN[0], _SPAN[1] + 1, size=2)
            )
            n_dates = int(rng.integers(_DATES[0], _DATES[1] + 1))
            k = int(per_zone[z])
            centroids = _centroids(rng, k, height, width)
            dept = name.split("_")[0]
            plans.append(
                ZonePlan(
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
    rng: np.random.Generator, k: int, height: int, width: int
) -> tuple[tuple[int, int], ...]:
    """Pick ``k`` distinct, spread-out centroids at least ``BORDER`` pixels inside H × W.

    Rows lie in ``BORDER … height - BORDER`` and columns in ``BORDER … width - BORDER``
    (inclusive), so that a super patch of up to ``MAX_SAT_PATCH`` pixels, cropped as the
    reference does, lies inside the super area, as in the release.
    """
    chosen: list[tuple[int, int]] = []
    while len(chosen) < k:
        cand = np.column_stack(
            [
                rng.integers(BORDER, height - BORDER + 1, size=24),
                rng.integers(BORDER, width - BORDER + 1, size=24),
            ]
        )
        if chosen:
            dist = np.abs(cand[:, None, :] - np.array(chosen)[None, :, :]).max(-1).min(1)
        else:
            dist = np.zeros(len(cand))
        best = cand[int(np.argmax(dist))]
        if tuple(best) in chosen:  # all candidates already taken: the area is saturated
            continue
        chosen.append((int(best[0]), int(best[1])))
    return tuple(chosen)
