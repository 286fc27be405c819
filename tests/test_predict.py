import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from distributed import Client, LocalCluster

from flair_hdbscan.cli.main import cli
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.geotiff import write_class_map
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.modelfile import save_model
from flair_hdbscan.predict import (
    fit_model,
    output_paths,
    predict_patch,
    predict_split,
)
from flair_hdbscan.sample_data import generate_sample
from flair_hdbscan.study import StudyOptions, run_study

NAMES = ("knn", "hdbscan")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("data") / "d", n_patches=3, seed=0)


@pytest.fixture(scope="module")
def ds(root):
    return FlairDataset.from_root(root, "train")


@pytest.fixture(scope="module")
def models(ds):
    return {name: fit_model(ds, name, StudyOptions()) for name in NAMES}


@pytest.fixture(scope="module")
def reference(ds, models, tmp_path_factory):
    """Single-process predictions: a predict_patch loop, clusters for HDBSCAN."""
    out = {}
    for name, model in models.items():
        folder = tmp_path_factory.mktemp(f"ref-{name}")
        for i in range(len(ds)):
            assert predict_patch(ds, i, model, folder, clusters=model.is_hdbscan) == "done"
        out[name] = folder
    return out


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as c:
        yield c


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(Path(folder).rglob("*.tif"))}


@pytest.mark.parametrize("name", NAMES)
def test_predictions_score_exactly_as_the_study(ds, root, reference, name):
    study = run_study(ds, [name], StudyOptions(map_patches=0))
    cm = evaluate_folders(ds.paths.labels, reference[name])
    np.testing.assert_array_equal(cm, np.asarray(study.experiments[0]["confusion_matrix"]))
    assert cm.sum() > 0


def test_maps_are_georeferenced_class_maps(ds, reference):
    pred = reference["hdbscan"] / output_paths(ds, 0, ".", clusters=True)[0]
    clusters = reference["hdbscan"] / output_paths(ds, 0, ".", clusters=True)[1]
    ref = ds.patches[0]
    assert pred.parent.parts[-2:] == (ref.domain, ref.zone)
    assert pred.name == f"PRED_{ref.patch_id}.tif"
    source = ds.read_profile(0)
    with rasterio.open(pred) as src:
        assert (src.count, src.dtypes[0], src.width, src.height) == (1, "uint8", 512, 512)
        assert src.crs == source["crs"] and src.transform == source["transform"]
        assert src.compression.name.lower() == "lzw"
        assert src.read(1).max() <= 12
    with rasterio.open(clusters) as src:
        assert src.dtypes[0] == "int32"
        assert src.read(1).min() >= 0


def test_write_class_map_is_deterministic_and_checked(ds, tmp_path):
    profile = ds.read_profile(0)
    a = np.random.default_rng(0).integers(0, 13, (512, 512)).astype(np.uint8)
    write_class_map(tmp_path / "a.tif", a, profile)
    write_class_map(tmp_path / "b.tif", a, profile)
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]
    with pytest.raises(ValueError, match="uint8 or int32"):
        write_class_map(tmp_path / "c.tif", a.astype(np.float32), profile)
    with pytest.raises(ValueError, match="512"):
        write_class_map(tmp_path / "c.tif", a[:10], profile)


def test_cluster_outputs_byte_identical_to_single_process(ds, models, reference, cluster, tmp_path):
    out = tmp_path / "out"
    summary = predict_split(
        ds,
        models["hdbscan"],
        out,
        scheduler=cluster.scheduler_address,
        clusters=True,
        progress=False,
    )
    assert (summary.done, summary.skipped, summary.failed) == (3, 0, [])
    files = _files(out)
    assert len(files) == 6
    assert files == _files(reference["hdbscan"])


@pytest.mark.parametrize("n_workers", [2, 1])
def test_worker_killed_mid_run(ds, models, reference, tmp_path, n_workers):
    # with one worker the only copy of the scattered model dies too: it is sent again
    out = tmp_path / "out"
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as c,
        Client(c) as client,
    ):
        pids = client.run(os.getpid)
        killed = {}

        def kill_a_busy_worker(_pid, _status):
            if killed:
                return
            busy = {w: keys for w, keys in client.processing().items() if keys}
            victim = next(iter(busy or pids))
            killed["pending"] = sum(len(k) for k in busy.values())
            killed["pid"] = pids[victim]
            os.kill(pids[victim], signal.SIGKILL)

        summary = predict_split(
            ds,
            models["knn"],
            out,
            scheduler=c.scheduler_address,
            progress=False,
            on_patch=kill_a_busy_worker,
        )
        client.wait_for_workers(n_workers, timeout=60)
        assert killed["pid"] not in client.run(os.getpid).values()
    assert killed["pending"] >= 1  # tasks were still running when the worker died
    # the victim may have written its map before dying: its rerun then finds it complete
    assert summary.failed == []
    assert summary.done + summary.skipped == 3 and summary.done >= 2
    assert _files(out) == _files(reference["knn"])
    assert not list(out.rglob(".*"))


def test_interrupt_then_resume(ds, models, reference, cluster, tmp_path):
    out = tmp_path / "out"
    model = models["knn"]
    # an interrupted run: patch 0 finished, patch 1 was being written, patch 2 not started
    predict_patch(ds, 0, model, out)
    done = output_paths(ds, 0, out)[0]
    before = done.stat()
    partial = output_paths(ds, 1, out)[0]
    partial.parent.mkdir(parents=True, exist_ok=True)
    stale = partial.parent / f".{partial.name}.k2j4x.tif"
    stale.write_bytes(b"II*\x00truncated")
    stale_beside_done = done.parent / f".{done.name}.zz9.tif"
    stale_beside_done.write_bytes(b"II*\x00")
    seen = []
    summary = predict_split(
        ds,
        model,
        out,
        scheduler=cluster.scheduler_address,
        progress=False,
        on_patch=lambda pid, status: seen.append((pid, status)),
    )
    assert (summary.done, summary.skipped, summary.failed) == (2, 1, [])
    ids = [p.patch_id for p in ds.patches]
    assert sorted(pid for pid, _ in seen) == ids[1:]  # each remaining patch ran once
    after = done.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert not stale.exists() and not stale_beside_done.exists()
    for path in out.rglob("*.tif"):
        with rasterio.open(path) as src:
            assert src.read(1).shape == (512, 512)
    assert _files(out) == _files(reference["knn"])
    # a further run has nothing left to do and touches nothing
    again = predict_split(ds, model, out, scheduler=cluster.scheduler_address, progress=False)
    assert (again.done, again.skipped) == (0, 3)
    assert done.stat().st_mtime_ns == before.st_mtime_ns
    # --overwrite predicts everything again, to the same bytes
    forced = predict_split(
        ds, model, out, scheduler=cluster.scheduler_address, progress=False, overwrite=True
    )
    assert (forced.done, forced.skipped) == (3, 0)
    assert _files(out) == _files(reference["knn"])


def test_clusters_added_to_an_existing_prediction(ds, models, reference, cluster, tmp_path):
    out = tmp_path / "out"
    model = models["hdbscan"]
    predict_patch(ds, 0, model, out)  # PRED only
    summary = predict_split(
        ds, model, out, scheduler=cluster.scheduler_address, clusters=True, progress=False
    )
    assert summary.done == 3
    assert _files(out) == _files(reference["hdbscan"])


@pytest.fixture
def corrupt_root(root, ds, tmp_path):
    copy = tmp_path / "corrupt"
    shutil.copytree(root, copy)
    rel = ds.patches[1].aerial.relative_to(root)
    data = (copy / rel).read_bytes()
    (copy / rel).write_bytes(data[: len(data) // 3])
    return copy, ds.patches[1].patch_id


def test_corrupt_patch_is_reported_and_the_rest_complete(corrupt_root, models, cluster, tmp_path):
    copy, bad = corrupt_root
    ds = FlairDataset.from_root(copy, "train")
    out = tmp_path / "out"
    summary = predict_split(
        ds, models["knn"], out, scheduler=cluster.scheduler_address, progress=False
    )
    assert summary.done == 2
    assert [pid for pid, _ in summary.failed] == [bad]
    assert f"IMG_{bad}.tif" in summary.failed[0][1]
    assert sorted(p.name for p in out.rglob("*.tif")) == sorted(
        f"PRED_{p.patch_id}.tif" for p in ds.patches if p.patch_id != bad
    )
    # the CLI says which patch failed and exits with status 1
    model_file = save_model(tmp_path / "knn.model", models["knn"])
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            "--data",
            str(copy),
            "--model",
            str(model_file),
            "--out",
            str(out),
            "--scheduler",
            cluster.scheduler_address,
        ],
    )
    assert result.exit_code == 1, result.output
    assert f"failed {bad}" in result.output
    assert "skipped 2" in result.output


def test_options_are_checked(ds, models, tmp_path):
    with pytest.raises(OptionError, match="HDBSCAN"):
        predict_split(ds, models["knn"], tmp_path, clusters=True)
    with pytest.raises(OptionError, match="both"):
        predict_split(ds, models["knn"], tmp_path, scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(OptionError, match="at least 1"):
        predict_split(ds, models["knn"], tmp_path, workers=0)
    assert not list(tmp_path.iterdir())


def test_cli_usage_errors_exit_2(root, models, tmp_path):
    model_file = save_model(tmp_path / "knn.model", models["knn"])
    runner = CliRunner()
    for args in (
        ["predict", "--data", str(root), "--out", str(tmp_path / "o")],
        [
            "predict",
            "--data",
            str(root),
            "--model",
            str(model_file),
            "--seed",
            "4",
            "--out",
            str(tmp_path / "o"),
        ],
        [
            "predict",
            "--data",
            str(root),
            "--experiment",
            "naive-uniform",
            "--out",
            str(tmp_path / "o"),
        ],
        [
            "fit",
            "--data",
            str(root),
            "--experiment",
            "naive-prevalence",
            "--model",
            str(tmp_path / "n.model"),
        ],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error: ")
    assert not (tmp_path / "o").exists()
    assert "--split" not in runner.invoke(cli, ["fit", "--help"]).output
    assert "Exit status" in runner.invoke(cli, ["predict", "--help"]).output


def test_cli_fit_predict_evaluate_reproduces_run(ds, root, tmp_path):
    """fit → predict (a real subprocess on its own local cluster) → evaluate = run's mIoU."""
    name = "hdbscan-robust"
    runner = CliRunner()
    model_file = tmp_path / f"{name}.model"
    result = runner.invoke(
        cli,
        [
            "fit",
            "--data",
            str(root),
            "--experiment",
            name,
            "--model",
            str(model_file),
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ORACLE" in result.output and "clusters" in result.output
    out = tmp_path / "pred"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flair_hdbscan.cli.main",
            "predict",
            "--data",
            str(root),
            "--split",
            "train",
            "--model",
            str(model_file),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "done 3, skipped 0" in proc.stdout
    scores = tmp_path / "scores.json"
    result = runner.invoke(
        cli,
        ["evaluate", "--truth", str(ds.paths.labels), "--pred", str(out), "--json", str(scores)],
    )
    assert result.exit_code == 0, result.output
    study = run_study(ds, [name], StudyOptions(seed=5, map_patches=0)).experiments[0]
    got = json.loads(scores.read_text())
    assert got["confusion_matrix"] == study["confusion_matrix"]
    assert got["miou"] == study["miou"] == mean_iou(np.asarray(study["confusion_matrix"]))


def test_cli_predict_with_experiment_fits_first(ds, root, reference, cluster, tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(
        cli,
        [
            "predict",
            "--data",
            str(root),
            "--experiment",
            "knn",
            "--out",
            str(out),
            "--scheduler",
            cluster.scheduler_address,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "done 3" in result.output
    assert _files(out) == _files(reference["knn"])
