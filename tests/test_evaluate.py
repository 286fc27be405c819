import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from flair_hdbscan.cli.main import cli
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.nomenclature import to_reduced


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[1],
        height=array.shape[0],
        count=1,
        dtype=array.dtype,
        crs="EPSG:2154",
        transform=from_origin(0, 64 * 0.2, 0.2, 0.2),
    ) as dst:
        dst.write(array, 1)


@pytest.fixture
def masks(tmp_path):
    rng = np.random.default_rng(3)
    truth = {}
    for pid, zone in (("000101", "Z1_NN"), ("000007", "Z2_AA"), ("004200", "Z1_NN")):
        m = rng.integers(1, 20, (64, 64)).astype(np.uint8)
        _write(tmp_path / "labels" / "D001_2021" / zone / "msk" / f"MSK_{pid}.tif", m)
        truth[pid] = m
    return tmp_path, truth


def test_perfect_predictions_score_one(masks):
    root, truth = masks
    for pid, m in truth.items():
        _write(root / "pred" / "D001_2021" / f"PRED_{pid}.tif", to_reduced(m))
    cm = evaluate_folders(root / "labels", root / "pred")
    assert mean_iou(cm) == 1.0
    assert cm.sum() == 3 * 64 * 64


def test_pairing_is_by_id_not_by_position(masks):
    root, truth = masks
    # a flat prediction folder sorts differently from the nested truth folders
    for pid, m in truth.items():
        _write(root / "pred" / f"PRED_{pid}.tif", to_reduced(m))
    assert mean_iou(evaluate_folders(root / "labels", root / "pred")) == 1.0


def test_cli_json_and_exact_values(masks):
    root, truth = masks
    preds = {}
    for pid, m in truth.items():
        p = to_reduced(m).copy()
        p[:8] = 0
        preds[pid] = p
        _write(root / "pred" / f"PRED_{pid}.tif", p)
    out = root / "scores.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--truth",
            str(root / "labels"),
            "--pred",
            str(root / "pred"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    cm = np.array(data["confusion_matrix"])
    expected = sum(
        np.bincount(
            to_reduced(truth[k]).ravel().astype(int) * 13 + preds[k].ravel(), minlength=169
        ).reshape(13, 13)
        for k in truth
    )
    np.testing.assert_array_equal(cm, expected)
    assert data["miou"] == pytest.approx(mean_iou(expected))
    assert set(data) >= {"miou", "iou", "overall_accuracy", "confusion_matrix"}
    assert len(data["iou"]) == 13


def test_cli_names_missing_prediction(masks):
    root, truth = masks
    pid = sorted(truth)[0]
    _write(root / "pred" / f"PRED_{pid}.tif", to_reduced(truth[pid]))
    result = CliRunner().invoke(
        cli, ["evaluate", "--truth", str(root / "labels"), "--pred", str(root / "pred")]
    )
    assert result.exit_code == 2
    assert "PRED_004200.tif" in result.output
    assert "Traceback" not in result.output
    # one error line, after the stage's timestamped progress line
    lines = [ln for ln in result.output.strip().splitlines() if not ln.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("Error: ")


def test_cli_rejects_prediction_out_of_range(masks):
    root, truth = masks
    for pid, m in truth.items():
        _write(root / "pred" / f"PRED_{pid}.tif", m)  # full nomenclature: values up to 19
    result = CliRunner().invoke(
        cli, ["evaluate", "--truth", str(root / "labels"), "--pred", str(root / "pred")]
    )
    assert result.exit_code == 2
    assert "0..12" in result.output and "PRED_" in result.output


def test_cli_missing_folder(tmp_path):
    result = CliRunner().invoke(
        cli, ["evaluate", "--truth", str(tmp_path / "nope"), "--pred", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "nope" in result.output
