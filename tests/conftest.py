"""Shared test configuration: draw figures off-screen for the whole session."""

import matplotlib

matplotlib.use("Agg")

import pytest

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.sample_data import generate_sample


@pytest.fixture(scope="session")
def study_root(tmp_path_factory):
    """A 3-patch FLAIR-format sample shared by the study tests."""
    return generate_sample(tmp_path_factory.mktemp("study-sample"), n_patches=3, seed=0)


@pytest.fixture(scope="session")
def study_ds(study_root):
    """The training split of :func:`study_root`."""
    return FlairDataset.from_root(study_root, split="train")
