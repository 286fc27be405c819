"""One split of a FLAIR #2 tree: its patches, read one file at a time.

:class:`FlairDataset` holds the patches :func:`~flair_hdbscan.discovery.discover` paired by
id and reads them: an aerial image, its mask, its Sentinel-2 super patch. Reading a patch
reads only that patch, each file opened once (:meth:`FlairDataset.read_patch`); Sentinel-2
super areas are memory-mapped once per area and only the crop is read.
"""

from __future__ import annotations

import datetime
import logging
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flair_hdbscan import layout, sentinel
from flair_hdbscan.discovery import PatchRef, SplitPaths, discover, find_split, split_from_config
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.geotiff import read_uint8_tif
from flair_hdbscan.nomenclature import to_reduced

__all__ = ["FlairDataset", "Patch", "SentinelPatch"]

logger = logging.getLogger(__name__)


@dataclass
class Patch:
    """One patch as read from its files.

    Attributes:
        index: position in its dataset.
        patch_id: ``"077413"``.
        image: ``(5, H, W) uint8`` red, green, blue, NIR, elevation (stored; metres × 5).
        mask: ``(H, W) uint8`` values 1..19 (0 = no data), or None when not read.
        profile: georeferencing ``{"crs", "transform", "width", "height"}``.
    """

    index: int
    patch_id: str
    image: np.ndarray
    mask: np.ndarray | None
    profile: dict[str, Any]

    @property
    def labels(self) -> np.ndarray | None:
        """Reduced labels ``(H, W) uint8`` 0..12, 255 where no data; None without a mask."""
        return None if self.mask is None else to_reduced(self.mask)


@dataclass
class SentinelPatch:
    """A Sentinel-2 super patch: the time series around one aerial patch.

    Attributes:
        data: ``(T, 10, s, s)`` uint16 reflectance, bands :data:`sentinel.S2_BANDS`.
        masks: ``(T, 2, s, s)`` uint8 snow and cloud probabilities 0..100.
        dates: ``T`` acquisition dates.
        valid: ``(s, s)`` bool, False where the crop was edge-padded outside the super area.
    """

    data: np.ndarray
    masks: np.ndarray
    dates: list[datetime.date]
    valid: np.ndarray


def _open_npy(path: Path, kind: str, channels: int, dtype: np.dtype) -> np.ndarray:
    """Memory-map a super area's ``.npy`` file and check its header.

    Raises:
        DataError: if the file is unreadable, its header malformed, or it is not
            ``(T, channels, H, W)`` of ``dtype``.
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    # a malformed header surfaces as any of these, depending on where numpy's parser stops
    except (OSError, ValueError, EOFError, SyntaxError, TypeError, OverflowError,
            MemoryError, tokenize.TokenError) as exc:  # fmt: skip
        reason = " ".join(str(exc).split())[:120]
        raise DataError(
            f"cannot read Sentinel-2 {kind} {path} ({type(exc).__name__}: {reason}): "
            "is the file truncated? extract it again"
        ) from None
    if array.ndim != 4 or array.shape[1] != channels or array.dtype != dtype:
        raise DataError(
            f"{path} is {array.dtype} {array.shape}; FLAIR #2 Sentinel-2 {kind} is "
            f"(T, {channels}, H, W) {dtype.name}: is it a FLAIR #2 file?"
        )
    return array


@dataclass
class _Area:
    """Memory maps and dates of one super area."""

    data: np.ndarray
    masks: np.ndarray
    dates: list[datetime.date]


class FlairDataset:
    """One split of a FLAIR #2 tree.

    Patches are sorted by id; ``IMG_<id>`` is paired with ``MSK_<id>``, with the Sentinel-2
    files of its domain/zone and with its centroid by id (never by zipping sorted globs).
    Construction checks the pairing and the presence of every file without reading pixels.

    Attributes:
        split: ``"train"`` or ``"test"``.
        paths: the split's folders and files.
        patches: one :class:`PatchRef` per aerial image, sorted by id.

    Example:
        >>> ds = FlairDataset.from_root("data/flair_2_toy_dataset")  # doctest: +SKIP
        >>> sample = ds[0]  # doctest: +SKIP
        >>> sample["image"].shape, sample["labels"].dtype  # doctest: +SKIP
        ((5, 512, 512), dtype('uint8'))
    """

    def __init__(self, paths: SplitPaths) -> None:
        self.split = paths.split
        self.paths = paths
        self._areas: dict[str, _Area] = {}
        self.patches = discover(paths)
        self._by_id = {p.patch_id: i for i, p in enumerate(self.patches)}

    @classmethod
    def from_root(cls, root: Path, split: str = "train") -> FlairDataset:
        """Open a split of the release under ``root`` (see :func:`find_split`)."""
        return cls(find_split(Path(root), split))

    @classmethod
    def from_config(cls, config: Path, split: str = "train") -> FlairDataset:
        """Open a split named by a YAML config (see :func:`split_from_config`)."""
        return cls(split_from_config(Path(config), split))

    # -- sequence protocol -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.patches)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"FlairDataset(split={self.split!r}, n_patches={len(self)}, "
            f"aerial={str(self.paths.aerial)!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Memory maps would be pickled as whole arrays: drop them, they reopen on demand.
        state = self.__dict__.copy()
        state["_areas"] = {}
        return state

    def _index(self, i: int) -> int:
        n = len(self.patches)
        if not -n <= i < n:
            raise IndexError(f"patch index {i} out of range for {n} patches")
        return i % n

    def __getitem__(self, i: int) -> dict[str, Any]:
        """One patch as a dict.

        Returns:
            ``{"id", "domain", "zone", "image": (5, 512, 512) uint8, "mask": (512, 512) uint8
            1..19, "labels": (512, 512) uint8 0..12 / 255, "crs", "transform"}``; ``mask``
            and ``labels`` are None when the split has no labels.
        """
        patch = self.read_patch(i, labels=self.has_labels)
        ref = self.patches[patch.index]
        return {
            "id": ref.patch_id,
            "domain": ref.domain,
            "zone": ref.zone,
            "image": patch.image,
            "mask": patch.mask,
            "labels": patch.labels,
            "crs": patch.profile["crs"],
            "transform": patch.profile["transform"],
        }

    def index(self, patch_id: str) -> int:
        """Position of a patch id (``"077413"``; ``IMG_077413.tif`` is also accepted).

        Raises:
            DataError: if the split has no such patch.
        """
        match = layout.IMG_RE.match(patch_id) or layout.MSK_RE.match(patch_id)
        pid = match["id"] if match else patch_id
        try:
            return self._by_id[pid]
        except KeyError:
            raise DataError(
                f"no patch {patch_id!r} in the {self.split} split under {self.paths.aerial}"
            ) from None

    @property
    def has_labels(self) -> bool:
        """Whether the split has label masks."""
        return self.paths.labels is not None

    # -- pixel reading ---------------------------------------------------------------------

    def read_patch(self, i: int, *, labels: bool = True) -> Patch:
        """Aerial image, georeferencing and (optionally) mask of patch ``i``, each file once.

        Raises:
            DataError: if a file is unreadable or truncated, not of FLAIR's bands and dtype,
                the mask holds values above 19, or its shape differs from the image's.
        """
        i = self._index(i)
        ref = self.patches[i]
        image, profile = read_uint8_tif(ref.aerial, what="aerial image", count=5)
        mask = self._read_mask(ref, (profile["height"], profile["width"])) if labels else None
        return Patch(i, ref.patch_id, image, mask, profile)

    def read_image(self, i: int) -> np.ndarray:
        """Aerial image of patch ``i``: ``(5, H, W)`` uint8 red, green, blue, NIR, elevation.

        Raises:
            DataError: if the file is unreadable or truncated, or not 5 bands of uint8.
        """
        return self.read_patch(i, labels=False).image

    def read_mask(self, i: int) -> np.ndarray:
        """Label mask of patch ``i``: ``(H, W)`` uint8 values 1..19 (0 = no data).

        Raises:
            DataError: as :meth:`read_patch`, or if the split has no labels.
        """
        i = self._index(i)
        profile = self.read_profile(i)
        return self._read_mask(self.patches[i], (profile["height"], profile["width"]))

    def read_labels(self, i: int) -> np.ndarray:
        """Reduced labels of patch ``i``: ``(H, W)`` uint8 0..12, 255 where no data."""
        return to_reduced(self.read_mask(i))

    def _read_mask(self, ref: PatchRef, image_shape: tuple[int, int]) -> np.ndarray:
        if ref.mask is None:
            raise DataError(
                f"the {self.split} split under {self.paths.aerial} has no labels: "
                f"set {layout.CONFIG_KEYS[self.split]['labels']} or add the labels folder"
            )
        mask, profile = read_uint8_tif(ref.mask, what="label mask", count=1, indexes=1)
        shape = (profile["height"], profile["width"])
        if shape != image_shape:
            raise DataError(
                f"{ref.mask} is {shape[0]}×{shape[1]} but {ref.aerial.name} is "
                f"{image_shape[0]}×{image_shape[1]}: are the masks of the same release?"
            )
        top = int(mask.max()) if mask.size else 0
        if top > 19:
            raise DataError(
                f"{ref.mask} holds label value {top}; FLAIR #2 masks hold 1..19: "
                f"is it a FLAIR #2 mask (not a prediction or a reduced 0..12 map)?"
            )
        return mask

    def read_profile(self, i: int) -> dict[str, Any]:
        """Georeferencing of patch ``i``'s aerial file (its header only; no pixel is read).

        Returns:
            ``{"crs": rasterio CRS, "transform": affine.Affine, "width": int, "height": int}``.

        Raises:
            DataError: if the file is unreadable or not 5 bands of uint8.
        """
        path = self.patches[self._index(i)].aerial
        return read_uint8_tif(path, what="aerial image", count=5, indexes=[])[1]

    # -- Sentinel-2 ------------------------------------------------------------------------

    def _area(self, ref: PatchRef) -> _Area:
        """Memory maps and dates of a patch's super area, opened and checked once."""
        if ref.area in self._areas:
            return self._areas[ref.area]
        arrays = {}
        for kind, path, channels, dtype in (
            ("data", ref.sen_data, 10, np.uint16),
            ("masks", ref.sen_masks, 2, np.uint8),
        ):
            arrays[kind] = _open_npy(path, kind, channels, np.dtype(dtype))
        data, masks = arrays["data"], arrays["masks"]
        t_hw = (data.shape[0], *data.shape[2:])
        if t_hw != (masks.shape[0], *masks.shape[2:]):
            raise DataError(
                f"{ref.sen_masks.name} is {masks.shape} but {ref.sen_data.name} is "
                f"{data.shape} under {ref.sen_data.parent}: (T, H, W) must agree; "
                f"are both files of the same area?"
            )
        dates = sentinel.read_products(ref.sen_products)
        if len(dates) != data.shape[0]:
            raise DataError(
                f"{ref.sen_products} lists {len(dates)} products but {ref.sen_data.name} "
                f"has {data.shape[0]} dates: are both files of the same area?"
            )
        area = _Area(data=data, masks=masks, dates=dates)
        self._areas[ref.area] = area
        return area

    def read_area(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Whole super area of patch ``i``, memory-mapped.

        Returns:
            ``(T, 10, H, W) uint16`` data and ``(T, 2, H, W) uint8`` snow/cloud masks.

        Raises:
            DataError: as :meth:`read_sentinel`.
        """
        area = self._area(self.patches[self._index(i)])
        return area.data, area.masks

    def area_shape(self, i: int) -> tuple[int, int, int]:
        """``(T, H, W)`` of patch ``i``'s super area (from the ``.npy`` headers).

        Raises:
            DataError: as :meth:`read_sentinel`.
        """
        data = self._area(self.patches[self._index(i)]).data
        return int(data.shape[0]), int(data.shape[2]), int(data.shape[3])

    def read_sentinel(self, i: int, *, size: int) -> SentinelPatch:
        """Sentinel-2 super patch of patch ``i``.

        The super area is memory-mapped once (cached per area), so only the crop is read.

        Args:
            i: patch index.
            size: side of the crop in Sentinel pixels.

        Returns:
            A :class:`SentinelPatch` of ``(T, 10, size, size)`` uint16 data and
            ``(T, 2, size, size)`` uint8 masks.

        Raises:
            DataError: if the area files are unreadable, of the wrong dtype or rank, disagree
                in shape with each other or with the products file, hold no date, or the
                centroid lies outside the super area.
            OptionError: if ``size`` is below 1.
        """
        ref = self.patches[self._index(i)]
        if size < 1:
            raise OptionError(f"Sentinel-2 crop size must be at least 1, got {size}")
        area = self._area(ref)
        if area.data.shape[0] == 0:
            raise DataError(
                f"{ref.sen_data} holds no date (T = 0): Sentinel-2 fusion needs at least one; "
                "extract the area's files again or run without Sentinel-2 experiments"
            )
        height, width = area.data.shape[2:]
        row, col = ref.centroid
        if not (0 <= row < height and 0 <= col < width):
            raise DataError(
                f"centroid {[row, col]} of {ref.aerial.name} in {self.paths.centroids} lies "
                f"outside its {height}×{width} super area {ref.sen_data.name}"
            )
        data, valid = sentinel.crop(area.data, ref.centroid, size)
        masks, _ = sentinel.crop(area.masks, ref.centroid, size)
        return SentinelPatch(data=data, masks=masks, dates=list(area.dates), valid=valid)
