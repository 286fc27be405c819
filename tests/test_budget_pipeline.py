"""The label-budget study inside the pipeline: run, the budget command, files and verdict."""

import copy
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flair_hdbscan.budget import load_draws, recount_labels
from flair_hdbscan.budget.pipeline import feature_spec, read_scoring_table, run_budget
from flair_hdbscan.cli.main import cli
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.options import BudgetOptions, StudyOptions
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.pixels import PixelSample, SentinelOptions
from flair_hdbscan.summary import class_distribution

SMALL = BudgetOptions(budgets=(13, 50, "all"), seeds=2, hdbscan=("leaf:10:5",))


@pytest.fixture(scope="module")
def sample(train_ds):
    return read_training_sample(
        train_ds, stride=10, sentinel=SentinelOptions(), executor=LocalExecutor()
    )


@pytest.fixture(scope="module")
def budget(sample, test_ds):
    return run_budget(sample, test_ds, StudyOptions(), SMALL, train_split="train")


def test_scoring_table_holds_every_labelled_pixel_of_the_split(test_ds):
    table = read_scoring_table(test_ds, feature_spec("raw"), None, executor=LocalExecutor())
    np.testing.assert_array_equal(table.class_counts, class_distribution(test_ds))
    assert table.n_rows < table.n_pixels  # distinct rows, not pixels
    assert len(np.unique(table.X, axis=0)) == table.n_rows


def test_budget_rows_count_labels_from_the_pool_without_filtering(budget, sample):
    assert budget.n_pool == len(sample)  # every sampled pixel, "other" and no-data included
    assert (budget.train_split, budget.score_split) == ("train", "test")
    for row in budget.rows:
        assert row.labels_used == recount_labels({0: budget.draws[row.key]})[0]
        if row.budget == "all":
            assert row.labels_used <= len(sample)
        else:
            assert row.labels_used <= row.budget
    methods = {r.method for r in budget.rows}
    assert methods == {"knn", "hdbscan", "kmeans", "oracle"}


def test_satellite_and_robust_features_are_available(sample, test_ds):
    one = copy.copy(test_ds)  # scored on one test patch: the features are what is tested
    one.patches = test_ds.patches[:1]
    opts = BudgetOptions(budgets=(13,), seeds=1, hdbscan=("leaf:10:5",),
                         features="satellite-robust")  # fmt: skip
    result = run_budget(sample, one, StudyOptions(), opts, train_split="train")
    assert {r.method for r in result.rows} == {"knn", "hdbscan", "kmeans", "oracle"}
    aerial_only = PixelSample(sample.aerial, None, sample.labels, sample.patch)
    with pytest.raises(OptionError, match="Sentinel-2"):
        run_budget(aerial_only, one, StudyOptions(), opts, train_split="train")


def test_budget_options_are_checked():
    with pytest.raises(OptionError, match="budget"):
        BudgetOptions(budgets=(0,))
    with pytest.raises(OptionError, match="setting"):
        BudgetOptions(hdbscan=("eom:ten:10",))
    with pytest.raises(OptionError, match="--budget-seeds"):
        BudgetOptions(seeds=0)
    with pytest.raises(OptionError, match="--budget-features"):
        BudgetOptions(features="infrared")
    assert BudgetOptions(budgets=("all", 50, "13")).budgets == (13, 50, "all")


def test_budget_command_writes_files_whose_labels_recount(sample_root, tmp_path):
    out = tmp_path / "budget"
    result = CliRunner().invoke(
        cli,
        ["budget", "--data", str(sample_root), "--out", str(out), "--budgets", "13,50,all",
         "--budget-seeds", "2", "--budget-hdbscan", "leaf:10:5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "budget.json").read_text())
    budget = doc["budget"]
    assert budget["protocol"] == "held-out"
    assert doc["run"]["generated_sample"]  # the sample says it is one
    table = pd.read_csv(out / "budget.csv")
    assert list(table.columns[:7]) == [
        "method", "setting", "budget", "labels_used", "seed", "train_split", "score_split",
    ]  # fmt: skip
    assert set(table["train_split"]) == {"train"} and set(table["score_split"]) == {"test"}
    draws = load_draws(out / "budget_draws.npz")
    counts = recount_labels(draws)
    for row in table.itertuples():
        budget_value = row.budget if row.budget == "all" else int(row.budget)
        assert counts[(row.method, row.setting, budget_value, row.seed)] == row.labels_used
    assert (out / "budget.png").stat().st_size > 10_000
    # the verdict closes the output and is the recorded one
    sentences = budget["verdict"]["sentences"]
    assert sentences and result.output.rstrip().endswith(sentences[-1])


def test_run_holds_the_budget_and_the_report_opens_with_the_verdict(sample_root, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["run", "--data", str(sample_root), "--experiments", "knn,hdbscan", "--out", str(out),
         "--workers", "1", "--budgets", "13,all", "--budget-seeds", "2", "--budget-hdbscan",
         "eom:10:10", "--map-patches", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    sentences = doc["budget"]["verdict"]["sentences"]
    assert result.output.rstrip().endswith(sentences[-1])
    page = (out / "report.html").read_text()
    body = page[page.index("<body>") :]
    assert body.index("Sample data, not FLAIR #2") < body.index('id="answer"')
    assert body.index('id="answer"') < body.index('id="question"') < body.index('id="results"')
    first = sentences[0].replace("'", "&#39;")
    assert first in page
    no_budget = CliRunner().invoke(
        cli,
        ["run", "--data", str(sample_root), "--experiments", "knn", "--out", str(tmp_path / "n"),
         "--workers", "1", "--no-budget", "--no-report"],
    )  # fmt: skip
    assert no_budget.exit_code == 0, no_budget.output
    assert "budget" not in json.loads((tmp_path / "n" / "results.json").read_text())
