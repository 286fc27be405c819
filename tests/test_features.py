import numpy as np
import pytest

from flair_hdbscan.errors import OptionError
from flair_hdbscan.features import (
    AERIAL_COLUMNS,
    S2_COLUMNS,
    FeatureSpec,
    feature_table,
    pack_aerial,
)


def test_columns_in_order():
    assert FeatureSpec().columns == AERIAL_COLUMNS
    spec = FeatureSpec(use_satellite=True, scale_by_intensity=True, append_intensity=True)
    assert spec.columns == (*AERIAL_COLUMNS, *S2_COLUMNS, "intensity")
    assert S2_COLUMNS[0] == "s2_b02" and S2_COLUMNS[-1] == "s2_b12" and "s2_b8a" in S2_COLUMNS


def test_raw_scale_is_value_over_255_elevation_as_stored():
    aerial = np.array([[255, 0, 51, 102, 50]], dtype=np.uint8)  # elevation 50 = 10 m
    table = feature_table(aerial, None, FeatureSpec())
    np.testing.assert_allclose(table[0], [1.0, 0.0, 0.2, 0.4, 50 / 255], rtol=1e-6)
    assert table.dtype == np.float32 and table.flags.c_contiguous


def test_sentinel_on_aerial_scale():
    aerial = np.zeros((1, 5), dtype=np.uint8)
    s2 = np.full((1, 10), 10000.0, dtype=np.float32)
    table = feature_table(aerial, s2, FeatureSpec(use_satellite=True))
    np.testing.assert_allclose(table[0, 5:], 1.0)  # reflectance 10000 weighs as aerial 255


def test_scale_by_intensity_leaves_elevation_untouched():
    aerial = np.array([[30, 40, 0, 0, 200]], dtype=np.uint8)
    table = feature_table(aerial, None, FeatureSpec(scale_by_intensity=True, append_intensity=True))
    np.testing.assert_allclose(table[0, :4], [0.6, 0.8, 0.0, 0.0], rtol=1e-6)
    assert table[0, 4] == pytest.approx(200 / 255)
    assert table[0, 5] == pytest.approx(50 / 255)  # intensity = |(30, 40)| / 255


def test_intensity_without_scaling_and_dark_pixel():
    aerial = np.array([[0, 0, 0, 0, 7], [3, 4, 0, 0, 0]], dtype=np.uint8)
    table = feature_table(aerial, None, FeatureSpec(scale_by_intensity=True, append_intensity=True))
    np.testing.assert_array_equal(table[0, :4], 0.0)  # no division by zero
    assert np.isfinite(table).all()
    t2 = feature_table(aerial, None, FeatureSpec(append_intensity=True))
    np.testing.assert_allclose(t2[1], [3 / 255, 4 / 255, 0, 0, 0, 5 / 255], rtol=1e-6)


def test_normalisation_includes_sentinel_columns():
    aerial = np.array([[0, 0, 0, 0, 0]], dtype=np.uint8)
    s2 = np.zeros((1, 10), dtype=np.float32)
    s2[0, 0] = 3000
    s2[0, 1] = 4000
    t = feature_table(aerial, s2, FeatureSpec(use_satellite=True, scale_by_intensity=True))
    np.testing.assert_allclose(t[0, 5:7], [0.6, 0.8], rtol=1e-6)


def test_missing_sentinel_is_an_option_error():
    with pytest.raises(OptionError, match="Sentinel-2"):
        feature_table(np.zeros((2, 5), np.uint8), None, FeatureSpec(use_satellite=True))


def test_pack_aerial_is_injective_on_values():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (5000, 5)).astype(np.uint8)
    keys = pack_aerial(a)
    assert len(np.unique(keys)) == len(np.unique(a, axis=0))
    assert pack_aerial(np.array([[255] * 5], np.uint8))[0] == 2**40 - 1
