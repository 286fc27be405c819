"""The ``flair`` engine: weighted distinct rows == repeated rows == a brute-force reference."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from flair_hdbscan.clustering import (
    TIES,
    boruvka,
    canonical_rows,
    cluster_pixels,
    hdbscan_labels,
    kdtree,
)
from hdbscan_reference import canonical_mst, level_set_labels, pairwise_dist2, sequential_labels

SEEDS = range(5)
PARAMS = [(5, 3), (10, None), (4, 1), (15, 5)]  # (min_cluster_size, min_samples)


def first_appearance(labels):
    """Cluster ids renumbered by first appearance (partitions compare as arrays)."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    seen = {}
    for i, c in enumerate(labels):
        if c >= 0:
            out[i] = seen.setdefault(c, len(seen))
    return out


def pixel_like(n, seed):
    """Quantised 3-band 'pixels' (grey levels / 255, float32): about half the rows are
    repeats, some rows weigh more than min_samples + 1, distances tie massively."""
    X, _ = make_blobs(
        n, n_features=3, centers=4, cluster_std=[0.4, 0.8, 1.5, 3.0], random_state=seed
    )
    return (np.clip(np.round(X + 128), 0, 255) / 255).astype(np.float32)


def repeated_blobs(n, seed):
    """Continuous blobs, each row repeated 1 to 20 times."""
    X, _ = make_blobs(n, n_features=2, centers=3, random_state=seed)
    counts = np.random.default_rng(seed).choice([1, 1, 1, 2, 3, 5, 12, 20], n)
    return np.repeat(X.astype(np.float32), counts, axis=0)


DATA = {"pixels": lambda s: pixel_like(400, s), "blobs": lambda s: repeated_blobs(120, s)}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("mcs", "ms"), PARAMS)
@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("kind", sorted(DATA))
def test_weighted_distinct_rows_equal_repeated_rows(kind, ties, method, mcs, ms, seed):
    X = DATA[kind](seed)
    _, rows, counts, _ = canonical_rows(X)
    assert counts.max() > 16  # some rows are clusters of identical points on their own
    expanded = np.repeat(rows, counts, axis=0)
    kw = dict(min_cluster_size=mcs, min_samples=ms, cluster_selection_method=method, ties=ties)
    one_by_one = hdbscan_labels(expanded, **kw)
    weighted = hdbscan_labels(rows, counts, **kw)
    assert one_by_one.max() >= 1  # two clusters or more: not a vacuous comparison
    np.testing.assert_array_equal(
        first_appearance(np.repeat(weighted, counts)), first_appearance(one_by_one)
    )


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("mcs", "ms"), PARAMS)
@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("kind", sorted(DATA))
def test_simultaneous_ties_match_the_level_set_definition(kind, method, mcs, ms, seed):
    # the reference: HDBSCAN* from its definition, dense, exact stabilities (no tree of ours)
    X = DATA[kind](seed)[:200]
    _, rows, counts, _ = canonical_rows(X)
    expanded = np.repeat(rows, counts, axis=0)
    k = mcs if ms is None else ms
    ref = level_set_labels(expanded, min_cluster_size=mcs, min_samples=k, method=method)
    ours = hdbscan_labels(
        expanded,
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=method,
        ties="simultaneous",
    )
    np.testing.assert_array_equal(first_appearance(ours), first_appearance(ref))
    assert (ref >= 0).any()  # a case with clusters, not a vacuous one


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("mcs", "ms"), PARAMS)
@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("kind", sorted(DATA))
def test_sequential_ties_match_hdbscan_on_the_canonical_linkage(kind, method, mcs, ms, seed):
    # the reference: Kruskal over all pairs under the same edge key, then hdbscan's own
    # condensed tree, stability and selection code
    pytest.importorskip("hdbscan._hdbscan_tree")
    X = DATA[kind](seed)[:200]
    _, rows, counts, _ = canonical_rows(X)
    expanded = np.repeat(rows, counts, axis=0)
    k = mcs if ms is None else ms
    ref = sequential_labels(expanded, min_cluster_size=mcs, min_samples=k, method=method)
    ours = hdbscan_labels(
        expanded,
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=method,
        ties="sequential",
    )
    np.testing.assert_array_equal(first_appearance(ours), first_appearance(ref))
    assert (ref >= 0).any()  # a case with clusters, not a vacuous one


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("chunks", [1, 3])
def test_weighted_core_distances_count_copies(seed, chunks):
    # rows shared among interleaved chunks (numba threads) give the same answer
    X = pixel_like(300, seed)
    _, rows, counts, inverse = canonical_rows(X)
    data = rows.astype(np.float64)
    for k in (1, 4, 10):
        order, start, end, left, right, lo, hi = kdtree.build_tree(data, 4)
        core2_t, _ = kdtree.core_distances2(
            data[order], counts[order], start, end, left, right, lo, hi, k, chunks
        )
        core2 = np.empty_like(core2_t)
        core2[order] = core2_t
        brute = np.sort(pairwise_dist2(X), axis=1)[:, k]  # (k+1)-th, itself included
        np.testing.assert_array_equal(core2[inverse], brute)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("k", "chunks"), [(1, 1), (5, 1), (5, 3)])
def test_spanning_tree_is_the_canonical_one(seed, k, chunks):
    # under a strict total order of edges the minimum spanning tree is unique: Borůvka on
    # the k-d tree must find exactly Kruskal's edges over all pairs, however its rows are
    # shared among chunks (numba threads)
    X = pixel_like(250, seed)
    _, rows, _, _ = canonical_rows(X)
    data = rows.astype(np.float64)
    order, start, end, left, right, lo, hi = kdtree.build_tree(data, 4)
    core2_t, knn = kdtree.core_distances2(
        data[order], np.ones(len(rows), dtype=np.int64), start, end, left, right, lo, hi, k
    )
    a, b, mr2, _ = boruvka.minimum_spanning_tree(
        data[order], order, core2_t, knn, start, end, left, right, lo, hi, chunks
    )
    ours = np.column_stack(
        [np.minimum(order[a], order[b]), np.maximum(order[a], order[b]), np.sqrt(mr2)]
    )
    ref = canonical_mst(data, k)
    assert ours.shape == ref.shape == (len(rows) - 1, 3)
    np.testing.assert_array_equal(ours[np.lexsort(ours.T[::-1])], ref[np.lexsort(ref.T[::-1])])


def test_flair_equals_exact_hdbscan_without_ties():
    hdbscan = pytest.importorskip("hdbscan")
    X, _ = make_blobs(2000, n_features=4, centers=8, cluster_std=0.8, random_state=3)
    X = X.astype(np.float32)
    assert np.unique(X, axis=0).shape[0] == X.shape[0]
    for method in ("eom", "leaf"):
        exact = hdbscan.HDBSCAN(
            min_cluster_size=10, approx_min_span_tree=False, cluster_selection_method=method
        ).fit(X.astype(np.float64))
        ours = cluster_pixels(X, cluster_selection_method=method)
        assert adjusted_rand_score(exact.labels_, ours.labels) >= 0.99
        assert ours.n_clusters == exact.labels_.max() + 1


def test_a_row_heavier_than_min_cluster_size_is_a_cluster_not_noise():
    # two rows repeated 30 times far apart, in sparse noise: clustered one by one, each
    # pile is a cluster of identical points; weighted, it must stay one (fast_hdbscan 0.3's
    # weighted path drops such a row from its condensed tree and calls it noise)
    rng = np.random.default_rng(0)
    piles = np.repeat(np.array([[0.0, 0.0], [10.0, 10.0]], dtype=np.float32), 30, axis=0)
    X = np.concatenate([piles, rng.uniform(-20, 30, (40, 2)).astype(np.float32)])
    c = cluster_pixels(X, min_cluster_size=10)
    assert c.n_rows_clustered == 42
    first, second = c.labels[:30], c.labels[30:60]
    assert len(set(first)) == 1 and len(set(second)) == 1
    assert first[0] >= 0 and second[0] >= 0 and first[0] != second[0]
    _, rows, counts, _ = canonical_rows(X)
    expanded = hdbscan_labels(np.repeat(rows, counts, axis=0), min_cluster_size=10)
    weighted = np.repeat(hdbscan_labels(rows, counts, min_cluster_size=10), counts)
    np.testing.assert_array_equal(first_appearance(weighted), first_appearance(expanded))
