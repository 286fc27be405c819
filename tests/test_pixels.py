import numpy as np
import pytest

from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import FeatureSpec, feature_table, pack_aerial
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.pixels import (
    SentinelOptions,
    cap_quota,
    cap_rows,
    read_patch_pixels,
    sentinel_grid,
    unique_rows,
)
from flair_hdbscan.seeds import derive_seed


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
        # each distinct row once, by its first pixel, in increasing order of its values
        key = pack_aerial(px.aerial) | ((px.s2_cell << 40) if sat else 0)
        assert np.unique(key[first]).size == first.size
        assert np.all(np.diff(key[first]) > 0)
        for u in (0, first.size // 2, first.size - 1):
            assert first[u] == np.flatnonzero(key == key[first[u]]).min()


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


@pytest.mark.parametrize("resampling", ["nearest", "bilinear"])
def test_a_strided_read_has_the_full_reads_values(train_ds, resampling):
    """The composite is computed where the grid reads it and resampled at the kept pixels
    only: the values are the full grid's."""
    opts = SentinelOptions(resampling=resampling)
    full = read_patch_pixels(train_ds, 2, sentinel=opts)
    part = read_patch_pixels(train_ds, 2, sentinel=opts, stride=10)
    kept = np.arange(512 * 512).reshape(512, 512)[::10, ::10].ravel()
    np.testing.assert_array_equal(part.aerial, full.aerial[kept])
    np.testing.assert_array_equal(part.s2, full.s2[kept])
    assert not np.isnan(full.s2).any()
    if resampling == "nearest":
        np.testing.assert_array_equal(part.s2_cell, full.s2_cell[kept])
    else:
        assert part.s2_cell is None


def test_sentinel_options_come_from_the_study_options():
    opts = SentinelOptions.of(StudyOptions(sat_patch_size=24, s2_resampling="bilinear"))
    assert (opts.size, opts.resampling) == (24, "bilinear")
    with pytest.raises(OptionError, match="--s2-resampling"):
        StudyOptions(s2_resampling="cubic")
    with pytest.raises(OptionError, match="--cloud-area-threshold"):
        StudyOptions(cloud_area_threshold=0)


def test_capped_sample_takes_an_equal_share_of_each_patch(train_ds):
    full = read_training_sample(train_ds, stride=10, sentinel=None, executor=LocalExecutor())
    capped = read_training_sample(
        train_ds, stride=10, sentinel=None, executor=LocalExecutor(), max_pixels=1000, seed=3
    )
    assert len(capped) == 1000
    assert capped.n_labels_read == full.n_labels_read  # every label read is still counted
    np.testing.assert_array_equal(np.bincount(capped.patch), [334, 333, 333])
    # each kept row is one of the patch's strided rows, in order
    for p in range(3):
        rows_full = full.aerial[full.patch == p]
        rows_cap = capped.aerial[capped.patch == p]
        keys_full = pack_aerial(rows_full)
        assert np.isin(pack_aerial(rows_cap), keys_full).all()
    again = read_training_sample(
        train_ds, stride=10, sentinel=None, executor=LocalExecutor(), max_pixels=1000, seed=3
    )
    np.testing.assert_array_equal(again.aerial, capped.aerial)
    other = read_training_sample(
        train_ds, stride=10, sentinel=None, executor=LocalExecutor(), max_pixels=1000, seed=4
    )
    assert not np.array_equal(other.aerial, capped.aerial)


def test_cap_draws_depend_on_the_patch_id_not_its_position(train_ds):
    seed = derive_seed(0, "max-train-pixels", train_ds.patches[1].patch_id)
    px = read_patch_pixels(train_ds, 1, stride=10)
    kept = cap_rows(px, 100, seed)
    assert kept.aerial.shape == (100, 5) and kept.labels_read() == 52 * 52
    again = cap_rows(read_patch_pixels(train_ds, 1, stride=10), 100, seed)
    np.testing.assert_array_equal(kept.aerial, again.aerial)
    assert cap_rows(px, 10_000, seed).aerial.shape[0] == 52 * 52  # a quota above the rows


def test_cap_quota_adds_up_to_the_cap():
    assert [cap_quota(10, 3, i) for i in range(3)] == [4, 3, 3]
    assert sum(cap_quota(1_000_003, 77, i) for i in range(77)) == 1_000_003
    assert [cap_quota(2, 3, i) for i in range(3)] == [1, 1, 0]


def test_capped_models_record_the_cap_and_count_every_label(fitted):
    models = fitted(["knn", "naive-prevalence"], max_train_pixels=900)
    knn = models["knn"]
    assert knn.record.n_train_pixels <= 900
    assert knn.record.n_labels_used == 3 * 52 * 52
    assert knn.provenance["options"]["max_train_pixels"] == 900
    assert models["naive-prevalence"].record.n_labels_used == 3 * 52 * 52
    with pytest.raises(OptionError, match="--max-train-pixels"):
        StudyOptions(max_train_pixels=0)
