import json
import struct
import subprocess
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex, to_rgba
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from flair_hdbscan import plots
from flair_hdbscan.cli.main import cli
from flair_hdbscan.cli.plot import KINDS
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.experiments import experiment
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.nomenclature import FULL_CLASSES, REDUCED_COLOURS, REDUCED_NAMES
from flair_hdbscan.sentinel import clear_dates
from flair_hdbscan.training import sample_table

OPTIONS = [
    "raw",
    "normalized",
    "normalized-no-intensity",
    "robust",
    "robust-normalized",
    "satellite",
    "satellite-normalized",
    "satellite-robust",
]
NAMES = [
    "naive-uniform",
    "naive-prevalence",
    "knn",
    "knn-normalized",
    "knn-normalized-no-intensity",
    "hdbscan",
    "hdbscan-normalized",
    "knn-robust",
    "hdbscan-robust",
    "knn-robust-normalized",
    "hdbscan-robust-normalized",
    "knn-satellite",
    "hdbscan-satellite",
    "knn-satellite-normalized",
    "hdbscan-satellite-normalized",
    "knn-satellite-robust",
    "hdbscan-satellite-robust",
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def ds(sample_root):
    return FlairDataset.from_root(sample_root, split="train")


@pytest.fixture(scope="session")
def table(ds):
    return sample_table(ds)


@pytest.fixture(scope="session")
def s2_table(ds):
    return sample_table(ds, satellite=True)


def _confusion(seed=0, empty_row=None):
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 500, (13, 13)) + np.diag(rng.integers(500, 5000, 13))
    if empty_row is not None:
        cm[empty_row] = 0
    return cm


def _results(mapping="oracle"):
    experiments = []
    for k, name in enumerate(NAMES):
        method = (
            name if name.startswith("naive") else ("knn" if name.startswith("knn") else "hdbscan")
        )
        experiments.append(
            {
                "name": name,
                "method": method,
                "option": experiment(name).option,
                "protocol": "held-out",
                "features": {},
                "miou": round(0.05 + 0.02 * k, 3),
                "iou": [None] * 13,
                "overall_accuracy": 0.5,
                "confusion_matrix": _confusion(k).tolist(),
                "n_clusters": 7 if method == "hdbscan" else None,
                "mapping": mapping if method == "hdbscan" else None,
            }
        )
    return {"run": {"seed": 0}, "experiments": experiments}


def _png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _images(ax):
    return [a for a in ax.get_children() if isinstance(a, AxesImage)]


# -- pure helpers ------------------------------------------------------------------------------


def test_seed_channels_numbering():
    assert plots.SEED_CHANNELS[1] == "blue"
    assert plots.SEED_CHANNELS[3] == "red"
    assert plots.SEED_CHANNELS[4] == "nir"
    assert plots.SEED_CHANNELS[5] == "s2_b02"
    assert plots.SEED_CHANNELS[14] == "s2_b12"
    assert plots.SEED_CHANNELS[15] == "elevation"
    assert sorted(plots.SEED_CHANNELS) == list(range(1, 16))


def test_resolve_channel_by_number_and_name():
    columns = ["red", "green", "blue", "nir", "elevation", "label"]
    assert plots.resolve_channel(4, columns) == "nir"
    assert plots.resolve_channel("15", columns) == "elevation"
    assert plots.resolve_channel("NIR", columns) == "nir"
    with pytest.raises(OptionError, match="nir") as info:
        plots.resolve_channel("swir", columns)
    assert "label" not in str(info.value).split("use one of")[1].split("(")[0]
    with pytest.raises(OptionError, match=r"1\.\.15"):
        plots.resolve_channel(16, columns)
    # a Sentinel band the table does not hold
    with pytest.raises(OptionError, match="s2_b02"):
        plots.resolve_channel(5, columns)


def test_colourize_uses_flair_colours():
    mask = np.array([[1, 5], [19, 0]], dtype=np.uint8)
    rgb = plots.colourize(mask)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert to_hex(rgb[0, 0] / 255) == FULL_CLASSES[0].colour
    assert to_hex(rgb[0, 1] / 255) == "#1553ae"
    assert to_hex(rgb[1, 0] / 255) == "#000000"
    reduced = plots.colourize(np.array([[12, 2]], dtype=np.uint8), reduced=True)
    assert to_hex(reduced[0, 1] / 255) == REDUCED_COLOURS[2]


def test_row_normalize_without_warnings():
    cm = _confusion(empty_row=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = plots.row_normalize(cm)
    rows = np.delete(np.arange(13), 5)
    np.testing.assert_allclose(out[rows].sum(axis=1), 1.0)
    assert np.isnan(out[5]).all()


def test_normalize_spectra_keeps_elevation():
    frame = pd.DataFrame(
        {"red": [3.0, 0.0], "green": [4.0, 0.0], "elevation": [7.0, 2.0], "label": [1, 2]}
    )
    out = plots.normalize_spectra(frame)
    np.testing.assert_allclose(out[["red", "green"]].to_numpy(), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_array_equal(out["elevation"], [7.0, 2.0])
    np.testing.assert_array_equal(out["label"], [1, 2])


def test_results_table_options():
    frame = plots.results_table(_results()).set_index("name")
    assert frame.loc["knn", "option"] == "raw"
    assert frame.loc["hdbscan-satellite-robust", "option"] == "satellite-robust"
    assert frame.loc["knn-normalized-no-intensity", "option"] == "normalized-no-intensity"
    assert frame.loc["naive-uniform", "option"] == ""


# -- result figures ----------------------------------------------------------------------------


def test_nomenclature_legends():
    fig = plots.plot_nomenclature()
    assert len(fig.axes) == 2
    full, reduced = fig.axes
    assert full.get_title() == "Full nomenclature (19 classes)"
    assert reduced.get_title() == "Reduced nomenclature (13 classes)"
    full_legend, reduced_legend = full.get_legend(), reduced.get_legend()
    assert len(full_legend.get_texts()) == 19
    assert len(reduced_legend.get_texts()) == 13
    assert "building" in full_legend.get_texts()[0].get_text()
    assert "greenhouse" in full_legend.get_texts()[17].get_text()
    assert reduced_legend.get_texts()[-1].get_text().endswith("other")
    colours = [to_hex(h.get_facecolor()) for h in full_legend.legend_handles]
    assert colours == [c.colour for c in FULL_CLASSES]
    colours = [to_hex(h.get_facecolor()) for h in reduced_legend.legend_handles]
    assert colours == list(REDUCED_COLOURS)


def test_confusion_heatmap_rows_and_title():
    cm = _confusion(empty_row=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.plot_confusion(cm, "knn-robust", miou=0.4321)
        fig.canvas.draw()
    ax = fig.axes[0]
    assert "knn-robust" in ax.get_title()
    assert "mIoU 0.432" in ax.get_title()
    (image,) = _images(ax)
    data = image.get_array()
    assert data.shape == (13, 13)
    rows = np.delete(np.arange(13), 5)
    np.testing.assert_allclose(data[rows].sum(axis=1), 1.0)
    assert data.mask[5].all()  # no pixels: drawn empty
    assert [t.get_text() for t in ax.get_xticklabels()] == list(REDUCED_NAMES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(REDUCED_NAMES)


def test_confusion_computes_miou_when_missing():
    cm = _confusion(3)
    fig = plots.plot_confusion(cm, "hdbscan")
    assert f"mIoU {mean_iou(cm):.3f}" in fig.axes[0].get_title()


def test_confusion_draws_into_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    out = plots.plot_confusion(_confusion(), "knn", miou=0.1, ax=right)
    assert out is fig
    assert _images(right) and not _images(left)


def test_results_chart_has_every_experiment():
    results = _results()
    fig = plots.plot_results(results)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]
    lines = [line for line in ax.get_lines() if line.get_gid()]
    drawn = {p.get_gid() for p in bars} | {line.get_gid() for line in lines}
    assert drawn == set(NAMES)
    assert len(bars) == 15 and len(lines) == 2
    miou = {e["name"]: e["miou"] for e in results["experiments"]}
    for bar in bars:
        assert bar.get_height() == pytest.approx(miou[bar.get_gid()])
    for line in lines:
        assert line.get_ydata()[0] == pytest.approx(miou[line.get_gid()])
    assert [t.get_text() for t in ax.get_xticklabels()] == OPTIONS
    # the two bars of a group share its x position
    knn = next(b for b in bars if b.get_gid() == "knn-robust")
    hdb = next(b for b in bars if b.get_gid() == "hdbscan-robust")
    assert OPTIONS.index("robust") == pytest.approx(
        (knn.get_x() + hdb.get_x() + hdb.get_width()) / 2
    )
    assert "oracle" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("naive-uniform" in t for t in legend)


def test_results_chart_title_without_oracle():
    fig = plots.plot_results(_results(mapping=None))
    title = fig.axes[0].get_title()
    assert "oracle" not in title
    assert "held-out" in title


def test_results_chart_skips_undefined_miou():
    results = _results()
    results["experiments"][3]["miou"] = None  # knn-normalized
    fig = plots.plot_results(results)
    gids = {p.get_gid() for p in fig.axes[0].patches if p.get_gid()}
    assert "knn-normalized" not in gids and len(gids) == 14


def test_class_distribution_bars():
    counts = np.arange(1, 14, dtype=np.int64) * 1000
    fig = plots.plot_class_distribution(counts)
    ax = fig.axes[0]
    bars = ax.containers[0]
    assert len(bars) == 13
    np.testing.assert_array_equal([b.get_height() for b in bars], counts)
    assert [to_hex(b.get_facecolor()) for b in bars] == list(REDUCED_COLOURS)
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 13
    assert sum(float(t.rstrip("%")) for t in labels) == pytest.approx(100, abs=0.1)
    assert labels[-1] == f"{13 / 91:.1%}"
    with pytest.raises(ValueError, match="13"):
        plots.plot_class_distribution(counts[:12])


def test_prediction_maps_panels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    truth = rng.integers(0, 13, (64, 48)).astype(np.uint8)
    truth[0, 0] = 255
    pred = np.full((64, 48), 4, dtype=np.uint8)
    fig = plots.plot_prediction_maps(rgb, truth, pred, title="patch 1")
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["RGB", "ground truth", "prediction"]
    shown = _images(fig.axes[2])[0].get_array()
    assert shown.shape == (64, 48, 3)
    assert to_hex(shown[10, 10] / 255) == REDUCED_COLOURS[4]
    clusters = rng.integers(-1, 5, (64, 48)).astype(np.int32)
    fig = plots.plot_prediction_maps(rgb, truth, pred, clusters=clusters)
    assert len(fig.axes) == 4
    assert fig.axes[3].get_title().startswith("clusters (5)")
    cluster_image = _images(fig.axes[3])[0].get_array()
    np.testing.assert_array_equal(cluster_image[clusters == -1], 0.0)
    with pytest.raises(ValueError, match="maps must all be"):
        plots.plot_prediction_maps(rgb, truth[:10], pred)


def test_save_figure_png_svg_and_bad_suffix(tmp_path):
    fig = plt.figure(figsize=(4, 3))
    out = plots.save_figure(fig, tmp_path / "f.png", dpi=50)
    assert _png_size(out) == (200, 150)
    assert not plt.fignum_exists(fig.number)
    svg = plots.save_figure(plt.figure(), tmp_path / "f.SVG")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(OptionError, match=r"\.png or \.svg"):
        plots.save_figure(plt.figure(), tmp_path / "f.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.SVG", "f.png"]


# -- data figures ------------------------------------------------------------------------------


def test_pixel_table_matches_stride_sample(ds, table):
    assert list(table.columns) == ["red", "green", "blue", "nir", "elevation", "label"]
    labels = np.concatenate([ds.read_labels(i)[::10, ::10].ravel() for i in range(len(ds))])
    assert len(table) == np.count_nonzero(labels < 12)
    assert table["label"].max() < 12
    assert table[["red", "nir", "elevation"]].to_numpy().max() <= 1.0
    first = ds.read_image(0)[:, 0, 0] / 255
    if ds.read_labels(0)[0, 0] < 12:
        np.testing.assert_allclose(table.iloc[0, :5].to_numpy(dtype=float), first, rtol=1e-6)


def test_pixel_table_with_sentinel_bands(ds, table, s2_table):
    assert list(s2_table.columns) == [*plots.PIXEL_COLUMNS, "label"]
    pd.testing.assert_frame_equal(s2_table[table.columns], table)
    # reflectance / 10000, as the study's features: the composite under the first pixel
    from flair_hdbscan.pixels import SentinelOptions, sentinel_grid

    grid = sentinel_grid(ds, 0, SentinelOptions())
    if ds.read_labels(0)[0, 0] < 12:
        np.testing.assert_allclose(
            s2_table.iloc[0][[f"s2_{b.lower()}" for b in ("B02", "B08", "B12")]].to_numpy(float),
            grid[[0, 6, 9], 0, 0] / 10000,
            rtol=1e-6,
        )
    assert 0 < s2_table["s2_b08"].median() < 1


def test_needs_sentinel_by_name_and_number():
    assert not plots.needs_sentinel("nir", 4, 15, "elevation")
    assert (
        plots.needs_sentinel(7) and plots.needs_sentinel("s2_b04") and plots.needs_sentinel(1, 14)
    )
    with pytest.raises(OptionError, match="s2_b02"):
        plots.needs_sentinel("swir")


def test_samples_rows_and_footprint(ds):
    size = 40
    fig = plots.plot_samples(ds, indices=[0, 1], size=size)
    assert len(fig.axes) == 12
    row = fig.axes[:6]
    assert row[0].get_title() == f"IMG_{ds.patches[0].patch_id} RGB"
    assert all(ax.get_title() for ax in fig.axes)
    rgb = _images(row[0])[0].get_array()
    assert rgb.shape == (512, 512, 3)
    np.testing.assert_array_equal(rgb, np.moveaxis(ds.read_image(0)[:3], 0, -1))
    assert _images(row[1])[0].get_array().shape == (512, 512, 3)
    assert len(_images(row[2])) == 2  # RGB under the mask
    # super area: a size × size rectangle around the centroid
    (area_rect,) = [p for p in row[3].patches if isinstance(p, Rectangle)]
    assert area_rect.get_width() == size
    c_row, c_col = ds.patches[0].centroid
    assert area_rect.get_x() + size / 2 == pytest.approx(c_col)
    assert area_rect.get_y() + size / 2 == pytest.approx(c_row)
    # super patch: the aerial footprint, 10.24 Sentinel pixels centred on size // 2
    assert _images(row[4])[0].get_array().shape == (size, size, 3)
    (foot,) = [p for p in row[4].patches if isinstance(p, Rectangle)]
    assert foot.get_width() == pytest.approx(10.24)
    assert foot.get_height() == pytest.approx(10.24)
    assert foot.get_x() + foot.get_width() / 2 == pytest.approx(size // 2)
    assert foot.get_y() + foot.get_height() / 2 == pytest.approx(size // 2)
    # patch: limited to the footprint
    assert row[5].get_xlim()[1] - row[5].get_xlim()[0] == pytest.approx(10.24)
    assert _images(row[5])[0].get_array().shape[:2] == (12, 12)
    # a legend names exactly the classes of the drawn masks, in their colours
    values = sorted(set(np.unique(ds.read_mask(0))) | set(np.unique(ds.read_mask(1))))
    _assert_class_legend(fig, values)


def test_samples_odd_size_footprint_on_the_centroid_pixel_corner(ds):
    size = 41
    fig = plots.plot_samples(ds, indices=[0], size=size)
    (foot,) = [p for p in fig.axes[4].patches if isinstance(p, Rectangle)]
    assert foot.get_x() + foot.get_width() / 2 == pytest.approx(20)
    assert _images(fig.axes[4])[0].get_array().shape == (size, size, 3)


def test_samples_random_choice_is_seeded(ds):
    titles = lambda fig: [ax.get_title() for ax in fig.axes[::6]]  # noqa: E731
    a = titles(plots.plot_samples(ds, n=2, seed=1))
    assert a == titles(plots.plot_samples(ds, n=2, seed=1))
    assert len(a) == 2 and len(set(a)) == 2
    with pytest.raises(OptionError, match="out of range"):
        plots.plot_samples(ds, indices=[len(ds)])


def test_time_series_grid_and_note(ds):
    areas = {p.sen_data: p for p in ds.patches}
    fig = plots.plot_time_series(ds, n_areas=1, n_dates=2, area_threshold=1.01)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(_images(ax)) == 1
        assert len(ax.get_title()) == 10 and ax.get_title()[4] == "-"  # YYYY-MM-DD
    # more dates than any area has: the rest of each row stays off, with a note
    n_dates = max(np.load(p, mmap_mode="r").shape[0] for p in areas) + 1
    fig = plots.plot_time_series(ds, n_areas=len(areas), n_dates=n_dates)
    assert len(fig.axes) == len(areas) * n_dates
    notes = []
    for r in range(len(areas)):
        row = fig.axes[r * n_dates : (r + 1) * n_dates]
        shown = sum(len(_images(ax)) for ax in row)
        assert all(not ax.axison for ax in row[shown:])
        (note,) = row[shown].texts
        assert note.get_text().startswith(f"{shown} clear date")
        notes.append(shown)
    expected = sorted(
        int(clear_dates(np.load(p.sen_masks), area_threshold=0.2, proba_threshold=20).sum())
        for p in areas.values()
    )
    assert sorted(notes) == expected


def _assert_class_legend(fig, values):
    """The figure's one legend lists the full-nomenclature classes ``values`` in colour."""
    (legend,) = fig.legends
    by_value = {c.value: c for c in FULL_CLASSES}
    assert [t.get_text() for t in legend.get_texts()] == [f"{v} {by_value[v].name}" for v in values]
    for handle, v in zip(legend.legend_handles, values, strict=True):
        assert to_hex(handle.get_facecolor()) == by_value[v].colour


def test_share_label_never_rounds_a_present_class_to_zero():
    assert plots.share_label(0, 262144) == "0 %"
    assert plots.share_label(1, 262144) == "<0.01 %"
    assert plots.share_label(100, 262144) == "0.038 %"
    assert plots.share_label(1000, 262144) == "0.38 %"
    assert plots.share_label(26214, 262144) == "10 %"
    assert plots.share_label(262144, 262144) == "100 %"
    with pytest.raises(ValueError):
        plots.share_label(3, 2)


def test_class_patches_highlight(ds):
    masks = [ds.read_mask(i) for i in range(len(ds))]
    value = int(np.bincount(np.concatenate([m.ravel() for m in masks])).argmax())
    holding = [i for i, m in enumerate(masks) if (m == value).any()]
    fig = plots.plot_class_patches(ds, semantic_class=value)
    panels = [ax for ax in fig.axes if _images(ax)]
    assert len(panels) == len(holding)
    first = holding[0]
    assert panels[0].get_title().startswith(f"IMG_{ds.patches[first].patch_id}")
    for ax, i in zip(panels, holding, strict=True):
        count = int((masks[i] == value).sum())
        assert ax.get_title().endswith(f"({count:,} px)")
        assert ": 0 %" not in ax.get_title()
    _assert_class_legend(fig, [value])
    shown = _images(panels[0])[0].get_array()
    assert shown.shape == (512, 512, 3)
    inside = masks[first] == value
    original = np.moveaxis(ds.read_image(first)[:3], 0, -1)
    np.testing.assert_array_equal(shown[~inside], original[~inside])
    assert not np.array_equal(shown[inside], original[inside])
    fig = plots.plot_class_patches(ds, semantic_class=value, max_patches=1)
    assert sum(bool(_images(ax)) for ax in fig.axes) == 1
    with pytest.raises(OptionError, match=r"1\.\.19"):
        plots.plot_class_patches(ds, semantic_class=20)


def test_class_patches_min_pixels(ds):
    masks = [ds.read_mask(i) for i in range(len(ds))]
    # the class whose smallest non-zero count in a patch is smallest
    counts = {v: sorted(int((m == v).sum()) for m in masks if (m == v).any()) for v in range(1, 20)}
    value = min((c[0], v) for v, c in counts.items() if c)[1]
    least = counts[value][0]
    fig = plots.plot_class_patches(ds, semantic_class=value)
    assert sum(bool(_images(ax)) for ax in fig.axes) == len(counts[value])
    fig = plots.plot_class_patches(ds, semantic_class=value, min_pixels=least + 1)
    assert sum(bool(_images(ax)) for ax in fig.axes) == len(counts[value]) - counts[value].count(
        least
    )
    with pytest.raises(OptionError, match="min_pixels"):
        plots.plot_class_patches(ds, semantic_class=value, min_pixels=0)


def test_class_patches_absent_class_note(ds):
    masks = np.concatenate([ds.read_mask(i).ravel() for i in range(len(ds))])
    absent = [v for v in range(1, 20) if not (masks == v).any()]
    if not absent:
        pytest.skip("the sample holds every class")
    fig = plots.plot_class_patches(ds, semantic_class=absent[0])
    assert not any(_images(ax) for ax in fig.axes)
    assert "no patch holds class" in fig.axes[0].texts[0].get_text()


def test_all_patches_pairs(ds):
    fig = plots.plot_all_patches(ds)
    panels = [ax for ax in fig.axes if _images(ax)]
    assert len(panels) == 2 * len(ds)
    assert panels[1].get_title() == f"MSK_{ds.patches[0].patch_id}"
    mask_rgb = _images(panels[1])[0].get_array()
    np.testing.assert_array_equal(mask_rgb, plots.colourize(ds.read_mask(0)))
    values = sorted(set().union(*(np.unique(ds.read_mask(i)).tolist() for i in range(len(ds)))))
    _assert_class_legend(fig, values)
    fig = plots.plot_all_patches(ds, max_patches=1)
    assert sum(bool(_images(ax)) for ax in fig.axes) == 2
    _assert_class_legend(fig, sorted(np.unique(ds.read_mask(0)).tolist()))


def test_channel_by_class_boxes(table):
    fig = plots.plot_channel_by_class(table, 4)
    ax = fig.axes[0]
    present = sorted(table["label"].unique())
    assert len(ax.patches) == len(present)  # one filled box per class
    assert [t.get_text() for t in ax.get_xticklabels()] == [REDUCED_NAMES[k] for k in present]
    assert ax.get_ylabel() == "nir (value / 255)"
    assert to_rgba(ax.patches[0].get_facecolor())[:3] == pytest.approx(
        to_rgba(REDUCED_COLOURS[present[0]])[:3]
    )
    with pytest.raises(OptionError, match="red, green, blue, nir, elevation"):
        plots.plot_channel_by_class(table, "swir")


def _medians(ax):
    """The y value of each box's median line."""
    return [line.get_ydata()[0] for line in ax.lines if line.get_color() == "tab:orange"]


@pytest.mark.parametrize("channel", ["elevation", 15, "15"])
def test_channel_by_class_elevation_in_metres(table, channel):
    fig = plots.plot_channel_by_class(table, channel)
    ax = fig.axes[0]
    assert ax.get_title() == "elevation by class"
    assert ax.get_ylabel() == "elevation (m)"
    present = sorted(table["label"].unique())
    stored = table["elevation"].to_numpy() * 255  # the stored uint8 value
    expected = [np.median(stored[table["label"].to_numpy() == k]) / 5 for k in present]
    np.testing.assert_allclose(_medians(ax), expected, rtol=1e-5)


@pytest.mark.parametrize("channel", [7, "7", "s2_b04", "S2_B04"])
def test_channel_by_class_sentinel_band(s2_table, channel):
    fig = plots.plot_channel_by_class(s2_table, channel)
    ax = fig.axes[0]
    assert ax.get_title() == "s2_b04 by class"
    assert ax.get_ylabel() == "s2_b04 (reflectance)"
    present = sorted(s2_table["label"].unique())
    values = s2_table["s2_b04"].to_numpy()
    expected = [np.median(values[s2_table["label"].to_numpy() == k]) for k in present]
    np.testing.assert_allclose(_medians(ax), expected, rtol=1e-5)


def test_normalization_scatter_panels(table):
    max_points = min(500, len(table) - 1)
    fig = plots.plot_normalization_scatter(table, 2, 3, max_points=max_points)
    raw, norm = fig.axes
    assert raw.get_title() == "raw" and norm.get_title().startswith("normalised")
    assert raw.get_xlabel() == "green (value / 255)" and raw.get_ylabel() == "red (value / 255)"
    assert norm.get_xlabel() == "green (normalised)"
    n_raw = sum(len(c.get_offsets()) for c in raw.collections)
    assert n_raw == max_points
    points = np.concatenate([c.get_offsets() for c in norm.collections])
    assert np.hypot(points[:, 0], points[:, 1]).max() <= 1.0 + 1e-6
    (legend,) = fig.legends
    shown_classes = {t.get_text() for t in legend.get_texts()}
    assert len(shown_classes) == len(raw.collections)
    assert shown_classes <= set(REDUCED_NAMES[:12])


def test_normalization_scatter_elevation_in_metres(table):
    fig = plots.plot_normalization_scatter(table, "nir", 15, max_points=len(table))
    raw, norm = fig.axes
    assert raw.get_ylabel() == "elevation (m)" and norm.get_ylabel() == "elevation (m)"
    for ax in (raw, norm):  # elevation is not spectral: metres in both panels
        heights = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
        expected = np.sort(table["elevation"].to_numpy() * 255 / 5)
        np.testing.assert_allclose(np.sort(heights), expected, rtol=1e-5)


# -- command line ------------------------------------------------------------------------------


def test_cli_nomenclature_png_size(tmp_path):
    out = tmp_path / "nomenclature.png"
    result = CliRunner().invoke(cli, ["plot", "nomenclature", "--out", str(out), "--dpi", "50"])
    assert result.exit_code == 0, result.output
    assert _png_size(out) == (450, 275)  # 9 × 5.5 inches at 50 dpi


def test_cli_refuses_unknown_suffix_and_kind(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["plot", "nomenclature", "--out", str(tmp_path / "x.jpg")])
    assert result.exit_code == 2
    assert ".png or .svg" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(cli, ["plot", "histogram", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "normalization-scatter" in result.output
    assert not list(tmp_path.iterdir())


def test_cli_results_and_confusion(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results()))
    runner = CliRunner()
    out = tmp_path / "results.svg"
    result = runner.invoke(cli, ["plot", "results", "--results", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "hdbscan-satellite-robust" in out.read_text()  # gids end up in the SVG
    out = tmp_path / "cm.png"
    args = ["plot", "confusion", "--results", str(path), "--out", str(out)]
    result = runner.invoke(cli, [*args, "--experiment", "knn-robust"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    result = runner.invoke(cli, [*args, "--experiment", "nope"])
    assert result.exit_code == 2 and "knn-robust" in result.output
    result = runner.invoke(cli, ["plot", "results", "--out", str(out)])
    assert result.exit_code == 2 and "--results" in result.output


def test_cli_data_kinds(sample_root, tmp_path):
    runner = CliRunner()
    for kind, extra in (
        ("channel-by-class", ["--channel", "4"]),
        ("channel-by-class", ["--channel", "7"]),
        ("channel-by-class", ["--channel", "s2_b11"]),
        ("normalization-scatter", ["--channel1", "5", "--channel2", "15"]),
        ("class-distribution", []),
        ("samples", ["--n", "1"]),
    ):
        out = tmp_path / f"{kind}-{'-'.join(extra)}.png"
        result = runner.invoke(cli, ["plot", kind, str(sample_root), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        assert _png_size(out)[0] > 100
    result = runner.invoke(
        cli,
        [
            "plot",
            "channel-by-class",
            str(sample_root),
            "--channel",
            "swir",
            "--out",
            str(tmp_path / "bad.png"),
        ],
    )
    assert result.exit_code == 2 and "nir" in result.output


def test_cli_kinds_cover_the_study():
    assert set(KINDS) == {
        "nomenclature",
        "samples",
        "time-series",
        "class-patches",
        "all-patches",
        "class-distribution",
        "channel-by-class",
        "normalization-scatter",
        "confusion",
        "results",
    }


def test_cli_subprocess(sample_root, tmp_path):
    out = tmp_path / "all.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from flair_hdbscan.cli.main import cli; cli()",
            "plot",
            "all-patches",
            "--data",
            str(sample_root),
            "--max-patches",
            "2",
            "--dpi",
            "40",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    width, height = _png_size(out)
    assert (width, height) == (int(2.2 * 4 * 40), int(2.2 * 40))
