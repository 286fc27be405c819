"""The compact scoring table scores exactly as pixel by pixel; the chance level."""

import numpy as np
import pytest

from flair_hdbscan.budget import ScoringTable, chance_miou, scoring_table
from flair_hdbscan.budget.scoring import unpack_aerial
from flair_hdbscan.features import FeatureSpec, feature_table, pack_aerial
from flair_hdbscan.metrics import ConfusionAccumulator, mean_iou, overall_accuracy
from flair_hdbscan.models import KDTreeClassifier


def _patches(n_patches=4, n=3000, seed=0, levels=4):
    """Per-patch pixels with many repeated values, no-data pixels and every class."""
    rng = np.random.default_rng(seed)
    aerial = [rng.integers(0, levels, (n, 5)).astype(np.uint8) * 60 for _ in range(n_patches)]
    labels = []
    for _ in range(n_patches):
        lab = rng.integers(0, 13, n).astype(np.uint8)
        lab[rng.random(n) < 0.05] = 255
        labels.append(lab)
    return aerial, labels


def _model(spec, s2=None):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (200, 5)).astype(np.uint8)
    s = None if s2 is None else rng.uniform(0, 10000, (200, 10)).astype(np.float32)
    return KDTreeClassifier(n_neighbors=5).fit(feature_table(a, s, spec), rng.integers(0, 13, 200))


@pytest.mark.parametrize(
    "spec", [FeatureSpec(), FeatureSpec(scale_by_intensity=True, append_intensity=True)]
)
def test_table_confusion_equals_pixel_by_pixel(spec):
    aerial, labels = _patches()
    model = _model(spec)
    acc = ConfusionAccumulator()
    for a, lab in zip(aerial, labels, strict=True):
        acc.update(lab, model.predict(feature_table(a, None, spec)))
    table = scoring_table(aerial, labels, spec)
    cm = table.confusion(model.predict(table.X))
    np.testing.assert_array_equal(cm, acc.matrix)
    assert table.n_pixels == sum(int((lab != 255).sum()) for lab in labels) == cm.sum()
    assert table.n_rows < table.n_pixels  # repeated values were collapsed
    assert table.n_rows == len(np.unique(np.concatenate([pack_aerial(a) for a in aerial])))
    miou, oa = table.score(model.predict(table.X))
    assert miou == mean_iou(acc.matrix) and oa == overall_accuracy(acc.matrix)


def test_table_with_sentinel_features_equals_pixel_by_pixel():
    spec = FeatureSpec(use_satellite=True)
    aerial, labels = _patches(n_patches=3, n=2000)
    rng = np.random.default_rng(5)
    s2 = [rng.integers(0, 3, (2000, 10)).astype(np.float32) * 3000 for _ in aerial]
    model = _model(spec, s2=True)
    acc = ConfusionAccumulator()
    for a, s, lab in zip(aerial, s2, labels, strict=True):
        acc.update(lab, model.predict(feature_table(a, s, spec)))
    table = scoring_table(aerial, labels, spec, s2=s2)
    np.testing.assert_array_equal(table.confusion(model.predict(table.X)), acc.matrix)
    assert table.X.shape[1] == 15


def test_incremental_merge_gives_the_same_table(monkeypatch):
    aerial, labels = _patches(n_patches=6, n=4000, levels=6)
    whole = scoring_table(aerial, labels)
    import flair_hdbscan.budget.scoring as scoring

    calls = []
    real = scoring._merge

    def spy(rows, counts):
        calls.append(rows.shape[0])
        return real(rows, counts)

    monkeypatch.setattr(scoring, "_merge", spy)
    monkeypatch.setattr(scoring, "MERGE_ROWS", 3000)  # merge often
    again = scoring.scoring_table(aerial, labels)
    assert len(calls) > 2
    np.testing.assert_array_equal(again.X, whole.X)
    np.testing.assert_array_equal(again.counts, whole.counts)


def test_unpack_inverts_pack():
    a = np.random.default_rng(0).integers(0, 256, (500, 5)).astype(np.uint8)
    np.testing.assert_array_equal(unpack_aerial(pack_aerial(a)), a)


def test_table_refuses_bad_inputs():
    a = np.zeros((3, 5), dtype=np.uint8)
    with pytest.raises(ValueError):
        scoring_table([a], [np.array([0, 1, 13], dtype=np.uint8)])
    with pytest.raises(ValueError):
        scoring_table([a], [np.array([0, 1], dtype=np.uint8)])
    table = scoring_table([a], [np.array([0, 1, 2], dtype=np.uint8)])
    with pytest.raises(ValueError):
        table.confusion(np.array([13]))
    with pytest.raises(ValueError):
        table.confusion(np.array([0, 1]))
    with pytest.raises(ValueError):
        ScoringTable(np.zeros((2, 5), np.float32), np.zeros((3, 13), np.int64))


def test_empty_table_scores_nothing():
    table = scoring_table([], [])
    assert table.n_rows == 0 and table.n_pixels == 0
    assert table.confusion(np.empty(0, dtype=np.int64)).sum() == 0


def test_chance_level_matches_random_prediction_with_the_prevalence():
    counts = np.array([500, 300, 100, 50, 0, 20, 10, 5, 5, 5, 3, 2, 100]) * 400
    truth = np.repeat(np.arange(13), counts)
    rng = np.random.default_rng(0)
    pred = rng.permutation(truth)  # the study's naive prevalence
    cm = np.zeros((13, 13), dtype=np.int64)
    np.add.at(cm, (truth, pred), 1)
    assert chance_miou(counts) == pytest.approx(mean_iou(cm), abs=0.003)
    p = 1 / 12
    assert chance_miou([*np.full(12, 7).tolist(), 0]) == pytest.approx(p / (2 - p))
    assert np.isnan(chance_miou(np.zeros(13)))
