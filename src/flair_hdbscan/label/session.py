"""The state of a labelling session: answers in order, undo, renames, and the mapping.

A session is its log — the list of what the person did, in order — replayed over a fixed
clustering and order (:class:`~flair_hdbscan.label.clusterer.Clusters`). Nothing else is
state, so saving the log saves the session, and undo removes the last entry.

Log entries (``dict``, JSON-ready):

- ``{"kind": "answer", "position": p, "row": r, "cluster": c, "answer": a}``: the pixel at
  position ``p`` of the order (pool row ``r`` of cluster ``c``) was answered ``a``: a class
  0..12, ``"mixed"`` or ``"skip"``.
- ``{"kind": "rename", "cluster": c, "answer": a}``: the cluster was named ``a`` (a class or
  ``"mixed"``) from the list view, or ``None`` to go back to its answers.

Each entry also records ``"at"``, the time (seconds since the epoch) it was given.

What an answer means — the budget study's rules (:mod:`flair_hdbscan.budget.annotator`):

- a class: one label spent; the cluster takes the majority class of its answered pixels
  (ties: the smallest class);
- ``"mixed"``: the person looked and the pixel is not one class — one label spent, no class
  (the budget study's ``NO_DATA``);
- ``"skip"``: passed over without a decision: no label spent, no class;
- a rename: the cluster takes that class (or none, for ``"mixed"``) whatever its answers;
  the list view shows the cluster's exemplar, so a rename spends the exemplar's label
  unless it was already answered.

Labels spent = distinct pixels named: answered pixels (class or mixed) plus the exemplars of
renamed clusters. A cluster without a class takes the class of the nearest named cluster by
centre (:func:`~flair_hdbscan.budget.methods.fill_from_nearest`); with none named, "other".
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from flair_hdbscan.budget.annotator import NO_DATA
from flair_hdbscan.budget.methods import fill_from_nearest, majority_classes
from flair_hdbscan.errors import OptionError
from flair_hdbscan.label.clusterer import Clusters
from flair_hdbscan.nomenclature import N_CLASSES

__all__ = ["MIXED", "SKIP", "Session", "parse_answer"]

MIXED = "mixed"
SKIP = "skip"

Answer = int | str | None


def parse_answer(value: Any, *, rename: bool = False) -> Answer:
    """An answer from a request: a class 0..12 (int or digits), ``"mixed"`` or ``"skip"``.

    Args:
        value: the value sent.
        rename: a rename (``"skip"`` is refused; ``None`` clears the rename).

    Raises:
        OptionError: on anything else.
    """
    if rename and value is None:
        return None
    if isinstance(value, str) and value in (MIXED, SKIP) and not (rename and value == SKIP):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < N_CLASSES:
        return int(value)
    allowed = f"0..{N_CLASSES - 1} or {MIXED!r}" + ("" if rename else f" or {SKIP!r}")
    raise OptionError(f"answer {value!r} is not a class: send {allowed}")


class Session:
    """A labelling session over a fixed clustering.

    Args:
        clusters: the clustering and the order of its pixels.
        log: the entries so far (resumed from ``mapping.json``), checked against the order.

    Raises:
        OptionError: if the log does not fit the clustering (a foreign ``mapping.json``).
    """

    def __init__(self, clusters: Clusters, log: list[dict[str, Any]] | None = None) -> None:
        self.clusters = clusters
        order = clusters.order
        cl = clusters.labels[order]
        by = np.argsort(cl, kind="stable")
        starts = np.searchsorted(cl[by], np.arange(clusters.n_clusters))
        self.rounds = np.empty(order.size, dtype=np.int64)
        self.rounds[by] = np.arange(order.size) - starts[cl[by]]
        self.exemplars = np.full(clusters.n_clusters, -1, dtype=np.int64)
        self.exemplars[cl[self.rounds == 0]] = order[self.rounds == 0]
        self.sizes = clusters.sizes
        self.log: list[dict[str, Any]] = []
        for entry in log or []:
            self._replay(entry)

    # -- the order ---------------------------------------------------------------------

    @property
    def position(self) -> int:
        """Position in the order of the next pixel to show (answers and skips so far)."""
        return sum(1 for e in self.log if e["kind"] == "answer")

    @property
    def n_items(self) -> int:
        """Pixels in the order."""
        return int(self.clusters.order.size)

    def item(self, position: int) -> dict[str, int] | None:
        """``{"position", "row", "cluster", "round"}`` of a position, None past the end."""
        if not 0 <= position < self.n_items:
            return None
        row = int(self.clusters.order[position])
        return {
            "position": position,
            "row": row,
            "cluster": int(self.clusters.labels[row]),
            "round": int(self.rounds[position]),
        }

    # -- actions -----------------------------------------------------------------------

    def answer(self, position: int, value: Any) -> dict[str, Any]:
        """Answer the pixel at ``position`` (it must be the next one).

        Raises:
            OptionError: for a stale position (answered twice) or a bad answer.
        """
        answer = parse_answer(value)
        if position != self.position:
            raise OptionError(
                f"position {position} is not the next pixel ({self.position}): reload the page"
            )
        item = self.item(position)
        if item is None:
            raise OptionError("every clustered pixel has been shown: nothing left to answer")
        entry = {
            "kind": "answer",
            "position": position,
            "row": item["row"],
            "cluster": item["cluster"],
            "answer": answer,
            "at": time.time(),
        }
        self.log.append(entry)
        return entry

    def rename(self, cluster: int, value: Any) -> dict[str, Any]:
        """Name a cluster from the list view (``None``: back to its answers).

        Raises:
            OptionError: for an unknown or empty cluster or a bad answer.
        """
        answer = parse_answer(value, rename=True)
        if not isinstance(cluster, int) or not 0 <= cluster < self.clusters.n_clusters:
            raise OptionError(
                f"no cluster {cluster!r}: clusters are 0..{self.clusters.n_clusters - 1}"
            )
        if self.sizes[cluster] == 0:
            raise OptionError(f"cluster {cluster} is empty: nothing to name")
        entry = {"kind": "rename", "cluster": cluster, "answer": answer, "at": time.time()}
        self.log.append(entry)
        return entry

    def undo(self) -> dict[str, Any] | None:
        """Remove the last entry (answer, skip or rename) and return it (None if none)."""
        return self.log.pop() if self.log else None

    def _replay(self, entry: dict[str, Any]) -> None:
        if not isinstance(entry, dict) or entry.get("kind") not in ("answer", "rename"):
            raise OptionError(f"mapping entry {entry!r} is neither an answer nor a rename")
        if entry["kind"] == "answer":
            item = self.item(int(entry.get("position", -1)))
            if (
                item is None
                or item["row"] != entry.get("row")
                or entry["position"] != self.position
            ):
                raise OptionError(
                    f"answer {entry!r} does not follow this clustering's order: the mapping "
                    "was made with another clustering"
                )
            parse_answer(entry.get("answer"))
        else:
            parse_answer(entry.get("answer"), rename=True)
            c = entry.get("cluster")
            if not isinstance(c, int) or not 0 <= c < self.clusters.n_clusters:
                raise OptionError(f"rename {entry!r} names no cluster of this clustering")
        self.log.append(dict(entry))

    # -- what the log says -------------------------------------------------------------

    def named(self) -> tuple[np.ndarray, list[str | None]]:
        """Class each cluster was given, before any is filled from a neighbour.

        Returns:
            ``(c,) int64`` class per cluster (−1: none) and, per cluster, its source:
            ``"answers"``, ``"rename"``, ``"mixed"`` (named mixed, no class) or None.
        """
        c = self.clusters.n_clusters
        answers = [e for e in self.log if e["kind"] == "answer" and e["answer"] != SKIP]
        rows = np.array([e["row"] for e in answers], dtype=np.int64)
        values = np.array(
            [NO_DATA if e["answer"] == MIXED else e["answer"] for e in answers], dtype=np.uint8
        )
        classes = majority_classes(self.clusters.labels[rows], values, c)
        source: list[str | None] = [None] * c
        for k in np.unique(self.clusters.labels[rows]):
            source[int(k)] = "answers" if classes[k] >= 0 else MIXED
        renamed: dict[int, Answer] = {}
        for e in self.log:
            if e["kind"] == "rename":
                renamed[e["cluster"]] = e["answer"]
        for k, value in renamed.items():
            if value is None:
                continue
            classes[k] = -1 if value == MIXED else int(value)
            source[k] = MIXED if value == MIXED else "rename"
        return classes, source

    def classes(self) -> np.ndarray:
        """``(c,) int64`` class of every cluster, unnamed ones from the nearest named cluster."""
        named, _ = self.named()
        return fill_from_nearest(named, self.clusters.centres)

    @property
    def labels_spent(self) -> int:
        """Distinct pixels named: answered pixels (class or mixed), renamed clusters' exemplars."""
        rows = {e["row"] for e in self.log if e["kind"] == "answer" and e["answer"] != SKIP}
        rows |= {int(self.exemplars[e["cluster"]]) for e in self.log if e["kind"] == "rename"}
        return len(rows)

    def progress(self) -> dict[str, Any]:
        """Counts the page shows: clusters named, share of pool pixels covered, labels spent."""
        named, source = self.named()
        n_pool = self.clusters.labels.size
        covered = int(self.sizes[named >= 0].sum())
        nonempty = int(np.count_nonzero(self.sizes))
        return {
            "position": self.position,
            "n_items": self.n_items,
            "labels_spent": self.labels_spent,
            "answers": sum(1 for e in self.log if e["kind"] == "answer" and e["answer"] != SKIP),
            "skipped": sum(1 for e in self.log if e["kind"] == "answer" and e["answer"] == SKIP),
            "renames": sum(1 for e in self.log if e["kind"] == "rename"),
            "clusters": nonempty,
            "clusters_named": int(np.count_nonzero(named >= 0)),
            "clusters_mixed": sum(1 for s in source if s == MIXED),
            "pixel_share_named": covered / n_pool if n_pool else 0.0,
            "pixel_share_clustered": float(self.sizes.sum() / n_pool) if n_pool else 0.0,
        }
