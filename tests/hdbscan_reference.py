"""A brute-force HDBSCAN* with the package's canonical tie-breaking, for tests.

Dense pairwise distances, Kruskal over every edge sorted by the canonical key
``(mutual reachability², distance², low index, high index)``, then hdbscan's own condensed
tree, stability and selection code (``hdbscan._hdbscan_tree``) on that single linkage.
Independent of the package except for the definition of the tie-breaking.
"""

from __future__ import annotations

import numpy as np


def pairwise_dist2(X: np.ndarray) -> np.ndarray:
    """(n, n) float64 squared distances, summed column by column in order."""
    X = np.asarray(X, dtype=np.float64)
    acc = np.zeros((X.shape[0], X.shape[0]))
    for j in range(X.shape[1]):
        g = X[:, None, j] - X[None, :, j]
        acc = acc + g * g
    return acc


def canonical_mst(X: np.ndarray, min_samples: int) -> np.ndarray:
    """Kruskal's minimum spanning tree of mutual reachability over every edge.

    Returns:
        ``(n − 1, 3)`` rows ``(low index, high index, mutual reachability)`` in merge order.
    """
    n = X.shape[0]
    d2 = pairwise_dist2(X)
    core2 = np.sort(d2, axis=1)[:, min_samples]
    mr2 = np.maximum(d2, np.maximum(core2[:, None], core2[None, :]))
    i, j = np.triu_indices(n, 1)
    order = np.lexsort((j, i, d2[i, j], mr2[i, j]))
    parent = np.arange(n)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    for e in order:
        a, b = find(i[e]), find(j[e])
        if a == b:
            continue
        parent[max(a, b)] = min(a, b)
        out.append((i[e], j[e], np.sqrt(mr2[i[e], j[e]])))
        if len(out) == n - 1:
            break
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def canonical_linkage(X: np.ndarray, min_samples: int) -> np.ndarray:
    """scipy-format single linkage ``(n − 1, 4)`` of :func:`canonical_mst`."""
    n = X.shape[0]
    parent = np.arange(n)
    node = np.arange(n)
    size = np.ones(2 * n - 1)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    for lo, hi, w in canonical_mst(X, min_samples):
        a, b = find(int(lo)), find(int(hi))
        t = n + len(out)
        size[t] = size[node[a]] + size[node[b]]
        out.append((node[a], node[b], w, size[t]))
        parent[max(a, b)] = min(a, b)
        node[min(a, b)] = t
    return np.array(out, dtype=np.float64).reshape(-1, 4)


def reference_labels(
    X: np.ndarray, *, min_cluster_size: int, min_samples: int, method: str
) -> np.ndarray:
    """Labels (n,) of HDBSCAN* on every row of ``X`` with canonical ties (−1 = noise)."""
    from hdbscan._hdbscan_tree import compute_stability, condense_tree, get_clusters

    linkage = canonical_linkage(X, min_samples)
    condensed = condense_tree(linkage, min_cluster_size)
    stability = compute_stability(condensed)
    labels, _, _ = get_clusters(condensed, stability, method, False, False, 0.0, 0)
    return np.asarray(labels, dtype=np.int64)
