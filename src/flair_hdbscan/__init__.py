"""flair-hdbscan: can HDBSCAN clustering stand in for manual annotation of FLAIR #2 land cover?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
