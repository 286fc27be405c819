"""The study's speed: all 17 experiments on 200 patches, and knn + hdbscan against the notebook.

One run prints, side by side:

1. the whole 17-experiment study (``run_study``, held-out test split as ``flair-hdbscan
   run`` does by default) on a generated tree of 200 training patches, on ``--workers``
   (a local Dask cluster when more than 1): wall and CPU seconds (this process and its
   children), the load average, and apart the time spent fitting HDBSCAN and the
   prediction pass; and, right before and after it, the time of
   a fixed single-threaded workload (:func:`speed_check`): the machine's speed moves by up to
   a third between runs on a shared host, and this tells a slow machine from slow code;
2. on a 40-patch tree, ``knn`` and ``hdbscan`` scored in-sample as the notebook scores
   them, run as ``flair-hdbscan run`` runs them (default options and backend, a local Dask
   cluster of ``--workers``, started before the clock; run once before and once after the
   plain way, the two times averaged), against the plain notebook way run to completion:
   every pixel of the split in memory as float64 features (value / 255), scikit-learn's
   ``KNeighborsClassifier`` and the ``hdbscan`` library's ``HDBSCAN`` with its defaults, in
   this one process; then both together.

Generated trees are written once into ``--cache`` and reused (200 patches take minutes).
numba code is compiled (or loaded from its cache) before any clock starts, in this process
and in each Dask worker, which also imports the package there: both ways start warm.

Usage: python benchmarks/study_speed.py [--workers 2] [--skip-study] [--skip-plain]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children, live (Dask workers) or ended."""
    import psutil

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        live += t.user + t.system
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + live


def tree(cache: Path, n: int) -> Path:
    """A generated tree of ``n`` training patches (seed 0), written once."""
    from flair_hdbscan.sample_data import generate_sample

    root = cache / f"patches{n}"
    if not (root / "flair-2-config.yml").exists():
        print(f"generating {n} patches into {root} (once)", flush=True)
        generate_sample(root, n_patches=n, seed=0, progress=True)
    return root


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


def plain_knn(ds) -> float:
    """The notebook's kNN: mIoU of every pixel of ``ds``."""
    from sklearn.neighbors import KNeighborsClassifier

    from flair_hdbscan.metrics import confusion_matrix, mean_iou

    X, y, tx, ty = plain_features(ds)
    pred = KNeighborsClassifier(n_neighbors=5).fit(tx, ty).predict(X)
    return mean_iou(confusion_matrix(y, pred))


def plain_hdbscan(ds) -> float:
    """The notebook's HDBSCAN + oracle mapping + kNN propagation: mIoU of every pixel."""
    import hdbscan
    from sklearn.neighbors import KNeighborsClassifier

    from flair_hdbscan.metrics import confusion_matrix, mean_iou

    X, y, tx, ty = plain_features(ds)
    labels = hdbscan.HDBSCAN(min_cluster_size=10).fit(tx).labels_
    clustered = labels >= 0
    mapping = {c: np.bincount(ty[labels == c]).argmax() for c in np.unique(labels[clustered])}
    cls = np.array([mapping[c] for c in labels[clustered]])
    pred = KNeighborsClassifier(n_neighbors=5).fit(tx[clustered], cls).predict(X)
    return mean_iou(confusion_matrix(y, pred))


def timed(fn, *args):
    """``(result, wall seconds, CPU seconds)``."""
    c, w = cpu_seconds(), time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - w, cpu_seconds() - c


def warm_up() -> None:
    """Compile (or load) numba code of fast_hdbscan, hdbscan and the exact kNN once."""
    import hdbscan

    from flair_hdbscan.clustering import cluster_pixels
    from flair_hdbscan.models import KDTreeClassifier

    warm = np.random.default_rng(0).normal(size=(500, 5)).astype(np.float32)
    cluster_pixels(warm)
    hdbscan.HDBSCAN(min_cluster_size=10).fit(warm)
    KDTreeClassifier().fit(warm, np.arange(500) % 3).predict(warm)
    KDTreeClassifier().fit(warm.astype(np.float64), np.arange(500) % 3).predict(warm)


def speed_check() -> float:
    """CPU seconds of a fixed workload, one thread: exact 5-NN of 300,000 queries among
    200,000 points of 5 columns on the 8-bit lattice (seed 0). The same work every run, so
    its time moves only with the machine's speed."""
    from flair_hdbscan.models import KDTreeClassifier

    rng = np.random.default_rng(0)
    points = (rng.integers(0, 256, size=(500_000, 5)) / 255.0).astype(np.float32)
    model = KDTreeClassifier(n_jobs=1).fit(points[:200_000], np.arange(200_000) % 13)
    model.predict(points[200_000:200_100])  # the tree is built at the first query
    start = time.process_time()
    model.predict(points[200_000:])
    return time.process_time() - start


def warm_workers(executor) -> None:
    """Give each Dask worker what ``warm_up`` gives this process: imports and numba code."""
    client = getattr(executor, "client", None)
    if client is not None:
        client.run(warm_up)
        client.run(lambda: __import__("flair_hdbscan.passes"))


def whole_study(root: Path, workers: int) -> None:
    """All 17 experiments, fit on the training split, scored on the test split."""
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.executors import make_executor
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.study import run_study

    train = FlairDataset.from_root(root, "train")
    test = FlairDataset.from_root(root, "test")
    load = os.getloadavg()
    with make_executor(None, workers) as executor:
        warm_workers(executor)
        check_before = speed_check()
        result, wall, cpu = timed(
            lambda: run_study(train, test, "all", StudyOptions(), map_patches=0, executor=executor)
        )
        check_after = speed_check()
    hdb = sum(e["fit_seconds"] for e in result.experiments if e["method"] == "hdbscan")
    sec = result.run["seconds"]
    print(f"\n1. all 17 experiments: {len(train)} training patches, {len(test)} scored "
          f"(held-out), {workers} worker(s)")  # fmt: skip
    print(f"   wall {wall:,.0f} s, CPU {cpu:,.0f} s; load average before {load}, "
          f"after {os.getloadavg()}")  # fmt: skip
    print(f"   speed check (the same fixed work, one thread): {check_before:.2f} s before, "
          f"{check_after:.2f} s after")  # fmt: skip
    print(f"   fit {sec['fit']:,.0f} s of which HDBSCAN experiments {hdb:,.0f} s; "
          f"prediction pass {sec['predict']:,.0f} s")  # fmt: skip
    print("     (predict: that experiment's share of the pass, summed over patches and workers)")
    for e in result.experiments:
        pred = e["seconds"] - e["fit_seconds"]
        print(f"     {e['name']:30s} mIoU {e['miou']:.4f}  fit {e['fit_seconds']:8.1f} s  "
              f"predict {pred:7.1f} s")  # fmt: skip


def against_notebook(root: Path, workers: int) -> None:
    """knn and hdbscan scored in-sample, ours (as ``run`` runs them) against the plain way."""
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.executors import make_executor
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.study import run_study

    ds = FlairDataset.from_root(root, "train")
    n_pixels = len(ds) * 512 * 512
    print(f"\n2. {len(ds)} patches ({n_pixels:,} pixels), scored in-sample as the notebook "
          f"does; ours on {workers} worker(s) as `run` uses them, the plain way in one "
          "process")  # fmt: skip
    head = f"   {'experiment':10s} {'plain s':>9s} {'ours s':>8s} {'speed-up':>9s} "
    print(head + f"{'plain CPU':>10s} {'ours CPU':>9s} {'plain mIoU':>11s} {'ours mIoU':>10s}")
    totals = np.zeros(4)
    started = time.perf_counter()
    with make_executor(None, workers) as executor:
        warm_workers(executor)
        print(f"   (local cluster started and its workers warmed up in "
              f"{time.perf_counter() - started:.1f} s, not counted)")  # fmt: skip
        for name, plain in (("knn", plain_knn), ("hdbscan", plain_hdbscan)):
            load = os.getloadavg()[0]

            def run_ours(n: str = name):
                return run_study(ds, ds, [n], StudyOptions(), map_patches=0, executor=executor)

            # ours before and after the plain way, averaged: a drift of the machine's speed
            # during the long plain run weighs on both sides alike
            result, t_before, c_before = timed(run_ours)
            plain_miou, t_plain, c_plain = timed(plain, ds)
            _, t_after, c_after = timed(run_ours)
            t_ours, c_ours = (t_before + t_after) / 2, (c_before + c_after) / 2
            print(f"   ({name}: ours {t_before:.1f} s before the plain way, "
                  f"{t_after:.1f} s after)")  # fmt: skip
            ours = result.experiments[0]["miou"]
            totals += (t_plain, t_ours, c_plain, c_ours)
            print(f"   {name:10s} {t_plain:9.1f} {t_ours:8.1f} {t_plain / t_ours:8.1f}x "
                  f"{c_plain:10.1f} {c_ours:9.1f} {plain_miou:11.4f} {ours:10.4f}   "
                  f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    t_plain, t_ours, c_plain, c_ours = totals
    print(f"   {'both':10s} {t_plain:9.1f} {t_ours:8.1f} {t_plain / t_ours:8.1f}x "
          f"{c_plain:10.1f} {c_ours:9.1f}   (CPU ratio {c_plain / c_ours:.1f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/flair-hdbscan-speed-cache"))
    parser.add_argument("--data200", type=Path, default=None)
    parser.add_argument("--data40", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-study", action="store_true")
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average {os.getloadavg()}")  # fmt: skip
    warm_up()
    if not args.skip_study:
        whole_study(args.data200 or tree(args.cache, 200), args.workers)
    if not args.skip_plain:
        against_notebook(args.data40 or tree(args.cache, 40), args.workers)


if __name__ == "__main__":
    main()
