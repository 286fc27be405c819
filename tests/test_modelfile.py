import io
import json
import zipfile

import numpy as np
import pytest

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import ModelFileError, OptionError
from flair_hdbscan.modelfile import (
    FORMAT_VERSION,
    ExperimentModel,
    load_model,
    save_model,
)
from flair_hdbscan.models import ClusterThenLabel, KDTreeClassifier
from flair_hdbscan.pixels import training_sample
from flair_hdbscan.predict import fit_model, predict_maps
from flair_hdbscan.sample_data import generate_sample
from flair_hdbscan.study import EXPERIMENTS, StudyOptions, fit_experiment


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = generate_sample(tmp_path_factory.mktemp("data") / "d", n_patches=3, seed=0)
    return FlairDataset.from_root(root, "train")


@pytest.fixture(scope="module")
def models(ds):
    return {
        name: fit_model(ds, name, StudyOptions(seed=3))
        for name in ("knn", "hdbscan-robust", "knn-satellite-normalized")
    }


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("name", ["knn", "hdbscan-robust", "knn-satellite-normalized"])
def test_loaded_model_predicts_byte_for_byte(ds, models, name, tmp_path):
    model = models[name]
    path = save_model(tmp_path / f"{name}.model", model)
    loaded = load_model(path)
    assert loaded.experiment == model.experiment
    assert loaded.options == model.options
    for i in range(len(ds)):
        pred, clusters = predict_maps(ds, i, model, clusters=model.is_hdbscan)
        pred2, clusters2 = predict_maps(ds, i, loaded, clusters=model.is_hdbscan)
        assert pred2.dtype == np.uint8
        assert pred.tobytes() == pred2.tobytes()
        if model.is_hdbscan:
            assert clusters.tobytes() == clusters2.tobytes()
    # the rebuilt estimators are the saved ones, not refitted variants
    assert [s for s, _ in loaded.model.steps] == [s for s, _ in model.model.steps]
    final, final2 = model.model[-1], loaded.model[-1]
    assert type(final2) is type(final)
    assert final2.get_params() == final.get_params()
    if isinstance(final, ClusterThenLabel):
        for attr in ("labels_", "train_clusters_", "cluster_classes_", "classes_"):
            np.testing.assert_array_equal(getattr(final2, attr), getattr(final, attr))
        assert final2.n_clusters_ == final.n_clusters_
        np.testing.assert_array_equal(loaded.model[0].center_, model.model[0].center_)


def test_metadata_records_options_mapping_and_versions(ds, models, tmp_path):
    path = save_model(tmp_path / "h.model", models["hdbscan-robust"])
    meta = json.loads(str(_arrays(path)["metadata"]))
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["experiment"] == "hdbscan-robust"
    assert meta["mapping"] == "oracle"
    assert meta["columns"] == ["red", "green", "blue", "nir", "elevation"]
    assert meta["n_features"] == 5
    assert meta["options"]["seed"] == 3
    assert meta["n_clusters"] >= 1
    assert 0.0 <= meta["noise_fraction"] < 1.0
    assert meta["dataset"] == {"split": "train", "fingerprint": ds.fingerprint()}
    assert "numpy" in meta["versions"]
    assert meta["flair_hdbscan_version"]


def test_model_file_holds_only_plain_arrays(models, tmp_path):
    path = save_model(tmp_path / "k.model", models["knn"])
    assert path.name == "k.model"  # no .npz appended
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            header = zf.read(member)[:200]
            assert b"'O'" not in header and b"|O" not in header
    arrays = _arrays(path)
    assert set(arrays) == {"metadata", "fit_X", "classes", "fit_classes"}
    assert arrays["fit_X"].dtype == np.float32  # float32 features stored losslessly
    assert not list(tmp_path.glob(".k.model.*"))  # no temporary left


def test_fit_model_matches_fit_experiment(ds, models):
    exp = next(e for e in EXPERIMENTS if e.name == "knn")
    k = EXPERIMENTS.index(exp)
    sample = training_sample(ds, stride=10)
    direct = fit_experiment(exp, sample, StudyOptions(seed=3), k)
    X = direct.model[-1].fit_X_
    np.testing.assert_array_equal(models["knn"].model[-1].fit_X_, X)
    np.testing.assert_array_equal(models["knn"].model.predict(X), direct.model.predict(X))


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m, a: m.update(columns=m["columns"][:-1]), "feature columns"),
        (lambda m, a: a.update(fit_X=a["fit_X"][:, :-1]), "feature columns"),
        (lambda m, a: m.update(n_features=7), "n_features"),
        (lambda m, a: m.update(format_version=FORMAT_VERSION + 1), "format version"),
        (lambda m, a: m["features"].update(append_intensity=True), "features"),
        (lambda m, a: m.update(experiment="hdbscan"), "features"),
        (lambda m, a: m.update(experiment="knn-robust"), "method"),
        (lambda m, a: m["estimator"].update({"class": "KDTreeClassifier"}), "estimator"),
        (lambda m, a: a.update(train_clusters=a["train_clusters"][:-1]), "cluster ids"),
        (lambda m, a: a.pop("cluster_table"), "cluster_table"),
    ],
)
def test_hand_edited_model_file_is_refused(models, tmp_path, edit, words):
    path = save_model(tmp_path / "h.model", models["hdbscan-robust"])
    arrays = _arrays(path)
    meta = json.loads(str(arrays["metadata"]))
    edit(meta, arrays)
    arrays["metadata"] = np.array(json.dumps(meta))
    _rewrite(path, arrays)
    with pytest.raises(ModelFileError, match=words) as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_never_executes_code(models, tmp_path):
    path = save_model(tmp_path / "k.model", models["knn"])
    arrays = _arrays(path)
    marker = tmp_path / "code-ran"
    arrays["metadata"] = np.array([_Payload(marker)], dtype=object)
    _rewrite(path, arrays)  # np.savez pickles the object array
    with pytest.raises(ModelFileError, match="pickled"):
        load_model(path)
    assert not marker.exists()
    # the payload was live: unpickling it (which load_model never does) runs code
    with np.load(path, allow_pickle=True) as z:
        z["metadata"]
    assert marker.exists()


def test_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.model")
    text = tmp_path / "notes.model"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not an \.npz archive"):
        load_model(text)
    npz = tmp_path / "other.model"
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(3))
    npz.write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="no metadata"):
        load_model(npz)


def test_naive_experiments_are_refused(ds):
    with pytest.raises(OptionError, match="random baseline"):
        fit_model(ds, "naive-prevalence")
    exp = EXPERIMENTS[0]
    fitted = fit_experiment(exp, training_sample(ds, stride=50), StudyOptions(), 0)
    with pytest.raises(OptionError, match="random baseline"):
        ExperimentModel.from_fitted(fitted, StudyOptions())


def test_knn_rebuilt_from_points(models, tmp_path):
    path = save_model(tmp_path / "k.model", models["knn"])
    final = load_model(path).model[-1]
    assert isinstance(final, KDTreeClassifier)
    np.testing.assert_array_equal(final.fit_X_, models["knn"].model[-1].fit_X_)
    np.testing.assert_array_equal(final.y_, models["knn"].model[-1].y_)
