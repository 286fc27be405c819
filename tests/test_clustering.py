import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from flair_hdbscan.clustering import (
    budget_mapping,
    cluster_pixels,
    cluster_purity,
    oracle_mapping,
)
from flair_hdbscan.errors import OptionError


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(3000, n_features=5, centers=12, cluster_std=0.6, random_state=4)
    return X.astype(np.float32), y


@pytest.mark.parametrize(
    ("backend", "method", "ties"),
    [
        ("flair", "eom", "sequential"),
        ("flair", "leaf", "sequential"),
        ("flair", "eom", "simultaneous"),
        ("flair", "leaf", "simultaneous"),
        ("fast_hdbscan", "eom", None),
    ],
)
@pytest.mark.parametrize("seed", [7, 8])
def test_shuffled_rows_give_the_same_clusters(blobs, backend, method, ties, seed):
    X, _ = blobs
    # quantise so that rows repeat and ties abound
    Xq = np.round(X * 2) / 2
    kw = dict(backend=backend, cluster_selection_method=method, ties=ties)
    base = cluster_pixels(Xq, **kw)
    perm = np.random.default_rng(seed).permutation(Xq.shape[0])
    shuffled = cluster_pixels(Xq[perm], **kw)
    np.testing.assert_array_equal(shuffled.labels, base.labels[perm])
    assert shuffled.n_clusters == base.n_clusters
    assert base.n_clusters > 1


def test_distinct_rows_are_weighted_by_their_repeats():
    # three piles of 4 distinct points repeated 10 times each, plus sparse noise: weighted
    # unique rows must find the three piles, each pile in one cluster
    rng = np.random.default_rng(0)
    offsets = np.array([[0, 0], [0.1, 0], [0, 0.1], [0.1, 0.1]], dtype=np.float32)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float32)
    piles = np.repeat((centres[:, None, :] + offsets[None]).reshape(-1, 2), 10, axis=0)
    noise = rng.uniform(-5, 15, size=(30, 2)).astype(np.float32)
    X = np.concatenate([piles, noise])
    dedup = cluster_pixels(X, min_cluster_size=10, backend="flair")
    assert dedup.n_rows_clustered == 12 + 30
    labels = dedup.labels[:120].reshape(3, 40)
    assert all(len(set(row)) == 1 and row[0] >= 0 for row in labels)
    assert len({row[0] for row in labels}) == 3


@pytest.fixture(scope="module")
def quantised():
    X, _ = make_blobs(20000, n_features=3, centers=5, cluster_std=1.0, random_state=0)
    return np.round(X * 3).astype(np.float32)


def test_rows_repeated_more_than_min_samples_are_clustered(quantised):
    _, inverse, counts = np.unique(quantised, axis=0, return_inverse=True, return_counts=True)
    heavy = counts[inverse.ravel()] >= 11
    assert heavy.sum() > 500
    c = cluster_pixels(quantised, min_cluster_size=10, min_samples=10, backend="flair")
    # the densest rows must be clustered, not noise
    assert (c.labels[heavy] < 0).mean() < 0.05


def test_backends_agree_with_exact_hdbscan(blobs):
    X, _ = blobs
    ref = cluster_pixels(X, backend="hdbscan").labels
    for backend in ("flair", "fast_hdbscan", "sklearn"):
        assert adjusted_rand_score(ref, cluster_pixels(X, backend=backend).labels) >= 0.99


def test_leaf_selection_gives_at_least_as_many_clusters(blobs):
    X, _ = blobs
    eom = cluster_pixels(X, cluster_selection_method="eom")
    leaf = cluster_pixels(X, cluster_selection_method="leaf")
    assert leaf.n_clusters >= eom.n_clusters


def test_cluster_ids_are_numbered_by_first_appearance(blobs):
    X, _ = blobs
    c = cluster_pixels(X)
    order = np.argsort(np.lexsort(X.T[::-1]), kind="stable")  # rank of each row
    firsts = [order[c.labels == k].min() for k in range(c.n_clusters)]
    assert firsts == sorted(firsts)


def test_flair_clusters_the_distinct_rows(quantised):
    plain = cluster_pixels(quantised)
    assert plain.n_rows_clustered == np.unique(quantised, axis=0).shape[0]


@pytest.mark.parametrize("ties", ["sequential", "simultaneous"])
def test_all_identical_rows_are_one_row_and_noise(ties):
    # one distinct row: the hierarchy is the root alone, and the root is never selected
    X = np.full((500, 4), 0.25, dtype=np.float32)
    for method in ("eom", "leaf"):
        c = cluster_pixels(X, cluster_selection_method=method, ties=ties)
        assert c.n_rows_clustered == 1
        assert c.n_clusters == 0 and c.noise_fraction == 1.0


def test_one_row():
    c = cluster_pixels(np.ones((1, 3), dtype=np.float32), min_cluster_size=2, min_samples=1)
    np.testing.assert_array_equal(c.labels, [-1])
    assert c.n_clusters == 0


@pytest.mark.parametrize("ties", ["sequential", "simultaneous"])
def test_no_split_into_two_large_parts_is_all_noise(ties):
    # points at doubling gaps leave one at a time: the root never splits into two parts
    # of min_cluster_size, so there is no cluster to select
    X = (2.0 ** np.arange(40))[:, None].astype(np.float32)
    for method in ("eom", "leaf"):
        c = cluster_pixels(
            X, min_cluster_size=5, min_samples=2, cluster_selection_method=method, ties=ties
        )
        assert c.n_clusters == 0 and c.noise_fraction == 1.0


def test_min_samples_larger_than_the_data_is_all_noise():
    X, _ = make_blobs(60, n_features=2, centers=2, random_state=0)
    c = cluster_pixels(X.astype(np.float32), min_cluster_size=5, min_samples=200)
    assert c.n_clusters == 0 and c.noise_fraction == 1.0
    # ... while the same rows with a feasible min_samples do cluster
    assert cluster_pixels(X.astype(np.float32), min_cluster_size=5, min_samples=5).n_clusters


def test_non_finite_rows_are_noise_and_the_rest_is_unchanged(blobs):
    X, _ = blobs
    Y = X.copy()
    Y[[3, 10, 200]] = [np.nan, np.inf, -np.inf, 0, 0][: X.shape[1]]
    c = cluster_pixels(Y)
    assert (c.labels[[3, 10, 200]] == -1).all()
    keep = np.ones(X.shape[0], dtype=bool)
    keep[[3, 10, 200]] = False
    np.testing.assert_array_equal(c.labels[keep], cluster_pixels(X[keep]).labels)


def test_warm_up_notice_is_given_at_most_once():
    from flair_hdbscan.clustering import needs_compilation, warm_up_notice

    cluster_pixels(np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32))
    assert needs_compilation() in (False, None)  # compiled (or loaded) by now
    assert warm_up_notice() is None


def test_too_few_rows_is_all_noise_not_a_crash():
    c = cluster_pixels(np.zeros((5, 3), dtype=np.float32), min_cluster_size=10)
    assert c.n_clusters == 0 and c.noise_fraction == 1.0
    empty = cluster_pixels(np.zeros((0, 3), dtype=np.float32))
    assert empty.labels.shape == (0,)


def test_fortran_ordered_float64_input_is_accepted(blobs):
    X, _ = blobs
    c = cluster_pixels(np.asfortranarray(X.astype(np.float64)))
    assert c.n_clusters > 0


def test_option_errors():
    X = np.zeros((20, 2), dtype=np.float32)
    with pytest.raises(OptionError, match="backend"):
        cluster_pixels(X, backend="kmeans")
    with pytest.raises(OptionError, match="flair backend"):
        cluster_pixels(X, backend="hdbscan", ties="simultaneous")
    with pytest.raises(OptionError, match="min_cluster_size"):
        cluster_pixels(X, min_cluster_size=1)
    with pytest.raises(OptionError, match="selection"):
        cluster_pixels(X, cluster_selection_method="middle")
    with pytest.raises(OptionError, match="ties"):
        cluster_pixels(X, ties="random")
    with pytest.raises(OptionError, match="flair"):
        cluster_pixels(X, backend="fast_hdbscan", ties="simultaneous")


def test_oracle_mapping_and_purity_hand_computed():
    labels = np.array([0, 0, 0, 1, 1, -1, -1])
    y = np.array([2, 2, 5, 3, 1, 4, 4])
    np.testing.assert_array_equal(oracle_mapping(labels, y, 6), [2, 1])  # tie 3/1 → 1
    assert cluster_purity(labels, y, 6) == pytest.approx(3 / 5)


def test_budget_mapping_reads_at_most_budget_labels():
    labels = np.repeat(np.arange(4), 50)
    y = np.repeat(np.array([1, 2, 3, 4]), 50)
    table, used = budget_mapping(labels, y, 5, budget=3, seed=0)
    np.testing.assert_array_equal(table, [1, 2, 3, 4])
    assert used == 12
    small = np.array([0, 0, 1])
    _, used_small = budget_mapping(small, np.array([1, 1, 2]), 3, budget=5, seed=0)
    assert used_small == 3


def test_largest_cluster_fraction():
    from flair_hdbscan.clustering import largest_cluster_fraction

    assert largest_cluster_fraction(np.array([0, 0, 0, 1, -1, -1])) == pytest.approx(0.75)
    assert np.isnan(largest_cluster_fraction(np.array([-1, -1])))


def test_simultaneous_ties_do_not_depend_on_column_order():
    # integer-valued features: distances are exact whatever the column order, so the
    # level-set hierarchy is the same; only the canonical row order (and with it the
    # sequential tie-breaking) changes when columns are permuted
    X, _ = make_blobs(3000, n_features=3, centers=4, cluster_std=2.0, random_state=1)
    Xq = np.round(X).astype(np.float32)
    assert np.unique(Xq, axis=0).shape[0] < 0.6 * Xq.shape[0]  # rows repeat
    base = cluster_pixels(Xq, ties="simultaneous", cluster_selection_method="leaf")
    for cols in ([2, 0, 1], [1, 2, 0]):
        other = cluster_pixels(Xq[:, cols], ties="simultaneous", cluster_selection_method="leaf")
        assert adjusted_rand_score(base.labels, other.labels) == 1.0
        np.testing.assert_array_equal(base.labels < 0, other.labels < 0)
