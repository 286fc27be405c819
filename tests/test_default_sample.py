"""The embedded default sample answers the study's question the way the README reports it.

This regenerates the default sample (16 train patches, the default seed) in a temporary
folder and runs the baselines, ``knn`` and every HDBSCAN experiment on it (about a minute on
two cores): a change to the generator or to the pipeline that overturns the README's
findings fails here.
"""

import numpy as np
import pytest

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.experiments import EXPERIMENT_NAMES
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.sample_data import DEFAULT_PATCHES, DEFAULT_SEED, generate_sample
from flair_hdbscan.study import StudyOptions, run_study

HDBSCAN = [n for n in EXPERIMENT_NAMES if n.startswith("hdbscan")]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    root = generate_sample(
        tmp_path_factory.mktemp("default") / "data", n_patches=DEFAULT_PATCHES, seed=DEFAULT_SEED
    )
    ds = FlairDataset.from_root(root, split="train")
    names = ["naive-uniform", "naive-prevalence", "knn", *HDBSCAN]
    return run_study(ds, names, StudyOptions(map_patches=0))


def test_knn_beats_every_hdbscan_which_beats_both_baselines(default_run):
    miou = {e["name"]: e["miou"] for e in default_run.experiments}
    best_naive = max(miou["naive-uniform"], miou["naive-prevalence"])
    assert len(HDBSCAN) == 7
    for name in HDBSCAN:
        assert miou["knn"] > miou[name] > best_naive, (name, miou)


def test_results_are_recomputable_and_collapses_are_reported(default_run):
    for e in default_run.experiments:
        assert e["miou"] == pytest.approx(mean_iou(np.array(e["confusion_matrix"])), abs=1e-12)
    # HDBSCAN's excess-of-mass collapse (one cluster holding most pixels) is reported, not
    # hidden: the README names the experiment it hits on this sample.
    collapsed = {
        e["name"] for e in default_run.experiments if (e.get("largest_cluster_fraction") or 0) > 0.5
    }
    assert collapsed == {"hdbscan-satellite-normalized"}
