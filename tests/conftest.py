"""Shared test configuration and the one generated sample of the session.

Figures are drawn off-screen (Agg). The sample (3 training, 2 test patches) is generated
once per test run with the project's own generator, and the study over it computed once:
when the suite runs on several pytest-xdist workers, the first worker to need them writes
them under the run's shared temporary folder (a file lock orders the workers) and the
others read them. They are shared read-only.
"""

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pytest
from filelock import FileLock

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.experiments import select_experiments
from flair_hdbscan.options import StudyOptions
from flair_hdbscan.sample_data import generate_sample
from flair_hdbscan.study import data_identity, run_study
from flair_hdbscan.training import fit_models

#: Test files that take longest, about in decreasing order. They are collected first, so that the
#: pytest-xdist workers (one file at a time each, in collection order: ``--dist loadfile
#: --no-loadscope-reorder``) start the long files early and end together on short ones.
LONGEST_FIRST = (
    "test_report.py",  # first: it computes the shared study (fixture ``full``) for the others
    "test_faults.py",
    "test_sample_data.py",
    "test_notebook.py",
    "test_study.py",
    "test_predict.py",
    "test_budget_pipeline.py",
    "test_plots.py",
    "test_passes.py",
    "test_label_budget.py",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    # With one xdist worker per core, each worker (and the CLI processes it starts) keeps to
    # its own core: the kNN's threads, sized to the cores a process may use, then stop
    # competing with the other worker's.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if count == len(cpus):
            os.sched_setaffinity(0, {cpus[int(worker[2:]) % len(cpus)]})


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: others keep order


def once_per_run(tmp_path_factory, name: str, make: Callable[[Path], Any]) -> Any:
    """``make(folder)`` computed once per test run, whatever the number of xdist workers.

    The first worker calls it with an empty folder of the run's shared temporary folder and
    pickles what it returns; later callers (other workers) wait on the lock and unpickle.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return make(tmp_path_factory.mktemp(name))
    folder = tmp_path_factory.getbasetemp().parent / name
    done = folder.with_name(f"{name}.pickle")
    with FileLock(f"{folder}.lock"):
        if not done.exists():
            folder.mkdir(exist_ok=True)
            value = make(folder)
            tmp = done.with_name(f"{done.name}.tmp")
            tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.rename(done)
            return value
    return pickle.loads(done.read_bytes())


def _compile(folder: Path) -> bool:
    """Run the package's numba code once, so that its on-disk cache is written."""
    import numpy as np

    from flair_hdbscan.clustering import cluster_pixels
    from flair_hdbscan.models import KDTreeClassifier

    X = np.random.default_rng(0).integers(0, 256, size=(2000, 5)).astype(np.float32) / 255
    y = np.arange(len(X)) % 3
    for dtype in (np.float32, np.float64):
        knn = KDTreeClassifier().fit(X.astype(dtype), y)
        knn.predict(X.astype(dtype))
        knn.kneighbors(X.astype(dtype))
    for method in ("eom", "leaf"):
        cluster_pixels(X, cluster_selection_method=method)
    return True


@pytest.fixture(scope="session", autouse=True)
def compiled_code(tmp_path_factory):
    """The package's numba code compiled once per test run, before any test.

    On a fresh checkout nothing is cached yet, and every process that reaches the code
    first — each worker, each CLI subprocess — would compile it (about 20 s each).
    """
    return once_per_run(tmp_path_factory, "numba-compiled", _compile)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory):
    """A FLAIR-format sample of 3 training and 2 test patches (generator seed 0)."""
    return once_per_run(
        tmp_path_factory,
        "session-sample",
        lambda folder: generate_sample(folder / "flair", n_patches=3, n_test_patches=2, seed=0),
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
def full(train_ds, test_ds, tmp_path_factory):
    """Every experiment, trained on the training split and scored on the test split."""
    return once_per_run(
        tmp_path_factory,
        "session-study",
        lambda _: run_study(train_ds, test_ds, "all", StudyOptions(), map_patches=1),
    )


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
