"""Rows rotated onto their principal axes, with bounds on what the rotation's rounding moves.

A k-d tree splits along coordinate axes; on fused Sentinel-2 features (15–16 columns whose
variance lies mostly in a few directions) pykdtree prunes far better on the principal axes
(:class:`flair_hdbscan.neighbors.TreeSpace`).
Distances are unchanged by an exact rotation, but the computed one is orthonormal only up
to rounding and each rotated row is rounded: searches on rotated rows therefore widen
their bounds by :class:`Rotation`'s ``stretch`` and each row's ``displacement``, so that
every answer is still decided on the original rows.

The axes are the eigenvectors of the rows' covariance (numpy's ``eigh``), largest
variance first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ROTATE_FROM", "Rotation"]

#: Rows of at least this many columns are searched on their principal axes: on fused
#: Sentinel-2 features (15–16 columns) pykdtree's queries from a test patch are then
#: 1.4–1.6× faster (one thread); on aerial features (5–6 columns) they gain nothing. (The
#: clustering's own tree, whose nodes keep tight boxes, gained nothing either: 30.9 s
#: against 31.5 s for 507,008 fused rows, so it stays unrotated.)
ROTATE_FROM = 8


@dataclass(frozen=True)
class Rotation:
    """``x ↦ (x − centre) @ axes``, computed in float64.

    Attributes:
        centre: ``(f,) float64`` the rows' mean.
        axes: ``(f, f) float64`` orthonormal up to rounding, by decreasing variance.
        stretch: ``s`` with ``|e(x) − e(y)| ≤ (1 + s)|x − y|`` for the exact image ``e``
            of the computed axes.
    """

    centre: np.ndarray
    axes: np.ndarray
    stretch: float

    @classmethod
    def of(cls, rows: np.ndarray) -> Rotation:
        """The principal axes of ``rows`` (``(m, f)`` float, ``m ≥ 2``, finite)."""
        centre = rows.mean(axis=0, dtype=np.float64)
        _, vectors = np.linalg.eigh(np.cov(rows, rowvar=False, dtype=np.float64))
        axes = np.ascontiguousarray(vectors[:, ::-1])
        gram = axes.T @ axes - np.eye(axes.shape[0])
        # |A v|² = v·AᵀA v ≤ (1 + |AᵀA − I|)|v|²; 1e-12 covers the Gram matrix's rounding
        stretch = float(np.sqrt(1.0 + np.linalg.norm(gram) + 1e-12) - 1.0)
        return cls(centre, axes, stretch)

    def apply(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotated rows and how far rounding moved each from its exact image.

        Args:
            rows: ``(q, f)`` float.

        Returns:
            ``(q, f) float64`` rotated rows, and ``(q,) float64`` upper bounds of each
            row's distance from its exact image. A rotated coordinate is the subtraction
            ``x − centre`` then an f-term dot product: in any summation order their
            rounding stays below ``(f + 1)·2⁻⁵³·|x − centre|₁``, so the row moves less than
            ``√f`` times that; the bound given is 8 times wider (and never below
            ``8·√f·(f + 2)·2⁻⁵³``).
        """
        centred = np.asarray(rows, dtype=np.float64) - self.centre
        f = centred.shape[1]
        scale = 8.0 * np.sqrt(f) * (f + 2) * 2.0**-53
        return centred @ self.axes, scale * (1.0 + np.abs(centred).sum(axis=1))
