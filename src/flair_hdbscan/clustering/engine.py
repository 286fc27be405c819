"""The ``flair`` backend: exact, weighted HDBSCAN* on the level-set hierarchy.

:func:`hdbscan_labels` runs the stages of the package — k-d tree and weighted core
distances (:mod:`.kdtree`), the minimum spanning tree of mutual reachability
(:mod:`.boruvka`), single linkage, condensed tree and selection (:mod:`.tree`) — on rows
with integer weights. Rows must be finite. With ``ties="sequential"`` (not the default)
their order breaks the ties left by the edge key (callers pass rows in canonical order).

Compilation: every numba function of the package is compiled with ``cache=True``; the
first process on a machine compiles them once (about 20 s on a 2-core machine, measured
by ``benchmarks/hdbscan_speed.py --compile``), later processes load them from numba's
cache (about 1 s). :func:`warm_up_notice` tells,
before the first call of a process, whether that compilation is due, and logs one line.
"""

from __future__ import annotations

import logging
import pickle
import time

import numba
import numpy as np

from flair_hdbscan.clustering import boruvka, kdtree, tree
from flair_hdbscan.cores import default_threads

__all__ = ["TIES", "hdbscan_labels", "needs_compilation", "threads", "warm_up_notice"]

log = logging.getLogger(__name__)

#: how merges of equal height are taken: together (HDBSCAN*'s level-set definition, the
#: default), or one at a time in the canonical order (as the libraries do, in row order)
TIES: tuple[str, ...] = ("simultaneous", "sequential")

#: compile time of the package's numba code, first process, 2-core machine (rounded)
COMPILE_SECONDS = 20

_JITTED = (
    kdtree.build_tree,
    kdtree.core_distances2,
    boruvka.minimum_spanning_tree,
    tree.single_linkage,
    tree.condense,
    tree.stability,
    tree.select_clusters,
)
_state = {"checked": False}


def threads() -> int:
    """Threads of the core distances and the spanning tree.

    numba's threads, at most this process's cores; the labels do not depend on it.
    """
    return max(1, min(numba.get_num_threads(), default_threads()))


def needs_compilation() -> bool | None:
    """Whether this process will compile the clustering code rather than load it.

    True when some function has neither a compiled version in this process nor a fresh
    entry in numba's on-disk cache (none, or one for an older source file); False when all
    have one; None when numba's cache cannot be read (its layout is not public API, so
    this is a best guess, never an error).
    """
    try:
        for fn in _JITTED:
            if fn.signatures:
                continue
            if not fn._cache._cache_file._load_index():
                return True
        return False
    except (AttributeError, OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None


def warm_up_notice() -> str | None:
    """Log, once per process, that the clustering code is about to be compiled.

    Returns:
        The notice, or None when the compiled code is cached (or was already checked).
    """
    if _state["checked"]:
        return None
    _state["checked"] = True
    if needs_compilation():
        msg = (
            f"compiling clustering code once (about {COMPILE_SECONDS} s); "
            "later runs load it from numba's cache"
        )
        log.warning(msg)
        return msg
    return None


def hdbscan_labels(
    X: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    ties: str = "simultaneous",
) -> np.ndarray:
    """HDBSCAN* labels of weighted rows, exact.

    A row of weight ``w`` is clustered as ``w`` identical points would be: the labels
    equal those of ``np.repeat(X, weights, axis=0)`` clustered with unit weights, row for
    row (see :mod:`flair_hdbscan.clustering` for the argument and the handling of ties).

    Args:
        X: ``(m, f)`` finite rows, any float dtype (computed in float64).
        weights: ``(m,)`` integer weights ≥ 1; None for all 1.
        min_cluster_size: smallest cluster, in points (≥ 2).
        min_samples: neighbours defining core distances, not counting the point itself
            (as hdbscan and fast_hdbscan count); None means ``min_cluster_size``.
        cluster_selection_method: ``"eom"`` or ``"leaf"``.
        ties: ``"simultaneous"``: touching merges of equal height at once, as in
            HDBSCAN*'s level-set definition — no dependence on row order at all;
            ``"sequential"``: merges of equal height one at a time, in the order of the
            key (mutual reachability, distance, low row, high row) — row order breaks the
            last ties.

    Returns:
        ``(m,) int64`` labels: −1 for noise, else the id of the cluster (ids depend on row
        order; :func:`flair_hdbscan.clustering.cluster_pixels` renumbers them canonically).

    Raises:
        ValueError: on non-finite rows, weights that are not positive integers of the
            right shape, or out-of-range parameters.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (m, f), got shape {X.shape}")
    m = X.shape[0]
    if weights is None:
        w = np.ones(m, dtype=np.int64)
    else:
        w = np.asarray(weights)
        if w.shape != (m,) or not np.all(w == np.round(w)) or (m and w.min() < 1):
            raise ValueError("weights must be (m,) positive integers")
        w = w.astype(np.int64)
    k = int(min_cluster_size if min_samples is None else min_samples)
    if int(min_cluster_size) < 2 or k < 1:
        raise ValueError("min_cluster_size must be ≥ 2 and min_samples ≥ 1")
    if cluster_selection_method not in ("eom", "leaf"):
        raise ValueError(f"unknown cluster selection method {cluster_selection_method!r}")
    if ties not in TIES:
        raise ValueError(f"unknown ties {ties!r}: use one of {', '.join(TIES)}")
    if not np.isfinite(X).all():
        raise ValueError("rows must be finite")
    labels = np.full(m, -1, dtype=np.int64)
    # no point has k neighbours, or no two clusters fit: all noise, as HDBSCAN would say
    if m < 2 or int(w.sum()) <= k or int(w.sum()) < 2 * int(min_cluster_size):
        return labels
    warm_up_notice()
    t0 = time.perf_counter()
    order, start, end, left, right, lo, hi = kdtree.build_tree(X, kdtree.LEAF_SIZE)
    data = np.ascontiguousarray(X[order])
    w_t = np.ascontiguousarray(w[order])
    chunks = threads()
    core2_t, knn = kdtree.core_distances2(data, w_t, start, end, left, right, lo, hi, k, chunks)
    t1 = time.perf_counter()
    a, b, mr2, d2 = boruvka.minimum_spanning_tree(
        data, order, core2_t, knn, start, end, left, right, lo, hi, chunks
    )
    t2 = time.perf_counter()
    # edges in canonical order: (mutual reachability², distance², low row, high row)
    ra = order[a]
    rb = order[b]
    e_lo = np.minimum(ra, rb)
    e_hi = np.maximum(ra, rb)
    sort = np.lexsort((e_hi, e_lo, d2, mr2))
    core2 = np.empty(m, dtype=np.float64)
    core2[order] = core2_t
    children, size = tree.single_linkage(
        np.ascontiguousarray(e_lo[sort]), np.ascontiguousarray(e_hi[sort]), w
    )
    leaf_cl, leaf_lam, cl_parent, cl_birth, cl_size = tree.condense(
        children,
        np.ascontiguousarray(mr2[sort]),
        size,
        core2,
        int(min_cluster_size),
        ties == "simultaneous",
    )
    parents = np.concatenate([leaf_cl, cl_parent[1:]])
    lambdas = np.concatenate([leaf_lam, cl_birth[1:]])
    counts = np.concatenate([w, cl_size[1:]])
    entries = np.lexsort((lambdas, parents))
    stab = tree.stability(parents[entries], lambdas[entries], counts[entries], cl_birth)
    owner = tree.select_clusters(cl_parent, stab, cluster_selection_method == "leaf")
    labels = owner[leaf_cl]
    t3 = time.perf_counter()
    log.debug(
        "flair HDBSCAN on %d rows: core distances %.2f s, spanning tree %.2f s, tree %.2f s",
        m,
        t1 - t0,
        t2 - t1,
        t3 - t2,
    )
    return labels
