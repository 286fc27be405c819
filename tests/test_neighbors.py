"""The exact kNN gives the one canonical answer: brute force with ties broken by row index."""

import threading
from fractions import Fraction

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from flair_hdbscan import distinct, exact_distance
from flair_hdbscan.budget.methods import vote
from flair_hdbscan.distinct import distinct_rows, locate_rows
from flair_hdbscan.grouped_search import GroupedIndex, query_groups
from flair_hdbscan.models import KDTreeClassifier
from flair_hdbscan.neighbors import (
    ExactNeighbors,
    brute_force_neighbors,
    check_range,
    spatial_order,
)


def _canonical_by_sklearn(X, Q, k):
    """sklearn's brute force, every distance, then ties broken by row index."""
    dist, idx = NearestNeighbors(algorithm="brute").fit(X).kneighbors(Q, n_neighbors=len(X))
    out = np.empty((len(Q), k), dtype=np.int64)
    for i in range(len(Q)):
        order = np.lexsort((idx[i], dist[i]))
        out[i] = idx[i][order][:k]
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 4, 5, 9])
def test_matches_sklearn_brute_force_with_many_ties(seed, k):
    """Small integers: squared distances are exact, so sklearn's brute force is a reference."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(400, 3)).astype(np.float64)  # 64 values: many duplicates
    y = rng.integers(0, 5, size=400)
    Q = rng.integers(0, 4, size=(300, 3)) + rng.choice([0.0, 0.5], size=(300, 3))
    model = KDTreeClassifier(n_neighbors=k).fit(X, y)
    ref = _canonical_by_sklearn(X, Q, k)
    np.testing.assert_array_equal(model.kneighbors(Q), ref)
    np.testing.assert_array_equal(model.predict(Q), model.classes_[vote(model.y_[ref], 5)])


def _pixel_features(rng, n):
    """Features as the study builds them: uint8 values / 255 in float32, a few columns."""
    a = rng.integers(0, 256, size=(n, 5))
    a[:, :3] = a[:, :3] // 16 * 16  # coarse colours: shells of equal lattice distance
    return a.astype(np.float32) * np.float32(1 / 255)


@pytest.mark.parametrize("seed", range(3))
def test_matches_exact_reference_on_pixel_features(seed):
    rng = np.random.default_rng(seed)
    X = _pixel_features(rng, 3000)
    X = np.concatenate([X, X[:500]])  # duplicated rows
    y = rng.integers(0, 13, size=X.shape[0])
    Q = _pixel_features(rng, 400)
    model = KDTreeClassifier(n_neighbors=5).fit(X, y)
    assert model.points_.dtype == np.float32  # the tree is float32: exactly the values
    ref = brute_force_neighbors(X, Q, 5)
    np.testing.assert_array_equal(model.kneighbors(Q), ref)
    np.testing.assert_array_equal(model.predict(Q), vote(y[ref], 13))
    # float64 queries a float32 tree cannot hold: the tree sees them rounded
    Q64 = Q.astype(np.float64) + rng.uniform(-1e-9, 1e-9, size=Q.shape)
    ref = brute_force_neighbors(X, Q64, 5)
    np.testing.assert_array_equal(model.kneighbors(Q64), ref)


def test_near_ties_below_float32_resolution_are_ordered_exactly():
    X = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    q = np.array([[0.5 + 2.0**-40]])  # rounds to 0.5 in float32: a tie for the tree
    model = KDTreeClassifier(n_neighbors=2).fit(X, y)
    np.testing.assert_array_equal(model.kneighbors(q), [[1, 2]])  # 1.0 is nearer, exactly
    assert model.predict(q)[0] == 1
    np.testing.assert_array_equal(model.kneighbors([[0.5]]), [[0, 1]])  # true tie: by index


def _exact_sign_by_rationals(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Sign of ``|a - q|² - |b - q|²`` in exact rational arithmetic."""

    def d2(p: np.ndarray) -> Fraction:
        return sum(
            (Fraction(float(x)) - Fraction(float(z))) ** 2 for x, z in zip(p, q, strict=True)
        )

    exact = d2(a) - d2(b)
    return (exact > 0) - (exact < 0)


def test_exact_sign_agrees_with_rationals():
    rng = np.random.default_rng(0)
    buf = np.empty(8 * 4 + 2)
    for _ in range(2000):
        scale = 2.0 ** rng.integers(-60, 60, size=3)
        q, a, b = (rng.normal(size=(3, 4)) * scale[:, None]).astype(np.float64)
        if rng.random() < 0.3:  # exact ties by construction: b is a mirrored
            b = a.copy()
            b[0] = 2 * q[0] - a[0]
            if 2 * q[0] - a[0] != Fraction(2) * Fraction(q[0]) - Fraction(a[0]):
                continue
        expected = _exact_sign_by_rationals(q, a, b)
        assert exact_distance._exact_sign(q, a, b, buf) == expected


def test_exact_sign_of_pixel_features_agrees_with_rationals():
    """float32 features on the 8-bit lattice, where the factored form decides: exact ties
    by swapping two channels' offsets, near ties, and clear cases."""
    rng = np.random.default_rng(1)
    buf = np.empty(8 * 5 + 2)
    signs = set()
    for _ in range(3000):
        q = rng.integers(3, 252, size=5)
        a = q + rng.integers(-3, 4, size=5)
        b = q + rng.integers(-3, 4, size=5)
        j, k = rng.choice(5, size=2, replace=False)
        case = rng.random()
        if case < 0.6:  # a's offsets on two channels swapped: a near tie, or with equal values
            b = a.copy()  # on both channels an exact one
            b[j], b[k] = q[j] + a[k] - q[k], q[k] + a[j] - q[j]
            if case < 0.3:
                q[k] = q[j]
                b[j], b[k] = a[k], a[j]
        q, a, b = ((v / 255).astype(np.float32) for v in (q, a, b))
        expected = _exact_sign_by_rationals(q, a, b)
        assert exact_distance._factored_sign(q, a, b, buf) == expected
        assert exact_distance._exact_sign(q, a, b, buf) == expected
        signs.add(expected)
    assert signs == {-1, 0, 1}


def test_factored_sign_declines_factors_it_cannot_compute_exactly():
    q = np.array([1.0])
    a = np.array([1.0 + 2.0**-52])
    b = np.array([2.0**-60])  # a + b rounds: the expansion of the unfactored form decides
    buf = np.empty(8 + 2)
    assert exact_distance._factored_sign(q, a, b, buf) == 2
    assert exact_distance._exact_sign(q, a, b, buf) == -1


def test_exhaustive_fallback_on_one_big_tie():
    """Every training point at the same distance: only every point certifies the answer."""
    pts = {(sx * a, sy * b) for a, b in ((3, 4), (4, 3), (5, 0), (0, 5)) for sx in (1, -1)
           for sy in (1, -1)}  # fmt: skip
    X = np.array(sorted(pts), dtype=np.float64)  # 12 points, all at distance 5 from 0
    y = np.arange(X.shape[0]) % 3
    index = ExactNeighbors(X, np.arange(X.shape[0]), y, 3)
    cls, rows = index.query(np.zeros((1, 2)), 5, want_rows=True, first=2)
    np.testing.assert_array_equal(rows, [np.arange(5)])
    assert cls[0] == vote(y[None, :5], 3)[0]


def test_distinct_points_are_held_once():
    rng = np.random.default_rng(0)
    X = np.repeat(_pixel_features(rng, 500), 8, axis=0)
    y = rng.integers(0, 13, size=X.shape[0])
    model = KDTreeClassifier().fit(X, y)
    assert model.points_.shape[0] <= 500
    np.testing.assert_array_equal(model.fit_X_, X)
    np.testing.assert_array_equal(model.classes_[model.y_], y)


def test_values_out_of_the_exact_range_are_refused():
    with pytest.raises(ValueError, match="2\\*\\*400"):
        check_range(np.array([[1e200]]))
    with pytest.raises(ValueError, match="2\\*\\*-400"):
        KDTreeClassifier().fit(np.array([[1e-200], [0.0]]), [0, 1])


def test_threads_do_not_change_the_answer():
    rng = np.random.default_rng(1)
    X = _pixel_features(rng, 20000)
    y = rng.integers(0, 13, size=X.shape[0])
    Q = _pixel_features(rng, 50000)
    one = KDTreeClassifier(n_jobs=1).fit(X, y)
    two = KDTreeClassifier(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.kneighbors(Q), two.kneighbors(Q))


def test_locate_rows_matches_values_and_reports_absent_rows():
    rng = np.random.default_rng(3)
    within = np.unique(_pixel_features(rng, 2000), axis=0)
    pick = rng.permutation(within.shape[0])[:300]
    rows = np.concatenate([within[pick], within[:1] + np.float32(0.5)])  # one row absent
    where = locate_rows(rows, within)
    np.testing.assert_array_equal(where[:-1], pick)
    assert where[-1] == -1
    zeros = np.zeros((1, 5))
    assert locate_rows(-zeros, zeros)[0] == 0  # -0.0 equals 0.0
    assert (locate_rows(rows[:, :4], within) == -1).all()  # other columns: nothing


def _own_searches(borrower, monkeypatch):
    """The batch sizes ``borrower`` asks of its own tree, recorded as they are asked."""
    asked = []
    own = borrower.index_._candidates
    monkeypatch.setattr(
        borrower.index_, "_candidates", lambda Q, c: asked.append(len(Q)) or own(Q, c)
    )
    return asked


@pytest.mark.parametrize("seed", range(3))
def test_borrowed_candidates_give_the_canonical_answer(seed, monkeypatch):
    """An index over most of another's points answers exactly from the other's candidates.

    The borrower holds 92 % of the lender's distinct points (and so lacks some of the
    candidates it is lent): its answers equal brute force over its own rows, and its own
    tree is asked only about the queries the lent candidates do not certify.
    """
    rng = np.random.default_rng(seed)
    X = _pixel_features(rng, 4000)
    X = np.concatenate([X, X[:800]])
    y = rng.integers(0, 13, size=X.shape[0])
    lender = KDTreeClassifier().fit(X, y)
    points = lender.points_
    lacked = rng.permutation(points.shape[0])[: int(0.08 * points.shape[0])]
    keep = ~np.isin(locate_rows(X, points), lacked)
    borrower = KDTreeClassifier().fit(X[keep], y[keep])
    assert borrower.index_.borrow_candidates(lender.index_)
    asked = _own_searches(borrower, monkeypatch)
    Q = _pixel_features(rng, 1500)
    lender.predict(Q)  # lends its candidates for these queries
    rows = borrower.kneighbors(Q)
    np.testing.assert_array_equal(rows, brute_force_neighbors(X[keep], Q, 5))
    assert sum(asked) < 0.2 * len(Q)  # most queries settled from the lent candidates
    asked.clear()
    borrower.kneighbors(Q[::-1])  # other queries than the lender's last: its own tree
    assert asked[0] == len(Q)


def test_each_thread_borrows_the_candidates_of_its_own_batch(monkeypatch):
    """Threads of one Dask worker share the indexes: a batch lent by one thread is not
    replaced by another thread's batch before its borrower takes it."""
    rng = np.random.default_rng(5)
    X = _pixel_features(rng, 4000)
    y = rng.integers(0, 13, size=X.shape[0])
    lender = KDTreeClassifier().fit(X, y)
    keep = rng.random(X.shape[0]) < 0.95
    borrower = KDTreeClassifier().fit(X[keep], y[keep])
    assert borrower.index_.borrow_candidates(lender.index_)
    asked = _own_searches(borrower, monkeypatch)
    batches = [_pixel_features(rng, 1500), _pixel_features(rng, 1500)]
    turn = threading.Barrier(2)
    rows = {}

    def one_thread(i: int) -> None:
        if i == 1:
            turn.wait(timeout=60)
        lender.predict(batches[i])  # thread 1 lends its batch after thread 0 lent its own
        if i == 0:
            turn.wait(timeout=60)
        turn.wait(timeout=60)  # both have lent: now both borrow
        rows[i] = borrower.kneighbors(batches[i])

    threads = [threading.Thread(target=one_thread, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, Q in enumerate(batches):
        np.testing.assert_array_equal(rows[i], brute_force_neighbors(X[keep], Q, 5))
    assert sum(asked) < 0.2 * sum(len(Q) for Q in batches)  # both batches borrowed


def test_borrowing_is_refused_without_the_points():
    rng = np.random.default_rng(4)
    X = _pixel_features(rng, 3000)
    y = rng.integers(0, 13, size=X.shape[0])
    lender = KDTreeClassifier().fit(X[:2900], y[:2900])
    assert not KDTreeClassifier().fit(X, y).index_.borrow_candidates(lender.index_)  # extra
    assert (
        not KDTreeClassifier().fit(X[:2000], y[:2000]).index_.borrow_candidates(lender.index_)
    )  # too few of the lender's points: most lent candidates would be absent


def _fused_features(rng, n, groups):
    """Aerial columns per pixel, then 3 columns shared by all pixels of a group."""
    s2 = rng.integers(0, 10000, size=(groups, 3)).astype(np.float32) * np.float32(1e-4)
    return np.concatenate([_pixel_features(rng, n), s2[rng.integers(0, groups, size=n)]], axis=1)


@pytest.mark.parametrize("seed", range(3))
def test_grouped_search_gives_the_canonical_answer(seed, monkeypatch):
    """Queries sharing their last columns, searched by groups: brute force's answer."""
    rng = np.random.default_rng(seed)
    X = _fused_features(rng, 6000, 300)
    X = np.concatenate([X, X[:1000]])
    y = rng.integers(0, 13, size=X.shape[0])
    model = KDTreeClassifier().fit(X, y)
    model.index_.search_groups(5)
    asked = []
    own = model.index_._candidates
    monkeypatch.setattr(model.index_, "_candidates", lambda Q, c: asked.append(len(Q)) or own(Q, c))
    Q = _fused_features(rng, 2000, 20)
    np.testing.assert_array_equal(model.kneighbors(Q), brute_force_neighbors(X, Q, 5))
    built = model.index_._grouped
    assert isinstance(built, GroupedIndex)  # the grouped search ran
    assert model.index_.search_tree()[1].rotation is None  # its tree serves retries: no copy
    model.index_.search_groups(5)  # another pass of the same model: the index is kept
    assert model.index_._grouped is built
    assert sum(asked) < 0.1 * len(Q)  # the tree only for the few it did not certify


def test_grouped_candidates_are_the_nearest_and_the_reach_bounds_the_rest():
    rng = np.random.default_rng(5)
    P = np.unique(_fused_features(rng, 3000, 150), axis=0).astype(np.float64)
    Q = _fused_features(rng, 500, 10).astype(np.float64)
    c = 8
    cand, reach = GroupedIndex(P, 5).candidates(Q, c, query_groups(Q, 5), threads=2)
    d2 = ((P[None, :, :] - Q[:, None, :]) ** 2).sum(axis=2)
    for i in range(len(Q)):
        order = np.sort(d2[i])
        np.testing.assert_allclose(np.sort(d2[i, cand[i]]), order[:c], rtol=1e-12)
        others = np.delete(d2[i], cand[i])
        assert reach[i] <= others.min() and reach[i] >= order[c - 1] * (1 - 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_rotated_search_gives_the_canonical_answer(seed, dtype, monkeypatch):
    """Many columns: the tree searches on principal axes; brute force's answer all the same."""
    rng = np.random.default_rng(seed)
    X = _fused_features(rng, 6000, 300).astype(dtype)
    if dtype == np.float64:  # values a float32 tree cannot hold
        X += rng.uniform(-1e-9, 1e-9, size=X.shape)
    X = np.concatenate([X, X[:1000]])
    y = rng.integers(0, 13, size=X.shape[0])
    model = KDTreeClassifier().fit(X, y)
    _, space = model.index_.search_tree()
    assert space.rotation is not None and space.points.dtype == dtype  # rotated, same dtype
    asked = []
    own = model.index_._candidates
    monkeypatch.setattr(model.index_, "_candidates", lambda Q, c: asked.append(c) or own(Q, c))
    Q = np.concatenate([_fused_features(rng, 3000, 20), X[:500]])  # exact duplicates too
    np.testing.assert_array_equal(model.kneighbors(Q), brute_force_neighbors(X, Q, 5))
    assert asked[0] == 8 and len(asked) <= 2  # certified in at most one more round


@pytest.mark.parametrize("columns", [7, 8])
def test_the_reach_bounds_every_point_the_tree_left_out(columns):
    """Tree candidates and reach, rotated from 8 columns, against every point's distance."""
    rng = np.random.default_rng(5)
    P = np.unique(_fused_features(rng, 3000, 150)[:, :columns], axis=0)
    Q = _fused_features(rng, 2500, 10)[:, :columns].astype(np.float64)
    Q += rng.uniform(0, 1e-7, size=Q.shape)  # float64 queries the float32 tree rounds
    index = ExactNeighbors(P, np.arange(len(P)), np.zeros(len(P), int), 1)
    assert (index.search_tree()[1].rotation is not None) == (columns >= 8)
    c = 8
    cand, reach = index._candidates(Q, c)
    d2 = ((P[None, :, :].astype(np.float64) - Q[:, None, :]) ** 2).sum(axis=2)
    for i in range(len(Q)):
        assert reach[i] <= np.delete(d2[i], cand[i]).min()
        assert reach[i] >= np.sort(d2[i])[c - 1] * (1 - 1e-2)  # a reach, not just 0


@pytest.mark.parametrize("collide", [False, True])
def test_distinct_rows_are_those_of_unique_in_order_of_appearance(collide, monkeypatch):
    """Also when every hash collides: the values decide, never the hash."""
    if collide:
        monkeypatch.setattr(distinct, "row_digest", lambda x: np.zeros(len(x), np.uint64))
    rng = np.random.default_rng(6)
    G = rng.integers(0, 4, size=(1000, 3)).astype(np.float64)
    G[0, 0] = -0.0
    first, codes = distinct_rows(G)
    np.testing.assert_array_equal(G[first][codes], G)
    assert len(first) == len(np.unique(G, axis=0))
    assert (np.diff(first) > 0).all()  # first appearances, in order
    np.testing.assert_array_equal(codes[first], np.arange(len(first)))
    if collide:  # colliding hashes match nothing
        assert (locate_rows(G[:5], G[first]) == -1).all()


@pytest.mark.parametrize(("columns", "bits"), [(3, 4), (16, 10)])  # one key word, three
def test_spatial_order_follows_the_morton_curve(columns, bits):
    """The order of the interleaved grid bits as one integer, ties by index."""
    rng = np.random.default_rng(7)
    P = rng.integers(0, 2**bits, size=(500, columns)).astype(np.float64)
    P[-50:] = P[:50]  # equal cells
    lo, span = P.min(axis=0), P.max(axis=0) - P.min(axis=0)
    grid = ((P - lo) / span * (2**bits - 1)).astype(np.int64)
    keys = []
    for row in grid:
        key = 0
        for bit in range(bits - 1, -1, -1):
            for value in row:
                key = (key << 1) | ((int(value) >> bit) & 1)
        keys.append(key)
    expected = sorted(range(len(P)), key=lambda i: (keys[i], i))
    np.testing.assert_array_equal(spatial_order(P, bits), expected)


def test_rotation_bounds_its_rounding():
    """Each rotated row lies within its bound of the exact rotation (extended precision)."""
    from flair_hdbscan.principal_axes import Rotation

    rng = np.random.default_rng(8)
    X = _fused_features(rng, 3000, 40).astype(np.float64) * 2.0 ** rng.integers(-3, 4, (3000, 1))
    rotation = Rotation.of(X)
    Y, moved = rotation.apply(X)
    ld = np.longdouble
    exact = (X.astype(ld) - rotation.centre.astype(ld)) @ rotation.axes.astype(ld)
    assert (np.sqrt(((Y.astype(ld) - exact) ** 2).sum(axis=1)) <= moved).all()
    V = rng.normal(size=(500, X.shape[1]))
    stretched = np.linalg.norm(V.astype(ld) @ rotation.axes.astype(ld), axis=1)
    assert (stretched <= (1 + rotation.stretch) * np.linalg.norm(V.astype(ld), axis=1)).all()
