"""The pool a labelling session clusters: the 1 % sample of a split, read WITHOUT labels.

The same pixels, in the same order, as the training sample of the study and of the budget
study (:func:`flair_hdbscan.passes.read_training_sample`: every ``stride``-th pixel along
each axis, patches in dataset order, row-major), but no label file is opened: a split
without a labels folder works. Each row also keeps where it lies (patch, pixel), so that the
page can show it on its aerial patch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.executors import Executor, LocalExecutor
from flair_hdbscan.pixels import SentinelOptions, read_patch_pixels

__all__ = ["Pool", "read_pool"]


@dataclass
class Pool:
    """The sampled pixels of a split, with their places.

    Attributes:
        aerial: ``(n, 5) uint8`` red, green, blue, NIR, stored elevation (metres × 5).
        s2: ``(n, 10) float32`` Sentinel-2 reflectances, or None.
        patch: ``(n,) int32`` index of each row's patch in the dataset.
        pixel: ``(n,) int32`` flat position ``row * width + col`` in that patch.
        width: ``(n_patches,) int32`` width of each patch, pixels.
    """

    aerial: np.ndarray
    s2: np.ndarray | None
    patch: np.ndarray
    pixel: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return int(self.patch.size)

    def place(self, row: int) -> tuple[int, int, int]:
        """``(patch index, pixel row, pixel column)`` of pool row ``row``."""
        i = int(self.patch[row])
        w = int(self.width[i])
        p = int(self.pixel[row])
        return i, p // w, p % w


def _task(shared: tuple[FlairDataset, int, SentinelOptions | None], i: int) -> Any:
    ds, stride, sentinel = shared
    px = read_patch_pixels(ds, i, sentinel=sentinel, stride=stride, labels=False)
    width = int(px.profile.get("width") or px.shape[1] * stride)
    rows, cols = np.meshgrid(
        np.arange(0, px.shape[0] * stride, stride),
        np.arange(0, px.shape[1] * stride, stride),
        indexing="ij",
    )
    pixel = (rows * width + cols).ravel().astype(np.int32)
    return px.aerial, px.s2, pixel, width


def read_pool(
    ds: FlairDataset,
    *,
    stride: int,
    sentinel: SentinelOptions | None = None,
    executor: Executor | None = None,
    advance: Callable[[], None] = lambda: None,
) -> Pool:
    """Read the strided pixels of every patch of ``ds`` without any label.

    Args:
        ds: a split (a labels folder is not needed).
        stride: keep every ``stride``-th pixel along each axis (10: 1 %).
        sentinel: also sample Sentinel-2 values with these options.
        executor: where the per-patch reads run (default: this process).
        advance: called once per patch read.

    Raises:
        OptionError: if the split has no patch.
        DataError: naming the patches that could not be read.
    """
    if len(ds) == 0:
        raise OptionError(f"the {ds.split} split has no patch to label")
    parts: dict[int, Any] = {}
    failed: list[str] = []

    def on_result(i: int, result: Any, error: str | None) -> None:
        if error is not None:
            failed.append(f"{ds.patches[i].patch_id}: {error}")
        else:
            parts[i] = result
        advance()

    (executor or LocalExecutor()).run(_task, (ds, stride, sentinel), range(len(ds)), on_result)
    if failed:
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise DataError(f"{len(failed)} patch(es) could not be read: {'; '.join(failed[:3])}{more}")
    order = sorted(parts)
    aerial = np.concatenate([parts[i][0] for i in order])
    s2 = np.concatenate([parts[i][1] for i in order]) if sentinel is not None else None
    patch = np.concatenate([np.full(parts[i][2].size, i, dtype=np.int32) for i in order])
    pixel = np.concatenate([parts[i][2] for i in order])
    width = np.zeros(len(ds), dtype=np.int32)
    for i in order:
        width[i] = parts[i][3]
    return Pool(aerial, s2, patch, pixel, width)
