"""Brute-force references for the ``flair`` engine's tests (dense, small inputs only).

* :func:`canonical_mst`: Kruskal over every pair under the package's edge key.
* :func:`sequential_labels`: that spanning tree's single linkage, merged one edge at a
  time, through hdbscan's own condensed-tree, stability and selection code.
* :func:`level_set_labels`: HDBSCAN* straight from its definition (Campello et al. 2015,
  Algorithm 1: edges of equal weight are removed together): at each level ``r``, from the
  highest down, the points with core distance < r and the pairs with mutual reachability
  < r form a graph; a cluster whose points fall into two or more components of at least
  ``min_cluster_size`` points splits into them, one such component continues it, and the
  other points leave it at ``λ = 1 / r``. Stabilities are summed in exact rational
  arithmetic. No spanning tree of the package is used; the levels where anything can
  change are read off scipy's spanning tree of the ranks of the weights.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree


def pairwise_dist2(X: np.ndarray) -> np.ndarray:
    """(n, n) float64 squared distances, summed column by column in order."""
    X = np.asarray(X, dtype=np.float64)
    acc = np.zeros((X.shape[0], X.shape[0]))
    for j in range(X.shape[1]):
        g = X[:, None, j] - X[None, :, j]
        acc = acc + g * g
    return acc


def _mutual_reachability2(X: np.ndarray, min_samples: int):
    d2 = pairwise_dist2(X)
    core2 = np.sort(d2, axis=1)[:, min_samples]  # (k+1)-th smallest, the point included
    mr2 = np.maximum(d2, np.maximum(core2[:, None], core2[None, :]))
    return d2, core2, mr2


def canonical_mst(X: np.ndarray, min_samples: int) -> np.ndarray:
    """Kruskal's minimum spanning tree of mutual reachability over every pair.

    Returns:
        ``(n − 1, 3)`` rows ``(low index, high index, mutual reachability)`` in merge order.
    """
    n = X.shape[0]
    d2, _, mr2 = _mutual_reachability2(X, min_samples)
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


def _levels(mr2: np.ndarray, core2: np.ndarray) -> np.ndarray:
    """Squared levels where components can change: spanning-tree weights and core distances."""
    n = mr2.shape[0]
    i, j = np.triu_indices(n, 1)
    values, rank = np.unique(mr2[i, j], return_inverse=True)
    ranks = np.zeros((n, n))
    ranks[i, j] = rank.ravel() + 1  # exact small integers: scipy sees 0 as "no edge"
    tree = minimum_spanning_tree(ranks).tocoo()
    used = values[tree.data.astype(np.int64) - 1]
    return np.unique(np.concatenate([used, core2]))[::-1]


class _Score:
    """A stability: exact rational, or infinite."""

    def __init__(self, value: Fraction = Fraction(0), inf: bool = False):
        self.value, self.inf = value, inf

    def __add__(self, other):
        return _Score(self.value + other.value, self.inf or other.inf)

    def __gt__(self, other):
        if self.inf or other.inf:
            return self.inf and not other.inf
        return self.value > other.value


def level_set_labels(
    X: np.ndarray, *, min_cluster_size: int, min_samples: int, method: str
) -> np.ndarray:
    """HDBSCAN* labels (n,) of every row of ``X`` from the level-set definition (−1 = noise)."""
    n = X.shape[0]
    _, core2, mr2 = _mutual_reachability2(X, min_samples)
    parent, birth, points = [-1], [0.0], [set(range(n))]
    active = [0]
    leaves = {}  # point -> (cluster, lambda)
    for r in _levels(mr2, core2):
        lam = 1.0 / np.sqrt(r) if r > 0 else np.inf
        alive = core2 < r
        adj = (mr2 < r) & alive[:, None] & alive[None, :]
        _, comp = connected_components(adj, directed=False)
        still = []
        for c in active:
            groups = {}
            for p in points[c]:
                if alive[p]:
                    groups.setdefault(comp[p], set()).add(p)
            big = [g for g in groups.values() if len(g) >= min_cluster_size]
            keep = set().union(*big) if big else set()
            for p in points[c] - keep:
                leaves[p] = (c, lam)
            if len(big) == 1:
                points[c] = big[0]
                still.append(c)
            elif len(big) >= 2:
                for g in big:
                    parent.append(c)
                    birth.append(lam)
                    points.append(g)
                    still.append(len(parent) - 1)
        active = still
    for c in active:  # left at level 0 (core distance 0): they leave at infinity
        for p in points[c]:
            leaves[p] = (c, np.inf)
    n_cl = len(parent)
    size = [0] * n_cl
    for c, _lam in leaves.values():
        size[c] += 1
    for c in range(n_cl - 1, 0, -1):
        size[parent[c]] += size[c]
    stab = [_Score() for _ in range(n_cl)]

    def term(lam, b, count):
        if lam == np.inf:
            return _Score(inf=True)
        return _Score((Fraction(lam) - Fraction(b)) * count)

    for c, lam in leaves.values():
        stab[c] = stab[c] + term(lam, birth[c], 1)
    for c in range(1, n_cl):
        stab[parent[c]] = stab[parent[c]] + term(birth[c], birth[parent[c]], size[c])
    kids = [[] for _ in range(n_cl)]
    for c in range(1, n_cl):
        kids[parent[c]].append(c)
    chosen = [False] * n_cl
    if method == "leaf":
        chosen = [c > 0 and not kids[c] for c in range(n_cl)]
    else:
        score = [None] * n_cl
        for c in range(n_cl - 1, 0, -1):
            total = _Score()
            for k in kids[c]:
                total = total + score[k]
            if kids[c] and total > stab[c]:
                score[c] = total
            else:
                chosen[c], score[c] = True, stab[c]
    owner = [-1] * n_cl
    for c in range(1, n_cl):
        owner[c] = owner[parent[c]] if owner[parent[c]] >= 0 else (c if chosen[c] else -1)
    return np.array([owner[leaves[p][0]] for p in range(n)], dtype=np.int64)


def canonical_linkage(X: np.ndarray, min_samples: int) -> np.ndarray:
    """scipy-format single linkage ``(n − 1, 4)`` of :func:`canonical_mst`, in its order."""
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


def sequential_labels(
    X: np.ndarray, *, min_cluster_size: int, min_samples: int, method: str
) -> np.ndarray:
    """Labels (n,) from :func:`canonical_linkage` through hdbscan's own condensed tree,
    stability and selection code (``hdbscan._hdbscan_tree``), −1 = noise."""
    from hdbscan._hdbscan_tree import compute_stability, condense_tree, get_clusters

    condensed = condense_tree(canonical_linkage(X, min_samples), min_cluster_size)
    stability = compute_stability(condensed)
    labels, _, _ = get_clusters(condensed, stability, method, False, False, 0.0, 0)
    return np.asarray(labels, dtype=np.int64)
