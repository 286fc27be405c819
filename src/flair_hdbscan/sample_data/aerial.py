"""Aerial patch rendering: land cover → ``(5, 512, 512) uint8`` image and its mask.

Spectra follow per-class means with per-parcel offsets, spatially correlated texture (tree
crowns, vine rows, furrows), lit and shaded roof slopes, shadows and modest pixel noise;
elevation follows per-class heights.
"""

from __future__ import annotations

import numpy as np

from flair_hdbscan.sample_data.geometry import HALF, PATCH, RES, SEN_RES
from flair_hdbscan.sample_data.landcover import World, classify
from flair_hdbscan.sample_data.palette import (
    AGRI_VARIANTS,
    CROWN_LEVELS,
    CROWNS,
    ELEV_NOISE,
    GREENNESS_AXIS,
    GREENNESS_SD,
    GROUND_HEIGHT,
    PIXEL_NOISE,
    RGBN,
    TEXTURE,
    TEXTURE_GAIN,
    TEXTURE_STEP,
    VIGOUR,
)


def render_patch(
    world: World, row: int, col: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Aerial image and mask of the patch centred on Sentinel pixel corner ``(row, col)``.

    Args:
        world: the zone, with its objects placed.
        row: centroid row in the super area, Sentinel pixels.
        col: centroid column in the super area, Sentinel pixels.
        rng: generator of the pixel noise.

    Returns:
        ``(image, mask)``: ``(5, 512, 512) uint8`` (R, G, B, NIR, elevation × 5) and
        ``(512, 512) uint8`` class values 1..19.
    """
    offs = (np.arange(PATCH) + 0.5) * RES - HALF
    vv, uu = np.meshgrid(row * SEN_RES + offs, col * SEN_RES + offs, indexing="ij")
    u, v = uu.ravel(), vv.ravel()
    lc = classify(world, u, v)
    value, parcel, obj = lc["value"], lc["parcel"], lc["object"]

    colour = RGBN[value] + world.parcel_offset[parcel]
    agri = value == 11
    colour[agri] = (
        AGRI_VARIANTS[world.parcel_variant[parcel[agri]]] + world.parcel_offset[parcel[agri]]
    )
    road = lc["road"] & (obj < 0)
    colour[road] = RGBN[3] + world.parcel_offset[parcel[road]] * 0.3
    has_obj = obj >= 0
    colour[has_obj] = world.objects["colour"][obj[has_obj]]

    # Textures in a few discrete steps: real 8-bit imagery repeats its values a lot.
    t_large, t_small, t_mid = (
        np.rint(t(u, v) / TEXTURE_STEP) * TEXTURE_STEP for t in world.texture
    )
    gain = 1 + TEXTURE_GAIN * TEXTURE[value] * (0.7 * t_large + 0.6 * t_small)
    # Patchy vigour: a smooth shift along the dry → green axis inside each parcel.
    vigour = GREENNESS_SD[value] * VIGOUR * t_mid
    colour += vigour[:, None] * GREENNESS_AXIS
    height = GROUND_HEIGHT + 0.15 * np.maximum(t_small, 0)

    # Tree crowns: lit tops, shaded gaps, crown heights.
    treelike = np.isin(value, list(CROWNS)) & ~has_obj
    if treelike.any():
        sel = np.flatnonzero(treelike)
        dist, crown = world.crown_tree.query(np.column_stack([u[sel], v[sel]]))
        factor = np.zeros(20, np.float32)
        tall = np.zeros(20, np.float32)
        contrast = np.zeros(20, np.float32)
        for c, (f, h, k) in CROWNS.items():
            factor[c], tall[c], contrast[c] = f, h, k
        vs = value[sel]
        shade = np.clip(1 - (dist / (world.crown_radius[crown] * 1.25 * factor[vs])) ** 2, 0, 1)
        shade = np.rint(shade * CROWN_LEVELS) / CROWN_LEVELS
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
        colour[sel[soil]] = RGBN[4] + world.parcel_offset[parcel[sel[soil]]]
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
    colour += rng.normal(0, PIXEL_NOISE, colour.shape).astype(np.float32)
    elev = height * 5 + rng.normal(0, ELEV_NOISE, len(u)).astype(np.float32)

    image = np.empty((5, PATCH * PATCH), np.uint8)
    image[:4] = np.clip(np.rint(colour.T), 0, 255)
    image[4] = np.clip(np.rint(elev), 0, 255)
    return image.reshape(5, PATCH, PATCH), value.reshape(PATCH, PATCH)
