"""Objects of a zone: buildings, swimming pools, greenhouses and small "other" structures.

Each object is a rotated rectangle with a class value, a height (for elevation and shadows)
and an aerial colour. :func:`place_objects` fills ``World.objects``, a table of ``n`` rows:
``centre`` ``(n, 2)`` float64 metres, ``half`` ``(n, 2)`` float64 half sizes, ``angle``
``(n,)`` float64 radians, ``value`` ``(n,)`` uint8, ``height`` ``(n,)`` float32 metres and
``colour`` ``(n, 4)`` float32 (R, G, B, NIR).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from flair_hdbscan.sample_data.geometry import HALF, SEN_RES
from flair_hdbscan.sample_data.landcover import World, classify_parcels
from flair_hdbscan.sample_data.palette import RGBN, ROOFS


def _add_rects(
    objs: list[dict[str, np.ndarray]],
    centre: np.ndarray,
    half: np.ndarray,
    angle: np.ndarray,
    value: int,
    height: np.ndarray,
    colour: np.ndarray,
) -> None:
    """Append ``n`` rectangles to the object list.

    Args:
        objs: object tables, extended in place.
        centre: ``(n, 2)`` centres, metres.
        half: ``(n, 2)`` half sizes, metres.
        angle: ``(n,)`` rotations, radians.
        value: class value of every rectangle.
        height: ``(n,)`` heights, metres.
        colour: ``(n, 4)`` (R, G, B, NIR).
    """
    objs.append(
        {
            "centre": centre.reshape(-1, 2).astype(np.float64),
            "half": half.reshape(-1, 2).astype(np.float64),
            "angle": np.broadcast_to(angle, (len(centre),)).astype(np.float64),
            "value": np.full(len(centre), value, dtype=np.uint8),
            "height": np.broadcast_to(height, (len(centre),)).astype(np.float32),
            "colour": colour.reshape(-1, 4).astype(np.float32),
        }
    )


def place_objects(world: World) -> None:
    """Buildings and pools in urban lots, greenhouses and small "other" structures.

    Args:
        world: the zone; its ``objects`` and ``object_tree`` are set in place.
    """
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
    parcel = classify_parcels(world, u, v)
    keep = clear & world.parcel_lot[parcel] & (rng.random(len(u)) < 0.95)
    n_b = int(keep.sum())
    roofs = ROOFS[rng.integers(0, len(ROOFS), n_b)] + rng.normal(0, 6, (n_b, 1))
    _add_rects(
        objs,
        np.column_stack([u[keep], v[keep]]),
        half[keep],
        np.full(n_b, angle),
        1,
        rng.uniform(3, 15, n_b),
        roofs,
    )

    # Pools in the gaps between buildings, at the grid's cell corners.
    cu = u + (cell / 2) * (ca - sa)
    cv = v + (cell / 2) * (sa + ca)
    cparcel = classify_parcels(world, cu, cv)
    pool = world.parcel_lot[cparcel] & (rng.random(len(cu)) < 0.06)
    n_pool = int(pool.sum())
    _add_rects(
        objs,
        np.column_stack([cu[pool], cv[pool]]),
        np.column_stack([rng.uniform(1.5, 2.5, n_pool), rng.uniform(2.5, 4.5, n_pool)]),
        np.full(n_pool, angle),
        13,
        np.zeros(n_pool),
        RGBN[13] + rng.normal(0, 5, (n_pool, 4)),
    )

    # Greenhouses in about half the zones (always the first zone of a split), in a patch.
    centres = np.array([(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids])
    if world.plan.index == 0 or rng.random() < 0.25:
        base = centres[rng.integers(len(centres))] + rng.uniform(-30, 30, 2)
        n_g = int(rng.integers(1, 3))
        theta = rng.uniform(0, np.pi)
        hx, hy = rng.uniform(3, 4), rng.uniform(7, 12)
        step = np.array([np.cos(theta), np.sin(theta)]) * (2 * hx + 1.5)
        _add_rects(
            objs,
            base + np.arange(n_g)[:, None] * step,
            np.tile([hx, hy], (n_g, 1)),
            np.full(n_g, theta),
            18,
            np.full(n_g, 3.0),
            RGBN[18] + rng.normal(0, 4, (n_g, 4)),
        )

    # Small "other" structures (tanks, containers) in some patches.
    for centre in centres:
        if rng.random() < 0.3:
            n_o = int(rng.integers(1, 4))
            _add_rects(
                objs,
                centre + rng.uniform(-45, 45, (n_o, 2)),
                rng.uniform(1.2, 2.5, (n_o, 2)),
                rng.uniform(0, np.pi, n_o),
                19,
                rng.uniform(1, 4, n_o),
                RGBN[19] + rng.normal(0, 10, (n_o, 4)),
            )

    world.objects = {k: np.concatenate([o[k] for o in objs]) for k in objs[0]}
    world.object_tree = cKDTree(world.objects["centre"]) if len(world.objects["value"]) else None


def ensure_building(worlds: list[World]) -> None:
    """Add a building in a patch footprint if none of the split's patches holds one.

    Args:
        worlds: the zones of one split, objects placed; the first zone gains the building.
    """
    for world in worlds:
        centres = np.array([(c * SEN_RES, r * SEN_RES) for r, c in world.plan.centroids])
        o = world.objects
        is_b = o["value"] == 1
        near = np.abs(o["centre"][is_b][:, None, :] - centres[None]).max(-1) < HALF - 9
        if near.any():
            return
    world = worlds[0]
    extra: list[dict[str, np.ndarray]] = [dict(world.objects)]
    centre = np.array(
        [[world.plan.centroids[0][1] * SEN_RES + 12, world.plan.centroids[0][0] * SEN_RES - 14]]
    )
    _add_rects(
        extra, centre, np.array([[7.0, 5.5]]), np.array([0.3]), 1, np.array([8.0]), ROOFS[:1]
    )
    world.objects = {k: np.concatenate([e[k] for e in extra]) for k in extra[0]}
    world.object_tree = cKDTree(world.objects["centre"])
