"""Random streams named, not numbered: one per (study seed, method, setting, budget, seed).

Each draw of the budget study gets a :class:`numpy.random.SeedSequence` built from the study
seed, a stable 64-bit hash (BLAKE2b) of each name, and the seed index. Adding a method, a
setting or a budget therefore changes no other result, and the same names give the same
stream on every machine and Python version (``hash()`` would not: it is salted per process).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["name_key", "random_state", "rng_for", "seed_sequence"]


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


def random_state(study_seed: int, *names: str | int, index: int = 0) -> int:
    """A 32-bit integer seed of one draw, for libraries that take an int (scikit-learn)."""
    return int(seed_sequence(study_seed, *names, index=index).generate_state(1)[0])
