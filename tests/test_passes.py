"""The prediction pass gives what the plain way gives: every pixel featurised and predicted."""

import copy
import pickle
from fractions import Fraction

import numpy as np
from scipy.spatial import cKDTree

from flair_hdbscan import neighbors
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import feature_table
from flair_hdbscan.ledger import Ledger
from flair_hdbscan.metrics import confusion_matrix
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
