import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from flair_hdbscan.cli.main import cli
from flair_hdbscan.clustering import DEFAULT_BACKEND
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.experiments import EXPERIMENT_NAMES, EXPERIMENTS, MODEL_EXPERIMENT_NAMES
from flair_hdbscan.metrics import iou_per_class, mean_iou
from flair_hdbscan.modelfile import load_model, save_model
from flair_hdbscan.nomenclature import IGNORE, N_CLASSES
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.predict import predict_folder
from flair_hdbscan.study import run_study
from flair_hdbscan.summary import class_distribution


def _cm(result, name):
    return np.array(result.experiment(name)["confusion_matrix"])


def test_full_run_shapes_and_metadata(full, train_ds, test_ds):
    assert [e["name"] for e in full.experiments] == list(EXPERIMENT_NAMES)
    n_labelled = int(class_distribution(test_ds).sum())
    for e in full.experiments:
        cm = np.array(e["confusion_matrix"])
        assert cm.shape == (N_CLASSES, N_CLASSES)
        assert e["n_eval_pixels"] == cm.sum() == n_labelled
        assert len(e["iou"]) == 13
        assert e["miou"] == pytest.approx(mean_iou(cm), abs=1e-12)
        assert (e["train_split"], e["score_split"], e["protocol"]) == ("train", "test", "held-out")
    run = full.run
    assert (run["train_split"], run["score_split"], run["protocol"]) == (
        "train",
        "test",
        "held-out",
    )
    assert run["dataset"]["train"]["n_patches"] == len(train_ds)
    assert run["dataset"]["score"]["n_patches"] == len(test_ds)
    assert run["provenance"]["train"]["digest"] != run["provenance"]["score"]["digest"]
    assert {"numpy", "scikit-learn", "fast_hdbscan", "flair-hdbscan-code"} <= set(run["versions"])
    json.dumps(full.to_dict(), allow_nan=False)


def test_labels_read_are_counted(full, train_ds):
    """Every ground-truth value read is counted, those read to drop "other" included."""
    strided = sum(int(np.ceil(512 / 10)) ** 2 for _ in range(len(train_ds)))
    assert full.run["n_labels_read"] == strided
    for e in full.experiments:
        if e["name"] == "naive-uniform":
            assert e["n_labels_used"] == 0
        else:
            assert e["n_labels_used"] == strided
        if e["method"] == "hdbscan":
            assert e["mapping"] == "oracle"
            assert e["n_clusters"] > 0 and 0 <= e["noise_fraction"] < 1
            assert 0 < e["cluster_purity"] <= 1 and 0 < e["largest_cluster_fraction"] <= 1
        else:
            assert e["mapping"] is None
        if e["method"] in ("knn", "hdbscan"):
            assert e["n_train_pixels"] <= e["n_labels_used"]


def test_naive_uniform_draws_among_all_13_classes(full):
    cm = _cm(full, "naive-uniform")
    truth = cm.sum(axis=1).astype(float)
    total = truth.sum()
    np.testing.assert_allclose(cm.sum(axis=0) / total, np.full(13, 1 / 13), atol=0.01)
    expected = (truth / 13) / (truth + total / 13 - truth / 13)
    present = truth > 2000
    np.testing.assert_allclose(iou_per_class(cm)[present], expected[present], rtol=0.12)


def test_naive_prevalence_draws_the_training_prevalence(full, train_ds):
    cm = _cm(full, "naive-prevalence")
    predicted = cm.sum(axis=0) / cm.sum()
    labels = np.concatenate([train_ds.read_labels(i)[::10, ::10].ravel() for i in range(3)])
    labels = labels[labels != IGNORE]
    prevalence = np.bincount(labels, minlength=13) / labels.size
    np.testing.assert_allclose(predicted, prevalence, atol=0.01)


def test_seeds_come_from_names_not_positions(train_ds, test_ds, full):
    """Any subset of experiments, in any order, gives each its own same matrix."""
    names = ["hdbscan-satellite", "naive-uniform", "knn", "naive-prevalence"]
    again = run_study(train_ds, test_ds, names[::-1], map_patches=0)
    for name in names:
        np.testing.assert_array_equal(_cm(again, name), _cm(full, name))


def test_other_seed_changes_the_random_draws_only(train_ds, test_ds, full):
    other = run_study(train_ds, test_ds, ["naive-uniform", "knn"], StudyOptions(seed=1))
    assert not np.array_equal(_cm(other, "naive-uniform"), _cm(full, "naive-uniform"))
    np.testing.assert_array_equal(_cm(other, "knn"), _cm(full, "knn"))


def test_maps_kept_for_first_patches(full, test_ds):
    (pid,) = full.maps
    assert pid == test_ds.patches[0].patch_id
    entry = full.maps[pid]
    assert entry["rgb"].shape == (512, 512, 3)
    assert set(entry["pred"]) == set(EXPERIMENT_NAMES)
    assert set(entry["clusters"]) == {n for n in EXPERIMENT_NAMES if n.startswith("hdbscan")}
    np.testing.assert_array_equal(entry["truth"], test_ds.read_labels(0))


def test_in_sample_protocol_is_labelled(train_ds):
    result = run_study(train_ds, train_ds, ["knn"], map_patches=0)
    e = result.experiments[0]
    assert (e["train_split"], e["score_split"], e["protocol"]) == ("train", "train", "in-sample")
    assert result.run["protocol"] == "in-sample"


def test_held_out_never_reads_the_scoring_labels_to_fit(sample_root, tmp_path, full):
    """Scrambling the test labels changes the scores, never the fitted models."""
    import rasterio

    copy = tmp_path / "copy"
    shutil.copytree(sample_root, copy)
    test = FlairDataset.from_root(copy, "test")
    rng = np.random.default_rng(0)
    for ref in test.patches:
        with rasterio.open(ref.mask, "r+") as dst:
            dst.write(rng.integers(1, 13, (512, 512), dtype=np.uint8), 1)
    names = ["knn", "hdbscan"]
    result = run_study(FlairDataset.from_root(copy, "train"), test, names, map_patches=2)
    for name in names:
        model, original = result.models[name], full.models[name]
        assert model.record.to_dict() | {"seconds": 0} == original.record.to_dict() | {"seconds": 0}
        assert not np.array_equal(_cm(result, name), _cm(full, name))
    pid = test.patches[0].patch_id
    np.testing.assert_array_equal(result.maps[pid]["pred"]["knn"], full.maps[pid]["pred"]["knn"])


#: every estimator (kNN, cluster-then-label) with every kind of feature step before it
SAVED_AND_LOADED = (
    "knn",
    "knn-normalized-no-intensity",
    "knn-robust-normalized",
    "hdbscan-robust",
    "knn-satellite-normalized",
    "hdbscan-satellite-robust",
)


@pytest.mark.slow
def test_run_equals_fit_predict_evaluate_for_each_kind_of_model(full, test_ds, tmp_path):
    """The model object `fit` saves and `predict` loads scores exactly as `run` scored it."""
    assert set(SAVED_AND_LOADED) <= set(MODEL_EXPERIMENT_NAMES)
    for name in SAVED_AND_LOADED:
        path = save_model(tmp_path / f"{name}.model", full.models[name])
        out = tmp_path / name
        summary = predict_folder(test_ds, load_model(path), out)
        assert summary.ok and summary.done == len(test_ds)
        cm = evaluate_folders(test_ds.paths.labels, out)
        np.testing.assert_array_equal(cm, _cm(full, name), err_msg=name)


@pytest.mark.parametrize(
    ("options", "name", "check"),
    [
        (StudyOptions(stride=20), "knn", lambda e, base: e["n_train_pixels"] < base / 3),
        (StudyOptions(keep_other=True), "knn", lambda e, base: e["n_train_pixels"] >= base),
        (StudyOptions(n_neighbors=1), "knn", lambda e, base: e["options"]["n_neighbors"] == 1),
        (
            StudyOptions(min_cluster_size=40),
            "hdbscan",
            lambda e, base: e["options"]["min_samples"] == 40,
        ),
        (StudyOptions(min_samples=3), "hdbscan", lambda e, base: e["options"]["min_samples"] == 3),
        (
            StudyOptions(cluster_selection_method="leaf"),
            "hdbscan",
            lambda e, base: e["options"]["cluster_selection_method"] == "leaf",
        ),
        (StudyOptions(backend="hdbscan"), "hdbscan", lambda e, base: e["n_clusters"] > 0),
        (
            StudyOptions(s2_resampling="bilinear"),
            "knn-satellite",
            lambda e, base: e["options"]["s2_resampling"] == "bilinear",
        ),
        (
            StudyOptions(cloud_area_threshold=0.2, cloud_proba_threshold=20),
            "knn-satellite",
            lambda e, base: e["options"]["cloud_proba_threshold"] == 20,
        ),
        (
            StudyOptions(sat_patch_size=20),
            "knn-satellite",
            lambda e, base: e["options"]["sat_patch_size"] == 20,
        ),
        (StudyOptions(n_jobs=1), "knn", lambda e, base: "n_jobs" not in e["options"]),
    ],
)
def test_every_option_changes_what_it_should(train_ds, test_ds, full, options, name, check):
    result = run_study(train_ds, test_ds, [name], options, map_patches=0)
    e = result.experiments[0]
    base = full.experiment(name)
    assert check(e, base["n_train_pixels"])
    # threads never change a result; options that change the training sample, the features
    # or the clustering parameters must. Another backend may legitimately give the
    # default's result: its invariant is the check above.
    same = np.array_equal(np.array(e["confusion_matrix"]), np.array(base["confusion_matrix"]))
    if options == StudyOptions(n_jobs=1):
        assert same
    elif options.backend == DEFAULT_BACKEND:
        assert not same


def test_class_absent_from_training_sample(train_ds, test_ds):
    # with a stride of 256 only 4 pixels per patch are sampled: most classes are absent
    result = run_study(train_ds, test_ds, ["knn"], StudyOptions(stride=256, n_neighbors=3))
    knn = result.experiment("knn")
    cm = np.array(knn["confusion_matrix"])
    trained = set(np.flatnonzero(cm.sum(axis=0)))
    present = set(np.flatnonzero(cm.sum(axis=1)))
    assert present - trained, "some true class must be missing from training"
    for c in present - trained:
        assert knn["iou"][c] == 0.0  # never predicted: IoU 0, still counted in the mIoU
    assert knn["miou"] == pytest.approx(mean_iou(cm))


def test_options_that_do_not_fit_the_data_are_refused_before_fitting(train_ds, test_ds):
    with pytest.raises(OptionError, match="--n-neighbors 1000 exceeds"):
        run_study(train_ds, test_ds, ["knn"], StudyOptions(n_neighbors=1000, stride=64))
    area = max(train_ds.area_shape(i)[1] for i in range(len(train_ds)))
    with pytest.raises(OptionError, match="--sat-patch-size"):
        run_study(train_ds, test_ds, ["knn-satellite"], StudyOptions(sat_patch_size=area + 1))


def test_resume_after_an_interruption_gives_the_same_result(train_ds, test_ds, tmp_path, full):
    from flair_hdbscan import passes

    ledger = tmp_path / "ledger.json"
    names = ["knn", "naive-uniform"]
    original = passes._predict_task
    calls = {"n": 0}

    def interrupted(plan, i):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(plan, i)

    passes._predict_task = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            run_study(train_ds, test_ds, names, map_patches=0, ledger_path=ledger)
    finally:
        passes._predict_task = original
    assert json.loads(ledger.read_text())["done"] == [test_ds.patches[0].patch_id]
    seen = []

    def counting(plan, i):
        seen.append(i)
        return original(plan, i)

    passes._predict_task = counting
    try:
        resumed = run_study(train_ds, test_ds, names, map_patches=0, ledger_path=ledger)
    finally:
        passes._predict_task = original
    assert seen == [1]  # patch 0 was done before the interruption
    for name in names:
        np.testing.assert_array_equal(_cm(resumed, name), _cm(full, name))


def test_resume_refuses_a_ledger_of_other_data(sample_root, tmp_path, full):
    """A mask corrected in place after an interruption: the ledger is not merged."""
    import os

    import rasterio

    copy = tmp_path / "copy"
    shutil.copytree(sample_root, copy)
    train, test = (FlairDataset.from_root(copy, s) for s in ("train", "test"))
    ledger = tmp_path / "ledger.json"
    run_study(train, test, ["knn"], map_patches=0, ledger_path=ledger)
    done = json.loads(ledger.read_text())
    assert len(done["done"]) == len(test)
    path = test.patches[1].mask
    st = path.stat()
    with rasterio.open(path, "r+") as dst:
        dst.write(np.full((512, 512), 3, np.uint8), 1)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    notes = []

    class Recorder:
        def stage(self, *_a):
            return lambda: None

        def note(self, text):
            notes.append(text)

    result = run_study(train, test, ["knn"], map_patches=0, ledger_path=ledger, progress=Recorder())
    assert notes and "other work" in notes[0]
    cm = _cm(result, "knn")
    assert cm.sum(axis=1)[2] >= 512 * 512  # the corrected patch is all impervious now
    assert not np.array_equal(cm, _cm(full, "knn"))


def test_cli_run_writes_results_and_refuses_another_run_in_the_folder(sample_root, tmp_path):
    out = tmp_path / "out"
    args = [
        "run",
        "--no-budget",
        "--data",
        str(sample_root),
        "--experiments",
        "knn,hdbscan",
        "--out",
        str(out),
        "--no-report",
        "--workers",
        "1",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in data["experiments"]] == ["knn", "hdbscan"]
    assert (out / "confusion" / "hdbscan.csv").exists()
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("name,")
    assert "held-out" in result.output and "TRUE class" in result.output
    assert result.output.rstrip().endswith("optimistic.")  # the table (and its caption) comes last
    # the same run again resumes; another run into the folder is refused, then replaced
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    other = CliRunner().invoke(cli, [*args, "--seed", "3"])
    assert other.exit_code == 2
    assert "other work" in other.stderr and "--overwrite" in other.stderr
    knn_only = [
        "run",
        "--no-budget",
        "--data",
        str(sample_root),
        "--experiments",
        "knn",
        "--out",
        str(out),
        "--no-report",
        "--workers",
        "1",
        "--seed",
        "3",
        "--overwrite",
    ]
    replaced = CliRunner().invoke(cli, knn_only)
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "confusion" / "hdbscan.csv").exists()  # nothing stale is left


def test_cli_run_needs_a_scored_split_or_in_sample(sample_root, tmp_path):
    root = tmp_path / "d"
    shutil.copytree(sample_root, root)
    shutil.rmtree(FlairDataset.from_root(root, "test").paths.labels)
    args = [
        "run",
        "--no-budget",
        "--data",
        str(root),
        "--experiments",
        "knn",
        "--no-report",
        "--workers",
        "1",
    ]
    held = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert held.exit_code == 2 and "--eval-split train" in held.stderr
    inside = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b"), "--eval-split", "train"])
    assert inside.exit_code == 0, inside.output
    assert "in-sample" in inside.output


def test_every_experiment_in_the_table_is_in_run_help():
    text = "".join(CliRunner().invoke(cli, ["run", "--no-budget", "--help"]).output.split())
    for e in EXPERIMENTS:
        assert e.name in text


def test_reordering_the_experiment_table_changes_no_result(train_ds, test_ds, full, monkeypatch):
    from flair_hdbscan import experiments

    reordered = tuple(reversed(experiments.EXPERIMENTS))
    monkeypatch.setattr(experiments, "EXPERIMENTS", reordered)
    monkeypatch.setattr(experiments, "EXPERIMENT_NAMES", tuple(e.name for e in reordered))
    names = ["naive-prevalence", "knn-robust", "hdbscan-normalized"]
    result = run_study(train_ds, test_ds, names, map_patches=0)
    order = [e.name for e in reordered if e.name in names]
    assert [e["name"] for e in result.experiments] == order  # the (reordered) table's order
    for name in names:
        np.testing.assert_array_equal(_cm(result, name), _cm(full, name))
