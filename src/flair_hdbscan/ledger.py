"""The one resume mechanism: which patches a pass has finished, and what they added up to.

A pass over a split (scoring every pixel for ``run``, writing maps for ``predict``) records in
a :class:`Ledger` the id of each finished patch and, when it scores, the confusion matrices
summed so far — both in one file, written atomically, so they always agree. The ledger
carries the identity of the work (data, options, models, code): one made for other work is
never merged; :meth:`Ledger.open` says in one line what differs.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.atomic import write_json
from flair_hdbscan.provenance import describe_difference, digest

__all__ = ["Ledger"]

log = logging.getLogger(__name__)

_FORMAT = "flair-hdbscan-ledger"


class Ledger:
    """Finished patches of a pass and their summed confusion matrices.

    Args:
        path: the ledger file, or None to keep it in memory only.
        provenance: what the pass is made from (JSON-ready); its digest is the identity.
        n_models: models scored per patch.
        n_classes: classes of the confusion matrices.
    """

    def __init__(
        self, path: Path | None, provenance: dict[str, Any], n_models: int, n_classes: int = 13
    ) -> None:
        self.path = path
        self.provenance = provenance
        self.identity = digest(provenance)
        self.done: set[str] = set()
        self.matrices = np.zeros((n_models, n_classes, n_classes), dtype=np.int64)
        self.seconds = np.zeros(n_models, dtype=np.float64)
        self._saved = time.monotonic()

    @classmethod
    def open(
        cls, path: Path | None, provenance: dict[str, Any], n_models: int, n_classes: int = 13
    ) -> tuple[Ledger, str | None]:
        """A ledger resumed from ``path`` when it records the same work, else a new one.

        Returns:
            ``(ledger, note)``: ``note`` says why a ledger found at ``path`` was not resumed
            (unreadable, or made for other work and what differs), None otherwise.
        """
        ledger = cls(path, provenance, n_models, n_classes)
        if path is None or not path.exists():
            return ledger, None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != _FORMAT:
                raise ValueError("not a ledger")
            if doc["identity"] != ledger.identity:
                what = describe_difference(doc.get("provenance", {}), provenance)
                return (
                    ledger,
                    f"the unfinished pass in {path.parent} was made from other work ({what})",
                )
            matrices = np.asarray(doc["matrices"], dtype=np.int64)
            if matrices.shape != ledger.matrices.shape:
                raise ValueError("matrix shape")
            ledger.matrices = matrices
            ledger.seconds = np.asarray(doc["seconds"], dtype=np.float64)
            ledger.done = {str(p) for p in doc["done"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return cls(path, provenance, n_models, n_classes), f"unreadable ledger {path} ({exc})"
        log.info("resuming: %d patches already done (%s)", len(ledger.done), path)
        return ledger, None

    def add(
        self, patch_id: str, matrices: np.ndarray | None = None, seconds: np.ndarray | None = None
    ) -> None:
        """Record a finished patch (and add its ``(n_models, K, K)`` matrices)."""
        if patch_id in self.done:
            return
        if matrices is not None:
            self.matrices += matrices
        if seconds is not None:
            self.seconds += seconds
        self.done.add(patch_id)

    def save(self, *, every: float = 0.0) -> None:
        """Write the ledger atomically (at most once per ``every`` seconds)."""
        if self.path is None or time.monotonic() - self._saved < every:
            return
        write_json(
            self.path,
            {
                "format": _FORMAT,
                "identity": self.identity,
                "provenance": self.provenance,
                "done": sorted(self.done),
                "matrices": self.matrices.tolist(),
                "seconds": self.seconds.round(6).tolist(),
            },
        )
        self._saved = time.monotonic()

    def remove(self) -> None:
        """Delete the ledger file (the pass is complete and its results written)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
