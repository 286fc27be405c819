import datetime
import logging

import numpy as np
import pytest

from flair_hdbscan import sentinel
from flair_hdbscan.errors import DataError, OptionError


def test_bands_blue_first():
    assert sentinel.S2_BANDS[0] == "B02"
    assert sentinel.S2_BANDS[7] == "B8A"
    assert len(sentinel.S2_BANDS) == 10


def test_product_date():
    name = "S2A_MSIL2A_20210415T105021_N0300_R051_T31TFJ_20210415T140000"
    assert sentinel.product_date(name) == datetime.date(2021, 4, 15)


@pytest.mark.parametrize("bad", ["S2A_MSIL2A_2021x415T1", "short", "S2A_MSIL2A_20211345T105021"])
def test_product_date_rejects(bad):
    with pytest.raises(DataError, match=bad[:10]):
        sentinel.product_date(bad)


def test_read_products_skips_blank_lines(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text(
        "S2A_MSIL2A_20210105T105021_x\n\n  \nS2B_MSIL2A_20211231T105021_y\n", encoding="utf-8"
    )
    assert sentinel.read_products(path) == [datetime.date(2021, 1, 5), datetime.date(2021, 12, 31)]


def test_read_products_names_file_and_line(tmp_path):
    path = tmp_path / "SEN2_sp_D1-Z1_products.txt"
    path.write_text("S2A_MSIL2A_20210105T105021_x\n\nS2A_MSIL2A_garbage\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        sentinel.read_products(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert "\n" not in message


def test_read_products_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.txt"):
        sentinel.read_products(tmp_path / "nope.txt")


def _masks(snow_pixels, cloud_pixels, value=100, side=10):
    """(T, 2, side, side) with the first n pixels (flat order) of each channel at `value`."""
    t = len(snow_pixels)
    masks = np.zeros((t, 2, side * side), dtype=np.uint8)
    for i, (s, c) in enumerate(zip(snow_pixels, cloud_pixels, strict=True)):
        masks[i, 0, :s] = value
        masks[i, 1, :c] = value
    return masks.reshape(t, 2, side, side)


def test_clear_dates_training_thresholds():
    # cover = (snow + cloud) / 100 pixels; kept iff cover < 0.5
    masks = _masks([0, 49, 25, 30, 0], [0, 0, 25, 30, 50])
    expected = [True, True, False, False, False]
    assert sentinel.clear_dates(masks).tolist() == expected
    assert sentinel.clear_dates(masks, area_threshold=0.5, proba_threshold=60).tolist() == expected


def test_clear_dates_probability_threshold():
    # probability 40 counts for p=20 but not p=60
    masks = _masks([0, 0], [30, 10], value=40)
    assert sentinel.clear_dates(masks).tolist() == [True, True]
    assert sentinel.clear_dates(masks, area_threshold=0.2, proba_threshold=20).tolist() == [
        False,
        True,
    ]
    # exactly at the probability threshold counts
    at = _masks([0], [60], value=60)
    assert sentinel.clear_dates(at).tolist() == [False]
    # exactly at the area threshold drops
    edge = _masks([0], [20], value=100)
    assert sentinel.clear_dates(edge, area_threshold=0.2, proba_threshold=20).tolist() == [False]


def test_clear_dates_rejects_wrong_shape():
    with pytest.raises(ValueError, match="T, 2"):
        sentinel.clear_dates(np.zeros((3, 1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="valid"):
        sentinel.clear_dates(np.zeros((3, 2, 4, 4), dtype=np.uint8), valid=np.ones((4, 5), bool))


def test_clear_dates_counts_valid_pixels_only():
    # 4 x 4 crop whose two bottom rows lie outside the super area (edge-padded copies).
    masks = np.zeros((2, 2, 4, 4), dtype=np.uint8)
    valid = np.zeros((4, 4), dtype=bool)
    valid[:2] = True
    masks[0, 1, 0, :] = 100  # date 0: 4 of 8 valid pixels cloudy (0.5), padding clear
    masks[1, 1, 3, :] = 100  # date 1: only padded pixels cloudy
    # over all 16 pixels both dates look 25 % cloudy and are kept
    assert sentinel.clear_dates(masks).tolist() == [True, True]
    # over the 8 pixels of the super area, date 0 is 50 % cloudy: dropped
    assert sentinel.clear_dates(masks, valid=valid).tolist() == [False, True]


def test_clear_dates_on_a_border_crop_equals_the_plain_slice():
    # The reference crops with a plain slice, which keeps only the pixels inside the area.
    rng = np.random.default_rng(0)
    area = (rng.random((30, 2, 9, 11)) < 0.3).astype(np.uint8) * 80
    for centroid in [(2, 5), (8, 10), (0, 0), (4, 5)]:
        crop, valid = sentinel.crop(area, centroid, 8)
        r0, c0 = max(centroid[0] - 4, 0), max(centroid[1] - 4, 0)
        plain = area[:, :, r0 : centroid[0] + 4, c0 : centroid[1] + 4]
        for thresholds in ({}, {"area_threshold": 0.2, "proba_threshold": 20}):
            np.testing.assert_array_equal(
                sentinel.clear_dates(crop, valid=valid, **thresholds),
                sentinel.clear_dates(plain, **thresholds),
            )


def test_clear_dates_without_valid_pixel_keeps_nothing():
    masks = np.zeros((3, 2, 4, 4), dtype=np.uint8)
    assert not sentinel.clear_dates(masks, valid=np.zeros((4, 4), bool)).any()


def _area(t=2, c=3, h=6, w=7):
    return np.arange(t * c * h * w, dtype=np.uint16).reshape(t, c, h, w)


def test_crop_inside():
    area = _area()
    patch, valid = sentinel.crop(area, (3, 3), 4)
    np.testing.assert_array_equal(patch, area[:, :, 1:5, 1:5])
    assert valid.all()
    assert patch.dtype == np.uint16
    patch[0, 0, 0, 0] = 999
    assert area[0, 0, 1, 1] != 999  # a copy


def test_crop_border_edge_padded():
    area = _area()  # H=6, W=7
    patch, valid = sentinel.crop(area, (1, 6), 6)  # rows -2..3, cols 3..8
    assert patch.shape == (2, 3, 6, 6)
    assert valid.shape == (6, 6)
    expected = np.pad(area[:, :, 0:4, 3:7], ((0, 0), (0, 0), (2, 0), (0, 2)), mode="edge")
    np.testing.assert_array_equal(patch, expected)
    assert not valid[:2].any()
    assert not valid[:, 4:].any()
    assert valid[2:, :4].all()
    assert valid.sum() == 4 * 4


def test_crop_odd_size_and_memmap(tmp_path):
    area = _area()
    np.save(tmp_path / "a.npy", area)
    mm = np.load(tmp_path / "a.npy", mmap_mode="r")
    patch, valid = sentinel.crop(mm, (2, 2), 3)  # rows 1..3
    np.testing.assert_array_equal(patch, area[:, :, 1:4, 1:4])
    assert isinstance(patch, np.ndarray) and not isinstance(patch, np.memmap)
    assert valid.all()


def test_footprint_centred_10_24_wide():
    row0, col0, row1, col1 = sentinel.footprint(40)
    assert row1 - row0 == pytest.approx(10.24)
    assert col1 - col0 == pytest.approx(10.24)
    assert (row0 + row1) / 2 == pytest.approx(20.0)
    assert row0 == pytest.approx(14.88)


@pytest.mark.parametrize("size", [11, 39, 40, 41, 112])
def test_footprint_centred_on_the_centroid_corner_of_the_crop(size):
    # crop() puts the centroid's pixel at index size // 2 for odd sizes too; the aerial
    # centre is that pixel's top-left corner.
    area = np.arange(200 * 200).reshape(1, 1, 200, 200)
    patch, _ = sentinel.crop(area, (100, 90), size)
    k = size // 2
    assert patch[0, 0, k, k] == area[0, 0, 100, 90]
    row0, col0, row1, col1 = sentinel.footprint(size)
    assert (row0 + row1) / 2 == pytest.approx(k)
    assert (col0 + col1) / 2 == pytest.approx(k)
    assert row1 - row0 == pytest.approx(10.24)


def test_to_aerial_grid_nearest_ramp():
    size = 40
    ramp = np.broadcast_to(np.arange(size, dtype=np.float32)[:, None], (size, size))
    image = np.stack([ramp, ramp.T])
    out = sentinel.to_aerial_grid(image, size)
    assert out.shape == (2, 512, 512)
    assert out.dtype == np.float32
    # row of aerial pixel i: 14.88 + (i + 0.5) * 0.02 -> floor
    rows = np.floor(14.88 + (np.arange(512) + 0.5) * 0.02)
    np.testing.assert_array_equal(out[0, :, 0], rows)
    np.testing.assert_array_equal(out[1, 0, :], rows)
    assert out[0, 0, 0] == 14 and out[0, -1, 0] == 25
    # pixel 5 is at 14.99 (still 14), pixel 6 at 15.01 (15)
    assert out[0, 5, 0] == 14 and out[0, 6, 0] == 15


def test_to_aerial_grid_bilinear_ramp():
    size = 40
    # value = pixel centre coordinate: bilinear interpolation reproduces the position
    ramp = np.broadcast_to((np.arange(size, dtype=np.float32) + 0.5)[:, None], (size, size))
    out = sentinel.to_aerial_grid(ramp[None], size, method="bilinear")
    expected = 14.88 + (np.arange(512) + 0.5) * 0.02
    np.testing.assert_allclose(out[0, :, 7], expected, atol=1e-4)
    np.testing.assert_allclose(out[0, 100, :], expected[100], atol=1e-4)


def test_to_aerial_grid_bilinear_separable():
    size = 4
    image = np.zeros((1, size, size), dtype=np.float32)
    image[0, 1, 1] = 1.0
    out = sentinel.to_aerial_grid(
        image,
        size,
        method="bilinear",
        aerial_pixels=1,
        aerial_resolution=0.2,
        sentinel_resolution=10.0,
    )
    # one aerial pixel at (2.0, 2.0): halfway between centres 1.5 and 2.5 in both axes
    assert out[0, 0, 0] == pytest.approx(0.25)


def test_to_aerial_grid_rejects():
    with pytest.raises(OptionError, match="cubic"):
        sentinel.to_aerial_grid(np.zeros((1, 4, 4)), 4, method="cubic")
    with pytest.raises(ValueError, match="C, 5, 5"):
        sentinel.to_aerial_grid(np.zeros((1, 4, 4)), 5)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_to_aerial_grid_reads_only_its_window_and_a_stride_keeps_the_full_values(method):
    size = 40
    image = np.random.default_rng(0).random((2, size, size), dtype=np.float32)
    full = sentinel.to_aerial_grid(image, size, method=method)
    window = sentinel.grid_window(size, method=method)
    assert 0 < window.start < window.stop < size and window.stop - window.start in (11, 12, 13)
    outside = np.full_like(image, np.nan)
    outside[:, window, window] = image[:, window, window]
    np.testing.assert_array_equal(sentinel.to_aerial_grid(outside, size, method=method), full)
    inner = np.full_like(image, np.nan)  # one row less: the grid reads it
    inner[:, window.start + 1 : window.stop, window] = image[
        :, window.start + 1 : window.stop, window
    ]
    assert np.isnan(sentinel.to_aerial_grid(inner, size, method=method)).any()
    for stride in (2, 7, 10):
        got = sentinel.to_aerial_grid(image, size, method=method, stride=stride)
        np.testing.assert_array_equal(got, full[:, ::stride, ::stride])


def test_median_composite_in_a_window_is_the_full_composite_there():
    rng = np.random.default_rng(1)
    t, s = 7, 12
    data = rng.integers(0, 10000, size=(t, 10, s, s), dtype=np.uint16)
    masks = rng.integers(0, 60, size=(t, 2, s, s), dtype=np.uint8)  # clear
    masks[2, 1, :6] = 100  # date 2 is cloudy over half the crop, none of it in the window
    full = sentinel.median_composite(data, masks)
    window = slice(7, 11)
    part = sentinel.median_composite(data, masks, window=window)
    np.testing.assert_array_equal(part[:, window, window], full[:, window, window])
    outside = np.ones((s, s), dtype=bool)
    outside[window, window] = False
    assert np.isnan(part[:, outside]).all()
    # the dates are chosen over the whole crop, not the window
    kept = sentinel.clear_dates(masks)
    assert not kept[2] and kept.sum() == t - 1
    expected = np.median(data[kept][:, :, window, window].astype(np.float32), axis=0)
    np.testing.assert_array_equal(part[:, window, window], expected)


def test_median_composite_ignores_cloudy_dates():
    t, s = 4, 3
    data = np.zeros((t, 10, s, s), dtype=np.uint16)
    data[0], data[1], data[2], data[3] = 100, 200, 60000, 300
    masks = np.zeros((t, 2, s, s), dtype=np.uint8)
    masks[2, 1] = 90  # date 2 cloudy
    out = sentinel.median_composite(data, masks)
    assert out.shape == (10, s, s)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 200.0)  # median of 100, 200, 300


def test_median_composite_filters_over_valid_pixels():
    t, s = 3, 4
    data = np.stack([np.full((10, s, s), v, dtype=np.uint16) for v in (100, 5000, 300)])
    masks = np.zeros((t, 2, s, s), dtype=np.uint8)
    masks[1, 1, 0] = 100  # date 1: 4 cloudy pixels, all inside the area
    valid = np.zeros((s, s), dtype=bool)
    valid[:2] = True  # 8 pixels inside: date 1 is 50 % cloudy there, 25 % over the crop
    np.testing.assert_array_equal(sentinel.median_composite(data, masks), 300.0)
    np.testing.assert_array_equal(sentinel.median_composite(data, masks, valid=valid), 200.0)


def test_median_composite_all_cloudy_uses_all(caplog):
    data = np.stack([np.full((10, 2, 2), v, dtype=np.uint16) for v in (1, 2, 9)])
    masks = np.full((3, 2, 2, 2), 100, dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger="flair_hdbscan.sentinel"):
        out = sentinel.median_composite(data, masks)
    np.testing.assert_array_equal(out, 2.0)
    assert "no clear date" in caplog.text
