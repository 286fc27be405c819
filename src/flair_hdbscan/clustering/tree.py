"""From the spanning tree to labels: single linkage, condensed tree, selection — weighted.

A leaf (row) of weight ``w`` stands for ``w`` identical points. The functions here give
every such row exactly what HDBSCAN gives its ``w`` copies when they are clustered one by
one under the package's tie-breaking (the argument is in :mod:`flair_hdbscan.clustering`):

* sizes in the hierarchy are sums of weights;
* a row lighter than ``min_cluster_size`` that drops out of a cluster drops out whole, at
  the lambda of the merge where it does;
* a row of weight ≥ ``min_cluster_size`` is a cluster of identical points in the expanded
  tree: it continues its cluster (or is born as a new cluster when its sibling is also
  large) and its points fall out together at the lambda of its own core distance,
  ``1 / core`` (infinite when the row alone holds ``min_samples + 1`` points);
* stabilities are sums over (cluster, lambda) groups with integer point counts, added in
  increasing lambda, so the copies of a row and the row with its weight give the very same
  floating-point numbers.

All loops are iterative (explicit stacks, clusters processed in id order, children after
parents), so a deep hierarchy cannot overflow the stack; ``cache=True``.
"""

from __future__ import annotations

import numba
import numpy as np

from flair_hdbscan.clustering.boruvka import find


@numba.njit(cache=True)
def single_linkage(lo_idx, hi_idx, weights):
    """Merge rows along spanning-tree edges already sorted by the canonical key.

    Args:
        lo_idx: ``(m − 1,) int64`` lower row index of each edge, edges in merge order.
        hi_idx: ``(m − 1,) int64`` higher row index of each edge.
        weights: ``(m,) int64`` row weights.

    Returns:
        ``children`` ``(m − 1, 2) int64`` (node ``m + t`` joins these two nodes; nodes
        below ``m`` are rows) and ``size`` ``(2m − 1,) int64`` total weight under each node.
    """
    m = weights.shape[0]
    parent = np.arange(m)
    node_of = np.arange(m)
    children = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    size = np.empty(max(2 * m - 1, 1), dtype=np.int64)
    size[:m] = weights
    for t in range(m - 1):
        ra = find(parent, lo_idx[t])
        rb = find(parent, hi_idx[t])
        na = node_of[ra]
        nb = node_of[rb]
        children[t, 0] = na
        children[t, 1] = nb
        size[m + t] = size[na] + size[nb]
        root = min(ra, rb)
        parent[max(ra, rb)] = root
        node_of[root] = m + t
    return children, size


@numba.njit(cache=True, inline="always")
def lambda_of(h2: float) -> float:
    """HDBSCAN's lambda, 1 / distance, from a squared distance (inf at 0)."""
    if h2 > 0.0:
        return 1.0 / np.sqrt(h2)
    return np.inf


@numba.njit(cache=True)
def _eliminate(node, cluster, lam, children, m, leaf_cluster, leaf_lambda, stack):
    """Every row under ``node`` falls out of ``cluster`` at ``lam``."""
    sp = 1
    stack[0] = node
    while sp > 0:
        sp -= 1
        n = stack[sp]
        if n < m:
            leaf_cluster[n] = cluster
            leaf_lambda[n] = lam
        else:
            stack[sp] = children[n - m, 0]
            stack[sp + 1] = children[n - m, 1]
            sp += 2


@numba.njit(cache=True)
def condense(children, height2, size, core2, min_cluster_size):
    """The condensed tree, top-down, with weighted rows.

    Args:
        children: ``(m − 1, 2) int64`` from :func:`single_linkage`.
        height2: ``(m − 1,) float64`` squared merge distance of each merge.
        size: ``(2m − 1,) int64`` weight under each node.
        core2: ``(m,) float64`` squared core distance of each row.
        min_cluster_size: smallest cluster, in points (weights).

    Returns:
        ``leaf_cluster`` ``(m,) int64`` the cluster each row falls out of and
        ``leaf_lambda`` ``(m,) float64`` when; per cluster (0 is the root)
        ``cl_parent`` (−1 for the root), ``cl_birth`` (lambda), ``cl_size`` (points).
    """
    m = core2.shape[0]
    leaf_cluster = np.empty(m, dtype=np.int64)
    leaf_lambda = np.empty(m, dtype=np.float64)
    # every node of the hierarchy can become a cluster (a heavy row too): 2m − 1 at most
    cl_parent = np.empty(2 * m, dtype=np.int64)
    cl_birth = np.empty(2 * m, dtype=np.float64)
    cl_size = np.empty(2 * m, dtype=np.int64)
    cl_parent[0] = -1
    cl_birth[0] = 0.0
    root = 2 * m - 2
    cl_size[0] = size[root]
    n_cl = 1
    work_n = np.empty(2 * m, dtype=np.int64)
    work_c = np.empty(2 * m, dtype=np.int64)
    elim = np.empty(2 * m, dtype=np.int64)
    work_n[0] = root
    work_c[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = work_n[sp]
        cl = work_c[sp]
        if node < m:
            # a row of weight ≥ min_cluster_size (or the only row): its identical points
            # leave together at their own core distance
            leaf_cluster[node] = cl
            leaf_lambda[node] = lambda_of(core2[node])
            continue
        t = node - m
        a = children[t, 0]
        b = children[t, 1]
        lam = lambda_of(height2[t])
        big_a = size[a] >= min_cluster_size
        big_b = size[b] >= min_cluster_size
        if big_a and big_b:
            for child in (a, b):
                cl_parent[n_cl] = cl
                cl_birth[n_cl] = lam
                cl_size[n_cl] = size[child]
                work_n[sp] = child
                work_c[sp] = n_cl
                sp += 1
                n_cl += 1
        elif big_a:
            work_n[sp] = a
            work_c[sp] = cl
            sp += 1
            _eliminate(b, cl, lam, children, m, leaf_cluster, leaf_lambda, elim)
        elif big_b:
            work_n[sp] = b
            work_c[sp] = cl
            sp += 1
            _eliminate(a, cl, lam, children, m, leaf_cluster, leaf_lambda, elim)
        else:
            _eliminate(a, cl, lam, children, m, leaf_cluster, leaf_lambda, elim)
            _eliminate(b, cl, lam, children, m, leaf_cluster, leaf_lambda, elim)
    return leaf_cluster, leaf_lambda, cl_parent[:n_cl], cl_birth[:n_cl], cl_size[:n_cl]


@numba.njit(cache=True)
def stability(parents, lambdas, counts, cl_birth):
    """Stability of each cluster: Σ (lambda − birth) × points leaving at that lambda.

    Args:
        parents: ``(e,) int64`` cluster of each condensed-tree entry (a row falling out,
            or a child cluster); entries sorted by (parent, lambda).
        lambdas: ``(e,) float64`` lambda of each entry.
        counts: ``(e,) int64`` points of each entry.
        cl_birth: ``(n_clusters,) float64`` birth lambda of each cluster.

    Returns:
        ``(n_clusters,) float64``. Points leaving a cluster at the same lambda are counted
        as one integer first, then added in increasing lambda: the result depends only on
        how many points leave when, not on how they are grouped into rows.
    """
    out = np.zeros(cl_birth.shape[0], dtype=np.float64)
    e = parents.shape[0]
    i = 0
    while i < e:
        p = parents[i]
        lam = lambdas[i]
        total = 0
        while i < e and parents[i] == p and lambdas[i] == lam:
            total += counts[i]
            i += 1
        out[p] += (lam - cl_birth[p]) * np.float64(total)
    return out


@numba.njit(cache=True)
def select_clusters(cl_parent, stab, leaf_method):
    """Clusters chosen by excess of mass (or the leaves), the root excluded.

    Excess of mass keeps a cluster unless its children together are strictly more stable
    (hdbscan's and fast_hdbscan's rule); a cluster below a kept one is not kept.

    Args:
        cl_parent: ``(n_clusters,) int64``, −1 for the root 0; parents before children.
        stab: ``(n_clusters,) float64`` stabilities.
        leaf_method: select the leaves of the cluster tree instead.

    Returns:
        ``(n_clusters,) int64``: for each cluster, the selected cluster it lies in (itself
        or an ancestor), −1 when none.
    """
    n = cl_parent.shape[0]
    has_child = np.zeros(n, dtype=np.bool_)
    for c in range(1, n):
        has_child[cl_parent[c]] = True
    chosen = np.zeros(n, dtype=np.bool_)
    if leaf_method:
        for c in range(1, n):
            chosen[c] = not has_child[c]
    else:
        score = np.zeros(n, dtype=np.float64)
        below = np.zeros(n, dtype=np.float64)
        for c in range(n - 1, 0, -1):
            if has_child[c] and below[c] > stab[c]:
                score[c] = below[c]
            else:
                chosen[c] = True
                score[c] = stab[c]
            below[cl_parent[c]] += score[c]
    owner = np.full(n, -1, dtype=np.int64)
    for c in range(1, n):
        up = owner[cl_parent[c]]
        owner[c] = up if up >= 0 else (c if chosen[c] else -1)
    return owner
