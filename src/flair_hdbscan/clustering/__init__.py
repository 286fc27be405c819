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

Ties, and the hierarchy used
----------------------------
Mutual reachability ties even on continuous data (every edge whose weight is some point's
core distance), and quantised pixels tie massively. hdbscan and fast_hdbscan merge tied
edges one at a time, in the order of their sort, which follows row order: a cluster may
then be born and split at the same λ, points at the tie go to one side or the other, and
the result changes when rows are shuffled (exact hdbscan disagrees with itself; measured
in ``benchmarks/hdbscan_speed.py``). The ``flair`` backend uses HDBSCAN*'s own
definition (Campello, Moulavi, Zimek, Sander 2015, Algorithm 1: edges of equal weight are
removed together), i.e. the hierarchy of level sets: at level ``r`` the points whose core
distance is < r, joined when their mutual reachability is < r. That hierarchy is unique:
it depends neither on row order nor on which minimum spanning tree is found. A cluster
whose points fall into two or more components of ≥ ``min_cluster_size`` points splits into
them; one such component continues it; every other point leaves it at ``λ = 1 / r``.
Where no two merge heights are equal the two conventions coincide.

The minimum spanning tree itself is made unique by the key ``(mutual reachability,
distance, low row, high row)`` over rows in canonical (lexicographic) order, so the program
is deterministic end to end; cluster ids are numbered by first appearance in that order.

Why weighted distinct rows equal the repeated rows, label for label
-------------------------------------------------------------------
Expand distinct row ``i`` (weight ``w_i``) into ``w_i`` identical points.

* Core distance. The sorted distances from a copy to all points are ``0`` (``w_i`` times:
  itself and its copies) and ``d(i, j)`` (``w_j`` times); the core distance is the
  (k+1)-th of them, k = ``min_samples``. :func:`.kdtree.core_distances2` takes the
  smallest ``r`` whose rows within ``r`` weigh ≥ k + 1 — the same number (0 if
  ``w_i ≥ k + 1``). All copies share it, and the mutual reachability of any copy of ``i``
  with any copy of ``j`` is that of the rows.
* Level sets. At level ``r`` the copies of a row with ``core_i < r`` are joined (mutual
  reachability ``core_i``) and lie in the component of row ``i`` in the graph of distinct
  rows (rows with core < r, edges with mutual reachability < r); the copies of a row with
  ``core_i ≥ r`` are ``w_i`` isolated points. So at every level the components of the
  expanded points are those of the rows, each row whole (weight ``w_i``) or dissolved into
  single points — which is what :func:`.tree.condense` counts.
* Numbers. Points leaving one cluster at one λ are counted as an integer and the groups
  added in increasing λ (:func:`.tree.stability`); excess of mass adds children's scores
  in increasing order (:func:`.tree.select_clusters`). Both computations therefore produce
  the same floating-point stabilities and the same selection; copies share a label.

Hence ``labels(distinct rows, counts)[inverse] == labels(np.repeat(rows, counts))``
exactly. ``tests/test_clustering_equivalence.py`` checks it on pixel-like and blob data
for both selection methods, several parameters and seeds; checks the expanded computation
against a dense implementation of the level-set definition with exact rational
stabilities; and checks the spanning tree against Kruskal over all pairs.

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
