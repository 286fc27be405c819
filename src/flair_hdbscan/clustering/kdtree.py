"""A k-d tree over float64 rows and the weighted core distances of HDBSCAN.

Written here rather than borrowed (scipy's ``cKDTree``, fast_hdbscan's numba tree) for one
reason: every distance of the clustering — core distances here, mutual reachabilities in
:mod:`.boruvka` — must come from the same float64 arithmetic (:func:`dist2`), so that a
tie in the data is an exact tie in the computation: merges of equal height are one event
of the hierarchy (see :mod:`flair_hdbscan.clustering`), and the copies of a row must get
bit-identical numbers whether they are clustered as copies or as one weighted row.
fast_hdbscan's tree computes in float32 with ``fastmath``; scipy's cannot answer the
component-aware queries of Borůvka's algorithm.

Every traversal uses an explicit stack (no recursion), so no input size can overflow the
thread's stack. Compiled with ``cache=True``.
"""

from __future__ import annotations

import numba
import numpy as np

#: points per leaf of the tree
LEAF_SIZE = 16


@numba.njit(cache=True, inline="always")
def dist2(data: np.ndarray, a: int, b: int) -> float:
    """Squared Euclidean distance of rows ``a`` and ``b`` of ``data``, summed in column order."""
    acc = 0.0
    for j in range(data.shape[1]):
        g = data[a, j] - data[b, j]
        acc += g * g
    return acc


@numba.njit(cache=True, inline="always")
def box_dist2(lo: np.ndarray, hi: np.ndarray, node: int, data: np.ndarray, a: int) -> float:
    """Squared distance from row ``a`` to the bounding box of ``node``: a lower bound.

    Each term is the term :func:`dist2` computes for the box's nearest face, and rounding is
    monotone, so the bound never exceeds the distance to any row in the box.
    """
    acc = 0.0
    for j in range(data.shape[1]):
        v = data[a, j]
        # branch-free: the positive one of the two differences (at most one is), or 0
        g = max(lo[node, j] - v, v - hi[node, j], 0.0)
        acc += g * g
    return acc


@numba.njit(cache=True, inline="always")
def push_children(stack_n, stack_lb, sp, node, left, right, lo, hi, data, p) -> int:
    """Push both children of ``node`` with their box bounds, the nearer on top; new depth."""
    lc = left[node]
    rc = right[node]
    dl = box_dist2(lo, hi, lc, data, p)
    dr = box_dist2(lo, hi, rc, data, p)
    near, far, d_near, d_far = (lc, rc, dl, dr) if dl <= dr else (rc, lc, dr, dl)
    stack_n[sp] = far
    stack_lb[sp] = d_far
    stack_n[sp + 1] = near
    stack_lb[sp + 1] = d_near
    return sp + 2


@numba.njit(cache=True)
def build_tree(data: np.ndarray, leaf_size: int):
    """Build a k-d tree: median split along the widest column, leaves of ≤ ``leaf_size``.

    A node whose rows are all identical is a leaf whatever its size.

    Args:
        data: ``(m, f) float64`` rows.
        leaf_size: largest leaf that is not split (≥ 1).

    Returns:
        ``order`` ``(m,) int64`` (tree position → row), and per node ``start``, ``end``
        ``(n_nodes,) int64`` (a range of positions), ``left``, ``right`` ``(n_nodes,) int64``
        (children, −1 at leaves; children come after their parent), ``lo``, ``hi``
        ``(n_nodes, f) float64`` (bounding box).
    """
    m, f = data.shape
    order = np.arange(m)
    half = max(1, (leaf_size + 1) // 2)
    max_nodes = 2 * (m // half + 1)
    start = np.empty(max_nodes, dtype=np.int64)
    end = np.empty(max_nodes, dtype=np.int64)
    left = np.full(max_nodes, -1, dtype=np.int64)
    right = np.full(max_nodes, -1, dtype=np.int64)
    lo = np.empty((max_nodes, f), dtype=np.float64)
    hi = np.empty((max_nodes, f), dtype=np.float64)
    stack = np.empty(max_nodes, dtype=np.int64)
    start[0] = 0
    end[0] = m
    n_nodes = 1
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        s = start[node]
        e = end[node]
        for j in range(f):
            lo[node, j] = np.inf
            hi[node, j] = -np.inf
        for i in range(s, e):
            r = order[i]
            for j in range(f):
                v = data[r, j]
                if v < lo[node, j]:
                    lo[node, j] = v
                if v > hi[node, j]:
                    hi[node, j] = v
        if e - s <= leaf_size:
            continue
        dim = 0
        width = hi[node, 0] - lo[node, 0]
        for j in range(1, f):
            if hi[node, j] - lo[node, j] > width:
                width = hi[node, j] - lo[node, j]
                dim = j
        if not width > 0.0:
            continue
        vals = np.empty(e - s, dtype=np.float64)
        for i in range(s, e):
            vals[i - s] = data[order[i], dim]
        perm = np.argsort(vals, kind="mergesort")
        seg = order[s:e].copy()
        for i in range(e - s):
            order[s + i] = seg[perm[i]]
        mid = s + (e - s) // 2
        lc = n_nodes
        rc = n_nodes + 1
        n_nodes += 2
        start[lc] = s
        end[lc] = mid
        start[rc] = mid
        end[rc] = e
        left[node] = lc
        right[node] = rc
        stack[sp] = lc
        stack[sp + 1] = rc
        sp += 2
    return (
        order,
        start[:n_nodes].copy(),
        end[:n_nodes].copy(),
        left[:n_nodes].copy(),
        right[:n_nodes].copy(),
        lo[:n_nodes].copy(),
        hi[:n_nodes].copy(),
    )


@numba.njit(cache=True, inline="always")
def _heap_replace_top(heap_d: np.ndarray, heap_i: np.ndarray, size: int, d: float, i: int):
    """Replace the largest entry of a max-heap of ``size`` entries by ``(d, i)``."""
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] > heap_d[child]:
            child += 1
        if heap_d[child] <= d:
            break
        heap_d[pos] = heap_d[child]
        heap_i[pos] = heap_i[child]
        pos = child
    heap_d[pos] = d
    heap_i[pos] = i


@numba.njit(cache=True, inline="always")
def _heap_push(heap_d: np.ndarray, heap_i: np.ndarray, size: int, d: float, i: int):
    """Add ``(d, i)`` to a max-heap of ``size`` entries (room for one more)."""
    pos = size
    while pos > 0:
        up = (pos - 1) // 2
        if heap_d[up] >= d:
            break
        heap_d[pos] = heap_d[up]
        heap_i[pos] = heap_i[up]
        pos = up
    heap_d[pos] = d
    heap_i[pos] = i


@numba.njit(cache=True, nogil=True)
def _core_chunk(data, weights, start, end, left, right, lo, hi, min_samples, t, chunks, core2, knn):
    """Core distances of the rows ``t, t + chunks, t + 2·chunks, …`` (one chunk's share)."""
    m = data.shape[0]
    kk = knn.shape[1]
    need = min_samples + 1
    heap_d = np.empty(kk, dtype=np.float64)
    heap_i = np.empty(kk, dtype=np.int64)
    n_nodes = start.shape[0]
    stack_n = np.empty(n_nodes + 1, dtype=np.int64)
    stack_lb = np.empty(n_nodes + 1, dtype=np.float64)
    for p in range(t, m, chunks):
        size = 0
        sp = 1
        stack_n[0] = 0
        stack_lb[0] = 0.0
        while sp > 0:
            sp -= 1
            node = stack_n[sp]
            if size == kk and stack_lb[sp] >= heap_d[0]:
                continue
            if left[node] < 0:
                for q in range(start[node], end[node]):
                    d = dist2(data, p, q)
                    if size < kk:
                        _heap_push(heap_d, heap_i, size, d, q)
                        size += 1
                    elif d < heap_d[0]:
                        _heap_replace_top(heap_d, heap_i, size, d, q)
            else:
                sp = push_children(stack_n, stack_lb, sp, node, left, right, lo, hi, data, p)
        order = np.argsort(heap_d[:size], kind="mergesort")
        total = 0
        core2[p] = np.inf
        for u in range(size):
            q = heap_i[order[u]]
            knn[p, u] = q
            if total < need:
                total += weights[q]
                if total >= need:
                    core2[p] = heap_d[order[u]]


@numba.njit(cache=True, nogil=True, parallel=True)
def core_distances2(data, weights, start, end, left, right, lo, hi, min_samples, chunks=1):
    """Weighted squared core distances and each row's nearest rows.

    A row of weight ``w`` stands for ``w`` identical points. The core distance of such a
    point, as HDBSCAN defines it with ``min_samples`` = k neighbours not counting the
    point, is the (k+1)-th smallest distance from it to all points, itself and its copies
    included (at distance 0): the smallest ``r`` with ``Σ w_j [d(i, j) ≤ r] ≥ k + 1``.
    Because every weight is ≥ 1, the ``k + 1`` nearest rows always contain that radius
    (whichever rows win ties): the rows strictly closer than it weigh at most ``k``.

    Rows are shared among ``chunks`` interleaved chunks run on numba's threads; each row's
    answer is computed alone, so the result does not depend on ``chunks``.

    Args:
        data: ``(m, f) float64`` rows in tree order.
        weights: ``(m,) int64`` ≥ 1, in tree order.
        start: ``(n_nodes,) int64`` first tree position of each node.
        end: ``(n_nodes,) int64`` one past its last position.
        left: ``(n_nodes,) int64`` left child, −1 at leaves.
        right: ``(n_nodes,) int64`` right child, −1 at leaves.
        lo: ``(n_nodes, f) float64`` lower corner of each node's bounding box.
        hi: ``(n_nodes, f) float64`` upper corner.
        min_samples: k ≥ 1.
        chunks: ≥ 1, usually the threads to use.

    Returns:
        ``core2`` ``(m,) float64`` squared core distances (inf when all weights together
        are ≤ k), and ``knn`` ``(m, min(k + 1, m)) int64`` the nearest rows (tree
        positions), the row itself among them.
    """
    m = data.shape[0]
    kk = min(min_samples + 1, m)
    core2 = np.empty(m, dtype=np.float64)
    knn = np.empty((m, kk), dtype=np.int64)
    for t in numba.prange(chunks):
        _core_chunk(data, weights, start, end, left, right, lo, hi, min_samples, t, chunks,
                    core2, knn)  # fmt: skip
    return core2, knn
