"""Time flair-hdbscan's `knn` and `hdbscan` experiments against a plain implementation.

The plain implementation does what the original notebook did: every pixel of the split in
memory as float64 features (value / 255), scikit-learn's ``KNeighborsClassifier`` and the
``hdbscan`` library's ``HDBSCAN`` with its defaults. Both run on the same generated data, in
this one process, after a warm-up that compiles numba code once.

Usage: python benchmarks/study_speed.py [--patches 16] [--seed S] [--data DIR]
(default: the embedded sample, 16 patches of generator seed 6)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def plain_features(ds):
    """All pixels: (n, 5) float64 features, (n,) labels; and the stride-10 training sample."""
    feats, labels, tr_x, tr_y = [], [], [], []
    for i in range(len(ds)):
        img = ds.read_image(i).astype(np.float64) / 255.0
        lab = ds.read_labels(i)
        feats.append(img.reshape(5, -1).T)
        labels.append(lab.ravel())
        s_img = img[:, ::10, ::10].reshape(5, -1).T
        s_lab = lab[::10, ::10].ravel()
        keep = (s_lab != 255) & (s_lab != 12)
        tr_x.append(s_img[keep])
        tr_y.append(s_lab[keep])
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(tr_x), np.concatenate(tr_y)


def plain_knn(ds):
    from sklearn.neighbors import KNeighborsClassifier

    from flair_hdbscan.metrics import confusion_matrix, mean_iou

    X, y, tx, ty = plain_features(ds)
    pred = KNeighborsClassifier(n_neighbors=5).fit(tx, ty).predict(X)
    return mean_iou(confusion_matrix(y, pred))


def plain_hdbscan(ds):
    import hdbscan
    from sklearn.neighbors import KNeighborsClassifier

    from flair_hdbscan.metrics import confusion_matrix, mean_iou

    X, y, tx, ty = plain_features(ds)
    labels = hdbscan.HDBSCAN(min_cluster_size=10).fit(tx).labels_
    clustered = labels >= 0
    mapping = {}
    for c in np.unique(labels[clustered]):
        mapping[c] = np.bincount(ty[labels == c]).argmax()
    cls = np.array([mapping[c] for c in labels[clustered]])
    pred = KNeighborsClassifier(n_neighbors=5).fit(tx[clustered], cls).predict(X)
    return mean_iou(confusion_matrix(y, pred))


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=16)
    parser.add_argument("--seed", type=int, default=None, help="generator seed")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()

    import hdbscan
    from sklearn.metrics import adjusted_rand_score

    from flair_hdbscan.clustering import cluster_pixels
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.features import FeatureSpec, feature_table
    from flair_hdbscan.pixels import training_sample
    from flair_hdbscan.sample_data import DEFAULT_SEED, generate_sample
    from flair_hdbscan.study import StudyOptions, run_study

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or generate_sample(
            Path(tmp) / "data",
            n_patches=args.patches,
            seed=DEFAULT_SEED if args.seed is None else args.seed,
        )
        ds = FlairDataset.from_root(root, split="train")
        # warm-up: compile numba code of fast_hdbscan and hdbscan once
        rng = np.random.default_rng(0)
        warm = rng.normal(size=(500, 5)).astype(np.float32)
        cluster_pixels(warm)
        hdbscan.HDBSCAN(min_cluster_size=10).fit(warm)

        n_pixels = sum(ds.read_labels(i).size for i in range(len(ds)))
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}"
        )
        print(f"data: {len(ds)} patches, {n_pixels:,} pixels")
        rows = []
        for name, plain in (("knn", plain_knn), ("hdbscan", plain_hdbscan)):
            plain_miou, t_plain = timed(plain, ds)
            result, t_ours = timed(run_study, ds, [name], StudyOptions(map_patches=0))
            ours_miou = result.experiments[0]["miou"]
            rows.append((name, t_plain, t_ours, plain_miou, ours_miou))
        print(
            f"{'experiment':10s} {'plain s':>9s} {'ours s':>8s} {'speed-up':>9s} "
            f"{'plain mIoU':>11s} {'ours mIoU':>10s} {'diff':>8s}"
        )
        for name, tp, to, mp, mo in rows:
            print(
                f"{name:10s} {tp:9.1f} {to:8.1f} {tp / to:8.1f}x {mp:11.4f} {mo:10.4f} "
                f"{mo - mp:+8.4f}"
            )

        sample = training_sample(ds, stride=10)
        keep = sample.labels != 12
        X = feature_table(sample.aerial[keep], None, FeatureSpec())

        def exact(Z):
            return (
                hdbscan.HDBSCAN(min_cluster_size=10, approx_min_span_tree=False)
                .fit(Z.astype(np.float64))
                .labels_
            )

        def exact_permuted(Z):
            perm = np.random.default_rng(1).permutation(Z.shape[0])
            out = np.empty(Z.shape[0], dtype=np.int64)
            out[perm] = exact(Z[perm])
            return out

        ref = exact(X)
        approx = hdbscan.HDBSCAN(min_cluster_size=10).fit(X.astype(np.float64)).labels_
        ari = adjusted_rand_score
        print(
            f"clusters of the {X.shape[0]:,}-pixel training sample "
            f"({np.unique(X, axis=0).shape[0]:,} distinct rows), adjusted Rand index:"
        )
        ours = cluster_pixels(X).labels
        print(f"  fast_hdbscan vs hdbscan exact MST            {ari(ref, ours):.4f}")
        print(f"  hdbscan exact vs itself on shuffled rows     {ari(ref, exact_permuted(X)):.4f}")
        print(f"  hdbscan default (approximate MST) vs exact   {ari(ref, approx):.4f}")
        # quantised values tie many distances; ties are broken by row order in every
        # implementation. A jitter far below one grey level (1e-5 vs 1/255) breaks the ties:
        J = (X + np.random.default_rng(0).uniform(-1e-5, 1e-5, X.shape)).astype(np.float32)
        ref_j = exact(J)
        print("  without distance ties (jitter 1e-5):")
        ours_j = cluster_pixels(J).labels
        print(f"    fast_hdbscan vs hdbscan exact MST          {ari(ref_j, ours_j):.4f}")
        print(f"    hdbscan exact vs itself on shuffled rows   {ari(ref_j, exact_permuted(J)):.4f}")


if __name__ == "__main__":
    main()
