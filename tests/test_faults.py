"""Trust every artefact: bad inputs and faults of the environment, through the real CLI.

Each case checks the contract of the command line: the documented exit status (2 a user's
mistake, 1 a fault of the environment, 130 an interrupt), exactly one line on standard error
besides progress lines (``[HH:MM:SS] ...``), starting ``Error:``, no traceback anywhere,
nothing half-written under a final name, and — where it applies — that running the same
command again completes what is missing.

Disk-full cases use a file-size limit (``RLIMIT_FSIZE``, ``SIGXFSZ`` ignored: writes fail
with ``EFBIG`` as they would on a full disk, without root) or, when root, a small tmpfs.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from flair_hdbscan.cli.main import INTERRUPTED, cli
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.outdir import LOCK_NAME, MANIFEST_NAME
from flair_hdbscan.provenance import data_digest
from flair_hdbscan.sample_data import generate_sample
from flair_tree import PATCHES, make_tree, write_tif

PROGRESS = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
#: Hidden files an output folder may hold under their final names.
KNOWN_HIDDEN = {LOCK_NAME, ".flair-hdbscan-ledger.json"}
AREA = "D004_2021-Z1_NN"
TWO = (PATCHES[1], PATCHES[3])  # both in D004_2021-Z1_NN


# -- helpers -------------------------------------------------------------------------------


def invoke(*args, env=None):
    """Run the CLI in this process; arguments are turned into strings."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def cli_process(*args, limit=None, env=None, timeout=600):
    """Run the CLI as a real subprocess; ``limit`` caps the size of any file it writes."""

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "flair_hdbscan.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit_files if limit is not None else None,
        env={**os.environ, **(env or {})},
    )


def error_line(status, stdout, stderr, *needles, expected=2):
    """Assert the one-line contract and return the error line."""
    assert status == expected, (status, stdout, stderr)
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert "Compute Failed" not in stdout + stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not PROGRESS.match(ln)]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "\n" not in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def one_error(result, *needles, expected=2):
    """:func:`error_line` for a :class:`click.testing.Result`."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"unexpected {result.exception!r}\n{result.output}")
    return error_line(result.exit_code, result.stdout, result.stderr, *needles, expected=expected)


def proc_error(proc, *needles, expected=2):
    """:func:`error_line` for a :class:`subprocess.CompletedProcess`."""
    return error_line(proc.returncode, proc.stdout, proc.stderr, *needles, expected=expected)


def no_data_read(stderr):
    """No progress line: the command stopped before reading any data."""
    assert not [ln for ln in stderr.splitlines() if PROGRESS.match(ln)], stderr


def assert_whole(folder):
    """Nothing half-written: no temporary left, every file under a final name reads whole."""
    folder = Path(folder)
    if not folder.exists():
        return
    hidden = [p for p in folder.rglob(".*") if p.name not in KNOWN_HIDDEN]
    assert not hidden, hidden
    for path in folder.rglob("*"):
        if path.suffix == ".tif":
            with rasterio.open(path) as src:
                assert src.read().shape[0] == src.count
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            import matplotlib.image

            matplotlib.image.imread(path)
        elif path.suffix == ".model":
            with np.load(path, allow_pickle=False) as z:
                assert "metadata" in z.files


def confusion(out, name):
    results = json.loads((Path(out) / "results.json").read_text())
    return next(e["confusion_matrix"] for e in results["experiments"] if e["name"] == name)


# -- data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The project's generator: 2 training patches, 1 test patch."""
    return generate_sample(
        tmp_path_factory.mktemp("faults") / "flair", n_patches=2, n_test_patches=1, seed=0
    )


@pytest.fixture(scope="module")
def knn_model(small, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "knn.model"
    result = invoke("fit", "--data", small, "--experiment", "knn", "--model", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def tree(tmp_path):
    """A tree written without the package (tests/flair_tree.py)."""
    return make_tree(tmp_path / "tree", patches=(*TWO, PATCHES[0]))


@pytest.fixture
def mounted(tmp_path):
    """``mount(size, read_only=False)``: a small tmpfs (root only), unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs")
    mounts = []

    def mount(size="200k", read_only=False):
        point = tmp_path / f"mnt{len(mounts)}"
        point.mkdir()
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], check=False
        ).returncode:
            pytest.skip("tmpfs cannot be mounted here")
        mounts.append(point)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", str(point)], check=False)


def _fill(point):
    """Leave no room on a tmpfs."""
    with open(point / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


# -- disk full while writing -----------------------------------------------------------------


def test_run_disk_full_keeps_whole_files_and_a_rerun_completes(small, compiled_code, tmp_path):
    # compiled_code: numba's cache is written, so the 40 kB limit hits the run's own outputs
    out = tmp_path / "out"
    args = (
        "run",
        "--no-budget",
        "--data",
        small,
        "--experiments",
        "knn",
        "--workers",
        "1",
        "--out",
        out,
    )
    # the manifest, ledger and results fit in 40 kB; the figures do not
    proc = cli_process(*args, limit=40_000)
    proc_error(proc, str(out), expected=1)
    assert_whole(out)
    assert not (out / "report.html").exists()
    first = confusion(out, "knn")  # written (whole) before the figures
    rerun = cli_process(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "report.html").is_file() and (out / "figures" / "results.png").is_file()
    assert confusion(out, "knn") == first
    assert_whole(out)


def test_fit_disk_full_writes_no_model_and_a_rerun_completes(small, tmp_path):
    model = tmp_path / "knn.model"
    args = ("fit", "--data", small, "--experiment", "knn", "--model", model)
    proc = cli_process(*args, limit=30_000)
    proc_error(proc, str(model), expected=1)
    assert not model.exists()
    assert_whole(tmp_path)
    rerun = cli_process(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert_whole(tmp_path)


def test_sample_data_disk_full_writes_no_tree_and_a_rerun_completes(tmp_path):
    out = tmp_path / "sample"
    args = ("sample-data", out, "--patches", "1", "--test-patches", "1", "--seed", "0")
    proc = cli_process(*args, limit=300_000)
    proc_error(proc, str(out), expected=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # not even a temporary folder
    rerun = cli_process(*args)
    assert rerun.returncode == 0, rerun.stderr
    for split in ("train", "test"):
        ds = FlairDataset.from_root(out, split)
        for i in range(len(ds)):
            ds.read_patch(i)
            ds.read_sentinel(i, size=40)
    assert_whole(out)


def test_full_tmpfs_is_refused_before_any_work(small, knn_model, mounted):
    full = mounted("300k")
    _fill(full)
    for args, needle in (
        (
            ("run", "--no-budget", "--data", small, "--experiments", "knn", "--out", full / "r"),
            "room",
        ),
        (("fit", "--data", small, "--experiment", "knn", "--model", full / "m.model"), "room"),
        (
            (
                "predict",
                "--data",
                small,
                "--split",
                "test",
                "--model",
                knn_model,
                "--workers",
                "1",
                "--out",
                full / "p",
            ),
            "room",
        ),
        (("sample-data", full / "s", "--patches", "1", "--test-patches", "1"), "room"),
    ):
        result = invoke(*args)
        one_error(result, needle, expected=1)
        no_data_read(result.stderr)
    # a write that fails when the disk fills up is one line too
    labels = FlairDataset.from_root(small, "test").paths.labels
    pred = full.parent / "pred"
    assert (
        invoke(
            "predict",
            "--data",
            small,
            "--split",
            "test",
            "--model",
            knn_model,
            "--workers",
            "1",
            "--out",
            pred,
        ).exit_code
        == 0
    )
    for args in (
        ("evaluate", "--truth", labels, "--pred", pred, "--json", full / "e.json"),
        ("plot", "nomenclature", "--out", full / "n.png"),
    ):
        one_error(invoke(*args), str(full), expected=1)
    assert sorted(p.name for p in full.iterdir()) == ["filler"]


# -- output locations: read-only, under a file ---------------------------------------------


def _output_commands(small, model, labels, pred, dest):
    return {
        "run": ("run", "--no-budget", "--data", small, "--experiments", "knn", "--out", dest / "r"),
        "fit": ("fit", "--data", small, "--experiment", "knn", "--model", dest / "m.model"),
        "predict": (
            "predict",
            "--data",
            small,
            "--split",
            "test",
            "--model",
            model,
            "--workers",
            "1",
            "--out",
            dest / "p",
        ),
        "predict-fitting": (
            "predict",
            "--data",
            small,
            "--split",
            "test",
            "--experiment",
            "hdbscan",
            "--workers",
            "1",
            "--out",
            dest / "p",
        ),
        "sample-data": ("sample-data", dest / "s", "--patches", "1", "--test-patches", "1"),
        "evaluate": ("evaluate", "--truth", labels, "--pred", pred, "--json", dest / "e.json"),
        "plot": ("plot", "class-distribution", small, "--out", dest / "c.png"),
    }


@pytest.fixture(scope="module")
def predictions(small, knn_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("pred") / "pred"
    result = invoke(
        "predict",
        "--data",
        small,
        "--split",
        "test",
        "--model",
        knn_model,
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    return FlairDataset.from_root(small, "test").paths.labels, out


def test_outputs_under_a_file_fail_in_one_line_before_any_work(
    small, knn_model, predictions, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    commands = _output_commands(small, knn_model, *predictions, blocker)
    for name, args in commands.items():
        result = invoke(*args)
        one_error(result, "a-file", expected=1)
        no_data_read(result.stderr)
        assert blocker.read_text() == "not a folder", name


def test_read_only_outputs_fail_in_one_line_before_any_work(small, knn_model, predictions, mounted):
    ro = mounted(read_only=True)
    for _name, args in _output_commands(small, knn_model, *predictions, ro).items():
        result = invoke(*args)
        one_error(result, "read-only", expected=1)
        no_data_read(result.stderr)


def test_info_with_a_read_only_cache_says_what_to_do(mounted, tmp_path):
    ro = mounted(read_only=True)
    result = invoke("info", env={"FLAIR_HDBSCAN_CACHE": str(ro / "cache")})
    one_error(result, "read-only", "FLAIR_HDBSCAN_CACHE", "--data", expected=1)
    no_data_read(result.stderr)


def test_info_with_a_cache_under_a_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = invoke("info", env={"FLAIR_HDBSCAN_CACHE": str(tmp_path / "a-file" / "cache")})
    one_error(result, "FLAIR_HDBSCAN_CACHE", expected=1)


def test_predict_prints_one_line_per_failing_patch_never_dask_tracebacks(
    sample_root, knn_model, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(sample_root, copy)
    ds = FlairDataset.from_root(copy, "test")
    bad = ds.patches[0]
    data = bad.aerial.read_bytes()
    st = bad.aerial.stat()
    # unreadable for a while (a flaky network mount): same size and time, so the data's
    # identity is the same when it reads again
    bad.aerial.write_bytes(np.random.default_rng(0).bytes(len(data)))
    os.utime(bad.aerial, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = tmp_path / "out"
    args = ("predict", "--data", copy, "--split", "test", "--model", knn_model, "--out", out)
    proc = cli_process(*args, "--workers", "2")
    proc_error(proc, bad.patch_id, "1 of 2", expected=1)
    failed = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("failed ")]
    assert len(failed) == 1 and bad.patch_id in failed[0] and "IMG_" in failed[0]
    assert_whole(out)
    assert [p.name for p in out.rglob("PRED_*.tif")] == [f"PRED_{ds.patches[1].patch_id}.tif"]
    # readable again, the same command predicts only what is missing
    bad.aerial.write_bytes(data)
    os.utime(bad.aerial, ns=(st.st_atime_ns, st.st_mtime_ns))
    rerun = invoke(*args, "--workers", "1")
    assert rerun.exit_code == 0, rerun.output
    assert "done 1, skipped 1" in rerun.stdout
    assert_whole(out)


# -- output folders owned by one piece of work ------------------------------------------------


def test_predict_into_the_folder_of_another_model_is_refused(
    small, knn_model, predictions, tmp_path
):
    _, pred = predictions
    other = tmp_path / "hdbscan.model"
    assert (
        invoke(
            "fit",
            "--data",
            small,
            "--experiment",
            "knn",
            "--seed",
            "3",
            "--n-neighbors",
            "7",
            "--model",
            other,
        ).exit_code
        == 0
    )
    before = {p: p.read_bytes() for p in pred.rglob("*") if p.is_file()}
    result = invoke(
        "predict",
        "--data",
        small,
        "--split",
        "test",
        "--model",
        other,
        "--workers",
        "1",
        "--out",
        pred,
    )
    one_error(result, str(pred), "other work", "--overwrite")
    assert {p: p.read_bytes() for p in pred.rglob("*") if p.is_file()} == before


def test_two_runs_into_one_out_and_no_stale_outputs_after_overwrite(small, tmp_path):
    out = tmp_path / "out"
    first = invoke(
        "run",
        "--no-budget",
        "--data",
        small,
        "--experiments",
        "knn,naive-uniform",
        "--workers",
        "1",
        "--map-patches",
        "1",
        "--out",
        out,
    )
    assert first.exit_code == 0, first.output
    assert (out / "confusion" / "naive-uniform.csv").is_file()
    assert (out / "figures" / "confusion_naive-uniform.png").is_file()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = (
        "run",
        "--no-budget",
        "--data",
        small,
        "--experiments",
        "knn",
        "--seed",
        "1",
        "--workers",
        "1",
        "--map-patches",
        "0",
        "--out",
        out,
    )
    one_error(invoke(*second), str(out), "other work", "--overwrite")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    replaced = invoke(*second, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not [n for n in names if "naive-uniform" in n], names
    assert not [n for n in names if n.startswith("figures/map_")], names
    results = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in results["experiments"]] == ["knn"]
    assert results["run"]["seed"] == 1
    assert (out / "results.csv").read_text().count("\n") == 2  # header and knn
    assert json.loads((out / MANIFEST_NAME).read_text())["provenance"]["options"]["seed"] == 1
    assert_whole(out)


def test_a_same_size_same_time_edit_is_caught_with_verify_content(sample_root, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sample_root, copy)
    out = tmp_path / "out"
    args = (
        "run",
        "--no-budget",
        "--data",
        copy,
        "--experiments",
        "knn",
        "--workers",
        "1",
        "--no-report",
        "--verify-content",
        "--out",
        out,
    )
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    before = confusion(out, "knn")
    # correct one test mask in place: swap two classes (LZW codes the same length), keep
    # the size and the modification time
    ds = FlairDataset.from_root(copy, "test")
    digest = data_digest(ds)
    path = ds.patches[0].mask
    st = path.stat()
    with rasterio.open(path) as src:
        profile, mask = src.profile, src.read(1)
    a, b = np.unique(mask)[:2]
    swapped = mask.copy()
    swapped[mask == a], swapped[mask == b] = b, a
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(swapped, 1)
    if path.stat().st_size != st.st_size:
        pytest.skip("the edit changed the file size on this GDAL")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert data_digest(FlairDataset.from_root(copy, "test")) == digest  # invisible by default
    resumed = invoke(*args)
    one_error(resumed, str(out), "data", "--overwrite")
    assert confusion(out, "knn") == before
    fresh = invoke(*args, "--overwrite")
    assert fresh.exit_code == 0, fresh.output
    after = confusion(out, "knn")
    assert after != before
    reference = tmp_path / "reference"
    assert invoke(*args[:-1], reference).exit_code == 0
    assert confusion(reference, "knn") == after


# -- options without bounds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--no-budget", "--n-neighbors", "100000"), "1..1000"),
        (("run", "--no-budget", "--sat-patch-size", "30000"), "11..512"),
        (("run", "--no-budget", "--seed", "-1"), "0..4294967295"),
        (("run", "--no-budget", "--jobs", "0"), "-1 or 1..1024"),
        (("fit", "--experiment", "knn", "--model", "m.model", "--stride", "0"), "1..512"),
        (("predict", "--experiment", "knn", "--out", "o", "--min-cluster-size", "1"), "2.."),
        (("run", "--no-budget", "--out", "~nouser-flair-xyz/out"), "no such user"),
        (("fit", "--experiment", "knn", "--model", "~nouser-flair-xyz/m.model"), "no such user"),
        (("sample-data", "~nouser-flair-xyz/s"), "no such user"),
        (("plot", "nomenclature", "--out", "~nouser-flair-xyz/n.png"), "no such user"),
        (("plot", "samples", "--seed", "-1", "--out", "s.png"), "--seed"),
        (("evaluate", "--truth", "~nouser-flair-xyz/t", "--pred", "p"), "no such user"),
        (("info", "~nouser-flair-xyz/d"), "no such user"),
        (("sample-data", "s", "--patches", "0"), "n_patches"),
    ],
)
def test_options_out_of_range_are_one_line_before_any_data(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    absent = tmp_path / "absent"  # reading it would fail differently
    command, rest = args[0], list(args[1:])
    data = ["--data", absent] if command in ("run", "--no-budget", "fit", "predict") else []
    result = invoke(command, *data, *rest)
    one_error(result, needle)
    no_data_read(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_super_patch_larger_than_the_area_is_refused_before_fitting(tree, tmp_path):
    result = invoke(
        "run",
        "--no-budget",
        "--data",
        tree.root,
        "--eval-split",
        "train",
        "--experiments",
        "knn-satellite",
        "--sat-patch-size",
        "500",
        "--out",
        tmp_path / "o",
    )
    one_error(result, "--sat-patch-size 500", "use at most")
    no_data_read(result.stderr)
    assert not (tmp_path / "o").exists()


# -- malformed files --------------------------------------------------------------------------


def _npy(header: str, payload: bytes = b"") -> bytes:
    """An .npy file (version 1.0) with the given header text."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<u2', 'fortran_order': False, 'shape': (5, 10, 48, 52), 'x': '''}",
        "{'descr': '<u2', 'fortran_order': False, 'shape': (5, 10, 48, 52",
        "{'descr': '<u2', 'fortran_order': False, 'shape': (-5, 10, 48, 52), }",
        "{'descr': '<u2', 'fortran_order': False, 'shape': (5, 10, -48, 52), }",
        "{'descr': '<u2', 'fortran_order': False, 'shape': (10**400, 10, 48, 52), }",
        "{'descr': 'O', 'fortran_order': False, 'shape': (5, 10, 48, 52), }",
        "[" * 200 + "]" * 200,
    ],
)
def test_malformed_npy_headers(tree, header):
    path = tree.sen_path(AREA, "data")
    path.write_bytes(_npy(header, b"\0" * 64))
    one_error(invoke("info", tree.root), str(path))


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "not a centroids file"),
        (b'{"IMG_000050.tif": [' + b"9" * 10_000 + b", 1]}", "not a centroids file"),
        (b'{"IMG_000050.tif": [' + b"9" * 40 + b", 1]}", "[row, col] integers"),
        (b'{"IMG_000050.tif": [1e400, 1]}', "[row, col] integers"),
        (b'{"IMG_000050.tif": {"row": 1}}', "[row, col] integers"),
        (b"[1, 2]", "must map"),
        (b'"\\ud800"', "must map"),
        (b"\xff\xfe{}", "cannot read centroids file"),
        (b"", "not valid JSON"),
    ],
)
def test_malformed_centroids(tree, content, needle):
    tree.centroids.write_bytes(content)
    one_error(invoke("info", tree.root), str(tree.centroids), needle)


def test_symlink_loops_in_info(tree):
    img = tree.image_path("000101").parent
    (img / "IMG_000777.tif").symlink_to(img / "IMG_000777.tif")
    proc = cli_process("info", tree.root, timeout=120)
    proc_error(proc, "IMG_000777.tif", "symbolic link")
    (img / "IMG_000777.tif").unlink()
    # a folder that links to itself holds no patch: it is not followed for ever
    (img.parent.parent / "Z9_LOOP").symlink_to(img.parent.parent)
    (img / "loop").symlink_to(img)
    proc = cli_process("info", tree.root, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "patches 3" in proc.stdout


def test_a_sentinel_series_with_no_date(tree, tmp_path):
    a = tree.areas[AREA]
    np.save(tree.sen_path(AREA, "data"), np.zeros((0, 10, a.height, a.width), np.uint16))
    np.save(tree.sen_path(AREA, "masks"), np.zeros((0, 2, a.height, a.width), np.uint8))
    tree.sen_path(AREA, "products").write_text("")
    assert invoke("info", tree.root).exit_code == 0  # describing the split is fine
    result = invoke(
        "run",
        "--no-budget",
        "--data",
        tree.root,
        "--eval-split",
        "train",
        "--experiments",
        "knn-satellite",
        "--workers",
        "1",
        "--out",
        tmp_path / "o",
    )
    one_error(result, "holds no date", "SEN2_sp_D004_2021-Z1_NN_data.npy")
    assert not (tmp_path / "o" / "results.json").exists()


def test_a_513_by_512_patch_with_sentinel_fusion(tree, tmp_path):
    write_tif(tree.image_path("000101"), np.full((5, 513, 512), 7, np.uint8))
    write_tif(tree.mask_path("000101"), np.ones((513, 512), np.uint8))
    result = invoke(
        "run",
        "--no-budget",
        "--data",
        tree.root,
        "--eval-split",
        "train",
        "--experiments",
        "knn-satellite",
        "--workers",
        "1",
        "--out",
        tmp_path / "o",
    )
    one_error(result, "IMG_000101.tif", "513×512")
    # without fusion a non-square patch is read as it is
    aerial = invoke(
        "run",
        "--no-budget",
        "--data",
        tree.root,
        "--eval-split",
        "train",
        "--experiments",
        "knn",
        "--workers",
        "1",
        "--no-report",
        "--out",
        tmp_path / "o2",
    )
    assert aerial.exit_code == 0, aerial.output


def _members(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _resave(path, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _with_metadata(path, change):
    arrays = _members(path)
    meta = json.loads(str(arrays["metadata"]))
    change(meta)
    arrays["metadata"] = np.array(json.dumps(meta))
    _resave(path, arrays)


def _huge_member(path):
    """Replace ``fit_X``'s header with one claiming 36 TiB of float32."""
    arrays = _members(path)
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as fh:
                if name == "fit_X":
                    shape = (9 * 2**20, 2**20)  # 9 * 2**40 float32 = 36 TiB
                    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
                    fh.write(_npy(header, b"\0" * 4096))
                else:
                    np.lib.format.write_array(fh, array, allow_pickle=False)


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: _with_metadata(p, lambda m: m.update(n_features="5")), "n_features"),
        (lambda p: _with_metadata(p, lambda m: m["options"].update(seed="0")), "options"),
        (lambda p: _with_metadata(p, lambda m: m["record"].update(n_train_pixels=-1)), "record"),
        (lambda p: _with_metadata(p, lambda m: m.update(columns="red")), "columns"),
        (lambda p: _with_metadata(p, lambda m: m.update(experiment=7)), "experiment"),
        (lambda p: _with_metadata(p, lambda m: m["record"].update(diagnostics=[])), "record"),
        (lambda p: _with_metadata(p, lambda m: m.update(format_version="2")), "version"),
        (_huge_member, "header does not fit"),
        (
            lambda p: _resave(p, {**_members(p), "classes": np.arange(20, 33, dtype=np.uint8)}),
            "outside 0..12",
        ),
        (
            lambda p: _resave(p, {**_members(p), "fit_classes": _members(p)["fit_classes"] + 40}),
            "outside",
        ),
        (lambda p: p.write_bytes(p.read_bytes()[:5000]), "not a readable model file"),
    ],
)
def test_malformed_model_files(small, knn_model, tmp_path, damage, needle):
    model = tmp_path / "bad.model"
    shutil.copy(knn_model, model)
    damage(model)
    out = tmp_path / "out"
    result = invoke(
        "predict",
        "--data",
        small,
        "--split",
        "test",
        "--model",
        model,
        "--workers",
        "1",
        "--out",
        out,
    )
    one_error(result, str(model), needle)
    no_data_read(result.stderr)
    assert not out.exists()


# -- Ctrl-C during HDBSCAN --------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_during_hdbscan_exits_130_and_a_rerun_resumes(small, tmp_path):
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "flair_hdbscan.cli.main",
        "run",
        "--no-budget",
        "--data",
        str(small),
        "--experiments",
        "hdbscan",
        # every 2nd pixel of 2 patches: about 131,000 rows, a few seconds of HDBSCAN
        "--stride",
        "2",
        "--workers",
        "1",
        "--no-report",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "clustering hdbscan" in line:
            time.sleep(0.5)  # inside the numba-compiled clustering
            proc.send_signal(signal.SIGINT)
            break
    stdout, rest = proc.communicate(timeout=300)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert "Traceback" not in stdout + stderr and "SystemError" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not PROGRESS.match(ln)]
    assert lines == [INTERRUPTED], stderr
    assert "run again to resume" in INTERRUPTED
    assert_whole(out)
    rerun = cli_process(*cmd[3:])
    assert rerun.returncode == 0, rerun.stderr
    assert confusion(out, "hdbscan")
    assert_whole(out)


# -- progress on a redirected standard error --------------------------------------------------


def test_every_long_command_prints_progress_lines_when_redirected(
    small, knn_model, predictions, tmp_path
):
    """(sample-data: test_sample_data.py::test_cli_as_a_subprocess.)"""
    labels, pred = predictions
    for args, stage in (
        (("info", small), "counting classes"),
        (
            ("fit", "--data", small, "--experiment", "knn", "--model", tmp_path / "k.model"),
            "reading the training sample",
        ),
        (
            (
                "run",
                "--no-budget",
                "--data",
                small,
                "--experiments",
                "knn",
                "--no-report",
                "--workers",
                "1",
                "--out",
                tmp_path / "r",
            ),
            "predicting every pixel",
        ),
        (
            (
                "predict",
                "--data",
                small,
                "--split",
                "test",
                "--model",
                knn_model,
                "--workers",
                "1",
                "--out",
                tmp_path / "p",
            ),
            "predicting test",
        ),
        (("evaluate", "--truth", labels, "--pred", pred), "scoring patches"),
        (("plot", "channel-by-class", small, "--out", tmp_path / "c.png"), "reading the train"),
    ):
        proc = cli_process(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        progress = [ln for ln in proc.stderr.splitlines() if PROGRESS.match(ln)]
        assert any(stage in ln for ln in progress), (args, proc.stderr)
        assert not [ln for ln in proc.stdout.splitlines() if PROGRESS.match(ln)]
