import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import adjusted_rand_score

from flair_hdbscan.cli.main import cli
from flair_hdbscan.errors import OptionError
from flair_hdbscan.metrics import iou_per_class, mean_iou
from flair_hdbscan.nomenclature import N_CLASSES
from flair_hdbscan.study import (
    EXPERIMENT_NAMES,
    EXPERIMENTS,
    StudyOptions,
    run_study,
    select_experiments,
)


@pytest.fixture(scope="module")
def full(study_ds):
    return run_study(study_ds, "all", StudyOptions(map_patches=1))


def _cm(result, name):
    return np.array(result.experiment(name)["confusion_matrix"])


def test_experiment_table_is_the_seed_order():
    assert EXPERIMENT_NAMES[:3] == ("naive-uniform", "naive-prevalence", "knn")
    assert len(EXPERIMENTS) == 17
    assert [e.part for e in EXPERIMENTS] == sorted(e.part for e in EXPERIMENTS)
    sat = [e.name for e in EXPERIMENTS if e.features.use_satellite]
    assert sat == [n for n in EXPERIMENT_NAMES if "satellite" in n]


def test_select_experiments_validates():
    assert [e.name for e in select_experiments("hdbscan,knn")] == ["knn", "hdbscan"]
    with pytest.raises(OptionError, match="knnn"):
        select_experiments("knnn")


def test_full_run_shapes_and_metadata(full, study_ds):
    assert [e["name"] for e in full.experiments] == list(EXPERIMENT_NAMES)
    n_labelled = sum(int((study_ds.read_labels(i) != 255).sum()) for i in range(len(study_ds)))
    for e in full.experiments:
        cm = np.array(e["confusion_matrix"])
        assert cm.shape == (N_CLASSES, N_CLASSES)
        assert e["n_eval_pixels"] == cm.sum() == n_labelled
        assert len(e["iou"]) == 13
        # the recorded mIoU is the FLAIR-convention mIoU of the recorded matrix
        assert e["miou"] == pytest.approx(mean_iou(cm), abs=1e-12)
    run = full.run
    assert run["seed"] == 0
    assert run["dataset"]["fingerprint"] == study_ds.fingerprint()
    assert {"numpy", "scikit-learn", "fast_hdbscan"} <= set(run["versions"])
    json.dumps(full.to_dict(), allow_nan=False)


def test_oracle_mapping_recorded_and_labels_counted(full):
    for e in full.experiments:
        if e["method"] == "hdbscan":
            assert e["mapping"] == "oracle"
            assert e["n_clusters"] > 0
            assert 0 <= e["noise_fraction"] < 1
            assert 0 < e["cluster_purity"] <= 1
            assert 0 < e["largest_cluster_fraction"] <= 1
            clustered = round((1 - e["noise_fraction"]) * e["n_train_pixels"])
            assert e["n_labels_used"] == clustered
        elif e["method"] == "knn":
            assert e["mapping"] is None
            assert e["n_labels_used"] == e["n_train_pixels"]


def test_ordering_knn_beats_hdbscan_beats_naive(full):
    miou = {e["name"]: e["miou"] for e in full.experiments}
    best_naive = max(miou["naive-uniform"], miou["naive-prevalence"])
    for name, value in miou.items():
        if name.startswith("hdbscan"):
            assert miou["knn"] > value > best_naive, name


def test_naive_uniform_matches_analytic_expectation(full):
    cm = _cm(full, "naive-uniform")
    truth = cm.sum(axis=1).astype(float)
    total = truth.sum()
    # uniform over 13 classes: E[TP] = n_c / 13, E[predicted as c] = N / 13
    expected = (truth / 13) / (truth + total / 13 - truth / 13)
    observed = iou_per_class(cm)
    present = truth > 2000
    np.testing.assert_allclose(observed[present], expected[present], rtol=0.10)


def test_naive_prevalence_predicts_training_frequencies(full):
    cm = _cm(full, "naive-prevalence")
    predicted = cm.sum(axis=0) / cm.sum()
    truth = cm.sum(axis=1) / cm.sum()
    np.testing.assert_allclose(predicted, truth, atol=0.03)


def test_same_seed_same_matrices(study_ds, full):
    names = ["naive-uniform", "knn", "hdbscan-robust", "hdbscan-satellite"]
    again = run_study(study_ds, names, StudyOptions(map_patches=0))
    for name in names:
        np.testing.assert_array_equal(_cm(again, name), _cm(full, name))


def test_other_seed_changes_naive_only(study_ds, full):
    other = run_study(study_ds, ["naive-uniform", "knn"], StudyOptions(seed=1, map_patches=0))
    assert not np.array_equal(_cm(other, "naive-uniform"), _cm(full, "naive-uniform"))
    np.testing.assert_array_equal(_cm(other, "knn"), _cm(full, "knn"))


def test_maps_kept_for_first_patches(full, study_ds):
    (pid,) = full.maps
    assert pid == study_ds.patches[0].patch_id
    entry = full.maps[pid]
    assert entry["rgb"].shape == (512, 512, 3)
    assert set(entry["pred"]) == set(EXPERIMENT_NAMES)
    assert set(entry["clusters"]) == {n for n in EXPERIMENT_NAMES if n.startswith("hdbscan")}
    np.testing.assert_array_equal(entry["truth"], study_ds.read_labels(0))
    assert entry["clusters"]["hdbscan"].dtype == np.int32


@pytest.mark.parametrize(
    ("options", "name", "check"),
    [
        (StudyOptions(stride=20), "knn", lambda e, base: e["n_train_pixels"] < base / 3),
        (StudyOptions(no_other=False), "knn", lambda e, base: e["n_train_pixels"] >= base),
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
        (StudyOptions(backend="sklearn"), "hdbscan", lambda e, base: e["n_clusters"] > 0),
        (StudyOptions(dedup=True), "hdbscan", lambda e, base: e["options"]["dedup"] is True),
        (
            StudyOptions(label_budget=5),
            "hdbscan",
            lambda e, base: (
                e["mapping"] == "budget-5" and e["n_labels_used"] <= 5 * e["n_clusters"]
            ),
        ),
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
        (StudyOptions(n_jobs=1), "knn", lambda e, base: True),
    ],
)
def test_every_option_changes_what_it_should(study_ds, full, options, name, check):
    result = run_study(study_ds, [name], options)
    e = result.experiments[0]
    base = full.experiment(name)
    assert check(e, base["n_train_pixels"])
    # threads never change a result; options that change the training sample, the
    # distances or the clustering parameters must. Another backend, dedup or a label budget
    # may legitimately give the default's result (a budget can name every cluster as the
    # oracle does): their invariants are the checks above, not a changed matrix.
    same = np.array_equal(np.array(e["confusion_matrix"]), np.array(base["confusion_matrix"]))
    default = StudyOptions()
    if options == StudyOptions(n_jobs=1):
        assert same
    elif (options.backend, options.dedup, options.label_budget) == (
        default.backend,
        default.dedup,
        default.label_budget,
    ):
        assert not same


def test_backends_agree(study_ds):
    """On sample pixels the backends agree as closely as the exact reference agrees with itself.

    Quantised pixels tie many mutual-reachability distances and every implementation breaks
    ties by row order, so the yardstick is ``hdbscan`` (exact tree) against itself on shuffled
    rows; an off-by-one in ``min_samples`` or a wrong metric falls far below it.
    """
    import hdbscan

    from flair_hdbscan.clustering import cluster_pixels
    from flair_hdbscan.features import FeatureSpec, feature_table
    from flair_hdbscan.pixels import training_sample

    s = training_sample(study_ds, stride=10)
    X = feature_table(s.aerial, None, FeatureSpec(robust_scale=True))
    labels = {
        b: cluster_pixels(X, backend=b).labels for b in ("fast_hdbscan", "hdbscan", "sklearn")
    }
    ref = labels["hdbscan"]
    self_agreement = []
    for k in range(3):
        order = np.random.default_rng(k).permutation(len(X))
        shuffled = np.empty(len(X), np.int64)
        shuffled[order] = (
            hdbscan.HDBSCAN(min_cluster_size=10, approx_min_span_tree=False)
            .fit(X[order].astype(np.float64))
            .labels_
        )
        self_agreement.append(adjusted_rand_score(ref, shuffled))
    floor = min(self_agreement) - 0.01
    for backend in ("fast_hdbscan", "sklearn"):
        score = adjusted_rand_score(labels[backend], ref)
        assert score >= floor, (backend, score, self_agreement)


def test_class_absent_from_training_sample(study_ds):
    # with a stride of 256 only 4 pixels per patch are sampled: most classes are absent
    result = run_study(study_ds, ["knn", "naive-prevalence"], StudyOptions(stride=256))
    knn = result.experiment("knn")
    cm = np.array(knn["confusion_matrix"])
    trained = set(np.flatnonzero(cm.sum(axis=0)))
    present = set(np.flatnonzero(cm.sum(axis=1)))
    assert present - trained, "some true class must be missing from training"
    for c in present - trained:
        assert knn["iou"][c] == 0.0  # never predicted: IoU 0, still counted in the mIoU
    assert knn["miou"] == pytest.approx(mean_iou(cm))


def test_resume_from_checkpoint_gives_same_result(study_ds, tmp_path, full):
    from flair_hdbscan import study as study_mod

    checkpoint = tmp_path / "ckpt.npz"
    names = ["knn", "naive-uniform"]
    calls = {"n": 0}
    original = study_mod._predict_patch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    study_mod._predict_patch = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            run_study(study_ds, names, StudyOptions(map_patches=0), checkpoint=checkpoint)
    finally:
        study_mod._predict_patch = original
    assert checkpoint.exists()
    seen = []

    def counting(*args, **kwargs):
        seen.append(args[4])
        return original(*args, **kwargs)

    study_mod._predict_patch = counting
    try:
        resumed = run_study(study_ds, names, StudyOptions(map_patches=0), checkpoint=checkpoint)
    finally:
        study_mod._predict_patch = original
    assert seen == [1, 2]  # patch 0 was done before the interruption
    assert not checkpoint.exists()
    for name in names:
        np.testing.assert_array_equal(_cm(resumed, name), _cm(full, name))


def test_bad_options_are_refused():
    with pytest.raises(OptionError, match="--dedup"):
        StudyOptions(dedup=True, backend="hdbscan")
    with pytest.raises(OptionError, match="--stride"):
        StudyOptions(stride=0)
    with pytest.raises(OptionError, match="resampling"):
        StudyOptions(s2_resampling="cubic")


def test_cli_run_writes_results(study_root, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--data",
            str(study_root),
            "--experiments",
            "knn,hdbscan",
            "--out",
            str(out),
            "--no-report",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in data["experiments"]] == ["knn", "hdbscan"]
    assert (out / "confusion" / "hdbscan.csv").exists()
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("name,")
    assert "oracle" in result.output and "TRUE class" in result.output
    assert result.output.rstrip().endswith("optimistic.")  # the table (and its caption) comes last
    assert not (out / ".checkpoint.npz").exists()


def test_cli_run_bad_experiment_exit_2(study_root, tmp_path):
    result = CliRunner().invoke(
        cli, ["run", "--data", str(study_root), "--experiments", "kmeans", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "kmeans" in result.output and "Traceback" not in result.output


def test_progress_reports_every_stage(study_ds):
    calls: dict[str, list[int | None]] = {}

    def progress(description, total):
        calls[description] = [total, 0]

        def advance():
            calls[description][1] += 1

        return advance

    run_study(study_ds, ["knn", "hdbscan"], StudyOptions(map_patches=0), progress=progress)
    n = len(study_ds)
    assert calls["reading training sample"] == [n, n]
    assert calls["fitting knn"] == [1, 1]
    assert calls["clustering hdbscan"] == [1, 1]
    assert calls["predicting every pixel"] == [n, n]
