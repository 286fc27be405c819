"""The study's scoring pass on two local Dask layouts: processes of one thread, or threads of one.

Fits all 17 experiments once on the 1 % sample of a generated 200-patch training split (in
this process), then scores the held-out test split with all of them, as ``run`` does,
alternating a local cluster of ``--tasks`` single-threaded worker processes (what
``--workers`` starts) and one worker process of ``--tasks`` threads sharing one copy of the
models (``dask worker --nworkers 1``), ``--rounds`` times each. For
each pass it prints the wall and CPU seconds (this process and its workers), the machine's
speed just before (:func:`study_speed.speed_check`), the peak RSS of each worker process,
and checks that every pass gives the same confusion matrices.

Usage: python benchmarks/worker_layout.py [--tasks 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
from pathlib import Path

import numpy as np
from study_speed import speed_check, timed, tree, warm_up, warm_workers


def peak_rss_mib() -> float:
    """Peak resident memory of the calling process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_pass(test, models, processes: int, threads: int) -> tuple[np.ndarray, str]:
    """Score ``test`` with ``models`` on a fresh local cluster; the matrices and a line."""
    import dask
    from distributed import Client, LocalCluster

    from flair_hdbscan.executors import LOCAL_WORKER_CONFIG, DaskExecutor
    from flair_hdbscan.ledger import Ledger
    from flair_hdbscan.passes import PredictPlan, predict_split

    with dask.config.set(LOCAL_WORKER_CONFIG):
        cluster = LocalCluster(
            n_workers=processes,
            threads_per_worker=threads,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
    with cluster, Client(cluster) as client:
        executor = DaskExecutor(client)
        warm_workers(executor)
        check = speed_check()
        load = os.getloadavg()[0]
        ledger = Ledger(None, {"benchmark": "worker-layout"}, len(models))
        plan = PredictPlan(test, tuple(models), score=True)
        summary, wall, cpu = timed(lambda: predict_split(plan, ledger, executor))
        assert summary.ok, summary.failed
        peaks = sorted(client.run(peak_rss_mib).values())
    shares = ", ".join(f"{m.name} {s:.0f}" for m, s in zip(models, ledger.seconds, strict=True))
    line = (
        f"{processes} x {threads:<2d} {wall:8.1f} {cpu:8.1f} {check:9.2f} {load:6.2f}   "
        f"{' + '.join(f'{p:,.0f}' for p in peaks)} = {sum(peaks):,.0f} MiB\n"
        f"           shares (s): {shares}"
    )
    return ledger.matrices.copy(), line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/flair-hdbscan-speed-cache"))
    parser.add_argument("--data", type=Path, default=None, help="a tree (default: generated)")
    parser.add_argument("--tasks", type=int, default=2, help="patches scored at once")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.experiments import EXPERIMENTS
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.study import data_identity
    from flair_hdbscan.training import fit_models

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average {os.getloadavg()}")  # fmt: skip
    warm_up()
    root = args.data or tree(args.cache, 200)
    train = FlairDataset.from_root(root, "train")
    test = FlairDataset.from_root(root, "test")
    _, models = fit_models(train, EXPERIMENTS, StudyOptions(), data=data_identity(train))
    print(f"{len(models)} models fitted on the 1 % sample of {len(train)} training patches; "
          f"each pass scores every pixel of the {len(test)} held-out test patches")  # fmt: skip
    print("layout       wall s    CPU s  speed s   load   peak RSS of each worker process")
    first = None
    for _ in range(args.rounds):
        for processes, threads in ((args.tasks, 1), (1, args.tasks)):
            matrices, line = one_pass(test, models, processes, threads)
            print(line, flush=True)
            if first is None:
                first = matrices
            assert np.array_equal(matrices, first), "the layouts scored differently"
    print("every pass gave the same confusion matrices")


if __name__ == "__main__":
    main()
