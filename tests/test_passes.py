"""The prediction pass gives what the plain way gives: every pixel featurised and predicted."""

import copy
from fractions import Fraction

import numpy as np
from scipy.spatial import cKDTree

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


def test_pass_matrices_equal_every_pixel_predicted_one_by_one(full, test_ds):
    """Reading each file once, distinct pixels once and every model at once changes nothing.

    The pass runs the five models together on the first test patch, as ``run`` does on
    every patch; the plain way predicts that patch's pixels one model at a time.
    """
    one = copy.copy(test_ds)
    one.patches = test_ds.patches[:1]
    models = tuple(full.models[name] for name in ONE_BY_ONE)
    ledger = Ledger(None, {"test": "one-by-one"}, len(models))
    summary = predict_split(PredictPlan(one, models, score=True), ledger, LocalExecutor())
    assert summary.ok and ledger.done == {one.patches[0].patch_id}
    for model, matrix in zip(models, ledger.matrices, strict=True):
        spec = model.experiment.features
        sentinel = SentinelOptions.of(model.options) if spec.use_satellite else None
        px = read_patch_pixels(one, 0, sentinel=sentinel)
        X = feature_table(px.aerial, px.s2, spec)  # every pixel, duplicates included
        cm = confusion_matrix(px.labels, np.asarray(model.estimator.predict(X)))
        assert cm.sum() == px.labels.size - np.count_nonzero(px.labels == 255)
        np.testing.assert_array_equal(cm, matrix, model.name)


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
