"""Candidate search for queries that share their last columns (fused Sentinel-2 features).

A Sentinel-2 pixel (10 m) covers 50 × 50 aerial pixels (0.2 m), so in a fused feature row
``(aerial, sentinel)`` the Sentinel-2 columns take few distinct values: about 150 per test
patch for 79,000 distinct rows, 28,000 over a 200-patch training sample of 507,000 points.
A k-d tree over all 15 columns prunes poorly there (the Sentinel-2 part alone brings a
query's 5th neighbour within reach of thousands of groups). Split instead:

* the training points go in a k-d tree over all columns
  (:func:`flair_hdbscan.clustering.kdtree.build_tree`); their grouped columns are one of
  ``G`` distinct rows ``S`` (the point's group);
* for every distinct grouped row ``s`` of the queries, each training group's squared
  distance ``w[g] = |S[g] - s|²`` is computed once, and each tree node keeps the smallest
  ``w`` of its points — exact where a box bound on those columns is loose;
* a query ``(a, s)`` then searches the tree with the lower bound
  ``min w + box_distance(a)²`` of a node (its box on the free columns only), and
  ``w[group(t)] + |A[t] - a|²`` of a point, which is its squared distance: both start
  from the weight, so a point whose weight alone reaches the ``c``-th value so far is
  skipped without a distance.

The ``c`` best points and the ``c``-th value are candidates and reach for
:func:`flair_hdbscan.exact_distance.settle`, which orders them exactly and certifies the
query. Every bound is computed in float64 with monotone rounding (a node's bound never
exceeds the value of a point in it), so a point left out has a value at least the ``c``-th;
the reach is that value less :data:`MARGIN`, far wider than float64's rounding of a
15-term sum. The answer is therefore the canonical one whatever the grouping.

Written here because no k-d tree library searches with a per-query additive weight per
point; the tree is the project's own clustering tree.
"""

from __future__ import annotations

import numba
import numpy as np

from flair_hdbscan.clustering.kdtree import LEAF_SIZE, build_tree
from flair_hdbscan.distinct import distinct_rows

__all__ = ["MARGIN", "GroupedIndex", "grouped_candidates", "query_groups"]

#: Relative margin of the reach: float64 rounding of the values is below 1e-14.
MARGIN = 1e-9


@numba.njit(cache=True, nogil=True)
def grouped_candidates(
    A, gid, order, start, end, left, right, lo, hi, S, Qa, Qs, qptr, qidx, c, out_idx, out_reach
):
    """The ``c`` nearest points of each query, searched group of queries by group.

    Args:
        A: ``(m, p) float64`` free columns of the distinct training points, in the tree's
            order (row ``i`` is point ``order[i]``: a leaf's points are contiguous).
        gid: ``(m,) int64`` group of each point, in the tree's order.
        order: ``(m,) int64`` tree position → point, and per node of the tree
            (:func:`~flair_hdbscan.clustering.kdtree.build_tree`):
        start: ``(n_nodes,) int64`` first position,
        end: ``(n_nodes,) int64`` position after the last,
        left: ``(n_nodes,) int64`` left child (−1 at leaves),
        right: ``(n_nodes,) int64`` right child,
        lo: ``(n_nodes, p) float64`` lower corner of the box of the node's free columns,
        hi: ``(n_nodes, p) float64`` upper corner.
        S: ``(G, r) float64`` grouped columns of each training group.
        Qa: ``(q, p) float64`` free columns of the queries.
        Qs: ``(h, r) float64`` distinct grouped columns of the queries.
        qptr: ``(h + 1,) int64``: the queries of group ``j`` are ``qidx[qptr[j]:qptr[j+1]]``.
        qidx: ``(q,) int64`` queries ordered by group.
        c: candidates per query (at most ``m``).
        out_idx: ``(q, c) int64`` candidate points, nearest first (written).
        out_reach: ``(q,) float64`` lower bound of the squared distance of every other
            point (written).
    """
    p = A.shape[1]
    n_groups, r = S.shape
    n_nodes = start.shape[0]
    w = np.empty(n_groups)
    w_pos = np.empty(A.shape[0])  # w of each point, in the tree's order
    node_w = np.empty(n_nodes)
    best_d = np.empty(c)
    best_i = np.empty(c, np.int64)
    stack_n = np.empty(2 * n_nodes + 2, np.int64)
    stack_lb = np.empty(2 * n_nodes + 2)
    qa = np.empty(p)
    for j in range(Qs.shape[0]):
        for g in range(n_groups):
            acc = 0.0
            for d in range(r):
                t = S[g, d] - Qs[j, d]
                acc += t * t
            w[g] = acc
        for node in range(n_nodes - 1, -1, -1):  # children come after their parent
            if left[node] < 0:
                low = np.inf
                for pos in range(start[node], end[node]):
                    v = w[gid[pos]]
                    w_pos[pos] = v
                    if v < low:
                        low = v
                node_w[node] = low
            else:
                node_w[node] = min(node_w[left[node]], node_w[right[node]])
        for qq in range(qptr[j], qptr[j + 1]):
            q = qidx[qq]
            for d in range(p):
                qa[d] = Qa[q, d]
            for i in range(c):
                best_d[i] = np.inf
                best_i[i] = -1
            worst = np.inf  # best_d[c - 1]
            stack_n[0] = 0
            stack_lb[0] = node_w[0]
            sp = 1
            while sp > 0:
                sp -= 1
                node = stack_n[sp]
                if stack_lb[sp] >= worst:
                    continue
                if left[node] < 0:
                    for pos in range(start[node], end[node]):
                        acc = w_pos[pos]
                        if acc >= worst:  # the free columns only add to it
                            continue
                        for d in range(p):
                            t = A[pos, d] - qa[d]
                            acc += t * t
                        if acc < worst:  # insert, keeping best_d sorted
                            i = c - 1
                            while i > 0 and best_d[i - 1] > acc:
                                best_d[i] = best_d[i - 1]
                                best_i[i] = best_i[i - 1]
                                i -= 1
                            best_d[i] = acc
                            best_i[i] = pos
                            worst = best_d[c - 1]
                    continue
                lc = left[node]
                rc = right[node]
                lb_l = node_w[lc]
                lb_r = node_w[rc]
                for d in range(p):  # box distances, each term as kdtree.box_dist2 takes it
                    v = qa[d]
                    g_l = max(lo[lc, d] - v, v - hi[lc, d], 0.0)
                    g_r = max(lo[rc, d] - v, v - hi[rc, d], 0.0)
                    lb_l += g_l * g_l
                    lb_r += g_r * g_r
                near, far, lb_near, lb_far = (
                    (lc, rc, lb_l, lb_r) if lb_l <= lb_r else (rc, lc, lb_r, lb_l)
                )
                if lb_far < worst:  # the nearer child is searched first
                    stack_n[sp] = far
                    stack_lb[sp] = lb_far
                    sp += 1
                if lb_near < worst:
                    stack_n[sp] = near
                    stack_lb[sp] = lb_near
                    sp += 1
            for i in range(c):
                out_idx[q, i] = order[best_i[i]]
            out_reach[q] = best_d[c - 1] * (1.0 - MARGIN)


class GroupedIndex:
    """Points in a k-d tree over all their columns, and the group of their grouped columns.

    Holds about 75 B per point: the free columns in float64, the group, and the tree with
    its boxes on the free columns.

    Args:
        points: ``(m, f)`` distinct training points.
        free: the first ``free`` columns are searched by the tree; the others are grouped.
    """

    def __init__(self, points: np.ndarray, free: int) -> None:
        P = np.asarray(points, dtype=np.float64)
        self.free = int(free)
        first, gid = distinct_rows(P[:, self.free :])
        self.S = np.ascontiguousarray(P[first, self.free :])
        order, start, end, left, right, lo, hi = build_tree(P, LEAF_SIZE)
        free_box = (
            np.ascontiguousarray(lo[:, : self.free]),
            np.ascontiguousarray(hi[:, : self.free]),
        )
        self.tree = (order, start, end, left, right, *free_box)  # bounds use free columns only
        self.A = np.ascontiguousarray(P[order, : self.free])  # leaves contiguous in memory
        self.gid = gid[order]

    @property
    def nbytes(self) -> int:
        """Bytes held: the free columns, groups and tree."""
        return int(
            self.A.nbytes + self.gid.nbytes + self.S.nbytes + sum(a.nbytes for a in self.tree)
        )

    @property
    def n_groups(self) -> int:
        """Distinct rows of the grouped columns."""
        return int(self.S.shape[0])

    def candidates(
        self,
        Q: np.ndarray,
        c: int,
        groups: tuple[np.ndarray, np.ndarray, np.ndarray],
        threads: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``c`` nearest points of each query and a lower bound for every other point.

        Args:
            Q: ``(q, f)`` queries.
            c: candidates per query.
            groups: the queries' distinct grouped rows ``(h, r)``, and ``qptr``, ``qidx``
                (see :func:`query_groups`).
            threads: threads, each searching a share of the query groups.

        Returns:
            ``(q, c) int64`` candidate points and ``(q,) float64`` reach.
        """
        Qs, qptr, qidx = groups
        Qa = np.ascontiguousarray(Q[:, : self.free], dtype=np.float64)
        idx = np.empty((Q.shape[0], c), dtype=np.int64)
        reach = np.empty(Q.shape[0])

        def part(lo: int, hi: int) -> None:
            grouped_candidates(self.A, self.gid, *self.tree, self.S, Qa, Qs[lo:hi],
                               qptr[lo:hi + 1], qidx, c, idx, reach)  # fmt: skip

        bounds = np.linspace(0, Qs.shape[0], min(threads, Qs.shape[0]) + 1).astype(int)
        if bounds.size <= 2:
            part(0, Qs.shape[0])
        else:  # the kernel releases the GIL
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(bounds.size - 1) as pool:
                list(pool.map(part, bounds[:-1], bounds[1:]))
        return idx, reach


def query_groups(Q: np.ndarray, free: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct grouped rows of ``Q`` and the queries of each.

    Returns:
        ``Qs`` ``(h, r) float64``, ``qptr`` ``(h + 1,) int64`` and ``qidx`` ``(q,) int64``.
    """
    G = np.ascontiguousarray(Q[:, free:], dtype=np.float64)
    first, codes = distinct_rows(G)
    rows = np.ascontiguousarray(G[first])
    qidx = np.argsort(codes, kind="stable")
    qptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=rows.shape[0]), out=qptr[1:])
    return rows, qptr, qidx
