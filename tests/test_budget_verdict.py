"""The verdict: findings computed from the summary, every number of a sentence from them."""

import itertools
import math
import re

import numpy as np
import pytest

from flair_hdbscan.budget import ALL
from flair_hdbscan.budget.verdict import verdict


def _entry(method, setting, budget, mean, std, used=None, n_seeds=5):
    return {
        "method": method,
        "setting": setting,
        "budget": budget,
        "n_seeds": n_seeds,
        "miou_mean": mean,
        "miou_std": std,
        "labels_used_mean": float(budget if used is None else used),
    }


BUDGETS = [13, 25, 50, 100, 1000]


@pytest.fixture
def summary():
    knn = [0.10, 0.15, 0.20, 0.30, 0.50]
    hdb = [0.30, 0.32, 0.33, 0.35, 0.40]
    km = [0.20, 0.30, 0.36, 0.34, 0.45]
    rows = [_entry("knn", "k5", b, m, 0.02) for b, m in zip(BUDGETS, knn, strict=True)]
    rows += [_entry("hdbscan", "eom-10-10", b, m, 0.01) for b, m in zip(BUDGETS, hdb, strict=True)]
    rows += [_entry("kmeans", "random", b, m, 0.02) for b, m in zip(BUDGETS, km, strict=True)]
    rows.append(_entry("knn", "k5", ALL, 0.55, None, used=43264, n_seeds=1))
    rows.append(_entry("hdbscan", "eom-10-10", ALL, 0.42, None, used=17123, n_seeds=1))
    rows.append(_entry("oracle", "eom-10-10", ALL, 0.42, None, used=17123, n_seeds=1))
    return rows


def test_findings_of_a_known_summary(summary):
    f = verdict(summary).findings
    assert f["budgets"] == BUDGETS
    diffs = [p["difference"] for p in f["per_budget"]]
    np.testing.assert_allclose(diffs, [0.20, 0.17, 0.16, 0.05, -0.05], atol=1e-12)
    assert [p["best_method"] for p in f["per_budget"]] == [
        "hdbscan", "hdbscan", "kmeans", "hdbscan", "kmeans",
    ]  # fmt: skip
    cw = f["clustering_wins"]
    assert cw["ranges"] == [[13, 100]]
    assert cw["mean_difference"] == pytest.approx(0.145)
    assert cw["max_difference"] == pytest.approx(0.20) and cw["max_at"] == 13
    assert (cw["n_beyond_spread"], cw["n_budgets"]) == (4, 4)
    kw = f["knn_wins"]
    assert kw["ranges"] == [[1000, 1000]] and kw["max_difference"] == pytest.approx(0.05)
    (cross,) = f["crossings"]
    assert cross["between"] == [100, 1000] and cross["above"] == "knn"
    assert cross["budget"] == pytest.approx(math.sqrt(100 * 1000))  # halfway in log budget
    best = {(w["method"], w["setting"]): w["ranges"] for w in f["best_clustering"]}
    assert best == {
        ("hdbscan", "eom-10-10"): [[13, 25], [100, 100]],
        ("kmeans", "random"): [[50, 50], [1000, 1000]],
    }
    assert f["oracle"] == [{"setting": "eom-10-10", "miou": 0.42, "labels_used": 17123.0}]
    assert f["knn_all"] == {"miou": 0.55, "labels_used": 43264.0}


def test_sentences_of_a_known_summary(summary):
    assert verdict(summary).sentences == (
        "Cluster-then-label (best clustering per budget) beats kNN on random labels at "
        "13–100 labels, by 0.145 mIoU on average (largest 0.200 at 13 labels); the "
        "difference exceeds the spread over seeds at 4 of 4 of these budgets.",
        "kNN beats cluster-then-label at 1,000 labels, by 0.050 mIoU on average (largest "
        "0.050 at 1,000 labels); the difference exceeds the spread over seeds at 1 of 1 of "
        "these budgets.",
        "The curves cross near 316 labels (between 100 and 1,000, interpolated on log "
        "budget); kNN is ahead above.",
        "Best clustering: HDBSCAN eom-10-10 at 13–25 and 100 labels; k-means (random) at 50 "
        "and 1,000 labels.",
        "The oracle mapping (HDBSCAN eom-10-10, every clustered pixel's class read: 17,123 "
        "labels) scores 0.420 mIoU.",
        "kNN with every pixel of the sample labelled (43,264 labels) scores 0.550 mIoU.",
    )


def _numbers(sentence):
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", sentence)]


def _expand(text, budgets):
    """Budgets named by a range text such as ``13–25, 100 and 1,000``."""
    out = []
    for piece in re.split(r", | and ", text):
        ends = [float(x.replace(",", "")) for x in piece.split("–")]
        out += [b for b in budgets if ends[0] <= b <= ends[-1]]
    return out


def _without_names(sentence):
    # setting names hold numbers too ("eom-10-10"): drop them before parsing
    return re.sub(r"(eom|leaf)-\d+-\d+", "", sentence)


@pytest.mark.parametrize("seed", range(8))
def test_sentence_numbers_are_the_table_numbers(seed):
    """Random summaries: numbers parsed back from the sentences equal the summary's."""
    rng = np.random.default_rng(seed)
    budgets = [13, 25, 50, 100, 250, 500, 1000, 5000]
    table = {}
    summary = []
    for method, setting in (("knn", "k5"), ("hdbscan", "eom-10-10"), ("hdbscan", "leaf-10-5"),
                            ("kmeans", "random")):  # fmt: skip
        for b in budgets:
            m, s = float(rng.uniform(0.1, 0.5)), float(rng.uniform(0, 0.05))
            table[(method, setting, b)] = (m, s)
            summary.append(_entry(method, setting, b, m, s))
    summary.append(_entry("oracle", "leaf-10-5", ALL, 0.44, None, used=17387, n_seeds=1))
    sentences = verdict(summary).sentences
    # recompute, independently of the verdict code, from the table
    diff, beyond, best = {}, {}, {}
    for b in budgets:
        k_m, k_s = table[("knn", "k5", b)]
        cands = [(table[key][0], key) for key in table if key[0] != "knn" and key[2] == b]
        c_m, key = max(cands, key=lambda t: t[0])
        diff[b] = c_m - k_m
        beyond[b] = abs(diff[b]) > table[key][1] + k_s
        best[b] = key
    wins = [b for b in budgets if diff[b] > 0]
    losses = [b for b in budgets if diff[b] <= 0]
    i = 0
    if wins:
        nums = _numbers(sentences[i])
        top = max(wins, key=lambda b: diff[b])
        tail = [
            round(np.mean([diff[b] for b in wins]), 3),
            round(diff[top], 3),
            top,
            sum(beyond[b] for b in wins),
            len(wins),
        ]
        assert nums[-5:] == pytest.approx(tail, abs=1e-9)
        assert set(nums[:-5]) <= set(wins)  # the range ends are winning budgets
        assert min(wins) in nums[:-5] and max(wins) in nums[:-5]
        i += 1
    else:
        assert _numbers(sentences[i]) == [13, 5000]
        i += 1
    if losses and any(diff[b] < 0 for b in losses):
        neg = [b for b in budgets if -diff[b] > 0]
        nums = _numbers(sentences[i])
        top = max(neg, key=lambda b: -diff[b])
        assert nums[-5:] == pytest.approx(
            [round(np.mean([-diff[b] for b in neg]), 3), round(-diff[top], 3), top,
             sum(beyond[b] for b in neg), len(neg)], abs=1e-9,
        )  # fmt: skip
        i += 1
    for lo, hi in itertools.pairwise(budgets):
        if (diff[lo] > 0) != (diff[hi] > 0):
            t = diff[lo] / (diff[lo] - diff[hi])
            at = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))
            assert _numbers(sentences[i]) == [round(at), lo, hi]
            assert lo <= at <= hi
            i += 1
    assert sentences[i].startswith("Best clustering:")
    claimed = {}
    for part in sentences[i].removeprefix("Best clustering: ").rstrip(".").split("; "):
        name, ranges = part.rsplit(" at ", 1)
        claimed[name] = _expand(ranges.removesuffix(" labels"), budgets)
    expected = {}
    for b in budgets:
        method, setting, _ = best[b]
        name = f"HDBSCAN {setting}" if method == "hdbscan" else f"k-means ({setting})"
        expected.setdefault(name, []).append(b)
    assert claimed == expected
    assert _numbers(_without_names(sentences[i + 1])) == [17387, 0.44]


def test_verdict_without_knn_or_clustering():
    only_oracle = [_entry("oracle", "eom-10-10", ALL, 0.4, None, used=100, n_seeds=1)]
    v = verdict(only_oracle)
    assert v.findings["budgets"] == [] and len(v.sentences) == 1
    knn_wins = [_entry("knn", "k5", 13, 0.5, 0.0), _entry("kmeans", "random", 13, 0.4, 0.0)]
    v = verdict(knn_wins)
    assert v.findings["clustering_wins"] is None
    assert v.sentences[0].startswith("kNN on random labels matches or beats")
    assert "13" in v.text
