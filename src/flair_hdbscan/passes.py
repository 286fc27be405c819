"""Passes over a split: the training sample, and predicting every pixel.

:func:`read_training_sample` reads the strided pixels of every patch (and their labels),
:data:`SAMPLE_BATCH` patches per task. :func:`predict_split` predicts every pixel of every
patch with one or more fitted models, one task per patch — reading each patch's files once
for all of them — and, as asked, sums one confusion matrix per model (``run``) or writes
``PRED_<id>.tif`` / ``CLUSTER_<id>.tif`` maps (``predict``). Both run on any
:mod:`~flair_hdbscan.executors` executor; the prediction pass records its progress in a
:class:`~flair_hdbscan.ledger.Ledger`, the one resume mechanism, so an interrupted pass
resumes where it stopped when the work is provably the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.executors import Executor, LocalExecutor, guarded
from flair_hdbscan.geotiff import stale_temporaries, write_class_map
from flair_hdbscan.layout import pred_name
from flair_hdbscan.ledger import Ledger
from flair_hdbscan.metrics import confusion_matrix
from flair_hdbscan.model import ExperimentModel, PatchFeatures, prepare_pass
from flair_hdbscan.nomenclature import N_CLASSES
from flair_hdbscan.pixels import (
    PixelSample,
    SentinelOptions,
    cap_quota,
    cap_rows,
    read_patch_pixels,
    stack_samples,
)
from flair_hdbscan.seeds import derive_seed

__all__ = [
    "PassSummary",
    "PredictPlan",
    "SamplePlan",
    "cluster_name",
    "output_paths",
    "predict_split",
    "read_training_sample",
]

log = logging.getLogger(__name__)

Advance = Callable[[], None]

#: Held while a plan's models are linked (:meth:`PredictPlan.prepared`).
_PREPARING = threading.Lock()


def cluster_name(patch_id: str) -> str:
    """File name of a cluster map (``CLUSTER_<id>.tif``)."""
    return f"CLUSTER_{patch_id}.tif"


def output_paths(ds: FlairDataset, i: int, out_dir: str | Path, clusters: bool) -> list[Path]:
    """Maps of patch ``i``: ``out_dir/<domain>/<zone>/PRED_<id>.tif`` (and ``CLUSTER_``)."""
    ref = ds.patches[i]
    folder = Path(out_dir) / ref.domain / ref.zone
    paths = [folder / pred_name(ref.patch_id)]
    if clusters:
        paths.append(folder / cluster_name(ref.patch_id))
    return paths


def _raise_failures(what: str, failed: list[tuple[str, str]]) -> None:
    if failed:
        shown = "; ".join(f"{pid}: {msg}" for pid, msg in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise DataError(f"{len(failed)} patch(es) could not be {what}: {shown}{more}")


# -- the training sample -----------------------------------------------------------------


@dataclass(frozen=True)
class SamplePlan:
    """What each task of :func:`read_training_sample` reads (sent to every worker once).

    Attributes:
        dataset: the split.
        stride: keep every ``stride``-th pixel along each axis.
        sentinel: Sentinel-2 options, or None.
        max_pixels: cap of the whole sample (see :func:`~flair_hdbscan.pixels.cap_rows`),
            or None.
        seed: study seed; each patch's draw is seeded from it and the patch id.
    """

    dataset: FlairDataset
    stride: int
    sentinel: SentinelOptions | None
    max_pixels: int | None = None
    seed: int = 0


#: Patches read by one task of the training sample: a patch's share is small (about 10 ms),
#: and per-task scheduling would otherwise cost about as much again.
SAMPLE_BATCH = 4


def _batch_patches(n_patches: int, batch: int) -> range:
    """Indexes of the patches that sample task ``batch`` reads (of ``n_patches``)."""
    first = batch * SAMPLE_BATCH
    return range(first, min(first + SAMPLE_BATCH, n_patches))


def _sample_patch(plan: SamplePlan, i: int) -> Any:
    ds = plan.dataset
    px = read_patch_pixels(ds, i, sentinel=plan.sentinel, stride=plan.stride)
    if plan.max_pixels is None:
        return px
    quota = cap_quota(plan.max_pixels, len(ds), i)
    return cap_rows(px, quota, derive_seed(plan.seed, "max-train-pixels", px.patch_id))


def _sample_task(plan: SamplePlan, batch: int) -> list[tuple[int, Any, str | None]]:
    """Read the patches of batch ``batch``, each on its own.

    Returns:
        ``(patch index, pixels, None)`` or ``(patch index, None, error)`` per patch: one
        patch's error does not hide the others'.
    """
    patches = _batch_patches(len(plan.dataset), batch)
    return [(i, *guarded(_sample_patch, plan, i)) for i in patches]


def read_training_sample(
    ds: FlairDataset,
    *,
    stride: int,
    sentinel: SentinelOptions | None,
    executor: Executor,
    advance: Advance = lambda: None,
    max_pixels: int | None = None,
    seed: int = 0,
) -> PixelSample:
    """Labelled pixels on a stride over every patch of ``ds``, in patch order.

    Args:
        ds: a split with labels.
        stride: keep every ``stride``-th pixel along each axis (10: 1 % of the pixels).
        sentinel: also sample Sentinel-2 values with these options.
        executor: where the per-patch reads run.
        advance: called once per patch read.
        max_pixels: keep at most this many pixels in all, an equal share per patch drawn
            in the patch's own task (so only the kept rows travel); None keeps every one.
        seed: study seed of those draws.

    Raises:
        OptionError: if the split has no labels or no patch.
        DataError: naming the patches that could not be read.
    """
    if not ds.has_labels:
        raise OptionError(f"the {ds.split} split has no labels folder: training needs ground truth")
    parts: list[Any] = []
    failed: list[tuple[str, str]] = []

    def on_patch(i: int, result: Any, error: str | None) -> None:
        if error is not None:
            failed.append((ds.patches[i].patch_id, error))
        else:
            parts.append(result)
        advance()

    def on_batch(b: int, result: Any, error: str | None) -> None:
        if error is not None:  # the task itself failed: every patch of it
            for i in _batch_patches(len(ds), b):
                on_patch(i, None, error)
            return
        for i, px, patch_error in result:
            on_patch(i, px, patch_error)

    plan = SamplePlan(ds, stride, sentinel, max_pixels, seed)
    n_batches = (len(ds) + SAMPLE_BATCH - 1) // SAMPLE_BATCH
    executor.run(_sample_task, plan, range(n_batches), on_batch)
    _raise_failures("read", sorted(failed))
    if not parts:
        raise OptionError("the dataset has no patch to sample")
    return stack_samples(parts, with_s2=sentinel is not None)


# -- predicting every pixel --------------------------------------------------------------


@dataclass(frozen=True)
class PredictPlan:
    """What each patch task of :func:`predict_split` does (sent to every worker once).

    Attributes:
        dataset: the split.
        models: the fitted models (Sentinel-2 options, when fused, are the first fused
            model's; all models of one pass share them).
        score: read the labels and return one confusion matrix per model.
        maps_dir: write ``PRED_<id>.tif`` (one model only) under this folder, or None.
        clusters: also write ``CLUSTER_<id>.tif`` (an HDBSCAN model).
        keep: patch ids whose predicted arrays come back (for the report's figures).

    The models share their neighbour searches (:func:`~flair_hdbscan.model.prepare_pass`)
    in each process that runs the plan's tasks, linked there at its first task
    (:meth:`prepared`): on a Dask cluster the workers do it side by side, not this process
    first while they wait (1.9 s for the 17 models of 200 patches).
    """

    dataset: FlairDataset
    models: tuple[ExperimentModel, ...]
    score: bool = False
    maps_dir: str | None = None
    clusters: bool = False
    keep: frozenset[str] = frozenset()

    def prepared(self) -> PredictPlan:
        """This plan, its models' searches linked in this process (once per copy)."""
        with _PREPARING:  # a worker of several threads shares one copy among its tasks
            if not self.__dict__.get("_prepared"):
                prepare_pass(self.models)
                object.__setattr__(self, "_prepared", True)  # frozen: a mark of this copy
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_prepared", None)  # a copy's models rebuild their indexes: link them again
        return state

    @property
    def sentinel(self) -> SentinelOptions | None:
        """Sentinel-2 options of the pass, or None when no model fuses Sentinel-2."""
        for m in self.models:
            if m.experiment.features.use_satellite:
                return SentinelOptions.of(m.options)
        return None


@dataclass
class PatchOutcome:
    """What one patch task returns (small: no pixel unless the patch is kept).

    Attributes:
        patch_id: the patch.
        matrices: ``(n_models, 13, 13) int64`` confusion matrices, or None.
        seconds: ``(n_models,)`` prediction time of each model.
        arrays: for kept patches, ``{"rgb": (H, W, 3) uint8, "truth": (H, W) uint8,
            "pred": {name: (H, W) uint8}, "clusters": {name: (H, W) int32}}``.
    """

    patch_id: str
    matrices: np.ndarray | None
    seconds: np.ndarray
    arrays: dict[str, Any] | None = None


def _predict_task(plan: PredictPlan, i: int) -> PatchOutcome:
    plan = plan.prepared()
    ds = plan.dataset
    px = read_patch_pixels(ds, i, sentinel=plan.sentinel, labels=plan.score)
    features = PatchFeatures(px)
    keep = px.patch_id in plan.keep
    n = len(plan.models)
    matrices = np.zeros((n, N_CLASSES, N_CLASSES), dtype=np.int64) if plan.score else None
    seconds = np.zeros(n)
    preds: dict[str, np.ndarray] = {}
    cluster_maps: dict[str, np.ndarray] = {}
    for k, model in enumerate(plan.models):
        start = time.perf_counter()
        want_clusters = model.is_hdbscan and (keep or plan.clusters)
        pred, ids = model.predict_pixels(features, clusters=want_clusters)
        if matrices is not None:
            matrices[k] = confusion_matrix(px.labels, pred)
        if plan.maps_dir is not None:
            targets = output_paths(ds, i, plan.maps_dir, plan.clusters)
            for target in targets:
                for stale in stale_temporaries(target):
                    stale.unlink(missing_ok=True)
            write_class_map(targets[0], pred.reshape(px.shape), px.profile)
            if plan.clusters and ids is not None:
                write_class_map(targets[1], ids.reshape(px.shape), px.profile, nodata=-1)
        seconds[k] = time.perf_counter() - start
        if keep:
            preds[model.name] = pred.reshape(px.shape)
            if ids is not None:
                cluster_maps[model.name] = ids.reshape(px.shape)
    arrays = None
    if keep:
        arrays = {
            "rgb": px.aerial[:, :3].reshape(*px.shape, 3),
            "truth": None if px.labels is None else px.labels.reshape(px.shape),
            "pred": preds,
            "clusters": cluster_maps,
        }
    return PatchOutcome(px.patch_id, matrices, seconds, arrays)


@dataclass
class PassSummary:
    """Outcome of :func:`predict_split`.

    Attributes:
        done: patches predicted by this call.
        skipped: patches a previous, interrupted call of the same work had finished.
        failed: ``(patch_id, message)`` of each patch that could not be predicted.
        arrays: predicted arrays of the kept patches, by patch id.
    """

    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether no patch failed."""
        return not self.failed


def predict_split(
    plan: PredictPlan,
    ledger: Ledger,
    executor: Executor,
    *,
    advance: Advance = lambda: None,
) -> PassSummary:
    """Predict every patch of ``plan.dataset`` not yet in ``ledger``.

    Kept patches are predicted even when the ledger has them (their arrays are needed);
    their matrices are not added twice. A patch whose maps were removed since is predicted
    again. The ledger is saved every few seconds and when the pass ends or is interrupted.

    Args:
        plan: what each patch task does.
        ledger: finished patches and summed matrices (resumed or new).
        executor: where the tasks run.
        advance: called once per patch (done, skipped or failed).

    Returns:
        The summary; ``ledger`` holds the summed matrices.

    Raises:
        OptionError: if maps are asked of several models, or labels of a split without them.
    """
    ds = plan.dataset
    if plan.maps_dir is not None and len(plan.models) != 1:
        raise OptionError("maps are written for one model at a time")
    if plan.score and not ds.has_labels:
        raise OptionError(f"the {ds.split} split has no labels folder: scoring needs ground truth")
    summary = PassSummary()

    def finished(i: int) -> bool:
        ref = ds.patches[i]
        if ref.patch_id not in ledger.done:
            return False
        if plan.maps_dir is None:
            return True
        return all(p.exists() for p in output_paths(ds, i, plan.maps_dir, plan.clusters))

    todo = []
    kept_only: set[str] = set()  # finished, run again only for their arrays
    for i in range(len(ds)):
        pid = ds.patches[i].patch_id
        if not finished(i):
            todo.append(i)
        elif pid in plan.keep:
            kept_only.add(pid)
            todo.append(i)
        else:
            summary.skipped += 1
            advance()
    if summary.skipped:
        log.info("%d of %d patches already done", summary.skipped, len(ds))

    def on_result(i: int, outcome: PatchOutcome | None, error: str | None) -> None:
        pid = ds.patches[i].patch_id
        if error is not None or outcome is None:
            summary.failed.append((pid, error or "no result"))
            log.info("patch %s failed: %s", pid, error)
        else:
            if outcome.arrays is not None:
                summary.arrays[pid] = outcome.arrays
            if pid in kept_only:
                summary.skipped += 1
            else:
                ledger.add(pid, outcome.matrices, outcome.seconds)
                summary.done += 1
            ledger.save(every=2.0)
        advance()

    # on a cluster each worker process is one thread: its processes give the parallelism
    threads = [m.estimator[-1].n_jobs for m in plan.models if not m.experiment.is_naive]
    if not isinstance(executor, LocalExecutor):
        for m in plan.models:
            m.set_threads(1)
    try:
        executor.run(_predict_task, plan, todo, on_result)
    finally:
        ledger.save()
        restore = iter(threads)
        for m in plan.models:
            if not m.experiment.is_naive:
                m.set_threads(next(restore))
    summary.failed.sort()
    return summary
