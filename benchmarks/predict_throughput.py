"""Predicted pixels per second of ``predict_split`` with 1 and 2 Dask workers, and peak memory.

Generates a FLAIR-format sample (8 train patches by default) into a temporary folder, fits
one experiment once, then predicts the whole split on a local cluster of 1 and then 2
single-threaded worker processes. The clock runs from ``predict_split``'s call to its
return on a started cluster (model scattering included, cluster start-up excluded); each
setting is run ``--repeats`` times into fresh folders and the median and best rates are
shown. Peak memory per worker is the larger of the RSS polled every 200 ms during the runs and the
process's ``ru_maxrss`` at the end; beside it, the worker's RSS once started and its modules
imported, before the model arrives.

Run:  python benchmarks/predict_throughput.py [--patches 8] [--experiment knn] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _warm_up() -> int:
    import flair_hdbscan.predict  # noqa: F401  (imports rasterio, sklearn, scipy)

    return os.getpid()


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        ram = "RAM unknown"
    return f"{cpu}, {os.cpu_count()} logical cores, {ram}, Python {platform.python_version()}"


def _run(ds, model, out: Path, n_workers: int, repeats: int) -> dict:
    from distributed import Client, LocalCluster

    from flair_hdbscan.executors import DaskExecutor
    from flair_hdbscan.predict import predict_folder

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm_up)
        idle = client.run(_rss)
        peak: dict[str, int] = {}
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                for worker, rss in client.run(_rss).items():
                    peak[worker] = max(peak.get(worker, 0), rss)
                stop.wait(0.2)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        seconds = []
        for r in range(repeats):
            start = time.perf_counter()
            summary = predict_folder(ds, model, out / str(r), executor=DaskExecutor(client))
            seconds.append(time.perf_counter() - start)
            if summary.failed or summary.done != len(ds):
                raise RuntimeError(f"benchmark run incomplete: {summary}")
        stop.set()
        poller.join()
        for worker, maxrss in client.run(_maxrss).items():
            peak[worker] = max(peak.get(worker, 0), maxrss)
    return {"seconds": seconds, "peak": peak, "idle": idle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=8)
    parser.add_argument("--experiment", default="knn")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.experiments import select_experiments
    from flair_hdbscan.options import StudyOptions
    from flair_hdbscan.sample_data import generate_sample
    from flair_hdbscan.study import data_identity
    from flair_hdbscan.training import fit_models

    with tempfile.TemporaryDirectory() as tmp:
        root = generate_sample(Path(tmp) / "data", n_patches=args.patches, seed=0)
        ds = FlairDataset.from_root(root, "train")
        pixels = 0
        for i in range(len(ds)):
            profile = ds.read_profile(i)
            pixels += profile["width"] * profile["height"]
        start = time.perf_counter()
        _, (model,) = fit_models(
            ds, select_experiments([args.experiment]), StudyOptions(), data=data_identity(ds)
        )
        fit_seconds = time.perf_counter() - start
        print(f"machine: {_machine()}")
        print(f"load average before the runs: {os.getloadavg()[0]:.2f}")
        print(
            f"data: {len(ds)} patches, {pixels:,} pixels; {args.experiment} fitted on "
            f"{model.record.n_train_pixels:,} pixels in {fit_seconds:.2f} s"
        )
        print(
            f"{'workers':>7}  {'median s':>8}  {'pixels/s (median)':>17}  "
            f"{'pixels/s (best)':>15}  {'speed-up':>8}  peak RSS per worker (idle before the run)"
        )
        base = None
        for n in (1, 2):
            result = _run(ds, model, Path(tmp) / f"out-{n}", n, args.repeats)
            median = statistics.median(result["seconds"])
            rate = pixels / median
            best = pixels / min(result["seconds"])
            base = base or rate
            peaks = ", ".join(
                f"{v / 2**20:.0f} MiB ({result['idle'][w] / 2**20:.0f})"
                for w, v in result["peak"].items()
            )
            print(
                f"{n:>7}  {median:>8.2f}  {rate:>17,.0f}  {best:>15,.0f}  "
                f"{rate / base:>7.2f}x  {peaks}"
            )
        print(f"load average after the runs: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
