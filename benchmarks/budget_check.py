"""Check the budget study against an independent measurement, and time it.

The independent study (the project's issue "The answer") measured, on three generated samples
(``generate_sample(dir, n_patches=16, n_test_patches=8, seed=1|2|3)``), training on the
training split's 1 % sample (stride 10), scoring on the held-out test split, raw aerial
features, 5 seeds:

    labels   kNN            HDBSCAN-then-label (eom 10/10)   k-means-then-label
    50       0.190 ± 0.044  0.345 ± 0.037                    0.344 ± 0.025
    100      0.274          0.385                            0.430
    5000     0.499          0.448–0.474 (by setting)         0.504
    HDBSCAN falls below kNN near 830 labels (eom 10/10) or 1,500 (leaf 10/5); on one sample
    eom 10/10 collapses to 3 clusters (0.16 at any budget) while leaf works.

This script runs the same protocol with :mod:`flair_hdbscan.budget` and prints, per sample and
pooled over samples (every sample × seed a run), mean ± std per method and budget, the cluster
counts, the crossings and the verdict. The training pool is every pixel on the stride — none
dropped for lack of ground truth (the generator writes none; the count is printed).

Usage:
    python benchmarks/budget_check.py [--samples 1 2 3] [--patches 16] [--test-patches 8]
        [--data DIR] [--n-seeds 5] [--setting eom:10:10 --setting leaf:10:5]
        [--kmeans-init random] [--knn-k 5] [--out DIR]
    python benchmarks/budget_check.py --timing   # the embedded sample (16 patches, seed 6)

Generated samples are cached under ``--data`` by generator version, so a new generator
version regenerates them.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from flair_hdbscan.budget import (
    ALL,
    DEFAULT_BUDGETS,
    BudgetResult,
    BudgetRow,
    check_budgets,
    parse_hdbscan_setting,
    run_budget_study,
    scoring_table,
    summarize,
)
from flair_hdbscan.budget.verdict import method_label, verdict
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.features import FeatureSpec, feature_table
from flair_hdbscan.pixels import read_patch_pixels
from flair_hdbscan.sample_data import GENERATOR_VERSION, generate_sample

REFERENCE = {
    ("knn", 50): "0.190 ± 0.044",
    ("hdbscan eom-10-10", 50): "0.345 ± 0.037",
    ("kmeans", 50): "0.344 ± 0.025",
    ("knn", 100): "0.274",
    ("hdbscan eom-10-10", 100): "0.385",
    ("kmeans", 100): "0.430",
    ("knn", 5000): "0.499",
    ("hdbscan", 5000): "0.448–0.474",
    ("kmeans", 5000): "0.504",
}
REFERENCE_CROSSINGS = {"eom-10-10": 830, "leaf-10-5": 1500}


def sample_root(data: Path, patches: int, test_patches: int, seed: int) -> Path:
    """Generate (once per generator version) and return a sample's root."""
    out = data / f"v{GENERATOR_VERSION}-p{patches}-t{test_patches}-s{seed}"
    if not (out / "flair-2-config.yml").is_file():
        generate_sample(out, n_patches=patches, n_test_patches=test_patches, seed=seed)
    return out


def load(root: Path, stride: int):
    """Training pool (every pixel on the stride) and the test split's scoring table."""
    train = FlairDataset.from_root(root, "train")
    test = FlairDataset.from_root(root, "test")
    px = [read_patch_pixels(train, i, stride=stride) for i in range(len(train))]
    X = feature_table(np.concatenate([p.aerial for p in px]), None, FeatureSpec())
    truth = np.concatenate([p.labels for p in px])
    score = scoring_table(
        (test.read_image(i).reshape(5, -1).T for i in range(len(test))),
        (test.read_labels(i).ravel() for i in range(len(test))),
    )
    return X, truth, score


def fmt(entry) -> str:
    if entry is None:
        return "—"
    m, s = entry["miou_mean"], entry["miou_std"]
    return f"{m:.3f}" if s is None else f"{m:.3f}±{s:.3f}"


def print_table(summary, budgets) -> None:
    curves = {}
    for e in summary:
        curves.setdefault((e["method"], e["setting"]), {})[e["budget"]] = e
    head = f"{'':24s}" + "".join(f"{b!s:>13s}" for b in budgets)
    print(head)
    for (method, setting), by_budget in curves.items():
        name = f"{method} {setting}"
        print(f"{name:24s}" + "".join(f"{fmt(by_budget.get(b)):>13s}" for b in budgets))
    used = {
        (e["method"], e["setting"]): e["labels_used_mean"] for e in summary if e["budget"] == ALL
    }
    print("labels used by 'all': " + ", ".join(f"{m} {s} {n:,.0f}" for (m, s), n in used.items()))


def crossing(summary, method: str, setting: str) -> str:
    """Where one clustering's curve crosses kNN's (interpolated on log budget)."""
    part = [
        e
        for e in summary
        if e["method"] == "knn" or (e["method"], e["setting"]) == (method, setting)
    ]
    f = verdict(part).findings
    if not f["budgets"]:
        return "not measured"
    if not f["crossings"]:
        wins = f["clustering_wins"]
        ahead = wins is not None and len(wins["budgets"]) == len(f["budgets"])
        return "never crosses: " + ("clustering" if ahead else "kNN") + " ahead throughout"
    return ", ".join(
        f"{c['budget']:,.0f} ({'kNN' if c['above'] == 'knn' else 'clustering'} ahead above)"
        for c in f["crossings"]
    )


def report(name: str, result_summary, budgets, settings, kmeans_setting) -> None:
    print_table(result_summary, budgets)
    for s in settings:
        ref = REFERENCE_CROSSINGS.get(s.name)
        where = crossing(result_summary, "hdbscan", s.name)
        extra = f"   [independent: ~{ref:,}]" if ref else ""
        print(f"  {method_label('hdbscan', s.name)} vs kNN: {where}{extra}")
    where = crossing(result_summary, "kmeans", kmeans_setting)
    print(f"  {method_label('kmeans', kmeans_setting)} vs kNN: {where}")
    print("  verdict: " + verdict(result_summary).text)


def pooled_rows(results: list[BudgetResult]) -> list[BudgetRow]:
    """All samples' rows as runs of one study: seed index = sample × n_seeds + seed."""
    rows = []
    for i, res in enumerate(results):
        for r in res.rows:
            rows.append(BudgetRow(**{**r.__dict__, "seed": i * res.n_seeds + r.seed}))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--patches", type=int, default=16)
    ap.add_argument("--test-patches", type=int, default=8)
    ap.add_argument(
        "--roots",
        type=Path,
        nargs="+",
        help="existing sample roots to use instead of generating --samples "
        "(e.g. samples of another generator version)",
    )
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "flair-budget-check")
    ap.add_argument("--stride", type=int, default=10)
    ap.add_argument("--n-seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="study seed")
    ap.add_argument("--budgets", nargs="+", default=[str(b) for b in DEFAULT_BUDGETS])
    ap.add_argument("--setting", action="append", help="HDBSCAN method:mcs:ms (repeatable)")
    ap.add_argument("--kmeans-init", default="random", choices=["random", "k-means++"])
    ap.add_argument("--knn-k", type=int, nargs="+", default=[5])
    ap.add_argument("--methods", nargs="+", default=["knn", "hdbscan", "kmeans", "oracle"])
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--timing", action="store_true", help="time the embedded sample instead")
    ap.add_argument("--out", type=Path, help="write results JSON and figures here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    budgets = check_budgets(args.budgets)
    settings = [parse_hdbscan_setting(s) for s in (args.setting or ["eom:10:10", "leaf:10:5"])]
    kw = dict(
        budgets=budgets,
        n_seeds=args.n_seeds,
        seed=args.seed,
        hdbscan_settings=settings,
        kmeans_init=args.kmeans_init,
        knn_neighbors=args.knn_k,
        methods=args.methods,
        n_jobs=args.n_jobs,
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"generator v{GENERATOR_VERSION}, cpus {os.cpu_count()}, load {os.getloadavg()}")

    if args.timing:
        root = args.data / f"v{GENERATOR_VERSION}-p16-s6-embedded"
        if not (root / "flair-2-config.yml").is_file():
            generate_sample(root, n_patches=16, seed=6)
        t0 = time.perf_counter()
        X, truth, score = load(root, args.stride)
        t1, c1 = time.perf_counter(), time.process_time()
        res = run_budget_study(X, truth, score, **kw)
        t2, c2 = time.perf_counter(), time.process_time()
        print(
            f"embedded sample: pool {X.shape[0]:,} px, scoring {score.n_pixels:,} px in "
            f"{score.n_rows:,} distinct rows; read {t1 - t0:.1f} s, study {t2 - t1:.1f} s "
            f"wall, {c2 - c1:.1f} s CPU; load after {os.getloadavg()}"
        )
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in res.seconds.items()))
        print_table(res.summary(), budgets)
        return

    results = []
    names = [str(r) for r in args.roots] if args.roots else args.samples
    for seed in names:
        root = (
            Path(seed)
            if args.roots
            else sample_root(args.data, args.patches, args.test_patches, seed)
        )
        X, truth, score = load(root, args.stride)
        t = time.perf_counter()
        res = run_budget_study(X, truth, score, **kw)
        elapsed = time.perf_counter() - t
        results.append(res)
        print(
            f"\n== sample {seed}: pool {X.shape[0]:,} px ({int((truth == 255).sum())} "
            f"without truth), scoring {score.n_pixels:,} px in {score.n_rows:,} rows, chance "
            f"{res.chance_miou:.3f}; study {elapsed:.0f} s (load {os.getloadavg()[0]:.1f})"
        )
        for s in settings if "oracle" in args.methods else ():
            r = res.row("oracle", s.name, ALL, 0)
            print(
                f"  HDBSCAN {s.name}: {r.n_clusters} clusters, "
                f"noise {100 * r.noise_fraction:.1f} %, "
                f"largest cluster {100 * r.largest_cluster_fraction:.1f} % of the clustered"
            )
        report(f"sample {seed}", res.summary(), budgets, settings, args.kmeans_init)
        if args.out:
            tag = Path(str(seed)).name
            (args.out / f"budget-{tag}.json").write_text(json.dumps(res.to_dict(), indent=1))
            res.save_draws(args.out / f"budget-{tag}-draws.npz")

    pooled = summarize(pooled_rows(results))
    print(f"\n== pooled over samples {names} ({len(results)} × {args.n_seeds} runs)")
    report("pooled", pooled, budgets, settings, args.kmeans_init)
    print("\nindependent study (pooled):")
    for (name, b), v in REFERENCE.items():
        ours = [
            e
            for e in pooled
            if e["budget"] == b
            and (f"{e['method']} {e['setting']}".startswith(name) or e["method"] == name)
            and e["method"] != "oracle"
        ]
        got = "; ".join(f"{e['method']} {e['setting']} {fmt(e)}" for e in ours)
        print(f"  {b:>5} labels {name:20s} independent {v:15s} here {got}")
    if args.out:
        from flair_hdbscan.plots._figure import save_figure
        from flair_hdbscan.plots.budget import plot_budget

        chance = float(np.mean([r.chance_miou for r in results]))
        fig = plot_budget(pooled, chance=chance, title=f"pooled over samples {names}")
        save_figure(fig, args.out / "budget-pooled.png")
        (args.out / "budget-pooled-summary.json").write_text(json.dumps(pooled, indent=1))
    if any(math.isnan(e["miou_mean"] or 0) for e in pooled):
        print("warning: some means are NaN")


if __name__ == "__main__":
    main()
