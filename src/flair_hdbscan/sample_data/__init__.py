"""FLAIR-format sample generator and the cache of the default sample.

:func:`generate_sample` writes a synthetic dataset in the layout of the FLAIR #2 release
(aerial GeoTIFFs, label masks, Sentinel-2 super areas, centroids, aerial metadata and the
reference implementation's YAML config). Its content is built so that the study means
something: every zone has one land cover, defined in continuous metric coordinates, from
which both the 0.2 m aerial patches and the 10 m Sentinel-2 super area are drawn. Everything
is seeded: the same arguments give byte-identical files.

The modules follow the generator's path, each importing only those above it:

* ``geometry``: the aerial patch and Sentinel-2 pixel grids;
* ``plan``: domains, zones, patch ids and centroids of both splits;
* ``noise``: smooth random fields (value noise, blobs);
* ``palette``: aerial colours, texture and crown tables;
* ``landcover``: districts, parcels, roads, crowns, and the class map at any point;
* ``objects``: buildings, pools, greenhouses and "other" structures;
* ``aerial``: ``(5, 512, 512) uint8`` patches and their ``(512, 512) uint8`` masks;
* ``sentinel``: ``(T, 10, H, W) uint16`` super areas, cloud and snow masks, product names;
* ``writer``: GeoTIFF, npy, JSON and YAML files in the release layout.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from flair_hdbscan import layout as flair_layout
from flair_hdbscan.atomic import atomic_dir
from flair_hdbscan.errors import OptionError
from flair_hdbscan.progress import Progress
from flair_hdbscan.sample_data.geometry import HALF, PATCH, RES, SEN_RES
from flair_hdbscan.sample_data.landcover import World, build_world, classify, ensure_coverage
from flair_hdbscan.sample_data.objects import ensure_building, place_objects
from flair_hdbscan.sample_data.plan import MAX_PATCHES as MAX_PATCHES
from flair_hdbscan.sample_data.plan import ZonePlan, check_args, plan_zones
from flair_hdbscan.sample_data.writer import root_name, write_shared_files, write_zone

__all__ = [
    "DEFAULT_PATCHES",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "cache_dir",
    "default_sample_root",
    "generate_sample",
    "mask_counts",
]

log = logging.getLogger(__name__)

#: Version of the generator; part of the default sample's cache folder name.
GENERATOR_VERSION: int = 3
#: Train patches of the embedded default sample.
DEFAULT_PATCHES: int = 16
#: Seed of the embedded default sample, by one rule applied before any result is seen: among
#: seeds 0–11, the 16-patch sample whose pixel class distribution is closest to FLAIR #2's
#: training prevalence. With generator version 3 (the release's geometry) that is seed 1
#: (largest gap 2.5 points, summed gaps 11.3 over the 12 classes and the rest; seed 6, the
#: choice of version 2, is 8.2 and 34.2 off). :func:`mask_counts` compares seeds in seconds.
DEFAULT_SEED: int = 1


def cache_dir() -> Path:
    """Folder of cached data.

    Returns:
        ``$FLAIR_HDBSCAN_CACHE``, else ``$XDG_CACHE_HOME/flair-hdbscan``, else
        ``~/.cache/flair-hdbscan``.
    """
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


def _split_worlds(plans: list[ZonePlan], split: str, seed: int) -> list[World]:
    """Land cover of every zone of one split, objects placed: all that decides its masks."""
    s_index = flair_layout.SPLITS.index(split)
    worlds = [build_world(p, seed) for p in plans if p.split == split]
    ensure_coverage(worlds, np.random.default_rng([seed, 7, s_index]))
    for world in worlds:
        place_objects(world)
    ensure_building(worlds)
    return worlds


def mask_counts(
    n_patches: int = DEFAULT_PATCHES,
    *,
    n_test_patches: int | None = None,
    seed: int = DEFAULT_SEED,
    split: str = "train",
    step: int = 1,
) -> np.ndarray:
    """Pixel count of each mask value that :func:`generate_sample` writes, without writing.

    The masks depend only on the land cover, not on the pixel noise nor on Sentinel-2, so
    they are computed here without rendering images: with ``step`` 1 the counts equal those
    of the written ``MSK_*.tif`` exactly; a larger ``step`` samples every ``step``-th pixel
    along each axis (the cheap way to compare seeds, e.g. to choose :data:`DEFAULT_SEED`).

    Args:
        n_patches: train patches, as for :func:`generate_sample`.
        n_test_patches: test patches, as for :func:`generate_sample`.
        seed: seed, as for :func:`generate_sample`.
        split: ``"train"`` or ``"test"``.
        step: keep every ``step``-th pixel along each axis, starting at 0 (1..512).

    Returns:
        ``(20,)`` int64 counts of mask values 0..19, summed over the split's patches.

    Raises:
        OptionError: when a count is out of range, the split is unknown or ``step`` is not
            in 1..512.
    """
    if n_test_patches is None:
        n_test_patches = max(2, n_patches // 4)
    check_args(n_patches, n_test_patches, seed, "full")
    if split not in flair_layout.SPLITS:
        raise OptionError(f"split={split!r} is unknown: use one of {list(flair_layout.SPLITS)}")
    if not isinstance(step, int | np.integer) or not 1 <= step <= PATCH:
        raise OptionError(f"step={step!r} is out of range: give an integer from 1 to {PATCH}")
    counts = np.zeros(20, dtype=np.int64)
    offs = (np.arange(0, PATCH, step) + 0.5) * RES - HALF
    for world in _split_worlds(plan_zones(n_patches, n_test_patches, seed), split, seed):
        for row, col in world.plan.centroids:
            vv, uu = np.meshgrid(row * SEN_RES + offs, col * SEN_RES + offs, indexing="ij")
            value = classify(world, uu.ravel(), vv.ravel())["value"]
            counts += np.bincount(value, minlength=20)[:20]
    return counts


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
    check_args(n_patches, n_test_patches, seed, layout)
    out = Path(out).expanduser()
    plans = plan_zones(n_patches, n_test_patches, seed)
    with atomic_dir(out) as tmp, Progress(enabled=progress) as bar:
        root = tmp / root_name(layout)
        root.mkdir(parents=True, exist_ok=True)
        centroids: dict[str, list[int]] = {}
        metadata: dict[str, dict[str, object]] = {}
        advance = bar.stage("writing the sample dataset", n_patches + n_test_patches)
        for split in flair_layout.SPLITS:
            for world in _split_worlds(plans, split, seed):
                write_zone(root, layout, world, centroids, metadata, advance)
        marker = {
            "generator": "flair-hdbscan sample-data",
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "n_patches": n_patches,
            "n_test_patches": n_test_patches,
        }
        write_shared_files(root, layout, centroids, metadata, marker)
    final = out / root_name(layout)
    log.info(
        "wrote a %s-layout sample (%d train, %d test patches, seed %d) to %s",
        layout,
        n_patches,
        n_test_patches,
        seed,
        final,
    )
    return final
