"""The library backends — fast_hdbscan, hdbscan (exact tree), scikit-learn — on a big stack.

fast_hdbscan's excess-of-mass selection recurses once per level of the cluster tree
(``eom_recursion``, ``unselect_below_node``); on 3 M pixel rows that overflowed the default
8 MiB thread stack and killed the process with a segmentation fault. Every library call
here therefore runs in a thread whose stack is sized from the input
(:func:`stack_bytes`: 64 MiB plus 1 KiB per row, at most 4 GiB of address space; only the
pages actually touched are committed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np

__all__ = ["library_labels", "run_with_stack", "stack_bytes"]

T = TypeVar("T")

_STACK_LOCK = threading.Lock()


def stack_bytes(n_rows: int) -> int:
    """Stack size for clustering ``n_rows`` rows with recursive library code."""
    return int(min(64 * 2**20 + 1024 * max(n_rows, 0), 4 * 2**30))


def run_with_stack(fn: Callable[[], T], size: int) -> T:
    """Run ``fn()`` in a new thread with a ``size``-byte stack; return or raise its outcome."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    with _STACK_LOCK:  # threading.stack_size is process-wide: set, start, restore
        previous = threading.stack_size(size)
        try:
            worker = threading.Thread(target=target, name="hdbscan-big-stack")
            worker.start()
        finally:
            threading.stack_size(previous)
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def library_labels(
    X: np.ndarray,
    *,
    min_cluster_size: int,
    min_samples: int,
    method: str,
    backend: str,
) -> np.ndarray:
    """Cluster ``X`` with one library.

    Args:
        X: ``(n, f) float32`` C-contiguous rows.
        min_cluster_size: smallest cluster.
        min_samples: neighbours without the point itself (hdbscan's count).
        method: ``"eom"`` or ``"leaf"``.
        backend: ``"fast_hdbscan"``, ``"hdbscan"`` or ``"sklearn"``.

    Returns:
        ``(n,) int64`` labels, −1 for noise.
    """

    def fit() -> np.ndarray:
        if backend == "fast_hdbscan":
            from fast_hdbscan import HDBSCAN

            model = HDBSCAN(
                min_cluster_size=min_cluster_size,
                min_samples=min_samples,
                cluster_selection_method=method,
            )
            model.fit(X)
        elif backend == "hdbscan":
            from hdbscan import HDBSCAN

            model = HDBSCAN(
                min_cluster_size=min_cluster_size,
                min_samples=min_samples,
                cluster_selection_method=method,
                approx_min_span_tree=False,
                core_dist_n_jobs=1,
            )
            model.fit(X.astype(np.float64))
        else:
            from sklearn.cluster import HDBSCAN

            # sklearn's min_samples counts the point itself: +1 gives the same core distances
            model = HDBSCAN(
                min_cluster_size=min_cluster_size,
                min_samples=min_samples + 1,
                cluster_selection_method=method,
                copy=True,
            )
            model.fit(X)
        return np.asarray(model.labels_, dtype=np.int64)

    return run_with_stack(fit, stack_bytes(X.shape[0]))
