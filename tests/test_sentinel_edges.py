"""Sentinel-2 reading at the edges of the format, and its geometry against the files'.

The generator's samples keep every centroid 56 pixels inside its super area and write no
29 February product, as the release does; the hand-made trees of ``flair_tree`` hold both
cases, which the reader must handle: a crop running outside the super area (its cloud filter
counts only the pixels inside) and a leap-day product. The footprint convention is checked
against geometry computed from the GeoTIFF transforms and the super-area grid, not from the
reader.
"""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
import rasterio

from flair_hdbscan import sentinel
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.pixels import SentinelOptions, sentinel_grid
from flair_hdbscan.sample_data import generate_sample
from flair_hdbscan.sample_data.plan import plan_zones
from flair_tree import AREAS, make_tree

TOP = "000101"  # centroid (10, 25) of D004_2021-Z1_NN (48 x 52, 5 dates): 10 rows padded
TOP_AREA = "D004_2021-Z1_NN"


@pytest.fixture
def cloudy_edge(tmp_path):
    """A tree whose top-border area has date 0 cloudy on rows 0..10 and bright data.

    In the 40-pixel crop around ``TOP`` (rows -10..29), those 11 rows plus the 10 padded
    copies of row 0 are 21 of 40 rows (52.5 %, dropped at 0.5 / 60), but 11 of the 30 rows
    inside the area (36.7 %, kept).
    """
    tree = make_tree(tmp_path / "flair")
    masks = tree.sen_masks[TOP_AREA]
    masks[0, 1, :11] = 100
    np.save(tree.sen_path(TOP_AREA, "masks"), masks)
    data = tree.sen_data[TOP_AREA]
    data[0] = 60000
    np.save(tree.sen_path(TOP_AREA, "data"), data)
    return tree


def test_border_crop_keeps_the_dates_of_the_pixels_inside(cloudy_edge):
    tree = cloudy_edge
    ds = FlairDataset.from_root(tree.root, split="train")
    sp = ds.read_sentinel(ds.index(TOP), size=40)
    assert sp.valid.sum() == 30 * 40
    # what a plain slice of the area (the reference's crop, where it is not empty) keeps
    plain = tree.sen_masks[TOP_AREA][:, :, 0:30, 5:45]
    expected = sentinel.clear_dates(plain)
    assert expected.tolist() == [True, False, True, True, False]
    assert sentinel.clear_dates(sp.masks, valid=sp.valid).tolist() == expected.tolist()
    # the padded crop alone would drop date 0
    assert not sentinel.clear_dates(sp.masks)[0]


def test_border_composite_uses_the_dates_kept_inside(cloudy_edge):
    tree = cloudy_edge
    ds = FlairDataset.from_root(tree.root, split="train")
    grid = sentinel_grid(ds, ds.index(TOP), SentinelOptions(), shape=512)
    # aerial pixel (256, 256) lies in the centroid's Sentinel pixel (10, 25)
    values = tree.sen_data[TOP_AREA][[0, 2, 3], :, 10, 25].astype(np.float32)
    np.testing.assert_array_equal(grid[:, 256, 256], np.median(values, axis=0))
    assert grid[0, 256, 256] != np.median(values[1:, 0])


def test_leap_day_product_is_read(tmp_path):
    tree = make_tree(tmp_path / "flair")
    area = next(a for a in AREAS if a.domain == "D013_2020")
    leap = datetime.date(2020, 2, 29)
    assert leap in tree.dates[area.name]
    lines = tree.sen_path(area.name, "products").read_text().split()
    assert any(line[11:19] == "20200229" for line in lines)
    ds = FlairDataset.from_root(tree.root, split="train")
    sp = ds.read_sentinel(ds.index("000205"), size=40)
    assert sp.dates == tree.dates[area.name]
    assert sp.data.shape[0] == len(sp.dates)


# ------------------------------------------------------------------- footprint geometry


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory):
    seed = 4
    root = generate_sample(
        tmp_path_factory.mktemp("geometry") / "d", n_patches=2, n_test_patches=1, seed=seed
    )
    return root, plan_zones(2, 1, seed)


def _train_patches(root, plans):
    """(GeoTIFF path, centroid, zone plan) of every train patch."""
    centroids = json.loads((root / "flair-2_centroids_sp_to_patch.json").read_text())
    out = []
    for plan in plans:
        if plan.split != "train":
            continue
        for pid in plan.patch_ids:
            img = root / "flair_aerial_train" / plan.domain / plan.zone / "img" / f"IMG_{pid}.tif"
            out.append((img, tuple(centroids[img.name]), plan))
    return out


@pytest.mark.parametrize("size", [39, 40, 41])
def test_footprint_matches_the_geotiff_on_the_super_area_grid(small_sample, size):
    root, plans = small_sample
    patches = _train_patches(root, plans)
    assert len(patches) == 2
    for img, (row, col), plan in patches:
        # The super area's pixel (r, c) covers x in [x0 + 10c, x0 + 10(c + 1)) and
        # y in (y0 - 10(r + 1), y0 - 10r]; the crop's row 0 is super-area row row - size // 2.
        with rasterio.open(img) as src:
            t, side = src.transform, src.width
        top = (plan.y0 - t.f) / 10 - (row - size // 2)
        left = (t.c - plan.x0) / 10 - (col - size // 2)
        bottom = (plan.y0 - (t.f + side * t.e)) / 10 - (row - size // 2)
        right = (t.c + side * t.a - plan.x0) / 10 - (col - size // 2)
        assert sentinel.footprint(size) == pytest.approx((top, left, bottom, right), abs=1e-9)

        # Nearest resampling takes, for every aerial pixel, the super-area pixel under its
        # centre (centres sit 0.1 m off the 10 m grid lines, so no pixel is ambiguous).
        ids = np.arange(plan.height * plan.width).reshape(1, 1, plan.height, plan.width)
        patch, valid = sentinel.crop(ids, (row, col), size)
        assert valid.all()
        got = sentinel.to_aerial_grid(patch[0], size)[0].astype(np.int64)
        x = t.c + (np.arange(side) + 0.5) * t.a
        y = t.f + (np.arange(side) + 0.5) * t.e
        rows = np.floor((plan.y0 - y) / 10).astype(np.int64)
        cols = np.floor((x - plan.x0) / 10).astype(np.int64)
        np.testing.assert_array_equal(got, rows[:, None] * plan.width + cols[None, :])


def test_zone_plans_name_the_written_super_areas(small_sample):
    # The grid the geometry test relies on is the one the files hold: same super-area
    # shapes, same centroids.
    root, plans = small_sample
    patches = _train_patches(root, plans)
    for img, centroid, plan in patches:
        sen = root / "flair_sen_train" / plan.domain / plan.zone / "sen"
        data = np.load(next(sen.glob("*_data.npy")), mmap_mode="r")
        assert data.shape[2:] == (plan.height, plan.width)
        assert centroid == plan.centroids[plan.patch_ids.index(img.stem[4:])]
