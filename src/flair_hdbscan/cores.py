"""The cores this process may use (its CPU affinity), for every threaded computation."""

from __future__ import annotations

import os

__all__ = ["default_threads"]


def default_threads() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
