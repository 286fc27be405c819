"""Results of a study run: one projection to rows, and the files on disk.

``results.json`` is read in one place (:func:`load_results`) and projected to rows in one
place (:func:`experiment_rows`); the CSV, the report, the results chart and the terminal
table all read those rows. Files are written atomically.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from flair_hdbscan.atomic import write_bytes, write_json, write_text
from flair_hdbscan.errors import DataError
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.nomenclature import REDUCED_NAMES

__all__ = [
    "BUDGET_COLUMNS",
    "RESULTS_SCHEMA",
    "ROW_COLUMNS",
    "budget_frame",
    "confusion_frame",
    "experiment_rows",
    "load_results",
    "results_frame",
    "write_budget",
    "write_results",
]

_NUMBER = {"type": ["number", "null"]}
_ROW = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 13,
        "maxItems": 13}  # fmt: skip

#: What :func:`load_results` requires of a ``results.json``: the fields every reader uses.
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["experiments"],
    "properties": {
        "run": {"type": "object"},
        "experiments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "method", "confusion_matrix", "iou"],
                "properties": {
                    "name": {"type": "string"},
                    "method": {"type": "string"},
                    "confusion_matrix": {
                        "type": "array", "items": _ROW, "minItems": 13, "maxItems": 13,
                    },
                    "iou": {"type": "array", "items": _NUMBER, "minItems": 13, "maxItems": 13},
                    "miou": _NUMBER,
                    "overall_accuracy": _NUMBER,
                },
            },
        },
    },
}  # fmt: skip

#: Columns of every experiment row, in the order of ``results.csv``.
ROW_COLUMNS: tuple[str, ...] = (
    "name",
    "part",
    "method",
    "option",
    "protocol",
    "train_split",
    "score_split",
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


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def experiment_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per experiment, the one projection of ``results.json``.

    Each row holds the columns of :data:`ROW_COLUMNS`, the IoU of each class
    (``iou_<class>``) and ``miou_check``, the mIoU recomputed from the confusion matrix.

    Args:
        results: ``{"run": ..., "experiments": [...]}`` as in ``results.json``.
    """
    rows = []
    for e in results["experiments"]:
        row = {c: e.get(c) for c in ROW_COLUMNS}
        row["miou"] = _number(row["miou"])
        row["overall_accuracy"] = _number(row["overall_accuracy"])
        for name, value in zip(REDUCED_NAMES, e["iou"], strict=True):
            row[f"iou_{name.replace(' ', '_')}"] = _number(value)
        row["miou_check"] = _number(mean_iou(np.asarray(e["confusion_matrix"])))
        rows.append(row)
    return rows


def results_frame(results: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`experiment_rows` as a DataFrame (what ``results.csv`` holds)."""
    columns = [*ROW_COLUMNS, *(f"iou_{n.replace(' ', '_')}" for n in REDUCED_NAMES)]
    return pd.DataFrame(experiment_rows(results), columns=columns)


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


#: Columns of ``budget.csv``, one row per method, setting, budget and seed.
BUDGET_COLUMNS: tuple[str, ...] = (
    "method",
    "setting",
    "budget",
    "labels_used",
    "seed",
    "train_split",
    "score_split",
    "miou",
    "overall_accuracy",
    "n_clusters",
    "noise_fraction",
    "largest_cluster_fraction",
)


def budget_frame(budget: Mapping[str, Any]) -> pd.DataFrame:
    """The budget study's rows (``results.json["budget"]``) as ``budget.csv`` holds them."""
    rows = [
        {**r, "train_split": budget["train_split"], "score_split": budget["score_split"]}
        for r in budget["rows"]
    ]
    return pd.DataFrame(rows, columns=list(BUDGET_COLUMNS))


def write_budget(
    budget: Mapping[str, Any], draws: Mapping[str, np.ndarray], out_dir: Path
) -> dict[str, Path]:
    """Write ``budget.csv`` and ``budget_draws.npz``, atomically.

    The draws are the training-pool indices each row's annotator revealed, named
    ``method/setting/budget/seed``: recounting them gives each row's ``labels_used``.

    Returns:
        The written paths by kind (``"budget_csv"``, ``"budget_draws"``).
    """
    out_dir = Path(out_dir)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v, dtype=np.int64) for k, v in draws.items()})
    return {
        "budget_csv": write_text(out_dir / "budget.csv", _csv(budget_frame(budget), index=False)),
        "budget_draws": write_bytes(out_dir / "budget_draws.npz", buf.getvalue()),
    }


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (a file, or the run folder holding it).

    Raises:
        DataError: if the file is missing, not JSON, or not a results file of ``run`` (see
            :data:`RESULTS_SCHEMA`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise DataError(
            f"cannot read results {path} ({reason}): point at a run's results.json"
        ) from None
    experiments = data.get("experiments") if isinstance(data, dict) else None
    if not isinstance(experiments, list):
        raise DataError(f'{path} holds no "experiments" list of `run`: is it a results.json?')
    try:
        jsonschema.validate(data, RESULTS_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the document"
        reason = " ".join(exc.message.split())[:100]
        raise DataError(
            f"{path} is not a results.json of `run`: {where} is malformed ({reason}); "
            "run the study again to write it"
        ) from None
    return data
