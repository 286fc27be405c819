"""Seeds derived from names, so that no result depends on the position of anything.

An experiment's draws are seeded from the study seed and the experiment's name (and, for
per-patch draws, the patch id): adding, removing or reordering experiments, budgets or
patches changes no other result.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed"]


def _word(part: int | str) -> int:
    if isinstance(part, int) and not isinstance(part, bool):
        if part < 0:
            raise ValueError(f"seed parts must be non-negative, got {part}")
        return part
    digest = hashlib.sha256(str(part).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def derive_seed(*parts: int | str) -> int:
    """A 32-bit seed from a study seed and names (``derive_seed(0, "knn", "077413")``).

    Integers are used as they are, strings through SHA-256, then mixed by
    :class:`numpy.random.SeedSequence`.

    Returns:
        An integer in ``0 .. 2**32 - 1``.
    """
    return int(np.random.SeedSequence([_word(p) for p in parts]).generate_state(1)[0])
