import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from flair_hdbscan.models import ClusterThenLabel, KDTreeClassifier


@parametrize_with_checks([ClusterThenLabel(min_cluster_size=5, min_samples=3),
                          KDTreeClassifier(n_neighbors=3)])  # fmt: skip
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_cluster_then_label_recovers_blobs_with_oracle_mapping():
    X, y = make_blobs(2000, n_features=4, centers=5, cluster_std=0.5, random_state=1)
    model = ClusterThenLabel(min_cluster_size=10).fit(X, y)
    assert model.n_clusters_ == 5
    assert model.cluster_purity_ > 0.99
    assert (model.predict(X) == y).mean() > 0.99
    assert sorted(model.cluster_classes_) == [0, 1, 2, 3, 4]
    assert model.train_clusters_.size == round((1 - model.noise_fraction_) * 2000)


def test_all_noise_falls_back_to_majority_class():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 3))
    y = np.array([1] * 20 + [2] * 10)
    with pytest.warns(RuntimeWarning, match="every row noise"):
        model = ClusterThenLabel(min_cluster_size=25, min_samples=20).fit(X, y)
    assert model.fallback_ == "all-noise"
    assert model.n_clusters_ == 0
    assert set(model.predict(X)) == {1}


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


@pytest.mark.parametrize("estimator", [KDTreeClassifier(n_neighbors=3), ClusterThenLabel()])
def test_pickled_models_hold_each_training_point_once(estimator):
    """What a Dask worker receives: the points once (float32 when exact), no tree, no copies."""
    import pickle

    X, y = make_blobs(20000, n_features=5, centers=8, cluster_std=0.4, random_state=2)
    X = X.astype(np.float32)
    fitted = estimator.fit(X, y)
    payload = len(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    arrays = X.nbytes + y.astype(np.int32).nbytes  # features and one class per point
    assert payload <= 1.2 * arrays, (payload, arrays)
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.predict(X[:2000]), fitted.predict(X[:2000]))
