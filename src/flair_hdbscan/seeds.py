"""Random streams named, not numbered, so that no result depends on the position of anything.

Every random draw gets a :class:`numpy.random.SeedSequence` built from the study seed, a
stable 64-bit hash (BLAKE2b) of each name, and an index: an experiment's draws from the study
seed and its name (per-patch draws add the patch id), the budget study's from (method,
setting, budget) and the seed index. Adding, removing or reordering experiments, budgets or
patches changes no other result, and the same names give the same stream on every machine and
Python version (``hash()`` would not: it is salted per process).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed", "name_key", "rng_for", "seed_sequence"]


def name_key(name: str | int) -> int:
    """Stable 64-bit integer of a name (its ``str``): BLAKE2b, little-endian."""
    digest = hashlib.blake2b(str(name).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def seed_sequence(study_seed: int, *names: str | int, index: int = 0) -> np.random.SeedSequence:
    """Seed sequence of one draw.

    Args:
        study_seed: the study's seed (a non-negative integer).
        *names: what the draw is for, e.g. ``"knn", "random", 50``; each is hashed by its
            ``str``, so ``50`` and ``"50"`` name the same draw.
        index: seed index (0, 1, …).

    Raises:
        ValueError: on a negative seed or index.
    """
    if int(study_seed) < 0 or int(index) < 0:
        raise ValueError(f"seeds must be non-negative, got {study_seed} and {index}")
    return np.random.SeedSequence([int(study_seed), *(name_key(n) for n in names), int(index)])


def rng_for(study_seed: int, *names: str | int, index: int = 0) -> np.random.Generator:
    """Generator of one draw (see :func:`seed_sequence`)."""
    return np.random.default_rng(seed_sequence(study_seed, *names, index=index))


def derive_seed(study_seed: int, *names: str | int, index: int = 0) -> int:
    """A 32-bit integer seed of one draw, for libraries that take an int (scikit-learn).

    ``derive_seed(0, "knn", "077413")``: experiment ``knn``'s draws on patch 077413.
    """
    return int(seed_sequence(study_seed, *names, index=index).generate_state(1)[0])
