"""Exact k-nearest neighbours with one canonical answer, on a fast k-d tree.

The study's kNN is exact Euclidean: the ``k`` neighbours of a query are the first ``k``
training rows in the order of (exact squared distance, row index) — rows at exactly equal
distance are taken by smallest index — and the prediction is their majority class, ties to
the smallest class. That answer is unique, so any correct implementation gives the same one;
brute force over every row is the reference (``tests/test_neighbors.py``).

Fast trees do not give it on their own: they break distance ties in whatever order they
meet rows, and a float32 tree rounds. :class:`ExactNeighbors` therefore uses a tree only to
propose candidates and settles the answer itself:

1. Training rows are collapsed to their distinct points (pixels repeat), each keeping its
   rows in index order; the tree holds each distinct point once.
2. The tree proposes the ``c`` nearest distinct points of each query (pykdtree, float32
   when the points are exactly float32, OpenMP threads). Points of
   :data:`~flair_hdbscan.principal_axes.ROTATE_FROM` columns or more (fused Sentinel-2
   features) are searched rotated onto their principal axes, where the tree prunes
   better, and a batch's queries go to it along a Z-order curve; the reach then also
   allows for the rotation's rounding (only where the tree proposes the first round: see
   :meth:`ExactNeighbors.search_tree`). Two other proposers serve the first round where
   they apply: for queries that share their last columns (fused Sentinel-2 features
   without intensity normalisation), the grouped search of
   :mod:`flair_hdbscan.grouped_search`; for an index over a subset of another's points,
   that index's candidates for the same queries
   (:meth:`ExactNeighbors.borrow_candidates`). Each gives a reach as the tree does.
3. Candidates are ordered by their squared distance computed in float64; runs of them
   whose float64 distances are too close for that to be provably right are ordered again
   by an exact comparison (products split without rounding, summed as a non-overlapping
   expansion: Dekker's product and Shewchuk's expansion sum; on pixel features, where a
   third of the queries meet points at exactly equal distance, on the factored form
   ``Σ (a − b)(a + b − 2q)``, whose factors are exact). The first ``k`` rows are walked
   level by level of equal distance, rows of tied points merged by index.
4. A query is certified when every distinct point the tree did not return is provably
   farther than the level of the ``k``-th row: the reach — the tree's ``c``-th distance,
   less a margin wider than any rounding of the tree's float arithmetic — exceeds that
   level. Uncertified
   queries are asked again with 4× more candidates, and at worst with every point, which
   certifies by exhaustion. The answer therefore never depends on the tree's arithmetic.

Exactness holds for finite values that are 0 or of magnitude in [2**-400, 2**400] (so no
product overflows or underflows); :func:`check_range` refuses others.

Written here rather than taken from a library because no kNN library on PyPI breaks
distance ties by a stated rule; the tree itself is pykdtree's.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np

from flair_hdbscan.distinct import locate_rows
from flair_hdbscan.exact_distance import U, settle
from flair_hdbscan.grouped_search import GroupedIndex, query_groups
from flair_hdbscan.principal_axes import ROTATE_FROM, Rotation

__all__ = [
    "ExactNeighbors",
    "brute_force_neighbors",
    "check_range",
    "spatial_order",
]

#: Smallest and largest magnitudes for which the exact comparison is exact.
TINY = 2.0**-400
HUGE = 2.0**400

#: Smallest share of a source index's points an index must hold to borrow its candidates:
#: with 8 first candidates, enough of them hold rows here for nearly every query.
BORROW_COVERAGE = 0.9

#: A batch is searched by groups when it has at least this many queries per distinct
#: grouped row (a test patch: about 550).
GROUP_SHARE = 16

#: A rotated search sends a batch of at least this many queries to the tree along a
#: Z-order curve (:func:`spatial_order`): 6–9 % faster on a test patch, ordering included.
ORDER_FROM = 2_000

#: Relative error margin of the tree's squared distances (and of its pruning) by dtype:
#: far wider than their float rounding (about 1e-5 for float32 over 16 features and a
#: deep tree, 1e-14 for float64), far narrower than gaps between distinct distances.
TREE_MARGIN = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-9}


class TreeSpace:
    """Where the tree searches: the points' own coordinates, or their principal axes.

    A row ``x`` goes to the tree as ``t(x)``: ``x`` cast to the tree's dtype, or its
    rotation (:class:`~flair_hdbscan.principal_axes.Rotation`, then cast) when asked for
    points of :data:`~flair_hdbscan.principal_axes.ROTATE_FROM` columns or more (the rotated
    copy costs 4–8 B per point and column). :meth:`place` also
    gives how far each row landed from its exact image ``e(x)`` (``x`` itself, or the exact
    rotation). With ``s`` the rotation's stretch, a point ``p`` whose tree distance from a
    query ``q`` is at least ``r`` satisfies ``|q − p| ≥ (r − moved(q) − moved(p)) / (1 + s)``:
    :meth:`reach`.

    Args:
        points: ``(m, f)`` float32 or float64 distinct points (the tree's dtype).
        rotate: search on their principal axes if they have enough columns.

    Attributes:
        points: ``(m, f)`` the points in the tree's space (``points`` itself unrotated).
        points_moved: the largest displacement of a point.
    """

    def __init__(self, points: np.ndarray, *, rotate: bool) -> None:
        self.dtype = points.dtype
        rotate = rotate and points.shape[1] >= ROTATE_FROM and points.shape[0] > 1
        self.rotation = Rotation.of(points) if rotate else None
        points_moved: np.ndarray | float
        self.points, points_moved = self.place(points)
        self.points_moved = float(np.max(points_moved))

    def place(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
        """Rows in the tree's space, and how far each moved from its exact image.

        Args:
            X: ``(q, f)`` float rows.

        Returns:
            ``(q, f)`` C-contiguous rows of the tree's dtype, and ``(q,) float64`` bounds
            of their displacement (the scalar 0.0 when none moved).
        """
        if self.rotation is None:
            Xt = np.ascontiguousarray(X, dtype=self.dtype)
            if Xt.dtype == X.dtype:
                return Xt, 0.0
            return Xt, np.sqrt(((X - Xt.astype(X.dtype)) ** 2).sum(axis=1)) * (1 + 1e-6)
        exact, rounding = self.rotation.apply(X)
        Xt = np.ascontiguousarray(exact, dtype=self.dtype)
        return Xt, np.sqrt(((exact - Xt) ** 2).sum(axis=1)) * (1 + 1e-6) + rounding

    def reach(self, tree_d2: np.ndarray, moved: np.ndarray | float) -> np.ndarray:
        """Lower bounds of the squared distance of the points beyond a tree distance.

        Args:
            tree_d2: ``(q,) float64`` squared tree distance every other point is at
                least (the tree's ``c``-th, less its arithmetic margin).
            moved: the queries' displacement (:meth:`place`).

        Returns:
            ``(q,) float64`` squared distances no point beyond is closer than.
        """
        extra = moved + self.points_moved
        if self.rotation is None and np.isscalar(extra) and extra == 0.0:
            return tree_d2
        stretch = 0.0 if self.rotation is None else self.rotation.stretch
        r = np.maximum(np.sqrt(np.maximum(tree_d2, 0.0)) - extra, 0.0) / (1.0 + stretch)
        return r * r


def check_range(X: np.ndarray, what: str = "X") -> None:
    """Refuse values for which the exact comparison could overflow or underflow.

    Args:
        X: ``(n, f)`` float rows.
        what: name used in the message.

    Raises:
        ValueError: naming the offending magnitude.
    """
    if X.size == 0:
        return
    a = np.abs(X)
    big = float(a.max())
    if big > HUGE:
        raise ValueError(f"{what} holds {big:g}: exact kNN takes magnitudes up to 2**400")
    nz = a[a > 0]
    if nz.size and float(nz.min()) < TINY:
        raise ValueError(
            f"{what} holds {float(nz.min()):g}: exact kNN takes 0 or magnitudes from 2**-400"
        )


def spatial_order(points: np.ndarray, bits: int = 10) -> np.ndarray:
    """An order of ``points`` along a Z-order (Morton) curve.

    Points near each other in feature space come near each other in memory, so the tree's
    leaves and the row tables of a query's candidates share cache lines: queries are about
    17 % faster on 5-D pixel features than with the lexicographic order of ``np.unique``.

    Args:
        points: ``(m, f)`` finite float points.
        bits: bits per feature of the grid the curve runs on (1 to 62).

    Returns:
        ``(m,) int64`` permutation.
    """
    m, f = points.shape
    if m == 0 or f == 0:
        return np.arange(m)
    lo = points.min(axis=0).astype(np.float64)
    span = points.max(axis=0).astype(np.float64) - lo
    span[span == 0] = 1.0
    grid = ((points - lo) / span * (2**bits - 1)).astype(np.uint64)
    return np.lexsort(_morton_words(grid, bits)[::-1])


@numba.njit(cache=True)
def _morton_words(grid: np.ndarray, bits: int) -> np.ndarray:
    """Morton keys of grid cells, most significant bit first, 62 bits per word.

    Args:
        grid: ``(m, f) uint64`` cell of each point, below ``2**bits``.
        bits: bits per feature.

    Returns:
        ``(words, m) uint64``: word 0 holds the highest bits of every key.
    """
    m, f = grid.shape
    n_words = (bits * f + 61) // 62
    words = np.zeros((n_words, m), dtype=np.uint64)
    one = np.uint64(1)
    for i in range(m):
        w = 0
        used = 0
        word = np.uint64(0)
        for bit in range(bits - 1, -1, -1):
            shift = np.uint64(bit)
            for d in range(f):
                word = (word << one) | ((grid[i, d] >> shift) & one)
                used += 1
                if used == 62:
                    words[w, i] = word
                    w += 1
                    word = np.uint64(0)
                    used = 0
        if used:
            words[w, i] = word
    return words


def brute_force_neighbors(X: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """The canonical neighbours by brute force, independent of any tree (the reference).

    Squared distances to every row are computed in float64; rows that could precede or tie
    the ``k``-th by exact distance (float64 within a margin of it) are ordered exactly, as
    Python integers: every float is an integer multiple of a power of two, so one scaling
    makes all values integers and their squared distances exact.

    Args:
        X: ``(n, f)`` float training rows.
        Q: ``(q, f)`` float queries.
        k: neighbours (at most ``n``).

    Returns:
        ``(q, k) int64`` rows sorted by (exact squared distance, row index).
    """
    X = np.asarray(X, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    ratios = [float(v).as_integer_ratio() for v in np.concatenate([X.ravel(), Q.ravel()])]
    shift = max(den.bit_length() - 1 for _, den in ratios)

    def exact(v: float) -> int:
        num, den = float(v).as_integer_ratio()
        return num << (shift - (den.bit_length() - 1))

    margin = 8.0 * (X.shape[1] + 3) * U
    out = np.empty((Q.shape[0], k), dtype=np.int64)
    for i, q in enumerate(Q):
        F = ((X - q) ** 2).sum(axis=1)
        kth = np.partition(F, k - 1)[k - 1]
        near = np.flatnonzero(F <= kth * (1 + margin))
        qi = [exact(v) for v in q]
        d2 = {int(r): sum((exact(x) - qv) ** 2 for x, qv in zip(X[r], qi, strict=True))
              for r in near}  # fmt: skip
        out[i] = sorted(d2, key=lambda r: (d2[r], r))[:k]
    return out


class ExactNeighbors:
    """Distinct training points on a k-d tree, queried with the canonical tie rule.

    Args:
        points: ``(m, f)`` float32 or float64 distinct training points (float32 only when
            the training values are exactly float32).
        inverse: ``(n,)`` integer, the distinct point of each training row.
        classes: ``(n,)`` integer class index ``0..n_classes-1`` of each training row.
        n_classes: number of classes.
        threads: query threads (pykdtree's OpenMP, and as many threads settling), at
            least 1.
    """

    def __init__(
        self,
        points: np.ndarray,
        inverse: np.ndarray,
        classes: np.ndarray,
        n_classes: int,
        threads: int = 1,
    ) -> None:
        self.points = np.ascontiguousarray(points)
        self.n_classes = int(n_classes)
        self.threads = max(1, int(threads))
        m = self.points.shape[0]
        inverse = np.asarray(inverse).ravel()
        order = np.argsort(inverse, kind="stable")  # rows of each point, by index
        counts = np.bincount(inverse, minlength=m)
        small = inverse.size < 2**31
        self.ptr = np.zeros(m + 1, dtype=np.int32 if small else np.int64)
        np.cumsum(counts, out=self.ptr[1:])
        self.rows = order.astype(np.int32 if small else np.int64)
        cls_type = np.uint8 if self.n_classes <= 256 else np.int32
        self.row_cls = np.asarray(classes).ravel()[order].astype(cls_type)
        self._tree: tuple[Any, TreeSpace] | None = None  # built at the first search
        # threads of one Dask worker share this index: each lends its own last batch, and
        # the search structures built at first use are built once, by one of them
        self._lent: dict[int, tuple[np.ndarray, int, np.ndarray, np.ndarray]] = {}
        self._building = threading.Lock()
        self._lends = False
        self._source: tuple[ExactNeighbors, np.ndarray] | None = None
        self._free = 0
        self._grouped: GroupedIndex | bool | None = None  # False: not worth it here

    def search_groups(self, free: int) -> None:
        """Search queries sharing their columns after the first ``free`` group by group.

        For fused Sentinel-2 features, whose Sentinel-2 columns are shared by the 2,500
        aerial pixels of a Sentinel-2 pixel (see :mod:`flair_hdbscan.grouped_search`).
        The search is used for a batch whose queries take at most 1/:data:`GROUP_SHARE`
        as many distinct grouped rows, on points that take at most 1/4 as many; the
        answer is the same either way.

        Args:
            free: columns searched by the tree alone (0: never group).
        """
        if int(free) != self._free:  # a new pass of the same models keeps the built index
            self._free = int(free)
            self._grouped = None

    def borrow_candidates(self, source: ExactNeighbors) -> bool:
        """Take each batch's first candidates from ``source``'s query of the same batch.

        Allowed when ``source`` holds every point of this index and this index holds at
        least :data:`BORROW_COVERAGE` of ``source``'s points (an HDBSCAN model's clustered
        pixels within the kNN model's pixels of the same features). ``source``'s ``c``
        nearest points, less those this index lacks, and its reach are then candidates
        and a lower bound here too, so the tree is not walked twice for the same queries;
        the answer stays the canonical one (a query they do not certify is asked again of
        this index's own tree). ``source`` keeps its last batch's candidates to lend them,
        one batch per thread (the borrower takes those of its own thread).

        Args:
            source: an index over a superset of these points.

        Returns:
            Whether candidates will be borrowed.
        """
        if source is self or self.n_points < BORROW_COVERAGE * source.n_points:
            return False
        where = locate_rows(self.points, source.points)
        if (where < 0).any():
            return False
        mapping = np.full(source.n_points, -1, dtype=np.int64)
        mapping[where] = np.arange(self.n_points)
        self._source = (source, mapping)
        source._lends = True
        return True

    def _borrowed(self, Q: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``source``'s candidates for exactly these queries, in this index's numbering."""
        if self._source is None:
            return None
        source, mapping = self._source
        lent = source._lent.get(threading.get_ident())
        if lent is None or lent[1] != c or not np.array_equal(lent[0], Q):
            return None
        return mapping[lent[2]], lent[3]

    @property
    def n_points(self) -> int:
        """Distinct training points."""
        return int(self.points.shape[0])

    @property
    def n_rows(self) -> int:
        """Training rows."""
        return int(self.rows.size)

    def row_points(self) -> np.ndarray:
        """Distinct point of each training row, ``(n,) int64`` (in training order)."""
        out = np.empty(self.n_rows, dtype=np.int64)
        out[self.rows] = np.repeat(np.arange(self.n_points), np.diff(self.ptr))
        return out

    def row_classes(self) -> np.ndarray:
        """Class index of each training row, ``(n,) int64`` (in training order)."""
        out = np.empty(self.n_rows, dtype=np.int64)
        out[self.rows] = self.row_cls
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held by the points (also rotated) and the row tables (not the tree's nodes)."""
        space = self._tree[1] if self._tree else None
        rotated = space.points.nbytes if space and space.points is not self.points else 0
        tables = self.ptr.nbytes + self.rows.nbytes + self.row_cls.nbytes
        return int(self.points.nbytes + rotated + tables)

    def _first_candidates(self, Q: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The first round's candidates: borrowed, searched by groups, or from the tree."""
        borrowed = self._borrowed(Q, c)
        if borrowed is not None:
            return borrowed
        found = None
        if self._free and self._grouped is not False:
            groups = query_groups(Q, self._free)
            index = self.grouped_index() if groups[0].shape[0] * GROUP_SHARE <= Q.shape[0] else None
            if index is not None:
                found = index.candidates(Q, c, groups, self.threads)
        cand, reach = found or self._candidates(Q, c)
        if self._lends:  # read-only copies: a borrower checks the queries are the same
            self._lent[threading.get_ident()] = (Q.copy(), c, cand, reach)
        return cand, reach

    def grouped_index(self) -> GroupedIndex | None:
        """The grouped search's index, built at its first use, or None where it does not pay.

        It does not pay when the points take more than 1/4 as many distinct grouped rows.
        """
        if self._grouped is None:
            with self._building:
                if self._grouped is None:
                    index = GroupedIndex(self.points, self._free)
                    self._grouped = index if 4 * index.n_groups <= self.n_points else False
        return self._grouped or None

    def search_tree(self) -> tuple[Any, TreeSpace]:
        """The k-d tree (pykdtree) and the space it searches, built at the first search.

        Rotated onto the principal axes (many columns) only when the tree proposes the first
        round of every batch; when the grouped search or borrowed candidates do, the tree
        only serves the few queries asked again and is built on the points themselves, with
        no rotated copy of them.
        """
        if self._tree is None:
            from pykdtree.kdtree import KDTree

            with self._building:
                if self._tree is None:
                    space = TreeSpace(self.points, rotate=not (self._free or self._source))
                    self._tree = (KDTree(space.points, leafsize=16), space)
        return self._tree

    def _candidates(self, Q: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """``c`` nearest points by the tree, and a lower bound for every other one."""
        tree, space = self.search_tree()
        Qt, moved = space.place(Q)
        rotated = space.rotation is not None
        order = spatial_order(Qt) if rotated and Q.shape[0] >= ORDER_FROM else None
        # OpenMP threads pay off on big batches only: a small one waits on their wake-up
        threads = self.threads if Q.shape[0] >= 20_000 else 1
        with _omp_threads(threads):
            d2, idx = tree.query(Qt if order is None else Qt[order], k=c, sqr_dists=True)
        d2 = np.asarray(d2, dtype=np.float64).reshape(Q.shape[0], c)
        idx = np.asarray(idx, dtype=np.int64).reshape(Q.shape[0], c)
        if order is not None:  # back to the queries' order
            back = np.empty_like(order)
            back[order] = np.arange(order.size)
            d2, idx = d2[back], idx[back]
        reach = space.reach(d2[:, -1] * (1.0 - TREE_MARGIN[self.points.dtype]), moved)
        return idx, reach

    def _settle_all(self, Q, cand, reach, k, exhaustive, want_rows):
        n = Q.shape[0]
        cls = np.empty(n, dtype=np.int64)
        rows = np.empty((n, k) if want_rows else (0, k), dtype=np.int64)
        ok = np.empty(n, dtype=np.bool_)

        def part(lo: int, hi: int) -> None:
            settle(Q[lo:hi], self.points, cand[lo:hi], reach[lo:hi], self.ptr, self.rows,
                    self.row_cls, self.n_classes, k, exhaustive, want_rows, cls[lo:hi],
                    rows[lo:hi] if want_rows else rows, ok[lo:hi])  # fmt: skip

        if self.threads == 1 or n < 20_000:
            part(0, n)
        else:  # the kernel releases the GIL: one slice per thread
            from concurrent.futures import ThreadPoolExecutor

            bounds = np.linspace(0, n, self.threads + 1).astype(int)
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(part, bounds[:-1], bounds[1:]))
        return cls, rows, ok

    def query(
        self, Q: np.ndarray, k: int, *, want_rows: bool = False, first: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Majority class (and canonical rows) of the ``k`` nearest rows of each query.

        Args:
            Q: ``(q, f)`` float32 or float64 queries.
            k: neighbours (1 to the number of training rows).
            want_rows: also return the rows.
            first: candidates asked of the tree at first (default ``k + 3``: on pixel
                features ``k + 1`` leaves 14–20 % of queries uncertified by ties, ``k + 3``
                about 1 %).

        Returns:
            ``(q,) int64`` class index of each query, and ``(q, k) int64`` rows sorted by
            (exact distance, row index), or None.
        """
        if not 1 <= k <= self.n_rows:
            raise ValueError(f"k must be in 1..{self.n_rows}, got {k}")
        Q = np.ascontiguousarray(Q)
        nq = Q.shape[0]
        m = self.n_points
        out_cls = np.empty(nq, dtype=np.int64)
        out_rows = np.empty((nq, k), dtype=np.int64) if want_rows else None
        pending = np.arange(nq)
        c = start_c = min(m, first or k + 3)
        while pending.size:
            if c >= m:  # every point is a candidate: certified by exhaustion, in blocks
                block = max(1, 4_000_000 // m)
                parts = [pending[s : s + block] for s in range(0, pending.size, block)]
            else:
                parts = [pending]
            retry = []
            for sel in parts:
                Qp = Q[sel]
                if c >= m:
                    cand = np.ascontiguousarray(
                        np.broadcast_to(np.arange(m, dtype=np.int64), (sel.size, m))
                    )
                    reach = np.zeros(sel.size)
                else:
                    first_round = c == start_c
                    propose = self._first_candidates if first_round else self._candidates
                    cand, reach = propose(Qp, c)
                cls, rows, ok = self._settle_all(Qp, cand, reach, k, c >= m, want_rows)
                out_cls[sel[ok]] = cls[ok]
                if out_rows is not None:
                    out_rows[sel[ok]] = rows[ok]
                retry.append(sel[~ok])
            pending = np.concatenate(retry)
            c = min(m, 4 * c)
        return out_cls, out_rows


_CONTROLLER: list = []


class _omp_threads:  # noqa: N801 - used as a context manager
    """Limit OpenMP threads of the tree's queries for the duration of a block.

    The libraries are found once per process (finding them costs about 10 ms, which per
    patch and model adds up).
    """

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        if not _CONTROLLER:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        self._limits = _CONTROLLER[0].limit(limits=self.n, user_api="openmp")

    def __exit__(self, *exc: object) -> None:
        self._limits.restore_original_limits()
