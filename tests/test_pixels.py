import numpy as np
import pytest

from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.pixels import SentinelOptions, read_patch_pixels, sentinel_grid, unique_rows


def test_patch_pixels_row_major(train_ds):
    px = read_patch_pixels(train_ds, 0)
    image = train_ds.read_image(0)
    assert px.aerial.shape == (512 * 512, 5) and px.aerial.dtype == np.uint8
    np.testing.assert_array_equal(px.aerial[513], image[:, 1, 1])
    np.testing.assert_array_equal(px.labels, train_ds.read_labels(0).ravel())


def test_stride_sample(train_ds):
    px = read_patch_pixels(train_ds, 1, stride=10)
    assert px.shape == (52, 52)
    np.testing.assert_array_equal(px.aerial[1], train_ds.read_image(1)[:, 0, 10])


def test_training_sample_is_one_percent(train_ds):
    s = read_training_sample(train_ds, stride=10, sentinel=None, executor=LocalExecutor())
    assert len(s) == s.n_labels_read == 3 * 52 * 52  # no no-data pixels in the sample dataset
    assert set(np.unique(s.patch)) == {0, 1, 2}
    assert s.s2 is None


def test_unique_rows_reconstruct_features(train_ds):
    opts = SentinelOptions()
    px = read_patch_pixels(train_ds, 0, sentinel=opts)
    for sat in (False, True):
        first, inverse = unique_rows(px, use_satellite=sat)
        spec = FeatureSpec(use_satellite=sat)
        full = feature_table(px.aerial, px.s2, spec)
        s2 = None if px.s2 is None else px.s2[first]
        small = feature_table(px.aerial[first], s2, spec)
        np.testing.assert_array_equal(small[inverse], full)
        assert len(first) < px.aerial.shape[0]


def test_bilinear_keeps_every_row(train_ds):
    px = read_patch_pixels(train_ds, 0, sentinel=SentinelOptions(resampling="bilinear"))
    first, _ = unique_rows(px, use_satellite=True)
    assert len(first) == 512 * 512
    assert px.s2_cell is None


def test_sentinel_grid_is_piecewise_constant_with_nearest(train_ds):
    grid = sentinel_grid(train_ds, 0, SentinelOptions())
    assert grid.shape == (10, 512, 512) and grid.dtype == np.float32
    # 512 aerial pixels span 10.24 Sentinel-2 pixels: 11 or 12 distinct values per line
    assert len(np.unique(grid[:, 256].T, axis=0)) in (11, 12)


def test_sentinel_options_come_from_the_study_options():
    opts = SentinelOptions.of(StudyOptions(sat_patch_size=24, s2_resampling="bilinear"))
    assert (opts.size, opts.resampling) == (24, "bilinear")
    with pytest.raises(OptionError, match="--s2-resampling"):
        StudyOptions(s2_resampling="cubic")
    with pytest.raises(OptionError, match="--cloud-area-threshold"):
        StudyOptions(cloud_area_threshold=0)
