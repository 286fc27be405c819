"""The full release, planned from what this machine measures.

Fits the aerial kNN (``--experiment``) on the training split of a generated tree (200
patches by default), then predicts ``--predict-patches`` generated patches (1,000 by
default) into a temporary folder on a local Dask cluster of ``--workers`` single-threaded
workers, as ``flair-hdbscan predict --workers N`` does. Generated trees are written once
into ``--cache`` (about 2 GB for 1,000 patches; generation takes long on a loaded machine)
and reused.

It reports: the training sample read in this process and on the cluster (CPU and wall),
the model's pickled payload (what each worker receives) per training point, pixels
predicted per second, peak RSS of every worker (psutil on the worker pids, polled every
0.2 s) beside its RSS before the model arrived, and the projection to the full release
(77,762 patches, 20.4 G pixels; a 1 % sample is about 204 M training points): workers
needed for ``--target-hours``, and memory per worker for the aerial kNN and for an HDBSCAN
model, with the arithmetic printed.

With ``--study-patches N`` it also fits all 17 experiments on the training tree and times
them predicting N patches on one thread (seconds per patch, per model), projected the same
way.

Usage: python benchmarks/full_release_plan.py [--predict-patches 1000] [--workers 2]
       [--study-patches 3] [--skip-predict]
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import resource
import tempfile
import threading
import time
from pathlib import Path

FULL_PATCHES = 77_762
FULL_PIXELS = FULL_PATCHES * 512 * 512
FULL_SAMPLE = FULL_PIXELS // 100


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    return s.ru_utime + s.ru_stime


def _tree(cache: Path, name: str, n: int, seed: int) -> Path:
    from flair_hdbscan.sample_data import generate_sample

    root = cache / name
    if not (root / "flair-2-config.yml").exists():
        print(f"generating {n} patches into {root} (once)", flush=True)
        generate_sample(root, n_patches=n, n_test_patches=2, seed=seed, progress=True)
    return root


def _worker_memory(client) -> dict[str, int]:
    import psutil

    pids = client.run(os.getpid)
    return {w: psutil.Process(pid).memory_info().rss for w, pid in pids.items()}


def study_per_patch(train, pred, n: int, target_hours: float) -> None:
    """All 17 experiments fitted on ``train``, timed predicting ``n`` patches on one thread.

    The patches go through the study's own pass (:func:`~flair_hdbscan.passes.predict_split`,
    in this process), whose ledger keeps each model's prediction seconds.
    """
    import copy

    from flair_hdbscan.executors import LocalExecutor
    from flair_hdbscan.experiments import select_experiments
    from flair_hdbscan.ledger import Ledger
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.passes import PredictPlan, predict_split
    from flair_hdbscan.study import data_identity
    from flair_hdbscan.training import fit_models

    options = StudyOptions(n_jobs=1)
    w = time.perf_counter()
    _, models = fit_models(train, select_experiments("all"), options, data=data_identity(train))
    print(f"\nall 17 experiments fitted on {len(train)} patches in "
          f"{time.perf_counter() - w:.0f} s")  # fmt: skip
    some = copy.copy(pred)
    some.patches = pred.patches[:n]
    ledger = Ledger(None, {"benchmark": "study per patch"}, len(models))
    w = time.perf_counter()
    summary = predict_split(PredictPlan(some, tuple(models), score=True), ledger, LocalExecutor())
    wall = time.perf_counter() - w
    if summary.failed:
        raise SystemExit(f"failed patches: {summary.failed[:3]}")
    seconds = ledger.seconds
    per_patch = wall / n
    fused = [m.experiment.features.use_satellite for m in models]
    print(f"one thread, {n} patches: {per_patch:.1f} s per patch for all 17 (reading and "
          f"featurising {(wall - seconds.sum()) / n:.2f} s; the Sentinel-2 experiments "
          f"{seconds[fused].sum() / n:.1f} s)")  # fmt: skip
    for s_m, m in sorted(zip(seconds, models, strict=True), key=lambda t: -t[0])[:6]:
        print(f"  {m.name:30s} {s_m / n:6.2f} s per patch")
    hours = FULL_PATCHES * per_patch / 3600
    need = math.ceil(hours / target_hours)
    print(f"  full release, every experiment: {FULL_PATCHES:,} x {per_patch:.1f} s = "
          f"{hours:,.0f} worker-hours; workers for {target_hours:g} h: "
          f"ceil({hours:,.0f} / {target_hours:g}) = {need}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/flair-hdbscan-full-release-cache"))
    parser.add_argument("--train-data", type=Path, default=None, help="tree to fit on")
    parser.add_argument("--predict-data", type=Path, default=None, help="tree to predict")
    parser.add_argument("--train-patches", type=int, default=200)
    parser.add_argument("--predict-patches", type=int, default=1000)
    parser.add_argument("--experiment", default="knn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target-hours", type=float, default=24.0)
    parser.add_argument(
        "--study-patches",
        type=int,
        default=0,
        help="also time all 17 experiments on this many patches, one thread (0: skip)",
    )
    parser.add_argument("--skip-predict", action="store_true", help="skip the kNN prediction")
    parser.add_argument(
        "--unique-share",
        type=float,
        default=0.185,
        help="distinct share of real pixels (SPEC: 18.5 %% of 1 M real pixels)",
    )
    args = parser.parse_args()

    import psutil
    from distributed import Client, LocalCluster

    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.executors import DaskExecutor, LocalExecutor
    from flair_hdbscan.experiments import select_experiments
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.passes import read_training_sample
    from flair_hdbscan.pixels import SentinelOptions
    from flair_hdbscan.predict import predict_folder
    from flair_hdbscan.study import data_identity
    from flair_hdbscan.training import fit_experiment

    train_root = args.train_data or _tree(args.cache, "train200", args.train_patches, 0)
    predict_root = args.predict_data or _tree(args.cache, "p1000", args.predict_patches, 1)
    train = FlairDataset.from_root(train_root, "train")
    pred = FlairDataset.from_root(predict_root, "train")
    pred.patches = pred.patches[: args.predict_patches]
    exp = select_experiments([args.experiment])[0]
    options = StudyOptions(n_jobs=1)
    sentinel = SentinelOptions.of(options) if exp.features.use_satellite else None
    n_pixels = sum(p["width"] * p["height"] for p in map(pred.read_profile, range(len(pred))))
    print(f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM")
    print(f"load average at start {os.getloadavg()}")
    print(f"fit on {len(train)} patches of {train_root}; predict {len(pred)} patches "
          f"({n_pixels:,} pixels) of {predict_root}")  # fmt: skip

    if args.study_patches:
        study_per_patch(train, pred, args.study_patches, args.target_hours)
    if args.skip_predict:
        return
    c, w = _cpu(), time.perf_counter()
    sample = read_training_sample(train, stride=10, sentinel=sentinel, executor=LocalExecutor())
    print(f"training sample in this process: {len(sample):,} pixels, "
          f"{time.perf_counter() - w:.1f} s wall, {_cpu() - c:.1f} s CPU")  # fmt: skip
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("flair_hdbscan.predict"))
        w = time.perf_counter()
        on_dask = read_training_sample(
            train, stride=10, sentinel=sentinel, executor=DaskExecutor(client)
        )
        print(f"training sample on {args.workers} Dask workers: {len(on_dask):,} pixels, "
              f"{time.perf_counter() - w:.1f} s wall (load {os.getloadavg()[0]:.1f})")  # fmt: skip
        w = time.perf_counter()
        model = fit_experiment(exp, sample, options, data=data_identity(train))
        n_train = model.record.n_train_pixels
        payload = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        final = model.estimator[-1]
        knn = getattr(final, "knn_", final)
        distinct = knn.points_.shape[0]
        print(f"fitted {exp.name} on {n_train:,} pixels ({distinct:,} distinct) in "
              f"{time.perf_counter() - w:.1f} s; payload {payload / 2**20:.1f} MiB = "
              f"{payload / n_train:.1f} B per training point")  # fmt: skip

        idle = _worker_memory(client)
        peak = dict(idle)
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                for wk, rss in _worker_memory(client).items():
                    peak[wk] = max(peak[wk], rss)
                stop.wait(0.2)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        with tempfile.TemporaryDirectory() as out:
            w = time.perf_counter()
            summary = predict_folder(pred, model, out, executor=DaskExecutor(client))
            seconds = time.perf_counter() - w
        stop.set()
        poller.join()
        if summary.failed:
            raise SystemExit(f"failed patches: {summary.failed[:3]}")
    rate = n_pixels / seconds
    print(f"predicted {n_pixels:,} pixels in {seconds:.1f} s: {rate:,.0f} pixels/s on "
          f"{args.workers} workers ({rate / args.workers:,.0f} per worker); "
          f"load average {os.getloadavg()}")  # fmt: skip
    grown = []
    for wk in peak:
        grown.append(peak[wk] - idle[wk])
        print(f"  worker {wk}: peak RSS {peak[wk] / 2**20:,.0f} MiB "
              f"(before the model {idle[wk] / 2**20:,.0f} MiB)")  # fmt: skip

    per_worker = rate / args.workers
    hours_one = FULL_PIXELS / per_worker / 3600
    need = math.ceil(FULL_PIXELS / (per_worker * args.target_hours * 3600))
    print("\nprojection to the full release")
    print(f"  pixels: {FULL_PATCHES:,} patches x 512 x 512 = {FULL_PIXELS:,}")
    print(f"  one worker: {FULL_PIXELS:,} / {per_worker:,.0f} pixels/s = {hours_one:,.0f} h")
    print(f"  workers for {args.target_hours:g} h: ceil({FULL_PIXELS:,} / ({per_worker:,.0f} x "
          f"{args.target_hours:g} x 3600)) = {need}")  # fmt: skip
    # memory of one model per worker: measured bytes per training point, scaled
    bpp_live = max(grown) / n_train
    share = distinct / n_train
    live_points = knn.index_.nbytes + 14 * distinct  # tables + pykdtree's index and nodes
    bpp_tables = live_points / n_train
    print(f"  training sample: 1 % of {FULL_PIXELS:,} = {FULL_SAMPLE:,} points")
    print(f"  measured here: worker RSS growth {max(grown) / 2**20:,.0f} MiB / {n_train:,} "
          f"points = {bpp_live:.1f} B/point (model + one patch in flight); "
          f"model tables {bpp_tables:.1f} B/point at {share:.0%} distinct")  # fmt: skip
    f = knn.points_.shape[1]
    item = knn.points_.dtype.itemsize

    def model_bytes(distinct_share: float, rows: float) -> float:
        # per distinct point: f values, ptr 4 B, pykdtree's index 4 B and nodes ~10 B (about
        # one 40-byte node per 4 points at leaf size 16); per row: its index 4 B, class 1 B
        return rows * (distinct_share * (f * item + 18) + 5)

    for label, s in (("as generated", share), ("real imagery", args.unique_share)):
        b = model_bytes(s, FULL_SAMPLE)
        print(f"  aerial kNN, {label} ({s:.1%} distinct): {FULL_SAMPLE:,} x ({s:.3f} x "
              f"({f} x {item} + 18) + 5) B = {b / 2**30:,.1f} GiB per worker")  # fmt: skip
    noise = 0.3
    b = model_bytes(args.unique_share, FULL_SAMPLE * (1 - noise))
    print(f"  HDBSCAN model (its kNN holds the clustered rows; {noise:.0%} noise assumed, real "
          f"imagery): {b / 2**30:,.1f} GiB per worker, plus 4 B/row of cluster ids = "
          f"{(b + 4 * FULL_SAMPLE * (1 - noise)) / 2**30:,.1f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
