import json
import pickle

import numpy as np
import pytest
import rasterio

from flair_hdbscan import summary as summary_mod
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.discovery import find_split, split_from_config
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.nomenclature import to_reduced
from flair_hdbscan.provenance import data_digest
from flair_tree import (
    PATCHES,
    expected_clear,
    make_tree,
    write_config,
    write_tif,
)

IDS = sorted(p.patch_id for p in PATCHES)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="module")
def ds(tree):
    return FlairDataset.from_root(tree.root)


def test_find_split_full(tree):
    paths = find_split(tree.root)
    assert paths.aerial == tree.aerial
    assert paths.sen == tree.sen
    assert paths.labels == tree.labels
    assert paths.centroids == tree.centroids
    assert paths.metadata == tree.metadata


@pytest.mark.parametrize("inside", [False, True])
def test_find_split_toy(tmp_path, inside):
    tree = make_tree(tmp_path, layout="toy", patches=PATCHES[:2])
    root = tmp_path / "flair_2_toy_dataset" if inside else tmp_path
    paths = find_split(root)
    assert paths.aerial == tree.aerial
    assert paths.aerial.name == "flair_2_toy_aerial_train"
    assert paths.centroids == tree.centroids
    ds = FlairDataset(paths)
    assert [p.patch_id for p in ds.patches] == sorted(p.patch_id for p in PATCHES[:2])


def test_find_split_test_split_and_no_labels(tmp_path):
    tree = make_tree(tmp_path, split="test", labels=False, patches=PATCHES[:1])
    paths = find_split(tmp_path, "test")
    assert paths.aerial.name == "flair_2_aerial_test"
    assert paths.labels is None
    ds = FlairDataset(paths)
    assert not ds.has_labels
    sample = ds[0]
    assert sample["mask"] is None and sample["labels"] is None
    np.testing.assert_array_equal(sample["image"], tree.images[PATCHES[0].patch_id])
    with pytest.raises(DataError, match="no labels"):
        ds.read_mask(0)
    with pytest.raises(DataError, match="path_labels_test"):
        summary_mod.class_distribution(ds)


def test_find_split_nothing_there(tmp_path):
    with pytest.raises(DataError) as info:
        find_split(tmp_path)
    message = str(info.value)
    assert "flair_aerial_train" in message and "flair_2_toy_aerial_train" in message
    assert "--data" in message


def test_find_split_unknown_split(tree):
    with pytest.raises(OptionError, match="val"):
        find_split(tree.root, "val")


def test_config_and_discovery_agree(tree, tmp_path):
    config = write_config(tree, tmp_path / "conf" / "flair.yml")
    text = config.read_text()
    assert "../" in text  # relative paths, read from the config's folder
    a = FlairDataset.from_root(tree.root)
    b = FlairDataset.from_config(config)
    assert b.paths.aerial.resolve() == tree.aerial.resolve()
    assert [p.patch_id for p in a.patches] == [p.patch_id for p in b.patches] == IDS
    assert [p.centroid for p in a.patches] == [p.centroid for p in b.patches]
    assert data_digest(a) == data_digest(b)


def test_config_errors(tree, tmp_path):
    config = write_config(tree, tmp_path / "c.yml")
    doc = config.read_text().replace("path_sen_train", "path_sentinel_train")
    config.write_text(doc)
    with pytest.raises(DataError, match=r"data\.path_sen_train"):
        split_from_config(config)
    config.write_text("data: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        split_from_config(config)
    with pytest.raises(DataError, match="does not exist"):
        split_from_config(tmp_path / "missing.yml")
    config.write_text("data:\n  path_aerial_train: nowhere\n")
    with pytest.raises(DataError, match=r"nowhere does not exist: is data.path_aerial_train"):
        split_from_config(config)


def test_patches_sorted_and_paired_by_id(ds, tree):
    assert [p.patch_id for p in ds.patches] == IDS
    # sorted paths would put 000050 (domain D077) last
    sorted_paths = sorted(tree.aerial.glob("*/*/img/*.tif"))
    assert sorted_paths[-1].name == "IMG_000050.tif"
    for ref in ds.patches:
        spec = tree.patches[ref.patch_id]
        assert ref.aerial.name == f"IMG_{ref.patch_id}.tif"
        assert ref.mask is not None and ref.mask.name == f"MSK_{ref.patch_id}.tif"
        assert (ref.domain, ref.zone) == (spec.domain, spec.zone)
        assert ref.area == spec.area
        assert ref.sen_data.name == f"SEN2_sp_{spec.area}_data.npy"
        assert ref.centroid == spec.centroid
    assert ds.index("000205") == 2
    assert ds.index("IMG_000412.tif") == 3
    with pytest.raises(DataError, match="000999"):
        ds.index("000999")


def test_getitem_shapes_and_values(ds, tree):
    for i, pid in enumerate(IDS):
        sample = ds[i]
        assert sample["id"] == pid
        assert sample["image"].shape == (5, 512, 512) and sample["image"].dtype == np.uint8
        assert sample["mask"].shape == (512, 512) and sample["mask"].dtype == np.uint8
        np.testing.assert_array_equal(sample["image"], tree.images[pid])
        np.testing.assert_array_equal(sample["mask"], tree.masks[pid])
        np.testing.assert_array_equal(sample["labels"], to_reduced(tree.masks[pid]))
        assert sample["labels"].max() == 12 and sample["mask"].max() == 19
        assert sample["crs"].to_epsg() == 2154
        assert sample["transform"].a == pytest.approx(0.2)
    assert ds[-1]["id"] == IDS[-1]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_read_patch_and_profile(ds, tree):
    pid = IDS[1]
    patch = ds.read_patch(1)
    np.testing.assert_array_equal(patch.image, tree.images[pid])
    np.testing.assert_array_equal(patch.mask, tree.masks[pid])
    np.testing.assert_array_equal(patch.labels, to_reduced(tree.masks[pid]))
    assert patch.patch_id == pid and patch.profile == ds.read_profile(1)
    assert ds.read_patch(1, labels=False).mask is None
    profile = ds.read_profile(1)
    assert (profile["width"], profile["height"]) == (512, 512)


def test_read_sentinel_crop_and_mmap(ds, tree, monkeypatch):
    calls = []
    real_load = np.load

    def spy(path, *args, **kwargs):
        calls.append((str(path), kwargs.get("mmap_mode")))
        return real_load(path, *args, **kwargs)

    fresh = FlairDataset(ds.paths)
    monkeypatch.setattr(np, "load", spy)
    i = fresh.index("000101")  # centroid (10, 25) in a 48 x 52 area: pads 10 rows on top
    sp = fresh.read_sentinel(i, size=40)
    assert sp.data.shape == (5, 10, 40, 40) and sp.data.dtype == np.uint16
    assert sp.masks.shape == (5, 2, 40, 40) and sp.masks.dtype == np.uint8
    assert sp.valid.shape == (40, 40)
    assert not sp.valid[:10].any() and sp.valid[10:].all()
    full = tree.sen_data["D004_2021-Z1_NN"]
    np.testing.assert_array_equal(sp.data[:, :, 10:, :], full[:, :, 0:30, 5:45])
    np.testing.assert_array_equal(sp.data[:, :, 0, :], full[:, :, 0, 5:45])  # edge padded
    assert sp.dates == tree.dates["D004_2021-Z1_NN"]
    assert len(calls) == 2 and all(mode == "r" for _, mode in calls)
    # same area again: memmaps are cached
    fresh.read_sentinel(fresh.index("000412"), size=40)
    assert len(calls) == 2
    fresh.read_sentinel(fresh.index("000205"), size=40)
    assert len(calls) == 4
    assert isinstance(fresh._areas["D004_2021-Z1_NN"].data, np.memmap)


def test_read_sentinel_other_size_and_right_border(ds):
    sp = ds.read_sentinel(ds.index("000050"), size=10)  # col 59 of 60: cols 54..63
    assert sp.data.shape == (13, 10, 10, 10)
    assert sp.valid[:, :6].all() and not sp.valid[:, 6:].any()


def test_pickle_drops_memmaps(ds):
    ds.read_sentinel(0, size=40)
    assert ds._areas
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._areas == {}
    np.testing.assert_array_equal(
        clone.read_sentinel(0, size=40).data, ds.read_sentinel(0, size=40).data
    )


def test_summary(ds, tree):
    summary = summary_mod.split_summary(ds)
    assert summary["n_patches"] == 4
    assert summary["domains"] == ["D004_2021", "D013_2020", "D077_2021"]
    assert summary["patches_per_domain"]["D004_2021"] == 2
    assert (summary["t_min"], summary["t_max"]) == (5, 13)
    for name, area in tree.areas.items():
        detail = summary["areas_detail"][name]
        assert detail["T"] == area.n_dates
        assert (detail["height"], detail["width"]) == (area.height, area.width)
        assert detail["clear_training"] == expected_clear(area.n_dates, notebook=False)
        assert detail["clear_notebook"] == expected_clear(area.n_dates, notebook=True)


def test_class_distribution(ds, tree):
    full = summary_mod.class_distribution(ds, reduced=False)
    expected = np.bincount(np.concatenate([m.ravel() for m in tree.masks.values()]), minlength=20)
    assert full.dtype == np.int64 and full.shape == (20,)
    np.testing.assert_array_equal(full, expected)
    assert full[14:20].sum() > 0
    reduced = summary_mod.class_distribution(ds)
    assert reduced.shape == (13,)
    np.testing.assert_array_equal(reduced[:12], expected[1:13])
    assert reduced[12] == expected[13:20].sum()
    assert reduced.sum() == 4 * 512 * 512


def test_data_digest_follows_names_sizes_times_and_content(tmp_path):
    import os

    tree = make_tree(tmp_path / "a", patches=PATCHES[:2])
    first = data_digest(FlairDataset.from_root(tree.root))
    assert len(first) == 64
    assert data_digest(FlairDataset.from_root(tree.root)) == first
    content = data_digest(FlairDataset.from_root(tree.root), content=True)
    pid = PATCHES[0].patch_id
    # a mask corrected in place, size and time kept: only the content digest sees it
    path = tree.mask_path(pid)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    ds = FlairDataset.from_root(tree.root)
    assert data_digest(ds) == first
    assert data_digest(ds, content=True) != content
    # a touched file changes the cheap digest
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert data_digest(ds) != first
    # a moved centroid changes it too
    doc = json.loads(tree.centroids.read_text())
    doc[f"IMG_{pid}.tif"] = [1, 1]
    tree.centroids.write_text(json.dumps(doc))
    assert data_digest(FlairDataset.from_root(tree.root)) != first


def test_unpaired_ids_named(tmp_path):
    tree = make_tree(tmp_path, patches=PATCHES[:3])
    # 000050 loses its mask; a stray MSK_000777 has no image: sorted globs would pair
    # IMG_000050 with MSK_000101 and so on
    tree.mask_path("000050").unlink()
    stray = tree.labels / "D004_2021" / "Z1_NN" / "msk" / "MSK_000777.tif"
    write_tif(stray, np.ones((512, 512), dtype=np.uint8))
    with pytest.raises(DataError) as info:
        FlairDataset.from_root(tmp_path)
    message = str(info.value)
    assert "no MSK_000050.tif for IMG_000050.tif" in message
    assert "no IMG_000777.tif for MSK_000777.tif" in message
    assert "path_labels_train" in message


def test_many_unpaired_ids_listed_briefly(tmp_path):
    tree = make_tree(tmp_path, patches=PATCHES[:1])
    folder = tree.labels / "D004_2021" / "Z1_NN" / "msk"
    mask = np.ones((8, 8), dtype=np.uint8)
    for k in range(13):
        write_tif(folder / f"MSK_{900000 + k}.tif", mask)
    with pytest.raises(DataError) as info:
        FlairDataset.from_root(tmp_path)
    message = str(info.value)
    assert "13 masks without an image" in message
    assert "MSK_900009.tif" in message and "MSK_900010.tif" not in message
    assert "and 3 more" in message


def test_missing_centroid_and_sentinel(tmp_path):
    tree = make_tree(tmp_path, patches=PATCHES[:2])
    tree.sen_path("D004_2021-Z1_NN", "masks").unlink()
    with pytest.raises(DataError, match=r"SEN2_sp_D004_2021-Z1_NN_masks\.npy"):
        FlairDataset.from_root(tmp_path)
    tree.centroids.write_text('{"IMG_000050.tif": [1, 2]}')
    with pytest.raises(DataError, match=r"no centroid for IMG_000101\.tif in .*centroids"):
        FlairDataset.from_root(tmp_path)
    tree.centroids.write_text('{"IMG_000050.tif": [1, 2], "IMG_000101.tif": "x"}')
    with pytest.raises(DataError, match=r"\[row, col\]"):
        FlairDataset.from_root(tmp_path)
    tree.centroids.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        FlairDataset.from_root(tmp_path)


def test_centroid_outside_area(tmp_path):
    tree = make_tree(tmp_path, patches=PATCHES[:1])
    tree.centroids.write_text('{"IMG_000050.tif": [45, 3]}')  # area is 45 rows
    ds = FlairDataset.from_root(tmp_path)
    with pytest.raises(DataError, match="outside its 45×60 super area"):
        ds.read_sentinel(0, size=40)


def test_mask_shape_must_match_image(tmp_path):
    tree = make_tree(tmp_path, patches=PATCHES[:1])
    write_tif(tree.mask_path("000050"), np.ones((256, 256), dtype=np.uint8))
    ds = FlairDataset.from_root(tmp_path)
    with pytest.raises(DataError, match=r"256×256 but IMG_000050\.tif is 512×512"):
        ds.read_mask(0)


def test_reading_one_patch_opens_only_its_files(ds, monkeypatch):
    opened = []
    real_open = rasterio.open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    ds[2]
    assert opened and all("000205" in p for p in opened)
    # each of the patch's files is opened once
    assert len(opened) == len(set(opened)) == 2
