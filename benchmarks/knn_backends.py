"""Exact kNN backends side by side on the project's own pixel features.

Training sets are the study's 1 % sample (stride 10, "other" left out) of the first
``--train`` patches of a generated tree; queries are the distinct pixels of the first
``--query-patches`` test patches, as the prediction pass asks them (per patch, in the
order ``np.unique`` gives). Features: raw aerial (5-D), normalized (6-D), Sentinel-2
fused (15-D) and fused + normalized (16-D).

Every backend is timed in CPU seconds of this process (``time.process_time``) on one
thread, in ``--rounds`` interleaved rounds (the best and the median are printed: on a
shared machine the best is the cost, the median shows the noise), with the load average.
"exact" says whether a backend's predictions equal the canonical answer (first ``k`` rows
by exact distance then row index, majority vote, ties to the smallest class) on every
query; the canonical answer itself (``KDTreeClassifier``) is checked against brute force
(:func:`flair_hdbscan.neighbors.brute_force_neighbors`) on ``--check`` sampled queries.

Usage: python benchmarks/knn_backends.py --data DIR [--train 15 200] [--query-patches 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

K = 5


def features(root: Path, n_train: int, n_query: int) -> dict[str, tuple[np.ndarray, ...]]:
    """``{name: (X (n, f) float32, y (n,), Q (q, f) float32)}`` from a generated tree."""
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.executors import LocalExecutor
    from flair_hdbscan.features import FeatureSpec, feature_table
    from flair_hdbscan.model import PatchFeatures
    from flair_hdbscan.nomenclature import OTHER
    from flair_hdbscan.passes import read_training_sample
    from flair_hdbscan.pixels import SentinelOptions, read_patch_pixels

    train = FlairDataset.from_root(root, "train")
    test = FlairDataset.from_root(root, "test")
    train.patches = train.patches[:n_train]
    sentinel = SentinelOptions()
    specs = {
        "aerial 5-D": FeatureSpec(),
        "normalized 6-D": FeatureSpec(scale_by_intensity=True, append_intensity=True),
        "Sentinel-2 fused 15-D": FeatureSpec(use_satellite=True),
        "fused normalized 16-D": FeatureSpec(
            use_satellite=True, scale_by_intensity=True, append_intensity=True
        ),
    }
    s = read_training_sample(train, stride=10, sentinel=sentinel, executor=LocalExecutor())
    s = s.labelled()  # the sample holds no-data pixels too
    keep = s.labels != OTHER
    patches = [PatchFeatures(read_patch_pixels(test, i, sentinel=sentinel)) for i in range(n_query)]
    out = {}
    for name, spec in specs.items():
        X = feature_table(s.aerial[keep], s.s2[keep], spec)
        Q = np.concatenate([p.table(spec)[0] for p in patches])
        out[name] = (X, s.labels[keep].astype(np.int64), Q)
    return out


def vote(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Majority class of the rows ``idx`` ``(q, k)``, ties to the smallest class."""
    idx = np.asarray(idx, dtype=np.int64)
    counts = np.zeros((idx.shape[0], int(y.max()) + 1), dtype=np.int64)
    for j in range(idx.shape[1]):
        np.add.at(counts, (np.arange(idx.shape[0]), y[idx[:, j]]), 1)
    return counts.argmax(axis=1)


def backends(X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, object]]:
    """``{name: (build CPU seconds, query(Q) -> predicted classes)}``."""
    from pykdtree.kdtree import KDTree as PyKDTree
    from scipy.spatial import cKDTree
    from sklearn.neighbors import KDTree

    from flair_hdbscan.models import KDTreeClassifier

    X64 = X.astype(np.float64)
    out = {}

    def add(name, build, query):
        start = time.process_time()
        tree = build()
        out[name] = (time.process_time() - start, lambda Q, t=tree: vote(y, query(t, Q)))

    add("scipy cKDTree (before)", lambda: cKDTree(X64), lambda t, Q: t.query(Q, k=K)[1])
    add(
        "scipy cKDTree balanced_tree=False",
        lambda: cKDTree(X64, balanced_tree=False),
        lambda t, Q: t.query(Q, k=K)[1],
    )
    add(
        "scipy cKDTree compact_nodes=False",
        lambda: cKDTree(X64, compact_nodes=False),
        lambda t, Q: t.query(Q, k=K)[1],
    )
    add(
        "scipy cKDTree leafsize=32",
        lambda: cKDTree(X64, leafsize=32),
        lambda t, Q: t.query(Q, k=K)[1],
    )
    add("pykdtree float32", lambda: PyKDTree(X), lambda t, Q: t.query(Q.astype(np.float32), k=K)[1])
    add("pykdtree float64", lambda: PyKDTree(X64), lambda t, Q: t.query(Q, k=K)[1])
    add("scikit-learn KDTree", lambda: KDTree(X64), lambda t, Q: t.query(Q, k=K)[1])
    try:
        import napf

        add(
            "napf (nanoflann) float32",
            lambda: napf.KDT(X, metric=2),
            lambda t, Q: t.knn_search(Q.astype(np.float32), K, 1)[1],
        )
    except ImportError:
        pass
    start = time.process_time()
    exact = KDTreeClassifier(n_neighbors=K, n_jobs=1).fit(X, y)
    out["KDTreeClassifier (exact: distinct points, Z-order, pykdtree f32, ties by index)"] = (
        time.process_time() - start,
        exact.predict,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a generated tree")
    parser.add_argument("--train", type=int, nargs="+", default=[15, 200])
    parser.add_argument("--query-patches", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check", type=int, default=100, help="queries checked by brute force")
    parser.add_argument("--shuffled", action="store_true", help="also time shuffled queries")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from flair_hdbscan.models import KDTreeClassifier
    from flair_hdbscan.neighbors import brute_force_neighbors

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()}")
    header = f"{'features':22s} {'train':>8s} {'queries':>8s}  {'backend':78s} {'build s':>8s} "
    print(header + f"{'query s best':>12s} {'median':>7s}  exact")
    for n_train in args.train:
        for name, (X, y, Q) in features(args.data, n_train, args.query_patches).items():
            ref_model = KDTreeClassifier(n_neighbors=K).fit(X, y)
            canonical = ref_model.predict(Q)
            rng = np.random.default_rng(0)
            pick = rng.choice(Q.shape[0], size=min(args.check, Q.shape[0]), replace=False)
            rows = brute_force_neighbors(X, Q[pick], K)
            if not np.array_equal(ref_model.kneighbors(Q[pick]), rows):
                raise SystemExit(f"{name}: KDTreeClassifier differs from brute force")
            runs = backends(X, y)
            if args.shuffled:
                perm = rng.permutation(Q.shape[0])
                for b in ("scipy cKDTree (before)", "pykdtree float32"):
                    build, query = runs[b]
                    runs[b + ", shuffled queries"] = (build, lambda Q, q=query, p=perm: q(Q[p]))
            times: dict[str, list[float]] = {b: [] for b in runs}
            preds: dict[str, np.ndarray] = {}
            with threadpool_limits(1):
                for r in range(args.rounds):
                    order = list(runs)
                    np.random.default_rng(r).shuffle(order)
                    for b in order:
                        start = time.process_time()
                        preds[b] = runs[b][1](Q)
                        times[b].append(time.process_time() - start)
            for b, (build, _) in runs.items():
                pred = preds[b]
                if "shuffled" in b:
                    pred = np.empty_like(pred)
                    pred[perm] = preds[b]
                wrong = int((pred != canonical).sum())
                verdict = "yes" if wrong == 0 else f"no ({wrong} of {len(Q):,} differ)"
                if b.startswith("KDTreeClassifier"):
                    verdict = f"yes (= brute force on {len(pick)} sampled queries)"
                print(
                    f"{name:22s} {len(X):8,d} {len(Q):8,d}  {b:78s} {build:8.3f} "
                    f"{min(times[b]):12.3f} {statistics.median(times[b]):7.3f}  {verdict}",
                    flush=True,
                )
            print(f"   load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
