"""The only way a budget method reaches ground truth: an annotator that counts what it says.

Every method of the budget study receives an :class:`Annotator`, never the truth itself. The
annotator answers the class of the pixels it is asked about and records every index it
revealed, so ``labels_used`` is a count that cannot drift from what was read.

What an answer means, the same for every method:

- a class 0..11: a land-cover class;
- ``OTHER`` (12): the pixel is "other" — a real answer, used like any class. A cluster or a
  neighbour named "other" predicts "other", which FLAIR's mIoU leaves out as a class but counts
  as an error for the pixel's true class;
- ``NO_DATA`` (255): the annotator cannot say. The label is spent (it was read), but it names
  no class: the pixel is left out of kNN training and out of cluster votes.
"""

from __future__ import annotations

import numpy as np

from flair_hdbscan.nomenclature import IGNORE, N_CLASSES, OTHER

__all__ = ["NO_DATA", "OTHER", "Annotator"]

#: Answer for a pixel without ground truth (mask value 0): a spent label naming no class.
NO_DATA = IGNORE


class Annotator:
    """Reveals true classes of training-pool pixels, one counted label per distinct pixel.

    Args:
        truth: ``(n,)`` integer reduced labels of the pool, 0..12 or 255 (no data). Copied.

    Raises:
        ValueError: if ``truth`` is not 1-D or holds another value.
    """

    __slots__ = ("__truth", "_order", "_seen")

    def __init__(self, truth: np.ndarray) -> None:
        t = np.asarray(truth)
        if t.ndim != 1:
            raise ValueError(f"truth must be (n,), got shape {t.shape}")
        if t.size and not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"truth must hold integer classes, got dtype {t.dtype}")
        valid = ((t >= 0) & (t < N_CLASSES)) | (t == NO_DATA)
        if not valid.all():
            bad = np.unique(t[~valid])[:5].tolist()
            raise ValueError(f"truth must hold classes 0..{N_CLASSES - 1} or {NO_DATA}, got {bad}")
        self.__truth = t.astype(np.uint8)
        self.__truth.flags.writeable = False
        self._seen = np.zeros(t.size, dtype=bool)
        self._order: list[np.ndarray] = []

    @property
    def n_pool(self) -> int:
        """Number of pixels the annotator can be asked about."""
        return int(self._seen.size)

    def label(self, indices: np.ndarray) -> np.ndarray:
        """Reveal the classes of pool pixels; each distinct pixel counts as one label.

        Args:
            indices: ``(m,)`` integer pool indices, in ``0..n_pool-1``; a pixel asked again
                is answered again without a new count.

        Returns:
            ``(m,) uint8`` answers: 0..12, or ``NO_DATA`` (255).

        Raises:
            ValueError: if an index is out of range or not an integer.
        """
        idx = np.asarray(indices)
        if idx.size == 0:
            return np.empty(0, dtype=np.uint8)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be (m,) integers, got {idx.dtype} {idx.shape}")
        idx = idx.astype(np.int64)
        if idx.min() < 0 or idx.max() >= self.n_pool:
            raise ValueError(f"pool indices must lie in 0..{self.n_pool - 1}")
        new = idx[~self._seen[idx]]
        if new.size:
            _, first = np.unique(new, return_index=True)
            new = new[np.sort(first)]  # distinct, in the order asked
            self._seen[new] = True
            self._order.append(new)
        return self.__truth[idx].copy()

    @property
    def labels_used(self) -> int:
        """Number of distinct pixels revealed so far."""
        return int(sum(part.size for part in self._order))

    @property
    def revealed(self) -> np.ndarray:
        """``(labels_used,) int64`` distinct pool indices revealed, in the order first asked."""
        if not self._order:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(self._order)

    def __repr__(self) -> str:
        return f"Annotator(n_pool={self.n_pool}, labels_used={self.labels_used})"
