"""Whole splits to maps: ``PRED_<id>.tif`` (and ``CLUSTER_<id>.tif``) for every patch.

:func:`predict_folder` claims the output folder for one model and one split (see
:mod:`flair_hdbscan.outdir`: a folder written by another model is refused unless
``overwrite``), then runs the prediction pass of :mod:`flair_hdbscan.passes` with map
writing, locally or on Dask. A patch is predicted exactly as ``run`` predicts it when it
scores, so ``flair-hdbscan evaluate`` on the folder gives ``run``'s confusion matrix. Every map
is verified and written under a temporary name before it takes its final name; an
interrupted call resumes where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import Executor, LocalExecutor
from flair_hdbscan.ledger import Ledger
from flair_hdbscan.model import ExperimentModel
from flair_hdbscan.outdir import claim
from flair_hdbscan.passes import PassSummary, PredictPlan, predict_split
from flair_hdbscan.progress import Progress, quiet
from flair_hdbscan.study import data_identity

__all__ = ["LEDGER_NAME", "maps_bytes", "predict_folder", "predict_provenance"]

log = logging.getLogger(__name__)

LEDGER_NAME = ".flair-hdbscan-ledger.json"
#: Upper bound of one uncompressed 512 × 512 map of uint8 classes (int32 for clusters).
_MAP_BYTES = 512 * 512


def maps_bytes(n_patches: int, clusters: bool) -> int:
    """Upper bound of the size of the maps of ``n_patches`` patches."""
    return n_patches * _MAP_BYTES * (5 if clusters else 1)


def predict_provenance(
    model: ExperimentModel, data: dict[str, Any], clusters: bool
) -> dict[str, Any]:
    """What a prediction folder is made from: the model's identity and provenance, the split."""
    return {
        "model": model.identity,
        "model_provenance": model.provenance,
        "data": data,
        "clusters": clusters,
    }


def predict_folder(
    ds: FlairDataset,
    model: ExperimentModel,
    out: str | Path,
    *,
    clusters: bool = False,
    overwrite: bool = False,
    executor: Executor | None = None,
    progress: Progress | None = None,
    verify_content: bool = False,
) -> PassSummary:
    """Predict every patch of ``ds`` into ``out/<domain>/<zone>/PRED_<id>.tif``.

    Args:
        ds: the split (labels are not needed).
        model: a fitted kNN or HDBSCAN experiment.
        out: output folder; with a Dask cluster it must be reachable at the same path from
            every worker, as must the dataset.
        clusters: also write ``CLUSTER_<id>.tif``, int32 cluster of each pixel's nearest
            clustered training pixel (HDBSCAN experiments; no-data value −1).
        overwrite: replace the outputs of other work in ``out`` (by default refused).
        executor: where the tasks run (default: this process).
        progress: stage display.
        verify_content: identify the data by file content, not sizes and times.

    Returns:
        Patches done, skipped (finished by an interrupted call) and failed (by id).

    Raises:
        OptionError: for a naive baseline, or ``clusters`` with a kNN model.
        OutputError: when ``out`` holds other work's outputs, or another writer holds it.
        FaultError: when ``out`` cannot be written or lacks room.
    """
    if model.experiment.is_naive:
        raise OptionError(f"{model.name} is a random baseline: it has no maps to write")
    if clusters and not model.is_hdbscan:
        raise OptionError(f"--clusters needs an HDBSCAN experiment; {model.name} has no clusters")
    progress = progress or quiet()
    executor = executor or LocalExecutor()
    out = Path(out).expanduser().resolve()
    provenance = predict_provenance(model, data_identity(ds, content=verify_content), clusters)
    need = maps_bytes(len(ds), clusters)
    with claim(
        out, kind="predictions", provenance=provenance, overwrite=overwrite, need_bytes=need
    ):
        ledger, note = Ledger.open(out / LEDGER_NAME, provenance, 1)
        if note:
            progress.note(f"predicting afresh: {note}")
        plan = PredictPlan(ds, (model,), maps_dir=str(out), clusters=clusters)
        summary = predict_split(
            plan, ledger, executor, advance=progress.stage(f"predicting {ds.split}", len(ds))
        )
    log.info(
        "predicted %d patches, skipped %d, %d failed",
        summary.done,
        summary.skipped,
        len(summary.failed),
    )
    return summary
