"""Whole splits on Dask: one task per patch, ``PRED_<id>.tif`` (and ``CLUSTER_<id>.tif``) maps.

A patch is predicted exactly as the study predicts it during evaluation (same pixels, same
Sentinel-2 options, same duplicate collapsing, same features, same estimator), so scoring a
prediction folder with ``flair-hdbscan evaluate`` gives the study's confusion matrix.

:func:`predict_split` sends the fitted model and the dataset description to every worker once
(``Client.scatter(..., broadcast=True)``), then submits one task per patch that still lacks
its outputs. Every map is written under a temporary name and renamed when complete, so an
output's final name always holds a whole file: a re-run skips patches whose outputs exist
and removes the temporary files an interrupted run left behind. A task whose worker dies is
run again on another worker; a patch whose input is unreadable is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import FlairError, OptionError
from flair_hdbscan.geotiff import stale_temporaries, write_class_map
from flair_hdbscan.inference import predict_table, unique_features
from flair_hdbscan.layout import pred_name
from flair_hdbscan.modelfile import ExperimentModel, check_predictable
from flair_hdbscan.models import ClusterThenLabel
from flair_hdbscan.pixels import read_patch_pixels, training_sample
from flair_hdbscan.study import (
    EXPERIMENT_NAMES,
    StudyOptions,
    fit_experiment,
    select_experiments,
)

__all__ = [
    "Summary",
    "cluster_name",
    "fit_model",
    "output_paths",
    "predict_maps",
    "predict_patch",
    "predict_split",
    "remove_stale",
    "set_threads",
]

log = logging.getLogger(__name__)

#: Times a task that raised an unexpected error is run again (on any worker).
RETRIES = 2


def cluster_name(patch_id: str) -> str:
    """File name of a cluster map (``CLUSTER_<id>.tif``)."""
    return f"CLUSTER_{patch_id}.tif"


@dataclass
class Summary:
    """Outcome of :func:`predict_split`.

    Attributes:
        done: patches predicted and written by this run.
        skipped: patches whose outputs already existed.
        failed: ``(patch_id, message)`` of each patch that could not be predicted, by id.
    """

    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no patch failed."""
        return not self.failed


def fit_model(
    ds: FlairDataset,
    experiment: str,
    options: StudyOptions | None = None,
    *,
    on_patch: Callable[[int], None] | None = None,
) -> ExperimentModel:
    """Fit one experiment on a labelled split exactly as ``run`` does.

    The training sample (every ``options.stride``-th pixel along each axis, Sentinel-2
    values when the experiment fuses them), the seed of the experiment (from its position in
    :data:`~flair_hdbscan.study.EXPERIMENTS`) and the fit are those of
    :func:`~flair_hdbscan.study.run_study`.

    Args:
        ds: the split to train on (normally ``train``); it needs labels.
        experiment: a kNN or HDBSCAN experiment name.
        options: study options (defaults: the original notebook's).
        on_patch: called with each patch index once its sample is read.

    Raises:
        OptionError: on an unknown or naive experiment, or a split without labels.
    """
    options = options or StudyOptions()
    [exp] = select_experiments([experiment])
    check_predictable(exp)
    if not ds.has_labels:
        raise OptionError(f"the {ds.split} split has no labels folder: fitting needs ground truth")
    sentinel = options.sentinel if exp.features.use_satellite else None
    sample = training_sample(ds, stride=options.stride, sentinel=sentinel, on_patch=on_patch)
    fitted = fit_experiment(exp, sample, options, EXPERIMENT_NAMES.index(exp.name))
    log.info("fitted %s on %d pixels", exp.name, fitted.n_train_pixels)
    return ExperimentModel.from_fitted(
        fitted, options, dataset_fingerprint=ds.fingerprint(), dataset_split=ds.split
    )


def set_threads(model: ExperimentModel, n_jobs: int | None) -> int | None:
    """Set the kNN query threads of a fitted model; returns the previous value."""
    final = model.model[-1]
    previous = final.n_jobs
    final.n_jobs = n_jobs
    if isinstance(final, ClusterThenLabel):
        final.knn_.n_jobs = n_jobs
    return previous


def output_paths(
    ds: FlairDataset, i: int, out_dir: str | Path, clusters: bool = False
) -> list[Path]:
    """Outputs of patch ``i``: ``out_dir/<domain>/<zone>/PRED_<id>.tif`` (and ``CLUSTER_``)."""
    ref = ds.patches[i]
    folder = Path(out_dir) / ref.domain / ref.zone
    paths = [folder / pred_name(ref.patch_id)]
    if clusters:
        paths.append(folder / cluster_name(ref.patch_id))
    return paths


def predict_maps(
    ds: FlairDataset, i: int, model: ExperimentModel, clusters: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted classes (and clusters) of every pixel of patch ``i``, as the study computes them.

    Pixels with equal features are predicted once (:func:`~flair_hdbscan.pixels.unique_rows`)
    and the result expanded back onto the grid.

    Args:
        ds: the split.
        i: patch index.
        model: the fitted experiment.
        clusters: also return the cluster of each pixel's nearest clustered training pixel
            (HDBSCAN experiments only).

    Returns:
        ``(H, W) uint8`` classes 0..12, and ``(H, W) int32`` cluster ids or None.

    Raises:
        DataError: if an input file of the patch is unreadable.
        OptionError: if clusters are asked of a kNN experiment.
    """
    if clusters and not model.is_hdbscan:
        raise OptionError(
            f"{model.experiment.name} has no clusters: cluster maps need an HDBSCAN experiment"
        )
    spec = model.experiment.features
    sat = spec.use_satellite
    px = read_patch_pixels(ds, i, sentinel=model.options.sentinel if sat else None, labels=False)
    X, inverse = unique_features(px, spec)
    pred, ids = predict_table(model.model, X, inverse, clusters=clusters)
    return pred.reshape(px.shape), None if ids is None else ids.reshape(px.shape)


def predict_patch(
    ds: FlairDataset,
    i: int,
    model: ExperimentModel,
    out_dir: str | Path,
    clusters: bool = False,
    *,
    overwrite: bool = False,
) -> str:
    """Predict patch ``i`` and write ``out_dir/<domain>/<zone>/PRED_<id>.tif``.

    Maps have the aerial patch's CRS, transform and size; ``PRED`` is uint8 (classes 0..12),
    ``CLUSTER`` int32 (cluster ids; −1 is the no-data value, which no pixel takes since
    every pixel has a nearest clustered training pixel). Temporary files an interrupted
    write of these outputs left behind are removed first.

    Args:
        ds: the split.
        i: patch index.
        model: the fitted experiment.
        out_dir: output root.
        clusters: also write ``CLUSTER_<id>.tif`` (HDBSCAN experiments).
        overwrite: predict even when every output exists.

    Returns:
        ``"done"``, or ``"skipped"`` when every output existed and ``overwrite`` is false.

    Raises:
        DataError: if an input file of the patch is unreadable.
    """
    targets = output_paths(ds, i, out_dir, clusters)
    for target in targets:
        for stale in stale_temporaries(target):
            stale.unlink(missing_ok=True)
    if not overwrite and all(t.exists() for t in targets):
        return "skipped"
    pred, cluster_map = predict_maps(ds, i, model, clusters)
    profile = ds.read_profile(i)
    write_class_map(targets[0], pred, profile)
    if cluster_map is not None:
        write_class_map(targets[1], cluster_map, profile, nodata=-1)
    return "done"


def _predict_task(
    ds: FlairDataset,
    i: int,
    model: ExperimentModel,
    out_dir: str,
    clusters: bool,
    overwrite: bool,
) -> tuple[str, str]:
    """Worker side of :func:`predict_split`: ``(status, message)``; user errors are returned.

    Unexpected exceptions propagate, so that Dask retries the task.
    """
    try:
        return predict_patch(ds, i, model, out_dir, clusters, overwrite=overwrite), ""
    except FlairError as exc:
        return "failed", str(exc)


def remove_stale(out_dir: str | Path) -> int:
    """Remove temporary map files an interrupted run left under ``out_dir``; returns how many."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return 0
    removed = 0
    for prefix in (".PRED_", ".CLUSTER_"):
        for path in out_dir.rglob(f"{prefix}*.tif.*"):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temporary files of an interrupted run under %s", removed, out_dir)
    return removed


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client on ``scheduler``, or on a local cluster closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptionError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}): is `dask scheduler` "
                "running there, and is the address tcp://host:port?"
            ) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        log.info("local Dask cluster of %d workers, dashboard %s", n, cluster.dashboard_link)
        yield client


def _run_round(
    client: Any,
    ds: FlairDataset,
    model: ExperimentModel,
    out_dir: Path,
    todo: list[int],
    clusters: bool,
    overwrite: bool,
    retries: int,
    record: Callable[[str, str, str], None],
) -> list[int]:
    """Scatter the model and dataset once, run one task per patch of ``todo``.

    Returns:
        Indices of the patches whose tasks were cancelled because every copy of the
        scattered model or dataset was lost with its workers (Dask cannot recompute
        scattered data); every other patch is passed to ``record``.
    """
    from concurrent.futures import CancelledError

    from distributed import as_completed

    model_future = client.scatter(model, broadcast=True, hash=False)
    ds_future = client.scatter(ds, broadcast=True, hash=False)
    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            _predict_task,
            ds_future,
            i,
            model_future,
            str(out_dir),
            clusters,
            overwrite,
            key=f"predict-{ds.patches[i].patch_id}-{token}",
            retries=retries,
        ): i
        for i in todo
    }
    lost: list[int] = []
    for future in as_completed(futures):
        i = futures[future]
        try:
            status, message = future.result()
        except CancelledError:
            lost.append(i)
            continue
        except Exception as exc:  # reported per patch, the rest go on
            status, message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            future.release()
        record(ds.patches[i].patch_id, status, message)
    for future in (model_future, ds_future):
        future.release()
    return sorted(lost)


def _wait_for_workers(client: Any, timeout: float = 60.0) -> bool:
    """Whether at least one worker is (or comes back within ``timeout`` seconds)."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        return False
    return True


def predict_split(
    ds: FlairDataset,
    model: ExperimentModel,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    clusters: bool = False,
    progress: bool = True,
    retries: int = RETRIES,
    on_patch: Callable[[str, str], None] | None = None,
) -> Summary:
    """Predict every patch of a split on Dask, one task per patch.

    Args:
        ds: the split (labels are not needed).
        model: the fitted experiment; sent to every worker once, with kNN queries set to one
            thread (the cluster's processes give the parallelism).
        out_dir: output root; maps go to ``out_dir/<domain>/<zone>/``. It must be reachable
            at the same path from every worker, as must the dataset.
        scheduler: address of an existing Dask scheduler (``tcp://host:port``); None starts
            a local cluster of ``workers`` single-threaded processes and closes it at the end.
        workers: processes of the local cluster (default: this machine's cores).
        overwrite: predict patches whose outputs exist too.
        clusters: also write ``CLUSTER_<id>.tif`` (HDBSCAN experiments).
        progress: show a progress bar over patches (on a terminal).
        retries: times a task that raised an unexpected error is run again (Dask's
            ``retries``). A task whose worker dies is rescheduled by Dask on its own; if every
            worker holding the model died, the model is sent again and the lost patches
            rerun, up to ``retries`` times.
        on_patch: called on the client with ``(patch_id, status)`` as each patch finishes.

    Returns:
        Patches done, skipped and failed (by id, with the reason).

    Raises:
        OptionError: on conflicting options or an unreachable scheduler.
    """
    if scheduler is not None and workers is not None:
        raise OptionError("--scheduler and --workers both given: the scheduler's workers are used")
    if workers is not None and workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    if clusters and not model.is_hdbscan:
        raise OptionError(
            f"--clusters needs an HDBSCAN experiment; {model.experiment.name} has no clusters"
        )
    out_dir = Path(out_dir).resolve()
    remove_stale(out_dir)
    todo = [
        i
        for i in range(len(ds))
        if overwrite or not all(p.exists() for p in output_paths(ds, i, out_dir, clusters))
    ]
    summary = Summary(skipped=len(ds) - len(todo))
    if summary.skipped:
        log.info("%d of %d patches already predicted under %s", summary.skipped, len(ds), out_dir)
    if not todo:
        return summary
    from flair_hdbscan.progress import progress_bar

    previous_threads = set_threads(model, 1)
    try:
        with (
            _client(scheduler, workers) as client,
            progress_bar(enabled=None if progress else False) as bar,
        ):
            task = bar.add_task("predicting patches", total=len(todo))

            def record(pid: str, status: str, message: str) -> None:
                if status == "failed":
                    summary.failed.append((pid, message))
                    log.info("patch %s failed: %s", pid, message)
                elif status == "skipped":
                    summary.skipped += 1
                else:
                    summary.done += 1
                if on_patch is not None:
                    on_patch(pid, status)
                bar.advance(task)

            pending = todo
            for attempt in range(retries + 1):
                lost = _run_round(
                    client, ds, model, out_dir, pending, clusters, overwrite, retries, record
                )
                if not lost:
                    break
                if attempt == retries or not _wait_for_workers(client):
                    for i in lost:
                        record(
                            ds.patches[i].patch_id,
                            "failed",
                            "its worker died with the only copy of the model and no worker "
                            "took over: run again to resume",
                        )
                    break
                log.warning(
                    "workers holding the model died: sending it again and rerunning %d patches",
                    len(lost),
                )
                pending = lost
    finally:
        set_threads(model, previous_threads)
    summary.failed.sort()
    log.info(
        "predicted %d patches, skipped %d, %d failed",
        summary.done,
        summary.skipped,
        len(summary.failed),
    )
    return summary
