import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from flair_hdbscan.models import (
    ClusterThenLabel,
    KDTreeClassifier,
    NaivePrevalenceClassifier,
    NaiveUniformClassifier,
)


def _expected_failed_checks(estimator):
    # Naive classifiers ignore their features by design: they cannot fit data, and
    # predictions are random draws.
    if isinstance(estimator, NaiveUniformClassifier | NaivePrevalenceClassifier):
        return {
            "check_classifiers_train": "random baseline: ignores its features",
            "check_methods_subset_invariance": "draws depend on the number of rows",
            "check_methods_sample_order_invariance": "draws do not follow the rows",
        }
    return {}


@parametrize_with_checks(
    [
        ClusterThenLabel(min_cluster_size=5, min_samples=3),
        KDTreeClassifier(n_neighbors=3),
        NaiveUniformClassifier(random_state=0),
        NaivePrevalenceClassifier(random_state=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_cluster_then_label_recovers_blobs_with_oracle_mapping():
    X, y = make_blobs(2000, n_features=4, centers=5, cluster_std=0.5, random_state=1)
    model = ClusterThenLabel(min_cluster_size=10).fit(X, y)
    assert model.mapping == "oracle"
    assert model.n_clusters_ == 5
    assert model.cluster_purity_ > 0.99
    assert (model.predict(X) == y).mean() > 0.99
    assert model.n_labels_used_ == int((model.labels_ >= 0).sum())


def test_label_budget_counts_labels():
    X, y = make_blobs(2000, n_features=4, centers=5, cluster_std=0.5, random_state=1)
    model = ClusterThenLabel(min_cluster_size=10, label_budget=3, random_state=0).fit(X, y)
    assert model.mapping == "budget-3"
    assert model.n_labels_used_ == 3 * model.n_clusters_
    assert (model.predict(X) == y).mean() > 0.99


def test_all_noise_falls_back_to_majority_class():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 3))
    y = np.array([1] * 20 + [2] * 10)
    with pytest.warns(RuntimeWarning, match="every row noise"):
        model = ClusterThenLabel(min_cluster_size=25, min_samples=20).fit(X, y)
    assert model.fallback_ == "all-noise"
    assert model.n_clusters_ == 0
    assert set(model.predict(X)) == {1}


def test_naive_uniform_is_uniform_and_seeded():
    X = np.zeros((10, 1))
    y = np.arange(10) % 5
    a = NaiveUniformClassifier(random_state=3).fit(X, y).predict(np.zeros((50000, 1)))
    b = NaiveUniformClassifier(random_state=3).fit(X, y).predict(np.zeros((50000, 1)))
    np.testing.assert_array_equal(a, b)
    freq = np.bincount(a, minlength=5) / a.size
    np.testing.assert_allclose(freq, 0.2, atol=0.01)


def test_naive_prevalence_follows_training_frequencies():
    y = np.array([0] * 70 + [3] * 30)
    model = NaivePrevalenceClassifier(random_state=0).fit(np.zeros((100, 1)), y)
    pred = model.predict(np.zeros((100000, 1)))
    assert set(np.unique(pred)) == {0, 3}
    assert abs((pred == 3).mean() - 0.3) < 0.01


def test_kdtree_classifier_matches_sklearn_knn_without_ties():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = rng.integers(0, 4, 500)
    Q = rng.normal(size=(2000, 4))
    ours = KDTreeClassifier(n_neighbors=5, n_jobs=2).fit(X, y).predict(Q)
    ref = KNeighborsClassifier(n_neighbors=5).fit(X, y).predict(Q)
    np.testing.assert_array_equal(ours, ref)


def test_kdtree_vote_ties_go_to_smallest_class():
    X = np.array([[0.0], [1.0], [-1.0], [2.0]])
    y = np.array([7, 3, 7, 3])
    # k=4: two votes each, the tie goes to class 3
    assert KDTreeClassifier(n_neighbors=4).fit(X, y).predict([[0.1]])[0] == 3
