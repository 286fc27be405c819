"""Score folders of predicted maps against FLAIR masks, as FLAIR's evaluation does.

Predictions are ``PRED_<id>.tif`` (one band, uint8 classes 0..12) and truths
``MSK_<id>.tif`` (one band, uint8 values 0..19), found anywhere under their folders and
paired by id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flair_hdbscan.errors import DataError
from flair_hdbscan.geotiff import read_uint8_tif
from flair_hdbscan.layout import MSK_RE, PRED_RE
from flair_hdbscan.metrics import ConfusionAccumulator
from flair_hdbscan.nomenclature import N_CLASSES, to_reduced

__all__ = ["evaluate_folders", "find_by_id"]

log = logging.getLogger(__name__)


def find_by_id(folder: Path, pattern) -> dict[str, Path]:
    """Files under ``folder`` (recursively) whose name matches ``pattern``, keyed by patch id.

    Raises:
        DataError: if the folder is missing or two files share an id.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder not found: {folder}: check the path")
    found: dict[str, Path] = {}
    try:
        paths = sorted(folder.rglob("*.tif"))
    except OSError as exc:  # a symlink loop, a folder without permission
        raise DataError(f"cannot list {folder}: {exc.strerror or exc}: check the folder") from None
    for path in paths:
        match = pattern.match(path.name)
        if match is None:
            continue
        pid = match["id"]
        if pid in found:
            raise DataError(f"two files for patch {pid}: {found[pid]} and {path}: keep one")
        found[pid] = path
    return found


def _pair(truths: dict[str, Path], preds: dict[str, Path], truth_dir: Path, pred_dir: Path):
    missing_pred = sorted(set(truths) - set(preds))
    missing_truth = sorted(set(preds) - set(truths))
    if not truths:
        raise DataError(f"no MSK_<id>.tif under {truth_dir}: is --truth a FLAIR labels folder?")
    if not preds:
        raise DataError(f"no PRED_<id>.tif under {pred_dir}: is --pred a prediction folder?")
    for missing, kind, where in (
        (missing_pred, "PRED", pred_dir),
        (missing_truth, "MSK", truth_dir),
    ):
        if missing:
            shown = ", ".join(f"{kind}_{i}.tif" for i in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise DataError(
                f"{len(missing)} patch(es) without a pair: no {shown}{more} under {where}: "
                "predict every patch of the split, or point --truth/--pred at matching folders"
            )
    return [(pid, truths[pid], preds[pid]) for pid in sorted(truths)]


def evaluate_folders(
    truth_dir: Path,
    pred_dir: Path,
    *,
    advance: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """Confusion matrix of every ``PRED_<id>.tif`` against its ``MSK_<id>.tif``.

    Args:
        truth_dir: folder holding ``MSK_<id>.tif`` files (any depth).
        pred_dir: folder holding ``PRED_<id>.tif`` files (any depth).
        advance: called once per patch scored (progress).

    Returns:
        ``(13, 13) int64`` confusion matrix summed over patches, rows = truth.

    Raises:
        DataError: missing folders, unpaired ids, unreadable files, wrong shapes or values.
    """
    pairs = _pair(find_by_id(truth_dir, MSK_RE), find_by_id(pred_dir, PRED_RE), truth_dir, pred_dir)
    acc = ConfusionAccumulator()
    for _pid, truth_path, pred_path in pairs:
        mask = read_uint8_tif(truth_path, what="label mask", count=1, indexes=1)[0]
        if mask.max(initial=0) > 19:
            raise DataError(
                f"{truth_path}: label value {int(mask.max())} outside 0..19: is it a FLAIR mask?"
            )
        pred = read_uint8_tif(pred_path, what="prediction", count=1, indexes=1)[0]
        if pred.shape != mask.shape:
            raise DataError(
                f"{pred_path}: shape {pred.shape} differs from {truth_path} {mask.shape}: "
                "predict on the same grid as the masks"
            )
        if pred.max(initial=0) >= N_CLASSES:
            raise DataError(
                f"{pred_path}: class {int(pred.max())} outside 0..12: predictions use the reduced "
                "13-class nomenclature"
            )
        acc.update(to_reduced(mask), pred)
        advance()
    log.info("scored %d patches", len(pairs))
    return acc.matrix
