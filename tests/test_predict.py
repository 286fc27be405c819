import json
import os
import resource
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
from filelock import FileLock

from flair_hdbscan.cli.main import cli
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import FaultError, OptionError, OutputError
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.executors import DaskExecutor
from flair_hdbscan.geotiff import write_class_map
from flair_hdbscan.modelfile import save_model
from flair_hdbscan.outdir import LOCK_NAME, MANIFEST_NAME
from flair_hdbscan.passes import output_paths
from flair_hdbscan.predict import predict_folder

NAMES = ("knn", "hdbscan")


@pytest.fixture(scope="module")
def models(fitted):
    return fitted(NAMES)


@pytest.fixture(scope="module")
def reference(test_ds, models, tmp_path_factory):
    """Predictions in this process, clusters for HDBSCAN."""
    out = {}
    for name, model in models.items():
        folder = tmp_path_factory.mktemp(f"ref-{name}")
        summary = predict_folder(test_ds, model, folder, clusters=model.is_hdbscan)
        assert (summary.done, summary.skipped, summary.failed) == (len(test_ds), 0, [])
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


def test_maps_are_georeferenced_class_maps(test_ds, reference):
    pred, clusters = output_paths(test_ds, 0, reference["hdbscan"], clusters=True)
    ref = test_ds.patches[0]
    assert pred.parent.parts[-2:] == (ref.domain, ref.zone)
    assert pred.name == f"PRED_{ref.patch_id}.tif"
    source = test_ds.read_profile(0)
    with rasterio.open(pred) as src:
        assert (src.count, src.dtypes[0], src.width, src.height) == (1, "uint8", 512, 512)
        assert src.crs == source["crs"] and src.transform == source["transform"]
        assert src.compression.name.lower() == "lzw"
        assert src.read(1).max() <= 12
    with rasterio.open(clusters) as src:
        assert src.dtypes[0] == "int32"
        assert src.read(1).min() >= 0
    manifest = json.loads((reference["hdbscan"] / MANIFEST_NAME).read_text())
    assert manifest["kind"] == "predictions"
    assert manifest["provenance"]["model"] and manifest["provenance"]["clusters"] is True


def test_write_class_map_is_deterministic_and_checked(test_ds, tmp_path):
    profile = test_ds.read_profile(0)
    a = np.random.default_rng(0).integers(0, 13, (512, 512)).astype(np.uint8)
    write_class_map(tmp_path / "a.tif", a, profile)
    write_class_map(tmp_path / "b.tif", a, profile)
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]
    with pytest.raises(ValueError, match="uint8 or int32"):
        write_class_map(tmp_path / "c.tif", a.astype(np.float32), profile)
    with pytest.raises(ValueError, match="512"):
        write_class_map(tmp_path / "c.tif", a[:10], profile)


def test_dask_outputs_byte_identical_to_this_process(test_ds, models, reference, cluster, tmp_path):
    out = tmp_path / "out"
    with Client(cluster) as client:
        summary = predict_folder(
            test_ds, models["hdbscan"], out, clusters=True, executor=DaskExecutor(client)
        )
    assert (summary.done, summary.failed) == (len(test_ds), [])
    assert _files(out) == _files(reference["hdbscan"])
    assert not [p for p in out.rglob(".*") if p.name not in (LOCK_NAME,) and p.suffix == ".tif"]


def test_interrupt_then_resume(test_ds, models, reference, tmp_path, monkeypatch):
    from flair_hdbscan import passes

    out = tmp_path / "out"
    model = models["knn"]
    original = passes._predict_task
    calls = {"n": 0}

    def interrupted(plan, i):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(plan, i)

    monkeypatch.setattr(passes, "_predict_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        predict_folder(test_ds, model, out)
    done = output_paths(test_ds, 0, out, clusters=False)[0]
    before = done.stat()
    seen = []

    def counting(plan, i):
        seen.append(i)
        return original(plan, i)

    monkeypatch.setattr(passes, "_predict_task", counting)
    summary = predict_folder(test_ds, model, out)
    assert (summary.done, summary.skipped, summary.failed) == (1, 1, [])
    assert seen == [1]
    assert done.stat().st_mtime_ns == before.st_mtime_ns
    assert _files(out) == _files(reference["knn"])
    # a further run has nothing left to do; a removed map is predicted again
    assert predict_folder(test_ds, model, out).skipped == len(test_ds)
    done.unlink()
    again = predict_folder(test_ds, model, out)
    assert (again.done, again.skipped) == (1, len(test_ds) - 1)
    assert _files(out) == _files(reference["knn"])


def test_a_folder_of_another_model_is_refused_then_replaced(test_ds, models, reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference["knn"], out)
    with pytest.raises(OutputError, match="other work"):
        predict_folder(test_ds, models["hdbscan"], out)
    assert _files(out) == _files(reference["knn"])  # nothing touched
    summary = predict_folder(test_ds, models["hdbscan"], out, clusters=True, overwrite=True)
    assert summary.done == len(test_ds)
    assert _files(out) == _files(reference["hdbscan"])


def test_a_second_concurrent_writer_is_refused(test_ds, models, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / LOCK_NAME), timeout=0), pytest.raises(OutputError, match="another"):
        predict_folder(test_ds, models["knn"], out)


def test_a_foreign_folder_and_a_file_are_refused(test_ds, models, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not written by flair-hdbscan"):
        predict_folder(test_ds, models["knn"], tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        predict_folder(test_ds, models["knn"], tmp_path / "file")
    with pytest.raises(FaultError, match=r"not a folder|is a file"):
        predict_folder(test_ds, models["knn"], tmp_path / "file" / "below")


def _predict_with_file_size_limit(sample_root, model_file, out, limit):
    """``predict`` in a subprocess whose files may not grow past ``limit`` bytes (EFBIG)."""

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "flair_hdbscan.cli.main", "predict", "--data", str(sample_root),
         "--split", "test", "--model", str(model_file), "--out", str(out), "--workers", "1"],
        capture_output=True, text=True, timeout=300, check=False, preexec_fn=limit_files,
    )  # fmt: skip


def test_write_faults_leave_nothing_half_written_and_a_rerun_completes(
    sample_root, test_ds, models, reference, tmp_path
):
    model_file = save_model(tmp_path / "knn.model", models["knn"])
    out = tmp_path / "out"
    proc = _predict_with_file_size_limit(sample_root, model_file, out, 25_000)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if not ln.startswith("[")]
    assert len(errors) == 1 and errors[0].startswith("Error: "), proc.stderr
    for path in out.rglob("PRED_*.tif"):  # every map under a final name is whole
        with rasterio.open(path) as src:
            assert src.read(1).shape == (512, 512)
    assert not list(out.rglob(".PRED_*"))
    rerun = _predict_with_file_size_limit(sample_root, model_file, out, resource.RLIM_INFINITY)
    assert rerun.returncode == 0, rerun.stderr
    assert _files(out) == _files(reference["knn"])


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount")
def test_disk_full_and_read_only_on_a_small_tmpfs(sample_root, models, reference, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        model_file = save_model(tmp_path / "knn.model", models["knn"])
        out = mnt / "out"
        result = CliRunner().invoke(
            cli,
            ["predict", "--data", str(sample_root), "--split", "test", "--model", str(model_file),
             "--out", str(out), "--workers", "1"],
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "no space left" in result.output.lower() or "disk" in result.output.lower()
        for path in out.rglob("PRED_*.tif"):
            with rasterio.open(path) as src:
                assert src.read(1).shape == (512, 512)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        ro = CliRunner().invoke(
            cli,
            ["predict", "--data", str(sample_root), "--split", "test", "--model", str(model_file),
             "--out", str(mnt / "other"), "--workers", "1"],
        )  # fmt: skip
        assert ro.exit_code == 1 and "read-only" in ro.output, ro.output
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.fixture
def corrupt_root(sample_root, test_ds, tmp_path):
    copy = tmp_path / "corrupt"
    shutil.copytree(sample_root, copy)
    rel = test_ds.patches[1].aerial.relative_to(sample_root)
    data = (copy / rel).read_bytes()
    (copy / rel).write_bytes(data[: len(data) // 3])
    return copy, test_ds.patches[1].patch_id


def test_corrupt_patch_is_reported_and_the_rest_complete(corrupt_root, models, cluster, tmp_path):
    copy, bad = corrupt_root
    ds = FlairDataset.from_root(copy, "test")
    out = tmp_path / "out"
    with Client(cluster) as client:
        summary = predict_folder(ds, models["knn"], out, executor=DaskExecutor(client))
    assert summary.done == len(ds) - 1
    assert [pid for pid, _ in summary.failed] == [bad]
    assert f"IMG_{bad}.tif" in summary.failed[0][1] and "\n" not in summary.failed[0][1]
    assert sorted(p.name for p in out.rglob("*.tif")) == sorted(
        f"PRED_{p.patch_id}.tif" for p in ds.patches if p.patch_id != bad
    )
    # the CLI says which patch failed, in one line, and exits with status 1
    model_file = save_model(tmp_path / "knn.model", models["knn"])
    result = CliRunner().invoke(
        cli,
        ["predict", "--data", str(copy), "--split", "test", "--model", str(model_file),
         "--out", str(out), "--scheduler", cluster.scheduler_address],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"failed {bad}" in result.output and "Traceback" not in result.output
    assert "skipped 1" in result.output


def test_worker_killed_mid_run(test_ds, models, reference, tmp_path):
    out = tmp_path / "out"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as c,
        Client(c) as client,
    ):
        pids = client.run(os.getpid)
        killed = {}
        executor = DaskExecutor(client)
        original_run = executor.run

        def run_and_kill(task, shared, items, on_result):
            def on_first(i, result, error):
                if not killed:
                    busy = {w: keys for w, keys in client.processing().items() if keys}
                    victim = next(iter(busy or pids))
                    killed["pending"] = sum(len(k) for k in busy.values())
                    os.kill(pids[victim], signal.SIGKILL)
                    killed["pid"] = pids[victim]
                on_result(i, result, error)

            return original_run(task, shared, items, on_first)

        executor.run = run_and_kill
        summary = predict_folder(test_ds, models["knn"], out, executor=executor)
    assert killed
    assert summary.failed == []
    assert summary.done + summary.skipped == len(test_ds)
    assert _files(out) == _files(reference["knn"])


def test_options_are_checked(test_ds, models, tmp_path):
    with pytest.raises(OptionError, match="HDBSCAN"):
        predict_folder(test_ds, models["knn"], tmp_path / "o", clusters=True)
    assert not (tmp_path / "o").exists()


def test_cli_usage_errors_exit_2(sample_root, models, tmp_path):
    model_file = save_model(tmp_path / "knn.model", models["knn"])
    runner = CliRunner()
    root = str(sample_root)
    for args in (
        ["predict", "--data", root, "--out", str(tmp_path / "o")],
        ["predict", "--data", root, "--model", str(model_file), "--seed", "4", "--out",
         str(tmp_path / "o")],
        ["predict", "--data", root, "--experiment", "naive-uniform", "--out", str(tmp_path / "o")],
        ["fit", "--data", root, "--experiment", "naive-prevalence", "--model",
         str(tmp_path / "n.model")],
        ["predict", "--data", root, "--model", str(model_file), "--out", str(tmp_path / "o"),
         "--workers", "0"],
        ["predict", "--data", root, "--model", str(model_file), "--out", str(tmp_path / "o"),
         "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
        ["predict", "--data", "~nouser-xyz/d", "--model", str(model_file), "--out",
         str(tmp_path / "o")],
    ):  # fmt: skip
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert "Error" in result.output
    assert not (tmp_path / "o").exists()
    assert "--split" not in runner.invoke(cli, ["fit", "--help"]).output
    assert "Exit status" in runner.invoke(cli, ["predict", "--help"]).output


@pytest.mark.slow
def test_cli_fit_predict_evaluate_reproduces_run(sample_root, full, test_ds, tmp_path):
    """fit → predict (a real subprocess on its own local cluster) → evaluate = run's matrix.

    The experiment draws nothing at random, so the fit's seed 5 gives the study's result.
    """
    name = "hdbscan-robust"
    runner = CliRunner()
    model_file = tmp_path / f"{name}.model"
    result = runner.invoke(
        cli,
        ["fit", "--data", str(sample_root), "--experiment", name, "--model", str(model_file),
         "--seed", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ORACLE" in result.output and "clusters" in result.output
    out = tmp_path / "pred"
    proc = subprocess.run(
        [sys.executable, "-m", "flair_hdbscan.cli.main", "predict", "--data", str(sample_root),
         "--split", "test", "--model", str(model_file), "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"done {len(test_ds)}, skipped 0" in proc.stdout
    assert "predicting test" in proc.stderr  # progress lines when not on a terminal
    scores = tmp_path / "scores.json"
    result = runner.invoke(
        cli,
        ["evaluate", "--truth", str(test_ds.paths.labels), "--pred", str(out), "--json",
         str(scores)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = json.loads(scores.read_text())
    assert got["confusion_matrix"] == full.experiment(name)["confusion_matrix"]
    cm = evaluate_folders(test_ds.paths.labels, out)
    assert cm.tolist() == got["confusion_matrix"]
