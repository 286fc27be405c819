"""From the spanning tree to labels: single linkage, condensed tree, selection — weighted.

A leaf (row) of weight ``w`` stands for ``w`` identical points. The functions here give
every such row exactly what HDBSCAN* gives its ``w`` copies clustered one by one (the
argument is in :mod:`flair_hdbscan.clustering`):

* sizes in the hierarchy are sums of weights;
* with simultaneous ties, merges of equal height that touch are one event (edges of
  equal weight are removed together, as in HDBSCAN*'s definition);
* a row drops out whole where a part too small to be a cluster does, or, weighing
  ``min_cluster_size`` or more, continues (or founds) a cluster and its points fall out
  together at ``λ = 1 / core`` (infinite when the row alone holds ``min_samples + 1``
  points); with simultaneous ties, a row whose core distance equals the height of the
  event comes apart there into single points;
* stabilities are sums over (cluster, λ) groups with integer point counts, added in
  increasing λ, and excess of mass adds a cluster's children's scores in increasing order,
  so the copies of a row and the row with its weight give the very same floating-point
  numbers.

Why not fast_hdbscan's ``cluster_trees``: its weighted ``condense_tree`` never emits a
row heavy enough to be a cluster by itself (the row is then labelled noise), it keeps
sizes and lambdas in float32, merges ties one at a time, and its excess-of-mass selection
recurses once per level of the cluster tree (the stack overflow seen at 3 M rows).

All loops here are iterative (explicit stacks, clusters processed in id order, children
after parents), so a deep hierarchy cannot overflow the stack; ``cache=True``.
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
def condense(children, height2, size, core2, min_cluster_size, simultaneous):
    """The condensed tree, top-down, with weighted rows.

    Each merge of height ``h`` (with ``simultaneous``: each set of touching merges of
    height ``h``, one event as in HDBSCAN*'s level sets) has parts just below ``h``: the
    two merged nodes (with ``simultaneous``: the subtrees of lower height, rows whose core
    distance is below ``h``, and rows whose core distance is ``h`` itself, which come
    apart into single points). If two or more parts weigh ≥ ``min_cluster_size``, each
    becomes a new cluster born at ``λ = 1 / h``; if one does, it continues the current
    cluster; the other parts' points fall out at ``λ``. A row that is a part weighing ≥
    ``min_cluster_size`` falls out whole later, at ``1 / core``, where its identical
    points come apart.

    Args:
        children: ``(m − 1, 2) int64`` from :func:`single_linkage`.
        height2: ``(m − 1,) float64`` squared merge distance of each merge.
        size: ``(2m − 1,) int64`` weight under each node.
        core2: ``(m,) float64`` squared core distance of each row.
        min_cluster_size: smallest cluster, in points (weights).
        simultaneous: merges of equal height that touch are one event.

    Returns:
        ``leaf_cluster`` ``(m,) int64`` the cluster each row falls out of and
        ``leaf_lambda`` ``(m,) float64`` when; per cluster (0 is the root; parents
        before children) ``cl_parent`` (−1 for the root), ``cl_birth`` (lambda),
        ``cl_size`` (points).
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
    gather = np.empty(2 * m, dtype=np.int64)
    parts = np.empty(2 * m, dtype=np.int64)
    big = np.empty(2 * m, dtype=np.bool_)
    elim = np.empty(2 * m, dtype=np.int64)
    work_n[0] = root
    work_c[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = work_n[sp]
        cl = work_c[sp]
        if node < m:
            leaf_cluster[node] = cl
            leaf_lambda[node] = lambda_of(core2[node])
            continue
        h = height2[node - m]
        lam = lambda_of(h)
        # the parts just below h: the two children, or with simultaneous ties every part
        # reached through merges of the same height
        n_parts = 0
        gsp = 1
        gather[0] = node
        while gsp > 0:
            gsp -= 1
            x = gather[gsp]
            if x >= m and (x == node or (simultaneous and height2[x - m] == h)):
                gather[gsp] = children[x - m, 0]
                gather[gsp + 1] = children[x - m, 1]
                gsp += 2
            else:
                parts[n_parts] = x
                n_parts += 1
        n_big = 0
        for i in range(n_parts):
            x = parts[i]
            # simultaneous: a row whose core distance is h comes apart into points here
            whole = x >= m or core2[x] < h or not simultaneous
            big[i] = whole and size[x] >= min_cluster_size
            if big[i]:
                n_big += 1
        for i in range(n_parts):
            x = parts[i]
            if not big[i]:
                _eliminate(x, cl, lam, children, m, leaf_cluster, leaf_lambda, elim)
            elif n_big == 1:
                work_n[sp] = x
                work_c[sp] = cl
                sp += 1
            else:
                cl_parent[n_cl] = cl
                cl_birth[n_cl] = lam
                cl_size[n_cl] = size[x]
                work_n[sp] = x
                work_c[sp] = n_cl
                sp += 1
                n_cl += 1
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
    (hdbscan's and fast_hdbscan's rule); a cluster below a kept one is not kept. The
    children's scores are added in increasing order, so the sum does not depend on the
    order in which the children were found.

    Args:
        cl_parent: ``(n_clusters,) int64``, −1 for the root 0; parents before children.
        stab: ``(n_clusters,) float64`` stabilities.
        leaf_method: select the leaves of the cluster tree instead.

    Returns:
        ``(n_clusters,) int64``: for each cluster, the selected cluster it lies in (itself
        or an ancestor), −1 when none.
    """
    n = cl_parent.shape[0]
    n_children = np.zeros(n, dtype=np.int64)
    for c in range(1, n):
        n_children[cl_parent[c]] += 1
    first = np.zeros(n + 1, dtype=np.int64)
    for c in range(n):
        first[c + 1] = first[c] + n_children[c]
    kids = np.empty(max(n - 1, 0), dtype=np.int64)
    fill = first[:n].copy()
    for c in range(1, n):
        kids[fill[cl_parent[c]]] = c
        fill[cl_parent[c]] += 1
    chosen = np.zeros(n, dtype=np.bool_)
    if leaf_method:
        for c in range(1, n):
            chosen[c] = n_children[c] == 0
    else:
        score = np.zeros(n, dtype=np.float64)
        for c in range(n - 1, 0, -1):
            if n_children[c] == 0:
                chosen[c] = True
                score[c] = stab[c]
                continue
            below = np.sort(score[kids[first[c] : first[c + 1]]])
            total = 0.0
            for v in below:
                total += v
            if total > stab[c]:
                score[c] = total
            else:
                chosen[c] = True
                score[c] = stab[c]
    owner = np.full(n, -1, dtype=np.int64)
    for c in range(1, n):
        up = owner[cl_parent[c]]
        owner[c] = up if up >= 0 else (c if chosen[c] else -1)
    return owner
