"""The labelling page's library: clustering and order, pool, session, files, crops, API."""

import io
import json
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from flair_hdbscan.budget.methods import fill_from_nearest
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError, FaultError, OptionError, OutputError
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.exemplars import annotation_order, cluster_means
from flair_hdbscan.label.clusterer import Clusters, fit_clusters, parse_clusterer
from flair_hdbscan.label.imagery import crop_window, render_crop, spectrum
from flair_hdbscan.label.pool import read_pool
from flair_hdbscan.label.predictor import load_mapping_model
from flair_hdbscan.label.session import MIXED, SKIP, Session, parse_answer
from flair_hdbscan.label.simulate import ApiClient
from flair_hdbscan.label.store import load_clustering, read_mapping
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.seeds import rng_for
from label_helpers import served

# -- the clustering and its order --------------------------------------------------------


def test_parse_clusterer_names_the_budget_settings():
    assert parse_clusterer("hdbscan").setting.name == "eom-10-10"
    assert parse_clusterer("hdbscan-leaf").setting.name == "leaf-10-5"
    assert parse_clusterer("hdbscan:leaf:20:3").setting.name == "leaf-20-3"
    km = parse_clusterer("kmeans-50")
    assert (km.kind, km.k, km.budget) == ("kmeans", 50, 50)
    assert parse_clusterer("hdbscan", budget="40").budget == 40
    assert parse_clusterer("hdbscan").budget == "all"
    for bad in ("dbscan", "kmeans-0", "kmeans-x", "hdbscan:leaf:10"):
        with pytest.raises(OptionError):
            parse_clusterer(bad)
    with pytest.raises(OptionError, match="k = 50"):
        parse_clusterer("kmeans-50", budget=20)


def _toy_clusters(seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(m, 0.1, (n, 2)) for m, n in ((0, 30), (3, 20), (6, 10))])
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    labels[[5, 40]] = -1  # noise
    order = annotation_order(X, labels, rng_for(0, "toy"), 3)
    return Clusters(labels, cluster_means(X, labels, 3), order, 3, 2 / 60)


def test_session_answers_undo_skip_mixed_and_renames():
    cl = _toy_clusters()
    s = Session(cl)
    assert s.position == 0 and s.n_items == 58
    first = [s.item(p) for p in range(3)]
    assert [i["cluster"] for i in first] == [0, 1, 2]  # largest first
    assert all(i["round"] == 0 for i in first)
    assert s.item(3)["round"] == 1
    s.answer(0, 3)
    s.answer(1, "mixed")
    s.answer(2, SKIP)
    named, source = s.named()
    assert named.tolist() == [3, -1, -1] and source == ["answers", MIXED, None]
    assert s.labels_spent == 2  # the skip spends nothing
    assert s.classes().tolist() == fill_from_nearest(named, cl.centres).tolist() == [3, 3, 3]
    with pytest.raises(OptionError, match="not the next"):
        s.answer(2, 1)  # stale position: answered twice
    s.answer(3, 5)  # round 2 of cluster 0: a tie 3 vs 5 goes to the smallest class
    assert s.named()[0][0] == 3
    s.rename(2, 7)  # an unanswered cluster: its exemplar's label is spent
    assert s.labels_spent == 4
    assert s.named()[0].tolist() == [3, -1, 7]
    s.rename(0, None)  # back to the answers: still 3
    assert s.named()[0][0] == 3 and s.labels_spent == 4
    assert s.undo()["kind"] == "rename"
    assert s.undo()["cluster"] == 2
    assert s.labels_spent == 3
    resumed = Session(cl, json.loads(json.dumps(s.log)))
    assert resumed.log == s.log and resumed.position == s.position == 4
    for bad in (13, -1, "x", True, 2.5):
        with pytest.raises(OptionError):
            parse_answer(bad)
    with pytest.raises(OptionError):
        parse_answer(SKIP, rename=True)
    assert parse_answer("12") == 12 and parse_answer(None, rename=True) is None
    with pytest.raises(OptionError, match="no cluster"):
        s.rename(3, 1)


def test_a_foreign_log_is_refused():
    cl = _toy_clusters()
    s = Session(cl)
    s.answer(0, 1)
    log = [dict(s.log[0], row=int(s.item(1)["row"]))]
    with pytest.raises(OptionError, match="another clustering"):
        Session(cl, log)


# -- the pool, without labels ------------------------------------------------------------


def test_pool_is_the_training_sample_read_without_labels(sample_root, train_ds, tmp_path):
    sample = read_training_sample(train_ds, stride=10, sentinel=None, executor=LocalExecutor())
    copy = tmp_path / "flair"
    shutil.copytree(sample_root, copy)
    shutil.rmtree(copy / "flair_labels_train")
    bare = FlairDataset.from_root(copy, split="train")
    assert not bare.has_labels
    pool = read_pool(bare, stride=10)
    np.testing.assert_array_equal(pool.aerial, sample.aerial)
    np.testing.assert_array_equal(pool.patch, sample.patch)
    # each row's place holds its pixel value
    for row in (0, 1, 53, len(pool) - 1):
        i, y, x = pool.place(row)
        np.testing.assert_array_equal(bare.read_image(i)[:, y, x], pool.aerial[row])
        assert y % 10 == 0 and x % 10 == 0


def test_label_folder_on_a_split_without_labels_resumes_and_refuses(sample_root, tmp_path):
    copy = tmp_path / "flair"
    shutil.copytree(sample_root, copy)
    shutil.rmtree(copy / "flair_labels_train")
    bare = FlairDataset.from_root(copy, split="train")
    out = tmp_path / "label"
    with served(bare, out, "kmeans-12") as (server, service):
        client = ApiClient(server.base, server.token)
        state = client.state()
        assert state["item"]["position"] == 0 and state["item"]["round"] == 0
        state = client.answer(0, 2)
        state = client.answer(1, "mixed")
        assert state["progress"]["labels_spent"] == 2
        assert client.undo()["progress"]["position"] == 1
        clusters = client.request("GET", "/api/clusters")
        assert len(clusters) == 12 and [c["size"] for c in clusters] == sorted(
            (c["size"] for c in clusters), reverse=True
        )
        assert clusters[0]["class"] == 2 and clusters[0]["source"] == "answers"
        # a user's mistake is a one-line JSON 400, never a traceback
        for body in ({"position": 1, "answer": 99}, {"position": 0, "answer": 1}, {"x": 1}):
            with pytest.raises(FaultError, match="400") as info:
                client.request("POST", "/api/answer", body)
            assert "Traceback" not in str(info.value)
        with pytest.raises(FaultError, match="404"):
            client.request("GET", "/nowhere")
    doc = read_mapping(out / "mapping.json")
    assert doc["labels_spent"] == 1 and len(doc["answers"]) == 1
    assert doc["provenance"]["request"]["data"]["split"] == "train"
    # the same request resumes, without fitting again
    with served(bare, out, "kmeans-12") as (server, service):
        assert service.session.position == 1
        assert ApiClient(server.base, server.token).state()["progress"]["labels_spent"] == 1
    # another clustering is refused in one line, or replaces the answers with --overwrite
    with pytest.raises(OutputError, match="overwrite"):
        with served(bare, out, "kmeans-13"):
            pass
    with served(bare, out, "kmeans-13", overwrite=True) as (server, service):
        assert service.session.position == 0
    # an altered clustering file is refused
    (out / "clustering.npz").write_bytes(b"not the clustering")
    with pytest.raises(DataError, match="not the clustering"):
        load_mapping_model(out / "mapping.json")


def test_clustering_file_round_trip(train_ds, tmp_path):
    with served(train_ds, tmp_path / "label", "kmeans-8") as (_, service):
        data = service.data
    pool, features, clusters = load_clustering(tmp_path / "label" / "clustering.npz")
    np.testing.assert_array_equal(pool.aerial, data.pool.aerial)
    np.testing.assert_array_equal(features, data.features)
    np.testing.assert_array_equal(clusters.order, data.clusters.order)
    np.testing.assert_array_equal(clusters.labels, data.clusters.labels)


# -- crops and spectra -------------------------------------------------------------------


def test_crop_window_stays_inside_and_holds_the_pixel():
    for r, c in ((0, 0), (511, 511), (250, 3), (100, 500)):
        top, left, side = crop_window((512, 512), r, c, 96)
        assert side == 96 and 0 <= top <= 512 - 96 and 0 <= left <= 512 - 96
        assert top <= r < top + side and left <= c < left + side
    assert crop_window((512, 512), 10, 10, 1024)[2] == 512


def test_render_crop_frames_the_pixel():
    view = np.zeros((512, 512, 3), dtype=np.uint8)
    img = render_crop(view, 200, 300, 96, 384)
    assert img.shape == (384, 384, 3) and img.dtype == np.uint8
    yellow = np.all(img == [255, 255, 0], axis=2)
    ys, xs = np.nonzero(yellow)
    assert ys.size > 0
    # the frame surrounds the pixel's enlarged square: (200 - 152) * 4 = 192 .. 196
    top, left, _ = crop_window((512, 512), 200, 300, 96)
    cy, cx = (200 - top + 0.5) * 4, (300 - left + 0.5) * 4
    assert ys.min() < cy < ys.max() and xs.min() < cx < xs.max()
    assert not yellow[int(cy), int(cx)]  # the pixel itself is left visible


def test_spectrum_gives_quartiles_and_elevation_in_metres():
    a = np.zeros((4, 5), dtype=np.uint8)
    a[:, 0] = [10, 20, 30, 40]
    a[:, 4] = 50  # stored 50 = 10 m
    sp = spectrum(a)
    assert sp["channels"] == ["red", "green", "blue", "nir", "elevation"]
    assert sp["median"][0] == 25.0 and sp["q1"][0] == 17.5 and sp["q3"][0] == 32.5
    assert sp["median"][4] == 10.0


def test_crop_endpoint_serves_png_and_refuses_bad_sizes(train_ds, tmp_path):
    with served(train_ds, tmp_path / "label", "kmeans-8") as (server, service):
        url = f"{server.base}/crop/0?mode=nir&size=96&out=384&token={server.token}"
        with urllib.request.urlopen(url) as resp:
            body = resp.read()
            assert resp.headers["content-type"] == "image/png"
            assert resp.headers["referrer-policy"] == "no-referrer"
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(body)).size == (384, 384)
        n = len(service.data.pool)
        for path in ("0?mode=xyz", "0?size=7", "0?out=100", f"{n}?mode=rgb", "0?size=big"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"{server.base}/crop/{path}&token={server.token}")
            assert info.value.code == 400
            assert b"Traceback" not in info.value.read()
            info.value.close()


def test_fit_clusters_all_noise_falls_back_to_one_cluster_and_kmeans_orders_by_size():
    X = np.zeros((6, 5), dtype=np.float32)  # fewer rows than min_samples: all noise
    cl = fit_clusters(X, parse_clusterer("hdbscan"))
    assert cl.fallback == "all-noise" and cl.n_clusters == 1
    assert sorted(cl.order.tolist()) == list(range(6))
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 0.01, (n, 5)) for m, n in ((0, 40), (1, 25), (2, 10))])
    km = fit_clusters(X.astype(np.float32), parse_clusterer("kmeans-3"))
    first = km.labels[km.order[:3]]
    assert km.sizes[first].tolist() == [40, 25, 10]  # largest cluster first
    assert sorted(km.order.tolist()) == list(range(75))  # every row once
    # each exemplar is its cluster's member nearest the centre
    for row in km.order[:3]:
        members = np.flatnonzero(km.labels == km.labels[row])
        d2 = ((X[members] - km.centres[km.labels[row]]) ** 2).sum(axis=1)
        assert d2.min() == pytest.approx(((X[row] - km.centres[km.labels[row]]) ** 2).sum())
