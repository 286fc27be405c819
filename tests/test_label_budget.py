"""The page's mapping reproduces the label-budget study, label for label.

A simulated annotator answers the page from the truth through its HTTP API; ``predict
--mapping``'s path (:func:`~flair_hdbscan.predict.predict_folder`) writes the maps and
:func:`~flair_hdbscan.evaluation.evaluate_folders` scores them. The budget study's
cluster-then-label row at the same budget and seed index 0 has the same mIoU.
"""

import json

import numpy as np
import pytest

from flair_hdbscan.budget.pipeline import feature_spec, read_scoring_table
from flair_hdbscan.budget.runner import run_budget_study
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import feature_table
from flair_hdbscan.label.clusterer import fit_clusters, parse_clusterer
from flair_hdbscan.label.predictor import load_mapping_model
from flair_hdbscan.label.simulate import ApiClient, simulate_annotator
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.outdir import MANIFEST_NAME
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.predict import predict_folder
from label_helpers import served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(train_ds):
    return read_training_sample(train_ds, stride=10, sentinel=None, executor=LocalExecutor())


@pytest.fixture(scope="module")
def table(test_ds):
    return read_scoring_table(test_ds, feature_spec("raw"), None, executor=LocalExecutor())


def _page_miou(train_ds, test_ds, truth, tmp_path, experiment, n, budget=None):
    with served(train_ds, tmp_path / "label", experiment, budget=budget) as (server, service):
        annotator = simulate_annotator(ApiClient(server.base, server.token), truth, n)
        spent = service.session.labels_spent
    model = load_mapping_model(tmp_path / "label" / "mapping.json")
    pred = tmp_path / "pred"
    summary = predict_folder(test_ds, model, pred, clusters=True)
    assert summary.ok and summary.done == len(test_ds)
    manifest = json.loads((pred / MANIFEST_NAME).read_text())
    assert manifest["provenance"]["model_provenance"]["mapping"]["labels_spent"] == spent
    assert len(list(pred.rglob("CLUSTER_*.tif"))) == len(test_ds)
    return mean_iou(evaluate_folders(test_ds.paths.labels, pred)), annotator.labels_used, spent


def _budget_row(sample, table, method, budget, setting=None):
    X = feature_table(sample.aerial, None, feature_spec("raw"))
    kwargs = {"hdbscan_settings": [setting]} if setting is not None else {}
    result = run_budget_study(
        X, sample.labels, table, budgets=[budget], n_seeds=1, methods=(method,), **kwargs
    )
    [row] = [r for r in result.rows if r.seed == 0]
    return row


@pytest.mark.parametrize(
    ("experiment", "n"),
    [("hdbscan-leaf", 25), ("hdbscan", 13), ("kmeans-20", 20)],
)
def test_exemplar_answers_equal_the_budget_study(
    train_ds, test_ds, sample, table, tmp_path, experiment, n
):
    page, used, spent = _page_miou(train_ds, test_ds, sample.labels, tmp_path, experiment, n)
    clusterer = parse_clusterer(experiment)
    method = "kmeans" if clusterer.kind == "kmeans" else "hdbscan"
    row = _budget_row(sample, table, method, n, clusterer.setting)
    assert used == spent == row.labels_used == n
    assert page == pytest.approx(row.miou, abs=1e-12)


def test_answers_past_the_exemplars_equal_the_budget_study_drawn_for_that_budget(
    train_ds, test_ds, sample, table, tmp_path
):
    clusterer = parse_clusterer("hdbscan-leaf")
    X = feature_table(sample.aerial, None, feature_spec("raw"))
    c = int(np.count_nonzero(fit_clusters(X, clusterer).sizes))
    n = c + 15  # every exemplar, then members of the largest clusters (round 2)
    page, used, spent = _page_miou(
        train_ds, test_ds, sample.labels, tmp_path, "hdbscan-leaf", n, budget=n
    )
    row = _budget_row(sample, table, "hdbscan", n, clusterer.setting)
    assert used == spent == row.labels_used == n
    assert page == pytest.approx(row.miou, abs=1e-12)
