"""Results of a study run on disk: ``results.json``, ``results.csv``, ``confusion/<name>.csv``.

Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flair_hdbscan.atomic import write_json, write_text
from flair_hdbscan.nomenclature import REDUCED_NAMES

__all__ = ["confusion_frame", "load_results", "results_frame", "write_results"]

_COLUMNS = (
    "name",
    "part",
    "method",
    "mapping",
    "miou",
    "overall_accuracy",
    "n_train_pixels",
    "n_eval_pixels",
    "n_labels_used",
    "n_clusters",
    "noise_fraction",
    "cluster_purity",
    "largest_cluster_fraction",
    "seconds",
)


def results_frame(results: dict[str, Any]) -> pd.DataFrame:
    """One row per experiment: the scores, the counts and the IoU of each class.

    Args:
        results: ``{"run": ..., "experiments": [...]}`` as in ``results.json``.
    """
    rows = []
    for e in results["experiments"]:
        row = {c: e.get(c) for c in _COLUMNS}
        for name, value in zip(REDUCED_NAMES, e["iou"], strict=True):
            row[f"iou_{name.replace(' ', '_')}"] = value
        rows.append(row)
    return pd.DataFrame(
        rows, columns=[*_COLUMNS, *(f"iou_{n.replace(' ', '_')}" for n in REDUCED_NAMES)]
    )


def confusion_frame(matrix: list[list[int]] | np.ndarray) -> pd.DataFrame:
    """A 13 × 13 confusion matrix with class names; rows = truth, columns = prediction."""
    return pd.DataFrame(
        np.asarray(matrix, dtype=np.int64),
        index=pd.Index(REDUCED_NAMES, name="truth"),
        columns=pd.Index(REDUCED_NAMES, name="prediction"),
    )


def _csv(frame: pd.DataFrame, index: bool) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=index, float_format="%.6f")
    return buf.getvalue()


def write_results(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv`` and one ``confusion/<name>.csv`` per experiment.

    Returns:
        The written paths by kind (``"json"``, ``"csv"``, ``"confusion:<name>"``).
    """
    out_dir = Path(out_dir)
    paths = {
        "json": write_json(out_dir / "results.json", results),
        "csv": write_text(out_dir / "results.csv", _csv(results_frame(results), index=False)),
    }
    for e in results["experiments"]:
        paths[f"confusion:{e['name']}"] = write_text(
            out_dir / "confusion" / f"{e['name']}.csv",
            _csv(confusion_frame(e["confusion_matrix"]), index=True),
        )
    return paths


def load_results(path: Path) -> dict[str, Any]:
    """Read a ``results.json`` (a file, or the run folder holding it).

    Raises:
        DataError: if the file is missing or not a results file.
    """
    from flair_hdbscan.errors import DataError

    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read results {path}: {exc}: point at a run's results.json"
        ) from exc
    if not isinstance(data, dict) or "experiments" not in data:
        raise DataError(f"{path} is not a results.json of flair-hdbscan run")
    return data
