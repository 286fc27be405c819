"""User mistakes in a FLAIR tree, seen through ``flair-hdbscan info``: one line, exit 2."""

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from flair_hdbscan.cli.main import cli
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.passes import SAMPLE_BATCH, read_training_sample
from flair_tree import (
    PATCHES,
    append_product,
    drop_centroid,
    make_tree,
    truncate,
    write_config,
    write_tif,
)

TWO = (PATCHES[1], PATCHES[3])  # 000101 and 000412, both in D004_2021-Z1_NN
AREA = "D004_2021-Z1_NN"


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "flair", patches=(*TWO, PATCHES[0]))


def run_info(*args):
    result = CliRunner().invoke(cli, ["info", *map(str, args)])
    return result


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    # progress lines ("[12:00:00] counting classes ...") may precede the one error line
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("[")]
    assert len(lines) == 1, result.stderr
    err = lines[0]
    assert err.startswith("Error: ")
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_info_ok(tree):
    result = run_info(tree.root)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "patches 3" in out
    assert "T 5–13" in out
    assert "D004_2021-Z1_NN" in out and "D077_2021-Z3_UF" in out
    assert "clear 0.5/60" in out and "clear 0.2/20" in out
    assert "herbaceous vegetation" in out and "17.84" in out
    assert "14..19" in out


def test_info_data_option_and_config_agree(tree, tmp_path):
    by_arg = run_info(tree.root)
    by_option = run_info("--data", tree.root)
    config = write_config(tree, tmp_path / "cfg" / "flair.yml")
    by_config = run_info("--config", config)
    assert by_arg.exit_code == by_option.exit_code == by_config.exit_code == 0
    # same tables (paths printed differ only in their spelling)
    tables = [r.stdout.split("data digest")[1] for r in (by_arg, by_option, by_config)]
    assert tables[0] == tables[1] == tables[2]


def test_info_data_twice(tree, tmp_path):
    result = run_info(tree.root, "--data", tmp_path)
    assert_one_line_error(result, "differ")


def test_missing_root(tmp_path):
    assert_one_line_error(run_info(tmp_path / "nowhere"), "nowhere", "does not exist")


def test_missing_sentinel_folder(tree):
    shutil.rmtree(tree.sen)
    assert_one_line_error(run_info(tree.root), "flair_sen_train")


def test_missing_folder_named_in_config(tree, tmp_path):
    config = write_config(tree, tmp_path / "cfg" / "flair.yml")
    shutil.rmtree(tree.aerial)
    assert_one_line_error(run_info("--config", config), "flair_aerial_train", "path_aerial_train")


def test_unpaired_ids(tree):
    tree.mask_path("000412").unlink()
    assert_one_line_error(
        run_info(tree.root), "no MSK_000412.tif for IMG_000412.tif", "path_labels_train"
    )


def test_image_without_mask_folder_entry(tree):
    tree.image_path("000101").unlink()
    assert_one_line_error(run_info(tree.root), "no IMG_000101.tif for MSK_000101.tif")


def test_truncated_mask(tree):
    path = tree.mask_path("000412")
    truncate(path, path.stat().st_size // 2)
    assert_one_line_error(run_info(tree.root), str(path), "truncated")


def test_training_sample_names_each_unreadable_patch_of_one_task(tree):
    """The sample is read a few patches per task: two broken patches of one task are both
    named, each by its own file, and the readable one beside them is not."""
    ds = FlairDataset.from_root(tree.root)
    assert len(ds) <= SAMPLE_BATCH  # one task reads all three
    broken = [tree.mask_path(pid) for pid in ("000101", "000412")]
    for path in broken:
        truncate(path, path.stat().st_size // 2)
    with pytest.raises(DataError) as info:
        read_training_sample(ds, stride=10, sentinel=None, executor=LocalExecutor())
    message = str(info.value)
    assert message.startswith("2 patch(es) could not be read")
    assert all(str(path) in message for path in broken)
    assert PATCHES[0].patch_id not in message


def test_truncated_image_header(tree):
    path = tree.image_path("000101")
    truncate(path, 100)
    assert_one_line_error(run_info(tree.root), str(path))


def test_truncated_image_pixels_library(tree):
    path = tree.image_path("000101")
    truncate(path, path.stat().st_size // 2)
    ds = FlairDataset.from_root(tree.root)
    with pytest.raises(DataError, match="truncated") as info:
        ds.read_image(ds.index("000101"))
    assert str(path) in str(info.value)


def test_not_a_tiff(tree):
    path = tree.mask_path("000101")
    path.write_text("this is not a GeoTIFF")
    assert_one_line_error(run_info(tree.root), str(path))


def test_wrong_band_count_image(tree):
    path = tree.image_path("000412")
    write_tif(path, np.zeros((4, 512, 512), dtype=np.uint8))
    assert_one_line_error(run_info(tree.root), str(path), "4 bands", "has 5")


def test_wrong_band_count_mask(tree):
    path = tree.mask_path("000412")
    write_tif(path, np.ones((2, 512, 512), dtype=np.uint8))
    assert_one_line_error(run_info(tree.root), str(path), "2 bands")


def test_wrong_dtype(tree):
    path = tree.image_path("000101")
    write_tif(path, np.zeros((5, 512, 512), dtype=np.uint16))
    assert_one_line_error(run_info(tree.root), str(path), "uint16", "uint8")


def test_wrong_dtype_mask(tree):
    path = tree.mask_path("000101")
    write_tif(path, np.ones((512, 512), dtype=np.int16))
    assert_one_line_error(run_info(tree.root), str(path), "int16")


def test_label_values_out_of_range(tree):
    mask = tree.masks["000412"].copy()
    mask[7, 9] = 25
    path = tree.mask_path("000412")
    write_tif(path, mask)
    assert_one_line_error(run_info(tree.root), str(path), "25", "1..19")


def test_patch_without_centroid(tree):
    drop_centroid(tree, "000412")
    assert_one_line_error(
        run_info(tree.root), "no centroid for IMG_000412.tif", str(tree.centroids)
    )


def test_malformed_centroids(tree):
    tree.centroids.write_text('{"IMG_000101.tif": [1, 2, 3]')
    assert_one_line_error(run_info(tree.root), str(tree.centroids), "not valid JSON")


def test_missing_sentinel_file(tree):
    path = tree.sen_path(AREA, "products")
    path.unlink()
    assert_one_line_error(run_info(tree.root), str(path), "path_sen_train")


def test_sentinel_shapes_differ(tree):
    path = tree.sen_path(AREA, "masks")
    np.save(path, tree.sen_masks[AREA][:-1])
    assert_one_line_error(
        run_info(tree.root), "SEN2_sp_D004_2021-Z1_NN_masks.npy", "_data.npy", "(T, H, W)"
    )


def test_sentinel_wrong_dtype(tree):
    path = tree.sen_path(AREA, "data")
    np.save(path, tree.sen_data[AREA].astype(np.float32))
    assert_one_line_error(run_info(tree.root), str(path), "float32", "uint16")


def test_sentinel_truncated_npy(tree):
    path = tree.sen_path(AREA, "data")
    truncate(path, 1000)
    assert_one_line_error(run_info(tree.root), str(path))


def test_products_count_differs(tree):
    path = tree.sen_path(AREA, "products")
    lines = path.read_text().split("\n")
    path.write_text("\n".join(lines[:3]))
    assert_one_line_error(run_info(tree.root), str(path), "3 products", "5 dates")


def test_unparsable_product_line(tree):
    number = append_product(tree, AREA, "S2A_MSIL2A_2021XX01T105021_N0300")
    path = tree.sen_path(AREA, "products")
    assert number == 6
    assert_one_line_error(run_info(tree.root), str(path), f"line {number}", "2021XX01")


def test_info_split_without_labels(tmp_path):
    make_tree(tmp_path, split="test", labels=False, patches=PATCHES[:2])
    result = run_info(tmp_path, "--split", "test")
    assert result.exit_code == 0, result.output
    assert "No labels in this split" in result.output
    assert "flair_2_aerial_test" in result.output
    assert "pixel class distribution" not in result.output.lower()
    # the train split is not there
    assert_one_line_error(run_info(tmp_path), "flair_aerial_train")
