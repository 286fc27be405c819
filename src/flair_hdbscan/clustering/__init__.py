"""HDBSCAN on pixel features: an exact weighted engine (``"flair"``) and three libraries.

Modules, one stage each: :mod:`.kdtree` (k-d tree, weighted core distances),
:mod:`.boruvka` (minimum spanning tree), :mod:`.tree` (single linkage, condensed tree,
selection), :mod:`.engine` (the ``flair`` pipeline, compile notice), :mod:`.libraries`
(fast_hdbscan, hdbscan, scikit-learn on a big stack), :mod:`.api` (:func:`cluster_pixels`),
:mod:`.mapping` (cluster → class tables).

Why a weighted engine
---------------------
Quantised pixels repeat: on 1 M rows of the generated (and of real) imagery about 15–19 %
are distinct. Clustering only the distinct rows, each weighted by its count, saves most of
the work — if weighting is exact. fast_hdbscan 0.3.4's weighted path is not: with all
weights 1 it differs from its own unweighted path (its weighted core distance stops at
``min_samples`` instead of ``min_samples + 1`` points and compares a distance with squared
distances; its condensed tree drops a row heavy enough to be a cluster by itself, which is
then labelled noise). The ``flair`` backend computes, from distinct rows and counts, the
very labels HDBSCAN* gives every row.

The canonical tie-breaking
--------------------------
Quantised data tie: many pairs share one distance, so HDBSCAN's hierarchy, hence its
clusters, depends on which tied edge is taken first, and implementations break ties by row
order (exact hdbscan disagrees with itself on shuffled rows). Here ties are broken by a
rule that does not depend on row order:

1. rows are sorted lexicographically (:func:`canonical_rows`); a row's rank is its index;
2. the spanning tree and the merge order use edges sorted by the key
   ``(mutual reachability, distance, low index, high index)`` — a strict total order, so
   the minimum spanning tree is unique and Kruskal's merge sequence is fixed (Borůvka,
   which builds it, is correct under any strict total order).

Why weighted distinct rows equal the repeated rows, label for label
-------------------------------------------------------------------
Expand distinct row ``i`` (weight ``w_i``) into copies ``s_i .. s_i + w_i − 1``, contiguous
and in the rows' order, and run the canonical procedure on the copies.

* Core distance. The sorted distances from a copy to all points are ``0`` (``w_i`` times:
  itself and its copies) and ``d(i, j)`` (``w_j`` times); the core distance is the
  (k+1)-th of them, k = ``min_samples``. :func:`.kdtree.core_distances2` takes the
  smallest ``r`` whose rows within ``r`` weigh ≥ k + 1 — the same number (0 if
  ``w_i ≥ k + 1``). All copies of a row share it.
* Merges. Copies of row ``i`` are joined by edges of mutual reachability ``core_i`` and
  distance 0. An edge from a copy of ``i`` to another row has mutual reachability
  ``≥ core_i`` and distance ``> 0``, so under the key every internal edge of ``i`` comes
  first: the copies are merged among themselves — as a caterpillar ``((s, s+1), s+2)…``,
  the index order — before ``i`` meets any other row. Between rows ``i < j``, the first
  edge in key order is ``(s_i, s_j)``, and since ``s`` increases with the row index, pairs
  of rows are ordered exactly as the key ``(mr(i, j), d(i, j), i, j)`` of the distinct
  rows orders them; later edges between the same rows close cycles. So the expanded
  single-linkage tree is the distinct-row tree with each leaf ``i`` replaced by a
  caterpillar of ``w_i`` points at height ``core_i``, sizes being sums of weights.
* Condensed tree. A caterpillar never splits into two parts of ``min_cluster_size``
  (one side is a single point), so: if ``w_i < min_cluster_size`` all its points drop out
  together wherever the leaf would; otherwise it continues its cluster, or is born a new
  cluster when its sibling is also large, and all its points fall out at
  ``λ = 1 / core_i`` (∞ when ``core_i = 0``). :func:`.tree.condense` does exactly this.
* Stability sums ``(λ − λ_birth) × points`` over a cluster's leavers. Points leaving one
  cluster at one λ are counted as an integer, and the groups are added in increasing λ
  (:func:`.tree.stability`), so both computations produce the same floating-point
  numbers; excess of mass compares a cluster with the sum of its two children
  (commutative). Selection and labels follow; copies of a row always share a label.

Hence ``labels(distinct rows, counts)[inverse] == labels(np.repeat(rows, counts))``
exactly, which ``tests/test_clustering_equivalence.py`` checks on pixel-like and blob
data, for both selection methods and several parameters and seeds, and checks the
expanded computation against hdbscan's own condensed tree and selection code fed the
canonical linkage. On data without ties the ``flair`` labels are hdbscan's exact ones.

Stack policy
------------
The ``flair`` code is iterative throughout (explicit stacks), so no input size can
overflow the stack. Library backends recurse; they run in a thread with a stack sized
from the input (:func:`.libraries.stack_bytes`).
"""

from __future__ import annotations

from flair_hdbscan.clustering.api import (
    BACKENDS,
    METHODS,
    Clustering,
    canonical_rows,
    cluster_pixels,
)
from flair_hdbscan.clustering.engine import hdbscan_labels, needs_compilation, warm_up_notice
from flair_hdbscan.clustering.mapping import (
    budget_mapping,
    cluster_purity,
    largest_cluster_fraction,
    oracle_mapping,
)

__all__ = [
    "BACKENDS",
    "METHODS",
    "Clustering",
    "budget_mapping",
    "canonical_rows",
    "cluster_pixels",
    "cluster_purity",
    "hdbscan_labels",
    "largest_cluster_fraction",
    "needs_compilation",
    "oracle_mapping",
    "warm_up_notice",
]
