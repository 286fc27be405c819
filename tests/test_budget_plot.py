"""The budget figure: what it draws."""

import matplotlib.pyplot as plt
import numpy as np

from flair_hdbscan.budget import ALL
from flair_hdbscan.plots.budget import budget_curves, plot_budget


def _summary():
    rows = []
    for method, setting, base in (("knn", "k5", 0.1), ("hdbscan", "eom-10-10", 0.3),
                                  ("kmeans", "random", 0.2)):  # fmt: skip
        for i, b in enumerate((13, 50, 1000)):
            rows.append({"method": method, "setting": setting, "budget": b, "n_seeds": 5,
                         "miou_mean": base + 0.05 * i, "miou_std": 0.02,
                         "labels_used_mean": float(b)})  # fmt: skip
    rows.append({"method": "knn", "setting": "k5", "budget": ALL, "n_seeds": 1,
                 "miou_mean": 0.5, "miou_std": None, "labels_used_mean": 40000.0})  # fmt: skip
    rows.append({"method": "oracle", "setting": "eom-10-10", "budget": ALL, "n_seeds": 1,
                 "miou_mean": 0.42, "miou_std": None, "labels_used_mean": 17000.0})  # fmt: skip
    return rows


def test_curves_are_sorted_by_labels_used():
    curves = budget_curves(_summary())
    knn = curves[("knn", "k5")]
    np.testing.assert_array_equal(knn["x"], [13, 50, 1000, 40000])
    assert np.isnan(knn["std"][-1])
    assert curves[("oracle", "eom-10-10")]["y"].tolist() == [0.42]


def test_figure_contents():
    fig = plot_budget(_summary(), chance=0.04, title="budget")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "budget"
    assert "labels used" in ax.get_xlabel() and "mIoU" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "kNN, random labels (k5)",
        "HDBSCAN eom-10-10 then label",
        "k-means (random) then label",
        "oracle",
        "chance (prevalence)",
    ]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["kNN, random labels (k5)"].get_xdata(), [13, 50, 1000, 4e4])
    np.testing.assert_array_equal(lines["chance (prevalence)"].get_ydata(), [0.04, 0.04])
    assert len(ax.collections) == 4  # three ±std bands and the oracle points
    oracle = next(c for c in ax.collections if c.get_label() == "oracle")
    np.testing.assert_allclose(oracle.get_offsets(), [[17000.0, 0.42]])
    assert [t.get_text() for t in ax.texts] == ["oracle (eom-10-10)"]
    plt.close(fig)


def test_draws_into_given_axes_without_chance():
    fig, (left, right) = plt.subplots(1, 2)
    out = plot_budget(_summary(), ax=right)
    assert out is fig
    assert not left.lines and len(right.lines) == 3
    assert "chance (prevalence)" not in [t.get_text() for t in right.get_legend().get_texts()]
    plt.close(fig)


def test_module_imports_no_pyplot():
    import subprocess
    import sys

    code = (
        "import sys, flair_hdbscan.plots.budget, flair_hdbscan.budget; "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
