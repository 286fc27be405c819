"""Land cover of a zone in continuous metric coordinates.

A zone is made of districts (urban, agricultural, forest, natural: a coarse Voronoi
tessellation), parcels (a fine Voronoi tessellation with wiggly borders, each taking a class
drawn from its district's table), roads and, in urban districts, a street grid. Tree crowns
sit on a jittered grid. :func:`classify` answers "what is at these points" — class value,
parcel, object, road, shadow — for both the aerial and the Sentinel-2 renderers; the objects
themselves (buildings, pools, greenhouses) are placed by ``objects``.

Coordinates are local metres: ``u`` east and ``v`` south of the super area's top-left corner.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from flair_hdbscan.sample_data.geometry import HALF, SEN_RES
from flair_hdbscan.sample_data.noise import Lattice
from flair_hdbscan.sample_data.palette import BRIGHTNESS_SD, GREENNESS_AXIS, GREENNESS_SD, RGBN
from flair_hdbscan.sample_data.plan import BORDER, ZonePlan

# District types and their letters in zone codes (dominant, secondary district type).
_URBAN, _AGRI, _FOREST, _NATURAL = 0, 1, 2, 3
_TYPE_LETTERS = "UAFN"

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
}  # fmt: skip
# Ground of urban lots: (class value, probability).
_LOT_GROUND: tuple[tuple[int, float], ...] = ((10, 0.35), (2, 0.35), (3, 0.30))

#: Phenology / crop variants of a parcel.
N_VARIANTS = 3

_SHADOW_STEPS = (0.2, 0.45, 0.7, 1.0)
_SUN_TAN = 0.7  # shadow length / height (sun about 55° above the horizon)


@dataclasses.dataclass
class World:
    """Land cover of one zone in local metres (u east, v south of the top-left corner)."""

    plan: ZonePlan
    rng: np.random.Generator
    extent: tuple[float, float]  # (height, width) in metres
    parcel_tree: cKDTree
    parcel_class: np.ndarray  # (n_parcels,) uint8, ground class value
    parcel_lot: np.ndarray  # (n_parcels,) bool, urban lot
    parcel_urban: np.ndarray  # (n_parcels,) bool, in an urban district
    parcel_variant: np.ndarray  # (n_parcels,) int8, phenology / crop variant
    parcel_offset: np.ndarray  # (n_parcels, 4) float32, colour offset
    parcel_angle: np.ndarray  # (n_parcels,) float32, row direction, radians
    warp: tuple[Lattice, Lattice]
    texture: tuple[Lattice, Lattice, Lattice]  # 7 m, 1.6 m, 3.2 m cells
    roads: np.ndarray  # (n_roads, 4) float: nx, ny, c, half width
    streets: tuple[float, float, float, float, float]  # angle, spacing, phase a, b, half width
    crown_tree: cKDTree
    crown_radius: np.ndarray  # (n_crowns,) float32, m
    crown_scale: np.ndarray  # (n_crowns,) float32, height factor
    shadow_dir: np.ndarray  # (2,) unit vector (u, v) away from the sun
    objects: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    object_tree: cKDTree | None = None


def build_world(plan: ZonePlan, seed: int) -> World:
    """Districts, parcels, roads and crowns of one zone (objects come later).

    Args:
        plan: the zone.
        seed: seed of the sample.

    Returns:
        The zone's land cover, with an empty object table and the zone's generator in
        ``rng`` for the later stages.
    """
    rng = np.random.default_rng([seed, 2, 0 if plan.split == "train" else 1, plan.index])
    hm, wm = plan.height * SEN_RES, plan.width * SEN_RES
    margin = 60.0

    def seeds(spacing: float) -> np.ndarray:
        n = int((hm + 2 * margin) * (wm + 2 * margin) / spacing**2) + 3
        return np.column_stack(
            [rng.uniform(-margin, wm + margin, n), rng.uniform(-margin, hm + margin, n)]
        )

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
        rng.normal(0, 1, (n_p, 1)) * BRIGHTNESS_SD[cls][:, None]
        + rng.normal(0, 1, (n_p, 1)) * GREENNESS_SD[cls][:, None] * GREENNESS_AXIS
        + rng.normal(0, 5.0, (n_p, 4))
    )
    # Radiometry of the zone's flight: gain per channel.
    offset += (rng.normal(0, 0.06, 4) * RGBN[cls]).astype(np.float32)

    # Major roads cross the zone through the part its patches cover (the super area adds
    # BORDER pixels around it, which roads cross too); streets form a grid in urban
    # districts.
    n_roads = int(rng.integers(1, 4))
    phi = rng.uniform(0, np.pi, n_roads)
    edge = BORDER * SEN_RES
    through = np.column_stack(
        [rng.uniform(edge, wm - edge, n_roads), rng.uniform(edge, hm - edge, n_roads)]
    )
    nx, ny = np.cos(phi), np.sin(phi)
    roads = np.column_stack(
        [nx, ny, nx * through[:, 0] + ny * through[:, 1], rng.uniform(2.5, 4.5, n_roads)]
    )
    streets = (
        float(rng.uniform(0, np.pi / 2)), float(rng.uniform(55, 80)),
        float(rng.uniform(0, 80)), float(rng.uniform(0, 80)), float(rng.uniform(2.5, 3.5)),
    )  # fmt: skip

    # Tree crowns on a jittered grid.
    spacing = 4.4
    gu, gv = np.meshgrid(np.arange(-10, wm + 10, spacing), np.arange(-10, hm + 10, spacing))
    crowns = np.column_stack([gu.ravel(), gv.ravel()])
    crowns += rng.uniform(-1.3, 1.3, crowns.shape)
    sun = rng.uniform(np.deg2rad(100), np.deg2rad(200))  # azimuth from north, clockwise
    shadow = np.array([-np.sin(sun), np.cos(sun)])  # away from the sun; v points south

    return World(
        plan=plan,
        rng=rng,
        extent=(hm, wm),
        parcel_tree=cKDTree(parcel_xy),
        parcel_class=parcel_class,
        parcel_lot=parcel_lot,
        parcel_urban=ptype == _URBAN,
        parcel_variant=rng.integers(0, N_VARIANTS, n_p).astype(np.int8),
        parcel_offset=offset.astype(np.float32),
        parcel_angle=rng.uniform(0, np.pi, n_p).astype(np.float32),
        warp=(Lattice(rng, (hm, wm), 14.0), Lattice(rng, (hm, wm), 14.0)),
        texture=(
            Lattice(rng, (hm, wm), 7.0),
            Lattice(rng, (hm, wm), 1.6),
            Lattice(rng, (hm, wm), 3.2),
        ),
        roads=roads,
        streets=streets,
        crown_tree=cKDTree(crowns),
        crown_radius=rng.uniform(1.9, 3.2, len(crowns)).astype(np.float32),
        crown_scale=rng.uniform(0.72, 1.3, len(crowns)).astype(np.float32),
        shadow_dir=shadow,
    )


def _footprint_parcels(world: World) -> list[np.ndarray]:
    """Indices of the parcels whose seed lies in each patch footprint of the zone."""
    centres = [(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids]
    found = world.parcel_tree.query_ball_point(centres, r=HALF, p=np.inf)
    return [np.asarray(sorted(f), dtype=np.intp) for f in found]


def ensure_coverage(worlds: list[World], rng: np.random.Generator) -> None:
    """Make the split's patches hold every ground class 2..12 and at least one urban lot.

    Reassigns a few parcels inside patch footprints, in place; urban lots later receive
    buildings.

    Args:
        worlds: the zones of one split.
        rng: generator of the order in which parcels are tried.
    """
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


def classify_parcels(world: World, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Parcel index at points ``(u, v)``, ``(N,)`` metres → ``(N,)`` intp (wiggly borders)."""
    wu = u + 3.5 * world.warp[0](u, v)
    wv = v + 3.5 * world.warp[1](u, v)
    _, parcel = world.parcel_tree.query(np.column_stack([wu, wv]))
    return parcel


def _on_road(world: World, u: np.ndarray, v: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """Road mask ``(N,)`` bool at points ``(u, v)``: major roads anywhere, urban streets."""
    r = world.roads
    dist = np.abs(u[:, None] * r[:, 0] + v[:, None] * r[:, 1] - r[:, 2])
    road = (dist < r[:, 3]).any(axis=1)
    angle, spacing, pa, pb, half = world.streets
    a = u * np.cos(angle) + v * np.sin(angle) - pa
    b = -u * np.sin(angle) + v * np.cos(angle) - pb
    da = np.abs((a + spacing / 2) % spacing - spacing / 2)
    db = np.abs((b + spacing / 2) % spacing - spacing / 2)
    return road | (urban & ((da < half) | (db < half)))


def classify(world: World, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Land cover at points ``(u, v)``.

    Args:
        world: the zone, with its objects placed.
        u: ``(N,)`` float64, metres east of the top-left corner.
        v: ``(N,)`` float64, metres south of the top-left corner.

    Returns:
        ``value`` ``(N,)`` uint8 class 1..19; ``parcel`` ``(N,)`` intp; ``object`` ``(N,)``
        intp (-1 outside objects); ``road`` and ``shadow`` ``(N,)`` bool; ``roof`` ``(N,)``
        float32, position across the roof (-1..1) for object pixels.
    """
    parcel = classify_parcels(world, u, v)
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
    return {
        "value": value,
        "parcel": parcel,
        "object": obj,
        "road": road,
        "shadow": shadow,
        "roof": roof,
    }
