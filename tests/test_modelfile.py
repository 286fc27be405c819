import io
import json
import zipfile

import numpy as np
import pytest

from flair_hdbscan.errors import ModelFileError
from flair_hdbscan.model import PatchFeatures
from flair_hdbscan.modelfile import FORMAT_VERSION, load_model, save_model
from flair_hdbscan.models import KDTreeClassifier
from flair_hdbscan.pixels import SentinelOptions, read_patch_pixels

NAMES = ("knn", "hdbscan-robust", "knn-satellite-normalized")


@pytest.fixture(scope="module")
def models(fitted):
    return fitted(NAMES, seed=3)


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _predict(ds, i, model):
    sat = model.experiment.features.use_satellite
    px = read_patch_pixels(ds, i, sentinel=SentinelOptions.of(model.options) if sat else None)
    return model.predict_pixels(PatchFeatures(px), clusters=model.is_hdbscan)


@pytest.mark.parametrize("name", NAMES)
def test_loaded_model_predicts_byte_for_byte(test_ds, models, name, tmp_path):
    model = models[name]
    path = save_model(tmp_path / f"{name}.model", model)
    loaded = load_model(path)
    assert loaded.experiment == model.experiment
    assert loaded.options == model.options
    assert loaded.record == model.record
    assert loaded.identity == model.identity
    for i in range(len(test_ds)):
        pred, clusters = _predict(test_ds, i, model)
        pred2, clusters2 = _predict(test_ds, i, loaded)
        assert pred2.dtype == np.uint8 and pred.tobytes() == pred2.tobytes()
        if model.is_hdbscan:
            assert clusters.tobytes() == clusters2.tobytes()
    assert [s for s, _ in loaded.estimator.steps] == [s for s, _ in model.estimator.steps]
    assert loaded.estimator[-1].get_params() == model.estimator[-1].get_params()


def test_metadata_records_options_record_and_provenance(train_ds, models, tmp_path):
    path = save_model(tmp_path / "h.model", models["hdbscan-robust"])
    meta = json.loads(str(_arrays(path)["metadata"]))
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["experiment"] == "hdbscan-robust"
    assert meta["columns"] == ["red", "green", "blue", "nir", "elevation"]
    assert meta["n_features"] == 5
    assert meta["options"]["seed"] == 3
    assert meta["record"]["diagnostics"]["n_clusters"] >= 1
    assert meta["record"]["train_split"] == "train"
    assert meta["record"]["n_labels_used"] >= meta["record"]["n_train_pixels"]
    prov = meta["provenance"]
    assert prov["data"]["split"] == "train" and len(prov["data"]["digest"]) == 64
    assert "numpy" in prov["versions"] and prov["experiment"] == "hdbscan-robust"


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


def _edit_meta(fn):
    def edit(meta, arrays):
        fn(meta)

    return edit


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_edit_meta(lambda m: m.update(columns=m["columns"][:-1])), "columns"),
        (lambda m, a: a.update(fit_X=a["fit_X"][:, :-1]), "features for"),
        (_edit_meta(lambda m: m.update(n_features=7)), "features for"),
        (_edit_meta(lambda m: m.update(format_version=FORMAT_VERSION + 1)), "format version"),
        (_edit_meta(lambda m: m.update(experiment="hdbscan")), "unexpected scaler"),
        (_edit_meta(lambda m: m.update(experiment="knn-robust")), "method"),
        (_edit_meta(lambda m: m.update(experiment="naive-uniform")), "invalid metadata"),
        (_edit_meta(lambda m: m.update(n_features="5")), "invalid metadata at n_features"),
        (_edit_meta(lambda m: m.update(columns="red")), "invalid metadata at columns"),
        (_edit_meta(lambda m: m.update(options=[])), "invalid metadata at options"),
        (_edit_meta(lambda m: m["options"].update(n_neighbors="5")), "unreadable options"),
        (_edit_meta(lambda m: m["options"].update(stride=-1)), "unreadable options"),
        (_edit_meta(lambda m: m["record"].update(n_labels_used=-3)), "record"),
        (_edit_meta(lambda m: m["record"]["diagnostics"].update(noise_fraction=2)), "noise"),
        (_edit_meta(lambda m: m.pop("provenance")), "provenance"),
        (lambda m, a: a.update(train_clusters=a["train_clusters"][:-1]), "cluster ids"),
        (lambda m, a: a.pop("cluster_table"), "cluster_table"),
        (lambda m, a: a.update(classes=a["classes"] + 20), "outside 0..12"),
        (lambda m, a: a.update(fit_X=a["fit_X"] * np.nan), "not finite"),
        (lambda m, a: a.update(cluster_table=a["cluster_table"] + 99), "outside `classes`"),
        (lambda m, a: a.update(extra=np.zeros(3)), "unexpected extra"),
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


def test_a_member_claiming_a_huge_shape_is_refused_before_allocation(models, tmp_path):
    path = save_model(tmp_path / "k.model", models["knn"])
    raw = bytearray(path.read_bytes())
    # rewrite fit_X's header shape to (4000000000000, 5) without growing the file
    header = raw.find(b"'shape': (")
    assert header > 0
    end = raw.find(b")", header)
    fake = b"'shape': (4000000000000, 5"
    original = raw[header:end]
    assert len(fake) <= len(original) + 20
    patched = raw[:header] + fake.ljust(len(original)) + raw[end:]
    broken = tmp_path / "huge.model"
    broken.write_bytes(bytes(patched))
    with pytest.raises(ModelFileError, match=r"header does not fit|not a readable"):
        load_model(broken)


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
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(text)
    npz = tmp_path / "other.model"
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(3))
    npz.write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="no metadata"):
        load_model(npz)


def test_naive_experiments_cannot_be_saved(fitted, tmp_path):
    model = fitted(["naive-prevalence"])["naive-prevalence"]
    with pytest.raises(ModelFileError, match="random baseline"):
        save_model(tmp_path / "n.model", model)
    assert not (tmp_path / "n.model").exists()


def test_knn_rebuilt_from_points(models, tmp_path):
    path = save_model(tmp_path / "k.model", models["knn"])
    final = load_model(path).estimator[-1]
    assert isinstance(final, KDTreeClassifier)
    original = models["knn"].estimator[-1]
    np.testing.assert_array_equal(final.fit_X_, original.fit_X_)
    np.testing.assert_array_equal(final.classes_[final.y_], original.classes_[original.y_])
