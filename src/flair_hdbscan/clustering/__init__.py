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

Ties
----
Mutual reachability ties even on continuous data (every edge whose weight is some point's
core distance), and quantised pixels tie massively. A tie decides the hierarchy: when
three parts meet at one height, merging ``(A, B)`` first or ``(B, C)`` first gives
different clusters, so the labels depend on the order of tied edges. hdbscan and
fast_hdbscan take that order from their sort, i.e. from row order: exact hdbscan
disagrees with itself on shuffled rows (measured in ``benchmarks/hdbscan_speed.py``). The
``flair`` backend removes the order (``ties="simultaneous"``, default) or fixes it
(``ties="sequential"``):

* ``"simultaneous"`` takes touching merges of equal height as one event: HDBSCAN*'s own
  definition (Campello, Moulavi, Zimek, Sander 2015, Algorithm 1: edges of equal weight
  are removed together), the hierarchy of level sets — at level ``r`` the points whose
  core distance is < r, joined where their mutual reachability is < r. That hierarchy is
  unique: it depends on no order of rows or edges and on no choice among spanning trees
  (nor on column order, where distances are exact). A cluster whose points fall into two
  or more components of ≥ ``min_cluster_size`` points splits into them; one such
  component continues it; every other point leaves it at ``λ = 1 / r``. It differs from
  the libraries' convention exactly at ties: a point where clusters meet at one height
  stays with the cluster above them instead of joining one of them.
* ``"sequential"`` merges one edge at a time, the libraries' convention, in a fixed order
  instead of row order: rows are put in canonical (lexicographic) order, a row's rank is
  its index, and edges are ordered by the key ``(mutual reachability, distance, low
  index, high index)``. On heavily tied data the result then depends on that arbitrary
  order — permuting the feature columns changes the lexicographic order and, on rounded
  blobs, the clusters (ARI 0.26–0.60 between column orders; exact hdbscan agrees with
  itself on shuffled rows at about 0.5 there), which is why it is not the default.

In both modes the key is a strict total order, so the minimum spanning tree is unique
(Borůvka, which builds it, is correct under any strict total order) and the program is
deterministic end to end; cluster ids are numbered by first appearance in canonical order.

Why weighted distinct rows equal the repeated rows, label for label
-------------------------------------------------------------------
Expand distinct row ``i`` (weight ``w_i``) into copies ``s_i .. s_i + w_i − 1``,
contiguous and in the rows' order, and run the same procedure on the copies.

* Core distance. The sorted distances from a copy to all points are ``0`` (``w_i`` times:
  itself and its copies) and ``d(i, j)`` (``w_j`` times); the core distance is the
  (k+1)-th of them, k = ``min_samples``. :func:`.kdtree.core_distances2` takes the
  smallest ``r`` whose rows within ``r`` weigh ≥ k + 1 — the same number (0 if
  ``w_i ≥ k + 1``). All copies share it, and the mutual reachability of any copy of ``i``
  with any copy of ``j`` is that of the rows, ``mr(i, j)``.
* Sequential merges. Copies of ``i`` are joined by edges of mutual reachability
  ``core_i`` and distance 0; an edge from a copy of ``i`` to another row has mutual
  reachability ``≥ core_i`` and distance ``> 0``. Under the key, every internal edge of
  ``i`` comes first: the copies merge among themselves — a caterpillar
  ``((s, s+1), s+2)…`` at height ``core_i`` — before ``i`` meets any other row. Between
  rows ``i < j`` the first edge in key order is ``(s_i, s_j)``, and since ``s`` increases
  with the row index, pairs of rows are ordered as the key ``(mr(i, j), d(i, j), i, j)``
  of the distinct rows orders them; later edges between the same rows close cycles. So
  the expanded single linkage is the distinct-row one with each leaf ``i`` replaced by a
  caterpillar of ``w_i`` points. A caterpillar never splits into two parts of
  ``min_cluster_size`` (one side is a single point): lighter than that, its points drop
  out together wherever the leaf would; otherwise it continues its cluster, or is born a
  new cluster when its sibling is also large, and all its points fall out at
  ``λ = 1 / core_i`` (∞ when ``core_i = 0``) — what :func:`.tree.condense` does.
* Simultaneous merges. At level ``r`` the copies of a row with ``core_i < r`` are joined
  and lie in the component of row ``i`` in the graph of distinct rows (rows with core
  < r, edges with ``mr < r``); the copies of a row with ``core_i ≥ r`` are ``w_i``
  isolated points. So at every level the components of the expanded points are those of
  the rows, each row whole (weight ``w_i``) or dissolved into single points — which is
  what :func:`.tree.condense` counts.
* Numbers. Points leaving one cluster at one λ are counted as an integer and the groups
  added in increasing λ (:func:`.tree.stability`); excess of mass adds children's scores
  in increasing order (:func:`.tree.select_clusters`). Both computations therefore produce
  the same floating-point stabilities and the same selection; copies share a label.

Hence ``labels(distinct rows, counts)[inverse] == labels(np.repeat(rows, counts))``
exactly, in both modes. ``tests/test_clustering_equivalence.py`` checks it on pixel-like
and blob data for both selection methods, several parameters and seeds; checks the
expanded computation against references that share no code with the package (sequential:
Kruskal over all pairs fed to hdbscan's own condensed-tree and selection code;
simultaneous: a dense implementation of the level-set definition with exact rational
stabilities); and checks the spanning tree against Kruskal's.

Stack policy
------------
The ``flair`` code is iterative throughout (explicit stacks), so no input size can
overflow the stack. Library backends recurse; they run in a thread with a stack sized
from the input (:func:`.libraries.stack_bytes`).
"""

from __future__ import annotations

from flair_hdbscan.clustering.api import (
    BACKENDS,
    DEFAULT_BACKEND,
    METHODS,
    Clustering,
    canonical_rows,
    cluster_pixels,
)
from flair_hdbscan.clustering.engine import (
    TIES,
    hdbscan_labels,
    needs_compilation,
    warm_up_notice,
)
from flair_hdbscan.clustering.mapping import (
    budget_mapping,
    cluster_purity,
    largest_cluster_fraction,
    oracle_mapping,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "METHODS",
    "TIES",
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
