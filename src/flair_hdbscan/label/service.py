"""What the page's requests do, apart from HTTP: the session's actions and what they show.

:class:`LabelService` wraps a :class:`~flair_hdbscan.label.session.Session` and its
:class:`~flair_hdbscan.label.prepare.LabelData`: every action (answer, undo, rename) is
applied under a lock and saved at once to ``mapping.json`` (atomically); reads return
JSON-ready dictionaries. The web app (:mod:`flair_hdbscan.label.app`) only translates.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.exemplars import cluster_priority
from flair_hdbscan.label.imagery import CropCache, spectrum
from flair_hdbscan.label.prepare import LabelData
from flair_hdbscan.label.session import MIXED, SKIP, Session
from flair_hdbscan.nomenclature import REDUCED_COLOURS, REDUCED_NAMES

__all__ = ["KEYS", "LabelService", "class_table"]

log = logging.getLogger(__name__)

#: Key of each class 0..12, then of "skip" and "mixed" (shown on the page).
KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "q", "w", "e")
SKIP_KEY = "s"
MIXED_KEY = "m"
#: Members shown beside the exemplar.
N_MEMBERS = 4
#: Crops the page asks for: the pixel at the default zoom (mode, window, side), members.
PIXEL_CROPS: tuple[tuple[str, int, int], ...] = (("rgb", 96, 384), ("nir", 96, 384))
MEMBER_CROP: tuple[str, int, int] = ("rgb", 48, 192)
#: Pixels ahead of the present one whose crops are drawn in the background.
PREFETCH = 3


def class_table() -> list[dict[str, Any]]:
    """The 13 classes with their names, colours and keys."""
    return [
        {"value": k, "name": REDUCED_NAMES[k], "colour": REDUCED_COLOURS[k], "key": KEYS[k]}
        for k in range(len(REDUCED_NAMES))
    ]


def _answer_name(value: Any) -> str | None:
    if value is None:
        return None
    if value in (MIXED, SKIP):
        return str(value)
    return REDUCED_NAMES[int(value)]


class LabelService:
    """A session served to one person.

    Args:
        ds: the dataset the pool was read from (imagery for the crops).
        data: the clustering and what it was made from.
        session: the answers so far.
    """

    def __init__(self, ds: FlairDataset, data: LabelData, session: Session) -> None:
        self.ds = ds
        self.data = data
        self.session = session
        self.crops = CropCache(ds)
        self._lock = threading.RLock()
        labels = data.clusters.labels
        self._by_cluster = np.argsort(labels, kind="stable")
        self._starts = np.searchsorted(
            labels[self._by_cluster], np.arange(data.clusters.n_clusters + 1)
        )
        # positions of each cluster's pixels in the order, by round
        cl = labels[data.clusters.order]
        self._pos_by_cluster = np.lexsort((session.rounds, cl))
        self._pos_starts = np.searchsorted(
            cl[self._pos_by_cluster], np.arange(data.clusters.n_clusters + 1)
        )
        self._spectra: dict[int, dict[str, Any]] = {}
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="label-crops")
        self._prefetched: set[int] = set()
        self.priority = [
            int(c)
            for c in cluster_priority(labels, data.clusters.n_clusters)
            if session.sizes[c] > 0
        ]

    # -- reads -------------------------------------------------------------------------

    def place(self, row: int) -> dict[str, Any]:
        """Where a pool row lies: patch index and id, pixel row and column."""
        i, r, c = self.data.pool.place(row)
        return {
            "row": int(row),
            "patch": i,
            "patch_id": self.ds.patches[i].patch_id,
            "y": r,
            "x": c,
        }

    def spectrum(self, cluster: int) -> dict[str, Any]:
        """Quartiles of a cluster's members per channel (cached)."""
        if cluster not in self._spectra:
            rows = self._by_cluster[self._starts[cluster] : self._starts[cluster + 1]]
            self._spectra[cluster] = spectrum(self.data.pool.aerial[rows])
        return self._spectra[cluster]

    def members(self, cluster: int, position: int, n: int = N_MEMBERS) -> list[int]:
        """The cluster's next pixels in the order after ``position`` (shown, not answered)."""
        positions = self._pos_by_cluster[self._pos_starts[cluster] : self._pos_starts[cluster + 1]]
        later = positions[positions > position][:n]
        if later.size < n:  # near the end of the order: earlier members instead
            earlier = positions[positions < position][: n - later.size]
            later = np.concatenate([later, earlier])
        return [int(self.data.clusters.order[p]) for p in later]

    def _cluster_info(self, cluster: int, named, source, filled) -> dict[str, Any]:
        size = int(self.session.sizes[cluster])
        k = int(named[cluster])
        return {
            "id": cluster,
            "size": size,
            "share": size / max(1, self.data.clusters.labels.size),
            "class": None if k < 0 else k,
            "name": None if k < 0 else REDUCED_NAMES[k],
            "source": source[cluster],
            "filled": int(filled[cluster]),
            "filled_name": REDUCED_NAMES[int(filled[cluster])],
            "exemplar": int(self.session.exemplars[cluster]),
        }

    def prefetch(self, start: int, stop: int) -> None:
        """Draw, in the background, the crops of the pixels at positions ``start..stop-1``.

        The page then finds them cached: a crop drawn on demand reads the patch first.
        """
        for position in range(max(0, start), min(stop, self.session.n_items)):
            if position in self._prefetched:
                continue
            self._prefetched.add(position)
            self._prefetcher.submit(self._draw, position)

    def _draw(self, position: int) -> None:
        try:
            item = self.session.item(position)
            if item is None:
                return
            for mode, size, out in PIXEL_CROPS:
                self.crop(item["row"], mode=mode, size=size, out=out)
            mode, size, out = MEMBER_CROP
            for row in self.members(item["cluster"], position):
                self.crop(row, mode=mode, size=size, out=out)
        except Exception as exc:  # a prefetch never fails a request: the crop is drawn on demand
            log.debug("prefetch of position %d failed: %s", position, exc)

    def close(self) -> None:
        """Stop drawing crops in the background."""
        self._prefetcher.shutdown(wait=False, cancel_futures=True)

    def state(self) -> dict[str, Any]:
        """What the labelling view shows: the next pixel and its cluster, the progress."""
        with self._lock:
            position = self.session.position
            self.prefetch(position, position + 1 + PREFETCH)  # positions already drawn are skipped
            s = self.session
            named, source = s.named()
            filled = s.classes()
            item = s.item(s.position)
            out: dict[str, Any] = {"progress": s.progress(), "item": None}
            last = next((e for e in reversed(s.log)), None)
            out["last"] = None if last is None else {**last, "name": _answer_name(last["answer"])}
            if item is not None:
                c = item["cluster"]
                out["item"] = {
                    **item,
                    **self.place(item["row"]),
                    "cluster_info": self._cluster_info(c, named, source, filled),
                    "spectrum": self.spectrum(c),
                    "members": [self.place(r) for r in self.members(c, item["position"])],
                }
            return out

    def clusters(self) -> list[dict[str, Any]]:
        """Every non-empty cluster, largest first, with its present name."""
        with self._lock:
            named, source = self.session.named()
            filled = self.session.classes()
            return [self._cluster_info(c, named, source, filled) for c in self.priority]

    def crop(self, row: int, *, mode: str, size: int, out: int) -> bytes:
        """PNG crop around a pool row's pixel (see :class:`.imagery.CropCache`).

        Raises:
            OptionError: for a row outside the pool or a bad mode or size.
        """
        if not 0 <= row < len(self.data.pool):
            raise OptionError(f"no pool row {row}")
        i, r, c = self.data.pool.place(row)
        return self.crops.png(i, r, c, mode=mode, size=size, out=out)

    # -- actions (each saved at once) --------------------------------------------------

    def answer(self, position: int, value: Any) -> dict[str, Any]:
        """Answer the next pixel; returns the new state."""
        with self._lock:
            entry = self.session.answer(position, value)
            self._save(undo=lambda: self.session.undo(), redo=None, entry=entry)
            return self.state()

    def undo(self) -> dict[str, Any]:
        """Undo the last action; returns the new state."""
        with self._lock:
            entry = self.session.undo()
            if entry is not None:
                self._save(undo=None, redo=lambda: self.session.log.append(entry), entry=entry)
            return self.state()

    def rename(self, cluster: int, value: Any) -> dict[str, Any]:
        """Name a cluster from the list view; returns its new row and the progress."""
        with self._lock:
            entry = self.session.rename(cluster, value)
            self._save(undo=lambda: self.session.undo(), redo=None, entry=entry)
            named, source = self.session.named()
            info = self._cluster_info(cluster, named, source, self.session.classes())
            return {"cluster": info, "progress": self.session.progress()}

    def _save(self, *, undo: Any, redo: Any, entry: dict[str, Any]) -> None:
        """Write mapping.json; if it cannot be written, the action is rolled back."""
        try:
            self.data.save(self.session)
        except BaseException:
            (undo or redo)()  # not saved: not done
            raise
