"""The prediction pass gives what the plain way gives: every pixel featurised and predicted."""

import copy
import pickle
import threading
from fractions import Fraction

import numpy as np
from scipy.spatial import cKDTree
from sklearn.dummy import DummyClassifier

from flair_hdbscan import neighbors
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import feature_table
from flair_hdbscan.ledger import Ledger
from flair_hdbscan.metrics import confusion_matrix
from flair_hdbscan.model import PatchFeatures
from flair_hdbscan.models import KDTreeClassifier
from flair_hdbscan.passes import PredictPlan, predict_split
from flair_hdbscan.pixels import SentinelOptions, read_patch_pixels

#: one experiment per feature transform and per method (the pass is the same code for all)
ONE_BY_ONE = (
    "knn-normalized",
    "knn-robust-normalized",
    "knn-satellite-robust",
    "hdbscan",
    "hdbscan-satellite-normalized",
)


def test_pass_equals_every_pixel_predicted_one_by_one(full, test_ds):
    """Reading each file once, distinct pixels once and every model at once changes nothing.

    The pass runs the five models together on the first test patch, as ``run`` does on
    every patch, and keeps that patch's maps; the plain way predicts every 4th pixel along
    each axis, duplicates included, one model at a time. The pass's confusion matrices are
    its maps against the truth.
    """
    one = copy.copy(test_ds)
    one.patches = test_ds.patches[:1]
    pid = one.patches[0].patch_id
    models = tuple(full.models[name] for name in ONE_BY_ONE)
    ledger = Ledger(None, {"test": "one-by-one"}, len(models))
    plan = PredictPlan(one, models, score=True, keep=frozenset([pid]))
    summary = predict_split(plan, ledger, LocalExecutor())
    assert summary.ok and ledger.done == {pid}
    truth = one.read_labels(0)
    for model, matrix in zip(models, ledger.matrices, strict=True):
        kept = summary.arrays[pid]["pred"][model.name]
        assert kept.shape == truth.shape
        np.testing.assert_array_equal(confusion_matrix(truth.ravel(), kept.ravel()), matrix)
        spec = model.experiment.features
        sentinel = SentinelOptions.of(model.options) if spec.use_satellite else None
        px = read_patch_pixels(one, 0, sentinel=sentinel, stride=4)
        X = feature_table(px.aerial, px.s2, spec)
        one_by_one = np.asarray(model.estimator.predict(X))
        np.testing.assert_array_equal(one_by_one, kept[::4, ::4].ravel(), model.name)


def test_previous_engine_differs_only_among_rows_at_equal_distance():
    """scipy's cKDTree (the engine before) keeps other rows only where distances tie exactly."""
    rng = np.random.default_rng(0)
    levels = np.arange(0, 256, 16)  # coarse values: duplicates and equal distances
    X = rng.choice(levels, size=(6000, 5)).astype(np.float32) * np.float32(1 / 255)
    y = rng.integers(0, 13, size=X.shape[0])
    Q = rng.choice(levels, size=(3000, 5)).astype(np.float32) * np.float32(1 / 255)
    before = cKDTree(X.astype(np.float64)).query(Q.astype(np.float64), k=5)[1]
    after = KDTreeClassifier(n_neighbors=5).fit(X, y).kneighbors(Q)
    differ = np.flatnonzero((np.sort(before, axis=1) != np.sort(after, axis=1)).any(axis=1))
    assert differ.size > 0  # ties are common on pixel values: the rule matters

    def d2(i, r):
        pairs = zip(X[r], Q[i], strict=True)
        return sum((Fraction(float(u)) - Fraction(float(v))) ** 2 for u, v in pairs)

    for i in differ:
        assert sorted(d2(i, r) for r in before[i]) == sorted(d2(i, r) for r in after[i])


def test_hdbscan_models_borrow_knn_candidates_and_predict_the_same(fitted, test_ds, monkeypatch):
    """Linked in this process and again on a worker's copy; the matrices do not change.

    The sample's HDBSCAN models leave 20–55 % of pixels unclustered, below the coverage at
    which borrowing pays; it is lowered so the linked path runs (and lacks many lent
    candidates, which it must ask its own tree for).
    """
    names = ("knn-satellite", "hdbscan-satellite", "knn", "hdbscan")
    models = copy.deepcopy(tuple(fitted(names).values()))  # linking marks the indexes
    before = Ledger(None, {"test": "unlinked"}, len(models))
    assert predict_split(PredictPlan(test_ds, models, score=True), before, LocalExecutor()).ok
    monkeypatch.setattr(neighbors, "BORROW_COVERAGE", 0.0)
    plan = pickle.loads(pickle.dumps(PredictPlan(test_ds, models, score=True).prepared()))
    assert "_prepared" not in plan.__dict__  # a worker's copy links its own models
    plan = plan.prepared()
    pairs = [
        (m.name, m.estimator[-1].knn_.index_._source is not None)
        for m in plan.models
        if m.is_hdbscan
    ]
    assert pairs == [("hdbscan", True), ("hdbscan-satellite", True)]
    after = Ledger(None, {"test": "linked"}, len(models))
    assert predict_split(plan, after, LocalExecutor()).ok
    np.testing.assert_array_equal(after.matrices, before.matrices)


def test_threads_of_one_worker_draw_each_patch_its_own_baseline(fitted, test_ds, monkeypatch):
    """The baselines' draw is seeded per patch: two threads sharing a model (a Dask worker
    of two threads) each draw with their own patch's seed, as one thread alone does."""
    models = fitted(("naive-uniform", "naive-prevalence"))
    features = [PatchFeatures(read_patch_pixels(test_ds, i)) for i in (0, 1)]
    alone = {
        (name, i): m.predict_pixels(features[i])[0] for name, m in models.items() for i in (0, 1)
    }
    together = threading.Barrier(2)
    draw = DummyClassifier.predict

    def after_both_seeded(self, X):
        together.wait(timeout=60)  # both threads have set their seed before either draws
        return draw(self, X)

    monkeypatch.setattr(DummyClassifier, "predict", after_both_seeded)
    for name, model in models.items():
        assert not np.array_equal(alone[name, 0], alone[name, 1])  # the seeds differ
        out = {}

        def predict(i, model=model, out=out):
            out[i] = model.predict_pixels(features[i])[0]

        threads = [threading.Thread(target=predict, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in (0, 1):
            np.testing.assert_array_equal(out[i], alone[name, i], f"{name}, patch {i}")


def test_a_worker_of_two_threads_scores_as_this_process(fitted, test_ds):
    """A Dask worker running two patch tasks at once (``dask worker --nthreads 2``) shares
    one copy of the models between them; every matrix equals this process's."""
    from distributed import Client, LocalCluster

    from flair_hdbscan.executors import DaskExecutor

    names = ("naive-uniform", "naive-prevalence", "knn", "hdbscan", "knn-satellite",
             "hdbscan-satellite")  # fmt: skip
    models = copy.deepcopy(tuple(fitted(names).values()))
    here = Ledger(None, {"test": "here"}, len(models))
    assert predict_split(PredictPlan(test_ds, models, score=True), here, LocalExecutor()).ok
    there = Ledger(None, {"test": "threads"}, len(models))
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        plan = PredictPlan(test_ds, models, score=True)
        assert predict_split(plan, there, DaskExecutor(client)).ok
    np.testing.assert_array_equal(there.matrices, here.matrices)
