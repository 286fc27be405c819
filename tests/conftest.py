"""Shared test configuration and the one generated sample of the session.

Figures are drawn off-screen (Agg). The sample (3 training, 2 test patches) is generated
once per session with the project's own generator; the study run over it, the fitted
models and their model files are computed once and shared, read-only.
"""

import matplotlib

matplotlib.use("Agg")

import pytest

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.experiments import select_experiments
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.sample_data import generate_sample
from flair_hdbscan.study import data_identity, run_study
from flair_hdbscan.training import fit_models


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory):
    """A FLAIR-format sample of 3 training and 2 test patches (generator seed 0)."""
    return generate_sample(
        tmp_path_factory.mktemp("session-sample") / "flair", n_patches=3, n_test_patches=2, seed=0
    )


@pytest.fixture(scope="session")
def train_ds(sample_root):
    """The training split of :func:`sample_root`."""
    return FlairDataset.from_root(sample_root, split="train")


@pytest.fixture(scope="session")
def test_ds(sample_root):
    """The test split of :func:`sample_root`."""
    return FlairDataset.from_root(sample_root, split="test")


@pytest.fixture(scope="session")
def full(train_ds, test_ds):
    """Every experiment, trained on the training split and scored on the test split."""
    return run_study(train_ds, test_ds, "all", StudyOptions(), map_patches=1)


@pytest.fixture(scope="session")
def fitted(train_ds):
    """``fitted(names, **options)``: models fitted on the training split, cached."""
    cache = {}

    def fit(names, **options):
        key = (tuple(names), tuple(sorted(options.items())))
        if key not in cache:
            _, models = fit_models(
                train_ds,
                select_experiments(list(names)),
                StudyOptions(**options),
                data=data_identity(train_ds),
            )
            cache[key] = {m.name: m for m in models}
        return cache[key]

    return fit
