"""The budget study end to end: honest label counts, known answers, reproducible seeds."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from flair_hdbscan.budget import (
    ALL,
    BudgetResult,
    HdbscanSetting,
    ScoringTable,
    chance_miou,
    check_budgets,
    load_draws,
    parse_hdbscan_setting,
    recount_labels,
    run_budget_study,
)
from flair_hdbscan.errors import OptionError

SETTINGS = (HdbscanSetting("eom", 10, 10), HdbscanSetting("leaf", 10, 5))
BUDGETS = (1, 13, 24, 100, 5000, ALL)


def _table(X, y):
    counts = np.zeros((len(y), 13), dtype=np.int64)
    counts[np.arange(len(y)), y] = 1
    return ScoringTable(np.ascontiguousarray(X, dtype=np.float32), counts)


@pytest.fixture(scope="module")
def blobs():
    """12 well-separated classes = 12 blobs; a pool with a few 'other' and no-data pixels."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(-20, 20, (12, 5))
    X, y = make_blobs(1800, centers=centres, cluster_std=0.6, random_state=1)
    Xs, ys = make_blobs(3000, centers=centres, cluster_std=0.6, random_state=2)
    truth = y.astype(np.uint8)
    truth[rng.choice(1800, 20, replace=False)] = 12
    truth[rng.choice(1800, 20, replace=False)] = 255
    return X.astype(np.float32), truth, _table(Xs, ys)


@pytest.fixture(scope="module")
def result(blobs):
    X, truth, score = blobs
    return run_budget_study(X, truth, score, budgets=BUDGETS, n_seeds=3, hdbscan_settings=SETTINGS)


# ---------------------------------------------------------------- label accounting


def test_every_row_reads_what_it_reports(result, tmp_path):
    n = result.n_pool
    path = result.save_draws(tmp_path / "draws.npz")
    recount = recount_labels(load_draws(path))
    assert set(recount) == {r.key for r in result.rows}
    for r in result.rows:
        drawn = result.draws[r.key]
        assert r.labels_used == drawn.size == np.unique(drawn).size == recount[r.key]
        assert drawn.min() >= 0 and drawn.max() < n
        if r.budget == ALL:
            assert r.method != "kmeans"
        else:
            assert r.labels_used <= r.budget
        if r.method in ("knn", "kmeans") and r.budget != ALL:
            assert r.labels_used == min(r.budget, n)
    assert result.row("knn", "k5", ALL, 0).labels_used == n


def test_hdbscan_all_is_the_oracle(result, blobs):
    for s in SETTINGS:
        full = result.row("hdbscan", s.name, ALL, 0)
        oracle = result.row("oracle", s.name, ALL, 0)
        assert full.labels_used == oracle.labels_used
        assert full.miou == oracle.miou
        clustered = round((1 - full.noise_fraction) * result.n_pool)
        assert oracle.labels_used == clustered
        np.testing.assert_array_equal(
            np.sort(result.draws[full.key]), np.sort(result.draws[oracle.key])
        )


def test_no_method_reads_truth_outside_its_annotator(result, blobs):
    """Change every truth value a row did not reveal: the row must not change."""
    X, truth, score = blobs
    rng = np.random.default_rng(9)
    picks = [
        ("knn", "k5", 13, 1),
        ("knn", "k5", 100, 2),
        ("hdbscan", "eom-10-10", 24, 1),
        ("hdbscan", "leaf-10-5", 100, 2),
        ("kmeans", "random", 13, 1),
        ("kmeans", "random", 100, 0),
        ("oracle", "leaf-10-5", ALL, 0),
    ]
    for method, setting, budget, seed in picks:
        row = result.row(method, setting, budget, seed)
        revealed = result.draws[row.key]
        hidden = np.ones(truth.size, dtype=bool)
        hidden[revealed] = False
        assert hidden.any()
        scrambled = truth.copy()
        scrambled[hidden] = rng.choice([*range(13), 255], hidden.sum()).astype(np.uint8)
        assert (scrambled != truth).any()
        again = run_budget_study(
            X,
            scrambled,
            score,
            budgets=[budget],
            n_seeds=seed + 1,
            methods=[method],
            hdbscan_settings=[s for s in SETTINGS if s.name == setting] or SETTINGS,
        )
        twin = again.row(method, setting, budget, seed)
        assert twin == row
        np.testing.assert_array_equal(again.draws[twin.key], revealed)


def test_knn_settings_are_independent(result, blobs):
    X, truth, score = blobs
    both = run_budget_study(
        X, truth, score, budgets=[13, ALL], n_seeds=3, methods=["knn"], knn_neighbors=[1, 5]
    )
    for r in both.rows:
        if r.setting == "k5":
            assert r == result.row(*r.key)
    one = [r for r in both.rows if r.setting == "k1"]
    assert len(one) == 4 and all(r.labels_used in (13, result.n_pool) for r in one)


def test_no_data_answers_are_spent_but_name_nothing(blobs):
    X, _, score = blobs
    truth = np.full(X.shape[0], 255, dtype=np.uint8)
    res = run_budget_study(
        X, truth, score, budgets=[13, ALL], n_seeds=1, hdbscan_settings=SETTINGS[:1]
    )
    for r in res.rows:
        assert r.labels_used >= 1
        assert r.miou == 0.0  # everything predicted "other": every scored class IoU 0
    assert res.row("knn", "k5", 13, 0).labels_used == 13


# ---------------------------------------------------------------- known answers


def test_cluster_then_label_wins_on_separated_blobs_at_tiny_budgets(result):
    summary = {(e["method"], e["setting"], e["budget"]): e for e in result.summary()}
    for budget in (13, 24):  # at most twice the number of clusters
        knn = summary[("knn", "k5", budget)]["miou_mean"]
        hdb = summary[("hdbscan", "eom-10-10", budget)]["miou_mean"]
        kmeans = summary[("kmeans", "random", budget)]["miou_mean"]
        assert hdb >= 0.95
        assert hdb > knn + 0.1
        assert kmeans > knn + 0.1
    # with every label, kNN is about perfect too
    assert summary[("knn", "k5", ALL)]["miou_mean"] >= 0.95


def test_nothing_beats_chance_on_noise():
    rng = np.random.default_rng(4)
    p = np.array([12, 10, 9, 9, 8, 8, 8, 7, 7, 7, 6, 6, 3], dtype=float)
    p /= p.sum()
    X = rng.random((1500, 5)).astype(np.float32)
    truth = rng.choice(13, 1500, p=p).astype(np.uint8)
    score = _table(rng.random((20000, 5)), rng.choice(13, 20000, p=p))
    res = run_budget_study(
        X, truth, score, budgets=[13, 100, 1000, ALL], n_seeds=2, hdbscan_settings=SETTINGS
    )
    chance = chance_miou(score.class_counts)
    assert res.chance_miou == chance
    assert 0.035 < chance < 0.05
    for r in res.rows:
        # 20,000 independent scored pixels: a random map's mIoU varies by well under 0.01
        assert r.miou <= chance + 0.01, r


# ---------------------------------------------------------------- reproducibility


def _rows(res: BudgetResult):
    return [r.to_dict() for r in res.rows]


def test_same_seed_same_result(result, blobs):
    X, truth, score = blobs
    again = run_budget_study(X, truth, score, budgets=BUDGETS, n_seeds=3, hdbscan_settings=SETTINGS)
    assert _rows(again) == _rows(result)
    assert again.draws.keys() == result.draws.keys()
    for key, idx in result.draws.items():
        np.testing.assert_array_equal(again.draws[key], idx)
    other = run_budget_study(X, truth, score, budgets=[13], n_seeds=3, methods=["knn"], seed=1)
    assert [r.miou for r in other.rows] != [
        r.miou for r in result.rows if r.method == "knn" and r.budget == 13
    ]


def test_order_and_additions_change_no_row(result, blobs):
    X, truth, score = blobs
    shuffled = run_budget_study(
        X,
        truth,
        score,
        budgets=[ALL, 100, 1, 5000, 24, 13],
        n_seeds=3,
        methods=["oracle", "kmeans", "hdbscan", "knn"],
        hdbscan_settings=SETTINGS[::-1],
    )
    assert _rows(shuffled) == _rows(result)
    # fewer budgets, seeds and settings, plus a new setting: the shared rows are the same
    subset = run_budget_study(
        X,
        truth,
        score,
        budgets=[24, 50],
        n_seeds=2,
        hdbscan_settings=[HdbscanSetting("leaf", 15, 5), SETTINGS[1]],
    )
    shared = [r for r in subset.rows if r.key in {q.key for q in result.rows}]
    assert len(shared) == 7  # kNN, HDBSCAN leaf and k-means at 24 × 2 seeds; the oracle
    for r in shared:
        assert r == result.row(*r.key)


# ---------------------------------------------------------------- results and arguments


def test_summary_and_records(result):
    summary = result.summary()
    knn13 = next(e for e in summary if e["method"] == "knn" and e["budget"] == 13)
    values = [r.miou for r in result.rows if r.method == "knn" and r.budget == 13]
    assert knn13["n_seeds"] == 3
    assert knn13["miou_mean"] == pytest.approx(np.mean(values))
    assert knn13["miou_std"] == pytest.approx(np.std(values, ddof=1))
    assert knn13["labels_used_mean"] == 13.0 and knn13["n_clusters_mean"] is None
    oracle = next(e for e in summary if e["method"] == "oracle")
    assert oracle["n_seeds"] == 1 and oracle["miou_std"] is None
    record = result.records()[0]
    assert set(record) >= {
        "method", "setting", "budget", "labels_used", "seed", "miou", "overall_accuracy",
        "n_clusters", "noise_fraction", "largest_cluster_fraction",
    }  # fmt: skip
    d = result.to_dict()
    assert d["train_split"] == "train" and d["score_split"] == "test"
    assert len(d["rows"]) == len(result.rows) and d["summary"] == summary
    assert result.to_frame().shape[0] == len(result.rows)
    budgets = [r.budget for r in result.rows if r.method == "kmeans"]
    assert ALL not in budgets


def test_budgets_and_settings_are_validated(blobs):
    assert check_budgets(["all", 50, "13", 50]) == (13, 50, ALL)
    for bad in ([0], ["many"], [2.5], []):
        with pytest.raises(OptionError):
            check_budgets(bad)
    s = parse_hdbscan_setting("leaf:10:5")
    assert s == HdbscanSetting("leaf", 10, 5) and s.name == "leaf-10-5"
    assert parse_hdbscan_setting("eom:20:4:hdbscan").name == "eom-20-4-hdbscan"
    for bad in ("leaf:10", "mean:10:5", "leaf:a:5", "eom:20:4:dedup", "eom:20:4:flair:x"):
        with pytest.raises(OptionError):
            parse_hdbscan_setting(bad)
    X, truth, score = blobs
    with pytest.raises(OptionError):
        run_budget_study(X, truth, score, methods=["svm"])
    with pytest.raises(OptionError):
        run_budget_study(X, truth[:-1], score)
    with pytest.raises(OptionError):
        run_budget_study(X[:, :3], truth, score)
    with pytest.raises(OptionError):
        run_budget_study(X, truth, score, kmeans_init="pp")


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("n", [1, 40])
def test_identical_pixels_and_all_noise(n):
    """One pixel, or all pixels identical: HDBSCAN finds no cluster, every method still runs."""
    X = np.full((n, 5), 0.5, dtype=np.float32)
    truth = np.full(n, 3, dtype=np.uint8)
    score = _table(np.array([[0.5] * 5, [0.1] * 5]), np.array([3, 4]))
    res = run_budget_study(
        X, truth, score, budgets=[1, 13, ALL], n_seeds=2, hdbscan_settings=SETTINGS[:1]
    )
    for r in res.rows:
        assert r.labels_used == res.draws[r.key].size <= (n if r.budget == ALL else r.budget)
        # both scored pixels predicted 3: IoU 1/2 for class 3, 0 for class 4
        assert r.miou == pytest.approx(0.25)
    hdb = res.row("hdbscan", "eom-10-10", 13, 0)
    assert hdb.n_clusters == 0 and hdb.noise_fraction == 1.0  # reported as found
    assert res.row("oracle", "eom-10-10", ALL, 0).labels_used == n  # one cluster of all rows


def test_verdict_of_a_study_reads_its_summary(result):
    from flair_hdbscan.budget.verdict import verdict

    summary = result.summary()
    f = verdict(summary).findings
    by_key = {(e["method"], e["setting"], e["budget"]): e for e in summary}
    assert f["budgets"] == [1, 13, 24, 100, 5000]
    for p in f["per_budget"]:
        b = p["budget"]
        assert p["knn_mean"] == by_key[("knn", "k5", b)]["miou_mean"]
        best = max(
            (e for e in summary if e["method"] in ("hdbscan", "kmeans") and e["budget"] == b),
            key=lambda e: e["miou_mean"],
        )
        assert p["best_mean"] == best["miou_mean"]
    assert {o["setting"] for o in f["oracle"]} == {s.name for s in SETTINGS}
    assert f["clustering_wins"] is not None and 13 in f["clustering_wins"]["budgets"]
