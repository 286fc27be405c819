"""The budget study's parts: annotator, named seeds, exemplar order, labelling methods."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from flair_hdbscan.budget import Annotator
from flair_hdbscan.budget.methods import (
    FALLBACK_CLASS,
    cluster_then_label,
    distinct_rows,
    fill_from_nearest,
    kmeans_then_label,
    knn_random_labels,
    label_all,
    majority_classes,
    oracle_classes,
    query_neighbours,
    vote,
)
from flair_hdbscan.exemplars import (
    annotation_order,
    central_members,
    cluster_means,
    cluster_priority,
    cluster_sizes,
)
from flair_hdbscan.models import KDTreeClassifier
from flair_hdbscan.seeds import derive_seed, name_key, rng_for, seed_sequence

# ---------------------------------------------------------------- annotator


def test_annotator_counts_each_distinct_pixel_once():
    ann = Annotator(np.array([0, 1, 2, 12, 255, 3], dtype=np.uint8))
    assert ann.labels_used == 0
    np.testing.assert_array_equal(ann.label(np.array([4, 1, 4])), [255, 1, 255])
    assert ann.labels_used == 2
    np.testing.assert_array_equal(ann.label(np.array([1, 3])), [1, 12])
    assert ann.labels_used == 3  # pixel 1 was already read
    np.testing.assert_array_equal(ann.revealed, [4, 1, 3])
    assert ann.label(np.array([], dtype=np.int64)).size == 0
    assert ann.labels_used == 3


def test_annotator_copies_truth_and_answers():
    truth = np.array([5, 6, 7], dtype=np.uint8)
    ann = Annotator(truth)
    truth[0] = 9  # the caller's array is not the annotator's
    answer = ann.label(np.array([0]))
    assert answer[0] == 5
    answer[0] = 1
    assert ann.label(np.array([0]))[0] == 5


@pytest.mark.parametrize(
    "truth", [np.array([0, 13]), np.array([[0, 1]]), np.array([0.5, 1.0]), np.array([-1, 2])]
)
def test_annotator_refuses_bad_truth(truth):
    with pytest.raises(ValueError):
        Annotator(truth)


@pytest.mark.parametrize("idx", [np.array([3]), np.array([-1]), np.array([0.0])])
def test_annotator_refuses_bad_indices(idx):
    ann = Annotator(np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError):
        ann.label(idx)
    assert ann.labels_used == 0


def test_annotator_hides_truth_from_plain_attribute_access():
    ann = Annotator(np.zeros(3, dtype=np.uint8))
    assert not any("truth" in name for name in dir(ann) if not name.startswith("_Annotator"))


# ---------------------------------------------------------------- seeds


def test_seeds_depend_on_names_not_positions():
    a = rng_for(0, "knn", "k5", 50, index=1).random(4)
    np.testing.assert_array_equal(a, rng_for(0, "knn", "k5", 50, index=1).random(4))
    np.testing.assert_array_equal(a, rng_for(0, "knn", "k5", "50", index=1).random(4))
    others = [
        rng_for(1, "knn", "k5", 50, index=1),
        rng_for(0, "kmeans", "k5", 50, index=1),
        rng_for(0, "knn", "k3", 50, index=1),
        rng_for(0, "knn", "k5", 25, index=1),
        rng_for(0, "knn", "k5", 50, index=0),
    ]
    for g in others:
        assert not np.array_equal(a, g.random(4))
    assert name_key("knn") == name_key("knn") != name_key("knn ")
    assert 0 <= derive_seed(0, "kmeans", 13) < 2**32


def test_seed_key_is_stable_across_processes():
    # BLAKE2b of the name, not Python's salted hash(): a fixed value
    assert name_key("knn") == int.from_bytes(
        __import__("hashlib").blake2b(b"knn", digest_size=8).digest(), "little"
    )
    with pytest.raises(ValueError):
        seed_sequence(-1, "knn")


# ---------------------------------------------------------------- exemplars


def _three_clusters():
    rng = np.random.default_rng(3)
    sizes = [5, 30, 12]
    X = np.concatenate([rng.normal(c * 10, 1, (s, 2)) for c, s in enumerate(sizes)])
    labels = np.repeat([0, 1, 2], sizes)
    labels[[0, 7]] = -1  # two noise rows
    return X.astype(np.float32), labels


def test_central_member_is_nearest_the_mean():
    X, labels = _three_clusters()
    ex = central_members(X, labels)
    means = cluster_means(X, labels)
    for c in range(3):
        members = np.flatnonzero(labels == c)
        d = ((X[members].astype(np.float64) - means[c]) ** 2).sum(axis=1)
        assert ex[c] == members[np.argmin(d)]
    np.testing.assert_array_equal(cluster_sizes(labels), [4, 29, 12])
    np.testing.assert_array_equal(cluster_priority(labels), [1, 2, 0])


def test_central_member_ties_go_to_the_smallest_index():
    X = np.array([[0.0], [2.0], [2.0], [0.0]], dtype=np.float32)
    assert central_members(X, np.zeros(4, dtype=np.int64))[0] == 0


def test_annotation_order_is_exemplars_then_round_robin():
    X, labels = _three_clusters()
    order = annotation_order(X, labels, np.random.default_rng(0))
    clustered = np.flatnonzero(labels >= 0)
    np.testing.assert_array_equal(np.sort(order), clustered)  # every member once, no noise
    ex = central_members(X, labels)
    np.testing.assert_array_equal(order[:3], ex[[1, 2, 0]])  # largest cluster first
    # round-robin: (rank within cluster, cluster priority) never decreases along the order
    priority = {c: i for i, c in enumerate(cluster_priority(labels))}
    seen = {0: 0, 1: 0, 2: 0}
    keys = []
    for i in order:
        c = labels[i]
        keys.append((seen[c], priority[c]))
        seen[c] += 1
    assert keys == sorted(keys)
    again = annotation_order(X, labels, np.random.default_rng(0))
    np.testing.assert_array_equal(order, again)
    other = annotation_order(X, labels, np.random.default_rng(1))
    np.testing.assert_array_equal(other[:3], order[:3])  # exemplars do not depend on the seed
    assert not np.array_equal(other, order)


def test_annotation_order_with_only_noise_is_empty():
    X = np.zeros((4, 2), dtype=np.float32)
    assert annotation_order(X, np.full(4, -1), np.random.default_rng(0)).size == 0


# ---------------------------------------------------------------- votes and tables


def test_vote_equals_the_project_knn():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 4, (300, 3)).astype(np.float32)  # many exact ties of distance
    y = rng.integers(0, 13, 300)
    query = rng.integers(0, 4, (200, 3)).astype(np.float32)
    ours = vote(y[query_neighbours(train, query, 5)])
    ref = KDTreeClassifier(n_neighbors=5).fit(train, y).predict(query)
    np.testing.assert_array_equal(ours, ref)


def test_vote_ties_go_to_the_smallest_class():
    np.testing.assert_array_equal(vote(np.array([[3, 1, 3, 1, 7], [5, 5, 2, 2, 9]])), [1, 2])


def test_majority_leaves_no_data_out():
    groups = np.array([0, 0, 0, 1, 2, 2])
    answers = np.array([4, 255, 255, 255, 12, 3], dtype=np.uint8)
    np.testing.assert_array_equal(majority_classes(groups, answers, 4), [4, -1, 3, -1])


def test_fill_takes_the_nearest_labelled_cluster():
    centres = np.array([[0.0], [10.0], [4.0], [6.0], [5.0]])
    classes = np.array([1, 2, -1, -1, -1])
    # 4 is nearer 0 (distance 4) than 10 (6); 6 nearer 10; 5 is equidistant: smaller id (0)
    np.testing.assert_array_equal(fill_from_nearest(classes, centres), [1, 2, 1, 2, 1])
    np.testing.assert_array_equal(
        fill_from_nearest(np.array([-1, -1]), centres[:2]), [FALLBACK_CLASS] * 2
    )


# ---------------------------------------------------------------- methods


def test_knn_random_labels_spends_exactly_the_budget():
    truth = np.array([255] * 10 + [3] * 90, dtype=np.uint8)
    ann = Annotator(truth)
    idx, cls = knn_random_labels(100, ann, 40, np.random.default_rng(0))
    assert ann.labels_used == 40
    assert idx.size == 40 - np.count_nonzero(np.isin(ann.revealed, np.arange(10)))
    assert (cls == 3).all()
    ann = Annotator(truth)
    knn_random_labels(100, ann, 500, np.random.default_rng(0))
    assert ann.labels_used == 100
    with pytest.raises(ValueError):
        knn_random_labels(100, Annotator(truth), 0, np.random.default_rng(0))


def test_label_all_marks_no_data():
    ann = Annotator(np.array([1, 255, 12], dtype=np.uint8))
    np.testing.assert_array_equal(label_all(3, ann), [1, -1, 12])
    assert ann.labels_used == 3


def test_cluster_then_label_reads_at_most_the_budget():
    X, labels = _three_clusters()
    truth = np.where(labels >= 0, labels + 4, 255).astype(np.uint8)
    for budget, expected in ((1, 1), (2, 2), (5, 5), (1000, 45)):
        ann = Annotator(truth)
        classes = cluster_then_label(X, labels, ann, budget, np.random.default_rng(0))
        assert ann.labels_used == expected
        if budget >= 3:
            np.testing.assert_array_equal(classes, [4, 5, 6])
    ann = Annotator(truth)
    classes = cluster_then_label(X, labels, ann, 1, np.random.default_rng(0))
    # only the largest cluster (1) is labelled; the others take its class
    np.testing.assert_array_equal(classes, [5, 5, 5])
    ann = Annotator(truth)
    oracle = oracle_classes(labels, ann, cluster_means(X, labels))
    np.testing.assert_array_equal(oracle, [4, 5, 6])
    assert ann.labels_used == np.count_nonzero(labels >= 0)


def test_kmeans_on_distinct_rows_with_counts_equals_kmeans_on_repeated_rows():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 3)).astype(np.float64)
    counts = rng.integers(1, 5, 60)
    repeated = np.repeat(base, counts, axis=0)
    init = base[[0, 10, 20, 30, 40]]
    a = KMeans(5, init=init, n_init=1, algorithm="lloyd", tol=0).fit(repeated)
    b = KMeans(5, init=init, n_init=1, algorithm="lloyd", tol=0).fit(
        base, sample_weight=counts.astype(np.float64)
    )
    np.testing.assert_array_equal(a.labels_, np.repeat(b.labels_, counts))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-10)


@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_kmeans_then_label_labels_one_pixel_per_cluster(init):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 6, (400, 2)).astype(np.float32)  # 36 distinct rows, repeated
    truth = rng.integers(0, 13, 400).astype(np.uint8)
    d = distinct_rows(X)
    for k in (1, 5, 36, 100):
        ann = Annotator(truth)
        km = kmeans_then_label(d, k, ann, 0, init)
        assert ann.labels_used == km.n_clusters <= min(k, 36)
        assert km.row_classes.shape == (400,)
        # each revealed pixel is the first occurrence of its value
        assert set(ann.revealed.tolist()) <= set(d.first.tolist())
        labelled = km.row_classes[ann.revealed]
        np.testing.assert_array_equal(labelled, truth[ann.revealed])
    assert km.n_clusters == 36 and km.largest_cluster_fraction == d.counts.max() / 400
